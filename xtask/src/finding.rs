//! A check's result, shared by `check-iam`'s policy analysis and the release's look at
//! the package's origin controls: a `Finding` with a stable id (each explained in
//! docs/checks.md), its `Severity`, and the overall `Status` of a set of them,
//! rendered as text or JSON.

use std::fmt;

use serde_json::Value;

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
