//! A regression corpus of correct published trust policies: each from AWS's or
//! GitHub's documentation or a maintained Terraform module, for the job it was
//! written for (a branch, an environment, a tag push), in the partition it names.
//! None of them may turn into a false alarm: each passes, or warns for the reason
//! its source documents (a wildcard it chose, another principal it adds), and
//! none fails, nor says the proof is undecided.

use super::*;
use crate::policy::trust::DEFAULT_RELEASE_REF;

/// A job of `octo-org/octo-repo` in `environment`, or on `git_ref` without one.
fn job(environment: Option<&str>, git_ref: &str) -> TrustContext {
    TrustContext {
        repo: RepoRef::new("octo-org", "octo-repo"),
        environment: environment.map(str::to_owned),
        release_ref: git_ref.to_owned(),
        ..env_ctx()
    }
}

const MAIN: &str = "refs/heads/main";

fn statement(provider: &str, condition: Value) -> Value {
    json!({"Effect": "Allow", "Principal": {"Federated": provider}, "Action": "sts:AssumeRoleWithWebIdentity",
           "Condition": condition})
}

/// Never a failure, never undecided, never a broken release.
const NO_ALARM: &[&str] = &[
    "trust.unproven",
    "trust.subject-mismatch",
    "trust.provider",
    "trust.audience",
    "trust.foreign-repository",
    "trust.any-repository",
    "trust.prefix-wildcard",
    "trust.not-applicable",
];

pub(super) fn cases() -> Vec<TrustCase> {
    [cases_1(), cases_2()].into_iter().flatten().collect()
}

fn cases_1() -> Vec<TrustCase> {
    [cases_1_1(), cases_1_2()].into_iter().flatten().collect()
}

fn cases_1_1() -> Vec<TrustCase> {
    let aud = json!("sts.amazonaws.com");
    vec![
        // https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_create_for-idp_oidc.html
        // ("Configuring a role for GitHub OIDC identity provider"): StringEquals aud and sub
        // "repo:GitHubOrg/GitHubRepo:ref:refs/heads/GitHubBranch", for a job on that branch.
        case(
            "AWS IAM User Guide, one branch",
            doc(json!([statement(
                PROVIDER,
                json!({"StringEquals": {AUD: aud, SUB: "repo:octo-org/octo-repo:ref:refs/heads/main"}})
            )])),
            &[("trust.ok", Info)],
            Status::Pass,
        )
        .ctx(job(None, MAIN)),
        // The same page: StringLike on aud and sub "repo:GitHubOrg/GitHubRepo:*", "any branch
        // within the repository": a documented breadth.
        case(
            "AWS IAM User Guide, any branch of the repository",
            doc(json!([statement(PROVIDER, json!({"StringLike": {AUD: aud, SUB: "repo:octo-org/octo-repo:*"}}))])),
            &[("trust.broad-subject", High)],
            Status::Warn,
        )
        .ctx(job(None, MAIN)),
        // The same page: "repo:GitHubOrg/*", "recommended as a minimum trust policy condition".
        case(
            "AWS IAM User Guide, the organisation minimum",
            doc(json!([statement(PROVIDER, json!({"StringLike": {AUD: aud, SUB: "repo:octo-org/*"}}))])),
            &[("trust.org-wide", High)],
            Status::Warn,
        )
        .ctx(job(None, MAIN)),
        // https://docs.github.com/en/actions/how-tos/secure-your-work/security-harden-deployments/oidc-in-aws
        // ("Configuring the role and trust policy"): StringEquals aud and sub
        // "repo:octo-org/octo-repo:ref:refs/heads/octo-branch".
        case(
            "GitHub's AWS guide, one branch, for a job on it",
            doc(json!([statement(
                PROVIDER,
                json!({"StringEquals": {AUD: aud, SUB: "repo:octo-org/octo-repo:ref:refs/heads/octo-branch"}})
            )])),
            &[("trust.ok", Info)],
            Status::Pass,
        )
        .ctx(job(None, "refs/heads/octo-branch")),
    ]
}

fn cases_1_2() -> Vec<TrustCase> {
    let aud = json!("sts.amazonaws.com");
    vec![
        // https://docs.github.com/en/actions/reference/security/oidc#filtering-for-a-specific-environment:
        // "repo:octo-org/octo-repo:environment:Production".
        case(
            "GitHub's OIDC reference, one environment",
            doc(json!([statement(
                PROVIDER,
                json!({"StringEquals": {AUD: aud, SUB: "repo:octo-org/octo-repo:environment:Production"}})
            )])),
            &[("trust.ok", Info)],
            Status::Pass,
        )
        .ctx(job(Some("Production"), DEFAULT_RELEASE_REF)),
        // https://docs.github.com/en/actions/reference/security/oidc#filtering-for-a-specific-tag:
        // "repo:octo-org/octo-repo:ref:refs/tags/demo-tag", for a tag push.
        case(
            "GitHub's OIDC reference, one tag",
            doc(json!([statement(
                PROVIDER,
                json!({"StringEquals": {AUD: aud, SUB: "repo:octo-org/octo-repo:ref:refs/tags/demo-tag"}})
            )])),
            &[("trust.ok", Info)],
            Status::Pass,
        )
        .ctx(job(None, "refs/tags/demo-tag")),
        // The GitHub guide's environment example as a GovCloud role writes it (the provider in
        // arn:aws-us-gov, the partition of the role): partitions must not raise false alarms.
        case(
            "GitHub's environment example in GovCloud",
            doc(json!([statement(
                "arn:aws-us-gov:iam::123456789012:oidc-provider/token.actions.githubusercontent.com",
                json!({"StringEquals": {AUD: aud, SUB: "repo:octo-org/octo-repo:environment:Production"}})
            )])),
            &[("trust.ok", Info)],
            Status::Pass,
        )
        .ctx(TrustContext { partition: "aws-us-gov".into(), ..job(Some("Production"), DEFAULT_RELEASE_REF) }),
    ]
}

fn cases_2() -> Vec<TrustCase> {
    let aud = json!("sts.amazonaws.com");
    vec![
        // The same in the China partition.
        case(
            "GitHub's environment example in China",
            doc(json!([statement(
                "arn:aws-cn:iam::123456789012:oidc-provider/token.actions.githubusercontent.com",
                json!({"StringEquals": {AUD: aud, SUB: "repo:octo-org/octo-repo:environment:Production"}})
            )])),
            &[("trust.ok", Info)],
            Status::Pass,
        )
        .ctx(TrustContext { partition: "aws-cn".into(), ..job(Some("Production"), DEFAULT_RELEASE_REF) }),
        // https://github.com/unfunco/terraform-aws-oidc-github/blob/c1d6cc13cfd7668784dec11e96f23061b346eae0/data.tf:
        // StringLike sub "repo:${repo}:*" for each repository ("repo:${repo}" when it names a
        // context), StringEquals aud.
        case(
            "unfunco's module, a repository",
            doc(json!([statement(PROVIDER, json!({"StringLike": {SUB: ["repo:octo-org/octo-repo:*"]}, "StringEquals": {AUD: ["sts.amazonaws.com"]}}))])),
            &[("trust.broad-subject", High)],
            Status::Warn,
        )
        .ctx(job(Some("release"), DEFAULT_RELEASE_REF)),
        case(
            "unfunco's module, a repository with its context",
            doc(json!([statement(PROVIDER, json!({"StringLike": {SUB: ["repo:octo-org/octo-repo:environment:release"]}, "StringEquals": {AUD: ["sts.amazonaws.com"]}}))])),
            &[("trust.ok", Info)],
            Status::Pass,
        )
        .ctx(job(Some("release"), DEFAULT_RELEASE_REF)),
        // https://github.com/philips-labs/terraform-aws-github-oidc/blob/07c87dc32b012ba5e830b6949967607241ce5730/main.tf
        // with the default conditions ["allow_main", "deny_pull_request"] (variables.tf): StringEquals
        // aud, StringLike sub "repo:REPO:ref:refs/heads/main", StringNotLike sub "repo:REPO:pull_request".
        case(
            "philips-labs' module, main and no pull requests",
            doc(json!([statement(PROVIDER, json!({
                "StringEquals": {AUD: ["sts.amazonaws.com"]},
                "StringLike": {SUB: ["repo:octo-org/octo-repo:ref:refs/heads/main"]},
                "StringNotLike": {SUB: ["repo:octo-org/octo-repo:pull_request"]}}))])),
            &[("trust.ok", Info)],
            Status::Pass,
        )
        .ctx(job(None, MAIN)),
        // The same module's examples/default/main.tf: ["allow_environment"] with github_environments
        // ["production"], and account_ids (a second statement, sts:AssumeRole for the account's root):
        // a documented other principal.
        case(
            "philips-labs' example, an environment and the account's root",
            doc(json!([
                {"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::123456789012:root"]}, "Action": "sts:AssumeRole"},
                statement(PROVIDER, json!({
                    "StringEquals": {AUD: ["sts.amazonaws.com"]},
                    "StringLike": {SUB: ["repo:octo-org/octo-repo:environment:production"]}}))
            ])),
            &[("trust.extra-principal", High)],
            Status::Warn,
        )
        .ctx(job(Some("production"), DEFAULT_RELEASE_REF)),
        case(
            "philips-labs' module, an environment",
            doc(json!([statement(PROVIDER, json!({
                "StringEquals": {AUD: ["sts.amazonaws.com"]},
                "StringLike": {SUB: ["repo:octo-org/octo-repo:environment:production"]}}))])),
            &[("trust.ok", Info)],
            Status::Pass,
        )
        .ctx(job(Some("production"), DEFAULT_RELEASE_REF)),
    ]
}

/// No published policy of the corpus fails, or is left undecided.
#[test]
fn published_policies_raise_no_false_alarm() {
    let corpus = cases();
    assert!(corpus.len() >= 12, "{} policies", corpus.len());
    for case in corpus {
        let findings = analyse_trust(&case.policy, &case.ctx, &case.facts);
        let shown = render_text(&findings);
        assert_ne!(status(&findings), Status::Fail, "{}:\n{shown}", case.name);
        for id in NO_ALARM {
            assert!(!findings.iter().any(|it| it.id == *id && it.severity > Info), "{}: {id} in\n{shown}", case.name);
        }
    }
}
