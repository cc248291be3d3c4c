//! GitHub's OIDC token endpoint, as a runner job with `id-token: write` sees it:
//! `GET /_github/oidc/token?api-version=2.0&audience=…` with
//! `Authorization: bearer <ACTIONS_ID_TOKEN_REQUEST_TOKEN>` answers
//! `{"value": "<JWT>"}`. The JWTs carry the configured claims and are signed with
//! the emulator's own key, which the emulator's STS verifies (`web_identity.rs`) as
//! STS verifies GitHub's tokens against the issuer's keys. GitHub signs RS256 with a
//! key STS fetches from the issuer's JWKS; castack signs HS256 (HMAC-SHA256) with a
//! key only the emulator holds, which decides the same thing (did this issuer sign
//! exactly these claims?) without an RSA implementation in the stack (castack's
//! README lists the deviation).

use serde_json::{Value, json};

use crate::{
    config::OidcSigning,
    http::{Request, Response, lock},
    state::State,
    util::{self, Query},
};

/// Answers a request under `/_github/oidc/`.
pub(crate) fn handle(state: &State, req: &Request) -> Response {
    let error = |status, message: &str| Response::json(status, &json!({ "message": message }));
    if req.path() != "/_github/oidc/token" || req.method != "GET" {
        return error(404, "unknown OIDC path: the token endpoint is GET /_github/oidc/token");
    }
    if let Some(stalled) = state.injected_stall(&crate::operation::Operation::Oidc) {
        return stalled;
    }
    let Some(authorization) = req.header("authorization") else {
        return error(401, "missing Authorization: bearer <ACTIONS_ID_TOKEN_REQUEST_TOKEN>");
    };
    let (scheme, token) = authorization.split_once(' ').unwrap_or((authorization, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return error(401, "the Authorization scheme must be bearer");
    }
    if !util::constant_time_eq(token.trim().as_bytes(), state.oidc_request_token.as_bytes()) {
        return error(403, "the bearer token is not this job's ACTIONS_ID_TOKEN_REQUEST_TOKEN");
    }
    let query = match Query::parse(req.query()) {
        Ok(it) => it,
        Err(err) => return error(400, &err),
    };
    let audience = query.get("audience").filter(|it| !it.is_empty());
    // castack's workflow runner names the job's environment (GitHub's token service
    // knows it): the token then carries it, and the subject follows.
    let environment = query.get("castack_environment").filter(|it| !it.is_empty());
    Response::json(200, &json!({ "value": mint_jwt_for(state, audience, environment) }))
}

/// A JWT with the configured claims for `audience` (default: the `aud` claim, else
/// `sts.amazonaws.com`), remembered as issued for leak tests. `iat`, `nbf` and `exp`
/// are GitHub's (issued now, valid from ten minutes before, for five minutes) unless
/// the claim overrides set them (an expired token for a test).
pub(crate) fn mint_jwt(state: &State, audience: Option<&str>) -> String {
    mint_jwt_for(state, audience, None)
}

/// As [`mint_jwt`], for a job of `environment` when one is given.
fn mint_jwt_for(state: &State, audience: Option<&str>, environment: Option<&str>) -> String {
    let mut claims = state.claims_template_for(environment);
    let audience = audience
        .map(str::to_owned)
        .or_else(|| claims.get("aud").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| "sts.amazonaws.com".to_owned());
    let iat = util::now_secs();
    claims.insert("aud".into(), json!(audience));
    claims.entry("iat").or_insert(json!(iat));
    claims.entry("nbf").or_insert(json!(iat.saturating_sub(600)));
    claims.entry("exp").or_insert(json!(iat + 300));
    claims.insert("jti".into(), json!(util::uuid()));
    let header = json!({"alg": "HS256", "typ": "JWT", "kid": state.oidc_key_id});
    let signed_part = format!(
        "{}.{}",
        util::b64url(header.to_string().as_bytes()),
        util::b64url(Value::Object(claims.clone()).to_string().as_bytes())
    );
    let signature = util::b64url(&util::hmac_sha256(&state.oidc_key, signed_part.as_bytes()));
    let jwt = match lock(&state.inner).oidc_signing {
        OidcSigning::Valid => format!("{signed_part}.{signature}"),
        OidcSigning::Tampered => {
            // What an attacker who edits a token gets: other claims, the old signature.
            let sub = claims.get("sub").and_then(Value::as_str).unwrap_or_default().to_owned();
            claims.insert("sub".into(), json!(format!("{sub}-tampered")));
            let header = signed_part.split('.').next().unwrap_or_default();
            format!("{header}.{}.{signature}", util::b64url(Value::Object(claims).to_string().as_bytes()))
        }
    };
    state.record_oidc_token(jwt.clone());
    jwt
}
