//! `check-iam` reads the repository's settings from GitHub's API (the stack's fake
//! of it): in Actions with the job's token, on a laptop through `gh auth token`, and
//! without a token it says how to get one. The token never shows, and no child
//! gets it.

use std::{fs, os::unix::fs::PermissionsExt};

use castack::{Deployment, Fault, GithubEndpoint, GithubEnvironment, GithubRepo, Stack};

use crate::support::{self, Creds, TempDir, copy_repo, release_env, run_xtask, start_stack, text};

fn check(repo: &std::path::Path, vars: &[(String, String)]) -> (serde_json::Value, std::process::Output) {
    let out = run_xtask(repo, &["check-iam", "--format", "json", "--github-repo", "octo-org/yamause"], vars);
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|err| panic!("not JSON ({err}):\n{}", text(&out)));
    (report, out)
}

/// The finding with `id`, as (severity, message).
fn finding(report: &serde_json::Value, id: &str) -> Option<(String, String)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == id)
        .map(|f| (f["severity"].as_str().unwrap().to_owned(), f["message"].as_str().unwrap().to_owned()))
}

fn actions_env(stack: &Stack, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut vars = release_env(stack, Creds::GithubOidc, "v1.0.0", extra);
    vars.push(("GITHUB_TOKEN".to_owned(), stack.emulator().github_token()));
    vars.push(("GITHUB_REPOSITORY".to_owned(), "octo-org/yamause".to_owned()));
    vars
}

#[test]
fn in_actions_the_environment_protection_rules_come_from_the_api() {
    let stack = start_stack();
    let repo = copy_repo("github-facts");
    let record = TempDir::new("github-facts-children");
    let children = record.path().join("children.jsonl");
    let vars = actions_env(&stack, &[("XTASK_RECORD_CHILDREN", children.to_str().unwrap())]);
    let token = stack.emulator().github_token();
    let mut outputs = Vec::new();

    // Done right: every GitHub check passes.
    let (report, out) = check(repo.path(), &vars);
    outputs.push(("protected", text(&out)));
    assert!(out.status.success(), "{}", text(&out));
    for id in ["github.token.ok", "github.repository.ok", "trust.environment-protection.ok", "trust.sub-template.ok"] {
        assert!(finding(&report, id).is_some(), "{id} missing:\n{report:#}");
    }
    let (_, ids) = finding(&report, "github.repository.ok").unwrap();
    assert!(ids.contains("repo:octo-org@100000000/yamause@100000001:"), "{ids}");
    let (_, env) = finding(&report, "trust.environment-protection.ok").unwrap();
    assert!(env.contains("1 required reviewer") && env.contains("tags \"v*\""), "{env}");
    assert!(finding(&report, "trust.tag-ruleset.ok").is_some(), "{report:#}");
    let asked: Vec<String> =
        stack.emulator().requests().iter().filter(|r| r.operation == "github-api").map(|r| r.path.clone()).collect();
    assert!(asked.iter().any(|it| it.ends_with("/environments/release")), "{asked:?}");

    // No reviewers, any branch, administrators may bypass: the gaps, each with its fix.
    stack.emulator().set_github_repo(GithubRepo {
        environments: vec![GithubEnvironment {
            reviewers: Vec::new(),
            can_admins_bypass: true,
            deployment: Deployment::Any,
            ..GithubEnvironment::protected("release")
        }],
        ..GithubRepo::default()
    });
    let (report, out) = check(repo.path(), &vars);
    outputs.push(("unprotected", text(&out)));
    let (severity, message) = finding(&report, "trust.environment-protection").expect("environment-protection");
    assert_eq!(severity, "high", "{report:#}");
    assert!(message.contains("no required reviewers") && message.contains("No restriction"), "{message}");
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("trust.environment-protection") && !shown.contains("environment-protection.ok"), "{shown}");

    // The environment does not exist yet.
    stack.emulator().set_github_repo(GithubRepo { environments: Vec::new(), ..GithubRepo::default() });
    let (report, _) = check(repo.path(), &vars);
    let (severity, message) = finding(&report, "trust.environment-protection").unwrap();
    assert!(severity == "high" && message.contains("does not exist"), "{message}");

    // The job's token lacks `actions: read`: said so, with the permission, no crash.
    stack.emulator().set_github_repo(GithubRepo {
        forbidden: vec![GithubEndpoint::Environments, GithubEndpoint::OidcSubject],
        ..GithubRepo::default()
    });
    let (report, out) = check(repo.path(), &vars);
    outputs.push(("forbidden", text(&out)));
    assert!(out.status.success(), "{}", text(&out));
    let (severity, message) = finding(&report, "trust.environment-protection").unwrap();
    assert_eq!(severity, "info");
    assert!(
        message.contains("403") && message.contains("permissions: actions: read") && message.contains("actions=read"),
        "{message}"
    );
    let (_, message) = finding(&report, "trust.sub-template").unwrap();
    assert!(message.contains("actions: read"), "{message}");
    assert!(finding(&report, "github.repository.ok").is_some(), "metadata stays readable:\n{report:#}");

    // A subject template without the repository.
    stack.emulator().set_github_repo(GithubRepo {
        sub_use_default: false,
        sub_claim_keys: vec!["repository_owner".into()],
        ..GithubRepo::default()
    });
    let (report, _) = check(repo.path(), &vars);
    assert_eq!(finding(&report, "trust.sub-template").map(|it| it.0), Some("high".to_owned()), "{report:#}");

    // The token never shows, not even in part, and no child process got it.
    let mut secrets = support::stack_secrets(&stack);
    secrets.extend(support::secret_forms(std::slice::from_ref(&token)));
    for (name, output) in &outputs {
        support::assert_runner_safe(name, output, &secrets);
        assert!(output.contains(&format!("::add-mask::{token}")), "`{name}`: the token is not masked for the runner");
    }
    let recorded = fs::read_to_string(&children).unwrap_or_default();
    assert!(!recorded.contains("GITHUB_TOKEN") && !recorded.contains(&token), "{recorded}");
}

#[test]
fn without_a_token_the_checks_say_how_to_get_one() {
    let stack = start_stack();
    let repo = copy_repo("github-no-token");
    let vars = release_env(&stack, Creds::Static, "", &[]);
    let (report, out) = check(repo.path(), &vars);
    assert!(out.status.success(), "{}", text(&out));
    let (severity, message) = finding(&report, "github.token").expect("github.token");
    assert_eq!(severity, "info");
    for hint in ["GH_TOKEN", "gh auth login", "GITHUB_TOKEN: ${{ github.token }}", "permissions: actions: read"] {
        assert!(message.contains(hint), "{hint:?} missing: {message}");
    }
    let (_, message) = finding(&report, "trust.environment-protection").unwrap();
    assert!(message.starts_with("not checked: no GitHub token"), "{message}");
    assert!(stack.emulator().requests().iter().all(|r| r.operation != "github-api"));

    // A wrong token is refused once, and the other checks say so without asking again.
    let mut vars = vars;
    vars.push(("GH_TOKEN".to_owned(), "ghp_not_the_right_token_0000".to_owned()));
    stack.emulator().clear_requests();
    let (report, out) = check(repo.path(), &vars);
    assert!(out.status.success(), "{}", text(&out));
    let (_, message) = finding(&report, "trust.environment-protection").unwrap();
    assert!(message.contains("GitHub refused the token from GH_TOKEN (401 Bad credentials)"), "{message}");
    let asked = stack.emulator().requests().iter().filter(|r| r.operation == "github-api").count();
    assert_eq!(asked, 1, "after a 401 nothing more is asked");
    assert!(!text(&out).contains("ghp_not_the_right_token_0000"));
}

#[test]
fn on_a_laptop_the_token_comes_from_gh() {
    let stack = start_stack();
    let repo = copy_repo("github-gh");
    let token = "ghp_from_gh_auth_token_5f0c1e2d3a4b";
    stack.emulator().set_github_repo(GithubRepo { token: Some(token.to_owned()), ..GithubRepo::default() });
    // A `gh` that answers `auth token --hostname HOST` for the API's host and notes
    // the names of the variables it was given.
    let bin = TempDir::new("fake-gh");
    let seen = bin.path().join("gh-env");
    let host = stack.emulator().github_api_url().split('/').nth(2).unwrap().to_owned();
    let script = format!(
        "#!/bin/sh\nenv | cut -d= -f1 > {seen}\n[ \"$1 $2 $3 $4\" = \"auth token --hostname {host}\" ] || exit 1\necho {token}\n",
        seen = seen.display()
    );
    let gh = bin.path().join("gh");
    fs::write(&gh, script).unwrap();
    fs::set_permissions(&gh, fs::Permissions::from_mode(0o755)).unwrap();
    let mut vars = release_env(&stack, Creds::Static, "", &[("GH_TOKEN", ""), ("GITHUB_TOKEN", "")]);
    vars.push(("PATH".to_owned(), format!("{}:{}", bin.path().display(), std::env::var("PATH").unwrap())));
    let (report, out) = check(repo.path(), &vars);
    assert!(out.status.success(), "{}", text(&out));
    let (_, message) = finding(&report, "github.token.ok").unwrap_or_else(|| panic!("{report:#}"));
    assert!(message.contains("`gh auth token`"), "{message}");
    assert!(finding(&report, "trust.environment-protection.ok").is_some(), "{report:#}");
    assert!(!text(&out).contains(token));
    let names = fs::read_to_string(&seen).expect("gh ran");
    for forbidden in ["GH_TOKEN", "GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID"] {
        assert!(!names.lines().any(|it| it == forbidden), "gh got {forbidden}: {names}");
    }
}

#[test]
fn a_stalled_api_ends_within_its_deadline() {
    let stack = start_stack();
    let repo = copy_repo("github-stall");
    stack.emulator().inject(Fault::Stall { max_ms: 20_000 }.times(5).only("github-api")).unwrap();
    let vars = actions_env(&stack, &[("XTASK_AWS_ATTEMPT_TIMEOUT", "1")]);
    let started = std::time::Instant::now();
    let (report, out) = check(repo.path(), &vars);
    assert!(started.elapsed() < std::time::Duration::from_secs(15), "took {:?}", started.elapsed());
    assert!(out.status.success(), "{}", text(&out));
    let (_, message) = finding(&report, "github.repository").unwrap_or_else(|| panic!("{report:#}"));
    assert!(
        message.contains("did not answer within 1 s") && message.contains("XTASK_AWS_ATTEMPT_TIMEOUT"),
        "{message}"
    );
    let (_, message) = finding(&report, "trust.environment-protection").unwrap();
    assert!(message.contains("did not answer"), "{message}");
    // One wait, not one per fact.
    let asked = stack.emulator().requests().iter().filter(|r| r.operation == "github-api").count();
    assert_eq!(asked, 1);
}
