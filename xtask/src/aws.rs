//! AWS: configuration and credentials (the SDK's default chain, or the GitHub OIDC
//! exchange when in Actions and the chain finds nothing), the caller's identity, the
//! CodeArtifact calls of a release, and every AWS error mapped to its fix.
//!
//! Endpoints, profiles and retries come from the standard AWS settings (environment
//! and `~/.aws/config`), so `AWS_ENDPOINT_URL_CODEARTIFACT` and friends point the
//! release at the local stack in tests.

use std::{collections::BTreeMap, fmt, time::Duration};

use anyhow::{Context, Result, bail};
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_codeartifact::{
    error::{DisplayErrorContext, ProvideErrorMetadata, SdkError},
    operation::RequestId,
    types::{HashAlgorithm, PackageFormat, PackageVersionStatus},
};
use aws_sdk_sts::config::{Credentials, ProvideCredentials, SharedCredentialsProvider};
use aws_smithy_runtime_api::http::Response as HttpResponse;

use crate::{
    github, net,
    redact::{self, Secret},
    report::{self, Note},
    settings::{self, Settings},
};

/// An authenticated session: the SDK configuration with credentials, and who we are.
pub struct Session {
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
pub fn loader() -> Result<aws_config::ConfigLoader> {
    Ok(aws_config::defaults(BehaviorVersion::latest()).http_client(net::sdk_http_client()?))
}

/// Finds credentials and says who they belong to. `notes` collects what to print.
pub async fn authenticate(settings: &Settings, notes: &mut Vec<Note>) -> Result<Session> {
    let mut config = load_config(settings).await?;
    if let Some(proxies) = net::describe_proxies() {
        notes.push(Note::Say(proxies));
    }
    let provider = config.credentials_provider().context("the AWS SDK has no credentials provider")?;
    let source = match provider.provide_credentials().await {
        Ok(creds) => {
            register_credentials(&creds);
            // The SDK asks the chain again when these expire (an SSO or assumed-role
            // session during a long upload): those are masked the same way.
            let masked = SharedCredentialsProvider::new(MaskedCredentials(provider));
            config = config.into_builder().credentials_provider(masked).build();
            format!("the AWS credential chain ({})", provider_name(&creds))
        }
        Err(err) => {
            let not_loaded =
                matches!(err, aws_credential_types::provider::error::CredentialsError::CredentialsNotLoaded(_));
            let in_actions = report::in_github_actions();
            match (&settings.role_arn, in_actions, not_loaded) {
                (Some(role_arn), true, true) => {
                    if !github::can_request_id_token() {
                        bail!(
                            "no AWS credentials, and no GitHub OIDC token to exchange for them: {}",
                            github::no_id_token_help()
                        );
                    }
                    let creds = assume_role_with_github(&config, settings, role_arn, notes).await?;
                    config = config.into_builder().credentials_provider(SharedCredentialsProvider::new(creds)).build();
                    format!("GitHub OIDC → sts:AssumeRoleWithWebIdentity ({role_arn})")
                }
                (None, true, true) if github::can_request_id_token() => bail!(
                    "no AWS credentials found, and {} is not set, so there is no role to assume with the job's \
                     GitHub OIDC token: {}",
                    settings::ROLE_ARN,
                    settings::where_to_set(settings::ROLE_ARN)
                ),
                (_, _, true) => {
                    return Err(NoCredentials(format!(
                        "no AWS credentials found ({}): on a laptop, sign in (`aws sso login --profile NAME` and \
                         AWS_PROFILE=NAME, or `aws configure`); in GitHub Actions, set {} and give the job \
                         `permissions: id-token: write`",
                        DisplayErrorContext(&err),
                        settings::ROLE_ARN
                    ))
                    .into());
                }
                _ => bail!(
                    "loading AWS credentials failed: {}: if this is an SSO profile, run `aws sso login`; check \
                     AWS_PROFILE and ~/.aws/config",
                    DisplayErrorContext(&err)
                ),
            }
        }
    };
    let sts = aws_sdk_sts::Client::new(&config);
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
    let codeartifact = aws_sdk_codeartifact::Client::new(&config);
    Ok(Session { config, codeartifact, identity })
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
    let sts = aws_sdk_sts::Client::new(config);
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

/// What an AWS call failure boils down to, whatever the operation.
struct Failure {
    code: Option<String>,
    message: String,
    request_id: Option<String>,
    /// Not a service answer: the request did not get through (DNS, connection,
    /// timeout, a proxy's refusal) or could not be built.
    transport: Option<String>,
}

impl Failure {
    fn of<E>(err: &SdkError<E, HttpResponse>) -> Failure
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        SdkError<E, HttpResponse>: RequestId,
    {
        // A 407 is the proxy's answer, not the service's.
        let status = err.raw_response().map(|it| it.status().as_u16());
        if status == Some(407) {
            return Failure {
                code: None,
                message: String::new(),
                request_id: None,
                transport: Some(net::PROXY_REFUSED.to_owned()),
            };
        }
        match err {
            SdkError::ServiceError(service) => Failure {
                code: service.err().code().map(str::to_owned),
                message: service.err().message().unwrap_or_default().to_owned(),
                request_id: err.request_id().map(str::to_owned),
                transport: None,
            },
            other => Failure {
                code: None,
                message: String::new(),
                request_id: None,
                transport: Some(redact::scrub(&DisplayErrorContext(other).to_string())),
            },
        }
    }

    fn request_id_text(&self) -> String {
        self.request_id.as_ref().map(|it| format!(" (request id {it})")).unwrap_or_default()
    }
}

/// Maps an STS failure to its cause and fix; for `AssumeRoleWithWebIdentity` the
/// token's claims are shown next to the likely trust-policy mistake.
fn explain_sts<E>(
    op: &str,
    err: &SdkError<E, HttpResponse>,
    web_identity: Option<(&github::Claims, &Settings, &str)>,
) -> anyhow::Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    SdkError<E, HttpResponse>: RequestId,
{
    let f = Failure::of(err);
    let rid = f.request_id_text();
    if let Some(transport) = &f.transport {
        return transport_error(&format!("AWS STS for {op}"), transport, "AWS_ENDPOINT_URL_STS");
    }
    let code = f.code.clone().unwrap_or_default();
    let msg = &f.message;
    let check_iam = "`cargo xtask check-iam` analyses the trust policy and the token's claims";
    match (code.as_str(), web_identity) {
        ("AccessDenied", Some((claims, settings, role_arn))) => anyhow::format_err!(
            "{op} was denied: {msg}{rid}\nThe trust policy of {role_arn} does not accept this job's token. The token \
             says:{}\nLikely causes: the trust policy's `token.actions.githubusercontent.com:sub` condition does not \
             match the sub above (a job with `environment:` presents `repo:OWNER/REPO:environment:NAME`, not \
             `…:ref:refs/tags/…`; new repositories present the immutable `repo:OWNER@ID/REPO@ID:…` form; owner and \
             repository names are case-sensitive), `aud` is not {}, or the Principal is not this account's \
             token.actions.githubusercontent.com provider. {check_iam}; `cargo xtask iam-policy` prints a matching \
             trust policy",
            claims.describe(),
            settings.audience
        ),
        ("InvalidIdentityToken", _) if msg.contains("No OpenIDConnect provider") => anyhow::format_err!(
            "{op} failed: {msg}{rid}\nThe account of the role has no GitHub OIDC identity provider. Create it: \
             `aws iam create-open-id-connect-provider --url https://token.actions.githubusercontent.com \
             --client-id-list sts.amazonaws.com`"
        ),
        ("InvalidIdentityToken", Some((_, settings, _))) if msg.contains("audience") => anyhow::format_err!(
            "{op} failed: {msg}{rid}\nThe token was requested for audience {:?}, which is not in the client id list \
             of the account's token.actions.githubusercontent.com provider: add it there, or set {} to an audience \
             the provider lists (normally sts.amazonaws.com)",
            settings.audience,
            settings::AUDIENCE
        ),
        ("ExpiredTokenException", Some(_)) => anyhow::format_err!(
            "{op} failed: {msg}{rid}\nThe GitHub ID token expired before STS saw it (it lives five minutes) even after \
             a retry with a fresh one: check the runner's clock and re-run the job"
        ),
        ("ValidationError", _) if msg.contains("DurationSeconds") => anyhow::format_err!(
            "{op} failed: {msg}{rid}\nThe role's maximum session duration is below the one hour the release asks \
             for: raise the role's MaxSessionDuration to 3600 or more"
        ),
        ("ExpiredToken" | "ExpiredTokenException" | "InvalidClientTokenId" | "UnrecognizedClientException", _) => {
            expired_credentials(op, msg, &rid)
        }
        _ => anyhow::format_err!("{op} failed: {code}: {msg}{rid}"),
    }
}

/// Maps a CodeArtifact failure to its cause and fix: a denial names the missing
/// action, the resource ARN and the policy statement to add.
pub fn explain_codeartifact<E>(
    op: &str,
    err: &SdkError<E, HttpResponse>,
    settings: &Settings,
    package: Option<&str>,
) -> anyhow::Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    SdkError<E, HttpResponse>: RequestId,
{
    let f = Failure::of(err);
    let rid = f.request_id_text();
    if let Some(transport) = &f.transport {
        let what = format!("CodeArtifact in {} for {op}", settings.region);
        return transport_error(&what, transport, "AWS_ENDPOINT_URL_CODEARTIFACT");
    }
    let code = f.code.clone().unwrap_or_default();
    let msg = &f.message;
    match code.as_str() {
        "AccessDeniedException" => {
            let (action, resource) = denied_action(msg).unwrap_or_else(|| {
                let action = format!("codeartifact:{op}");
                let resource = resource_for(op, settings, package);
                (action, resource)
            });
            let statement = if action == "sts:GetServiceBearerToken" {
                bearer_token_statement()
            } else {
                format!("{{\"Effect\": \"Allow\", \"Action\": \"{action}\", \"Resource\": \"{resource}\"}}")
            };
            let mut text = format!(
                "{op} was denied: {msg}{rid}\nThe identity lacks {action} on {resource}. Add this statement to its \
                 permission policy:\n    {statement}"
            );
            if op == "GetAuthorizationToken" && action != "sts:GetServiceBearerToken" {
                text.push_str(&format!(
                    "\nGetAuthorizationToken also needs, in the identity's own policy (a CodeArtifact resource policy \
                     cannot grant it):\n    {}",
                    bearer_token_statement()
                ));
            }
            text.push_str("\n`cargo xtask iam-policy` prints the complete least-privilege policy");
            anyhow::format_err!(text)
        }
        "ResourceNotFoundException" => anyhow::format_err!(
            "{op} failed: {msg}{rid}\nCodeArtifact has no such {}: check {} ({}), {} ({}), {} ({}) and {} ({}); \
             a domain exists in one region only",
            not_found_kind(msg, package),
            settings::DOMAIN,
            settings.domain,
            settings::REPOSITORY,
            settings.repository,
            settings::DOMAIN_OWNER,
            settings.domain_owner,
            settings::REGION,
            settings.region
        ),
        "ValidationException" => {
            anyhow::format_err!(
                "{op} was refused as invalid: {msg}{rid}\nCheck the publish settings (`cargo xtask check-iam`)"
            )
        }
        "ThrottlingException" => {
            anyhow::format_err!("{op} was throttled even after retries: {msg}{rid}\nRe-run the release in a minute")
        }
        "InternalServerException" => {
            anyhow::format_err!(
                "CodeArtifact failed on {op} even after retries: {msg}{rid}\nRe-run the release; it resumes where it stopped"
            )
        }
        "ExpiredTokenException" | "ExpiredToken" | "UnrecognizedClientException" | "InvalidClientTokenId" => {
            expired_credentials(op, msg, &rid)
        }
        _ => anyhow::format_err!("{op} failed: {code}: {msg}{rid}"),
    }
}

/// A request that got no answer from the service: the network, a proxy, a timeout.
fn transport_error(what: &str, transport: &str, endpoint_var: &str) -> anyhow::Error {
    if transport == net::PROXY_REFUSED {
        return anyhow::format_err!("could not reach {what}: {transport}");
    }
    let proxies = net::describe_proxies().map(|it| format!(" ({it})")).unwrap_or_default();
    anyhow::format_err!(
        "could not reach {what}: {transport}: check the network and proxy settings{proxies}, AWS_REGION, and \
         {endpoint_var} if set"
    )
}

fn expired_credentials(op: &str, msg: &str, rid: &str) -> anyhow::Error {
    anyhow::format_err!(
        "{op} failed: {msg}{rid}\nThe AWS credentials expired or are invalid: sign in again (`aws sso login`), refresh \
         the credentials in the environment, or re-run the job for a fresh session"
    )
}

fn bearer_token_statement() -> String {
    "{\"Effect\": \"Allow\", \"Action\": \"sts:GetServiceBearerToken\", \"Resource\": \"*\", \"Condition\": \
     {\"StringEquals\": {\"sts:AWSServiceName\": \"codeartifact.amazonaws.com\"}}}"
        .to_owned()
}

/// `… is not authorized to perform: ACTION on resource: ARN …` → (ACTION, ARN).
fn denied_action(msg: &str) -> Option<(String, String)> {
    let after = msg.split("is not authorized to perform: ").nth(1)?;
    let action = after.split_whitespace().next()?.trim_end_matches(',').to_owned();
    let resource =
        after.split("on resource: ").nth(1).and_then(|it| it.split_whitespace().next()).unwrap_or("*").to_owned();
    Some((action, resource))
}

fn resource_for(op: &str, settings: &Settings, package: Option<&str>) -> String {
    match (op, package) {
        ("GetAuthorizationToken" | "DescribeDomain", _) => settings.domain_arn(),
        (_, Some(name)) => settings.package_arn(name),
        _ => settings.repository_arn(),
    }
}

fn not_found_kind(msg: &str, package: Option<&str>) -> &'static str {
    let lower = msg.to_ascii_lowercase();
    if lower.contains("domain") {
        "domain"
    } else if lower.contains("repository") {
        "repository"
    } else if package.is_some() {
        "package version"
    } else {
        "domain or repository"
    }
}

/// `GetAuthorizationToken` and `GetRepositoryEndpoint`, together. The token is
/// masked the moment it arrives.
pub async fn token_and_endpoint(session: &Session, settings: &Settings) -> Result<(Secret, String)> {
    let client = &session.codeartifact;
    let token = async {
        let out = client
            .get_authorization_token()
            .domain(&settings.domain)
            .domain_owner(&settings.domain_owner)
            .duration_seconds(settings.token_duration)
            .send()
            .await
            .map_err(|err| explain_codeartifact("GetAuthorizationToken", &err, settings, None))?;
        let token = out.authorization_token().context("GetAuthorizationToken returned no token")?;
        Ok::<_, anyhow::Error>(Secret::codeartifact_token(token.to_owned()))
    };
    let endpoint = async {
        let out = client
            .get_repository_endpoint()
            .domain(&settings.domain)
            .domain_owner(&settings.domain_owner)
            .repository(&settings.repository)
            .format(PackageFormat::Pypi)
            .send()
            .await
            .map_err(|err| explain_codeartifact("GetRepositoryEndpoint", &err, settings, None))?;
        let endpoint = out.repository_endpoint().context("GetRepositoryEndpoint returned no endpoint")?;
        check_endpoint(endpoint)
    };
    let (token, endpoint) = futures_util::future::join(token, endpoint).await;
    Ok((token?, endpoint?))
}

/// A fresh token (after the endpoint refused the old one).
pub async fn new_token(session: &Session, settings: &Settings) -> Result<Secret> {
    let out = session
        .codeartifact
        .get_authorization_token()
        .domain(&settings.domain)
        .domain_owner(&settings.domain_owner)
        .duration_seconds(settings.token_duration)
        .send()
        .await
        .map_err(|err| explain_codeartifact("GetAuthorizationToken", &err, settings, None))?;
    Ok(Secret::codeartifact_token(
        out.authorization_token().context("GetAuthorizationToken returned no token")?.to_owned(),
    ))
}

/// The endpoint is a server answer that ends up in a child's environment: it must be
/// a plain http(s) URL ending in `/`, with no credentials, query or odd characters.
pub fn check_endpoint(endpoint: &str) -> Result<String> {
    let bad = |why: &str| anyhow::format_err!("GetRepositoryEndpoint returned {endpoint:?}, which {why}");
    let rest = endpoint
        .strip_prefix("https://")
        .or_else(|| endpoint.strip_prefix("http://").filter(|rest| is_loopback(rest)))
        .ok_or_else(|| bad("is not an https URL"))?;
    if !endpoint.ends_with('/') {
        return Err(bad("does not end with /"));
    }
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || host.contains('@') {
        return Err(bad("has no host or carries credentials"));
    }
    if !endpoint.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~:/".contains(&b)) {
        return Err(bad("contains characters a repository URL cannot have"));
    }
    Ok(endpoint.to_owned())
}

/// Plain http is accepted only on loopback: the local stack.
fn is_loopback(rest: &str) -> bool {
    let host = rest.split('/').next().unwrap_or_default();
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

/// The async runtime of a command: one thread, as a command line tool needs (the
/// build runs on a thread of its own, not on the runtime).
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().context("start the async runtime")
}

/// What the repository holds for one version, as far as we may know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remote {
    /// File name → SHA-256 (lowercase hex). Empty when the version does not exist.
    Listed(BTreeMap<String, String>),
    /// Listing is not allowed (or failed); the message says why and what would help.
    Unknown(String),
}

/// `ListPackageVersionAssets` for `name` (normalized) and `version`, all pages.
pub async fn remote_assets(session: &Session, settings: &Settings, name: &str, version: &str) -> Result<Remote> {
    let mut assets = BTreeMap::new();
    let mut next: Option<String> = None;
    loop {
        let result = session
            .codeartifact
            .list_package_version_assets()
            .domain(&settings.domain)
            .domain_owner(&settings.domain_owner)
            .repository(&settings.repository)
            .format(PackageFormat::Pypi)
            .package(name)
            .package_version(version)
            .max_results(1000)
            .set_next_token(next.clone())
            .send()
            .await;
        let out = match result {
            Ok(out) => out,
            Err(err) => {
                let code = err.code().unwrap_or_default().to_owned();
                if code == "ResourceNotFoundException" {
                    // No such package or version yet: nothing is published.
                    return Ok(Remote::Listed(BTreeMap::new()));
                }
                if code == "AccessDeniedException" {
                    return Ok(Remote::Unknown(format!(
                        "listing the published files was denied ({}): the release cannot tell a re-run from a \
                         conflict in advance. Allow codeartifact:ListPackageVersionAssets and \
                         codeartifact:DescribePackageVersion on {} for safe re-runs",
                        err.message().unwrap_or_default(),
                        settings.package_arn(name)
                    )));
                }
                return Err(explain_codeartifact("ListPackageVersionAssets", &err, settings, Some(name)));
            }
        };
        for asset in out.assets() {
            let sha = asset.hashes().and_then(|it| it.get(&HashAlgorithm::Sha256)).cloned().unwrap_or_default();
            assets.insert(asset.name().to_owned(), sha.to_ascii_lowercase());
        }
        match out.next_token() {
            Some(token) if !token.is_empty() => next = Some(token.to_owned()),
            _ => break,
        }
    }
    Ok(Remote::Listed(assets))
}

/// `DescribePackageVersion`: the status of the version (`Published`, `Unfinished` …).
pub async fn version_status(session: &Session, settings: &Settings, name: &str, version: &str) -> Result<String> {
    let out = session
        .codeartifact
        .describe_package_version()
        .domain(&settings.domain)
        .domain_owner(&settings.domain_owner)
        .repository(&settings.repository)
        .format(PackageFormat::Pypi)
        .package(name)
        .package_version(version)
        .send()
        .await
        .map_err(|err| explain_codeartifact("DescribePackageVersion", &err, settings, Some(name)))?;
    let status = out.package_version().and_then(|it| it.status()).map(PackageVersionStatus::as_str).unwrap_or("");
    Ok(status.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_denied_actions() {
        let msg = "User: arn:aws:sts::123456789012:assumed-role/ci/s is not authorized to perform: \
                   codeartifact:GetAuthorizationToken on resource: arn:aws:codeartifact:us-east-1:123456789012:domain/d \
                   because no identity-based policy allows the codeartifact:GetAuthorizationToken action";
        assert_eq!(
            denied_action(msg),
            Some((
                "codeartifact:GetAuthorizationToken".to_owned(),
                "arn:aws:codeartifact:us-east-1:123456789012:domain/d".to_owned()
            ))
        );
        assert_eq!(
            denied_action("User: x is not authorized to perform: sts:GetServiceBearerToken"),
            Some(("sts:GetServiceBearerToken".to_owned(), "*".to_owned()))
        );
        assert_eq!(denied_action("Access denied"), None);
    }

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

    #[test]
    fn checks_endpoints() {
        let ok = [
            "https://d-123456789012.d.codeartifact.us-east-1.amazonaws.com/pypi/repo/",
            "http://127.0.0.1:8080/pypi/r/",
        ];
        for it in ok {
            assert_eq!(check_endpoint(it).unwrap(), it);
        }
        let bad = [
            "http://example.com/pypi/r/",
            "https://user:pw@host/pypi/r/",
            "https://host/pypi/r",
            "https://host/pypi/r/?x=1",
            "https://host/pypi/$(id)/",
            "ftp://host/",
            "https:///",
        ];
        for it in bad {
            assert!(check_endpoint(it).is_err(), "{it}");
        }
    }
}
