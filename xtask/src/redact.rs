//! The one place that knows every secret of this run and scrubs text before it is
//! shown.
//!
//! A secret is registered the moment it exists (`register`), before anything can
//! print it: in GitHub Actions that also emits `::add-mask::` for the runner. Every
//! line the program or one of its children prints goes through `scrub`.

use std::{
    fmt,
    sync::{Mutex, PoisonError},
};

use crate::report;

/// Every secret value of this run, with its derived forms (URL-encoded and so on).
static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// What replaces a secret in printed text.
pub const MASK: &str = "***";

/// A secret value that never prints itself: neither `Display` nor `Debug` reveal it,
/// so it cannot leak through a log line, an error message or a panic.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Registers `value` as a secret (masking it at once) and wraps it.
    pub fn new(value: String) -> Secret {
        register(&value);
        Secret(value)
    }

    /// The plain value, for the one call that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

/// Registers a secret and the forms it can take in text: as is and percent-encoded
/// (as in `https://aws:TOKEN@host/` or a query string).
pub fn register(value: &str) {
    // Values this short would scrub ordinary words; no real credential is this short.
    if value.len() < 8 {
        return;
    }
    let forms = [value.to_owned(), percent_encode(value)];
    let mut secrets = SECRETS.lock().unwrap_or_else(PoisonError::into_inner);
    for form in forms {
        if !secrets.contains(&form) {
            // The runner must learn the mask before any output can contain the value.
            report::add_mask(&form);
            secrets.push(form);
        }
    }
    // Longest first, so a secret that contains another is replaced whole.
    secrets.sort_by_key(|it| std::cmp::Reverse(it.len()));
}

/// Replaces every registered secret in `text` with `***`.
pub fn scrub(text: &str) -> String {
    let secrets = SECRETS.lock().unwrap_or_else(PoisonError::into_inner);
    scrub_with(text, &secrets)
}

fn scrub_with(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_owned();
    for secret in secrets {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), MASK);
        }
    }
    out
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubs_every_form_longest_first() {
        let secrets = vec!["abc/def+ghi=".to_owned(), percent_encode("abc/def+ghi="), "abc/def".to_owned()];
        let mut sorted = secrets.clone();
        sorted.sort_by_key(|it| std::cmp::Reverse(it.len()));
        let text = "url https://aws:abc%2Fdef%2Bghi%3D@host/ raw abc/def+ghi= part abc/def.";
        assert_eq!(scrub_with(text, &sorted), "url https://aws:***@host/ raw *** part ***.");
    }

    #[test]
    fn secret_never_prints_itself() {
        let secret = Secret("value-that-must-not-leak".to_owned());
        assert_eq!(format!("{secret} {secret:?} {:?}", Some(&secret)), "*** *** Some(***)");
        assert_eq!(secret.expose(), "value-that-must-not-leak");
    }
}
