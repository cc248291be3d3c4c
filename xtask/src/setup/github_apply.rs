//! `setup --apply-github`: an environment, its `v*` tag rule and its five secrets,
//! through GitHub's REST API with the token `github_api` found. A secret's value is
//! sealed to the repository's public key (libsodium's sealed box, which GitHub
//! requires) in memory and only the sealed form is sent; neither the value nor the
//! request body is ever printed, logged or put into an error.

use anyhow::{Result, bail};
use serde_json::{Value, json};

use super::github::{self, Prepared, Side, TAG_RULE, answer};
use crate::github_api::Api;

/// One setting to store as a secret: its name (`AWS_REGION` …) and value, which
/// neither `Debug` nor anything else prints. The values are not registered with
/// `redact` (which would hide the account and region in the AWS part and the
/// verdict, where they belong); they simply never reach a printed line here, and
/// only their sealed form leaves the process.
pub struct SecretValue {
    pub name: &'static str,
    value: String,
}

impl SecretValue {
    pub fn new(name: &'static str, value: String) -> SecretValue {
        SecretValue { name, value }
    }
}

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}=***", self.name)
    }
}

/// Carries out the GitHub part; returns what was done (empty: nothing to change).
pub async fn apply(prepared: &Prepared, side: &Side<'_>, values: &[SecretValue]) -> Result<Vec<String>> {
    let Some((api, _)) = &prepared.api else {
        bail!("--apply-github needs a GitHub token: {}", prepared.problem.clone().unwrap_or_else(github::token_help));
    };
    if let Some(problem) = &prepared.problem {
        bail!("GitHub's side could not be read, so it is not changed: {problem}");
    }
    let todo = github::todo(prepared, side);
    let mut done = Vec::new();
    if let (Some(env), true) = (side.environment, todo.environment) {
        let want = github::desired(prepared);
        if want.reviewers.is_empty() && side.needs_reviewers {
            bail!(
                "the environment {env} needs a required reviewer, and the token has no user to default to: pass --reviewer LOGIN"
            );
        }
        let Some(body) = github::environment_json(&want) else {
            let unknown: Vec<&str> =
                want.reviewers.iter().filter(|it| it.id.is_none()).map(|it| it.name.as_str()).collect();
            bail!(
                "GitHub knows no user {} (GET /users/LOGIN): pass --reviewer with the login of an existing user",
                unknown.join(", ")
            );
        };
        let path = side.env_path(env);
        answer(api.put(&path, &body).await, &format!("PUT {path}")).map_err(anyhow::Error::msg)?;
        let names: Vec<&str> = want.reviewers.iter().map(|it| it.name.as_str()).collect();
        let reviewers = if names.is_empty() {
            "no required reviewers".to_owned()
        } else {
            format!("required reviewers {}", names.join(", "))
        };
        done.push(format!("set up the environment {env}: {reviewers}, custom deployment policies"));
    }
    if let (Some(env), true) = (side.environment, todo.tag_rule) {
        let path = format!("{}/deployment-branch-policies", side.env_path(env));
        let body = json!({"name": TAG_RULE, "type": "tag"});
        answer(api.post(&path, &body).await, &format!("POST {path}")).map_err(anyhow::Error::msg)?;
        done.push(format!("added the deployment tag rule {TAG_RULE} to {env}"));
    }
    if !todo.secrets.is_empty() {
        let path = format!("{}/public-key", side.secrets_path());
        let key = answer(api.get(&path).await, &format!("GET {path}")).map_err(anyhow::Error::msg)?;
        let key = PublicKey::parse(&key)?;
        for name in &todo.secrets {
            let value = values.iter().find(|it| it.name == *name);
            let Some(value) = value else { bail!("no value for the secret {name}") };
            put_secret(api, side, &key, name, value).await?;
            done.push(format!("set the secret {name}"));
        }
    }
    Ok(done)
}

/// The repository's (or environment's) public key for secrets.
struct PublicKey {
    id: String,
    key: crypto_box::PublicKey,
}

impl PublicKey {
    /// `{"key_id": "…", "key": "<base64 of 32 bytes>"}`.
    fn parse(value: &Value) -> Result<PublicKey> {
        let text = |name: &str| value.get(name).and_then(Value::as_str).filter(|it| !it.is_empty() && it.len() < 200);
        let (Some(id), Some(key)) = (text("key_id"), text("key")) else {
            bail!("GitHub's public key answer has no key_id and key: is GITHUB_API_URL GitHub's API?");
        };
        let bytes = base64_simd::STANDARD.decode_to_vec(key).ok().filter(|it| it.len() == crypto_box::KEY_SIZE);
        let Some(bytes) = bytes else {
            bail!("GitHub's public key is not 32 bytes of base64: is GITHUB_API_URL GitHub's API?")
        };
        let key = crypto_box::PublicKey::from_slice(&bytes)
            .map_err(|_| anyhow::format_err!("GitHub's public key is not 32 bytes"))?;
        Ok(PublicKey { id: id.to_owned(), key })
    }
}

/// Seals `value` to `key` (a fresh ephemeral key pair per secret) and stores it.
async fn put_secret(api: &Api, side: &Side<'_>, key: &PublicKey, name: &str, value: &SecretValue) -> Result<()> {
    let sealed = key
        .key
        .seal(&mut crypto_box::aead::OsRng, value.value.as_bytes())
        .map_err(|_| anyhow::format_err!("sealing the secret {name} failed (the system's random source?)"))?;
    let body = json!({"encrypted_value": base64_simd::STANDARD.encode_to_string(&sealed), "key_id": key.id});
    let path = format!("{}/{name}", side.secrets_path());
    answer(api.put(&path, &body).await, &format!("PUT {path}")).map_err(anyhow::Error::msg)?;
    Ok(())
}
