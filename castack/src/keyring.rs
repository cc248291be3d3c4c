//! The AWS credentials castack accepts signatures from, as an AWS account knows
//! its keys: the static key pairs of the configuration ([`crate::EmulatorConfig::credentials`];
//! by default the stack's throwaway pair that it also hands to moto) and the
//! sessions it issued (every successful STS answer it forwarded, and the stack's own
//! session of the domain owner's role), each with its session token and
//! expiration. Secrets stay in memory; `Debug` shows key ids only.

use std::collections::{HashMap, VecDeque};

/// Sessions kept at most (the oldest is forgotten first): far more than a test
/// issues, and a bound on the memory of a long-running `castack` binary.
const MAX_SESSIONS: usize = 10_000;

/// An AWS key pair, with the session token of temporary credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct AwsKey {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl AwsKey {
    /// A static key pair (no session token).
    pub fn new(access_key_id: impl Into<String>, secret_access_key: impl Into<String>) -> AwsKey {
        AwsKey { access_key_id: access_key_id.into(), secret_access_key: secret_access_key.into(), session_token: None }
    }

    /// The same key with a session token, as temporary credentials carry one.
    pub fn with_session_token(mut self, token: impl Into<String>) -> AwsKey {
        self.session_token = Some(token.into());
        self
    }
}

impl std::fmt::Debug for AwsKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsKey")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("session_token", &self.session_token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// A known key and, for a session, when it ends (seconds since the epoch).
pub(crate) struct Known {
    pub key: AwsKey,
    pub expires: Option<u64>,
}

#[derive(Default)]
pub(crate) struct Keyring {
    keys: HashMap<String, Known>,
    /// Session key ids, oldest first, for the bound; static keys are never dropped.
    sessions: VecDeque<String>,
}

impl Keyring {
    pub fn new(static_keys: &[AwsKey]) -> Keyring {
        let mut ring = Keyring::default();
        for key in static_keys {
            ring.keys.insert(key.access_key_id.clone(), Known { key: key.clone(), expires: None });
        }
        ring
    }

    /// Adds (or replaces) temporary credentials that end at `expires`.
    pub fn add_session(&mut self, key: AwsKey, expires: Option<u64>) {
        let id = key.access_key_id.clone();
        if self.keys.insert(id.clone(), Known { key, expires }).is_none() {
            self.sessions.push_back(id);
        }
        while self.sessions.len() > MAX_SESSIONS {
            if let Some(old) = self.sessions.pop_front() {
                self.keys.remove(&old);
            }
        }
    }

    /// Adds a key pair the caller chose (a test's own credentials): never dropped.
    pub fn add_static(&mut self, key: AwsKey) {
        self.sessions.retain(|it| *it != key.access_key_id);
        self.keys.insert(key.access_key_id.clone(), Known { key, expires: None });
    }

    pub fn get(&self, access_key_id: &str) -> Option<&Known> {
        self.keys.get(access_key_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_bounded_and_static_keys_stay() {
        let mut ring = Keyring::new(&[AwsKey::new("AKIASTATIC", "s")]);
        for n in 0..=MAX_SESSIONS {
            ring.add_session(AwsKey::new(format!("ASIA{n}"), "x").with_session_token("t"), Some(1));
        }
        assert!(ring.get("ASIA0").is_none());
        assert_eq!(ring.get(&format!("ASIA{MAX_SESSIONS}")).unwrap().expires, Some(1));
        assert!(ring.get("AKIASTATIC").is_some());
        let debug = format!("{:?}", AwsKey::new("AKID", "hidden").with_session_token("t0k3n"));
        assert!(!debug.contains("hidden") && !debug.contains("t0k3n"), "{debug}");
    }
}
