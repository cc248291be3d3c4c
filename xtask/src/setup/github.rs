//! The GitHub part of `setup`: the `release` environment the trust policy pins
//! (required reviewers, a deployment policy that admits only `v*` tags) and the five
//! settings `release.yml` reads as `secrets.*`, stored as secrets of that
//! environment; with private build dependencies also the `build-deps` environment
//! of the read role (the tag rule and no reviewers, since that role can only read)
//! with its own five secrets. It is printed always (with a token: what exists), as
//! `gh` commands that name each secret and never its value; `--apply-github`
//! carries it out through GitHub's REST API (`apply`).

use serde_json::{Value, json};
use xshell::Shell;

use crate::{
    github_api::{self, Api, Reply, TokenSource},
    policy::RepoRef,
    redact,
    settings::WORKFLOW_SECRETS,
};

/// The deployment tag rule of the environment.
pub const TAG_RULE: &str = "v*";

/// What the GitHub part is about.
pub struct Side<'a> {
    pub repo: &'a RepoRef,
    /// `None`: the job runs on a tag push without an environment (`--environment none`).
    pub environment: Option<&'a str>,
    /// `--reviewer` logins, validated.
    pub reviewers: &'a [String],
    pub force: bool,
    /// The release environment needs required reviewers; the read role's does not
    /// (setup adds none, and keeps those it has).
    pub needs_reviewers: bool,
}

impl Side<'_> {
    /// `/repos/OWNER/REPO`.
    pub fn repo_path(&self) -> String {
        format!("/repos/{}", self.repo.full_name())
    }

    /// `/repos/OWNER/REPO/environments/ENV`.
    pub fn env_path(&self, env: &str) -> String {
        format!("{}/environments/{}", self.repo_path(), redact::percent_encode(env))
    }

    /// Where the secrets live: the environment's, else the repository's Actions secrets.
    pub fn secrets_path(&self) -> String {
        match self.environment {
            Some(env) => format!("{}/secrets", self.env_path(env)),
            None => format!("{}/actions/secrets", self.repo_path()),
        }
    }
}

/// A required reviewer: a user (or, kept from an existing environment, a team).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reviewer {
    pub kind: String,
    pub name: String,
    /// GitHub's id; unknown without a token.
    pub id: Option<u64>,
}

/// What the environment holds on GitHub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvState {
    pub reviewers: Vec<Reviewer>,
    pub prevent_self_review: bool,
    pub can_admins_bypass: bool,
    pub wait_timer: u64,
    /// `deployment_branch_policy.custom_branch_policies`.
    pub custom: bool,
    /// The custom rules as `NAME (TYPE)`.
    pub rules: Vec<(String, String)>,
}

/// What GitHub holds, read with the token.
#[derive(Debug, Clone, Default)]
pub struct Current {
    /// `None`: the environment does not exist.
    pub env: Option<EnvState>,
    pub secrets: Vec<String>,
}

/// The GitHub part, read and resolved: the API when there is a token, what exists,
/// and the reviewers the environment gets.
pub struct Prepared {
    pub api: Option<(Api, TokenSource)>,
    /// Why GitHub could not be read (no token, a refusal), with the fix.
    pub problem: Option<String>,
    pub current: Option<Current>,
    pub reviewers: Vec<Reviewer>,
}

/// Reads the GitHub side when a token is there; never fails, a problem is kept.
pub async fn prepare(sh: &Shell, side: &Side<'_>) -> Prepared {
    let mut out = Prepared { api: None, problem: None, current: None, reviewers: Vec::new() };
    let base = match github_api::base_url() {
        Ok(base) => base,
        Err(err) => {
            out.problem = Some(err);
            out.reviewers = requested(side);
            return out;
        }
    };
    let Some((token, source)) = github_api::find_token(sh, &base) else {
        out.problem = Some(format!("no GitHub token ({})", token_help()));
        out.reviewers = requested(side);
        return out;
    };
    let api = match Api::new(base, token) {
        Ok(api) => api,
        Err(err) => {
            out.problem = Some(err);
            out.reviewers = requested(side);
            return out;
        }
    };
    match read_current(&api, side).await {
        Ok(current) => out.current = Some(current),
        Err(err) => out.problem = Some(err),
    }
    out.reviewers = resolve_reviewers(&api, side, out.current.as_ref()).await;
    out.api = Some((api, source));
    out
}

/// How to get a token that may change the repository's settings.
pub fn token_help() -> String {
    "set GH_TOKEN to a token with admin rights on the repository (fine-grained: Administration and Environments \
     read and write, Secrets read and write; classic: `repo`), or log in with `gh auth login`"
        .to_owned()
}

/// The `--reviewer` logins, ids unknown.
fn requested(side: &Side) -> Vec<Reviewer> {
    side.reviewers.iter().map(|login| Reviewer { kind: "User".to_owned(), name: login.clone(), id: None }).collect()
}

/// The reviewers the environment gets: the ones it has, plus `--reviewer` (by id),
/// or, when it has none and none is asked for, the token's user.
async fn resolve_reviewers(api: &Api, side: &Side<'_>, current: Option<&Current>) -> Vec<Reviewer> {
    let mut out: Vec<Reviewer> =
        current.and_then(|it| it.env.as_ref()).map(|it| it.reviewers.clone()).unwrap_or_default();
    let mut wanted = requested(side);
    for reviewer in &mut wanted {
        if let Reply::Json(user) = api.get(&format!("/users/{}", reviewer.name)).await {
            reviewer.id = user.get("id").and_then(Value::as_u64);
        }
    }
    if wanted.is_empty() && out.is_empty() && side.needs_reviewers {
        // A workflow's GITHUB_TOKEN has no user; then the placeholder stays.
        if let Reply::Json(user) = api.get("/user").await
            && let Some(login) = user.get("login").and_then(Value::as_str).filter(|it| super::valid_login(it))
        {
            wanted.push(Reviewer {
                kind: "User".to_owned(),
                name: login.to_owned(),
                id: user.get("id").and_then(Value::as_u64),
            });
        }
    }
    for reviewer in wanted {
        let known = out.iter().any(|it| it.kind == reviewer.kind && (it.name == reviewer.name || it.id == reviewer.id));
        if !known {
            out.push(reviewer);
        }
    }
    out
}

/// The reply as JSON, or what went wrong with the fix.
pub fn answer(reply: Reply, what: &str) -> Result<Value, String> {
    match reply {
        Reply::Json(value) => Ok(value),
        Reply::Refused { status: 401, message, .. } => Err(format!(
            "GitHub refused the token for {what} (401 {message}): it is expired, revoked or for another host; {}",
            token_help()
        )),
        Reply::Refused { status: 403, message, permission } => {
            let named = permission.map(|it| format!(" (GitHub names {it:?})")).unwrap_or_default();
            Err(format!("GitHub refused {what} (403 {message}){named}: {}", token_help()))
        }
        Reply::Refused { status: 404, message, .. } => Err(format!(
            "GitHub answered 404 for {what} ({message}): the repository name is wrong (pass --github-repo \
             OWNER/REPO) or the token may not see or administer it; {}",
            token_help()
        )),
        Reply::Refused { status, message, .. } => Err(format!("GitHub refused {what} ({status} {message})")),
        Reply::Failed(why) => Err(format!("could not ask GitHub for {what}: {why}")),
    }
}

async fn read_current(api: &Api, side: &Side<'_>) -> Result<Current, String> {
    let mut current = Current::default();
    if let Some(env) = side.environment {
        let path = side.env_path(env);
        current.env = match api.get(&path).await {
            Reply::Refused { status: 404, .. } => None,
            reply => {
                let value = answer(reply, &format!("GET {path}"))?;
                let mut state = parse_environment(&value);
                if state.custom {
                    let rules_path = format!("{path}/deployment-branch-policies?per_page=100");
                    let rules = answer(api.get(&rules_path).await, &format!("GET {rules_path}"))?;
                    state.rules = parse_rules(&rules);
                }
                Some(state)
            }
        };
    }
    // The secrets of a missing environment: none (GitHub answers 404).
    if side.environment.is_none() || current.env.is_some() {
        let path = format!("{}?per_page=100", side.secrets_path());
        let list = answer(api.get(&path).await, &format!("GET {path}"))?;
        let names = list.get("secrets").and_then(Value::as_array).into_iter().flatten();
        current.secrets = names.filter_map(|it| it.get("name").and_then(Value::as_str)).map(str::to_owned).collect();
    }
    Ok(current)
}

/// GitHub's `environment` answer.
fn parse_environment(value: &Value) -> EnvState {
    let rules = value.get("protection_rules").and_then(Value::as_array).cloned().unwrap_or_default();
    let reviewers_rule = rules.iter().find(|it| it.get("type").and_then(Value::as_str) == Some("required_reviewers"));
    let list = reviewers_rule.and_then(|it| it.get("reviewers")).and_then(Value::as_array).cloned().unwrap_or_default();
    let reviewers = list
        .iter()
        .filter_map(|it| {
            let kind = it.get("type").and_then(Value::as_str)?.to_owned();
            let who = it.get("reviewer")?;
            let name = who.get("login").or_else(|| who.get("slug")).and_then(Value::as_str).unwrap_or("?").to_owned();
            Some(Reviewer { kind, name, id: who.get("id").and_then(Value::as_u64) })
        })
        .collect();
    let flag = |v: Option<&Value>, key: &str| v.and_then(|it| it.get(key)).and_then(Value::as_bool);
    let wait = rules.iter().find(|it| it.get("type").and_then(Value::as_str) == Some("wait_timer"));
    EnvState {
        reviewers,
        prevent_self_review: flag(reviewers_rule, "prevent_self_review").unwrap_or(false),
        can_admins_bypass: flag(Some(value), "can_admins_bypass").unwrap_or(true),
        wait_timer: wait.and_then(|it| it.get("wait_timer")).and_then(Value::as_u64).unwrap_or(0),
        custom: flag(value.get("deployment_branch_policy"), "custom_branch_policies") == Some(true),
        rules: Vec::new(),
    }
}

/// `deployment-branch-policies`: each rule's name and type (`branch` when absent).
fn parse_rules(value: &Value) -> Vec<(String, String)> {
    let list = value.get("branch_policies").and_then(Value::as_array).into_iter().flatten();
    list.filter_map(|it| {
        let name = it.get("name").and_then(Value::as_str)?.to_owned();
        Some((name, it.get("type").and_then(Value::as_str).unwrap_or("branch").to_owned()))
    })
    .collect()
}

/// What the environment should be, from what it is and the reviewers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    pub reviewers: Vec<Reviewer>,
    /// On with two reviewers or more (with one, that reviewer could never approve a
    /// release they start), and never switched off once on.
    pub prevent_self_review: bool,
    pub can_admins_bypass: bool,
    pub wait_timer: u64,
}

pub fn desired(prepared: &Prepared) -> Desired {
    let env = prepared.current.as_ref().and_then(|it| it.env.as_ref());
    Desired {
        reviewers: prepared.reviewers.clone(),
        prevent_self_review: env.is_some_and(|it| it.prevent_self_review) || prepared.reviewers.len() >= 2,
        // A new environment: administrators may not bypass it; an existing one keeps its choice.
        can_admins_bypass: env.is_some_and(|it| it.can_admins_bypass),
        wait_timer: env.map_or(0, |it| it.wait_timer),
    }
}

/// What is to be done on GitHub; with nothing read (no token), everything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Todo {
    pub environment: bool,
    pub tag_rule: bool,
    pub secrets: Vec<&'static str>,
}

pub fn todo(prepared: &Prepared, side: &Side) -> Todo {
    let all = || WORKFLOW_SECRETS.iter().map(|it| it.env).collect::<Vec<_>>();
    let Some(current) = &prepared.current else {
        return Todo { environment: side.environment.is_some(), tag_rule: side.environment.is_some(), secrets: all() };
    };
    let want = desired(prepared);
    let environment = side.environment.is_some()
        && match &current.env {
            None => true,
            Some(env) => {
                !env.custom
                    || env.prevent_self_review != want.prevent_self_review
                    || want.reviewers.iter().any(|r| !env.reviewers.contains(r))
            }
        };
    let has_rule = current.env.as_ref().is_some_and(|env| env.rules.iter().any(|(n, t)| n == TAG_RULE && t == "tag"));
    let secrets = all().into_iter().filter(|name| side.force || !current.secrets.iter().any(|it| it == name)).collect();
    Todo { environment, tag_rule: side.environment.is_some() && !has_rule, secrets }
}

/// The body of `PUT /repos/{o}/{r}/environments/{env}`: the reviewers by id (the
/// `gh` command substitutes a lookup for an unknown id), custom deployment
/// policies (the tag rule comes separately).
pub fn environment_body(want: &Desired, side: &Side) -> String {
    let placeholder = [Reviewer { kind: "User".to_owned(), name: "REVIEWER_LOGIN".to_owned(), id: None }];
    let reviewers =
        if want.reviewers.is_empty() && side.needs_reviewers { &placeholder[..] } else { &want.reviewers[..] };
    let reviewers: Vec<String> = reviewers
        .iter()
        .map(|it| {
            let id = match it.id {
                Some(id) => id.to_string(),
                None => format!("$(gh api users/{} --jq .id)", it.name),
            };
            format!("{{\"type\": \"{}\", \"id\": {id}}}", it.kind)
        })
        .collect();
    format!(
        "{{\"wait_timer\": {}, \"prevent_self_review\": {}, \"reviewers\": [{}], \"deployment_branch_policy\": \
         {{\"protected_branches\": false, \"custom_branch_policies\": true}}, \"can_admins_bypass\": {}}}",
        want.wait_timer,
        want.prevent_self_review,
        reviewers.join(", "),
        want.can_admins_bypass
    )
}

/// The same body as JSON, when every reviewer's id is known.
pub fn environment_json(want: &Desired) -> Option<Value> {
    let reviewers: Option<Vec<Value>> =
        want.reviewers.iter().map(|it| it.id.map(|id| json!({"type": it.kind, "id": id}))).collect();
    Some(json!({
        "wait_timer": want.wait_timer,
        "prevent_self_review": want.prevent_self_review,
        "reviewers": reviewers?,
        "deployment_branch_policy": {"protected_branches": false, "custom_branch_policies": true},
        "can_admins_bypass": want.can_admins_bypass,
    }))
}

/// The GitHub part as text: what exists, what is to be done, and the `gh`
/// commands that do it by hand. No secret's value appears: `gh secret set` without
/// `--body` asks for it.
pub fn render(prepared: &Prepared, side: &Side) -> String {
    let repo = side.repo.full_name();
    let todo = todo(prepared, side);
    let want = desired(prepared);
    let mut out = String::new();
    if let Some(problem) = &prepared.problem {
        out.push_str(&format!("Not read from GitHub: {problem}\n"));
    } else if let Some((api, source)) = &prepared.api {
        out.push_str(&format!("Read from {} with the token from {} (masked).\n", api.base(), source.describe()));
    }
    let current = prepared.current.as_ref();
    if let Some(env) = side.environment {
        let names: Vec<String> = want.reviewers.iter().map(|it| it.name.clone()).collect();
        let reviewers = if names.is_empty() {
            "REVIEWER_LOGIN (pass --reviewer LOGIN, or give setup a token of the user)".to_owned()
        } else {
            names.join(", ")
        };
        let reviewers = match (side.needs_reviewers, names.is_empty()) {
            (true, _) => format!("required reviewers {reviewers}"),
            (false, true) => "no required reviewers (its role can read the repository and never publish; the \
                              release waits for the reviewers of the publish job's environment)"
                .to_owned(),
            (false, false) => format!(
                "required reviewers {} (kept; none are needed, since its role can read the repository and never \
                 publish)",
                names.join(", ")
            ),
        };
        let state = match current.map(|it| &it.env) {
            None => "not read".to_owned(),
            Some(None) => "does not exist".to_owned(),
            Some(Some(it)) => describe(it),
        };
        out.push_str(&format!("Environment {env}: {state}.\n"));
        let self_review = match (want.prevent_self_review, side.needs_reviewers) {
            (true, _) => "; \"Prevent self-review\" on",
            (false, true) => {
                "; \"Prevent self-review\" off (with one reviewer it would block every release that reviewer starts: \
                 add a second with --reviewer to turn it on)"
            }
            (false, false) => "",
        };
        out.push_str(&format!(
            "  wanted: {reviewers}{self_review}; deployments only from tags matching {TAG_RULE}; administrators {} \
             bypass it\n",
            if want.can_admins_bypass { "may (kept as it is)" } else { "may not" }
        ));
        let extra: Vec<String> = current
            .and_then(|it| it.env.as_ref())
            .map(|it| {
                it.rules.iter().filter(|(n, t)| !(n == TAG_RULE && t == "tag")).map(|(n, t)| format!("{n} ({t})"))
            })
            .into_iter()
            .flatten()
            .collect();
        if !extra.is_empty() {
            out.push_str(&format!(
                "  it also admits deployments from {}; setup removes nothing: delete those rules in Settings → \
                 Environments → {env} if the release is all it is for\n",
                extra.join(", ")
            ));
        }
    } else {
        out.push_str(
            "No environment (--environment none): the trust policy admits v* tag pushes, and the settings are \
             repository secrets.\n",
        );
    }
    out.push_str(&format!(
        "Secrets (release.yml reads them as secrets.*): {}.\n",
        secret_states(current, &todo, side.force).join(", ")
    ));
    out.push_str(&commands(side, &todo, &want, &repo));
    out
}

fn describe(env: &EnvState) -> String {
    let reviewers: Vec<&str> = env.reviewers.iter().map(|it| it.name.as_str()).collect();
    let rules: Vec<String> = env.rules.iter().map(|(n, t)| format!("{n} ({t})")).collect();
    format!(
        "exists: reviewers {}, \"Prevent self-review\" {}, administrators {} bypass, deployments {}",
        if reviewers.is_empty() { "none".to_owned() } else { reviewers.join(", ") },
        if env.prevent_self_review { "on" } else { "off" },
        if env.can_admins_bypass { "may" } else { "may not" },
        if env.custom { format!("from {}", rules.join(", ")) } else { "from any branch or tag".to_owned() }
    )
}

fn secret_states(current: Option<&Current>, todo: &Todo, force: bool) -> Vec<String> {
    WORKFLOW_SECRETS
        .iter()
        .map(|key| {
            let exists = current.is_some_and(|it| it.secrets.iter().any(|s| s == key.env));
            let state = match (current.is_some(), exists, todo.secrets.contains(&key.env)) {
                (false, _, _) => "not read",
                (true, true, true) if force => "exists, written again (--force)",
                (true, true, _) => "exists, kept (GitHub never shows a value; --force writes it again)",
                (true, false, _) => "to set",
            };
            format!("{} {state}", key.env)
        })
        .collect()
}

/// The `gh` commands for what is to be done.
fn commands(side: &Side, todo: &Todo, want: &Desired, repo: &str) -> String {
    let mut lines = Vec::new();
    if let Some(env) = side.environment {
        let path = format!("repos/{repo}/environments/{}", redact::percent_encode(env));
        if todo.environment {
            lines.push(format!("gh api --method PUT {path} --input - <<EOF"));
            lines.push(environment_body(want, side));
            lines.push("EOF".to_owned());
        }
        if todo.tag_rule {
            lines.push(format!(
                "gh api --method POST {path}/deployment-branch-policies -f name='{TAG_RULE}' -f type=tag"
            ));
        }
    }
    let target = side.environment.map(|env| format!(" --env {env}")).unwrap_or_default();
    for name in &todo.secrets {
        lines.push(format!("gh secret set {name}{target} --repo {repo}"));
    }
    if lines.is_empty() {
        return "Nothing to do on GitHub.\n".to_owned();
    }
    let role = if side.needs_reviewers { "the role's ARN" } else { "the read role's ARN" };
    let mut out = format!(
        "By hand, with the GitHub CLI (gh asks for each secret's value: the setting of the same name, and for \
         AWS_ROLE_ARN {role} from the AWS part); or run setup with --apply-github:\n",
    );
    for line in lines {
        out.push_str(&format!("  {line}\n"));
    }
    out
}
