//! The fake GitHub OIDC token endpoint: bearer check, JWT shape and claims.

use base64::Engine;
use serde_json::{Value, json};

use crate::support::*;

fn get_token(fx: &Fixture, query: &str, authorization: Option<&str>) -> Raw {
    let mut head = format!("GET /_github/oidc/token?{query} HTTP/1.1\r\nHost: x\r\n");
    if let Some(value) = authorization {
        head.push_str(&format!("Authorization: {value}\r\n"));
    }
    raw_bytes(&fx.emulator, &head, b"")
}

fn decode(segment: &str) -> Value {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(segment).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[test]
fn issues_a_jwt_to_the_right_bearer() {
    let fx = fixture_with(|config| config.oidc_request_token = Some("request-token-123".into()));
    let env = fx.emulator.oidc_env();
    assert_eq!(env[0].0, "ACTIONS_ID_TOKEN_REQUEST_URL");
    assert!(env[0].1.ends_with("/_github/oidc/token?api-version=2.0"), "{}", env[0].1);
    assert_eq!(env[1], ("ACTIONS_ID_TOKEN_REQUEST_TOKEN".to_owned(), "request-token-123".to_owned()));

    // As actions/toolkit asks: the URL plus `&audience=` (URL-encoded).
    let answer = get_token(&fx, "api-version=2.0&audience=sts.amazonaws.com", Some("bearer request-token-123"));
    assert_eq!(answer.status, 200, "{answer:?}");
    let jwt = answer.json()["value"].as_str().unwrap().to_owned();
    let segments: Vec<&str> = jwt.split('.').collect();
    assert_eq!(segments.len(), 3);
    // HS256 with the emulator's key (castack's README: GitHub signs RS256).
    let header = decode(segments[0]);
    assert_eq!((&header["alg"], &header["typ"]), (&json!("HS256"), &json!("JWT")), "{header}");
    assert!(header["kid"].as_str().unwrap().starts_with("castack-"), "{header}");
    let claims = decode(segments[1]);
    assert_eq!(claims["iss"], "https://token.actions.githubusercontent.com");
    assert_eq!(claims["aud"], "sts.amazonaws.com");
    assert_eq!(claims["sub"], "repo:octo-org/yamause:environment:release");
    assert_eq!(claims["repository"], "octo-org/yamause");
    assert_eq!(claims["repository_owner"], "octo-org");
    assert_eq!(claims["environment"], "release");
    for key in
        ["ref", "ref_type", "job_workflow_ref", "workflow_ref", "repository_id", "repository_owner_id", "run_id", "jti"]
    {
        assert!(claims[key].is_string(), "{key}: {claims}");
    }
    let iat = claims["iat"].as_u64().unwrap();
    assert_eq!(claims["exp"].as_u64().unwrap(), iat + 300);
    assert_eq!(claims["nbf"].as_u64().unwrap(), iat - 600);
    assert!(iat.abs_diff(epoch(std::time::SystemTime::now())) < 60);

    // Another audience, percent-encoded; the scheme is case-insensitive.
    let answer =
        get_token(&fx, "api-version=2.0&audience=https%3A%2F%2Fexample.com%2Faud", Some("Bearer request-token-123"));
    let jwt = answer.json()["value"].as_str().unwrap().to_owned();
    assert_eq!(decode(jwt.split('.').nth(1).unwrap())["aud"], "https://example.com/aud");
    // No audience: sts.amazonaws.com.
    let answer = get_token(&fx, "api-version=2.0", Some("BEARER request-token-123"));
    let jwt = answer.json()["value"].as_str().unwrap().to_owned();
    assert_eq!(decode(jwt.split('.').nth(1).unwrap())["aud"], "sts.amazonaws.com");

    // The request log has the operation, never a token.
    let log = fx.emulator.requests();
    assert!(log.iter().all(|it| it.operation == "oidc" && it.status == 200));
    assert!(!format!("{log:?}").contains("request-token-123"));
}

#[test]
fn refuses_a_wrong_or_missing_bearer() {
    let fx = fixture();
    let right = fx.emulator.oidc_request_token().to_owned();
    assert_eq!(right.len(), 48, "a random default request token");
    let answer = get_token(&fx, "api-version=2.0&audience=sts.amazonaws.com", None);
    assert_eq!(answer.status, 401);
    assert!(answer.json()["message"].is_string());
    let answer = get_token(&fx, "api-version=2.0&audience=sts.amazonaws.com", Some("bearer wrong"));
    assert_eq!(answer.status, 403);
    assert!(answer.json()["message"].as_str().unwrap().contains("ACTIONS_ID_TOKEN_REQUEST_TOKEN"));
    let answer = get_token(&fx, "api-version=2.0", Some(&format!("Basic {right}")));
    assert_eq!(answer.status, 401);
    assert!(answer.body.find("value").is_none());
}

#[test]
fn issued_jwts_and_tokens_are_remembered() {
    let fx = fixture_with(|config| config.oidc_request_token = Some("request-token-123".into()));
    assert!(fx.emulator.issued_oidc_tokens().is_empty());
    let answer = get_token(&fx, "api-version=2.0&audience=sts.amazonaws.com", Some("bearer request-token-123"));
    let first = answer.json()["value"].as_str().unwrap().to_owned();
    // A refused request issues nothing.
    get_token(&fx, "api-version=2.0", Some("bearer wrong"));
    let second = fx.emulator.mint_oidc_token(Some("other"));
    assert_eq!(fx.emulator.issued_oidc_tokens(), [first, second]);

    // CodeArtifact tokens: each issued once, however often it is handed out.
    let token = fx.emulator.issue_token(None).unwrap().value;
    assert_eq!(fx.emulator.issue_token(Some(900)).unwrap().value, token);
    let rotated = fx.emulator.rotate_token().unwrap().value;
    assert_eq!(fx.emulator.issued_tokens(), [token, rotated]);
    assert!(fx.emulator.issued_sts_secrets().is_empty());
}

#[test]
fn claims_can_be_changed() {
    let fx = fixture();
    let mut changes = serde_json::Map::new();
    changes.insert("environment".into(), Value::Null);
    changes.insert("ref".into(), json!("refs/tags/v1.2.3"));
    changes.insert("ref_type".into(), json!("tag"));
    fx.emulator.set_oidc_claims(changes);
    let claims = fx.emulator.oidc_claims();
    assert_eq!(claims["sub"], "repo:octo-org/yamause:ref:refs/tags/v1.2.3");
    assert!(!claims.contains_key("environment"));

    let mut changes = serde_json::Map::new();
    changes.insert("sub".into(), json!("repo:octo-org@100000000/yamause@100000001:environment:release"));
    fx.emulator.set_oidc_claims(changes);
    let jwt = fx.emulator.mint_oidc_token(Some("sts.amazonaws.com"));
    let claims = decode(jwt.split('.').nth(1).unwrap());
    assert_eq!(claims["sub"], "repo:octo-org@100000000/yamause@100000001:environment:release");
    assert_eq!(claims["ref"], "refs/tags/v1.2.3");

    fx.emulator.reset();
    assert_eq!(fx.emulator.oidc_claims()["sub"], "repo:octo-org/yamause:environment:release");
}
