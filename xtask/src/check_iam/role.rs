//! `check-iam --inspect-role`: the role's trust and permission policies and the
//! GitHub OIDC provider, read from IAM (behind the `iam` feature) and analysed with
//! the facts GitHub's API gave.

#[cfg(feature = "iam")]
use crate::policy::{PermissionFacts, Severity, TrustFacts};
use crate::{
    aws,
    policy::{self, Finding, PublishTarget, TrustContext},
};

#[cfg(feature = "iam")]
pub async fn inspect_role(
    session: &aws::Session,
    role_arn: &str,
    ctx: &TrustContext,
    github: &TrustFacts,
    target: &PublishTarget,
    origin: Option<policy::OriginPublish>,
    findings: &mut Vec<Finding>,
) {
    match crate::iam_role::read(&session.config, role_arn).await {
        Ok(role) => {
            let facts = TrustFacts {
                provider: Some(role.provider),
                max_session_duration: role.max_session_duration,
                ..github.clone()
            };
            findings.extend(policy::analyse_trust(&role.trust_policy, ctx, &facts));
            let facts = PermissionFacts { role_arn: Some(role_arn.to_owned()), origin };
            findings.extend(policy::analyse_permissions(&role.policies, target, &facts));
        }
        Err(err) => findings.push(Finding::new("iam.read", Severity::Error, format!("{err:#}"))),
    }
}

#[cfg(not(feature = "iam"))]
pub async fn inspect_role(
    _: &aws::Session,
    _: &str,
    _: &TrustContext,
    _: &policy::TrustFacts,
    _: &PublishTarget,
    _: Option<policy::OriginPublish>,
    _: &mut Vec<Finding>,
) {
    unreachable!("check-iam re-runs itself with the iam feature before it gets here")
}
