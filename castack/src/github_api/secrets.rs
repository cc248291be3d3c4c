//! Actions secrets of the repository (`…/actions/secrets`) and of an environment
//! (`…/environments/{name}/secrets`): the public key to seal values with, the list
//! and single secret (names and dates, never values), and `PUT`, which opens the
//! sealed box with the scope's key and keeps the plaintext for tests.
//!
//! `PUT` answers as GitHub does: 422 for a name against GitHub's rules, a missing
//! `encrypted_value` or `key_id` ("… wasn't supplied."), an `encrypted_value` that is
//! not base64 (GitHub's message repeats it), and "Bad request - validation failed
//! due to an improperly encrypted secret" for a key id of another key or a value
//! that does not open; 201 `{}` for a new secret, 204 for an update. Names are kept
//! in upper case and matched without regard to case.

use std::time::SystemTime;

use serde_json::{Value, json};

use super::{Answer, Call, error, invalid, not_found, ok, page, permitted};
use crate::{
    github_repo::GithubRepo,
    github_secrets::{GithubSecret, SecretScope, SecretValue, iso8601, name_problem},
    http::Response,
    util,
};

/// The pattern GitHub's description gives `encrypted_value`, as its 422 quotes it.
const BASE64_PATTERN: &str =
    "/^(?:[A-Za-z0-9+\\/]{4})*(?:[A-Za-z0-9+\\/]{2}==|[A-Za-z0-9+\\/]{3}=|[A-Za-z0-9+\\/]{4})$/";

/// The secrets endpoints after `…/secrets` of `scope`.
pub(super) fn route(call: &Call, scope: SecretScope, rest: &[&str]) -> Answer {
    match (call.method, rest) {
        ("GET", []) => ok(list(call.repo, &scope, call)),
        ("GET", ["public-key"]) => {
            let (key_id, key) = call.state.github_keys.public_key(&scope);
            ok(json!({"key_id": key_id, "key": key}))
        }
        ("GET", [name]) => {
            let found = call.repo.secrets.iter().find(|it| it.is(&scope, name));
            found.map(|it| ok(shown(it))).unwrap_or_else(|| Err(not_found()))
        }
        ("PUT", [name]) => put(call, scope, name),
        _ => Err(not_found()),
    }
}

/// GitHub's `actions-secret`: the name and dates.
fn shown(secret: &GithubSecret) -> Value {
    json!({"name": secret.name, "created_at": iso8601(secret.created_at), "updated_at": iso8601(secret.updated_at)})
}

fn list(repo: &GithubRepo, scope: &SecretScope, call: &Call) -> Value {
    let mut found: Vec<&GithubSecret> = repo.secrets.iter().filter(|it| it.scope == *scope).collect();
    found.sort_by(|a, b| a.name.cmp(&b.name));
    let items: Vec<Value> = found.into_iter().map(shown).collect();
    json!({"total_count": items.len(), "secrets": page(&items, call.query)})
}

/// A required string field of the body.
fn text<'a>(body: &'a serde_json::Map<String, Value>, key: &str) -> Result<&'a str, Response> {
    match body.get(key) {
        None | Some(Value::Null) => Err(invalid(&format!("{key:?} wasn't supplied."))),
        Some(Value::String(it)) => Ok(it),
        Some(other) => Err(invalid(&format!("For 'properties/{key}', {other} is not a string."))),
    }
}

fn put(call: &Call, scope: SecretScope, name: &str) -> Answer {
    if let Some(why) = name_problem(name) {
        return Err(error(422, why));
    }
    let body = call.json_object()?.unwrap_or_default();
    permitted(&body, &["encrypted_value", "key_id"])?;
    let encrypted = text(&body, "encrypted_value")?;
    let key_id = text(&body, "key_id")?;
    let canonical = !encrypted.is_empty() && !encrypted.contains(char::is_whitespace);
    let Some(sealed) = util::b64std_decode(encrypted).filter(|_| canonical) else {
        return Err(invalid(&format!("{encrypted} does not match {BASE64_PATTERN}.")));
    };
    let Ok(plain) = call.state.github_keys.open(&scope, key_id, &sealed) else {
        return Err(error(422, "Bad request - validation failed due to an improperly encrypted secret"));
    };
    let now = SystemTime::now();
    let created = call.state.update_github_repo(|repo| {
        if let Some(found) = repo.secrets.iter_mut().find(|it| it.is(&scope, name)) {
            found.value = SecretValue::new(plain);
            found.updated_at = now;
            return false;
        }
        let name = name.to_ascii_uppercase();
        repo.secrets.push(GithubSecret {
            scope,
            name,
            value: SecretValue::new(plain),
            created_at: now,
            updated_at: now,
        });
        true
    });
    Ok(if created { Response::json(201, &json!({})) } else { Response::new(204, "application/json", "") })
}
