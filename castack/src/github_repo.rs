//! The GitHub repository that the fake GitHub REST API (`github_api`) serves: its
//! names and ids, its deployment environments with their protection rules, its
//! OIDC subject customization, its rulesets, the bearer token the API accepts, and
//! which endpoints answer as if the token lacked the permission. Tests change it
//! through [`crate::Emulator::set_github_repo`] or `PUT /_castack/github`.
//!
//! The defaults describe the project's own setup done right: `octo-org/yamause`
//! with the ids of the default OIDC claims, a `release` environment with a reviewer,
//! "Prevent self-review", no administrator bypass and a `v*` tag rule, GitHub's
//! default subject template, and an active tag ruleset on `refs/tags/v*`.

use anyhow::{Context, bail};
use serde_json::{Value, json};

/// Where the fake API lives on the emulator: `GITHUB_API_URL` is the emulator's URL
/// and this.
pub(crate) const API_PREFIX: &str = "/_github/api";

/// The endpoints of the fake API, for the permissions a test takes away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GithubEndpoint {
    /// `GET /repos/{owner}/{repo}` (metadata).
    Repository,
    /// `GET /repos/{owner}/{repo}/environments/{name}` and its
    /// `deployment-branch-policies` (actions).
    Environments,
    /// `GET /repos/{owner}/{repo}/actions/oidc/customization/sub` (actions).
    OidcSubject,
    /// `GET /repos/{owner}/{repo}/rulesets` and `/rulesets/{id}` (metadata).
    Rulesets,
}

impl GithubEndpoint {
    const ALL: [GithubEndpoint; 4] = [
        GithubEndpoint::Repository,
        GithubEndpoint::Environments,
        GithubEndpoint::OidcSubject,
        GithubEndpoint::Rulesets,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            GithubEndpoint::Repository => "repository",
            GithubEndpoint::Environments => "environments",
            GithubEndpoint::OidcSubject => "oidc-subject",
            GithubEndpoint::Rulesets => "rulesets",
        }
    }

    /// The permission GitHub names in `X-Accepted-GitHub-Permissions` for it.
    pub fn permission(self) -> &'static str {
        match self {
            GithubEndpoint::Repository | GithubEndpoint::Rulesets => "metadata=read",
            GithubEndpoint::Environments | GithubEndpoint::OidcSubject => "actions=read",
        }
    }

    fn parse(text: &str) -> anyhow::Result<GithubEndpoint> {
        GithubEndpoint::ALL.into_iter().find(|it| it.as_str() == text).with_context(|| {
            format!("unknown GitHub endpoint {text:?}: use repository, environments, oidc-subject or rulesets")
        })
    }
}

/// Whether a deployment branch or tag policy names branches or tags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefType {
    Branch,
    Tag,
}

impl RefType {
    pub fn as_str(self) -> &'static str {
        match self {
            RefType::Branch => "branch",
            RefType::Tag => "tag",
        }
    }
}

/// `deployment_branch_policy` of an environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Deployment {
    /// `null`: any branch or tag may deploy.
    Any,
    ProtectedBranches,
    /// Custom policies: name patterns of branches or tags.
    Custom(Vec<(String, RefType)>),
}

/// One deployment environment and its protection rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GithubEnvironment {
    pub name: String,
    /// Logins of the user reviewers (each gets a made-up id).
    pub reviewers: Vec<String>,
    pub prevent_self_review: bool,
    pub can_admins_bypass: bool,
    pub wait_timer: u32,
    pub deployment: Deployment,
}

impl GithubEnvironment {
    /// A well protected environment: one reviewer, no self-review, no bypass, `v*` tags.
    pub fn protected(name: &str) -> GithubEnvironment {
        GithubEnvironment {
            name: name.to_owned(),
            reviewers: vec!["release-manager".to_owned()],
            prevent_self_review: true,
            can_admins_bypass: false,
            wait_timer: 0,
            deployment: Deployment::Custom(vec![("v*".to_owned(), RefType::Tag)]),
        }
    }
}

/// One ruleset of the repository.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GithubRuleset {
    pub id: u64,
    pub name: String,
    /// `branch`, `tag` or `push`.
    pub target: String,
    /// `active`, `evaluate` or `disabled`.
    pub enforcement: String,
    /// `conditions.ref_name.include` / `exclude`.
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    /// The rule types (`creation`, `update`, `deletion`, …).
    pub rules: Vec<String>,
}

impl GithubRuleset {
    /// An active tag ruleset on `refs/tags/v*` that restricts creating, updating
    /// and deleting the tags.
    pub fn release_tags() -> GithubRuleset {
        GithubRuleset {
            id: 42,
            name: "release tags".to_owned(),
            target: "tag".to_owned(),
            enforcement: "active".to_owned(),
            include: vec!["refs/tags/v*".to_owned()],
            exclude: Vec::new(),
            rules: ["creation", "update", "deletion"].map(str::to_owned).to_vec(),
        }
    }
}

/// The repository the fake GitHub REST API serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GithubRepo {
    pub owner: String,
    pub name: String,
    pub owner_id: u64,
    pub id: u64,
    /// The bearer token the API accepts; `None`: a random one.
    pub token: Option<String>,
    pub environments: Vec<GithubEnvironment>,
    /// `use_default` of the subject customization; `include_claim_keys` when not.
    pub sub_use_default: bool,
    pub sub_claim_keys: Vec<String>,
    pub use_immutable_subject: bool,
    pub rulesets: Vec<GithubRuleset>,
    /// Endpoints that answer 403 as for a token without their permission.
    pub forbidden: Vec<GithubEndpoint>,
}

impl Default for GithubRepo {
    fn default() -> GithubRepo {
        GithubRepo {
            owner: "octo-org".to_owned(),
            name: "yamause".to_owned(),
            owner_id: 100_000_000,
            id: 100_000_001,
            token: None,
            environments: vec![GithubEnvironment::protected("release")],
            sub_use_default: true,
            sub_claim_keys: Vec::new(),
            use_immutable_subject: false,
            rulesets: vec![GithubRuleset::release_tags()],
            forbidden: Vec::new(),
        }
    }
}

impl GithubRepo {
    /// The settings as JSON, for the control API (never the token).
    pub fn to_json(&self) -> Value {
        let environments: Vec<Value> = self
            .environments
            .iter()
            .map(|env| {
                json!({
                    "name": env.name,
                    "reviewers": env.reviewers,
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
            })
            .collect();
        let rulesets: Vec<Value> = self
            .rulesets
            .iter()
            .map(|it| {
                json!({"id": it.id, "name": it.name, "target": it.target, "enforcement": it.enforcement,
                       "include": it.include, "exclude": it.exclude, "rules": it.rules})
            })
            .collect();
        json!({
            "owner": self.owner, "name": self.name, "owner_id": self.owner_id, "id": self.id,
            "environments": environments,
            "sub_use_default": self.sub_use_default, "sub_claim_keys": self.sub_claim_keys,
            "use_immutable_subject": self.use_immutable_subject,
            "rulesets": rulesets,
            "forbidden": self.forbidden.iter().map(|it| it.as_str()).collect::<Vec<_>>(),
        })
    }

    /// Settings from the JSON of [`GithubRepo::to_json`]; missing fields keep the
    /// defaults, and `token` may be given.
    pub fn from_json(value: &Value) -> anyhow::Result<GithubRepo> {
        let Some(obj) = value.as_object() else { bail!("the GitHub repository settings must be a JSON object") };
        let mut out = GithubRepo::default();
        let text = |key: &str| obj.get(key).and_then(Value::as_str).map(str::to_owned);
        let number = |key: &str| obj.get(key).and_then(Value::as_u64);
        let flag = |key: &str| obj.get(key).and_then(Value::as_bool);
        let texts = |value: &Value| -> Vec<String> {
            value
                .as_array()
                .map(|it| it.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                .unwrap_or_default()
        };
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
            out.rulesets = list
                .iter()
                .map(|it| GithubRuleset {
                    id: it.get("id").and_then(Value::as_u64).unwrap_or(1),
                    name: it.get("name").and_then(Value::as_str).unwrap_or("ruleset").to_owned(),
                    target: it.get("target").and_then(Value::as_str).unwrap_or("tag").to_owned(),
                    enforcement: it.get("enforcement").and_then(Value::as_str).unwrap_or("active").to_owned(),
                    include: it.get("include").map(texts).unwrap_or_default(),
                    exclude: it.get("exclude").map(texts).unwrap_or_default(),
                    rules: it.get("rules").map(texts).unwrap_or_default(),
                })
                .collect();
        }
        if let Some(list) = obj.get("forbidden") {
            out.forbidden = texts(list).iter().map(|it| GithubEndpoint::parse(it)).collect::<anyhow::Result<_>>()?;
        }
        Ok(out)
    }
}

fn environment_from_json(value: &Value) -> anyhow::Result<GithubEnvironment> {
    let name = value.get("name").and_then(Value::as_str).context("every environment needs a \"name\"")?;
    let mut env = GithubEnvironment::protected(name);
    let flag = |key: &str| value.get(key).and_then(Value::as_bool);
    if let Some(list) = value.get("reviewers").and_then(Value::as_array) {
        env.reviewers = list.iter().filter_map(Value::as_str).map(str::to_owned).collect();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_through_json() {
        let mut repo = GithubRepo::default();
        repo.environments
            .push(GithubEnvironment { deployment: Deployment::Any, ..GithubEnvironment::protected("dev") });
        repo.forbidden = vec![GithubEndpoint::Environments];
        repo.sub_use_default = false;
        repo.sub_claim_keys = vec!["repo".into(), "context".into()];
        assert_eq!(GithubRepo::from_json(&repo.to_json()).unwrap(), repo);
        assert!(GithubRepo::from_json(&json!({"forbidden": ["everything"]})).is_err());
        assert!(GithubRepo::from_json(&json!([])).is_err());
        assert!(!repo.to_json().to_string().contains("token"));
    }
}
