//! The emulator's public face: [`Emulator`] starts one in-process HTTP server on
//! 127.0.0.1 that answers the CodeArtifact control plane, forwards the PyPI
//! endpoint to pypiserver and STS to moto_server, plays GitHub's OIDC token
//! endpoint and the parts of GitHub's REST API that `check-iam` reads, and takes orders from tests (fault injection, request log, issued
//! secrets) through this Rust API and a JSON control API under `/_castack/`. The
//! work is done by the handlers behind the router (`router.rs`); this module only
//! starts the server and hands the levers to tests.

use std::{
    net::{SocketAddr, TcpListener},
    sync::Arc,
    time::Duration,
};

use anyhow::Context;
use serde_json::{Map, Value};

pub use crate::{
    config::{
        DEFAULT_ACCOUNT, DEFAULT_DOMAIN, DEFAULT_REGION, DEFAULT_REPOSITORY, DEFAULT_ROLE, EmulatorConfig, OidcSigning,
        OriginRestrictions, Restriction, default_oidc_claims,
    },
    github_repo::GithubRepo,
    github_secrets::GithubSecret,
    keyring::AwsKey,
    operation::{CodeArtifactOp, Operation, PypiOp},
    state::{LoggedRequest, Token},
};
use crate::{
    faults::Rule,
    github_repo::API_PREFIX,
    http::{self, lock},
    iam::IdentityPolicy,
    oidc, router,
    state::{DEFAULT_TOKEN_SECONDS, State},
    util,
};

/// A running emulator; dropping it stops the server.
pub struct Emulator {
    // Field order: the server stops (and its threads end) before the state goes.
    server: http::Server,
    state: Arc<State>,
}

impl Emulator {
    /// Binds 127.0.0.1 (a free port unless `config.port`), prepares the package
    /// folder and the password file, and starts serving.
    pub fn start(config: EmulatorConfig) -> anyhow::Result<Emulator> {
        config.validate().context("invalid castack emulator configuration")?;
        let port = config.port.unwrap_or(0);
        let listener = TcpListener::bind(("127.0.0.1", port)).with_context(|| {
            format!(
                "the castack emulator cannot listen on 127.0.0.1:{port}; choose another port or let it pick a free one"
            )
        })?;
        let addr = listener.local_addr()?;
        std::fs::create_dir_all(&config.package_dir)
            .with_context(|| format!("cannot create the package folder {}", config.package_dir.display()))?;
        // Without /dev/urandom no token can be made: say so now, not in a request.
        util::try_random_bytes(1)?;
        let state = Arc::new(State::new(config, addr));
        // No token yet: the file holds a random password nobody knows.
        state.write_htpasswd(None)?;
        let handler_state = state.clone();
        let server = http::Server::start(listener, Arc::new(move |req| router::handle(&handler_state, req)))
            .context("cannot start the castack emulator's server thread")?;
        Ok(Emulator { server, state })
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// `http://127.0.0.1:PORT`: the CodeArtifact endpoint
    /// (`AWS_ENDPOINT_URL_CODEARTIFACT`), and the STS endpoint
    /// (`AWS_ENDPOINT_URL_STS`) when [`EmulatorConfig::sts_upstream`] is set.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr())
    }

    pub fn config(&self) -> &EmulatorConfig {
        &self.state.config
    }

    /// What GetRepositoryEndpoint returns: `http://127.0.0.1:PORT/pypi/REPO/`.
    pub fn pypi_endpoint(&self) -> String {
        self.state.endpoint("pypi")
    }

    /// pip's index URL with credentials: `http://aws:TOKEN@127.0.0.1:PORT/pypi/REPO/simple/`.
    pub fn index_url(&self, token: &str) -> String {
        format!(
            "http://aws:{}@{}/pypi/{}/simple/",
            util::percent_encode(token),
            self.addr(),
            self.state.config.repository
        )
    }

    /// Base URL of the JSON control API: `http://127.0.0.1:PORT/_castack`.
    pub fn control_url(&self) -> String {
        format!("{}/_castack", self.url())
    }

    /// `ACTIONS_ID_TOKEN_REQUEST_URL`: already has `?api-version=2.0`, so clients
    /// append `&audience=…`.
    pub fn oidc_token_url(&self) -> String {
        format!("{}/_github/oidc/token?api-version=2.0", self.url())
    }

    /// `ACTIONS_ID_TOKEN_REQUEST_TOKEN`.
    pub fn oidc_request_token(&self) -> &str {
        &self.state.oidc_request_token
    }

    /// The two variables a GitHub runner sets for a job with `id-token: write`.
    pub fn oidc_env(&self) -> Vec<(String, String)> {
        vec![
            ("ACTIONS_ID_TOKEN_REQUEST_URL".to_owned(), self.oidc_token_url()),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN".to_owned(), self.oidc_request_token().to_owned()),
        ]
    }

    /// `GITHUB_API_URL` of the fake GitHub REST API: `http://127.0.0.1:PORT/_github/api`.
    pub fn github_api_url(&self) -> String {
        format!("{}{API_PREFIX}", self.url())
    }

    /// The bearer token the fake GitHub API accepts (`GITHUB_TOKEN` of a job).
    pub fn github_token(&self) -> String {
        self.state.github_repo().1
    }

    /// What the fake GitHub API serves.
    pub fn github_repo(&self) -> GithubRepo {
        self.state.github_repo().0
    }

    /// Replaces what the fake GitHub API serves (environments, subject template,
    /// rulesets, ids, users, forbidden endpoints, secrets); [`Emulator::reset`]
    /// restores the start one.
    pub fn set_github_repo(&self, repo: GithubRepo) {
        self.state.set_github_repo(repo);
    }

    /// The Actions secrets written to the fake GitHub API, decrypted with its keys
    /// (repository and environment secrets, in the order they were first written).
    pub fn github_secrets(&self) -> Vec<GithubSecret> {
        self.state.github_repo().0.secrets
    }

    /// A JWT as the OIDC endpoint would issue it for `audience` (default
    /// `sts.amazonaws.com`), without an HTTP round trip.
    pub fn mint_oidc_token(&self, audience: Option<&str>) -> String {
        oidc::mint_jwt(&self.state, audience)
    }

    /// The claims template (defaults, overrides, derived `sub`), without the
    /// per-token time claims, `aud` and `jti`.
    pub fn oidc_claims(&self) -> Map<String, Value> {
        self.state.claims_template()
    }

    /// Merges `claims` into the OIDC claim overrides (`null` removes a claim). `sub`
    /// follows `repository`, `environment` and `ref` unless it is set explicitly.
    pub fn set_oidc_claims(&self, claims: Map<String, Value>) {
        self.state.set_oidc_claims(claims);
    }

    /// Adds a fault (see [`Fault`] and [`Rule`]).
    pub fn inject(&self, rule: impl Into<Rule>) -> anyhow::Result<()> {
        let rule = rule.into();
        rule.validate()?;
        lock(&self.state.inner).faults.add(rule);
        Ok(())
    }

    /// The faults still active (used-up ones are gone).
    pub fn faults(&self) -> Vec<Rule> {
        lock(&self.state.inner).faults.list()
    }

    pub fn clear_faults(&self) {
        lock(&self.state.inner).faults.clear();
    }

    /// The request log, oldest first.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.state.requests()
    }

    pub fn clear_requests(&self) {
        self.state.clear_requests();
    }

    /// Faults, request log, OIDC claims, origin restrictions, publishing latency and
    /// the fake GitHub repository back to the start configuration. The current token
    /// stays valid, and what the repository holds stays as it is.
    pub fn reset(&self) {
        self.state.reset();
    }

    /// Enforces `policy` (an IAM policy document, such as the one `cargo xtask
    /// iam-policy` prints) on every CodeArtifact call and PyPI-endpoint request from
    /// now on, as the caller's identity policy; `None` allows everything again.
    /// [`Emulator::reset`] removes it.
    pub fn set_identity_policy(&self, policy: Option<&Value>) -> anyhow::Result<()> {
        let parsed = policy.map(IdentityPolicy::parse).transpose()?;
        lock(&self.state.inner).identity_policy = parsed;
        Ok(())
    }

    /// Holds every package to `origin` from now on, whatever its own origin
    /// configuration says (as if an administrator had put it on each one), until
    /// [`Emulator::reset`]: DescribePackage reports it, uploads and ingestion obey it.
    pub fn set_origin_restrictions(&self, origin: OriginRestrictions) {
        lock(&self.state.inner).origin = Some(origin);
    }

    /// The origin controls imposed on every package, if a test imposed some.
    pub fn origin_restrictions(&self) -> Option<OriginRestrictions> {
        lock(&self.state.inner).origin
    }

    /// The origin configuration `package` has in the repository (its PEP 503 name):
    /// what DescribePackage reports, the imposed restrictions aside. `None`: no
    /// record yet (its first version, or PutPackageOriginConfiguration, makes one).
    pub fn package_origin(&self, package: &str) -> Option<OriginRestrictions> {
        lock(&self.state.store).record(&crate::pypi::normalize_name(package))
    }

    /// The token GetAuthorizationToken hands out now, if one is valid.
    pub fn current_token(&self) -> Option<Token> {
        self.state.current_token()
    }

    /// What GetAuthorizationToken would return (issuing a token if none is valid),
    /// for tests that need a token without a signed request. `duration_seconds`
    /// follows the API: `None` 12 h, `Some(0)` 1 h.
    pub fn issue_token(&self, duration_seconds: Option<u64>) -> anyhow::Result<Token> {
        self.state.issue_token(duration_seconds.unwrap_or(DEFAULT_TOKEN_SECONDS))
    }

    /// Ends the current token now: the PyPI endpoint refuses it, and the next
    /// GetAuthorizationToken issues a fresh one. Returns whether a token was active.
    pub fn expire_token(&self) -> anyhow::Result<bool> {
        self.state.expire_token()
    }

    /// Replaces the current token by a fresh one (12 h); the old one is refused from
    /// now on. Returns the new token.
    pub fn rotate_token(&self) -> anyhow::Result<Token> {
        self.state.rotate_token()
    }

    /// Every CodeArtifact token this emulator has issued (GetAuthorizationToken,
    /// [`Emulator::issue_token`], [`Emulator::rotate_token`]), oldest first, each
    /// once. For leak tests; in memory only.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.state.issued_tokens()
    }

    /// Every OIDC JWT the fake GitHub endpoint (or [`Emulator::mint_oidc_token`]) has
    /// issued, oldest first. For leak tests; in memory only.
    pub fn issued_oidc_tokens(&self) -> Vec<String> {
        self.state.issued_oidc_tokens()
    }

    /// The `SecretAccessKey` and `SessionToken` values of every successful STS
    /// answer the emulator forwarded (AssumeRoleWithWebIdentity, AssumeRole, …), and
    /// of the stack's own session of the domain owner's role, oldest first. For leak
    /// tests; in memory only.
    pub fn issued_sts_secrets(&self) -> Vec<String> {
        self.state.issued_sts_secrets()
    }

    /// Adds a session the stack obtained from moto itself (not through the emulator):
    /// its signatures are accepted until `expires`, and its secrets count as issued.
    pub(crate) fn record_issued_session(&self, key: AwsKey, expires: Option<u64>) {
        self.state.record_sts_session(key, expires);
    }

    /// Accepts SigV4 signatures of `key` from now on (a test's own credentials; the
    /// configured ones are [`EmulatorConfig::credentials`]). With a session token,
    /// requests must carry it. Kept across [`Emulator::reset`].
    pub fn add_credentials(&self, key: AwsKey) {
        lock(&self.state.keyring).add_static(key);
    }

    /// How the fake OIDC endpoint signs the tokens it issues from now on;
    /// [`Emulator::reset`] restores [`OidcSigning::Valid`]. An expired token comes from
    /// the claims instead: `set_oidc_claims` with an `exp` in the past.
    pub fn set_oidc_signing(&self, signing: OidcSigning) {
        lock(&self.state.inner).oidc_signing = signing;
    }

    /// How long an upload stays out of listings, the index and downloads now.
    pub fn publish_latency(&self) -> Duration {
        lock(&self.state.store).latency()
    }

    /// Sets the publishing latency for uploads from now on (at most
    /// [`crate::MAX_DELAY_MS`]); [`Emulator::reset`] restores the configured one.
    pub fn set_publish_latency(&self, latency: Duration) -> anyhow::Result<()> {
        if latency > Duration::from_millis(crate::MAX_DELAY_MS) {
            anyhow::bail!(
                "a publish latency of {} ms is above the limit of {} ms",
                latency.as_millis(),
                crate::MAX_DELAY_MS
            );
        }
        lock(&self.state.store).set_latency(latency);
        Ok(())
    }
}
