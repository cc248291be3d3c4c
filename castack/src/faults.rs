//! Fault injection: the failures a test can ask the emulator to produce, their
//! JSON form for the control API, and the bookkeeping that makes every fault run
//! out after a bounded number of requests (or stay until reset, for faults that
//! answer at once, so no retry loop can hang on them).
//!
//! The parts: the fault and rule types and their checks here; `json.rs` is the
//! control API's JSON form of a rule, `table.rs` the active rules and how a
//! request uses up their counts.

use anyhow::bail;

mod json;
mod table;

pub(crate) use table::{Faults, INJECTED_INTERNAL_ERROR, THROTTLED, Transient};

/// Longest delay a `Slow` fault may add to one answer, so no test can hang.
pub const MAX_DELAY_MS: u64 = 120_000;

/// One kind of failure. Which requests it hits and how often is a [`Rule`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// `AccessDeniedException` for the CodeArtifact action `action` (an operation
    /// name such as `GetAuthorizationToken`). `PublishPackageVersion` denies uploads
    /// and `ReadFromRepository` denies index pages and downloads on the PyPI endpoint.
    /// `principal` defaults to the emulator's principal
    /// (`arn:aws:sts::<account>:assumed-role/ci-publisher/castack`).
    Deny { action: String, principal: Option<String> },
    /// GetAuthorizationToken answers `AccessDeniedException` naming
    /// `sts:GetServiceBearerToken`.
    DenyServiceBearerToken { principal: Option<String> },
    /// The domain does not exist (404 `ResourceNotFoundException`, resourceType
    /// `domain`) for every operation, and the PyPI endpoint answers 404.
    DomainNotFound,
    /// The repository does not exist (resourceType `repository`) for operations that
    /// name one, and the PyPI endpoint answers 404.
    RepositoryNotFound,
    /// 429 `ThrottlingException` with `Retry-After: <retry_after_seconds>`.
    Throttle { retry_after_seconds: u32 },
    /// 500 `InternalServerException`.
    InternalError,
    /// The answer is delayed by `delay_ms` (at most [`MAX_DELAY_MS`]), then given
    /// normally.
    Slow { delay_ms: u64 },
    /// The request is read and then nothing is answered: the connection stays open
    /// and silent until the client gives up (closes it) or `max_ms` (at most
    /// [`MAX_DELAY_MS`]) pass, then it is closed without an answer. Nothing is
    /// stored. What a stalled service or proxy does.
    Stall { max_ms: u64 },
    /// The request is read, then a 200 answer's head is sent at once and its body
    /// (announced as 1 MB) a byte every 200 ms, until the client gives up or `max_ms`
    /// (at most [`MAX_DELAY_MS`]) pass, then the connection is closed. Nothing is
    /// stored. What a proxy or a link that trickles does: the connection is never
    /// silent for long.
    Trickle { max_ms: u64 },
    /// Uploads to the PyPI endpoint: the first `pass` uploads go through, the
    /// following ones fail as `failure` says (the rule's `times` counts failures).
    Upload { pass: u32, failure: UploadFailure },
    /// An upload that publishes slowly: it is stored and answered at once, but stays
    /// out of listings, the index and downloads for `delay_ms` (at most
    /// [`MAX_DELAY_MS`]) instead of the publishing latency, as CodeArtifact says
    /// publishing "can sometimes take longer". Hits uploads only (the rule's
    /// `times` counts uploads).
    Lag { delay_ms: u64 },
    /// An STS error answer in STS's XML shape (`ErrorResponse`/`Error`/`Code`,
    /// `Message`; `Type` `Sender` below 500, `Receiver` from 500), instead of
    /// forwarding to moto. It hits the STS action named by the rule's
    /// [`Rule::only`] (such as `AssumeRoleWithWebIdentity`), or every STS action
    /// without one; never a CodeArtifact operation. `status` is 400..=599.
    Sts { code: String, message: String, status: u16 },
    /// GetRepositoryEndpoint answers `url` (1 to 2,048 characters, taken as given)
    /// instead of the repository's endpoint: a control plane that points a client,
    /// and the token it will attach, at another host.
    Endpoint { url: String },
    /// ListPackageVersions and ListPackageVersionAssets answer their page with the
    /// token of the first page as `nextToken`, whatever page was asked for: a
    /// listing that never ends unless the client notices the repeated token.
    PageLoop,
}

/// How a broken upload fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UploadFailure {
    /// 403 before anything is stored.
    Forbidden,
    /// 500 before anything is stored.
    InternalError,
    /// The connection is closed without an answer; nothing is stored.
    Reset,
    /// The file is stored, then the answer is a 500 (a retry meets an existing file).
    InternalErrorAfterStore,
    /// The file is stored, then the connection is closed without an answer.
    ResetAfterStore,
    /// The token expires in the middle of a release: the current CodeArtifact token
    /// is ended (as [`crate::Emulator::expire_token`] does) and this upload gets the
    /// answer CodeArtifact gives an expired token, 401 with
    /// `WWW-Authenticate: Basic realm="pypi"`; nothing is forwarded or stored. The
    /// next GetAuthorizationToken issues a fresh token.
    ExpireToken,
    /// A hostile server: 500 whose reason phrase carries `##[stop-commands]…` and
    /// whose body carries workflow commands (`::add-mask::`, `::error::`, `##[…]`),
    /// for the tests of what the release prints; nothing is stored.
    HostileAnswer,
    /// 400 with a 2,000-character body that echoes the token the client sent, as is
    /// and in its Basic-authentication form, from about the 250th character on;
    /// nothing is stored.
    EchoToken,
}

impl UploadFailure {
    pub fn as_str(self) -> &'static str {
        match self {
            UploadFailure::Forbidden => "forbidden",
            UploadFailure::InternalError => "internal-error",
            UploadFailure::Reset => "reset",
            UploadFailure::InternalErrorAfterStore => "internal-error-after-store",
            UploadFailure::ResetAfterStore => "reset-after-store",
            UploadFailure::ExpireToken => "expire-token",
            UploadFailure::HostileAnswer => "hostile-answer",
            UploadFailure::EchoToken => "echo-token",
        }
    }

    fn parse(text: &str) -> anyhow::Result<UploadFailure> {
        Ok(match text {
            "forbidden" => UploadFailure::Forbidden,
            "internal-error" => UploadFailure::InternalError,
            "reset" => UploadFailure::Reset,
            "internal-error-after-store" => UploadFailure::InternalErrorAfterStore,
            "reset-after-store" => UploadFailure::ResetAfterStore,
            "expire-token" => UploadFailure::ExpireToken,
            "hostile-answer" => UploadFailure::HostileAnswer,
            "echo-token" => UploadFailure::EchoToken,
            _ => bail!(
                "unknown upload failure {text:?}: use forbidden, internal-error, reset, \
                 internal-error-after-store, reset-after-store or expire-token"
            ),
        })
    }
}

/// A fault plus which requests it hits: `operation` limits it to one operation
/// (the text form of an [`Operation`](crate::operation::Operation): a CodeArtifact operation name,
/// `pypi-upload`, `pypi-download`, `pypi-index`, or an STS action name such as
/// `AssumeRoleWithWebIdentity`), and requests are matched on the typed
/// operation that text names; `times` is how many
/// requests it hits before it is used up (`None`: until reset, allowed only for
/// faults that answer at once: `Deny*`, `*NotFound`, `Upload`, `Lag`, `Sts`).
///
/// STS requests meet `Sts` faults, and `Throttle`, `InternalError` and `Slow` only
/// when `operation` names their action (answered in STS's shape: 400 `Throttling`,
/// 500 `InternalFailure`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub fault: Fault,
    pub operation: Option<String>,
    pub times: Option<u32>,
}

impl Fault {
    /// This fault for the next `n` matching requests.
    pub fn times(self, n: u32) -> Rule {
        Rule { fault: self, operation: None, times: Some(n) }
    }

    /// This fault until the faults are reset.
    pub fn always(self) -> Rule {
        Rule { fault: self, operation: None, times: None }
    }
}

impl Rule {
    /// Limits the rule to one operation.
    pub fn only(mut self, operation: &str) -> Rule {
        self.operation = Some(operation.to_owned());
        self
    }

    pub fn times(mut self, n: u32) -> Rule {
        self.times = Some(n);
        self
    }
}

/// A bare fault hits every matching request until reset for the immediate faults,
/// and exactly once for `Throttle`, `InternalError`, `Slow`, `Stall` and `Lag`.
impl From<Fault> for Rule {
    fn from(fault: Fault) -> Rule {
        let times = match fault {
            Fault::Throttle { .. }
            | Fault::InternalError
            | Fault::Slow { .. }
            | Fault::Stall { .. }
            | Fault::Trickle { .. }
            | Fault::Lag { .. } => Some(1),
            _ => None,
        };
        Rule { fault, operation: None, times }
    }
}

impl Rule {
    pub(crate) fn validate(&self) -> anyhow::Result<()> {
        match &self.fault {
            Fault::Throttle { .. }
            | Fault::InternalError
            | Fault::Slow { .. }
            | Fault::Stall { .. }
            | Fault::Trickle { .. }
                if self.times.is_none() =>
            {
                bail!("a {} fault needs a count (`times`), so that retries end and tests cannot hang", self.kind())
            }
            Fault::Slow { delay_ms } if *delay_ms > MAX_DELAY_MS => {
                bail!("delay_ms {delay_ms} is above the limit of {MAX_DELAY_MS} ms; use a shorter delay")
            }
            Fault::Stall { max_ms } | Fault::Trickle { max_ms } if *max_ms > MAX_DELAY_MS => {
                bail!("max_ms {max_ms} is above the limit of {MAX_DELAY_MS} ms; use a shorter {}", self.kind())
            }
            Fault::Lag { delay_ms } if *delay_ms > MAX_DELAY_MS => {
                bail!("delay_ms {delay_ms} is above the limit of {MAX_DELAY_MS} ms; use a shorter lag")
            }
            Fault::Deny { action, .. } if action.is_empty() || action.contains(':') => {
                bail!("deny needs an action name without the service prefix, such as GetAuthorizationToken")
            }
            Fault::Sts { code, .. }
                if code.is_empty()
                    || code.len() > 128
                    || !code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.') =>
            {
                bail!("an sts fault needs an error code of letters and digits, such as AccessDenied, not {code:?}")
            }
            Fault::Sts { status, .. } if !(400..=599).contains(status) => {
                bail!("an sts fault's status must be an error status between 400 and 599, not {status}")
            }
            Fault::Endpoint { url } if url.is_empty() || url.len() > 2048 => {
                bail!("an endpoint fault needs a \"url\" of 1 to 2048 characters")
            }
            _ => Ok(()),
        }
    }

    fn kind(&self) -> &'static str {
        match self.fault {
            Fault::Deny { .. } => "deny",
            Fault::DenyServiceBearerToken { .. } => "deny-service-bearer-token",
            Fault::DomainNotFound => "domain-not-found",
            Fault::RepositoryNotFound => "repository-not-found",
            Fault::Throttle { .. } => "throttle",
            Fault::InternalError => "internal-error",
            Fault::Slow { .. } => "slow",
            Fault::Stall { .. } => "stall",
            Fault::Trickle { .. } => "trickle",
            Fault::Upload { .. } => "upload",
            Fault::Lag { .. } => "lag",
            Fault::Sts { .. } => "sts",
            Fault::Endpoint { .. } => "endpoint",
            Fault::PageLoop => "page-loop",
        }
    }
}
