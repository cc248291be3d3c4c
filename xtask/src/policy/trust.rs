//! Trust-policy analysis: the checks T1–T17 of the shared reference, by simulation.
//!
//! The policy is evaluated for the token the release job presents (which must be
//! allowed) and for a fixed set of counter-example tokens (which must not be):
//! another owner's repository, `OWNER-evil/REPO`, `OWNER/REPO-evil`, `OWNER/other`,
//! a same-repository pull request, a feature branch and an arbitrary environment,
//! each also in the immutable `OWNER@ID/REPO@ID` form. Every token carries the
//! claims that go with its subject (`ref`, `environment`, `repository`,
//! `job_workflow_ref`, …), so a policy that conditions on those is judged by what
//! they really restrict. Which counter-example gets through selects the finding.
//!
//! T9, T10, T12 (does the provider exist), T14 and T15 (which subject form the
//! repository emits) need GitHub or AWS API facts; `TrustFacts` carries them, and a
//! missing fact gives an `info` finding saying what to check by hand.

use std::fmt;

use anyhow::{Result, bail};

use super::{
    Finding, Severity,
    document::{Document, Effect, Names, OpKind, Statement},
    document_findings,
    eval::{self, Caller, Claim, Request, Tri},
    finish,
    glob::{self, Tok},
};

/// The host of GitHub's OIDC issuer, which is also the name of the IAM provider and
/// the prefix of the condition keys.
pub const GITHUB_PROVIDER_HOST: &str = "token.actions.githubusercontent.com";
pub const DEFAULT_AUDIENCE: &str = "sts.amazonaws.com";
/// The environment of the project's release job.
pub const DEFAULT_ENVIRONMENT: &str = "release";
/// The ref a release job runs on in the simulation: a version tag push.
pub const DEFAULT_RELEASE_REF: &str = "refs/tags/v1.0.0";

const WEB_IDENTITY: &str = "sts:AssumeRoleWithWebIdentity";
const ASSUME_ACTIONS: [&str; 3] = ["sts:AssumeRole", WEB_IDENTITY, "sts:AssumeRoleWithSAML"];
const KEY_PREFIX: &str = "token.actions.githubusercontent.com:";
const SUB: &str = "token.actions.githubusercontent.com:sub";
const AUD: &str = "token.actions.githubusercontent.com:aud";
const JOB_WORKFLOW_REF: &str = "token.actions.githubusercontent.com:job_workflow_ref";
/// The tag of the counter-examples that push a tag (from the reference's list).
const COUNTER_TAG: &str = "refs/tags/v1.0.0";

/// A GitHub repository, with the numeric ids of the owner and the repository when
/// known (they make up the immutable subject `repo:OWNER@OWNER_ID/REPO@REPO_ID:…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoRef {
    pub owner: String,
    pub name: String,
    pub owner_id: Option<String>,
    pub name_id: Option<String>,
}

impl RepoRef {
    pub fn new(owner: &str, name: &str) -> RepoRef {
        RepoRef { owner: owner.to_owned(), name: name.to_owned(), owner_id: None, name_id: None }
    }

    /// Parses `OWNER/REPO` or `OWNER@OWNER_ID/REPO@REPO_ID`.
    pub fn parse(text: &str) -> Result<RepoRef> {
        let text = text.trim();
        let hint = "write OWNER/REPO (such as octo-org/yamause), or OWNER@OWNER_ID/REPO@REPO_ID with the numeric ids \
                    that `gh api repos/OWNER/REPO --jq '.owner.id, .id'` prints";
        let Some((owner, name)) = text.split_once('/') else { bail!("{text:?} is not a GitHub repository: {hint}") };
        let split = |part: &str| -> Result<(String, Option<String>)> {
            match part.split_once('@') {
                None => Ok((part.to_owned(), None)),
                Some((name, id)) if !id.is_empty() && id.bytes().all(|it| it.is_ascii_digit()) => {
                    Ok((name.to_owned(), Some(id.to_owned())))
                }
                Some((_, id)) => bail!("{id:?} in {text:?} is not a numeric GitHub id: {hint}"),
            }
        };
        let ((owner, owner_id), (name, name_id)) = (split(owner)?, split(name)?);
        let owner_ok = (1..=39).contains(&owner.len())
            && !owner.starts_with('-')
            && owner.bytes().all(|it| it.is_ascii_alphanumeric() || it == b'-' || it == b'_');
        let name_ok = (1..=100).contains(&name.len())
            && name != "."
            && name != ".."
            && name.bytes().all(|it| it.is_ascii_alphanumeric() || matches!(it, b'-' | b'_' | b'.'));
        if !owner_ok {
            bail!("{owner:?} in {text:?} is not a GitHub owner name: {hint}");
        }
        if !name_ok {
            bail!("{name:?} in {text:?} is not a GitHub repository name: {hint}");
        }
        if owner_id.is_some() != name_id.is_some() {
            bail!("{text:?} has the id of only one of owner and repository; give both or neither: {hint}");
        }
        Ok(RepoRef { owner, name, owner_id, name_id })
    }

    /// `OWNER/REPO`.
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }

    pub fn has_ids(&self) -> bool {
        self.owner_id.is_some() && self.name_id.is_some()
    }

    /// `OWNER@OWNER_ID/REPO@REPO_ID`, with placeholders for unknown ids.
    pub fn immutable_name(&self) -> String {
        format!(
            "{}@{}/{}@{}",
            self.owner,
            self.owner_id.as_deref().unwrap_or("OWNER_ID"),
            self.name,
            self.name_id.as_deref().unwrap_or("REPO_ID")
        )
    }
}

impl fmt::Display for RepoRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.has_ids() { f.write_str(&self.immutable_name()) } else { f.write_str(&self.full_name()) }
    }
}

/// What the analysis knows about the release job without asking any API.
#[derive(Debug, Clone)]
pub struct TrustContext {
    pub repo: RepoRef,
    /// The job's `environment:`; `None` when the job has none and runs on a tag push.
    pub environment: Option<String>,
    /// The account that should own the OIDC provider (the role's account).
    pub account: Option<String>,
    /// The audience the release requests for the token.
    pub audience: String,
    /// The ref the release job runs on, in the simulation (a `v*` tag push).
    pub release_ref: String,
    /// The workflow file of the release job (`.github/workflows/release.yml`), for
    /// policies that condition on `job_workflow_ref`; unknown when `None`.
    pub workflow: Option<String>,
    /// The role session the release asks STS for, in seconds.
    pub session_duration: u32,
}

impl TrustContext {
    /// The project's defaults: environment `release`, audience `sts.amazonaws.com`,
    /// a `refs/tags/v1.0.0` push, a one-hour session.
    pub fn new(repo: RepoRef) -> TrustContext {
        TrustContext {
            repo,
            environment: Some(DEFAULT_ENVIRONMENT.to_owned()),
            account: None,
            audience: DEFAULT_AUDIENCE.to_owned(),
            release_ref: DEFAULT_RELEASE_REF.to_owned(),
            workflow: None,
            session_duration: 3600,
        }
    }
}

/// Facts from the GitHub and AWS APIs; each one the caller could not get is `None`.
#[derive(Debug, Clone, Default)]
pub struct TrustFacts {
    /// `iam:GetOpenIDConnectProvider` for the provider ARN (T11, T12).
    pub provider: Option<ProviderFacts>,
    /// `GET /repos/{o}/{r}/environments/{env}` (T9).
    pub environment: Option<EnvironmentFacts>,
    /// Whether a tag ruleset restricts who may create the release tags (T10).
    pub tag_ruleset: Option<bool>,
    /// The effective subject template of the repository (T14).
    pub sub_template: Option<SubTemplate>,
    /// Whether the repository emits immutable subjects (T15). When `None`, it is
    /// assumed to do so exactly when the repository's ids are known.
    pub immutable_subjects: Option<bool>,
    /// The role's `MaxSessionDuration`, in seconds (T17).
    pub max_session_duration: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderFacts {
    pub exists: bool,
    /// The provider's `ClientIDList` (the audiences it accepts).
    pub client_ids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvironmentFacts {
    /// False when the environment does not exist (GitHub then creates it, without
    /// protection, the first time a job uses it).
    pub exists: bool,
    pub required_reviewers: u32,
    pub prevent_self_review: bool,
    pub can_admins_bypass: bool,
    pub deployment: DeploymentPolicy,
}

/// `deployment_branch_policy` of an environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeploymentPolicy {
    /// `null`: "No restriction".
    Any,
    /// `protected_branches: true`.
    ProtectedBranches,
    /// `custom_branch_policies: true`, with the rules.
    Custom(Vec<RefRule>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefRule {
    /// The name pattern, such as `v*` or `main`.
    pub pattern: String,
    pub kind: RefKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefKind {
    Branch,
    Tag,
}

/// The OIDC subject template in effect for the repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubTemplate {
    pub use_default: bool,
    pub include_claim_keys: Vec<String>,
}

/// The ARN of GitHub's OIDC provider in `account`.
pub fn provider_arn(account: &str) -> String {
    format!("arn:aws:iam::{account}:oidc-provider/{GITHUB_PROVIDER_HOST}")
}

/// The subject of the release job's token, as the simulation builds it (unknown
/// ids appear as `OWNER_ID`/`REPO_ID`).
pub fn expected_subject(ctx: &TrustContext, facts: &TrustFacts) -> String {
    expected(ctx, facts).sub(&template(facts)).display()
}

/// The subjects of the counter-example tokens, which the policy must refuse.
pub fn counter_example_subjects(ctx: &TrustContext, facts: &TrustFacts) -> Vec<String> {
    let template = template(facts);
    counter_examples(ctx).iter().map(|(_, it)| it.sub(&template).display()).collect()
}

/// Runs every trust check on `policy` (plain or percent-encoded JSON).
pub fn analyse_trust(policy: &str, ctx: &TrustContext, facts: &TrustFacts) -> Vec<Finding> {
    let mut out = Vec::new();
    let doc = match Document::parse(policy) {
        Ok(doc) => doc,
        Err(err) => {
            out.push(Finding::new("policy.malformed", Severity::Error, format!("trust policy: {err}")));
            return out;
        }
    };
    document_findings(&doc, "trust policy", &mut out);
    let trusts = doc.statements.iter().any(|it| {
        it.principal.is_some() && ASSUME_ACTIONS.iter().any(|action| eval::covers_action(&it.action, action))
    });
    if !trusts {
        let hint = if doc.statements.iter().any(|it| it.resource.is_some()) {
            "; it has Resource elements, so it looks like a permission policy: pass the role's trust policy \
             (`aws iam get-role --role-name ROLE --query Role.AssumeRolePolicyDocument`)"
        } else {
            ""
        };
        out.push(Finding::new(
            "trust.not-a-trust-policy",
            Severity::Error,
            format!(
                "the document has no statement with a Principal and an sts:AssumeRole* action, so it is not a \
                 trust policy{hint}"
            ),
        ));
        return finish(out);
    }
    let analysis = Analysis { doc: &doc, ctx, facts, template: template(facts) };
    analysis.check_principals(&mut out);
    analysis.check_provider_facts(&mut out);
    let unrestricted = analysis.check_conditions(&mut out);
    let expected = analysis.check_expected(&mut out);
    let rejected = analysis.check_counter_examples(unrestricted, &mut out);
    analysis.check_name_reuse(expected, &mut out);
    analysis.check_audience(expected, &mut out);
    out.extend(check_environment_protection(ctx, facts.environment.as_ref()));
    out.extend(check_tag_ruleset(ctx, facts.tag_ruleset));
    out.extend(check_sub_template(ctx, facts.sub_template.as_ref()));
    if let Some(env) = ctx.environment.as_deref().filter(|it| it.contains(':')) {
        out.push(Finding::new(
            "trust.colon-in-name",
            Severity::Info,
            format!(
                "environment {env:?} appears in the sub as {:?}: GitHub encodes \":\" as \"%3A\"; the expected \
                 subject above uses that form, and so must the trust policy",
                encode(env)
            ),
        ));
    }
    if let Some(max) = facts.max_session_duration
        && ctx.session_duration > max
    {
        out.push(Finding::new(
            "trust.session-duration",
            Severity::Error,
            format!(
                "the release asks STS for a {} s session but the role's MaxSessionDuration is {max} s; STS answers \
                 \"The requested DurationSeconds exceeds the MaxSessionDuration set for this role.\" Raise it: \
                 `aws iam update-role --role-name ROLE --max-session-duration {}`",
                ctx.session_duration, ctx.session_duration
            ),
        ));
    }
    if expected == Tri::Yes && !out.iter().any(|it| it.severity > Severity::Info) {
        let duration = match facts.max_session_duration {
            Some(max) => format!(
                "; the role's MaxSessionDuration is {max} s and the release asks for {} s",
                ctx.session_duration
            ),
            None => format!("; the release asks for a {} s session", ctx.session_duration),
        };
        out.push(Finding::new(
            "trust.ok",
            Severity::Info,
            format!(
                "the trust policy allows the release job's token (sub {:?}, aud {:?}) and refuses all {} \
                 counter-examples: {}{duration}",
                expected_subject(ctx, facts),
                ctx.audience,
                rejected.len(),
                rejected.join(", ")
            ),
        ));
    }
    finish(out)
}

/// T9: the environment that the trust policy relies on must be protected. Applies
/// when the release job uses an environment.
pub fn check_environment_protection(ctx: &TrustContext, facts: Option<&EnvironmentFacts>) -> Vec<Finding> {
    const ID: &str = "trust.environment-protection";
    let Some(env) = ctx.environment.as_deref() else { return Vec::new() };
    let repo = ctx.repo.full_name();
    let fix = format!(
        "in Settings → Environments → {env}, add required reviewers (with \"Prevent self-review\") and a deployment \
         tag rule \"v*\" (no branch rules)"
    );
    let Some(facts) = facts else {
        return vec![Finding::new(
            ID,
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
            ID,
            Severity::High,
            format!(
                "environment {env:?} does not exist in {repo}: GitHub creates it without any protection the first \
                 time a job names it, so any branch could then obtain the role; create it first: {fix}"
            ),
        )];
    }
    let mut out = Vec::new();
    let tag = ctx.release_ref.strip_prefix("refs/tags/");
    let mut gaps = Vec::new();
    if facts.required_reviewers == 0 {
        gaps.push("it has no required reviewers".to_owned());
    }
    match &facts.deployment {
        DeploymentPolicy::Any => {
            gaps.push("its deployment branches are \"No restriction\", so a job on any branch can use it".to_owned())
        }
        DeploymentPolicy::ProtectedBranches => {
            if let Some(tag) = tag {
                out.push(Finding::new(
                    ID,
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
                    ID,
                    Severity::Error,
                    format!(
                        "no deployment tag rule of environment {env:?} matches tag {tag:?}, so the release job is \
                         rejected by the environment's protection rules; add a deployment tag rule \"v*\""
                    ),
                ));
            }
        }
    }
    if !gaps.is_empty() {
        out.push(Finding::new(
            ID,
            Severity::High,
            format!(
                "environment {env:?} is what the trust policy relies on, but {}; anyone who can push a branch can \
                 then obtain the role: {fix}",
                gaps.join(", and ")
            ),
        ));
    } else {
        let mut soft = Vec::new();
        if !facts.prevent_self_review {
            soft.push("a reviewer may approve their own run (enable \"Prevent self-review\")");
        }
        if facts.can_admins_bypass {
            soft.push("administrators may bypass the protection rules (disable \"Allow administrators to bypass\")");
        }
        if !soft.is_empty() {
            out.push(Finding::new(
                ID,
                Severity::Medium,
                format!("environment {env:?} is protected, but {}", soft.join(", and ")),
            ));
        }
    }
    out
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

/// The recommended `sub` condition (operator, value): the environment form when the
/// job has an environment, else the tag-push pattern; immutable ids when asked.
pub(crate) fn recommended_sub(ctx: &TrustContext, immutable: bool) -> (&'static str, String) {
    let repo = if immutable { ctx.repo.immutable_name() } else { ctx.repo.full_name() };
    match &ctx.environment {
        Some(env) => ("StringEquals", format!("repo:{repo}:environment:{}", encode(env))),
        None if ctx.release_ref.starts_with("refs/tags/v") => ("StringLike", format!("repo:{repo}:ref:refs/tags/v*")),
        None => ("StringEquals", format!("repo:{repo}:ref:{}", ctx.release_ref)),
    }
}

/// GitHub's deployment rules match like `fnmatch` with `*` not crossing `/`.
fn ref_rule_matches(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<&str>, Vec<&str>) = (pattern.split('/').collect(), name.split('/').collect());
    p.len() == n.len() && p.iter().zip(&n).all(|(p, n)| glob::glob_match(p, n))
}

/// GitHub writes `:` in a value of the sub as `%3A`.
fn encode(value: &str) -> String {
    value.replace(':', "%3A")
}

fn template(facts: &TrustFacts) -> Vec<String> {
    match &facts.sub_template {
        Some(t) if !t.use_default && !t.include_claim_keys.is_empty() => t.include_claim_keys.clone(),
        _ => vec!["repo".to_owned(), "context".to_owned()],
    }
}

/// A claim value with parts the simulation does not know (`Any`, shown by name).
#[derive(Debug, Clone, Default)]
struct Text(Vec<Part>);

#[derive(Debug, Clone)]
enum Part {
    Lit(String),
    Any(&'static str),
    /// Unknown, without `/` (a file name).
    Segment(&'static str),
}

impl Text {
    fn lit(text: impl Into<String>) -> Text {
        Text(vec![Part::Lit(text.into())])
    }
    fn any(name: &'static str) -> Text {
        Text(vec![Part::Any(name)])
    }
    fn known_or(value: &Option<String>, name: &'static str) -> Text {
        value.as_ref().map(Text::lit).unwrap_or(Text::any(name))
    }
    fn then(mut self, other: Text) -> Text {
        self.0.extend(other.0);
        self
    }
    fn and(self, text: &str) -> Text {
        self.then(Text::lit(text))
    }
    fn shape(&self) -> Vec<Tok> {
        let mut out = Vec::new();
        for part in &self.0 {
            match part {
                Part::Lit(s) => out.extend(glob::literal(s)),
                Part::Any(_) => out.push(Tok::Star),
                Part::Segment(_) => out.push(Tok::Segment),
            }
        }
        out
    }
    fn display(&self) -> String {
        self.0
            .iter()
            .map(|it| match it {
                Part::Lit(s) => s.as_str(),
                Part::Any(name) | Part::Segment(name) => name,
            })
            .collect()
    }
    /// The known text before the first unknown part.
    fn known_prefix(&self) -> String {
        let mut out = String::new();
        for part in &self.0 {
            match part {
                Part::Lit(s) => out.push_str(s),
                Part::Any(_) | Part::Segment(_) => break,
            }
        }
        out
    }
    fn encoded(self) -> Text {
        Text(
            self.0
                .into_iter()
                .map(|it| match it {
                    Part::Lit(s) => Part::Lit(encode(&s)),
                    other => other,
                })
                .collect(),
        )
    }
}

/// The context part of a default subject.
#[derive(Debug, Clone, PartialEq, Eq)]
enum SubContext {
    Environment(String),
    PullRequest,
    Ref(String),
}

/// A job that requests a token: whose repository, which trigger, which claims.
#[derive(Debug, Clone)]
struct Scenario {
    owner: String,
    owner_id: Option<String>,
    name: String,
    name_id: Option<String>,
    immutable: bool,
    context: SubContext,
    /// The ref the job runs on (for an environment job); `None`: any ref.
    job_ref: Option<String>,
    aud: String,
    workflow: Option<String>,
}

impl Scenario {
    fn git_ref(&self) -> Text {
        match &self.context {
            SubContext::Ref(r) => Text::lit(r),
            SubContext::PullRequest => Text::lit("refs/pull/").then(Text::any("NUMBER")).and("/merge"),
            SubContext::Environment(_) => Text::known_or(&self.job_ref, "REF"),
        }
    }

    fn repo_part(&self) -> Text {
        if self.immutable {
            Text::lit(format!("{}@", self.owner))
                .then(Text::known_or(&self.owner_id, "OWNER_ID"))
                .and(&format!("/{}@", self.name))
                .then(Text::known_or(&self.name_id, "REPO_ID"))
        } else {
            Text::lit(format!("{}/{}", self.owner, self.name))
        }
    }

    fn context_part(&self) -> Text {
        match &self.context {
            SubContext::Environment(env) => Text::lit(format!("environment:{}", encode(env))),
            SubContext::PullRequest => Text::lit("pull_request"),
            SubContext::Ref(r) => Text::lit(format!("ref:{r}")),
        }
    }

    /// The value of claim `name` in this job's token; `None` when absent.
    fn claim(&self, name: &str) -> Option<Text> {
        let repository = format!("{}/{}", self.owner, self.name);
        Some(match name {
            "aud" => Text::lit(&self.aud),
            "repository" => Text::lit(repository),
            "repository_owner" => Text::lit(&self.owner),
            "repository_id" => Text::known_or(&self.name_id, "REPO_ID"),
            "repository_owner_id" => Text::known_or(&self.owner_id, "OWNER_ID"),
            "environment" => match &self.context {
                SubContext::Environment(env) => Text::lit(env),
                _ => return None,
            },
            "ref" => self.git_ref(),
            "ref_type" => {
                let known = self.git_ref().known_prefix();
                if known.starts_with("refs/tags/") {
                    Text::lit("tag")
                } else if known.starts_with("refs/heads/") {
                    Text::lit("branch")
                } else {
                    Text::any("REF_TYPE")
                }
            }
            "event_name" => match self.context {
                SubContext::PullRequest => Text::lit("pull_request"),
                _ => Text::any("EVENT"),
            },
            "job_workflow_ref" | "workflow_ref" => {
                let file = match &self.workflow {
                    Some(path) => Text::lit(path),
                    None => Text::lit(".github/workflows/").then(Text(vec![Part::Segment("WORKFLOW.yml")])),
                };
                Text::lit(format!("{repository}/")).then(file).and("@").then(self.git_ref())
            }
            // Claims the simulation does not model (actor, run_id, …) take any value.
            _ => Text::any("VALUE"),
        })
    }

    /// The sub built by `template` (GitHub's `include_claim_keys`).
    fn sub(&self, template: &[String]) -> Text {
        let mut out = Text::default();
        for (i, key) in template.iter().enumerate() {
            if i > 0 {
                out = out.and(":");
            }
            out = match key.as_str() {
                "repo" => out.and("repo:").then(self.repo_part()),
                "context" => out.then(self.context_part()),
                other => out.and(&format!("{other}:")).then(self.claim(other).unwrap_or_default().encoded()),
            };
        }
        out
    }
}

/// The release job of `ctx`.
fn expected(ctx: &TrustContext, facts: &TrustFacts) -> Scenario {
    Scenario {
        owner: ctx.repo.owner.clone(),
        owner_id: ctx.repo.owner_id.clone(),
        name: ctx.repo.name.clone(),
        name_id: ctx.repo.name_id.clone(),
        immutable: facts.immutable_subjects.unwrap_or(ctx.repo.has_ids()),
        context: match &ctx.environment {
            Some(env) => SubContext::Environment(env.clone()),
            None => SubContext::Ref(ctx.release_ref.clone()),
        },
        job_ref: Some(ctx.release_ref.clone()),
        aud: ctx.audience.clone(),
        workflow: ctx.workflow.clone(),
    }
}

/// What a counter-example stands for; selects the finding when it gets through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    AnyRepository,
    OwnerPrefix,
    RepoPrefix,
    OrgWide,
    SameRepo,
}

/// The reference's counter-examples, in the name-only and the immutable form. The
/// other repositories get made-up ids; the release repository keeps its own (or
/// unknown ones).
fn counter_examples(ctx: &TrustContext) -> Vec<(Class, Scenario)> {
    let tag = COUNTER_TAG.to_owned();
    let base = Scenario {
        owner: ctx.repo.owner.clone(),
        owner_id: ctx.repo.owner_id.clone(),
        name: ctx.repo.name.clone(),
        name_id: ctx.repo.name_id.clone(),
        immutable: false,
        context: SubContext::Ref(tag.clone()),
        job_ref: Some(tag),
        aud: ctx.audience.clone(),
        workflow: ctx.workflow.clone(),
    };
    let id = |n: &str| Some(n.to_owned());
    // Made-up names must not be the release repository's own.
    let pick =
        |want: &str, taken: &str| if want.eq_ignore_ascii_case(taken) { format!("{want}2") } else { want.into() };
    let branch = "refs/heads/feature-x".to_owned();
    let main = "refs/heads/main".to_owned();
    let mut list = vec![
        (
            Class::AnyRepository,
            Scenario {
                owner: pick("attacker", &ctx.repo.owner),
                owner_id: id("66600001"),
                name: "x".into(),
                name_id: id("66600002"),
                context: SubContext::Ref(main.clone()),
                job_ref: Some(main),
                ..base.clone()
            },
        ),
        (
            Class::OwnerPrefix,
            Scenario {
                owner: format!("{}-evil", ctx.repo.owner),
                owner_id: id("66600003"),
                name_id: id("66600004"),
                ..base.clone()
            },
        ),
        (
            Class::RepoPrefix,
            Scenario { name: format!("{}-evil", ctx.repo.name), name_id: id("66600005"), ..base.clone() },
        ),
        (Class::OrgWide, Scenario { name: pick("other", &ctx.repo.name), name_id: id("66600006"), ..base.clone() }),
        (Class::SameRepo, Scenario { context: SubContext::PullRequest, job_ref: None, ..base.clone() }),
    ];
    if !(ctx.environment.is_none() && ctx.release_ref == branch) {
        list.push((
            Class::SameRepo,
            Scenario { context: SubContext::Ref(branch.clone()), job_ref: Some(branch.clone()), ..base.clone() },
        ));
    }
    if ctx.environment.as_deref() != Some("scratch") {
        // An environment job that an attacker starts from a branch of their own.
        list.push((
            Class::SameRepo,
            Scenario { context: SubContext::Environment("scratch".into()), job_ref: Some(branch), ..base },
        ));
    }
    let immutable: Vec<(Class, Scenario)> =
        list.iter().map(|(class, it)| (*class, Scenario { immutable: true, ..it.clone() })).collect();
    list.extend(immutable);
    list
}

/// The policy, the context, and the subject template in effect.
struct Analysis<'a> {
    doc: &'a Document,
    ctx: &'a TrustContext,
    facts: &'a TrustFacts,
    template: Vec<String>,
}

/// Statements that let a GitHub token in: `Allow`, the web-identity action, and a
/// principal that is (or looks like) GitHub's provider, or everyone.
fn github_facing(statement: &Statement) -> bool {
    statement.effect == Effect::Allow
        && eval::covers_action(&statement.action, WEB_IDENTITY)
        && statement.principal.as_ref().is_some_and(|p| {
            p.negated
                || p.any
                || p.entries.iter().any(|e| {
                    (e.kind == "AWS" && e.value == "*")
                        || (e.kind == "Federated" && e.value.contains(GITHUB_PROVIDER_HOST))
                })
        })
}

fn quoted(values: &[String]) -> String {
    values.iter().map(|it| format!("{it:?}")).collect::<Vec<_>>().join(", ")
}

impl Analysis<'_> {
    fn eval(&self, scenario: &Scenario, relax: &[&str], any_provider: bool) -> Tri {
        self.outcome(scenario, relax, any_provider).answer
    }

    /// The labels of the Deny statements that refuse `scenario`.
    fn denied_by(&self, scenario: &Scenario) -> Vec<String> {
        let outcome = self.outcome(scenario, &[], false);
        outcome.denied_by.iter().map(|(_, s)| self.doc.statements[*s].label()).collect()
    }

    fn outcome(&self, scenario: &Scenario, relax: &[&str], any_provider: bool) -> eval::Outcome {
        let sub = scenario.sub(&self.template).shape();
        let context = |key: &str| match key.strip_prefix(KEY_PREFIX) {
            Some("sub") => Claim::Value(sub.clone()),
            Some(name) => scenario.claim(name).map(|it| Claim::Value(it.shape())).unwrap_or(Claim::Absent),
            // Keys outside GitHub's claims (aws:…, sts:RoleSessionName) are not in
            // the token; the caller may choose them, so any value.
            None => Claim::Value(vec![Tok::Star]),
        };
        let caller = Caller::GitHub { account: self.ctx.account.clone(), any_provider };
        let request = Request { action: WEB_IDENTITY, resource: None, caller: Some(&caller), context: &context, relax };
        eval::decide(&[self.doc], &request)
    }

    fn allowed(&self, scenario: &Scenario) -> Tri {
        self.eval(scenario, &[], false)
    }

    fn sub(&self, scenario: &Scenario) -> String {
        scenario.sub(&self.template).display()
    }

    /// The values of the positive string conditions on `key` in GitHub-facing
    /// statements, with their operator kinds.
    fn values_of(&self, key: &str) -> Vec<(OpKind, String)> {
        let mut out = Vec::new();
        for statement in self.doc.statements.iter().filter(|it| github_facing(it)) {
            for condition in statement.conditions_on(key) {
                let kind = condition.operator.kind;
                if matches!(kind, OpKind::StringEquals | OpKind::StringLike | OpKind::StringEqualsIgnoreCase) {
                    out.extend(condition.values.iter().map(|v| (kind, v.clone())));
                }
            }
        }
        out
    }

    /// The sub values that match `shape`: the patterns to blame for a
    /// counter-example that gets through.
    fn culprits(&self, shape: &[Tok]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (kind, value) in self.values_of(SUB) {
            let hit = match kind {
                OpKind::StringLike => glob::intersects(&glob::pattern(&value), shape),
                OpKind::StringEquals => glob::intersects(&glob::literal(&value), shape),
                _ => glob::intersects(&glob::lowercase(&glob::literal(&value)), &glob::lowercase(shape)),
            };
            if hit && !out.contains(&value) {
                out.push(value);
            }
        }
        out
    }

    fn recommended_sub(&self, immutable: bool) -> (&'static str, String) {
        recommended_sub(self.ctx, immutable)
    }

    /// The `Condition` element to paste into the trust policy.
    fn snippet(&self, immutable: bool) -> String {
        let (op, sub) = self.recommended_sub(immutable);
        let aud = &self.ctx.audience;
        if op == "StringEquals" {
            format!("\"Condition\": {{\"StringEquals\": {{\"{AUD}\": \"{aud}\", \"{SUB}\": \"{sub}\"}}}}")
        } else {
            format!("\"Condition\": {{\"StringEquals\": {{\"{AUD}\": \"{aud}\"}}, \"{op}\": {{\"{SUB}\": \"{sub}\"}}}}")
        }
    }

    fn expected(&self) -> Scenario {
        expected(self.ctx, self.facts)
    }

    /// T12 (provider ARN), T13 (other principals and actions), and the action a
    /// GitHub statement must allow.
    fn check_principals(&self, out: &mut Vec<Finding>) {
        let account = self.ctx.account.as_deref().unwrap_or("ACCOUNT_ID");
        let arn = provider_arn(account);
        let mut trusts_github = false;
        for statement in self.doc.statements.iter().filter(|it| it.effect == Effect::Allow) {
            let Some(principals) = &statement.principal else { continue };
            let label = statement.label();
            let web_identity = eval::covers_action(&statement.action, WEB_IDENTITY);
            // What else this statement lets in, for trust.extra-principal.
            let mut extras: Vec<String> = Vec::new();
            if principals.negated {
                extras.push("every principal except the ones in its NotPrincipal".to_owned());
                trusts_github |= web_identity;
            } else if principals.any {
                extras.push("anyone (\"Principal\": \"*\" means any AWS account and any identity provider)".to_owned());
                trusts_github |= web_identity;
            }
            for entry in principals.entries.iter().filter(|_| !principals.negated) {
                let value = &entry.value;
                match entry.kind.as_str() {
                    "Federated" => {
                        if let Some(found) = eval::github_provider_account(value) {
                            trusts_github = true;
                            if let Some(want) = self.ctx.account.as_deref()
                                && found != want
                            {
                                out.push(Finding::new(
                                    "trust.provider",
                                    Severity::Error,
                                    format!(
                                        "{label} trusts the GitHub provider of account {found}, but STS uses the \
                                         provider in the role's own account {want}; use \"Federated\": \"{arn}\""
                                    ),
                                ));
                            }
                            if !web_identity {
                                let actions = match &statement.action {
                                    Names::Only(list) => quoted(list),
                                    Names::Except(list) => format!("every action except {}", quoted(list)),
                                };
                                out.push(Finding::new(
                                    "trust.action",
                                    Severity::Error,
                                    format!(
                                        "{label} trusts GitHub's provider but allows {actions}, not \
                                         sts:AssumeRoleWithWebIdentity, the action a GitHub token uses; set \
                                         \"Action\": \"sts:AssumeRoleWithWebIdentity\""
                                    ),
                                ));
                            }
                        } else if value.contains(GITHUB_PROVIDER_HOST) {
                            trusts_github = true;
                            let why = if value.contains("://") {
                                "IAM provider ARNs name the issuer host without the https:// scheme".to_owned()
                            } else if !value.starts_with("arn:") {
                                "it is the issuer, not the ARN of the IAM provider".to_owned()
                            } else if value.contains(&format!("{GITHUB_PROVIDER_HOST}/")) {
                                "it names an enterprise issuer (…/SLUG), but tokens come from the default issuer \
                                 unless the enterprise has set up a custom issuer (then the provider, this ARN and \
                                 the condition keys all carry the slug)"
                                    .to_owned()
                            } else {
                                "it is not of the form arn:aws:iam::ACCOUNT:oidc-provider/token.actions.githubusercontent.com"
                                    .to_owned()
                            };
                            out.push(Finding::new(
                                "trust.provider",
                                Severity::Error,
                                format!(
                                    "{label} trusts {value:?}, which is not GitHub's OIDC provider ARN: {why}; STS \
                                     refuses the token (\"Not authorized to perform sts:AssumeRoleWithWebIdentity\" \
                                     or \"No OpenIDConnect provider found\"). Use \"Federated\": \"{arn}\""
                                ),
                            ));
                        } else {
                            extras.push(format!("identities of the provider {value:?}"));
                        }
                    }
                    "AWS" if value == "*" => extras.push("every AWS account and principal (\"AWS\": \"*\")".to_owned()),
                    "AWS" => {
                        let account_wide = value.ends_with(":root") || value.bytes().all(|it| it.is_ascii_digit());
                        if account_wide {
                            extras.push(format!("every principal of AWS account {value:?} (as far as that account's own policies permit)"));
                        } else {
                            extras.push(format!("the AWS principal {value:?}"));
                        }
                    }
                    "Service" => extras.push(format!("the AWS service {value:?}")),
                    kind => extras.push(format!("the {kind} principal {value:?}")),
                }
            }
            for what in extras {
                out.push(Finding::new(
                    "trust.extra-principal",
                    Severity::High,
                    format!(
                        "{label} also allows {what} to assume the release role; the release role should trust only \
                         GitHub OIDC (\"Principal\": {{\"Federated\": \"{arn}\"}}): remove the rest, or move that \
                         use to a role of its own"
                    ),
                ));
            }
            let broad: Vec<String> = match &statement.action {
                Names::Only(list) => {
                    list.iter().filter(|it| *it == "*" || it.eq_ignore_ascii_case("sts:*")).cloned().collect()
                }
                Names::Except(list) => vec![format!("NotAction {}", quoted(list))],
            };
            if !broad.is_empty() {
                out.push(Finding::new(
                    "trust.extra-principal",
                    Severity::High,
                    format!(
                        "{label} allows {}, which covers every sts:AssumeRole* and session action; the release role \
                         needs only \"Action\": \"sts:AssumeRoleWithWebIdentity\"",
                        broad.join(", ")
                    ),
                ));
            }
        }
        if !trusts_github {
            out.push(Finding::new(
                "trust.provider",
                Severity::Error,
                format!(
                    "the trust policy does not trust GitHub's OIDC provider, so STS refuses the release job's token; \
                     add a statement {{\"Effect\": \"Allow\", \"Principal\": {{\"Federated\": \"{arn}\"}}, \
                     \"Action\": \"sts:AssumeRoleWithWebIdentity\", {}}}",
                    self.snippet(self.expected().immutable)
                ),
            ));
        }
    }

    /// T12 (provider exists) and T11 (the provider accepts the audience), from facts.
    fn check_provider_facts(&self, out: &mut Vec<Finding>) {
        let arn = provider_arn(self.ctx.account.as_deref().unwrap_or("ACCOUNT_ID"));
        let aud = &self.ctx.audience;
        match &self.facts.provider {
            None => out.push(Finding::new(
                "trust.provider",
                Severity::Info,
                format!(
                    "not checked offline: the OIDC provider {arn} must exist with client id {aud:?}; check with \
                     `aws iam get-open-id-connect-provider --open-id-connect-provider-arn {arn}`"
                ),
            )),
            Some(provider) if !provider.exists => out.push(Finding::new(
                "trust.provider",
                Severity::Error,
                format!(
                    "the OIDC provider {arn} does not exist, so STS answers \"No OpenIDConnect provider found in your \
                     account for https://{GITHUB_PROVIDER_HOST}\"; create it: `aws iam create-open-id-connect-provider \
                     --url https://{GITHUB_PROVIDER_HOST} --client-id-list {aud}`"
                ),
            )),
            Some(provider) if !provider.client_ids.contains(aud) => out.push(Finding::new(
                "trust.audience",
                Severity::Error,
                format!(
                    "the provider's client-id list is [{}] without {aud:?}, so STS answers \"Incorrect token \
                     audience\"; add it: `aws iam add-client-id-to-open-id-connect-provider \
                     --open-id-connect-provider-arn {arn} --client-id {aud}`",
                    quoted(&provider.client_ids)
                ),
            )),
            Some(_) => {}
        }
    }

    /// T1, T6, T7: what the conditions of GitHub-facing statements say. Returns
    /// whether some statement leaves the subject unrestricted (T1).
    fn check_conditions(&self, out: &mut Vec<Finding>) -> bool {
        let mut unrestricted = false;
        for statement in self.doc.statements.iter().filter(|it| github_facing(it)) {
            let label = statement.label();
            let restricts = statement.conditions.iter().any(|it| {
                let key = it.key_lower();
                (key == SUB || key == JOB_WORKFLOW_REF) && it.operator.kind.restricts_subject()
            });
            if !restricts {
                unrestricted = true;
                out.push(Finding::new(
                    "trust.sub-unrestricted",
                    Severity::Critical,
                    format!(
                        "{label} trusts {GITHUB_PROVIDER_HOST} but does not restrict the subject: any GitHub \
                         repository can assume the role (IAM refuses such new policies; existing ones keep working). \
                         Add {}",
                        self.snippet(self.expected().immutable)
                    ),
                ));
            }
            for condition in &statement.conditions {
                let key = condition.key_lower();
                let op = &condition.operator;
                let literal_op = matches!(op.kind, OpKind::StringEquals | OpKind::StringEqualsIgnoreCase);
                for value in condition.values.iter().filter(|it| literal_op && glob::has_wildcard(it)) {
                    out.push(Finding::new(
                        "trust.stringequals-wildcard",
                        Severity::Error,
                        format!(
                            "{label}: {} treats \"*\" and \"?\" literally, so {} = {value:?} never matches; use \
                             StringLike for a pattern, or list the exact values under StringEquals",
                            op.name, condition.key
                        ),
                    ));
                }
                if op.set.is_some() && [SUB, AUD, JOB_WORKFLOW_REF].contains(&key.as_str()) {
                    out.push(Finding::new(
                        "trust.set-operator",
                        Severity::Critical,
                        format!(
                            "{label}: {} on {}: set operators are meant for multi-valued keys, and ForAllValues is \
                             even true when the claim is absent or the key misspelled; use plain StringEquals or \
                             StringLike",
                            op.name, condition.key
                        ),
                    ));
                }
            }
        }
        unrestricted
    }

    /// The release job's token must be allowed (T8, T11, T15 when it is not).
    fn check_expected(&self, out: &mut Vec<Finding>) -> Tri {
        let exp = self.expected();
        let sub = self.sub(&exp);
        match self.allowed(&exp) {
            Tri::Yes => return Tri::Yes,
            Tri::Maybe => {
                out.push(Finding::new(
                    "trust.subject-mismatch",
                    Severity::Info,
                    format!(
                        "could not confirm that the trust policy allows the release job's token (sub {sub:?}): a \
                         condition it depends on uses an operator this check does not know"
                    ),
                ));
                return Tri::Maybe;
            }
            Tri::No => {}
        }
        let aud = &self.ctx.audience;
        if self.eval(&exp, &[AUD], false) != Tri::No {
            let want: Vec<String> = self.values_of(AUD).into_iter().map(|(_, v)| v).collect();
            out.push(Finding::new(
                "trust.audience",
                Severity::Error,
                format!(
                    "the release job requests a token for audience {aud:?}, but the trust policy requires aud = [{}]; \
                     set \"{AUD}\": \"{aud}\" in the trust policy (or request the audience the policy names with \
                     GITHUB_OIDC_AUDIENCE)",
                    quoted(&want)
                ),
            ));
            return Tri::No;
        }
        if self.eval(&exp, &[], true) != Tri::No || self.eval(&exp, &[AUD], true) != Tri::No {
            // The provider ARN is what refuses it, and `check_principals` said so.
            if !out.iter().any(|it| it.id == "trust.provider" && it.severity == Severity::Error) {
                out.push(Finding::new(
                    "trust.provider",
                    Severity::Error,
                    format!(
                        "the trust policy's Federated principal is not GitHub's provider in account {}; use {:?}",
                        self.ctx.account.as_deref().unwrap_or("ACCOUNT_ID"),
                        provider_arn(self.ctx.account.as_deref().unwrap_or("ACCOUNT_ID"))
                    ),
                ));
            }
            return Tri::No;
        }
        if !self.doc.statements.iter().any(github_facing) {
            // No statement for GitHub tokens at all: trust.provider or trust.action said why.
            return Tri::No;
        }
        if exp.immutable {
            let named = Scenario { immutable: false, ..exp.clone() };
            if self.allowed(&named) != Tri::No {
                out.push(Finding::new(
                    "trust.name-only-subject",
                    Severity::Error,
                    format!(
                        "{} emits immutable subjects ({sub:?}), but the trust policy accepts only the name-only form \
                         ({:?}), so STS answers \"Not authorized to perform sts:AssumeRoleWithWebIdentity\"; update \
                         the condition: {}",
                        self.ctx.repo.full_name(),
                        self.sub(&named),
                        self.snippet(true)
                    ),
                ));
                return Tri::No;
            }
        }
        let mut why = Vec::new();
        let denied_by = self.denied_by(&exp);
        if !denied_by.is_empty() {
            why.push(format!("it is denied explicitly by {}", denied_by.join(", ")));
        }
        match &self.ctx.environment {
            Some(env) => {
                let mut refs = vec![self.ctx.release_ref.clone(), "refs/heads/main".to_owned()];
                refs.dedup();
                for r in refs {
                    let alt = Scenario { context: SubContext::Ref(r.clone()), job_ref: Some(r), ..exp.clone() };
                    if self.allowed(&alt) != Tri::No {
                        why.push(format!(
                            "the job uses environment {env:?}, so its sub is {sub:?}, not {:?} (an environment \
                             takes precedence over the ref in the sub)",
                            self.sub(&alt)
                        ));
                        break;
                    }
                }
            }
            None => {
                for env in self.environments_named() {
                    let alt = Scenario { context: SubContext::Environment(env.clone()), ..exp.clone() };
                    if self.allowed(&alt) != Tri::No {
                        why.push(format!(
                            "the trust policy expects environment {env:?}, but the release job has no environment, \
                             so its sub is {sub:?}; add `environment: {env}` to the job or change the policy"
                        ));
                    }
                }
            }
        }
        if !exp.immutable {
            let immutable = Scenario { immutable: true, ..exp.clone() };
            if self.allowed(&immutable) != Tri::No {
                why.push(format!(
                    "the trust policy accepts only the immutable form ({:?}), which a repository emits only when \
                     created on or after 2026-07-15 or opted in; if {} does, pass it as OWNER@OWNER_ID/REPO@REPO_ID",
                    self.sub(&immutable),
                    self.ctx.repo.full_name()
                ));
            }
        }
        let exp_shape = exp.sub(&self.template).shape();
        let exp_lower = glob::lowercase(&exp_shape);
        let (mut exact, mut ignoring_case) = (false, false);
        for (kind, value) in self.values_of(SUB) {
            let policy = if kind == OpKind::StringLike { glob::pattern(&value) } else { glob::literal(&value) };
            exact |= kind != OpKind::StringEqualsIgnoreCase && glob::intersects(&policy, &exp_shape);
            ignoring_case |= glob::intersects(&glob::lowercase(&policy), &exp_lower);
        }
        let case_only = ignoring_case && !exact;
        if case_only {
            why.push(format!(
                "a sub value differs from it only in letter case: values are case-sensitive, and GitHub writes the \
                 names exactly as `gh api repos/{} --jq .full_name` prints them",
                self.ctx.repo.full_name()
            ));
        }
        let values: Vec<String> = self.values_of(SUB).into_iter().map(|(_, v)| v).collect();
        let values = if values.is_empty() { "none".to_owned() } else { format!("[{}]", quoted(&values)) };
        let why = if why.is_empty() { String::new() } else { format!(": {}", why.join("; ")) };
        out.push(Finding::new(
            "trust.subject-mismatch",
            Severity::Error,
            format!(
                "the trust policy does not allow the release job's token (sub {sub:?}, aud {aud:?}), so STS answers \
                 \"Not authorized to perform sts:AssumeRoleWithWebIdentity\"{why}. The policy's sub values: \
                 {values}. Allow the release job with {}",
                self.snippet(exp.immutable)
            ),
        ));
        Tri::No
    }

    /// Environment names that the policy's sub values spell out.
    fn environments_named(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (_, value) in self.values_of(SUB) {
            if let Some((_, rest)) = value.split_once(":environment:") {
                let env = rest.split(':').next().unwrap_or_default().replace("%3A", ":");
                if !env.is_empty() && !glob::has_wildcard(&env) && !out.contains(&env) {
                    out.push(env);
                }
            }
        }
        out
    }

    /// T2–T5: every counter-example must be refused. Returns the refused subjects.
    fn check_counter_examples(&self, unrestricted: bool, out: &mut Vec<Finding>) -> Vec<String> {
        let mut hits: Vec<(Class, String, Vec<Tok>, Tri)> = Vec::new();
        let mut rejected = Vec::new();
        for (class, scenario) in counter_examples(self.ctx) {
            let sub = scenario.sub(&self.template);
            match self.allowed(&scenario) {
                Tri::No => rejected.push(sub.display()),
                answer => hits.push((class, sub.display(), sub.shape(), answer)),
            }
        }
        let of = |class: Class| hits.iter().filter(move |it| it.0 == class);
        let describe = |class: Class| -> Option<(String, String, String)> {
            let matched: Vec<_> = of(class).collect();
            if matched.is_empty() {
                return None;
            }
            let mut culprits: Vec<String> = Vec::new();
            for (_, _, shape, _) in &matched {
                for value in self.culprits(shape) {
                    if !culprits.contains(&value) {
                        culprits.push(value);
                    }
                }
            }
            let who = match culprits.len() {
                0 => "the trust policy".to_owned(),
                1 => format!("sub pattern {:?}", culprits[0]),
                _ => format!("sub patterns {}", quoted(&culprits)),
            };
            let mut subs: Vec<String> = Vec::new();
            for (_, sub, _, _) in &matched {
                if !subs.contains(sub) {
                    subs.push(sub.clone());
                }
            }
            let maybe = if matched.iter().all(|it| it.3 == Tri::Maybe) {
                " (assuming that the conditions this check cannot evaluate pass)"
            } else {
                ""
            };
            Some((who, quoted(&subs), maybe.to_owned()))
        };
        let repo = self.ctx.repo.full_name();
        let (owner, name) = (&self.ctx.repo.owner, &self.ctx.repo.name);
        let pin = self.snippet(self.expected().immutable);
        if let Some((who, subs, maybe)) = describe(Class::AnyRepository) {
            // T1 already says that any repository gets in.
            if !unrestricted {
                out.push(Finding::new(
                    "trust.any-repository",
                    Severity::Critical,
                    format!(
                        "{who} matches every repository on github.com; it allows {subs}{maybe}. The AWS creation-time \
                         check accepts such patterns, but they restrict nothing: pin the subject with {pin}"
                    ),
                ));
            }
            return rejected;
        }
        let org_wide = describe(Class::OrgWide);
        if let Some((who, subs, maybe)) = describe(Class::OwnerPrefix) {
            out.push(Finding::new(
                "trust.prefix-wildcard",
                Severity::Critical,
                format!(
                    "{who} also matches other owners whose name starts with {owner:?}, which anyone can register; it \
                     allows {subs}{maybe}. End the owner segment with \"/\" and the repository segment with \":\", \
                     as in {pin}"
                ),
            ));
        }
        if let Some((who, subs, maybe)) = &org_wide {
            out.push(Finding::new(
                "trust.org-wide",
                Severity::High,
                format!(
                    "{who} allows every repository of {owner}, including repositories created later; it allows \
                     {subs}{maybe}. Pin it to {repo}: {pin}"
                ),
            ));
        } else if let Some((who, subs, maybe)) = describe(Class::RepoPrefix) {
            out.push(Finding::new(
                "trust.prefix-wildcard",
                Severity::Critical,
                format!(
                    "{who} also matches repositories named {name}-anything; it allows {subs}{maybe}. End the \
                     repository segment with \":\", as in {pin}"
                ),
            ));
        }
        if let Some((who, subs, maybe)) = describe(Class::SameRepo) {
            let preferred = match &self.ctx.environment {
                Some(env) => format!("environment:{env}"),
                None => "ref:refs/tags/v* (or, better, an environment: environment:release)".to_owned(),
            };
            out.push(Finding::new(
                "trust.broad-subject",
                Severity::High,
                format!(
                    "{who} lets other branches, same-repository pull requests or other environments of {repo} \
                     obtain publish credentials; it allows {subs}{maybe}. Anyone with write access could push a \
                     workflow and publish. Restrict it to {preferred}: {pin}"
                ),
            ));
        }
        rejected
    }

    /// T15 (name-only form): a recreated repository of the same name must not get in.
    fn check_name_reuse(&self, expected: Tri, out: &mut Vec<Finding>) {
        let exp = self.expected();
        if exp.immutable || expected != Tri::Yes {
            return;
        }
        let reuse = Scenario { owner_id: Some("77700001".into()), name_id: Some("77700002".into()), ..exp.clone() };
        if self.allowed(&reuse) == Tri::No {
            return;
        }
        let repo = &self.ctx.repo;
        let (severity, how) = if repo.has_ids() {
            (Severity::Medium, String::new())
        } else {
            (
                Severity::Info,
                format!(" (look the ids up with `gh api repos/{} --jq '.owner.id, .id'`)", repo.full_name()),
            )
        };
        out.push(Finding::new(
            "trust.name-only-subject",
            severity,
            format!(
                "the trust policy trusts the name-only subject {:?}: if {} is deleted or renamed, whoever registers \
                 the name gets the role too. Prefer the immutable form (\"{}\") or add \"StringEquals\": \
                 {{\"{KEY_PREFIX}repository_id\": \"{}\"}}{how}",
                self.sub(&exp),
                repo.full_name(),
                self.recommended_sub(true).1,
                repo.name_id.as_deref().unwrap_or("REPO_ID")
            ),
        ));
    }

    /// T11: tokens minted for another audience must be refused.
    fn check_audience(&self, expected: Tri, out: &mut Vec<Finding>) {
        let exp = self.expected();
        let probe = Scenario { aud: format!("https://github.com/{}", self.ctx.repo.owner), ..exp };
        // When the release token itself is refused, look at the audience alone.
        let relax: &[&str] = if expected == Tri::Yes { &[] } else { &[SUB, JOB_WORKFLOW_REF] };
        if self.eval(&probe, relax, false) == Tri::No {
            return;
        }
        let aud = &self.ctx.audience;
        let fix = format!("add \"StringEquals\": {{\"{AUD}\": \"{aud}\"}}");
        let (severity, note) = match &self.facts.provider {
            Some(p) if p.exists && p.client_ids.iter().all(|it| it == aud) => (
                Severity::Low,
                format!(
                    "; STS already refuses other audiences because the provider accepts only {aud:?}, but pin it anyway"
                ),
            ),
            Some(p) if p.exists => {
                let others: Vec<String> = p.client_ids.iter().filter(|it| *it != aud).cloned().collect();
                (Severity::Medium, format!("; the provider also accepts [{}]", quoted(&others)))
            }
            _ => (Severity::Medium, String::new()),
        };
        out.push(Finding::new(
            "trust.audience",
            severity,
            format!(
                "the trust policy does not pin aud = {aud:?}: tokens minted for other audiences that the provider \
                 accepts could be replayed{note}; {fix}"
            ),
        ));
    }
}
