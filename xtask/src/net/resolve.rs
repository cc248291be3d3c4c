//! Name resolution inside the deadline. hyper's own resolver runs getaddrinfo(3) on
//! a blocking worker of the runtime, which nothing can stop: a resolver that never
//! answers kept a failed run alive for its full retry schedule (~40 s), and a
//! signal could not end it sooner, since the runtime waits for its workers when it
//! shuts down. Here each lookup runs on a thread of its own that the caller stops
//! waiting for at the deadline (a little before the connect timeout, so this error
//! is the one reported) or when a signal comes; the thread is left to finish on its
//! own and never holds the process.

use std::{
    fmt,
    net::{SocketAddr, ToSocketAddrs},
    sync::mpsc,
    time::{Duration, Instant},
};

use aws_smithy_runtime_api::client::dns::{DnsFuture, ResolveDns, ResolveDnsError};

use crate::limits;

/// A name that did not resolve: no answer within the deadline, or an answer that
/// it does not exist (or a resolver error).
#[derive(Debug)]
pub struct NameNotResolved {
    pub host: String,
    /// `None`: the resolver answered with an error within the deadline.
    pub within: Option<Duration>,
    pub detail: String,
}

impl fmt::Display for NameNotResolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.within {
            Some(within) => write!(
                f,
                "the name {} did not resolve within {} (the resolver did not answer)",
                self.host,
                limits::shown(within)
            ),
            None => write!(f, "the name {} does not resolve: {}", self.host, self.detail),
        }
    }
}

impl std::error::Error for NameNotResolved {}

/// The resolver of every HTTP connection of the release (the SDK's and the OIDC
/// request's).
#[derive(Clone, Debug)]
pub struct BoundedResolver;

/// How long a lookup may take: nine tenths of the connect timeout, which bounds
/// resolving and connecting together.
fn deadline() -> Duration {
    limits::get().connect.mul_f64(0.9)
}

impl ResolveDns for BoundedResolver {
    fn resolve_dns<'a>(&'a self, name: &'a str) -> DnsFuture<'a> {
        let host = name.to_owned();
        DnsFuture::new(async move { lookup(host, deadline()).await.map_err(ResolveDnsError::new) })
    }
}

/// Resolves `host` on a thread of its own, waiting at most `within`.
pub async fn lookup(host: String, within: Duration) -> Result<Vec<std::net::IpAddr>, NameNotResolved> {
    let (tx, rx) = mpsc::channel();
    let name = host.clone();
    let spawned = std::thread::Builder::new().name("resolve".to_owned()).spawn(move || {
        let _ = tx.send((name.as_str(), 0u16).to_socket_addrs().map(|it| it.collect::<Vec<SocketAddr>>()));
    });
    if let Err(err) = spawned {
        return Err(NameNotResolved { host, within: None, detail: format!("no thread to resolve it on: {err}") });
    }
    let end = Instant::now() + within;
    loop {
        match rx.try_recv() {
            Ok(Ok(addrs)) if !addrs.is_empty() => return Ok(addrs.into_iter().map(|it| it.ip()).collect()),
            Ok(Ok(_)) => return Err(NameNotResolved { host, within: None, detail: "no address".to_owned() }),
            Ok(Err(err)) => return Err(NameNotResolved { host, within: None, detail: err.to_string() }),
            Err(mpsc::TryRecvError::Disconnected) => {
                return Err(NameNotResolved { host, within: None, detail: "the lookup ended".to_owned() });
            }
            Err(mpsc::TryRecvError::Empty) => {}
        }
        if Instant::now() >= end || crate::interrupt::received().is_some() {
            return Err(NameNotResolved { host, within: Some(within), detail: String::new() });
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_names_and_says_when_one_does_not_resolve() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let ips = rt.block_on(lookup("localhost".to_owned(), Duration::from_secs(5))).unwrap();
        assert!(ips.iter().all(|it| it.is_loopback()), "{ips:?}");
        let err = rt.block_on(lookup("no-such-host.invalid".to_owned(), Duration::from_secs(5))).unwrap_err();
        assert!(err.to_string().starts_with("the name no-such-host.invalid does not resolve"), "{err}");
    }
}
