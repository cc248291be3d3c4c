//! Reading a role for `check-iam --inspect-role`: its trust policy, its attached and
//! inline permission policies, and the account's GitHub OIDC provider. Compiled only
//! with the `iam` feature, so the release binary never carries the IAM client.

use anyhow::{Context, Result};
use aws_config::SdkConfig;
use aws_sdk_iam::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::{
    arn,
    policy::{NamedPolicy, ProviderFacts},
};

/// What IAM says about the release role.
pub struct Role {
    /// The trust policy as IAM returns it (percent-encoded; the analysis decodes it).
    pub trust_policy: String,
    pub max_session_duration: Option<u32>,
    pub provider: ProviderFacts,
    pub policies: Vec<NamedPolicy>,
}

/// Maps an IAM failure to what to grant.
fn explain<E, R>(op: &str, err: SdkError<E, R>) -> anyhow::Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match err.code() {
        Some("AccessDenied") => anyhow::format_err!(
            "iam:{op} was denied ({}): role inspection needs read access to IAM (for example the AWS managed policy \
             IAMReadOnlyAccess); run it as an administrator on a laptop",
            err.message().unwrap_or_default()
        ),
        Some("NoSuchEntity") => {
            anyhow::format_err!("iam:{op}: {} (check AWS_ROLE_ARN / --role-arn)", err.message().unwrap_or_default())
        }
        _ => anyhow::format_err!("iam:{op} failed: {}", DisplayErrorContext(&err)),
    }
}

/// Reads the role `role_arn` and the OIDC provider of its account.
pub async fn read(config: &SdkConfig, role_arn: &str) -> Result<Role> {
    let iam = aws_sdk_iam::Client::new(config);
    let name = role_arn.rsplit('/').next().context("the role ARN has no role name")?;
    let role = iam.get_role().role_name(name).send().await.map_err(|e| explain("GetRole", e))?;
    let role = role.role().context("GetRole returned no role")?;
    let trust_policy = role.assume_role_policy_document().unwrap_or_default().to_owned();
    let max_session_duration = role.max_session_duration().and_then(|it| u32::try_from(it).ok());

    let mut policies = Vec::new();
    let attached = iam
        .list_attached_role_policies()
        .role_name(name)
        .send()
        .await
        .map_err(|e| explain("ListAttachedRolePolicies", e))?;
    for p in attached.attached_policies() {
        let arn = p.policy_arn().unwrap_or_default();
        let policy = iam.get_policy().policy_arn(arn).send().await.map_err(|e| explain("GetPolicy", e))?;
        let version = policy.policy().and_then(|it| it.default_version_id()).unwrap_or("v1");
        let doc = iam
            .get_policy_version()
            .policy_arn(arn)
            .version_id(version)
            .send()
            .await
            .map_err(|e| explain("GetPolicyVersion", e))?;
        let text = doc.policy_version().and_then(|it| it.document()).unwrap_or_default();
        policies.push(NamedPolicy::new(p.policy_name().unwrap_or(arn), text));
    }
    let inline = iam.list_role_policies().role_name(name).send().await.map_err(|e| explain("ListRolePolicies", e))?;
    for policy_name in inline.policy_names() {
        let doc = iam
            .get_role_policy()
            .role_name(name)
            .policy_name(policy_name)
            .send()
            .await
            .map_err(|e| explain("GetRolePolicy", e))?;
        policies.push(NamedPolicy::new(policy_name, doc.policy_document()));
    }

    let mut provider = ProviderFacts { exists: false, client_ids: Vec::new() };
    let providers =
        iam.list_open_id_connect_providers().send().await.map_err(|e| explain("ListOpenIDConnectProviders", e))?;
    // The provider in the role's own account and partition.
    let parsed = arn::parse(role_arn);
    let (partition, account) = parsed.as_ref().map_or(("aws", ""), |it| (it.partition, it.account));
    let wanted = arn::github_oidc_provider(partition, account);
    for p in providers.open_id_connect_provider_list() {
        if p.arn() == Some(wanted.as_str()) {
            let got = iam.get_open_id_connect_provider().open_id_connect_provider_arn(&wanted).send().await;
            let got = got.map_err(|e| explain("GetOpenIDConnectProvider", e))?;
            provider = ProviderFacts { exists: true, client_ids: got.client_id_list().to_vec() };
        }
    }
    Ok(Role { trust_policy, max_session_duration, provider, policies })
}
