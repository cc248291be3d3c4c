//! GitHub Actions secrets of the fake GitHub REST API: the X25519 key pairs it hands
//! out (`GET …/secrets/public-key`), the libsodium sealed boxes it opens with them,
//! the secrets it keeps (names, dates and the decrypted values, for tests), and
//! GitHub's rules for secret names.
//!
//! Each emulator makes its own key pairs from the operating system's randomness, one
//! for the repository and one per environment (as GitHub does), the first time a
//! scope needs one; they stay for the emulator's life, across resets. Secret values
//! never leave the process: `Debug` hides them, the control API shows names only,
//! and the request log has no bodies.

use std::{
    sync::Mutex,
    time::{SystemTime, UNIX_EPOCH},
};

use crypto_box::SecretKey;

use crate::{http::lock, util};

/// Where a secret lives: the repository's Actions secrets or an environment's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretScope {
    Repository,
    /// The environment's name (matched without regard to case, as GitHub does).
    Environment(String),
}

impl SecretScope {
    fn same(&self, other: &SecretScope) -> bool {
        match (self, other) {
            (SecretScope::Repository, SecretScope::Repository) => true,
            (SecretScope::Environment(a), SecretScope::Environment(b)) => a.eq_ignore_ascii_case(b),
            _ => false,
        }
    }
}

/// A decrypted secret value. `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    pub fn new(value: impl Into<String>) -> SecretValue {
        SecretValue(value.into())
    }

    /// The plaintext, for a test's assertion.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// One stored secret: what `PUT …/secrets/{name}` left, decrypted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GithubSecret {
    pub scope: SecretScope,
    /// Upper case, as GitHub keeps and lists secret names.
    pub name: String,
    pub value: SecretValue,
    pub created_at: SystemTime,
    pub updated_at: SystemTime,
}

impl GithubSecret {
    /// Whether this is the secret `name` of `scope` (names ignore case).
    pub fn is(&self, scope: &SecretScope, name: &str) -> bool {
        self.scope.same(scope) && self.name.eq_ignore_ascii_case(name)
    }
}

/// Why a secret name is refused, in the words of GitHub's rules
/// (<https://docs.github.com/actions/security-for-github-actions/security-guides/using-secrets-in-github-actions#naming-your-secrets>).
pub(crate) fn name_problem(name: &str) -> Option<&'static str> {
    let allowed = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !allowed {
        return Some(
            "Secret names can only contain alphanumeric characters ([a-z], [A-Z], [0-9]) or underscores (_). \
             Spaces are not allowed.",
        );
    }
    if name.as_bytes()[0].is_ascii_digit() {
        return Some("Secret names must not start with a number.");
    }
    if name.to_ascii_uppercase().starts_with("GITHUB_") {
        return Some("Secret names must not start with the GITHUB_ prefix.");
    }
    None
}

/// Why a sealed box was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum OpenError {
    /// The `key_id` names no key of this scope.
    UnknownKey,
    /// Not a sealed box for this scope's key (or not one at all).
    Undecryptable,
}

struct KeyPair {
    scope: SecretScope,
    key_id: String,
    secret: SecretKey,
}

/// The key pairs of one emulator, made when a scope first needs one.
#[derive(Default)]
pub(crate) struct GithubKeys {
    pairs: Mutex<Vec<KeyPair>>,
}

impl GithubKeys {
    /// `(key_id, key)` of `scope`: GitHub's `actions-public-key`, the key in base64.
    pub(crate) fn public_key(&self, scope: &SecretScope) -> (String, String) {
        self.with_pair(scope, |pair| (pair.key_id.clone(), util::b64std(pair.secret.public_key().as_bytes())))
    }

    /// The plaintext of `sealed` (a libsodium sealed box) for `scope`'s key `key_id`.
    pub(crate) fn open(&self, scope: &SecretScope, key_id: &str, sealed: &[u8]) -> Result<String, OpenError> {
        self.with_pair(scope, |pair| {
            if !util::constant_time_eq(pair.key_id.as_bytes(), key_id.as_bytes()) {
                return Err(OpenError::UnknownKey);
            }
            let plain = pair.secret.unseal(sealed).map_err(|_| OpenError::Undecryptable)?;
            // GitHub's values are text; bytes that are not UTF-8 are kept as U+FFFD.
            Ok(String::from_utf8_lossy(&plain).into_owned())
        })
    }

    fn with_pair<R>(&self, scope: &SecretScope, f: impl FnOnce(&KeyPair) -> R) -> R {
        let mut pairs = lock(&self.pairs);
        if let Some(pair) = pairs.iter().find(|it| it.scope.same(scope)) {
            return f(pair);
        }
        let bytes: [u8; 32] = util::random_bytes(32).try_into().expect("32 random bytes");
        // GitHub's key ids are long decimal numbers.
        let digits = util::random_bytes(8).iter().fold(0u64, |acc, b| acc << 8 | u64::from(*b));
        let pair = KeyPair {
            scope: scope.clone(),
            key_id: format!("{:018}", digits % 1_000_000_000_000_000_000),
            secret: SecretKey::from_bytes(bytes),
        };
        let out = f(&pair);
        pairs.push(pair);
        out
    }
}

/// `time` as GitHub writes dates: `2026-01-01T00:00:00Z` (UTC, whole seconds).
pub(crate) fn iso8601(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |it| it.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rest / 3_600, rest % 3_600 / 60, rest % 60)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn dates_in_github_form() {
        assert_eq!(iso8601(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(UNIX_EPOCH + Duration::from_secs(1_767_225_600)), "2026-01-01T00:00:00Z");
        assert_eq!(iso8601(UNIX_EPOCH + Duration::from_secs(951_827_696)), "2000-02-29T12:34:56Z");
    }

    #[test]
    fn secret_names_follow_githubs_rules() {
        for good in ["AWS_ROLE_ARN", "_x", "a1", "github"] {
            assert_eq!(name_problem(good), None, "{good}");
        }
        for bad in ["", "has space", "dash-ed", "1ST", "GITHUB_TOKEN", "github_x", "ÄPFEL"] {
            assert!(name_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn keys_per_scope_and_wrong_ids() {
        let keys = GithubKeys::default();
        let env = SecretScope::Environment("release".into());
        let (id, key) = keys.public_key(&env);
        assert_eq!(keys.public_key(&SecretScope::Environment("RELEASE".into())), (id.clone(), key.clone()));
        assert_ne!(keys.public_key(&SecretScope::Repository).1, key);
        assert_eq!(id.len(), 18);
        assert_eq!(util::b64std_decode(&key).map(|it| it.len()), Some(32));
        assert_eq!(keys.open(&env, "1", b"whatever"), Err(OpenError::UnknownKey));
        assert_eq!(keys.open(&env, &id, &[0; 60]), Err(OpenError::Undecryptable));
        assert_eq!(format!("{:?}", SecretValue::new("hunter2")), "<redacted>");
    }
}
