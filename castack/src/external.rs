//! The repository's external connection (`public:pypi`), backed by a pypiserver that
//! stands in for the public PyPI: what it offers of a package, and the ingestion of
//! a file when someone installs it through the repository.
//!
//! As CodeArtifact does (AWS CodeArtifact User Guide, "Connect a CodeArtifact
//! repository to a public repository",
//! https://docs.aws.amazon.com/codeartifact/latest/ug/external-connection.html, and
//! "Requesting a package version with upstream repositories",
//! https://docs.aws.amazon.com/codeartifact/latest/ug/repo-upstream-behavior.html):
//! the index of a package shows the connection's versions next to the repository's
//! own, and a version requested through the repository that only the connection has
//! is copied into the repository ("ingested") and served from there, with origin
//! EXTERNAL. Both only while the package's origin controls allow upstream versions:
//! `upstream: BLOCK` keeps them out ("Editing package origin controls",
//! https://docs.aws.amazon.com/codeartifact/latest/ug/package-origin-controls.html).
//! A package the repository does not know yet allows them; its first version, if
//! ingested, gives it publish BLOCK, upstream ALLOW (`store.rs`).
//!
//! The stand-in is asked over HTTP, as CodeArtifact asks PyPI: its simple page of
//! the package (pypiserver's HTML, links with `#sha256=`), a HEAD for each file's
//! size, and a GET of the file, whose SHA-256 must match the link's.

use std::{io::Read, net::SocketAddr, path::PathBuf};

use crate::{
    config::{ExternalConnection, Restriction},
    forward,
    http::{Body, Request, lock},
    pypi,
    state::State,
    util,
};

/// A distribution file the external connection offers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Offered {
    pub file_name: String,
    /// The project name as the file name writes it.
    pub project: String,
    pub version: String,
    /// Its path on the stand-in (`/packages/…`).
    path: String,
    pub sha256: String,
    pub size: u64,
}

/// The largest page or file castack reads from the stand-in.
const MAX_READ: u64 = 64 * 1024 * 1024;

/// Whether the external connection's versions of `package` (normalized) may reach
/// the repository now; `has_files`: the repository holds files of it.
pub(crate) fn upstream_allowed(state: &State, package: &str, has_files: bool) -> bool {
    state.config.external_connection.is_some()
        && state.origin_of(package, has_files).is_none_or(|it| it.upstream == Restriction::Allow)
}

/// What the connection offers of `package` (normalized), by file name; empty when
/// there is no connection or the stand-in does not answer (CodeArtifact then serves
/// what the repository holds).
pub(crate) fn offered(state: &State, package: &str) -> Vec<Offered> {
    let Some(connection) = &state.config.external_connection else { return Vec::new() };
    let base = format!("/simple/{package}/");
    let Ok((200, page)) = get(connection.upstream, "GET", &base) else { return Vec::new() };
    let page = String::from_utf8_lossy(&page);
    let mut out: Vec<Offered> = Vec::new();
    for href in hrefs(&page) {
        let (link, fragment) = href.split_once('#').unwrap_or((&href, ""));
        let Some(sha256) = fragment.strip_prefix("sha256=").filter(|it| is_sha256(it)) else { continue };
        let path = resolve(&base, link);
        let Some(file_name) = path.rsplit('/').next().and_then(|it| util::percent_decode(it).ok()) else { continue };
        let Some((project, version)) = pypi::parse_dist_name(&file_name) else { continue };
        if pypi::normalize_name(&project) != package || out.iter().any(|it| it.file_name == file_name) {
            continue;
        }
        let Some(size) = head_size(connection.upstream, &path) else { continue };
        out.push(Offered { file_name, project, version, path, sha256: sha256.to_ascii_lowercase(), size });
    }
    out
}

/// Copies `file` from the connection into the repository's package folder and files
/// it as ingested. Returns the stored path, or why not.
pub(crate) fn ingest(state: &State, connection: &ExternalConnection, file: &Offered) -> Result<PathBuf, String> {
    let (status, bytes) = get(connection.upstream, "GET", &file.path)
        .map_err(|err| format!("the external connection {} did not answer: {err}", connection.name))?;
    if status != 200 {
        return Err(format!("the external connection {} answered {status} for {}", connection.name, file.file_name));
    }
    if pypi::sha256_hex(&bytes) != file.sha256 {
        return Err(format!("{} from {} does not match its listed SHA-256", file.file_name, connection.name));
    }
    let path = state.config.package_dir.join(&file.file_name);
    util::write_atomic(&path, &bytes).map_err(|err| format!("{err:#}"))?;
    lock(&state.store).ingested(&file.file_name, &file.project, &file.version, &connection.name);
    Ok(path)
}

/// One request to the stand-in; the status and the body (empty for HEAD).
fn get(upstream: SocketAddr, method: &str, target: &str) -> std::io::Result<(u16, Vec<u8>)> {
    let req = Request {
        method: method.to_owned(),
        target: target.to_owned(),
        http10: false,
        headers: vec![("Host".to_owned(), upstream.to_string())],
        body: Vec::new(),
        connection: 0,
    };
    let response = forward::send(&req, upstream)?;
    let body = match response.body {
        Body::Bytes(bytes) => bytes,
        Body::Stream(reader, _) => {
            let mut bytes = Vec::new();
            reader.take(MAX_READ).read_to_end(&mut bytes)?;
            bytes
        }
        // Only castack's own fault answers trickle; a forwarded answer never does.
        Body::Trickle(_) => Vec::new(),
    };
    Ok((response.status, body))
}

/// The size of the file at `path`, from a HEAD (PEP 700 wants it on JSON pages).
fn head_size(upstream: SocketAddr, path: &str) -> Option<u64> {
    let req = Request {
        method: "HEAD".to_owned(),
        target: path.to_owned(),
        http10: false,
        headers: vec![("Host".to_owned(), upstream.to_string())],
        body: Vec::new(),
        connection: 0,
    };
    let response = forward::send(&req, upstream).ok().filter(|it| it.status == 200)?;
    match response.body {
        Body::Stream(_, Some(length)) => Some(length),
        _ => crate::http::header(&response.headers, "content-length").and_then(|it| it.trim().parse().ok()),
    }
}

/// The values of every `href="…"` of an HTML page (pypiserver quotes them with `"`).
fn hrefs(page: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = page;
    while let Some(start) = rest.find("href=\"") {
        let after = &rest[start + 6..];
        let Some(end) = after.find('"') else { break };
        out.push(after[..end].replace("&amp;", "&"));
        rest = &after[end + 1..];
    }
    out
}

/// `link` resolved against the page at `base` (a path ending in `/`): an absolute
/// URL keeps its path, a relative one is joined, `.` and `..` resolved.
fn resolve(base: &str, link: &str) -> String {
    let path = match link.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]).to_owned(),
        None if link.starts_with('/') => link.to_owned(),
        None => format!("{base}{link}"),
    };
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/').skip(1) {
        match segment {
            "." => {}
            ".." => {
                segments.pop();
            }
            it => segments.push(it),
        }
    }
    format!("/{}", segments.join("/"))
}

fn is_sha256(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_resolve_as_a_browser_would() {
        assert_eq!(resolve("/simple/x/", "../../packages/x-1.0.tar.gz"), "/packages/x-1.0.tar.gz");
        assert_eq!(resolve("/simple/x/", "/packages/a/x-1.0.tar.gz"), "/packages/a/x-1.0.tar.gz");
        assert_eq!(resolve("/simple/x/", "http://127.0.0.1:1/packages/x.whl"), "/packages/x.whl");
        assert_eq!(resolve("/simple/x/", "./y"), "/simple/x/y");
        let page = r#"<a href="../../packages/x-1.0.tar.gz#sha256=ab">x</a><a href="/p?a=1&amp;b=2">"#;
        assert_eq!(hrefs(page), ["../../packages/x-1.0.tar.gz#sha256=ab", "/p?a=1&b=2"]);
    }
}
