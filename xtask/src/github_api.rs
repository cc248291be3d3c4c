//! GitHub's REST API, for the repository settings `check-iam` reads (environments,
//! the OIDC subject template, rulesets, ids) and `setup --apply-github` writes (the
//! release environment, its tag rule and secrets): a token, and requests that answer
//! JSON or say why not.
//!
//! The token comes from `GITHUB_TOKEN` (a workflow passes `${{ github.token }}`),
//! `GH_TOKEN`, or `gh auth token` for the API's host when the GitHub CLI is on
//! `PATH`; it is registered as a secret (masked) the moment it is read, travels only
//! in the `Authorization` header to `GITHUB_API_URL` (default
//! `https://api.github.com`, which a runner sets), and no child process ever gets it
//! (`gh` runs with the base environment). The calls go over the program's own HTTP
//! stack (`net`: the proxies and trust of the AWS calls) within the limits of
//! `limits`, so a stalled API ends with a message, not a hang.

use std::env;

use aws_smithy_http_client::Connector;
use aws_smithy_runtime_api::client::http::{HttpConnector, HttpConnectorSettings};
use aws_smithy_runtime_api::http::Request;
use aws_smithy_types::{body::SdkBody, byte_stream::ByteStream};
use serde_json::Value;
use xshell::{Shell, cmd};

use crate::{
    exec::{self, Env},
    limits, net,
    redact::{self, Secret},
};

pub const API_URL: &str = "GITHUB_API_URL";
pub const DEFAULT_API_URL: &str = "https://api.github.com";
/// The REST API version the answers are read in.
const API_VERSION: &str = "2022-11-28";
/// No answer the checks read is anywhere near this; a bigger one is not GitHub's.
const MAX_BODY: usize = 4 << 20;

/// Where the token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    GithubToken,
    GhToken,
    GhCli,
}

impl TokenSource {
    pub fn describe(self) -> &'static str {
        match self {
            TokenSource::GithubToken => "GITHUB_TOKEN",
            TokenSource::GhToken => "GH_TOKEN",
            TokenSource::GhCli => "`gh auth token`",
        }
    }
}

/// What a `GET` came to.
#[derive(Debug, Clone)]
pub enum Reply {
    Json(Value),
    /// GitHub answered with an error status: 401 (the token), 403 (a permission,
    /// named by `X-Accepted-GitHub-Permissions` when GitHub says it), 404.
    Refused {
        status: u16,
        message: String,
        permission: Option<String>,
    },
    /// No usable answer: the network, a deadline, a rate limit, a server error.
    Failed(String),
}

/// The API base URL: `GITHUB_API_URL`, else GitHub's. Only http(s) URLs are used.
pub fn base_url() -> Result<String, String> {
    base_url_from(env::var(API_URL).ok())
}

fn base_url_from(value: Option<String>) -> Result<String, String> {
    let url = value.filter(|it| !it.trim().is_empty()).unwrap_or_else(|| DEFAULT_API_URL.to_owned());
    let url = url.trim().trim_end_matches('/').to_owned();
    let scheme_ok = url.starts_with("https://") || url.starts_with("http://");
    if !scheme_ok || url.contains(char::is_whitespace) || url.contains('@') {
        return Err(format!(
            "{API_URL}={url:?} is not an http(s) URL without credentials: unset it (GitHub's API is {DEFAULT_API_URL})"
        ));
    }
    Ok(url)
}

/// The host whose `gh` login belongs to the API: `github.com` for
/// `api.github.com`, the server of a GitHub Enterprise Server URL (`…/api/v3`).
fn gh_host(base: &str) -> String {
    let authority = base.split("://").nth(1).unwrap_or(base).split('/').next().unwrap_or_default();
    if authority.eq_ignore_ascii_case("api.github.com") { "github.com".to_owned() } else { authority.to_owned() }
}

/// The token to read the repository settings with, registered as a secret at once.
pub fn find_token(sh: &Shell, base: &str) -> Option<(Secret, TokenSource)> {
    for (name, source) in [("GITHUB_TOKEN", TokenSource::GithubToken), ("GH_TOKEN", TokenSource::GhToken)] {
        if let Some(value) = env::var(name).ok().map(|it| it.trim().to_owned()).filter(|it| !it.is_empty()) {
            return Some((Secret::new(value), source));
        }
    }
    if !exec::on_path("gh") {
        return None;
    }
    let host = gh_host(base);
    // The base environment: no token variable reaches gh, which reads its own login.
    let out = exec::run(cmd!(sh, "gh auth token --hostname {host}"), &Env::base()).capture().exec().ok()?;
    let token = out.stdout.trim().to_owned();
    (!token.is_empty()).then(|| (Secret::new(token), TokenSource::GhCli))
}

/// A client of the API at `base` with `token`.
pub struct Api {
    base: String,
    token: Secret,
    connector: Connector,
}

impl Api {
    pub fn new(base: String, token: Secret) -> Result<Api, String> {
        let settings = HttpConnectorSettings::builder()
            .connect_timeout(limits::get().connect)
            .read_timeout(limits::get().aws_attempt)
            .build();
        let connector = net::connector(settings).map_err(|err| format!("{err:#}"))?;
        Ok(Api { base, token, connector })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// `GET {base}{path}`, the whole exchange within one attempt's deadline.
    pub async fn get(&self, path: &str) -> Reply {
        self.send("GET", path, None).await
    }

    /// `PUT {base}{path}` with a JSON body (for `setup --apply-github`). The body may
    /// carry encrypted secrets and is never printed, logged or put in an error.
    pub async fn put(&self, path: &str, body: &Value) -> Reply {
        self.send("PUT", path, Some(body.to_string().into_bytes())).await
    }

    /// `POST {base}{path}` with a JSON body, as `put`.
    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.send("POST", path, Some(body.to_string().into_bytes())).await
    }

    /// One request, the whole exchange within one attempt's deadline. A 2xx answer
    /// is `Json` (`Null` when the body is empty, as 204 has it).
    async fn send(&self, method: &str, path: &str, body: Option<Vec<u8>>) -> Reply {
        let url = format!("{}{path}", self.base);
        let Ok(mut request) = Request::get(&url) else { return Reply::Failed(format!("{url:?} is not a URL")) };
        if method != "GET" {
            if request.set_method(method).is_err() {
                return Reply::Failed(format!("{method} is not an HTTP method"));
            }
            request.headers_mut().insert("content-type", "application/json");
        }
        if let Some(body) = body {
            *request.body_mut() = SdkBody::from(body);
        }
        let headers = request.headers_mut();
        headers.insert("authorization", format!("Bearer {}", self.token.expose()));
        headers.insert("accept", "application/vnd.github+json");
        headers.insert("x-github-api-version", API_VERSION);
        // GitHub refuses requests without a User-Agent.
        headers.insert("user-agent", "yamause-xtask");
        let limit = limits::get().aws_attempt;
        let late = || format!("{url} did not answer within {} (XTASK_AWS_ATTEMPT_TIMEOUT)", limits::shown(limit));
        let exchange = async {
            let response = self
                .connector
                .call(request)
                .await
                .map_err(|err| if err.is_timeout() { late() } else { format!("could not reach {url}: {err}") })?;
            let status = response.status().as_u16();
            let header = |name: &str| response.headers().get(name).map(str::to_owned);
            let (permission, remaining) = (header("x-accepted-github-permissions"), header("x-ratelimit-remaining"));
            let body = ByteStream::new(response.into_body()).collect().await;
            let body = body.map_err(|err| format!("reading the answer of {url} failed: {err}"))?.into_bytes();
            Ok::<_, String>((status, permission, remaining, body))
        };
        let (status, permission, remaining, body) = match tokio::time::timeout(limit, exchange).await {
            Ok(Ok(it)) => it,
            Ok(Err(err)) => return Reply::Failed(redact::scrub(&err)),
            Err(_) => return Reply::Failed(late()),
        };
        if body.len() > MAX_BODY {
            return Reply::Failed(format!("{url} answered {} bytes, more than GitHub's API ever does", body.len()));
        }
        // Short, and scrubbed before it is cut (a server could echo a secret).
        let message = || {
            let text = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|it| it.get("message").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
            redact::scrub(&text).chars().take(200).collect::<String>()
        };
        match status {
            200..=299 if body.iter().all(u8::is_ascii_whitespace) => Reply::Json(Value::Null),
            200..=299 => match serde_json::from_slice(&body) {
                Ok(value) => Reply::Json(value),
                Err(err) => Reply::Failed(format!("the answer of {url} is not JSON ({err})")),
            },
            403 if remaining.as_deref() == Some("0") => {
                Reply::Failed(format!("GitHub's rate limit for this token is used up ({}); try again later", message()))
            }
            401 | 403 | 404 | 422 => Reply::Refused { status, message: message(), permission },
            407 => Reply::Failed(format!("{} (calling {url})", net::PROXY_REFUSED)),
            _ => Reply::Failed(format!("{url} answered {status}: {}", message())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gh_login_belongs_to_the_api_host() {
        assert_eq!(gh_host("https://api.github.com"), "github.com");
        assert_eq!(gh_host("https://ghe.example.com/api/v3"), "ghe.example.com");
        assert_eq!(gh_host("http://127.0.0.1:8080/_github/api"), "127.0.0.1:8080");
    }

    #[test]
    fn only_plain_http_urls_are_api_urls() {
        assert_eq!(base_url_from(None).unwrap(), DEFAULT_API_URL);
        assert_eq!(base_url_from(Some(" ".into())).unwrap(), DEFAULT_API_URL);
        assert_eq!(
            base_url_from(Some("http://127.0.0.1:1/_github/api/".into())).unwrap(),
            "http://127.0.0.1:1/_github/api"
        );
        for bad in ["ftp://x", "api.github.com", "https://user:pw@api.github.com", "https://a b"] {
            assert!(base_url_from(Some(bad.into())).unwrap_err().contains("GITHUB_API_URL"), "{bad}");
        }
    }
}
