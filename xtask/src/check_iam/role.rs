//! `check-iam --inspect-role`: the role's trust and permission policies and the
//! GitHub OIDC provider, read from IAM and analysed with
//! the facts GitHub's API gave, as the release role or (`--read-role`) as the
//! build-deps job's read role.

use crate::{
    aws,
    policy::{self, Finding, PermissionFacts, PublishTarget, Purpose, Severity, TrustContext, TrustFacts},
};

/// What the role is analysed as, and what is known besides its documents.
pub struct Analysis<'a> {
    pub purpose: Purpose,
    pub ctx: &'a TrustContext,
    pub github: &'a TrustFacts,
    pub target: &'a PublishTarget,
}

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
