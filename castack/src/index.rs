//! The project pages of the PyPI endpoint's simple index,
//! `/pypi/<repo>/simple/<project>/`, served by the emulator itself for callers with
//! the current token, as CodeArtifact serves them.
//!
//! What was checked (whether CodeArtifact serves PEP 691's JSON form is not in the
//! English User Guide):
//! - pypiserver 2.4.2 (`simple()` in pypiserver/pypiserver `pypiserver/_app.py`)
//!   ignores `Accept`: it always answers HTML as `text/html`, even to a client that
//!   accepts JSON only, and never 406. It normalizes names (PEP 503) and redirects a
//!   project URL that is not normalized (301).
//! - CodeArtifact's User Guide, "Python compatibility", in its current version
//!   (found as the machine translation
//!   https://docs.aws.amazon.com/pt_br/codeartifact/latest/ug/python-compatibility.md;
//!   the English copy at hand, https://docs.aws.amazon.com/codeartifact/latest/ug/python-compatibility.html,
//!   is older and says only that `/simple/<project>/` is served and `/simple/` is
//!   not): CodeArtifact implements version 1.1 of the Simple Repository API (PEP 503,
//!   PEP 691, PEP 700) on `/simple/<project>/`; `Accept` chooses the format:
//!   `application/vnd.pypi.simple.v1+json` (and `…latest+json`) gives JSON,
//!   `application/vnd.pypi.simple.v1+html` (and `…latest+html`) HTML, `text/html`,
//!   `*/*` or no `Accept` HTML; an `Accept` with none of them is `406 Not
//!   Acceptable`.
//!
//! So the emulator answers project pages in both formats by negotiation (pip and
//! uv put JSON first in their `Accept`, so they read JSON, as they would from
//! CodeArtifact), from what the store shows (`store.rs`: filed by the upload form,
//! after the publishing latency), with castack's own PEP 503 normalizer. The index
//! root `/simple/` stays pypiserver's: neither version of the page says CodeArtifact
//! serves it the same way.
//!
//! With an external connection, a page also lists the connection's files of the
//! project that the repository does not hold, while the project's origin controls
//! allow upstream versions (`external.rs`); downloading one ingests it.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::{
    external::{self, Offered},
    http::Response,
    pypi::{self, DistFile},
    state::State,
    util,
};

const JSON_V1: &str = "application/vnd.pypi.simple.v1+json";
const HTML_V1: &str = "application/vnd.pypi.simple.v1+html";
/// The API version of the pages (PEP 629 `pypi:repository-version`, PEP 691 `meta`).
const API_VERSION: &str = "1.1";

/// The format a client gets, with the content type it is answered with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Json,
    Html(&'static str),
}

/// The format `accept` asks for: the supported media range with the highest
/// quality (the first of equals), HTML without a header, `None` when nothing
/// supported is acceptable (406).
fn negotiate(accept: Option<&str>) -> Option<Format> {
    let Some(accept) = accept.filter(|it| !it.trim().is_empty()) else { return Some(Format::Html("text/html")) };
    let mut best: Option<(f32, Format)> = None;
    for range in accept.split(',') {
        let mut params = range.split(';');
        let media = params.next().unwrap_or_default().trim().to_ascii_lowercase();
        let quality = params
            .filter_map(|it| it.trim().strip_prefix("q=").and_then(|q| q.trim().parse::<f32>().ok()))
            .next()
            .unwrap_or(1.0);
        let format = match media.as_str() {
            JSON_V1 | "application/vnd.pypi.simple.latest+json" => Format::Json,
            HTML_V1 | "application/vnd.pypi.simple.latest+html" => Format::Html(HTML_V1),
            "text/html" | "*/*" => Format::Html("text/html"),
            _ => continue,
        };
        if quality > 0.0 && best.is_none_or(|(q, _)| quality > q) {
            best = Some((quality, format));
        }
    }
    best.map(|(_, format)| format)
}

/// The page of `project` (the path segment as sent) under `prefix`
/// (`/pypi/<repo>/`).
pub(crate) fn project_page(state: &State, prefix: &str, project: &str, accept: Option<&str>) -> Response {
    let Ok(project) = util::percent_decode(project) else {
        return Response::text(404, "Not Found (the project name is not valid percent-encoded UTF-8)");
    };
    let name = pypi::normalize_name(&project);
    if name != project {
        // PEP 503: "the repository SHOULD redirect the URLs with a non-normalized
        // name to the normalized one"; pypiserver does so with a 301.
        return Response::text(301, format!("Moved to {prefix}simple/{name}/"))
            .with_header("Location", format!("{prefix}simple/{name}/"));
    }
    let Some(format) = negotiate(accept) else {
        return Response::text(
            406,
            format!("Not Acceptable: this index answers {JSON_V1}, {HTML_V1} or text/html (PEP 691)"),
        )
        .with_header("Vary", "Accept");
    };
    let files: Vec<DistFile> = state.visible_files().into_iter().filter(|it| it.package == name).collect();
    let mut links = Vec::new();
    for file in &files {
        match pypi::hash_file(&file.path) {
            Ok(hashes) => links.push(Link {
                file_name: file.file_name.clone(),
                version: file.version.clone(),
                size: file.size,
                url: download_url(state, prefix, file),
                sha256: hashes.sha256,
            }),
            Err(err) => return Response::text(500, format!("cannot read {}: {err}", file.file_name)),
        }
    }
    if external::upstream_allowed(state, &name, !files.is_empty()) {
        for offered in external::offered(state, &name) {
            if !links.iter().any(|it| it.file_name == offered.file_name) {
                let url = format!("{prefix}packages/{}", util::percent_encode(&offered.file_name).replace("%2B", "+"));
                let Offered { file_name, version, size, sha256, .. } = offered;
                links.push(Link { file_name, version, size, url, sha256 });
            }
        }
    }
    if links.is_empty() {
        return Response::text(404, format!("Not Found ({name} does not exist)")).with_header("Vary", "Accept");
    }
    let response = match format {
        Format::Json => Response::new(200, JSON_V1, json_page(&name, &links).to_string()),
        Format::Html(content_type) => Response::new(200, content_type, html_page(&name, &links)),
    };
    response.with_header("Vary", "Accept")
}

/// Where pypiserver serves `file`: `<prefix>packages/<path in the package folder>`,
/// as its own pages link it (the download goes through the emulator to it).
fn download_url(state: &State, prefix: &str, file: &DistFile) -> String {
    let relative = file.path.strip_prefix(&state.config.package_dir).unwrap_or(&file.path);
    let segments: Vec<String> =
        relative.iter().map(|it| util::percent_encode(&it.to_string_lossy()).replace("%2B", "+")).collect();
    format!("{prefix}packages/{}", segments.join("/"))
}

/// One file of a project page.
struct Link {
    file_name: String,
    version: String,
    size: u64,
    url: String,
    sha256: String,
}

/// PEP 691 with PEP 700's `versions` and `size` (API version 1.1).
fn json_page(name: &str, links: &[Link]) -> Value {
    let versions: BTreeSet<&str> = links.iter().map(|it| it.version.as_str()).collect();
    let files: Vec<Value> = links
        .iter()
        .map(|it| {
            json!({
                "filename": it.file_name,
                "url": it.url,
                "hashes": { "sha256": it.sha256 },
                "size": it.size,
            })
        })
        .collect();
    json!({ "meta": { "api-version": API_VERSION }, "name": name, "files": files, "versions": versions })
}

/// PEP 503, with the repository version of PEP 629.
fn html_page(name: &str, links: &[Link]) -> String {
    let mut page = format!(
        "<!DOCTYPE html>\n<html>\n  <head>\n    <meta name=\"pypi:repository-version\" content=\"{API_VERSION}\">\n    \
         <title>Links for {name}</title>\n  </head>\n  <body>\n    <h1>Links for {name}</h1>\n"
    );
    for link in links {
        page.push_str(&format!(
            "    <a href=\"{}#sha256={}\">{}</a><br>\n",
            html_escape(&link.url),
            link.sha256,
            html_escape(&link.file_name)
        ));
    }
    page.push_str("  </body>\n</html>\n");
    page
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation() {
        let pip = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01";
        assert_eq!(negotiate(Some(pip)), Some(Format::Json));
        assert_eq!(negotiate(None), Some(Format::Html("text/html")));
        assert_eq!(negotiate(Some("*/*")), Some(Format::Html("text/html")));
        assert_eq!(negotiate(Some("text/html")), Some(Format::Html("text/html")));
        assert_eq!(negotiate(Some("application/vnd.pypi.simple.latest+html")), Some(Format::Html(HTML_V1)));
        assert_eq!(negotiate(Some("application/vnd.pypi.simple.latest+json")), Some(Format::Json));
        assert_eq!(
            negotiate(Some("text/html, application/vnd.pypi.simple.v1+json;q=0.5")),
            Some(Format::Html("text/html"))
        );
        assert_eq!(negotiate(Some("application/json")), None);
        assert_eq!(negotiate(Some("application/vnd.pypi.simple.v1+json;q=0")), None);
    }
}
