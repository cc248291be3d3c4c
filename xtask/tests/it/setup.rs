//! `cargo xtask setup` against the local stack: moto's IAM (the stack's default
//! caller is a session in the domain owner's account, so setup works in that
//! account, 111122223333) and the fake GitHub API. What IAM and GitHub hold is read
//! back independently: IAM with boto3, GitHub through castack's Rust API (the fake
//! opens the sealed secrets).

use std::process::{Command, Output};

use castack::{Deployment, GithubRepo, RefType, Reviewer, SecretScope, Stack};
use serde_json::Value;

use crate::support::{self, Creds, copy_repo, release_env, run_xtask, start_stack_with, text};

const REPO: &str = "octo-org/yamause";
const ROLE: &str = "GitHubActions-CodeArtifact";

/// A stack whose account has nothing of the setup yet (not even GitHub's OIDC
/// provider, which stacks for releases start with).
fn start_stack() -> Stack {
    let mut config = castack::StackConfig::new(support::tools_python("stack"));
    config.github_oidc_provider = false;
    start_stack_with(config)
}

/// The stack's environment for setup.
pub(crate) fn setup_env(stack: &Stack) -> Vec<(String, String)> {
    release_env(stack, Creds::Static, "", &[])
}

pub(crate) fn setup(repo: &std::path::Path, vars: &[(String, String)], args: &[&str]) -> Output {
    let mut all = vec!["setup", "--github-repo", REPO];
    all.extend_from_slice(args);
    run_xtask(repo, &all, vars)
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The account setup works in: the caller's.
fn account(stack: &Stack) -> String {
    stack.config().account.clone()
}

/// Runs `script` with boto3's IAM client `iam` (the caller's credentials, moto's
/// IAM) and `json` imported, and returns what it prints as JSON.
fn iam(stack: &Stack, script: &str) -> Value {
    let creds = stack.credentials_env();
    let get = |name: &str| creds.iter().find(|(k, _)| k == name).unwrap().1.clone();
    let prelude = format!(
        "import json, boto3\niam = boto3.client('iam', endpoint_url={:?}, region_name='us-east-1', \
         aws_access_key_id={:?}, aws_secret_access_key={:?}, aws_session_token={:?})\n",
        stack.moto_url(),
        get("AWS_ACCESS_KEY_ID"),
        get("AWS_SECRET_ACCESS_KEY"),
        get("AWS_SESSION_TOKEN")
    );
    let out =
        Command::new(support::tools_python("stack")).args(["-c", &format!("{prelude}{script}")]).output().unwrap();
    assert!(out.status.success(), "the IAM script failed:\n{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|err| panic!("not JSON ({err}):\n{}", text(&out)))
}

/// What moto's IAM holds of the setup: the provider's audiences, the role's trust
/// policy, the attached policy ARNs, and the managed policy's versions with the
/// default document.
fn iam_state(stack: &Stack, role: &str) -> Value {
    iam_state_of(stack, role, &format!("{role}-publish"))
}

/// The same for `role` and the managed policy `policy`.
fn iam_state_of(stack: &Stack, role: &str, policy: &str) -> Value {
    let policy = format!("arn:aws:iam::{}:policy/{policy}", account(stack));
    iam(
        stack,
        &format!(
            r#"
out = {{"providers": [], "role": None, "attached": [], "versions": [], "policy": None}}
for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]:
    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=p["Arn"])
    out["providers"].append({{"arn": p["Arn"], "audiences": got["ClientIDList"]}})
try:
    out["role"] = iam.get_role(RoleName={role:?})["Role"]["AssumeRolePolicyDocument"]
    out["attached"] = [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName={role:?})["AttachedPolicies"]]
except iam.exceptions.NoSuchEntityException:
    pass
try:
    versions = iam.list_policy_versions(PolicyArn={policy:?})["Versions"]
    out["versions"] = [v["VersionId"] for v in versions]
    default = [v["VersionId"] for v in versions if v["IsDefaultVersion"]][0]
    out["policy"] = iam.get_policy_version(PolicyArn={policy:?}, VersionId=default)["PolicyVersion"]["Document"]
except iam.exceptions.NoSuchEntityException:
    pass
print(json.dumps(out))
"#
        ),
    )
}

/// A policy document as boto3 hands it over: decoded into a dict (or, from an
/// older boto3, a JSON string).
fn document(value: &Value) -> Value {
    match value {
        Value::String(text) => {
            serde_json::from_str(text).unwrap_or_else(|err| panic!("not a document ({err}): {text}"))
        }
        other => other.clone(),
    }
}

/// The documents `iam-policy` prints for this setup, the reference for what setup writes.
fn generated(repo: &std::path::Path, stack: &Stack) -> (Value, Value) {
    let role_arn = format!("arn:aws:iam::{}:role/{ROLE}", account(stack));
    let mut vars = setup_env(stack);
    vars.push(("AWS_ROLE_ARN".to_owned(), role_arn));
    let out = run_xtask(repo, &["iam-policy", "--format", "json", "--github-repo", REPO], &vars);
    assert!(out.status.success(), "{}", text(&out));
    let both: Value = serde_json::from_slice(&out.stdout).unwrap();
    (both["trustPolicy"].clone(), both["permissionPolicy"].clone())
}

/// The lines of the sections whose header (`== …`) starts with `prefix`.
fn sections(output: &str, prefix: &str) -> String {
    let mut inside = false;
    let mut out = String::new();
    for line in output.lines() {
        if line.starts_with("== ") {
            inside = line.starts_with(prefix);
        }
        if inside {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Creates the GitHub OIDC provider and `role` with the trust policy `trust` in the
/// caller's account, as someone before setup would have.
fn existing_role(stack: &Stack, role: &str, trust: &Value) {
    let script = format!(
        "iam.create_open_id_connect_provider(Url='https://token.actions.githubusercontent.com', \
         ClientIDList=['sts.amazonaws.com'], ThumbprintList=[])\n\
         iam.create_role(RoleName={role:?}, AssumeRolePolicyDocument={:?})\nprint('{{}}')\n",
        trust.to_string()
    );
    iam(stack, &script);
}

fn trust_with_subjects(stack: &Stack, subjects: &[&str]) -> Value {
    serde_json::json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"Federated": format!("arn:aws:iam::{}:oidc-provider/token.actions.githubusercontent.com", account(stack))},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {
            "StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"},
            "StringLike": {"token.actions.githubusercontent.com:sub": subjects},
        },
    }]})
}

#[test]
fn from_an_empty_account_the_plan_changes_nothing_and_apply_creates_the_setup() {
    let stack = start_stack();
    let repo = copy_repo("setup-empty");
    let vars = setup_env(&stack);
    let (trust, permissions) = generated(repo.path(), &stack);

    // The plan: every step to create, each document as a diff; IAM untouched.
    let out = setup(repo.path(), &vars, &[]);
    let shown = stdout(&out);
    assert!(out.status.success(), "{}", text(&out));
    for want in [
        "1. GitHub OIDC provider arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com: create",
        "2. Role GitHubActions-CodeArtifact (arn:aws:iam::111122223333:role/GitHubActions-CodeArtifact) and its trust policy: create",
        "3. Permission policy GitHubActions-CodeArtifact-publish",
        "4. Attachment of GitHubActions-CodeArtifact-publish to the role GitHubActions-CodeArtifact: create",
        "Nothing was changed",
    ] {
        assert!(shown.contains(want), "{want:?} missing:\n{shown}");
    }
    let sub = "\"token.actions.githubusercontent.com:sub\": \"repo:octo-org/yamause:environment:release\"";
    assert!(shown.lines().any(|l| l.starts_with("   + ") && l.contains(sub)), "the trust policy's diff:\n{shown}");
    let before = iam_state(&stack, ROLE);
    assert_eq!(before["providers"], serde_json::json!([]), "{before}");
    assert!(before["role"].is_null() && before["policy"].is_null(), "{before}");

    // Applied: IAM holds exactly the generated documents, and check-iam passes.
    let out = setup(repo.path(), &vars, &["--apply"]);
    let shown = stdout(&out);
    assert!(out.status.success(), "{}", text(&out));
    for want in ["created the OIDC provider", "created the role", "created the policy", "attached", "== Verdict"] {
        assert!(shown.contains(want), "{want:?} missing:\n{shown}");
    }
    assert!(!shown.contains("FAIL "), "{shown}");
    let after = iam_state(&stack, ROLE);
    assert_eq!(after["providers"][0]["audiences"], serde_json::json!(["sts.amazonaws.com"]), "{after}");
    assert_eq!(document(&after["role"]), trust);
    assert_eq!(document(&after["policy"]), permissions);
    let policy_arn = format!("arn:aws:iam::{}:policy/{ROLE}-publish", account(&stack));
    assert_eq!(after["attached"], serde_json::json!([policy_arn]));
    assert_eq!(after["versions"], serde_json::json!(["v1"]));

    let mut check_vars = vars.clone();
    check_vars.push(("AWS_ROLE_ARN".to_owned(), format!("arn:aws:iam::{}:role/{ROLE}", account(&stack))));
    let check = run_xtask(
        repo.path(),
        &["check-iam", "--inspect-role", "--format", "json", "--github-repo", REPO],
        &check_vars,
    );
    let report: Value = serde_json::from_slice(&check.stdout).unwrap_or_else(|_| panic!("{}", text(&check)));
    assert!(check.status.success() && report["status"] != "fail", "{report:#}");
    let ids: Vec<&str> = report["findings"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&"trust.ok") && ids.contains(&"perm.ok"), "{report:#}");

    // Again: nothing to change, and no new policy version.
    let out = setup(repo.path(), &vars, &["--apply"]);
    let shown = stdout(&out);
    assert!(out.status.success(), "{}", text(&out));
    assert!(shown.contains("nothing to change:") && !shown.contains("created "), "{shown}");
    for step in ["provider", "trust policy", "managed policy", "to the role"] {
        let line = shown.lines().find(|l| l.contains(step) && l.starts_with(char::is_numeric)).unwrap();
        assert!(line.ends_with(": up to date"), "{line}");
    }
    assert_eq!(iam_state(&stack, ROLE)["versions"], serde_json::json!(["v1"]));
}

#[test]
fn a_role_that_trusts_other_repositories_is_refused_unless_forced() {
    let stack = start_stack();
    let repo = copy_repo("setup-foreign");
    let vars = setup_env(&stack);
    let (trust, _) = generated(repo.path(), &stack);
    let broad = trust_with_subjects(&stack, &["repo:octo-org/yamause:environment:release", "repo:someone-else/*"]);
    existing_role(&stack, ROLE, &broad);

    let out = setup(repo.path(), &vars, &["--apply"]);
    let shown = text(&out);
    assert!(!out.status.success(), "{shown}");
    assert!(shown.contains(": refused") && shown.contains("trust.foreign-repository"), "{shown}");
    assert!(shown.contains("repo:someone-else/") && shown.contains("--force"), "{shown}");
    assert!(shown.contains("nothing was changed"), "{shown}");
    let state = iam_state(&stack, ROLE);
    assert_eq!(document(&state["role"]), broad, "the role was changed");
    assert!(state["policy"].is_null() && state["attached"] == serde_json::json!([]), "{state}");

    let out = setup(repo.path(), &vars, &["--apply", "--force"]);
    let shown = stdout(&out);
    assert!(out.status.success(), "{}", text(&out));
    let narrows =
        shown.lines().find(|l| l.contains("narrows, no longer: trust.foreign-repository")).unwrap_or_default();
    assert!(narrows.contains("repo:someone-else/"), "{shown}");
    assert!(shown.contains("updated the trust policy"), "{shown}");
    assert_eq!(document(&iam_state(&stack, ROLE)["role"]), trust);
}

#[test]
fn a_permission_policy_that_allows_more_is_kept_and_one_that_lacks_is_widened_saying_so() {
    let stack = start_stack();
    let repo = copy_repo("setup-permissions");
    let vars = setup_env(&stack);
    let (_, permissions) = generated(repo.path(), &stack);

    // More than the release needs: codeartifact:* on everything.
    let mut broader = permissions.clone();
    broader["Statement"].as_array_mut().unwrap().push(serde_json::json!(
        {"Sid": "Everything", "Effect": "Allow", "Action": "codeartifact:*", "Resource": "*"}
    ));
    // Less: no safe re-run statement.
    let mut narrower = permissions.clone();
    narrower["Statement"].as_array_mut().unwrap().retain(|it| it["Sid"] != "SafeRerunChecks");
    for (role, doc) in [("broader-role", &broader), ("narrower-role", &narrower)] {
        iam(
            &stack,
            &format!(
                "iam.create_policy(PolicyName='{role}-publish', PolicyDocument={:?})\nprint('{{}}')\n",
                doc.to_string()
            ),
        );
    }

    let out = setup(repo.path(), &vars, &["--apply", "--role-name", "broader-role"]);
    let shown = stdout(&out);
    assert!(out.status.success(), "{}", text(&out));
    let step = shown.lines().find(|l| l.starts_with("3. Permission policy broader-role-publish")).unwrap();
    assert!(step.ends_with(": kept as it is"), "{shown}");
    assert!(shown.contains("allows more: perm.too-broad") && shown.contains("--force replaces it"), "{shown}");
    assert!(shown.contains("-       \"Action\": \"codeartifact:*\","), "the diff shows the extra statement:\n{shown}");
    let state = iam_state(&stack, "broader-role");
    assert_eq!(state["versions"], serde_json::json!(["v1"]), "{state}");
    assert_eq!(document(&state["policy"]), broader);
    assert!(state["attached"].as_array().unwrap().len() == 1, "the kept policy is attached: {state}");

    let out = setup(repo.path(), &vars, &["--apply", "--role-name", "narrower-role"]);
    let shown = stdout(&out);
    assert!(out.status.success(), "{}", text(&out));
    let step = shown.lines().find(|l| l.starts_with("3. Permission policy narrower-role-publish")).unwrap();
    assert!(step.ends_with(": update"), "{shown}");
    assert!(shown.contains("widens, adds what the release needs: perm.safe-rerun"), "{shown}");
    assert!(shown.contains("made version v2"), "{shown}");
    let state = iam_state(&stack, "narrower-role");
    assert_eq!(state["versions"].as_array().unwrap().len(), 2, "{state}");
    assert_eq!(document(&state["policy"]), permissions);

    // A policy at IAM's limit of five versions: setup deletes none, changes nothing
    // and says which to delete.
    iam(
        &stack,
        &format!(
            "arn = iam.create_policy(PolicyName='full-role-publish', PolicyDocument={doc:?})['Policy']['Arn']\n\
             for _ in range(4):\n    iam.create_policy_version(PolicyArn=arn, PolicyDocument={doc:?})\n\
             print('{{}}')\n",
            doc = narrower.to_string()
        ),
    );
    let out = setup(repo.path(), &vars, &["--apply", "--role-name", "full-role"]);
    let shown = text(&out);
    assert!(!out.status.success(), "{shown}");
    let step = shown.lines().find(|l| l.starts_with("3. Permission policy full-role-publish")).unwrap();
    assert!(step.ends_with(": refused") && shown.contains("delete-policy-version"), "{shown}");
    let state = iam_state(&stack, "full-role");
    assert_eq!(state["versions"].as_array().unwrap().len(), 5, "{state}");
    assert!(state["role"].is_null(), "nothing is applied while a step is refused: {state}");
}

/// The values of the five settings in this setup: none may appear in the GitHub part.
fn secret_values(stack: &Stack) -> Vec<String> {
    let config = stack.config();
    vec![
        format!("arn:aws:iam::{}:role/{ROLE}", config.account),
        config.account.clone(),
        config.region.clone(),
        config.domain.clone(),
        config.repository.clone(),
    ]
}

#[test]
fn the_github_part_prints_the_environment_and_gh_commands_never_a_value() {
    let stack = start_stack();
    let repo = copy_repo("setup-github-print");
    let vars = setup_env(&stack);
    let out = setup(repo.path(), &vars, &["--reviewer", "release-manager"]);
    let shown = stdout(&out);
    assert!(out.status.success(), "{}", text(&out));
    let github = sections(&shown, "== GitHub");
    for want in [
        "Not read from GitHub: no GitHub token",
        "Environment release: not read",
        "required reviewers release-manager",
        "deployments only from tags matching v*",
        "gh api --method PUT repos/octo-org/yamause/environments/release --input - <<EOF",
        "\"reviewers\": [{\"type\": \"User\", \"id\": $(gh api users/release-manager --jq .id)}]",
        "\"custom_branch_policies\": true",
        "gh api --method POST repos/octo-org/yamause/environments/release/deployment-branch-policies -f name='v*' -f type=tag",
        "gh secret set AWS_ROLE_ARN --env release --repo octo-org/yamause",
        "gh secret set AWS_REGION --env release --repo octo-org/yamause",
        "gh secret set CODEARTIFACT_DOMAIN --env release --repo octo-org/yamause",
        "gh secret set CODEARTIFACT_DOMAIN_OWNER --env release --repo octo-org/yamause",
        "gh secret set CODEARTIFACT_REPOSITORY --env release --repo octo-org/yamause",
    ] {
        assert!(github.contains(want), "{want:?} missing:\n{github}");
    }
    // The AWS part names the role (the plan is about it); the GitHub part no value.
    assert!(sections(&shown, "== AWS").contains(&secret_values(&stack)[0]));
    for value in secret_values(&stack) {
        assert!(!github.contains(&value), "{value:?} is in the GitHub part:\n{github}");
    }

    // With a token: what exists (the stack's repository has a protected `release`
    // environment and no secrets), still no value, and never the token.
    let mut vars = vars;
    vars.push(("GITHUB_TOKEN".to_owned(), stack.emulator().github_token()));
    let out = setup(repo.path(), &vars, &[]);
    let shown = stdout(&out);
    assert!(out.status.success(), "{}", text(&out));
    let github = sections(&shown, "== GitHub");
    assert!(github.contains("Environment release: exists: reviewers release-manager"), "{github}");
    assert!(github.contains("AWS_ROLE_ARN to set") && !github.contains("gh api --method"), "{github}");
    for value in secret_values(&stack) {
        assert!(!github.contains(&value), "{value:?} is in the GitHub part:\n{github}");
    }
    assert!(!text(&out).contains(&stack.emulator().github_token()), "the token was printed");
}

#[test]
fn apply_github_creates_the_environment_its_tag_rule_and_the_sealed_secrets() {
    let stack = start_stack();
    let repo = copy_repo("setup-github-apply");
    stack.emulator().set_github_repo(GithubRepo { environments: Vec::new(), ..GithubRepo::default() });
    let mut vars = setup_env(&stack);
    vars.push(("GITHUB_TOKEN".to_owned(), stack.emulator().github_token()));
    let token = stack.emulator().github_token();

    let out = setup(repo.path(), &vars, &["--apply-github", "--reviewer", "second-reviewer"]);
    let shown = stdout(&out);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains(&token), "the token was printed");
    for value in secret_values(&stack) {
        assert!(!sections(&shown, "== GitHub").contains(&value), "{value:?} is in the GitHub part:\n{shown}");
    }
    let github = stack.emulator().github_repo();
    let env = github.environment("release").expect("the environment was created");
    assert_eq!(env.reviewers, vec![Reviewer::User("second-reviewer".to_owned())]);
    assert_eq!(env.deployment, Deployment::Custom(vec![("v*".to_owned(), RefType::Tag)]));
    assert!(!env.can_admins_bypass, "{env:?}");
    let secrets = stack.github_secrets();
    let config = stack.config();
    let role_arn = format!("arn:aws:iam::{}:role/{ROLE}", config.account);
    let want = [
        ("AWS_ROLE_ARN", role_arn.as_str()),
        ("AWS_REGION", config.region.as_str()),
        ("CODEARTIFACT_DOMAIN", config.domain.as_str()),
        ("CODEARTIFACT_DOMAIN_OWNER", config.account.as_str()),
        ("CODEARTIFACT_REPOSITORY", config.repository.as_str()),
    ];
    let scope = SecretScope::Environment("release".to_owned());
    for (name, value) in want {
        let secret =
            secrets.iter().find(|it| it.is(&scope, name)).unwrap_or_else(|| panic!("{name} not set: {secrets:?}"));
        assert_eq!(secret.value.expose(), value, "{name}");
    }
    assert_eq!(secrets.len(), 5, "{secrets:?}");

    // Again: nothing to change, and the secrets were not written again.
    let out = setup(repo.path(), &vars, &["--apply-github", "--reviewer", "second-reviewer"]);
    let shown = stdout(&out);
    assert!(out.status.success(), "{}", text(&out));
    assert!(shown.contains("nothing to change on GitHub"), "{shown}");
    assert_eq!(stack.github_secrets(), secrets, "a secret was written again");
    assert!(!text(&out).contains(&token), "the token was printed");

    // GitHub never shows a value, so a changed setting needs --force.
    vars.push(("CODEARTIFACT_REPOSITORY".to_owned(), "other-repo".to_owned()));
    let out = setup(repo.path(), &vars, &["--apply-github", "--force"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(stdout(&out).contains("set the secret CODEARTIFACT_REPOSITORY"), "{}", text(&out));
    let secrets = stack.github_secrets();
    let repository = secrets.iter().find(|it| it.is(&scope, "CODEARTIFACT_REPOSITORY")).unwrap();
    assert_eq!(repository.value.expose(), "other-repo");
    assert!(!sections(&stdout(&out), "== GitHub").contains("other-repo"), "{}", text(&out));
}

const READ_ROLE: &str = "GitHubActions-CodeArtifact-read";
const READ_POLICY: &str = "GitHubActions-CodeArtifact-read-build-deps";

/// The read role's documents as `iam-policy` prints them with private dependencies.
fn generated_read(repo: &std::path::Path, stack: &Stack) -> (Value, Value) {
    let mut vars = setup_env(stack);
    vars.push(("AWS_ROLE_ARN".to_owned(), format!("arn:aws:iam::{}:role/{ROLE}", account(stack))));
    vars.push(("CODEARTIFACT_PRIVATE_DEPENDENCIES".to_owned(), "true".to_owned()));
    let out = run_xtask(repo, &["iam-policy", "--format", "json", "--github-repo", REPO], &vars);
    assert!(out.status.success(), "{}", text(&out));
    let all: Value = serde_json::from_slice(&out.stdout).unwrap();
    (all["readRole"]["trustPolicy"].clone(), all["readRole"]["permissionPolicy"].clone())
}

#[test]
fn private_dependencies_add_the_read_role_and_the_build_deps_environment() {
    let stack = start_stack();
    let repo = copy_repo("setup-read-role");
    stack.emulator().set_github_repo(GithubRepo { environments: Vec::new(), ..GithubRepo::default() });
    let mut vars = setup_env(&stack);
    vars.push(("CODEARTIFACT_PRIVATE_DEPENDENCIES".to_owned(), "true".to_owned()));
    vars.push(("GITHUB_TOKEN".to_owned(), stack.emulator().github_token()));
    let (read_trust, read_permissions) = generated_read(repo.path(), &stack);
    let (_, permissions) = generated(repo.path(), &stack);
    let read_arn = format!("arn:aws:iam::{}:role/{READ_ROLE}", account(&stack));

    // The plan: the read role after the release role, and the build-deps
    // environment without reviewers, saying why.
    let out = setup(repo.path(), &vars, &["--reviewer", "release-manager"]);
    let shown = stdout(&out);
    assert!(out.status.success(), "{}", text(&out));
    for want in [
        "== AWS: the release role and the build-deps job's read role",
        "5. Read role GitHubActions-CodeArtifact-read (arn:aws:iam::111122223333:role/GitHubActions-CodeArtifact-read) of the build-deps job and its trust policy: create",
        "6. Permission policy GitHubActions-CodeArtifact-read-build-deps (arn:aws:iam::111122223333:policy/GitHubActions-CodeArtifact-read-build-deps), a managed policy: create",
        "7. Attachment of GitHubActions-CodeArtifact-read-build-deps to the role GitHubActions-CodeArtifact-read: create",
        "can read the repository and write nothing",
        "== GitHub: the `build-deps` environment of octo-org/yamause and its secrets",
        "wanted: no required reviewers (its role can read the repository and never publish",
        "gh secret set AWS_ROLE_ARN --env build-deps --repo octo-org/yamause",
        "for AWS_ROLE_ARN the read role's ARN",
    ] {
        assert!(shown.contains(want), "{want:?} missing:\n{shown}");
    }
    let sub = "\"token.actions.githubusercontent.com:sub\": \"repo:octo-org/yamause:environment:build-deps\"";
    assert!(shown.lines().any(|l| l.starts_with("   + ") && l.contains(sub)), "the read trust policy's diff:\n{shown}");
    let build_deps = shown.split("== GitHub: the `build-deps`").nth(1).unwrap();
    assert!(build_deps.contains("\"reviewers\": []"), "no reviewer placeholder for build-deps:\n{build_deps}");
    assert!(iam_state_of(&stack, READ_ROLE, READ_POLICY)["role"].is_null(), "the plan changed IAM");

    // Applied: both roles as generated, both verdicts pass, both environments.
    let out = setup(repo.path(), &vars, &["--apply", "--apply-github", "--reviewer", "release-manager"]);
    let shown = stdout(&out);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!shown.contains("FAIL "), "{shown}");
    let created = format!("created the role {read_arn}");
    for want in [
        created.as_str(),
        "== Verdict: `cargo xtask check-iam --inspect-role --read-role` on arn:aws:iam::111122223333:role/GitHubActions-CodeArtifact-read",
        "set up the environment build-deps: no required reviewers, custom deployment policies",
        "added the deployment tag rule v* to build-deps",
    ] {
        assert!(shown.contains(want), "{want:?} missing:\n{shown}");
    }
    let read_verdict = shown.split("--read-role` on").nth(1).unwrap();
    assert!(read_verdict.contains("PASS perm.ok") && read_verdict.contains("build-deps job"), "{read_verdict}");
    let state = iam_state_of(&stack, READ_ROLE, READ_POLICY);
    assert_eq!(document(&state["role"]), read_trust);
    assert_eq!(document(&state["policy"]), read_permissions);
    let read_policy_arn = format!("arn:aws:iam::{}:policy/{READ_POLICY}", account(&stack));
    assert_eq!(state["attached"], serde_json::json!([read_policy_arn]));
    // The release role reads nothing.
    assert_eq!(document(&iam_state(&stack, ROLE)["policy"]), permissions);
    assert!(!permissions.to_string().contains("ReadFromRepository"), "{permissions}");

    let github = stack.emulator().github_repo();
    let env = github.environment("build-deps").expect("the build-deps environment was created");
    assert_eq!(env.reviewers, Vec::<Reviewer>::new());
    assert_eq!(env.deployment, Deployment::Custom(vec![("v*".to_owned(), RefType::Tag)]));
    assert!(!env.can_admins_bypass, "{env:?}");
    let release_env = github.environment("release").expect("the release environment was created");
    assert_eq!(release_env.reviewers, vec![Reviewer::User("release-manager".to_owned())]);
    let secrets = stack.github_secrets();
    assert_eq!(secrets.len(), 10, "{secrets:?}");
    let secret = |env: &str, name: &str| {
        let scope = SecretScope::Environment(env.to_owned());
        secrets
            .iter()
            .find(|it| it.is(&scope, name))
            .unwrap_or_else(|| panic!("{env} {name}: {secrets:?}"))
            .value
            .expose()
            .to_owned()
    };
    assert_eq!(secret("build-deps", "AWS_ROLE_ARN"), read_arn);
    assert_eq!(secret("release", "AWS_ROLE_ARN"), format!("arn:aws:iam::{}:role/{ROLE}", account(&stack)));
    let config = stack.config();
    for env in ["build-deps", "release"] {
        assert_eq!(secret(env, "CODEARTIFACT_REPOSITORY"), config.repository);
        assert_eq!(secret(env, "CODEARTIFACT_DOMAIN"), config.domain);
    }
    for value in secret_values(&stack).into_iter().chain([read_arn.clone()]) {
        assert!(!sections(&shown, "== GitHub").contains(&value), "{value:?} is in the GitHub part:\n{shown}");
    }

    // Again: nothing to change anywhere.
    let out = setup(repo.path(), &vars, &["--apply", "--apply-github", "--reviewer", "release-manager"]);
    let shown = stdout(&out);
    assert!(out.status.success(), "{}", text(&out));
    assert!(shown.contains("nothing to change: ") && shown.contains("so are the read role"), "{shown}");
    assert!(shown.contains("nothing to change on GitHub"), "{shown}");
    assert!(!shown.contains("created ") && !shown.contains("set the secret"), "{shown}");
    assert_eq!(iam_state_of(&stack, READ_ROLE, READ_POLICY)["versions"], serde_json::json!(["v1"]));
    assert_eq!(stack.github_secrets(), secrets, "a secret was written again");
}

/// A read role's policy that can publish is kept without --force (setup narrows
/// nothing unasked), and the verdict fails on it; --force replaces it.
#[test]
fn a_read_role_that_can_publish_fails_the_verdict_until_forced() {
    let stack = start_stack();
    let repo = copy_repo("setup-read-role-publishing");
    let mut vars = setup_env(&stack);
    vars.push(("CODEARTIFACT_PRIVATE_DEPENDENCIES".to_owned(), "true".to_owned()));
    let (_, read_permissions) = generated_read(repo.path(), &stack);
    let mut publishing = read_permissions.clone();
    publishing["Statement"].as_array_mut().unwrap().push(serde_json::json!(
        {"Sid": "AlsoPublish", "Effect": "Allow", "Action": "codeartifact:*", "Resource": "*"}
    ));
    iam(
        &stack,
        &format!(
            "iam.create_policy(PolicyName={READ_POLICY:?}, PolicyDocument={:?})\nprint('{{}}')\n",
            publishing.to_string()
        ),
    );

    let out = setup(repo.path(), &vars, &["--apply"]);
    let shown = text(&out);
    assert!(!out.status.success(), "{shown}");
    let step = shown
        .lines()
        .find(|l| l.starts_with("6. Permission policy GitHubActions-CodeArtifact-read-build-deps"))
        .unwrap();
    assert!(step.ends_with(": kept as it is"), "{shown}");
    assert!(shown.contains("allows more than the build-deps job needs"), "{shown}");
    assert!(shown.contains("allows more: perm.read-role-can-write"), "{shown}");
    assert!(shown.contains("FAIL perm.read-role-can-write (critical)"), "the verdict names it:\n{shown}");
    assert_eq!(document(&iam_state_of(&stack, READ_ROLE, READ_POLICY)["policy"]), publishing);

    let out = setup(repo.path(), &vars, &["--apply", "--force"]);
    let shown = stdout(&out);
    assert!(out.status.success(), "{}", text(&out));
    assert!(shown.contains("narrows, no longer: perm.read-role-can-write"), "{shown}");
    assert!(!shown.contains("FAIL "), "{shown}");
    let state = iam_state_of(&stack, READ_ROLE, READ_POLICY);
    assert_eq!(document(&state["policy"]), read_permissions);
    assert_eq!(state["versions"].as_array().unwrap().len(), 2, "{state}");
}
