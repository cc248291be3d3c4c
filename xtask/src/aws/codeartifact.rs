//! The CodeArtifact calls of a release: the token and the endpoint, and what the
//! repository holds of a version (all pages); and the repository's index URL with
//! the token in it, for pip. The version's status and origin are `origin`'s.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use aws_sdk_codeartifact::{
    error::ProvideErrorMetadata,
    types::{HashAlgorithm, PackageFormat},
};

use crate::{redact::Secret, settings::Settings};

use super::{Session, explain::explain_codeartifact, pages::Pages};

/// `GetAuthorizationToken` and `GetRepositoryEndpoint`, together. The token is
/// masked the moment it arrives; the endpoint must be the one the configuration
/// names (`endpoint`), or neither is returned.
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
        let endpoint = check_endpoint(endpoint)?;
        let local = super::endpoint::loopback_override(|name| std::env::var(name).ok());
        super::endpoint::check_against(&endpoint, settings, local.as_ref())?;
        Ok::<_, anyhow::Error>(endpoint)
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

/// What the repository holds for one version, as far as we may know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remote {
    /// File name → SHA-256 (lowercase hex). Empty when the version does not exist.
    Listed(BTreeMap<String, String>),
    /// Listing is not allowed (or failed); the message says why and what would help.
    Unknown(String),
}

/// `ListPackageVersionAssets` for `name` (normalized) and `version`, all pages.
///
/// Bounded as every listing is (`pages`).
pub async fn remote_assets(session: &Session, settings: &Settings, name: &str, version: &str) -> Result<Remote> {
    let mut assets = BTreeMap::new();
    let mut pages = Pages::new(format!("ListPackageVersionAssets of {name} {version}"));
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
            .set_next_token(pages.token())
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
        if !pages.advance(out.next_token())? {
            return Ok(Remote::Listed(assets));
        }
    }
}

/// The repository's simple index with the token in it (`https://aws:TOKEN@…/simple/`),
/// for pip: a secret, given to the one child that needs it through its environment.
pub fn index_url(endpoint: &str, token: &Secret) -> Secret {
    let url = match endpoint.split_once("://") {
        Some((scheme, rest)) => {
            format!("{scheme}://aws:{}@{rest}simple/", crate::redact::percent_encode(token.expose()))
        }
        None => format!("{endpoint}simple/"),
    };
    // The token in it is registered (percent-encoded too): that masks the URL's secret part.
    Secret::derived(url)
}

#[cfg(test)]
mod tests {
    use super::*;

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
