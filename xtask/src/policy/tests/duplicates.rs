//! Keys written twice: a condition key in two letter cases under one operator
//! (IAM reads condition keys without case), and a key IAM reads as one string
//! (`Effect`) written twice in a statement.

use super::*;

/// One condition key in two letter cases under one operator (IAM: condition keys
/// are case-insensitive; which spelling it keeps is not documented).
#[test]
fn a_condition_key_in_two_letter_cases_is_a_duplicate() {
    for subs in [(SUB, "TOKEN.ACTIONS.GITHUBUSERCONTENT.COM:SUB"), ("TOKEN.ACTIONS.GITHUBUSERCONTENT.COM:SUB", SUB)] {
        let mut like = serde_json::Map::new();
        like.insert(subs.0.to_owned(), json!("repo:*"));
        like.insert(subs.1.to_owned(), json!(ENV_SUB));
        let policy = trust_with(json!({"StringEquals": {AUD: "sts.amazonaws.com"}, "StringLike": like}));
        let findings = analyse_trust(&policy, &env_ctx(), &TrustFacts::default());
        assert!(
            findings.iter().any(|it| it.id == "trust.duplicate-key" && it.message.contains("case-insensitive")),
            "{}",
            render_text(&findings)
        );
        assert_eq!(status(&findings), Status::Fail);
    }
}

/// A duplicate of a key IAM reads as one string (Effect) is told to keep one, not to
/// merge the two into a list IAM would refuse.
#[test]
fn a_duplicate_effect_is_told_to_keep_one() {
    let policy = format!(
        r#"{{"Version": "2012-10-17", "Statement": [{{"Effect": "Deny", "Effect": "Allow",
        "Principal": {{"Federated": "{PROVIDER}"}}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {{"StringEquals": {{"{AUD}": "sts.amazonaws.com", "{SUB}": "{ENV_SUB}"}}}}}}]}}"#
    );
    let findings = analyse_trust(&policy, &env_ctx(), &TrustFacts::default());
    let dup = findings.iter().find(|it| it.id == "trust.duplicate-key").expect("a duplicate-key finding");
    assert!(dup.message.contains("Keep the one you mean"), "{}", dup.message);
    assert!(!dup.message.contains("[\"Deny\",\"Allow\"]"), "{}", dup.message);
}
