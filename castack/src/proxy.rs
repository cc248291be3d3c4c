//! The PyPI endpoint: `/pypi/<repo>/…` is forwarded 1:1 to pypiserver (started with
//! `--server-base-url /pypi/<repo>/`), except where CodeArtifact behaves differently
//! from pypiserver:
//!
//! - re-uploading a file name that exists with identical content is accepted (200)
//!   without touching the file; different content is 409 Conflict (pypiserver would
//!   answer twine with 400);
//! - `publish: BLOCK` origin restrictions refuse uploads (403);
//! - injected faults (denied actions, missing repository, broken uploads, a token
//!   that expires in the middle of a release).
//!
//! The forwarder itself ([`forward`]) also carries STS requests to moto_server.
//!
//! Authentication stays pypiserver's job: requests without the current token are
//! forwarded untouched and pypiserver refuses them. The shortcuts above are taken
//! only after the emulator has checked user `aws` and the current token itself, so
//! a wrong token never gets a 200.

use std::{
    io::{BufRead, BufReader, Write},
    net::{SocketAddr, TcpStream},
    path::Path,
    time::Duration,
};

use crate::{
    emulator::{Entry, State, constant_time_eq, pypi_transient_faults},
    faults::{Fault, UploadFailure},
    http::{self, Body, Request, Response, lock},
    pypi, util,
};

/// HTTP Basic credentials of a request.
pub(crate) fn basic_auth(req: &Request) -> Option<(String, String)> {
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
    })
}

pub(crate) fn handle(state: &State, req: Request, entry: &mut Entry) -> Response {
    let cfg = &state.config;
    let prefix = format!("/pypi/{}/", cfg.repository);
    let path = req.path().to_owned();
    let credentials = basic_auth(&req);
    entry.user = credentials.as_ref().map(|(user, _)| user.clone());
    let upload = if req.method == "POST" { parse_upload(&req) } else { None };
    entry.operation = if upload.is_some() {
        "pypi-upload"
    } else if path.starts_with(&format!("{prefix}simple")) {
        "pypi-index"
    } else if path.starts_with(&format!("{prefix}packages/")) {
        "pypi-download"
    } else {
        "pypi-other"
    }
    .to_owned();
    entry.file = upload.as_ref().map(|it| it.file_name.clone());
    let operation = entry.operation.clone();

    if !(path.starts_with(&prefix) || path == prefix.trim_end_matches('/')) {
        return Response::text(404, format!("No repository is served here; this endpoint serves {prefix}"));
    }
    if let Err(response) = pypi_transient_faults(state, &operation) {
        return response;
    }
    {
        let mut inner = lock(&state.inner);
        let gone = inner
            .faults
            .take(&operation, false, |f| matches!(f, Fault::DomainNotFound | Fault::RepositoryNotFound).then_some(()));
        if gone.is_some() {
            return Response::text(
                404,
                format!("Repository '{}' was not found in domain '{}'.", cfg.repository, cfg.domain),
            );
        }
    }
    // Authorization comes after authentication: only a caller with the current token
    // meets denied actions, origin controls and broken uploads.
    let authenticated =
        credentials.as_ref().is_some_and(|(user, password)| user == "aws" && state.token_is_valid(password));
    if authenticated {
        let action = if upload.is_some() { "PublishPackageVersion" } else { "ReadFromRepository" };
        let package = upload.as_ref().and_then(|it| it.project.as_deref()).map(pypi::normalize_name);
        let resource = match &package {
            Some(name) => format!(
                "arn:aws:codeartifact:{}:{}:package/{}/{}/pypi//{name}",
                cfg.region, cfg.account, cfg.domain, cfg.repository
            ),
            None => format!(
                "arn:aws:codeartifact:{}:{}:repository/{}/{}",
                cfg.region, cfg.account, cfg.domain, cfg.repository
            ),
        };
        let denied = lock(&state.inner).faults.take(&operation, false, |fault| match fault {
            Fault::Deny { action: it, principal } if it == action => Some(principal.clone()),
            _ => None,
        });
        let message = match denied {
            Some(principal) => {
                Some(state.deny_message(principal.as_deref(), &format!("codeartifact:{action}"), &resource))
            }
            None => state.policy_denies(&format!("codeartifact:{action}"), &resource, &[]),
        };
        if let Some(message) = message {
            return Response::text(403, message);
        }
    }
    let upstream = cfg.upstream;
    let Some(upload) = upload.filter(|_| authenticated) else {
        return forward_or_502(&req, upstream);
    };

    if lock(&state.inner).origin.publish == crate::emulator::Restriction::Block {
        let name = upload.project.as_deref().map(pypi::normalize_name).unwrap_or_default();
        return Response::text(
            403,
            format!("Publishing to package '{name}' is blocked by its origin configuration (publish: BLOCK)"),
        );
    }
    let failure = lock(&state.inner).faults.take(&operation, false, |fault| match fault {
        Fault::Upload { failure, .. } => Some(*failure),
        _ => None,
    });
    match failure {
        Some(UploadFailure::Forbidden) => {
            return Response::text(403, "Upload refused (injected by castack)");
        }
        Some(UploadFailure::InternalError) => {
            return Response::text(500, "Internal error while storing the upload (injected by castack)");
        }
        Some(UploadFailure::Reset) => return Response::dropped(),
        Some(UploadFailure::HostileAnswer) => {
            return Response::text(
                500,
                "::add-mask::x\n   ::error::injected by the server\n##[set-output name=a]b\n::stop-commands::castack-stop",
            )
            .with_reason("Internal ##[stop-commands]castack-stop Error");
        }
        Some(UploadFailure::EchoToken) => {
            let (user, password) = credentials.clone().unwrap_or_default();
            let basic = util::b64std(format!("{user}:{password}").as_bytes());
            // The token starts before the 300th character and runs past the 500th:
            // a cut at either place before scrubbing would leave a part of it that
            // no mask matches.
            let mut body = format!("{}The upload was refused. ", "x".repeat(230));
            body.push_str(&format!("You sent the token {password} (Authorization: Basic {basic}). "));
            while body.len() < 2000 {
                body.push_str("padding ");
            }
            return Response::text(400, body);
        }
        Some(UploadFailure::ExpireToken) => {
            // The token ends now, as if its time had run out between the release's
            // GetAuthorizationToken and this upload; nothing reaches pypiserver.
            if let Err(err) = state.expire_token() {
                return Response::text(500, format!("castack could not expire the token: {err:#}"));
            }
            return Response::text(
                401,
                "Unauthorized: the CodeArtifact authorization token has expired (expired by castack); \
                 get a new one with GetAuthorizationToken",
            )
            .with_header("WWW-Authenticate", r#"Basic realm="pypi""#);
        }
        Some(after_store @ (UploadFailure::InternalErrorAfterStore | UploadFailure::ResetAfterStore)) => {
            let response = forward_or_502(&req, upstream);
            if !(200..300).contains(&response.status) {
                return response;
            }
            drain(response);
            return if after_store == UploadFailure::ResetAfterStore {
                Response::dropped()
            } else {
                Response::text(500, "Internal error after storing the upload (injected by castack)")
            };
        }
        None => {}
    }

    if let Some(existing) = existing_file(&cfg.package_dir, &upload.file_name) {
        let on_disk = match pypi::hash_file(&existing) {
            Ok(it) => it.sha256,
            Err(err) => return Response::text(500, format!("cannot read {}: {err}", existing.display())),
        };
        return if constant_time_eq(on_disk.as_bytes(), upload.sha256.as_bytes()) {
            // CodeArtifact accepts an identical re-upload and changes nothing.
            Response::text(200, format!("{} already exists with the same content", upload.file_name))
        } else {
            Response::text(
                409,
                format!(
                    "Conflict: asset '{}' already exists with different content (SHA-256 {on_disk} in the \
                     repository, {} uploaded). Assets cannot be overwritten; publish a new version.",
                    upload.file_name, upload.sha256
                ),
            )
        };
    }
    forward_or_502(&req, upstream)
}

/// The stored file called `file_name`, if any (uploads land at the top of the
/// package folder; files put deeper by hand count too).
fn existing_file(dir: &Path, file_name: &str) -> Option<std::path::PathBuf> {
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
    forward(req, upstream)
        .unwrap_or_else(|err| Response::text(502, format!("castack could not reach pypiserver at {upstream}: {err}")))
}

/// Sends `req` to `upstream` (pypiserver, or moto_server for STS) on a fresh
/// connection and returns its answer with the body streamed from that connection.
pub(crate) fn forward(req: &Request, upstream: SocketAddr) -> std::io::Result<Response> {
    let stream = TcpStream::connect_timeout(&upstream, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(120)))?;
    stream.set_write_timeout(Some(Duration::from_secs(120)))?;
    let mut head = format!("{} {} HTTP/1.1\r\n", req.method, req.target);
    // pypiserver builds redirects from Host: keep the client's, so they point back
    // at the emulator (and a SigV4 signature, which covers Host, stays consistent).
    let host = req.header("host").map(str::to_owned).unwrap_or_else(|| upstream.to_string());
    head.push_str(&format!("Host: {host}\r\nConnection: close\r\n"));
    for (name, value) in &req.headers {
        let skip =
            ["host", "connection", "keep-alive", "content-length", "transfer-encoding", "expect", "te", "upgrade"];
        if skip.iter().any(|it| name.eq_ignore_ascii_case(it)) || name.to_ascii_lowercase().starts_with("proxy-") {
            continue;
        }
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !req.body.is_empty() || matches!(req.method.as_str(), "POST" | "PUT" | "PATCH") {
        head.push_str(&format!("Content-Length: {}\r\n", req.body.len()));
    }
    head.push_str("\r\n");
    let mut writer = stream.try_clone()?;
    writer.write_all(head.as_bytes())?;
    writer.write_all(&req.body)?;
    writer.flush()?;

    let mut reader = BufReader::new(stream);
    let (status, headers) = loop {
        let (status, headers) = read_head(&mut reader)?;
        if status >= 200 {
            break (status, headers);
        }
        // A 1xx interim answer: the real one follows.
    };
    let mut kept: Vec<(String, String)> = Vec::new();
    for (name, value) in &headers {
        let hop = ["connection", "keep-alive", "transfer-encoding", "content-length", "upgrade", "trailer"];
        if !hop.iter().any(|it| name.eq_ignore_ascii_case(it)) {
            kept.push((name.clone(), value.clone()));
        }
    }
    let no_body = req.method == "HEAD" || status == 204 || status == 304;
    let chunked =
        http::header(&headers, "transfer-encoding").is_some_and(|it| it.to_ascii_lowercase().contains("chunked"));
    let length = http::header(&headers, "content-length").and_then(|it| it.trim().parse::<u64>().ok());
    let body = if no_body {
        // Keep the upstream length for HEAD answers.
        if let Some(length) = length {
            kept.push(("Content-Length".to_owned(), length.to_string()));
        }
        Body::Bytes(Vec::new())
    } else if chunked {
        Body::Bytes(http::read_chunked(&mut reader, 256 * 1024 * 1024).map_err(|_| bad_upstream("bad chunked body"))?)
    } else {
        Body::Stream(Box::new(reader), length)
    };
    Ok(Response { status, reason: None, headers: kept, body, after: http::After::KeepAlive })
}

fn bad_upstream(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, format!("the upstream server sent {what}"))
}

fn read_head(reader: &mut impl BufRead) -> std::io::Result<(u16, Vec<(String, String)>)> {
    let line = http::read_line(reader, http::MAX_LINE)
        .map_err(|_| bad_upstream("a malformed status line"))?
        .ok_or_else(|| bad_upstream("no answer"))?;
    let line = String::from_utf8_lossy(&line).into_owned();
    let mut parts = line.splitn(3, ' ');
    let (Some(version), Some(status)) = (parts.next(), parts.next()) else {
        return Err(bad_upstream("a malformed status line"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(bad_upstream("an unknown protocol"));
    }
    let status = status.parse().map_err(|_| bad_upstream("a malformed status code"))?;
    let headers = http::read_headers(reader).map_err(|_| bad_upstream("malformed headers"))?;
    Ok((status, headers))
}
