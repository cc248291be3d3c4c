//! Properties of the trust analysis over generated documents: the verdict depends
//! on what a document means, never on how it is written. Permuting its
//! statements or the values of a condition, repeating statements or values, and
//! splitting a statement into several (one per value of a positive condition, or
//! one per principal) leave its meaning to IAM unchanged, and so must leave its
//! status unchanged.
//!
//! The documents come from a small deterministic generator (`Gen`, a linear
//! congruential one), so every run checks the same ones and a failure names the
//! seed that shows it.

use super::*;

/// A small deterministic generator.
struct Gen(u64);

impl Gen {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n.max(1)
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())].clone()
    }

    /// Up to `most` values from `pool`, at least one.
    fn values(&mut self, pool: &[&str], most: usize) -> Vec<String> {
        (0..1 + self.below(most)).map(|_| self.pick(pool).to_owned()).collect()
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

/// Sub values of every kind the analysis tells apart: the release job's, broader
/// ones of the same repository, other repositories by name and by pattern,
/// patterns no fixed counter-example matches.
const SUBS: [&str; 14] = [
    ENV_SUB,
    "repo:octo-org/yamause:*",
    "repo:octo-org/yamause:ref:refs/tags/v*",
    "repo:octo-org/yamause:pull_request",
    "repo:octo-org/yamause:environment:rel*",
    "repo:octo-org/*",
    "repo:octo-org/yamause-*:*",
    "repo:someone-else/*",
    "repo:zz-*/yamause:*",
    "repo:*:environment:release",
    "repo:octo-org/yamause:environment:staging",
    "repo:octo-org/other:environment:release",
    "repo:octo-org/yamause:ref:refs/heads/*",
    "repo:octo-org/ya?ause:environment:release",
];

const NOT_SUBS: [&str; 4] = ["repo:octo-org/yamause:pull_request", "repo:*:ref:*", "repo:someone-else/*", "*staging*"];

fn principal(g: &mut Gen) -> Value {
    match g.below(10) {
        0 => json!({"Federated": "arn:aws-cn:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"}),
        1 => json!({"Federated": PROVIDER, "AWS": format!("arn:aws:iam::{OTHER_ACCOUNT}:root")}),
        2 => {
            json!({"Federated": [PROVIDER, "arn:aws-us-gov:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"]})
        }
        _ => json!({"Federated": PROVIDER}),
    }
}

fn allow(g: &mut Gen) -> Value {
    let mut condition = serde_json::Map::new();
    let mut equals = serde_json::Map::new();
    if g.chance(75) {
        equals.insert(AUD.to_owned(), json!("sts.amazonaws.com"));
    }
    let subs = g.values(&SUBS, 6);
    if g.chance(30) && subs.iter().all(|it| !glob::has_wildcard(it)) {
        equals.insert(SUB.to_owned(), json!(subs));
    } else if g.chance(90) {
        condition.insert("StringLike".to_owned(), json!({SUB: subs}));
    }
    if g.chance(15) {
        equals.insert("token.actions.githubusercontent.com:environment".to_owned(), json!("release"));
    }
    if !equals.is_empty() {
        condition.insert("StringEquals".to_owned(), Value::Object(equals));
    }
    if g.chance(15) {
        condition.insert("StringNotLike".to_owned(), json!({SUB: g.values(&NOT_SUBS, 2)}));
    }
    if g.chance(8) {
        condition.insert("IpAddress".to_owned(), json!({"aws:SourceIp": "192.0.2.0/24"}));
    }
    json!({"Effect": "Allow", "Principal": principal(g), "Action": "sts:AssumeRoleWithWebIdentity",
           "Condition": condition})
}

fn deny(g: &mut Gen) -> Value {
    let condition = match g.below(3) {
        0 => json!({"StringNotEquals": {SUB: g.values(&[ENV_SUB, "repo:octo-org/yamause:ref:refs/tags/v1.0.0"], 2)}}),
        1 => json!({"StringLike": {SUB: g.values(&NOT_SUBS, 2)}}),
        _ => json!({"StringNotLike": {SUB: g.values(&SUBS, 3)}}),
    };
    let principal = if g.chance(50) { json!("*") } else { principal(g) };
    json!({"Effect": "Deny", "Principal": principal, "Action": "sts:AssumeRoleWithWebIdentity", "Condition": condition})
}

fn statements(g: &mut Gen) -> Vec<Value> {
    let mut out: Vec<Value> = (0..1 + g.below(3)).map(|_| allow(g)).collect();
    for _ in 0..g.below(3) {
        if g.chance(50) {
            out.push(deny(g));
        }
    }
    out
}

/// The status of a document of `statements`.
fn status_of(statements: &[Value]) -> (Status, String) {
    let findings = analyse_trust(&doc(json!(statements)), &env_ctx(), &TrustFacts::default());
    (status(&findings), render_text(&findings))
}

/// One statement split in two: by the values of a positive `sub` condition
/// (IAM ORs them, as it ORs statements), or by its principals.
fn split(g: &mut Gen, statements: &[Value]) -> Option<Vec<Value>> {
    let at = g.below(statements.len());
    let statement = &statements[at];
    let mut parts: Vec<Value> = Vec::new();
    for op in ["StringLike", "StringEquals"] {
        if let Some(values) = statement["Condition"][op][SUB].as_array().filter(|it| it.len() > 1) {
            for value in values {
                let mut part = statement.clone();
                part["Condition"][op][SUB] = json!([value]);
                parts.push(part);
            }
            break;
        }
    }
    if parts.is_empty()
        && let Some(kinds) = statement["Principal"].as_object().filter(|it| it.len() > 1)
    {
        for (kind, value) in kinds {
            let mut part = statement.clone();
            part["Principal"] = json!({kind: value});
            parts.push(part);
        }
    }
    if parts.is_empty() {
        return None;
    }
    let mut out = statements.to_vec();
    out.splice(at..=at, parts);
    Some(out)
}

/// The values of every condition in another order, some of them repeated: as
/// often as the document stays within IAM's size limit.
fn reorder_values(g: &mut Gen, statements: &[Value]) -> Vec<Value> {
    let mut out = statements.to_vec();
    for statement in &mut out {
        let Some(operators) = statement["Condition"].as_object_mut() else { continue };
        for keys in operators.values_mut().filter_map(Value::as_object_mut) {
            for values in keys.values_mut().filter_map(Value::as_array_mut) {
                g.shuffle(values);
            }
        }
    }
    // Repeat values of the sub conditions, round by round, while the document fits.
    for _ in 0..200 {
        let mut grown = out.clone();
        let at = g.below(grown.len());
        let Some(values) = grown[at]["Condition"]["StringLike"][SUB].as_array_mut() else { continue };
        let again = g.pick(values);
        let place = g.below(values.len() + 1);
        values.insert(place, again);
        if crate::policy::iam_size(&doc(json!(grown))) > 4000 {
            break;
        }
        out = grown;
    }
    out
}

#[test]
fn permuting_repeating_or_splitting_never_changes_the_status() {
    let mut kinds = std::collections::BTreeMap::new();
    for seed in 0..60u64 {
        let g = &mut Gen(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5EED);
        let original = statements(g);
        let (want, shown) = status_of(&original);
        *kinds.entry(want.as_str()).or_insert(0) += 1;
        let mut permuted = original.clone();
        g.shuffle(&mut permuted);
        let mut repeated = original.clone();
        repeated.push(g.pick(&original));
        repeated.insert(0, g.pick(&original));
        let mut variants =
            vec![("permuted", permuted), ("repeated", repeated), ("values", reorder_values(g, &original))];
        variants.extend(split(g, &original).map(|it| ("split", it)));
        for (how, variant) in variants {
            let (got, variant_shown) = status_of(&variant);
            assert_eq!(
                got,
                want,
                "seed {seed}, {how}:\n{}\nwas\n{shown}\nis\n{}\n{variant_shown}",
                doc(json!(original)),
                doc(json!(variant))
            );
        }
    }
    // The generator reaches every status, or the property says little.
    assert_eq!(kinds.len(), 3, "{kinds:?}");
}
