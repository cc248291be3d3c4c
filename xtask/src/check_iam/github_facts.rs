//! The GitHub side of the trust, read from GitHub's REST API when a token is
//! available (`github_api`): the repository's ids (so the immutable subject form is
//! known), its OIDC subject template, the release environment's protection rules
//! and deployment policies, and the rulesets that cover the release tags. What
//! cannot be read (no token, a missing permission, an unreachable API) is noted in
//! `TrustFacts::github_gaps`, so each check says why and how to fix it; the checks
//! themselves are `policy::check_github`.

use serde_json::Value;
use xshell::Shell;

use crate::{
    github_api::{self, Api, Reply, TokenSource},
    policy::{
        self, DeploymentPolicy, EnvironmentFacts, Finding, GithubGaps, RefKind, RefRule, RepoRef, Severity,
        SubTemplate, TrustContext, TrustFacts,
    },
    redact,
};

/// How many rulesets are read in detail; a repository has a handful.
const MAX_RULESETS: usize = 20;

/// What GitHub said: the facts for the trust analysis, and the repository with
/// GitHub's spelling of its names and its ids.
#[derive(Debug, Clone, Default)]
pub struct Gathered {
    pub facts: TrustFacts,
    pub repo: Option<RepoRef>,
}

/// What a token is needed for and where to get one, for every check it skips.
fn how_to_get_a_token(repo: &str) -> String {
    format!(
        "set GH_TOKEN to a token that may read {repo} (fine-grained: Actions and Metadata read; classic: `repo`) or \
         log in with `gh auth login`; in GitHub Actions pass `env: GITHUB_TOKEN: ${{{{ github.token }}}}` to the \
         step and grant the job `permissions: actions: read` (metadata is always readable)"
    )
}

/// Reads the facts; every problem becomes a finding or a gap, never an error.
pub async fn gather(sh: &Shell, ctx: &TrustContext, findings: &mut Vec<Finding>) -> Gathered {
    let repo = ctx.repo.full_name();
    let mut out = Gathered::default();
    let base = match github_api::base_url() {
        Ok(base) => base,
        Err(err) => {
            findings.push(Finding::new("github.token", Severity::Info, err.clone()));
            out.facts.github_gaps = gaps(&err);
            return out;
        }
    };
    let Some((token, source)) = github_api::find_token(sh, &base) else {
        let how = how_to_get_a_token(&repo);
        findings.push(Finding::new(
            "github.token",
            Severity::Info,
            format!("no GitHub token, so the repository's settings on GitHub were not read: {how}"),
        ));
        out.facts.github_gaps = gaps(&format!("no GitHub token ({how})"));
        return out;
    };
    let api = match Api::new(base, token) {
        Ok(api) => api,
        Err(err) => {
            findings.push(Finding::new("github.token", Severity::Error, err.clone()));
            out.facts.github_gaps = gaps(&err);
            return out;
        }
    };
    findings.push(Finding::new(
        "github.token.ok",
        Severity::Info,
        format!("reading {repo}'s settings from {} with the token from {} (masked)", api.base(), source.describe()),
    ));
    let mut session = Session { api, source, broken: None };
    out.repo = session.repository(ctx, findings).await;
    session.subject(ctx, &mut out.facts, findings).await;
    session.environment(ctx, &mut out.facts).await;
    session.rulesets(ctx, &mut out.facts).await;
    out
}

/// The same reason for every fact.
fn gaps(why: &str) -> GithubGaps {
    GithubGaps {
        environment: Some(why.to_owned()),
        tag_ruleset: Some(why.to_owned()),
        sub_template: Some(why.to_owned()),
    }
}

/// The API and what stops further calls: after one call could not get through, the
/// next would wait as long again.
struct Session {
    api: Api,
    source: TokenSource,
    broken: Option<String>,
}

impl Session {
    /// `GET path`, or why it was not asked or answered, as a clause with the fix.
    async fn get(&mut self, path: &str, permission: &str) -> Result<Value, (u16, String)> {
        if let Some(why) = &self.broken {
            return Err((0, why.clone()));
        }
        match self.api.get(path).await {
            Reply::Json(value) => Ok(value),
            Reply::Refused { status: 401, message, .. } => {
                let why = format!(
                    "GitHub refused the token from {} (401 {message}): it is expired, revoked or for another host; get \
                     a new one (`gh auth login`, or a new GH_TOKEN)",
                    self.source.describe()
                );
                self.broken = Some(why.clone());
                Err((401, why))
            }
            Reply::Refused { status: 403, message, permission: named } => {
                let named = named.map(|it| format!(" (GitHub names {it:?})")).unwrap_or_default();
                Err((
                    403,
                    format!(
                        "GitHub refused GET {path} (403 {message}): the token lacks `{permission}`{named}; in Actions \
                         grant the job `permissions: {permission}`, a fine-grained token needs that permission, a \
                         classic one the `repo` scope"
                    ),
                ))
            }
            Reply::Refused { status, message, .. } => Err((status, format!("GitHub answered {status} {message}"))),
            Reply::Failed(why) => {
                let why = format!("could not ask GitHub: {why}");
                self.broken = Some(why.clone());
                Err((0, why))
            }
        }
    }

    /// The repository's ids and GitHub's spelling of its names.
    async fn repository(&mut self, ctx: &TrustContext, findings: &mut Vec<Finding>) -> Option<RepoRef> {
        let full = ctx.repo.full_name();
        let value = match self.get(&format!("/repos/{full}"), "metadata: read").await {
            Ok(value) => value,
            Err((status, why)) => {
                let why = if status == 404 {
                    format!(
                        "GitHub does not show {full} to the token (404): the name is wrong (pass --github-repo \
                         OWNER/REPO) or the token may not read the repository"
                    )
                } else {
                    why
                };
                findings.push(Finding::new("github.repository", Severity::Info, format!("not checked: {why}")));
                return None;
            }
        };
        let repo = parse_repository(&value)?;
        findings.push(Finding::new(
            "github.repository.ok",
            Severity::Info,
            format!(
                "{} is repository {} of owner {}: its immutable subjects start \"repo:{}:\"",
                repo.full_name(),
                repo.name_id.as_deref().unwrap_or_default(),
                repo.owner_id.as_deref().unwrap_or_default(),
                repo.immutable_name()
            ),
        ));
        Some(repo)
    }

    /// The subject template and the subject form.
    async fn subject(&mut self, ctx: &TrustContext, facts: &mut TrustFacts, findings: &mut Vec<Finding>) {
        let path = format!("/repos/{}/actions/oidc/customization/sub", ctx.repo.full_name());
        match self.get(&path, "actions: read").await {
            Ok(value) => {
                let (template, immutable) = parse_subject(&value);
                facts.sub_template = Some(template);
                facts.immutable_subjects = immutable;
                if let Some(prefix) = value.get("sub_claim_prefix").and_then(Value::as_str) {
                    findings.push(Finding::new(
                        "github.immutable-subject",
                        Severity::Info,
                        format!(
                            "GitHub writes this repository's subjects as \"{prefix}:…\" ({} form)",
                            if immutable == Some(true) { "the immutable" } else { "the name-only" }
                        ),
                    ));
                }
            }
            Err((_, why)) => facts.github_gaps.sub_template = Some(why),
        }
    }

    /// The release environment: protection rules and deployment policies.
    async fn environment(&mut self, ctx: &TrustContext, facts: &mut TrustFacts) {
        let Some(env) = ctx.environment.as_deref() else { return };
        let path = format!("/repos/{}/environments/{}", ctx.repo.full_name(), redact::percent_encode(env));
        let value = match self.get(&path, "actions: read").await {
            Ok(value) => value,
            Err((404, _)) => {
                facts.environment = Some(EnvironmentFacts { exists: false, ..parse_environment(&Value::Null, None) });
                return;
            }
            Err((_, why)) => {
                facts.github_gaps.environment = Some(why);
                return;
            }
        };
        let custom = value.pointer("/deployment_branch_policy/custom_branch_policies") == Some(&Value::Bool(true));
        let policies = if custom {
            match self.get(&format!("{path}/deployment-branch-policies?per_page=100"), "actions: read").await {
                Ok(policies) => Some(policies),
                Err((_, why)) => {
                    facts.github_gaps.environment = Some(why);
                    return;
                }
            }
        } else {
            None
        };
        facts.environment = Some(parse_environment(&value, policies.as_ref()));
    }

    /// Whether an active tag ruleset restricts creating the release tag.
    async fn rulesets(&mut self, ctx: &TrustContext, facts: &mut TrustFacts) {
        let path = format!("/repos/{}/rulesets", ctx.repo.full_name());
        let list = match self.get(&format!("{path}?per_page=100"), "metadata: read").await {
            Ok(Value::Array(list)) => list,
            Ok(_) => Vec::new(),
            Err((_, why)) => {
                facts.github_gaps.tag_ruleset = Some(why);
                return;
            }
        };
        let mut covered = false;
        for summary in list.iter().take(MAX_RULESETS) {
            // The list leaves out the conditions and rules; a target it names saves a call.
            if summary.get("target").and_then(Value::as_str).is_some_and(|it| it != "tag") {
                continue;
            }
            let Some(id) = summary.get("id").and_then(Value::as_u64) else { continue };
            match self.get(&format!("{path}/{id}"), "metadata: read").await {
                Ok(ruleset) => covered |= ruleset_restricts(&ruleset, &ctx.release_ref),
                Err((_, why)) => {
                    facts.github_gaps.tag_ruleset = Some(why);
                    return;
                }
            }
        }
        facts.tag_ruleset = Some(covered);
    }
}

/// `full-repository`: `owner.login`, `name`, `owner.id`, `id`.
fn parse_repository(value: &Value) -> Option<RepoRef> {
    let text = |pointer: &str| value.pointer(pointer).and_then(Value::as_str).map(str::to_owned);
    let id = |pointer: &str| value.pointer(pointer).and_then(Value::as_u64).map(|it| it.to_string());
    Some(RepoRef { owner: text("/owner/login")?, name: text("/name")?, owner_id: id("/owner/id"), name_id: id("/id") })
}

/// `oidc-custom-sub-repo`, and whether the subjects are immutable: what
/// `sub_claim_prefix` shows, else `use_immutable_subject` (GitHub has been seen to
/// answer `false` there while writing immutable subjects).
fn parse_subject(value: &Value) -> (SubTemplate, Option<bool>) {
    let use_default = value.get("use_default").and_then(Value::as_bool).unwrap_or(true);
    let keys = value.get("include_claim_keys").and_then(Value::as_array);
    let include_claim_keys = keys.map(|it| it.iter().filter_map(Value::as_str).map(str::to_owned).collect());
    let prefix = value.get("sub_claim_prefix").and_then(Value::as_str);
    let immutable = match prefix {
        Some(prefix) => Some(prefix.split(':').nth(1).is_some_and(|repo| repo.contains('@'))),
        None => value.get("use_immutable_subject").and_then(Value::as_bool),
    };
    (SubTemplate { use_default, include_claim_keys: include_claim_keys.unwrap_or_default() }, immutable)
}

/// `environment` (with the `deployment-branch-policies` list when the policy is
/// custom). `can_admins_bypass` is not in the published schema but in the answers;
/// when it is missing, GitHub's default (true) applies.
fn parse_environment(value: &Value, policies: Option<&Value>) -> EnvironmentFacts {
    let rules = value.get("protection_rules").and_then(Value::as_array).cloned().unwrap_or_default();
    let reviewers = rules.iter().find(|it| it.get("type").and_then(Value::as_str) == Some("required_reviewers"));
    let count = reviewers.and_then(|it| it.get("reviewers")).and_then(Value::as_array).map_or(0, Vec::len);
    let flag = |v: Option<&Value>, key: &str| v.and_then(|it| it.get(key)).and_then(Value::as_bool);
    let deployment = match value.get("deployment_branch_policy") {
        Some(policy) if flag(Some(policy), "custom_branch_policies") == Some(true) => {
            let list = policies.and_then(|it| it.get("branch_policies")).and_then(Value::as_array);
            let rules = list.into_iter().flatten().filter_map(|it| {
                let pattern = it.get("name").and_then(Value::as_str)?.to_owned();
                // The type is absent in older answers, which only had branch rules.
                let kind =
                    if it.get("type").and_then(Value::as_str) == Some("tag") { RefKind::Tag } else { RefKind::Branch };
                Some(RefRule { pattern, kind })
            });
            DeploymentPolicy::Custom(rules.collect())
        }
        Some(policy) if flag(Some(policy), "protected_branches") == Some(true) => DeploymentPolicy::ProtectedBranches,
        _ => DeploymentPolicy::Any,
    };
    EnvironmentFacts {
        exists: true,
        required_reviewers: u32::try_from(count).unwrap_or(u32::MAX),
        prevent_self_review: flag(reviewers, "prevent_self_review").unwrap_or(false),
        can_admins_bypass: flag(Some(value), "can_admins_bypass").unwrap_or(true),
        deployment,
    }
}

/// An active tag ruleset whose `ref_name` conditions cover `release_ref` and that
/// restricts creating such tags.
fn ruleset_restricts(ruleset: &Value, release_ref: &str) -> bool {
    let text = |key: &str| ruleset.get(key).and_then(Value::as_str);
    if text("target") != Some("tag") || text("enforcement") != Some("active") {
        return false;
    }
    let patterns = |key: &str| -> Vec<String> {
        let list = ruleset.pointer(&format!("/conditions/ref_name/{key}")).and_then(Value::as_array);
        list.into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect()
    };
    let covers = |pattern: &String| pattern == "~ALL" || policy::ref_pattern_matches(pattern, release_ref);
    let included = patterns("include").iter().any(covers) && !patterns("exclude").iter().any(covers);
    let rules = ruleset.get("rules").and_then(Value::as_array).cloned().unwrap_or_default();
    included && rules.iter().any(|it| it.get("type").and_then(Value::as_str) == Some("creation"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn answers_become_facts() {
        let repo =
            parse_repository(&json!({"id": 7, "name": "YaMause", "owner": {"login": "Octo-Org", "id": 3}})).unwrap();
        assert_eq!(repo.immutable_name(), "Octo-Org@3/YaMause@7");
        let (template, immutable) = parse_subject(&json!({"use_default": true, "use_immutable_subject": false,
            "sub_claim_prefix": "repo:o@1/r@2"}));
        assert_eq!((template.use_default, immutable), (true, Some(true)));
        let (template, immutable) =
            parse_subject(&json!({"use_default": false, "include_claim_keys": ["repository_owner"]}));
        assert_eq!((template.include_claim_keys, immutable), (vec!["repository_owner".to_owned()], None));

        let env = json!({"protection_rules": [{"type": "required_reviewers", "prevent_self_review": true,
            "reviewers": [{"type": "User"}, {"type": "Team"}]}, {"type": "branch_policy"}],
            "deployment_branch_policy": {"protected_branches": false, "custom_branch_policies": true}});
        let policies = json!({"total_count": 2, "branch_policies": [{"name": "v*", "type": "tag"}, {"name": "main"}]});
        let facts = parse_environment(&env, Some(&policies));
        assert_eq!((facts.required_reviewers, facts.prevent_self_review, facts.can_admins_bypass), (2, true, true));
        let DeploymentPolicy::Custom(rules) = facts.deployment else { panic!() };
        assert_eq!(rules[1], RefRule { pattern: "main".into(), kind: RefKind::Branch });
        let open = parse_environment(&json!({"deployment_branch_policy": null, "can_admins_bypass": false}), None);
        assert_eq!(
            (open.deployment, open.required_reviewers, open.can_admins_bypass),
            (DeploymentPolicy::Any, 0, false)
        );
    }

    #[test]
    fn a_ruleset_covers_the_release_tag_when_active_and_restricting_creation() {
        let ruleset = |target: &str, enforcement: &str, include: &[&str], rules: &[&str]| {
            json!({"target": target, "enforcement": enforcement,
                   "conditions": {"ref_name": {"include": include, "exclude": ["refs/tags/v0*"]}},
                   "rules": rules.iter().map(|it| json!({"type": it})).collect::<Vec<_>>()})
        };
        let tag = "refs/tags/v1.0.0";
        assert!(ruleset_restricts(&ruleset("tag", "active", &["refs/tags/v*"], &["creation"]), tag));
        assert!(ruleset_restricts(&ruleset("tag", "active", &["~ALL"], &["update", "creation"]), tag));
        assert!(!ruleset_restricts(&ruleset("tag", "evaluate", &["refs/tags/v*"], &["creation"]), tag));
        assert!(!ruleset_restricts(&ruleset("branch", "active", &["refs/tags/v*"], &["creation"]), tag));
        assert!(!ruleset_restricts(&ruleset("tag", "active", &["refs/tags/release-*"], &["creation"]), tag));
        assert!(!ruleset_restricts(&ruleset("tag", "active", &["refs/tags/v*"], &["deletion"]), tag));
        assert!(!ruleset_restricts(&ruleset("tag", "active", &["refs/tags/v*"], &["creation"]), "refs/tags/v0.9"));
    }
}
