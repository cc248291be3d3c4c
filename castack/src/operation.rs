//! What a request was, as the request log and the fault rules name it: a
//! CodeArtifact operation, a PyPI-endpoint request, an STS action, the OIDC token
//! endpoint, or something the emulator does not serve. The text forms
//! ([`Operation::as_str`]) are the ones the log has always printed, so tests can
//! keep comparing with strings (`r.operation == "pypi-upload"`).

use std::fmt;

/// The operation of one logged request (see [`crate::LoggedRequest::operation`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Operation {
    /// A CodeArtifact control-plane operation, such as `GetAuthorizationToken`.
    CodeArtifact(CodeArtifactOp),
    /// A request to the PyPI endpoint `/pypi/<repo>/`.
    Pypi(PypiOp),
    /// An STS call forwarded to moto_server: the `Action` parameter when it is a
    /// plain name (`AssumeRoleWithWebIdentity`, `GetCallerIdentity`, …), `None`
    /// (printed `sts`) when the request names none.
    Sts(Option<String>),
    /// GitHub's OIDC token endpoint (`oidc`).
    Oidc,
    /// The fake GitHub REST API (`github-api`).
    GithubApi,
    /// Nothing the emulator serves (`unknown`).
    #[default]
    Unknown,
}

/// The CodeArtifact operations the emulator answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeArtifactOp {
    GetAuthorizationToken,
    GetRepositoryEndpoint,
    ListPackageVersions,
    DescribePackageVersion,
    ListPackageVersionAssets,
    DescribePackage,
    DescribeRepository,
    DescribeDomain,
    PutPackageOriginConfiguration,
}

/// What a PyPI-endpoint request does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PypiOp {
    /// A twine upload (`pypi-upload`).
    Upload,
    /// A file under `packages/` (`pypi-download`).
    Download,
    /// A page of the simple index (`pypi-index`).
    Index,
    /// Anything else under the endpoint (`pypi-other`).
    Other,
}

/// The text form of an STS call that names no action.
const STS_WITHOUT_ACTION: &str = "sts";

impl Operation {
    /// The text the request log has always used: the CodeArtifact operation name,
    /// `pypi-upload`, `pypi-download`, `pypi-index`, `pypi-other`, the STS action
    /// (`sts` without one), `oidc` or `unknown`.
    pub fn as_str(&self) -> &str {
        match self {
            Operation::CodeArtifact(op) => op.as_str(),
            Operation::Pypi(op) => op.as_str(),
            Operation::Sts(Some(action)) => action,
            Operation::Sts(None) => STS_WITHOUT_ACTION,
            Operation::Oidc => "oidc",
            Operation::GithubApi => "github-api",
            Operation::Unknown => "unknown",
        }
    }

    /// The operation a fault rule's text names ([`crate::Rule::only`]). Text that
    /// names no CodeArtifact operation, PyPI request, OIDC, the GitHub API or `unknown` is taken as
    /// an STS action, because STS actions are an open set (moto knows more than
    /// castack does).
    pub(crate) fn parse(text: &str) -> Operation {
        if let Some(op) = CodeArtifactOp::ALL.into_iter().find(|it| it.as_str() == text) {
            return Operation::CodeArtifact(op);
        }
        if let Some(op) = PypiOp::ALL.into_iter().find(|it| it.as_str() == text) {
            return Operation::Pypi(op);
        }
        match text {
            "oidc" => Operation::Oidc,
            "github-api" => Operation::GithubApi,
            "unknown" => Operation::Unknown,
            STS_WITHOUT_ACTION => Operation::Sts(None),
            action => Operation::Sts(Some(action.to_owned())),
        }
    }

    /// Whether this is a CodeArtifact operation: fault rules without an operation
    /// filter hit those with every kind, and other requests only with the kinds
    /// that exist for them.
    pub(crate) fn is_codeartifact(&self) -> bool {
        matches!(self, Operation::CodeArtifact(_))
    }
}

impl CodeArtifactOp {
    const ALL: [CodeArtifactOp; 9] = [
        CodeArtifactOp::GetAuthorizationToken,
        CodeArtifactOp::GetRepositoryEndpoint,
        CodeArtifactOp::ListPackageVersions,
        CodeArtifactOp::DescribePackageVersion,
        CodeArtifactOp::ListPackageVersionAssets,
        CodeArtifactOp::DescribePackage,
        CodeArtifactOp::DescribeRepository,
        CodeArtifactOp::DescribeDomain,
        CodeArtifactOp::PutPackageOriginConfiguration,
    ];

    /// The operation served at `method path` (REST-JSON routes of the SDKs).
    pub(crate) fn route(method: &str, path: &str) -> Option<CodeArtifactOp> {
        Some(match (method, path) {
            ("POST", "/v1/authorization-token") => CodeArtifactOp::GetAuthorizationToken,
            ("GET", "/v1/repository/endpoint") => CodeArtifactOp::GetRepositoryEndpoint,
            ("POST", "/v1/package/versions") => CodeArtifactOp::ListPackageVersions,
            ("GET", "/v1/package/version") => CodeArtifactOp::DescribePackageVersion,
            ("POST", "/v1/package/version/assets") => CodeArtifactOp::ListPackageVersionAssets,
            ("GET", "/v1/package") => CodeArtifactOp::DescribePackage,
            ("GET", "/v1/repository") => CodeArtifactOp::DescribeRepository,
            ("GET", "/v1/domain") => CodeArtifactOp::DescribeDomain,
            ("POST", "/v1/package") => CodeArtifactOp::PutPackageOriginConfiguration,
            _ => return None,
        })
    }

    /// The operation name, which is also the IAM action after `codeartifact:`.
    pub fn as_str(self) -> &'static str {
        match self {
            CodeArtifactOp::GetAuthorizationToken => "GetAuthorizationToken",
            CodeArtifactOp::GetRepositoryEndpoint => "GetRepositoryEndpoint",
            CodeArtifactOp::ListPackageVersions => "ListPackageVersions",
            CodeArtifactOp::DescribePackageVersion => "DescribePackageVersion",
            CodeArtifactOp::ListPackageVersionAssets => "ListPackageVersionAssets",
            CodeArtifactOp::DescribePackage => "DescribePackage",
            CodeArtifactOp::DescribeRepository => "DescribeRepository",
            CodeArtifactOp::DescribeDomain => "DescribeDomain",
            CodeArtifactOp::PutPackageOriginConfiguration => "PutPackageOriginConfiguration",
        }
    }

    pub(crate) fn has_repository(self) -> bool {
        !matches!(self, CodeArtifactOp::GetAuthorizationToken | CodeArtifactOp::DescribeDomain)
    }

    pub(crate) fn has_package(self) -> bool {
        matches!(
            self,
            CodeArtifactOp::ListPackageVersions
                | CodeArtifactOp::DescribePackageVersion
                | CodeArtifactOp::ListPackageVersionAssets
                | CodeArtifactOp::DescribePackage
                | CodeArtifactOp::PutPackageOriginConfiguration
        )
    }

    pub(crate) fn has_version(self) -> bool {
        matches!(self, CodeArtifactOp::DescribePackageVersion | CodeArtifactOp::ListPackageVersionAssets)
    }

    pub(crate) fn paginated(self) -> bool {
        matches!(self, CodeArtifactOp::ListPackageVersions | CodeArtifactOp::ListPackageVersionAssets)
    }
}

impl PypiOp {
    const ALL: [PypiOp; 4] = [PypiOp::Upload, PypiOp::Download, PypiOp::Index, PypiOp::Other];

    pub fn as_str(self) -> &'static str {
        match self {
            PypiOp::Upload => "pypi-upload",
            PypiOp::Download => "pypi-download",
            PypiOp::Index => "pypi-index",
            PypiOp::Other => "pypi-other",
        }
    }
}

impl From<CodeArtifactOp> for Operation {
    fn from(op: CodeArtifactOp) -> Operation {
        Operation::CodeArtifact(op)
    }
}

impl From<PypiOp> for Operation {
    fn from(op: PypiOp) -> Operation {
        Operation::Pypi(op)
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Tests compare the log with the text forms: `r.operation == "pypi-upload"`.
impl PartialEq<&str> for Operation {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<str> for Operation {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_forms_round_trip() {
        let operations = [
            Operation::CodeArtifact(CodeArtifactOp::GetAuthorizationToken),
            Operation::CodeArtifact(CodeArtifactOp::ListPackageVersionAssets),
            Operation::Pypi(PypiOp::Upload),
            Operation::Pypi(PypiOp::Other),
            Operation::Sts(Some("AssumeRoleWithWebIdentity".to_owned())),
            Operation::Sts(None),
            Operation::Oidc,
            Operation::GithubApi,
            Operation::Unknown,
        ];
        for operation in operations {
            assert_eq!(Operation::parse(operation.as_str()), operation);
        }
        for op in CodeArtifactOp::ALL {
            assert_eq!(Operation::parse(op.as_str()), Operation::CodeArtifact(op));
        }
        assert_eq!(Operation::Pypi(PypiOp::Download), "pypi-download");
        assert_eq!(Operation::Sts(None).to_string(), "sts");
        assert!(Operation::Sts(Some("GetCallerIdentity".into())) == *"GetCallerIdentity");
    }
}
