//! The computation of a SigV4 signature, step by step as AWS specifies it
//! ("Create a signed AWS API request",
//! https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html):
//! the canonical request, the string to sign, the signing key derived by the HMAC
//! chain `AWS4<secret>` → date → region → service → `aws4_request`, and the
//! signature. The same code signs (castack's own calls, tests) and verifies (every
//! AWS request the emulator serves), so the unit tests below pin it to AWS's
//! published test vectors.

use sha2::{Digest, Sha256};

use crate::util::{self, hmac_sha256 as hmac};

/// The algorithm name that starts an `Authorization` header and a string to sign.
pub(crate) const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// What a signature covers, besides the secret.
pub(crate) struct Signable<'a> {
    pub method: &'a str,
    /// The request target as it travels on the wire (path and query, percent-encoded
    /// by the client).
    pub target: &'a str,
    pub headers: &'a [(String, String)],
    /// Lower-case header names in the order of `SignedHeaders` (sorted by clients).
    pub signed_headers: &'a [&'a str],
    /// Hex SHA-256 of the payload.
    pub payload_hash: &'a str,
}

/// `<date>/<region>/<service>/aws4_request`, and the `X-Amz-Date` it goes with.
pub(crate) struct ScopeText<'a> {
    pub amz_date: &'a str,
    pub date: &'a str,
    pub region: &'a str,
    pub service: &'a str,
}

impl ScopeText<'_> {
    fn credential_scope(&self) -> String {
        format!("{}/{}/{}/aws4_request", self.date, self.region, self.service)
    }
}

/// The canonical request; `None` when a signed header is absent from the request
/// (the signature cannot match then).
pub(crate) fn canonical_request(req: &Signable) -> Option<String> {
    let (path, query) = req.target.split_once('?').unwrap_or((req.target, ""));
    let mut headers = String::new();
    for name in req.signed_headers {
        let values: Vec<String> = req
            .headers
            .iter()
            .filter(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        if values.is_empty() {
            return None;
        }
        headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    Some(format!(
        "{}\n{}\n{}\n{headers}\n{}\n{}",
        req.method,
        canonical_uri(path),
        canonical_query(query),
        req.signed_headers.join(";"),
        req.payload_hash
    ))
}

/// The path encoded once more (every AWS service but S3 signs the path the client
/// sent, encoded again: a raw `ሴ` becomes `%E1%88%B4`, a sent `%20` becomes `%2520`),
/// `/` kept.
fn canonical_uri(path: &str) -> String {
    if path.is_empty() {
        return "/".to_owned();
    }
    uri_encode(path.as_bytes(), false)
}

/// Parameters decoded, encoded the SigV4 way (RFC 3986 unreserved characters kept,
/// everything else `%XX`, so a space is `%20` and `+` is `%2B`), sorted by name then
/// value, joined with `&`; a parameter without `=` has an empty value.
fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|it| !it.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (uri_encode(&percent_decode_bytes(key), true), uri_encode(&percent_decode_bytes(value), true))
        })
        .collect();
    pairs.sort();
    pairs.iter().map(|(key, value)| format!("{key}={value}")).collect::<Vec<_>>().join("&")
}

/// `%XX` escapes decoded to bytes; a malformed escape stays as it is (and so cannot
/// match a client that encoded it).
fn percent_decode_bytes(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |at: usize| bytes.get(at).and_then(|b| (*b as char).to_digit(16));
        match (bytes[i], hex(i + 1), hex(i + 2)) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// RFC 3986 unreserved characters kept, `/` kept unless `slash`, the rest `%XX`
/// (upper-case hex).
fn uri_encode(bytes: &[u8], slash: bool) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || (b == b'/' && !slash) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The string to sign for `canonical`.
pub(crate) fn string_to_sign(canonical: &str, scope: &ScopeText) -> String {
    format!("{ALGORITHM}\n{}\n{}\n{}", scope.amz_date, scope.credential_scope(), sha256_hex(canonical.as_bytes()))
}

/// The hex signature of `string_to_sign` with the key derived from `secret`.
pub(crate) fn signature(secret: &str, scope: &ScopeText, string_to_sign: &str) -> String {
    let key = [scope.date, scope.region, scope.service, "aws4_request"]
        .iter()
        .fold(format!("AWS4{secret}").into_bytes(), |key, part| hmac(&key, part.as_bytes()));
    util::hex(&hmac(&key, string_to_sign.as_bytes()))
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    util::hex(&Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    //! Vectors of AWS's SigV4 test suite, as kept in awslabs/aws-c-auth
    //! (`tests/aws-signing-test-suite/v4/<name>/`: `context.json`, `request.txt`,
    //! `header-canonical-request.txt`, `header-string-to-sign.txt`,
    //! `header-signature.txt`; commit 495329c2433034bd8fd53fc6ba9e0202d3fac876,
    //! https://github.com/awslabs/aws-c-auth/tree/main/tests/aws-signing-test-suite/v4).
    //! Every vector signs with `AKIDEXAMPLE` / `wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY`
    //! in `us-east-1` for service `service` at 2015-08-30T12:36:00Z.

    use super::*;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    const EMPTY_HASH: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    const SCOPE: ScopeText<'static> =
        ScopeText { amz_date: "20150830T123600Z", date: "20150830", region: "us-east-1", service: "service" };

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// Checks all three steps of one vector.
    fn check(req: &Signable, canonical: &str, to_sign: &str, expected: &str) {
        let got = canonical_request(req).unwrap();
        assert_eq!(got, canonical);
        let got = string_to_sign(&got, &SCOPE);
        assert_eq!(got, to_sign);
        assert_eq!(signature(SECRET, &SCOPE, &got), expected);
    }

    #[test]
    fn get_vanilla() {
        let h = headers(&[("Host", "example.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z")]);
        let req = Signable {
            method: "GET",
            target: "/",
            headers: &h,
            signed_headers: &["host", "x-amz-date"],
            payload_hash: EMPTY_HASH,
        };
        check(
            &req,
            &format!(
                "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n{EMPTY_HASH}"
            ),
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n\
             bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        );
    }

    #[test]
    fn get_vanilla_query_order_key_case() {
        let h = headers(&[("Host", "example.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z")]);
        let req = Signable {
            method: "GET",
            target: "/?Param2=value2&Param1=value1",
            headers: &h,
            signed_headers: &["host", "x-amz-date"],
            payload_hash: EMPTY_HASH,
        };
        check(
            &req,
            &format!(
                "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n\
                 host;x-amz-date\n{EMPTY_HASH}"
            ),
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n\
             816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0",
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
        );
    }

    #[test]
    fn get_vanilla_with_session_token() {
        let token = "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267";
        let h = headers(&[
            ("Host", "example.amazonaws.com"),
            ("X-Amz-Security-Token", token),
            ("X-Amz-Date", "20150830T123600Z"),
        ]);
        let req = Signable {
            method: "GET",
            target: "/",
            headers: &h,
            signed_headers: &["host", "x-amz-date", "x-amz-security-token"],
            payload_hash: EMPTY_HASH,
        };
        check(
            &req,
            &format!(
                "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\nx-amz-security-token:{token}\n\n\
                 host;x-amz-date;x-amz-security-token\n{EMPTY_HASH}"
            ),
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n\
             067b36aa60031588cea4a4cde1f21215227a047690c72247f1d70b32fbbfad2b",
            "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8",
        );
    }

    #[test]
    fn post_x_www_form_urlencoded() {
        let body = b"Param1=value1";
        let hash = sha256_hex(body);
        assert_eq!(hash, "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e");
        let h = headers(&[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Host", "example.amazonaws.com"),
            ("Content-Length", "13"),
            ("X-Amz-Date", "20150830T123600Z"),
            ("x-amz-content-sha256", &hash),
        ]);
        let signed = ["content-length", "content-type", "host", "x-amz-content-sha256", "x-amz-date"];
        let req = Signable { method: "POST", target: "/", headers: &h, signed_headers: &signed, payload_hash: &hash };
        check(
            &req,
            &format!(
                "POST\n/\n\ncontent-length:13\ncontent-type:application/x-www-form-urlencoded\n\
                 host:example.amazonaws.com\nx-amz-content-sha256:{hash}\nx-amz-date:20150830T123600Z\n\n\
                 content-length;content-type;host;x-amz-content-sha256;x-amz-date\n{hash}"
            ),
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n\
             b1edd1d03544c25390e32085d55b57acc9a3961bb59415ff86c45c3d89d16cfb",
            "d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b",
        );
    }

    #[test]
    fn get_utf8_path() {
        // The suite's request line carries the raw UTF-8 bytes of U+1234.
        let h = headers(&[("Host", "example.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z")]);
        let req = Signable {
            method: "GET",
            target: "/\u{1234}",
            headers: &h,
            signed_headers: &["host", "x-amz-date"],
            payload_hash: EMPTY_HASH,
        };
        check(
            &req,
            &format!(
                "GET\n/%E1%88%B4\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n\
                 {EMPTY_HASH}"
            ),
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n\
             2a0a97d02205e45ce2e994789806b19270cfbbb0921b278ccf58f5249ac42102",
            "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85",
        );
    }

    #[test]
    fn encodings_and_absent_headers() {
        assert_eq!(canonical_query("b=%2B&a=x+y&a=1&c"), "a=1&a=x%2By&b=%2B&c=");
        assert_eq!(canonical_query("k=%zz"), "k=%25zz");
        assert_eq!(canonical_uri("/v1/a%20b"), "/v1/a%2520b");
        let h = headers(&[("Host", "h")]);
        let req = Signable {
            method: "GET",
            target: "/",
            headers: &h,
            signed_headers: &["host", "x-amz-date"],
            payload_hash: "",
        };
        assert!(canonical_request(&req).is_none());
    }
}
