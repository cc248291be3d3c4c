//! The third adversarial round (issue 24): one regression test for each class of
//! trust policy the analysis judged wrong, each watched failing on the analysis of
//! before: partitions, a value the proof cannot decide next to an unrelated
//! warning, repeated values that used up the search, and a condition on the
//! runner's address.

use super::*;

fn provider_in(partition: &str) -> String {
    crate::arn::github_oidc_provider(partition, ACCOUNT)
}

/// A statement of `effect` for GitHub's provider of `partition`.
fn for_provider(effect: &str, partition: &str, condition: Value) -> Value {
    json!({
        "Effect": effect,
        "Principal": {"Federated": provider_in(partition)},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": condition,
    })
}

fn in_partition(partition: &str, account: Option<&str>) -> TrustContext {
    TrustContext { partition: partition.to_owned(), account: account.map(str::to_owned), ..env_ctx() }
}

fn failing_ids(findings: &[Finding]) -> Vec<&'static str> {
    let mut ids: Vec<&'static str> = findings.iter().filter(|it| it.severity.fails()).map(|it| it.id).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// STS looks GitHub's provider up in the role's own partition and account, so a
/// Deny that names the provider of another partition never applies: it must not
/// narrow what an organisation-wide Allow admits.
#[test]
fn a_deny_in_another_partition_narrows_nothing() {
    let org_wide = json!({"StringEquals": {AUD: "sts.amazonaws.com"}, "StringLike": {SUB: "repo:octo-org/*"}});
    let deny_others = json!({"StringNotEquals": {SUB: ENV_SUB}});
    for elsewhere in ["aws-cn", "aws-us-gov"] {
        let policy = doc(json!([github(org_wide.clone()), for_provider("Deny", elsewhere, deny_others.clone())]));
        for ctx in [in_partition("aws", Some(ACCOUNT)), in_partition("aws", None)] {
            let findings = analyse_trust(&policy, &ctx, &TrustFacts::default());
            let shown = render_text(&findings);
            assert!(!findings.iter().any(|it| it.id == "trust.ok"), "{elsewhere}:\n{shown}");
            assert!(findings.iter().any(|it| it.id == "trust.org-wide"), "{elsewhere}:\n{shown}");
            assert_ne!(status(&findings), Status::Pass, "{elsewhere}:\n{shown}");
        }
    }
    // The same Deny in the role's own partition does apply, and then proves the policy.
    for partition in ["aws", "aws-cn", "aws-us-gov"] {
        let allow = for_provider("Allow", partition, org_wide.clone());
        let policy = doc(json!([allow, for_provider("Deny", partition, deny_others.clone())]));
        let findings = analyse_trust(&policy, &in_partition(partition, Some(ACCOUNT)), &TrustFacts::default());
        assert_eq!(status(&findings), Status::Pass, "{partition}:\n{}", render_text(&findings));
    }
}

/// An Allow that names only another partition's provider never matches the
/// release's request: the release cannot assume the role, and the finding says why.
#[test]
fn an_allow_in_another_partition_cannot_let_the_release_in() {
    let pinned = json!({"StringEquals": {AUD: "sts.amazonaws.com", SUB: ENV_SUB}});
    let pairs = [("aws", "aws-cn"), ("aws", "aws-us-gov"), ("aws-cn", "aws"), ("aws-us-gov", "aws-cn")];
    for (role, provider) in pairs {
        let policy = doc(json!([for_provider("Allow", provider, pinned.clone())]));
        for ctx in [in_partition(role, Some(ACCOUNT)), in_partition(role, None)] {
            let findings = analyse_trust(&policy, &ctx, &TrustFacts::default());
            let shown = render_text(&findings);
            assert_eq!(status(&findings), Status::Fail, "{role} role, {provider} provider:\n{shown}");
            let why = findings.iter().find(|it| it.id == "trust.provider" && it.severity == Error);
            let why = why.unwrap_or_else(|| panic!("{role} role, {provider} provider:\n{shown}"));
            assert!(why.message.contains(&format!("partition {provider}")), "{}", why.message);
            assert!(why.message.contains(&format!("partition {role}")), "{}", why.message);
            assert!(why.message.contains("cannot assume the role"), "{}", why.message);
        }
        // The role's own partition: no false alarm.
        let policy = doc(json!([for_provider("Allow", role, pinned.clone())]));
        let findings = analyse_trust(&policy, &in_partition(role, Some(ACCOUNT)), &TrustFacts::default());
        assert_eq!(status(&findings), Status::Pass, "{role}:\n{}", render_text(&findings));
    }
}

/// A sub value the proof cannot decide fails the check even when an unrelated
/// finding (here an extra principal, a warning) was found too.
#[test]
fn an_undecided_sub_fails_whatever_else_is_found() {
    let undecided = [
        // More wildcards than a subject needs, and more single-character ones.
        "repo:q*q*q*q*q*q*q*q*q*q*q*",
        "repo:????????????????????????????????????/*",
    ];
    for value in undecided {
        let mut statement =
            github(json!({"StringEquals": {AUD: "sts.amazonaws.com"}, "StringLike": {SUB: [ENV_SUB, value]}}));
        statement["Principal"]["AWS"] = json!(format!("arn:aws:iam::{OTHER_ACCOUNT}:root"));
        let findings = analyse_trust(&doc(json!([statement])), &env_ctx(), &TrustFacts::default());
        let shown = render_text(&findings);
        assert_eq!(status(&findings), Status::Fail, "{value}:\n{shown}");
        assert!(
            findings.iter().any(|it| it.severity.fails() && it.message.contains(&format!("{value:?}"))),
            "no failing finding names {value}:\n{shown}"
        );
    }
}

/// Repeating values changes nothing: a foreign repository next to values written
/// a hundred times over (3,784 characters, within IAM's limits) is still found.
#[test]
fn repeated_values_do_not_change_the_verdict() {
    let ctx = TrustContext { repo: RepoRef::new("o", "r"), ..env_ctx() };
    let policy = |times: usize| {
        let mut values = vec!["repo:o/r:*".to_owned()];
        for _ in 0..times {
            values.extend(["repo:o/r:*e*l*".to_owned(), "repo:o/r:*r*e*".to_owned()]);
        }
        values.push("repo:zz-*/r:*".to_owned());
        sub_like_values(&values)
    };
    let once = analyse_trust(&policy(1), &ctx, &TrustFacts::default());
    assert!(failing_ids(&once).contains(&"trust.foreign-repository"), "{}", render_text(&once));
    for times in [2, 100] {
        let repeated = analyse_trust(&policy(times), &ctx, &TrustFacts::default());
        assert_eq!(status(&repeated), status(&once), "{times} times:\n{}", render_text(&repeated));
        assert_eq!(failing_ids(&repeated), failing_ids(&once), "{times} times:\n{}", render_text(&repeated));
    }
}

fn sub_like_values(values: &[String]) -> String {
    trust_with(json!({"StringEquals": {AUD: "sts.amazonaws.com"}, "StringLike": {SUB: values}}))
}

/// `IpAddress` is an IAM operator; what the check cannot know is the address of
/// the runner the release job runs on, and the finding says so.
#[test]
fn an_address_condition_says_what_cannot_be_known() {
    for (operator, values) in [("IpAddress", json!(["192.0.2.0/24"])), ("NotIpAddress", json!("203.0.113.7/32"))] {
        let policy = trust_with(json!({
            "StringEquals": {AUD: "sts.amazonaws.com", SUB: ENV_SUB},
            operator: {"aws:SourceIp": values},
        }));
        let findings = analyse_trust(&policy, &env_ctx(), &TrustFacts::default());
        let shown = render_text(&findings);
        assert!(!shown.contains("does not know"), "{operator}:\n{shown}");
        assert!(!findings.iter().any(|it| it.id == "policy.unknown-operator"), "{operator}:\n{shown}");
        assert!(
            findings.iter().any(|it| it.message.contains("aws:SourceIp") && it.message.contains("runner")),
            "{operator}:\n{shown}"
        );
    }
}

/// A policy of exactly `size` characters without whitespace: sub values, and a
/// Sid that makes up the rest.
fn of_size(size: usize) -> String {
    let with = |values: &[String], sid: &str| {
        let mut statement = github(json!({"StringEquals": {AUD: "sts.amazonaws.com", SUB: values}}));
        statement["Sid"] = json!(sid);
        doc(json!([statement]))
    };
    let mut values = vec![ENV_SUB.to_owned()];
    while with(&values, "").len() < size.saturating_sub(64) {
        values.push(format!("{ENV_SUB}-{}", values.len()));
    }
    let pad = size.saturating_sub(with(&values, "").len());
    let policy = with(&values, &"s".repeat(pad));
    assert_eq!(policy.len(), size.max(with(&values, "").len()));
    policy
}

/// IAM counts a trust policy's size without whitespace: a document just within
/// the raised quota of 4,096 is analysed however it is indented, one character
/// more is refused with the limit named.
#[test]
fn size_is_counted_as_iam_counts_it() {
    let within = of_size(4096);
    assert_eq!(within.chars().filter(|it| !it.is_whitespace()).count(), within.len());
    let indented = serde_json::to_string_pretty(&serde_json::from_str::<Value>(&within).unwrap()).unwrap();
    let indented = indented.replace('\n', "\n                                ");
    assert!(indented.len() > 4096 * 2, "{}", indented.len());
    for text in [&within, &indented] {
        let findings = analyse_trust(text, &env_ctx(), &TrustFacts::default());
        assert!(!findings.iter().any(|it| it.id == "policy.too-large"), "{}", render_text(&findings));
    }
    let over = of_size(4097);
    let findings = analyse_trust(&over, &env_ctx(), &TrustFacts::default());
    assert_eq!(status(&findings), Status::Fail, "{}", render_text(&findings));
    assert!(
        findings.iter().any(|it| it.id == "policy.too-large" && it.message.contains("4096")),
        "{}",
        render_text(&findings)
    );
}

/// The cases of this round for the table: each new finding id once.
pub(super) fn cases() -> Vec<TrustCase> {
    let pinned = json!({"StringEquals": {AUD: "sts.amazonaws.com", SUB: ENV_SUB}});
    let mut foreign_principal = github(pinned.clone());
    foreign_principal["Principal"]["AWS"] = json!(format!("arn:aws-us-gov:iam::{ACCOUNT}:root"));
    vec![
        case(
            "a Deny of another partition's provider refuses nothing",
            doc(json!([
                github(pinned.clone()),
                for_provider("Deny", "aws-cn", json!({"StringNotEquals": {SUB: ENV_SUB}}))
            ])),
            &[("trust.not-applicable", Low)],
            Status::Warn,
        )
        .says("trust.not-applicable", "another partition")
        .absent(BREAKAGE),
        case(
            "an AWS principal of another partition can never assume the role",
            doc(json!([foreign_principal])),
            &[("trust.not-applicable", Low)],
            Status::Warn,
        )
        .absent(&["trust.extra-principal"]),
        case(
            "an address condition on the runner",
            trust_with(json!({"StringEquals": {AUD: "sts.amazonaws.com", SUB: ENV_SUB},
                "IpAddress": {"aws:SourceIp": "192.0.2.0/24"}})),
            &[("trust.unknowable-condition", Medium)],
            Status::Warn,
        )
        .says("trust.unknowable-condition", "aws:SourceIp")
        .absent(&["trust.subject-mismatch", "trust.unproven"]),
        case("larger than IAM accepts", of_size(4200), &[("policy.too-large", Error)], Status::Fail)
            .says("policy.too-large", "2048 characters by default"),
    ]
}

/// Every condition operator IAM documents is known by name, with its `…IfExists`
/// form (`Null` has none) and the `ForAllValues:`/`ForAnyValue:` prefixes
/// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html):
/// none is reported as unknown, whatever its key.
#[test]
fn every_documented_operator_is_known() {
    const DOCUMENTED: [&str; 27] = [
        "StringEquals",
        "StringNotEquals",
        "StringEqualsIgnoreCase",
        "StringNotEqualsIgnoreCase",
        "StringLike",
        "StringNotLike",
        "NumericEquals",
        "NumericNotEquals",
        "NumericLessThan",
        "NumericLessThanEquals",
        "NumericGreaterThan",
        "NumericGreaterThanEquals",
        "DateEquals",
        "DateNotEquals",
        "DateLessThan",
        "DateLessThanEquals",
        "DateGreaterThan",
        "DateGreaterThanEquals",
        "Bool",
        "BinaryEquals",
        "IpAddress",
        "NotIpAddress",
        "ArnEquals",
        "ArnLike",
        "ArnNotEquals",
        "ArnNotLike",
        "Null",
    ];
    for name in DOCUMENTED {
        let mut forms = vec![name.to_owned(), format!("ForAllValues:{name}"), format!("ForAnyValue:{name}")];
        if name != "Null" {
            forms.extend([format!("{name}IfExists"), format!("ForAnyValue:{name}IfExists")]);
        }
        for form in forms {
            let operator = crate::policy::document::Operator::parse(&form);
            assert_ne!(operator.kind, crate::policy::document::OpKind::Unknown, "{form}");
            let mut condition = json!({"StringEquals": {AUD: "sts.amazonaws.com", SUB: ENV_SUB}});
            condition[&form] = json!({"aws:SourceIp": "192.0.2.0/24"});
            let findings = analyse_trust(&trust_with(condition), &env_ctx(), &TrustFacts::default());
            let shown = render_text(&findings);
            assert!(!findings.iter().any(|it| it.id == "policy.unknown-operator"), "{form}:\n{shown}");
            assert!(!shown.contains("not an IAM"), "{form}:\n{shown}");
        }
    }
    for unknown in ["NullIfExists", "StringMatches", "ForSomeValues:StringLike"] {
        let mut condition = json!({"StringEquals": {AUD: "sts.amazonaws.com", SUB: ENV_SUB}});
        condition[unknown] = json!({"aws:SourceIp": "192.0.2.0/24"});
        let findings = analyse_trust(&trust_with(condition), &env_ctx(), &TrustFacts::default());
        assert!(findings.iter().any(|it| it.id == "policy.unknown-operator"), "{unknown}");
    }
}
