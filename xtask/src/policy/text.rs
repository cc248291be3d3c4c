//! A policy's text as IAM hands it out: plain JSON, or percent-encoded JSON (what
//! `GetRole`, `GetRolePolicy` and `GetPolicyVersion` return), decoded into a JSON
//! value with the keys it repeats, and its size as IAM counts it.

use serde_json::Value;

use super::json::{self, Duplicate};

/// A decoded policy text.
pub struct Decoded {
    pub value: Value,
    pub duplicates: Vec<Duplicate>,
    /// `iam_size` of the JSON text.
    pub size: usize,
}

/// The size IAM counts against its policy quotas: characters, whitespace not
/// counted ("AssumeRolePolicySizeQuota: The maximum allowed size for assume role
/// policy documents (trust policies), in non-whitespace characters",
/// https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetAccountSummary.html;
/// "IAM does not count white space when calculating the size of a policy",
/// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html).
/// Whitespace inside strings is not counted either, so that this never counts
/// more than IAM does.
pub fn iam_size(json: &str) -> usize {
    json.chars().filter(|it| !it.is_whitespace()).count()
}

/// The JSON value of a policy text, percent-decoded first when it is encoded, with
/// the keys it repeats.
pub fn decode(text: &str) -> Result<Decoded, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("the policy is empty: pass the whole JSON document".to_owned());
    }
    let read =
        |json: &str| json::read(json).map(|(value, duplicates)| Decoded { value, duplicates, size: iam_size(json) });
    let looks_encoded = trimmed.get(..3).is_some_and(|it| it.eq_ignore_ascii_case("%7B"));
    if !looks_encoded && let Ok(decoded) = read(trimmed) {
        return Ok(decoded);
    }
    let direct = read(trimmed);
    if trimmed.contains('%') {
        // IAM encodes per RFC 3986 (`%20` for a space); some tools encode a space as `+`.
        for plus_is_space in [false, true] {
            if let Some(plain) = percent_decode(trimmed, plus_is_space)
                && let Ok(decoded) = read(plain.trim())
            {
                return Ok(decoded);
            }
        }
    }
    match direct {
        Ok(decoded) => Ok(decoded),
        // An editor's byte order mark is not JSON either, and invisible.
        Err(err) if trimmed.starts_with('\u{feff}') => Err(format!(
            "the policy is not JSON ({err}): the file starts with a UTF-8 byte order mark (U+FEFF); save it without \
             one"
        )),
        Err(err) => Err(format!(
            "the policy is not JSON ({err}); pass the document as IAM shows it (plain or URL-encoded JSON)"
        )),
    }
}

/// Decodes `%XX` sequences; a `%` not followed by two hex digits stays as it is.
/// `None` when the result is not UTF-8.
fn percent_decode(text: &str, plus_is_space: bool) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let hex = |at: usize| bytes.get(at).and_then(|it| (*it as char).to_digit(16));
        if b == b'%'
            && let (Some(hi), Some(lo)) = (hex(i + 1), hex(i + 2))
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
            continue;
        }
        out.push(if plus_is_space && b == b'+' { b' ' } else { b });
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// A policy text as IAM returns it (percent-encoded, RFC 3986, as the AWS CLI
/// decodes it: `+` stays `+`) in plain JSON; plain JSON, as some tools store it,
/// stays as it is, and so does a text that does not decode to UTF-8 (for `setup`).
pub fn plain_text(text: &str) -> String {
    let text = text.trim();
    // 0x7b is the opening brace: the text is plain JSON already.
    if text.as_bytes().first() == Some(&0x7b) {
        return text.to_owned();
    }
    percent_decode(text, false).unwrap_or_else(|| text.to_owned())
}
