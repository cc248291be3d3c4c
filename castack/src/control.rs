//! The JSON control API under `/_castack/`: the same levers as the Rust API on
//! [`crate::Emulator`], for a person driving the sandbox from a shell (curl) and for
//! tests in another process. Its requests are not written to the request log, and
//! it never serves a secret (tokens, JWTs or STS credentials; the Rust accessors
//! such as [`crate::Emulator::issued_tokens`] exist for leak tests).
//!
//! | Method and path | Body | Answer |
//! |---|---|---|
//! | `GET /_castack/info` | | endpoints (CodeArtifact, PyPI, STS and its upstream), account, region, domain, repository, OIDC variables |
//! | `GET /_castack/requests` | | `{"requests": [entry…]}` |
//! | `DELETE /_castack/requests` | | `{"cleared": n}` |
//! | `GET /_castack/faults` | | `{"faults": [fault…]}` |
//! | `POST /_castack/faults` | a fault object, or an array of them | `{"faults": [fault…]}` (all active) |
//! | `DELETE /_castack/faults` | | `{"faults": []}` |
//! | `POST /_castack/reset` | | `{"reset": true}`: faults, log, claims, imposed restrictions, latency (package records stay, as files do) |
//! | `GET /_castack/token` | | `{"active": bool, "expiration": epoch or null}` (never the token) |
//! | `POST /_castack/token/expire` | | `{"expired": bool}` (whether one was active) |
//! | `POST /_castack/token/rotate` | | `{"expiration": epoch}` |
//! | `GET /_castack/oidc/claims` | | `{"claims": {…}}` |
//! | `PUT`/`POST /_castack/oidc/claims` | object to merge (`null` removes) | `{"claims": {…}}` |
//! | `DELETE /_castack/oidc/claims` | | `{"claims": {…}}` back to the configuration |
//! | `GET /_castack/origin-restrictions` | | `{"imposed": {"publish": …, "upstream": …} or null, "packages": {name: {"publish": …, "upstream": …}}}`: what a test imposes on every package, and each package's record |
//! | `GET /_castack/github` | | the fake GitHub repository (`github_repo`), never its token; secrets by name and dates only |
//! | `PUT`/`POST /_castack/github` | the settings (missing fields keep the defaults; stored secrets stay) | the new settings |
//! | `PUT`/`POST /_castack/origin-restrictions` | `{"publish": …, "upstream": …}` (either; the other stays, or is that of a package published first) | imposes them on every package; the `GET` answer |
//! | `DELETE /_castack/origin-restrictions` | | imposes nothing: each package's own again; the `GET` answer |
//! | `GET /_castack/latency` | | `{"publishLatencyMs": n}`: how long uploads stay out of listings |
//! | `PUT`/`POST /_castack/latency` | `{"publishLatencyMs": n}` (at most `MAX_DELAY_MS`) | the new value |
//!
//! Errors are `{"error": "<what to do>"}` with status 400 or 404.

use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::{
    config::{OriginRestrictions, Restriction},
    faults::{MAX_DELAY_MS, Rule},
    github_repo::GithubRepo,
    http::{Request, Response, lock},
    state::State,
    util,
};

pub(crate) fn handle(state: &State, req: &Request) -> Response {
    match route(state, req) {
        Ok(value) => Response::json(200, &value),
        Err((status, message)) => Response::json(status, &json!({ "error": message })),
    }
}

type Answer = Result<Value, (u16, String)>;

fn bad(message: impl std::fmt::Display) -> (u16, String) {
    (400, message.to_string())
}

/// What went wrong inside the emulator (the password file, for tokens).
fn internal(err: anyhow::Error) -> (u16, String) {
    (500, format!("{err:#}"))
}

fn body_json(req: &Request) -> Result<Value, (u16, String)> {
    if req.body.is_empty() {
        return Err(bad("this endpoint needs a JSON body"));
    }
    serde_json::from_slice(&req.body).map_err(|err| bad(format!("the body is not valid JSON: {err}")))
}

/// One line per endpoint of the table above; the work is in the functions below.
fn route(state: &State, req: &Request) -> Answer {
    let path = req.path().trim_end_matches('/');
    let method = req.method.as_str();
    match (method, path) {
        ("GET", "/_castack/info" | "/_castack") => Ok(info(state)),
        ("GET", "/_castack/requests") => {
            Ok(json!({ "requests": state.requests().iter().map(|it| it.to_json()).collect::<Vec<_>>() }))
        }
        ("DELETE", "/_castack/requests") => Ok(json!({ "cleared": state.clear_requests() })),
        ("GET", "/_castack/faults") => Ok(faults(state)),
        ("POST", "/_castack/faults") => add_faults(state, body_json(req)?),
        ("DELETE", "/_castack/faults") => {
            lock(&state.inner).faults.clear();
            Ok(faults(state))
        }
        ("POST", "/_castack/reset") => {
            state.reset();
            Ok(json!({ "reset": true }))
        }
        ("GET", "/_castack/token") => Ok(token(state)),
        ("POST", "/_castack/token/expire") => Ok(json!({ "expired": state.expire_token().map_err(internal)? })),
        ("POST", "/_castack/token/rotate") => {
            let token = state.rotate_token().map_err(internal)?;
            Ok(json!({ "expiration": util::epoch_secs(token.expiration) }))
        }
        ("GET", "/_castack/oidc/claims") => Ok(claims(state)),
        ("PUT" | "POST", "/_castack/oidc/claims") => {
            let Value::Object(overrides) = body_json(req)? else {
                return Err(bad("the claims must be a JSON object; null removes a claim"));
            };
            state.set_oidc_claims(overrides);
            Ok(claims(state))
        }
        ("DELETE", "/_castack/oidc/claims") => {
            state.reset_oidc_claims();
            Ok(claims(state))
        }
        ("GET", "/_castack/origin-restrictions") => Ok(restrictions(state)),
        ("PUT" | "POST", "/_castack/origin-restrictions") => set_restrictions(state, body_json(req)?),
        ("DELETE", "/_castack/origin-restrictions") => {
            lock(&state.inner).origin = None;
            Ok(restrictions(state))
        }
        ("GET", "/_castack/latency") => Ok(latency(state)),
        ("PUT" | "POST", "/_castack/latency") => set_latency(state, body_json(req)?),
        ("GET", "/_castack/github") => Ok(state.github_repo().0.to_json()),
        ("PUT" | "POST", "/_castack/github") => {
            let mut repo = GithubRepo::from_json(&body_json(req)?).map_err(|err| bad(format!("{err:#}")))?;
            // No secret value travels over HTTP: the stored secrets stay as they are.
            repo.secrets = state.github_repo().0.secrets;
            state.set_github_repo(repo);
            Ok(state.github_repo().0.to_json())
        }
        _ => Err((
            404,
            format!(
                "no control endpoint {method} {path}; see GET /_castack/info and the table in castack's src/control.rs"
            ),
        )),
    }
}

/// Adds one fault or an array of them; all are parsed first, so a bad entry adds
/// none.
fn add_faults(state: &State, body: Value) -> Answer {
    let items = match body {
        Value::Array(items) => items,
        other => vec![other],
    };
    let rules =
        items.iter().map(Rule::from_json).collect::<anyhow::Result<Vec<_>>>().map_err(|err| bad(format!("{err:#}")))?;
    let mut inner = lock(&state.inner);
    for rule in rules {
        inner.faults.add(rule);
    }
    drop(inner);
    Ok(faults(state))
}

/// Sets either restriction or both; both are parsed first, so a bad value changes
/// nothing.
fn set_restrictions(state: &State, body: Value) -> Answer {
    let Some(obj) = body.as_object() else {
        return Err(bad(r#"send {"publish": "ALLOW"|"BLOCK", "upstream": "ALLOW"|"BLOCK"}"#));
    };
    let (publish, upstream) = (restriction(obj, "publish")?, restriction(obj, "upstream")?);
    let mut inner = lock(&state.inner);
    let mut imposed = inner.origin.unwrap_or_default();
    if let Some(it) = publish {
        imposed.publish = it;
    }
    if let Some(it) = upstream {
        imposed.upstream = it;
    }
    inner.origin = Some(imposed);
    drop(inner);
    Ok(restrictions(state))
}

/// Sets the publishing latency for uploads from now on.
fn set_latency(state: &State, body: Value) -> Answer {
    let ms = body
        .get("publishLatencyMs")
        .and_then(Value::as_u64)
        .filter(|it| *it <= MAX_DELAY_MS)
        .ok_or_else(|| bad(format!(r#"send {{"publishLatencyMs": n}} with n between 0 and {MAX_DELAY_MS}"#)))?;
    lock(&state.store).set_latency(Duration::from_millis(ms));
    Ok(latency(state))
}

fn latency(state: &State) -> Value {
    json!({ "publishLatencyMs": lock(&state.store).latency().as_millis() as u64 })
}

fn restriction(obj: &Map<String, Value>, key: &str) -> Result<Option<Restriction>, (u16, String)> {
    match obj.get(key) {
        None => Ok(None),
        Some(Value::String(text)) => Restriction::parse(text).map(Some).map_err(bad),
        Some(_) => Err(bad(format!("{key} must be \"ALLOW\" or \"BLOCK\""))),
    }
}

/// Whether a token is active and until when; never the token itself.
fn token(state: &State) -> Value {
    let token = state.current_token();
    json!({
        "active": token.is_some(),
        "expiration": token.map(|it| util::epoch_secs(it.expiration)),
    })
}

fn claims(state: &State) -> Value {
    json!({ "claims": state.claims_template() })
}

fn faults(state: &State) -> Value {
    json!({ "faults": lock(&state.inner).faults.list().iter().map(Rule::to_json).collect::<Vec<_>>() })
}

fn restrictions(state: &State) -> Value {
    let shown = |it: OriginRestrictions| json!({ "publish": it.publish.as_str(), "upstream": it.upstream.as_str() });
    let imposed = lock(&state.inner).origin.map(shown);
    let packages: Map<String, Value> =
        lock(&state.store).records().iter().map(|(name, it)| (name.clone(), shown(*it))).collect();
    json!({ "imposed": imposed, "packages": packages })
}

fn info(state: &State) -> Value {
    let cfg = &state.config;
    let base = format!("http://{}", state.addr);
    json!({
        "account": cfg.account,
        "region": cfg.region,
        "domain": cfg.domain,
        "repository": cfg.repository,
        "codeartifactEndpoint": base,
        "pypiEndpoint": state.endpoint("pypi"),
        "stsEndpoint": base,
        "stsUpstream": cfg.sts_upstream.map(|it| format!("http://{it}")),
        "controlUrl": format!("{base}/_castack"),
        "oidcTokenUrl": format!("{base}/_github/oidc/token?api-version=2.0"),
        "oidcRequestToken": state.oidc_request_token,
        "publishLatencyMs": lock(&state.store).latency().as_millis() as u64,
        "githubApiUrl": format!("{base}{}", crate::github_repo::API_PREFIX),
    })
}
