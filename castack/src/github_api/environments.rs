//! The writes to environments: `PUT …/environments/{name}`
//! (`repos/create-or-update-environment`) and `POST …/deployment-branch-policies`
//! (`repos/create-deployment-branch-policy`), validated as GitHub's description
//! says, and the single policy that a duplicate's 303 points at.
//!
//! A `PUT` creates the environment when it is missing (no reviewers, administrators
//! may bypass, any branch may deploy) and changes only the fields its body names:
//! `wait_timer` (0 to 43,200 minutes), `prevent_self_review`, `can_admins_bypass`
//! (which the live API takes), `reviewers` (at most six `{type: User|Team, id}`, each
//! a known user or team, else 422) and `deployment_branch_policy` (`null` for any
//! branch, or `protected_branches` and `custom_branch_policies` of which exactly one
//! is true, else 422). Other keys are 422 "is not a permitted key", as GitHub answers.
//! Turning custom policies on starts an empty list; turning them off drops it.

use serde_json::{Map, Value};

use super::{Answer, Call, error, invalid, not_found, ok, permitted, reads};
use crate::{
    github_repo::{API_PREFIX, Deployment, GithubEnvironment, GithubRepo, RefType, Reviewer},
    http::Response,
    util,
};

/// GitHub's limits (docs: "Managing environments for deployment").
const MAX_NAME_CHARS: usize = 255;
const MAX_REVIEWERS: usize = 6;
const MAX_WAIT_MINUTES: u64 = 43_200;

/// What a `PUT` body asks for; `None` keeps the current value.
#[derive(Default)]
struct Change {
    wait_timer: Option<u32>,
    prevent_self_review: Option<bool>,
    can_admins_bypass: Option<bool>,
    reviewers: Option<Vec<Reviewer>>,
    /// `None` inside: any branch; `Some(true)`: protected branches; `Some(false)`: custom.
    deployment: Option<Option<bool>>,
}

impl Change {
    fn apply(self, env: &mut GithubEnvironment) {
        env.wait_timer = self.wait_timer.unwrap_or(env.wait_timer);
        env.prevent_self_review = self.prevent_self_review.unwrap_or(env.prevent_self_review);
        env.can_admins_bypass = self.can_admins_bypass.unwrap_or(env.can_admins_bypass);
        if let Some(reviewers) = self.reviewers {
            env.reviewers = reviewers;
        }
        env.deployment = match (self.deployment, &env.deployment) {
            (None, _) => return,
            (Some(None), _) => Deployment::Any,
            (Some(Some(true)), _) => Deployment::ProtectedBranches,
            (Some(Some(false)), Deployment::Custom(rules)) => Deployment::Custom(rules.clone()),
            (Some(Some(false)), _) => Deployment::Custom(Vec::new()),
        };
    }
}

fn boolean(body: &Map<String, Value>, key: &str) -> Result<Option<bool>, Response> {
    match body.get(key) {
        None => Ok(None),
        Some(Value::Bool(it)) => Ok(Some(*it)),
        Some(other) => Err(invalid(&format!("For 'properties/{key}', {other} is not a boolean."))),
    }
}

fn parse_change(repo: &GithubRepo, body: &Map<String, Value>) -> Result<Change, Response> {
    let keys = ["wait_timer", "prevent_self_review", "can_admins_bypass", "reviewers", "deployment_branch_policy"];
    permitted(body, &keys)?;
    let wait_timer = match body.get("wait_timer") {
        None => None,
        Some(value) => match value.as_u64() {
            Some(minutes) if minutes <= MAX_WAIT_MINUTES => Some(minutes as u32),
            Some(_) => {
                let why =
                    format!("For 'properties/wait_timer', {value} is greater than the maximum of {MAX_WAIT_MINUTES}.");
                return Err(invalid(&why));
            }
            None => {
                return Err(invalid(&format!("For 'properties/wait_timer', {value} is not a non-negative integer.")));
            }
        },
    };
    Ok(Change {
        wait_timer,
        prevent_self_review: boolean(body, "prevent_self_review")?,
        can_admins_bypass: boolean(body, "can_admins_bypass")?,
        reviewers: body.get("reviewers").map(|it| parse_reviewers(repo, it)).transpose()?,
        deployment: body.get("deployment_branch_policy").map(parse_policy).transpose()?,
    })
}

fn parse_reviewers(repo: &GithubRepo, value: &Value) -> Result<Vec<Reviewer>, Response> {
    let items = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) if items.len() <= MAX_REVIEWERS => items,
        Value::Array(_) => return Err(error(422, "You can list up to six users or teams as reviewers.")),
        other => return Err(invalid(&format!("For 'properties/reviewers', {other} is not an array or null."))),
    };
    items
        .iter()
        .map(|item| {
            let kind = item.get("type").and_then(Value::as_str);
            let Some(id) = item.get("id").and_then(Value::as_u64) else {
                return Err(invalid(&format!("For 'items', {item} has no integer \"id\".")));
            };
            let found = match kind {
                Some("User") => repo.users.iter().find(|it| it.id == id).map(|it| Reviewer::User(it.login.clone())),
                Some("Team") => repo.teams.iter().find(|it| it.id == id).map(|it| Reviewer::Team(it.slug.clone())),
                _ => {
                    return Err(invalid(&format!("For 'properties/type', {item} is not one of [\"User\", \"Team\"].")));
                }
            };
            // GitHub refuses reviewers it cannot find; this text is the fake's own.
            found.ok_or_else(|| error(422, &format!("Reviewer not found: no {} with id {id}.", kind.unwrap_or("?"))))
        })
        .collect()
}

/// `deployment_branch_policy`: `null`, or exactly one of the two flags true.
fn parse_policy(value: &Value) -> Result<Option<bool>, Response> {
    let body = match value {
        Value::Null => return Ok(None),
        Value::Object(body) => body,
        other => return Err(invalid(&format!("For 'properties/deployment_branch_policy', {other} is not an object."))),
    };
    permitted(body, &["protected_branches", "custom_branch_policies"])?;
    let protected =
        boolean(body, "protected_branches")?.ok_or_else(|| invalid("\"protected_branches\" wasn't supplied."))?;
    let custom = boolean(body, "custom_branch_policies")?
        .ok_or_else(|| invalid("\"custom_branch_policies\" wasn't supplied."))?;
    if protected == custom {
        return Err(error(
            422,
            "Invalid request: protected_branches and custom_branch_policies in deployment_branch_policy \
             cannot have the same value.",
        ));
    }
    Ok(Some(protected))
}

/// `PUT …/environments/{name}`: 200 with the environment as `GET` shows it.
pub(super) fn put(call: &Call, name: &str) -> Answer {
    if name.trim().is_empty() || name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(error(422, &format!("Invalid environment name {name:?}.")));
    }
    let body = call.json_object()?.unwrap_or_default();
    let change = parse_change(call.repo, &body)?;
    let shown = call.state.update_github_repo(|repo| {
        if repo.environment(name).is_none() {
            repo.environments.push(GithubEnvironment::created(name));
        }
        let env = repo.environment_mut(name).expect("the environment was just made");
        change.apply(env);
        let env = repo.environment(name).expect("the environment exists");
        reads::environment(repo, env)
    });
    ok(shown)
}

/// `POST …/deployment-branch-policies`: 200 with the new policy; 303 to the existing
/// one for the same name and type; 404 when the environment is missing or has no
/// custom policies.
pub(super) fn add_policy(call: &Call, env_name: &str) -> Answer {
    let parsed = parse_policy_body(call);
    let addr = call.state.addr;
    call.state.update_github_repo(|repo| {
        let (owner, name) = (repo.owner.clone(), repo.name.clone());
        let env = repo.environment_mut(env_name).ok_or_else(not_found)?;
        let Deployment::Custom(rules) = &mut env.deployment else { return Err(not_found()) };
        let (pattern, kind) = parsed?;
        if let Some(index) = rules.iter().position(|(n, t)| *n == pattern && *t == kind) {
            let id = reads::policy_items(env)[index]["id"].clone();
            let location = format!(
                "http://{addr}{API_PREFIX}/repos/{owner}/{name}/environments/{}/deployment-branch-policies/{id}",
                util::percent_encode(&env.name)
            );
            return Ok(Response::new(303, "application/json; charset=utf-8", "").with_header("Location", location));
        }
        rules.push((pattern, kind));
        let item = reads::policy_items(env).pop().expect("the policy was just added");
        ok(item)
    })
}

fn parse_policy_body(call: &Call) -> Result<(String, RefType), Response> {
    let body = call.json_object()?.unwrap_or_default();
    permitted(&body, &["name", "type"])?;
    let name = match body.get("name") {
        None => return Err(invalid("\"name\" wasn't supplied.")),
        Some(Value::String(it)) if !it.is_empty() => it.clone(),
        Some(other) => return Err(invalid(&format!("For 'properties/name', {other} is not a non-empty string."))),
    };
    let kind = match body.get("type").map(|it| (it, it.as_str())) {
        None | Some((_, Some("branch"))) => RefType::Branch,
        Some((_, Some("tag"))) => RefType::Tag,
        Some((other, _)) => {
            return Err(invalid(&format!("For 'properties/type', {other} is not one of [\"branch\", \"tag\"].")));
        }
    };
    Ok((name, kind))
}

/// `GET …/deployment-branch-policies/{id}` (`repos/get-deployment-branch-policy`).
pub(super) fn policy(repo: &GithubRepo, env_name: &str, id: &str) -> Answer {
    let env = repo.environment(env_name).ok_or_else(not_found)?;
    let wanted = id.parse::<u64>().ok();
    let found = reads::policy_items(env).into_iter().find(|it| wanted.is_some() && it["id"].as_u64() == wanted);
    found.map(ok).unwrap_or_else(|| Err(not_found()))
}
