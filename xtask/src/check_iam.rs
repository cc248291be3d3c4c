//! `cargo xtask check-iam`: the troubleshooting list of docs/setup-guide.ja.md (§6)
//! as a diagnosis. It runs every check the context allows and prints each as PASS,
//! INFO, WARN or FAIL with its id, the reason and the fix; docs/checks.md explains
//! every id at length:
//!
//! - settings: present and well-formed (the same validation as `release`);
//! - GitHub (in Actions): `id-token: write`, fork pull request, reusable workflow,
//!   environment, and the claims of the job's OIDC token (never the token);
//! - GitHub's settings, with a token (`GITHUB_TOKEN`, `GH_TOKEN` or `gh auth
//!   token`): the release environment's protection rules, the OIDC subject template
//!   and form, the repository's ids and the tag rulesets;
//! - identity: where the credentials come from, `GetCallerIdentity`, root user,
//!   cross-account domain;
//! - CodeArtifact, live: token (discarded), endpoint, domain, repository with its
//!   upstreams and external connections, the package's origin controls and where
//!   its versions came from, whether listing (safe re-runs) is allowed; each denial
//!   mapped to the missing action and resource;
//! - the role (`--inspect-role`, with IAM read access): the GitHub OIDC provider, the
//!   trust policy and the permission policies, analysed by `policy`.
//!
//! With `--trust-policy FILE` / `--permission-policy FILE` it analyses documents
//! offline, with no AWS at all. `--read-role` checks the build-deps job's read role
//! (private build dependencies) instead of the release role: its trust pinned to the
//! `build-deps` environment, which needs no reviewers, and its permissions those of
//! a download that can write nothing (`policy::Purpose::Read`).

mod codeartifact;
mod github_checks;
mod github_facts;
mod origin;
mod role;

use std::{env, fs, path::PathBuf};

use anyhow::{Context, Result, bail};
use xshell::{Shell, cmd};

use crate::{
    arn, aws, exec,
    exec::Env,
    flags,
    flags::Format,
    policy::{
        self, Finding, NamedPolicy, PartitionSource, PermissionFacts, PublishTarget, Purpose, RepoRef, Severity,
        Status, TrustContext, TrustFacts,
    },
    project::{self, Project},
    report,
    settings::{self, Settings, Target},
};

impl flags::CheckIam {
    pub fn run(self, sh: &Shell) -> Result<()> {
        let root = project::find_root()?;
        sh.change_dir(&root);
        let project = Project::load(&root)?;
        let format = self.format.unwrap_or(Format::Text);
        let mut findings = Vec::new();
        let offline = self.trust_policy.is_some() || !self.permission_policy.is_empty();
        if !offline {
            crate::aws::sso::ensure_supported()?;
        }
        if offline {
            self.offline(sh, &project, &mut findings)?;
        } else {
            let runtime = crate::aws::runtime()?;
            runtime.block_on(self.live(sh, &project, &mut findings))?;
        }
        // Failures first; a finding two parts made alike (the GitHub checks, live and
        // in the role's analysis) once.
        let findings = policy::finish(findings);
        match format {
            Format::Json => report::out_json(policy::render_json(&findings).trim_end()),
            Format::Text => report::out(policy::render_text(&findings).trim_end()),
        }
        if policy::status(&findings) == Status::Fail {
            bail!(
                "check-iam found problems that will break the release or let others publish (the FAIL lines above; \
                 docs/checks.md explains each id)"
            );
        }
        Ok(())
    }

    /// The role the check is about.
    fn purpose(&self) -> Purpose {
        if self.read_role { Purpose::Read } else { Purpose::Release }
    }

    /// The trust context of the role checked: `trust_context` with `--environment`
    /// (for the read role, default `build-deps` and no reviewers needed).
    fn context(
        &self,
        sh: &Shell,
        account: Option<String>,
        partition: (String, PartitionSource),
        audience: &str,
    ) -> Result<TrustContext> {
        let environment = match (&self.environment, self.read_role) {
            (None, true) => Some(policy::READ_ENVIRONMENT),
            (environment, _) => environment.as_deref(),
        };
        let ctx = trust_context(sh, self.github_repo.as_deref(), environment, account, partition, audience)?;
        if !self.read_role {
            return Ok(ctx);
        }
        Ok(TrustContext { needs_reviewers: false, ..ctx })
    }

    fn offline(&self, sh: &Shell, project: &Project, findings: &mut Vec<Finding>) -> Result<()> {
        let target = settings::from_env(&project.pyproject);
        if let Some(path) = &self.trust_policy {
            let text = read_policy(path)?;
            let (audience, region, settings_role) = match &target {
                Ok(Target::Configured(s)) => (s.audience.clone(), Some(s.region.clone()), s.role_arn.clone()),
                // Without whole settings, the region the AWS tools would use.
                _ => (policy::DEFAULT_AUDIENCE.to_owned(), env_region(), None),
            };
            let role_arn = self.role_arn.clone().or(settings_role);
            let account = role_arn.as_deref().and_then(account_of);
            let partition = role_partition(role_arn.as_deref(), region.as_deref());
            let ctx = self.context(sh, account, partition, &audience)?;
            findings.extend(policy::analyse_trust(&text, &ctx, &TrustFacts::default()));
        }
        if !self.permission_policy.is_empty() {
            let settings = match target? {
                Target::Configured(s) => s,
                Target::Missing(missing) => bail!(
                    "the permission policy is checked against the publish target, and {} missing: set them in the \
                     environment or in {} of pyproject.toml",
                    missing.join(", "),
                    settings::TABLE
                ),
            };
            let policies: Vec<NamedPolicy> = self
                .permission_policy
                .iter()
                .map(|path| Ok(NamedPolicy::new(&path.display().to_string(), &read_policy(path)?)))
                .collect::<Result<_>>()?;
            let target = PublishTarget::from_settings(&settings, &project.normalized_name());
            let facts = PermissionFacts::default();
            findings.extend(policy::analyse_permissions_as(self.purpose(), &policies, &target, &facts));
        }
        Ok(())
    }

    async fn live(&self, sh: &Shell, project: &Project, findings: &mut Vec<Finding>) -> Result<()> {
        let Some(settings) = settings_findings(project, findings) else { return Ok(()) };
        if report::in_github_actions() {
            let environment = if self.read_role { policy::READ_ENVIRONMENT } else { policy::DEFAULT_ENVIRONMENT };
            github_checks::checks(&settings, environment, findings).await;
        }
        let role_arn = self.role_arn.clone().or_else(|| settings.role_arn.clone());
        let ctx = self.context(
            sh,
            role_arn.as_deref().and_then(account_of),
            role_partition(role_arn.as_deref(), Some(&settings.region)),
            &settings.audience,
        );
        let (ctx, github) = match ctx {
            Ok(ctx) => github_side(sh, ctx, findings).await,
            Err(err) => {
                findings.push(Finding::new("github.repository", Severity::Info, format!("not checked: {err:#}")));
                (None, github_facts::Gathered::default())
            }
        };
        let Some(session) = identity_findings(&settings, self.purpose(), findings).await else { return Ok(()) };
        let origin = codeartifact::checks(&session, &settings, project, self.purpose(), findings).await;
        if self.inspect_role {
            let role_arn = role_arn.context(
                "--inspect-role needs the role: pass --role-arn ARN or set AWS_ROLE_ARN (or role-arn in pyproject.toml)",
            )?;
            let ctx = ctx.context("--inspect-role needs the GitHub repository: pass --github-repo OWNER/REPO")?;
            let target = PublishTarget::from_settings(&settings, &project.normalized_name());
            let analysis =
                role::Analysis { purpose: self.purpose(), ctx: &ctx, github: &github.facts, target: &target };
            role::inspect_role(&session, &role_arn, &analysis, origin, findings).await;
        } else {
            let read = if self.read_role { " --read-role" } else { "" };
            findings.push(Finding::new(
                "iam.not-inspected",
                Severity::Info,
                format!(
                    "the role's trust and permission policies were not read: run `cargo xtask check-iam \
                     --inspect-role{read}` with credentials that may read IAM (iam:GetRole, \
                     iam:ListAttachedRolePolicies, iam:GetPolicyVersion, iam:ListRolePolicies, iam:GetRolePolicy, \
                     iam:ListOpenIDConnectProviders, iam:GetOpenIDConnectProvider)"
                ),
            ));
        }
        Ok(())
    }
}

/// The GitHub side from GitHub's API: the facts, their checks, and the trust
/// context with GitHub's spelling of the names and, when the subject form is known,
/// the ids.
async fn github_side(
    sh: &Shell,
    ctx: TrustContext,
    findings: &mut Vec<Finding>,
) -> (Option<TrustContext>, github_facts::Gathered) {
    let github = github_facts::gather(sh, &ctx, findings).await;
    let mut ctx = ctx;
    if let Some(repo) = &github.repo {
        ctx.repo.owner = repo.owner.clone();
        ctx.repo.name = repo.name.clone();
        // Ids the user did not give change which subject form is expected, so
        // they are used only when GitHub also said which form it writes.
        if github.facts.immutable_subjects.is_some() || ctx.repo.has_ids() {
            ctx.repo.owner_id = repo.owner_id.clone();
            ctx.repo.name_id = repo.name_id.clone();
        }
    }
    findings.extend(policy::check_github(&ctx, &github.facts));
    (Some(ctx), github)
}

/// The settings, as a finding: present and valid, or what is missing or wrong.
fn settings_findings(project: &Project, findings: &mut Vec<Finding>) -> Option<Settings> {
    match settings::from_env(&project.pyproject) {
        Ok(Target::Configured(s)) => {
            findings.push(Finding::new(
                "settings.ok",
                Severity::Info,
                format!(
                    "domain {} (owner {}), repository {}, region {}, token {} s{}",
                    s.domain,
                    s.domain_owner,
                    s.repository,
                    s.region,
                    s.token_duration,
                    s.role_arn.as_ref().map(|it| format!(", role {it}")).unwrap_or_default()
                ),
            ));
            Some(s)
        }
        Ok(Target::Missing(missing)) => {
            findings.push(Finding::new(
                "settings.missing",
                Severity::Error,
                format!(
                    "{} not set: set them as environment variables (in GitHub: repository secrets or variables \
                     passed through `env:`) or in {} of pyproject.toml",
                    missing.join(", "),
                    settings::TABLE
                ),
            ));
            None
        }
        Err(err) => {
            findings.push(Finding::new("settings.invalid", Severity::Error, format!("{err:#}")));
            None
        }
    }
}

/// Where the credentials come from and whose they are: root user, cross-account.
async fn identity_findings(settings: &Settings, purpose: Purpose, findings: &mut Vec<Finding>) -> Option<aws::Session> {
    let mut notes = Vec::new();
    let session = match aws::authenticate(settings, &mut notes).await {
        Ok(session) => session,
        Err(err) => {
            findings.push(Finding::new("identity.credentials", Severity::Error, format!("{err:#}")));
            return None;
        }
    };
    let id = &session.identity;
    findings.push(Finding::new(
        "identity.ok",
        Severity::Info,
        format!("{} (account {}) through {}", id.arn, id.account, id.source),
    ));
    if id.arn.ends_with(":root") {
        findings.push(Finding::new(
            "identity.root",
            Severity::Error,
            "these are root-user credentials, and CodeArtifact refuses GetAuthorizationToken for the root user: \
             use an IAM role (or user) with the policy of `cargo xtask iam-policy`",
        ));
    }
    if id.account != settings.domain_owner {
        let repository_action = match purpose {
            Purpose::Release => "codeartifact:PublishPackageVersion",
            Purpose::Read => "codeartifact:ReadFromRepository",
        };
        findings.push(Finding::new(
            "perm.cross-account",
            Severity::Medium,
            format!(
                "the caller's account {} is not the domain owner {}: the domain's resource policy must grant \
                 codeartifact:GetAuthorizationToken and the repository's must grant {repository_action} to {}",
                id.account, settings.domain_owner, id.arn
            ),
        ));
    }
    Some(session)
}

/// The repository, as the trust policy must name it: `--github-repo`, else the
/// Actions environment (with its immutable ids), else the `origin` remote.
fn repo(sh: &Shell, github_repo: Option<&str>) -> Result<RepoRef> {
    if let Some(spec) = github_repo {
        return RepoRef::parse(spec);
    }
    if let Ok(full) = env::var("GITHUB_REPOSITORY") {
        let mut repo = RepoRef::parse(&full)?;
        repo.owner_id = env::var("GITHUB_REPOSITORY_OWNER_ID").ok().filter(|it| !it.is_empty());
        repo.name_id = env::var("GITHUB_REPOSITORY_ID").ok().filter(|it| !it.is_empty());
        return Ok(repo);
    }
    let url = exec::run(cmd!(sh, "git remote get-url origin"), &Env::base())
        .capture()
        .exec()
        .map(|it| it.stdout.trim().to_owned())
        .unwrap_or_default();
    repo_from_remote(&url).with_context(|| {
        format!("cannot tell the GitHub repository from the `origin` remote {url:?}: pass --github-repo OWNER/REPO")
    })
}

/// The role's partition and where it comes from: the role's ARN, else the region,
/// else the commercial partition.
pub fn role_partition(role_arn: Option<&str>, region: Option<&str>) -> (String, PartitionSource) {
    if let Some(parsed) = role_arn.and_then(arn::parse) {
        return (parsed.partition.to_owned(), PartitionSource::RoleArn);
    }
    match region {
        Some(region) => (arn::partition(region).to_owned(), PartitionSource::Region(region.to_owned())),
        None => ("aws".to_owned(), PartitionSource::Default),
    }
}

/// `AWS_REGION`, else `AWS_DEFAULT_REGION`, when set.
fn env_region() -> Option<String> {
    ["AWS_REGION", "AWS_DEFAULT_REGION"].iter().find_map(|it| env::var(it).ok().filter(|it| !it.trim().is_empty()))
}

/// What the release job presents: the repository, its environment (`--environment`,
/// default `release`; `none` for a tag push without one), the role's account and
/// partition, and the audience.
pub fn trust_context(
    sh: &Shell,
    github_repo: Option<&str>,
    environment: Option<&str>,
    account: Option<String>,
    (partition, partition_source): (String, PartitionSource),
    audience: &str,
) -> Result<TrustContext> {
    let mut ctx = TrustContext::new(repo(sh, github_repo)?);
    ctx.environment = match environment {
        None => Some(policy::DEFAULT_ENVIRONMENT.to_owned()),
        Some("") | Some("none") => None,
        Some(name) => Some(name.to_owned()),
    };
    ctx.account = account;
    ctx.partition = partition;
    ctx.partition_source = partition_source;
    ctx.audience = audience.to_owned();
    ctx.workflow = Some(".github/workflows/release.yml".to_owned());
    Ok(ctx)
}

fn read_policy(path: &PathBuf) -> Result<String> {
    fs::read_to_string(path).with_context(|| format!("read the policy document {}", path.display()))
}

/// The account of an IAM ARN (`arn:aws:iam::123456789012:role/x`).
fn account_of(arn: &str) -> Option<String> {
    arn.split(':').nth(4).filter(|it| it.len() == 12 && it.bytes().all(|b| b.is_ascii_digit())).map(str::to_owned)
}

/// `OWNER/REPO` from a GitHub remote URL (`git@github.com:O/R.git`, `https://github.com/O/R`).
pub fn repo_from_remote(url: &str) -> Option<RepoRef> {
    let path = url
        .strip_prefix("git@github.com:")
        .or_else(|| url.strip_prefix("ssh://git@github.com/"))
        .or_else(|| url.strip_prefix("https://github.com/"))
        .or_else(|| url.strip_prefix("http://github.com/"))?;
    let path = path.trim_end_matches('/').trim_end_matches(".git");
    let (owner, name) = path.split_once('/')?;
    if owner.is_empty() || name.is_empty() || name.contains('/') {
        return None;
    }
    RepoRef::parse(&format!("{owner}/{name}")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_github_remotes() {
        for url in [
            "git@github.com:octo-org/yamause.git",
            "https://github.com/octo-org/yamause",
            "https://github.com/octo-org/yamause.git/",
        ] {
            let repo = repo_from_remote(url).unwrap();
            assert_eq!((repo.owner.as_str(), repo.name.as_str()), ("octo-org", "yamause"), "{url}");
        }
        assert!(repo_from_remote("https://gitlab.com/o/r").is_none());
        assert!(repo_from_remote("").is_none());
        assert_eq!(account_of("arn:aws:iam::123456789012:role/r"), Some("123456789012".to_owned()));
    }
}
