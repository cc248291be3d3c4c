//! The GitHub side of the trust (T9, T10, T14): a trust policy that relies on an
//! environment is only as strong as that environment's protection rules, one that
//! relies on tag pushes only as strong as the ruleset on who may push the tags, and
//! either only as strong as the subject template that GitHub builds `sub` with.
//!
//! The facts come from GitHub's API (see `TrustFacts`); without them each check says
//! what to look at by hand.

use super::{DeploymentPolicy, EnvironmentFacts, RefKind, SubTemplate, TrustContext};
use crate::policy::{Finding, Severity, glob};

const ENVIRONMENT_PROTECTION: &str = "trust.environment-protection";

/// T9: the environment that the trust policy relies on must be protected. Applies
/// when the release job uses an environment.
pub fn check_environment_protection(ctx: &TrustContext, facts: Option<&EnvironmentFacts>) -> Vec<Finding> {
    let Some(env) = ctx.environment.as_deref() else { return Vec::new() };
    let repo = ctx.repo.full_name();
    let fix = format!(
        "in Settings → Environments → {env}, add required reviewers (with \"Prevent self-review\") and a deployment \
         tag rule \"v*\" (no branch rules)"
    );
    let Some(facts) = facts else {
        return vec![Finding::new(
            ENVIRONMENT_PROTECTION,
            Severity::Info,
            format!(
                "not checked offline: the trust policy relies on environment {env:?}, so it must be protected; \
                 check with `gh api repos/{repo}/environments/{env}` (protection_rules with required_reviewers, \
                 deployment_branch_policy, can_admins_bypass) and `gh api \
                 repos/{repo}/environments/{env}/deployment-branch-policies`; {fix}"
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
    if facts.required_reviewers == 0 {
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
    } else if let Some(soft) = soft_protection(env, facts) {
        out.push(soft);
    }
    out
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
                && !rules.iter().any(|it| it.kind == RefKind::Tag && ref_rule_matches(&it.pattern, tag))
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
fn soft_protection(env: &str, facts: &EnvironmentFacts) -> Option<Finding> {
    let mut soft = Vec::new();
    if !facts.prevent_self_review {
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

/// T10: with a tag-push trust (no environment), whoever may create a `v*` tag may
/// publish, so tag creation must be restricted by a ruleset.
pub fn check_tag_ruleset(ctx: &TrustContext, ruleset: Option<bool>) -> Vec<Finding> {
    const ID: &str = "trust.tag-ruleset";
    if ctx.environment.is_some() {
        return Vec::new();
    }
    let repo = ctx.repo.full_name();
    let fix = "add a tag ruleset (Settings → Rules → Rulesets, target tags \"v*\") that restricts creation, update \
               and deletion to the release maintainers; tag protection rules are deprecated";
    match ruleset {
        Some(true) => Vec::new(),
        Some(false) => vec![Finding::new(
            ID,
            Severity::Medium,
            format!("anyone with write access to {repo} can push a tag matching the trust policy and publish; {fix}"),
        )],
        None => vec![Finding::new(
            ID,
            Severity::Info,
            format!(
                "not checked offline: the trust policy accepts tag pushes, so check that a tag ruleset restricts who \
                 may create v* tags (`gh api repos/{repo}/rulesets`); otherwise {fix}"
            ),
        )],
    }
}

/// T14: a custom subject template changes what `sub` holds; without `repo` (or
/// `repository_id`) in it, the trust policy cannot single out the repository.
pub fn check_sub_template(ctx: &TrustContext, template: Option<&SubTemplate>) -> Vec<Finding> {
    const ID: &str = "trust.sub-template";
    let repo = ctx.repo.full_name();
    let Some(template) = template else {
        return vec![Finding::new(
            ID,
            Severity::Info,
            format!(
                "not checked offline: the analysis assumes GitHub's default subject template; check that `gh api \
                 repos/{repo}/actions/oidc/customization/sub` says \"use_default\": true (or that the template \
                 includes \"repo\")"
            ),
        )];
    };
    if template.use_default || template.include_claim_keys.is_empty() {
        return Vec::new();
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

/// GitHub's deployment rules match like `fnmatch` with `*` not crossing `/`.
fn ref_rule_matches(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<&str>, Vec<&str>) = (pattern.split('/').collect(), name.split('/').collect());
    p.len() == n.len() && p.iter().zip(&n).all(|(p, n)| glob::glob_match(p, n))
}
