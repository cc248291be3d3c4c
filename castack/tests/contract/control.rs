//! The JSON control API over HTTP, as a shell user or another process uses it.

use serde_json::json;

use crate::support::*;

#[test]
fn info_and_unknown_endpoints() {
    let fx = fixture();
    let answer = control(&fx.emulator, "GET", "/info", None);
    assert_eq!(answer.status, 200);
    let info = answer.json();
    assert_eq!(info["account"], "111122223333");
    assert_eq!(info["region"], "us-east-1");
    assert_eq!(info["domain"], "sandbox-domain");
    assert_eq!(info["repository"], "sandbox-repo");
    assert_eq!(info["codeartifactEndpoint"], fx.emulator.url());
    assert_eq!(info["pypiEndpoint"], fx.emulator.pypi_endpoint());
    assert_eq!(info["oidcTokenUrl"], fx.emulator.oidc_token_url());
    assert_eq!(info["controlUrl"], fx.emulator.control_url());

    let answer = control(&fx.emulator, "GET", "/nope", None);
    assert_eq!(answer.status, 404);
    assert!(answer.json()["error"].as_str().unwrap().contains("/_castack/info"));
    // Control calls are not logged.
    assert!(fx.emulator.requests().is_empty());
}

#[test]
fn faults_over_http() {
    let fx = fixture();
    let answer = control(
        &fx.emulator,
        "POST",
        "/faults",
        Some(json!({"kind": "throttle", "times": 1, "retryAfterSeconds": 7, "operation": "GetAuthorizationToken"})),
    );
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.json()["faults"][0]["kind"], "throttle");

    let answer = raw(&fx.emulator, "POST", "/v1/authorization-token?domain=sandbox-domain", true);
    assert_eq!(answer.status, 429);
    assert_eq!(answer.header("Retry-After"), Some("7"));
    assert_eq!(answer.header("x-amzn-ErrorType"), Some("ThrottlingException"));
    assert_eq!(control(&fx.emulator, "GET", "/faults", None).json(), json!({"faults": []}));

    // Several at once; a bad one rejects the whole batch.
    let answer = control(
        &fx.emulator,
        "POST",
        "/faults",
        Some(json!([{"kind": "deny", "action": "DescribeDomain"}, {"kind": "throttle", "times": null}])),
    );
    assert_eq!(answer.status, 400);
    assert!(answer.json()["error"].as_str().unwrap().contains("needs a count"), "{answer:?}");
    assert!(fx.emulator.faults().is_empty());
    let answer = control(
        &fx.emulator,
        "POST",
        "/faults",
        Some(json!([
            {"kind": "deny", "action": "DescribeDomain", "principal": "arn:aws:sts::111122223333:assumed-role/r/s"},
            {"kind": "upload", "pass": 1, "failure": "reset", "times": 2},
        ])),
    );
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json()["faults"].as_array().unwrap().len(), 2);
    let answer = raw(&fx.emulator, "GET", "/v1/domain?domain=sandbox-domain", true);
    assert_eq!(answer.status, 403);
    assert!(
        answer.json()["message"].as_str().unwrap().starts_with("User: arn:aws:sts::111122223333:assumed-role/r/s ")
    );

    for bad in
        [json!({"kind": "nope"}), json!({"kind": "deny"}), json!("text"), json!({"kind": "upload", "failure": "x"})]
    {
        assert_eq!(control(&fx.emulator, "POST", "/faults", Some(bad.clone())).status, 400, "{bad}");
    }
    let answer =
        raw_bytes(&fx.emulator, "POST /_castack/faults HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n", b"{nope");
    assert_eq!(answer.status, 400);

    assert_eq!(control(&fx.emulator, "DELETE", "/faults", None).json(), json!({"faults": []}));
    assert_eq!(raw(&fx.emulator, "GET", "/v1/domain?domain=sandbox-domain", true).status, 200);
}

#[test]
fn request_log_over_http() {
    let fx = fixture();
    let token = fx.emulator.issue_token(None).unwrap();
    raw(&fx.emulator, "GET", "/v1/domain?domain=sandbox-domain", true);
    raw(&fx.emulator, "GET", "/v1/domain?domain=sandbox-domain", false);
    // A PyPI request with credentials (no pypiserver behind: 502).
    let basic = base64_basic("aws", &token.value);
    raw_bytes(
        &fx.emulator,
        &format!("GET /pypi/sandbox-repo/simple/ HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {basic}\r\n"),
        b"",
    );

    let log = control(&fx.emulator, "GET", "/requests", None);
    assert!(!log.body.contains(&token.value[..40]), "the token must not be logged");
    assert!(!log.body.contains(&basic[..20]));
    let entries = log.json()["requests"].as_array().unwrap().clone();
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[0]["operation"], "DescribeDomain");
    assert_eq!(entries[0]["status"], 200);
    assert_eq!(entries[0]["accessKeyId"], ACCESS_KEY);
    assert_eq!(entries[0]["method"], "GET");
    assert_eq!(entries[0]["path"], "/v1/domain");
    assert!(entries[0]["time"].as_f64().unwrap() > 1.7e9);
    assert_eq!(entries[1]["status"], 403);
    assert!(entries[1]["accessKeyId"].is_null());
    assert_eq!(entries[2]["operation"], "pypi-index");
    assert_eq!(entries[2]["user"], "aws");
    assert_eq!(entries[2]["status"], 502);

    assert_eq!(control(&fx.emulator, "DELETE", "/requests", None).json(), json!({"cleared": 3}));
    assert!(fx.emulator.requests().is_empty());
}

#[test]
fn tokens_claims_restrictions_and_reset_over_http() {
    let fx = fixture();
    assert_eq!(control(&fx.emulator, "GET", "/token", None).json(), json!({"active": false, "expiration": null}));
    let token = fx.emulator.issue_token(None).unwrap();
    let answer = control(&fx.emulator, "GET", "/token", None);
    assert_eq!(answer.json()["active"], true);
    assert!(!answer.body.contains(&token.value[..40]));

    let rotated = control(&fx.emulator, "POST", "/token/rotate", None).json();
    assert!(rotated["expiration"].is_number());
    assert_ne!(fx.emulator.current_token().unwrap().value, token.value);
    assert_eq!(control(&fx.emulator, "POST", "/token/expire", None).json(), json!({"expired": true}));
    assert!(fx.emulator.current_token().is_none());
    assert_eq!(control(&fx.emulator, "POST", "/token/expire", None).json(), json!({"expired": false}));

    let claims = control(&fx.emulator, "PUT", "/oidc/claims", Some(json!({"environment": "staging"}))).json();
    assert_eq!(claims["claims"]["sub"], "repo:octo-org/yamause:environment:staging");
    assert_eq!(control(&fx.emulator, "PUT", "/oidc/claims", Some(json!([1]))).status, 400);

    let origin = control(&fx.emulator, "PUT", "/origin-restrictions", Some(json!({"publish": "BLOCK"}))).json();
    assert_eq!(origin, json!({"imposed": {"publish": "BLOCK", "upstream": "BLOCK"}, "packages": {}}));
    assert_eq!(control(&fx.emulator, "PUT", "/origin-restrictions", Some(json!({"publish": "MAYBE"}))).status, 400);
    let answer = raw(
        &fx.emulator,
        "GET",
        "/v1/package?domain=sandbox-domain&repository=sandbox-repo&format=pypi&package=demo-pkg",
        true,
    );
    assert_eq!(answer.json()["package"]["originConfiguration"]["restrictions"]["publish"], "BLOCK");

    fx.emulator.inject(castack::Fault::DomainNotFound).unwrap();
    assert_eq!(control(&fx.emulator, "POST", "/reset", None).json(), json!({"reset": true}));
    assert!(fx.emulator.faults().is_empty());
    assert!(fx.emulator.requests().is_empty());
    assert_eq!(
        control(&fx.emulator, "GET", "/origin-restrictions", None).json(),
        json!({"imposed": null, "packages": {}})
    );
    assert_eq!(control(&fx.emulator, "GET", "/oidc/claims", None).json()["claims"]["environment"], "release");
    let claims = control(&fx.emulator, "DELETE", "/oidc/claims", None).json();
    assert_eq!(claims["claims"]["sub"], "repo:octo-org/yamause:environment:release");
}

/// The publishing latency as a lever: read, set (bounded), shown in `info`, and
/// back to the configured value on reset.
#[test]
fn publish_latency_over_http() {
    let fx = fixture_with(|config| config.publish_latency = std::time::Duration::from_millis(40));
    assert_eq!(control(&fx.emulator, "GET", "/latency", None).json(), json!({"publishLatencyMs": 40}));
    let set = control(&fx.emulator, "PUT", "/latency", Some(json!({"publishLatencyMs": 2500})));
    assert_eq!(set.json(), json!({"publishLatencyMs": 2500}));
    assert_eq!(fx.emulator.publish_latency(), std::time::Duration::from_millis(2500));
    assert_eq!(control(&fx.emulator, "GET", "/info", None).json()["publishLatencyMs"], 2500);
    for bad in [json!({"publishLatencyMs": 10_000_000}), json!({"publishLatencyMs": -1}), json!({"ms": 1})] {
        assert_eq!(control(&fx.emulator, "PUT", "/latency", Some(bad.clone())).status, 400, "{bad}");
    }
    let lag = control(&fx.emulator, "POST", "/faults", Some(json!({"kind": "lag", "delayMs": 3000})));
    assert_eq!(lag.json()["faults"][0], json!({"kind": "lag", "delayMs": 3000, "times": 1}));
    control(&fx.emulator, "POST", "/reset", None);
    assert_eq!(fx.emulator.publish_latency(), std::time::Duration::from_millis(40));
    assert!(fx.emulator.faults().is_empty());
}

pub fn base64_basic(user: &str, password: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}
