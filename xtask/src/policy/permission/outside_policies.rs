//! What the role's permission policies alone do not decide: a domain in another
//! account must grant the role in its own resource policies (`perm.cross-account`),
//! package origin controls can block direct publishing (`perm.origin-blocked`), and
//! only a live simulation sees the policies as IAM does (`perm.simulation`). Each
//! finding says how to check what the analysis was not told.

use super::{GET_AUTHORIZATION_TOKEN, OriginPublish, PUBLISH, Purpose, READ, analysis::Analysis};
use crate::policy::{Finding, Severity};

impl Analysis<'_> {
    /// `perm.cross-account`: a domain in another account needs the domain and
    /// repository policies to grant the role too. The analysis does not read those
    /// policies, so the finding says how to check them.
    pub(super) fn check_cross_account(&self, out: &mut Vec<Finding>) {
        const ID: &str = "perm.cross-account";
        let t = self.target;
        let owner = &t.domain_owner;
        let commands = format!(
            "`aws codeartifact get-domain-permissions-policy --domain {} --domain-owner {owner}` and `aws codeartifact \
             get-repository-permissions-policy --domain {} --domain-owner {owner} --repository {}`",
            t.domain, t.domain, t.repository
        );
        // What the repository policy must grant: the role's own call on it.
        let repository_action = match self.purpose {
            Purpose::Release => PUBLISH,
            Purpose::Read => READ,
        };
        let Some(account) = self.role_account() else {
            out.push(Finding::new(
                ID,
                Severity::Info,
                format!(
                    "not checked offline: if the role is not in account {owner} (the domain owner), the domain policy \
                     must grant it {GET_AUTHORIZATION_TOKEN} and the repository policy {repository_action}; check with \
                     {commands}"
                ),
            ));
            return;
        };
        if account == owner {
            return;
        }
        out.push(Finding::new(
            ID,
            Severity::Info,
            format!(
                "not checked offline: the role is in account {account} but the domain belongs to {owner}, so the \
                 domain policy must grant it {GET_AUTHORIZATION_TOKEN} and the repository policy {repository_action}; \
                 check with {commands}"
            ),
        ));
    }

    /// `perm.origin-blocked`.
    pub(super) fn check_origin(&self, out: &mut Vec<Finding>) {
        const ID: &str = "perm.origin-blocked";
        let t = self.target;
        let describe = format!(
            "aws codeartifact describe-package --domain {} --domain-owner {} --repository {} --format pypi --package {} \
             --query package.originConfiguration.restrictions.publish",
            t.domain, t.domain_owner, t.repository, t.package
        );
        match self.facts.origin {
            None => out.push(Finding::new(
                ID,
                Severity::Info,
                format!(
                    "not checked offline: if the first version of {} in {} came from an upstream or external \
                     connection, origin controls block direct publishing; `{describe}` must print ALLOW",
                    t.package, t.repository
                ),
            )),
            Some(OriginPublish::Block) => out.push(Finding::new(
                ID,
                Severity::Error,
                format!(
                    "direct publishing of {} to {} is blocked by package origin controls (publish: BLOCK, usually \
                     because the first version came from an upstream), so CodeArtifact refuses the upload; if this \
                     repository is meant to be the package's origin, allow it: `aws codeartifact \
                     put-package-origin-configuration --domain {} --domain-owner {} --repository {} --format pypi \
                     --package {} --restrictions publish=ALLOW,upstream=BLOCK`",
                    t.package, t.repository, t.domain, t.domain_owner, t.repository, t.package
                ),
            )),
            Some(OriginPublish::Allow | OriginPublish::NoPackage) => {}
        }
    }

    /// `perm.simulation`: a live `iam:SimulatePrincipalPolicy` is not run, so the
    /// finding says how to run it by hand.
    pub(super) fn check_simulation(&self, out: &mut Vec<Finding>) {
        out.push(Finding::new(
            "perm.simulation",
            Severity::Info,
            "not checked live: `aws iam simulate-principal-policy --policy-source-arn ROLE_ARN --action-names \
             … --resource-arns …` for each call of a release confirms this analysis against the real policies \
             (it does not see SCPs, RCPs or resource policies, so \"allowed\" is necessary, not sufficient)",
        ));
    }
}
