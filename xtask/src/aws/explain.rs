//! Every AWS error of a release mapped to its cause and fix: a denial names the
//! missing action, the resource ARN and the statement to add; a refused OIDC exchange
//! shows the token's claims next to the likely trust-policy mistake; a request that
//! got no answer names the network, the proxy and the endpoint setting.

use aws_sdk_codeartifact::{
    error::{DisplayErrorContext, ProvideErrorMetadata, SdkError},
    operation::RequestId,
};
use aws_smithy_runtime_api::http::Response as HttpResponse;

use crate::{
    github, net, redact,
    settings::{self, Settings},
};

/// What an AWS call failure boils down to, whatever the operation.
struct Failure {
    code: Option<String>,
    message: String,
    request_id: Option<String>,
    /// Not a service answer: the request did not get through (DNS, connection,
    /// timeout, a proxy's refusal) or could not be built.
    transport: Option<String>,
    /// Why the request got no answer (transport failures only).
    cause: Option<net::cause::Cause>,
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
                cause: None,
            };
        }
        let timed_out = match err {
            SdkError::TimeoutError(_) => true,
            SdkError::DispatchFailure(failure) => failure.is_timeout(),
            _ => false,
        };
        match err {
            SdkError::ServiceError(service) => Failure {
                code: service.err().code().map(str::to_owned),
                message: service.err().message().unwrap_or_default().to_owned(),
                request_id: err.request_id().map(str::to_owned),
                transport: None,
                cause: None,
            },
            other => Failure {
                code: None,
                message: String::new(),
                request_id: None,
                transport: Some(redact::scrub(&DisplayErrorContext(other).to_string())),
                cause: Some(match net::cause::classify(other, timed_out) {
                    // The whole call ran out of time: its last attempt says why.
                    net::cause::Cause::TooSlow => net::cause::last().unwrap_or(net::cause::Cause::TooSlow),
                    cause => cause,
                }),
            },
        }
    }

    fn request_id_text(&self) -> String {
        self.request_id.as_ref().map(|it| format!(" (request id {it})")).unwrap_or_default()
    }
}

/// Maps an STS failure to its cause and fix; for `AssumeRoleWithWebIdentity` the
/// token's claims are shown next to the likely trust-policy mistake.
pub(super) fn explain_sts<E>(
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
        let host = Host { service: "sts", region: &settings_region(web_identity), var: "AWS_ENDPOINT_URL_STS" };
        return transport_error(&format!("AWS STS for {op}"), transport, f.cause.as_ref(), &host);
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
        ("InvalidIdentityToken", _) if msg.contains("verification key") => anyhow::format_err!(
            "{op} failed: {msg}{rid}\nSTS could not fetch the signing keys of the token's issuer: the token does not \
             come from GitHub's issuer (https://token.actions.githubusercontent.com), or the account's OIDC provider \
             names an issuer STS cannot reach. Re-run the job; if it persists, check the provider's URL"
        ),
        ("InvalidIdentityToken", Some((_, settings, _))) if msg.contains("audience") => anyhow::format_err!(
            "{op} failed: {msg}{rid}\nThe token was requested for audience {:?}, which is not in the client id list \
             of the account's token.actions.githubusercontent.com provider: add it there, or set {} to an audience \
             the provider lists (normally sts.amazonaws.com)",
            settings.audience,
            settings::AUDIENCE
        ),
        ("InvalidIdentityToken", Some(_)) => anyhow::format_err!(
            "{op} failed: {msg}{rid}\nSTS could not validate the job's GitHub ID token: its signature does not match \
             its contents (the token was altered between GitHub and AWS), it is not a JWT, or it is not valid yet \
             (check the runner's clock). The release requests its own token from \
             ACTIONS_ID_TOKEN_REQUEST_URL; re-run the job, and check that nothing in between (a proxy, a step that \
             rewrites the environment) changes it"
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
        ("SignatureDoesNotMatch" | "InvalidSignatureException", _) => signature_refused(op, msg, &rid),
        ("Throttling" | "ThrottlingException" | "RequestLimitExceeded", _) => anyhow::format_err!(
            "AWS STS throttled {op} even after retries: {msg}{rid}\nRe-run the release in a minute; it resumes where it \
             stopped"
        ),
        ("InternalFailure" | "InternalError" | "ServiceUnavailable", _) => anyhow::format_err!(
            "AWS STS failed on {op} even after retries ({code}): {msg}{rid}\nRe-run the release later; it resumes where \
             it stopped"
        ),
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
        let host = Host { service: "codeartifact", region: &settings.region, var: "AWS_ENDPOINT_URL_CODEARTIFACT" };
        return transport_error(&what, transport, f.cause.as_ref(), &host);
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
        "InvalidSignatureException" | "SignatureDoesNotMatch" => signature_refused(op, msg, &rid),
        _ => anyhow::format_err!("{op} failed: {code}: {msg}{rid}"),
    }
}

/// A request that got no answer from the service: the name, the connection, TLS,
/// silence or slowness (`net::cause`), each with its fix.
fn transport_error(what: &str, transport: &str, cause: Option<&net::cause::Cause>, host: &Host<'_>) -> anyhow::Error {
    if transport == net::PROXY_REFUSED {
        return anyhow::format_err!("could not reach {what}: {transport}");
    }
    let proxies = net::describe_proxies().map(|it| format!(" ({it})")).unwrap_or_default();
    match cause {
        Some(net::cause::Cause::Other(_)) | None => anyhow::format_err!(
            "could not reach {what} at {}: {transport}: check the network and proxy settings{proxies}, AWS_REGION, \
             and {} if set",
            host.name(),
            host.var
        ),
        Some(cause) => {
            anyhow::format_err!("{what}: {}{proxies}", cause.describe(&host.name(), &net::cause::Deadlines::aws()))
        }
    }
}

/// The host a service call goes to: the endpoint override, or AWS's own.
struct Host<'a> {
    service: &'a str,
    region: &'a str,
    var: &'a str,
}

impl Host<'_> {
    fn name(&self) -> String {
        let url = std::env::var(self.var).ok().filter(|it| !it.is_empty());
        let url = url.unwrap_or_else(|| format!("https://{}.{}.amazonaws.com", self.service, self.region));
        url.split("://").nth(1).unwrap_or(&url).split('/').next().unwrap_or_default().to_owned()
    }
}

fn settings_region(web_identity: Option<(&github::Claims, &Settings, &str)>) -> String {
    let configured = web_identity.map(|(_, settings, _)| settings.region.clone());
    configured.or_else(|| std::env::var("AWS_REGION").ok()).unwrap_or_else(|| "us-east-1".to_owned())
}

fn expired_credentials(op: &str, msg: &str, rid: &str) -> anyhow::Error {
    anyhow::format_err!(
        "{op} failed: {msg}{rid}\nThe AWS credentials expired or are invalid: sign in again (`aws sso login`), refresh \
         the credentials in the environment, or re-run the job for a fresh session"
    )
}

/// AWS recomputed the request's signature and got another one: the secret key does
/// not belong to the key id, or the clock is off (`Signature expired` / `not yet
/// current`: AWS accepts a signature for five minutes, STS for fifteen).
fn signature_refused(op: &str, msg: &str, rid: &str) -> anyhow::Error {
    if msg.contains("Signature expired") || msg.contains("Signature not yet current") {
        return anyhow::format_err!(
            "{op} failed: {msg}{rid}\nAWS refused the request's time: this machine's clock is off by more than AWS \
             allows. Synchronise the clock (NTP) and re-run the release"
        );
    }
    anyhow::format_err!(
        "{op} failed: {msg}{rid}\nAWS refused the request's signature: the secret access key does not belong to the \
         access key id. Check AWS_SECRET_ACCESS_KEY (or the profile's aws_secret_access_key) against the key id; a \
         mistyped, truncated or rotated secret signs every request wrongly. Sign in again or paste the key pair anew"
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
}
