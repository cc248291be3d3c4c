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

use std::fmt;

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
#[cfg(feature = "iam")]
pub use text::plain_text;
#[cfg(any(test, feature = "iam"))]
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

/// How bad a finding is. `Error` means the release will not work; `Critical` to
/// `Low` rank a security weakness; `Info` is a note.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Error,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Error => "error",
            Severity::Critical => "critical",
        }
    }

    /// True for the severities that fail the check.
    pub fn fails(self) -> bool {
        matches!(self, Severity::Error | Severity::Critical)
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One result of a check: a stable id (`trust.any-repository`, explained in
/// docs/checks.md), its severity, and a message that says what is wrong and how to
/// fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub id: &'static str,
    pub severity: Severity,
    pub message: String,
}

impl Finding {
    pub fn new(id: &'static str, severity: Severity, message: impl Into<String>) -> Finding {
        Finding { id, severity, message: message.into() }
    }
}

/// The overall outcome of a set of findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pass,
    Warn,
    Fail,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `Fail` when a finding is `error` or `critical`, `Warn` when one is above `info`,
/// else `Pass`.
pub fn status(findings: &[Finding]) -> Status {
    if findings.iter().any(|it| it.severity.fails()) {
        Status::Fail
    } else if findings.iter().any(|it| it.severity > Severity::Info) {
        Status::Warn
    } else {
        Status::Pass
    }
}

/// The findings as a JSON value: `{"status": …, "findings": [{"id", "severity",
/// "message"}, …]}`. (`serde_json` sorts object keys; `render_json` keeps this order.)
#[cfg(test)]
pub fn to_json(findings: &[Finding]) -> Value {
    let items: Vec<Value> = findings
        .iter()
        .map(|it| serde_json::json!({"id": it.id, "severity": it.severity.as_str(), "message": it.message}))
        .collect();
    serde_json::json!({"status": status(findings).as_str(), "findings": items})
}

/// The findings as pretty-printed JSON with the keys in the documented order:
/// `{"status": …, "findings": [{"id": …, "severity": …, "message": …}, …]}`.
pub fn render_json(findings: &[Finding]) -> String {
    let text = |s: &str| Value::String(s.to_owned()).to_string();
    let mut out = format!("{{\n  \"status\": {},\n  \"findings\": [", text(status(findings).as_str()));
    for (i, finding) in findings.iter().enumerate() {
        out.push_str(if i == 0 { "\n" } else { ",\n" });
        out.push_str(&format!(
            "    {{\n      \"id\": {},\n      \"severity\": {},\n      \"message\": {}\n    }}",
            text(finding.id),
            text(finding.severity.as_str()),
            text(&finding.message)
        ));
    }
    out.push_str(if findings.is_empty() { "]\n}\n" } else { "\n  ]\n}\n" });
    out
}

/// The findings as sentences, one per finding (`FAIL trust.any-repository
/// (critical): …`, continuation lines indented), then a sentence with the status.
pub fn render_text(findings: &[Finding]) -> String {
    let mut out = String::new();
    for finding in findings {
        // A passed check is an `info` finding whose id ends in `.ok`.
        let label = if finding.severity.fails() {
            "FAIL"
        } else if finding.severity > Severity::Info {
            "WARN"
        } else if finding.id.ends_with(".ok") {
            "PASS"
        } else {
            "INFO"
        };
        let message = finding.message.replace('\n', "\n    ");
        out.push_str(&format!("{label} {} ({}): {message}\n", finding.id, finding.severity));
    }
    let count = |pred: &dyn Fn(Severity) -> bool| findings.iter().filter(|it| pred(it.severity)).count();
    let failing = count(&|s| s.fails());
    let warning = count(&|s| !s.fails() && s > Severity::Info);
    let plural = |n: usize| if n == 1 { "finding" } else { "findings" };
    out.push_str(&match status(findings) {
        Status::Fail => format!(
            "Status: fail. {failing} {} marked FAIL would break the release or let others publish; fix {} first.\n",
            plural(failing),
            if failing == 1 { "it" } else { "them" }
        ),
        Status::Warn => format!(
            "Status: warn. Nothing blocks the release, but {warning} {} marked WARN should be fixed.\n",
            plural(warning)
        ),
        Status::Pass => {
            "Status: pass. The policies allow the release and nothing this check counts as too broad.\n".to_owned()
        }
    });
    out
}

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
