//! The STS proxy: AWS query-protocol requests are forwarded to an upstream (a
//! stand-in for moto_server here, so no Python is needed), STS faults come back in
//! STS's XML error shape as aws-sdk-sts reads it, the request log names the action
//! without any secret, and the credentials the upstream issues are remembered (and
//! accepted). What STS refuses (signatures, web-identity tokens) is in
//! `sts_refusals.rs`.

use std::time::{Duration, Instant};

use aws_sdk_codeartifact::config::Credentials;
use aws_sdk_sts::{
    error::ProvideErrorMetadata, operation::assume_role_with_web_identity::AssumeRoleWithWebIdentityError,
};
use castack::{Emulator, Fault};
use serde_json::json;

pub(crate) use crate::fake_moto::{FakeMoto, fake_credentials};
use crate::support::*;

const ROLE: &str = "arn:aws:iam::111122223333:role/ci-publisher";

pub(crate) fn static_credentials() -> Credentials {
    Credentials::new(ACCESS_KEY, SECRET, None, None, "contract")
}

pub(crate) async fn assume(
    sts: &aws_sdk_sts::Client,
    jwt: &str,
) -> Result<aws_sdk_sts::types::Credentials, (String, String, u16)> {
    sts.assume_role_with_web_identity()
        .role_arn(ROLE)
        .role_session_name("release-session")
        .web_identity_token(jwt)
        .send()
        .await
        .map(|out| out.credentials().unwrap().clone())
        .map_err(|err| {
            let status = err.raw_response().map_or(0, |it| it.status().as_u16());
            let err = err.into_service_error();
            (err.code().unwrap_or("<none>").to_owned(), err.message().unwrap_or("<none>").to_owned(), status)
        })
}

pub(crate) async fn caller_identity(sts: &aws_sdk_sts::Client) -> Result<String, (String, String)> {
    sts.get_caller_identity().send().await.map(|out| out.arn().unwrap_or_default().to_owned()).map_err(|err| {
        let err = err.into_service_error();
        (err.code().unwrap_or("<none>").to_owned(), err.message().unwrap_or("<none>").to_owned())
    })
}

#[test]
fn forwards_to_the_upstream_logs_without_secrets_and_records_credentials() {
    let moto = FakeMoto::start();
    let fx = fixture_with(|config| config.sts_upstream = Some(moto.addr()));
    let jwt = fx.emulator.mint_oidc_token(None);
    let (key, secret, session) = fake_credentials(0);
    rt().block_on(async {
        // Unsigned, as the SDK sends AssumeRoleWithWebIdentity.
        let sts = sts_client(&fx.emulator, static_credentials()).await;
        let creds = assume(&sts, &jwt).await.unwrap();
        assert_eq!(creds.access_key_id(), key);
        assert_eq!(creds.secret_access_key(), secret);
        assert_eq!(creds.session_token(), session);

        // Signed with the issued credentials (credential scope service `sts`).
        let session_creds = Credentials::new(&key, &secret, Some(session.clone()), None, "assumed");
        let sts = sts_client(&fx.emulator, session_creds).await;
        let arn = caller_identity(&sts).await.unwrap();
        assert_eq!(arn, "arn:aws:sts::111122223333:assumed-role/ci-publisher/release-session");

        // The same endpoint still serves CodeArtifact.
        client(&fx.emulator).await.describe_domain().domain("sandbox-domain").send().await.unwrap();
    });

    // Before the token went on, the emulator asked IAM (in the role's account) for
    // the token issuer's provider; then the upstream got the requests as the SDK
    // sent them.
    let mut seen = moto.seen();
    assert_eq!(seen.len(), 3, "{seen:?}");
    let lookup = seen.remove(0);
    assert!(lookup.body.contains("Action=GetOpenIDConnectProvider"), "{}", lookup.body);
    assert!(lookup.head.contains("x-moto-account-id: 111122223333"), "{}", lookup.head);
    assert!(lookup.head.contains("/us-east-1/iam/aws4_request"), "{}", lookup.head);
    assert!(seen[0].head.starts_with("POST / HTTP/1.1\r\n"), "{}", seen[0].head);
    assert!(!seen[0].head.to_ascii_lowercase().contains("\nauthorization:"), "unsigned: {}", seen[0].head);
    assert!(seen[0].body.contains("Action=AssumeRoleWithWebIdentity"), "{}", seen[0].body);
    assert!(seen[0].body.contains("Version=2011-06-15"), "{}", seen[0].body);
    assert!(seen[0].body.contains(&jwt), "the token must reach the upstream unchanged");
    assert!(seen[1].body.contains("Action=GetCallerIdentity"), "{}", seen[1].body);
    assert!(seen[1].head.contains(&format!("Credential={key}/")), "{}", seen[1].head);
    assert!(seen[1].head.contains("/us-east-1/sts/aws4_request"), "{}", seen[1].head);

    // Logged by action, with the access key id of the signed call only.
    let log = fx.emulator.requests();
    let summary: Vec<(&str, &str, u16, Option<&str>)> = log
        .iter()
        .map(|it| (it.method.as_str(), it.operation.as_str(), it.status, it.access_key_id.as_deref()))
        .collect();
    assert_eq!(
        summary,
        [
            ("POST", "AssumeRoleWithWebIdentity", 200, None),
            ("POST", "GetCallerIdentity", 200, Some(key.as_str())),
            ("GET", "DescribeDomain", 200, Some(ACCESS_KEY)),
        ]
    );
    assert!(log[..2].iter().all(|it| it.path == "/" && it.query.is_none()));

    // What the upstream issued is remembered, and appears nowhere in the log.
    assert_eq!(fx.emulator.issued_sts_secrets(), [secret.clone(), session.clone()]);
    assert_eq!(fx.emulator.issued_oidc_tokens(), std::slice::from_ref(&jwt));
    let logged = format!("{log:?}{}", control(&fx.emulator, "GET", "/requests", None).body);
    for needle in [jwt.as_str(), &jwt[jwt.len() - 40..], secret.as_str(), session.as_str()] {
        assert!(!logged.contains(needle), "the request log holds a secret: {needle}");
    }
    let info = control(&fx.emulator, "GET", "/info", None).json();
    assert_eq!(info["stsEndpoint"], fx.emulator.url());
    assert_eq!(info["stsUpstream"], format!("http://{}", moto.addr()));

    // Another exchange: new secrets are added; reset keeps them ("ever issued").
    rt().block_on(async {
        let sts = sts_client(&fx.emulator, static_credentials()).await;
        assume(&sts, &fx.emulator.mint_oidc_token(None)).await.unwrap();
    });
    fx.emulator.reset();
    let (_, secret_1, session_1) = fake_credentials(1);
    assert_eq!(fx.emulator.issued_sts_secrets(), [secret, session, secret_1, session_1]);
    assert_eq!(fx.emulator.issued_oidc_tokens().len(), 2);
}

#[test]
fn faults_come_back_in_the_sts_error_shape() {
    // No upstream: whatever is not a fault answers 502, which shows that faults are
    // answered by the emulator itself.
    let fx = fixture();
    let cases = [
        ("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity", 403),
        (
            "InvalidIdentityToken",
            "No OpenIDConnect provider found in your account for https://token.actions.githubusercontent.com",
            400,
        ),
        ("InvalidIdentityToken", "Incorrect token audience", 400),
        (
            "ExpiredTokenException",
            "Token expired: current date/time 1767225900 must be before the expiration date/time 1767225600",
            400,
        ),
    ];
    rt().block_on(async {
        let sts = sts_client(&fx.emulator, static_credentials()).await;
        let jwt = fx.emulator.mint_oidc_token(None);
        for (code, message, status) in cases {
            let fault = Fault::Sts { code: code.into(), message: message.into(), status };
            fx.emulator.inject(fault.times(1).only("AssumeRoleWithWebIdentity")).unwrap();
            let err = sts
                .assume_role_with_web_identity()
                .role_arn(ROLE)
                .role_session_name("release-session")
                .web_identity_token(&jwt)
                .send()
                .await
                .unwrap_err();
            assert_eq!(err.raw_response().map(|it| it.status().as_u16()), Some(status), "{code}");
            let err = err.into_service_error();
            assert_eq!(err.code(), Some(code), "{err:?}");
            assert_eq!(err.message(), Some(message), "{err:?}");
            // The modeled errors arrive as their variants.
            match code {
                "InvalidIdentityToken" => {
                    assert!(matches!(err, AssumeRoleWithWebIdentityError::InvalidIdentityTokenException(_)), "{err:?}")
                }
                "ExpiredTokenException" => {
                    assert!(matches!(err, AssumeRoleWithWebIdentityError::ExpiredTokenException(_)), "{err:?}")
                }
                _ => assert!(err.meta().code() == Some("AccessDenied"), "{err:?}"),
            }
            assert!(fx.emulator.faults().is_empty(), "times(1) is used up");
        }

        // Without a fault and without an upstream: a clear 502.
        let (code, message, status) = assume(&sts, &jwt).await.unwrap_err();
        assert_eq!((code.as_str(), status), ("ServiceUnavailable", 502));
        assert!(message.contains("EmulatorConfig::sts_upstream is None"), "{message}");

        // `.only` picks the action; without it every STS action is hit, but no
        // CodeArtifact operation.
        let denied = Fault::Sts { code: "AccessDenied".into(), message: "denied".into(), status: 403 };
        fx.emulator.inject(denied.clone().always().only("GetCallerIdentity")).unwrap();
        assert_eq!(assume(&sts, &jwt).await.unwrap_err().0, "ServiceUnavailable");
        for _ in 0..2 {
            assert_eq!(caller_identity(&sts).await.unwrap_err(), ("AccessDenied".to_owned(), "denied".to_owned()));
        }
        fx.emulator.clear_faults();
        fx.emulator.inject(denied.always()).unwrap();
        assert_eq!(assume(&sts, &jwt).await.unwrap_err().0, "AccessDenied");
        assert_eq!(caller_identity(&sts).await.unwrap_err().0, "AccessDenied");
        client(&fx.emulator).await.get_authorization_token().domain("sandbox-domain").send().await.unwrap();
        assert_eq!(fx.emulator.faults().len(), 1);
    });
    let operations: Vec<String> = fx.emulator.requests().into_iter().map(|it| it.operation.to_string()).collect();
    assert_eq!(operations.iter().filter(|it| *it == "AssumeRoleWithWebIdentity").count(), 7);
    assert_eq!(operations.last().map(String::as_str), Some("GetAuthorizationToken"));
}

/// A raw STS request: `POST /` with a form body, unsigned.
fn raw_sts(emulator: &Emulator, form: &str) -> Raw {
    raw_bytes(
        emulator,
        &format!(
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded; charset=utf-8\r\n\
             Content-Length: {}\r\n",
            form.len()
        ),
        form.as_bytes(),
    )
}

#[test]
fn error_answers_on_the_wire_and_transient_faults() {
    let fx = fixture();
    let form = "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fr\
                &RoleSessionName=s&WebIdentityToken=secret-web-identity-token";
    let fault = Fault::Sts { code: "AccessDenied".into(), message: "Not <allowed> & done".into(), status: 403 };
    fx.emulator.inject(fault.times(1)).unwrap();
    let answer = raw_sts(&fx.emulator, form);
    assert_eq!(answer.status, 403);
    assert_eq!(answer.header("Content-Type"), Some("text/xml"));
    let request_id = answer.header("x-amzn-RequestId").unwrap().to_owned();
    assert_eq!(request_id.len(), 36, "a UUID: {request_id}");
    let compact: String = answer.body.lines().map(str::trim).collect();
    assert_eq!(
        compact,
        format!(
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type>\
             <Code>AccessDenied</Code><Message>Not &lt;allowed&gt; &amp; done</Message></Error>\
             <RequestId>{request_id}</RequestId></ErrorResponse>"
        )
    );

    // Throttling, internal errors and delays reach STS through `.only`, in STS's shape.
    fx.emulator.inject(Fault::Throttle { retry_after_seconds: 1 }.times(1).only("AssumeRoleWithWebIdentity")).unwrap();
    let answer = raw_sts(&fx.emulator, form);
    assert_eq!(answer.status, 400);
    assert!(answer.body.contains("<Code>Throttling</Code>"), "{}", answer.body);
    fx.emulator.inject(Fault::InternalError.times(1).only("AssumeRoleWithWebIdentity")).unwrap();
    let answer = raw_sts(&fx.emulator, form);
    assert_eq!(answer.status, 500);
    assert!(answer.body.contains("<Type>Receiver</Type>") && answer.body.contains("<Code>InternalFailure</Code>"));
    // After a delay the request meets the token check: this token is no JWT.
    fx.emulator.inject(Fault::Slow { delay_ms: 300 }.times(1).only("AssumeRoleWithWebIdentity")).unwrap();
    let started = Instant::now();
    assert_eq!(raw_sts(&fx.emulator, form).status, 400);
    assert!(started.elapsed() >= Duration::from_millis(300));
    // Without `.only` they stay CodeArtifact faults.
    fx.emulator.inject(Fault::InternalError.times(1)).unwrap();
    let answer = raw_sts(&fx.emulator, form);
    assert_eq!(answer.status, 400);
    assert!(answer.body.contains("<Code>InvalidIdentityToken</Code>"), "{}", answer.body);
    assert_eq!(fx.emulator.faults().len(), 1);

    let log = fx.emulator.requests();
    assert!(log.iter().all(|it| it.operation == "AssumeRoleWithWebIdentity" && it.access_key_id.is_none()));
    assert_eq!(log.iter().map(|it| it.status).collect::<Vec<_>>(), [403, 400, 500, 400, 400]);
    assert!(!format!("{log:?}").contains("secret-web-identity-token"));
}

#[test]
fn codeartifact_routes_stay_codeartifact() {
    let fx = fixture();
    let signed = |service: &str, target: &str, form: &str| {
        let content_type = ("Content-Type", "application/x-www-form-urlencoded");
        let head =
            signed_head(&fx.emulator, ("POST", target, form.as_bytes()), &[content_type], ("us-east-1", service));
        raw_bytes(&fx.emulator, &format!("{head}Content-Length: {}\r\n", form.len()), form.as_bytes())
    };
    let sts_form = "Action=GetCallerIdentity&Version=2011-06-15";
    // A CodeArtifact route with an STS-looking body or signature is still CodeArtifact.
    let answer = signed("codeartifact", "/v1/authorization-token?domain=sandbox-domain", sts_form);
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(answer.json()["authorizationToken"].is_string());
    let answer = signed("sts", "/v1/authorization-token?domain=sandbox-domain", sts_form);
    assert_eq!(answer.header("x-amzn-ErrorType"), Some("InvalidSignatureException"));
    // No Action and no STS signature: CodeArtifact's 404.
    assert_eq!(signed("codeartifact", "/", "").header("x-amzn-ErrorType"), Some("UnknownOperationException"));
    // STS by body, or by signature alone; unsigned, STS wants a signature.
    let answer = raw_sts(&fx.emulator, sts_form);
    assert_eq!(answer.status, 403);
    assert_eq!(answer.header("Content-Type"), Some("text/xml"));
    assert!(answer.body.contains("<Code>MissingAuthenticationToken</Code>"), "{}", answer.body);
    let answer = signed("sts", "/", "");
    assert_eq!(answer.status, 502);
    assert!(answer.body.contains("<ErrorResponse"), "{}", answer.body);
    let answer = raw(&fx.emulator, "GET", "/?Action=GetCallerIdentity&Version=2011-06-15", false);
    assert_eq!(answer.status, 403);

    let log: Vec<(String, Option<String>)> =
        fx.emulator.requests().into_iter().map(|it| (it.operation.to_string(), it.access_key_id)).collect();
    let key = Some(ACCESS_KEY.to_owned());
    assert_eq!(
        log,
        [
            ("GetAuthorizationToken".to_owned(), key.clone()),
            ("GetAuthorizationToken".to_owned(), None),
            ("unknown".to_owned(), None),
            ("GetCallerIdentity".to_owned(), None),
            ("sts".to_owned(), key),
            ("GetCallerIdentity".to_owned(), None),
        ]
    );
}

#[test]
fn sts_faults_over_the_control_api() {
    let fx = fixture();
    let fault = json!({
        "kind": "sts",
        "code": "InvalidIdentityToken",
        "message": "Incorrect token audience",
        "status": 400,
        "operation": "AssumeRoleWithWebIdentity",
        "times": 1,
    });
    let answer = control(&fx.emulator, "POST", "/faults", Some(fault.clone()));
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.json()["faults"][0], fault);
    assert_eq!(
        fx.emulator.faults()[0].fault,
        Fault::Sts { code: "InvalidIdentityToken".into(), message: "Incorrect token audience".into(), status: 400 }
    );
    let answer = raw_sts(&fx.emulator, "Action=AssumeRoleWithWebIdentity&Version=2011-06-15");
    assert_eq!(answer.status, 400);
    assert!(answer.body.contains("<Message>Incorrect token audience</Message>"), "{}", answer.body);
    assert!(fx.emulator.faults().is_empty());

    for bad in [
        json!({"kind": "sts", "message": "no code"}),
        json!({"kind": "sts", "code": "AccessDenied"}),
        json!({"kind": "sts", "code": "AccessDenied", "message": "m", "status": 302}),
        json!({"kind": "sts", "code": "Access Denied", "message": "m"}),
    ] {
        let answer = control(&fx.emulator, "POST", "/faults", Some(bad.clone()));
        assert_eq!(answer.status, 400, "{bad}");
        assert!(answer.json()["error"].as_str().unwrap().contains("sts fault"), "{answer:?}");
    }
    // A bare sts fault answers at once and stays until reset, like deny.
    let answer =
        control(&fx.emulator, "POST", "/faults", Some(json!({"kind": "sts", "code": "AccessDenied", "message": "m"})));
    assert_eq!(
        answer.json()["faults"][0],
        json!({"kind": "sts", "code": "AccessDenied", "message": "m", "status": 400})
    );
    control(&fx.emulator, "POST", "/reset", None);
    assert!(fx.emulator.faults().is_empty());
}
