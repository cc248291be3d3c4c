//! The one reader of SigV4 `Authorization` headers: which credential scope a
//! request claims and whether it names signed headers and a signature. The
//! CodeArtifact control plane insists on a complete header for its own service and
//! region; STS routing only asks which service a request was signed for. Nothing
//! here verifies a signature (moto does not verify them by default either), and the
//! signature is never kept.

use crate::http::Request;

/// What castack reads from `Authorization: AWS4-HMAC-SHA256 Credential=…,
/// SignedHeaders=…, Signature=…`.
pub(crate) struct Authorization<'a> {
    /// The `Credential` parameter, when it has the five parts of a scope.
    pub scope: Option<Scope<'a>>,
    /// Whether `SignedHeaders` is present and not empty.
    pub signed_headers: bool,
    /// Whether `Signature` is present and not empty.
    pub signature: bool,
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
    let params = req.header("authorization")?.strip_prefix("AWS4-HMAC-SHA256 ")?;
    let mut credential = None;
    let mut signed_headers = false;
    let mut signature = false;
    for param in params.split(',') {
        match param.trim().split_once('=') {
            // The first `Credential` counts; a header with two is malformed anyway.
            Some(("Credential", it)) if credential.is_none() => credential = Some(it),
            Some(("SignedHeaders", it)) if !it.is_empty() => signed_headers = true,
            Some(("Signature", it)) if !it.is_empty() => signature = true,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn request(authorization: &str) -> Request {
        Request {
            method: "POST".to_owned(),
            target: "/".to_owned(),
            http10: false,
            headers: vec![("Authorization".to_owned(), authorization.to_owned())],
            body: Vec::new(),
            connection: 0,
        }
    }

    #[test]
    fn scopes() {
        let req = request(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/codeartifact/aws4_request, \
             SignedHeaders=host;x-amz-date, Signature=abc",
        );
        let auth = parse(&req).unwrap();
        let scope = auth.scope.unwrap();
        assert_eq!((scope.access_key_id, scope.region, scope.service), ("AKIDEXAMPLE", "us-east-1", "codeartifact"));
        assert!(scope.well_formed() && auth.signed_headers && auth.signature);

        let req =
            request("AWS4-HMAC-SHA256 Credential=/20260101/us-east-1/sts/aws4_request, SignedHeaders=, Signature=");
        let auth = parse(&req).unwrap();
        assert!(auth.scope.is_none() && !auth.signed_headers && !auth.signature);
        let req = request("AWS4-HMAC-SHA256 Credential=AKID/2026/us-east-1/sts/aws4");
        assert!(!parse(&req).unwrap().scope.unwrap().well_formed());
        assert!(parse(&request("Basic YXdzOng=")).is_none());
    }
}
