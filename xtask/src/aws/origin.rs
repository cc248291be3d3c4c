//! Where the package comes from in CodeArtifact: its origin controls
//! (`DescribePackage`, `originConfiguration.restrictions`), where each of its
//! versions came from (`ListPackageVersions`, `DescribePackageVersion`: each
//! version's `origin`), the repository's upstreams and external connections
//! (`DescribeRepository`), and the one change `setup` makes with its own identity
//! (`PutPackageOriginConfiguration`; the release role never gets that permission).
//!
//! The facts follow the AWS CodeArtifact API reference and the User Guide's
//! "Editing package origin controls"
//! (https://docs.aws.amazon.com/codeartifact/latest/ug/package-origin-controls.html):
//! `publish` and `upstream` are each ALLOW or BLOCK; a version's `originType` is
//! INTERNAL (published to a repository of the domain, named by
//! `domainEntryPoint.repositoryName`), EXTERNAL (ingested through the external
//! connection `domainEntryPoint.externalConnectionName`) or UNKNOWN.

use std::fmt;

use anyhow::{Result, bail};
use aws_sdk_codeartifact::{
    error::ProvideErrorMetadata,
    types::{AllowPublish, AllowUpstream, PackageFormat, PackageOriginRestrictions, PackageVersionOrigin},
};

use crate::settings::Settings;

use super::{Session, explain::explain_codeartifact, pages::Pages};

/// One origin control.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Restriction {
    Allow,
    Block,
    /// A value this program does not know (a newer API); treated as neither.
    Other(String),
}

impl fmt::Display for Restriction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Restriction::Allow => f.write_str("ALLOW"),
            Restriction::Block => f.write_str("BLOCK"),
            Restriction::Other(it) => f.write_str(it),
        }
    }
}

/// A package's origin controls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restrictions {
    /// Whether versions may be published to the repository directly.
    pub publish: Restriction,
    /// Whether versions may come from upstream repositories and external connections.
    pub upstream: Restriction,
}

impl Restrictions {
    /// What a package published only by its release should have: publishing
    /// allowed, nothing taken from upstream (the User Guide's protection against
    /// dependency substitution).
    pub const PROTECTED: Restrictions = Restrictions { publish: Restriction::Allow, upstream: Restriction::Block };
}

impl fmt::Display for Restrictions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "publish: {}, upstream: {}", self.publish, self.upstream)
    }
}

/// How a version reached the repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arrival {
    /// Published directly to this repository.
    Published,
    /// Published to another repository of the domain, and taken from it as an upstream.
    Upstream(String),
    /// Ingested through an external connection (`public:pypi`).
    External(String),
    /// CodeArtifact does not know (`UNKNOWN`, or an answer without the details).
    Unknown,
}

impl Arrival {
    /// Whether the version is this repository's own.
    pub fn is_published(&self) -> bool {
        *self == Arrival::Published
    }
}

impl fmt::Display for Arrival {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arrival::Published => f.write_str("published to this repository"),
            Arrival::Upstream(repo) => write!(f, "from the upstream repository {repo}"),
            Arrival::External(connection) => write!(f, "from the external connection {connection}"),
            Arrival::Unknown => f.write_str("of unknown origin"),
        }
    }
}

/// One version of the package, with its status and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionOrigin {
    pub version: String,
    pub status: String,
    pub arrival: Arrival,
}

/// The repository's upstream repositories and external connections.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Connections {
    pub upstreams: Vec<String>,
    pub external: Vec<String>,
}

impl Connections {
    pub fn is_empty(&self) -> bool {
        self.upstreams.is_empty() && self.external.is_empty()
    }
}

impl fmt::Display for Connections {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |items: &[String]| if items.is_empty() { "none".to_owned() } else { items.join(", ") };
        write!(f, "upstream repositories: {}; external connections: {}", list(&self.upstreams), list(&self.external))
    }
}

/// What a read came to: the answer, or a denial (with what to allow), which the
/// release and `check-iam` note and go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Read<T> {
    Got(T),
    Denied(String),
}

/// The package's name as CodeArtifact stores it: PEP 503-normalized. Anything else
/// would name another package (or none) in every call and ARN.
pub fn check_package_name(name: &str) -> Result<()> {
    let normalized = !name.is_empty()
        && name.len() <= 255
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--");
    if !normalized {
        bail!(
            "{name:?} is not a normalized PyPI name (lowercase letters, digits and single hyphens, as CodeArtifact \
             stores PyPI names): the package is named by [project] name in pyproject.toml, normalized"
        );
    }
    Ok(())
}

/// The denial of `op`, explained, when `code` says AccessDenied.
fn denied<E>(
    op: &str,
    err: &aws_sdk_codeartifact::error::SdkError<E, HttpResponse>,
    settings: &Settings,
    name: Option<&str>,
) -> Option<String>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    aws_sdk_codeartifact::error::SdkError<E, HttpResponse>: aws_sdk_codeartifact::operation::RequestId,
{
    (err.code() == Some("AccessDeniedException"))
        .then(|| format!("{:#}", explain_codeartifact(op, err, settings, name)))
}

type HttpResponse = aws_smithy_runtime_api::http::Response;

/// Whether a ResourceNotFoundException is about the package (or its version), not
/// the domain or repository, which are errors of the settings.
fn package_missing(message: Option<&str>) -> bool {
    let message = message.unwrap_or_default().to_ascii_lowercase();
    !(message.contains("domain") || message.contains("repository")) || message.contains("package")
}

/// `DescribePackage`: the package's origin controls; `None` when the repository has
/// no such package.
pub async fn describe_package(
    session: &Session,
    settings: &Settings,
    name: &str,
) -> Result<Read<Option<Restrictions>>> {
    check_package_name(name)?;
    let out = session
        .codeartifact
        .describe_package()
        .domain(&settings.domain)
        .domain_owner(&settings.domain_owner)
        .repository(&settings.repository)
        .format(PackageFormat::Pypi)
        .package(name)
        .send()
        .await;
    match out {
        Ok(out) => {
            let restrictions = out.package().and_then(|it| it.origin_configuration()).and_then(|it| it.restrictions());
            let Some(restrictions) = restrictions else {
                bail!(
                    "DescribePackage of {name} answered without its origin controls: re-run; if it persists, AWS support"
                )
            };
            Ok(Read::Got(Some(from_sdk(restrictions))))
        }
        Err(err) => match err.as_service_error() {
            Some(service) if service.is_resource_not_found_exception() && package_missing(service.message()) => {
                Ok(Read::Got(None))
            }
            _ => match denied("DescribePackage", &err, settings, Some(name)) {
                Some(why) => Ok(Read::Denied(why)),
                None => Err(explain_codeartifact("DescribePackage", &err, settings, Some(name))),
            },
        },
    }
}

/// `ListPackageVersions` with each version's origin, all pages (bounded as every
/// listing is, `XTASK_MAX_PAGES`); `None` when the repository has no such package.
pub async fn list_versions(
    session: &Session,
    settings: &Settings,
    name: &str,
) -> Result<Read<Option<Vec<VersionOrigin>>>> {
    check_package_name(name)?;
    let mut versions = Vec::new();
    let mut pages = Pages::new(format!("ListPackageVersions of {name}"));
    loop {
        let out = session
            .codeartifact
            .list_package_versions()
            .domain(&settings.domain)
            .domain_owner(&settings.domain_owner)
            .repository(&settings.repository)
            .format(PackageFormat::Pypi)
            .package(name)
            .max_results(1000)
            .set_next_token(pages.token())
            .send()
            .await;
        let out = match out {
            Ok(out) => out,
            Err(err) => {
                return match err.as_service_error() {
                    Some(service)
                        if service.is_resource_not_found_exception() && package_missing(service.message()) =>
                    {
                        Ok(Read::Got(None))
                    }
                    _ => match denied("ListPackageVersions", &err, settings, Some(name)) {
                        Some(why) => Ok(Read::Denied(why)),
                        None => Err(explain_codeartifact("ListPackageVersions", &err, settings, Some(name))),
                    },
                };
            }
        };
        for it in out.versions() {
            versions.push(VersionOrigin {
                version: it.version().to_owned(),
                status: it.status().as_str().to_owned(),
                arrival: arrival(it.origin(), settings),
            });
        }
        if !pages.advance(out.next_token())? {
            return Ok(Read::Got(Some(versions)));
        }
    }
}

/// `DescribePackageVersion`: the version's status (`Published`, `Unfinished` …) and
/// where it came from.
pub async fn version_origin(
    session: &Session,
    settings: &Settings,
    name: &str,
    version: &str,
) -> Result<(String, Arrival)> {
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
    let described = out.package_version();
    let status = described.and_then(|it| it.status()).map(|it| it.as_str()).unwrap_or("").to_owned();
    Ok((status, arrival(described.and_then(|it| it.origin()), settings)))
}

/// `DescribeRepository`: the repository's upstreams and external connections.
pub async fn connections(session: &Session, settings: &Settings) -> Result<Read<Connections>> {
    let out = session
        .codeartifact
        .describe_repository()
        .domain(&settings.domain)
        .domain_owner(&settings.domain_owner)
        .repository(&settings.repository)
        .send()
        .await;
    match out {
        Ok(out) => {
            let repository = out.repository();
            let upstreams = repository.map(|it| it.upstreams()).unwrap_or_default();
            let external = repository.map(|it| it.external_connections()).unwrap_or_default();
            Ok(Read::Got(Connections {
                upstreams: upstreams.iter().filter_map(|it| it.repository_name()).map(str::to_owned).collect(),
                external: external.iter().filter_map(|it| it.external_connection_name()).map(str::to_owned).collect(),
            }))
        }
        Err(err) => match denied("DescribeRepository", &err, settings, None) {
            Some(why) => Ok(Read::Denied(why)),
            None => Err(explain_codeartifact("DescribeRepository", &err, settings, None)),
        },
    }
}

/// `PutPackageOriginConfiguration`: sets `restrictions` on the package (creating it
/// when the repository has none) and returns what CodeArtifact stored. Only `setup`
/// calls it (the `commands` feature).
#[cfg_attr(not(feature = "commands"), allow(dead_code))]
pub async fn put_restrictions(
    session: &Session,
    settings: &Settings,
    name: &str,
    restrictions: &Restrictions,
) -> Result<Restrictions> {
    check_package_name(name)?;
    fn to_sdk(it: &Restriction) -> &str {
        match it {
            Restriction::Allow => "ALLOW",
            Restriction::Block => "BLOCK",
            Restriction::Other(it) => it.as_str(),
        }
    }
    let wanted = PackageOriginRestrictions::builder()
        .publish(AllowPublish::from(to_sdk(&restrictions.publish)))
        .upstream(AllowUpstream::from(to_sdk(&restrictions.upstream)))
        .build()?;
    let out = session
        .codeartifact
        .put_package_origin_configuration()
        .domain(&settings.domain)
        .domain_owner(&settings.domain_owner)
        .repository(&settings.repository)
        .format(PackageFormat::Pypi)
        .package(name)
        .restrictions(wanted)
        .send()
        .await
        .map_err(|err| explain_codeartifact("PutPackageOriginConfiguration", &err, settings, Some(name)))?;
    match out.origin_configuration().and_then(|it| it.restrictions()) {
        Some(stored) => Ok(from_sdk(stored)),
        None => bail!("PutPackageOriginConfiguration of {name} answered without the stored origin controls"),
    }
}

fn from_sdk(restrictions: &PackageOriginRestrictions) -> Restrictions {
    let publish = match restrictions.publish() {
        AllowPublish::Allow => Restriction::Allow,
        AllowPublish::Block => Restriction::Block,
        other => Restriction::Other(other.as_str().to_owned()),
    };
    let upstream = match restrictions.upstream() {
        AllowUpstream::Allow => Restriction::Allow,
        AllowUpstream::Block => Restriction::Block,
        other => Restriction::Other(other.as_str().to_owned()),
    };
    Restrictions { publish, upstream }
}

/// A version's origin as this program judges it: INTERNAL from this repository is
/// published here; INTERNAL from another repository came through an upstream;
/// EXTERNAL came through the named connection; anything else is unknown.
fn arrival(origin: Option<&PackageVersionOrigin>, settings: &Settings) -> Arrival {
    let Some(origin) = origin else { return Arrival::Unknown };
    let entry = origin.domain_entry_point();
    let repository = entry.and_then(|it| it.repository_name());
    let connection = entry.and_then(|it| it.external_connection_name());
    match (origin.origin_type().map(|it| it.as_str()), repository, connection) {
        (Some("INTERNAL"), Some(repo), _) if repo == settings.repository => Arrival::Published,
        (Some("INTERNAL"), Some(repo), _) => Arrival::Upstream(repo.to_owned()),
        (Some("EXTERNAL"), _, Some(connection)) => Arrival::External(connection.to_owned()),
        (Some("EXTERNAL"), _, None) => Arrival::External("(unnamed)".to_owned()),
        _ => Arrival::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_names_must_be_normalized() {
        for ok in ["yamause", "a-b-1", "x9"] {
            assert!(check_package_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Yamause", "a_b", "a.b", "-a", "a-", "a--b", "a b", "a/b", "ä"] {
            assert!(check_package_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_not_found_names_what_is_missing() {
        assert!(package_missing(Some("Package 'x' of format pypi was not found in repository 'r'.")));
        assert!(package_missing(None));
        assert!(!package_missing(Some("Repository 'r' was not found in domain 'd'.")));
        assert!(!package_missing(Some("Domain 'd' owned by account 1 was not found.")));
    }
}
