//! `cargo xtask check-iam` and `cargo xtask iam-policy`: offline policy analysis on
//! files, the JSON shape, live checks against the local stack with injected faults,
//! the GitHub context in Actions, and role inspection against moto's IAM; for the
//! release role and (`--read-role`) the build-deps job's read role.

use std::{fs, process::Command};

use castack::{Fault, OriginRestrictions, Restriction};

use crate::support::{self, Creds, TempDir, copy_repo, release_env, start_stack, text, xtask};

const TARGET: [(&str, &str); 4] = [
    ("AWS_REGION", "us-east-1"),
    ("CODEARTIFACT_DOMAIN", "my-company"),
    ("CODEARTIFACT_DOMAIN_OWNER", "123456789012"),
    ("CODEARTIFACT_REPOSITORY", "python-packages"),
];

fn run(dir: &std::path::Path, args: &[&str], vars: &[(&str, &str)]) -> std::process::Output {
    let vars: Vec<(&str, &std::ffi::OsStr)> = vars.iter().map(|(k, v)| (*k, std::ffi::OsStr::new(*v))).collect();
    xtask(dir, args, &vars)
}

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|err| panic!("not JSON ({err}):\n{}", text(out)))
}

fn ids(report: &serde_json::Value) -> Vec<String> {
    report["findings"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn generated_policies_pass_the_analysis() {
    let repo = copy_repo("iam-policy");
    let dir = TempDir::new("generated-policies");
    for (environment, repo_spec) in [
        ("release", "octo-org/yamause"),
        ("none", "octo-org@100000000/yamause@100000001"),
        ("prod", "Octo-Org/YaMause"),
    ] {
        let out = run(
            repo.path(),
            &["iam-policy", "--format", "json", "--github-repo", repo_spec, "--environment", environment],
            &TARGET,
        );
        assert!(out.status.success(), "{}", text(&out));
        let both = json(&out);
        let (trust, perms) = (dir.path().join("trust.json"), dir.path().join("perms.json"));
        fs::write(&trust, both["trustPolicy"].to_string()).unwrap();
        fs::write(&perms, both["permissionPolicy"].to_string()).unwrap();
        let args = [
            "check-iam",
            "--format",
            "json",
            "--trust-policy",
            trust.to_str().unwrap(),
            "--permission-policy",
            perms.to_str().unwrap(),
            "--github-repo",
            repo_spec,
            "--environment",
            environment,
        ];
        let out = run(repo.path(), &args, &TARGET);
        let report = json(&out);
        assert_eq!(report["status"], "pass", "{environment} {repo_spec}:\n{report:#}");
        assert!(out.status.success());
        assert!(ids(&report).contains(&"trust.ok".to_owned()) && ids(&report).contains(&"perm.ok".to_owned()));
    }
    // The text form names the read-only statement and pins the environment.
    let out = run(repo.path(), &["iam-policy", "--github-repo", "octo-org/yamause"], &TARGET);
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("SafeRerunChecks") && shown.contains("safe re-runs"), "{shown}");
    assert!(shown.contains("repo:octo-org/yamause:environment:release") && shown.contains("pypi//yamause"), "{shown}");
}

#[test]
fn a_repository_wide_trust_and_a_combined_permission_statement_are_flagged_with_fixes() {
    let repo = copy_repo("hand-written-policies");
    let dir = TempDir::new("hand-written-policies");
    let trust = dir.path().join("trust.json");
    // A common hand-written pair: `sub` StringLike `repo:OWNER/REPO:*`, and one
    // statement for the three calls with publishing on every package (`package/…/*`).
    fs::write(&trust, r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"},"StringLike":{"token.actions.githubusercontent.com:sub":"repo:octo-org/yamause:*"}}}]}"#).unwrap();
    let perms = dir.path().join("perms.json");
    fs::write(&perms, r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["codeartifact:GetAuthorizationToken","codeartifact:GetRepositoryEndpoint","codeartifact:PublishPackageVersion"],"Resource":["arn:aws:codeartifact:us-east-1:123456789012:domain/my-company","arn:aws:codeartifact:us-east-1:123456789012:repository/my-company/python-packages","arn:aws:codeartifact:us-east-1:123456789012:package/my-company/python-packages/*"]},{"Effect":"Allow","Action":"sts:GetServiceBearerToken","Resource":"*","Condition":{"StringEquals":{"sts:AWSServiceName":"codeartifact.amazonaws.com"}}}]}"#).unwrap();
    let out = run(
        repo.path(),
        &[
            "check-iam",
            "--trust-policy",
            trust.to_str().unwrap(),
            "--permission-policy",
            perms.to_str().unwrap(),
            "--github-repo",
            "octo-org/yamause",
        ],
        &TARGET,
    );
    // `repo:OWNER/REPO:*` lets any branch or pull request publish: a warning, and the
    // release still works, so the overall status is warn (exit 0). The whole report,
    // reviewed: each finding with its severity and fix.
    assert!(out.status.success(), "{}", text(&out));
    insta::assert_snapshot!(crate::support::snapshot_text(&out, repo.path()));

    // URL-encoded (as IAM returns it) and broken documents are handled, never a panic.
    let encoded = dir.path().join("encoded.json");
    fs::write(&encoded, "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%22%2A%22%2C%22Action%22%3A%22sts%3AAssumeRoleWithWebIdentity%22%7D%7D").unwrap();
    let out = run(
        repo.path(),
        &[
            "check-iam",
            "--format",
            "json",
            "--trust-policy",
            encoded.to_str().unwrap(),
            "--github-repo",
            "octo-org/yamause",
        ],
        &TARGET,
    );
    let report = json(&out);
    assert_eq!(report["status"], "fail");
    assert!(!out.status.success());
    assert!(
        ids(&report).iter().any(|id| id == "trust.sub-unrestricted" || id == "trust.extra-principal"),
        "{report:#}"
    );
    let broken = dir.path().join("broken.json");
    fs::write(&broken, "{\"Statement\": [").unwrap();
    let out = run(
        repo.path(),
        &["check-iam", "--format", "json", "--trust-policy", broken.to_str().unwrap(), "--github-repo", "o/r"],
        &TARGET,
    );
    assert_eq!(json(&out)["status"], "fail");
    assert!(ids(&json(&out)).contains(&"policy.malformed".to_owned()));
}

#[test]
fn json_output_has_the_documented_shape() {
    let repo = copy_repo("json-shape");
    let dir = TempDir::new("json-shape");
    let trust = dir.path().join("trust.json");
    fs::write(&trust, r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringLike":{"token.actions.githubusercontent.com:sub":"repo:octo-org*"}}}]}"#).unwrap();
    let out = run(
        repo.path(),
        &[
            "check-iam",
            "--format",
            "json",
            "--trust-policy",
            trust.to_str().unwrap(),
            "--github-repo",
            "octo-org/yamause",
        ],
        &TARGET,
    );
    let report = json(&out);
    let keys: Vec<&String> = report.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["findings", "status"]);
    assert!(["pass", "warn", "fail"].contains(&report["status"].as_str().unwrap()));
    for finding in report["findings"].as_array().unwrap() {
        let keys: Vec<&String> = finding.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["id", "message", "severity"], "{finding}");
        assert!(
            ["error", "critical", "high", "medium", "low", "info"].contains(&finding["severity"].as_str().unwrap())
        );
        assert!(!finding["message"].as_str().unwrap().is_empty());
    }
    assert!(ids(&report).contains(&"trust.prefix-wildcard".to_owned()), "{report:#}");
    assert_eq!(report["status"], "fail");
    // stdout is the JSON document and nothing else.
    assert!(String::from_utf8_lossy(&out.stdout).trim_start().starts_with('{'));
}

#[test]
fn live_checks_against_the_stack_map_each_problem() {
    let stack = start_stack();
    let repo = copy_repo("live-check");
    let vars = release_env(&stack, Creds::Static, "", &[]);
    let run_check = |extra: &[(&str, &str)]| {
        let mut vars = vars.clone();
        vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let out = crate::support::run_xtask(
            repo.path(),
            &["check-iam", "--format", "json", "--github-repo", "octo-org/yamause"],
            &vars,
        );
        (json(&out), out)
    };
    let (report, out) = run_check(&[]);
    let found = ids(&report);
    for id in [
        "settings.ok",
        "identity.ok",
        "codeartifact.token-and-endpoint.ok",
        "codeartifact.describe-domain.ok",
        "codeartifact.describe-repository.ok",
        "perm.origin-blocked.ok",
        "perm.safe-rerun.ok",
        "iam.not-inspected",
    ] {
        assert!(found.contains(&id.to_owned()), "{id} missing:\n{report:#}");
    }
    // The stack's caller is the domain owner's role: no cross-account finding.
    assert!(!found.contains(&"perm.cross-account".to_owned()), "{report:#}");
    assert!(out.status.success(), "{}", text(&out));
    // The token is never printed.
    let token = stack.emulator().current_token().unwrap().value;
    assert!(!text(&out).contains(&token));

    stack
        .emulator()
        .inject(Fault::Deny { action: "GetAuthorizationToken".to_owned(), principal: None }.always())
        .unwrap();
    let (report, out) = run_check(&[]);
    assert!(!out.status.success());
    let finding = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "codeartifact.token-and-endpoint")
        .unwrap()
        .clone();
    assert_eq!(finding["severity"], "error");
    assert!(finding["message"].as_str().unwrap().contains("lacks codeartifact:GetAuthorizationToken"), "{finding}");
    stack.emulator().reset();

    stack
        .emulator()
        .set_origin_restrictions(OriginRestrictions { publish: Restriction::Block, upstream: Restriction::Allow });
    stack
        .emulator()
        .inject(Fault::Deny { action: "ListPackageVersionAssets".to_owned(), principal: None }.always())
        .unwrap();
    // The origin check reads the package, which exists once something is published.
    let released = crate::support::release(repo.path(), &["v1.0.0"], &vars);
    let _ = released; // refused by origin controls; what matters is check-iam's verdict
    let (report, _) = run_check(&[]);
    let severity =
        |id: &str| report["findings"].as_array().unwrap().iter().find(|f| f["id"] == id).map(|f| f["severity"].clone());
    assert_eq!(severity("perm.safe-rerun"), Some("low".into()), "{report:#}");
    stack.emulator().reset();

    let (report, out) = run_check(&[("CODEARTIFACT_DOMAIN_OWNER", "12")]);
    assert!(!out.status.success());
    assert!(ids(&report).contains(&"settings.invalid".to_owned()));
    assert!(stack.emulator().requests().iter().all(|r| r.operation != "GetAuthorizationToken" || r.status != 0));
}

#[test]
fn in_github_actions_the_token_claims_are_shown_never_the_token() {
    let stack = start_stack();
    let repo = copy_repo("claims");
    let vars = release_env(&stack, Creds::GithubOidc, "v1.0.0", &[]);
    let out = crate::support::run_xtask(repo.path(), &["check-iam", "--github-repo", "octo-org/yamause"], &vars);
    let shown = text(&out);
    assert!(out.status.success(), "{shown}");
    assert!(
        shown.contains("PASS github.id-token.ok") && shown.contains("sub: repo:octo-org/yamause:environment:release"),
        "{shown}"
    );
    // Only the `::add-mask::` command (which the runner never shows) may carry it.
    let visible: String = shown.lines().filter(|l| !l.starts_with("::add-mask::")).collect::<Vec<_>>().join("\n");
    let jwts = stack.emulator().issued_oidc_tokens();
    assert!(!jwts.is_empty());
    for jwt in jwts {
        assert!(!visible.contains(&jwt), "the JWT was printed");
    }
    let vars = release_env(&stack, Creds::GithubNoIdToken, "v1.0.0", &[]);
    let out = crate::support::run_xtask(repo.path(), &["check-iam", "--github-repo", "octo-org/yamause"], &vars);
    let shown = text(&out);
    assert!(!out.status.success());
    assert!(
        shown.contains("FAIL github.id-token (error)") && shown.contains("permissions: id-token: write"),
        "{shown}"
    );
}

/// Role inspection end to end: the provider, role and policies are created in moto's
/// IAM through the API, then read back and analysed.
#[test]
fn role_inspection_reads_and_analyses_the_role_in_iam() {
    let stack = start_stack();
    let repo = copy_repo("inspect-role");
    // moto keeps IAM for static keys in its default account; the domain stays in the
    // stack's account (a cross-account setup).
    let account = "123456789012";
    let env = stack.env();
    let iam_url = env.iter().find(|(k, _)| k == "AWS_ENDPOINT_URL_IAM").unwrap().1.clone();
    // A role as a common hand-written setup creates it: `repo:OWNER/REPO:*` and a
    // permission policy without the safe re-run actions.
    let script = format!(
        r#"
import json, boto3
iam = boto3.client("iam", endpoint_url="{iam_url}", region_name="us-east-1",
                   aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="secret")
iam.create_open_id_connect_provider(Url="https://token.actions.githubusercontent.com",
    ClientIDList=["sts.amazonaws.com"], ThumbprintList=[])
trust = {{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow",
    "Principal": {{"Federated": "arn:aws:iam::{account}:oidc-provider/token.actions.githubusercontent.com"}},
    "Action": "sts:AssumeRoleWithWebIdentity",
    "Condition": {{"StringEquals": {{"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}},
                  "StringLike": {{"token.actions.githubusercontent.com:sub": "repo:octo-org/yamause:*"}}}}}}]}}
iam.create_role(RoleName="ci-publisher", AssumeRolePolicyDocument=json.dumps(trust), MaxSessionDuration=3600)
base = "arn:aws:codeartifact:us-east-1:{account}"
perms = {{"Version": "2012-10-17", "Statement": [
    {{"Effect": "Allow", "Action": "sts:GetServiceBearerToken", "Resource": "*",
      "Condition": {{"StringEquals": {{"sts:AWSServiceName": "codeartifact.amazonaws.com"}}}}}},
    {{"Effect": "Allow", "Action": ["codeartifact:GetAuthorizationToken", "codeartifact:GetRepositoryEndpoint"],
      "Resource": [base + ":domain/sandbox-domain", base + ":repository/sandbox-domain/sandbox-repo"]}}]}}
arn = iam.create_policy(PolicyName="release", PolicyDocument=json.dumps(perms))["Policy"]["Arn"]
iam.attach_role_policy(RoleName="ci-publisher", PolicyArn=arn)
publish = {{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow", "Action": "codeartifact:PublishPackageVersion",
    "Resource": base + ":package/sandbox-domain/sandbox-repo/pypi/yamause"}}]}}
iam.put_role_policy(RoleName="ci-publisher", PolicyName="publish", PolicyDocument=json.dumps(publish))
"#
    );
    let out = Command::new(support::tools_python("stack")).args(["-c", &script]).output().unwrap();
    assert!(out.status.success(), "setting up moto's IAM failed:\n{}", text(&out));

    // The role lives in moto's default account, where IAM calls with the static keys
    // land: the cross-account caller.
    let mut vars = release_env(&stack, Creds::CrossAccount, "", &[]);
    vars.push(("AWS_ROLE_ARN".to_owned(), format!("arn:aws:iam::{account}:role/ci-publisher")));
    let out = crate::support::run_xtask(
        repo.path(),
        &["check-iam", "--inspect-role", "--format", "json", "--github-repo", "octo-org/yamause"],
        &vars,
    );
    let report = json(&out);
    let found = ids(&report);
    // Provider present; the broad subject; the publish ARN without the `//` of PyPI's
    // empty namespace; no safe re-run actions.
    for id in ["trust.broad-subject", "perm.publish-resource", "perm.safe-rerun", "perm.cross-account"] {
        assert!(found.contains(&id.to_owned()), "{id} missing:\n{report:#}");
    }
    assert!(
        !found.contains(&"trust.provider".to_owned())
            || report["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["id"] == "trust.provider" && f["severity"] != "error"),
        "{report:#}"
    );
    let publish = report["findings"].as_array().unwrap().iter().find(|f| f["id"] == "perm.publish-resource").unwrap();
    assert!(publish["message"].as_str().unwrap().contains("pypi//yamause"), "{publish}");
    assert_eq!(report["status"], "fail");
}

/// The target with private build dependencies: `iam-policy` adds the read role.
fn private_target() -> Vec<(&'static str, &'static str)> {
    let mut vars = TARGET.to_vec();
    vars.push(("CODEARTIFACT_PRIVATE_DEPENDENCIES", "true"));
    vars
}

/// `check-iam --format json` on the documents, with `extra` arguments; the report.
fn check_documents(
    repo: &std::path::Path,
    dir: &std::path::Path,
    (trust, permissions): (&serde_json::Value, &serde_json::Value),
    extra: &[&str],
) -> (serde_json::Value, bool) {
    let (trust_file, perms_file) = (dir.join("trust.json"), dir.join("perms.json"));
    fs::write(&trust_file, trust.to_string()).unwrap();
    fs::write(&perms_file, permissions.to_string()).unwrap();
    let mut args = vec![
        "check-iam",
        "--format",
        "json",
        "--trust-policy",
        trust_file.to_str().unwrap(),
        "--permission-policy",
        perms_file.to_str().unwrap(),
        "--github-repo",
        "octo-org/yamause",
    ];
    args.extend_from_slice(extra);
    let out = run(repo, &args, &private_target());
    (json(&out), out.status.success())
}

fn severity_of(report: &serde_json::Value, id: &str) -> Option<String> {
    let findings = report["findings"].as_array().unwrap();
    findings.iter().find(|f| f["id"] == id).map(|f| f["severity"].as_str().unwrap().to_owned())
}

#[test]
fn the_read_role_is_checked_as_a_download_that_can_write_nothing() {
    let repo = copy_repo("read-role-offline");
    let dir = TempDir::new("read-role-offline");
    let out =
        run(repo.path(), &["iam-policy", "--format", "json", "--github-repo", "octo-org/yamause"], &private_target());
    assert!(out.status.success(), "{}", text(&out));
    let all = json(&out);
    let read = (&all["readRole"]["trustPolicy"], &all["readRole"]["permissionPolicy"]);
    let release = (&all["trustPolicy"], &all["permissionPolicy"]);

    // The generated read role passes as the read role.
    let (report, passed) = check_documents(repo.path(), dir.path(), read, &["--read-role"]);
    assert!(passed && report["status"] == "pass", "{report:#}");
    assert!(ids(&report).contains(&"trust.ok".to_owned()) && ids(&report).contains(&"perm.ok".to_owned()));

    // The release role's documents as the read role: it can publish, its trust is
    // for the publish job's environment, and it cannot read.
    let (report, passed) = check_documents(repo.path(), dir.path(), release, &["--read-role"]);
    assert!(!passed && report["status"] == "fail", "{report:#}");
    assert_eq!(severity_of(&report, "perm.read-role-can-write").as_deref(), Some("critical"), "{report:#}");
    assert_eq!(severity_of(&report, "perm.read-from-repository").as_deref(), Some("error"), "{report:#}");
    assert_eq!(severity_of(&report, "trust.subject-mismatch").as_deref(), Some("error"), "{report:#}");

    // The read role's policy with one publishing statement more: that alone fails.
    let mut publishing = read.1.clone();
    publishing["Statement"].as_array_mut().unwrap().push(serde_json::json!({"Sid": "AlsoPublish", "Effect": "Allow",
        "Action": "codeartifact:Publish*",
        "Resource": "arn:aws:codeartifact:us-east-1:123456789012:package/my-company/python-packages/*"}));
    let (report, passed) = check_documents(repo.path(), dir.path(), (read.0, &publishing), &["--read-role"]);
    assert!(!passed, "{report:#}");
    let failing: Vec<String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "error" || f["severity"] == "critical")
        .map(|f| f["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(failing, ["perm.read-role-can-write"], "{report:#}");
    let message = report["findings"][0]["message"].as_str().unwrap();
    assert!(message.contains("\"AlsoPublish\"") && message.contains("codeartifact:PublishPackageVersion"), "{message}");

    // Without --read-role the read role's documents are judged as the release role:
    // they cannot publish, and the trust is for another environment.
    let (report, passed) = check_documents(repo.path(), dir.path(), read, &[]);
    assert!(!passed, "{report:#}");
    assert_eq!(severity_of(&report, "perm.publish").as_deref(), Some("error"), "{report:#}");

    // The release role's policy no longer reads the repository.
    let statements = release.1["Statement"].to_string();
    assert!(
        !statements.contains("ReadFromRepository") && !statements.contains("PrivateBuildDependencies"),
        "{statements}"
    );
}

/// A read role in moto's IAM, inspected as the read role: the one `iam-policy`
/// generates passes; one that can also publish fails with the finding that says so.
#[test]
fn read_role_inspection_refuses_a_read_role_that_can_publish() {
    let stack = start_stack();
    let repo = copy_repo("inspect-read-role");
    let account = "123456789012";
    // The roles live in moto's default account, where IAM files the calls of the
    // static keys; the domain stays the stack's (a cross-account setup).
    let mut vars = release_env(&stack, Creds::CrossAccount, "", &[]);
    vars.push(("CODEARTIFACT_PRIVATE_DEPENDENCIES".to_owned(), "true".to_owned()));
    vars.push(("AWS_ROLE_ARN".to_owned(), format!("arn:aws:iam::{account}:role/release")));
    let generated = crate::support::run_xtask(
        repo.path(),
        &["iam-policy", "--format", "json", "--github-repo", "octo-org/yamause"],
        &vars,
    );
    assert!(generated.status.success(), "{}", text(&generated));
    let all = json(&generated);
    let env = stack.env();
    let iam_url = env.iter().find(|(k, _)| k == "AWS_ENDPOINT_URL_IAM").unwrap().1.clone();
    let script = format!(
        r#"
import json, sys, boto3
iam = boto3.client("iam", endpoint_url="{iam_url}", region_name="us-east-1",
                   aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="secret")
iam.create_open_id_connect_provider(Url="https://token.actions.githubusercontent.com",
    ClientIDList=["sts.amazonaws.com"], ThumbprintList=[])
trust, perms = json.loads(sys.argv[1]), json.loads(sys.argv[2])
publishing = dict(perms, Statement=perms["Statement"] + [{{"Sid": "AlsoPublish", "Effect": "Allow",
    "Action": "codeartifact:PublishPackageVersion", "Resource": "*"}}])
for name, document in [("read", perms), ("publishing-read", publishing)]:
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust), MaxSessionDuration=3600)
    arn = iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(document))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName=name, PolicyArn=arn)
"#
    );
    let out = Command::new(support::tools_python("stack"))
        .args([
            "-c",
            &script,
            &all["readRole"]["trustPolicy"].to_string(),
            &all["readRole"]["permissionPolicy"].to_string(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "setting up moto's IAM failed:\n{}", text(&out));

    for key in ["CARGO", "CARGO_HOME", "RUSTUP_HOME", "RUSTUP_TOOLCHAIN"] {
        if let Ok(value) = std::env::var(key) {
            vars.push((key.to_owned(), value));
        }
    }
    vars.push(("CARGO_TARGET_DIR".to_owned(), support::repo_root().join("target").display().to_string()));
    let inspect = |role: &str| {
        let arn = format!("arn:aws:iam::{account}:role/{role}");
        let args = [
            "check-iam",
            "--inspect-role",
            "--read-role",
            "--role-arn",
            &arn,
            "--format",
            "json",
            "--github-repo",
            "octo-org/yamause",
        ];
        let out = crate::support::run_xtask(repo.path(), &args, &vars);
        (json(&out), out.status.success())
    };
    let (report, passed) = inspect("read");
    assert!(passed && report["status"] != "fail", "{report:#}");
    for id in ["trust.ok", "perm.ok"] {
        assert!(ids(&report).contains(&id.to_owned()), "{id} missing:\n{report:#}");
    }
    // Only what a download needs was asked of CodeArtifact: no origin controls, no
    // listing of the package's versions.
    assert!(
        !ids(&report).iter().any(|id| id.starts_with("perm.origin-blocked") || id.starts_with("perm.safe-rerun")),
        "{report:#}"
    );

    let (report, passed) = inspect("publishing-read");
    assert!(!passed && report["status"] == "fail", "{report:#}");
    assert_eq!(severity_of(&report, "perm.read-role-can-write").as_deref(), Some("critical"), "{report:#}");
    let finding =
        report["findings"].as_array().unwrap().iter().find(|f| f["id"] == "perm.read-role-can-write").unwrap();
    assert!(
        finding["message"].as_str().unwrap().contains("\"AlsoPublish\" of policy \"publishing-read\""),
        "{finding}"
    );
}
