//! `cargo xtask check-iam --trust-policy FILE`, end to end through the binary: the
//! role's partition (from `--role-arn`, else the region) decides which GitHub
//! provider STS uses; a document larger than IAM accepts for a trust policy is
//! refused with the limit named; a condition on the runner's address says what
//! the check cannot know. The exit status follows the JSON's status.

use std::{fs, path::Path, process::Output};

use crate::support::{TempDir, copy_repo, text, xtask};

const SUB: &str = "token.actions.githubusercontent.com:sub";
const AUD: &str = "token.actions.githubusercontent.com:aud";
const RELEASE: &str = "repo:octo-org/yamause:environment:release";

fn provider(partition: &str) -> String {
    format!("arn:{partition}:iam::123456789012:oidc-provider/token.actions.githubusercontent.com")
}

/// A trust policy for GitHub's provider of `partition`, with `condition`.
fn policy(partition: &str, condition: serde_json::Value) -> String {
    serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Federated": provider(partition)}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": condition}]})
    .to_string()
}

/// `check-iam --format json` on `document`, with `args` and the environment `vars`.
fn check(repo: &Path, dir: &Path, document: &str, args: &[&str], vars: &[(&str, &str)]) -> (serde_json::Value, Output) {
    let file = dir.join("trust.json");
    fs::write(&file, document).unwrap();
    let mut all = vec!["check-iam", "--format", "json", "--trust-policy", file.to_str().unwrap()];
    all.extend(["--github-repo", "octo-org/yamause"]);
    all.extend(args);
    let vars: Vec<(&str, &std::ffi::OsStr)> = vars.iter().map(|(k, v)| (*k, std::ffi::OsStr::new(*v))).collect();
    let out = xtask(repo, &all, &vars);
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|err| panic!("not JSON ({err}):\n{}", text(&out)));
    (report, out)
}

fn finding<'a>(report: &'a serde_json::Value, id: &str) -> Option<&'a str> {
    report["findings"].as_array()?.iter().find(|it| it["id"] == id).and_then(|it| it["message"].as_str())
}

#[test]
fn the_role_partition_decides_which_provider_applies() {
    let repo = copy_repo("check-iam-partitions");
    let dir = TempDir::new("check-iam-partitions");
    let pinned = serde_json::json!({"StringEquals": {AUD: "sts.amazonaws.com", SUB: RELEASE}});
    let china = policy("aws-cn", pinned.clone());
    // Nothing says the role is in China: the release could never use that provider.
    let (report, out) = check(repo.path(), dir.path(), &china, &[], &[("AWS_REGION", "eu-central-1")]);
    assert_eq!(report["status"], "fail", "{report:#}");
    assert!(!out.status.success());
    let why = finding(&report, "trust.provider").unwrap_or_else(|| panic!("{report:#}"));
    assert!(why.contains("partition aws-cn") && why.contains("from the region eu-central-1"), "{why}");
    // The role's ARN says it is: the same document passes, and the region no longer decides.
    let role = ["--role-arn", "arn:aws-cn:iam::123456789012:role/release"];
    let (report, out) = check(repo.path(), dir.path(), &china, &role, &[("AWS_REGION", "eu-central-1")]);
    assert_eq!(report["status"], "pass", "{report:#}");
    assert!(out.status.success() && finding(&report, "trust.ok").is_some(), "{report:#}");
    // A China region says so too, and then the commercial provider is the wrong one.
    let (report, _) = check(repo.path(), dir.path(), &china, &[], &[("AWS_REGION", "cn-north-1")]);
    assert_eq!(report["status"], "pass", "{report:#}");
    let (report, _) = check(repo.path(), dir.path(), &policy("aws", pinned), &[], &[("AWS_REGION", "cn-north-1")]);
    assert_eq!(report["status"], "fail", "{report:#}");
}

#[test]
fn a_document_larger_than_iam_accepts_is_refused() {
    let repo = copy_repo("check-iam-size");
    let dir = TempDir::new("check-iam-size");
    let subs: Vec<String> = (0..100).map(|i| format!("{RELEASE}-{i}")).collect();
    let large = policy("aws", serde_json::json!({"StringEquals": {AUD: "sts.amazonaws.com", SUB: subs}}));
    assert!(large.len() > 4096);
    let (report, out) = check(repo.path(), dir.path(), &large, &[], &[]);
    assert_eq!(report["status"], "fail", "{report:#}");
    assert!(!out.status.success());
    let why = finding(&report, "policy.too-large").unwrap_or_else(|| panic!("{report:#}"));
    assert!(why.contains("4096") && why.contains("2048") && why.contains("reference_iam-quotas"), "{why}");
    // The same size in whitespace is not counted, as IAM does not count it.
    let small = policy("aws", serde_json::json!({"StringEquals": {AUD: "sts.amazonaws.com", SUB: RELEASE}}));
    let padded = small.replace(',', &format!(",{}", " ".repeat(1000)));
    assert!(padded.len() > 4096);
    let (report, _) = check(repo.path(), dir.path(), &padded, &[], &[]);
    assert_eq!(report["status"], "pass", "{report:#}");
}

#[test]
fn an_address_condition_says_what_cannot_be_known() {
    let repo = copy_repo("check-iam-address");
    let dir = TempDir::new("check-iam-address");
    let document = policy(
        "aws",
        serde_json::json!({"StringEquals": {AUD: "sts.amazonaws.com", SUB: RELEASE},
            "IpAddress": {"aws:SourceIp": ["192.0.2.0/24"]}}),
    );
    let (report, out) = check(repo.path(), dir.path(), &document, &[], &[]);
    assert_eq!(report["status"], "warn", "{report:#}");
    assert!(out.status.success());
    let why = finding(&report, "trust.unknowable-condition").unwrap_or_else(|| panic!("{report:#}"));
    assert!(why.contains("IpAddress on aws:SourceIp") && why.contains("runner"), "{why}");
    assert!(!report.to_string().contains("does not know"), "{report:#}");
}
