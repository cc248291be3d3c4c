//! Trust-policy analysis: who may assume the release role, reported as the
//! `trust.*` findings of docs/checks.md.
//!
//! The `sub` conditions are proved on the grammar of GitHub's subjects
//! (`subjects`): every subject they admit must be the configured repository's, in
//! either form, for the release environment (or `v*` tags without one). What is not
//! proven becomes tokens (`probes`): counter-examples the proof found in the
//! policy's own patterns, the repositories its other claims name, and a fixed list
//! of look-alikes (another owner's repository, `OWNER-evil/REPO`,
//! `OWNER/REPO-evil`, `OWNER/other`, a pull request, a feature branch, another
//! environment), each in both forms. Every token carries the claims that go with its
//! subject (`ref`, `environment`, `repository`, `job_workflow_ref`, …), so the whole
//! policy, Deny statements and other claims included, decides; which kind gets
//! through selects the finding.
//!
//! The GitHub side (`trust.environment-protection`, `trust.tag-ruleset`,
//! `trust.sub-template`), whether the provider exists and accepts the audience
//! (`trust.provider`, `trust.audience`) and which subject form the repository emits
//! (`trust.name-only-subject`) need GitHub or AWS API facts; `TrustFacts` carries
//! them, and a missing fact gives an `info` finding saying what to check by hand.
//!
//! `analyse_trust` runs the checks in the order of this module's parts: `context`
//! (what it is told), `scenario` (the tokens), `analysis` (the questions every check
//! asks), then the checks: `principals` (who is let in: `trust.provider`,
//! `trust.action`, `trust.extra-principal`, `trust.not-applicable`), `conditions`
//! (`trust.sub-unrestricted`, `trust.stringequals-wildcard`, `trust.set-operator`),
//! `subject` (the release job's own token: `trust.subject-mismatch`,
//! `trust.audience`, `trust.name-only-subject`, `trust.unknowable-condition`),
//! `subjects` and `probes` with `counter_examples` (everyone else:
//! `trust.any-repository`, `trust.prefix-wildcard`, `trust.org-wide`,
//! `trust.foreign-repository`, `trust.broad-subject`, `trust.wildcard-boundary`),
//! `undecided` (`trust.unproven`) and `github` (the GitHub side);
//! `trust.colon-in-name`, `trust.session-duration` and `trust.ok` are short enough
//! to stay here.

mod analysis;
mod conditions;
mod context;
mod counter_examples;
mod github;
mod grammar;
mod pinned;
mod principals;
mod probes;
mod questions;
mod scenario;
mod subject;
mod subjects;
mod undecided;
mod unknowns;

pub use context::ProviderFacts;
pub use context::{
    DeploymentPolicy, EnvironmentFacts, GithubGaps, PartitionSource, RefKind, RefRule, RepoRef, SubTemplate,
    TrustContext, TrustFacts,
};
pub use github::{check_github, ref_pattern_matches};
pub(crate) use scenario::recommended_sub;

/// The host of GitHub's OIDC issuer, which is also the name of the IAM provider and
/// the prefix of the condition keys; `arn` spells it.
pub use crate::arn::GITHUB_PROVIDER_HOST;
use crate::arn::github_provider_host;

use self::analysis::Analysis;
use super::{
    Finding, Severity,
    budget::Budgets,
    document::Document,
    document_findings,
    eval::{self, Tri},
    finish,
};

pub const DEFAULT_AUDIENCE: &str = "sts.amazonaws.com";
/// The environment of the project's release job.
pub const DEFAULT_ENVIRONMENT: &str = "release";
/// The ref a release job runs on in the simulation: a version tag push.
pub const DEFAULT_RELEASE_REF: &str = "refs/tags/v1.0.0";

const WEB_IDENTITY: &str = "sts:AssumeRoleWithWebIdentity";
const ASSUME_ACTIONS: [&str; 3] = ["sts:AssumeRole", WEB_IDENTITY, "sts:AssumeRoleWithSAML"];
const KEY_PREFIX: &str = concat!(github_provider_host!(), ":");
const SUB: &str = concat!(github_provider_host!(), ":sub");
const AUD: &str = concat!(github_provider_host!(), ":aud");
const JOB_WORKFLOW_REF: &str = concat!(github_provider_host!(), ":job_workflow_ref");
/// The tag of the look-alike tokens that push a tag (`scenario::counter_examples`).
const COUNTER_TAG: &str = "refs/tags/v1.0.0";

/// The subject of the release job's token, as the simulation builds it (unknown
/// ids appear as `OWNER_ID`/`REPO_ID`).
pub fn expected_subject(ctx: &TrustContext, facts: &TrustFacts) -> String {
    scenario::expected(ctx, facts).sub(&scenario::template(facts)).display()
}

/// The subjects of the counter-example tokens, which the policy must refuse.
#[cfg(test)]
pub fn counter_example_subjects(ctx: &TrustContext, facts: &TrustFacts) -> Vec<String> {
    let template = scenario::template(facts);
    scenario::counter_examples(ctx, "").iter().map(|(_, it)| it.sub(&template).display()).collect()
}

/// Runs every trust check on `policy` (plain or percent-encoded JSON).
pub fn analyse_trust(policy: &str, ctx: &TrustContext, facts: &TrustFacts) -> Vec<Finding> {
    analyse_trust_within(policy, ctx, facts, &Budgets::default())
}

/// `analyse_trust` with the work `budgets` the searches and the simulated requests
/// may spend.
pub(crate) fn analyse_trust_within(
    policy: &str,
    ctx: &TrustContext,
    facts: &TrustFacts,
    budgets: &Budgets,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let doc = match Document::parse(policy) {
        Ok(doc) => doc,
        Err(err) => {
            out.push(Finding::new("policy.malformed", Severity::Error, format!("trust policy: {err}")));
            return out;
        }
    };
    if let Some(too_large) = undecided::size_limit(&doc) {
        out.push(too_large);
        return out;
    }
    document_findings(&doc, "trust policy", "trust.duplicate-key", &mut out);
    if !is_trust_policy(&doc) {
        out.push(not_a_trust_policy(&doc));
        return finish(out);
    }
    let analysis = Analysis::new(&doc, ctx, facts, budgets);
    analysis.check_principals(&mut out);
    analysis.check_provider_facts(&mut out);
    let unrestricted = analysis.check_conditions(&mut out);
    let expected = analysis.check_expected(&mut out);
    let proof = analysis.prove_subjects();
    let tried = analysis.check_counter_examples(unrestricted, &proof, &mut out);
    out.extend(undecided::foreign_template(&proof));
    out.extend(analysis.unproven(&proof, &tried, &out));
    analysis.check_boundaries(&tried.blamed, &mut out);
    analysis.check_name_reuse(expected, &mut out);
    analysis.check_audience(expected, &mut out);
    out.extend(check_github(ctx, facts));
    out.extend(colon_in_name(ctx));
    out.extend(check_session_duration(ctx, facts));
    if expected == Tri::Yes && !out.iter().any(|it| it.severity > Severity::Info) {
        out.push(trust_ok(ctx, facts, &tried.rejected, &proof));
    }
    finish(out)
}

/// A trust policy has a statement with a principal and an `sts:AssumeRole*` action.
fn is_trust_policy(doc: &Document) -> bool {
    doc.statements
        .iter()
        .any(|it| it.principal.is_some() && ASSUME_ACTIONS.iter().any(|action| eval::covers_action(&it.action, action)))
}

fn not_a_trust_policy(doc: &Document) -> Finding {
    let hint = if doc.statements.iter().any(|it| it.resource.is_some()) {
        "; it has Resource elements, so it looks like a permission policy: pass the role's trust policy \
         (`aws iam get-role --role-name ROLE --query Role.AssumeRolePolicyDocument`)"
    } else {
        ""
    };
    Finding::new(
        "trust.not-a-trust-policy",
        Severity::Error,
        format!(
            "the document has no statement with a Principal and an sts:AssumeRole* action, so it is not a trust \
             policy{hint}"
        ),
    )
}

/// `trust.colon-in-name`: an environment name with `:` appears encoded in the sub.
fn colon_in_name(ctx: &TrustContext) -> Option<Finding> {
    let env = ctx.environment.as_deref().filter(|it| it.contains(':'))?;
    Some(Finding::new(
        "trust.colon-in-name",
        Severity::Info,
        format!(
            "environment {env:?} appears in the sub as {:?}: GitHub encodes \":\" as \"%3A\"; the expected subject \
             above uses that form, and so must the trust policy",
            scenario::encode(env)
        ),
    ))
}

/// `trust.session-duration`: the session the release asks for must fit the role's
/// `MaxSessionDuration`.
fn check_session_duration(ctx: &TrustContext, facts: &TrustFacts) -> Option<Finding> {
    let max = facts.max_session_duration.filter(|max| ctx.session_duration > *max)?;
    Some(Finding::new(
        "trust.session-duration",
        Severity::Error,
        format!(
            "the release asks STS for a {} s session but the role's MaxSessionDuration is {max} s; STS answers \"The \
             requested DurationSeconds exceeds the MaxSessionDuration set for this role.\" Raise it: `aws iam \
             update-role --role-name ROLE --max-session-duration {}`",
            ctx.session_duration, ctx.session_duration
        ),
    ))
}

/// `trust.ok`, the passing finding: what was proven or tried, and the session.
fn trust_ok(ctx: &TrustContext, facts: &TrustFacts, rejected: &[String], proof: &subjects::Proof) -> Finding {
    let duration = match facts.max_session_duration {
        Some(max) => {
            format!("; the role's MaxSessionDuration is {max} s and the release asks for {} s", ctx.session_duration)
        }
        None => format!("; the release asks for a {} s session", ctx.session_duration),
    };
    let context = match &ctx.environment {
        Some(env) => format!("environment {env:?}"),
        None => format!("pushes of {}", if ctx.release_ref.starts_with("refs/tags/v") { "v* tags" } else { "its ref" }),
    };
    // Only a proven policy passes (`unproven` otherwise).
    let what = if proof.by_claims {
        "its sub conditions, with its conditions on other claims (repository, environment or ref),"
    } else {
        "its sub conditions"
    };
    let how = format!(
        "{what} admit nothing but subjects of {} for {context} (proven on the grammar of GitHub's subjects, in the \
         name-only and the immutable form, and for subjects of other repositories' templates)",
        ctx.repo.full_name()
    );
    // The fixed look-alikes (`scenario::counter_examples`) come first; the rest only
    // repeat them in other contexts.
    const SHOWN: usize = 14;
    let more = match rejected.len().saturating_sub(SHOWN) {
        0 => String::new(),
        n => format!(" and {n} more"),
    };
    Finding::new(
        "trust.ok",
        Severity::Info,
        format!(
            "the trust policy allows the release job's token (sub {:?}, aud {:?}); {how}; it refuses all {} tokens of \
             other repositories and contexts tried: {}{more}{duration}",
            expected_subject(ctx, facts),
            ctx.audience,
            rejected.len(),
            rejected.iter().take(SHOWN).cloned().collect::<Vec<_>>().join(", ")
        ),
    )
}
