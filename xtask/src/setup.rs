//! `cargo xtask setup`: the AWS and GitHub side of the release, planned and applied,
//! in the order of the manual steps of docs/setup-guide.ja.md (§2.1–2.3, §3.1–3.2):
//!
//! 1. the GitHub OIDC provider (audience from the settings);
//! 2. the release role and its trust policy;
//! 3. the permission policy (a managed policy) and 4. its attachment;
//! 5. the package's origin controls in CodeArtifact (publish ALLOW, upstream BLOCK,
//!    before the first release: `setup::origin`);
//! 6. GitHub: the `release` environment (reviewers, a `v*` tag rule) and the five
//!    settings `release.yml` reads, as environment secrets.
//!
//! With private build dependencies it also sets up the build-deps job's read role
//! (`ROLE-read`: its trust policy pinned to the `build-deps` environment, its
//! managed policy `ROLE-read-build-deps` that can read the repository and write
//! nothing, and the attachment) and the `build-deps` environment (the `v*` tag rule,
//! no required reviewers, the five secrets with the read role's ARN).
//!
//! The documents are `iam-policy`'s (`policy::recommended_trust_policy`,
//! `policy::least_privilege_policy`, the same trust context). Without `--apply` it
//! only reads (IAM's read calls, and GitHub's with a token) and prints the plan: what
//! exists, what would change, and the diff of each document. `--apply` carries out
//! the AWS part through the IAM API and then prints the verdict of `check-iam
//! --inspect-role` on the role; `--apply-github` the GitHub part. Nothing is ever
//! deleted; how a difference is kept, widened or (with `--force`) narrowed is
//! `setup::plan`'s rule. The permission policy is a managed policy attached to the
//! role (docs/setup-guide.ja.md §2.0, step 3): IAM keeps each earlier version, so an
//! update never loses the document it replaces (an inline policy would be
//! overwritten).

mod decide;
mod diff;
mod github;
mod github_apply;
mod iam;
mod origin;
mod plan;
mod run;

use anyhow::{Result, bail};
use xshell::Shell;

use crate::{flags, policy::RepoRef};

/// The role's name when neither `--role-name` nor AWS_ROLE_ARN gives one: the
/// example name of docs/setup-guide.ja.md (§3.1).
const DEFAULT_ROLE_NAME: &str = "GitHubActions-CodeArtifact";

impl flags::Setup {
    pub fn run(self, sh: &Shell) -> Result<()> {
        self.check()?;
        run::run(self, sh)
    }

    /// The flags on their own: names that reach IAM, GitHub's API and the printed
    /// `gh` commands are checked here, before anything is asked.
    fn check(&self) -> Result<()> {
        if let Some(repo) = &self.github_repo {
            RepoRef::parse(repo)?;
        }
        for login in &self.reviewer {
            if !valid_login(login) {
                bail!("--reviewer {login:?} is not a GitHub login (letters, digits and -, at most 39)");
            }
        }
        if let Some(env) = self.environment.as_deref().filter(|it| !it.is_empty() && *it != "none") {
            let ok = env.len() <= 255 && env.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
            if !ok {
                bail!(
                    "--environment {env:?}: setup handles environment names of letters, digits, '.', '_' and '-'; \
                     set up another environment by hand (`cargo xtask iam-policy --environment NAME` prints its \
                     policies)"
                );
            }
        }
        if let Some(role) = self.role_name.as_deref().filter(|it| !valid_role_name(it)) {
            bail!("--role-name {role:?} is not an IAM role name: 1 to 64 letters, digits and +=,.@_-");
        }
        if self.force && !self.apply && !self.apply_github {
            bail!("--force replaces things only when the plan is carried out: add --apply and/or --apply-github");
        }
        Ok(())
    }
}

/// A GitHub login: letters, digits and hyphens, at most 39 characters (logins from
/// GitHub's answers are checked too, before they reach a printed command).
fn valid_login(login: &str) -> bool {
    (1..=39).contains(&login.len())
        && !login.starts_with('-')
        && login.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// An IAM role name: 1 to 64 letters, digits and `+=,.@_-`.
fn valid_role_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
}
