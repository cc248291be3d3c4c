//! The program's own HTTP stack, for the AWS SDK and the GitHub OIDC request: the
//! proxies of the environment, read as the AWS CLI and curl read them, the TLS trust
//! store, and the masking of credentials inside a proxy URL.
//!
//! The proxying itself is the SDK's (`aws_smithy_http_client::proxy::ProxyConfig`,
//! which disables proxies unless it is given a configuration): this module only
//! checks the variables, so that a proxy the SDK cannot use is an error instead of a
//! silent direct connection, and names them in the output with their passwords masked.
//!
//! Trust: the platform's store, which rustls-native-certs reads (`SSL_CERT_FILE` and
//! `SSL_CERT_DIR` override it there), plus `AWS_CA_BUNDLE` as the AWS CLI reads it.
//!
//! Names resolve within the connect deadline on threads of their own (`resolve`),
//! and a failed request's true cause is read off its error chain (`cause`).

pub mod cause;
mod resolve;

use std::{env, fs, sync::OnceLock};

pub use resolve::BoundedResolver;

use anyhow::{Context, Result, bail};
use aws_smithy_async::rt::sleep::TokioSleep;
use aws_smithy_http_client::{
    Connector,
    proxy::ProxyConfig,
    tls::{self, TlsContext, TrustStore},
};
use aws_smithy_runtime_api::client::http::{HttpConnectorSettings, SharedHttpClient};

use crate::redact;

/// The proxy variables, in the order the SDK (hyper-util's matcher) reads them: the
/// upper-case name wins over the lower-case one.
pub const PROXY_VARS: [[&str; 2]; 4] = [
    ["HTTPS_PROXY", "https_proxy"],
    ["HTTP_PROXY", "http_proxy"],
    ["ALL_PROXY", "all_proxy"],
    ["NO_PROXY", "no_proxy"],
];

/// What a 407 answer means, wherever it comes from.
pub const PROXY_REFUSED: &str = "the proxy refused the request (407 Proxy Authentication Required): check the \
     user and password in HTTPS_PROXY/HTTP_PROXY (percent-encode special characters, `@` as %40), or exempt the \
     host with NO_PROXY";

/// The extra certificates the AWS CLI trusts.
pub const CA_BUNDLE: &str = "AWS_CA_BUNDLE";

/// One proxy variable that is set (the first of its pair, as the SDK reads it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyVar {
    pub name: &'static str,
    pub value: String,
}

/// The proxy variables that are set and not empty.
pub fn proxy_vars() -> Vec<ProxyVar> {
    proxy_vars_from(|name| env::var(name).ok())
}

fn proxy_vars_from(get: impl Fn(&str) -> Option<String>) -> Vec<ProxyVar> {
    let mut vars = Vec::new();
    for pair in PROXY_VARS {
        // The SDK takes the first variable of the pair that is set, even when empty.
        let found = pair.iter().find_map(|name| get(name).map(|value| (*name, value)));
        if let Some((name, value)) = found.filter(|(_, value)| !value.trim().is_empty()) {
            vars.push(ProxyVar { name, value });
        }
    }
    vars
}

/// A proxy URL split where its credentials are. The SDK does the real parsing;
/// this only finds what to mask and whether the SDK can use it.
#[derive(Debug, PartialEq, Eq)]
struct ProxyUrl<'a> {
    scheme: &'a str,
    userinfo: Option<&'a str>,
    host_port: &'a str,
}

fn split_proxy_url(value: &str) -> ProxyUrl<'_> {
    let value = value.trim();
    let (scheme, rest) = value.split_once("://").unwrap_or(("", value));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let (userinfo, host_port) = match authority.rsplit_once('@') {
        Some((userinfo, host_port)) => (Some(userinfo), host_port),
        None => (None, authority),
    };
    ProxyUrl { scheme, userinfo, host_port }
}

/// Registers the credentials of every proxy URL as secrets, in each form they can
/// take in text: as written (`user:p%40ss`), decoded (`user:p@ss`), the password alone,
/// and the `Proxy-Authorization: Basic` form. Called first thing, before any output.
pub fn register_proxy_credentials() {
    for var in proxy_vars() {
        if var.name.eq_ignore_ascii_case("NO_PROXY") {
            continue;
        }
        let Some(userinfo) = split_proxy_url(&var.value).userinfo else { continue };
        let decoded = percent_decode(userinfo);
        redact::register(userinfo);
        redact::register(&decoded);
        redact::register(&base64_simd::STANDARD.encode_to_string(decoded.as_bytes()));
        if let Some((_, password)) = userinfo.split_once(':') {
            redact::register(password);
            redact::register(&percent_decode(password));
        }
    }
}

/// A proxy URL for printing: its credentials replaced by `***`.
pub fn display_proxy(value: &str) -> String {
    let url = split_proxy_url(value);
    let scheme = if url.scheme.is_empty() { String::new() } else { format!("{}://", url.scheme) };
    match url.userinfo {
        Some(_) => format!("{scheme}{}@{}", redact::MASK, url.host_port),
        None => format!("{scheme}{}", url.host_port),
    }
}

/// Checks that every proxy variable holds a URL the SDK can use. The SDK ignores one
/// it cannot parse (or a `socks5://` one) and connects directly, which behind a
/// proxy-only network looks like a mysterious timeout.
pub fn check_proxy_vars() -> Result<()> {
    check_proxy_vars_in(&proxy_vars())
}

fn check_proxy_vars_in(vars: &[ProxyVar]) -> Result<()> {
    for var in vars.iter().filter(|it| !it.name.eq_ignore_ascii_case("NO_PROXY")) {
        let url = split_proxy_url(&var.value);
        let shown = display_proxy(&var.value);
        let usable_scheme = matches!(url.scheme.to_ascii_lowercase().as_str(), "" | "http" | "https");
        // `[::1]:3128`, `proxy:3128`, `proxy`: the port is what follows the last `:`
        // outside brackets.
        let (host, port) = match url.host_port.rsplit_once(':') {
            Some((host, port)) if !port.contains(']') => (host, Some(port)),
            _ => (url.host_port, None),
        };
        let port_ok = port.is_none_or(|port| port.parse::<u16>().is_ok_and(|it| it > 0));
        let host_ok = !host.is_empty() && host.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._[]:".contains(&b));
        if !usable_scheme || !host_ok || !port_ok {
            bail!(
                "{}={shown} is not a proxy URL the release can use: write it as http://HOST:PORT (or \
                 http://USER:PASSWORD@HOST:PORT, percent-encoding special characters); SOCKS proxies are not \
                 supported by the AWS SDK",
                var.name
            );
        }
    }
    Ok(())
}

/// One line for the output saying which proxies the release's own HTTP calls use.
pub fn describe_proxies() -> Option<String> {
    let vars = proxy_vars();
    if vars.is_empty() {
        return None;
    }
    let parts: Vec<String> = vars
        .iter()
        .map(|it| {
            let value =
                if it.name.eq_ignore_ascii_case("NO_PROXY") { it.value.clone() } else { display_proxy(&it.value) };
            format!("{}={value}", it.name)
        })
        .collect();
    Some(format!("HTTP(S) through the proxies of the environment: {}", parts.join(", ")))
}

/// The TLS context of every connection: the platform store plus `AWS_CA_BUNDLE`.
///
/// The SDK panics on a certificate it cannot parse, so the bundle is checked here
/// first with the same parser, and a bad one is an error that names the file.
pub fn tls_context() -> Result<TlsContext> {
    static CONTEXT: OnceLock<TlsContext> = OnceLock::new();
    if let Some(ctx) = CONTEXT.get() {
        return Ok(ctx.clone());
    }
    let mut store = TrustStore::default();
    if let Some(path) = env::var_os(CA_BUNDLE).filter(|it| !it.is_empty()) {
        let shown = path.to_string_lossy().into_owned();
        let pem = fs::read(&path).with_context(|| {
            format!("read {CA_BUNDLE}={shown}: point it at a PEM file of CA certificates, or unset it")
        })?;
        check_pem_bundle(&pem).with_context(|| format!("read the certificates of {CA_BUNDLE}={shown}"))?;
        store = store.with_pem_certificate(pem);
    }
    let ctx = TlsContext::builder().with_trust_store(store).build().context("set up TLS")?;
    Ok(CONTEXT.get_or_init(|| ctx).clone())
}

/// Every certificate of a PEM bundle parses as a trust anchor, and there is one.
fn check_pem_bundle(pem: &[u8]) -> Result<usize> {
    use rustls_pki_types::{CertificateDer, pem::PemObject};
    let mut roots = rustls::RootCertStore::empty();
    let mut count = 0;
    for (i, cert) in CertificateDer::pem_slice_iter(pem).enumerate() {
        let cert = cert.map_err(|err| anyhow::format_err!("certificate {} is not valid PEM: {err}", i + 1))?;
        roots
            .add(cert)
            .map_err(|err| anyhow::format_err!("certificate {} is not a usable CA certificate: {err}", i + 1))?;
        count += 1;
    }
    if count == 0 {
        bail!("it holds no `-----BEGIN CERTIFICATE-----` block");
    }
    Ok(count)
}

fn tls_provider() -> tls::Provider {
    tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring)
}

/// The HTTP client of every AWS SDK client: rustls on ring, the trust store above,
/// and the proxies of the environment. The SDK builds one connector per set of
/// timeouts and caches it (`build_with_connector_fn`), so this runs once or twice.
pub fn sdk_http_client() -> Result<SharedHttpClient> {
    check_proxy_vars()?;
    let tls = tls_context()?;
    Ok(aws_smithy_http_client::Builder::new().build_with_connector_fn(move |settings, components| {
        let mut builder = Connector::builder().proxy_config(ProxyConfig::from_env());
        builder.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            builder.set_sleep_impl(components.sleep_impl());
        }
        builder.tls_provider(tls_provider()).tls_context(tls.clone()).build_with_resolver(BoundedResolver)
    }))
}

/// A connector for a plain request outside the SDK (the GitHub OIDC token), with the
/// same trust, proxies and the given timeouts.
pub fn connector(settings: HttpConnectorSettings) -> Result<Connector> {
    check_proxy_vars()?;
    Ok(Connector::builder()
        .proxy_config(ProxyConfig::from_env())
        .connector_settings(settings)
        .sleep_impl(TokioSleep::new())
        .tls_provider(tls_provider())
        .tls_context(tls_context()?)
        .build_with_resolver(BoundedResolver))
}

/// `%XX` sequences decoded (as in the userinfo of a URL); invalid ones kept as is.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(hi), Some(lo)) =
                (bytes.get(i + 1).and_then(|b| hex(*b)), bytes.get(i + 2).and_then(|b| hex(*b)))
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_proxies_as_the_sdk_does() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
        };
        let vars = proxy_vars_from(env(&[
            ("https_proxy", "http://lower:1"),
            ("HTTPS_PROXY", "http://upper:2"),
            ("http_proxy", "http://h:3"),
            ("ALL_PROXY", " "),
            ("no_proxy", "localhost,.internal"),
        ]));
        let got: Vec<(&str, &str)> = vars.iter().map(|it| (it.name, it.value.as_str())).collect();
        assert_eq!(
            got,
            [("HTTPS_PROXY", "http://upper:2"), ("http_proxy", "http://h:3"), ("no_proxy", "localhost,.internal")]
        );
    }

    #[test]
    fn masks_proxy_credentials_in_displays() {
        assert_eq!(display_proxy("http://user:p%40ss@proxy.corp:3128/"), "http://***@proxy.corp:3128");
        assert_eq!(display_proxy("proxy.corp:3128"), "proxy.corp:3128");
        assert_eq!(display_proxy("http://proxy:8080"), "http://proxy:8080");
        // An `@` inside the password (unencoded) still ends at the last one.
        assert_eq!(display_proxy("http://u:a@b@proxy:1"), "http://***@proxy:1");
        assert_eq!(percent_decode("u:p%40ss%2"), "u:p@ss%2");
    }

    #[test]
    fn refuses_proxies_the_sdk_cannot_use() {
        let var = |value: &str| vec![ProxyVar { name: "HTTPS_PROXY", value: value.to_owned() }];
        for ok in ["http://proxy:3128", "proxy:3128", "https://u:p@proxy:443", "http://127.0.0.1:1/"] {
            assert!(check_proxy_vars_in(&var(ok)).is_ok(), "{ok}");
        }
        for bad in ["socks5://proxy:1080", "http://proxy:99999", "http://:3128", "ftp://x:1", "http://u:secret@ bad:1"]
        {
            let err = check_proxy_vars_in(&var(bad)).unwrap_err().to_string();
            assert!(err.starts_with("HTTPS_PROXY="), "{err}");
            assert!(!err.contains("secret"), "{err}");
        }
        // NO_PROXY is a list, not a URL.
        let no = vec![ProxyVar { name: "NO_PROXY", value: "*.internal, 10.0.0.0/8".to_owned() }];
        assert!(check_proxy_vars_in(&no).is_ok());
    }

    #[test]
    fn checks_ca_bundles_before_the_sdk_can_panic_on_them() {
        // A self-signed CA made for this test (`openssl req -x509 -newkey ec …`).
        let ca = include_bytes!("../tests/data/test-ca.pem");
        assert_eq!(check_pem_bundle(ca).unwrap(), 1);
        let two = [&ca[..], b"\n", &ca[..]].concat();
        assert_eq!(check_pem_bundle(&two).unwrap(), 2);
        assert!(check_pem_bundle(b"not a certificate").unwrap_err().to_string().contains("no `-----BEGIN"));
        let broken = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(check_pem_bundle(broken).unwrap_err().to_string().contains("certificate 1"));
        let garbled = [&ca[..], b"\n", &broken[..]].concat();
        assert!(check_pem_bundle(&garbled).unwrap_err().to_string().contains("certificate 2"));
    }
}
