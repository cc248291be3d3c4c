//! `cargo xtask check-iam`: the troubleshooting list of the setup guide as a
//! diagnosis. It runs every check the context allows and prints each as PASS, INFO,
//! WARN or FAIL with the reason and the fix:
//!
//! - settings: present and well-formed (the same validation as `release`);
//! - GitHub (in Actions): `id-token: write`, fork pull request, reusable workflow,
//!   environment, and the claims of the job's OIDC token (never the token);
//! - identity: where the credentials come from, `GetCallerIdentity`, root user,
//!   cross-account domain;
//! - CodeArtifact, live: token (discarded), endpoint, domain, repository, origin
//!   controls, whether listing (safe re-runs) is allowed; each denial mapped to the
//!   missing action and resource;
//! - the role (`--inspect-role`, with IAM read access): the GitHub OIDC provider, the
//!   trust policy and the permission policies, analysed by `policy`.
//!
//! With `--trust-policy FILE` / `--permission-policy FILE` it analyses documents
//! offline, with no AWS at all.

use std::{env, fs, path::PathBuf, process::Command};

use anyhow::{Context, Result, bail};
use aws_sdk_codeartifact::{
    error::ProvideErrorMetadata,
    types::{AllowPublish, PackageFormat},
};
use xshell::{Shell, cmd};

use crate::{
    arn, aws, exec,
    exec::Env,
    flags, github,
    policy::{
        self, Finding, NamedPolicy, PermissionFacts, PublishTarget, RepoRef, Severity, Status, TrustContext, TrustFacts,
    },
    project::{self, Project},
    report,
    settings::{self, Settings, Target},
};

/// The output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Format, String> {
        match s {
            "text" => Ok(Format::Text),
            "json" => Ok(Format::Json),
            _ => Err(format!("unknown format {s:?}: use text or json")),
        }
    }
}

impl flags::CheckIam {
    pub fn run(self, sh: &Shell) -> Result<()> {
        if self.inspect_role && !cfg!(feature = "iam") {
            return reexec_with_iam();
        }
        let root = project::find_root()?;
        sh.change_dir(&root);
        let project = Project::load(&root)?;
        let format = self.format.unwrap_or(Format::Text);
        let mut findings = Vec::new();
        let offline = self.trust_policy.is_some() || !self.permission_policy.is_empty();
        if offline {
            self.offline(sh, &project, &mut findings)?;
        } else {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(self.live(sh, &project, &mut findings))?;
        }
        let findings = order(findings);
        match format {
            Format::Json => report::out_json(policy::render_json(&findings).trim_end()),
            Format::Text => report::out(policy::render_text(&findings).trim_end()),
        }
        if policy::status(&findings) == Status::Fail {
            bail!("check-iam found problems that will break the release or let others publish (the FAIL lines above)");
        }
        Ok(())
    }

    fn offline(&self, sh: &Shell, project: &Project, findings: &mut Vec<Finding>) -> Result<()> {
        let target = settings::from_env(&project.pyproject);
        let (audience, region_partition) = match &target {
            Ok(Target::Configured(s)) => (s.audience.clone(), arn::partition(&s.region)),
            _ => (policy::DEFAULT_AUDIENCE.to_owned(), "aws"),
        };
        if let Some(path) = &self.trust_policy {
            let text = read_policy(path)?;
            let account = self.role_arn.as_deref().and_then(account_of);
            let partition = self.role_arn.as_deref().and_then(arn::parse).map_or(region_partition, |it| it.partition);
            let ctx = trust_context(
                sh,
                self.github_repo.as_deref(),
                self.environment.as_deref(),
                account,
                partition,
                &audience,
            )?;
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
            findings.extend(policy::analyse_permissions(&policies, &target, &PermissionFacts::default()));
        }
        Ok(())
    }

    async fn live(&self, sh: &Shell, project: &Project, findings: &mut Vec<Finding>) -> Result<()> {
        let settings = match settings::from_env(&project.pyproject) {
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
                s
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
                return Ok(());
            }
            Err(err) => {
                findings.push(Finding::new("settings.invalid", Severity::Error, format!("{err:#}")));
                return Ok(());
            }
        };
        if report::in_github_actions() {
            github_checks(&settings, findings).await;
        }
        let mut notes = Vec::new();
        let session = match aws::authenticate(&settings, &mut notes).await {
            Ok(session) => session,
            Err(err) => {
                findings.push(Finding::new("identity.credentials", Severity::Error, format!("{err:#}")));
                return Ok(());
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
            findings.push(Finding::new(
                "perm.cross-account",
                Severity::Medium,
                format!(
                    "the caller's account {} is not the domain owner {}: the domain's resource policy must grant \
                     codeartifact:GetAuthorizationToken and the repository's must grant \
                     codeartifact:PublishPackageVersion to {}",
                    id.account, settings.domain_owner, id.arn
                ),
            ));
        }
        let origin = codeartifact_checks(&session, &settings, project, findings).await;
        if self.inspect_role {
            let role_arn = self.role_arn.clone().or_else(|| settings.role_arn.clone()).context(
                "--inspect-role needs the role: pass --role-arn ARN or set AWS_ROLE_ARN (or role-arn in pyproject.toml)",
            )?;
            let ctx = trust_context(
                sh,
                self.github_repo.as_deref(),
                self.environment.as_deref(),
                account_of(&role_arn),
                arn::partition(&settings.region),
                &settings.audience,
            )?;
            let target = PublishTarget::from_settings(&settings, &project.normalized_name());
            inspect_role(&session, &role_arn, &ctx, &target, origin, findings).await;
        } else {
            findings.push(Finding::new(
                "iam.not-inspected",
                Severity::Info,
                "the role's trust and permission policies were not read: run `cargo xtask check-iam --inspect-role` \
                 with credentials that may read IAM (iam:GetRole, iam:ListAttachedRolePolicies, iam:GetPolicyVersion, \
                 iam:ListRolePolicies, iam:GetRolePolicy, iam:ListOpenIDConnectProviders, iam:GetOpenIDConnectProvider)",
            ));
        }
        Ok(())
    }
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

/// What the release job presents: the repository, its environment (`--environment`,
/// default `release`; `none` for a tag push without one), the role's account and
/// partition, and the audience.
pub fn trust_context(
    sh: &Shell,
    github_repo: Option<&str>,
    environment: Option<&str>,
    account: Option<String>,
    partition: &str,
    audience: &str,
) -> Result<TrustContext> {
    let mut ctx = TrustContext::new(repo(sh, github_repo)?);
    ctx.environment = match environment {
        None => Some(policy::DEFAULT_ENVIRONMENT.to_owned()),
        Some("") | Some("none") => None,
        Some(name) => Some(name.to_owned()),
    };
    ctx.account = account;
    ctx.partition = partition.to_owned();
    ctx.audience = audience.to_owned();
    ctx.workflow = Some(".github/workflows/release.yml".to_owned());
    Ok(ctx)
}

/// The GitHub side of the chain, in Actions: the token can be had, and its claims.
async fn github_checks(settings: &Settings, findings: &mut Vec<Finding>) {
    if github::is_fork_pull_request() {
        findings.push(Finding::new(
            "github.fork",
            Severity::Error,
            "this run is a pull request from a fork: GitHub gives it no ID token, so it can never publish",
        ));
    }
    if !github::can_request_id_token() {
        findings.push(Finding::new("github.id-token", Severity::Error, github::no_id_token_help()));
        return;
    }
    findings.push(Finding::new("github.id-token.ok", Severity::Info, "the job may request an OIDC ID token"));
    let jwt = match github::request_id_token(&settings.audience).await {
        Ok(jwt) => jwt,
        Err(err) => {
            findings.push(Finding::new("github.id-token", Severity::Error, format!("{err:#}")));
            return;
        }
    };
    let claims = match github::decode_claims(jwt.expose()) {
        Ok(claims) => claims,
        Err(err) => {
            findings.push(Finding::new("github.claims", Severity::Error, format!("{err:#}")));
            return;
        }
    };
    findings.push(Finding::new(
        "github.claims.ok",
        Severity::Info,
        format!("the job's token (audience {}) says:{}", settings.audience, claims.describe()),
    ));
    let repo_part = claims.sub.strip_prefix("repo:").and_then(|it| it.split(':').next()).unwrap_or_default();
    if repo_part.contains('@') {
        findings.push(Finding::new(
            "github.immutable-subject",
            Severity::Info,
            format!(
                "this repository presents the immutable subject form ({repo_part}): the trust policy's sub must use it \
                 (`cargo xtask iam-policy --github-repo {repo_part}` prints one)"
            ),
        ));
    }
    if !claims.job_workflow_ref.is_empty() && claims.job_workflow_ref != claims.workflow_ref {
        findings.push(Finding::new(
            "github.reusable-workflow",
            Severity::Medium,
            format!(
                "the job runs in the reusable workflow {} called by {}: sub names the caller; to pin the workflow that \
                 publishes, add a StringEquals condition on token.actions.githubusercontent.com:job_workflow_ref",
                claims.job_workflow_ref, claims.workflow_ref
            ),
        ));
    }
    if claims.environment.is_empty() {
        findings.push(Finding::new(
            "github.environment",
            Severity::Medium,
            format!(
                "the job has no `environment:`, so its sub is {:?}; the generated trust policy expects \
                 `environment: release` (with required reviewers) on the publishing job",
                claims.sub
            ),
        ));
    }
}

/// The live CodeArtifact calls of a release, each mapped to a finding. Returns the
/// package's origin setting when it could be read.
async fn codeartifact_checks(
    session: &aws::Session,
    settings: &Settings,
    project: &Project,
    findings: &mut Vec<Finding>,
) -> Option<policy::OriginPublish> {
    let client = &session.codeartifact;
    let name = project.normalized_name();
    let (d, o, r) = (&settings.domain, &settings.domain_owner, &settings.repository);
    match aws::token_and_endpoint(session, settings).await {
        Ok((_token, endpoint)) => findings.push(Finding::new(
            "codeartifact.token-and-endpoint.ok",
            Severity::Info,
            format!(
                "GetAuthorizationToken ({} s; the token was discarded) and GetRepositoryEndpoint: {endpoint}",
                settings.token_duration
            ),
        )),
        Err(err) => findings.push(Finding::new("codeartifact.token-and-endpoint", Severity::Error, format!("{err:#}"))),
    }
    let described = client.describe_domain().domain(d).domain_owner(o).send().await;
    push_probe(
        findings,
        ("codeartifact.describe-domain", "codeartifact.describe-domain.ok"),
        "DescribeDomain",
        described.map(|_| "the domain exists".to_owned()),
        settings,
        None,
    );
    let described = client.describe_repository().domain(d).domain_owner(o).repository(r).send().await;
    push_probe(
        findings,
        ("codeartifact.describe-repository", "codeartifact.describe-repository.ok"),
        "DescribeRepository",
        described.map(|_| "the repository exists".to_owned()),
        settings,
        None,
    );

    let package = client
        .describe_package()
        .domain(d)
        .domain_owner(o)
        .repository(r)
        .format(PackageFormat::Pypi)
        .package(&name)
        .send()
        .await;
    let origin = match &package {
        Ok(out) => {
            let publish = out
                .package()
                .and_then(|p| p.origin_configuration())
                .and_then(|c| c.restrictions())
                .map(|r| r.publish().clone());
            match publish {
                Some(AllowPublish::Block) => {
                    findings.push(Finding::new(
                        "perm.origin-blocked",
                        Severity::Error,
                        format!(
                            "package origin controls of {name} say `publish: BLOCK` (its first version came from an upstream or \
                             external connection): every upload will be refused. An administrator can allow direct publishing: \
                             `aws codeartifact put-package-origin-configuration --domain {d} --domain-owner {o} --repository {r} \
                             --format pypi --package {name} --restrictions publish=ALLOW,upstream=BLOCK`"
                        ),
                    ));
                    Some(policy::OriginPublish::Block)
                }
                _ => {
                    findings.push(Finding::new(
                        "perm.origin-blocked.ok",
                        Severity::Info,
                        format!("{name} allows direct publishing"),
                    ));
                    Some(policy::OriginPublish::Allow)
                }
            }
        }
        Err(err) if err.code() == Some("ResourceNotFoundException") => {
            findings.push(Finding::new(
                "perm.origin-blocked.ok",
                Severity::Info,
                format!("{name} is not in the repository yet; its first publish creates it with publish: ALLOW"),
            ));
            Some(policy::OriginPublish::NoPackage)
        }
        Err(err) => {
            findings.push(Finding::new(
                "perm.origin-blocked",
                Severity::Info,
                format!(
                    "could not read the package's origin controls ({}): allow codeartifact:DescribePackage on {} to have \
                     them checked",
                    err.code().unwrap_or("error"),
                    settings.package_arn(&name)
                ),
            ));
            None
        }
    };
    let version = crate::stamp::find(&fs::read(project.version_path()).unwrap_or_default(), &project.version_file)
        .map(|it| it.current)
        .unwrap_or_else(|_| "0".to_owned());
    match aws::remote_assets(session, settings, &name, &version).await {
        Ok(aws::Remote::Listed(_)) => findings.push(Finding::new(
            "perm.safe-rerun.ok",
            Severity::Info,
            "ListPackageVersionAssets is allowed: re-runs skip files that are already published",
        )),
        Ok(aws::Remote::Unknown(advice)) => findings.push(Finding::new("perm.safe-rerun", Severity::Low, advice)),
        Err(err) => findings.push(Finding::new("perm.safe-rerun", Severity::Low, format!("{err:#}"))),
    }
    origin
}

/// One read-only probe: passed, not permitted (only informative: releases do not need
/// it), or failed in a way that matters.
fn push_probe<E>(
    findings: &mut Vec<Finding>,
    (id, ok_id): (&'static str, &'static str),
    op: &str,
    result: Result<String, aws_sdk_codeartifact::error::SdkError<E, aws_smithy_runtime_api::http::Response>>,
    settings: &Settings,
    package: Option<&str>,
) where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    aws_sdk_codeartifact::error::SdkError<E, aws_smithy_runtime_api::http::Response>:
        aws_sdk_codeartifact::operation::RequestId,
{
    match result {
        Ok(text) => findings.push(Finding::new(ok_id, Severity::Info, format!("{op}: {text}"))),
        Err(err) if err.code() == Some("AccessDeniedException") => findings.push(Finding::new(
            id,
            Severity::Info,
            format!("{op} is not permitted (a release does not need it, but it lets this check say more)"),
        )),
        Err(err) => findings.push(Finding::new(
            id,
            Severity::Error,
            format!("{:#}", aws::explain_codeartifact(op, &err, settings, package)),
        )),
    }
}

#[cfg(feature = "iam")]
async fn inspect_role(
    session: &aws::Session,
    role_arn: &str,
    ctx: &TrustContext,
    target: &PublishTarget,
    origin: Option<policy::OriginPublish>,
    findings: &mut Vec<Finding>,
) {
    match crate::iam_role::read(&session.config, role_arn).await {
        Ok(role) => {
            let facts = TrustFacts {
                provider: Some(role.provider),
                max_session_duration: role.max_session_duration,
                ..Default::default()
            };
            findings.extend(policy::analyse_trust(&role.trust_policy, ctx, &facts));
            let facts = PermissionFacts { role_arn: Some(role_arn.to_owned()), origin };
            findings.extend(policy::analyse_permissions(&role.policies, target, &facts));
        }
        Err(err) => findings.push(Finding::new("iam.read", Severity::Error, format!("{err:#}"))),
    }
}

#[cfg(not(feature = "iam"))]
async fn inspect_role(
    _: &aws::Session,
    _: &str,
    _: &TrustContext,
    _: &PublishTarget,
    _: Option<policy::OriginPublish>,
    _: &mut Vec<Finding>,
) {
    unreachable!("check-iam re-runs itself with the iam feature before it gets here")
}

/// The IAM client is not part of the release binary (it costs about a minute of
/// compile time on a 2-core runner): role inspection re-runs `check-iam` from a build
/// with the `iam` feature. That build has a target folder of its own, so switching
/// between the two never rebuilds the release binary.
fn reexec_with_iam() -> Result<()> {
    let root = project::find_root()?;
    report::say(
        "role inspection needs the IAM client: building xtask with `--features iam` (a few minutes the first time)",
    );
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["run", "--locked", "--quiet", "--package", "xtask", "--features", "iam", "--manifest-path"])
        .arg(root.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(project::target_dir(&root).join("iam"))
        .arg("--")
        .args(env::args_os().skip(1))
        .status()
        .context("run cargo to build xtask with the iam feature")?;
    std::process::exit(status.code().unwrap_or(1));
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

/// Failures first, then warnings, then passes and notes, each group in check order.
fn order(findings: Vec<Finding>) -> Vec<Finding> {
    let mut findings = findings;
    findings.sort_by_key(|it| std::cmp::Reverse(it.severity));
    findings
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
