//! Trust policies modelled on public examples of GitHub OIDC trust policies: the
//! GitHub and AWS documentation, vendors' rule pages, blog posts, gists, Terraform
//! and CDK modules, and issues and pull requests about them. Each cites its source
//! and states the expected status and key findings for the repository the example
//! names (placeholders filled in as `octo-org/octo-repo`), with the release job in
//! environment `release` unless the example is about tag pushes or another
//! environment.

use super::*;

/// The release job of `owner/name` in `environment` (`None`: a `v*` tag push).
fn job(owner: &str, name: &str, environment: Option<&str>) -> TrustContext {
    TrustContext { repo: RepoRef::new(owner, name), environment: environment.map(str::to_owned), ..env_ctx() }
}

fn octo(environment: Option<&str>) -> TrustContext {
    job("octo-org", "octo-repo", environment)
}

/// A GitHub statement with `condition` and the provider of `ACCOUNT`.
fn with(condition: Value) -> String {
    trust_with(condition)
}

fn aud() -> Value {
    json!("sts.amazonaws.com")
}

pub(super) fn cases() -> Vec<TrustCase> {
    vec![
        // https://github.com/github/docs/pull/28291 (GitHub's AWS guide): "StringLike is used
        // with a wildcard operator (*) to allow any branch, pull request merge branch, or
        // environment from the octo-org/octo-repo organization and repository".
        case(
            "GitHub's AWS guide, any branch or environment",
            with(json!({"StringEquals": {AUD: aud()}, "StringLike": {SUB: "repo:octo-org/octo-repo:*"}})),
            &[("trust.broad-subject", High), ("trust.wildcard-boundary", High)],
            Status::Warn,
        )
        .ctx(octo(Some("release")))
        .absent(BREAKAGE),
        // https://github.com/github/docs/pull/28291: the branch example of the same guide,
        // "repo:octo-org/octo-repo:ref:refs/heads/octo-branch", for a tag-push release.
        case(
            "GitHub's AWS guide, one branch",
            with(json!({"StringEquals": {AUD: aud(), SUB: "repo:octo-org/octo-repo:ref:refs/heads/octo-branch"}})),
            &[("trust.subject-mismatch", Error), ("trust.broad-subject", High)],
            Status::Fail,
        )
        .ctx(octo(None)),
        // https://docs.github.com/en/actions/reference/security/oidc#filtering-for-a-specific-environment:
        // "repo:octo-org/octo-repo:environment:Production".
        case(
            "GitHub's OIDC reference, one environment",
            with(json!({"StringEquals": {AUD: aud(), SUB: "repo:octo-org/octo-repo:environment:Production"}})),
            &[("trust.ok", Info)],
            Status::Pass,
        )
        .ctx(octo(Some("Production")))
        .says("trust.ok", "proven"),
        // https://docs.github.com/en/actions/reference/security/oidc#filtering-for-pull_request-events:
        // "repo:octo-org/octo-repo:pull_request" (a pull request job cannot be the release job).
        case(
            "GitHub's OIDC reference, pull requests",
            with(json!({"StringEquals": {AUD: aud(), SUB: "repo:octo-org/octo-repo:pull_request"}})),
            &[("trust.subject-mismatch", Error), ("trust.broad-subject", High)],
            Status::Fail,
        )
        .ctx(octo(Some("release"))),
        // https://github.com/aws-actions/configure-aws-credentials#sample-iam-oidc-cloudformation-template:
        // StringEquals aud, StringLike sub "repo:${GitHubOrg}/${RepositoryName}:*".
        case(
            "configure-aws-credentials' CloudFormation sample",
            with(json!({"StringEquals": {AUD: aud()}, "StringLike": {SUB: "repo:octo-org/octo-repo:*"}})),
            &[("trust.broad-subject", High), ("trust.wildcard-boundary", High)],
            Status::Warn,
        )
        .ctx(octo(Some("release"))),
        // https://docs.datadoghq.com/security/default_rules/aws-iam-role-trust-policy-misconfigured-github/:
        // the rule's compliant example, "repo:your-organization/your-repository:*".
        case(
            "Datadog's compliant example",
            with(json!({"StringEquals": {AUD: aud()}, "StringLike": {SUB: "repo:octo-org/octo-repo:*"}})),
            &[("trust.broad-subject", High)],
            Status::Warn,
        )
        .ctx(octo(Some("release")))
        .absent(&["trust.sub-unrestricted", "trust.foreign-repository"]),
        // https://haitmg.pl/blog/github-actions-oidc-aws-backdoor: "Vulnerable - missing sub
        // condition" (aud only).
        case(
            "a blog's vulnerable policy, aud only",
            with(json!({"StringEquals": {AUD: aud()}})),
            &[("trust.sub-unrestricted", Critical)],
            Status::Fail,
        )
        .ctx(octo(Some("release"))),
        // https://haitmg.pl/blog/github-actions-oidc-aws-backdoor: "Secure - restricts to your
        // repo", "repo:your-org/your-repo:*": safe from other repositories, not from other
        // branches.
        case(
            "the same blog's secure policy",
            with(json!({"StringEquals": {AUD: aud()}, "StringLike": {SUB: "repo:octo-org/octo-repo:*"}})),
            &[("trust.broad-subject", High)],
            Status::Warn,
        )
        .ctx(octo(Some("release")))
        .absent(&["trust.any-repository", "trust.org-wide", "trust.foreign-repository"]),
        // https://gist.github.com/magusd/b9fe462a5b477d9b93b2f0c46b9dd06a: "Github assume role
        // trust policy", aud only, the provider of account 515979638763.
        case(
            "a gist with aud only",
            doc(json!([{"Effect": "Allow",
                "Principal": {"Federated": "arn:aws:iam::515979638763:oidc-provider/token.actions.githubusercontent.com"},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": {AUD: aud()}}}])),
            &[("trust.sub-unrestricted", Critical)],
            Status::Fail,
        )
        .ctx(TrustContext { account: Some("515979638763".into()), ..octo(Some("release")) }),
        // https://github.com/clockwork-marketing-uk/actions-aws-auth (README): every
        // repository of the organisation, "repo:{GITHUB_ORG_NAME}/*:*".
        case(
            "an action's README, the whole organisation",
            with(json!({"StringEquals": {AUD: aud()}, "StringLike": {SUB: "repo:octo-org/*:*"}})),
            &[("trust.org-wide", High), ("trust.broad-subject", High), ("trust.wildcard-boundary", High)],
            Status::Warn,
        )
        .ctx(octo(Some("release"))),
        // https://gist.github.com/brysontyrrell/38037dc31ab70cad0b9061d6691d909e:
        // "ForAllValues:StringLike" on aud and on sub "repo:${GitHubOrg}/${RepositoryName}:*".
        case(
            "a CloudFormation gist with ForAllValues",
            with(json!({"ForAllValues:StringLike": {AUD: aud(), SUB: "repo:octo-org/octo-repo:*"}})),
            &[("trust.set-operator", Critical), ("trust.broad-subject", High)],
            Status::Fail,
        )
        .ctx(octo(Some("release"))),
        // https://gist.github.com/rileydakota/def49a816a08163c0e2fad86bc7b8a53: StringLike sub
        // "repo:${GitHubOrg}/${RepositoryName}:*" and no aud condition.
        case(
            "a CloudFormation gist without aud",
            with(json!({"StringLike": {SUB: "repo:octo-org/octo-repo:*"}})),
            &[("trust.broad-subject", High), ("trust.audience", Medium)],
            Status::Warn,
        )
        .ctx(octo(Some("release"))),
        // https://github.com/terraform-aws-modules/terraform-aws-iam/blob/007a05304eb62745b3a0e5ea2a1fe46d8b31a2ad/modules/iam-github-oidc-role/main.tf:
        // ForAllValues:StringEquals on iss and aud, StringLike sub "repo:${subject}" with the
        // README's subject "terraform-aws-modules/terraform-aws-iam:*", TagSession too.
        case(
            "terraform-aws-modules' GitHub OIDC role",
            doc(json!([{"Sid": "GithubOidcAuth", "Effect": "Allow",
                "Principal": {"Federated": PROVIDER},
                "Action": ["sts:TagSession", "sts:AssumeRoleWithWebIdentity"],
                "Condition": {
                    "ForAllValues:StringEquals": {
                        "token.actions.githubusercontent.com:iss": "http://token.actions.githubusercontent.com",
                        AUD: "sts.amazonaws.com"},
                    "StringLike": {SUB: ["repo:terraform-aws-modules/terraform-aws-iam:*"]}}}])),
            &[("trust.set-operator", Critical), ("trust.broad-subject", High)],
            Status::Fail,
        )
        .ctx(job("terraform-aws-modules", "terraform-aws-iam", Some("release"))),
        // https://github.com/unfunco/terraform-aws-oidc-github/blob/0216f7b5ffe409943efc9afd22e59278e5105ec9/data.tf
        // (and main.tf of that commit): StringLike sub "repo:${org}/${repo}:*", no aud, and a
        // provider whose client ids are ["https://github.com/${org}", "sts.amazonaws.com"].
        case(
            "an older Terraform module, no aud, two audiences",
            with(json!({"StringLike": {SUB: ["repo:octo-org/octo-repo:*"]}})),
            &[("trust.broad-subject", High), ("trust.audience", Medium)],
            Status::Warn,
        )
        .ctx(octo(Some("release")))
        .facts(TrustFacts {
            provider: Some(ProviderFacts {
                exists: true,
                client_ids: vec!["https://github.com/octo-org".into(), "sts.amazonaws.com".into()],
            }),
            ..TrustFacts::default()
        })
        .says("trust.audience", "https://github.com/octo-org"),
        // https://zeyad-abulaban.gitbook.io/notes/devops/github-actions: "Example Trust Policy",
        // StringEquals sub ["repo:<ORG>/<REPO>:ref:refs/heads/main", "repo:<ORG>/<REPO>:pull_request"].
        case(
            "a notes page, main and pull requests",
            with(json!({"StringEquals": {AUD: aud(),
                SUB: ["repo:octo-org/octo-repo:ref:refs/heads/main", "repo:octo-org/octo-repo:pull_request"]}})),
            &[("trust.subject-mismatch", Error), ("trust.broad-subject", High)],
            Status::Fail,
        )
        .ctx(octo(Some("release")))
        .says("trust.broad-subject", "repo:octo-org/octo-repo:pull_request"),
        // https://wiki.fabienrenaud.fr/aws/cicd/github/create-iam-role-for-github-oidc-provider:
        // StringEquals sub "repo:<org>/<repo>:ref:refs/heads/master:actor:*" (a pattern that
        // StringEquals takes literally).
        case(
            "a wiki's StringEquals with a wildcard",
            with(json!({"StringEquals": {AUD: aud(),
                SUB: "repo:octo-org/octo-repo:ref:refs/heads/master:actor:*"}})),
            &[("trust.stringequals-wildcard", Error)],
            Status::Fail,
        )
        .ctx(octo(None)),
        // https://awsteele.com/blog/2023/01/11/improve-github-actions-oidc-security-posture-with-custom-issuer.html:
        // the provider of an enterprise's custom issuer (…/octocat-inc), StringLike sub
        // "repo:your-org/your-repo:*", while the release job's tokens come from the default issuer.
        case(
            "a custom-issuer provider",
            doc(json!([{"Effect": "Allow", "Principal": {"Federated": format!("{PROVIDER}/octocat-inc")},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": {AUD: aud()}, "StringLike": {SUB: "repo:octo-org/octo-repo:*"}}}])),
            &[("trust.provider", Error)],
            Status::Fail,
        )
        .ctx(octo(Some("release")))
        .says("trust.provider", "enterprise issuer"),
        // https://github.com/aripalo/aws-cdk-github-oidc/blob/main/src/role.ts: the construct
        // writes "ForAnyValue:StringLike" on sub, here with the README's filter
        // "ref:refs/tags/v*", and StringEquals aud.
        case(
            "a CDK construct's ForAnyValue on sub",
            with(json!({"ForAnyValue:StringLike": {SUB: ["repo:octo-org/octo-repo:ref:refs/tags/v*"]},
                "StringEquals": {AUD: aud()}})),
            &[("trust.set-operator", Critical)],
            Status::Fail,
        )
        .ctx(octo(None))
        .absent(&["trust.broad-subject", "trust.subject-mismatch"]),
        // https://medium.com/tinder/identifying-vulnerabilities-in-github-actions-aws-oidc-configurations-8067c400d5b8:
        // the organisation-wide wildcard "repo:ORG/*" the article finds in the wild.
        case(
            "an organisation-wide wildcard from a security blog",
            with(json!({"StringEquals": {AUD: aud()}, "StringLike": {SUB: "repo:octo-org/*"}})),
            &[("trust.org-wide", High), ("trust.broad-subject", High), ("trust.wildcard-boundary", High)],
            Status::Warn,
        )
        .ctx(octo(Some("release"))),
        // https://github.com/gebalamariusz/cloud-audit/issues/17: IAM's creation-time check
        // accepts "repo:*", which restricts nothing.
        case(
            "repo:* accepted by IAM",
            with(json!({"StringEquals": {AUD: aud()}, "StringLike": {SUB: "repo:*"}})),
            &[("trust.any-repository", Critical), ("trust.wildcard-boundary", High)],
            Status::Fail,
        )
        .ctx(octo(Some("release"))),
        // https://github.com/gebalamariusz/cloud-audit/issues/17: "repo:*/*" is accepted too.
        case(
            "repo:*/* accepted by IAM",
            with(json!({"StringEquals": {AUD: aud()}, "StringLike": {SUB: "repo:*/*"}})),
            &[("trust.any-repository", Critical)],
            Status::Fail,
        )
        .ctx(octo(Some("release"))),
        // https://github.com/github/docs/pull/18728: "ForAllValues:StringEquals" on aud and sub,
        // proposed for GitHub's guide.
        case(
            "a docs pull request with ForAllValues on both claims",
            with(json!({"ForAllValues:StringEquals": {AUD: aud(),
                SUB: "repo:octo-org/octo-repo:ref:refs/heads/octo-branch"}})),
            &[("trust.set-operator", Critical)],
            Status::Fail,
        )
        .ctx(octo(None)),
        // https://github.com/github/docs/issues/15769: the compromise proposed there,
        // ForAllValues on aud only and StringEquals on sub (here the release environment).
        case(
            "a docs issue's compromise, ForAllValues on aud",
            with(json!({"ForAllValues:StringEquals": {AUD: aud()},
                "StringEquals": {SUB: "repo:octo-org/octo-repo:environment:release"}})),
            &[("trust.set-operator", Critical)],
            Status::Fail,
        )
        .ctx(octo(Some("release")))
        .absent(ADMITS),
        // https://github.com/BishopFox/cloudfox/pull/118: a role trusting
        // "ForAllValues:StringLike" sub "repo:BishopFox/cloudfox:*".
        case(
            "a scanner's test case, ForAllValues on sub",
            with(json!({"ForAllValues:StringLike": {SUB: "repo:BishopFox/cloudfox:*"}, "StringEquals": {AUD: aud()}})),
            &[("trust.set-operator", Critical), ("trust.broad-subject", High)],
            Status::Fail,
        )
        .ctx(job("BishopFox", "cloudfox", Some("release"))),
        // Issue #14 of this project: a policy that check-iam passed before the pattern
        // analysis, StringLike sub ["repo:OWNER/REPO:environment:release", "repo:someone-else/*"].
        case(
            "the issue that asked for the pattern analysis",
            with(json!({"StringEquals": {AUD: aud()},
                "StringLike": {SUB: ["repo:octo-org/octo-repo:environment:release", "repo:someone-else/*"]}})),
            &[("trust.foreign-repository", Critical), ("trust.wildcard-boundary", High)],
            Status::Fail,
        )
        .ctx(octo(Some("release")))
        .absent(BREAKAGE),
    ]
}

/// The examples are many and each cites its source.
#[test]
fn at_least_twenty_public_examples() {
    let source = include_str!("public.rs");
    let cited = source
        .lines()
        .map(str::trim_start)
        .filter(|it| it.starts_with("// https://") || it.starts_with("// Issue #"))
        .count();
    assert!(cases().len() >= 20 && cited >= cases().len(), "{} cases, {cited} sources", cases().len());
}

const ADMITS: &[&str] = &["trust.any-repository", "trust.org-wide", "trust.foreign-repository", "trust.broad-subject"];
