//! The emulator: one in-process HTTP server on 127.0.0.1 that answers the
//! CodeArtifact control plane, forwards the PyPI endpoint to pypiserver and STS to
//! moto_server, plays GitHub's OIDC token endpoint, and takes orders from tests
//! (fault injection, request log, issued secrets) through a Rust API and a JSON
//! control API under `/_castack/`.

use std::{
    collections::BTreeMap,
    net::{SocketAddr, TcpListener},
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use anyhow::{Context, bail};
use serde_json::{Map, Value, json};

use crate::{
    faults::{Fault, Faults, Rule},
    http::{self, Request, Response, lock},
    pypi,
    util::{self, Query},
};

/// The account that owns the emulated domain unless configured otherwise: the
/// account of the AWS documentation examples, chosen to differ from moto's default
/// account (123456789012) so a test can tell the two apart.
pub const DEFAULT_ACCOUNT: &str = "111122223333";
pub const DEFAULT_REGION: &str = "us-east-1";
pub const DEFAULT_DOMAIN: &str = "sandbox-domain";
pub const DEFAULT_REPOSITORY: &str = "sandbox-repo";
/// The role name in the default principal of AccessDenied messages.
pub const DEFAULT_ROLE: &str = "ci-publisher";

/// Default token lifetime when GetAuthorizationToken has no `duration` (12 h).
const DEFAULT_TOKEN_SECONDS: u64 = 43_200;
/// Lifetime for `duration=0`, which AWS ties to the caller's session; castack
/// assumes a one-hour session.
const SESSION_TOKEN_SECONDS: u64 = 3_600;
/// The request log keeps this many entries, newest last.
const LOG_LIMIT: usize = 10_000;
/// Each list of issued secrets keeps this many, newest last: far more than a test
/// issues, and a bound on the memory of a long-running `castack` binary.
const ISSUED_LIMIT: usize = 10_000;

/// A package origin restriction value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Restriction {
    Allow,
    Block,
}

impl Restriction {
    pub fn as_str(self) -> &'static str {
        match self {
            Restriction::Allow => "ALLOW",
            Restriction::Block => "BLOCK",
        }
    }

    pub(crate) fn parse(text: &str) -> anyhow::Result<Restriction> {
        match text {
            "ALLOW" => Ok(Restriction::Allow),
            "BLOCK" => Ok(Restriction::Block),
            _ => bail!("origin restriction must be \"ALLOW\" or \"BLOCK\", not {text:?}"),
        }
    }
}

/// `originConfiguration.restrictions` that DescribePackage reports for every
/// package. `publish: Block` also makes the PyPI endpoint refuse uploads (403), as
/// CodeArtifact does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OriginRestrictions {
    pub publish: Restriction,
    pub upstream: Restriction,
}

/// A repository without upstreams: publishing allowed, upstream blocked.
impl Default for OriginRestrictions {
    fn default() -> OriginRestrictions {
        OriginRestrictions { publish: Restriction::Allow, upstream: Restriction::Block }
    }
}

/// What the emulator serves.
#[derive(Clone, Debug)]
pub struct EmulatorConfig {
    pub account: String,
    pub region: String,
    pub domain: String,
    pub repository: String,
    /// pypiserver's package folder: the source of every package, version and asset
    /// answer. Created if missing.
    pub package_dir: PathBuf,
    /// pypiserver's password file; the current token is written into it (hashed)
    /// as the password of user `aws`. `None`: no file (no pypiserver behind).
    pub htpasswd: Option<PathBuf>,
    /// pypiserver's address; `None` makes the PyPI endpoint answer 502.
    pub upstream: Option<SocketAddr>,
    /// moto_server's address, where STS requests are forwarded; `None` makes them
    /// answer 502 (injected STS faults still answer).
    pub sts_upstream: Option<SocketAddr>,
    pub origin: OriginRestrictions,
    /// Principal ARN in AccessDenied messages; default
    /// `arn:aws:sts::<account>:assumed-role/ci-publisher/castack`.
    pub principal: Option<String>,
    /// The bearer token the fake OIDC endpoint wants (`ACTIONS_ID_TOKEN_REQUEST_TOKEN`);
    /// `None`: a random one.
    pub oidc_request_token: Option<String>,
    /// Claims that replace or add to [`default_oidc_claims`]; `null` removes one.
    pub oidc_claims: Map<String, Value>,
    /// Port to listen on; `None`: a free one.
    pub port: Option<u16>,
    /// Print one line per request to stderr (the binary does).
    pub echo_requests: bool,
}

impl EmulatorConfig {
    pub fn new(package_dir: impl Into<PathBuf>) -> EmulatorConfig {
        EmulatorConfig {
            account: DEFAULT_ACCOUNT.to_owned(),
            region: DEFAULT_REGION.to_owned(),
            domain: DEFAULT_DOMAIN.to_owned(),
            repository: DEFAULT_REPOSITORY.to_owned(),
            package_dir: package_dir.into(),
            htpasswd: None,
            upstream: None,
            sts_upstream: None,
            origin: OriginRestrictions::default(),
            principal: None,
            oidc_request_token: None,
            oidc_claims: Map::new(),
            port: None,
            echo_requests: false,
        }
    }

    fn validate(&self) -> anyhow::Result<()> {
        if !valid_domain(&self.domain) {
            bail!("domain {:?} is not a valid CodeArtifact domain name ([a-z][a-z0-9-]{{0,48}}[a-z0-9])", self.domain);
        }
        if !valid_account(&self.account) {
            bail!("account {:?} must be 12 digits", self.account);
        }
        if !valid_repository(&self.repository) {
            bail!(
                "repository {:?} is not a valid CodeArtifact repository name ([A-Za-z0-9][A-Za-z0-9._-]{{1,99}})",
                self.repository
            );
        }
        if self.region.is_empty()
            || !self.region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            bail!("region {:?} does not look like an AWS region such as us-east-1", self.region);
        }
        Ok(())
    }
}

/// The claims of every JWT the fake OIDC endpoint issues, before the per-token
/// `aud`, `iat`, `nbf`, `exp` and `jti`: a release job of `octo-org/yamause` in the
/// environment `release`, run from `main`. GitHub sends ids as strings; so does
/// castack.
pub fn default_oidc_claims() -> Map<String, Value> {
    let claims = json!({
        "iss": "https://token.actions.githubusercontent.com",
        "sub": "repo:octo-org/yamause:environment:release",
        "repository": "octo-org/yamause",
        "repository_owner": "octo-org",
        "repository_id": "100000001",
        "repository_owner_id": "100000000",
        "repository_visibility": "private",
        "ref": "refs/heads/main",
        "ref_type": "branch",
        "sha": "0000000000000000000000000000000000000000",
        "environment": "release",
        "event_name": "workflow_dispatch",
        "actor": "octocat",
        "actor_id": "1",
        "workflow": "release",
        "workflow_ref": "octo-org/yamause/.github/workflows/release.yml@refs/heads/main",
        "job_workflow_ref": "octo-org/yamause/.github/workflows/release.yml@refs/heads/main",
        "run_id": "1",
        "run_number": "1",
        "run_attempt": "1",
        "runner_environment": "github-hosted",
    });
    match claims {
        Value::Object(map) => map,
        _ => unreachable!(),
    }
}

/// One request the emulator answered. Tokens, passwords, `Authorization` values
/// and bodies are never recorded.
#[derive(Clone, Debug, PartialEq)]
pub struct LoggedRequest {
    pub time: SystemTime,
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// The query, for CodeArtifact operations and the OIDC endpoint only.
    pub query: Option<String>,
    /// A CodeArtifact operation name, `pypi-upload`, `pypi-download`, `pypi-index`,
    /// `pypi-other`, `oidc`, an STS action name (`AssumeRoleWithWebIdentity`,
    /// `GetCallerIdentity`, …; `sts` when the request names none), or `unknown`.
    pub operation: String,
    /// HTTP status; 0 when the connection was closed without an answer.
    pub status: u16,
    /// From the SigV4 `Credential` (never the signature); `None` for unsigned calls
    /// such as AssumeRoleWithWebIdentity.
    pub access_key_id: Option<String>,
    /// The HTTP Basic user name on the PyPI endpoint (never the password).
    pub user: Option<String>,
    /// The uploaded file name, for uploads.
    pub file: Option<String>,
    /// The `Via` header: set by a forward proxy the request came through (the proxy
    /// tests check which calls went through one). proxy.py sets it on the first
    /// request of a connection only, hence `connection`.
    pub via: Option<String>,
    /// Which connection to the emulator the request came on.
    pub connection: u64,
}

impl LoggedRequest {
    pub fn to_json(&self) -> Value {
        json!({
            "time": util::epoch_secs(self.time),
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "operation": self.operation,
            "status": self.status,
            "accessKeyId": self.access_key_id,
            "user": self.user,
            "file": self.file,
            "via": self.via,
            "connection": self.connection,
        })
    }
}

/// A CodeArtifact authorization token. `Debug` does not show the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    pub value: String,
    pub expiration: SystemTime,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token").field("value", &"<redacted>").field("expiration", &self.expiration).finish()
    }
}

/// A running emulator; dropping it stops the server.
pub struct Emulator {
    // Field order: the server stops (and its threads end) before the state goes.
    server: http::Server,
    state: Arc<State>,
}

pub(crate) struct State {
    pub config: EmulatorConfig,
    pub addr: SocketAddr,
    created: SystemTime,
    principal: String,
    oidc_request_token: String,
    encryption_key: String,
    pub inner: Mutex<Inner>,
    log: Mutex<Vec<LoggedRequest>>,
    issued: Mutex<Issued>,
}

/// Secrets the stack handed out, for tests that prove none of them leaks into
/// output. Memory only: never logged, written to disk or served by the control
/// API, and kept across [`Emulator::reset`] ("ever issued").
#[derive(Default)]
struct Issued {
    tokens: Vec<String>,
    oidc_tokens: Vec<String>,
    sts_secrets: Vec<String>,
}

fn push_bounded(list: &mut Vec<String>, values: impl IntoIterator<Item = String>) {
    list.extend(values);
    let excess = list.len().saturating_sub(ISSUED_LIMIT);
    list.drain(..excess);
}

pub(crate) struct Inner {
    pub faults: Faults,
    token: Option<Token>,
    pub origin: OriginRestrictions,
    oidc_claims: Map<String, Value>,
    /// The identity policy of the caller, when a test set one: every CodeArtifact
    /// action (and the bearer token) is then checked against it.
    pub identity_policy: Option<crate::iam::IdentityPolicy>,
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
        util::try_random_bytes(1)?;
        let principal = config
            .principal
            .clone()
            .unwrap_or_else(|| format!("arn:aws:sts::{}:assumed-role/{DEFAULT_ROLE}/castack", config.account));
        let oidc_request_token = config.oidc_request_token.clone().unwrap_or_else(|| util::random_hex(24));
        let state = Arc::new(State {
            addr,
            created: SystemTime::now(),
            principal,
            oidc_request_token,
            encryption_key: format!("arn:aws:kms:{}:{}:key/{}", config.region, config.account, util::uuid()),
            inner: Mutex::new(Inner {
                faults: Faults::default(),
                token: None,
                origin: config.origin,
                oidc_claims: config.oidc_claims.clone(),
                identity_policy: None,
            }),
            log: Mutex::new(Vec::new()),
            issued: Mutex::default(),
            config,
        });
        // No token yet: the file holds a random password nobody knows.
        state.write_htpasswd(None)?;
        let handler_state = state.clone();
        let server = http::Server::start(listener, Arc::new(move |req| handle(&handler_state, req)))
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

    /// A JWT as the OIDC endpoint would issue it for `audience` (default
    /// `sts.amazonaws.com`), without an HTTP round trip.
    pub fn mint_oidc_token(&self, audience: Option<&str>) -> String {
        self.state.mint_jwt(audience)
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

    /// Faults, request log, OIDC claims and origin restrictions back to the start
    /// configuration. The current token stays valid.
    pub fn reset(&self) {
        self.state.reset();
    }

    /// Enforces `policy` (an IAM policy document, such as the one `cargo xtask
    /// iam-policy` prints) on every CodeArtifact call and PyPI-endpoint request from
    /// now on, as the caller's identity policy; `None` allows everything again.
    /// [`Emulator::reset`] removes it.
    pub fn set_identity_policy(&self, policy: Option<&Value>) -> anyhow::Result<()> {
        let parsed = policy.map(crate::iam::IdentityPolicy::parse).transpose()?;
        lock(&self.state.inner).identity_policy = parsed;
        Ok(())
    }

    pub fn set_origin_restrictions(&self, origin: OriginRestrictions) {
        lock(&self.state.inner).origin = origin;
    }

    pub fn origin_restrictions(&self) -> OriginRestrictions {
        lock(&self.state.inner).origin
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
        lock(&self.state.issued).tokens.clone()
    }

    /// Every OIDC JWT the fake GitHub endpoint (or [`Emulator::mint_oidc_token`]) has
    /// issued, oldest first. For leak tests; in memory only.
    pub fn issued_oidc_tokens(&self) -> Vec<String> {
        lock(&self.state.issued).oidc_tokens.clone()
    }

    /// The `SecretAccessKey` and `SessionToken` values of every successful STS
    /// answer the emulator forwarded (AssumeRoleWithWebIdentity, AssumeRole, …),
    /// oldest first. For leak tests; in memory only.
    pub fn issued_sts_secrets(&self) -> Vec<String> {
        lock(&self.state.issued).sts_secrets.clone()
    }
}

impl State {
    pub(crate) fn endpoint(&self, format: &str) -> String {
        format!("http://{}/{format}/{}/", self.addr, self.config.repository)
    }

    pub(crate) fn oidc_request_token(&self) -> &str {
        &self.oidc_request_token
    }

    pub(crate) fn requests(&self) -> Vec<LoggedRequest> {
        lock(&self.log).clone()
    }

    pub(crate) fn clear_requests(&self) -> usize {
        std::mem::take(&mut *lock(&self.log)).len()
    }

    pub(crate) fn set_oidc_claims(&self, claims: Map<String, Value>) {
        let mut inner = lock(&self.inner);
        for (key, value) in claims {
            inner.oidc_claims.insert(key, value);
        }
    }

    pub(crate) fn reset_oidc_claims(&self) {
        lock(&self.inner).oidc_claims = self.config.oidc_claims.clone();
    }

    pub(crate) fn current_token(&self) -> Option<Token> {
        let mut inner = lock(&self.inner);
        self.sweep(&mut inner);
        inner.token.clone()
    }

    pub(crate) fn expire_token(&self) -> anyhow::Result<bool> {
        let mut inner = lock(&self.inner);
        let had = inner.token.take().is_some();
        self.write_htpasswd(None)?;
        Ok(had)
    }

    pub(crate) fn rotate_token(&self) -> anyhow::Result<Token> {
        let mut inner = lock(&self.inner);
        inner.token = None;
        self.mint_token(&mut inner, DEFAULT_TOKEN_SECONDS)
    }

    pub(crate) fn reset(&self) {
        {
            let mut inner = lock(&self.inner);
            inner.faults.clear();
            inner.identity_policy = None;
            inner.origin = self.config.origin;
            inner.oidc_claims = self.config.oidc_claims.clone();
        }
        lock(&self.log).clear();
    }

    /// Forgets the token once its time is up, so pypiserver refuses it too.
    pub(crate) fn sweep(&self, inner: &mut Inner) {
        if inner.token.as_ref().is_some_and(|it| it.expiration <= SystemTime::now()) {
            inner.token = None;
            if let Err(err) = self.write_htpasswd(None) {
                eprintln!("castack: {err:#}");
            }
        }
    }

    /// Whether `password` is the token that is valid now.
    pub(crate) fn token_is_valid(&self, password: &str) -> bool {
        let mut inner = lock(&self.inner);
        self.sweep(&mut inner);
        inner.token.as_ref().is_some_and(|it| constant_time_eq(it.value.as_bytes(), password.as_bytes()))
    }

    fn issue_token(&self, seconds: u64) -> anyhow::Result<Token> {
        let mut inner = lock(&self.inner);
        self.sweep(&mut inner);
        // One password per user fits in pypiserver's file, so the same token is handed
        // out until it expires, and a release that holds it keeps working.
        if let Some(token) = &inner.token {
            return Ok(token.clone());
        }
        self.mint_token(&mut inner, seconds)
    }

    fn mint_token(&self, inner: &mut Inner, seconds: u64) -> anyhow::Result<Token> {
        let now = util::now_secs();
        let exp = now + seconds;
        // Shaped like a real token: five base64url segments, the first a JSON header
        // that starts `{"ver":1,"isu":` (so the text starts `eyJ2ZXIiOjEsImlzdSI6`).
        let header = format!(
            r#"{{"ver":1,"isu":{now},"enc":"A128GCM","tag":"{}","exp":{exp},"alg":"A128GCMKW","iv":"{}"}}"#,
            util::b64url(&util::random_bytes(16)),
            util::b64url(&util::random_bytes(12)),
        );
        let value = [
            util::b64url(header.as_bytes()),
            util::b64url(&util::random_bytes(24)),
            util::b64url(&util::random_bytes(12)),
            util::b64url(&util::random_bytes(900)),
            util::b64url(&util::random_bytes(16)),
        ]
        .join(".");
        let token = Token { value, expiration: UNIX_EPOCH + Duration::from_secs(exp) };
        self.write_htpasswd(Some(&token.value))?;
        push_bounded(&mut lock(&self.issued).tokens, [token.value.clone()]);
        inner.token = Some(token.clone());
        Ok(token)
    }

    /// Writes `aws:{SHA}<base64 SHA-1>` (passlib's `ldap_sha1`, which pypiserver's
    /// htpasswd reader accepts): the token is never stored in plain text. Without a
    /// token the password is random, so nothing authenticates.
    fn write_htpasswd(&self, token: Option<&str>) -> anyhow::Result<()> {
        use sha1::{Digest, Sha1};
        let Some(path) = &self.config.htpasswd else { return Ok(()) };
        let random;
        let password = match token {
            Some(it) => it,
            None => {
                random = util::random_hex(32);
                &random
            }
        };
        let line = format!("aws:{{SHA}}{}\n", util::b64std(&Sha1::digest(password.as_bytes())));
        util::write_atomic(path, line.as_bytes()).context("cannot update pypiserver's password file")
    }

    pub(crate) fn claims_template(&self) -> Map<String, Value> {
        let overrides = lock(&self.inner).oidc_claims.clone();
        let mut claims = default_oidc_claims();
        for (key, value) in &overrides {
            if value.is_null() {
                claims.remove(key);
            } else {
                claims.insert(key.clone(), value.clone());
            }
        }
        if !overrides.contains_key("sub") {
            // GitHub's default subject: environment first, then the ref.
            let repository = claims.get("repository").and_then(Value::as_str).unwrap_or("").to_owned();
            let sub =
                match (claims.get("environment").and_then(Value::as_str), claims.get("ref").and_then(Value::as_str)) {
                    (Some(env), _) => format!("repo:{repository}:environment:{}", env.replace(':', "%3A")),
                    (None, Some(git_ref)) => format!("repo:{repository}:ref:{git_ref}"),
                    (None, None) => format!("repo:{repository}"),
                };
            claims.insert("sub".to_owned(), json!(sub));
        }
        claims
    }

    /// A JWT with the configured claims. The signature is random bytes: nothing in
    /// the stack verifies it (moto accepts any web identity token).
    fn mint_jwt(&self, audience: Option<&str>) -> String {
        let mut claims = self.claims_template();
        let audience = audience
            .map(str::to_owned)
            .or_else(|| claims.get("aud").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_else(|| "sts.amazonaws.com".to_owned());
        let iat = util::now_secs();
        claims.insert("aud".into(), json!(audience));
        claims.insert("iat".into(), json!(iat));
        claims.insert("nbf".into(), json!(iat.saturating_sub(600)));
        claims.insert("exp".into(), json!(iat + 300));
        claims.insert("jti".into(), json!(util::uuid()));
        let header = r#"{"alg":"RS256","typ":"JWT","kid":"castack"}"#;
        let jwt = format!(
            "{}.{}.{}",
            util::b64url(header.as_bytes()),
            util::b64url(Value::Object(claims).to_string().as_bytes()),
            util::b64url(&util::random_bytes(256))
        );
        push_bounded(&mut lock(&self.issued).oidc_tokens, [jwt.clone()]);
        jwt
    }

    pub(crate) fn record_sts_secrets(&self, secrets: Vec<String>) {
        push_bounded(&mut lock(&self.issued).sts_secrets, secrets);
    }

    fn record(&self, entry: LoggedRequest) {
        if self.config.echo_requests {
            eprintln!(
                "castack: {} {} {} {}{}{}",
                if entry.status == 0 { "---".to_owned() } else { entry.status.to_string() },
                entry.method,
                entry.path,
                entry.operation,
                entry.access_key_id.as_deref().map(|it| format!(" key={it}")).unwrap_or_default(),
                entry.file.as_deref().map(|it| format!(" file={it}")).unwrap_or_default(),
            );
        }
        let mut log = lock(&self.log);
        if log.len() >= LOG_LIMIT {
            log.remove(0);
        }
        log.push(entry);
    }

    /// The denial message when the identity policy a test set refuses `action` on
    /// `resource` (with `context`), as IAM words it.
    pub(crate) fn policy_denies(&self, action: &str, resource: &str, context: &[(&str, &str)]) -> Option<String> {
        let inner = lock(&self.inner);
        let policy = inner.identity_policy.as_ref()?;
        (!policy.allows(action, resource, context)).then(|| self.deny_message(None, action, resource))
    }

    pub(crate) fn deny_message(&self, principal: Option<&str>, action: &str, resource: &str) -> String {
        let principal = principal.unwrap_or(&self.principal);
        format!(
            "User: {principal} is not authorized to perform: {action} on resource: {resource} \
             because no identity-based policy allows the {action} action"
        )
    }
}

pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What a handler knows about a request for the log.
#[derive(Default)]
pub(crate) struct Entry {
    pub operation: String,
    pub query: Option<String>,
    pub access_key_id: Option<String>,
    pub user: Option<String>,
    pub file: Option<String>,
}

fn handle(state: &State, req: Request) -> Response {
    let path = req.path().to_owned();
    if path == "/_castack" || path.starts_with("/_castack/") {
        return crate::control::handle(state, &req);
    }
    let method = req.method.clone();
    let (via, connection) = (req.header("via").map(str::to_owned), req.connection);
    let mut entry = Entry::default();
    let response = if path.starts_with("/_github/oidc/") {
        entry.operation = "oidc".to_owned();
        entry.query = req.query().map(str::to_owned);
        oidc(state, &req)
    } else if path.starts_with("/pypi/") {
        crate::proxy::handle(state, req, &mut entry)
    } else if let Some(call) = Op::route(&method, &path).is_none().then(|| crate::sts::detect(&req)).flatten() {
        // CodeArtifact routes come first, so no form body or signature can turn one
        // of them into an STS call.
        crate::sts::handle(state, &req, call, &mut entry)
    } else {
        control_plane(state, &req, &mut entry)
    };
    // Every answer carries a request id, as AWS answers do (pypiserver's too).
    let response = if response.headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("x-amzn-RequestId")) {
        response
    } else {
        response.with_header("x-amzn-RequestId", util::uuid())
    };
    let status = if response.after == http::After::Drop { 0 } else { response.status };
    state.record(LoggedRequest {
        time: SystemTime::now(),
        method,
        path,
        query: entry.query,
        operation: entry.operation,
        status,
        access_key_id: entry.access_key_id,
        user: entry.user,
        file: entry.file,
        via,
        connection,
    });
    response
}

// ---------------------------------------------------------------------------
// GitHub OIDC token endpoint

fn oidc(state: &State, req: &Request) -> Response {
    let error = |status, message: &str| Response::json(status, &json!({ "message": message }));
    if req.path() != "/_github/oidc/token" || req.method != "GET" {
        return error(404, "unknown OIDC path: the token endpoint is GET /_github/oidc/token");
    }
    let Some(authorization) = req.header("authorization") else {
        return error(401, "missing Authorization: bearer <ACTIONS_ID_TOKEN_REQUEST_TOKEN>");
    };
    let (scheme, token) = authorization.split_once(' ').unwrap_or((authorization, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return error(401, "the Authorization scheme must be bearer");
    }
    if !constant_time_eq(token.trim().as_bytes(), state.oidc_request_token.as_bytes()) {
        return error(403, "the bearer token is not this job's ACTIONS_ID_TOKEN_REQUEST_TOKEN");
    }
    let query = match Query::parse(req.query()) {
        Ok(it) => it,
        Err(err) => return error(400, &err),
    };
    let audience = query.get("audience").filter(|it| !it.is_empty());
    Response::json(200, &json!({ "value": state.mint_jwt(audience) }))
}

// ---------------------------------------------------------------------------
// CodeArtifact control plane

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Op {
    GetAuthorizationToken,
    GetRepositoryEndpoint,
    ListPackageVersions,
    DescribePackageVersion,
    ListPackageVersionAssets,
    DescribePackage,
    DescribeRepository,
    DescribeDomain,
}

impl Op {
    fn route(method: &str, path: &str) -> Option<Op> {
        Some(match (method, path) {
            ("POST", "/v1/authorization-token") => Op::GetAuthorizationToken,
            ("GET", "/v1/repository/endpoint") => Op::GetRepositoryEndpoint,
            ("POST", "/v1/package/versions") => Op::ListPackageVersions,
            ("GET", "/v1/package/version") => Op::DescribePackageVersion,
            ("POST", "/v1/package/version/assets") => Op::ListPackageVersionAssets,
            ("GET", "/v1/package") => Op::DescribePackage,
            ("GET", "/v1/repository") => Op::DescribeRepository,
            ("GET", "/v1/domain") => Op::DescribeDomain,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Op::GetAuthorizationToken => "GetAuthorizationToken",
            Op::GetRepositoryEndpoint => "GetRepositoryEndpoint",
            Op::ListPackageVersions => "ListPackageVersions",
            Op::DescribePackageVersion => "DescribePackageVersion",
            Op::ListPackageVersionAssets => "ListPackageVersionAssets",
            Op::DescribePackage => "DescribePackage",
            Op::DescribeRepository => "DescribeRepository",
            Op::DescribeDomain => "DescribeDomain",
        }
    }

    fn has_repository(self) -> bool {
        !matches!(self, Op::GetAuthorizationToken | Op::DescribeDomain)
    }

    fn has_package(self) -> bool {
        matches!(
            self,
            Op::ListPackageVersions | Op::DescribePackageVersion | Op::ListPackageVersionAssets | Op::DescribePackage
        )
    }

    fn has_version(self) -> bool {
        matches!(self, Op::DescribePackageVersion | Op::ListPackageVersionAssets)
    }

    fn paginated(self) -> bool {
        matches!(self, Op::ListPackageVersions | Op::ListPackageVersionAssets)
    }
}

/// An error answer in the rest-json shape both the Rust SDK and botocore read:
/// `x-amzn-ErrorType` header plus `__type` and `message` in the body.
pub(crate) struct ApiError {
    status: u16,
    code: &'static str,
    message: String,
    fields: Vec<(&'static str, Value)>,
    retry_after: Option<u32>,
}

impl ApiError {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into(), fields: Vec::new(), retry_after: None }
    }

    fn validation(reason: &str, message: impl Into<String>) -> ApiError {
        let mut err = ApiError::new(400, "ValidationException", message);
        err.fields.push(("reason", json!(reason)));
        err
    }

    fn not_found(kind: &str, id: &str, message: impl Into<String>) -> ApiError {
        let mut err = ApiError::new(404, "ResourceNotFoundException", message);
        err.fields.push(("resourceId", json!(id)));
        err.fields.push(("resourceType", json!(kind)));
        err
    }

    fn response(self, request_id: &str) -> Response {
        let mut body = json!({ "__type": self.code, "message": self.message });
        for (key, value) in self.fields {
            body[key] = value;
        }
        let mut response = Response::json(self.status, &body)
            .with_header("x-amzn-RequestId", request_id)
            .with_header("x-amzn-ErrorType", self.code);
        if let Some(seconds) = self.retry_after {
            response = response.with_header("Retry-After", seconds.to_string());
        }
        response
    }
}

fn control_plane(state: &State, req: &Request, entry: &mut Entry) -> Response {
    let request_id = util::uuid();
    let op = Op::route(&req.method, req.path());
    entry.operation = op.map_or("unknown", Op::name).to_owned();
    entry.query = req.query().map(str::to_owned);
    let result = op
        .ok_or_else(|| {
            ApiError::new(
                404,
                "UnknownOperationException",
                format!("No CodeArtifact operation is served at {} {}", req.method, req.path()),
            )
        })
        .and_then(|op| operation(state, req, op, entry));
    match result {
        Ok(body) => Response::json(200, &body).with_header("x-amzn-RequestId", &request_id),
        Err(err) => err.response(&request_id),
    }
}

/// The parameters every operation shares, after validation.
struct Target {
    domain: String,
    owner: String,
    repository: String,
    format: String,
    package: String,
    version: String,
}

fn operation(state: &State, req: &Request, op: Op, entry: &mut Entry) -> Result<Value, ApiError> {
    entry.access_key_id = Some(check_sigv4(req, &state.config.region)?);
    transient_faults(state, op.name())?;

    let query = Query::parse(req.query()).map_err(|err| ApiError::validation("CANNOT_PARSE", err))?;
    let target = validate(&query, op, &state.config.account)?;
    let cfg = &state.config;
    let domain_arn = format!("arn:aws:codeartifact:{}:{}:domain/{}", cfg.region, target.owner, target.domain);
    let repository_arn = format!(
        "arn:aws:codeartifact:{}:{}:repository/{}/{}",
        cfg.region, target.owner, target.domain, target.repository
    );
    let resource = match op {
        Op::GetAuthorizationToken | Op::DescribeDomain => domain_arn.clone(),
        Op::GetRepositoryEndpoint | Op::DescribeRepository => repository_arn.clone(),
        _ => format!(
            "arn:aws:codeartifact:{}:{}:package/{}/{}/{}//{}",
            cfg.region, target.owner, target.domain, target.repository, target.format, target.package
        ),
    };

    let denied = {
        let mut inner = lock(&state.inner);
        let codeartifact = inner.faults.take(op.name(), true, |fault| match fault {
            Fault::Deny { action, principal } if action == op.name() => Some(principal.clone()),
            _ => None,
        });
        match codeartifact {
            Some(principal) => {
                Some(state.deny_message(principal.as_deref(), &format!("codeartifact:{}", op.name()), &resource))
            }
            None if op == Op::GetAuthorizationToken => inner
                .faults
                .take(op.name(), true, |fault| match fault {
                    Fault::DenyServiceBearerToken { principal } => Some(principal.clone()),
                    _ => None,
                })
                .map(|principal| {
                    // IAM's resource for this action is not documented; the message
                    // names the action, which is what clients should match on.
                    let principal = principal.as_deref().unwrap_or(&state.principal);
                    format!(
                        "User: {principal} is not authorized to perform: sts:GetServiceBearerToken \
                         because no identity-based policy allows the sts:GetServiceBearerToken action"
                    )
                }),
            None => None,
        }
    };
    // The identity policy of the caller, when a test set one: the action on its
    // resource, and for a token also the bearer token scoped to CodeArtifact.
    let denied =
        denied.or_else(|| state.policy_denies(&format!("codeartifact:{}", op.name()), &resource, &[])).or_else(|| {
            (op == Op::GetAuthorizationToken)
                .then(|| {
                    let context = [("sts:AWSServiceName", "codeartifact.amazonaws.com")];
                    state.policy_denies("sts:GetServiceBearerToken", "*", &context)
                })
                .flatten()
        });
    if let Some(message) = denied {
        return Err(ApiError::new(403, "AccessDeniedException", message));
    }

    let (domain_gone, repository_gone) = {
        let mut inner = lock(&state.inner);
        let domain = inner.faults.take(op.name(), true, |f| (*f == Fault::DomainNotFound).then_some(())).is_some();
        let repository = op.has_repository()
            && inner.faults.take(op.name(), true, |f| (*f == Fault::RepositoryNotFound).then_some(())).is_some();
        (domain, repository)
    };
    if domain_gone || target.domain != cfg.domain || target.owner != cfg.account {
        return Err(ApiError::not_found(
            "domain",
            &target.domain,
            format!("Domain '{}' owned by account {} was not found.", target.domain, target.owner),
        ));
    }
    if op.has_repository() && (repository_gone || target.repository != cfg.repository) {
        return Err(ApiError::not_found(
            "repository",
            &target.repository,
            format!("Repository '{}' was not found in domain '{}'.", target.repository, target.domain),
        ));
    }

    match op {
        Op::GetAuthorizationToken => {
            let seconds = match query.get("duration") {
                None => DEFAULT_TOKEN_SECONDS,
                Some(_) => match parse_duration(&query)? {
                    0 => SESSION_TOKEN_SECONDS,
                    it => it,
                },
            };
            let token = state
                .issue_token(seconds)
                .map_err(|err| ApiError::new(500, "InternalServerException", format!("{err:#}")))?;
            Ok(json!({
                "authorizationToken": token.value,
                "expiration": util::epoch_secs(token.expiration),
            }))
        }
        Op::GetRepositoryEndpoint => Ok(json!({ "repositoryEndpoint": state.endpoint(&target.format) })),
        Op::DescribeDomain => {
            let size: u64 = pypi::scan(&cfg.package_dir).iter().map(|it| it.size).sum();
            Ok(json!({ "domain": {
                "name": target.domain,
                "owner": target.owner,
                "arn": domain_arn,
                "status": "Active",
                "createdTime": util::epoch_secs(state.created),
                "encryptionKey": state.encryption_key,
                "repositoryCount": 1,
                "assetSizeBytes": size,
                "s3BucketArn": format!("arn:aws:s3:::assets-{}-{}", cfg.account, cfg.region),
            }}))
        }
        Op::DescribeRepository => Ok(json!({ "repository": {
            "name": target.repository,
            "administratorAccount": cfg.account,
            "domainName": target.domain,
            "domainOwner": target.owner,
            "arn": repository_arn,
            "description": "castack sandbox repository (pypiserver behind a CodeArtifact emulator)",
            "upstreams": [],
            "externalConnections": [],
            "createdTime": util::epoch_secs(state.created),
        }})),
        _ => package_operation(state, op, &target, &query),
    }
}

/// Throttling, internal errors and delays: the faults that hit before validation,
/// as a busy service's front door would.
fn transient_faults(state: &State, operation: &str) -> Result<(), ApiError> {
    // PyPI endpoint names start with `pypi-`; everything else here is CodeArtifact.
    let control_plane = !operation.starts_with("pypi-");
    let delay = lock(&state.inner).faults.take(operation, control_plane, |fault| match fault {
        Fault::Slow { delay_ms } => Some(*delay_ms),
        _ => None,
    });
    if let Some(delay) = delay {
        std::thread::sleep(Duration::from_millis(delay));
    }
    let mut inner = lock(&state.inner);
    if let Some(seconds) = inner.faults.take(operation, control_plane, |fault| match fault {
        Fault::Throttle { retry_after_seconds } => Some(*retry_after_seconds),
        _ => None,
    }) {
        let mut err = ApiError::new(429, "ThrottlingException", "Rate exceeded");
        err.retry_after = Some(seconds);
        return Err(err);
    }
    if inner.faults.take(operation, control_plane, |f| (*f == Fault::InternalError).then_some(())).is_some() {
        return Err(ApiError::new(500, "InternalServerException", "An internal error occurred (injected by castack)"));
    }
    Ok(())
}

/// Runs the transient faults for a PyPI endpoint request; `Err` is a plain-text
/// answer.
pub(crate) fn pypi_transient_faults(state: &State, operation: &str) -> Result<(), Response> {
    transient_faults(state, operation).map_err(|err| {
        let mut response = Response::text(err.status, err.message);
        if let Some(seconds) = err.retry_after {
            response = response.with_header("Retry-After", seconds.to_string());
        }
        response
    })
}

/// Checks that a SigV4 `Authorization` header is present and scoped to CodeArtifact
/// in the configured region, and returns the access key id. The signature itself is
/// not verified (moto does not verify signatures by default either).
fn check_sigv4(req: &Request, region: &str) -> Result<String, ApiError> {
    let Some(value) = req.header("authorization") else {
        return Err(ApiError::new(403, "MissingAuthenticationTokenException", "Missing Authentication Token"));
    };
    let incomplete = || {
        ApiError::new(
            403,
            "IncompleteSignatureException",
            "The Authorization header must be 'AWS4-HMAC-SHA256 \
             Credential=<key>/<date>/<region>/codeartifact/aws4_request, SignedHeaders=..., Signature=...' \
             and the request needs an X-Amz-Date header",
        )
    };
    let params = value.strip_prefix("AWS4-HMAC-SHA256 ").ok_or_else(incomplete)?;
    let mut credential = None;
    let mut has_signed_headers = false;
    let mut has_signature = false;
    for param in params.split(',') {
        match param.trim().split_once('=') {
            Some(("Credential", it)) => credential = Some(it),
            Some(("SignedHeaders", it)) if !it.is_empty() => has_signed_headers = true,
            Some(("Signature", it)) if !it.is_empty() => has_signature = true,
            _ => {}
        }
    }
    let credential = credential.ok_or_else(incomplete)?;
    let parts: Vec<&str> = credential.split('/').collect();
    if parts.len() != 5
        || parts[0].is_empty()
        || parts[1].len() != 8
        || !parts[1].bytes().all(|b| b.is_ascii_digit())
        || parts[4] != "aws4_request"
        || !has_signed_headers
        || !has_signature
        || (req.header("x-amz-date").is_none() && req.header("date").is_none())
    {
        return Err(incomplete());
    }
    if parts[3] != "codeartifact" {
        return Err(ApiError::new(
            403,
            "InvalidSignatureException",
            "Credential should be scoped to correct service: 'codeartifact'.",
        ));
    }
    if parts[2] != region {
        return Err(ApiError::new(
            403,
            "InvalidSignatureException",
            format!("Credential should be scoped to a valid region. (this endpoint serves {region})"),
        ));
    }
    Ok(parts[0].to_owned())
}

fn required<'a>(query: &'a Query, wire: &str, member: &str) -> Result<&'a str, ApiError> {
    query.get(wire).ok_or_else(|| {
        ApiError::validation(
            "FIELD_VALIDATION_FAILED",
            format!(
                "1 validation error detected: Value null at '{member}' failed to satisfy constraint: \
                 Member must not be null"
            ),
        )
    })
}

fn invalid(value: &str, member: &str, constraint: &str) -> ApiError {
    let shown: String = value.chars().take(100).collect();
    ApiError::validation(
        "FIELD_VALIDATION_FAILED",
        format!(
            "1 validation error detected: Value '{shown}' at '{member}' failed to satisfy constraint: {constraint}"
        ),
    )
}

fn valid_domain(it: &str) -> bool {
    let b = it.as_bytes();
    (2..=50).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[b.len() - 1] != b'-'
}

fn valid_account(it: &str) -> bool {
    it.len() == 12 && it.bytes().all(|b| b.is_ascii_digit())
}

fn valid_repository(it: &str) -> bool {
    let b = it.as_bytes();
    (2..=100).contains(&b.len())
        && b[0].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || b"._-".contains(c))
}

fn valid_name(it: &str) -> bool {
    (1..=255).contains(&it.chars().count()) && !it.chars().any(|c| c == '#' || c == '/' || c.is_whitespace())
}

const FORMATS: [&str; 8] = ["npm", "pypi", "maven", "nuget", "generic", "ruby", "swift", "cargo"];

fn validate(query: &Query, op: Op, account: &str) -> Result<Target, ApiError> {
    let domain = required(query, "domain", "domain")?;
    if !valid_domain(domain) {
        return Err(invalid(
            domain,
            "domain",
            "Member must satisfy regular expression pattern: [a-z][a-z0-9\\-]{0,48}[a-z0-9]",
        ));
    }
    let owner = query.get("domain-owner").unwrap_or(account);
    if !valid_account(owner) {
        return Err(invalid(owner, "domainOwner", "Member must satisfy regular expression pattern: [0-9]{12}"));
    }
    let mut target = Target {
        domain: domain.to_owned(),
        owner: owner.to_owned(),
        repository: String::new(),
        format: String::new(),
        package: String::new(),
        version: String::new(),
    };
    if op.has_repository() {
        let repository = required(query, "repository", "repository")?;
        if !valid_repository(repository) {
            return Err(invalid(
                repository,
                "repository",
                "Member must satisfy regular expression pattern: [A-Za-z0-9][A-Za-z0-9._\\-]{1,99}",
            ));
        }
        target.repository = repository.to_owned();
    }
    if op == Op::GetRepositoryEndpoint || op.has_package() {
        let format = required(query, "format", "format")?;
        if !FORMATS.contains(&format) {
            return Err(invalid(
                format,
                "format",
                &format!("Member must satisfy enum value set: [{}]", FORMATS.join(", ")),
            ));
        }
        target.format = format.to_owned();
    }
    if op == Op::GetRepositoryEndpoint
        && let Some(kind) = query.get("endpointType")
        && kind != "ipv4"
        && kind != "dualstack"
    {
        return Err(invalid(kind, "endpointType", "Member must satisfy enum value set: [ipv4, dualstack]"));
    }
    if op.has_package() {
        if let Some(namespace) = query.get("namespace") {
            if !valid_name(namespace) {
                return Err(invalid(
                    namespace,
                    "namespace",
                    "Member must satisfy regular expression pattern: [^#/\\s]+",
                ));
            }
            if target.format == "pypi" {
                return Err(ApiError::validation(
                    "FIELD_VALIDATION_FAILED",
                    "PyPI packages have no namespace: omit the namespace parameter",
                ));
            }
        }
        let package = required(query, "package", "package")?;
        if !valid_name(package) {
            return Err(invalid(package, "package", "Member must satisfy regular expression pattern: [^#/\\s]+"));
        }
        target.package = package.to_owned();
    }
    if op.has_version() {
        let version = required(query, "version", "packageVersion")?;
        if !valid_name(version) {
            return Err(invalid(
                version,
                "packageVersion",
                "Member must satisfy regular expression pattern: [^#/\\s]+",
            ));
        }
        target.version = version.to_owned();
    }
    if op == Op::GetAuthorizationToken && query.get("duration").is_some() {
        parse_duration(query)?;
    }
    if op.paginated() {
        if let Some(max) = query.get("max-results")
            && !max.parse::<u32>().is_ok_and(|it| (1..=1000).contains(&it))
        {
            return Err(invalid(max, "maxResults", "Member must have value between 1 and 1000"));
        }
        if let Some(token) = query.get("next-token") {
            if token.is_empty() || token.len() > 2000 || token.chars().any(char::is_whitespace) {
                return Err(invalid(token, "nextToken", "Member must satisfy regular expression pattern: \\S+"));
            }
            parse_next_token(token)?;
        }
    }
    if op == Op::ListPackageVersions {
        let checks: [(&str, &str, &[&str]); 3] = [
            ("status", "status", &["Published", "Unfinished", "Unlisted", "Archived", "Disposed", "Deleted"]),
            ("sortBy", "sortBy", &["PUBLISHED_TIME"]),
            ("originType", "originType", &["INTERNAL", "EXTERNAL", "UNKNOWN"]),
        ];
        for (wire, member, allowed) in checks {
            if let Some(value) = query.get(wire)
                && !allowed.contains(&value)
            {
                return Err(invalid(
                    value,
                    member,
                    &format!("Member must satisfy enum value set: [{}]", allowed.join(", ")),
                ));
            }
        }
    }
    Ok(target)
}

fn parse_duration(query: &Query) -> Result<u64, ApiError> {
    let raw = query.get("duration").unwrap_or("");
    match raw.parse::<i64>() {
        Ok(0) => Ok(0),
        Ok(it) if (900..=43_200).contains(&it) => Ok(it as u64),
        Ok(_) => Err(invalid(raw, "durationSeconds", "Member must be 0 or between 900 and 43200")),
        Err(_) => Err(ApiError::validation(
            "CANNOT_PARSE",
            format!("durationSeconds must be an integer, not '{}'", raw.chars().take(100).collect::<String>()),
        )),
    }
}

/// Page tokens are `castack-<offset>`.
fn parse_next_token(token: &str) -> Result<usize, ApiError> {
    token.strip_prefix("castack-").and_then(|it| it.parse().ok()).ok_or_else(|| {
        ApiError::validation(
            "FIELD_VALIDATION_FAILED",
            "The next token is not valid; pass the nextToken of the previous page",
        )
    })
}

fn paginate<T>(items: Vec<T>, query: &Query) -> Result<(Vec<T>, Option<String>), ApiError> {
    let start = query.get("next-token").map(parse_next_token).transpose()?.unwrap_or(0);
    let max: usize = query.get("max-results").and_then(|it| it.parse().ok()).unwrap_or(100);
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(start).take(max).collect();
    let next = (start + max < total).then(|| format!("castack-{}", start + max));
    Ok((page, next))
}

/// Versions of one package: version → files, ordered by first publication.
struct PackageView {
    display_name: String,
    versions: Vec<VersionView>,
}

struct VersionView {
    version: String,
    published: SystemTime,
    files: Vec<pypi::DistFile>,
}

impl VersionView {
    /// Changes whenever an asset is added or replaced.
    fn revision(&self) -> String {
        let mut text = String::new();
        for file in &self.files {
            let nanos = file.modified.duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos();
            text.push_str(&format!("{}:{}:{nanos};", file.file_name, file.size));
        }
        pypi::sha256_hex(text.as_bytes())[..32].to_owned()
    }
}

fn load_package(dir: &Path, package: &str) -> Option<PackageView> {
    let files: Vec<pypi::DistFile> = pypi::scan(dir).into_iter().filter(|it| it.package == package).collect();
    let display_name = files.iter().min_by_key(|it| it.modified)?.project.clone();
    let mut by_version: BTreeMap<String, Vec<pypi::DistFile>> = BTreeMap::new();
    for file in files {
        by_version.entry(file.version.clone()).or_default().push(file);
    }
    let mut versions: Vec<VersionView> = by_version
        .into_iter()
        .map(|(version, files)| VersionView {
            published: files.iter().map(|it| it.modified).min().unwrap_or(UNIX_EPOCH),
            version,
            files,
        })
        .collect();
    versions.sort_by(|a, b| a.published.cmp(&b.published).then_with(|| a.version.cmp(&b.version)));
    Some(PackageView { display_name, versions })
}

fn package_operation(state: &State, op: Op, target: &Target, query: &Query) -> Result<Value, ApiError> {
    let not_found = || {
        let normalized = pypi::normalize_name(&target.package);
        let hint = if target.format == "pypi" && normalized != target.package {
            format!(" CodeArtifact stores PyPI names normalized: try '{normalized}'.")
        } else {
            String::new()
        };
        ApiError::not_found(
            "package",
            &target.package,
            format!(
                "Package '{}' of format {} was not found in repository '{}'.{hint}",
                target.package, target.format, target.repository
            ),
        )
    };
    if target.format != "pypi" {
        return Err(not_found());
    }
    let package = load_package(&state.config.package_dir, &target.package).ok_or_else(not_found)?;
    let origin = json!({
        "domainEntryPoint": { "repositoryName": target.repository },
        "originType": "INTERNAL",
    });
    let find_version = || {
        package.versions.iter().find(|it| it.version == target.version).ok_or_else(|| {
            ApiError::not_found(
                "package-version",
                &target.version,
                format!("Version '{}' of package '{}' was not found.", target.version, target.package),
            )
        })
    };
    match op {
        Op::DescribePackage => {
            let origin = lock(&state.inner).origin;
            Ok(json!({ "package": {
                "format": "pypi",
                "name": target.package,
                "originConfiguration": { "restrictions": {
                    "publish": origin.publish.as_str(),
                    "upstream": origin.upstream.as_str(),
                }},
            }}))
        }
        Op::ListPackageVersions => {
            let keep = query.get("status").is_none_or(|it| it == "Published")
                && query.get("originType").is_none_or(|it| it == "INTERNAL");
            let latest = package.versions.iter().max_by_key(|it| it.published).map(|it| it.version.clone());
            let versions: Vec<Value> = package
                .versions
                .iter()
                .filter(|_| keep)
                .map(|it| {
                    json!({
                        "version": it.version,
                        "revision": it.revision(),
                        "status": "Published",
                        "origin": origin,
                    })
                })
                .collect();
            let (page, next) = paginate(versions, query)?;
            let mut body = json!({
                "defaultDisplayVersion": latest,
                "format": "pypi",
                "package": target.package,
                "versions": page,
            });
            if let Some(next) = next {
                body["nextToken"] = json!(next);
            }
            Ok(body)
        }
        Op::DescribePackageVersion => {
            let version = find_version()?;
            Ok(json!({ "packageVersion": {
                "format": "pypi",
                "packageName": target.package,
                "displayName": package.display_name,
                "version": version.version,
                "publishedTime": util::epoch_secs(version.published),
                "revision": version.revision(),
                "status": "Published",
                "licenses": [],
                "origin": origin,
            }}))
        }
        Op::ListPackageVersionAssets => {
            let version = find_version()?;
            let mut assets = Vec::new();
            for file in &version.files {
                let hashes = pypi::hash_file(&file.path).map_err(|err| {
                    ApiError::new(500, "InternalServerException", format!("cannot read {}: {err}", file.file_name))
                })?;
                assets.push(json!({
                    "name": file.file_name,
                    "size": file.size,
                    "hashes": {
                        "MD5": hashes.md5,
                        "SHA-1": hashes.sha1,
                        "SHA-256": hashes.sha256,
                        "SHA-512": hashes.sha512,
                    },
                }));
            }
            let (page, next) = paginate(assets, query)?;
            let mut body = json!({
                "format": "pypi",
                "package": target.package,
                "version": version.version,
                "versionRevision": version.revision(),
                "assets": page,
            });
            if let Some(next) = next {
                body["nextToken"] = json!(next);
            }
            Ok(body)
        }
        _ => unreachable!("not a package operation: {op:?}"),
    }
}
