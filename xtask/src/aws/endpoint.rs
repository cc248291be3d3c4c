//! Where the token may go: the repository endpoint `GetRepositoryEndpoint` returns
//! is a server answer, and twine attaches the token to whatever URL it is given. So
//! the endpoint must be the one the configuration names, in the documented form
//! `https://{domain}-{owner}.d.codeartifact.{region}.{dns suffix}/pypi/{repository}/`
//! (the AWS CLI's example of `get-repository-endpoint`, aws/aws-cli
//! `awscli/examples/codeartifact/get-repository-endpoint.rst`; the DNS suffix of the
//! region's partition as the SDK's partition table has it, aws-sdk-codeartifact
//! `src/endpoint_lib.rs`), or anything else is refused, naming the host, before the
//! token is attached.
//!
//! The local stack and the tests are the one exception, and only when the
//! configuration says so: `AWS_ENDPOINT_URL_CODEARTIFACT` naming a loopback address
//! (how `castack` points the SDK at itself) allows an endpoint on that same address
//! and port, with the same repository path.

use anyhow::{Result, bail};

use crate::settings::Settings;

/// The DNS suffix of the partition of `region`, from the regions' prefixes in the
/// SDK's partition table; a region of no other partition is in `aws`, as the SDK
/// resolves it.
pub fn dns_suffix(region: &str) -> &'static str {
    const PARTITIONS: [(&str, &str); 6] = [
        ("cn-", "amazonaws.com.cn"),
        ("eusc-", "amazonaws.eu"),
        ("us-isob-", "sc2s.sgov.gov"),
        ("us-isof-", "csp.hci.ic.gov"),
        ("us-iso-", "c2s.ic.gov"),
        ("eu-isoe-", "cloud.adc-e.uk"),
    ];
    PARTITIONS.iter().find(|(prefix, _)| region.starts_with(prefix)).map_or("amazonaws.com", |(_, suffix)| suffix)
}

/// The host of the repository endpoint of the configured domain.
pub fn expected_host(settings: &Settings) -> String {
    format!(
        "{}-{}.d.codeartifact.{}.{}",
        settings.domain,
        settings.domain_owner,
        settings.region,
        dns_suffix(&settings.region)
    )
}

/// The loopback scheme and `host:port` that `AWS_ENDPOINT_URL_CODEARTIFACT` names, if
/// it names one (and configured endpoints are not ignored,
/// `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`): the explicit sign of a local stack.
pub fn loopback_override(var: impl Fn(&str) -> Option<String>) -> Option<(String, String)> {
    if var("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS").is_some_and(|it| it.trim().eq_ignore_ascii_case("true")) {
        return None;
    }
    let url = var("AWS_ENDPOINT_URL_CODEARTIFACT")?;
    let (scheme, rest) = url.trim().split_once("://")?;
    let authority = rest.split('/').next().unwrap_or_default();
    let host = authority.rsplit_once(':').filter(|(_, port)| port.parse::<u16>().is_ok()).map_or(authority, |it| it.0);
    let loopback = matches!(host, "127.0.0.1" | "localhost" | "[::1]");
    (loopback && matches!(scheme, "http" | "https")).then(|| (scheme.to_owned(), authority.to_ascii_lowercase()))
}

/// Checks the endpoint (already of a sound form, `check_endpoint`) against the
/// configuration: scheme, host (and port) and the repository's path. `local` is the
/// loopback override, if any.
pub fn check_against(endpoint: &str, settings: &Settings, local: Option<&(String, String)>) -> Result<()> {
    let (scheme, rest) = endpoint.split_once("://").unwrap_or(("", endpoint));
    let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
    let path = format!("/{path}");
    let (want_scheme, want_authority, source) = match local {
        Some((scheme, authority)) => {
            (scheme.clone(), authority.clone(), "the local endpoint AWS_ENDPOINT_URL_CODEARTIFACT names".to_owned())
        }
        None => (
            "https".to_owned(),
            expected_host(settings),
            format!(
                "the CodeArtifact host of domain {} (owner {}) in {}",
                settings.domain, settings.domain_owner, settings.region
            ),
        ),
    };
    if scheme != want_scheme || !authority.eq_ignore_ascii_case(&want_authority) {
        bail!(
            "GetRepositoryEndpoint returned {endpoint:?}, on the host {authority}, but the token goes only to \
             {want_scheme}://{want_authority}, {source}: nothing was sent. Check the region, domain and owner \
             settings; an answer naming another host comes from something between this machine and AWS"
        );
    }
    let want_path = format!("/pypi/{}/", settings.repository);
    if path != want_path {
        bail!(
            "GetRepositoryEndpoint returned {endpoint:?}, whose path {path} is not {want_path}, the repository {}: \
             nothing was sent",
            settings.repository
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(region: &str) -> Settings {
        let table: toml::Table = format!(
            "region = \"{region}\"\ndomain = \"my-domain\"\ndomain-owner = \"111122223333\"\nrepository = \"Repo.1\"\n"
        )
        .parse()
        .unwrap();
        match crate::settings::resolve(Some(&table), &|_| None).unwrap() {
            crate::settings::Target::Configured(it) => it,
            _ => unreachable!(),
        }
    }

    #[test]
    fn the_endpoint_is_the_configured_host() {
        let ok = [
            ("us-east-1", "https://my-domain-111122223333.d.codeartifact.us-east-1.amazonaws.com/pypi/Repo.1/"),
            ("cn-north-1", "https://my-domain-111122223333.d.codeartifact.cn-north-1.amazonaws.com.cn/pypi/Repo.1/"),
            ("us-gov-west-1", "https://my-domain-111122223333.d.codeartifact.us-gov-west-1.amazonaws.com/pypi/Repo.1/"),
            ("eu-west-1", "https://MY-DOMAIN-111122223333.D.CODEARTIFACT.EU-WEST-1.AMAZONAWS.COM/pypi/Repo.1/"),
        ];
        for (region, endpoint) in ok {
            check_against(endpoint, &settings(region), None).unwrap();
        }
        let host = "my-domain-111122223333.d.codeartifact.us-east-1.amazonaws.com";
        let bad = [
            (format!("http://{host}/pypi/Repo.1/"), "but the token goes only to https://"),
            (format!("https://{host}.elsewhere.invalid/pypi/Repo.1/"), "on the host my-domain"),
            (format!("https://{host}:8443/pypi/Repo.1/"), "on the host my-domain-111122223333.d.codeartifact"),
            ("https://other-111122223333.d.codeartifact.us-east-1.amazonaws.com/pypi/Repo.1/".to_owned(), "other-"),
            ("https://my-domain-444455556666.d.codeartifact.us-east-1.amazonaws.com/pypi/Repo.1/".to_owned(), "4444"),
            ("https://my-domain-111122223333.d.codeartifact.us-west-2.amazonaws.com/pypi/Repo.1/".to_owned(), "west"),
            ("https://my-domain-111122223333.d.codeartifact.us-east-1.on.aws/pypi/Repo.1/".to_owned(), "on.aws"),
            ("https://127.0.0.1:8080/pypi/Repo.1/".to_owned(), "on the host 127.0.0.1:8080"),
            (format!("https://{host}/pypi/repo.1/"), "whose path /pypi/repo.1/ is not /pypi/Repo.1/"),
            (format!("https://{host}/npm/Repo.1/"), "whose path /npm/Repo.1/"),
            (format!("https://{host}/pypi/Repo.1/simple/"), "whose path"),
        ];
        for (endpoint, want) in bad {
            let err = check_against(&endpoint, &settings("us-east-1"), None).unwrap_err().to_string();
            assert!(err.contains(want) && err.contains("nothing was sent"), "{endpoint}: {err}");
        }
    }

    #[test]
    fn a_loopback_endpoint_needs_the_loopback_override() {
        let env = |url: &'static str, ignore: Option<&'static str>| {
            move |name: &str| match name {
                "AWS_ENDPOINT_URL_CODEARTIFACT" => Some(url.to_owned()),
                "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS" => ignore.map(str::to_owned),
                _ => None,
            }
        };
        let local = loopback_override(env("http://127.0.0.1:4566", None));
        assert_eq!(local, Some(("http".to_owned(), "127.0.0.1:4566".to_owned())));
        let s = settings("us-east-1");
        check_against("http://127.0.0.1:4566/pypi/Repo.1/", &s, local.as_ref()).unwrap();
        for (endpoint, want) in [
            ("http://127.0.0.1:4567/pypi/Repo.1/", "on the host 127.0.0.1:4567"),
            ("https://127.0.0.1:4566/pypi/Repo.1/", "goes only to http://127.0.0.1:4566"),
            ("http://localhost:4566/pypi/Repo.1/", "on the host localhost:4566"),
            ("https://my-domain-111122223333.d.codeartifact.us-east-1.amazonaws.com/pypi/Repo.1/", "on the host my-"),
            ("http://127.0.0.1:4566/pypi/other/", "whose path /pypi/other/"),
        ] {
            let err = check_against(endpoint, &s, local.as_ref()).unwrap_err().to_string();
            assert!(err.contains(want), "{endpoint}: {err}");
        }
        // Only loopback is a local stack; ignored endpoint settings are no override.
        assert_eq!(loopback_override(env("https://vpce-1.api.codeartifact.us-east-1.vpce.amazonaws.com", None)), None);
        assert_eq!(loopback_override(env("http://127.0.0.1.elsewhere.invalid:80", None)), None);
        assert_eq!(loopback_override(env("http://127.0.0.1:4566", Some("true"))), None);
        assert_eq!(loopback_override(|_| None), None);
        assert_eq!(loopback_override(env("http://[::1]:9/", None)), Some(("http".to_owned(), "[::1]:9".to_owned())));
    }

    #[test]
    fn partitions_have_their_dns_suffix() {
        assert_eq!(dns_suffix("us-east-1"), "amazonaws.com");
        assert_eq!(dns_suffix("cn-northwest-1"), "amazonaws.com.cn");
        assert_eq!(dns_suffix("us-gov-east-1"), "amazonaws.com");
        assert_eq!(dns_suffix("us-isob-east-1"), "sc2s.sgov.gov");
        assert_eq!(dns_suffix("us-iso-east-1"), "c2s.ic.gov");
        assert_eq!(dns_suffix("eusc-de-east-1"), "amazonaws.eu");
    }
}
