//! The GitHub repository that the fake GitHub REST API (`github_api`) serves: its
//! names and ids, its deployment environments with their protection rules, its
//! OIDC subject customization, its rulesets, the accounts it knows (users and teams,
//! and whose the token is), the Actions secrets written to it, the bearer token the
//! API accepts, and which endpoints answer as if the token lacked the permission.
//! Tests change it through [`crate::Emulator::set_github_repo`] or
//! `PUT /_castack/github`; the API's writes change it too.
//!
//! The defaults describe the project's own setup done right: `octo-org/yamause`
//! with the ids of the default OIDC claims, a `release` environment with a reviewer,
//! "Prevent self-review", no administrator bypass and a `v*` tag rule, GitHub's
//! default subject template, an active tag ruleset on `refs/tags/v*`, and a token of
//! the user `release-manager`. No secrets.

// The settings as JSON for the control API.
mod json;

use anyhow::Context;

use crate::github_secrets::GithubSecret;

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
    /// `PUT /repos/{owner}/{repo}/environments/{name}` and `POST` of its
    /// `deployment-branch-policies` (administration=write).
    EnvironmentWrites,
    /// The Actions secrets of the repository and its environments: the public keys
    /// and lists (secrets=read), `PUT` (secrets=write).
    Secrets,
}

impl GithubEndpoint {
    const ALL: [GithubEndpoint; 6] = [
        GithubEndpoint::Repository,
        GithubEndpoint::Environments,
        GithubEndpoint::OidcSubject,
        GithubEndpoint::Rulesets,
        GithubEndpoint::EnvironmentWrites,
        GithubEndpoint::Secrets,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            GithubEndpoint::Repository => "repository",
            GithubEndpoint::Environments => "environments",
            GithubEndpoint::OidcSubject => "oidc-subject",
            GithubEndpoint::Rulesets => "rulesets",
            GithubEndpoint::EnvironmentWrites => "environment-writes",
            GithubEndpoint::Secrets => "secrets",
        }
    }

    /// The permission GitHub names in `X-Accepted-GitHub-Permissions` for it, for a
    /// read or a write.
    pub fn permission(self, write: bool) -> &'static str {
        match self {
            GithubEndpoint::Repository | GithubEndpoint::Rulesets => "metadata=read",
            GithubEndpoint::Environments | GithubEndpoint::OidcSubject => "actions=read",
            GithubEndpoint::EnvironmentWrites => "administration=write",
            GithubEndpoint::Secrets if write => "secrets=write",
            GithubEndpoint::Secrets => "secrets=read",
        }
    }

    fn parse(text: &str) -> anyhow::Result<GithubEndpoint> {
        GithubEndpoint::ALL.into_iter().find(|it| it.as_str() == text).with_context(|| {
            let names: Vec<&str> = GithubEndpoint::ALL.iter().map(|it| it.as_str()).collect();
            format!("unknown GitHub endpoint {text:?}: use one of {}", names.join(", "))
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

/// A required reviewer of an environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reviewer {
    /// A user, by login.
    User(String),
    /// A team, by slug.
    Team(String),
}

/// One deployment environment and its protection rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GithubEnvironment {
    pub name: String,
    /// The required reviewers; their ids come from [`GithubRepo::users`] and
    /// [`GithubRepo::teams`] (a made-up one for a name neither lists).
    pub reviewers: Vec<Reviewer>,
    pub prevent_self_review: bool,
    pub can_admins_bypass: bool,
    pub wait_timer: u32,
    pub deployment: Deployment,
}

impl GithubEnvironment {
    /// A well protected environment: one reviewer, no self-review, no bypass, `v*` tags.
    pub fn protected(name: &str) -> GithubEnvironment {
        GithubEnvironment {
            reviewers: vec![Reviewer::User("release-manager".to_owned())],
            prevent_self_review: true,
            can_admins_bypass: false,
            deployment: Deployment::Custom(vec![("v*".to_owned(), RefType::Tag)]),
            ..GithubEnvironment::created(name)
        }
    }

    /// What `PUT …/environments/{name}` makes of a new environment without a body:
    /// no reviewers, administrators may bypass, any branch or tag may deploy.
    pub fn created(name: &str) -> GithubEnvironment {
        GithubEnvironment {
            name: name.to_owned(),
            reviewers: Vec::new(),
            prevent_self_review: false,
            can_admins_bypass: true,
            wait_timer: 0,
            deployment: Deployment::Any,
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

/// A GitHub account the fake knows (`GET /users/{login}`, reviewer ids).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GithubUser {
    pub login: String,
    pub id: u64,
    /// The display name (`name` of the user object).
    pub name: String,
}

impl GithubUser {
    pub fn new(login: &str, id: u64, name: &str) -> GithubUser {
        GithubUser { login: login.to_owned(), id, name: name.to_owned() }
    }
}

/// A team of the repository's organization (reviewer ids).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GithubTeam {
    pub slug: String,
    pub id: u64,
    pub name: String,
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
    /// The users the fake knows besides the owner organization.
    pub users: Vec<GithubUser>,
    pub teams: Vec<GithubTeam>,
    /// The login of the token's user (`GET /user`); `None`: the token is an
    /// installation token, as a workflow's `GITHUB_TOKEN`, and `GET /user` answers 403.
    pub token_user: Option<String>,
    /// The Actions secrets written through the API, decrypted (the control API
    /// shows their names and dates only).
    pub secrets: Vec<GithubSecret>,
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
            users: vec![
                GithubUser::new("release-manager", 1000, "Release Manager"),
                GithubUser::new("second-reviewer", 1001, "Second Reviewer"),
            ],
            teams: vec![GithubTeam {
                slug: "release-managers".to_owned(),
                id: 2000,
                name: "Release managers".to_owned(),
            }],
            token_user: Some("release-manager".to_owned()),
            secrets: Vec::new(),
        }
    }
}

impl GithubRepo {
    /// The environment `name` (GitHub matches names without regard to case).
    pub fn environment(&self, name: &str) -> Option<&GithubEnvironment> {
        self.environments.iter().find(|it| it.name.eq_ignore_ascii_case(name))
    }

    pub(crate) fn environment_mut(&mut self, name: &str) -> Option<&mut GithubEnvironment> {
        self.environments.iter_mut().find(|it| it.name.eq_ignore_ascii_case(name))
    }

    /// The user `login` (case ignored, as GitHub does).
    pub fn user(&self, login: &str) -> Option<&GithubUser> {
        self.users.iter().find(|it| it.login.eq_ignore_ascii_case(login))
    }

    /// The id a reviewer is shown with: the listed user's or team's, else a made-up
    /// one from its place in `reviewers` (so a test may name anyone).
    pub(crate) fn reviewer_id(&self, reviewer: &Reviewer, index: usize) -> u64 {
        let listed = match reviewer {
            Reviewer::User(login) => self.user(login).map(|it| it.id),
            Reviewer::Team(slug) => self.teams.iter().find(|it| it.slug.eq_ignore_ascii_case(slug)).map(|it| it.id),
        };
        listed.unwrap_or(1000 + index as u64)
    }
}
