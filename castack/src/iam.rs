//! An identity policy the emulator enforces when a test gives it one
//! ([`crate::Emulator::set_identity_policy`]): IAM's evaluation reduced to what a
//! release's calls need, so that a test can run a release under the very policy
//! `cargo xtask iam-policy` prints and see a missing permission fail as AWS fails it.
//!
//! Rules (IAM User Guide, "Policy evaluation logic"): an explicit Deny wins, then an
//! Allow; nothing allowed is denied. `Action` matches case-insensitively, `Resource`
//! case-sensitively, both with `*` and `?`. Conditions: `StringEquals`,
//! `StringNotEquals` and `StringLike` on request context keys (case-insensitive
//! names); an operator it does not know makes the statement not apply, so an Allow
//! it cannot read grants nothing. Written for this emulator alone: it shares no code
//! with the release tool's own policy analysis, which the tests check against it.

use anyhow::{Context, Result, bail};
use serde_json::Value;

#[derive(Clone, Debug)]
pub struct IdentityPolicy {
    statements: Vec<Statement>,
}

#[derive(Clone, Debug)]
struct Statement {
    allow: bool,
    actions: Vec<String>,
    resources: Vec<String>,
    /// (operator, key, values)
    conditions: Vec<(String, String, Vec<String>)>,
}

impl IdentityPolicy {
    pub fn parse(value: &Value) -> Result<IdentityPolicy> {
        let statements = match value.get("Statement").context("the policy has no Statement")? {
            Value::Array(items) => items.clone(),
            one @ Value::Object(_) => vec![one.clone()],
            _ => bail!("Statement is neither an object nor a list"),
        };
        let strings = |value: Option<&Value>, what: &str| -> Result<Vec<String>> {
            match value {
                Some(Value::String(s)) => Ok(vec![s.clone()]),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|it| it.as_str().map(str::to_owned).context(format!("a non-string {what}")))
                    .collect(),
                None => Ok(Vec::new()),
                Some(_) => bail!("{what} is neither a string nor a list"),
            }
        };
        let mut out = Vec::new();
        for statement in statements {
            if statement.get("NotAction").is_some() || statement.get("NotResource").is_some() {
                bail!("NotAction and NotResource are not supported by this emulator");
            }
            let allow = match statement.get("Effect").and_then(Value::as_str) {
                Some("Allow") => true,
                Some("Deny") => false,
                _ => bail!("a statement without Effect Allow or Deny"),
            };
            let mut conditions = Vec::new();
            if let Some(Value::Object(ops)) = statement.get("Condition") {
                for (op, keys) in ops {
                    let Value::Object(keys) = keys else { bail!("condition {op} is not an object") };
                    for (key, values) in keys {
                        conditions.push((
                            op.clone(),
                            key.to_ascii_lowercase(),
                            strings(Some(values), "condition value")?,
                        ));
                    }
                }
            }
            out.push(Statement {
                allow,
                actions: strings(statement.get("Action"), "Action")?,
                resources: strings(statement.get("Resource"), "Resource")?,
                conditions,
            });
        }
        Ok(IdentityPolicy { statements: out })
    }

    /// Whether `action` on `resource` is allowed, with the request context `context`
    /// (`(key, value)`, such as `("sts:AWSServiceName", "codeartifact.amazonaws.com")`).
    pub fn allows(&self, action: &str, resource: &str, context: &[(&str, &str)]) -> bool {
        let applies = |s: &Statement| {
            s.actions.iter().any(|it| wildcard(&it.to_ascii_lowercase(), &action.to_ascii_lowercase()))
                && s.resources.iter().any(|it| wildcard(it, resource))
                && s.conditions.iter().all(|(op, key, values)| condition(op, key, values, context))
        };
        let matching: Vec<&Statement> = self.statements.iter().filter(|s| applies(s)).collect();
        !matching.iter().any(|s| !s.allow) && matching.iter().any(|s| s.allow)
    }
}

fn condition(op: &str, key: &str, values: &[String], context: &[(&str, &str)]) -> bool {
    let found = context.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| *v);
    match (op, found) {
        ("StringEquals", Some(v)) => values.iter().any(|it| it == v),
        ("StringLike", Some(v)) => values.iter().any(|it| wildcard(it, v)),
        ("StringNotEquals", Some(v)) => values.iter().all(|it| it != v),
        ("StringNotEquals", None) => true,
        _ => false,
    }
}

/// `*` matches any run of characters, `?` any one.
fn wildcard(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn allow_deny_and_conditions() {
        let policy = IdentityPolicy::parse(&json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "sts:GetServiceBearerToken", "Resource": "*",
             "Condition": {"StringEquals": {"sts:AWSServiceName": "codeartifact.amazonaws.com"}}},
            {"Effect": "Allow", "Action": ["codeartifact:Get*", "codeartifact:ReadFromRepository"],
             "Resource": "arn:aws:codeartifact:us-east-1:1:repository/d/*"},
            {"Effect": "Deny", "Action": "codeartifact:GetRepositoryEndpoint", "Resource": "*"},
        ]}))
        .unwrap();
        let repo = "arn:aws:codeartifact:us-east-1:1:repository/d/r";
        let bearer = [("sts:AWSServiceName", "codeartifact.amazonaws.com")];
        assert!(policy.allows("sts:GetServiceBearerToken", "*", &bearer));
        assert!(!policy.allows("sts:GetServiceBearerToken", "*", &[("sts:awsservicename", "s3.amazonaws.com")]));
        assert!(!policy.allows("sts:GetServiceBearerToken", "*", &[]));
        assert!(policy.allows("CodeArtifact:readfromrepository", repo, &[]));
        assert!(!policy.allows("codeartifact:ReadFromRepository", "arn:aws:codeartifact:us-east-1:1:domain/d", &[]));
        assert!(!policy.allows("codeartifact:GetRepositoryEndpoint", repo, &[]), "an explicit Deny wins");
        assert!(!policy.allows("codeartifact:PublishPackageVersion", repo, &[]), "nothing allowed is denied");
        assert!(wildcard("a*b?c", "axxbyc") && !wildcard("a*b?c", "axxbc") && wildcard("*", ""));
    }
}
