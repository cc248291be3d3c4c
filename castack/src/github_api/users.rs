//! Accounts: `GET /user` (the token's user, `private-user`) and
//! `GET /users/{login}` (`public-user`), from the users the fake repository lists
//! and its owner organization; and the `simple-user` shape environments show their
//! reviewers in.

use serde_json::{Value, json};

use super::{Answer, CREATED, error, not_found, ok};
use crate::github_repo::GithubRepo;

/// GitHub's `simple-user`: `kind` is `User`, `Organization` or `Bot`.
pub(super) fn simple_user(login: &str, id: u64, kind: &str) -> Value {
    let api = format!("https://api.github.com/users/{login}");
    json!({
        "login": login,
        "id": id,
        "node_id": format!("U_{id}"),
        "avatar_url": format!("https://avatars.githubusercontent.com/u/{id}?v=4"),
        "gravatar_id": "",
        "url": api,
        "html_url": format!("https://github.com/{login}"),
        "followers_url": format!("{api}/followers"),
        "following_url": format!("{api}/following{{/other_user}}"),
        "gists_url": format!("{api}/gists{{/gist_id}}"),
        "starred_url": format!("{api}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{api}/subscriptions"),
        "organizations_url": format!("{api}/orgs"),
        "repos_url": format!("{api}/repos"),
        "events_url": format!("{api}/events{{/privacy}}"),
        "received_events_url": format!("{api}/received_events"),
        "type": kind,
        "user_view_type": "public",
        "site_admin": false,
    })
}

/// GitHub's `public-user`: a `simple-user` with the profile.
fn public_user(login: &str, id: u64, kind: &str, name: &str) -> Value {
    let mut out = simple_user(login, id, kind);
    let profile = json!({
        "name": name, "company": null, "blog": "", "location": null, "email": null, "hireable": null,
        "bio": null, "twitter_username": null, "public_repos": 1, "public_gists": 0, "followers": 0,
        "following": 0, "created_at": CREATED, "updated_at": CREATED,
    });
    if let (Some(out), Some(profile)) = (out.as_object_mut(), profile.as_object()) {
        out.extend(profile.clone());
    }
    out
}

/// `GET /user` (`users/get-authenticated`): the token's user as `private-user`. An
/// installation token (a workflow's `GITHUB_TOKEN`) has no user: GitHub answers 403.
pub(super) fn viewer(repo: &GithubRepo) -> Answer {
    let Some(login) = &repo.token_user else { return Err(error(403, "Resource not accessible by integration")) };
    let (id, name) = repo.user(login).map_or((1000, login.as_str()), |it| (it.id, it.name.as_str()));
    let mut out = public_user(login, id, "User", name);
    // The owner's own view of the account: GitHub says so (`"public"` is how
    // everyone else sees it, `GET /users/{login}`).
    out["user_view_type"] = json!("private");
    out["private_gists"] = json!(0);
    out["total_private_repos"] = json!(0);
    out["owned_private_repos"] = json!(0);
    out["disk_usage"] = json!(0);
    out["collaborators"] = json!(0);
    out["two_factor_authentication"] = json!(true);
    out["plan"] = json!({"name": "free", "space": 976562499, "private_repos": 10000, "collaborators": 0});
    ok(out)
}

/// `GET /users/{login}` (`users/get-by-username`): a listed user, or the owner
/// organization (as `type: Organization`); 404 for anyone else.
pub(super) fn by_login(repo: &GithubRepo, login: &str) -> Answer {
    if login.eq_ignore_ascii_case(&repo.owner) {
        return ok(public_user(&repo.owner, repo.owner_id, "Organization", &repo.owner));
    }
    let user = repo.user(login).ok_or_else(not_found)?;
    ok(public_user(&user.login, user.id, "User", &user.name))
}
