//! The STS endpoint: AWS query-protocol requests (`POST /` with a form body
//! `Action=…&Version=2011-06-15&…`, or anything SigV4-signed for service `sts`) are
//! forwarded to moto_server. Putting the emulator in front of moto gives tests what
//! moto cannot: STS faults in STS's own XML error shape, a request log entry per
//! STS call, and a record of the credentials moto hands out (for leak tests).
//!
//! Before anything is forwarded, castack refuses what STS refuses: a signature that
//! does not verify against the keys it knows (`sigv4.rs`; only
//! AssumeRoleWithWebIdentity and AssumeRoleWithSAML may come unsigned), and a web
//! identity token STS would not accept (`web_identity.rs`). Injected faults answer
//! first, so a test can make STS say anything. The credentials of every successful
//! answer become keys the emulator accepts.
//!
//! Nothing of a request or answer body is logged: requests carry the web identity
//! token, answers carry secret keys and session tokens. The log gets the action
//! name and, for authenticated calls, the access key id.

use std::io::Read;

use crate::{
    clock,
    faults::{Fault, INJECTED_INTERNAL_ERROR, THROTTLED},
    forward,
    http::{Body, Request, Response, lock},
    keyring::AwsKey,
    operation::Operation,
    sigv4::{self, Refusal},
    state::{Entry, State},
    util, web_identity,
};

/// STS query-protocol answers are a few kilobytes; anything far larger is not an
/// STS answer and is refused rather than held in memory.
const MAX_ANSWER: u64 = 4 * 1024 * 1024;
/// Form bodies larger than this are not inspected for `Action=` (an STS request is
/// at most a few tens of kilobytes: a 20,000-character token plus policies).
const MAX_FORM: usize = 1024 * 1024;

/// What routing learned about an STS request.
pub(crate) struct Call {
    /// The `Action` parameter when it is a plain name (the log prints `sts`
    /// without one).
    pub action: Option<String>,
}

/// `Some` if `req` is an STS call: signed with credential scope service `sts`, or
/// carrying an `Action` parameter in a form body (or the query). The caller has
/// already ruled out CodeArtifact routes, the PyPI endpoint, OIDC and control paths,
/// so a form body can never steal one of those.
pub(crate) fn detect(req: &Request) -> Option<Call> {
    let scope = sigv4::parse(req).and_then(|it| it.scope);
    let signed_for_sts = scope.as_ref().is_some_and(|it| it.service == "sts");
    let action = form_action(req).or_else(|| req.query().and_then(|query| param(query, "Action")));
    if !signed_for_sts && action.is_none() {
        return None;
    }
    let action = action.filter(|it| (1..=64).contains(&it.len()) && it.bytes().all(|b| b.is_ascii_alphanumeric()));
    Some(Call { action })
}

/// The `Action` of a `POST` with a URL-encoded form body.
fn form_action(req: &Request) -> Option<String> {
    param(form_body(req)?, "Action")
}

/// The body of a `POST` with a URL-encoded form body.
fn form_body(req: &Request) -> Option<&str> {
    if req.method != "POST" || req.body.is_empty() || req.body.len() > MAX_FORM {
        return None;
    }
    let form_type = req
        .header("content-type")
        .is_none_or(|it| it.trim().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
    form_type.then(|| std::str::from_utf8(&req.body).ok()).flatten()
}

/// Every parameter of the form body (or, without one, of the query), decoded;
/// malformed pairs are skipped.
fn params(req: &Request) -> Vec<(String, String)> {
    let text = form_body(req).or_else(|| req.query()).unwrap_or_default();
    text.split('&')
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            Some((util::percent_decode(key).ok()?, util::percent_decode(value).ok()?))
        })
        .collect()
}

/// The first value of `name` in a URL-encoded form; malformed pairs are skipped.
fn param(form: &str, name: &str) -> Option<String> {
    form.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        if util::percent_decode(key).ok()? != name {
            return None;
        }
        util::percent_decode(value).ok()
    })
}

/// Answers an STS call from an injected fault, a refusal, or moto_server; `entry`
/// gets what the log needs.
pub(crate) fn handle(state: &State, req: &Request, call: Call, entry: &mut Entry) -> Response {
    let operation = Operation::Sts(call.action.clone());
    entry.operation = operation.clone();
    let request_id = util::uuid();
    if let Some(stalled) = state.injected_stall(&operation) {
        return stalled;
    }
    if let Some(response) = injected(state, &operation, &request_id) {
        return response;
    }
    entry.access_key_id = match authenticate(state, req, call.action.as_deref()) {
        Ok(key) => key,
        Err(refusal) => return refused(refusal, &request_id),
    };
    if call.action.as_deref() == Some("AssumeRoleWithWebIdentity")
        && let Err(it) = web_identity::check(state, &params(req), util::now_secs())
    {
        return error(it.status, it.code, &it.message, &request_id);
    }
    let Some(upstream) = state.config.sts_upstream else {
        return error(
            502,
            "ServiceUnavailable",
            "castack: no moto_server behind this emulator for STS (EmulatorConfig::sts_upstream is None); \
             use castack::Stack, or set sts_upstream to moto_server's address",
            &request_id,
        );
    };
    let unavailable = |what: String| error(502, "ServiceUnavailable", &what, &request_id);
    let response = match forward::send(req, upstream) {
        Ok(it) => it,
        Err(err) => return unavailable(format!("castack could not reach moto_server at {upstream} for STS: {err}")),
    };
    let body = match read_answer(response.body) {
        Ok(it) => it,
        Err(err) => return unavailable(format!("castack could not read moto_server's STS answer: {err}")),
    };
    if (200..300).contains(&response.status) {
        record_credentials(state, &String::from_utf8_lossy(&body));
    }
    Response { body: Body::Bytes(body), ..response }
}

/// Verifies the signature (any region, STS's 15-minute window: "Signature expired:
/// … (… - 15 min.)" in aws/aws-cli#6676 for GetCallerIdentity, and `RequestExpired`
/// "more than 15 minutes after the date stamp" among the common errors of the query
/// APIs). Returns the access key id; `None` for an unsigned web-identity or SAML
/// call, the only actions STS takes without a signature.
fn authenticate(state: &State, req: &Request, action: Option<&str>) -> Result<Option<String>, Refusal> {
    let unsigned_action = matches!(action, Some("AssumeRoleWithWebIdentity" | "AssumeRoleWithSAML"));
    if unsigned_action && req.header("authorization").is_none() {
        return Ok(None);
    }
    let policy = sigv4::Policy { service: "sts", region: None, max_skew_minutes: 15 };
    sigv4::verify(req, &lock(&state.keyring), &policy, util::now_secs()).map(Some)
}

/// A refusal in the words of STS (query protocol): `InvalidClientTokenId` and
/// `SignatureDoesNotMatch` 403 (the query APIs' common errors; answers quoted in
/// aws-azure-login/aws-azure-login#251 and aws/aws-cli#135), `ExpiredToken` 403,
/// `MissingAuthenticationToken` 403, `IncompleteSignature` 400.
fn refused(refusal: Refusal, request_id: &str) -> Response {
    let (status, code, message) = match refusal {
        Refusal::Missing => (403, "MissingAuthenticationToken", "Request is missing Authentication Token".to_owned()),
        Refusal::Incomplete(message) => (400, "IncompleteSignature", message),
        Refusal::Scope(message) | Refusal::Signature(message) => (403, "SignatureDoesNotMatch", message),
        Refusal::UnknownKey | Refusal::InvalidToken => {
            (403, "InvalidClientTokenId", "The security token included in the request is invalid".to_owned())
        }
        Refusal::ExpiredToken => {
            (403, "ExpiredToken", "The security token included in the request is expired".to_owned())
        }
    };
    error(status, code, &message, request_id)
}

/// AssumeRole*, GetSessionToken and GetFederationToken answers carry credentials:
/// the emulator accepts them from now on (until their `Expiration`), and keeps the
/// secret parts for leak tests.
fn record_credentials(state: &State, xml: &str) {
    let field = |tag: &str| util::xml_elements(xml, tag).into_iter().next();
    if let (Some(id), Some(secret)) = (field("AccessKeyId"), field("SecretAccessKey")) {
        let mut key = AwsKey::new(id, secret);
        key.session_token = field("SessionToken");
        state.record_sts_session(key, field("Expiration").and_then(|it| clock::parse_iso8601(&it)));
    }
}

fn read_answer(body: Body) -> std::io::Result<Vec<u8>> {
    match body {
        Body::Bytes(bytes) => Ok(bytes),
        Body::Stream(reader, _) => {
            let mut bytes = Vec::new();
            reader.take(MAX_ANSWER + 1).read_to_end(&mut bytes)?;
            if bytes.len() as u64 > MAX_ANSWER {
                return Err(std::io::Error::other(format!("the answer is larger than {MAX_ANSWER} bytes")));
            }
            Ok(bytes)
        }
        // Only castack's own fault answers trickle; moto's never do.
        Body::Trickle(_) => Err(std::io::Error::other("a trickled answer is not read")),
    }
}

/// Injected faults for one STS action: a delay, then an error answer if a rule
/// asks for one. Throttling and internal errors hit only with `.only(action)`. The
/// answer is chosen when the request arrives, before the delay, so a request held
/// back does not use up a rule added while it waits.
fn injected(state: &State, operation: &Operation, request_id: &str) -> Option<Response> {
    let delay = state.take_fault(operation, |fault| match fault {
        Fault::Slow { delay_ms } => Some(std::time::Duration::from_millis(*delay_ms)),
        _ => None,
    });
    // One look over the rules, so the first rule that answers wins, whatever its kind.
    let answer = state.take_fault(operation, |fault| match fault {
        // What STS answers when it throttles: HTTP 400 with code Throttling.
        Fault::Throttle { .. } => Some((400, "Throttling".to_owned(), THROTTLED.to_owned())),
        Fault::InternalError => Some((500, "InternalFailure".to_owned(), INJECTED_INTERNAL_ERROR.to_owned())),
        Fault::Sts { code, message, status } => Some((*status, code.clone(), message.clone())),
        _ => None,
    });
    if let Some(delay) = delay {
        std::thread::sleep(delay);
    }
    answer.map(|(status, code, message)| error(status, &code, &message, request_id))
}

/// An error in STS's XML shape, which the AWS SDKs read `code()` and `message()`
/// from: `Type` is `Sender` for client errors and `Receiver` for server errors.
fn error(status: u16, code: &str, message: &str, request_id: &str) -> Response {
    let kind = if status >= 500 { "Receiver" } else { "Sender" };
    let body = format!(
        "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n  <Error>\n    <Type>{kind}</Type>\n    \
         <Code>{}</Code>\n    <Message>{}</Message>\n  </Error>\n  <RequestId>{request_id}</RequestId>\n</ErrorResponse>\n",
        xml_escape(code),
        xml_escape(message),
    );
    Response::new(status, "text/xml", body).with_header("x-amzn-RequestId", request_id)
}

fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, target: &str, headers: &[(&str, &str)], body: &str) -> Request {
        Request {
            method: method.to_owned(),
            target: target.to_owned(),
            http10: false,
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            body: body.as_bytes().to_vec(),
            connection: 0,
        }
    }

    #[test]
    fn detection() {
        let form = [("Content-Type", "application/x-www-form-urlencoded")];
        let call = detect(&request("POST", "/", &form, "Action=AssumeRoleWithWebIdentity&Version=2011-06-15")).unwrap();
        assert_eq!(call.action.as_deref(), Some("AssumeRoleWithWebIdentity"));

        let signed = "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20260101/us-east-1/sts/aws4_request, \
                      SignedHeaders=host, Signature=abc";
        let call = detect(&request("POST", "/", &[("Authorization", signed)], "")).unwrap();
        assert_eq!(call.action, None);
        let call = detect(&request("GET", "/?Action=GetCallerIdentity&Version=2011-06-15", &[], "")).unwrap();
        assert_eq!(call.action.as_deref(), Some("GetCallerIdentity"));

        // Not STS: JSON bodies, CodeArtifact signatures, no Action, odd action names.
        assert!(detect(&request("POST", "/", &[("Content-Type", "application/json")], "Action=X")).is_none());
        let codeartifact = signed.replace("/sts/", "/codeartifact/");
        assert!(detect(&request("POST", "/", &[("Authorization", &codeartifact)], "")).is_none());
        assert!(detect(&request("POST", "/", &form, "Version=2011-06-15")).is_none());
        assert_eq!(detect(&request("POST", "/", &form, "Action=%3Cscript%3E")).unwrap().action, None);
    }

    #[test]
    fn secrets_and_errors() {
        let xml = "<Credentials><AccessKeyId>ASIA1</AccessKeyId><SecretAccessKey> s&amp;1 </SecretAccessKey>\
                   <SessionToken>tok/+=</SessionToken></Credentials><SessionToken></SessionToken>";
        assert_eq!(util::xml_elements(xml, "SecretAccessKey"), ["s&1"]);
        assert_eq!(util::xml_elements(xml, "SessionToken"), ["tok/+="]);
        assert!(util::xml_elements("<SessionToken>unclosed", "SessionToken").is_empty());

        let response = error(403, "AccessDenied", "a <b> & \"c\"", "rid");
        let Body::Bytes(body) = response.body else { panic!() };
        let body = String::from_utf8(body).unwrap();
        assert!(body.contains("<Type>Sender</Type>"), "{body}");
        assert!(body.contains("<Message>a &lt;b&gt; &amp; &quot;c&quot;</Message>"), "{body}");
        assert!(body.contains("<RequestId>rid</RequestId>"), "{body}");
    }
}
