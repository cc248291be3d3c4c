//! The answers of the fake GitHub API's reads, in the shapes of GitHub's OpenAPI
//! description: the repository, its environments (as `PUT` leaves them too) and
//! their deployment branch policies, the OIDC subject customization, the rulesets.

use serde_json::{Value, json};

use super::{CREATED, api_url, page, users};
use crate::{
    github_repo::{Deployment, GithubEnvironment, GithubRepo, GithubRuleset, Reviewer},
    util::{self, Query},
};

/// GitHub's `full-repository` (`repos/get`): every member the description requires,
/// the API URLs as GitHub writes them (templates included).
pub(super) fn repository(repo: &GithubRepo) -> Value {
    let (owner, name) = (&repo.owner, &repo.name);
    let mut out = json!({
        "id": repo.id,
        "node_id": format!("R_{}", repo.id),
        "name": name,
        "full_name": format!("{owner}/{name}"),
        "private": true,
        "visibility": "private",
        "owner": users::simple_user(owner, repo.owner_id, "Organization"),
        "html_url": format!("https://github.com/{owner}/{name}"),
        "description": null, "fork": false, "homepage": null, "language": "Python", "license": null,
        "url": api_url(repo, ""),
        "clone_url": format!("https://github.com/{owner}/{name}.git"),
        "git_url": format!("git://github.com/{owner}/{name}.git"),
        "ssh_url": format!("git@github.com:{owner}/{name}.git"),
        "svn_url": format!("https://github.com/{owner}/{name}"),
        "mirror_url": null,
        "default_branch": "main",
        "forks": 0, "forks_count": 0, "open_issues": 0, "open_issues_count": 0, "size": 0, "stargazers_count": 0,
        "watchers": 0, "watchers_count": 0, "network_count": 0, "subscribers_count": 1,
        "has_issues": true, "has_projects": false, "has_wiki": false, "has_pages": false, "has_discussions": false,
        "archived": false, "disabled": false,
        "created_at": CREATED,
        "updated_at": CREATED,
        "pushed_at": CREATED,
    });
    let links = [
        ("archive", "/{archive_format}{/ref}"),
        ("assignees", "/assignees{/user}"),
        ("blobs", "/git/blobs{/sha}"),
        ("branches", "/branches{/branch}"),
        ("collaborators", "/collaborators{/collaborator}"),
        ("comments", "/comments{/number}"),
        ("commits", "/commits{/sha}"),
        ("compare", "/compare/{base}...{head}"),
        ("contents", "/contents/{+path}"),
        ("contributors", "/contributors"),
        ("deployments", "/deployments"),
        ("downloads", "/downloads"),
        ("events", "/events"),
        ("forks", "/forks"),
        ("git_commits", "/git/commits{/sha}"),
        ("git_refs", "/git/refs{/sha}"),
        ("git_tags", "/git/tags{/sha}"),
        ("hooks", "/hooks"),
        ("issue_comment", "/issues/comments{/number}"),
        ("issue_events", "/issues/events{/number}"),
        ("issues", "/issues{/number}"),
        ("keys", "/keys{/key_id}"),
        ("labels", "/labels{/name}"),
        ("languages", "/languages"),
        ("merges", "/merges"),
        ("milestones", "/milestones{/number}"),
        ("notifications", "/notifications{?since,all,participating}"),
        ("pulls", "/pulls{/number}"),
        ("releases", "/releases{/id}"),
        ("stargazers", "/stargazers"),
        ("statuses", "/statuses/{sha}"),
        ("subscribers", "/subscribers"),
        ("subscription", "/subscription"),
        ("tags", "/tags"),
        ("teams", "/teams"),
        ("trees", "/git/trees{/sha}"),
    ];
    for (link, path) in links {
        out[format!("{link}_url")] = json!(api_url(repo, path));
    }
    out
}

/// `{total_count, environments}` (`repos/get-all-environments`).
pub(super) fn environments(repo: &GithubRepo, query: &Query) -> Value {
    let items: Vec<Value> = repo.environments.iter().map(|it| environment(repo, it)).collect();
    json!({"total_count": items.len(), "environments": page(&items, query)})
}

/// One entry of `required_reviewers.reviewers`: `{type, reviewer}`, the reviewer a
/// `simple-user` or a `team`.
fn reviewer(repo: &GithubRepo, it: &Reviewer, index: usize) -> Value {
    let id = repo.reviewer_id(it, index);
    match it {
        Reviewer::User(login) => json!({"type": "User", "reviewer": users::simple_user(login, id, "User")}),
        Reviewer::Team(slug) => {
            let name = repo.teams.iter().find(|t| t.slug.eq_ignore_ascii_case(slug)).map_or(slug.as_str(), |t| &t.name);
            json!({"type": "Team", "reviewer": {
                "id": id, "node_id": format!("T_{id}"), "name": name, "slug": slug,
                "url": format!("https://api.github.com/organizations/{}/team/{id}", repo.owner_id),
                "html_url": format!("https://github.com/orgs/{}/teams/{slug}", repo.owner),
                "members_url": format!("https://api.github.com/organizations/{}/team/{id}/members{{/member}}", repo.owner_id),
                "repositories_url": format!("https://api.github.com/organizations/{}/team/{id}/repos", repo.owner_id),
                "description": null, "privacy": "closed", "notification_setting": "notifications_enabled",
                "permission": "pull", "parent": null, "type": "organization", "organization_id": repo.owner_id,
            }})
        }
    }
}

/// The `environment` schema (`repos/get-environment`, and what
/// `repos/create-or-update-environment` answers).
pub(super) fn environment(repo: &GithubRepo, env: &GithubEnvironment) -> Value {
    let mut rules = Vec::new();
    if env.wait_timer > 0 {
        rules.push(
            json!({"id": 3736, "node_id": "MDQ6R2F0ZTM3MzY=", "type": "wait_timer", "wait_timer": env.wait_timer}),
        );
    }
    if !env.reviewers.is_empty() {
        let reviewers: Vec<Value> = env.reviewers.iter().enumerate().map(|(i, it)| reviewer(repo, it, i)).collect();
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

/// The custom policies of `env` with their ids (their places, as none is ever deleted).
pub(super) fn policy_items(env: &GithubEnvironment) -> Vec<Value> {
    let rules = match &env.deployment {
        Deployment::Custom(rules) => rules.as_slice(),
        _ => &[],
    };
    rules
        .iter()
        .enumerate()
        .map(|(i, (name, kind))| {
            json!({"id": 361471 + i, "node_id": format!("MDE2OkdhdGVCcmFuY2hQb2xpY3k{i}"), "name": name, "type": kind.as_str()})
        })
        .collect()
}

pub(super) fn branch_policies(env: &GithubEnvironment, query: &Query) -> Value {
    let items = policy_items(env);
    json!({"total_count": items.len(), "branch_policies": page(&items, query)})
}

pub(super) fn sub_customization(repo: &GithubRepo) -> Value {
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

pub(super) fn rulesets(repo: &GithubRepo, query: &Query) -> Value {
    Value::Array(page(&repo.rulesets, query).iter().map(|it| ruleset(repo, it, false)).collect())
}

/// A ruleset; the list leaves out the conditions and rules, as GitHub's does.
pub(super) fn ruleset(repo: &GithubRepo, it: &GithubRuleset, details: bool) -> Value {
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
