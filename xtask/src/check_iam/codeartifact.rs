//! The live CodeArtifact calls of `check-iam`: token (discarded) and endpoint,
//! domain, repository, the package's origin controls, and whether listing (safe
//! re-runs) is allowed; each denial mapped to the missing action and resource. For
//! the build-deps job's read role (`--read-role`) the last two, which only
//! publishing needs, are left out. The ids (`codeartifact.*`, `perm.origin-blocked`,
//! `perm.safe-rerun`) are explained in docs/checks.md.

use aws_sdk_codeartifact::error::ProvideErrorMetadata;

use crate::{
    aws,
    policy::{self, Finding, Purpose, Severity},
    project::Project,
    settings::Settings,
};

/// The live CodeArtifact calls of a release (or, for the read role, of the
/// build-deps job), each mapped to a finding. Returns the package's origin setting
/// when it could be read.
pub async fn checks(
    session: &aws::Session,
    settings: &Settings,
    project: &Project,
    purpose: Purpose,
    findings: &mut Vec<Finding>,
) -> Option<policy::OriginPublish> {
    let client = &session.codeartifact;
    let name = project.normalized_name();
    let (d, o, r) = (&settings.domain, &settings.domain_owner, &settings.repository);
    match aws::token_and_endpoint(session, settings).await {
        Ok((_token, endpoint)) => findings.push(Finding::new(
            "codeartifact.token-and-endpoint.ok",
            Severity::Info,
            format!(
                "GetAuthorizationToken ({} s; the token was discarded) and GetRepositoryEndpoint: {endpoint}",
                settings.token_duration
            ),
        )),
        Err(err) => findings.push(Finding::new("codeartifact.token-and-endpoint", Severity::Error, format!("{err:#}"))),
    }
    let described = client.describe_domain().domain(d).domain_owner(o).send().await;
    push_probe(
        findings,
        ("codeartifact.describe-domain", "codeartifact.describe-domain.ok"),
        "DescribeDomain",
        described.map(|_| "the domain exists".to_owned()),
        settings,
        None,
    );
    let described = client.describe_repository().domain(d).domain_owner(o).repository(r).send().await;
    push_probe(
        findings,
        ("codeartifact.describe-repository", "codeartifact.describe-repository.ok"),
        "DescribeRepository",
        described.map(|_| "the repository exists".to_owned()),
        settings,
        None,
    );

    if purpose == Purpose::Read {
        return None;
    }
    let origin = origin(session, settings, &name, findings).await;
    let version = project.current_version().unwrap_or_else(|_| "0".to_owned());
    match aws::remote_assets(session, settings, &name, &version).await {
        Ok(aws::Remote::Listed(_)) => findings.push(Finding::new(
            "perm.safe-rerun.ok",
            Severity::Info,
            "ListPackageVersionAssets is allowed: re-runs skip files that are already published",
        )),
        Ok(aws::Remote::Unknown(advice)) => findings.push(Finding::new("perm.safe-rerun", Severity::Low, advice)),
        Err(err) => findings.push(Finding::new("perm.safe-rerun", Severity::Low, format!("{err:#}"))),
    }
    origin
}

/// One read-only probe: passed, not permitted (only informative: releases do not need
/// it), or failed in a way that matters.
fn push_probe<E>(
    findings: &mut Vec<Finding>,
    (id, ok_id): (&'static str, &'static str),
    op: &str,
    result: Result<String, aws_sdk_codeartifact::error::SdkError<E, aws_smithy_runtime_api::http::Response>>,
    settings: &Settings,
    package: Option<&str>,
) where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    aws_sdk_codeartifact::error::SdkError<E, aws_smithy_runtime_api::http::Response>:
        aws_sdk_codeartifact::operation::RequestId,
{
    match result {
        Ok(text) => findings.push(Finding::new(ok_id, Severity::Info, format!("{op}: {text}"))),
        Err(err) if err.code() == Some("AccessDeniedException") => findings.push(Finding::new(
            id,
            Severity::Info,
            format!("{op} is not permitted (a release does not need it, but it lets this check say more)"),
        )),
        Err(err) => findings.push(Finding::new(
            id,
            Severity::Error,
            format!("{:#}", aws::explain_codeartifact(op, &err, settings, package)),
        )),
    }
}

/// The package's origin (`origin.rs`): its origin controls, where its versions came
/// from, the repository's upstreams and external connections.
async fn origin(
    session: &aws::Session,
    settings: &Settings,
    name: &str,
    findings: &mut Vec<Finding>,
) -> Option<policy::OriginPublish> {
    super::origin::checks(session, settings, name, findings).await
}
