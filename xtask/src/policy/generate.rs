//! The documents `cargo xtask iam-policy` prints: the recommended trust policy and
//! the least-privilege permission policy of the release role and, with private
//! build dependencies, of the build-deps job's read role; and a printer that keeps
//! IAM's customary key order (serde_json would sort the keys).
//!
//! The documents pass this module's own analysis (a test checks it), so what the
//! tool recommends is what the tool accepts.

use serde_json::{Value, json};

use super::{
    permission::{PublishTarget, READ_SID},
    trust::{self, TrustContext},
};
use crate::arn::GITHUB_PROVIDER_HOST;

/// The recommended trust policy, the one that passes as `trust.ok` (docs/checks.md):
/// GitHub's provider in `account` (in the context's partition), `StringEquals` on
/// `aud` and on the environment-form `sub` (the immutable `OWNER@ID/REPO@ID` form
/// when `ctx.repo` has its ids). Without an environment the job runs on a tag push,
/// and `sub` becomes `StringLike repo:OWNER/REPO:ref:refs/tags/v*`.
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

/// The least-privilege permission policy (the one that passes as `perm.ok`) of the
/// release role for `target`: the bearer token scoped to CodeArtifact, the
/// authorization token on the domain, the endpoint on the repository, publishing on
/// the package, and the two read actions that make re-runs safe. Never ReadFromRepository: with private
/// build dependencies the build-deps job's read role ([`read_role_policy`])
/// downloads them, and the release role only publishes.
pub fn least_privilege_policy(target: &PublishTarget) -> Value {
    let package = target.package_arn();
    json!({
        "Version": "2012-10-17",
        "Statement": [
            bearer_token(),
            authorization_token(target),
            repository_endpoint(target),
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

/// The permission policy of the build-deps job's read role: the same three
/// statements for the token and the endpoint, and `ReadFromRepository` on the
/// repository (the only resource it is authorised on), which pip's download of the
/// locked build requirements needs. Nothing that writes.
pub fn read_role_policy(target: &PublishTarget) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [
            bearer_token(),
            authorization_token(target),
            repository_endpoint(target),
            {
                "Sid": READ_SID,
                "Effect": "Allow",
                "Action": "codeartifact:ReadFromRepository",
                "Resource": target.repository_arn(),
            },
        ],
    })
}

fn bearer_token() -> Value {
    json!({
        "Sid": "BearerTokenForCodeArtifact",
        "Effect": "Allow",
        "Action": "sts:GetServiceBearerToken",
        "Resource": "*",
        "Condition": {"StringEquals": {"sts:AWSServiceName": "codeartifact.amazonaws.com"}},
    })
}

fn authorization_token(target: &PublishTarget) -> Value {
    json!({
        "Sid": "AuthorizationToken",
        "Effect": "Allow",
        "Action": "codeartifact:GetAuthorizationToken",
        "Resource": target.domain_arn(),
    })
}

fn repository_endpoint(target: &PublishTarget) -> Value {
    json!({
        "Sid": "RepositoryEndpoint",
        "Effect": "Allow",
        "Action": "codeartifact:GetRepositoryEndpoint",
        "Resource": target.repository_arn(),
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
