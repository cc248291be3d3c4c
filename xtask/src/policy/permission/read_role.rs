//! The build-deps job's read role (`Purpose::Read`): besides the token calls it
//! shares with the release role (`tokens`), it must be able to call
//! `ReadFromRepository` on the repository (pip downloads the locked wheels with
//! its token), and it must not be able to write anything: that job runs in an
//! environment without required reviewers, so a read role that can publish, delete
//! or change a policy would let whoever can push a `v*` tag do so without the
//! release's reviewers.
//!
//! `ReadFromRepository` is authorised on the repository ARN only
//! (https://docs.aws.amazon.com/codeartifact/latest/ug/repo-policies.html); the
//! writes are the Write and Permissions management actions of
//! https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscodeartifact.html.

use super::{PUBLISH, READ, analysis::Analysis, breadth::WRITE_ACTIONS, snippet};
use crate::{
    arn,
    policy::{
        Finding, Severity,
        eval::{Claim, Tri},
        glob::{self, Tok},
    },
};

/// The writes that `WRITE_ACTIONS` leaves to the release role's own checks, and
/// that the read role must not have either.
const MORE_WRITES: [&str; 2] = [PUBLISH, "codeartifact:AssociateWithDownstreamRepository"];

/// The sid of the read role's statement for `ReadFromRepository`.
pub const READ_SID: &str = "ReadBuildRequirements";

/// How many of the writes a finding names before "and N more".
const SHOWN: usize = 6;

impl Analysis<'_> {
    /// The download itself: ReadFromRepository on the repository.
    pub(super) fn check_read_required(&self, out: &mut Vec<Finding>) {
        let arn = self.target.repository_arn();
        let outcome = self.ask(READ, &arn);
        match outcome.answer {
            Tri::Yes => {}
            Tri::Maybe => out.push(self.unconfirmed("perm.read-from-repository", READ, &arn, &outcome)),
            Tri::No => out.push(Finding::new(
                "perm.read-from-repository",
                Severity::Error,
                format!(
                    "the read role cannot call {READ} on {}/{} ({}), so CodeArtifact refuses pip's download of the \
                     build requirements and the build-deps job fails; {READ} is authorised on the repository ARN \
                     only (not on package ARNs). Add {}",
                    self.target.domain,
                    self.target.repository,
                    self.why_refused(READ, &outcome),
                    snippet(READ_SID, &[READ], &arn, None)
                ),
            )),
        }
    }

    /// No CodeArtifact write of any kind, on any resource: each write action is
    /// asked about any CodeArtifact resource, with every condition key unknown, so a
    /// grant that applies only under some condition counts too.
    pub(super) fn check_writes(&self, out: &mut Vec<Finding>) {
        let partition = arn::partition(&self.target.region);
        let any_resource = [glob::literal(&format!("arn:{partition}:codeartifact:")), vec![Tok::Star]].concat();
        let unknown = |_: &str| Claim::Unknown;
        let mut found = Vec::new();
        let mut by = Vec::new();
        for action in MORE_WRITES.iter().chain(WRITE_ACTIONS.iter()) {
            let outcome = self.ask_with(action, any_resource.clone(), &unknown, &[]);
            if outcome.answer == Tri::No {
                continue;
            }
            found.push(*action);
            for at in outcome.allowed_by {
                if !by.contains(&at) {
                    by.push(at);
                }
            }
        }
        if found.is_empty() {
            return;
        }
        let more = match found.len().saturating_sub(SHOWN) {
            0 => String::new(),
            n => format!(" and {n} more"),
        };
        out.push(Finding::new(
            "perm.read-role-can-write",
            Severity::Critical,
            format!(
                "the read role of the build-deps job can write to CodeArtifact: it may call {}{more} (granted by {}). \
                 That job's environment has no required reviewers, so whoever can push a v* tag could publish or \
                 change packages without the release's reviewers. The read role needs only sts:GetServiceBearerToken, \
                 codeartifact:GetAuthorizationToken, codeartifact:GetRepositoryEndpoint and {READ}: remove the rest \
                 (`cargo xtask iam-policy` prints its policy)",
                found.iter().take(SHOWN).copied().collect::<Vec<_>>().join(", "),
                self.labels(&by)
            ),
        ));
    }
}
