//! `check-iam --inspect-role`: the role's trust and permission policies and the
//! GitHub OIDC provider, read from IAM (behind the `iam` feature) and analysed with
//! the facts GitHub's API gave, as the release role or (`--read-role`) as the
//! build-deps job's read role.

#[cfg(feature = "iam")]
use crate::policy::{PermissionFacts, Severity};
use crate::{
    aws,
    policy::{self, Finding, PublishTarget, Purpose, TrustContext, TrustFacts},
};

/// What the role is analysed as, and what is known besides its documents.
#[cfg_attr(not(feature = "iam"), allow(dead_code))]
pub struct Analysis<'a> {
    pub purpose: Purpose,
    pub ctx: &'a TrustContext,
    pub github: &'a TrustFacts,
    pub target: &'a PublishTarget,
}

#[cfg(feature = "iam")]
pub async fn inspect_role(
    session: &aws::Session,
    role_arn: &str,
    analysis: &Analysis<'_>,
    origin: Option<policy::OriginPublish>,
    findings: &mut Vec<Finding>,
) {
    match crate::iam_role::read(&session.config, role_arn).await {
        Ok(role) => {
            let facts = TrustFacts {
                provider: Some(role.provider),
                max_session_duration: role.max_session_duration,
                ..analysis.github.clone()
            };
            findings.extend(policy::analyse_trust(&role.trust_policy, analysis.ctx, &facts));
            let facts = PermissionFacts { role_arn: Some(role_arn.to_owned()), origin };
            findings.extend(policy::analyse_permissions_as(analysis.purpose, &role.policies, analysis.target, &facts));
        }
        Err(err) => findings.push(Finding::new("iam.read", Severity::Error, format!("{err:#}"))),
    }
}

#[cfg(not(feature = "iam"))]
pub async fn inspect_role(
    _: &aws::Session,
    _: &str,
    _: &Analysis<'_>,
    _: Option<policy::OriginPublish>,
    _: &mut Vec<Finding>,
) {
    unreachable!("check-iam re-runs itself with the iam feature before it gets here")
}
