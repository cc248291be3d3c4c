//! What the role may read (P9 and the safe re-run): `ReadFromRepository` when the
//! build installs its requirements from the repository (and a note when it is
//! granted without need), and the two read actions that let a re-run skip files
//! that are already published.

use super::{DESCRIBE_VERSION, LIST_ASSETS, READ, analysis::Analysis, snippet};
use crate::policy::{Finding, Severity, eval::Tri};

impl Analysis<'_> {
    /// P9: required when the build installs its requirements from the repository,
    /// otherwise only noted.
    pub(super) fn check_read(&self, out: &mut Vec<Finding>) {
        let arn = self.target.repository_arn();
        let outcome = self.ask(READ, &arn);
        if self.target.private_dependencies {
            match outcome.answer {
                Tri::Yes => {}
                Tri::Maybe => out.push(self.unconfirmed("perm.read-from-repository", READ, &arn, &outcome)),
                Tri::No => out.push(Finding::new(
                    "perm.read-from-repository",
                    Severity::Error,
                    format!(
                        "private-dependencies is on, so the build installs its requirements from {}/{}, which needs \
                         {READ} on the repository, and {}: the build gets 403. Add {}",
                        self.target.domain,
                        self.target.repository,
                        self.why_refused(READ, &outcome),
                        snippet("PrivateBuildDependencies", &[READ], &arn, None)
                    ),
                )),
            }
            return;
        }
        if outcome.answer == Tri::Yes {
            out.push(Finding::new(
                "perm.read-from-repository",
                Severity::Info,
                format!(
                    "{READ} is not required to publish PyPI packages; keep it only if something downloads from the \
                     repository with this role"
                ),
            ));
        }
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
