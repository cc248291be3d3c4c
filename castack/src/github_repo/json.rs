//! The fake GitHub repository's settings as JSON, for the control API
//! (`GET`/`PUT /_castack/github`). The token is never shown; stored secrets are shown
//! by scope, name and dates only, and cannot be set through JSON (no secret value
//! travels over HTTP).

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::{
    Deployment, GithubEndpoint, GithubEnvironment, GithubRepo, GithubRuleset, GithubTeam, GithubUser, RefType, Reviewer,
};
use crate::github_secrets::{SecretScope, iso8601};

impl GithubRepo {
    /// The settings as JSON, for the control API (never the token, never a secret value).
    pub fn to_json(&self) -> Value {
        let environments: Vec<Value> = self.environments.iter().map(environment_to_json).collect();
        let rulesets: Vec<Value> = self
            .rulesets
            .iter()
            .map(|it| {
                json!({"id": it.id, "name": it.name, "target": it.target, "enforcement": it.enforcement,
                       "include": it.include, "exclude": it.exclude, "rules": it.rules})
            })
            .collect();
        let secrets: Vec<Value> = self
            .secrets
            .iter()
            .map(|it| {
                let environment = match &it.scope {
                    SecretScope::Repository => Value::Null,
                    SecretScope::Environment(name) => json!(name),
                };
                json!({"environment": environment, "name": it.name,
                       "created_at": iso8601(it.created_at), "updated_at": iso8601(it.updated_at)})
            })
            .collect();
        json!({
            "owner": self.owner, "name": self.name, "owner_id": self.owner_id, "id": self.id,
            "environments": environments,
            "sub_use_default": self.sub_use_default, "sub_claim_keys": self.sub_claim_keys,
            "use_immutable_subject": self.use_immutable_subject,
            "rulesets": rulesets,
            "forbidden": self.forbidden.iter().map(|it| it.as_str()).collect::<Vec<_>>(),
            "users": self.users.iter().map(|it| json!({"login": it.login, "id": it.id, "name": it.name})).collect::<Vec<_>>(),
            "teams": self.teams.iter().map(|it| json!({"slug": it.slug, "id": it.id, "name": it.name})).collect::<Vec<_>>(),
            "viewer": self.token_user,
            "secrets": secrets,
        })
    }

    /// Settings from the JSON of [`GithubRepo::to_json`]; missing fields keep the
    /// defaults, `token` may be given, and `secrets` is ignored (none are set this way).
    pub fn from_json(value: &Value) -> anyhow::Result<GithubRepo> {
        let Some(obj) = value.as_object() else { bail!("the GitHub repository settings must be a JSON object") };
        let mut out = GithubRepo::default();
        let text = |key: &str| obj.get(key).and_then(Value::as_str).map(str::to_owned);
        let number = |key: &str| obj.get(key).and_then(Value::as_u64);
        let flag = |key: &str| obj.get(key).and_then(Value::as_bool);
        out.owner = text("owner").unwrap_or(out.owner);
        out.name = text("name").unwrap_or(out.name);
        out.owner_id = number("owner_id").unwrap_or(out.owner_id);
        out.id = number("id").unwrap_or(out.id);
        out.token = text("token");
        out.sub_use_default = flag("sub_use_default").unwrap_or(out.sub_use_default);
        out.use_immutable_subject = flag("use_immutable_subject").unwrap_or(out.use_immutable_subject);
        if let Some(keys) = obj.get("sub_claim_keys") {
            out.sub_claim_keys = texts(keys);
        }
        if let Some(list) = obj.get("environments").and_then(Value::as_array) {
            out.environments = list.iter().map(environment_from_json).collect::<anyhow::Result<_>>()?;
        }
        if let Some(list) = obj.get("rulesets").and_then(Value::as_array) {
            out.rulesets = list.iter().map(ruleset_from_json).collect();
        }
        if let Some(list) = obj.get("forbidden") {
            out.forbidden = texts(list).iter().map(|it| GithubEndpoint::parse(it)).collect::<anyhow::Result<_>>()?;
        }
        if let Some(list) = obj.get("users").and_then(Value::as_array) {
            out.users = list.iter().map(user_from_json).collect::<anyhow::Result<_>>()?;
        }
        if let Some(list) = obj.get("teams").and_then(Value::as_array) {
            out.teams = list.iter().map(team_from_json).collect::<anyhow::Result<_>>()?;
        }
        match obj.get("viewer") {
            None => {}
            Some(Value::Null) => out.token_user = None,
            Some(Value::String(login)) => out.token_user = Some(login.clone()),
            Some(other) => {
                bail!("\"viewer\" is {other}: use the token user's login, or null for an installation token")
            }
        }
        Ok(out)
    }
}

fn texts(value: &Value) -> Vec<String> {
    value.as_array().map(|it| it.iter().filter_map(Value::as_str).map(str::to_owned).collect()).unwrap_or_default()
}

fn environment_to_json(env: &GithubEnvironment) -> Value {
    let reviewers: Vec<Value> = env
        .reviewers
        .iter()
        .map(|it| match it {
            Reviewer::User(login) => json!(login),
            Reviewer::Team(slug) => json!({"team": slug}),
        })
        .collect();
    json!({
        "name": env.name,
        "reviewers": reviewers,
        "prevent_self_review": env.prevent_self_review,
        "can_admins_bypass": env.can_admins_bypass,
        "wait_timer": env.wait_timer,
        "deployment": match &env.deployment {
            Deployment::Any => json!("any"),
            Deployment::ProtectedBranches => json!("protected_branches"),
            Deployment::Custom(rules) => {
                json!(rules.iter().map(|(n, t)| json!({"name": n, "type": t.as_str()})).collect::<Vec<_>>())
            }
        },
    })
}

fn environment_from_json(value: &Value) -> anyhow::Result<GithubEnvironment> {
    let name = value.get("name").and_then(Value::as_str).context("every environment needs a \"name\"")?;
    let mut env = GithubEnvironment::protected(name);
    let flag = |key: &str| value.get(key).and_then(Value::as_bool);
    if let Some(list) = value.get("reviewers").and_then(Value::as_array) {
        env.reviewers = list.iter().map(reviewer_from_json).collect::<anyhow::Result<_>>()?;
    }
    env.prevent_self_review = flag("prevent_self_review").unwrap_or(env.prevent_self_review);
    env.can_admins_bypass = flag("can_admins_bypass").unwrap_or(env.can_admins_bypass);
    env.wait_timer = value.get("wait_timer").and_then(Value::as_u64).unwrap_or(0) as u32;
    env.deployment = match value.get("deployment") {
        None => env.deployment,
        Some(Value::String(s)) if s == "any" => Deployment::Any,
        Some(Value::String(s)) if s == "protected_branches" => Deployment::ProtectedBranches,
        Some(Value::Array(rules)) => Deployment::Custom(
            rules
                .iter()
                .map(|it| {
                    let name = it.get("name").and_then(Value::as_str).unwrap_or("*").to_owned();
                    let kind = if it.get("type").and_then(Value::as_str) == Some("tag") {
                        RefType::Tag
                    } else {
                        RefType::Branch
                    };
                    (name, kind)
                })
                .collect(),
        ),
        Some(other) => bail!("\"deployment\" is {other}: use \"any\", \"protected_branches\" or a list of rules"),
    };
    Ok(env)
}

/// A login, or `{"team": slug}`.
fn reviewer_from_json(value: &Value) -> anyhow::Result<Reviewer> {
    match value {
        Value::String(login) => Ok(Reviewer::User(login.clone())),
        Value::Object(it) => match it.get("team").and_then(Value::as_str) {
            Some(slug) => Ok(Reviewer::Team(slug.to_owned())),
            None => bail!("reviewer {value} is not {{\"team\": SLUG}}"),
        },
        other => bail!("reviewer {other}: use a user's login or {{\"team\": SLUG}}"),
    }
}

fn ruleset_from_json(it: &Value) -> GithubRuleset {
    GithubRuleset {
        id: it.get("id").and_then(Value::as_u64).unwrap_or(1),
        name: it.get("name").and_then(Value::as_str).unwrap_or("ruleset").to_owned(),
        target: it.get("target").and_then(Value::as_str).unwrap_or("tag").to_owned(),
        enforcement: it.get("enforcement").and_then(Value::as_str).unwrap_or("active").to_owned(),
        include: it.get("include").map(texts).unwrap_or_default(),
        exclude: it.get("exclude").map(texts).unwrap_or_default(),
        rules: it.get("rules").map(texts).unwrap_or_default(),
    }
}

fn user_from_json(value: &Value) -> anyhow::Result<GithubUser> {
    let login = value.get("login").and_then(Value::as_str).context("every user needs a \"login\"")?;
    let id =
        value.get("id").and_then(Value::as_u64).with_context(|| format!("user {login:?} needs a numeric \"id\""))?;
    Ok(GithubUser::new(login, id, value.get("name").and_then(Value::as_str).unwrap_or(login)))
}

fn team_from_json(value: &Value) -> anyhow::Result<GithubTeam> {
    let slug = value.get("slug").and_then(Value::as_str).context("every team needs a \"slug\"")?;
    let id =
        value.get("id").and_then(Value::as_u64).with_context(|| format!("team {slug:?} needs a numeric \"id\""))?;
    let name = value.get("name").and_then(Value::as_str).unwrap_or(slug).to_owned();
    Ok(GithubTeam { slug: slug.to_owned(), id, name })
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::github_secrets::{GithubSecret, SecretValue};

    #[test]
    fn settings_round_trip_through_json() {
        let mut repo = GithubRepo::default();
        repo.environments
            .push(GithubEnvironment { deployment: Deployment::Any, ..GithubEnvironment::protected("dev") });
        repo.environments[1].reviewers.push(Reviewer::Team("release-managers".into()));
        repo.forbidden = vec![GithubEndpoint::Environments, GithubEndpoint::Secrets];
        repo.sub_use_default = false;
        repo.sub_claim_keys = vec!["repo".into(), "context".into()];
        repo.token_user = None;
        repo.users.push(GithubUser::new("octocat", 583231, "The Octocat"));
        assert_eq!(GithubRepo::from_json(&repo.to_json()).unwrap(), repo);
        assert!(GithubRepo::from_json(&json!({"forbidden": ["everything"]})).is_err());
        assert!(GithubRepo::from_json(&json!({"environments": [{"name": "x", "reviewers": [7]}]})).is_err());
        assert!(GithubRepo::from_json(&json!([])).is_err());
        assert!(!repo.to_json().to_string().contains("token"));
    }

    #[test]
    fn secrets_show_as_names_only() {
        let mut repo = GithubRepo::default();
        let now = SystemTime::now();
        repo.secrets.push(GithubSecret {
            scope: SecretScope::Environment("release".into()),
            name: "AWS_ROLE_ARN".into(),
            value: SecretValue::new("arn:aws:iam::111122223333:role/plain-value"),
            created_at: now,
            updated_at: now,
        });
        let shown = repo.to_json();
        assert_eq!(shown["secrets"][0]["name"], "AWS_ROLE_ARN");
        assert_eq!(shown["secrets"][0]["environment"], "release");
        assert!(!shown.to_string().contains("plain-value"), "{shown}");
        assert!(!format!("{repo:?}").contains("plain-value"));
        // JSON never sets secrets.
        assert!(GithubRepo::from_json(&shown).unwrap().secrets.is_empty());
    }
}
