//! The fake GitHub REST API's writes, as `setup --apply-github` makes them: the
//! token's user and users by login, creating and updating an environment (read back
//! by the `GET` that `check-iam` uses), deployment branch policies, and Actions
//! secrets sealed with RustCrypto's `crypto_box` (libsodium sealed boxes) and opened
//! by the fake. Shapes and statuses follow GitHub's OpenAPI description
//! (github/rest-api-description, `api.github.com.2022-11-28`; operation ids cited
//! per test).

use base64::Engine as _;
use castack::{Deployment, GithubEndpoint, GithubEnvironment, GithubRepo, RefType, Reviewer, SecretScope};
use crypto_box::{PublicKey, aead::OsRng};
use serde_json::{Value, json};

use crate::support::*;

/// `method` of `path` under the API prefix with the fake's token and `body`.
fn send(fx: &Fixture, method: &str, path: &str, body: Option<&str>) -> Raw {
    send_as(fx, method, path, body, Some(&format!("Bearer {}", fx.emulator.github_token())))
}

pub(crate) fn send_as(fx: &Fixture, method: &str, path: &str, body: Option<&str>, auth: Option<&str>) -> Raw {
    let body = body.unwrap_or_default();
    let mut head = format!(
        "{method} /_github/api{path} HTTP/1.1\r\nHost: x\r\nAccept: application/vnd.github+json\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(value) = auth {
        head.push_str(&format!("Authorization: {value}\r\n"));
    }
    raw_bytes(&fx.emulator, &head, body.as_bytes())
}

fn put_json(fx: &Fixture, path: &str, body: Value) -> Raw {
    send(fx, "PUT", path, Some(&body.to_string()))
}

const REPO: &str = "/repos/octo-org/yamause";

/// `encrypted_value` for `plain` under the key `GET {scope}/secrets/public-key`
/// hands out, with its `key_id`.
pub(crate) fn seal(fx: &Fixture, scope: &str, plain: &str) -> (String, String) {
    let key = send(fx, "GET", &format!("{scope}/secrets/public-key"), None);
    assert_eq!(key.status, 200, "{}", key.body);
    let key = key.json();
    let bytes = base64::engine::general_purpose::STANDARD.decode(key["key"].as_str().unwrap()).unwrap();
    let sealed = PublicKey::from_slice(&bytes).unwrap().seal(&mut OsRng, plain.as_bytes()).unwrap();
    (base64::engine::general_purpose::STANDARD.encode(sealed), key["key_id"].as_str().unwrap().to_owned())
}

pub(crate) fn put_secret(fx: &Fixture, scope: &str, name: &str, encrypted: &str, key_id: &str) -> Raw {
    put_json(fx, &format!("{scope}/secrets/{name}"), json!({"encrypted_value": encrypted, "key_id": key_id}))
}

/// `users/get-authenticated` (`private-user`) and `users/get-by-username` (`public-user`).
#[test]
fn the_token_user_and_users_by_login() {
    let fx = fixture();
    let me = send(&fx, "GET", "/user", None);
    assert_eq!(me.status, 200, "{}", me.body);
    let me = me.json();
    assert_eq!(
        (me["login"].clone(), me["id"].clone(), me["type"].clone()),
        (json!("release-manager"), json!(1000), json!("User"))
    );
    for key in ["node_id", "html_url", "name", "created_at", "two_factor_authentication", "plan"] {
        assert!(me.get(key).is_some(), "{key} missing: {me}");
    }
    let other = send(&fx, "GET", "/users/Second-Reviewer", None).json();
    assert_eq!((other["login"].clone(), other["id"].clone()), (json!("second-reviewer"), json!(1001)));
    assert!(other.get("plan").is_none(), "a public-user has no plan: {other}");
    let org = send(&fx, "GET", "/users/octo-org", None).json();
    assert_eq!((org["type"].clone(), org["id"].clone()), (json!("Organization"), json!(100000000)));
    assert_eq!(send(&fx, "GET", "/users/nobody-here", None).status, 404);
    assert_eq!(send_as(&fx, "GET", "/user", None, None).status, 401);
    // An installation token (a workflow's GITHUB_TOKEN) has no user.
    fx.emulator.set_github_repo(GithubRepo { token_user: None, ..GithubRepo::default() });
    let denied = send(&fx, "GET", "/user", None);
    assert_eq!(
        (denied.status, denied.json()["message"].clone()),
        (403, json!("Resource not accessible by integration"))
    );
}

/// `repos/create-or-update-environment` answers what `repos/get-environment` reads
/// back, with the protection rules in GitHub's shape; fields a later `PUT` leaves
/// out stay.
#[test]
fn an_environment_written_is_read_back() {
    let fx = fixture();
    fx.emulator.set_github_repo(GithubRepo { environments: Vec::new(), ..GithubRepo::default() });
    let body = json!({
        "wait_timer": 5, "prevent_self_review": true, "can_admins_bypass": false,
        "reviewers": [{"type": "User", "id": 1001}, {"type": "Team", "id": 2000}],
        "deployment_branch_policy": {"protected_branches": false, "custom_branch_policies": true},
    });
    let put = put_json(&fx, &format!("{REPO}/environments/release"), body);
    assert_eq!(put.status, 200, "{}", put.body);
    let got = send(&fx, "GET", &format!("{REPO}/environments/release"), None);
    assert_eq!(got.json(), put.json());
    let env = got.json();
    assert_eq!(env["name"], "release");
    assert_eq!(env["can_admins_bypass"], false);
    assert_eq!(env["deployment_branch_policy"], json!({"protected_branches": false, "custom_branch_policies": true}));
    let rules = env["protection_rules"].as_array().unwrap();
    let rule = |kind: &str| rules.iter().find(|it| it["type"] == kind).unwrap_or_else(|| panic!("no {kind}: {env}"));
    assert_eq!(rule("wait_timer")["wait_timer"], 5);
    assert!(rules.iter().any(|it| it["type"] == "branch_policy"), "{env}");
    let reviewers = rule("required_reviewers");
    assert_eq!(reviewers["prevent_self_review"], true);
    assert_eq!(reviewers["reviewers"][0]["type"], "User");
    assert_eq!(reviewers["reviewers"][0]["reviewer"]["login"], "second-reviewer");
    assert_eq!(reviewers["reviewers"][0]["reviewer"]["id"], 1001);
    assert_eq!(reviewers["reviewers"][1]["type"], "Team");
    assert_eq!(reviewers["reviewers"][1]["reviewer"]["slug"], "release-managers");
    let stored = fx.emulator.github_repo().environment("release").cloned().unwrap();
    let expected = vec![Reviewer::User("second-reviewer".into()), Reviewer::Team("release-managers".into())];
    assert_eq!((stored.reviewers, stored.deployment), (expected, Deployment::Custom(Vec::new())));

    // A later PUT changes what it names and keeps the rest; `null` opens the branches.
    let again = put_json(&fx, &format!("{REPO}/environments/RELEASE"), json!({"deployment_branch_policy": null}));
    assert_eq!(again.status, 200, "{}", again.body);
    let env = fx.emulator.github_repo().environment("release").cloned().unwrap();
    assert_eq!((env.wait_timer, env.reviewers.len(), env.deployment), (5, 2, Deployment::Any));
    assert_eq!(fx.emulator.github_repo().environments.len(), 1);
    // No body: an environment with GitHub's defaults.
    let bare = send(&fx, "PUT", &format!("{REPO}/environments/scratch"), None);
    assert_eq!(bare.status, 200, "{}", bare.body);
    assert_eq!(fx.emulator.github_repo().environment("scratch"), Some(&GithubEnvironment::created("scratch")));
    let list = send(&fx, "GET", &format!("{REPO}/environments"), None).json();
    assert_eq!(list["total_count"], 2);
}

/// GitHub's validation of `repos/create-or-update-environment`: 422 (400 for JSON
/// that does not parse), and nothing changes.
#[test]
fn environment_writes_are_validated() {
    let fx = fixture();
    let before = fx.emulator.github_repo();
    let path = format!("{REPO}/environments/release");
    let refused = [
        json!({"deployment_branch_policy": {"protected_branches": true, "custom_branch_policies": true}}),
        json!({"deployment_branch_policy": {"protected_branches": false, "custom_branch_policies": false}}),
        json!({"deployment_branch_policy": {"protected_branches": true}}),
        json!({"reviewers": [{"type": "User", "id": 424242}]}),
        json!({"reviewers": [{"type": "Team", "id": 1000}]}),
        json!({"reviewers": [{"type": "Robot", "id": 1000}]}),
        json!({"reviewers": vec![json!({"type": "User", "id": 1000}); 7]}),
        json!({"wait_timer": 43201}),
        json!({"wait_timer": -1}),
        json!({"prevent_self_review": "yes"}),
        json!({"reviewer": []}),
        json!([]),
    ];
    for body in refused {
        let answer = put_json(&fx, &path, body.clone());
        assert_eq!(answer.status, 422, "{body} → {}", answer.body);
        assert!(answer.json()["message"].is_string(), "{}", answer.body);
    }
    let unknown = put_json(&fx, &path, json!({"reviewer": []})).json();
    assert_eq!(unknown["message"], "Invalid request.\n\n\"reviewer\" is not a permitted key.");
    assert_eq!(send(&fx, "PUT", &path, Some("{not json")).status, 400);
    assert_eq!(send(&fx, "PUT", &format!("{REPO}/environments/{}", "x".repeat(256)), None).status, 422);
    assert_eq!(fx.emulator.github_repo(), before);
    assert_eq!(put_json(&fx, &path, json!({"wait_timer": 43200})).status, 200);
}

/// `repos/create-deployment-branch-policy`: 200 with the policy, 303 to the existing
/// one for a duplicate, 404 without custom policies; `repos/get-deployment-branch-policy`
/// and `repos/list-deployment-branch-policies` read them.
#[test]
fn deployment_branch_policies_are_added_once() {
    let fx = fixture();
    fx.emulator.set_github_repo(GithubRepo {
        environments: vec![GithubEnvironment {
            deployment: Deployment::Custom(Vec::new()),
            ..GithubEnvironment::protected("release")
        }],
        ..GithubRepo::default()
    });
    let path = format!("{REPO}/environments/release/deployment-branch-policies");
    let added = send(&fx, "POST", &path, Some(r#"{"name":"v*","type":"tag"}"#));
    assert_eq!(added.status, 200, "{}", added.body);
    let policy = added.json();
    assert_eq!((policy["name"].clone(), policy["type"].clone()), (json!("v*"), json!("tag")));
    assert!(policy["id"].is_u64() && policy["node_id"].is_string(), "{policy}");
    let again = send(&fx, "POST", &path, Some(r#"{"name":"v*","type":"tag"}"#));
    assert_eq!(again.status, 303, "{}", again.body);
    let location = again.header("location").unwrap().to_owned();
    let target = location.strip_prefix(&fx.emulator.github_api_url()).unwrap_or_else(|| panic!("{location}"));
    assert_eq!(send(&fx, "GET", target, None).json(), policy);
    // The same pattern for branches is another policy; no type means a branch.
    let branch = send(&fx, "POST", &path, Some(r#"{"name":"v*"}"#)).json();
    assert_eq!(branch["type"], "branch");
    let list = send(&fx, "GET", &path, None).json();
    assert_eq!(list["total_count"], 2);
    let stored = fx.emulator.github_repo().environment("release").unwrap().deployment.clone();
    assert_eq!(stored, Deployment::Custom(vec![("v*".into(), RefType::Tag), ("v*".into(), RefType::Branch)]));

    for bad in [r#"{}"#, r#"{"name":""}"#, r#"{"name":"v*","type":"commit"}"#, r#"{"name":"v*","kind":"tag"}"#] {
        assert_eq!(send(&fx, "POST", &path, Some(bad)).status, 422, "{bad}");
    }
    assert_eq!(
        send(&fx, "POST", &format!("{REPO}/environments/nowhere/deployment-branch-policies"), Some(r#"{"name":"v*"}"#))
            .status,
        404
    );
    put_json(&fx, &format!("{REPO}/environments/release"), json!({"deployment_branch_policy": null}));
    assert_eq!(send(&fx, "POST", &path, Some(r#"{"name":"v*","type":"tag"}"#)).status, 404);
}

/// `actions/get-environment-public-key` + `actions/create-or-update-environment-secret`:
/// a value sealed with crypto_box is opened by the fake; 201 then 204;
/// `actions/list-environment-secrets` shows names and dates only.
#[test]
fn environment_secrets_round_trip() {
    let fx = fixture();
    let scope = format!("{REPO}/environments/release");
    let value = "arn:aws:iam::111122223333:role/yamause-release";
    let (encrypted, key_id) = seal(&fx, &scope, value);
    let created = put_secret(&fx, &scope, "aws_role_arn", &encrypted, &key_id);
    assert_eq!((created.status, created.json()), (201, json!({})));
    let secrets = fx.emulator.github_secrets();
    assert_eq!(secrets.len(), 1);
    assert_eq!(secrets[0].scope, SecretScope::Environment("release".into()));
    assert_eq!((secrets[0].name.as_str(), secrets[0].value.expose()), ("AWS_ROLE_ARN", value));

    let (encrypted, key_id) = seal(&fx, &scope, "second value");
    let updated = put_secret(&fx, &scope, "AWS_ROLE_ARN", &encrypted, &key_id);
    assert_eq!((updated.status, updated.body.as_str()), (204, ""));
    assert_eq!(fx.emulator.github_secrets()[0].value.expose(), "second value");

    let list = send(&fx, "GET", &format!("{scope}/secrets"), None);
    let list = list.json();
    assert_eq!(list["total_count"], 1);
    let entry = list["secrets"][0].as_object().unwrap();
    assert_eq!(entry.keys().map(String::as_str).collect::<Vec<_>>(), ["created_at", "name", "updated_at"]);
    assert_eq!(entry["name"], "AWS_ROLE_ARN");
    assert!(entry["created_at"].as_str().unwrap().ends_with('Z'), "{list}");
    assert_eq!(send(&fx, "GET", &format!("{scope}/secrets/aws_role_arn"), None).json()["name"], "AWS_ROLE_ARN");
    assert_eq!(send(&fx, "GET", &format!("{scope}/secrets/OTHER"), None).status, 404);
    assert_eq!(send(&fx, "GET", &format!("{REPO}/environments/nowhere/secrets/public-key"), None).status, 404);
}

/// `actions/create-or-update-repo-secret` (and the environment's): GitHub's 422s for
/// a bad name, a missing field, a value that is not base64, another key's id and a
/// value that does not open. Nothing is stored.
#[test]
fn secret_writes_are_validated() {
    let fx = fixture();
    let env = format!("{REPO}/environments/release");
    let repo = format!("{REPO}/actions");
    let (encrypted, key_id) = seal(&fx, &env, "value");
    let (repo_encrypted, repo_key_id) = seal(&fx, &repo, "repository value");
    assert_ne!(key_id, repo_key_id, "the repository and the environment have keys of their own");
    let improper = "Bad request - validation failed due to an improperly encrypted secret";
    let message = |answer: Raw| (answer.status, answer.json()["message"].as_str().unwrap_or_default().to_owned());
    assert_eq!(message(put_secret(&fx, &env, "VALUE", &encrypted, &repo_key_id)), (422, improper.to_owned()));
    assert_eq!(message(put_secret(&fx, &env, "VALUE", &repo_encrypted, &key_id)), (422, improper.to_owned()));
    let garbage = base64::engine::general_purpose::STANDARD.encode([7u8; 64]);
    assert_eq!(message(put_secret(&fx, &env, "VALUE", &garbage, &key_id)), (422, improper.to_owned()));
    let not_base64 = message(put_secret(&fx, &env, "VALUE", "not base64!", &key_id));
    assert_eq!(not_base64.0, 422);
    assert!(not_base64.1.starts_with("Invalid request.\n\nnot base64! does not match /^"), "{}", not_base64.1);
    let missing = put_json(&fx, &format!("{env}/secrets/VALUE"), json!({"encrypted_value": encrypted}));
    assert_eq!(message(missing), (422, "Invalid request.\n\n\"key_id\" wasn't supplied.".to_owned()));
    for name in ["1ST", "GITHUB_TOKEN", "github_x", "has-dash", "has%20space"] {
        assert_eq!(put_secret(&fx, &env, name, &encrypted, &key_id).status, 422, "{name}");
    }
    assert!(fx.emulator.github_secrets().is_empty());
    // The repository's own secrets work alike.
    assert_eq!(put_secret(&fx, &repo, "REPO_SECRET", &repo_encrypted, &repo_key_id).status, 201);
    let stored = fx.emulator.github_secrets();
    assert_eq!((stored[0].scope.clone(), stored[0].value.expose()), (SecretScope::Repository, "repository value"));
    assert_eq!(send(&fx, "GET", &format!("{repo}/secrets"), None).json()["total_count"], 1);
    assert_eq!(send(&fx, "GET", &format!("{env}/secrets"), None).json()["total_count"], 0);
}

/// Writes need the token (401) and the permission (403 naming it), before any 404
/// or 422; nothing changes.
#[test]
fn writes_need_the_token_and_the_permission() {
    let fx = fixture();
    let env = format!("{REPO}/environments/release");
    let (encrypted, key_id) = seal(&fx, &env, "value");
    let body = json!({"encrypted_value": encrypted, "key_id": key_id}).to_string();
    assert_eq!(send_as(&fx, "PUT", &env, Some("{}"), None).status, 401);
    assert_eq!(send_as(&fx, "PUT", &format!("{env}/secrets/X"), Some(&body), Some("Bearer ghp_wrong")).status, 401);
    fx.emulator.set_github_repo(GithubRepo {
        forbidden: vec![GithubEndpoint::EnvironmentWrites, GithubEndpoint::Secrets],
        ..GithubRepo::default()
    });
    let before = fx.emulator.github_repo();
    let denied = |method: &str, path: &str, body: &str| {
        let answer = send(&fx, method, path, Some(body));
        assert_eq!(answer.status, 403, "{method} {path}: {}", answer.body);
        assert_eq!(answer.json()["message"], "Resource not accessible by integration");
        answer.header("x-accepted-github-permissions").unwrap_or_default().to_owned()
    };
    assert_eq!(denied("PUT", &env, r#"{"wait_timer": 1}"#), "administration=write");
    assert_eq!(denied("PUT", &format!("{REPO}/environments/new-one"), "[]"), "administration=write");
    assert_eq!(denied("POST", &format!("{env}/deployment-branch-policies"), r#"{"name":"x"}"#), "administration=write");
    assert_eq!(denied("PUT", &format!("{env}/secrets/X"), &body), "secrets=write");
    assert_eq!(denied("GET", &format!("{env}/secrets/public-key"), ""), "secrets=read");
    assert_eq!(denied("GET", &format!("{REPO}/actions/secrets"), ""), "secrets=read");
    assert_eq!(fx.emulator.github_repo(), before);
    // The reads check-iam makes are another permission.
    assert_eq!(send(&fx, "GET", &env, None).status, 200);
}

/// The request log has the writes (method, path, status) and never a body; the
/// control API shows secrets by name only and keeps them across a `PUT`; reset
/// forgets them.
#[test]
fn secret_values_stay_out_of_the_log_and_the_control_api() {
    let fx = fixture();
    let env = format!("{REPO}/environments/release");
    let value = "plain-secret-value-5c1d";
    let (encrypted, key_id) = seal(&fx, &env, value);
    assert_eq!(put_secret(&fx, &env, "MY_SECRET", &encrypted, &key_id).status, 201);
    let logged = fx.emulator.requests();
    let put = logged.iter().find(|it| it.method == "PUT").expect("the PUT is logged");
    assert_eq!((put.operation.as_str(), put.status), ("github-api", 201));
    assert!(put.path.ends_with("/environments/release/secrets/MY_SECRET"), "{put:?}");
    let everything = format!("{logged:?} {}", control(&fx.emulator, "GET", "/requests", None).body);
    assert!(!everything.contains(value) && !everything.contains(&encrypted), "{everything}");

    let shown = control(&fx.emulator, "GET", "/github", None);
    assert_eq!(shown.json()["secrets"][0]["name"], "MY_SECRET");
    assert!(!shown.body.contains(value) && !shown.body.contains(&encrypted), "{}", shown.body);
    assert!(!format!("{:?}", fx.emulator.github_secrets()).contains(value));
    let changed = control(&fx.emulator, "PUT", "/github", Some(json!({"viewer": "second-reviewer"})));
    assert_eq!(changed.status, 200, "{}", changed.body);
    assert_eq!(fx.emulator.github_secrets()[0].value.expose(), value);
    assert_eq!(send(&fx, "GET", "/user", None).json()["login"], "second-reviewer");
    fx.emulator.reset();
    assert!(fx.emulator.github_secrets().is_empty());
}
