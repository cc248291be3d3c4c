//! A fake of the parts of GitHub's REST API that `check-iam` reads, under
//! `/_github/api/` (so `GITHUB_API_URL` is the emulator's URL plus that prefix and
//! no path can meet a CodeArtifact route):
//!
//! | Path (after the prefix) | Answer (shape of GitHub's OpenAPI description) |
//! |---|---|
//! | `GET /repos/{o}/{r}` | `full-repository`: `id`, `name`, `full_name`, `owner` {`login`, `id`}, … |
//! | `GET /repos/{o}/{r}/environments/{name}` | `environment`: `protection_rules`, `deployment_branch_policy`, and `can_admins_bypass` (which the live API returns) |
//! | `GET /repos/{o}/{r}/environments/{name}/deployment-branch-policies` | `{total_count, branch_policies: [deployment-branch-policy]}` |
//! | `GET /repos/{o}/{r}/actions/oidc/customization/sub` | `oidc-custom-sub-repo`: `use_default`, `include_claim_keys`, and `use_immutable_subject`, `sub_claim_prefix` (as the live API answers) |
//! | `GET /repos/{o}/{r}/rulesets` | `[repository-ruleset]` without conditions and rules, as the list answers |
//! | `GET /repos/{o}/{r}/rulesets/{id}` | `repository-ruleset` with `conditions.ref_name`, `rules`, `bypass_actors` |
//!
//! Requests need `Authorization: Bearer TOKEN` (or `token TOKEN`) with the configured
//! token: without one the answer is 401 "Requires authentication", with another 401
//! "Bad credentials". An endpoint the test took the permission of answers 403
//! "Resource not accessible by integration" with `X-Accepted-GitHub-Permissions`; an
//! unknown repository, environment or ruleset answers 404 "Not Found". Errors have
//! GitHub's `basic-error` shape.

use serde_json::{Value, json};

use crate::{
    github_repo::{API_PREFIX as PREFIX, Deployment, GithubEndpoint, GithubEnvironment, GithubRepo, GithubRuleset},
    http::{Request, Response},
    operation::Operation,
    state::State,
    util::{self, Query},
};

/// When every made-up timestamp says the settings were made.
const CREATED: &str = "2026-01-01T00:00:00Z";

fn error(status: u16, message: &str) -> Response {
    Response::json(
        status,
        &json!({"message": message, "documentation_url": "https://docs.github.com/rest", "status": status.to_string()}),
    )
}

fn not_found() -> Response {
    error(404, "Not Found")
}

/// Answers a request under `/_github/api/`.
pub(crate) fn handle(state: &State, req: &Request) -> Response {
    if let Some(stalled) = state.injected_stall(&Operation::GithubApi) {
        return stalled;
    }
    let (repo, token) = state.github_repo();
    let Some(authorization) = req.header("authorization") else { return error(401, "Requires authentication") };
    let (scheme, given) = authorization.split_once(' ').unwrap_or((authorization, ""));
    let scheme_ok = scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token");
    if !scheme_ok || !util::constant_time_eq(given.trim().as_bytes(), token.as_bytes()) {
        return error(401, "Bad credentials");
    }
    if req.method != "GET" {
        return not_found();
    }
    let path = req.path().strip_prefix(PREFIX).unwrap_or_default();
    let parts: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .map(|it| util::percent_decode(it).unwrap_or_else(|_| it.to_owned()))
        .collect();
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    let query = Query::parse(req.query()).unwrap_or_default();
    let response = match parts.as_slice() {
        ["repos", owner, name, rest @ ..]
            if owner.eq_ignore_ascii_case(&repo.owner) && name.eq_ignore_ascii_case(&repo.name) =>
        {
            repository_route(&repo, rest, &query)
        }
        _ => Err(not_found()),
    };
    let response = response.unwrap_or_else(|it| it);
    response.with_header("X-GitHub-Api-Version-Selected", "2022-11-28").with_header("X-GitHub-Request-Id", util::uuid())
}

/// The endpoints of one repository; `Err` carries an error answer.
fn repository_route(repo: &GithubRepo, rest: &[&str], query: &Query) -> Result<Response, Response> {
    let (endpoint, answer) = match rest {
        [] => (GithubEndpoint::Repository, Some(repository(repo))),
        ["environments", name] => {
            (GithubEndpoint::Environments, find_environment(repo, name).map(|e| environment(repo, e)))
        }
        ["environments", name, "deployment-branch-policies"] => {
            (GithubEndpoint::Environments, find_environment(repo, name).map(|e| branch_policies(e, query)))
        }
        ["actions", "oidc", "customization", "sub"] => (GithubEndpoint::OidcSubject, Some(sub_customization(repo))),
        ["rulesets"] => (GithubEndpoint::Rulesets, Some(rulesets(repo, query))),
        ["rulesets", id] => {
            let found = repo.rulesets.iter().find(|it| it.id.to_string() == *id);
            (GithubEndpoint::Rulesets, found.map(|it| ruleset(repo, it, true)))
        }
        _ => return Err(not_found()),
    };
    if repo.forbidden.contains(&endpoint) {
        return Err(error(403, "Resource not accessible by integration")
            .with_header("X-Accepted-GitHub-Permissions", endpoint.permission()));
    }
    answer.map(|it| Response::json(200, &it)).ok_or_else(not_found)
}

fn find_environment<'a>(repo: &'a GithubRepo, name: &str) -> Option<&'a GithubEnvironment> {
    repo.environments.iter().find(|it| it.name.eq_ignore_ascii_case(name))
}

fn api_url(repo: &GithubRepo, rest: &str) -> String {
    format!("https://api.github.com/repos/{}/{}{rest}", repo.owner, repo.name)
}

fn repository(repo: &GithubRepo) -> Value {
    json!({
        "id": repo.id,
        "node_id": format!("R_{}", repo.id),
        "name": repo.name,
        "full_name": format!("{}/{}", repo.owner, repo.name),
        "private": true,
        "visibility": "private",
        "owner": {
            "login": repo.owner,
            "id": repo.owner_id,
            "node_id": format!("O_{}", repo.owner_id),
            "type": "Organization",
            "url": format!("https://api.github.com/users/{}", repo.owner),
        },
        "html_url": format!("https://github.com/{}/{}", repo.owner, repo.name),
        "url": api_url(repo, ""),
        "default_branch": "main",
        "created_at": CREATED,
        "updated_at": CREATED,
        "pushed_at": CREATED,
    })
}

fn environment(repo: &GithubRepo, env: &GithubEnvironment) -> Value {
    let mut rules = Vec::new();
    if env.wait_timer > 0 {
        rules.push(
            json!({"id": 3736, "node_id": "MDQ6R2F0ZTM3MzY=", "type": "wait_timer", "wait_timer": env.wait_timer}),
        );
    }
    if !env.reviewers.is_empty() {
        let reviewers: Vec<Value> = env
            .reviewers
            .iter()
            .enumerate()
            .map(|(i, login)| {
                json!({"type": "User", "reviewer": {"login": login, "id": 1000 + i, "node_id": format!("U_{i}"),
                       "type": "User", "site_admin": false}})
            })
            .collect();
        rules.push(json!({"id": 3755, "node_id": "MDQ6R2F0ZTM3NTU=", "prevent_self_review": env.prevent_self_review,
                          "type": "required_reviewers", "reviewers": reviewers}));
    }
    let policy = match env.deployment {
        Deployment::Any => Value::Null,
        Deployment::ProtectedBranches => json!({"protected_branches": true, "custom_branch_policies": false}),
        Deployment::Custom(_) => json!({"protected_branches": false, "custom_branch_policies": true}),
    };
    if !policy.is_null() {
        rules.push(json!({"id": 3756, "node_id": "MDQ6R2F0ZTM3NTY=", "type": "branch_policy"}));
    }
    let path = format!("/environments/{}", util::percent_encode(&env.name));
    json!({
        "id": 161088068,
        "node_id": "MDExOkVudmlyb25tZW50MTYxMDg4MDY4",
        "name": env.name,
        "url": api_url(repo, &path),
        "html_url": format!("https://github.com/{}/{}/deployments/activity_log?environments_filter={}",
                            repo.owner, repo.name, util::percent_encode(&env.name)),
        "created_at": CREATED,
        "updated_at": CREATED,
        "can_admins_bypass": env.can_admins_bypass,
        "protection_rules": rules,
        "deployment_branch_policy": policy,
    })
}

/// `per_page` (default 30, at most 100) and `page` (from 1) of `items`.
fn page<T: Clone>(items: &[T], query: &Query) -> Vec<T> {
    let number =
        |name: &str, default: usize| query.get(name).and_then(|it| it.parse::<usize>().ok()).unwrap_or(default);
    let per_page = number("per_page", 30).clamp(1, 100);
    let start = number("page", 1).max(1).saturating_sub(1).saturating_mul(per_page);
    items.iter().skip(start).take(per_page).cloned().collect()
}

fn branch_policies(env: &GithubEnvironment, query: &Query) -> Value {
    let rules = match &env.deployment {
        Deployment::Custom(rules) => rules.clone(),
        _ => Vec::new(),
    };
    let items: Vec<Value> = rules
        .iter()
        .enumerate()
        .map(|(i, (name, kind))| {
            json!({"id": 361471 + i, "node_id": format!("MDE2OkdhdGVCcmFuY2hQb2xpY3k{i}"), "name": name, "type": kind.as_str()})
        })
        .collect();
    json!({"total_count": items.len(), "branch_policies": page(&items, query)})
}

fn sub_customization(repo: &GithubRepo) -> Value {
    let prefix = if repo.use_immutable_subject {
        format!("repo:{}@{}/{}@{}", repo.owner, repo.owner_id, repo.name, repo.id)
    } else {
        format!("repo:{}/{}", repo.owner, repo.name)
    };
    let mut out = json!({"use_default": repo.sub_use_default, "use_immutable_subject": repo.use_immutable_subject,
                         "sub_claim_prefix": prefix});
    if !repo.sub_use_default {
        out["include_claim_keys"] = json!(repo.sub_claim_keys);
    }
    out
}

fn rulesets(repo: &GithubRepo, query: &Query) -> Value {
    Value::Array(page(&repo.rulesets, query).iter().map(|it| ruleset(repo, it, false)).collect())
}

/// A ruleset; the list leaves out the conditions and rules, as GitHub's does.
fn ruleset(repo: &GithubRepo, it: &GithubRuleset, details: bool) -> Value {
    let mut out = json!({
        "id": it.id,
        "name": it.name,
        "target": it.target,
        "source_type": "Repository",
        "source": format!("{}/{}", repo.owner, repo.name),
        "enforcement": it.enforcement,
        "node_id": format!("RRS_{}", it.id),
        "_links": {
            "self": {"href": api_url(repo, &format!("/rulesets/{}", it.id))},
            "html": {"href": format!("https://github.com/{}/{}/rules/{}", repo.owner, repo.name, it.id)},
        },
        "created_at": CREATED,
        "updated_at": CREATED,
    });
    if details {
        out["bypass_actors"] = json!([{"actor_id": 5, "actor_type": "RepositoryRole", "bypass_mode": "always"}]);
        out["current_user_can_bypass"] = json!("never");
        out["conditions"] = json!({"ref_name": {"include": it.include, "exclude": it.exclude}});
        out["rules"] = Value::Array(it.rules.iter().map(|kind| json!({"type": kind})).collect());
    }
    out
}
