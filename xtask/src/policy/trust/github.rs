//! The GitHub side of the trust: a trust policy that relies on an environment is
//! only as strong as that environment's protection rules
//! (`trust.environment-protection`), one that relies on tag pushes only as strong as
//! the ruleset on who may push the tags (`trust.tag-ruleset`), and either only as
//! strong as the subject template that GitHub builds `sub` with
//! (`trust.sub-template`).
//!
//! The environment of the build-deps job's read role (`TrustContext::needs_reviewers`
//! false) needs no reviewers, since that role can only read; its tag rule still counts.
//!
//! The facts come from GitHub's API (see `TrustFacts`); without them each check says
//! why (offline, no token, a missing permission) and what to look at by hand. With
//! them each check passes (`….ok`), warns or fails.

use super::{DeploymentPolicy, EnvironmentFacts, RefKind, TrustContext, TrustFacts};
use crate::policy::{Finding, Severity, glob};

const ENVIRONMENT_PROTECTION: &str = "trust.environment-protection";

/// Every check of the GitHub side.
pub fn check_github(ctx: &TrustContext, facts: &TrustFacts) -> Vec<Finding> {
    let mut out = check_environment_protection(ctx, facts);
    out.extend(check_tag_ruleset(ctx, facts));
    out.extend(check_sub_template(ctx, facts));
    out
}

/// `not checked offline`, or why the fact could not be had.
fn not_checked(gap: Option<&String>) -> String {
    match gap {
        Some(why) => format!("not checked: {why}"),
        None => "not checked offline".to_owned(),
    }
}

/// `trust.environment-protection`: the environment that the trust policy relies on
/// must be protected. Applies when the release job uses an environment.
fn check_environment_protection(ctx: &TrustContext, all: &TrustFacts) -> Vec<Finding> {
    let Some(env) = ctx.environment.as_deref() else { return Vec::new() };
    let facts = all.environment.as_ref();
    let repo = ctx.repo.full_name();
    // The read role's environment needs no reviewers (it unlocks no publishing),
    // but only tags may deploy to it.
    let fix = if ctx.needs_reviewers {
        format!(
            "in Settings → Environments → {env}, add required reviewers (with \"Prevent self-review\") and a \
             deployment tag rule \"v*\" (no branch rules)"
        )
    } else {
        format!("in Settings → Environments → {env}, add a deployment tag rule \"v*\" (no branch rules)")
    };
    let Some(facts) = facts else {
        return vec![Finding::new(
            ENVIRONMENT_PROTECTION,
            Severity::Info,
            format!(
                "{}: the trust policy relies on environment {env:?}, so it must be protected; check with `gh api \
                 repos/{repo}/environments/{env}` (protection_rules with required_reviewers, \
                 deployment_branch_policy, can_admins_bypass) and `gh api \
                 repos/{repo}/environments/{env}/deployment-branch-policies`; {fix}",
                not_checked(all.github_gaps.environment.as_ref())
            ),
        )];
    };
    if !facts.exists {
        return vec![Finding::new(
            ENVIRONMENT_PROTECTION,
            Severity::High,
            format!(
                "environment {env:?} does not exist in {repo}: GitHub creates it without any protection the first \
                 time a job names it, so any branch could then obtain the role; create it first: {fix}"
            ),
        )];
    }
    let mut out = Vec::new();
    let mut gaps = Vec::new();
    if ctx.needs_reviewers && facts.required_reviewers == 0 {
        gaps.push("it has no required reviewers".to_owned());
    }
    check_deployment(ctx, env, &facts.deployment, &fix, &mut gaps, &mut out);
    if !gaps.is_empty() {
        out.push(Finding::new(
            ENVIRONMENT_PROTECTION,
            Severity::High,
            format!(
                "environment {env:?} is what the trust policy relies on, but {}; anyone who can push a branch can \
                 then obtain the role: {fix}",
                gaps.join(", and ")
            ),
        ));
    } else if let Some(soft) = soft_protection(ctx, env, facts) {
        out.push(soft);
    }
    if out.is_empty() {
        let reviewers = if ctx.needs_reviewers {
            format!("{} required reviewer(s) with self-review prevented, ", facts.required_reviewers)
        } else {
            String::new()
        };
        out.push(Finding::new(
            "trust.environment-protection.ok",
            Severity::Info,
            format!(
                "environment {env:?} of {repo} is protected: {reviewers}no administrator bypass, and deployments only \
                 from {}",
                deployment_sources(&facts.deployment)
            ),
        ));
    }
    out
}

/// Which refs an environment's deployment policy lets deploy, for the passing finding.
fn deployment_sources(deployment: &DeploymentPolicy) -> String {
    match deployment {
        DeploymentPolicy::Any => "any branch or tag".to_owned(),
        DeploymentPolicy::ProtectedBranches => "protected branches".to_owned(),
        DeploymentPolicy::Custom(rules) => {
            let names: Vec<String> = rules
                .iter()
                .map(|it| format!("{} {:?}", if it.kind == RefKind::Tag { "tags" } else { "branches" }, it.pattern))
                .collect();
            names.join(", ")
        }
    }
}

/// The deployment branch policy of the environment: what lets other branches use
/// it goes to `gaps`; what keeps the release tag out is an error of its own.
fn check_deployment(
    ctx: &TrustContext,
    env: &str,
    deployment: &DeploymentPolicy,
    fix: &str,
    gaps: &mut Vec<String>,
    out: &mut Vec<Finding>,
) {
    let tag = ctx.release_ref.strip_prefix("refs/tags/");
    match deployment {
        DeploymentPolicy::Any => {
            gaps.push("its deployment branches are \"No restriction\", so a job on any branch can use it".to_owned())
        }
        DeploymentPolicy::ProtectedBranches => {
            if let Some(tag) = tag {
                out.push(Finding::new(
                    ENVIRONMENT_PROTECTION,
                    Severity::Error,
                    format!(
                        "environment {env:?} allows only protected branches to deploy, so the release job on tag \
                         {tag:?} is rejected (\"Tag … is not allowed to deploy to {env} due to environment \
                         protection rules\"); {fix}"
                    ),
                ));
            }
        }
        DeploymentPolicy::Custom(rules) => {
            let branches: Vec<&str> =
                rules.iter().filter(|it| it.kind == RefKind::Branch).map(|it| it.pattern.as_str()).collect();
            if !branches.is_empty() {
                gaps.push(format!("branch rules {branches:?} let jobs on those branches use it"));
            }
            if let Some(tag) = tag
                && !rules.iter().any(|it| it.kind == RefKind::Tag && ref_pattern_matches(&it.pattern, tag))
            {
                out.push(Finding::new(
                    ENVIRONMENT_PROTECTION,
                    Severity::Error,
                    format!(
                        "no deployment tag rule of environment {env:?} matches tag {tag:?}, so the release job is \
                         rejected by the environment's protection rules; add a deployment tag rule \"v*\""
                    ),
                ));
            }
        }
    }
}

/// What weakens an otherwise protected environment: self-review and the
/// administrators' bypass.
fn soft_protection(ctx: &TrustContext, env: &str, facts: &EnvironmentFacts) -> Option<Finding> {
    let mut soft = Vec::new();
    if ctx.needs_reviewers && !facts.prevent_self_review {
        soft.push("a reviewer may approve their own run (enable \"Prevent self-review\")");
    }
    if facts.can_admins_bypass {
        soft.push("administrators may bypass the protection rules (disable \"Allow administrators to bypass\")");
    }
    (!soft.is_empty()).then(|| {
        Finding::new(
            ENVIRONMENT_PROTECTION,
            Severity::Medium,
            format!("environment {env:?} is protected, but {}", soft.join(", and ")),
        )
    })
}

/// `trust.tag-ruleset`: with a tag-push trust (no environment), whoever may create a
/// `v*` tag may publish, so tag creation must be restricted by a ruleset. With an
/// environment the reviewers gate the release, and a ruleset is a second line.
fn check_tag_ruleset(ctx: &TrustContext, facts: &TrustFacts) -> Vec<Finding> {
    const ID: &str = "trust.tag-ruleset";
    let repo = ctx.repo.full_name();
    let fix = "add a tag ruleset (Settings → Rules → Rulesets, target tags \"v*\") that restricts creation, update \
               and deletion to the release maintainers; tag protection rules are deprecated";
    let ok = || {
        Finding::new(
            "trust.tag-ruleset.ok",
            Severity::Info,
            format!(
                "an active tag ruleset of {repo} restricts who may create the release tags ({:?})",
                ctx.release_ref
            ),
        )
    };
    match (facts.tag_ruleset, &ctx.environment) {
        (Some(true), _) => vec![ok()],
        (Some(false), None) => vec![Finding::new(
            ID,
            Severity::Medium,
            format!("anyone with write access to {repo} can push a tag matching the trust policy and publish; {fix}"),
        )],
        (Some(false), Some(env)) if !ctx.needs_reviewers => vec![Finding::new(
            ID,
            Severity::Low,
            format!(
                "no active tag ruleset of {repo} restricts the release tags: anyone with write access can push one \
                 and obtain the role of environment {env:?}, which has no reviewers (the role can only read); {fix}"
            ),
        )],
        (Some(false), Some(env)) => vec![Finding::new(
            ID,
            Severity::Low,
            format!(
                "no active tag ruleset of {repo} restricts the release tags: anyone with write access can push one \
                 and start the release, which then waits for the reviewers of environment {env:?}; {fix}"
            ),
        )],
        (None, Some(_)) => Vec::new(),
        (None, None) => vec![Finding::new(
            ID,
            Severity::Info,
            format!(
                "{}: the trust policy accepts tag pushes, so check that a tag ruleset restricts who may create v* \
                 tags (`gh api repos/{repo}/rulesets`); otherwise {fix}",
                not_checked(facts.github_gaps.tag_ruleset.as_ref())
            ),
        )],
    }
}

/// `trust.sub-template`: a custom subject template changes what `sub` holds; without
/// `repo` (or `repository_id`) in it, the trust policy cannot single out the
/// repository.
fn check_sub_template(ctx: &TrustContext, facts: &TrustFacts) -> Vec<Finding> {
    const ID: &str = "trust.sub-template";
    let repo = ctx.repo.full_name();
    let Some(template) = &facts.sub_template else {
        return vec![Finding::new(
            ID,
            Severity::Info,
            format!(
                "{}: the analysis assumes GitHub's default subject template; check that `gh api \
                 repos/{repo}/actions/oidc/customization/sub` says \"use_default\": true (or that the template \
                 includes \"repo\")",
                not_checked(facts.github_gaps.sub_template.as_ref())
            ),
        )];
    };
    if template.use_default || template.include_claim_keys.is_empty() {
        return vec![Finding::new(
            "trust.sub-template.ok",
            Severity::Info,
            format!("{repo} uses GitHub's default subject template (repo, then the context), as the analysis assumes"),
        )];
    }
    let keys = template.include_claim_keys.join(", ");
    let singles_out = template.include_claim_keys.iter().any(|it| it == "repo" || it == "repository_id");
    if singles_out {
        vec![Finding::new(
            ID,
            Severity::Info,
            format!(
                "{repo} uses a custom subject template (include_claim_keys=[{keys}]); the analysis built the \
                 subjects with it"
            ),
        )]
    } else {
        vec![Finding::new(
            ID,
            Severity::High,
            format!(
                "the subject template for {repo} is include_claim_keys=[{keys}]: every repository of the owner gets \
                 the same kind of sub, so the trust policy cannot single out {repo}; add \"repo\" to the template \
                 (`gh api -X PUT repos/{repo}/actions/oidc/customization/sub` with {{\"use_default\": true}})"
            ),
        )]
    }
}

/// GitHub's deployment rules and ruleset ref conditions match like `fnmatch`: `*`
/// does not cross `/`, `**` does.
pub fn ref_pattern_matches(pattern: &str, name: &str) -> bool {
    if pattern.contains("**") {
        return glob::glob_match(&pattern.replace("**", "*"), name);
    }
    let (p, n): (Vec<&str>, Vec<&str>) = (pattern.split('/').collect(), name.split('/').collect());
    p.len() == n.len() && p.iter().zip(&n).all(|(p, n)| glob::glob_match(p, n))
}
