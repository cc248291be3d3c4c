//! Trust- and permission-policy analysis for the release role, without I/O:
//! `check-iam` feeds it the documents and the facts it gathered, `iam-policy` prints
//! the documents it generates.
//!
//! The analysis does not match policy text. It reads the JSON noting keys written
//! twice (`json`), normalises every statement (`document`) and evaluates requests by
//! IAM's rules (`eval`, `glob`), then asks concrete questions. Trust (`trust`): is
//! the token the release job presents allowed, does every subject the `sub`
//! conditions admit belong to the release repository and its release context
//! (proved on the grammar of GitHub's subjects, `lang`), and is every token of
//! another repository or context that the policy's own patterns, the repositories it
//! names and a fixed list of look-alikes (another owner, `OWNER-evil/REPO`,
//! `OWNER/REPO-evil`, a pull request, a feature branch, another environment)
//! describe refused?
//! Permissions (`permission`): can the role call each API a release needs on the
//! exact ARN CodeArtifact authorises, and nothing dangerous besides? With private
//! build dependencies a second role, the build-deps job's read role (`read_role`),
//! is asked the same of a download, and must write nothing.
//!
//! Every check reports a `Finding` with a stable id, and docs/checks.md has an
//! entry for each id (what it means, why it matters, the fix, the public source;
//! a tidy test keeps the two in step): comments here name a check by its id. A
//! check that needs a fact from the GitHub or AWS APIs takes it as an `Option`;
//! without it the check reports an `info` finding (same id) that says what to check
//! by hand.

mod budget;
mod document;
mod eval;
mod generate;
mod glob;
mod json;
mod lang;
mod permission;
mod read_role;
mod text;
mod trust;

#[cfg(test)]
mod tests;

use serde_json::Value;

use document::{Document, OpKind};
pub use generate::{
    KEY_ORDER, least_privilege_policy, ordered_keys, read_role_policy, recommended_trust_policy, to_pretty_json,
    to_pretty_json_in,
};
#[cfg(test)]
pub use permission::analyse_permissions;
pub use permission::{NamedPolicy, OriginPublish, PermissionFacts, PublishTarget, Purpose, analyse_permissions_as};
pub use read_role::{READ_ENVIRONMENT, read_role_context};
pub use text::iam_size;
pub use text::plain_text;
pub use trust::ProviderFacts;
pub use trust::{
    DEFAULT_AUDIENCE, DEFAULT_ENVIRONMENT, DeploymentPolicy, EnvironmentFacts, GithubGaps, PartitionSource, RefKind,
    RefRule, RepoRef, SubTemplate, TrustContext, TrustFacts, analyse_trust, check_github, ref_pattern_matches,
};

// What the table tests in `tests/` reach besides.
#[cfg(test)]
use {
    permission::normalize_package_name,
    trust::{counter_example_subjects, expected_subject},
};

#[cfg(test)]
pub use crate::finding::to_json;
pub use crate::finding::{Finding, Severity, Status, render_json, render_text, status};

/// The values as a comma-separated list of quoted strings, for messages.
pub(crate) fn quoted(values: &[String]) -> String {
    values.iter().map(|it| format!("{it:?}")).collect::<Vec<_>>().join(", ")
}

/// Drops repeated findings and orders the rest from the most to the least severe
/// (stable, so checks keep their order within a severity).
pub(crate) fn finish(findings: Vec<Finding>) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::with_capacity(findings.len());
    for finding in findings {
        if !out.contains(&finding) {
            out.push(finding);
        }
    }
    out.sort_by_key(|it| std::cmp::Reverse(it.severity));
    out
}

/// The `policy.malformed`, `policy.unknown-operator` and duplicate-key findings of a
/// parsed document. `what` names the document in messages; `duplicate_id` is the
/// analysis' own id for a repeated key (`trust.duplicate-key`, `perm.duplicate-key`).
pub(crate) fn document_findings(doc: &Document, what: &str, duplicate_id: &'static str, out: &mut Vec<Finding>) {
    for problem in &doc.problems {
        out.push(Finding::new(
            "policy.malformed",
            Severity::Error,
            format!("{what}: {problem}; IAM refuses such a statement, so fix or remove it"),
        ));
    }
    for duplicate in &doc.duplicates {
        out.push(duplicate_key(duplicate, what, duplicate_id));
    }
    for statement in &doc.statements {
        // Keys that JSON keeps apart but IAM reads as one (condition keys are
        // case-insensitive); which one IAM keeps is not documented.
        for (i, a) in statement.conditions.iter().enumerate() {
            for b in &statement.conditions[i + 1..] {
                if a.operator.name == b.operator.name && a.key != b.key && a.key_lower() == b.key_lower() {
                    out.push(Finding::new(
                        duplicate_id,
                        Severity::Error,
                        format!(
                            "{what}, {}: {:?} and {:?} under {} are one condition key to IAM (condition keys are \
                             case-insensitive), and IAM does not document which it reads; write the key once, with \
                             the values of both: {:?}",
                            statement.label(),
                            a.key,
                            b.key,
                            a.operator.name,
                            a.values.iter().chain(&b.values).collect::<Vec<_>>()
                        ),
                    ));
                }
            }
        }
        for condition in &statement.conditions {
            if condition.operator.kind == OpKind::Unknown {
                out.push(Finding::new(
                    "policy.unknown-operator",
                    Severity::Error,
                    format!(
                        "{what}, {}: condition operator {:?} (on {:?}) is not an IAM operator, so IAM refuses the \
                         document; use StringEquals, StringLike or another operator from \
                         https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html \
                         (the check treats the statement cautiously: it may allow any request and is not relied on)",
                        statement.label(),
                        condition.operator.name,
                        condition.key
                    ),
                ));
            }
        }
    }
}

/// A key written twice in one object: both values, and the merged one to write.
fn duplicate_key(duplicate: &json::Duplicate, what: &str, id: &'static str) -> Finding {
    let shown = |value: &Value| {
        let text = value.to_string();
        if text.chars().count() > 240 { format!("{}…", text.chars().take(240).collect::<String>()) } else { text }
    };
    // A key IAM reads as one string cannot take both values: say which to keep.
    if ["Effect", "Version", "Sid"].contains(&duplicate.key.as_str()) {
        return Finding::new(
            id,
            Severity::Error,
            format!(
                "{what}: the key {:?} appears twice in {} (first {}, then {}); JSON readers silently keep one of the \
                 two, so the document does not say what it seems to. Keep the one you mean and delete the other",
                duplicate.key,
                duplicate.place(),
                shown(&duplicate.first),
                shown(&duplicate.second),
            ),
        );
    }
    Finding::new(
        id,
        Severity::Error,
        format!(
            "{what}: the key {:?} appears twice in {} (first {}, then {}); JSON readers silently keep one of the \
             two, so the document does not say what it seems to. Write it once with both values merged: {:?}: {} \
             (the other checks read the document merged like that)",
            duplicate.key,
            duplicate.place(),
            shown(&duplicate.first),
            shown(&duplicate.second),
            duplicate.key,
            shown(&duplicate.merged)
        ),
    )
}
