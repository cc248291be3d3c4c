//! The one place that knows every secret of this run and scrubs text before it is
//! shown.
//!
//! A secret is registered the moment it exists (`register`), before anything can
//! print it: in GitHub Actions that also emits `::add-mask::` for the runner. Every
//! line the program or one of its children prints goes through `scrub`.

use std::{
    fmt,
    io::Write,
    sync::{Mutex, PoisonError},
};

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

    /// A CodeArtifact authorization token: also masked in the Basic form twine sends
    /// it in (`aws:TOKEN`), which a server may echo.
    pub fn codeartifact_token(value: String) -> Secret {
        register_basic_auth("aws", &value);
        Secret(value)
    }

    /// A value built around secrets that are registered already (an index URL
    /// that carries the token): it is masked wherever they are, so it asks the
    /// runner for no mask of its own, and still never prints itself.
    pub fn derived(value: String) -> Secret {
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
/// in either case of hex digit (`%2F`, `%2f`: as in `https://aws:TOKEN@host/` or a
/// query string, written by us or by a server).
pub fn register(value: &str) {
    // Values this short would scrub ordinary words; no real credential is this short.
    if value.len() < 8 {
        return;
    }
    let encoded = percent_encode(value);
    let forms = [value.to_owned(), encoded.clone(), lower_hex_escapes(&encoded)];
    let mut secrets = SECRETS.lock().unwrap_or_else(PoisonError::into_inner);
    for form in forms {
        if !secrets.contains(&form) {
            // The runner must learn the mask before any output can contain the value.
            add_mask(&form);
            secrets.push(form);
        }
    }
    // Longest first, so a secret that contains another is replaced whole.
    secrets.sort_by_key(|it| std::cmp::Reverse(it.len()));
}

/// Tells the GitHub Actions runner to mask `value` in the job log from now on. This
/// module prints it itself: it sits below `report`, which scrubs with it.
fn add_mask(value: &str) {
    if crate::ci::context().github_actions {
        // On stderr, with the program's other output; the runner reads workflow
        // commands on stdout and stderr alike.
        let written = writeln!(std::io::stderr().lock(), "::add-mask::{}", crate::ci::escape_data(value));
        if written.is_err() {
            crate::interrupt::output_lost();
        }
    }
}

/// Registers a password as it travels in HTTP Basic authentication,
/// `base64(USER:PASSWORD)` (twine sends the CodeArtifact token as `aws:TOKEN`), with
/// the password itself.
pub fn register_basic_auth(user: &str, password: &str) {
    register(password);
    register(&base64_simd::STANDARD.encode_to_string(format!("{user}:{password}")));
}

/// `%2F` → `%2f`: the other way a percent-encoding can be written.
fn lower_hex_escapes(encoded: &str) -> String {
    let mut out = String::with_capacity(encoded.len());
    let mut chars = encoded.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '%' {
            out.extend(chars.by_ref().take(2).map(|h| h.to_ascii_lowercase()));
        }
    }
    out
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

/// Keeps other processes of the same user out of this one's memory: on Linux the
/// process becomes non-dumpable, so `/proc/PID/mem`, `/proc/PID/environ` and
/// ptrace need root (proc(5), `PR_SET_DUMPABLE` in prctl(2)). The secrets of a
/// release live in this process's memory only; without this, any same-user program
/// (a build hook that outlived its build, say) could read them there. Children start
/// dumpable again (execve resets the flag), and the one that needs a secret gets it
/// in its own environment.
pub fn protect_memory() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_DUMPABLE takes one integer argument and touches no memory of ours.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
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
    fn percent_encodings_are_known_in_both_cases() {
        assert_eq!(lower_hex_escapes(&percent_encode("a/b+c=")), "a%2fb%2bc%3d");
        register("registered/secret+value=");
        let text = "x registered%2fsecret%2bvalue%3d... registered%2Fsecret%2Bvalue%3D";
        assert!(!scrub(text).contains("secret"), "{}", scrub(text));
        register_basic_auth("aws", "basic-auth-secret-token");
        let header = base64_simd::STANDARD.encode_to_string("aws:basic-auth-secret-token");
        assert_eq!(scrub(&format!("Authorization: Basic {header}")), "Authorization: Basic ***");
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn the_process_becomes_non_dumpable() {
        protect_memory();
        // SAFETY: PR_GET_DUMPABLE takes no argument.
        assert_eq!(unsafe { libc::prctl(libc::PR_GET_DUMPABLE) }, 0);
    }

    #[test]
    fn secret_never_prints_itself() {
        let secret = Secret("value-that-must-not-leak".to_owned());
        assert_eq!(format!("{secret} {secret:?} {:?}", Some(&secret)), "*** *** Some(***)");
        assert_eq!(secret.expose(), "value-that-must-not-leak");
    }
}
