//! Releases behind a forward proxy, as on a laptop or a self-hosted runner that must
//! go through `HTTP(S)_PROXY`: a real proxy process (proxy.py) that wants
//! credentials, the release's own calls (STS, CodeArtifact) and twine's uploads
//! through it, `NO_PROXY` exempting a host, and the proxy's password never shown.

use castack::Stack;

use crate::support::{Creds, ForwardProxy, copy_repo, release, release_env, start_stack, text};

const PROXY_USER: &str = "releaser";
/// With an `@`, so that the URL needs percent-encoding and both forms must be masked.
const PROXY_PASSWORD: &str = "Pr0xy@Passw0rd-7d1e";
const PROXY_PASSWORD_ENCODED: &str = "Pr0xy%40Passw0rd-7d1e";

/// What the runner would show: everything but the `::add-mask::` lines, which hand
/// it the secrets (the leak test checks that those carry nothing else).
fn shown(log: &str) -> String {
    log.lines().filter(|it| !it.starts_with("::add-mask::")).collect::<Vec<_>>().join("\n")
}

/// The environment of a GitHub OIDC release through `proxy`, with the OIDC token
/// endpoint reached as `localhost` and exempted by `NO_PROXY=localhost`.
fn proxied_env(stack: &Stack, proxy_url: &str, tag: &str) -> Vec<(String, String)> {
    let mut vars = release_env(stack, Creds::GithubOidc, tag, &[]);
    for (key, value) in vars.iter_mut() {
        if key == "ACTIONS_ID_TOKEN_REQUEST_URL" {
            *value = value.replace("127.0.0.1", "localhost");
        }
    }
    vars.retain(|(key, _)| !key.eq_ignore_ascii_case("no_proxy"));
    vars.push(("HTTP_PROXY".to_owned(), proxy_url.to_owned()));
    vars.push(("NO_PROXY".to_owned(), "localhost".to_owned()));
    vars
}

#[test]
fn a_release_goes_through_the_proxy_and_no_proxy_exempts_a_host() {
    let stack = start_stack();
    let proxy = ForwardProxy::start(Some(&format!("{PROXY_USER}:{PROXY_PASSWORD}")));
    let repo = copy_repo("proxy");
    let url = proxy.url(Some(&format!("{PROXY_USER}:{PROXY_PASSWORD_ENCODED}")));
    let out = release(repo.path(), &[], &proxied_env(&stack, &url, "v1.0.0"));
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    assert!(log.contains("yamause 1.0.0 is Published"), "{log}");
    // The release says which proxy it uses, without the credentials.
    let named = format!("HTTP_PROXY={}", proxy.url(Some("***")));
    assert!(log.contains(&named), "no {named:?} in:\n{log}");
    for secret in [PROXY_PASSWORD, PROXY_PASSWORD_ENCODED] {
        assert!(!shown(&log).contains(secret), "the proxy password is in the output:\n{log}");
        // Handed to the runner as workflow-command data (`%` escaped).
        let mask = format!("::add-mask::{PROXY_USER}:{}", secret.replace('%', "%25"));
        assert!(log.lines().any(|it| it == mask), "no {mask:?} in:\n{log}");
    }

    // What the stack served, and whether it came through the proxy: proxy.py adds
    // `Via: 1.1 proxy.py …` to the first request it forwards on a connection, so a
    // connection that carried one is the proxy's.
    let served = stack.emulator().requests();
    let proxied: std::collections::BTreeSet<u64> = served
        .iter()
        .filter(|r| r.via.as_deref().is_some_and(|v| v.contains("proxy.py")))
        .map(|r| r.connection)
        .collect();
    let via_proxy = |op: &str| {
        let calls: Vec<_> = served.iter().filter(|r| r.operation == op).collect();
        assert!(!calls.is_empty(), "no {op} call was served:\n{served:#?}");
        calls.iter().all(|r| proxied.contains(&r.connection))
    };
    for op in [
        "AssumeRoleWithWebIdentity",
        "GetCallerIdentity",
        "GetAuthorizationToken",
        "GetRepositoryEndpoint",
        "ListPackageVersionAssets",
        "DescribePackageVersion",
        "pypi-upload",
    ] {
        assert!(via_proxy(op), "{op} did not go through the proxy:\n{served:#?}");
    }
    assert_eq!(served.iter().filter(|r| r.operation == "pypi-upload").count(), 2);
    // The OIDC token request went to `localhost`, which NO_PROXY exempts: straight
    // to the stack.
    assert!(!via_proxy("oidc"), "NO_PROXY=localhost did not exempt the OIDC request:\n{served:#?}");
    // The proxy's own log (one line per client connection) names the stack and
    // never the exempted endpoint; proxy.py logs a refused request as `None None`.
    let through = proxy.requests();
    let port = stack.emulator().addr().port();
    assert!(through.iter().any(|it| it.contains(&format!("127.0.0.1:{port}/"))), "{through:#?}");
    assert!(!through.iter().any(|it| it.contains("_github/oidc") || it.contains("localhost")), "{through:#?}");
    assert!(!through.iter().any(|it| it.contains("- None")), "the proxy refused a request:\n{through:#?}");
}

#[test]
fn wrong_or_unusable_proxies_fail_clearly_without_showing_the_password() {
    let stack = start_stack();
    let proxy = ForwardProxy::start(Some(&format!("{PROXY_USER}:{PROXY_PASSWORD}")));
    let repo = copy_repo("proxy-wrong");
    let wrong = "WrongProxyPassw0rd-51c3";
    let url = proxy.url(Some(&format!("{PROXY_USER}:{wrong}")));
    let out = release(repo.path(), &[], &proxied_env(&stack, &url, "v1.0.0"));
    let log = text(&out);
    assert!(!out.status.success(), "{log}");
    assert!(log.contains("step 7/9 (Authenticate) failed"), "{log}");
    assert!(log.contains("proxy"), "the error does not say the proxy is involved:\n{log}");
    assert!(!shown(&log).contains(wrong), "the proxy password is in the output:\n{log}");
    assert!(log.contains("407 Proxy Authentication Required"), "{log}");
    assert!(!proxy.requests().is_empty(), "the release did not try the proxy");

    // A SOCKS proxy, which the AWS SDK cannot use: refused before any call, naming
    // the variable.
    let mut vars = proxied_env(&stack, "socks5://user:SocksPassw0rd-e2@127.0.0.1:1080", "v1.0.0");
    vars.retain(|(key, _)| key != "HTTP_PROXY");
    vars.push(("ALL_PROXY".to_owned(), "socks5://user:SocksPassw0rd-e2@127.0.0.1:1080".to_owned()));
    let out = release(repo.path(), &[], &vars);
    let log = text(&out);
    assert!(!out.status.success(), "{log}");
    assert!(log.contains("ALL_PROXY=socks5://***@127.0.0.1:1080 is not a proxy URL the release can use"), "{log}");
    assert!(!shown(&log).contains("SocksPassw0rd"), "{log}");
}

#[test]
fn a_bad_aws_ca_bundle_is_a_clear_error() {
    let stack = start_stack();
    let repo = copy_repo("ca-bundle");
    let bundle = repo.path().join("bundle.pem");
    std::fs::write(&bundle, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").unwrap();
    let mut vars = release_env(&stack, Creds::Static, "", &[]);
    vars.push(("AWS_CA_BUNDLE".to_owned(), bundle.to_string_lossy().into_owned()));
    let out = release(repo.path(), &["v1.0.0", "--allow-dirty"], &vars);
    let log = text(&out);
    assert!(!out.status.success(), "{log}");
    assert!(log.contains("read the certificates of AWS_CA_BUNDLE="), "{log}");
    assert!(log.contains("certificate 1 is not"), "{log}");
    assert!(!log.contains("panicked"), "{log}");
}
