//! `cargo xtask iam-policy`: the AWS side of the setup, generated. Prints the trust
//! policy of the release role (pinned to this repository's `release` environment)
//! and its least-privilege permission policy, with the real account, region,
//! domain, repository and package filled in from the settings and the git remote.
//!
//! `--format cloudformation` and `--format terraform` wrap the same two documents
//! (the values `--format json` prints, never a second copy) in a template that
//! creates the role, its policy and, optionally, GitHub's OIDC provider.

mod cloudformation;
mod terraform;

use anyhow::{Result, bail};
use serde_json::Value;
use xshell::Shell;

use crate::{
    arn::GITHUB_PROVIDER_HOST,
    check_iam, flags,
    policy::{self, PublishTarget, TrustContext},
    project::{self, Project},
    report,
    settings::{self, Settings},
};

/// What `iam-policy --format` prints. Its own enum, because check-iam has no
/// templates to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyFormat {
    Text,
    Json,
    Cloudformation,
    Terraform,
}

impl std::str::FromStr for PolicyFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<PolicyFormat, String> {
        match s {
            "text" => Ok(PolicyFormat::Text),
            "json" => Ok(PolicyFormat::Json),
            "cloudformation" => Ok(PolicyFormat::Cloudformation),
            "terraform" => Ok(PolicyFormat::Terraform),
            _ => Err(format!("unknown format {s:?}: use text, json, cloudformation or terraform")),
        }
    }
}

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
        match self.format.unwrap_or(PolicyFormat::Text) {
            PolicyFormat::Json => {
                report::out_json(
                    &serde_json::json!({"trustPolicy": trust, "permissionPolicy": permissions}).to_string(),
                );
            }
            PolicyFormat::Text => report::out(&text(&ctx, &trust, &permissions, target.private_dependencies)),
            PolicyFormat::Cloudformation => {
                let role = release_role(&ctx, &settings, &project, &account, trust, permissions)?;
                report::out_json(cloudformation::template(&role)?.trim_end());
            }
            PolicyFormat::Terraform => {
                let role = release_role(&ctx, &settings, &project, &account, trust, permissions)?;
                // The writer spells `##[` inside strings as `#\u0023[`, and no line
                // starts with `::`, so the runner-safe printer changes nothing.
                report::out(terraform::configuration(&role).trim_end());
            }
        }
        Ok(())
    }
}

/// The documents with comments: who may assume the role, and what each part of the
/// permission policy is for.
fn text(ctx: &TrustContext, trust: &Value, permissions: &Value, private_dependencies: bool) -> String {
    let subject = match &ctx.environment {
        Some(env) => format!("jobs of {} that run in the `{env}` environment", ctx.repo),
        None => format!("tag pushes (v*) of {}", ctx.repo),
    };
    format!(
        "# Trust policy of the release role: only {subject} may assume it.\n\
         # The account needs the GitHub OIDC provider (https://token.actions.githubusercontent.com, \
         audience sts.amazonaws.com).\n{}\n\
         # Permission policy of the release role (least privilege).\n\
         # The statement \"SafeRerunChecks\" (codeartifact:ListPackageVersionAssets and\n\
         # codeartifact:DescribePackageVersion) is only read access for safe re-runs and for\n\
         # confirming uploads: without it a re-run cannot skip files that are already published.{}\n{}",
        policy::to_pretty_json(trust),
        if private_dependencies {
            "\n# \"PrivateBuildDependencies\" (codeartifact:ReadFromRepository): private-dependencies is \
             on, so the build installs its requirements from the repository."
        } else {
            ""
        },
        policy::to_pretty_json(permissions).trim_end()
    )
}

/// The role the templates create, with default names: the role of AWS_ROLE_ARN when
/// set, else the guide's `GitHubActions-CodeArtifact`.
fn release_role(
    ctx: &TrustContext,
    settings: &Settings,
    project: &Project,
    account: &str,
    trust: Value,
    permissions: Value,
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
    Ok(ReleaseRole {
        provider_arn: ctx.provider_arn(account),
        account: account.to_owned(),
        audience: ctx.audience.clone(),
        max_session_duration: ctx.session_duration,
        policy_name: format!("CodeArtifactPublish-{package}"),
        summary: format!(
            "{} publishes {package} to CodeArtifact {}/{}",
            ctx.repo.full_name(),
            settings.domain,
            settings.repository
        ),
        role_name,
        trust,
        permissions,
    })
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
    fn knows_iam_names() {
        assert!(is_iam_name("GitHubActions-CodeArtifact", 64));
        assert!(is_iam_name("a+=,.@_-9", 64));
        assert!(!is_iam_name("", 64));
        assert!(!is_iam_name(&"a".repeat(65), 64));
        assert!(!is_iam_name("a b", 64) && !is_iam_name("a/b", 64) && !is_iam_name("a${b}", 64));
    }
}
