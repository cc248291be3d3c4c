//! The emulator's configuration: what it serves (account, region, domain,
//! repository, the package folder and the servers behind it, the external
//! connection), the origin restrictions a test imposes, the OIDC claims it issues,
//! and the CodeArtifact name rules the configuration must follow.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use anyhow::bail;
use serde_json::{Map, Value, json};

use crate::{github_repo::GithubRepo, keyring::AwsKey};

/// The account that owns the emulated domain unless configured otherwise: the
/// account of the AWS documentation examples, chosen to differ from moto's default
/// account (123456789012) so a test can tell the two apart.
pub const DEFAULT_ACCOUNT: &str = "111122223333";
pub const DEFAULT_REGION: &str = "us-east-1";
pub const DEFAULT_DOMAIN: &str = "sandbox-domain";
pub const DEFAULT_REPOSITORY: &str = "sandbox-repo";
/// The role name in the default principal of AccessDenied messages.
pub const DEFAULT_ROLE: &str = "ci-publisher";

/// Throwaway static credentials for clients of the stack, which the emulator accepts
/// signatures from unless configured otherwise ([`EmulatorConfig::credentials`]).
/// They exist so an SDK signs its requests without finding a person's real
/// credentials. moto files them under its default account 123456789012, not the
/// domain owner's: the cross-account caller ([`crate::Stack::cross_account_credentials_env`]).
pub const ACCESS_KEY_ID: &str = "AKIACASTACKEXAMPLE01";
pub const SECRET_ACCESS_KEY: &str = "castack/throwaway/secret/not/a/real/key0";

/// How the fake OIDC endpoint signs the tokens it issues, for tests of a release
/// that presents a token STS must refuse ([`crate::Emulator::set_oidc_signing`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OidcSigning {
    /// Signed with the emulator's key: castack's STS accepts it.
    #[default]
    Valid,
    /// Signed, then one claim changed (`sub` gains a suffix), as an attacker who
    /// edits a token would: the signature no longer matches.
    Tampered,
}

/// A package origin restriction value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Restriction {
    Allow,
    Block,
}

impl Restriction {
    pub fn as_str(self) -> &'static str {
        match self {
            Restriction::Allow => "ALLOW",
            Restriction::Block => "BLOCK",
        }
    }

    pub(crate) fn parse(text: &str) -> anyhow::Result<Restriction> {
        match text {
            "ALLOW" => Ok(Restriction::Allow),
            "BLOCK" => Ok(Restriction::Block),
            _ => bail!("origin restriction must be \"ALLOW\" or \"BLOCK\", not {text:?}"),
        }
    }
}

/// A package's origin controls, `originConfiguration.restrictions` of
/// DescribePackage: `publish: Block` makes the PyPI endpoint refuse uploads (403),
/// `upstream: Block` keeps the external connection's versions of the package out of
/// the index and the repository, as CodeArtifact does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OriginRestrictions {
    pub publish: Restriction,
    pub upstream: Restriction,
}

impl OriginRestrictions {
    /// What CodeArtifact sets when a package's first version is published directly.
    pub const PUBLISHED: OriginRestrictions =
        OriginRestrictions { publish: Restriction::Allow, upstream: Restriction::Block };
    /// What CodeArtifact sets when a package's first version is ingested from an
    /// upstream repository or an external connection.
    pub const INGESTED: OriginRestrictions =
        OriginRestrictions { publish: Restriction::Block, upstream: Restriction::Allow };
}

/// The defaults of a package published first: publishing allowed, upstream blocked.
impl Default for OriginRestrictions {
    fn default() -> OriginRestrictions {
        OriginRestrictions::PUBLISHED
    }
}

/// The repository's external connection: its name as DescribeRepository shows it
/// (`public:pypi`) and the server standing in for the public index (a pypiserver
/// without authentication; the stack starts one with `StackConfig::public_pypi`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExternalConnection {
    pub name: String,
    pub upstream: SocketAddr,
}

/// The name CodeArtifact gives the connection to the Python Package Index.
pub const PUBLIC_PYPI: &str = "public:pypi";

/// What the emulator serves.
#[derive(Clone, Debug)]
pub struct EmulatorConfig {
    pub account: String,
    pub region: String,
    pub domain: String,
    pub repository: String,
    /// pypiserver's package folder: the source of every package, version and asset
    /// answer. Created if missing.
    pub package_dir: PathBuf,
    /// pypiserver's password file; the current token is written into it (hashed)
    /// as the password of user `aws`. `None`: no file (no pypiserver behind).
    pub htpasswd: Option<PathBuf>,
    /// pypiserver's address; `None` makes the PyPI endpoint answer 502.
    pub upstream: Option<SocketAddr>,
    /// moto_server's address, where STS requests are forwarded; `None` makes them
    /// answer 502 (injected STS faults still answer).
    pub sts_upstream: Option<SocketAddr>,
    /// The repository's external connection; `None`: none (DescribeRepository lists
    /// none, and nothing is ingested).
    pub external_connection: Option<ExternalConnection>,
    /// `None` (the default): each package reports its own origin controls, as
    /// CodeArtifact keeps them (`store.rs`). `Some`: every package reports these and
    /// is held to them, whatever its record says (a test lever, also
    /// [`crate::Emulator::set_origin_restrictions`]).
    pub origin: Option<OriginRestrictions>,
    /// How long an upload stays out of the listings, the simple index and downloads
    /// after it was stored: CodeArtifact's publishing latency (see `store.rs`).
    /// Zero (the default here): visible at once; [`crate::StackConfig::new`] sets a
    /// small one. At most [`crate::MAX_DELAY_MS`].
    pub publish_latency: Duration,
    /// Principal ARN in AccessDenied messages; default
    /// `arn:aws:sts::<account>:assumed-role/ci-publisher/castack`.
    pub principal: Option<String>,
    /// The bearer token the fake OIDC endpoint wants (`ACTIONS_ID_TOKEN_REQUEST_TOKEN`);
    /// `None`: a random one.
    pub oidc_request_token: Option<String>,
    /// Claims that replace or add to [`default_oidc_claims`]; `null` removes one.
    pub oidc_claims: Map<String, Value>,
    /// The repository the fake GitHub REST API serves.
    pub github: GithubRepo,
    /// The static key pairs whose signatures are accepted (SigV4 is verified on every
    /// CodeArtifact and STS request); default: [`ACCESS_KEY_ID`] / [`SECRET_ACCESS_KEY`].
    /// Sessions issued through the emulator's STS are added as they are issued.
    pub credentials: Vec<AwsKey>,
    /// Port to listen on; `None`: a free one.
    pub port: Option<u16>,
    /// Print one line per request to stderr (the binary does).
    pub echo_requests: bool,
}

impl EmulatorConfig {
    pub fn new(package_dir: impl Into<PathBuf>) -> EmulatorConfig {
        EmulatorConfig {
            account: DEFAULT_ACCOUNT.to_owned(),
            region: DEFAULT_REGION.to_owned(),
            domain: DEFAULT_DOMAIN.to_owned(),
            repository: DEFAULT_REPOSITORY.to_owned(),
            package_dir: package_dir.into(),
            htpasswd: None,
            upstream: None,
            sts_upstream: None,
            external_connection: None,
            origin: None,
            publish_latency: Duration::ZERO,
            principal: None,
            oidc_request_token: None,
            oidc_claims: Map::new(),
            github: GithubRepo::default(),
            credentials: vec![AwsKey::new(ACCESS_KEY_ID, SECRET_ACCESS_KEY)],
            port: None,
            echo_requests: false,
        }
    }

    pub(crate) fn validate(&self) -> anyhow::Result<()> {
        if !valid_domain(&self.domain) {
            bail!("domain {:?} is not a valid CodeArtifact domain name ([a-z][a-z0-9-]{{0,48}}[a-z0-9])", self.domain);
        }
        if !valid_account(&self.account) {
            bail!("account {:?} must be 12 digits", self.account);
        }
        if !valid_repository(&self.repository) {
            bail!(
                "repository {:?} is not a valid CodeArtifact repository name ([A-Za-z0-9][A-Za-z0-9._-]{{1,99}})",
                self.repository
            );
        }
        if self.publish_latency > Duration::from_millis(crate::faults::MAX_DELAY_MS) {
            bail!(
                "publish_latency {} ms is above the limit of {} ms; use a shorter one",
                self.publish_latency.as_millis(),
                crate::faults::MAX_DELAY_MS
            );
        }
        if self.region.is_empty()
            || !self.region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            bail!("region {:?} does not look like an AWS region such as us-east-1", self.region);
        }
        Ok(())
    }
}

/// The claims of every JWT the fake OIDC endpoint issues, before the per-token
/// `aud`, `iat`, `nbf`, `exp` and `jti`: a release job of `octo-org/yamause` in the
/// environment `release`, run from `main`. GitHub sends ids as strings; so does
/// castack.
pub fn default_oidc_claims() -> Map<String, Value> {
    let claims = json!({
        "iss": "https://token.actions.githubusercontent.com",
        "sub": "repo:octo-org/yamause:environment:release",
        "repository": "octo-org/yamause",
        "repository_owner": "octo-org",
        "repository_id": "100000001",
        "repository_owner_id": "100000000",
        "repository_visibility": "private",
        "ref": "refs/heads/main",
        "ref_type": "branch",
        "sha": "0000000000000000000000000000000000000000",
        "environment": "release",
        "event_name": "workflow_dispatch",
        "actor": "octocat",
        "actor_id": "1",
        "workflow": "release",
        "workflow_ref": "octo-org/yamause/.github/workflows/release.yml@refs/heads/main",
        "job_workflow_ref": "octo-org/yamause/.github/workflows/release.yml@refs/heads/main",
        "run_id": "1",
        "run_number": "1",
        "run_attempt": "1",
        "runner_environment": "github-hosted",
    });
    match claims {
        Value::Object(map) => map,
        _ => unreachable!(),
    }
}

/// CodeArtifact's domain names: `[a-z][a-z0-9-]{0,48}[a-z0-9]`.
pub(crate) fn valid_domain(it: &str) -> bool {
    let b = it.as_bytes();
    (2..=50).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[b.len() - 1] != b'-'
}

pub(crate) fn valid_account(it: &str) -> bool {
    it.len() == 12 && it.bytes().all(|b| b.is_ascii_digit())
}

/// CodeArtifact's repository names: `[A-Za-z0-9][A-Za-z0-9._-]{1,99}`.
pub(crate) fn valid_repository(it: &str) -> bool {
    let b = it.as_bytes();
    (2..=100).contains(&b.len())
        && b[0].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || b"._-".contains(c))
}
