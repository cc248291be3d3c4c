//! The state every handler shares: the configuration, the current token and
//! pypiserver's password file, the fault rules, the origin restrictions a test
//! imposes (and each package's own, [`State::origin_of`]), OIDC claim
//! overrides and identity policy a test set, what the repository holds (the filings
//! of uploads and the publishing latency, `store.rs`), the request log, and the
//! secrets the stack has issued (for leak tests). Handlers depend on this module; it depends on
//! no handler, so the routing stays on top and nothing loops back to it.

use std::{
    net::SocketAddr,
    sync::Mutex,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use anyhow::Context;
use serde_json::{Map, Value, json};

use crate::{
    config::{DEFAULT_ROLE, EmulatorConfig, OidcSigning, OriginRestrictions, default_oidc_claims},
    faults::{Fault, Faults, Transient},
    github_repo::GithubRepo,
    github_secrets::GithubKeys,
    http::lock,
    iam::IdentityPolicy,
    keyring::{AwsKey, Keyring},
    operation::Operation,
    pypi::DistFile,
    store::Store,
    util,
};

/// Default token lifetime when GetAuthorizationToken has no `duration` (12 h).
pub(crate) const DEFAULT_TOKEN_SECONDS: u64 = 43_200;
/// Lifetime for `duration=0`, which AWS ties to the caller's session; castack
/// assumes a one-hour session.
pub(crate) const SESSION_TOKEN_SECONDS: u64 = 3_600;
/// The request log keeps this many entries, newest last.
const LOG_LIMIT: usize = 10_000;
/// Each list of issued secrets keeps this many, newest last: far more than a test
/// issues, and a bound on the memory of a long-running `castack` binary.
const ISSUED_LIMIT: usize = 10_000;

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
    /// A CodeArtifact operation, a PyPI-endpoint request (`pypi-upload`,
    /// `pypi-download`, `pypi-index`, `pypi-other`), `oidc`, an STS action
    /// (`AssumeRoleWithWebIdentity`, `GetCallerIdentity`, …; `sts` when the request
    /// names none), or `unknown`. It compares equal to those texts.
    pub operation: Operation,
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
            "operation": self.operation.as_str(),
            "status": self.status,
            "accessKeyId": self.access_key_id,
            "user": self.user,
            "file": self.file,
            "via": self.via,
            "connection": self.connection,
        })
    }
}

/// What a handler knows about a request for the log.
#[derive(Default)]
pub(crate) struct Entry {
    pub operation: Operation,
    pub query: Option<String>,
    pub access_key_id: Option<String>,
    pub user: Option<String>,
    pub file: Option<String>,
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

pub(crate) struct State {
    pub config: EmulatorConfig,
    pub addr: SocketAddr,
    pub created: SystemTime,
    /// The principal AccessDenied messages name unless a fault names another.
    pub principal: String,
    pub oidc_request_token: String,
    /// The bearer token of the fake GitHub API when the settings name none.
    pub github_token: String,
    /// The key pairs the fake GitHub API seals secrets with (this emulator's own).
    pub github_keys: GithubKeys,
    pub encryption_key: String,
    /// The HMAC key and key id the fake OIDC issuer signs its tokens with.
    pub oidc_key: Vec<u8>,
    pub oidc_key_id: String,
    /// The AWS keys SigV4 signatures are checked against.
    pub keyring: Mutex<Keyring>,
    pub inner: Mutex<Inner>,
    /// What the repository holds: filings of uploads, publishing latency.
    pub store: Mutex<Store>,
    log: Mutex<Vec<LoggedRequest>>,
    issued: Mutex<Issued>,
}

/// What tests change while the emulator runs.
pub(crate) struct Inner {
    pub faults: Faults,
    token: Option<Token>,
    /// Origin controls every package is held to, when a test imposes them.
    pub origin: Option<OriginRestrictions>,
    oidc_claims: Map<String, Value>,
    pub oidc_signing: OidcSigning,
    /// The identity policy of the caller, when a test set one: every CodeArtifact
    /// action (and the bearer token) is then checked against it.
    pub identity_policy: Option<IdentityPolicy>,
    /// What the fake GitHub REST API serves.
    pub github: GithubRepo,
}

/// Secrets the stack handed out, for tests that prove none of them leaks into
/// output. Memory only: never logged, written to disk or served by the control
/// API, and kept across [`crate::Emulator::reset`] ("ever issued").
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

impl State {
    /// The state of an emulator serving `config` at `addr`, without a token yet.
    pub(crate) fn new(config: EmulatorConfig, addr: SocketAddr) -> State {
        let principal = config
            .principal
            .clone()
            .unwrap_or_else(|| format!("arn:aws:sts::{}:assumed-role/{DEFAULT_ROLE}/castack", config.account));
        let oidc_request_token = config.oidc_request_token.clone().unwrap_or_else(|| util::random_hex(24));
        // Shaped like a GitHub token, so output scrubbing is tried on a realistic one.
        let github_token = format!("ghp_{}", util::random_hex(18));
        State {
            addr,
            created: SystemTime::now(),
            principal,
            oidc_request_token,
            github_token,
            github_keys: GithubKeys::default(),
            encryption_key: format!("arn:aws:kms:{}:{}:key/{}", config.region, config.account, util::uuid()),
            oidc_key: util::random_bytes(32),
            oidc_key_id: format!("castack-{}", util::random_hex(8)),
            keyring: Mutex::new(Keyring::new(&config.credentials)),
            inner: Mutex::new(Inner {
                faults: Faults::default(),
                token: None,
                origin: config.origin,
                oidc_claims: config.oidc_claims.clone(),
                oidc_signing: OidcSigning::Valid,
                identity_policy: None,
                github: config.github.clone(),
            }),
            store: Mutex::new(Store::new(config.publish_latency)),
            log: Mutex::new(Vec::new()),
            issued: Mutex::default(),
            config,
        }
    }

    pub(crate) fn endpoint(&self, format: &str) -> String {
        format!("http://{}/{format}/{}/", self.addr, self.config.repository)
    }

    /// Faults, request log, identity policy, OIDC claims, origin restrictions,
    /// publishing latency and the GitHub repository back to the start configuration.
    /// The token stays, and so does what the repository holds.
    pub(crate) fn reset(&self) {
        {
            let mut inner = lock(&self.inner);
            inner.faults.clear();
            inner.identity_policy = None;
            inner.origin = self.config.origin;
            inner.oidc_claims = self.config.oidc_claims.clone();
            inner.oidc_signing = OidcSigning::Valid;
            inner.github = self.config.github.clone();
        }
        lock(&self.store).set_latency(self.config.publish_latency);
        lock(&self.log).clear();
    }

    /// The origin controls of `package` (normalized): those a test imposes, else its
    /// record, else, for a package whose files were put into the folder by hand
    /// (`has_files`), those of a package published first. `None`: the repository has
    /// no such package, so its first version will set them.
    pub(crate) fn origin_of(&self, package: &str, has_files: bool) -> Option<OriginRestrictions> {
        let imposed = lock(&self.inner).origin;
        imposed
            .or_else(|| lock(&self.store).record(package))
            .or_else(|| has_files.then_some(OriginRestrictions::PUBLISHED))
    }

    /// The distribution files listings and the index show now: filed by their upload
    /// form, without those still within the publishing latency.
    pub(crate) fn visible_files(&self) -> Vec<DistFile> {
        let filings = lock(&self.store).snapshot();
        filings.visible(&self.config.package_dir)
    }

    // -- Request log -----------------------------------------------------------

    pub(crate) fn requests(&self) -> Vec<LoggedRequest> {
        lock(&self.log).clone()
    }

    pub(crate) fn clear_requests(&self) -> usize {
        std::mem::take(&mut *lock(&self.log)).len()
    }

    pub(crate) fn record(&self, entry: LoggedRequest) {
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

    // -- Issued secrets ----------------------------------------------------------

    pub(crate) fn issued_tokens(&self) -> Vec<String> {
        lock(&self.issued).tokens.clone()
    }

    pub(crate) fn issued_oidc_tokens(&self) -> Vec<String> {
        lock(&self.issued).oidc_tokens.clone()
    }

    pub(crate) fn issued_sts_secrets(&self) -> Vec<String> {
        lock(&self.issued).sts_secrets.clone()
    }

    pub(crate) fn record_oidc_token(&self, jwt: String) {
        push_bounded(&mut lock(&self.issued).oidc_tokens, [jwt]);
    }

    /// Remembers temporary credentials issued through STS (or minted by the stack):
    /// their secret parts for leak tests, and the key for SigV4.
    pub(crate) fn record_sts_session(&self, key: AwsKey, expires: Option<u64>) {
        let secrets = [Some(key.secret_access_key.clone()), key.session_token.clone()];
        push_bounded(&mut lock(&self.issued).sts_secrets, secrets.into_iter().flatten());
        lock(&self.keyring).add_session(key, expires);
    }

    // -- Token and pypiserver's password file --------------------------------------

    pub(crate) fn current_token(&self) -> Option<Token> {
        let mut inner = lock(&self.inner);
        self.sweep(&mut inner);
        inner.token.clone()
    }

    /// Whether `password` is the token that is valid now.
    pub(crate) fn token_is_valid(&self, password: &str) -> bool {
        let mut inner = lock(&self.inner);
        self.sweep(&mut inner);
        inner.token.as_ref().is_some_and(|it| util::constant_time_eq(it.value.as_bytes(), password.as_bytes()))
    }

    /// The current token, or a new one valid for `seconds` if none is.
    pub(crate) fn issue_token(&self, seconds: u64) -> anyhow::Result<Token> {
        let mut inner = lock(&self.inner);
        self.sweep(&mut inner);
        // One password per user fits in pypiserver's file, so the same token is handed
        // out until it expires, and a release that holds it keeps working.
        if let Some(token) = &inner.token {
            return Ok(token.clone());
        }
        self.mint_token(&mut inner, seconds)
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

    /// Forgets the token once its time is up, so pypiserver refuses it too.
    fn sweep(&self, inner: &mut Inner) {
        if inner.token.as_ref().is_some_and(|it| it.expiration <= SystemTime::now()) {
            inner.token = None;
            if let Err(err) = self.write_htpasswd(None) {
                eprintln!("castack: {err:#}");
            }
        }
    }

    fn mint_token(&self, inner: &mut Inner, seconds: u64) -> anyhow::Result<Token> {
        let now = util::now_secs();
        let exp = now + seconds;
        // Shaped like a real token: five base64url segments, the first a JSON header
        // that starts with `"ver":1,"isu":` (so the text starts `eyJ2ZXIiOjEsImlzdSI6`).
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
    pub(crate) fn write_htpasswd(&self, token: Option<&str>) -> anyhow::Result<()> {
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

    // -- The fake GitHub API ------------------------------------------------------

    /// The repository the fake GitHub API serves, and the token it accepts.
    pub(crate) fn github_repo(&self) -> (GithubRepo, String) {
        let repo = lock(&self.inner).github.clone();
        let token = repo.token.clone().unwrap_or_else(|| self.github_token.clone());
        (repo, token)
    }

    pub(crate) fn set_github_repo(&self, repo: GithubRepo) {
        lock(&self.inner).github = repo;
    }

    /// Runs `change` on the repository the fake GitHub API serves (its writes).
    pub(crate) fn update_github_repo<R>(&self, change: impl FnOnce(&mut GithubRepo) -> R) -> R {
        change(&mut lock(&self.inner).github)
    }

    // -- OIDC claims -------------------------------------------------------------

    pub(crate) fn set_oidc_claims(&self, claims: Map<String, Value>) {
        let mut inner = lock(&self.inner);
        for (key, value) in claims {
            inner.oidc_claims.insert(key, value);
        }
    }

    pub(crate) fn reset_oidc_claims(&self) {
        lock(&self.inner).oidc_claims = self.config.oidc_claims.clone();
    }

    /// The claims every JWT gets before its own `aud`, times and `jti`: the
    /// defaults with the overrides applied, and GitHub's `sub` unless one is set.
    pub(crate) fn claims_template(&self) -> Map<String, Value> {
        self.claims_template_for(None)
    }

    /// The claims of a token for a job of `environment` (when given: it replaces the
    /// configured one, and a derived `sub` follows).
    pub(crate) fn claims_template_for(&self, environment: Option<&str>) -> Map<String, Value> {
        let mut overrides = lock(&self.inner).oidc_claims.clone();
        if let Some(environment) = environment {
            overrides.insert("environment".to_owned(), json!(environment));
        }
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

    // -- Faults and denials ------------------------------------------------------

    /// Uses up the first fault rule that `select` accepts for `operation`.
    pub(crate) fn take_fault<T>(&self, operation: &Operation, select: impl FnMut(&Fault) -> Option<T>) -> Option<T> {
        lock(&self.inner).faults.take(operation, select)
    }

    /// A `Stall` or `Trickle` fault for `operation`, if one hits: the handler
    /// answers `Response::stalled` or `Response::trickled` at once, before anything
    /// is stored or forwarded.
    pub(crate) fn injected_stall(&self, operation: &Operation) -> Option<crate::http::Response> {
        let mut inner = lock(&self.inner);
        if let Some(max) = inner.faults.stall(operation) {
            return Some(crate::http::Response::stalled(max));
        }
        inner.faults.trickle(operation).map(crate::http::Response::trickled)
    }

    /// The delay, then the throttle or internal error, that a CodeArtifact or
    /// PyPI-endpoint request meets before anything else; the sleep holds no lock, so
    /// other requests are answered meanwhile. Both are taken when the
    /// request arrives: a request held back by a `Slow` fault must not use up a fault
    /// that a test adds while it waits (for its next case, after the client gave up).
    pub(crate) fn transient_fault(&self, operation: &Operation) -> Option<Transient> {
        let (delay, transient) = {
            let mut inner = lock(&self.inner);
            let delay = inner.faults.delay(operation);
            (delay, inner.faults.transient(operation))
        };
        if let Some(delay) = delay {
            std::thread::sleep(delay);
        }
        transient
    }

    /// The denial message when the identity policy a test set refuses `action` on
    /// `resource` (with `context`), as IAM words it.
    pub(crate) fn policy_denies(&self, action: &str, resource: &str, context: &[(&str, &str)]) -> Option<String> {
        let inner = lock(&self.inner);
        let policy = inner.identity_policy.as_ref()?;
        (!policy.allows(action, resource, context)).then(|| self.deny_message(None, action, resource))
    }

    /// IAM's AccessDenied message for `principal` (default: the emulator's).
    pub(crate) fn deny_message(&self, principal: Option<&str>, action: &str, resource: &str) -> String {
        let principal = principal.unwrap_or(&self.principal);
        format!(
            "User: {principal} is not authorized to perform: {action} on resource: {resource} \
             because no identity-based policy allows the {action} action"
        )
    }
}
