//! Table cases of the pattern analysis: what each kind of `sub` condition admits
//! (StringEquals, StringLike, IgnoreCase, the set qualifiers, IfExists, the negated
//! operators, Deny statements, other claims), in both subject forms, and the fixed
//! look-alikes (`scenario::counter_examples`), each of which the analysis must
//! catch.

use super::*;

fn sub_like_all(subs: &[&str]) -> String {
    trust_with(json!({"StringEquals": {AUD: "sts.amazonaws.com"}, "StringLike": {SUB: subs}}))
}

fn sub_equals_all(subs: &[&str]) -> String {
    trust_with(json!({"StringEquals": {AUD: "sts.amazonaws.com", SUB: subs}}))
}

const REPOSITORY: &str = "token.actions.githubusercontent.com:repository";
const ENVIRONMENT: &str = "token.actions.githubusercontent.com:environment";

/// The ids of a pattern that admits someone it must not.
const ADMITS: &[&str] = &[
    "trust.any-repository",
    "trust.prefix-wildcard",
    "trust.org-wide",
    "trust.foreign-repository",
    "trust.broad-subject",
];

pub(super) fn cases() -> Vec<TrustCase> {
    [cases_1(), cases_2(), cases_3(), cases_4()].into_iter().flatten().collect()
}

fn cases_1() -> Vec<TrustCase> {
    vec![
        case(
            "the issue's case: a foreign owner next to the release subject",
            sub_like_all(&[ENV_SUB, "repo:someone-else/*"]),
            &[("trust.foreign-repository", Critical), ("trust.wildcard-boundary", High)],
            Status::Fail,
        )
        .absent(BREAKAGE)
        .says("trust.foreign-repository", "repo:someone-else/x:"),
        case(
            "a foreign repository spelled out",
            sub_equals_all(&[ENV_SUB, "repo:someone-else/tool:environment:release"]),
            &[("trust.foreign-repository", Critical)],
            Status::Fail,
        )
        .absent(&["trust.wildcard-boundary", "trust.any-repository"])
        .says("trust.foreign-repository", "repo:someone-else/tool:environment:release"),
        case(
            "another repository of the owner spelled out",
            sub_equals_all(&[ENV_SUB, "repo:octo-org/website:environment:release"]),
            &[("trust.foreign-repository", Critical)],
            Status::Fail,
        )
        .absent(&["trust.org-wide"])
        .says("trust.foreign-repository", "octo-org/website"),
        case(
            "a prefix of a foreign owner",
            sub_like_all(&[ENV_SUB, "repo:someone-*"]),
            &[("trust.foreign-repository", Critical), ("trust.wildcard-boundary", High)],
            Status::Fail,
        ),
        case(
            "any owner, but only environment release",
            sub_like("repo:*:environment:release"),
            &[("trust.any-repository", Critical), ("trust.wildcard-boundary", High)],
            Status::Fail,
        )
        .says("trust.any-repository", "repo:attacker/x:environment:release")
        .says("trust.wildcard-boundary", "between owner and repository"),
        case(
            "any repository of the owner, environment release",
            sub_like("repo:octo-org/*:environment:release"),
            &[("trust.org-wide", High)],
            Status::Warn,
        )
        // The wildcard stays inside the repository name.
        .absent(&["trust.wildcard-boundary", "trust.broad-subject", "trust.foreign-repository"]),
        case(
            "any environment of the repository",
            sub_like("repo:octo-org/yamause:environment:*"),
            &[("trust.broad-subject", High)],
            Status::Warn,
        )
        .absent(&["trust.wildcard-boundary", "trust.org-wide", "trust.foreign-repository"])
        .says("trust.broad-subject", "environment:scratch"),
        case(
            "owner-wide pattern crosses into the context",
            sub_like("repo:octo-org/*"),
            &[("trust.org-wide", High), ("trust.broad-subject", High), ("trust.wildcard-boundary", High)],
            Status::Warn,
        )
        .says("trust.wildcard-boundary", "\":\" between the fields"),
        case(
            "repository prefix crosses into the context",
            sub_like("repo:octo-org/yamause*"),
            &[("trust.prefix-wildcard", Critical), ("trust.wildcard-boundary", High)],
            Status::Fail,
        ),
    ]
}

fn cases_2() -> Vec<TrustCase> {
    vec![
        case(
            "immutable form with a context wildcard",
            sub_like("repo:octo-org@9919/yamause@1296269:*"),
            &[("trust.broad-subject", High), ("trust.wildcard-boundary", High)],
            Status::Warn,
        )
        .ctx(ids_ctx())
        .absent(&["trust.foreign-repository", "trust.any-repository"]),
        case(
            "immutable form of another owner",
            sub_equals_all(&[IMMUTABLE_ENV_SUB, "repo:someone-else@42/tool@43:environment:release"]),
            &[("trust.foreign-repository", Critical)],
            Status::Fail,
        )
        .ctx(ids_ctx())
        .says("trust.foreign-repository", "repo:someone-else@42/tool@43:environment:release"),
        case(
            "both forms of the release subject",
            sub_equals_all(&[ENV_SUB, IMMUTABLE_ENV_SUB]),
            &[("trust.ok", Info)],
            Status::Pass,
        )
        .ctx(ids_ctx())
        .absent(ADMITS)
        .says("trust.ok", "proven"),
        case(
            "owner and names in another letter case, IgnoreCase",
            trust_with(json!({"StringEquals": {AUD: "sts.amazonaws.com"},
                "StringEqualsIgnoreCase": {SUB: "REPO:OCTO-ORG/YAMAUSE:ENVIRONMENT:RELEASE"}})),
            &[("trust.ok", Info)],
            Status::Pass,
        )
        .absent(ADMITS),
        case(
            "negated conditions take a little away, not enough",
            trust_with(json!({
                "StringEquals": {AUD: "sts.amazonaws.com"},
                "StringLike": {SUB: "repo:octo-org/yamause:*"},
                "StringNotLike": {SUB: ["repo:octo-org/yamause:pull_request", "repo:octo-org/yamause:ref:*"]},
            })),
            &[("trust.broad-subject", High)],
            Status::Warn,
        )
        .says("trust.broad-subject", "environment:"),
        case(
            "negated conditions take everything else away",
            trust_with(json!({
                "StringEquals": {AUD: "sts.amazonaws.com"},
                "StringLike": {SUB: "repo:octo-org/yamause:environment:release*"},
                "StringNotLikeIfExists": {SUB: "repo:octo-org/yamause:environment:release?*"},
            })),
            &[("trust.ok", Info)],
            Status::Pass,
        )
        .absent(ADMITS)
        .says("trust.ok", "proven"),
        case(
            "a Deny statement takes the pull requests away, branches remain",
            doc(json!([
                github(json!({"StringEquals": {AUD: "sts.amazonaws.com"}, "StringLike": {SUB: "repo:octo-org/yamause:*"}})),
                {"Effect": "Deny", "Principal": {"Federated": PROVIDER}, "Action": "sts:AssumeRoleWithWebIdentity",
                 "Condition": {"StringLike": {SUB: "*:pull_request"}}},
            ])),
            &[("trust.broad-subject", High)],
            Status::Warn,
        )
        .says("trust.broad-subject", "refs/heads/feature-x"),
    ]
}

fn cases_3() -> Vec<TrustCase> {
    vec![
        case(
            "a Deny statement on another claim",
            doc(json!([
                github(json!({"StringEquals": {AUD: "sts.amazonaws.com"}, "StringLike": {SUB: "repo:octo-org/yamause:*"}})),
                {"Effect": "Deny", "Principal": {"Federated": PROVIDER}, "Action": "sts:AssumeRoleWithWebIdentity",
                 "Condition": {"StringNotEquals": {ENVIRONMENT: "release"}}},
            ])),
            &[("trust.ok", Info)],
            Status::Pass,
        )
        .absent(ADMITS)
        .says("trust.ok", "with its conditions on other claims"),
        case(
            "other claims pin what a loose sub admits",
            trust_with(json!({
                "StringEquals": {AUD: "sts.amazonaws.com", ENVIRONMENT: "release", REPOSITORY: "octo-org/yamause"},
                "StringLike": {SUB: "repo:octo-org/*"},
            })),
            &[("trust.ok", Info)],
            Status::Pass,
        )
        .absent(ADMITS),
        case(
            "another claim names a foreign repository",
            trust_with(json!({
                "StringEquals": {AUD: "sts.amazonaws.com"},
                "StringLike": {SUB: "repo:*", REPOSITORY: ["octo-org/yamause", "someone-else/*"]},
            })),
            &[("trust.foreign-repository", Critical)],
            Status::Fail,
        )
        .says("trust.foreign-repository", "repo:someone-else/x"),
        case(
            "IfExists on sub changes nothing (sub is always there)",
            trust_with(json!({"StringEquals": {AUD: "sts.amazonaws.com"},
                "StringLikeIfExists": {SUB: ["repo:octo-org/yamause:environment:release", "repo:someone-else/*"]}})),
            &[("trust.foreign-repository", Critical)],
            Status::Fail,
        ),
        case(
            "ForAnyValue on sub is still read for what it admits",
            trust_with(json!({"StringEquals": {AUD: "sts.amazonaws.com"},
                "ForAnyValue:StringLike": {SUB: ["repo:octo-org/yamause:environment:release", "repo:octo-org/*"]}})),
            &[("trust.set-operator", Critical), ("trust.org-wide", High)],
            Status::Fail,
        ),
        case(
            "Null on sub restricts nothing",
            trust_with(json!({"StringEquals": {AUD: "sts.amazonaws.com"}, "Null": {SUB: "false"}})),
            &[("trust.sub-unrestricted", Critical)],
            Status::Fail,
        ),
        case(
            // IAM replaces a policy variable with a value of the request, so it may
            // be whatever the caller's request holds (IAM, "Policy variables").
            "a policy variable in sub is read as a wildcard",
            sub_like("repo:${aws:PrincipalTag/owner}/*"),
            &[("trust.any-repository", Critical)],
            Status::Fail,
        ),
        case(
            "a claim as a policy variable admits every repository's release environment",
            sub_like_all(&[ENV_SUB, "repo:${token.actions.githubusercontent.com:repository}:environment:release"]),
            &[("trust.any-repository", Critical)],
            Status::Fail,
        ),
    ]
}

fn cases_4() -> Vec<TrustCase> {
    vec![
        case(
            "the sub itself as a policy variable admits everyone",
            sub_equals_all(&[ENV_SUB, "${token.actions.githubusercontent.com:sub}"]),
            &[("trust.any-repository", Critical)],
            Status::Fail,
        ),
        case(
            "nine wildcards in a foreign pattern (`?` counts too; runs of `*` once)",
            sub_like_all(&[ENV_SUB, "repo:*:ref:refs/tags/release-????-??-??"]),
            &[("trust.any-repository", Critical)],
            Status::Fail,
        ),
        case(
            "a run of stars is one star",
            sub_like_all(&[ENV_SUB, "repo:m*********"]),
            &[("trust.foreign-repository", Critical)],
            Status::Fail,
        ),
        case(
            "a value with many wildcards is read like any other",
            sub_like_all(&[ENV_SUB, "repo:octo-org/yamause:environment:r*e*l*e*a*s*e*x*y*z"]),
            &[("trust.broad-subject", High)],
            Status::Warn,
        )
        .absent(&["trust.unproven", "trust.foreign-repository"])
        .says("trust.broad-subject", "r*e*l*e*a*s*e*x*y*z"),
        case(
            // Unknown ids are digits: `*mallory` cannot be the owner's id.
            "an owner suffix pattern is foreign, not the owner's",
            sub_like_all(&[ENV_SUB, "repo:*mallory/x:*"]),
            &[("trust.foreign-repository", Critical)],
            Status::Fail,
        ),
        case(
            "other ids under the release repository's names",
            sub_equals_all(&[IMMUTABLE_ENV_SUB, "repo:octo-org@999/yamause@888:environment:release"]),
            &[("trust.foreign-repository", Critical)],
            Status::Fail,
        )
        .ctx(ids_ctx()),
        case(
            "any ids under the release repository's names",
            sub_like_all(&[IMMUTABLE_ENV_SUB, "repo:octo-org@*/yamause@*:environment:release"]),
            &[("trust.foreign-repository", Critical)],
            Status::Fail,
        )
        .ctx(ids_ctx()),
        case(
            "tag pushes, proven",
            sub_like("repo:octo-org/yamause:ref:refs/tags/v*"),
            &[("trust.ok", Info)],
            Status::Pass,
        )
        .ctx(tag_ctx())
        .absent(ADMITS)
        .says("trust.ok", "v* tags"),
        case(
            "tag pushes, any tag",
            sub_like("repo:octo-org/yamause:ref:refs/tags/*"),
            &[("trust.broad-subject", High)],
            Status::Warn,
        )
        .ctx(tag_ctx()),
    ]
}

/// Each of the fixed look-alikes, admitted next to the release subject,
/// is caught and blamed on the value that admits it.
#[test]
fn every_counter_example_is_caught() {
    let none = TrustFacts::default();
    for (ctx, release) in [(env_ctx(), ENV_SUB), (ids_ctx(), IMMUTABLE_ENV_SUB)] {
        let counters = counter_example_subjects(&ctx, &none);
        assert_eq!(counters.len(), 14, "{counters:#?}");
        for counter in counters {
            // Unknown ids are shown as placeholders; any digits will do.
            let counter = counter.replace("OWNER_ID", "9919").replace("REPO_ID", "1296269");
            let findings = analyse_trust(&sub_equals_all(&[release, &counter]), &ctx, &none);
            let shown = render_text(&findings);
            assert_ne!(status(&findings), Status::Pass, "{counter}:\n{shown}");
            let caught =
                findings.iter().find(|it| ADMITS.contains(&it.id)).unwrap_or_else(|| panic!("{counter}:\n{shown}"));
            assert!(caught.message.contains(&format!("{counter:?}")), "{counter}:\n{shown}");
        }
    }
}

/// What a pattern admits is decided by the grammar, not by the probes: a pattern no
/// probe matches is still caught.
#[test]
fn patterns_no_fixed_probe_matches_are_caught() {
    for pattern in
        ["repo:zz-*/yamause:environment:release", "repo:?ctoorg/yamause:environment:release", "repo:*/yamause:*"]
    {
        let findings = analyse_trust(&sub_like_all(&[ENV_SUB, pattern]), &env_ctx(), &TrustFacts::default());
        assert!(
            findings.iter().any(|it| ADMITS.contains(&it.id) && it.message.contains(pattern)),
            "{pattern}:\n{}",
            render_text(&findings)
        );
    }
}

/// A policy full of long patterns still ends in reasonable time, with findings
/// (the searches give up cautiously rather than run on).
#[test]
fn pathological_patterns_end() {
    for repeats in [2, 60] {
        let long: Vec<String> = (0..40).map(|i| format!("repo:{}{i}*", "*a?".repeat(repeats))).collect();
        let long: Vec<&str> = long.iter().map(String::as_str).collect();
        let started = std::time::Instant::now();
        let findings = analyse_trust(&sub_like_all(&long), &env_ctx(), &TrustFacts::default());
        assert_ne!(status(&findings), Status::Pass, "{}", render_text(&findings));
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "took {:?}", started.elapsed());
    }
}

/// A Deny statement of another account's provider does not apply to the release's
/// tokens, so it narrows nothing: the foreign pattern is still caught.
#[test]
fn a_deny_that_does_not_apply_proves_nothing() {
    let other = "arn:aws:iam::210987654321:oidc-provider/token.actions.githubusercontent.com";
    let policy = doc(json!([
        github(json!({"StringEquals": {AUD: "sts.amazonaws.com"}, "StringLike": {SUB: [ENV_SUB, "repo:someone-else/*"]}})),
        {"Effect": "Deny", "Principal": {"Federated": other}, "Action": "sts:AssumeRoleWithWebIdentity",
         "Condition": {"StringNotEquals": {SUB: ENV_SUB}}},
    ]));
    let findings = analyse_trust(&policy, &env_ctx(), &TrustFacts::default());
    assert!(findings.iter().any(|it| it.id == "trust.foreign-repository"), "{}", render_text(&findings));
}

/// A Deny of another account's provider narrows nothing even when the role's
/// account is not known: the Allow statements' provider says which account it is.
#[test]
fn a_deny_of_another_account_narrows_nothing_without_the_role_account() {
    let other = "arn:aws:iam::999999999999:oidc-provider/token.actions.githubusercontent.com";
    let policy = doc(json!([
        github(json!({"StringEquals": {AUD: "sts.amazonaws.com"}, "StringLike": {SUB: "repo:*"}})),
        {"Effect": "Deny", "Principal": {"Federated": other}, "Action": "sts:AssumeRoleWithWebIdentity",
         "Condition": {"StringNotEquals": {SUB: ENV_SUB}}},
    ]));
    let ctx = TrustContext { account: None, ..env_ctx() };
    let findings = analyse_trust(&policy, &ctx, &TrustFacts::default());
    assert_eq!(status(&findings), Status::Fail, "{}", render_text(&findings));
}

/// Deny statements on claims STS may not put in the request (here `event_name`,
/// `ref_type`) do not prove that branches and pull requests are refused.
#[test]
fn denies_on_claims_sts_may_not_evaluate_prove_nothing() {
    let key = |name: &str| format!("token.actions.githubusercontent.com:{name}");
    let deny = |condition: Value| {
        json!({"Effect": "Deny", "Principal": {"Federated": PROVIDER}, "Action": "sts:AssumeRoleWithWebIdentity",
               "Condition": condition})
    };
    let policy = doc(json!([
        github(json!({"StringEquals": {AUD: "sts.amazonaws.com"}, "StringLike": {SUB: "repo:octo-org/yamause:*"}})),
        deny(json!({"StringEquals": {key("event_name"): "pull_request"}})),
        deny(json!({"StringEquals": {key("ref_type"): "branch"}})),
    ]));
    let findings = analyse_trust(&policy, &tag_ctx(), &TrustFacts::default());
    assert!(!findings.iter().any(|it| it.id == "trust.ok"), "{}", render_text(&findings));
    assert!(findings.iter().any(|it| it.id == "trust.broad-subject"), "{}", render_text(&findings));
}

/// The second adversarial round's wrong passes (issue 14), each now a failure.
#[test]
fn second_review_round_policies_fail() {
    let deny = |condition: Value| json!({"Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRoleWithWebIdentity", "Condition": condition});
    let allow_like = |subs: Value, extra: Value| {
        let mut condition = json!({"StringEquals": {AUD: "sts.amazonaws.com"}, "StringLike": {SUB: subs}});
        for (k, v) in extra.as_object().unwrap() {
            condition[k] = v.clone();
        }
        github(condition)
    };
    let mut letters: Vec<String> = "-/0123456789:@ACEGLMORSTUY_abcefghijklmnopqrstuvwxyzBDFHIJKNPQVWXZd."
        .chars()
        .map(|c| format!("repo:m{c}*"))
        .collect();
    letters.dedup();
    let cases = [
        // Another repository's own subject template
        // (https://docs.github.com/en/actions/reference/security/oidc#customizing-the-subject-claims-for-an-organization-or-repository).
        ("another repository's template", doc(json!([allow_like(json!([ENV_SUB, "repo:*:*:*:*"]), json!({}))]))),
        (
            "the template of a caller of our workflow",
            doc(json!([allow_like(
                json!([ENV_SUB, "job_workflow_ref:octo-org/yamause/.github/workflows/release.yml@refs/tags/v*"]),
                json!({})
            )])),
        ),
        (
            "a policy variable in a negated sub condition takes nothing away",
            doc(json!([allow_like(
                json!([ENV_SUB, "repo:mallory/*"]),
                json!({"StringNotEquals": {SUB: "${token.actions.githubusercontent.com:actor}"}})
            )])),
        ),
        (
            "a Deny that also needs sub to be missing never applies",
            doc(json!([
                allow_like(json!([ENV_SUB, "repo:mallory/*"]), json!({})),
                deny(json!({"StringLike": {SUB: "repo:mallory/*"}, "Null": {SUB: "true"}})),
            ])),
        ),
        (
            "a Deny of the sample tokens' repositories proves nothing",
            doc(json!([
                allow_like(json!("repo:*:environment:release"), json!({})),
                deny(json!({"StringLike": {REPOSITORY: ["x/*", "*/x", "attacker*/*", "octo-org-evil*/*",
                    "octo-org/yamause-evil*", "octo-org/other*"]}})),
            ])),
        ),
        (
            "every placeholder character named",
            doc(json!([allow_like(json!([ENV_SUB, "repo:m*"]), json!({"StringNotLike": {SUB: letters}}))])),
        ),
    ];
    for (name, policy) in cases {
        let findings = analyse_trust(&policy, &env_ctx(), &TrustFacts::default());
        assert_eq!(status(&findings), Status::Fail, "{name}:\n{}", render_text(&findings));
    }
}
