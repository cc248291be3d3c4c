//! Wire-level behaviour the SDK cannot provoke: missing, malformed, wrong, stale or
//! altered SigV4 signatures, malformed requests and queries, unknown paths, and
//! error shapes.

use crate::support::*;

#[test]
fn missing_and_malformed_sigv4() {
    let fx = fixture();
    let answer = raw(&fx.emulator, "GET", "/v1/domain?domain=sandbox-domain", false);
    assert_eq!(answer.status, 403);
    assert_eq!(answer.header("x-amzn-ErrorType"), Some("MissingAuthenticationTokenException"));
    assert_eq!(answer.json()["__type"], "MissingAuthenticationTokenException");
    assert!(answer.header("x-amzn-RequestId").is_some());

    let send = |authorization: &str| {
        raw_bytes(
            &fx.emulator,
            &format!(
                "GET /v1/domain?domain=sandbox-domain HTTP/1.1\r\nHost: x\r\nX-Amz-Date: 20260101T000000Z\r\n\
                 Authorization: {authorization}\r\n"
            ),
            b"",
        )
    };
    for bad in [
        "Basic YXdzOnRva2Vu",
        "AWS4-HMAC-SHA256 Credential=AKID/2026/us-east-1/codeartifact/aws4_request, SignedHeaders=host, Signature=x",
        "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/codeartifact/aws4_request",
        "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=x",
    ] {
        let answer = send(bad);
        assert_eq!(answer.status, 403, "{bad}");
        assert_eq!(answer.header("x-amzn-ErrorType"), Some("IncompleteSignatureException"), "{bad}");
    }
    let target = "/v1/domain?domain=sandbox-domain";
    let head = signed_head(&fx.emulator, ("GET", target, b""), &[], ("us-east-1", "s3"));
    let answer = raw_bytes(&fx.emulator, &head, b"");
    assert_eq!(answer.header("x-amzn-ErrorType"), Some("InvalidSignatureException"));
    assert!(answer.json()["message"].as_str().unwrap().contains("'codeartifact'"));
    let head = signed_head(&fx.emulator, ("GET", target, b""), &[], ("eu-west-1", "codeartifact"));
    let answer = raw_bytes(&fx.emulator, &head, b"");
    assert_eq!(answer.header("x-amzn-ErrorType"), Some("InvalidSignatureException"));

    // Nothing of a signature reaches the log.
    let logged = format!("{:?}", fx.emulator.requests());
    assert!(!logged.contains("Signature"), "{logged}");
}

/// A complete header is verified: the secret, the key, what was signed and when,
/// as CodeArtifact refuses them (REST-JSON: `x-amzn-ErrorType`, 403).
#[test]
fn wrong_stale_or_altered_signatures() {
    let fx = fixture();
    let target = "/v1/domain?domain=sandbox-domain";
    let send = |key: &castack::AwsKey, at: u64| {
        let head = signed_head_with(&fx.emulator, ("GET", target, b""), &[], key, ("us-east-1", "codeartifact", at));
        raw_bytes(&fx.emulator, &head, b"")
    };
    let refused = |answer: &Raw, code: &str| {
        assert_eq!(answer.status, 403, "{answer:?}");
        assert_eq!(answer.header("x-amzn-ErrorType"), Some(code), "{answer:?}");
        assert_eq!(answer.json()["__type"], code);
        answer.json()["message"].as_str().unwrap().to_owned()
    };
    assert_eq!(send(&castack::AwsKey::new(ACCESS_KEY, SECRET), now()).status, 200);
    let message =
        refused(&send(&castack::AwsKey::new(ACCESS_KEY, "contract-secreT"), now()), "InvalidSignatureException");
    assert!(message.starts_with("The request signature we calculated does not match"), "{message}");
    let message =
        refused(&send(&castack::AwsKey::new("AKIDNOBODYKNOWS00001", SECRET), now()), "UnrecognizedClientException");
    assert_eq!(message, "The security token included in the request is invalid.");
    let token = castack::AwsKey::new(ACCESS_KEY, SECRET).with_session_token("not-a-session");
    refused(&send(&token, now()), "UnrecognizedClientException");
    // Five minutes either way, then "Signature expired" / "not yet current".
    assert_eq!(send(&castack::AwsKey::new(ACCESS_KEY, SECRET), now() - 240).status, 200);
    let message = refused(&send(&castack::AwsKey::new(ACCESS_KEY, SECRET), now() - 360), "InvalidSignatureException");
    assert!(message.starts_with("Signature expired: ") && message.ends_with(" - 5 min.)"), "{message}");
    let message = refused(&send(&castack::AwsKey::new(ACCESS_KEY, SECRET), now() + 360), "InvalidSignatureException");
    assert!(message.starts_with("Signature not yet current: ") && message.ends_with(" + 5 min.)"), "{message}");

    // A signed request altered on the way: another query, another date header.
    let (key, at) = (castack::AwsKey::new(ACCESS_KEY, SECRET), now());
    let head = signed_head_with(&fx.emulator, ("GET", target, b""), &[], &key, ("us-east-1", "codeartifact", at));
    let altered = head.replace("domain=sandbox-domain", "domain=other-domain");
    refused(&raw_bytes(&fx.emulator, &altered, b""), "InvalidSignatureException");
    let (date, other) = (castack_amz_date(at), castack_amz_date(at - 1));
    refused(&raw_bytes(&fx.emulator, &head.replace(&date, &other), b""), "InvalidSignatureException");
    // Only authenticated calls are logged with their key.
    let keys: Vec<Option<String>> = fx.emulator.requests().into_iter().map(|it| it.access_key_id).collect();
    assert_eq!(keys.iter().filter(|it| it.is_some()).count(), 2, "{keys:?}");
}

#[test]
fn post_without_content_length() {
    let fx = fixture();
    // Exactly what the SDK sends: no Content-Length, no Transfer-Encoding.
    let answer = raw(&fx.emulator, "POST", "/v1/authorization-token?domain=sandbox-domain&duration=900", true);
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert!(answer.json()["expiration"].is_number());
    // Chunked bodies are read (and ignored) too.
    let target = "/v1/package/versions?domain=sandbox-domain&repository=sandbox-repo&format=pypi&package=demo-pkg";
    let head = signed_head(
        &fx.emulator,
        ("POST", target, b"{}"),
        &[("Transfer-Encoding", "chunked")],
        ("us-east-1", "codeartifact"),
    );
    let mut stream = std::net::TcpStream::connect(fx.emulator.addr()).unwrap();
    use std::io::{Read, Write};
    stream.write_all(format!("{head}Connection: close\r\n\r\n2\r\n{{}}\r\n0\r\n\r\n").as_bytes()).unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    assert!(text.starts_with("HTTP/1.1 200 "), "{text}");
}

#[test]
fn unknown_paths_and_methods() {
    let fx = fixture();
    for (method, target) in [
        ("GET", "/v1/domains"),
        ("DELETE", "/v1/domain?domain=sandbox-domain"),
        ("GET", "/v1/authorization-token?domain=sandbox-domain"),
        ("GET", "/"),
        ("POST", "/v1/domain/"),
    ] {
        let answer = raw(&fx.emulator, method, target, true);
        assert_eq!(answer.status, 404, "{method} {target}");
        assert_eq!(answer.header("x-amzn-ErrorType"), Some("UnknownOperationException"), "{method} {target}");
        assert!(answer.header("x-amzn-RequestId").is_some());
    }
}

#[test]
fn malformed_queries() {
    let fx = fixture();
    let check = |target: &str, reason: &str, needle: &str| {
        let answer = raw(&fx.emulator, "GET", target, true);
        assert_eq!(answer.status, 400, "{target}: {answer:?}");
        assert_eq!(answer.header("x-amzn-ErrorType"), Some("ValidationException"), "{target}");
        let body = answer.json();
        assert_eq!(body["reason"], reason, "{target}: {body}");
        assert!(body["message"].as_str().unwrap().contains(needle), "{target}: {body}");
    };
    check("/v1/domain?domain=%zz", "CANNOT_PARSE", "percent-encoding");
    check("/v1/domain?domain=%ff%fe", "CANNOT_PARSE", "UTF-8");
    check("/v1/domain?domain=a&domain=b", "CANNOT_PARSE", "more than once");
    check("/v1/domain", "FIELD_VALIDATION_FAILED", "Value null at 'domain'");
    check("/v1/domain?domain=", "FIELD_VALIDATION_FAILED", "at 'domain'");
    check("/v1/repository?domain=sandbox-domain", "FIELD_VALIDATION_FAILED", "Value null at 'repository'");
    check(
        "/v1/package?domain=sandbox-domain&repository=sandbox-repo&format=rpm&package=x",
        "FIELD_VALIDATION_FAILED",
        "at 'format'",
    );
    check(
        "/v1/package/version?domain=sandbox-domain&repository=sandbox-repo&format=pypi&package=demo-pkg",
        "FIELD_VALIDATION_FAILED",
        "Value null at 'packageVersion'",
    );
    check(
        "/v1/package?domain=sandbox-domain&repository=sandbox-repo&format=pypi&package=a%2Fb",
        "FIELD_VALIDATION_FAILED",
        "at 'package'",
    );
    check(
        "/v1/repository/endpoint?domain=sandbox-domain&repository=sandbox-repo&format=pypi&endpointType=ipv6",
        "FIELD_VALIDATION_FAILED",
        "endpointType",
    );
    let answer = raw(&fx.emulator, "POST", "/v1/authorization-token?domain=sandbox-domain&duration=soon", true);
    assert_eq!(answer.json()["reason"], "CANNOT_PARSE");
    let answer =
        raw(&fx.emulator, "POST", "/v1/authorization-token?domain=sandbox-domain&duration=99999999999999999999", true);
    assert_eq!(answer.status, 400);

    // A huge query is refused at the HTTP layer; the server keeps serving.
    let huge = format!("/v1/domain?domain={}", "a".repeat(200_000));
    let mut stream = std::net::TcpStream::connect(fx.emulator.addr()).unwrap();
    use std::io::{Read, Write};
    let _ = stream.write_all(format!("GET {huge} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
    let mut text = String::new();
    let _ = stream.read_to_string(&mut text);
    assert!(text.starts_with("HTTP/1.1 414 "), "{}", &text[..text.len().min(100)]);
    // A long but acceptable value is a validation error, not a crash.
    check(&format!("/v1/domain?domain={}", "a".repeat(5000)), "FIELD_VALIDATION_FAILED", "at 'domain'");
    assert_eq!(raw(&fx.emulator, "GET", "/v1/domain?domain=sandbox-domain", true).status, 200);
}

#[test]
fn malformed_requests_do_not_stop_the_server() {
    let fx = fixture();
    for garbage in [
        &b"\x00\x01\x02\r\n\r\n"[..],
        b"GET\r\n\r\n",
        b"GET /v1/domain HTTP/9.9\r\n\r\n",
        b"GET /v1/domain HTTP/1.1\r\nNo-Colon\r\n\r\n",
        b"GET /v1/domain HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        b"POST /v1/domain HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc",
        b"POST /v1/domain HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"GET http://elsewhere/ HTTP/1.1\r\n\r\n",
        b"",
    ] {
        let mut stream = std::net::TcpStream::connect(fx.emulator.addr()).unwrap();
        stream.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
        use std::io::{Read, Write};
        let _ = stream.write_all(garbage);
        let _ = stream.shutdown(std::net::Shutdown::Write);
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        let text = String::from_utf8_lossy(&answer);
        assert!(
            text.is_empty() || text.starts_with("HTTP/1.1 4") || text.starts_with("HTTP/1.1 5"),
            "{garbage:?}: {text}"
        );
    }
    assert_eq!(raw(&fx.emulator, "GET", "/v1/domain?domain=sandbox-domain", true).status, 200);
}

#[test]
fn keep_alive_serves_several_requests() {
    let fx = fixture();
    use std::io::{BufRead, BufReader, Read, Write};
    let mut stream = std::net::TcpStream::connect(fx.emulator.addr()).unwrap();
    let head =
        signed_head(&fx.emulator, ("GET", "/v1/domain?domain=sandbox-domain", b""), &[], ("us-east-1", "codeartifact"));
    let request = format!("{head}\r\n");
    stream.write_all(format!("{request}{request}").as_bytes()).unwrap();
    let mut reader = BufReader::new(stream);
    for _ in 0..2 {
        let mut status = String::new();
        reader.read_line(&mut status).unwrap();
        assert!(status.starts_with("HTTP/1.1 200"), "{status}");
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = value.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
    }
    assert_eq!(fx.emulator.requests().len(), 2);
}
