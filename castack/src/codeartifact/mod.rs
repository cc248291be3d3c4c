//! The CodeArtifact control plane (REST-JSON): each request goes through the steps
//! CodeArtifact takes, in its order, so a client meets the same error first: the
//! SigV4 signature (verified against the keys the emulator knows), transient
//! faults, validation, authorization (injected denials and the identity policy a
//! test set), the domain and repository, then the answer.

mod error;
mod origin;
mod packages;
mod validate;

use serde_json::{Value, json};

use crate::{
    faults::Fault,
    http::{Request, Response, lock},
    operation::{CodeArtifactOp as Op, Operation},
    pypi, sigv4,
    state::{DEFAULT_TOKEN_SECONDS, Entry, SESSION_TOKEN_SECONDS, State},
    util::{self, Query},
};

use error::ApiError;
use validate::{Target, parse_duration, validate};

/// Answers a request that is no PyPI, OIDC, STS or control request; `entry` gets
/// what the log needs.
pub(crate) fn handle(state: &State, req: &Request, entry: &mut Entry) -> Response {
    let request_id = util::uuid();
    let op = Op::route(&req.method, req.path());
    entry.operation = op.map_or(Operation::Unknown, Operation::CodeArtifact);
    entry.query = req.query().map(str::to_owned);
    if let Some(stalled) = op.and_then(|op| state.injected_stall(&Operation::CodeArtifact(op))) {
        return stalled;
    }
    let result = op
        .ok_or_else(|| {
            ApiError::new(
                404,
                "UnknownOperationException",
                format!("No CodeArtifact operation is served at {} {}", req.method, req.path()),
            )
        })
        .and_then(|op| operation(state, req, op, entry));
    match result {
        Ok(body) => Response::json(200, &body).with_header("x-amzn-RequestId", &request_id),
        Err(err) => err.response(&request_id),
    }
}

fn operation(state: &State, req: &Request, op: Op, entry: &mut Entry) -> Result<Value, ApiError> {
    entry.access_key_id = Some(check_sigv4(state, req)?);
    if let Some(fault) = state.transient_fault(&Operation::CodeArtifact(op)) {
        return Err(ApiError::transient(fault));
    }
    let query = Query::parse(req.query()).map_err(|err| ApiError::validation("CANNOT_PARSE", err))?;
    let target = validate(&query, op, &state.config.account)?;
    let restrictions = (op == Op::PutPackageOriginConfiguration).then(|| origin::parse_body(&req.body)).transpose()?;
    let arns = Arns::new(state, op, &target);
    if let Some(message) = injected_denial(state, op, &arns.resource).or_else(|| policy_denial(state, op, &arns)) {
        return Err(ApiError::new(403, "AccessDeniedException", message));
    }
    check_exists(state, op, &target)?;
    match op {
        Op::GetAuthorizationToken => authorization_token(state, &query),
        Op::GetRepositoryEndpoint => {
            let injected = state.take_fault(&Operation::CodeArtifact(op), |fault| match fault {
                Fault::Endpoint { url } => Some(url.clone()),
                _ => None,
            });
            Ok(json!({ "repositoryEndpoint": injected.unwrap_or_else(|| state.endpoint(&target.format)) }))
        }
        Op::DescribeDomain => Ok(describe_domain(state, &target, &arns)),
        Op::DescribeRepository => Ok(describe_repository(state, &target, &arns)),
        Op::PutPackageOriginConfiguration => origin::put(state, &target, restrictions.unwrap_or_default()),
        _ => packages::answer(state, op, &target, &query).map(|body| page_loop(state, op, body)),
    }
}

/// An injected `PageLoop`: a listing's page names the first page as the next one.
fn page_loop(state: &State, op: Op, mut body: Value) -> Value {
    if matches!(op, Op::ListPackageVersions | Op::ListPackageVersionAssets)
        && state.take_fault(&Operation::CodeArtifact(op), |it| (*it == Fault::PageLoop).then_some(())).is_some()
    {
        body["nextToken"] = json!(validate::page_token(0));
    }
    body
}

/// Authenticates the SigV4 signature (`sigv4.rs`) for CodeArtifact in the configured
/// region and returns the access key id. A signature more than five minutes from the
/// clock is refused, as the SigV4 documentation states
/// (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html,
/// "the request must reach AWS within five minutes of the timestamp").
fn check_sigv4(state: &State, req: &Request) -> Result<String, ApiError> {
    let policy = sigv4::Policy { service: "codeartifact", region: Some(&state.config.region), max_skew_minutes: 5 };
    let verified = sigv4::verify(req, &lock(&state.keyring), &policy, util::now_secs());
    verified.map_err(ApiError::unauthenticated)
}

/// The ARNs an operation touches: `resource` is the one IAM checks the action on.
struct Arns {
    domain: String,
    repository: String,
    resource: String,
}

impl Arns {
    fn new(state: &State, op: Op, target: &Target) -> Arns {
        let region = &state.config.region;
        let Target { domain, owner, repository, format, package, .. } = target;
        let domain_arn = format!("arn:aws:codeartifact:{region}:{owner}:domain/{domain}");
        let repository_arn = format!("arn:aws:codeartifact:{region}:{owner}:repository/{domain}/{repository}");
        let resource = match op {
            Op::GetAuthorizationToken | Op::DescribeDomain => domain_arn.clone(),
            Op::GetRepositoryEndpoint | Op::DescribeRepository => repository_arn.clone(),
            _ => format!("arn:aws:codeartifact:{region}:{owner}:package/{domain}/{repository}/{format}//{package}"),
        };
        Arns { domain: domain_arn, repository: repository_arn, resource }
    }
}

/// The message of an injected `Deny` for this action or, for a token, of an
/// injected `DenyServiceBearerToken`.
fn injected_denial(state: &State, op: Op, resource: &str) -> Option<String> {
    let operation = Operation::CodeArtifact(op);
    let denied = state.take_fault(&operation, |fault| match fault {
        Fault::Deny { action, principal } if action == op.as_str() => Some(principal.clone()),
        _ => None,
    });
    if let Some(principal) = denied {
        return Some(state.deny_message(principal.as_deref(), &format!("codeartifact:{}", op.as_str()), resource));
    }
    if op != Op::GetAuthorizationToken {
        return None;
    }
    let principal = state.take_fault(&operation, |fault| match fault {
        Fault::DenyServiceBearerToken { principal } => Some(principal.clone()),
        _ => None,
    })?;
    // IAM's resource for this action is not documented; the message names the
    // action, which is what clients should match on.
    let principal = principal.as_deref().unwrap_or(&state.principal);
    Some(format!(
        "User: {principal} is not authorized to perform: sts:GetServiceBearerToken \
         because no identity-based policy allows the sts:GetServiceBearerToken action"
    ))
}

/// The identity policy of the caller, when a test set one: the action on its
/// resource, and for a token also the bearer token scoped to CodeArtifact.
fn policy_denial(state: &State, op: Op, arns: &Arns) -> Option<String> {
    state.policy_denies(&format!("codeartifact:{}", op.as_str()), &arns.resource, &[]).or_else(|| {
        (op == Op::GetAuthorizationToken)
            .then(|| {
                let context = [("sts:AWSServiceName", "codeartifact.amazonaws.com")];
                state.policy_denies("sts:GetServiceBearerToken", "*", &context)
            })
            .flatten()
    })
}

/// The domain (and the repository, for operations that name one) must be the
/// configured one, and not made to disappear by a fault.
fn check_exists(state: &State, op: Op, target: &Target) -> Result<(), ApiError> {
    let cfg = &state.config;
    let operation = Operation::CodeArtifact(op);
    let domain_gone = state.take_fault(&operation, |f| (*f == Fault::DomainNotFound).then_some(())).is_some();
    let repository_gone = op.has_repository()
        && state.take_fault(&operation, |f| (*f == Fault::RepositoryNotFound).then_some(())).is_some();
    if domain_gone || target.domain != cfg.domain || target.owner != cfg.account {
        return Err(ApiError::not_found(
            "domain",
            &target.domain,
            format!("Domain '{}' owned by account {} was not found.", target.domain, target.owner),
        ));
    }
    if op.has_repository() && (repository_gone || target.repository != cfg.repository) {
        return Err(ApiError::not_found(
            "repository",
            &target.repository,
            format!("Repository '{}' was not found in domain '{}'.", target.repository, target.domain),
        ));
    }
    Ok(())
}

fn authorization_token(state: &State, query: &Query) -> Result<Value, ApiError> {
    let seconds = match query.get("duration") {
        None => DEFAULT_TOKEN_SECONDS,
        Some(_) => match parse_duration(query)? {
            0 => SESSION_TOKEN_SECONDS,
            it => it,
        },
    };
    let token = state.issue_token(seconds).map_err(|err| ApiError::internal(format!("{err:#}")))?;
    Ok(json!({
        "authorizationToken": token.value,
        "expiration": util::epoch_secs(token.expiration),
    }))
}

fn describe_domain(state: &State, target: &Target, arns: &Arns) -> Value {
    let cfg = &state.config;
    let size: u64 = pypi::scan(&cfg.package_dir).iter().map(|it| it.size).sum();
    json!({ "domain": {
        "name": target.domain,
        "owner": target.owner,
        "arn": arns.domain,
        "status": "Active",
        "createdTime": util::epoch_secs(state.created),
        "encryptionKey": state.encryption_key,
        "repositoryCount": 1,
        "assetSizeBytes": size,
        "s3BucketArn": format!("arn:aws:s3:::assets-{}-{}", cfg.account, cfg.region),
    }})
}

/// No upstream repositories (castack has one repository); the external connection
/// when configured, as `associate-external-connection` leaves it (status
/// `Available`).
fn describe_repository(state: &State, target: &Target, arns: &Arns) -> Value {
    let cfg = &state.config;
    let connections: Vec<Value> = cfg
        .external_connection
        .iter()
        .map(|it| json!({ "externalConnectionName": it.name, "packageFormat": "pypi", "status": "Available" }))
        .collect();
    json!({ "repository": {
        "name": target.repository,
        "administratorAccount": cfg.account,
        "domainName": target.domain,
        "domainOwner": target.owner,
        "arn": arns.repository,
        "description": "castack sandbox repository (pypiserver behind a CodeArtifact emulator)",
        "upstreams": [],
        "externalConnections": connections,
        "createdTime": util::epoch_secs(state.created),
    }})
}
