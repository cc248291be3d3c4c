//! What the trust analysis is told: the release job as the project runs it
//! (`TrustContext`, known without any API) and the facts that only the GitHub and AWS
//! APIs know (`TrustFacts`, each `None` when the caller could not get it).

use std::fmt;

use anyhow::{Result, bail};

use super::{DEFAULT_AUDIENCE, DEFAULT_ENVIRONMENT, DEFAULT_RELEASE_REF};
use crate::arn;

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
    #[cfg(test)]
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
    /// The partition of that account (`aws`, `aws-cn`, `aws-us-gov`), which every
    /// ARN the analysis suggests is spelled in. STS matches only principals of this
    /// partition: a provider, a Deny or an Allow of another never applies.
    pub partition: String,
    /// Where `partition` comes from, for messages.
    pub partition_source: PartitionSource,
    /// The audience the release requests for the token.
    pub audience: String,
    /// The ref the release job runs on, in the simulation (a `v*` tag push).
    pub release_ref: String,
    /// The workflow file of the release job (`.github/workflows/release.yml`), for
    /// policies that condition on `job_workflow_ref`; unknown when `None`.
    pub workflow: Option<String>,
    /// The role session the release asks STS for, in seconds.
    pub session_duration: u32,
    /// Whether the environment must have required reviewers: the release role's
    /// does (it can publish), the build-deps job's read role's need not (it can
    /// only read the repository; `policy::read_role_context`).
    pub needs_reviewers: bool,
}

impl TrustContext {
    /// The project's defaults: environment `release` (with required reviewers),
    /// audience `sts.amazonaws.com`, a `refs/tags/v1.0.0` push, a one-hour session,
    /// the commercial partition.
    pub fn new(repo: RepoRef) -> TrustContext {
        TrustContext {
            repo,
            environment: Some(DEFAULT_ENVIRONMENT.to_owned()),
            account: None,
            partition: "aws".to_owned(),
            partition_source: PartitionSource::Default,
            audience: DEFAULT_AUDIENCE.to_owned(),
            release_ref: DEFAULT_RELEASE_REF.to_owned(),
            workflow: None,
            session_duration: 3600,
            needs_reviewers: true,
        }
    }

    /// The ARN of GitHub's OIDC provider in `account`, in the context's partition.
    pub fn provider_arn(&self, account: &str) -> String {
        arn::github_oidc_provider(&self.partition, account)
    }
}

/// Where the role's partition comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartitionSource {
    /// The role's ARN (`--role-arn`, `AWS_ROLE_ARN`).
    RoleArn,
    /// The region of the settings.
    Region(String),
    /// Nothing said: the commercial partition, `aws`.
    Default,
}

impl fmt::Display for PartitionSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PartitionSource::RoleArn => f.write_str("from the role's ARN"),
            PartitionSource::Region(region) => write!(f, "from the region {region}"),
            PartitionSource::Default => f.write_str(
                "assumed, as nothing says otherwise: pass --role-arn, or set AWS_REGION, for a role in another \
                 partition",
            ),
        }
    }
}

/// Facts from the GitHub and AWS APIs; each one the caller could not get is `None`.
#[derive(Debug, Clone, Default)]
pub struct TrustFacts {
    /// `iam:GetOpenIDConnectProvider` for the provider ARN (`trust.provider`,
    /// `trust.audience`).
    pub provider: Option<ProviderFacts>,
    /// `GET /repos/{o}/{r}/environments/{env}` and its deployment branch policies
    /// (`trust.environment-protection`), from `check-iam`'s GitHub facts.
    pub environment: Option<EnvironmentFacts>,
    /// Whether an active tag ruleset restricts who may create the release tags
    /// (`trust.tag-ruleset`), from `GET /repos/{o}/{r}/rulesets`.
    pub tag_ruleset: Option<bool>,
    /// The subject template of the repository (`trust.sub-template`), from `GET
    /// /repos/{o}/{r}/actions/oidc/customization/sub`.
    pub sub_template: Option<SubTemplate>,
    /// Whether the repository emits immutable subjects (`trust.name-only-subject`),
    /// from the same answer's `sub_claim_prefix`. When `None`, it is assumed to do
    /// so exactly when the repository's ids are known.
    pub immutable_subjects: Option<bool>,
    /// The role's `MaxSessionDuration`, in seconds (`trust.session-duration`).
    pub max_session_duration: Option<u32>,
    /// Why the GitHub facts above are missing, when they were asked for and not
    /// got (no token, a missing permission): the findings that need them say so.
    pub github_gaps: GithubGaps,
}

/// Why a fact from the GitHub API is missing, as a clause with its fix (`None`:
/// nobody asked, the check runs offline).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GithubGaps {
    pub environment: Option<String>,
    pub tag_ruleset: Option<String>,
    pub sub_template: Option<String>,
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
