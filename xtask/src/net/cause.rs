//! Why a request got no answer, told apart so that each ending says its true cause:
//! the name did not resolve, the host refused the connection, no connection was
//! established within `XTASK_CONNECT_TIMEOUT` (attempts dropped), TLS failed, the
//! request was sent and nothing came back, or the answer came too slowly. Read from
//! an error chain of the SDK's HTTP client (its connector's timeout texts are
//! "HTTP connect timeout" and "HTTP read timeout", aws-smithy-http-client's
//! `client/timeout.rs`), of our resolver (`resolve`), of rustls and of std's I/O.

use std::{
    error::Error,
    sync::{Mutex, PoisonError},
    time::Duration,
};

use super::resolve::NameNotResolved;
use crate::limits;

/// The cause of a request that got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// The resolver did not answer within the deadline, or said the name does not exist.
    Name(String),
    /// The host answered the connection attempt with a refusal.
    Refused,
    /// No connection within `XTASK_CONNECT_TIMEOUT`: the attempts got no answer.
    NoConnection,
    /// The TLS handshake failed.
    Tls(String),
    /// Connected and sent, then silence for the attempt's deadline.
    NoAnswer,
    /// Connected and answering, but not done within the whole call's deadline.
    TooSlow,
    /// Something else the chain says.
    Other(String),
}

/// The cause of the last attempt of an AWS call that got no answer (`None` after
/// one that did). Calls of a run follow one another, so the last is the one failing.
static LAST: Mutex<Option<Cause>> = Mutex::new(None);

/// Records the outcome of an attempt.
pub fn record(cause: Option<Cause>) {
    *LAST.lock().unwrap_or_else(PoisonError::into_inner) = cause;
}

/// The cause of the last attempt, when it got no answer.
pub fn last() -> Option<Cause> {
    LAST.lock().unwrap_or_else(PoisonError::into_inner).clone()
}

/// Classifies `err` (and its sources). `timed_out` is the caller's own knowledge
/// that a whole-call deadline passed.
pub fn classify(err: &(dyn Error + 'static), timed_out: bool) -> Cause {
    let mut texts = Vec::new();
    let mut current = Some(err);
    while let Some(it) = current {
        if let Some(name) = it.downcast_ref::<NameNotResolved>() {
            return Cause::Name(name.to_string());
        }
        if let Some(io) = it.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return Cause::Refused;
        }
        if let Some(tls) = it.downcast_ref::<rustls::Error>() {
            return Cause::Tls(tls.to_string());
        }
        texts.push(it.to_string());
        current = it.source();
    }
    let all = texts.join(": ");
    if all.contains("HTTP connect timeout") || all.contains("tcp connect error: deadline") {
        return Cause::NoConnection;
    }
    if all.contains("Connection refused") {
        return Cause::Refused;
    }
    if all.contains("invalid peer certificate") || all.contains("tls handshake") {
        return Cause::Tls(all);
    }
    if all.contains("HTTP read timeout") {
        return Cause::NoAnswer;
    }
    if timed_out {
        return Cause::TooSlow;
    }
    Cause::Other(all)
}

/// The deadlines a message names: how long silence may last before an answer
/// starts, and the whole call, each with the variable that sets it.
pub struct Deadlines<'a> {
    pub silence: Duration,
    pub silence_var: &'a str,
    pub total: Duration,
    pub total_var: &'a str,
}

impl Deadlines<'_> {
    /// Those of an AWS call (`aws::loader`): silence two thirds of an attempt.
    pub fn aws() -> Deadlines<'static> {
        let limits = limits::get();
        Deadlines {
            silence: limits.aws_attempt.mul_f64(2.0 / 3.0),
            silence_var: "XTASK_AWS_ATTEMPT_TIMEOUT",
            total: limits.aws_operation,
            total_var: "XTASK_AWS_TIMEOUT",
        }
    }
}

impl Cause {
    /// The message for `host`, with the deadline's variable where one applies.
    pub fn describe(&self, host: &str, deadlines: &Deadlines<'_>) -> String {
        let Deadlines { silence, silence_var, total, total_var } = deadlines;
        let connect = limits::get().connect;
        match self {
            Cause::Name(text) => format!(
                "{text}: check the machine's DNS resolver (/etc/resolv.conf) and the host name; a proxy \
                 (HTTPS_PROXY) resolves names itself, if the network needs one"
            ),
            Cause::Refused => format!(
                "{host} refused the connection: nothing listens there, or a firewall rejects it; check the host \
                 and port (an endpoint override such as AWS_ENDPOINT_URL_*), and the proxy settings"
            ),
            Cause::NoConnection => format!(
                "no connection to {host} within {} (XTASK_CONNECT_TIMEOUT): the connection attempts got no \
                 answer (a firewall that drops them, a host that is down, or a proxy the network needs: \
                 HTTPS_PROXY); raise XTASK_CONNECT_TIMEOUT only on a very slow network",
                limits::shown(connect)
            ),
            Cause::Tls(text) => format!(
                "the TLS handshake with {host} failed ({text}): if a proxy intercepts TLS, give its CA in \
                 AWS_CA_BUNDLE or SSL_CERT_FILE"
            ),
            Cause::NoAnswer => format!(
                "{host} accepted the connection and the request, then sent no answer within {} ({silence_var}): \
                 the service or a proxy on the way stalls; re-run later (the release resumes where it stopped)",
                limits::shown(*silence)
            ),
            Cause::TooSlow => format!(
                "{host} answered too slowly: the call did not end within {} ({total_var}); the network or a proxy \
                 trickles; re-run later, or raise {total_var} on a slow network",
                limits::shown(*total)
            ),
            Cause::Other(text) => format!("could not reach {host}: {text}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Wrapped(String, Option<Box<dyn Error + 'static>>);

    impl std::fmt::Display for Wrapped {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(&self.0)
        }
    }

    impl Error for Wrapped {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.1.as_deref()
        }
    }

    #[test]
    fn tells_the_causes_apart() {
        let wrap = |text: &str, source: Box<dyn Error>| Wrapped(text.to_owned(), Some(source));
        let refused = wrap("io error", Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)));
        assert_eq!(classify(&refused, false), Cause::Refused);
        let name =
            NameNotResolved { host: "sts.x.invalid".into(), within: Some(Duration::from_secs(2)), detail: "".into() };
        let name = wrap("dispatch failure", Box::new(wrap("io error", Box::new(name))));
        assert!(matches!(classify(&name, true), Cause::Name(text) if text.contains("did not resolve within 2 s")));
        let connect = Wrapped("HTTP connect timeout occurred after 2s".into(), None);
        assert_eq!(classify(&connect, true), Cause::NoConnection);
        let read = Wrapped("HTTP read timeout occurred after 3s".into(), None);
        assert_eq!(classify(&read, true), Cause::NoAnswer);
        assert_eq!(classify(&Wrapped("operation timeout".into(), None), true), Cause::TooSlow);
        let tls = wrap("tls", Box::new(rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)));
        assert!(matches!(classify(&tls, false), Cause::Tls(_)));
    }
}
