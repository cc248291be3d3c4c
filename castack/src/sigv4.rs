//! SigV4 as AWS checks it: the `Authorization: AWS4-HMAC-SHA256 Credential=…,
//! SignedHeaders=…, Signature=…` header is read, the access key looked up among the
//! keys castack knows (`keyring.rs`), the session token and expiry of temporary
//! credentials checked, the `X-Amz-Date` held against the clock, and the signature
//! recomputed (`canonical.rs`) and compared. Each service words the refusals in its
//! own protocol ([`Refusal`] carries what went wrong; `codeartifact::error` and
//! `sts` answer it). [`sign_request`] signs the other way round, for castack's own
//! calls and for tests. Nothing here logs or keeps a signature or a secret.
//!
//! Header-signed requests only: nothing the release or the stack sends uses
//! presigned URLs or unsigned payloads, so those forms are refused as incomplete.

mod canonical;

use crate::{
    clock,
    http::Request,
    keyring::{AwsKey, Keyring},
    util,
};

use canonical::{ALGORITHM, ScopeText, Signable};

/// What castack reads from `Authorization: AWS4-HMAC-SHA256 Credential=…,
/// SignedHeaders=…, Signature=…`.
pub(crate) struct Authorization<'a> {
    /// The `Credential` parameter, when it has the five parts of a scope.
    pub scope: Option<Scope<'a>>,
    /// `SignedHeaders`, split at `;` (empty when absent).
    pub signed_headers: Vec<&'a str>,
    /// `Signature`, when present and not empty.
    pub signature: Option<&'a str>,
}

/// `<access key id>/<date>/<region>/<service>/aws4_request`, unchecked apart from
/// the number of parts and a non-empty access key id.
pub(crate) struct Scope<'a> {
    pub access_key_id: &'a str,
    pub date: &'a str,
    pub region: &'a str,
    pub service: &'a str,
    pub terminator: &'a str,
}

impl Scope<'_> {
    /// Whether the date is `YYYYMMDD` digits and the scope ends in `aws4_request`,
    /// as SigV4 requires.
    pub fn well_formed(&self) -> bool {
        self.date.len() == 8 && self.date.bytes().all(|b| b.is_ascii_digit()) && self.terminator == "aws4_request"
    }
}

/// The SigV4 parts of `req`'s `Authorization` header; `None` without a header
/// that starts `AWS4-HMAC-SHA256 `.
pub(crate) fn parse(req: &Request) -> Option<Authorization<'_>> {
    let params = req.header("authorization")?.strip_prefix(ALGORITHM)?.strip_prefix(' ')?;
    let mut credential = None;
    let mut signed_headers = Vec::new();
    let mut signature = None;
    for param in params.split(',') {
        match param.trim().split_once('=') {
            // The first of each counts; a header with two is malformed anyway.
            Some(("Credential", it)) if credential.is_none() => credential = Some(it),
            Some(("SignedHeaders", it)) if signed_headers.is_empty() => {
                signed_headers = it.split(';').filter(|it| !it.is_empty()).collect();
            }
            Some(("Signature", it)) if signature.is_none() && !it.is_empty() => signature = Some(it),
            _ => {}
        }
    }
    Some(Authorization { scope: credential.and_then(scope), signed_headers, signature })
}

fn scope(credential: &str) -> Option<Scope<'_>> {
    let parts: Vec<&str> = credential.split('/').collect();
    let [access_key_id, date, region, service, terminator] = parts[..] else { return None };
    (!access_key_id.is_empty()).then_some(Scope { access_key_id, date, region, service, terminator })
}

/// What a service requires of a signature besides its value.
pub(crate) struct Policy<'a> {
    /// The credential scope's service (`codeartifact`, `sts`).
    pub service: &'static str,
    /// The region the endpoint serves; `None` accepts any (STS, like moto behind it).
    pub region: Option<&'a str>,
    /// How far `X-Amz-Date` may be from the clock, in minutes: 5 for CodeArtifact,
    /// 15 for STS (see `codeartifact::check_sigv4` and `sts::authenticate`).
    pub max_skew_minutes: u64,
}

/// Why a request was not authenticated; each service words it in its protocol.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// No `Authorization` header at all.
    Missing,
    /// A header that is not a complete SigV4 header, or no `X-Amz-Date`.
    Incomplete(String),
    /// The scope names another service or region.
    Scope(String),
    /// An access key id castack never issued or was given.
    UnknownKey,
    /// Temporary credentials without their session token, or with another one; or
    /// a token sent with a static key.
    InvalidToken,
    /// Temporary credentials past their expiration.
    ExpiredToken,
    /// The signature does not match, or is too old or too new: the message says which.
    Signature(String),
}

/// The message AWS gives for a signature that does not match.
pub(crate) const MISMATCH: &str = "The request signature we calculated does not match the signature you provided. \
                                   Check your AWS Secret Access Key and signing method. Consult the service \
                                   documentation for details.";

/// Authenticates `req` for `policy` at `now` (seconds since the epoch) against
/// `keys`; returns the access key id.
pub(crate) fn verify(req: &Request, keys: &Keyring, policy: &Policy, now: u64) -> Result<String, Refusal> {
    let auth = parse(req).ok_or_else(|| match req.header("authorization") {
        None => Refusal::Missing,
        Some(_) => Refusal::Incomplete(format!("the Authorization header must start with {ALGORITHM}")),
    })?;
    let incomplete = || {
        Refusal::Incomplete(format!(
            "the Authorization header must be '{ALGORITHM} Credential=<key>/<date>/<region>/{}/aws4_request, \
             SignedHeaders=..., Signature=...' and the request needs an X-Amz-Date header",
            policy.service
        ))
    };
    let scope = auth.scope.as_ref().filter(|it| it.well_formed()).ok_or_else(incomplete)?;
    let (Some(signature), false) = (auth.signature, auth.signed_headers.is_empty()) else { return Err(incomplete()) };
    let amz_date = req.header("x-amz-date").ok_or_else(incomplete)?;
    let signed_at = clock::parse_amz_date(amz_date).ok_or_else(incomplete)?;
    check_scope(scope, policy)?;
    let known = keys.get(scope.access_key_id).ok_or(Refusal::UnknownKey)?;
    let token = req.header("x-amz-security-token");
    match (&known.key.session_token, token) {
        (None, None) => {}
        (Some(want), Some(got)) if util::constant_time_eq(want.as_bytes(), got.as_bytes()) => {}
        _ => return Err(Refusal::InvalidToken),
    }
    if known.expires.is_some_and(|end| end <= now) {
        return Err(Refusal::ExpiredToken);
    }
    check_skew(amz_date, signed_at, now, policy.max_skew_minutes)?;
    if scope.date != &amz_date[..8] {
        return Err(Refusal::Signature(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', \
             from '{amz_date}'.",
            scope.date,
            &amz_date[..8]
        )));
    }
    let expected = expected_signature(req, &auth.signed_headers, scope, amz_date, &known.key.secret_access_key);
    match expected {
        Some(it) if util::constant_time_eq(it.as_bytes(), signature.as_bytes()) => Ok(scope.access_key_id.to_owned()),
        _ => Err(Refusal::Signature(MISMATCH.to_owned())),
    }
}

fn check_scope(scope: &Scope, policy: &Policy) -> Result<(), Refusal> {
    if scope.service != policy.service {
        return Err(Refusal::Scope(format!("Credential should be scoped to correct service: '{}'.", policy.service)));
    }
    match policy.region {
        Some(region) if scope.region != region => Err(Refusal::Scope(format!(
            "Credential should be scoped to a valid region. (this endpoint serves {region})"
        ))),
        _ => Ok(()),
    }
}

/// AWS's words for a date outside the window (for example aws/aws-cli#6676:
/// `Signature expired: 20220127T001427Z is now earlier than 20220127T014428Z
/// (20220127T015928Z - 15 min.)`; serverless/enterprise#11: `Signature not yet
/// current: … is still later than … (… + 5 min.)`).
fn check_skew(amz_date: &str, signed_at: u64, now: u64, minutes: u64) -> Result<(), Refusal> {
    let window = minutes * 60;
    if signed_at + window < now {
        return Err(Refusal::Signature(format!(
            "Signature expired: {amz_date} is now earlier than {} ({} - {minutes} min.)",
            clock::amz_date(now - window),
            clock::amz_date(now)
        )));
    }
    if signed_at > now + window {
        return Err(Refusal::Signature(format!(
            "Signature not yet current: {amz_date} is still later than {} ({} + {minutes} min.)",
            clock::amz_date(now + window),
            clock::amz_date(now)
        )));
    }
    Ok(())
}

/// The signature `req` should carry; `None` when it cannot match (a signed header
/// is absent, or `x-amz-content-sha256` does not describe the body).
fn expected_signature(req: &Request, signed: &[&str], scope: &Scope, amz_date: &str, secret: &str) -> Option<String> {
    let payload_hash = canonical::sha256_hex(&req.body);
    if req.header("x-amz-content-sha256").is_some_and(|it| it != payload_hash) {
        return None;
    }
    let signable = Signable {
        method: &req.method,
        target: &req.target,
        headers: &req.headers,
        signed_headers: signed,
        payload_hash: &payload_hash,
    };
    let text = ScopeText { amz_date, date: scope.date, region: scope.region, service: scope.service };
    let canonical = canonical::canonical_request(&signable)?;
    Some(canonical::signature(secret, &text, &canonical::string_to_sign(&canonical, &text)))
}

/// Signs a request as the AWS SDKs do: adds `X-Amz-Date` (from `now`, seconds since
/// the epoch), `X-Amz-Security-Token` for temporary credentials, and the
/// `Authorization` header over `host`, `content-type` (when present) and those two.
/// `headers` must already hold `Host`. For castack's own calls and for tests.
pub fn sign_request(
    (method, target, body): (&str, &str, &[u8]),
    headers: &mut Vec<(String, String)>,
    key: &AwsKey,
    (region, service): (&str, &str),
    now: u64,
) {
    let amz_date = clock::amz_date(now);
    headers.push(("X-Amz-Date".to_owned(), amz_date.clone()));
    if let Some(token) = &key.session_token {
        headers.push(("X-Amz-Security-Token".to_owned(), token.clone()));
    }
    let mut signed: Vec<String> = headers
        .iter()
        .map(|(name, _)| name.to_ascii_lowercase())
        .filter(|name| ["host", "content-type", "x-amz-date", "x-amz-security-token"].contains(&name.as_str()))
        .collect();
    signed.sort();
    signed.dedup();
    let signed: Vec<&str> = signed.iter().map(String::as_str).collect();
    let payload_hash = canonical::sha256_hex(body);
    let signable = Signable { method, target, headers, signed_headers: &signed, payload_hash: &payload_hash };
    let scope = ScopeText { amz_date: &amz_date, date: &amz_date[..8], region, service };
    let canonical = canonical::canonical_request(&signable).expect("every signed header was just taken from headers");
    let signature =
        canonical::signature(&key.secret_access_key, &scope, &canonical::string_to_sign(&canonical, &scope));
    headers.push((
        "Authorization".to_owned(),
        format!(
            "{ALGORITHM} Credential={}/{}/{region}/{service}/aws4_request, SignedHeaders={}, Signature={signature}",
            key.access_key_id,
            &amz_date[..8],
            signed.join(";")
        ),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, target: &str, headers: Vec<(String, String)>, body: &[u8]) -> Request {
        Request {
            method: method.to_owned(),
            target: target.to_owned(),
            http10: false,
            headers,
            body: body.to_vec(),
            connection: 0,
        }
    }

    fn header(name: &str, value: &str) -> (String, String) {
        (name.to_owned(), value.to_owned())
    }

    #[test]
    fn scopes() {
        let req = request(
            "POST",
            "/",
            vec![header(
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/codeartifact/aws4_request, \
                 SignedHeaders=host;x-amz-date, Signature=abc",
            )],
            b"",
        );
        let auth = parse(&req).unwrap();
        let scope = auth.scope.unwrap();
        assert_eq!((scope.access_key_id, scope.region, scope.service), ("AKIDEXAMPLE", "us-east-1", "codeartifact"));
        assert!(scope.well_formed());
        assert_eq!((auth.signed_headers, auth.signature), (vec!["host", "x-amz-date"], Some("abc")));

        let auth = "AWS4-HMAC-SHA256 Credential=/20260101/us-east-1/sts/aws4_request, SignedHeaders=, Signature=";
        let req = request("POST", "/", vec![header("Authorization", auth)], b"");
        let auth = parse(&req).unwrap();
        assert!(auth.scope.is_none() && auth.signed_headers.is_empty() && auth.signature.is_none());
        let req = request(
            "POST",
            "/",
            vec![header("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/2026/r/sts/aws4")],
            b"",
        );
        assert!(!parse(&req).unwrap().scope.unwrap().well_formed());
        assert!(parse(&request("POST", "/", vec![header("Authorization", "Basic YXdzOng=")], b"")).is_none());
    }

    const NOW: u64 = 1_767_225_600; // 2026-01-01T00:00:00Z
    const POLICY: Policy<'static> = Policy { service: "sts", region: Some("us-east-1"), max_skew_minutes: 15 };

    fn signed(key: &AwsKey, at: u64, body: &[u8]) -> Request {
        let mut headers =
            vec![header("Host", "127.0.0.1:1"), header("Content-Type", "application/x-www-form-urlencoded")];
        sign_request(("POST", "/?x=1", body), &mut headers, key, ("us-east-1", "sts"), at);
        request("POST", "/?x=1", headers, body)
    }

    #[test]
    fn verifies_what_it_signs_and_refuses_the_rest() {
        let static_key = AwsKey::new("AKIASTATIC", "static/secret");
        let session = AwsKey::new("ASIASESSION", "session/secret").with_session_token("token-1");
        let mut keys = Keyring::new(std::slice::from_ref(&static_key));
        keys.add_session(session.clone(), Some(NOW + 3600));
        let body = b"Action=GetCallerIdentity&Version=2011-06-15";

        assert_eq!(verify(&signed(&static_key, NOW, body), &keys, &POLICY, NOW), Ok("AKIASTATIC".to_owned()));
        assert_eq!(verify(&signed(&session, NOW, body), &keys, &POLICY, NOW), Ok("ASIASESSION".to_owned()));
        // A wrong secret, an altered body, an unknown key, a wrong or missing token.
        let wrong = AwsKey::new("AKIASTATIC", "static/secreT");
        assert_eq!(
            verify(&signed(&wrong, NOW, body), &keys, &POLICY, NOW),
            Err(Refusal::Signature(MISMATCH.to_owned()))
        );
        let mut tampered = signed(&static_key, NOW, body);
        tampered.body = b"Action=GetCallerIdentity&Version=2011-06-16".to_vec();
        assert_eq!(verify(&tampered, &keys, &POLICY, NOW), Err(Refusal::Signature(MISMATCH.to_owned())));
        let unknown = AwsKey::new("AKIAUNKNOWN", "static/secret");
        assert_eq!(verify(&signed(&unknown, NOW, body), &keys, &POLICY, NOW), Err(Refusal::UnknownKey));
        let other_token = session.clone().with_session_token("token-2");
        assert_eq!(verify(&signed(&other_token, NOW, body), &keys, &POLICY, NOW), Err(Refusal::InvalidToken));
        let no_token = AwsKey::new("ASIASESSION", "session/secret");
        assert_eq!(verify(&signed(&no_token, NOW, body), &keys, &POLICY, NOW), Err(Refusal::InvalidToken));
        // The session ends; the clock window (15 minutes here) on both sides.
        assert_eq!(verify(&signed(&session, NOW, body), &keys, &POLICY, NOW + 3600), Err(Refusal::ExpiredToken));
        assert!(verify(&signed(&static_key, NOW - 900, body), &keys, &POLICY, NOW).is_ok());
        let Err(Refusal::Signature(old)) = verify(&signed(&static_key, NOW - 901, body), &keys, &POLICY, NOW) else {
            panic!()
        };
        assert_eq!(
            old,
            "Signature expired: 20251231T234459Z is now earlier than 20251231T234500Z (20260101T000000Z - 15 min.)"
        );
        let Err(Refusal::Signature(new)) = verify(&signed(&static_key, NOW + 901, body), &keys, &POLICY, NOW) else {
            panic!()
        };
        assert!(new.starts_with("Signature not yet current: 20260101T001501Z is still later than"), "{new}");
        // Another service or region in the scope.
        let codeartifact = Policy { service: "codeartifact", ..POLICY };
        assert!(matches!(verify(&signed(&static_key, NOW, body), &keys, &codeartifact, NOW), Err(Refusal::Scope(_))));
        let eu = Policy { region: Some("eu-west-1"), ..POLICY };
        assert!(matches!(verify(&signed(&static_key, NOW, body), &keys, &eu, NOW), Err(Refusal::Scope(_))));
    }

    #[test]
    fn incomplete_headers() {
        let keys = Keyring::default();
        assert_eq!(verify(&request("GET", "/", vec![], b""), &keys, &POLICY, NOW), Err(Refusal::Missing));
        let good = signed(&AwsKey::new("AKIASTATIC", "s"), NOW, b"");
        let without = |name: &str| {
            let headers = good.headers.iter().filter(|(k, _)| !k.eq_ignore_ascii_case(name)).cloned().collect();
            request("POST", "/?x=1", headers, b"")
        };
        assert!(matches!(verify(&without("x-amz-date"), &keys, &POLICY, NOW), Err(Refusal::Incomplete(_))));
        let mut bad = without("authorization");
        bad.headers.push(header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=AKIASTATIC/20260101/us-east-1/sts/aws4_request",
        ));
        assert!(matches!(verify(&bad, &keys, &POLICY, NOW), Err(Refusal::Incomplete(_))));
        let mut basic = without("authorization");
        basic.headers.push(header("Authorization", "Basic YXdzOng="));
        assert!(matches!(verify(&basic, &keys, &POLICY, NOW), Err(Refusal::Incomplete(_))));
    }
}
