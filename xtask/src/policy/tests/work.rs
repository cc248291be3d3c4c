//! The analysis' work budget (`policy::budget`): every trust policy of the tables
//! (published examples and hostile ones alike) is decided well within it, large
//! documents of many plain values too, and a budget that runs out fails the check
//! closed (`trust.unproven`), never with a milder verdict.

use super::*;
use crate::policy::{
    budget::{Budgets, EVALUATION_WORK, SEARCH_WORK},
    trust::analyse_trust_within,
};

/// The work one analysis did: (search, evaluation).
fn work(policy: &str, ctx: &TrustContext, facts: &TrustFacts) -> (u64, u64, Vec<Finding>) {
    const PLENTY: u64 = 1_000_000_000;
    let budgets = Budgets::new(PLENTY, PLENTY);
    let findings = analyse_trust_within(policy, ctx, facts, &budgets);
    (PLENTY - budgets.search.left(), PLENTY - budgets.evaluation.left(), findings)
}

/// The cases of the tables that are not about running out: each uses at most a
/// quarter of each budget, so that no published policy comes near it.
#[test]
fn every_table_case_leaves_three_quarters_of_the_budget() {
    let mut over: Vec<String> = Vec::new();
    for case in trust_cases() {
        let (search, evaluation, _) = work(&case.policy, &case.ctx, &case.facts);
        if search > SEARCH_WORK / 4 || evaluation > EVALUATION_WORK / 4 {
            over.push(format!("{}: search {search}, evaluation {evaluation}", case.name));
        }
    }
    assert!(over.is_empty(), "{over:#?}");
}

/// Documents as large as IAM accepts, of many plain values, are decided.
#[test]
fn large_documents_of_plain_values_are_decided() {
    let values = |make: &dyn Fn(usize) -> String, n: usize| (0..n).map(make).collect::<Vec<String>>();
    let cases: Vec<(&str, Vec<String>, &str, Status)> = vec![
        ("environments", values(&|i| format!("{ENV_SUB}-{i}"), 78), "StringEquals", Status::Warn),
        (
            "branches",
            values(&|i| format!("repo:octo-org/yamause:ref:refs/heads/release-{i}*"), 70),
            "StringLike",
            Status::Warn,
        ),
        (
            "other repositories",
            values(&|i| format!("repo:octo-org/service-{i}:environment:release"), 75),
            "StringEquals",
            Status::Fail,
        ),
        (
            "other owners",
            values(&|i| format!("repo:team-{i}/yamause:environment:release"), 75),
            "StringEquals",
            Status::Fail,
        ),
    ];
    for (name, mut subs, op, want) in cases {
        subs.insert(0, ENV_SUB.to_owned());
        let mut condition = json!({"StringEquals": {AUD: "sts.amazonaws.com"}});
        condition[op][SUB] = json!(subs);
        let policy = trust_with(condition);
        assert!(crate::policy::iam_size(&policy) <= 4096, "{name}: {}", crate::policy::iam_size(&policy));
        let (search, evaluation, findings) = work(&policy, &env_ctx(), &TrustFacts::default());
        let shown = render_text(&findings);
        assert!(search <= SEARCH_WORK / 2 && evaluation <= EVALUATION_WORK / 2, "{name}: {search} {evaluation}");
        assert!(!findings.iter().any(|it| it.id == "trust.unproven"), "{name}:\n{shown}");
        assert_eq!(status(&findings), want, "{name}:\n{shown}");
    }
}

/// A budget that runs out fails the check closed, and says so: here the same
/// policies with a budget too small for their proof, or for their tokens.
#[test]
fn a_budget_that_runs_out_fails_closed() {
    let policies = [
        sub_equals(ENV_SUB),
        sub_like("repo:octo-org/yamause:*"),
        sub_like("repo:octo-org/*"),
        doc(json!([github(json!({"StringLike": {SUB: ["repo:octo-org/yamause:environment:rel*", "repo:o*/y*:*"]}}))])),
    ];
    for policy in &policies {
        for budgets in [Budgets::new(10, 1_000_000), Budgets::new(1_000_000, 10)] {
            let findings = analyse_trust_within(policy, &env_ctx(), &TrustFacts::default(), &budgets);
            let shown = render_text(&findings);
            assert_eq!(status(&findings), Status::Fail, "{policy}:\n{shown}");
            let unproven = findings.iter().find(|it| it.id == "trust.unproven").unwrap_or_else(|| panic!("{shown}"));
            assert!(unproven.message.contains("work budget"), "{shown}");
            assert!(!findings.iter().any(|it| it.id == "trust.ok"), "{shown}");
        }
    }
}

/// A value the proof cannot decide (here: its budget is too small for it) fails
/// the check and is named, even next to an unrelated warning (another principal)
/// that used to leave the policy at a warning.
#[test]
fn an_undecided_value_fails_next_to_a_warning() {
    let value = "repo:octo-org/yamause:environment:rel*";
    let mut statement = github(json!({"StringEquals": {AUD: "sts.amazonaws.com"}, "StringLike": {SUB: value}}));
    statement["Principal"]["AWS"] = json!(format!("arn:aws:iam::{OTHER_ACCOUNT}:root"));
    let policy = doc(json!([statement]));
    let budgets = Budgets::new(200, EVALUATION_WORK);
    let findings = analyse_trust_within(&policy, &env_ctx(), &TrustFacts::default(), &budgets);
    let shown = render_text(&findings);
    assert!(findings.iter().any(|it| it.id == "trust.extra-principal"), "{shown}");
    assert_eq!(status(&findings), Status::Fail, "{shown}");
    let unproven = findings.iter().find(|it| it.id == "trust.unproven").unwrap_or_else(|| panic!("{shown}"));
    assert!(unproven.message.contains(&format!("{value:?}")), "{shown}");
}
