//! What the conditions of the statements that let GitHub tokens in say on their
//! own: a subject left unrestricted (`trust.sub-unrestricted`), wildcards that
//! `StringEquals` takes literally (`trust.stringequals-wildcard`), and set operators
//! on single-valued claims (`trust.set-operator`).

use super::{
    AUD, GITHUB_PROVIDER_HOST, JOB_WORKFLOW_REF, SUB,
    analysis::{Analysis, github_facing},
};
use crate::policy::{
    Finding, Severity,
    document::{OpKind, SetOp},
    glob,
};

impl Analysis<'_> {
    /// What the conditions of GitHub-facing statements say. Returns whether some
    /// statement leaves the subject unrestricted (`trust.sub-unrestricted`).
    pub(super) fn check_conditions(&self, out: &mut Vec<Finding>) -> bool {
        let mut unrestricted = false;
        for statement in self.doc.statements.iter().filter(|it| github_facing(it)) {
            let label = statement.label();
            let restricts = statement.conditions.iter().any(|it| {
                let key = it.key_lower();
                (key == SUB || key == JOB_WORKFLOW_REF) && it.operator.kind.restricts_subject()
            });
            if !restricts {
                unrestricted = true;
                out.push(Finding::new(
                    "trust.sub-unrestricted",
                    Severity::Critical,
                    format!(
                        "{label} trusts {GITHUB_PROVIDER_HOST} but does not restrict the subject: any GitHub \
                         repository can assume the role (IAM refuses such new policies; existing ones keep working). \
                         Add {}",
                        self.snippet(self.expected().immutable)
                    ),
                ));
            }
            for condition in &statement.conditions {
                let key = condition.key_lower();
                let op = &condition.operator;
                let literal_op = matches!(op.kind, OpKind::StringEquals | OpKind::StringEqualsIgnoreCase);
                for value in condition.values.iter().filter(|it| literal_op && glob::has_wildcard(it)) {
                    out.push(Finding::new(
                        "trust.stringequals-wildcard",
                        Severity::Error,
                        format!(
                            "{label}: {} treats \"*\" and \"?\" literally, so {} = {value:?} never matches; use \
                             StringLike for a pattern, or list the exact values under StringEquals",
                            op.name, condition.key
                        ),
                    ));
                }
                if let Some(set) = op.set
                    && [SUB, AUD, JOB_WORKFLOW_REF].contains(&key.as_str())
                {
                    // Both are critical, though only ForAllValues passes a token
                    // without the claim: ForAnyValue is one word away from it
                    // (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html).
                    let why = match set {
                        SetOp::ForAllValues => {
                            "ForAllValues is even true when the claim is absent or the key misspelled"
                        }
                        SetOp::ForAnyValue => {
                            "ForAnyValue reads a single-valued claim as the plain operator does, one word away from \
                             ForAllValues, which is true when the claim is absent or the key misspelled"
                        }
                    };
                    out.push(Finding::new(
                        "trust.set-operator",
                        Severity::Critical,
                        format!(
                            "{label}: {} on {}: set operators are meant for multi-valued keys, and {why}; use plain \
                             StringEquals or StringLike",
                            op.name, condition.key
                        ),
                    ));
                }
            }
        }
        unrestricted
    }
}
