//! Amazon Resource Names: the one place that knows how the ARNs of a release are
//! spelled, in every partition (`aws`, `aws-cn`, `aws-us-gov`), so that settings,
//! policy generation and analysis, role inspection and messages all agree.
//!
//! CodeArtifact ARNs (Service Authorization Reference, "Resource types defined by AWS
//! CodeArtifact"): `domain/DOMAIN`, `repository/DOMAIN/REPOSITORY`,
//! `package/DOMAIN/REPOSITORY/FORMAT/NAMESPACE/NAME`; a PyPI package has an empty
//! namespace, hence `pypi//NAME`. IAM ARNs have no region.

/// The partition of a region: `cn-north-1` → `aws-cn`, `us-gov-west-1` →
/// `aws-us-gov`, every commercial region → `aws`.
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// Where a CodeArtifact domain lives.
#[derive(Debug, Clone, Copy)]
pub struct Domain<'a> {
    pub region: &'a str,
    pub owner: &'a str,
    pub domain: &'a str,
}

impl Domain<'_> {
    /// `arn:PARTITION:codeartifact:REGION:OWNER`, what every CodeArtifact ARN of the
    /// domain starts with.
    pub fn prefix(&self) -> String {
        format!("arn:{}:codeartifact:{}:{}", partition(self.region), self.region, self.owner)
    }

    pub fn domain(&self) -> String {
        format!("{}:domain/{}", self.prefix(), self.domain)
    }

    pub fn repository(&self, repository: &str) -> String {
        format!("{}:repository/{}/{repository}", self.prefix(), self.domain)
    }

    /// A PyPI package, by its normalized name.
    pub fn pypi_package(&self, repository: &str, normalized_name: &str) -> String {
        format!("{}:package/{}/{repository}/pypi//{normalized_name}", self.prefix(), self.domain)
    }
}

/// The host of GitHub's OIDC provider as a macro, so that `concat!` can spell the
/// condition keys (`token.actions.githubusercontent.com:sub`, …) from this one place.
macro_rules! github_provider_host {
    () => {
        "token.actions.githubusercontent.com"
    };
}
pub(crate) use github_provider_host;

/// The host of GitHub's OIDC provider, which IAM uses as its name and as the prefix of
/// the condition keys of its tokens.
pub const GITHUB_PROVIDER_HOST: &str = github_provider_host!();

/// `arn:PARTITION:iam::ACCOUNT:oidc-provider/token.actions.githubusercontent.com`.
pub fn github_oidc_provider(partition: &str, account: &str) -> String {
    format!("arn:{partition}:iam::{account}:oidc-provider/{GITHUB_PROVIDER_HOST}")
}

/// Where an ARN of GitHub's OIDC provider lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provider {
    pub partition: String,
    pub account: String,
}

impl Provider {
    /// True when this is the provider STS uses for a role of `partition` and
    /// `account` (any account when `None`): STS looks the token's issuer up in
    /// the role's own account, which is in one partition.
    pub fn is_in(&self, partition: &str, account: Option<&str>) -> bool {
        self.partition == partition && account.is_none_or(|it| it == self.account)
    }
}

/// The partition and account of an ARN of GitHub's OIDC provider
/// (`arn:aws:iam::ACCOUNT:oidc-provider/token.actions.githubusercontent.com`, also in
/// the China and GovCloud partitions); `None` for anything else.
pub fn github_provider(text: &str) -> Option<Provider> {
    let parsed = parse(text)?;
    let ok = matches!(parsed.partition, "aws" | "aws-cn" | "aws-us-gov")
        && parsed.account.len() == 12
        && parsed.account.bytes().all(|it| it.is_ascii_digit())
        && text == github_oidc_provider(parsed.partition, parsed.account);
    ok.then(|| Provider { partition: parsed.partition.to_owned(), account: parsed.account.to_owned() })
}

/// `arn:PARTITION:iam::ACCOUNT:role/NAME` (for `setup`).
#[cfg(feature = "commands")]
pub fn iam_role(partition: &str, account: &str, name: &str) -> String {
    format!("arn:{partition}:iam::{account}:role/{name}")
}

/// `arn:PARTITION:iam::ACCOUNT:policy/NAME`: a customer managed policy (for `setup`).
#[cfg(feature = "commands")]
pub fn iam_policy(partition: &str, account: &str, name: &str) -> String {
    format!("arn:{partition}:iam::{account}:policy/{name}")
}

/// `arn:PARTITION:sts::ACCOUNT:assumed-role/ROLE/SESSION`: who a role session is
/// in AWS's answers.
pub fn assumed_role(partition: &str, account: &str, role_name: &str, session: &str) -> String {
    format!("arn:{partition}:sts::{account}:assumed-role/{role_name}/{session}")
}

/// The parts of an ARN: `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

/// Splits an ARN into its parts; `None` when it is not one.
pub fn parse(arn: &str) -> Option<Parsed<'_>> {
    let mut parts = arn.splitn(6, ':');
    if parts.next()? != "arn" {
        return None;
    }
    let (partition, service, region, account, resource) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let known = matches!(partition, "aws" | "aws-cn" | "aws-us-gov" | "aws-iso" | "aws-iso-b");
    (known && !service.is_empty()).then_some(Parsed { partition, service, region, account, resource })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_partition_spells_its_arns() {
        let cases = [
            ("us-east-1", "arn:aws:codeartifact:us-east-1:123456789012:domain/d"),
            ("cn-north-1", "arn:aws-cn:codeartifact:cn-north-1:123456789012:domain/d"),
            ("us-gov-west-1", "arn:aws-us-gov:codeartifact:us-gov-west-1:123456789012:domain/d"),
        ];
        for (region, want) in cases {
            let domain = Domain { region, owner: "123456789012", domain: "d" };
            assert_eq!(domain.domain(), want);
            assert_eq!(domain.pypi_package("r", "yamause"), format!("{}:package/d/r/pypi//yamause", domain.prefix()));
            assert_eq!(domain.repository("r"), format!("{}:repository/d/r", domain.prefix()));
        }
        assert_eq!(
            github_oidc_provider("aws-cn", "1"),
            "arn:aws-cn:iam::1:oidc-provider/token.actions.githubusercontent.com"
        );
        assert_eq!(assumed_role("aws-us-gov", "1", "r", "s"), "arn:aws-us-gov:sts::1:assumed-role/r/s");
    }

    #[test]
    fn parses_arns() {
        let parsed = parse("arn:aws-us-gov:iam::123456789012:role/path/x").unwrap();
        assert_eq!(
            (parsed.partition, parsed.service, parsed.account, parsed.resource),
            ("aws-us-gov", "iam", "123456789012", "role/path/x")
        );
        assert_eq!(parse("arn:aws:sts::1:assumed-role/a/b").unwrap().resource, "assumed-role/a/b");
        assert!(parse("arn:other:iam::1:role/x").is_none());
        assert!(parse("not-an-arn").is_none());
    }

    #[test]
    fn github_provider_arns_are_recognised() {
        let provider = |text: &str| github_provider(text).map(|it| format!("{} {}", it.partition, it.account));
        let cases = [
            ("arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com", Some("aws 123456789012")),
            (
                "arn:aws-cn:iam::123456789012:oidc-provider/token.actions.githubusercontent.com",
                Some("aws-cn 123456789012"),
            ),
            (
                "arn:aws-us-gov:iam::123456789012:oidc-provider/token.actions.githubusercontent.com",
                Some("aws-us-gov 123456789012"),
            ),
            ("arn:aws-iso:iam::123456789012:oidc-provider/token.actions.githubusercontent.com", None),
            ("arn:aws:iam::123456789012:oidc-provider/https://token.actions.githubusercontent.com", None),
            ("arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com/octo-ent", None),
            ("arn:aws:iam::12345:oidc-provider/token.actions.githubusercontent.com", None),
            ("token.actions.githubusercontent.com", None),
            ("arn:aws:iam::123456789012:oidc-provider/accounts.google.com", None),
        ];
        for (arn, want) in cases {
            assert_eq!(provider(arn).as_deref(), want, "{arn}");
        }
    }
}
