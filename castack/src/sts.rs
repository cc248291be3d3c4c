//! The STS endpoint: AWS query-protocol requests (`POST /` with a form body
//! `Action=…&Version=2011-06-15&…`, or anything SigV4-signed for service `sts`) are
//! forwarded to moto_server. Putting the emulator in front of moto gives tests what
//! moto cannot: STS faults in STS's own XML error shape, a request log entry per
//! STS call, and a record of the credentials moto hands out (for leak tests).
//!
//! Nothing of a request or answer body is logged: requests carry the web identity
//! token, answers carry secret keys and session tokens. The log gets the action
//! name and, for signed calls, the access key id.

use std::io::Read;

use crate::{
    faults::{Fault, INJECTED_INTERNAL_ERROR, THROTTLED},
    forward,
    http::{Body, Request, Response},
    operation::Operation,
    sigv4,
    state::{Entry, State},
    util,
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
    /// From the SigV4 `Credential` of a signed call (never the signature).
    pub access_key_id: Option<String>,
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
    let access_key_id = scope
        .map(|it| it.access_key_id.to_owned())
        .filter(|it| (1..=128).contains(&it.len()) && it.bytes().all(|b| b.is_ascii_alphanumeric()));
    Some(Call { action, access_key_id })
}

/// The `Action` of a `POST` with a URL-encoded form body.
fn form_action(req: &Request) -> Option<String> {
    if req.method != "POST" || req.body.is_empty() || req.body.len() > MAX_FORM {
        return None;
    }
    let form_type = req
        .header("content-type")
        .is_none_or(|it| it.trim().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
    if !form_type {
        return None;
    }
    param(std::str::from_utf8(&req.body).ok()?, "Action")
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

/// Answers an STS call from an injected fault or from moto_server; `entry` gets
/// what the log needs.
pub(crate) fn handle(state: &State, req: &Request, call: Call, entry: &mut Entry) -> Response {
    let operation = Operation::Sts(call.action);
    entry.operation = operation.clone();
    entry.access_key_id = call.access_key_id;
    let request_id = util::uuid();
    if let Some(stalled) = state.injected_stall(&operation) {
        return stalled;
    }
    if let Some(response) = injected(state, &operation, &request_id) {
        return response;
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
    let response = match forward::send(req, upstream) {
        Ok(it) => it,
        Err(err) => {
            return error(
                502,
                "ServiceUnavailable",
                &format!("castack could not reach moto_server at {upstream} for STS: {err}"),
                &request_id,
            );
        }
    };
    let body = match read_answer(response.body) {
        Ok(it) => it,
        Err(err) => {
            return error(
                502,
                "ServiceUnavailable",
                &format!("castack could not read moto_server's STS answer: {err}"),
                &request_id,
            );
        }
    };
    if (200..300).contains(&response.status) {
        // AssumeRole* and GetSessionToken answers carry credentials; keep the secret
        // parts (never the access key id, which is no secret) for leak tests.
        let text = String::from_utf8_lossy(&body);
        let mut secrets = util::xml_elements(&text, "SecretAccessKey");
        secrets.extend(util::xml_elements(&text, "SessionToken"));
        state.record_sts_secrets(secrets);
    }
    Response { body: Body::Bytes(body), ..response }
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
        assert_eq!(call.access_key_id, None);

        let signed = "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20260101/us-east-1/sts/aws4_request, \
                      SignedHeaders=host, Signature=abc";
        let call = detect(&request("POST", "/", &[("Authorization", signed)], "")).unwrap();
        assert_eq!((call.action, call.access_key_id.as_deref()), (None, Some("ASIAEXAMPLE")));
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
