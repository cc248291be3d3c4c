//! `cargo xtask iam-policy`: the AWS side of the setup, generated. Prints the trust
//! policy of the release role (pinned to this repository's `release` environment)
//! and its least-privilege permission policy, with the real account, region,
//! domain, repository and package filled in from the settings and the git remote.

use anyhow::{Result, bail};
use xshell::Shell;

use crate::{
    check_iam::{self, Format},
    flags,
    policy::{self, PublishTarget},
    project::{self, Project},
    report,
    settings::{self, Target},
};

impl flags::IamPolicy {
    pub fn run(self, sh: &Shell) -> Result<()> {
        let root = project::find_root()?;
        sh.change_dir(&root);
        let project = Project::load(&root)?;
        let settings = match settings::from_env(&project.pyproject)? {
            Target::Configured(s) => s,
            Target::Missing(missing) => bail!(
                "the policies name the publish target, and {} missing: set them in the environment or in {} of \
                 pyproject.toml",
                missing.join(", "),
                settings::TABLE
            ),
        };
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
            crate::arn::partition(&settings.region),
            &settings.audience,
        )?;
        let trust = policy::recommended_trust_policy(&ctx, &account);
        let target = PublishTarget::from_settings(&settings, &project.normalized_name());
        let permissions = policy::least_privilege_policy(&target);
        match self.format.unwrap_or(Format::Text) {
            Format::Json => {
                report::out_json(
                    &serde_json::json!({"trustPolicy": trust, "permissionPolicy": permissions}).to_string(),
                );
            }
            Format::Text => {
                let subject = match &ctx.environment {
                    Some(env) => format!("jobs of {} that run in the `{env}` environment", ctx.repo),
                    None => format!("tag pushes (v*) of {}", ctx.repo),
                };
                report::out(&format!(
                    "# Trust policy of the release role: only {subject} may assume it.\n\
                     # The account needs the GitHub OIDC provider (https://token.actions.githubusercontent.com, \
                     audience sts.amazonaws.com).\n{}\n\
                     # Permission policy of the release role (least privilege).\n\
                     # The statement \"SafeRerunChecks\" (codeartifact:ListPackageVersionAssets and\n\
                     # codeartifact:DescribePackageVersion) is only read access for safe re-runs and for\n\
                     # confirming uploads: without it a re-run cannot skip files that are already published.{}\n{}",
                    policy::to_pretty_json(&trust),
                    if target.private_dependencies {
                        "\n# \"PrivateBuildDependencies\" (codeartifact:ReadFromRepository): private-dependencies is \
                         on, so the build installs its requirements from the repository."
                    } else {
                        ""
                    },
                    policy::to_pretty_json(&permissions).trim_end()
                ));
            }
        }
        Ok(())
    }
}
