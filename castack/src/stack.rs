//! The full stack: real pypiserver and real moto_server as child processes on free
//! loopback ports (and, on request, a second pypiserver standing in for the public
//! PyPI behind the external connection `public:pypi`), the emulator in front of
//! pypiserver and of moto's STS, a session
//! of the release role in the domain owner's account for clients (`owner.rs`), and a
//! private state folder (package folder, password file, logs) that disappears with
//! the stack. IAM calls go to moto directly: nothing in the stack needs to see them
//! (the emulator's STS asks moto's IAM for OIDC providers itself).

mod services;

use std::{
    fs,
    net::SocketAddr,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use serde_json::{Map, Value};

use crate::{
    config::{ACCESS_KEY_ID, ExternalConnection, PUBLIC_PYPI, SECRET_ACCESS_KEY},
    emulator::{
        DEFAULT_ACCOUNT, DEFAULT_DOMAIN, DEFAULT_REGION, DEFAULT_REPOSITORY, Emulator, EmulatorConfig,
        OriginRestrictions,
    },
    owner, util,
};
use services::{Service, ServiceSpec, StateDir};

/// Variables a person's shell may hold that would send real credentials, or route
/// calls away from the stack; the binary prints `unset` for each.
pub const UNSET_VARS: &[&str] = &[
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_ENDPOINT_URL",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "AWS_USE_FIPS_ENDPOINT",
    "AWS_USE_DUALSTACK_ENDPOINT",
    "TWINE_USERNAME",
    "TWINE_PASSWORD",
    "TWINE_REPOSITORY",
    "TWINE_REPOSITORY_URL",
];

/// The publishing latency of a stack unless configured otherwise: small, so a
/// release waits about a second more, and not zero, so a release against the stack
/// meets a listing that lags its upload, as on CodeArtifact, and exercises its
/// retries. Longer than the moment between an upload's answer and the release's
/// first listing (the uploader's exit; 500 ms was seen to be too short on a loaded
/// machine), and shorter than the second the release waits before it asks again.
pub const DEFAULT_STACK_LATENCY: Duration = Duration::from_millis(1_200);

/// What to start. [`StackConfig::new`] fills in the defaults.
#[derive(Clone, Debug)]
pub struct StackConfig {
    /// Interpreter of a virtual environment with pypiserver[passlib] and moto[server]
    /// (`cargo run -q -p xtask -- tools stack` prints one).
    pub python: PathBuf,
    pub account: String,
    pub region: String,
    pub domain: String,
    pub repository: String,
    /// See [`EmulatorConfig::origin`].
    pub origin: Option<OriginRestrictions>,
    /// Start a second pypiserver standing in for the public PyPI, without
    /// authentication, as the repository's external connection `public:pypi`
    /// ([`Stack::public_pypi_dir`] is its package folder). Default false.
    pub public_pypi: bool,
    /// See [`EmulatorConfig::publish_latency`]; [`StackConfig::new`] sets
    /// [`DEFAULT_STACK_LATENCY`].
    pub publish_latency: Duration,
    /// See [`EmulatorConfig::oidc_request_token`].
    pub oidc_request_token: Option<String>,
    /// See [`EmulatorConfig::oidc_claims`].
    pub oidc_claims: Map<String, Value>,
    /// Fixed ports; `None` picks free ones (and retries if another process takes one
    /// first).
    pub pypiserver_port: Option<u16>,
    pub moto_port: Option<u16>,
    pub emulator_port: Option<u16>,
    /// How long each server may take to answer after it starts.
    pub startup_timeout: Duration,
    /// See [`EmulatorConfig::echo_requests`].
    pub echo_requests: bool,
    /// Whether the domain owner's account starts with GitHub's OIDC provider in
    /// moto's IAM (client id `sts.amazonaws.com`, as `cargo xtask setup` creates it),
    /// which the emulator's STS requires of a web-identity token. Default true;
    /// false for tests of `setup` on an empty account.
    pub github_oidc_provider: bool,
}

impl StackConfig {
    pub fn new(python: impl Into<PathBuf>) -> StackConfig {
        StackConfig {
            python: python.into(),
            account: DEFAULT_ACCOUNT.to_owned(),
            region: DEFAULT_REGION.to_owned(),
            domain: DEFAULT_DOMAIN.to_owned(),
            repository: DEFAULT_REPOSITORY.to_owned(),
            origin: None,
            public_pypi: false,
            publish_latency: DEFAULT_STACK_LATENCY,
            oidc_request_token: None,
            oidc_claims: Map::new(),
            pypiserver_port: None,
            moto_port: None,
            emulator_port: None,
            startup_timeout: Duration::from_secs(20),
            echo_requests: false,
            github_oidc_provider: true,
        }
    }
}

/// A running stack. Dropping it (also while a test panics) stops the emulator, kills
/// and reaps both servers, and removes the state folder.
pub struct Stack {
    // Field order is drop order: stop serving first, then the children, then files.
    emulator: Emulator,
    pypiserver: Service,
    moto: Service,
    /// The stand-in for the public PyPI (`StackConfig::public_pypi`).
    public_pypi: Option<Service>,
    state: StateDir,
    config: StackConfig,
    owner: owner::Session,
}

impl Stack {
    pub fn start(config: StackConfig) -> anyhow::Result<Stack> {
        let started = Instant::now();
        check_python(&config.python)?;
        let state = StateDir::create()?;
        let packages = state.path.join("packages");
        let htpasswd = state.path.join("htpasswd");
        for dir in ["packages", "public-packages", "home", "tmp", "logs", "aws"] {
            fs::create_dir_all(state.path.join(dir))
                .with_context(|| format!("cannot create {}", state.path.join(dir).display()))?;
        }
        // Empty AWS config files for clients, so no profile of the person's leaks in.
        fs::write(state.path.join("aws/config"), "")?;
        fs::write(state.path.join("aws/credentials"), "")?;
        // pypiserver needs the password file when it starts; the emulator rewrites it.
        fs::write(&htpasswd, format!("aws:{{SHA}}{}\n", util::b64std(&util::random_bytes(20))))?;

        let (pypi_spec, moto_spec) = (pypiserver_spec(&config, &htpasswd, &packages), moto_spec());
        // Both start at once (moto's imports take a few seconds), then each is awaited.
        let pypiserver = pypi_spec.spawn(&config, &state, config.pypiserver_port)?;
        let moto = moto_spec.spawn(&config, &state, config.moto_port)?;
        let public_spec = public_pypi_spec(&state.path.join("public-packages"));
        let public_pypi = if config.public_pypi { Some(public_spec.spawn(&config, &state, None)?) } else { None };
        let pypiserver = pypi_spec.await_ready(pypiserver, &config, &state)?;
        let moto = moto_spec.await_ready(moto, &config, &state)?;
        let public_pypi = public_pypi.map(|it| public_spec.await_ready(it, &config, &state)).transpose()?;
        let external_connection = public_pypi.as_ref().map(|it| ExternalConnection {
            name: PUBLIC_PYPI.to_owned(),
            upstream: SocketAddr::from(([127, 0, 0, 1], it.port)),
        });

        let [pypiserver_addr, moto_addr] =
            [pypiserver.port, moto.port].map(|port| SocketAddr::from(([127, 0, 0, 1], port)));
        let emulator = Emulator::start(EmulatorConfig {
            account: config.account.clone(),
            region: config.region.clone(),
            domain: config.domain.clone(),
            repository: config.repository.clone(),
            htpasswd: Some(htpasswd),
            upstream: Some(pypiserver_addr),
            sts_upstream: Some(moto_addr),
            external_connection,
            origin: config.origin,
            publish_latency: config.publish_latency,
            oidc_request_token: config.oidc_request_token.clone(),
            oidc_claims: config.oidc_claims.clone(),
            port: config.emulator_port,
            echo_requests: config.echo_requests,
            ..EmulatorConfig::new(packages)
        })?;
        let owner = owner::assume_role(moto_addr, &config.region, &config.account)
            .context("cannot mint the session of the domain owner's role")?;
        emulator.record_issued_session(owner.key.clone(), owner.expires);
        if config.github_oidc_provider {
            owner::create_github_provider(moto_addr, &config.account)
                .context("cannot create GitHub's OIDC provider in moto's IAM")?;
        }
        if config.echo_requests {
            eprintln!("castack: stack up in {:.1} s", started.elapsed().as_secs_f64());
        }
        Ok(Stack { emulator, pypiserver, moto, public_pypi, state, config, owner })
    }

    /// The emulator, for fault injection, the request log and tokens.
    pub fn emulator(&self) -> &Emulator {
        &self.emulator
    }

    pub fn config(&self) -> &StackConfig {
        &self.config
    }

    /// Variables a client process needs to talk to the stack: endpoints (CodeArtifact
    /// and STS: the emulator, which forwards STS to moto; IAM: moto itself), region,
    /// CodeArtifact coordinates, IMDS off, and empty AWS config files so no profile
    /// of the person running it applies. Credentials are separate
    /// ([`Stack::credentials_env`]), as are the OIDC variables ([`Stack::oidc_env`]).
    pub fn env(&self) -> Vec<(String, String)> {
        let pairs = [
            ("AWS_ENDPOINT_URL_CODEARTIFACT", self.emulator.url()),
            ("AWS_ENDPOINT_URL_STS", self.sts_url()),
            ("AWS_ENDPOINT_URL_IAM", self.moto_url()),
            ("AWS_REGION", self.config.region.clone()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
            ("AWS_CONFIG_FILE", self.state.path.join("aws/config").to_string_lossy().into_owned()),
            ("AWS_SHARED_CREDENTIALS_FILE", self.state.path.join("aws/credentials").to_string_lossy().into_owned()),
            ("CODEARTIFACT_DOMAIN", self.config.domain.clone()),
            ("CODEARTIFACT_DOMAIN_OWNER", self.config.account.clone()),
            ("CODEARTIFACT_REPOSITORY", self.config.repository.clone()),
            // The stack is on loopback: a proxy of the machine cannot reach it, so no
            // client of it goes through one (the proxy tests set their own).
            ("NO_PROXY", loopback_no_proxy()),
            ("no_proxy", loopback_no_proxy()),
        ];
        pairs.into_iter().map(|(key, value)| (key.to_owned(), value)).collect()
    }

    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN` of a
    /// session of the release role in the domain owner's account
    /// (`arn:aws:sts::<account>:assumed-role/ci-publisher/castack`), minted by moto
    /// when the stack started: caller and domain in one account, as a newcomer's own
    /// setup has them.
    pub fn credentials_env(&self) -> Vec<(String, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID".to_owned(), self.owner.key.access_key_id.clone()),
            ("AWS_SECRET_ACCESS_KEY".to_owned(), self.owner.key.secret_access_key.clone()),
            ("AWS_SESSION_TOKEN".to_owned(), self.owner.key.session_token.clone().unwrap_or_default()),
        ]
    }

    /// The throwaway static keys ([`ACCESS_KEY_ID`], [`SECRET_ACCESS_KEY`]), which
    /// moto files under its default account 123456789012: a caller outside the
    /// domain owner's account, for tests of the cross-account case.
    pub fn cross_account_credentials_env(&self) -> Vec<(String, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID".to_owned(), ACCESS_KEY_ID.to_owned()),
            ("AWS_SECRET_ACCESS_KEY".to_owned(), SECRET_ACCESS_KEY.to_owned()),
        ]
    }

    /// The ARN of the caller of [`Stack::credentials_env`].
    pub fn caller_arn(&self) -> &str {
        &self.owner.arn
    }

    /// `ACTIONS_ID_TOKEN_REQUEST_URL` and `ACTIONS_ID_TOKEN_REQUEST_TOKEN`.
    pub fn oidc_env(&self) -> Vec<(String, String)> {
        self.emulator.oidc_env()
    }

    /// The CodeArtifact endpoint (the emulator).
    pub fn codeartifact_url(&self) -> String {
        self.emulator.url()
    }

    /// The STS endpoint: the emulator (`http://127.0.0.1:PORT`, the same as
    /// [`Stack::codeartifact_url`]), which logs STS calls, injects STS faults and
    /// forwards the rest to moto_server.
    pub fn sts_url(&self) -> String {
        self.emulator.url()
    }

    /// See [`Emulator::issued_sts_secrets`]: what moto's STS handed out through the
    /// emulator (secret keys and session tokens), for leak tests.
    pub fn issued_sts_secrets(&self) -> Vec<String> {
        self.emulator.issued_sts_secrets()
    }

    /// See [`Emulator::github_secrets`]: the Actions secrets written to the fake
    /// GitHub API, decrypted, for tests that check what `setup --apply-github` stored.
    pub fn github_secrets(&self) -> Vec<crate::GithubSecret> {
        self.emulator.github_secrets()
    }

    /// moto_server itself, for IAM (and STS without the emulator in between):
    /// `http://127.0.0.1:PORT`.
    pub fn moto_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.moto.port)
    }

    /// pypiserver itself (bypassing the emulator): `http://127.0.0.1:PORT`.
    pub fn pypiserver_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.pypiserver.port)
    }

    /// The PyPI endpoint GetRepositoryEndpoint returns.
    pub fn pypi_endpoint(&self) -> String {
        self.emulator.pypi_endpoint()
    }

    /// See [`Emulator::index_url`].
    pub fn index_url(&self, token: &str) -> String {
        self.emulator.index_url(token)
    }

    /// Process ids of pypiserver, moto_server and the stand-in for PyPI.
    pub fn pids(&self) -> Vec<u32> {
        let mut pids = vec![self.pypiserver.child.id(), self.moto.child.id()];
        pids.extend(self.public_pypi.as_ref().map(|it| it.child.id()));
        pids
    }

    pub fn state_dir(&self) -> &Path {
        &self.state.path
    }

    /// pypiserver's package folder.
    pub fn package_dir(&self) -> PathBuf {
        self.state.path.join("packages")
    }

    /// The package folder of the stand-in for the public PyPI (the external
    /// connection `public:pypi`), when the stack has one: a distribution put there is
    /// what anyone could upload to PyPI.
    pub fn public_pypi_dir(&self) -> Option<PathBuf> {
        self.public_pypi.as_ref().map(|_| self.state.path.join("public-packages"))
    }

    /// The stand-in for the public PyPI itself, `http://127.0.0.1:PORT`, when the
    /// stack has one.
    pub fn public_pypi_url(&self) -> Option<String> {
        self.public_pypi.as_ref().map(|it| format!("http://127.0.0.1:{}", it.port))
    }

    /// Path of the log file of `pypiserver` or `moto_server` (stdout and stderr).
    pub fn log_file(&self, service: &str) -> PathBuf {
        self.state.path.join("logs").join(format!("{service}.log"))
    }
}

/// pypiserver on loopback with the password file, authentication for every read,
/// no fallback to PyPI, SHA-256 links, and CodeArtifact's URL layout.
fn pypiserver_spec(config: &StackConfig, htpasswd: &Path, packages: &Path) -> ServiceSpec {
    let (htpasswd, packages, repo) = (htpasswd.to_path_buf(), packages.to_path_buf(), config.repository.clone());
    ServiceSpec {
        name: "pypiserver",
        module: "pypiserver",
        probe: format!("/pypi/{repo}/simple/"),
        args: Box::new(move |port| {
            [
                "run",
                "-i",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-P",
                &htpasswd.to_string_lossy(),
                "-a",
                "update,download,list",
                "--disable-fallback",
                "--hash-algo",
                "sha256",
                "--server-base-url",
                &format!("/pypi/{repo}/"),
                &packages.to_string_lossy(),
            ]
            .map(str::to_owned)
            .to_vec()
        }),
    }
}

/// The stand-in for the public PyPI: pypiserver on loopback, reads open to anyone
/// (as PyPI's are), no uploads (`-a update` with no password file would refuse them
/// all; `-P .` with `-a .` is pypiserver's way to switch authentication off, and
/// nothing here uploads), no fallback, SHA-256 links.
fn public_pypi_spec(packages: &Path) -> ServiceSpec {
    let packages = packages.to_path_buf();
    ServiceSpec {
        name: "public-pypi",
        module: "pypiserver",
        probe: "/simple/".to_owned(),
        args: Box::new(move |port| {
            [
                "run",
                "-i",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-P",
                ".",
                "-a",
                ".",
                "--disable-fallback",
                "--hash-algo",
                "sha256",
                &packages.to_string_lossy(),
            ]
            .map(str::to_owned)
            .to_vec()
        }),
    }
}

fn moto_spec() -> ServiceSpec {
    ServiceSpec {
        name: "moto_server",
        module: "moto.server",
        probe: "/moto-api/".to_owned(),
        args: Box::new(|port| ["-H", "127.0.0.1", "-p", &port.to_string()].map(str::to_owned).to_vec()),
    }
}

fn check_python(python: &Path) -> anyhow::Result<()> {
    let hint = "provision the stack tools with `cargo run -q -p xtask -- tools stack` (it prints the \
                interpreter to pass), or pass the Python of an environment with pypiserver[passlib] and \
                moto[server]";
    match fs::metadata(python) {
        Ok(meta) if meta.is_file() => Ok(()),
        Ok(_) => bail!("cannot start pypiserver and moto_server: {} is not a file; {hint}", python.display()),
        Err(err) => bail!(
            "cannot start pypiserver and moto_server: the Python interpreter {} is not there ({err}); {hint}",
            python.display()
        ),
    }
}

/// The machine's `NO_PROXY` list with the loopback names added.
fn loopback_no_proxy() -> String {
    let current = std::env::var("NO_PROXY").or_else(|_| std::env::var("no_proxy")).unwrap_or_default();
    let mut entries: Vec<&str> = current.split(',').map(str::trim).filter(|it| !it.is_empty()).collect();
    for host in ["127.0.0.1", "localhost", "::1"] {
        if !entries.contains(&host) {
            entries.push(host);
        }
    }
    entries.join(",")
}
