//! What the release role may read: `ReadFromRepository`, which it never needs
//! (`perm.read-from-repository`, a note when it is granted: with private
//! dependencies the build-deps job's read role reads the repository, see
//! `read_role`), and the two read actions that let a re-run skip files that are
//! already published (`perm.safe-rerun`).

use super::{DESCRIBE_VERSION, LIST_ASSETS, READ, analysis::Analysis, snippet};
use crate::policy::{Finding, Severity, eval::Tri};

impl Analysis<'_> {
    /// `perm.read-from-repository`: the release role publishes and never downloads,
    /// so a grant of ReadFromRepository is only noted.
    pub(super) fn check_read(&self, out: &mut Vec<Finding>) {
        let arn = self.target.repository_arn();
        if self.ask(READ, &arn).answer != Tri::Yes {
            return;
        }
        let message = if self.target.private_dependencies {
            format!(
                "{READ} is not needed by the release role: with private-dependencies the build-deps job's read role \
                 downloads the build requirements (`cargo xtask iam-policy` prints it) and the release role only \
                 publishes; remove it from the release role"
            )
        } else {
            format!(
                "{READ} is not required to publish PyPI packages; keep it only if something downloads from the \
                 repository with this role"
            )
        };
        out.push(Finding::new("perm.read-from-repository", Severity::Info, message));
    }

    /// The actions a safe re-run uses to compare what is already published.
    pub(super) fn check_safe_rerun(&self, out: &mut Vec<Finding>) {
        let arn = self.target.package_arn();
        let missing: Vec<&str> =
            [LIST_ASSETS, DESCRIBE_VERSION].into_iter().filter(|it| self.ask(it, &arn).answer != Tri::Yes).collect();
        if missing.is_empty() {
            return;
        }
        out.push(Finding::new(
            "perm.safe-rerun",
            Severity::Low,
            format!(
                "safe re-runs need {} on {arn}: with them a re-run compares the published files' hashes and skips \
                 identical files instead of failing with 409 Conflict. Add {}",
                missing.join(" and "),
                snippet("SafeRerunChecks", &[LIST_ASSETS, DESCRIBE_VERSION], &arn, None)
            ),
        ));
    }
}
