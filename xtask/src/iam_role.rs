//! Reading a role for `check-iam --inspect-role` (and the reads `setup` shares):
//! its trust policy, its attached and inline permission policies, and the account's
//! GitHub OIDC provider. Compiled only with the `commands` feature, so the release
//! binary never carries the IAM client.

use anyhow::{Context, Result};
use aws_config::SdkConfig;
use aws_sdk_iam::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::{
    arn, limits,
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

/// An IAM call that failed: which one, and what IAM said. Each command maps it to
/// its own fix (what it needs granted).
pub struct IamFailure {
    pub op: &'static str,
    pub code: Option<String>,
    pub message: String,
    /// The whole error chain, for failures no fix is known for.
    pub detail: String,
}

impl IamFailure {
    pub fn new<E, R>(op: &'static str, err: SdkError<E, R>) -> IamFailure
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        IamFailure {
            op,
            code: err.code().map(str::to_owned),
            message: err.message().unwrap_or_default().to_owned(),
            detail: DisplayErrorContext(&err).to_string(),
        }
    }
}

/// Maps an IAM failure to what to grant.
fn explain(failed: IamFailure) -> anyhow::Error {
    let op = failed.op;
    match failed.code.as_deref() {
        Some("AccessDenied") => anyhow::format_err!(
            "iam:{op} was denied ({}): role inspection needs read access to IAM (for example the AWS managed policy \
             IAMReadOnlyAccess); run it as an administrator on a laptop",
            failed.message
        ),
        Some("NoSuchEntity") => anyhow::format_err!("iam:{op}: {} (check AWS_ROLE_ARN / --role-arn)", failed.message),
        _ => anyhow::format_err!("iam:{op} failed: {}", failed.detail),
    }
}

/// A permission policy of a role: managed (with its ARN) or inline, and its
/// document as IAM returns it (percent-encoded).
pub struct RolePolicy {
    pub name: String,
    pub arn: Option<String>,
    pub document: String,
}

/// The default version's document of the managed policy `arn`.
pub async fn managed_policy_document(iam: &aws_sdk_iam::Client, arn: &str) -> Result<String, IamFailure> {
    let policy = iam.get_policy().policy_arn(arn).send().await.map_err(|e| IamFailure::new("GetPolicy", e))?;
    let version = policy.policy().and_then(|it| it.default_version_id()).unwrap_or("v1");
    let doc = iam.get_policy_version().policy_arn(arn).version_id(version).send().await;
    let doc = doc.map_err(|e| IamFailure::new("GetPolicyVersion", e))?;
    Ok(doc.policy_version().and_then(|it| it.document()).unwrap_or_default().to_owned())
}

/// The attached and inline policies of the role `role`, every page of them, but
/// `except` (a managed policy whose document the caller does not need): the
/// policies, and whether `except` is attached.
pub async fn role_policies(
    iam: &aws_sdk_iam::Client,
    role: &str,
    except: Option<&str>,
) -> Result<(Vec<RolePolicy>, bool), IamFailure> {
    let (mut out, mut excepted) = (Vec::new(), false);
    let mut marker: Option<String> = None;
    for _ in 0..limits::get().max_pages {
        let page = iam.list_attached_role_policies().role_name(role).set_marker(marker.take()).send().await;
        let page = page.map_err(|e| IamFailure::new("ListAttachedRolePolicies", e))?;
        for p in page.attached_policies() {
            let arn = p.policy_arn().unwrap_or_default();
            if except == Some(arn) {
                excepted = true;
                continue;
            }
            let document = managed_policy_document(iam, arn).await?;
            let name = p.policy_name().unwrap_or(arn).to_owned();
            out.push(RolePolicy { name, arn: Some(arn.to_owned()), document });
        }
        marker = page.marker().filter(|_| page.is_truncated()).map(str::to_owned);
        if marker.is_none() {
            break;
        }
    }
    let mut marker: Option<String> = None;
    for _ in 0..limits::get().max_pages {
        let page = iam.list_role_policies().role_name(role).set_marker(marker.take()).send().await;
        let page = page.map_err(|e| IamFailure::new("ListRolePolicies", e))?;
        for name in page.policy_names() {
            let doc = iam.get_role_policy().role_name(role).policy_name(name).send().await;
            let doc = doc.map_err(|e| IamFailure::new("GetRolePolicy", e))?;
            out.push(RolePolicy { name: name.clone(), arn: None, document: doc.policy_document().to_owned() });
        }
        marker = page.marker().filter(|_| page.is_truncated()).map(str::to_owned);
        if marker.is_none() {
            break;
        }
    }
    Ok((out, excepted))
}

/// The audiences (`ClientIDList`) of the OIDC provider `provider_arn`, when the
/// account has it.
pub async fn provider_client_ids(
    iam: &aws_sdk_iam::Client,
    provider_arn: &str,
) -> Result<Option<Vec<String>>, IamFailure> {
    let list = iam.list_open_id_connect_providers().send().await;
    let list = list.map_err(|e| IamFailure::new("ListOpenIDConnectProviders", e))?;
    if !list.open_id_connect_provider_list().iter().any(|it| it.arn() == Some(provider_arn)) {
        return Ok(None);
    }
    let got = iam.get_open_id_connect_provider().open_id_connect_provider_arn(provider_arn).send().await;
    let got = got.map_err(|e| IamFailure::new("GetOpenIDConnectProvider", e))?;
    Ok(Some(got.client_id_list().to_vec()))
}

/// Reads the role `role_arn` and the OIDC provider of its account.
pub async fn read(config: &SdkConfig, role_arn: &str) -> Result<Role> {
    let iam = aws_sdk_iam::Client::new(config);
    let name = role_arn.rsplit('/').next().context("the role ARN has no role name")?;
    let role = iam.get_role().role_name(name).send().await.map_err(|e| explain(IamFailure::new("GetRole", e)))?;
    let role = role.role().context("GetRole returned no role")?;
    let trust_policy = role.assume_role_policy_document().unwrap_or_default().to_owned();
    let max_session_duration = role.max_session_duration().and_then(|it| u32::try_from(it).ok());
    let (policies, _) = role_policies(&iam, name, None).await.map_err(explain)?;
    let policies = policies.iter().map(|it| NamedPolicy::new(&it.name, &it.document)).collect();
    // The provider in the role's own account and partition.
    let parsed = arn::parse(role_arn);
    let (partition, account) = parsed.as_ref().map_or(("aws", ""), |it| (it.partition, it.account));
    let wanted = arn::github_oidc_provider(partition, account);
    let provider = match provider_client_ids(&iam, &wanted).await.map_err(explain)? {
        Some(client_ids) => ProviderFacts { exists: true, client_ids },
        None => ProviderFacts { exists: false, client_ids: Vec::new() },
    };
    Ok(Role { trust_policy, max_session_duration, provider, policies })
}
