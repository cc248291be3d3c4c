//! The fake GitHub REST API: the token check, the response shapes of GitHub's
//! OpenAPI description for each endpoint `check-iam` reads, pagination, the 403/404
//! answers a test configures, and its settings through the control API.

use castack::{Deployment, Fault, GithubEndpoint, GithubEnvironment, GithubRepo, GithubRuleset, RefType};
use serde_json::json;

use crate::support::*;

/// `GET` of `path` under the API prefix, with `authorization` when given.
fn get(fx: &Fixture, path: &str, authorization: Option<&str>) -> Raw {
    let mut head = format!("GET /_github/api{path} HTTP/1.1\r\nHost: x\r\nAccept: application/vnd.github+json\r\n");
    if let Some(value) = authorization {
        head.push_str(&format!("Authorization: {value}\r\n"));
    }
    raw_bytes(&fx.emulator, &head, b"")
}

fn bearer(fx: &Fixture) -> String {
    format!("Bearer {}", fx.emulator.github_token())
}

#[test]
fn the_token_is_checked() {
    let fx = fixture();
    assert!(fx.emulator.github_api_url().ends_with("/_github/api"), "{}", fx.emulator.github_api_url());
    let missing = get(&fx, "/repos/octo-org/yamause", None);
    assert_eq!((missing.status, missing.json()["message"].clone()), (401, json!("Requires authentication")));
    let wrong = get(&fx, "/repos/octo-org/yamause", Some("Bearer ghp_wrong"));
    assert_eq!((wrong.status, wrong.json()["message"].clone()), (401, json!("Bad credentials")));
    assert_eq!(wrong.json()["documentation_url"], "https://docs.github.com/rest");
    // GitHub takes the older `token` scheme too.
    let token = format!("token {}", fx.emulator.github_token());
    assert_eq!(get(&fx, "/repos/octo-org/yamause", Some(&token)).status, 200);
    assert!(fx.emulator.github_token().starts_with("ghp_"));
    let logged = fx.emulator.requests();
    assert!(logged.iter().all(|it| it.operation == "github-api"), "{logged:?}");
}

#[test]
fn endpoints_answer_in_the_openapi_shapes() {
    let fx = fixture();
    let auth = bearer(&fx);
    let repo = get(&fx, "/repos/Octo-Org/YAMAUSE", Some(&auth)).json();
    assert_eq!((repo["id"].clone(), repo["owner"]["id"].clone()), (json!(100000001), json!(100000000)));
    assert_eq!(
        (repo["full_name"].clone(), repo["owner"]["login"].clone()),
        (json!("octo-org/yamause"), json!("octo-org"))
    );

    let env = get(&fx, "/repos/octo-org/yamause/environments/release", Some(&auth)).json();
    assert_eq!(env["name"], "release");
    assert_eq!(env["deployment_branch_policy"], json!({"protected_branches": false, "custom_branch_policies": true}));
    assert_eq!(env["can_admins_bypass"], false);
    let reviewers =
        env["protection_rules"].as_array().unwrap().iter().find(|it| it["type"] == "required_reviewers").unwrap();
    assert_eq!(reviewers["prevent_self_review"], true);
    assert_eq!(reviewers["reviewers"][0]["type"], "User");
    assert_eq!(reviewers["reviewers"][0]["reviewer"]["login"], "release-manager");
    for key in ["id", "node_id", "url", "html_url", "created_at", "updated_at"] {
        assert!(env.get(key).is_some(), "{key} missing: {env}");
    }

    let policies =
        get(&fx, "/repos/octo-org/yamause/environments/release/deployment-branch-policies", Some(&auth)).json();
    assert_eq!(policies["total_count"], 1);
    assert_eq!(
        (policies["branch_policies"][0]["name"].clone(), policies["branch_policies"][0]["type"].clone()),
        (json!("v*"), json!("tag"))
    );

    let sub = get(&fx, "/repos/octo-org/yamause/actions/oidc/customization/sub", Some(&auth)).json();
    assert_eq!(
        sub,
        json!({"use_default": true, "use_immutable_subject": false, "sub_claim_prefix": "repo:octo-org/yamause"})
    );

    let list = get(&fx, "/repos/octo-org/yamause/rulesets", Some(&auth)).json();
    assert_eq!(list[0]["id"], 42);
    assert!(list[0].get("rules").is_none() && list[0].get("conditions").is_none(), "{list}");
    let ruleset = get(&fx, "/repos/octo-org/yamause/rulesets/42", Some(&auth)).json();
    assert_eq!((ruleset["target"].clone(), ruleset["enforcement"].clone()), (json!("tag"), json!("active")));
    assert_eq!(ruleset["conditions"]["ref_name"]["include"], json!(["refs/tags/v*"]));
    assert_eq!(ruleset["rules"][0], json!({"type": "creation"}));
}

#[test]
fn configured_gaps_answer_403_and_404() {
    let fx = fixture();
    let auth = bearer(&fx);
    fx.emulator.set_github_repo(GithubRepo {
        environments: vec![GithubEnvironment {
            reviewers: Vec::new(),
            can_admins_bypass: true,
            deployment: Deployment::Any,
            ..GithubEnvironment::protected("release")
        }],
        sub_use_default: false,
        sub_claim_keys: vec!["repository_owner".into()],
        use_immutable_subject: true,
        rulesets: (1..=35).map(|id| GithubRuleset { id, ..GithubRuleset::release_tags() }).collect(),
        forbidden: vec![GithubEndpoint::Repository],
        ..GithubRepo::default()
    });
    let denied = get(&fx, "/repos/octo-org/yamause", Some(&auth));
    assert_eq!(denied.status, 403);
    assert_eq!(denied.json()["message"], "Resource not accessible by integration");
    assert_eq!(denied.header("x-accepted-github-permissions"), Some("metadata=read"));
    let env = get(&fx, "/repos/octo-org/yamause/environments/release", Some(&auth)).json();
    assert_eq!((env["deployment_branch_policy"].clone(), env["can_admins_bypass"].clone()), (json!(null), json!(true)));
    assert!(env["protection_rules"].as_array().unwrap().is_empty(), "{env}");
    assert_eq!(get(&fx, "/repos/octo-org/yamause/environments/scratch", Some(&auth)).status, 404);
    assert_eq!(get(&fx, "/repos/someone-else/yamause", Some(&auth)).status, 404);
    assert_eq!(get(&fx, "/repos/octo-org/yamause/rulesets/999", Some(&auth)).status, 404);
    let sub = get(&fx, "/repos/octo-org/yamause/actions/oidc/customization/sub", Some(&auth)).json();
    assert_eq!(sub["include_claim_keys"], json!(["repository_owner"]));
    assert_eq!(sub["sub_claim_prefix"], "repo:octo-org@100000000/yamause@100000001");
    // Pages of 30 by default, at most 100.
    let first = get(&fx, "/repos/octo-org/yamause/rulesets", Some(&auth)).json();
    let second = get(&fx, "/repos/octo-org/yamause/rulesets?per_page=30&page=2", Some(&auth)).json();
    assert_eq!((first.as_array().unwrap().len(), second.as_array().unwrap().len()), (30, 5));
    let all = get(&fx, "/repos/octo-org/yamause/rulesets?per_page=500", Some(&auth)).json();
    assert_eq!(all.as_array().unwrap().len(), 35);
    fx.emulator.reset();
    assert_eq!(fx.emulator.github_repo(), GithubRepo::default());
}

#[test]
fn settings_through_the_control_api_and_stalls() {
    let fx = fixture();
    let shown = control(&fx.emulator, "GET", "/github", None).json();
    assert_eq!(shown["owner"], "octo-org");
    assert!(!shown.to_string().contains(&fx.emulator.github_token()));
    let changed = control(
        &fx.emulator,
        "PUT",
        "/github",
        Some(
            json!({"token": "ghp_controlled_token_1", "environments": [{"name": "release", "deployment": [{"name": "main", "type": "branch"}]}]}),
        ),
    );
    assert_eq!(changed.status, 200, "{changed:?}");
    assert_eq!(fx.emulator.github_token(), "ghp_controlled_token_1");
    let env = &fx.emulator.github_repo().environments[0];
    assert_eq!(env.deployment, Deployment::Custom(vec![("main".into(), RefType::Branch)]));
    let bad = control(&fx.emulator, "PUT", "/github", Some(json!({"forbidden": ["nothing"]})));
    assert_eq!(bad.status, 400);
    assert!(
        control(&fx.emulator, "GET", "/info", None).json()["githubApiUrl"].as_str().unwrap().ends_with("/_github/api")
    );

    // A stall answers nothing until the client gives up (here: the read timeout).
    fx.emulator.inject(Fault::Stall { max_ms: 300 }.times(1).only("github-api")).unwrap();
    let started = std::time::Instant::now();
    let mut stream = std::net::TcpStream::connect(fx.emulator.addr()).unwrap();
    std::io::Write::write_all(
        &mut stream,
        b"GET /_github/api/repos/octo-org/yamause HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut answer = Vec::new();
    let _ = std::io::Read::read_to_end(&mut stream, &mut answer);
    assert!(answer.is_empty() && started.elapsed() >= std::time::Duration::from_millis(250), "{answer:?}");
}
