//! What STS refuses, the emulator refuses, in STS's codes and as aws-sdk-sts
//! surfaces them: web-identity tokens that are malformed, tampered, expired, not
//! yet valid, for another audience or issuer, or from an account without GitHub's
//! provider (the stand-in for moto's IAM knows it in 111122223333 only); and signed
//! calls with a wrong secret, an unknown key, a wrong session token, an ended
//! session or a stale date. None of them reaches the upstream.

use aws_sdk_sts::error::ProvideErrorMetadata;
use castack::{AwsKey, OidcSigning};
use serde_json::{Map, json};

use crate::{
    sts::{FakeMoto, assume, caller_identity, fake_credentials, static_credentials},
    support::*,
};

/// A JWT with the emulator's claims overridden by `claims` (then restored).
fn token_with(fx: &Fixture, claims: serde_json::Value) -> String {
    let claims: Map<String, serde_json::Value> = serde_json::from_value(claims).unwrap();
    fx.emulator.set_oidc_claims(claims);
    let jwt = fx.emulator.mint_oidc_token(None);
    fx.emulator.reset();
    jwt
}

#[test]
fn web_identity_tokens_sts_would_refuse() {
    let moto = FakeMoto::start();
    let fx = fixture_with(|config| config.sts_upstream = Some(moto.addr()));
    let now = now();
    fx.emulator.set_oidc_signing(OidcSigning::Tampered);
    let tampered = fx.emulator.mint_oidc_token(None);
    fx.emulator.reset();
    let valid = fx.emulator.mint_oidc_token(None);
    // The valid token's claims with another key's signature (a forged token).
    let forged = format!("{}.AAAA", valid.rsplit_once('.').unwrap().0);
    let model = "The web identity token that was passed could not be validated by Amazon Web Services. Get a new \
                 identity token from the identity provider and then retry the request.";
    let expired_message =
        format!("Token expired: current date/time {now} must be before the expiration date/time {}", now - 60);
    let cases: Vec<(&str, String, &str, String)> = vec![
        ("not a JWT", "not-a-jwt".to_owned(), "InvalidIdentityToken", model.to_owned()),
        ("tampered", tampered, "InvalidIdentityToken", model.to_owned()),
        ("forged", forged, "InvalidIdentityToken", model.to_owned()),
        ("expired", token_with(&fx, json!({"exp": now - 60})), "ExpiredTokenException", expired_message),
        ("not yet valid", token_with(&fx, json!({"nbf": now + 3600})), "InvalidIdentityToken", model.to_owned()),
        ("issued in the future", token_with(&fx, json!({"iat": now + 3600})), "InvalidIdentityToken", model.to_owned()),
        (
            "another audience",
            fx.emulator.mint_oidc_token(Some("https://example.com/aud")),
            "InvalidIdentityToken",
            "Incorrect token audience".to_owned(),
        ),
        (
            "another issuer",
            token_with(&fx, json!({"iss": "https://issuer.example.invalid"})),
            "InvalidIdentityToken",
            "No OpenIDConnect provider found in your account for https://issuer.example.invalid".to_owned(),
        ),
    ];
    rt().block_on(async {
        let sts = sts_client(&fx.emulator, static_credentials()).await;
        for (what, jwt, code, message) in cases {
            let (got_code, got_message, status) = assume(&sts, &jwt).await.unwrap_err();
            assert_eq!((got_code.as_str(), status), (code, 400), "{what}: {got_message}");
            assert!(
                got_message == message || (code == "ExpiredTokenException" && got_message.starts_with("Token expired")),
                "{what}: {got_message}"
            );
        }
        // The role's account has no GitHub provider.
        let err = sts
            .assume_role_with_web_identity()
            .role_arn("arn:aws:iam::444455556666:role/ci-publisher")
            .role_session_name("release-session")
            .web_identity_token(&valid)
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert!(err.is_invalid_identity_token_exception(), "{err:?}");
        assert_eq!(
            err.message(),
            Some("No OpenIDConnect provider found in your account for https://token.actions.githubusercontent.com")
        );
        // The valid token passes.
        assume(&sts, &valid).await.unwrap();
    });
    // Only the valid exchange reached the upstream's STS (the rest asked its IAM).
    let exchanges = fx.emulator.issued_sts_secrets();
    assert_eq!(exchanges.len(), 2, "one session: secret and token");
}

#[test]
fn signatures_sts_would_refuse() {
    let moto = FakeMoto::start();
    let fx = fixture_with(|config| config.sts_upstream = Some(moto.addr()));
    rt().block_on(async {
        let caller = |key: &str, secret: &str, token: Option<&str>| {
            let credentials =
                aws_sdk_codeartifact::config::Credentials::new(key, secret, token.map(str::to_owned), None, "test");
            let emulator = &fx.emulator;
            async move { caller_identity(&sts_client(emulator, credentials).await).await }
        };
        // The SDK's own signature is accepted.
        assert!(caller(ACCESS_KEY, SECRET, None).await.is_ok());
        let (code, message) = caller(ACCESS_KEY, "contract-secreT", None).await.unwrap_err();
        assert_eq!(code, "SignatureDoesNotMatch");
        assert!(message.starts_with("The request signature we calculated does not match"), "{message}");
        let invalid =
            ("InvalidClientTokenId".to_owned(), "The security token included in the request is invalid".to_owned());
        assert_eq!(caller("AKIDNOBODYKNOWS00001", SECRET, None).await.unwrap_err(), invalid);

        // Sessions the upstream issued through the emulator: accepted with their
        // token, refused without it or with another, and once they ended.
        let sts = sts_client(&fx.emulator, static_credentials()).await;
        let issued = assume(&sts, &fx.emulator.mint_oidc_token(None)).await.unwrap();
        let (key, secret, token) = fake_credentials(0);
        assert_eq!(issued.access_key_id(), key);
        assert!(caller(&key, &secret, Some(&token)).await.is_ok());
        assert_eq!(caller(&key, &secret, None).await.unwrap_err(), invalid);
        assert_eq!(caller(&key, &secret, Some("FQoGZXIvYXdzOTHER")).await.unwrap_err(), invalid);
        let ended = sts
            .assume_role_with_web_identity()
            .role_arn("arn:aws:iam::111122223333:role/ci-publisher")
            .role_session_name("expired-session")
            .web_identity_token(fx.emulator.mint_oidc_token(None))
            .send()
            .await
            .unwrap();
        let creds = ended.credentials().unwrap();
        let err = caller(creds.access_key_id(), creds.secret_access_key(), Some(creds.session_token())).await;
        assert_eq!(
            err.unwrap_err(),
            ("ExpiredToken".to_owned(), "The security token included in the request is expired".to_owned())
        );
    });
    // A signed call from 16 minutes ago (STS allows 15).
    let form = "Action=GetCallerIdentity&Version=2011-06-15";
    let content_type = ("Content-Type", "application/x-www-form-urlencoded");
    let key = AwsKey::new(ACCESS_KEY, SECRET);
    let head = signed_head_with(
        &fx.emulator,
        ("POST", "/", form.as_bytes()),
        &[content_type],
        &key,
        ("us-east-1", "sts", now() - 16 * 60),
    );
    let answer = raw_bytes(&fx.emulator, &format!("{head}Content-Length: {}\r\n", form.len()), form.as_bytes());
    assert_eq!(answer.status, 403, "{answer:?}");
    assert!(answer.body.contains("<Code>SignatureDoesNotMatch</Code>"), "{}", answer.body);
    assert!(
        answer.body.contains("<Message>Signature expired: ") && answer.body.contains(" - 15 min.)"),
        "{}",
        answer.body
    );
    // A signed web-identity call is verified too.
    let form = "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=x&RoleSessionName=s&WebIdentityToken=abcd";
    let wrong = AwsKey::new(ACCESS_KEY, "wrong");
    let head = signed_head_with(
        &fx.emulator,
        ("POST", "/", form.as_bytes()),
        &[content_type],
        &wrong,
        ("us-east-1", "sts", now()),
    );
    let answer = raw_bytes(&fx.emulator, &format!("{head}Content-Length: {}\r\n", form.len()), form.as_bytes());
    assert!(answer.body.contains("<Code>SignatureDoesNotMatch</Code>"), "{}", answer.body);
}
