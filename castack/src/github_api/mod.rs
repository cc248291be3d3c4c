//! A fake of the parts of GitHub's REST API that `check-iam` reads and that
//! `setup --apply-github` writes, under `/_github/api/` (so `GITHUB_API_URL` is the
//! emulator's URL plus that prefix and no path can meet a CodeArtifact route). The
//! shapes follow GitHub's OpenAPI description (github/rest-api-description,
//! `api.github.com.2022-11-28`); each row names the operation id:
//!
//! | Path (after the prefix) | Operation id | Answer |
//! |---|---|---|
//! | `GET /user` | `users/get-authenticated` | `private-user` of the token's user; 403 for an installation token |
//! | `GET /users/{login}` | `users/get-by-username` | `public-user` (the owner organization too) |
//! | `GET /repos/{o}/{r}` | `repos/get` | `full-repository`: `id`, `name`, `full_name`, `owner` {`login`, `id`}, … |
//! | `GET /repos/{o}/{r}/environments` | `repos/get-all-environments` | `{total_count, environments}` |
//! | `GET /repos/{o}/{r}/environments/{name}` | `repos/get-environment` | `environment`: `protection_rules`, `deployment_branch_policy`, and `can_admins_bypass` (which the live API returns) |
//! | `PUT /repos/{o}/{r}/environments/{name}` | `repos/create-or-update-environment` | 200 `environment`; 422 for a bad body |
//! | `GET /repos/{o}/{r}/environments/{name}/deployment-branch-policies` | `repos/list-deployment-branch-policies` | `{total_count, branch_policies: [deployment-branch-policy]}` |
//! | `POST` the same | `repos/create-deployment-branch-policy` | 200 `deployment-branch-policy`; 303 to the existing one for a duplicate; 404 without custom policies |
//! | `GET …/deployment-branch-policies/{id}` | `repos/get-deployment-branch-policy` | `deployment-branch-policy` |
//! | `GET /repos/{o}/{r}/actions/secrets/public-key`, `…/environments/{name}/secrets/public-key` | `actions/get-repo-public-key`, `actions/get-environment-public-key` | `actions-public-key`: `key_id`, `key` (base64 X25519) |
//! | `GET /repos/{o}/{r}/actions/secrets`, `…/environments/{name}/secrets` | `actions/list-repo-secrets`, `actions/list-environment-secrets` | `{total_count, secrets: [actions-secret]}`: names and dates, never values |
//! | `GET …/secrets/{secret}` | `actions/get-repo-secret`, `actions/get-environment-secret` | `actions-secret` |
//! | `PUT …/secrets/{secret}` | `actions/create-or-update-repo-secret`, `actions/create-or-update-environment-secret` | 201 `{}` created, 204 updated; 422 for a bad name, key id or sealed box |
//! | `GET /repos/{o}/{r}/actions/oidc/customization/sub` | `actions/get-custom-oidc-sub-claim-for-repo` | `oidc-custom-sub-repo`: `use_default`, `include_claim_keys`, and `use_immutable_subject`, `sub_claim_prefix` (as the live API answers) |
//! | `GET /repos/{o}/{r}/rulesets` | `repos/get-repo-rulesets` | `[repository-ruleset]` without conditions and rules, as the list answers |
//! | `GET /repos/{o}/{r}/rulesets/{id}` | `repos/get-repo-ruleset` | `repository-ruleset` with `conditions.ref_name`, `rules`, `bypass_actors` |
//!
//! Requests need `Authorization: Bearer TOKEN` (or `token TOKEN`) with the configured
//! token: without one the answer is 401 "Requires authentication", with another 401
//! "Bad credentials". An endpoint the test took the permission of answers 403
//! "Resource not accessible by integration" with `X-Accepted-GitHub-Permissions`
//! (before any 404 or 422); an unknown repository, environment, ruleset, path or
//! method answers 404 "Not Found". Errors have GitHub's `basic-error` shape. The
//! request log records writes like reads (method, path, status), never a body.

mod environments;
mod reads;
mod secrets;
mod users;

use serde_json::{Value, json};

use crate::{
    github_repo::{API_PREFIX as PREFIX, GithubEndpoint, GithubRepo},
    github_secrets::SecretScope,
    http::{Request, Response},
    operation::Operation,
    state::State,
    util::{self, Query},
};

/// An answer, or the error answer that ended the request early.
type Answer = Result<Response, Response>;

/// When every made-up timestamp of settings says they were made.
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

/// GitHub's answer to a body its schema refuses: 422 "Invalid request." and why.
fn invalid(why: &str) -> Response {
    error(422, &format!("Invalid request.\n\n{why}"))
}

/// 422 for the first key of `body` that `keys` does not list, as GitHub answers.
fn permitted(body: &serde_json::Map<String, Value>, keys: &[&str]) -> Result<(), Response> {
    match body.keys().find(|it| !keys.contains(&it.as_str())) {
        Some(key) => Err(invalid(&format!("{key:?} is not a permitted key."))),
        None => Ok(()),
    }
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
    let path = req.path().strip_prefix(PREFIX).unwrap_or_default();
    let parts: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .map(|it| util::percent_decode(it).unwrap_or_else(|_| it.to_owned()))
        .collect();
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    let query = Query::parse(req.query()).unwrap_or_default();
    let call = Call { state, repo: &repo, method: &req.method, query: &query, body: &req.body };
    let response = match (req.method.as_str(), parts.as_slice()) {
        ("GET", ["user"]) => users::viewer(&repo),
        ("GET", ["users", login]) => users::by_login(&repo, login),
        (_, ["repos", owner, name, rest @ ..])
            if owner.eq_ignore_ascii_case(&repo.owner) && name.eq_ignore_ascii_case(&repo.name) =>
        {
            repository_route(&call, rest)
        }
        _ => Err(not_found()),
    };
    let response = response.unwrap_or_else(|it| it);
    response.with_header("X-GitHub-Api-Version-Selected", "2022-11-28").with_header("X-GitHub-Request-Id", util::uuid())
}

/// One request to a repository's endpoints, with what its handler needs.
struct Call<'a> {
    state: &'a State,
    /// The repository as it was when the request came (writes take the lock).
    repo: &'a GithubRepo,
    method: &'a str,
    query: &'a Query,
    body: &'a [u8],
}

impl Call<'_> {
    fn write(&self) -> bool {
        self.method != "GET"
    }

    /// The body as a JSON object; `None` for an empty body or `null`.
    fn json_object(&self) -> Result<Option<serde_json::Map<String, Value>>, Response> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        match serde_json::from_slice::<Value>(self.body) {
            Err(_) => Err(error(400, "Problems parsing JSON")),
            Ok(Value::Null) => Ok(None),
            Ok(Value::Object(map)) => Ok(Some(map)),
            Ok(other) => Err(invalid(&format!("{other} is not an object."))),
        }
    }
}

/// The answer of `handler`, unless the test took away the endpoint's permission.
fn guarded(call: &Call, endpoint: GithubEndpoint, handler: impl FnOnce() -> Answer) -> Answer {
    if call.repo.forbidden.contains(&endpoint) {
        return Err(error(403, "Resource not accessible by integration")
            .with_header("X-Accepted-GitHub-Permissions", endpoint.permission(call.write())));
    }
    handler()
}

/// The endpoints of one repository.
fn repository_route(call: &Call, rest: &[&str]) -> Answer {
    use GithubEndpoint as E;
    let repo = call.repo;
    match (call.method, rest) {
        ("GET", []) => guarded(call, E::Repository, || ok(reads::repository(repo))),
        ("GET", ["actions", "oidc", "customization", "sub"]) => {
            guarded(call, E::OidcSubject, || ok(reads::sub_customization(repo)))
        }
        ("GET", ["rulesets"]) => guarded(call, E::Rulesets, || ok(reads::rulesets(repo, call.query))),
        ("GET", ["rulesets", id]) => guarded(call, E::Rulesets, || {
            let found = repo.rulesets.iter().find(|it| it.id.to_string() == *id);
            found.map(|it| ok(reads::ruleset(repo, it, true))).unwrap_or_else(|| Err(not_found()))
        }),
        ("GET", ["environments"]) => guarded(call, E::Environments, || ok(reads::environments(repo, call.query))),
        ("GET", ["environments", name]) => guarded(call, E::Environments, || {
            repo.environment(name).map(|e| ok(reads::environment(repo, e))).unwrap_or_else(|| Err(not_found()))
        }),
        ("PUT", ["environments", name]) => guarded(call, E::EnvironmentWrites, || environments::put(call, name)),
        ("GET", ["environments", name, "deployment-branch-policies"]) => guarded(call, E::Environments, || {
            let env = repo.environment(name).ok_or_else(not_found)?;
            ok(reads::branch_policies(env, call.query))
        }),
        ("POST", ["environments", name, "deployment-branch-policies"]) => {
            guarded(call, E::EnvironmentWrites, || environments::add_policy(call, name))
        }
        ("GET", ["environments", name, "deployment-branch-policies", id]) => {
            guarded(call, E::Environments, || environments::policy(repo, name, id))
        }
        (_, ["actions", "secrets", rest @ ..]) => {
            guarded(call, E::Secrets, || secrets::route(call, SecretScope::Repository, rest))
        }
        (_, ["environments", name, "secrets", rest @ ..]) => guarded(call, E::Secrets, || {
            let env = repo.environment(name).ok_or_else(not_found)?;
            secrets::route(call, SecretScope::Environment(env.name.clone()), rest)
        }),
        _ => Err(not_found()),
    }
}

fn ok(value: Value) -> Answer {
    Ok(Response::json(200, &value))
}

fn api_url(repo: &GithubRepo, rest: &str) -> String {
    format!("https://api.github.com/repos/{}/{}{rest}", repo.owner, repo.name)
}

/// `per_page` (default 30, at most 100) and `page` (from 1) of `items`.
fn page<T: Clone>(items: &[T], query: &Query) -> Vec<T> {
    let number =
        |name: &str, default: usize| query.get(name).and_then(|it| it.parse::<usize>().ok()).unwrap_or(default);
    let per_page = number("per_page", 30).clamp(1, 100);
    let start = number("page", 1).max(1).saturating_sub(1).saturating_mul(per_page);
    items.iter().skip(start).take(per_page).cloned().collect()
}
