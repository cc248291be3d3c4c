//! GitHub Actions: the OIDC ID token request, the claims of a token, and the
//! run facts that go into an auditable STS session name.
//!
//! The token endpoint is called over the same HTTP stack the AWS SDK uses (`net`:
//! rustls on ring, the environment's proxies and trust), so this costs no extra
//! compile time. The JWT and the request bearer token
//! are registered as secrets (masked) the moment they are read.

use std::{env, time::Duration};

use anyhow::{Context, Result, bail};
use aws_smithy_runtime_api::client::http::{HttpConnector, HttpConnectorSettings};
use aws_smithy_runtime_api::http::Request;
use aws_smithy_types::byte_stream::ByteStream;

use crate::{
    net,
    redact::{self, Secret},
    report,
};

/// The environment variables a runner sets when the job has `id-token: write`.
pub const REQUEST_URL: &str = "ACTIONS_ID_TOKEN_REQUEST_URL";
pub const REQUEST_TOKEN: &str = "ACTIONS_ID_TOKEN_REQUEST_TOKEN";

/// What to do when the OIDC request variables are missing.
pub const NO_ID_TOKEN: &str = "ACTIONS_ID_TOKEN_REQUEST_URL/ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set: the job \
     needs `permissions: id-token: write` (and a pull request from a fork never gets an ID token)";

/// True when the OIDC request variables are present.
pub fn can_request_id_token() -> bool {
    [REQUEST_URL, REQUEST_TOKEN].iter().all(|it| env::var_os(it).is_some_and(|v| !v.is_empty()))
}

/// Requests a GitHub OIDC ID token for `audience` (a JWT, valid five minutes).
///
/// Transient failures (connection errors, 5xx) are retried with backoff, at most
/// three attempts in all.
pub async fn request_id_token(audience: &str) -> Result<Secret> {
    let url = env::var(REQUEST_URL).ok().filter(|it| !it.is_empty()).context(NO_ID_TOKEN)?;
    let bearer = env::var(REQUEST_TOKEN).ok().filter(|it| !it.is_empty()).context(NO_ID_TOKEN)?;
    let bearer = Secret::new(bearer);
    // The URL carries its own query (`?api-version=…`), hence `&`.
    let sep = if url.contains('?') { '&' } else { '?' };
    let url = format!("{url}{sep}audience={}", redact::percent_encode(audience));

    // The same trust store and proxies as the AWS calls (`net`).
    let connector = net::connector(
        HttpConnectorSettings::builder()
            .connect_timeout(crate::limits::get().connect)
            .read_timeout(crate::limits::get().aws_attempt)
            .build(),
    )?;
    let mut last_error = None;
    for attempt in 1..=3 {
        if attempt > 1 {
            tokio::time::sleep(Duration::from_millis(500 * (1 << (attempt - 2)))).await;
        }
        let mut request = Request::get(&url).context("build the ID token request")?;
        request.headers_mut().insert("authorization", format!("bearer {}", bearer.expose()));
        request.headers_mut().insert("accept", "application/json");
        // The whole exchange, body included, within one attempt's limit (plus the
        // connection's, so that the connector's own deadlines, which tell the
        // causes apart, come first).
        let limits = crate::limits::get();
        let limit = limits.aws_attempt + limits.connect;
        let host = url.split("://").nth(1).unwrap_or(&url).split(['/', '?']).next().unwrap_or_default().to_owned();
        let deadlines = net::cause::Deadlines {
            silence: limits.aws_attempt,
            silence_var: "XTASK_AWS_ATTEMPT_TIMEOUT",
            total: limit,
            total_var: "XTASK_AWS_ATTEMPT_TIMEOUT",
        };
        let answer = async {
            let response = connector.call(request).await.map_err(|err| {
                let cause = net::cause::classify(&err, false);
                format!("the GitHub OIDC token endpoint: {}", cause.describe(&host, &deadlines))
            })?;
            let status = response.status().as_u16();
            let body = ByteStream::new(response.into_body()).collect().await;
            let body = body.map_err(|err| format!("reading the ID token response failed: {err}"))?;
            Ok::<_, String>((status, body.into_bytes().to_vec()))
        };
        let (status, body) = match tokio::time::timeout(limit, answer).await {
            Ok(Ok(it)) => it,
            Ok(Err(err)) => {
                last_error = Some(err);
                continue;
            }
            Err(_) => {
                let cause = net::cause::Cause::TooSlow.describe(&host, &deadlines);
                last_error = Some(format!("the GitHub OIDC token endpoint: {cause}"));
                continue;
            }
        };
        if status == 407 {
            bail!("{} (requesting the GitHub OIDC token)", net::PROXY_REFUSED);
        }
        if status >= 500 {
            last_error = Some(format!("the GitHub OIDC token endpoint answered {status}"));
            continue;
        }
        if status != 200 {
            // Short, and scrubbed before it is cut (a server could echo a secret).
            let text = redact::scrub(&String::from_utf8_lossy(&body)).chars().take(300).collect::<String>();
            bail!(
                "the GitHub OIDC token endpoint refused the request ({status}: {text}): check that the job has \
                 `permissions: id-token: write` and that ACTIONS_ID_TOKEN_REQUEST_TOKEN is the runner's own"
            );
        }
        let value: serde_json::Value =
            serde_json::from_slice(&body).context("read the ID token response: it is not JSON")?;
        let jwt = value.get("value").and_then(|it| it.as_str()).context("the ID token response has no `value`")?;
        // Masked before anything else happens with it.
        return Ok(Secret::new(jwt.to_owned()));
    }
    bail!("{}; tried 3 times", last_error.unwrap_or_default())
}

/// The claims of a JWT that explain a trust-policy decision. The token is not
/// verified: this is for messages, and STS does the verifying.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Claims {
    pub sub: String,
    pub aud: String,
    pub iss: String,
    pub repository: String,
    pub repository_id: String,
    pub repository_owner_id: String,
    pub r#ref: String,
    pub ref_type: String,
    pub environment: String,
    pub job_workflow_ref: String,
    pub workflow_ref: String,
    pub exp: i64,
}

/// Decodes the payload of `jwt` (without verifying it).
pub fn decode_claims(jwt: &str) -> Result<Claims> {
    let payload = jwt.split('.').nth(1).context("the ID token is not a JWT (no payload segment)")?;
    let bytes = base64_simd::URL_SAFE_NO_PAD
        .decode_to_vec(payload.trim_end_matches('='))
        .context("the ID token payload is not base64url")?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).context("the ID token payload is not JSON")?;
    let text = |key: &str| match value.get(key) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Array(items)) => {
            items.iter().filter_map(|it| it.as_str()).collect::<Vec<_>>().join(",")
        }
        Some(serde_json::Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    Ok(Claims {
        sub: text("sub"),
        aud: text("aud"),
        iss: text("iss"),
        repository: text("repository"),
        repository_id: text("repository_id"),
        repository_owner_id: text("repository_owner_id"),
        r#ref: text("ref"),
        ref_type: text("ref_type"),
        environment: text("environment"),
        job_workflow_ref: text("job_workflow_ref"),
        workflow_ref: text("workflow_ref"),
        exp: value.get("exp").and_then(|it| it.as_i64()).unwrap_or_default(),
    })
}

impl Claims {
    /// The claims as `key: value` lines for a message (empty ones left out).
    pub fn describe(&self) -> String {
        let pairs = [
            ("sub", &self.sub),
            ("aud", &self.aud),
            ("ref", &self.r#ref),
            ("ref_type", &self.ref_type),
            ("environment", &self.environment),
            ("repository", &self.repository),
            ("repository_id", &self.repository_id),
            ("job_workflow_ref", &self.job_workflow_ref),
        ];
        pairs.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| format!("\n    {k}: {v}")).collect()
    }
}

/// An STS session name that says which run published: `gha-<run id>-<attempt>`,
/// checked against the pattern STS enforces.
pub fn session_name() -> Result<String> {
    let ci = crate::ci::context();
    let run_id = ci.run_id.clone().unwrap_or_default();
    let attempt = ci.run_attempt.clone().unwrap_or_default();
    let name = if run_id.is_empty() { "yamause-release".to_owned() } else { format!("gha-{run_id}-{attempt}") };
    let name: String = name.trim_end_matches('-').chars().take(64).collect();
    let valid = name.len() >= 2
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '=' | ',' | '.' | '@' | '-'));
    if !valid {
        bail!(
            "the STS session name {name:?} (from GITHUB_RUN_ID/GITHUB_RUN_ATTEMPT) does not match [\\w+=,.@-]{{2,64}}"
        );
    }
    Ok(name)
}

/// Whether this run is a pull request from a fork (which never gets an ID token).
pub fn is_fork_pull_request() -> bool {
    let event = env::var("GITHUB_EVENT_NAME").unwrap_or_default();
    if !event.starts_with("pull_request") {
        return false;
    }
    let Ok(path) = env::var("GITHUB_EVENT_PATH") else { return false };
    let Ok(text) = std::fs::read_to_string(path) else { return false };
    let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else { return false };
    value.pointer("/pull_request/head/repo/fork").and_then(|it| it.as_bool()).unwrap_or(false)
}

/// The explanation when the job cannot get an ID token.
pub fn no_id_token_help() -> String {
    let mut msg = NO_ID_TOKEN.to_owned();
    if is_fork_pull_request() {
        msg.push_str("; this run is a pull request from a fork, which cannot publish");
    }
    if report::in_github_actions() {
        msg.push_str("; add to the publishing job:\n    permissions:\n      contents: read\n      id-token: write");
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_claims_without_verifying() {
        let payload = base64_simd::URL_SAFE_NO_PAD.encode_to_string(
            br#"{"sub":"repo:o/r:environment:release","aud":"sts.amazonaws.com","ref":"refs/tags/v1","environment":"release","exp":5}"#,
        );
        let claims = decode_claims(&format!("eyJhbGciOiJSUzI1NiJ9.{payload}.c2ln")).unwrap();
        assert_eq!(claims.sub, "repo:o/r:environment:release");
        assert_eq!(claims.exp, 5);
        assert!(claims.describe().contains("environment: release"));
        assert!(decode_claims("not-a-jwt").is_err());
    }
}
