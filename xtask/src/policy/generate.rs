//! The documents `cargo xtask iam-policy` prints: the recommended trust policy and
//! the least-privilege permission policy of the release role, and a printer that
//! keeps IAM's customary key order (serde_json would sort the keys).
//!
//! Both documents pass this module's own analysis (a test checks it), so what the
//! tool recommends is what the tool accepts.

use serde_json::{Value, json};

use super::{
    permission::PublishTarget,
    trust::{self, TrustContext},
};
use crate::arn::GITHUB_PROVIDER_HOST;

/// The recommended trust policy (reference §6): GitHub's provider in `account` (in
/// the context's partition), `StringEquals` on `aud` and on the environment-form
/// `sub` (the immutable `OWNER@ID/REPO@ID` form when `ctx.repo` has its ids).
/// Without an environment the job runs on a tag push, and `sub` becomes
/// `StringLike repo:OWNER/REPO:ref:refs/tags/v*`.
pub fn recommended_trust_policy(ctx: &TrustContext, account: &str) -> Value {
    let (operator, sub) = trust::recommended_sub(ctx, ctx.repo.has_ids());
    let aud_key = format!("{GITHUB_PROVIDER_HOST}:aud");
    let sub_key = format!("{GITHUB_PROVIDER_HOST}:sub");
    let mut condition = serde_json::Map::new();
    if operator == "StringEquals" {
        condition.insert(operator.to_owned(), json!({aud_key: ctx.audience, sub_key: sub}));
    } else {
        condition.insert("StringEquals".to_owned(), json!({aud_key: ctx.audience}));
        condition.insert(operator.to_owned(), json!({sub_key: sub}));
    }
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": ctx.provider_arn(account)},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": Value::Object(condition),
        }],
    })
}

/// The least-privilege permission policy (reference §7) for `target`: the bearer
/// token scoped to CodeArtifact, the authorization token on the domain, the
/// endpoint on the repository, publishing on the package, the two read actions
/// that make re-runs safe, and, with private dependencies, reading the repository
/// that the build installs its requirements from.
pub fn least_privilege_policy(target: &PublishTarget) -> Value {
    let mut policy = publish_policy(target);
    if target.private_dependencies
        && let Some(statements) = policy.get_mut("Statement").and_then(Value::as_array_mut)
    {
        statements.push(json!({
            "Sid": "PrivateBuildDependencies",
            "Effect": "Allow",
            "Action": "codeartifact:ReadFromRepository",
            "Resource": target.repository_arn(),
        }));
    }
    policy
}

fn publish_policy(target: &PublishTarget) -> Value {
    let package = target.package_arn();
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "BearerTokenForCodeArtifact",
                "Effect": "Allow",
                "Action": "sts:GetServiceBearerToken",
                "Resource": "*",
                "Condition": {"StringEquals": {"sts:AWSServiceName": "codeartifact.amazonaws.com"}},
            },
            {
                "Sid": "AuthorizationToken",
                "Effect": "Allow",
                "Action": "codeartifact:GetAuthorizationToken",
                "Resource": target.domain_arn(),
            },
            {
                "Sid": "RepositoryEndpoint",
                "Effect": "Allow",
                "Action": "codeartifact:GetRepositoryEndpoint",
                "Resource": target.repository_arn(),
            },
            {
                "Sid": "Publish",
                "Effect": "Allow",
                "Action": "codeartifact:PublishPackageVersion",
                "Resource": package,
            },
            {
                "Sid": "SafeRerunChecks",
                "Effect": "Allow",
                "Action": ["codeartifact:ListPackageVersionAssets", "codeartifact:DescribePackageVersion"],
                "Resource": package,
            },
        ],
    })
}

/// Policy keys in the order IAM's documentation writes them; other keys follow
/// alphabetically.
pub const KEY_ORDER: [&str; 12] = [
    "Version",
    "Id",
    "Statement",
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];

/// Pretty-prints `value` (two-space indent) with policy keys in IAM's order.
pub fn to_pretty_json(value: &Value) -> String {
    to_pretty_json_in(value, &KEY_ORDER)
}

/// Pretty-prints `value` (two-space indent) with the keys of every object in the
/// order of `order`, the keys it does not name after them, alphabetically. A
/// template that embeds the documents prints them in the same order as
/// [`to_pretty_json`] when `order` keeps [`KEY_ORDER`]'s.
pub fn to_pretty_json_in(value: &Value, order: &[&str]) -> String {
    let mut out = String::new();
    write_value(value, 0, order, &mut out);
    out.push('\n');
    out
}

/// The keys of `map` in the order of `order`, the keys it does not name after them,
/// alphabetically.
pub fn ordered_keys<'a>(map: &'a serde_json::Map<String, Value>, order: &[&str]) -> Vec<&'a String> {
    let mut keys: Vec<&String> = map.keys().collect();
    let rank = |key: &str| order.iter().position(|it| *it == key).unwrap_or(order.len());
    keys.sort_by(|a, b| rank(a).cmp(&rank(b)).then(a.cmp(b)));
    keys
}

fn write_value(value: &Value, depth: usize, order: &[&str], out: &mut String) {
    let indent = |depth: usize| "  ".repeat(depth);
    match value {
        Value::Object(map) if !map.is_empty() => {
            let keys = ordered_keys(map, order);
            out.push_str("{\n");
            for (i, key) in keys.iter().enumerate() {
                out.push_str(&format!("{}{}: ", indent(depth + 1), Value::String((*key).clone())));
                write_value(&map[*key], depth + 1, order, out);
                out.push_str(if i + 1 < keys.len() { ",\n" } else { "\n" });
            }
            out.push_str(&format!("{}}}", indent(depth)));
        }
        Value::Array(items) if !items.is_empty() => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                out.push_str(&indent(depth + 1));
                write_value(item, depth + 1, order, out);
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            out.push_str(&format!("{}]", indent(depth)));
        }
        other => out.push_str(&other.to_string()),
    }
}
