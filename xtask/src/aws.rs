//! AWS: configuration and credentials (the SDK's default chain, or the GitHub OIDC
//! exchange when in Actions and the chain finds nothing) and the caller's identity.
//! The CodeArtifact calls of a release are in `codeartifact`, those about where the
//! package comes from (origin controls, each version's origin) in `origin`, every
//! AWS error mapped to its fix in `explain`.
//!
//! Endpoints, profiles and retries come from the standard AWS settings (environment
//! and `~/.aws/config`), so `AWS_ENDPOINT_URL_CODEARTIFACT` and friends point the
//! release at the local stack in tests.

mod codeartifact;
mod endpoint;
mod explain;
pub mod origin;
mod pages;
pub mod sso;

use std::{fmt, time::Duration};

use anyhow::{Context, Result, bail};
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_config::{retry::RetryConfig, timeout::TimeoutConfig};
use aws_sdk_codeartifact::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_sts::config::{Credentials, ProvideCredentials, SharedCredentialsProvider};
use aws_smithy_runtime_api::client::{
    interceptors::context::InterceptorContext,
    retries::classifiers::{ClassifyRetry, RetryAction, RetryClassifierPriority, RetryReason},
};

pub use codeartifact::{Remote, check_endpoint, index_url, new_token, remote_assets, token_and_endpoint};
pub use explain::explain_codeartifact;
use explain::explain_sts;

use crate::{
    github, limits, net, redact,
    report::{self, Note},
    settings::{self, Settings},
};

/// An authenticated session: the SDK configuration with credentials, and who we are.
pub struct Session {
    /// For the IAM client of `check-iam --inspect-role` and `setup`.
    #[cfg_attr(not(feature = "commands"), allow(dead_code))]
    pub config: SdkConfig,
    pub codeartifact: aws_sdk_codeartifact::Client,
    pub identity: Identity,
}

/// The result of `GetCallerIdentity`, and where the credentials came from.
#[derive(Debug, Clone)]
pub struct Identity {
    pub account: String,
    pub arn: String,
    pub source: String,
}

/// No credentials anywhere: a dry run can go on without them.
#[derive(Debug)]
pub struct NoCredentials(pub String);

impl fmt::Display for NoCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NoCredentials {}

/// The SDK configuration: region from the settings, the default credential chain,
/// and our HTTP client.
pub async fn load_config(settings: &Settings) -> Result<SdkConfig> {
    Ok(loader()?.region(Region::new(settings.region.clone())).load().await)
}

/// The SDK's config loader with our HTTP client (`net`: rustls on ring, see the fence
/// comment in `Cargo.toml`; the environment's proxies; `AWS_CA_BUNDLE`), for every
/// AWS client of the program. The credential providers (SSO, web identity, STS) use
/// the same client, so they go through the proxy too.
///
/// Every call is bounded (`limits`): the connection, each attempt (answer included)
/// and the whole call with its retries. The SDK's standard retries (three attempts,
/// exponential backoff with jitter) handle throttling and 5xx; CodeArtifact's
/// `Retry-After` is honoured too (`RetryAfter`).
pub fn loader() -> Result<aws_config::ConfigLoader> {
    let limits = limits::get();
    // Silence until the answer starts ends an attempt at two thirds of its deadline,
    // an answer that starts and trickles at the deadline itself: the two endings
    // name different causes (`net::cause`).
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(limits.connect)
        .read_timeout(limits.aws_attempt.mul_f64(2.0 / 3.0))
        .operation_attempt_timeout(limits.aws_attempt)
        .operation_timeout(limits.aws_operation)
        .build();
    Ok(aws_config::defaults(BehaviorVersion::latest())
        .http_client(net::sdk_http_client()?)
        .timeout_config(timeouts)
        .retry_config(RetryConfig::standard().with_max_attempts(3)))
}

/// The CodeArtifact client of a session: the SDK configuration plus `RetryAfter`
/// and the record of each attempt's transport failure.
fn codeartifact_client(config: &SdkConfig) -> aws_sdk_codeartifact::Client {
    let conf = aws_sdk_codeartifact::config::Builder::from(config)
        .retry_classifier(RetryAfter)
        .retry_classifier(RecordCause)
        .build();
    aws_sdk_codeartifact::Client::from_conf(conf)
}

/// The STS client of a configuration, with the record of each attempt's transport
/// failure.
fn sts_client(config: &SdkConfig) -> aws_sdk_sts::Client {
    aws_sdk_sts::Client::from_conf(aws_sdk_sts::config::Builder::from(config).retry_classifier(RecordCause).build())
}

/// Notes why each attempt of a call got no answer (`net::cause::record`): when the
/// whole call then runs out of time, its error no longer says, but the last
/// attempt's cause does.
#[derive(Debug)]
struct RecordCause;

impl ClassifyRetry for RecordCause {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        let cause = match ctx.output_or_error() {
            Some(Err(err)) => match err.as_connector_error() {
                Some(connector) => Some(net::cause::classify(connector, connector.is_timeout())),
                None if err.is_timeout_error() => Some(net::cause::Cause::TooSlow),
                None => None,
            },
            _ => None,
        };
        net::cause::record(cause);
        RetryAction::NoActionIndicated
    }

    fn name(&self) -> &'static str {
        "record the transport cause"
    }
}

/// Attaches the delay of a `Retry-After: SECONDS` header (CodeArtifact's
/// `ThrottlingException` carries one) to an answer the SDK already found worth
/// retrying. The SDK reads only `x-amz-retry-after`; it bounds the delay it is given
/// (between its own backoff and five seconds more), and the operation timeout bounds
/// the whole call.
#[derive(Debug)]
struct RetryAfter;

impl ClassifyRetry for RetryAfter {
    fn classify_retry(&self, _ctx: &InterceptorContext) -> RetryAction {
        RetryAction::NoActionIndicated
    }

    fn classify_retry_v2(&self, ctx: &InterceptorContext, previous: &RetryAction) -> RetryAction {
        let RetryAction::RetryIndicated(RetryReason::RetryableError { kind, retry_after: None }) = previous else {
            return RetryAction::NoActionIndicated;
        };
        let seconds =
            ctx.response().and_then(|it| it.headers().get("retry-after")).and_then(|it| it.trim().parse::<u64>().ok());
        match seconds {
            Some(s) => RetryAction::retryable_error_with_explicit_delay(*kind, Duration::from_secs(s.min(60))),
            None => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "Retry-After"
    }

    fn priority(&self) -> RetryClassifierPriority {
        // After every classifier of the SDK, so that it refines their verdict.
        RetryClassifierPriority::run_after(RetryClassifierPriority::transient_error_classifier())
    }
}

/// Finds credentials and says who they belong to. `notes` collects what to print.
pub async fn authenticate(settings: &Settings, notes: &mut Vec<Note>) -> Result<Session> {
    let mut config = load_config(settings).await?;
    if let Some(proxies) = net::describe_proxies() {
        notes.push(Note::Say(proxies));
    }
    let source = credentials(&mut config, settings, notes).await?;
    let sts = sts_client(&config);
    let who = sts.get_caller_identity().send().await.map_err(|err| explain_sts("GetCallerIdentity", &err, None))?;
    let identity = Identity {
        account: who.account().unwrap_or_default().to_owned(),
        arn: who.arn().unwrap_or_default().to_owned(),
        source,
    };
    notes.push(Note::Say(format!(
        "authenticated as {} (account {}) through {}",
        identity.arn, identity.account, identity.source
    )));
    if identity.arn.ends_with(":root") {
        notes.push(Note::Warn(
            "these are root-user credentials; CodeArtifact refuses GetAuthorizationToken for the root user: use an \
             IAM role or user"
                .to_owned(),
        ));
    }
    if identity.account != settings.domain_owner {
        notes.push(Note::Say(format!(
            "note: the caller's account {} is not the domain owner {}: a cross-account domain needs a domain policy \
             granting codeartifact:GetAuthorizationToken and a repository policy granting \
             codeartifact:PublishPackageVersion to {}",
            identity.account, settings.domain_owner, identity.arn
        )));
    }
    let codeartifact = codeartifact_client(&config);
    Ok(Session { config, codeartifact, identity })
}

/// Puts masked credentials into `config` and says where they came from: the SDK's
/// chain, or, in GitHub Actions when the chain finds nothing, the OIDC exchange.
async fn credentials(config: &mut SdkConfig, settings: &Settings, notes: &mut Vec<Note>) -> Result<String> {
    let provider = config.credentials_provider().context("the AWS SDK has no credentials provider")?;
    let err = match provider.provide_credentials().await {
        Ok(creds) => {
            register_credentials(&creds);
            // The SDK asks the chain again when these expire (an SSO or assumed-role
            // session during a long upload): those are masked the same way.
            let masked = SharedCredentialsProvider::new(MaskedCredentials(provider));
            *config = config.clone().into_builder().credentials_provider(masked).build();
            return Ok(format!("the AWS credential chain ({})", provider_name(&creds)));
        }
        Err(err) => err,
    };
    let not_loaded = matches!(err, aws_credential_types::provider::error::CredentialsError::CredentialsNotLoaded(_));
    match (&settings.role_arn, report::in_github_actions(), not_loaded) {
        (Some(role_arn), true, true) => {
            if !github::can_request_id_token() {
                bail!(
                    "no AWS credentials, and no GitHub OIDC token to exchange for them: {}",
                    github::no_id_token_help()
                );
            }
            let creds = assume_role_with_github(config, settings, role_arn, notes).await?;
            *config = config.clone().into_builder().credentials_provider(SharedCredentialsProvider::new(creds)).build();
            Ok(format!("GitHub OIDC → sts:AssumeRoleWithWebIdentity ({role_arn})"))
        }
        (None, true, true) if github::can_request_id_token() => bail!(
            "no AWS credentials found, and {} is not set, so there is no role to assume with the job's GitHub OIDC \
             token: {}",
            settings::ROLE_ARN,
            settings::where_to_set(settings::ROLE_ARN)
        ),
        (_, _, true) => Err(NoCredentials(format!(
            "no AWS credentials found ({}): on a laptop, sign in (`aws sso login --profile NAME` and AWS_PROFILE=NAME, \
             or `aws configure`); in GitHub Actions, set {} and give the job `permissions: id-token: write`",
            DisplayErrorContext(&err),
            settings::ROLE_ARN
        ))
        .into()),
        _ => bail!(
            "loading AWS credentials failed: {}: if this is an SSO profile, run `aws sso login`; check AWS_PROFILE \
             and ~/.aws/config",
            DisplayErrorContext(&err)
        ),
    }
}

/// A credentials provider that masks every credential it hands out, the first and
/// every refreshed one, before the SDK can use (or print) it.
#[derive(Debug)]
struct MaskedCredentials(SharedCredentialsProvider);

impl ProvideCredentials for MaskedCredentials {
    fn provide_credentials<'a>(&'a self) -> aws_credential_types::provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        aws_credential_types::provider::future::ProvideCredentials::new(async move {
            let creds = self.0.provide_credentials().await?;
            register_credentials(&creds);
            Ok(creds)
        })
    }
}

/// Every secret part of credentials is masked before anything can print it.
fn register_credentials(creds: &Credentials) {
    redact::register(creds.secret_access_key());
    if let Some(token) = creds.session_token() {
        redact::register(token);
    }
}

/// The provider name the SDK records in the credentials (`Environment`, `Profile`,
/// `SSO` …); it is only exposed through `Debug`, which redacts the secrets.
fn provider_name(creds: &Credentials) -> String {
    let debug = format!("{creds:?}");
    debug
        .split("provider_name: \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or("unknown source")
        .to_owned()
}

/// The GitHub OIDC exchange: a fresh ID token, then `AssumeRoleWithWebIdentity`.
async fn assume_role_with_github(
    config: &SdkConfig,
    settings: &Settings,
    role_arn: &str,
    notes: &mut Vec<Note>,
) -> Result<Credentials> {
    let session_name = github::session_name()?;
    let sts = sts_client(config);
    // A JWT lives five minutes; on `ExpiredTokenException` or a transient IdP error
    // one more attempt with a fresh token is worth it.
    let mut attempt = 0;
    loop {
        attempt += 1;
        let jwt = github::request_id_token(&settings.audience).await.context("request the GitHub OIDC ID token")?;
        let claims = github::decode_claims(jwt.expose()).unwrap_or_default();
        let result = sts
            .assume_role_with_web_identity()
            .role_arn(role_arn)
            .role_session_name(&session_name)
            .web_identity_token(jwt.expose())
            .duration_seconds(3600)
            .send()
            .await;
        match result {
            Ok(out) => {
                let c = out.credentials().context("STS returned no credentials")?;
                // Masked before they are used or anything is printed.
                redact::register(c.secret_access_key());
                redact::register(c.session_token());
                notes.push(Note::Say(format!(
                    "exchanged the GitHub OIDC token (sub {}) for role {role_arn}, session {session_name}",
                    claims.sub
                )));
                let expiry = std::time::SystemTime::try_from(*c.expiration()).ok();
                return Ok(Credentials::new(
                    c.access_key_id(),
                    c.secret_access_key(),
                    Some(c.session_token().to_owned()),
                    expiry,
                    "GitHubOidc",
                ));
            }
            Err(err) => {
                let code = err.code().unwrap_or_default().to_owned();
                let transient =
                    matches!(code.as_str(), "ExpiredTokenException" | "IDPCommunicationError" | "IDPRejectedClaim");
                if transient && attempt < 2 {
                    notes.push(Note::Say(format!(
                        "AssumeRoleWithWebIdentity answered {code}; retrying with a fresh ID token"
                    )));
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
                return Err(explain_sts("AssumeRoleWithWebIdentity", &err, Some((&claims, settings, role_arn))));
            }
        }
    }
}

/// The async runtime of a command: one thread, as a command line tool needs (the
/// build runs on a thread of its own, not on the runtime).
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().context("start the async runtime")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chain that hands out new credentials on every call, as an SSO or role
    /// session does when the SDK refreshes it.
    #[derive(Debug, Default)]
    struct Rotating(std::sync::atomic::AtomicUsize);

    impl ProvideCredentials for Rotating {
        fn provide_credentials<'a>(&'a self) -> aws_credential_types::provider::future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            let n = self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let creds = Credentials::new("AKID", format!("rotated-secret-{n}-abcdef"), None, None, "test");
            aws_credential_types::provider::future::ProvideCredentials::ready(Ok(creds))
        }
    }

    #[test]
    fn refreshed_credentials_are_masked_too() {
        let masked = MaskedCredentials(SharedCredentialsProvider::new(Rotating::default()));
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        for _ in 0..2 {
            runtime.block_on(masked.provide_credentials()).unwrap();
        }
        let text = "rotated-secret-0-abcdef rotated-secret-1-abcdef rotated-secret-2-abcdef";
        assert_eq!(redact::scrub(text), "*** *** rotated-secret-2-abcdef");
    }
}
