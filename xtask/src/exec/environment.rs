//! The environment of a child: cleared, then rebuilt from an allow-list per kind of
//! child, by the names each tool family documents, so that AWS credentials, the
//! GitHub OIDC request token or a stray `PYTHONPATH` never reach a program that does
//! not need them, while proxies and trust stores reach every one that talks to the
//! network.

use std::{env, ffi::OsString};

/// Variables every child gets from our own environment when they are set: what a
/// program needs to find itself, write temporary files and decode text.
const BASE: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "TEMP",
    "TMP",
    // Windows needs these to start a process at all.
    "SYSTEMROOT",
    "SYSTEMDRIVE",
    "WINDIR",
    "COMSPEC",
    "PATHEXT",
    "USERPROFILE",
    "APPDATA",
    "LOCALAPPDATA",
];

/// Variables every child that talks to the network gets: the proxies (both cases, as
/// curl, requests, pip, uv, npm and the AWS CLI read them) and the trust stores
/// OpenSSL, rustls-native-certs, uv and Python's requests read.
const NETWORK: &[&str] = &[
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
];

/// What pip and uv read besides: their own settings (index mirrors, certificates,
/// timeouts) and the cache locations. Only for installs from hashed locks, where the
/// index cannot change what gets installed.
const INSTALLER_PREFIXES: &[&str] = &["PIP_", "UV_", "XDG_CACHE_HOME", "XDG_CONFIG_HOME"];

/// The settings of pip and uv that are about reaching an index, not choosing one:
/// what an isolated build that installs from the private repository may inherit.
/// (`PIP_INDEX_URL`, `PIP_EXTRA_INDEX_URL` or `PIP_FIND_LINKS` of the machine would
/// let the build take its requirements from somewhere else.)
const INDEX_TRANSPORT: &[&str] = &[
    "PIP_CERT",
    "PIP_CLIENT_CERT",
    "PIP_PROXY",
    "PIP_TIMEOUT",
    "PIP_DEFAULT_TIMEOUT",
    "PIP_RETRIES",
    "UV_NATIVE_TLS",
    "UV_HTTP_TIMEOUT",
    "UV_HTTP_RETRIES",
];

/// What npm and Node.js read: the extra CA file, the proxy switch of newer Node.js
/// releases, and npm's own settings (registry, cache, its `cafile`).
const NPM: &[&str] = &["NODE_EXTRA_CA_CERTS", "NODE_USE_ENV_PROXY"];
const NPM_PREFIXES: &[&str] = &["npm_config_", "NPM_CONFIG_"];

/// Never inherited, whatever an allow-list or prefix says: the credentials and
/// settings of a release, which only the program itself (and, set explicitly, the one
/// child that needs them) may see.
const NEVER: &[&str] = &[
    "AWS_",
    "ACTIONS_",
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "GH_ENTERPRISE_TOKEN",
    "TWINE_",
    "UV_PUBLISH_",
    "CODEARTIFACT_",
    "XTASK_",
];

/// The environment of one child: an allow-list of inherited names plus set values.
#[derive(Default, Clone)]
pub struct Env {
    inherit: Vec<String>,
    inherit_prefixes: Vec<String>,
    set: Vec<(OsString, OsString)>,
}

impl Env {
    /// The base environment only: local programs (git, the interpreter check, the
    /// offline build, zizmor).
    pub fn base() -> Env {
        let mut it = Env::default();
        it.inherit.extend(BASE.iter().map(|it| it.to_string()));
        // Python output is piped to us; make its encoding independent of the locale.
        it.set("PYTHONIOENCODING", "utf-8");
        it.set("PYTHONDONTWRITEBYTECODE", "1");
        it
    }

    /// The base environment plus proxies and trust stores: twine, pip installing the
    /// release (sandbox).
    pub fn network() -> Env {
        let mut it = Env::base();
        it.inherit.extend(NETWORK.iter().map(|it| it.to_string()));
        it
    }

    /// pip and uv installing a hashed lock: the network plus their own settings.
    pub fn installer() -> Env {
        let mut it = Env::network();
        it.inherit_prefixes.extend(INSTALLER_PREFIXES.iter().map(|it| it.to_string()));
        it
    }

    /// An isolated build installing its requirements from the private repository:
    /// the network plus pip's and uv's transport settings, never their index choice.
    pub fn private_build() -> Env {
        let mut it = Env::network();
        it.inherit.extend(INDEX_TRANSPORT.iter().map(|it| it.to_string()));
        it
    }

    /// npm: the network plus Node's CA file and npm's settings.
    pub fn npm() -> Env {
        let mut it = Env::network();
        it.inherit.extend(NPM.iter().map(|it| it.to_string()));
        it.inherit_prefixes.extend(NPM_PREFIXES.iter().map(|it| it.to_string()));
        it
    }

    /// Also inherit every variable whose name starts with `prefix` (such as `CARGO`).
    pub fn inherit_prefix(&mut self, prefix: &str) -> &mut Env {
        self.inherit_prefixes.push(prefix.to_owned());
        self
    }

    /// Sets a variable for the child (also one of the `NEVER` names: setting is
    /// explicit, as for the token of the uploader).
    pub fn set(&mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> &mut Env {
        self.set.push((key.into(), value.into()));
        self
    }

    /// The variables as the child will see them.
    pub(super) fn resolve(&self) -> Vec<(OsString, OsString)> {
        self.resolve_from(env::vars_os())
    }

    fn resolve_from(&self, vars: impl Iterator<Item = (OsString, OsString)>) -> Vec<(OsString, OsString)> {
        let mut out: Vec<(OsString, OsString)> = Vec::new();
        for (key, value) in vars {
            let Some(name) = key.to_str() else { continue };
            let allowed = self.inherit.iter().any(|it| it == name)
                || self.inherit_prefixes.iter().any(|it| name.starts_with(it.as_str()));
            let never = NEVER.iter().any(|it| name.starts_with(it));
            if allowed && !never {
                out.push((key, value));
            }
        }
        for (key, value) in &self.set {
            out.retain(|(k, _)| k != key);
            out.push((key.clone(), value.clone()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A machine behind a TLS-intercepting proxy, signed in to AWS and in a GitHub job.
    const MACHINE: &[&str] = &[
        "PATH",
        "HOME",
        "HTTPS_PROXY",
        "https_proxy",
        "NO_PROXY",
        "no_proxy",
        "ALL_PROXY",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        "NODE_EXTRA_CA_CERTS",
        "GIT_SSL_CAINFO",
        "AWS_CA_BUNDLE",
        "PIP_CERT",
        "PIP_INDEX_URL",
        "PIP_FIND_LINKS",
        "PIP_DEFAULT_TIMEOUT",
        "UV_NATIVE_TLS",
        "UV_INDEX_URL",
        "UV_PUBLISH_TOKEN",
        "XDG_CACHE_HOME",
        "npm_config_cache",
        "NPM_CONFIG_REGISTRY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "ACTIONS_ID_TOKEN_REQUEST_URL",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        "ACTIONS_RUNTIME_TOKEN",
        "GITHUB_TOKEN",
        "GH_TOKEN",
        "TWINE_PASSWORD",
        "CODEARTIFACT_DOMAIN",
        "PYTHONPATH",
    ];

    /// The names a child of `env` gets on `MACHINE` (without the two Python settings
    /// every child gets set).
    fn names(env: &Env) -> Vec<String> {
        let vars = MACHINE.iter().map(|it| (OsString::from(it), OsString::from("x")));
        let mut names: Vec<String> =
            env.resolve_from(vars).into_iter().map(|(k, _)| k.to_string_lossy().into_owned()).collect();
        names.retain(|it| !["PYTHONIOENCODING", "PYTHONDONTWRITEBYTECODE"].contains(&it.as_str()));
        names.sort();
        names
    }

    /// The base, the proxies and trust stores, and `extra`, sorted.
    fn with(extra: &[&str]) -> Vec<String> {
        let network = [
            "ALL_PROXY",
            "CURL_CA_BUNDLE",
            "HTTPS_PROXY",
            "NO_PROXY",
            "REQUESTS_CA_BUNDLE",
            "SSL_CERT_DIR",
            "SSL_CERT_FILE",
            "https_proxy",
            "no_proxy",
        ];
        let mut all: Vec<String> =
            ["HOME", "PATH"].iter().chain(&network).chain(extra).map(|it| it.to_string()).collect();
        all.sort();
        all
    }

    #[test]
    fn each_kind_of_child_inherits_what_its_tools_document_and_never_a_secret() {
        // Local programs: git, the interpreter check, the offline build, zizmor.
        assert_eq!(names(&Env::base()), ["HOME", "PATH"]);
        // twine and the sandbox's pip: proxies and the trust stores of requests/OpenSSL.
        assert_eq!(names(&Env::network()), with(&[]));
        // pip/uv installing a hashed lock: also their own settings and cache.
        let installer = [
            "PIP_CERT",
            "PIP_DEFAULT_TIMEOUT",
            "PIP_FIND_LINKS",
            "PIP_INDEX_URL",
            "UV_INDEX_URL",
            "UV_NATIVE_TLS",
            "XDG_CACHE_HOME",
        ];
        assert_eq!(names(&Env::installer()), with(&installer));
        // An isolated build from the private index: how to reach it, never where else
        // to look.
        assert_eq!(names(&Env::private_build()), with(&["PIP_CERT", "PIP_DEFAULT_TIMEOUT", "UV_NATIVE_TLS"]));
        // npm: Node's CA file and npm's settings.
        assert_eq!(names(&Env::npm()), with(&["NODE_EXTRA_CA_CERTS", "NPM_CONFIG_REGISTRY", "npm_config_cache"]));
    }

    #[test]
    fn no_prefix_reaches_a_secret_but_setting_one_explicitly_does() {
        let mut env = Env::installer();
        env.inherit_prefix("AWS_").inherit_prefix("ACTIONS_").inherit_prefix("G").inherit_prefix("T");
        let got = names(&env);
        let secrets = [
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
            "GITHUB_TOKEN",
            "GH_TOKEN",
            "TWINE_PASSWORD",
            "UV_PUBLISH_TOKEN",
        ];
        for secret in secrets {
            assert!(!got.iter().any(|it| it == secret), "{secret} was inherited: {got:?}");
        }
        env.set("TWINE_PASSWORD", "token");
        assert!(names(&env).iter().any(|it| it == "TWINE_PASSWORD"));
    }
}
