//! What the permission analysis is told: where the release publishes
//! (`PublishTarget`, whose ARNs are the ones CodeArtifact authorises), the role's
//! permission documents (`NamedPolicy`), and the facts that only the AWS APIs know
//! (`PermissionFacts`, each `None` when the caller could not get it).

use super::normalize_package_name;
use crate::{arn, settings::Settings};

/// Where the release publishes, and the token lifetime it asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishTarget {
    pub region: String,
    pub domain: String,
    pub domain_owner: String,
    pub repository: String,
    /// The normalized package name (`yamause`).
    pub package: String,
    /// `durationSeconds` of GetAuthorizationToken (0 = the role session's lifetime).
    pub token_duration: i64,
    /// The build installs its requirements from the repository
    /// (`private-dependencies`): the build-deps job's read role downloads them
    /// (`iam-policy` and `setup` add that role); the release role still never reads.
    pub private_dependencies: bool,
}

impl PublishTarget {
    /// A target with the package name normalized and the default 900 s token.
    pub fn new(region: &str, domain: &str, domain_owner: &str, repository: &str, package: &str) -> PublishTarget {
        PublishTarget {
            region: region.to_owned(),
            domain: domain.to_owned(),
            domain_owner: domain_owner.to_owned(),
            repository: repository.to_owned(),
            package: normalize_package_name(package),
            token_duration: 900,
            private_dependencies: false,
        }
    }

    pub fn from_settings(settings: &Settings, package: &str) -> PublishTarget {
        PublishTarget {
            token_duration: settings.token_duration,
            private_dependencies: settings.private_dependencies,
            ..PublishTarget::new(
                &settings.region,
                &settings.domain,
                &settings.domain_owner,
                &settings.repository,
                package,
            )
        }
    }

    /// Where the domain lives, for the ARNs of `arn`.
    pub(super) fn arn_domain(&self) -> arn::Domain<'_> {
        arn::Domain { region: &self.region, owner: &self.domain_owner, domain: &self.domain }
    }

    pub(super) fn prefix(&self) -> String {
        self.arn_domain().prefix()
    }

    pub fn domain_arn(&self) -> String {
        self.arn_domain().domain()
    }

    pub fn repository_arn(&self) -> String {
        self.arn_domain().repository(&self.repository)
    }

    pub fn package_arn(&self) -> String {
        self.arn_domain().pypi_package(&self.repository, &self.package)
    }
}

/// A permission document of the role and its name (for messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedPolicy {
    pub name: String,
    pub text: String,
}

impl NamedPolicy {
    pub fn new(name: &str, text: &str) -> NamedPolicy {
        NamedPolicy { name: name.to_owned(), text: text.to_owned() }
    }
}

/// Facts from the AWS APIs; each one the caller could not get is `None`.
#[derive(Debug, Clone, Default)]
pub struct PermissionFacts {
    /// The release role (its account decides whether the domain is cross-account).
    pub role_arn: Option<String>,
    /// `originConfiguration.restrictions.publish` of the package
    /// (`perm.origin-blocked`).
    pub origin: Option<OriginPublish>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OriginPublish {
    Allow,
    Block,
    /// The package does not exist in the repository yet (the first publish sets
    /// `publish: ALLOW`).
    NoPackage,
}
