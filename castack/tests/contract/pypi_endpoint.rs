//! The PyPI endpoint's own rules, without pypiserver behind the emulator: whatever
//! would be forwarded answers 502 here, which shows when the emulator answered by
//! itself (re-uploads, denials, broken uploads) and when it did not.

use castack::{Fault, OriginRestrictions, Restriction, UploadFailure};

use crate::{control::base64_basic, support::*};

/// A twine-style upload of `file_name` with `content`, filed as `Demo_Pkg` 1.0.0.
fn upload(fx: &Fixture, password: Option<&str>, file_name: &str, content: &[u8]) -> Option<Raw> {
    twine_upload(fx.emulator.addr(), password, (file_name, "Demo_Pkg", "1.0.0"), content)
}

fn get(fx: &Fixture, password: &str, path: &str) -> Raw {
    raw_bytes(
        &fx.emulator,
        &format!("GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {}\r\n", base64_basic("aws", password)),
        b"",
    )
}

#[test]
fn reupload_rules() {
    let fx = fixture();
    let token = fx.emulator.issue_token(None).unwrap().value;
    // Identical content under an existing name: accepted, nothing changes.
    let before = std::fs::metadata(fx.dir.path().join("packages").join(WHEEL_100)).unwrap().modified().unwrap();
    assert_eq!(upload(&fx, Some(&token), WHEEL_100, b"wheel 1.0.0").unwrap().status, 200);
    let after = std::fs::metadata(fx.dir.path().join("packages").join(WHEEL_100)).unwrap().modified().unwrap();
    assert_eq!(before, after);
    // Different content: 409 with CodeArtifact's body, even for twine (pypiserver
    // would say 400 and its own words). Real behaviour: "Trying to republish the
    // same asset name with different content will result in an HTTP 409 conflict
    // error" (https://docs.aws.amazon.com/codeartifact/latest/ug/packages-overview.html#package-publishing-overwrite-assets);
    // the body as CodeArtifact sends it: https://github.com/astral-sh/uv/issues/16029.
    let answer = upload(&fx, Some(&token), WHEEL_100, b"tampered").unwrap();
    assert_eq!(answer.status, 409);
    assert_eq!(answer.body.trim_end(), format!("Asset '{WHEEL_100}' already exists."));
    // A new file is pypiserver's business (502: there is none here).
    assert_eq!(upload(&fx, Some(&token), "demo_pkg-1.2.0-py3-none-any.whl", b"new").unwrap().status, 502);
    // Without the right token the emulator takes no shortcut: pypiserver decides.
    assert_eq!(upload(&fx, Some("wrong"), WHEEL_100, b"wheel 1.0.0").unwrap().status, 502);
    assert_eq!(upload(&fx, None, WHEEL_100, b"wheel 1.0.0").unwrap().status, 502);
    fx.emulator.expire_token().unwrap();
    assert_eq!(upload(&fx, Some(&token), WHEEL_100, b"wheel 1.0.0").unwrap().status, 502);

    let log = fx.emulator.requests();
    assert!(log.iter().all(|it| it.operation == "pypi-upload" && it.path == "/pypi/sandbox-repo/"));
    assert_eq!(log[0].file.as_deref(), Some(WHEEL_100));
    assert_eq!(log[0].user.as_deref(), Some("aws"));
    let statuses: Vec<u16> = log.iter().map(|it| it.status).collect();
    assert_eq!(statuses, [200, 409, 502, 502, 502, 502]);
}

#[test]
fn denied_and_blocked_uploads() {
    let fx = fixture();
    let token = fx.emulator.issue_token(None).unwrap().value;
    fx.emulator.inject(Fault::Deny { action: "PublishPackageVersion".into(), principal: None }.times(1)).unwrap();
    let answer = upload(&fx, Some(&token), WHEEL_100, b"wheel 1.0.0").unwrap();
    assert_eq!(answer.status, 403);
    assert!(
        answer.body.contains(
            "is not authorized to perform: codeartifact:PublishPackageVersion on resource: \
             arn:aws:codeartifact:us-east-1:111122223333:package/sandbox-domain/sandbox-repo/pypi//demo-pkg"
        ),
        "{}",
        answer.body
    );
    fx.emulator
        .set_origin_restrictions(OriginRestrictions { publish: Restriction::Block, upstream: Restriction::Block });
    let answer = upload(&fx, Some(&token), WHEEL_100, b"wheel 1.0.0").unwrap();
    assert_eq!(answer.status, 403);
    assert!(answer.body.contains("publish: BLOCK"), "{}", answer.body);
}

#[test]
fn broken_uploads() {
    let fx = fixture();
    let token = fx.emulator.issue_token(None).unwrap().value;
    // One upload through, then two refused, then normal again.
    fx.emulator.inject(Fault::Upload { pass: 1, failure: UploadFailure::Forbidden }.times(2)).unwrap();
    let statuses: Vec<u16> =
        (0..4).map(|_| upload(&fx, Some(&token), WHEEL_100, b"wheel 1.0.0").unwrap().status).collect();
    assert_eq!(statuses, [200, 403, 403, 200]);

    fx.emulator.inject(Fault::Upload { pass: 0, failure: UploadFailure::InternalError }.times(1)).unwrap();
    assert_eq!(upload(&fx, Some(&token), WHEEL_100, b"wheel 1.0.0").unwrap().status, 500);

    fx.emulator.inject(Fault::Upload { pass: 0, failure: UploadFailure::Reset }.times(1)).unwrap();
    assert!(upload(&fx, Some(&token), WHEEL_100, b"wheel 1.0.0").is_none(), "the connection must close unanswered");
    assert_eq!(fx.emulator.requests().last().unwrap().status, 0);
    assert_eq!(upload(&fx, Some(&token), WHEEL_100, b"wheel 1.0.0").unwrap().status, 200);

    // Uploads with a wrong token do not use up the fault.
    fx.emulator.inject(Fault::Upload { pass: 0, failure: UploadFailure::Forbidden }.times(1)).unwrap();
    assert_eq!(upload(&fx, Some("wrong"), WHEEL_100, b"wheel 1.0.0").unwrap().status, 502);
    assert_eq!(fx.emulator.faults().len(), 1);
}

#[test]
fn token_expires_in_the_middle_of_a_release() {
    let fx = fixture();
    rt().block_on(async {
        let client = client(&fx.emulator).await;
        let out = client.get_authorization_token().domain("sandbox-domain").send().await.unwrap();
        let token = out.authorization_token().unwrap().to_owned();
        // The first upload goes through; the token runs out before the second.
        let answer = control(
            &fx.emulator,
            "POST",
            "/faults",
            Some(serde_json::json!({"kind": "upload", "pass": 1, "failure": "expire-token", "times": 1})),
        );
        assert_eq!(answer.json()["faults"][0]["failure"], "expire-token");
        assert_eq!(fx.emulator.faults()[0].fault, Fault::Upload { pass: 1, failure: UploadFailure::ExpireToken });
        assert_eq!(upload(&fx, Some(&token), WHEEL_100, b"wheel 1.0.0").unwrap().status, 200);
        // A new file would be forwarded (502 here, with no pypiserver): 401 shows the
        // emulator refused it itself.
        let answer = upload(&fx, Some(&token), "demo_pkg-1.2.0-py3-none-any.whl", b"new").unwrap();
        assert_eq!(answer.status, 401, "{answer:?}");
        assert_eq!(answer.header("WWW-Authenticate"), Some(r#"Basic realm="pypi""#));
        assert!(answer.body.contains("GetAuthorizationToken"), "{}", answer.body);
        assert!(!fx.dir.path().join("packages/demo_pkg-1.2.0-py3-none-any.whl").exists());

        // The token is gone for good: no shortcut for it any more (pypiserver decides).
        assert!(fx.emulator.current_token().is_none());
        assert_eq!(control(&fx.emulator, "GET", "/token", None).json()["active"], false);
        assert!(fx.emulator.faults().is_empty());
        assert_eq!(upload(&fx, Some(&token), WHEEL_100, b"wheel 1.0.0").unwrap().status, 502);

        // The next GetAuthorizationToken issues a fresh token, which works.
        let out = client.get_authorization_token().domain("sandbox-domain").send().await.unwrap();
        let fresh = out.authorization_token().unwrap().to_owned();
        assert_ne!(fresh, token);
        assert_eq!(upload(&fx, Some(&fresh), WHEEL_100, b"wheel 1.0.0").unwrap().status, 200);
        assert_eq!(fx.emulator.issued_tokens(), [token.clone(), fresh.clone()]);
        let logged = format!("{:?}", fx.emulator.requests());
        assert!(!logged.contains(&token[..40]) && !logged.contains(&fresh[..40]));
    });
    let uploads: Vec<u16> =
        fx.emulator.requests().iter().filter(|it| it.operation == "pypi-upload").map(|it| it.status).collect();
    assert_eq!(uploads, [200, 401, 502, 200]);
}

#[test]
fn reads_and_missing_repositories() {
    let fx = fixture();
    let token = fx.emulator.issue_token(None).unwrap().value;
    let answer = get(&fx, &token, "/pypi/sandbox-repo/simple/");
    assert_eq!(answer.status, 502);
    assert!(answer.header("x-amzn-RequestId").is_some());
    fx.emulator.inject(Fault::Deny { action: "ReadFromRepository".into(), principal: None }.times(1)).unwrap();
    let answer = get(&fx, &token, "/pypi/sandbox-repo/simple/demo-pkg/");
    assert_eq!(answer.status, 403);
    assert!(answer.body.contains("codeartifact:ReadFromRepository on resource: arn:aws:codeartifact:us-east-1:111122223333:repository/sandbox-domain/sandbox-repo"));
    fx.emulator.inject(Fault::RepositoryNotFound.times(1)).unwrap();
    assert_eq!(get(&fx, &token, "/pypi/sandbox-repo/packages/x.whl").status, 404);
    assert_eq!(get(&fx, &token, "/pypi/other-repo/simple/").status, 404);
    // Slow faults can target the PyPI endpoint.
    fx.emulator.inject(Fault::Slow { delay_ms: 300 }.times(1).only("pypi-download")).unwrap();
    let started = std::time::Instant::now();
    get(&fx, &token, "/pypi/sandbox-repo/packages/x.whl");
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));
    let operations: Vec<String> = fx.emulator.requests().into_iter().map(|it| it.operation.to_string()).collect();
    assert_eq!(operations, ["pypi-index", "pypi-index", "pypi-download", "pypi-other", "pypi-download"]);
}

/// A HEAD of a file keeps pypiserver's `Content-Length` (and `Accept-Ranges`):
/// uv sizes its range requests for a wheel's metadata by it, and a length of 0
/// made it read past the file ("unable to locate the end of central directory").
#[test]
fn head_answers_keep_the_upstream_length() {
    use std::io::{Read, Write};
    let upstream = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = upstream.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = upstream.accept().unwrap();
        let mut request = [0u8; 4096];
        let n = conn.read(&mut request).unwrap();
        assert!(request[..n].starts_with(b"HEAD "), "{}", String::from_utf8_lossy(&request[..n]));
        conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 994\r\nAccept-Ranges: bytes\r\nConnection: close\r\n\r\n")
            .unwrap();
    });
    let fx = fixture_with(|config| config.upstream = Some(addr));
    let token = fx.emulator.issue_token(None).unwrap().value;
    let head = format!(
        "HEAD /pypi/sandbox-repo/packages/{WHEEL_100} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {}\r\n",
        base64_basic("aws", &token)
    );
    let answer = raw_bytes(&fx.emulator, &head, b"");
    server.join().unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("content-length"), Some("994"));
    assert_eq!(answer.header("accept-ranges"), Some("bytes"));
}
