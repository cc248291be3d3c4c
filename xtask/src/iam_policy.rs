//! `cargo xtask iam-policy`: the AWS side of the setup, generated. Prints the trust
//! policy of the release role (pinned to this repository's `release` environment)
//! and its least-privilege permission policy, with the real account, region,
//! domain, repository and package filled in from the settings and the git remote.
//!
//! With private build dependencies (`private-dependencies = true`) it also prints
//! the build-deps job's read role: a trust policy pinned to the `build-deps`
//! environment and a policy that can read the repository and write nothing.
//!
//! `--format cloudformation` and `--format terraform` wrap the same documents
//! (the values `--format json` prints, never a second copy) in a template that
//! creates the role (and the read role), its policy and, optionally, GitHub's OIDC
//! provider.

mod cloudformation;
mod terraform;

use anyhow::{Result, bail};
use serde_json::Value;
use xshell::Shell;

use crate::{
    arn::GITHUB_PROVIDER_HOST,
    check_iam, flags,
    flags::PolicyFormat,
    policy::{self, PublishTarget, TrustContext},
    project::{self, Project},
    report,
    settings::{self, Settings},
};

/// The release role as the templates create it: the two documents, exactly as
/// `--format json` prints them, and the names and ARNs they were made for.
pub struct ReleaseRole {
    pub trust: Value,
    pub permissions: Value,
    /// The `Federated` principal of `trust`: GitHub's provider in the role's account.
    pub provider_arn: String,
    /// The account the role is made for (AWS_ROLE_ARN's, else the domain owner).
    pub account: String,
    /// The audience the provider must accept (its client id).
    pub audience: String,
    /// The role's `MaxSessionDuration`: the session the release asks STS for.
    pub max_session_duration: u32,
    /// Defaults of the name parameters (a deployment may choose others).
    pub role_name: String,
    pub policy_name: String,
    /// `OWNER/REPO publishes PACKAGE to DOMAIN/REPOSITORY`, for descriptions. Only
    /// validated names go in (IAM descriptions allow a narrow character set).
    pub summary: String,
    /// The build-deps job's read role, with private build dependencies.
    pub read: Option<ReadRole>,
}

/// The build-deps job's read role as the templates create it (in the release
/// role's account, trusted through the same provider).
pub struct ReadRole {
    pub trust: Value,
    pub permissions: Value,
    /// Defaults of the name parameters.
    pub role_name: String,
    pub policy_name: String,
    /// `OWNER/REPO reads the build requirements from DOMAIN/REPOSITORY`.
    pub summary: String,
}

/// The read role's two documents, exactly as `--format json` prints them.
struct ReadDocuments {
    trust: Value,
    permissions: Value,
}

/// The URL of GitHub's OIDC provider, the identity of the provider resource.
fn provider_url() -> String {
    format!("https://{GITHUB_PROVIDER_HOST}")
}

impl flags::IamPolicy {
    pub fn run(self, sh: &Shell) -> Result<()> {
        let root = project::find_root()?;
        sh.change_dir(&root);
        let project = Project::load(&root)?;
        let settings = settings::required(&project.pyproject, "the policies name the publish target")?;
        // The role lives in the account of AWS_ROLE_ARN when set, else the domain's.
        let account = settings
            .role_arn
            .as_deref()
            .and_then(|arn| arn.split(':').nth(4))
            .unwrap_or(&settings.domain_owner)
            .to_owned();
        let ctx = check_iam::trust_context(
            sh,
            self.github_repo.as_deref(),
            self.environment.as_deref(),
            Some(account.clone()),
            check_iam::role_partition(settings.role_arn.as_deref(), Some(&settings.region)),
            &settings.audience,
        )?;
        let trust = policy::recommended_trust_policy(&ctx, &account);
        let target = PublishTarget::from_settings(&settings, &project.normalized_name());
        let permissions = policy::least_privilege_policy(&target);
        let read = read_documents(&ctx, &target, &account)?;
        match self.format.unwrap_or(PolicyFormat::Text) {
            PolicyFormat::Json => {
                let mut both = serde_json::json!({"trustPolicy": trust, "permissionPolicy": permissions});
                if let Some(read) = &read {
                    both["readRole"] =
                        serde_json::json!({"trustPolicy": read.trust, "permissionPolicy": read.permissions});
                }
                report::out_json(&both.to_string());
            }
            PolicyFormat::Text => report::out(&text(&ctx, &trust, &permissions, read.as_ref())),
            PolicyFormat::Cloudformation => {
                let role = release_role(&ctx, &settings, &project, &account, (trust, permissions), read)?;
                report::out_json(cloudformation::template(&role)?.trim_end());
            }
            PolicyFormat::Terraform => {
                let role = release_role(&ctx, &settings, &project, &account, (trust, permissions), read)?;
                // The writer spells `##[` inside strings as `#\u0023[`, and no line
                // starts with `::`, so the runner-safe printer changes nothing.
                report::out(terraform::configuration(&role).trim_end());
            }
        }
        Ok(())
    }
}

/// The read role's documents when private build dependencies are on: its trust
/// policy pinned to the `build-deps` environment, and its read-only permissions.
fn read_documents(ctx: &TrustContext, target: &PublishTarget, account: &str) -> Result<Option<ReadDocuments>> {
    if !target.private_dependencies {
        return Ok(None);
    }
    if ctx.environment.as_deref() == Some(policy::READ_ENVIRONMENT) {
        bail!(
            "--environment {env}: with private-dependencies the environment {env} belongs to the build-deps job, \
             whose read role it unlocks without reviewers; give the publish job another environment (the default \
             is release)",
            env = policy::READ_ENVIRONMENT
        );
    }
    let read_ctx = policy::read_role_context(ctx, policy::READ_ENVIRONMENT);
    Ok(Some(ReadDocuments {
        trust: policy::recommended_trust_policy(&read_ctx, account),
        permissions: policy::read_role_policy(target),
    }))
}

/// The documents with comments: who may assume the role, and what each part of the
/// permission policy is for; then the read role's, when there is one.
fn text(ctx: &TrustContext, trust: &Value, permissions: &Value, read: Option<&ReadDocuments>) -> String {
    let subject = match &ctx.environment {
        Some(env) => format!("jobs of {} that run in the `{env}` environment", ctx.repo),
        None => format!("tag pushes (v*) of {}", ctx.repo),
    };
    let mut out = format!(
        "# Trust policy of the release role: only {subject} may assume it.\n\
         # The account needs the GitHub OIDC provider (https://token.actions.githubusercontent.com, \
         audience sts.amazonaws.com).\n{}\n\
         # Permission policy of the release role (least privilege).\n\
         # The statement \"SafeRerunChecks\" (codeartifact:ListPackageVersionAssets and\n\
         # codeartifact:DescribePackageVersion) is only read access for safe re-runs and for\n\
         # confirming uploads: without it a re-run cannot skip files that are already published.\n{}",
        policy::to_pretty_json(trust),
        policy::to_pretty_json(permissions).trim_end()
    );
    if let Some(read) = read {
        out.push_str(&format!(
            "\n\n# Trust policy of the read role (private-dependencies is on): only jobs of {} that run\n\
             # in the `{env}` environment (release.yml's build-deps job) may assume it. That job\n\
             # downloads the locked build requirements, so the build job never holds a token;\n\
             # store this role's ARN as the AWS_ROLE_ARN secret of the `{env}` environment.\n{}\n\
             # Permission policy of the read role: the token, the endpoint and\n\
             # codeartifact:ReadFromRepository on the repository; it can write nothing, so its\n\
             # environment needs a deployment tag rule v* but no required reviewers.\n{}",
            ctx.repo,
            policy::to_pretty_json(&read.trust),
            policy::to_pretty_json(&read.permissions).trim_end(),
            env = policy::READ_ENVIRONMENT,
        ));
    }
    out
}

/// The role the templates create, with default names: the role of AWS_ROLE_ARN when
/// set, else `GitHubActions-CodeArtifact` (the example of docs/setup-guide.ja.md);
/// the read role is named after it (`ROLE-read`).
fn release_role(
    ctx: &TrustContext,
    settings: &Settings,
    project: &Project,
    account: &str,
    (trust, permissions): (Value, Value),
    read: Option<ReadDocuments>,
) -> Result<ReleaseRole> {
    let role_name = match settings.role_arn.as_deref().and_then(|arn| arn.rsplit('/').next()) {
        Some(name) if is_iam_name(name, 64) => name.to_owned(),
        Some(name) => bail!(
            "the role name {name:?} of AWS_ROLE_ARN is not an IAM role name (1 to 64 of letters, digits and \
             +=,.@_-): fix AWS_ROLE_ARN, or unset it to get the default name"
        ),
        None => "GitHubActions-CodeArtifact".to_owned(),
    };
    let package = project.normalized_name();
    let place = format!("CodeArtifact {}/{}", settings.domain, settings.repository);
    let read = read.map(|read| ReadRole {
        role_name: read_role_name(&role_name),
        policy_name: format!("CodeArtifactReadBuildDeps-{package}"),
        summary: format!("{} reads the build requirements of {package} from {place}", ctx.repo.full_name()),
        trust: read.trust,
        permissions: read.permissions,
    });
    Ok(ReleaseRole {
        provider_arn: ctx.provider_arn(account),
        account: account.to_owned(),
        audience: ctx.audience.clone(),
        max_session_duration: ctx.session_duration,
        policy_name: format!("CodeArtifactPublish-{package}"),
        summary: format!("{} publishes {package} to {place}", ctx.repo.full_name()),
        role_name,
        trust,
        permissions,
        read,
    })
}

/// The default name of the read role: the release role's with `-read`, the
/// release role's name shortened when that would pass IAM's 64 characters.
pub fn read_role_name(release: &str) -> String {
    const SUFFIX: &str = "-read";
    let kept: String = release.chars().take(64 - SUFFIX.len()).collect();
    format!("{kept}{SUFFIX}")
}

/// Whether `name` is an IAM role or policy name of at most `max` characters.
fn is_iam_name(name: &str, max: usize) -> bool {
    (1..=max).contains(&name.len())
        && name
            .bytes()
            .all(|it| it.is_ascii_alphanumeric() || matches!(it, b'+' | b'=' | b',' | b'.' | b'@' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_formats() {
        for (name, format) in [
            ("text", PolicyFormat::Text),
            ("json", PolicyFormat::Json),
            ("cloudformation", PolicyFormat::Cloudformation),
            ("terraform", PolicyFormat::Terraform),
        ] {
            assert_eq!(name.parse::<PolicyFormat>(), Ok(format));
        }
        let err = "yaml".parse::<PolicyFormat>().unwrap_err();
        assert!(err.contains("cloudformation or terraform"), "{err}");
    }

    #[test]
    fn the_read_role_is_named_after_the_release_role_within_iams_limit() {
        assert_eq!(read_role_name("GitHubActions-CodeArtifact"), "GitHubActions-CodeArtifact-read");
        let long = "r".repeat(64);
        let read = read_role_name(&long);
        assert_eq!(read.len(), 64);
        assert!(is_iam_name(&read, 64) && read.ends_with("rrr-read"), "{read}");
    }

    #[test]
    fn knows_iam_names() {
        assert!(is_iam_name("GitHubActions-CodeArtifact", 64));
        assert!(is_iam_name("a+=,.@_-9", 64));
        assert!(!is_iam_name("", 64));
        assert!(!is_iam_name(&"a".repeat(65), 64));
        assert!(!is_iam_name("a b", 64) && !is_iam_name("a/b", 64) && !is_iam_name("a${b}", 64));
    }
}
