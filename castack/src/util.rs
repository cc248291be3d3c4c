//! Small helpers shared by the emulator modules: randomness, base64, percent
//! decoding, query strings, clock values and XML elements.

use std::{
    fs,
    io::Read,
    path::Path,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use anyhow::Context;
use base64::Engine;

/// `n` random bytes from the operating system. Tokens and passwords must not be
/// guessable, even in a test stack, because a person may run it on a shared host.
pub(crate) fn random_bytes(n: usize) -> Vec<u8> {
    try_random_bytes(n).expect("castack needs /dev/urandom (Unix only)")
}

pub(crate) fn try_random_bytes(n: usize) -> anyhow::Result<Vec<u8>> {
    let mut buf = vec![0; n];
    fs::File::open("/dev/urandom")
        .and_then(|mut file| file.read_exact(&mut buf))
        .context("cannot read /dev/urandom for random tokens; castack runs on Linux and macOS only")?;
    Ok(buf)
}

pub(crate) fn random_hex(n_bytes: usize) -> String {
    hex(&random_bytes(n_bytes))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub(crate) fn b64std(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub(crate) fn b64std_decode(text: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(text.trim()).ok()
}

/// A random UUID (version 4) as text, for request ids and `jti`.
pub(crate) fn uuid() -> String {
    let mut b = random_bytes(16);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex(&b);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

/// HMAC-SHA256 (RFC 2104): SigV4's key derivation and signature, and the
/// signature of the fake OIDC issuer's tokens.
pub(crate) fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    use hmac::{Hmac, KeyInit, Mac};
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// Compares secrets (tokens, passwords, digests) in time that does not depend on
/// where they differ, so a caller cannot guess one byte by byte from timings.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Seconds since the epoch, with milliseconds, as the CodeArtifact API sends
/// timestamps.
pub(crate) fn epoch_secs(time: SystemTime) -> f64 {
    let d = time.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    (d.as_millis() as f64) / 1000.0
}

pub(crate) fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_secs()
}

/// Decodes `%XX` escapes (and `+` as a space, as form encoding does). Fails on a
/// malformed escape or on bytes that are not UTF-8.
pub(crate) fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hi = bytes.get(i + 1).and_then(|b| (*b as char).to_digit(16));
                let lo = bytes.get(i + 2).and_then(|b| (*b as char).to_digit(16));
                let (Some(hi), Some(lo)) = (hi, lo) else {
                    return Err(format!("malformed percent-encoding in {text:?}"));
                };
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| format!("percent-encoded value in {text:?} is not UTF-8"))
}

/// Encodes everything but RFC 3986 unreserved characters.
pub(crate) fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A decoded query string. Repeated names are an error: no CodeArtifact input is a
/// list, so a repeat is a client bug the emulator should surface.
#[derive(Default, Debug)]
pub(crate) struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(raw: Option<&str>) -> Result<Query, String> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for piece in raw.unwrap_or("").split('&').filter(|it| !it.is_empty()) {
            let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
            let name = percent_decode(name)?;
            let value = percent_decode(value)?;
            if pairs.iter().any(|(it, _)| *it == name) {
                return Err(format!("query parameter {name:?} is given more than once"));
            }
            pairs.push((name, value));
        }
        Ok(Query(pairs))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(it, _)| it == name).map(|(_, value)| value.as_str())
    }
}

/// Writes `contents` to `path` through a temporary file and a rename, so a reader
/// (pypiserver re-reading its password file) never sees a half-written file.
pub(crate) fn write_atomic(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", random_hex(4)));
    fs::write(&tmp, contents).with_context(|| format!("cannot write {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))
}

fn xml_unescape(text: &str) -> String {
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&")
}

/// The non-empty texts of every `<tag>…</tag>` in `xml`: what the STS proxy keeps of
/// moto's answers and the stack reads of its own AssumeRole (moto writes plain
/// elements without attributes or CDATA).
pub(crate) fn xml_elements(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else { break };
        let value = xml_unescape(after[..end].trim());
        if !value.is_empty() {
            out.push(value);
        }
        rest = &after[end + close.len()..];
    }
    out
}

/// Single-quotes `value` for POSIX shells.
pub fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%2Fb+c").unwrap(), "a/b c");
        assert!(percent_decode("%zz").is_err());
        assert!(percent_decode("%4").is_err());
        assert!(percent_decode("%ff").is_err());
    }

    #[test]
    fn query_parsing() {
        let q = Query::parse(Some("domain=d&x&repository=r%2D1")).unwrap();
        assert_eq!(q.get("domain"), Some("d"));
        assert_eq!(q.get("x"), Some(""));
        assert_eq!(q.get("repository"), Some("r-1"));
        assert!(Query::parse(Some("a=1&a=2")).is_err());
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
