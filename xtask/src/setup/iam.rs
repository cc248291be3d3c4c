//! The IAM side of `setup`: what exists (read-only calls, for the plan) and the
//! changes that carry the plan out. Every IAM error is mapped to its fix: a denial
//! names the IAM action to grant.

use anyhow::Result;
use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};

use super::diff;
use crate::{
    arn,
    iam_role::{self, IamFailure},
    policy::{NamedPolicy, Purpose},
};

/// GitHub's OIDC issuer, as the provider's URL.
pub const PROVIDER_URL: &str = "https://token.actions.githubusercontent.com";

/// The IAM actions `setup` calls: to read for the plan, and to apply it.
pub const READ_ACTIONS: &str = "iam:ListOpenIDConnectProviders, iam:GetOpenIDConnectProvider, iam:GetRole, \
                                iam:ListAttachedRolePolicies, iam:ListRolePolicies, iam:GetRolePolicy, iam:GetPolicy, \
                                iam:GetPolicyVersion, iam:ListPolicyVersions";
pub const WRITE_ACTIONS: &str = "iam:CreateOpenIDConnectProvider, iam:AddClientIDToOpenIDConnectProvider, \
                                 iam:CreateRole, iam:UpdateAssumeRolePolicy, iam:CreatePolicy, \
                                 iam:CreatePolicyVersion, iam:AttachRolePolicy";

/// IAM keeps at most this many versions of a managed policy.
pub const MAX_POLICY_VERSIONS: usize = 5;

/// What `setup` creates for one role, by name, in the caller's account: the
/// release role, or the build-deps job's read role.
#[derive(Debug, Clone)]
pub struct Names {
    pub partition: String,
    pub account: String,
    pub role: String,
    pub policy: String,
    /// Which of the two roles it is.
    pub purpose: Purpose,
}

impl Names {
    /// The read role's names beside the release role's (`ROLE-read` and its policy
    /// `ROLE-read-build-deps`), in the same account.
    pub fn read(&self) -> Names {
        let role = crate::iam_policy::read_role_name(&self.role);
        Names { policy: format!("{role}-build-deps"), role, purpose: Purpose::Read, ..self.clone() }
    }

    pub fn role_arn(&self) -> String {
        arn::iam_role(&self.partition, &self.account, &self.role)
    }
    pub fn policy_arn(&self) -> String {
        arn::iam_policy(&self.partition, &self.account, &self.policy)
    }
    pub fn provider_arn(&self) -> String {
        arn::github_oidc_provider(&self.partition, &self.account)
    }
}

/// What IAM holds of the setup.
#[derive(Debug, Clone)]
pub struct State {
    /// The provider's `ClientIDList` (its audiences), when it exists.
    pub provider: Option<Vec<String>>,
    pub release: RoleState,
    /// The read role's, with private build dependencies.
    pub read: Option<RoleState>,
}

/// What IAM holds of one role of the setup.
#[derive(Debug, Clone)]
pub struct RoleState {
    pub role: Option<Role>,
    /// The managed policy setup writes, when it exists.
    pub policy: Option<ManagedPolicy>,
}

#[derive(Debug, Clone)]
pub struct Role {
    /// The trust policy as IAM returns it (percent-encoded).
    pub trust: String,
    /// Whether the managed policy of `Names::policy` is attached.
    pub attached: bool,
    /// The role's other permission policies, attached and inline.
    pub others: Vec<NamedPolicy>,
}

#[derive(Debug, Clone)]
pub struct ManagedPolicy {
    /// The default version's document as IAM returns it.
    pub document: String,
    pub versions: usize,
}

/// Maps an IAM failure of `op` to its fix.
pub fn explain<E, R>(op: &'static str, err: SdkError<E, R>) -> anyhow::Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    explain_failure(IamFailure::new(op, err))
}

/// Maps an IAM failure to its fix: a denial names the action to grant.
fn explain_failure(failed: IamFailure) -> anyhow::Error {
    let (op, message) = (failed.op, &failed.message);
    match failed.code.as_deref() {
        Some("AccessDenied" | "AccessDeniedException") => anyhow::format_err!(
            "iam:{op} was denied ({message}): the identity running setup needs iam:{op}. Planning needs \
             {READ_ACTIONS}; --apply also needs {WRITE_ACTIONS} (run it as an administrator of the account)"
        ),
        Some("LimitExceeded") => anyhow::format_err!(
            "iam:{op}: {message}. setup never deletes anything: delete a version you no longer need yourself \
             (`aws iam list-policy-versions --policy-arn ARN`, then `aws iam delete-policy-version --policy-arn ARN \
             --version-id vN`, not the default one) and run setup again"
        ),
        Some("EntityAlreadyExists") => anyhow::format_err!(
            "iam:{op}: {message}: it was created after setup read the account; run setup again to plan from what \
             exists now"
        ),
        Some(code @ ("MalformedPolicyDocument" | "InvalidInput" | "ValidationError")) => anyhow::format_err!(
            "iam:{op} refused the request ({code}: {message}); the names come from --role-name and the settings: \
             check them (a role name is at most 64 letters, digits and +=,.@_-)"
        ),
        _ => anyhow::format_err!("iam:{op} failed: {}", failed.detail),
    }
}

/// True when `err` says the entity does not exist.
fn missing<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    err.code() == Some("NoSuchEntity")
}

/// Reads what exists: the provider, and each role with its policies and its
/// managed policy (the read role's when `read` names it).
pub async fn read(iam: &aws_sdk_iam::Client, names: &Names, read: Option<&Names>) -> Result<State> {
    let provider = iam_role::provider_client_ids(iam, &names.provider_arn()).await.map_err(explain_failure)?;
    let release = read_role_state(iam, names).await?;
    let read = match read {
        Some(names) => Some(read_role_state(iam, names).await?),
        None => None,
    };
    Ok(State { provider, release, read })
}

/// One role with its policies, and the managed policy setup writes for it.
async fn read_role_state(iam: &aws_sdk_iam::Client, names: &Names) -> Result<RoleState> {
    let role = match iam.get_role().role_name(&names.role).send().await {
        Ok(out) => {
            let trust = out.role().and_then(|it| it.assume_role_policy_document()).unwrap_or_default().to_owned();
            Some(read_role_policies(iam, names, trust).await?)
        }
        Err(err) if missing(&err) => None,
        Err(err) => return Err(explain("GetRole", err)),
    };
    let policy = match iam_role::managed_policy_document(iam, &names.policy_arn()).await {
        Ok(document) => {
            let versions = iam
                .list_policy_versions()
                .policy_arn(names.policy_arn())
                .send()
                .await
                .map_err(|e| explain("ListPolicyVersions", e))?
                .versions()
                .len();
            Some(ManagedPolicy { document, versions })
        }
        Err(failed) if failed.code.as_deref() == Some("NoSuchEntity") => None,
        Err(failed) => return Err(explain_failure(failed)),
    };
    Ok(RoleState { role, policy })
}

/// The role's attached and inline policies: whether ours is attached, and the others.
async fn read_role_policies(iam: &aws_sdk_iam::Client, names: &Names, trust: String) -> Result<Role> {
    let ours = names.policy_arn();
    let (policies, attached) = iam_role::role_policies(iam, &names.role, Some(&ours)).await.map_err(explain_failure)?;
    let others = policies
        .iter()
        .map(|it| {
            let name = if it.arn.is_some() { it.name.clone() } else { format!("{} (inline)", it.name) };
            NamedPolicy::new(&name, &diff::decode(&it.document))
        })
        .collect();
    Ok(Role { trust, attached, others })
}

/// One change of the plan, as IAM calls it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// CreateOpenIDConnectProvider with the audience. No thumbprint: IAM verifies
    /// GitHub's certificate through its own trusted CAs and takes the parameter as
    /// optional.
    CreateProvider {
        audience: String,
    },
    /// AddClientIDToOpenIDConnectProvider: the provider lacks the audience.
    AddAudience {
        audience: String,
    },
    /// CreateRole with the trust policy and a one-hour MaxSessionDuration (the
    /// session the release asks for).
    CreateRole {
        trust: String,
    },
    UpdateTrust {
        trust: String,
    },
    CreatePolicy {
        document: String,
    },
    /// CreatePolicyVersion, as the default: the previous version stays in IAM.
    NewPolicyVersion {
        document: String,
    },
    Attach,
}

impl Change {
    /// Carries the change out; returns what was done, for the log.
    pub async fn apply(&self, iam: &aws_sdk_iam::Client, names: &Names) -> Result<String> {
        let (role, policy_arn, provider) = (&names.role, names.policy_arn(), names.provider_arn());
        match self {
            Change::CreateProvider { audience } => {
                let call = iam.create_open_id_connect_provider().url(PROVIDER_URL).client_id_list(audience);
                call.send().await.map_err(|e| explain("CreateOpenIDConnectProvider", e))?;
                Ok(format!("created the OIDC provider {provider} (audience {audience})"))
            }
            Change::AddAudience { audience } => {
                let call = iam.add_client_id_to_open_id_connect_provider().open_id_connect_provider_arn(&provider);
                call.client_id(audience).send().await.map_err(|e| explain("AddClientIDToOpenIDConnectProvider", e))?;
                Ok(format!("added the audience {audience} to {provider}"))
            }
            Change::CreateRole { trust } => {
                let call = iam.create_role().role_name(role).assume_role_policy_document(trust);
                let call = call.max_session_duration(3600).description(description(names.purpose));
                call.send().await.map_err(|e| explain("CreateRole", e))?;
                Ok(format!("created the role {}", names.role_arn()))
            }
            Change::UpdateTrust { trust } => {
                let call = iam.update_assume_role_policy().role_name(role).policy_document(trust);
                call.send().await.map_err(|e| explain("UpdateAssumeRolePolicy", e))?;
                Ok(format!("updated the trust policy of {}", names.role_arn()))
            }
            Change::CreatePolicy { document } => {
                let call = iam.create_policy().policy_name(&names.policy).policy_document(document);
                call.description(description(names.purpose)).send().await.map_err(|e| explain("CreatePolicy", e))?;
                Ok(format!("created the policy {policy_arn}"))
            }
            Change::NewPolicyVersion { document } => {
                let call = iam.create_policy_version().policy_arn(&policy_arn).policy_document(document);
                let out = call.set_as_default(true).send().await.map_err(|e| explain("CreatePolicyVersion", e))?;
                let version = out.policy_version().and_then(|it| it.version_id()).unwrap_or("?").to_owned();
                Ok(format!("made version {version} of {policy_arn} the default (the previous one stays in IAM)"))
            }
            Change::Attach => {
                let call = iam.attach_role_policy().role_name(role).policy_arn(&policy_arn);
                call.send().await.map_err(|e| explain("AttachRolePolicy", e))?;
                Ok(format!("attached {policy_arn} to {role}"))
            }
        }
    }
}

/// The description of the role and of its policy.
fn description(purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::Release => "Release role of cargo xtask setup: GitHub OIDC to CodeArtifact",
        Purpose::Read => "Read role of cargo xtask setup (build-deps job): GitHub OIDC to CodeArtifact, read only",
    }
}

/// The IAM client of the session.
pub fn client(config: &aws_config::SdkConfig) -> aws_sdk_iam::Client {
    aws_sdk_iam::Client::new(config)
}

/// Says which call failed when one of several did.
pub fn context(err: anyhow::Error, done: &[String]) -> anyhow::Error {
    let done =
        if done.is_empty() { "nothing was changed".to_owned() } else { format!("done before: {}", done.join("; ")) };
    err.context(format!("carry out the setup plan ({done}); run setup again to plan from what exists now"))
}
