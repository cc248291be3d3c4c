//! Fault injection: the failures a test can ask the emulator to produce, their
//! JSON form for the control API, and the bookkeeping that makes every fault run
//! out after a bounded number of requests (or stay until reset, for faults that
//! answer at once, so no retry loop can hang on them).

use std::time::Duration;

use anyhow::{bail, format_err};
use serde_json::{Value, json};

use crate::operation::Operation;

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
/// (the text form of an [`Operation`]: a CodeArtifact operation name,
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
        }
    }

    /// The control API's JSON form (see [`Rule::from_json`]).
    pub fn to_json(&self) -> Value {
        let mut out = json!({ "kind": self.kind() });
        let obj = out.as_object_mut().unwrap();
        match &self.fault {
            Fault::Deny { action, principal } => {
                obj.insert("action".into(), json!(action));
                if let Some(principal) = principal {
                    obj.insert("principal".into(), json!(principal));
                }
            }
            Fault::DenyServiceBearerToken { principal } => {
                if let Some(principal) = principal {
                    obj.insert("principal".into(), json!(principal));
                }
            }
            Fault::DomainNotFound | Fault::RepositoryNotFound | Fault::InternalError => {}
            Fault::Throttle { retry_after_seconds } => {
                obj.insert("retryAfterSeconds".into(), json!(retry_after_seconds));
            }
            Fault::Slow { delay_ms } | Fault::Lag { delay_ms } => {
                obj.insert("delayMs".into(), json!(delay_ms));
            }
            Fault::Stall { max_ms } | Fault::Trickle { max_ms } => {
                obj.insert("maxMs".into(), json!(max_ms));
            }
            Fault::Upload { pass, failure } => {
                obj.insert("pass".into(), json!(pass));
                obj.insert("failure".into(), json!(failure.as_str()));
            }
            Fault::Sts { code, message, status } => {
                obj.insert("code".into(), json!(code));
                obj.insert("message".into(), json!(message));
                obj.insert("status".into(), json!(status));
            }
            Fault::Endpoint { url } => {
                obj.insert("url".into(), json!(url));
            }
        }
        if let Some(operation) = &self.operation {
            obj.insert("operation".into(), json!(operation));
        }
        if let Some(times) = self.times {
            obj.insert("times".into(), json!(times));
        }
        out
    }

    /// Parses the control API's JSON form:
    /// `{"kind": "deny", "action": "GetAuthorizationToken", "principal": "arn:…"}`,
    /// `{"kind": "deny-service-bearer-token"}`, `{"kind": "domain-not-found"}`,
    /// `{"kind": "repository-not-found"}`,
    /// `{"kind": "throttle", "times": 2, "retryAfterSeconds": 1}`,
    /// `{"kind": "internal-error", "times": 1}`, `{"kind": "slow", "times": 1, "delayMs": 500}`,
    /// `{"kind": "upload", "pass": 1, "failure": "reset", "times": 1}`,
    /// `{"kind": "lag", "times": 1, "delayMs": 3000}`,
    /// `{"kind": "sts", "code": "AccessDenied", "message": "…", "status": 403,
    /// "operation": "AssumeRoleWithWebIdentity"}` (`status` defaults to 400),
    /// `{"kind": "endpoint", "url": "https://elsewhere.invalid/pypi/r/"}`; every
    /// kind takes optional `"operation"` and `"times"`.
    pub fn from_json(value: &Value) -> anyhow::Result<Rule> {
        let obj = value.as_object().ok_or_else(|| format_err!("a fault must be a JSON object"))?;
        let text = |key: &str| -> anyhow::Result<Option<String>> {
            match obj.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(it)) => Ok(Some(it.clone())),
                Some(_) => bail!("fault field {key:?} must be a string"),
            }
        };
        let number = |key: &str| -> anyhow::Result<Option<u64>> {
            match obj.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(it) => it
                    .as_u64()
                    .map(Some)
                    .ok_or_else(|| format_err!("fault field {key:?} must be a non-negative integer")),
            }
        };
        let small = |key: &str| -> anyhow::Result<Option<u32>> {
            number(key)?
                .map(|it| u32::try_from(it).map_err(|_| format_err!("fault field {key:?} is too large")))
                .transpose()
        };
        let kind = text("kind")?.ok_or_else(|| format_err!("a fault needs a \"kind\""))?;
        let fault = match kind.as_str() {
            "deny" => Fault::Deny {
                action: text("action")?
                    .ok_or_else(|| format_err!("a deny fault needs an \"action\", such as GetAuthorizationToken"))?,
                principal: text("principal")?,
            },
            "deny-service-bearer-token" => Fault::DenyServiceBearerToken { principal: text("principal")? },
            "domain-not-found" => Fault::DomainNotFound,
            "repository-not-found" => Fault::RepositoryNotFound,
            "throttle" => Fault::Throttle { retry_after_seconds: small("retryAfterSeconds")?.unwrap_or(1) },
            "internal-error" => Fault::InternalError,
            "slow" => Fault::Slow {
                delay_ms: number("delayMs")?.ok_or_else(|| format_err!("a slow fault needs \"delayMs\""))?,
            },
            "stall" => Fault::Stall {
                max_ms: number("maxMs")?.ok_or_else(|| format_err!("a stall fault needs \"maxMs\""))?,
            },
            "trickle" => Fault::Trickle {
                max_ms: number("maxMs")?.ok_or_else(|| format_err!("a trickle fault needs \"maxMs\""))?,
            },
            "lag" => Fault::Lag {
                delay_ms: number("delayMs")?.ok_or_else(|| format_err!("a lag fault needs \"delayMs\""))?,
            },
            "upload" => Fault::Upload {
                pass: small("pass")?.unwrap_or(0),
                failure: UploadFailure::parse(&text("failure")?.unwrap_or_else(|| "forbidden".into()))?,
            },
            "sts" => Fault::Sts {
                code: text("code")?
                    .ok_or_else(|| format_err!("an sts fault needs a \"code\", such as AccessDenied"))?,
                message: text("message")?.ok_or_else(|| {
                    format_err!("an sts fault needs a \"message\", such as \"Not authorized to perform sts:AssumeRoleWithWebIdentity\"")
                })?,
                status: number("status")?
                    .map(|it| u16::try_from(it).map_err(|_| format_err!("fault field \"status\" is too large")))
                    .transpose()?
                    .unwrap_or(400),
            },
            "endpoint" => Fault::Endpoint {
                url: text("url")?.ok_or_else(|| format_err!("an endpoint fault needs a \"url\""))?,
            },
            other => bail!(
                "unknown fault kind {other:?}: use deny, deny-service-bearer-token, domain-not-found, \
                 repository-not-found, throttle, internal-error, slow, stall, upload, lag, sts or endpoint"
            ),
        };
        let mut rule = Rule::from(fault);
        if obj.contains_key("times") {
            rule.times = small("times")?;
        }
        rule.operation = text("operation")?;
        rule.validate()?;
        Ok(rule)
    }
}

/// The active rules, in the order they were added.
#[derive(Default)]
pub(crate) struct Faults {
    rules: Vec<ActiveRule>,
}

struct ActiveRule {
    rule: Rule,
    /// The rule's operation filter as the typed value requests are matched on.
    operation: Option<Operation>,
    /// Uploads still to let through before an `Upload` rule starts failing.
    pass_left: u32,
}

/// The message of a throttled answer, in every protocol's shape.
pub(crate) const THROTTLED: &str = "Rate exceeded";
/// The message of an injected internal error, in every protocol's shape.
pub(crate) const INJECTED_INTERNAL_ERROR: &str = "An internal error occurred (injected by castack)";

/// A transient fault that hit a CodeArtifact or PyPI-endpoint request; the handler
/// words the answer in its own protocol's shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transient {
    /// 429 with `Retry-After`.
    Throttle { retry_after_seconds: u32 },
    /// 500.
    InternalError,
}

impl Transient {
    pub fn status(self) -> u16 {
        match self {
            Transient::Throttle { .. } => 429,
            Transient::InternalError => 500,
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Transient::Throttle { .. } => THROTTLED,
            Transient::InternalError => INJECTED_INTERNAL_ERROR,
        }
    }

    pub fn retry_after_seconds(self) -> Option<u32> {
        match self {
            Transient::Throttle { retry_after_seconds } => Some(retry_after_seconds),
            Transient::InternalError => None,
        }
    }
}

impl Faults {
    pub fn add(&mut self, rule: Rule) {
        let pass_left = match rule.fault {
            Fault::Upload { pass, .. } => pass,
            _ => 0,
        };
        let operation = rule.operation.as_deref().map(Operation::parse);
        self.rules.push(ActiveRule { rule, operation, pass_left });
    }

    pub fn clear(&mut self) {
        self.rules.clear();
    }

    pub fn list(&self) -> Vec<Rule> {
        self.rules.iter().map(|it| it.rule.clone()).collect()
    }

    /// Finds the first rule that `select` accepts for `operation` and uses one of
    /// its counts.
    pub fn take<T>(&mut self, operation: &Operation, mut select: impl FnMut(&Fault) -> Option<T>) -> Option<T> {
        for i in 0..self.rules.len() {
            let active = &mut self.rules[i];
            if !active.applies_to(operation) {
                continue;
            }
            let Some(found) = select(&active.rule.fault) else { continue };
            if matches!(active.rule.fault, Fault::Upload { .. }) && active.pass_left > 0 {
                active.pass_left -= 1;
                return None;
            }
            match &mut active.rule.times {
                None => {}
                Some(0) => continue,
                Some(n) => {
                    *n -= 1;
                    if *n == 0 {
                        self.rules.remove(i);
                    }
                }
            }
            return Some(found);
        }
        None
    }

    /// The bound of a `Stall` rule for `operation`, used up by this call.
    pub fn stall(&mut self, operation: &Operation) -> Option<Duration> {
        self.take(operation, |fault| match fault {
            Fault::Stall { max_ms } => Some(Duration::from_millis(*max_ms)),
            _ => None,
        })
    }

    /// The bound of a `Trickle` rule for `operation`, used up by this call.
    pub fn trickle(&mut self, operation: &Operation) -> Option<Duration> {
        self.take(operation, |fault| match fault {
            Fault::Trickle { max_ms } => Some(Duration::from_millis(*max_ms)),
            _ => None,
        })
    }

    /// The delay of a `Slow` rule for `operation`, used up by this call. The caller
    /// sleeps without holding the lock, so other requests go on meanwhile.
    pub fn delay(&mut self, operation: &Operation) -> Option<Duration> {
        self.take(operation, |fault| match fault {
            Fault::Slow { delay_ms } => Some(Duration::from_millis(*delay_ms)),
            _ => None,
        })
    }

    /// A throttle or, failing that, an internal error for `operation`: the faults
    /// that hit before validation, as a busy service's front door would.
    pub fn transient(&mut self, operation: &Operation) -> Option<Transient> {
        self.take(operation, |fault| match fault {
            Fault::Throttle { retry_after_seconds } => {
                Some(Transient::Throttle { retry_after_seconds: *retry_after_seconds })
            }
            _ => None,
        })
        .or_else(|| self.take(operation, |f| (*f == Fault::InternalError).then_some(Transient::InternalError)))
    }
}

impl ActiveRule {
    /// Rules without an operation filter hit every CodeArtifact operation; of them,
    /// only those that make sense there also hit the PyPI endpoint or STS (each
    /// caller's `select` picks only its own kinds).
    fn applies_to(&self, operation: &Operation) -> bool {
        match &self.operation {
            Some(it) => it == operation,
            None => {
                operation.is_codeartifact()
                    || matches!(
                        self.rule.fault,
                        Fault::Deny { .. }
                            | Fault::Upload { .. }
                            | Fault::Lag { .. }
                            | Fault::DomainNotFound
                            | Fault::RepositoryNotFound
                            | Fault::Sts { .. }
                    )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operation::{CodeArtifactOp, PypiOp};

    #[test]
    fn json_round_trip() {
        let rules = [
            Fault::Deny { action: "GetAuthorizationToken".into(), principal: Some("arn:x".into()) }.always(),
            Fault::Throttle { retry_after_seconds: 3 }.times(2).only("DescribeDomain"),
            Fault::Upload { pass: 1, failure: UploadFailure::ResetAfterStore }.times(1),
            Fault::Slow { delay_ms: 10 }.times(1),
            Fault::Lag { delay_ms: 2_000 }.times(2),
            Fault::Upload { pass: 0, failure: UploadFailure::ExpireToken }.times(1),
            Fault::Sts { code: "AccessDenied".into(), message: "Not <authorized> & \"x\"".into(), status: 403 }
                .times(2)
                .only("AssumeRoleWithWebIdentity"),
            Fault::Sts { code: "InvalidIdentityToken".into(), message: "Incorrect token audience".into(), status: 400 }
                .always(),
            Fault::Endpoint { url: "https://elsewhere.invalid/pypi/r/".into() }.times(1),
        ];
        for rule in rules {
            assert_eq!(Rule::from_json(&rule.to_json()).unwrap(), rule);
        }
        assert!(Rule::from_json(&json!({"kind": "throttle", "times": null})).is_err());
        assert!(Rule::from_json(&json!({"kind": "slow", "times": 1, "delayMs": 10_000_000})).is_err());
        assert!(Rule::from_json(&json!({"kind": "lag", "delayMs": 10_000_000})).is_err());
        assert_eq!(Rule::from_json(&json!({"kind": "lag", "delayMs": 5})).unwrap().times, Some(1));
        assert!(Rule::from_json(&json!({"kind": "nope"})).is_err());
        assert!(Rule::from_json(&json!({"kind": "endpoint"})).is_err());
        assert!(Rule::from_json(&json!({"kind": "endpoint", "url": ""})).is_err());
        let sts = Rule::from_json(&json!({"kind": "sts", "code": "ExpiredTokenException", "message": "m"})).unwrap();
        assert_eq!(sts.fault, Fault::Sts { code: "ExpiredTokenException".into(), message: "m".into(), status: 400 });
        assert_eq!(sts.times, None, "a bare sts fault answers at once and stays until reset");
        for bad in [
            json!({"kind": "sts", "message": "m"}),
            json!({"kind": "sts", "code": "AccessDenied"}),
            json!({"kind": "sts", "code": "<x>", "message": "m"}),
            json!({"kind": "sts", "code": "AccessDenied", "message": "m", "status": 200}),
            json!({"kind": "sts", "code": "AccessDenied", "message": "m", "status": 70000}),
        ] {
            assert!(Rule::from_json(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sts_faults_hit_sts_actions_only() {
        let mut faults = Faults::default();
        faults.add(Fault::Sts { code: "AccessDenied".into(), message: "m".into(), status: 403 }.times(1));
        let sts = |f: &mut Faults, action: &str| {
            f.take(&Operation::Sts(Some(action.to_owned())), |it| matches!(it, Fault::Sts { .. }).then_some(()))
        };
        let describe_domain = Operation::CodeArtifact(CodeArtifactOp::DescribeDomain);
        // A CodeArtifact caller never selects it; an STS action without a filter meets it.
        assert!(faults.take(&describe_domain, |it| (*it == Fault::InternalError).then_some(())).is_none());
        assert!(sts(&mut faults, "GetCallerIdentity").is_some());
        assert!(faults.list().is_empty());
        faults.add(
            Fault::Sts { code: "AccessDenied".into(), message: "m".into(), status: 403 }.always().only("AssumeRole"),
        );
        assert!(sts(&mut faults, "GetCallerIdentity").is_none());
        assert!(sts(&mut faults, "AssumeRole").is_some());
        assert!(sts(&mut faults, "AssumeRole").is_some());
        // Transient kinds reach STS only through an operation filter.
        faults.clear();
        faults.add(Fault::InternalError.times(1));
        assert!(
            faults
                .take(&Operation::Sts(Some("GetCallerIdentity".into())), |it| (*it == Fault::InternalError)
                    .then_some(()))
                .is_none()
        );
    }

    #[test]
    fn operation_filters_match_typed_operations() {
        let mut faults = Faults::default();
        faults.add(Fault::InternalError.times(1).only("pypi-download"));
        faults.add(Fault::Throttle { retry_after_seconds: 2 }.times(1).only("GetAuthorizationToken"));
        let token = Operation::CodeArtifact(CodeArtifactOp::GetAuthorizationToken);
        // An STS call that names a CodeArtifact operation as its action is no
        // CodeArtifact operation.
        assert_eq!(faults.transient(&Operation::Sts(Some("GetAuthorizationToken".into()))), None);
        assert_eq!(faults.transient(&Operation::Pypi(PypiOp::Index)), None);
        assert_eq!(faults.transient(&token), Some(Transient::Throttle { retry_after_seconds: 2 }));
        assert_eq!(faults.transient(&Operation::Pypi(PypiOp::Download)), Some(Transient::InternalError));
        assert!(faults.list().is_empty());
    }

    #[test]
    fn counts_run_out() {
        let mut faults = Faults::default();
        faults.add(Fault::InternalError.times(2));
        let hit = |f: &mut Faults| f.transient(&Operation::CodeArtifact(CodeArtifactOp::DescribeDomain));
        assert!(hit(&mut faults).is_some());
        assert!(hit(&mut faults).is_some());
        assert!(hit(&mut faults).is_none());
        assert!(faults.list().is_empty());
    }
}
