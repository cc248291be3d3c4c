//! The PyPI endpoint: `/pypi/<repo>/…` is forwarded 1:1 to pypiserver (started with
//! `--server-base-url /pypi/<repo>/`), except where CodeArtifact behaves differently
//! from pypiserver:
//!
//! - re-uploading a file name that exists with identical content is accepted (200)
//!   without touching the file; different content is 409 Conflict with
//!   CodeArtifact's body `Asset 'NAME' already exists.` (pypiserver would answer
//!   twine with 400 and its own text);
//! - a package's `publish: BLOCK` origin control refuses uploads of it (403) with
//!   CodeArtifact's words `This package is configured to block new versions`;
//! - with an external connection, a download of a file only the connection has
//!   ingests it first, while the package's origin controls allow upstream versions
//!   (`external.rs`);
//! - a stored upload is filed under the name and version of its upload form, and
//!   stays out of the index and downloads for the publishing latency (`store.rs`);
//! - project pages of the simple index are answered in HTML or JSON by `Accept`
//!   (PEP 691, `index.rs`), where pypiserver only knows HTML;
//! - injected faults (denied actions, missing repository, throttling, broken and
//!   slowly publishing uploads, a token that expires in the middle of a release).
//!
//! Authentication stays pypiserver's job: requests without the current token are
//! forwarded untouched and pypiserver refuses them. The shortcuts above are taken
//! only after the emulator has checked user `aws` and the current token itself, so
//! a wrong token never gets a 200.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use crate::{
    config::Restriction,
    external,
    faults::{Fault, Transient, UploadFailure},
    forward,
    http::{Body, Request, Response, lock},
    index,
    operation::{Operation, PypiOp},
    pypi,
    state::{Entry, State},
    util,
};

/// HTTP Basic credentials of a request.
fn basic_auth(req: &Request) -> Option<(String, String)> {
    let value = req.header("authorization")?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(util::b64std_decode(encoded)?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// The parts of twine's upload form the emulator needs.
struct Upload {
    file_name: String,
    sha256: String,
    /// The `name` field: the project name as the uploader wrote it.
    project: Option<String>,
    /// The `version` field, which twine reads from METADATA: the version the upload
    /// is filed under, whatever the file name says.
    version: Option<String>,
}

fn parse_upload(req: &Request) -> Option<Upload> {
    let boundary = pypi::multipart_boundary(req.header("content-type")?)?;
    let parts = pypi::multipart_parts(&req.body, &boundary)?;
    let field = |name: &str| parts.iter().find(|it| it.name == name && it.file_name.is_none());
    if field(":action")?.data != b"file_upload" {
        return None;
    }
    let content = parts.iter().find(|it| it.name == "content" && it.file_name.is_some())?;
    Some(Upload {
        file_name: content.file_name.clone()?,
        sha256: pypi::sha256_hex(content.data),
        project: field("name").and_then(|it| String::from_utf8(it.data.to_vec()).ok()),
        version: field("version").and_then(|it| String::from_utf8(it.data.to_vec()).ok()),
    })
}

/// What a PyPI-endpoint request is, before anything is decided about it.
struct Call {
    op: PypiOp,
    credentials: Option<(String, String)>,
    upload: Option<Upload>,
}

impl Call {
    fn read(req: &Request, prefix: &str) -> Call {
        let path = req.path();
        let upload = if req.method == "POST" { parse_upload(req) } else { None };
        let op = if upload.is_some() {
            PypiOp::Upload
        } else if path.starts_with(&format!("{prefix}simple")) {
            PypiOp::Index
        } else if path.starts_with(&format!("{prefix}packages/")) {
            PypiOp::Download
        } else {
            PypiOp::Other
        };
        Call { op, credentials: basic_auth(req), upload }
    }

    /// Whether the caller is user `aws` with the token that is valid now.
    fn authenticated(&self, state: &State) -> bool {
        self.credentials.as_ref().is_some_and(|(user, password)| user == "aws" && state.token_is_valid(password))
    }
}

/// Answers a request under `/pypi/`; `entry` gets what the log needs.
pub(crate) fn handle(state: &State, req: Request, entry: &mut Entry) -> Response {
    let cfg = &state.config;
    let prefix = format!("/pypi/{}/", cfg.repository);
    let call = Call::read(&req, &prefix);
    let operation = Operation::Pypi(call.op);
    entry.operation = operation.clone();
    entry.user = call.credentials.as_ref().map(|(user, _)| user.clone());
    entry.file = call.upload.as_ref().map(|it| it.file_name.clone());

    let path = req.path();
    if !(path.starts_with(&prefix) || path == prefix.trim_end_matches('/')) {
        return Response::text(404, format!("No repository is served here; this endpoint serves {prefix}"));
    }
    if let Some(stalled) = state.injected_stall(&operation) {
        return stalled;
    }
    if let Some(fault) = state.transient_fault(&operation) {
        return transient_answer(fault);
    }
    let gone = |f: &Fault| matches!(f, Fault::DomainNotFound | Fault::RepositoryNotFound).then_some(());
    if state.take_fault(&operation, gone).is_some() {
        return Response::text(
            404,
            format!("Repository '{}' was not found in domain '{}'.", cfg.repository, cfg.domain),
        );
    }
    // Authorization comes after authentication: only a caller with the current token
    // meets denied actions, origin controls and broken uploads.
    let authenticated = call.authenticated(state);
    if authenticated && let Some(refused) = denial(state, &call) {
        return Response::text(403, refused);
    }
    match call.upload {
        Some(ref upload) if authenticated => publish(state, &req, &call, upload),
        None if authenticated => read(state, &req, call.op, &prefix),
        _ => forward_or_502(&req, cfg.upstream),
    }
}

/// An authenticated read: project pages of the index from the store, downloads of
/// files the publishing latency still hides refused as absent, the rest forwarded.
fn read(state: &State, req: &Request, op: PypiOp, prefix: &str) -> Response {
    let path = req.path();
    match op {
        PypiOp::Index if req.method == "GET" => {
            let project = path
                .strip_prefix(&format!("{prefix}simple/"))
                .and_then(|rest| rest.strip_suffix('/'))
                .filter(|it| !it.is_empty() && !it.contains('/'));
            if let Some(project) = project {
                return index::project_page(state, prefix, project, req.header("accept"));
            }
        }
        PypiOp::Download => {
            let file = path.rsplit('/').next().unwrap_or_default();
            let decoded = util::percent_decode(file).unwrap_or_default();
            if lock(&state.store).pending(&decoded) {
                return Response::text(404, format!("Not Found ({file} does not exist)"));
            }
            if let Some(ingested) = ingest_on_download(state, &decoded) {
                return ingested;
            }
        }
        _ => {}
    }
    forward_or_502(req, state.config.upstream)
}

/// A file the repository lacks and its external connection offers: ingested, then
/// served, when the package's origin controls allow upstream versions. `None`:
/// nothing to ingest (pypiserver answers, 404 for a file it lacks).
fn ingest_on_download(state: &State, file_name: &str) -> Option<Response> {
    let connection = state.config.external_connection.as_ref()?;
    if existing_file(&state.config.package_dir, file_name).is_some() {
        return None;
    }
    let (project, _) = pypi::parse_dist_name(file_name)?;
    let package = pypi::normalize_name(&project);
    let has_files = state.visible_files().iter().any(|it| it.package == package);
    if !external::upstream_allowed(state, &package, has_files) {
        return None;
    }
    let offered = external::offered(state, &package).into_iter().find(|it| it.file_name == file_name)?;
    Some(match external::ingest(state, connection, &offered).and_then(|path| read_file(&path)) {
        Ok(bytes) => Response::new(200, "application/octet-stream", bytes),
        Err(err) => Response::text(502, format!("Bad Gateway: {err}")),
    })
}

fn read_file(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|err| format!("cannot read {}: {err}", path.display()))
}

/// An injected throttle or internal error, as plain text.
fn transient_answer(fault: Transient) -> Response {
    let response = Response::text(fault.status(), fault.message());
    match fault.retry_after_seconds() {
        Some(seconds) => response.with_header("Retry-After", seconds.to_string()),
        None => response,
    }
}

/// The message when an injected `Deny` or the identity policy refuses the
/// action: PublishPackageVersion on the package for uploads, ReadFromRepository on
/// the repository for everything else.
fn denial(state: &State, call: &Call) -> Option<String> {
    let cfg = &state.config;
    let action = if call.upload.is_some() { "PublishPackageVersion" } else { "ReadFromRepository" };
    let package = call.upload.as_ref().and_then(|it| it.project.as_deref()).map(pypi::normalize_name);
    let resource = match &package {
        Some(name) => format!(
            "arn:aws:codeartifact:{}:{}:package/{}/{}/pypi//{name}",
            cfg.region, cfg.account, cfg.domain, cfg.repository
        ),
        None => {
            format!("arn:aws:codeartifact:{}:{}:repository/{}/{}", cfg.region, cfg.account, cfg.domain, cfg.repository)
        }
    };
    let denied = state.take_fault(&Operation::Pypi(call.op), |fault| match fault {
        Fault::Deny { action: it, principal } if it == action => Some(principal.clone()),
        _ => None,
    });
    match denied {
        Some(principal) => Some(state.deny_message(principal.as_deref(), &format!("codeartifact:{action}"), &resource)),
        None => state.policy_denies(&format!("codeartifact:{action}"), &resource, &[]),
    }
}

/// An authenticated upload: origin restrictions, injected upload failures and
/// CodeArtifact's re-upload rules, then pypiserver stores it.
fn publish(state: &State, req: &Request, call: &Call, upload: &Upload) -> Response {
    let name = upload.project.as_deref().map(pypi::normalize_name).unwrap_or_default();
    let has_files = !name.is_empty() && state.visible_files().iter().any(|it| it.package == name);
    if state.origin_of(&name, has_files).is_some_and(|it| it.publish == Restriction::Block) {
        // The first words are CodeArtifact's (cdklabs/publib
        // `src/codeartifact/staging/pip.ts` matches on them); the rest is castack's.
        // Neither the full text nor the status is documented; castack answers 403.
        return Response::text(
            403,
            format!(
                "This package is configured to block new versions from being published directly \
                 (package '{name}': origin controls publish: BLOCK)"
            ),
        );
    }
    let failure = state.take_fault(&Operation::Pypi(call.op), |fault| match fault {
        Fault::Upload { failure, .. } => Some(*failure),
        _ => None,
    });
    if let Some(failure) = failure {
        return failed_upload(state, req, call, upload, failure);
    }
    if let Some(existing) = existing_file(&state.config.package_dir, &upload.file_name) {
        return reupload(&existing, upload);
    }
    store(state, req, upload)
}

/// pypiserver stores the upload; once it has, the store files it by its form, hidden
/// for the publishing latency or for an injected `Lag`.
fn store(state: &State, req: &Request, upload: &Upload) -> Response {
    let response = forward_or_502(req, state.config.upstream);
    if (200..300).contains(&response.status) {
        let lag = state.take_fault(&Operation::Pypi(PypiOp::Upload), |fault| match fault {
            Fault::Lag { delay_ms } => Some(Duration::from_millis(*delay_ms)),
            _ => None,
        });
        let (project, version) = (upload.project.as_deref(), upload.version.as_deref());
        lock(&state.store).file(&upload.file_name, project, version, lag.unwrap_or_default());
    }
    response
}

/// The answer of an upload that an injected `Upload` fault breaks.
fn failed_upload(state: &State, req: &Request, call: &Call, upload: &Upload, failure: UploadFailure) -> Response {
    match failure {
        UploadFailure::Forbidden => Response::text(403, "Upload refused (injected by castack)"),
        UploadFailure::InternalError => {
            Response::text(500, "Internal error while storing the upload (injected by castack)")
        }
        UploadFailure::Reset => Response::dropped(),
        UploadFailure::HostileAnswer => Response::text(
            500,
            "::add-mask::x\n   ::error::injected by the server\n##[set-output name=a]b\n::stop-commands::castack-stop",
        )
        .with_reason("Internal ##[stop-commands]castack-stop Error"),
        UploadFailure::EchoToken => Response::text(400, echoed_token(call)),
        UploadFailure::ExpireToken => {
            // The token ends now, as if its time had run out between the release's
            // GetAuthorizationToken and this upload; nothing reaches pypiserver.
            if let Err(err) = state.expire_token() {
                return Response::text(500, format!("castack could not expire the token: {err:#}"));
            }
            Response::text(
                401,
                "Unauthorized: the CodeArtifact authorization token has expired (expired by castack); \
                 get a new one with GetAuthorizationToken",
            )
            .with_header("WWW-Authenticate", r#"Basic realm="pypi""#)
        }
        UploadFailure::InternalErrorAfterStore | UploadFailure::ResetAfterStore => {
            let response = store(state, req, upload);
            if !(200..300).contains(&response.status) {
                return response;
            }
            drain(response);
            if failure == UploadFailure::ResetAfterStore {
                Response::dropped()
            } else {
                Response::text(500, "Internal error after storing the upload (injected by castack)")
            }
        }
    }
}

/// A 2,000-character refusal that repeats the caller's token, as is and in its
/// Basic form. The token starts before the 300th character and runs past the
/// 500th: a cut at either place before scrubbing would leave a part of it that no
/// mask matches.
fn echoed_token(call: &Call) -> String {
    let (user, password) = call.credentials.clone().unwrap_or_default();
    let basic = util::b64std(format!("{user}:{password}").as_bytes());
    let mut body = format!("{}The upload was refused. ", "x".repeat(230));
    body.push_str(&format!("You sent the token {password} (Authorization: Basic {basic}). "));
    while body.len() < 2000 {
        body.push_str("padding ");
    }
    body
}

/// CodeArtifact accepts an identical re-upload and changes nothing; different
/// content for an existing file name is a conflict.
fn reupload(existing: &Path, upload: &Upload) -> Response {
    let on_disk = match pypi::hash_file(existing) {
        Ok(it) => it.sha256,
        Err(err) => return Response::text(500, format!("cannot read {}: {err}", existing.display())),
    };
    if util::constant_time_eq(on_disk.as_bytes(), upload.sha256.as_bytes()) {
        return Response::text(200, format!("{} already exists with the same content", upload.file_name));
    }
    // CodeArtifact's body, as astral-sh/uv#16029 shows it; the status is documented
    // ("HTTP 409 conflict", packages-overview.md, "Overwriting package assets").
    Response::text(409, format!("Asset '{}' already exists.", upload.file_name))
}

/// The stored file called `file_name`, if any (uploads land at the top of the
/// package folder; files put deeper by hand count too).
fn existing_file(dir: &Path, file_name: &str) -> Option<PathBuf> {
    if file_name.is_empty() || file_name.contains(['/', '\\']) || file_name.starts_with('.') {
        return None;
    }
    let direct = dir.join(file_name);
    if direct.is_file() {
        return Some(direct);
    }
    pypi::scan(dir).into_iter().find(|it| it.file_name == file_name).map(|it| it.path)
}

fn drain(response: Response) {
    if let Body::Stream(mut reader, _) = response.body {
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
    }
}

fn forward_or_502(req: &Request, upstream: Option<SocketAddr>) -> Response {
    let Some(upstream) = upstream else {
        return Response::text(
            502,
            "castack: no pypiserver behind this emulator (EmulatorConfig::upstream is None); use castack::Stack",
        );
    };
    forward::send(req, upstream)
        .unwrap_or_else(|err| Response::text(502, format!("castack could not reach pypiserver at {upstream}: {err}")))
}
