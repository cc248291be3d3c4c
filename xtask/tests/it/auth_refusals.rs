//! A release that authenticates wrongly fails against the local stack as it would
//! against AWS, with the release's own explanation: a secret key that does not
//! belong to the key id (castack verifies SigV4, SignatureDoesNotMatch), and a
//! GitHub ID token that STS refuses (castack's STS checks the token before moto
//! sees it: expired, ExpiredTokenException; tampered, InvalidIdentityToken). Nothing
//! is uploaded in any of them.

use castack::OidcSigning;
use serde_json::json;

use crate::support::{Creds, copy_repo, release, release_env, start_stack, text, uploads};

#[test]
fn a_wrong_secret_or_a_refused_id_token_fails_with_the_explanation() {
    let stack = start_stack();
    let repo = copy_repo("auth-refusals");

    // The domain owner's session with one character of the secret changed.
    let mut vars = release_env(&stack, Creds::Static, "", &[]);
    let secret = vars.iter_mut().find(|(k, _)| k == "AWS_SECRET_ACCESS_KEY").unwrap();
    let last = secret.1.pop().unwrap();
    secret.1.push(if last == 'A' { 'B' } else { 'A' });
    let out = release(repo.path(), &["v1.0.0"], &vars);
    let log = text(&out);
    assert!(!out.status.success(), "{log}");
    for want in [
        "GetCallerIdentity failed: The request signature we calculated does not match",
        "the secret access key does not belong to the access key id",
        "AWS_SECRET_ACCESS_KEY",
    ] {
        assert!(log.contains(want), "{want:?} missing:\n{log}");
    }
    assert!(uploads(&stack).is_empty());

    // GitHub Actions with an ID token that expired a while ago (each fresh one too).
    let vars = release_env(&stack, Creds::GithubOidc, "v1.0.0", &[]);
    let expired = serde_json::from_value(json!({"exp": 1_700_000_000, "iat": 1_699_999_700})).unwrap();
    stack.emulator().set_oidc_claims(expired);
    let out = release(repo.path(), &[], &vars);
    let log = text(&out);
    assert!(!out.status.success(), "{log}");
    for want in [
        "AssumeRoleWithWebIdentity answered ExpiredTokenException; retrying with a fresh ID token",
        "AssumeRoleWithWebIdentity failed: Token expired: current date/time",
        "The GitHub ID token expired before STS saw it",
    ] {
        assert!(log.contains(want), "{want:?} missing:\n{log}");
    }
    assert!(uploads(&stack).is_empty());

    // An ID token whose `sub` was changed after GitHub signed it.
    stack.emulator().reset();
    stack.emulator().set_oidc_signing(OidcSigning::Tampered);
    let out = release(repo.path(), &[], &vars);
    let log = text(&out);
    assert!(!out.status.success(), "{log}");
    for want in [
        "AssumeRoleWithWebIdentity failed: The web identity token that was passed could not be validated",
        "its signature does not match its contents",
    ] {
        assert!(log.contains(want), "{want:?} missing:\n{log}");
    }
    assert!(uploads(&stack).is_empty());
    let refused: Vec<u16> = stack
        .emulator()
        .requests()
        .into_iter()
        .filter(|it| it.operation == "AssumeRoleWithWebIdentity")
        .map(|it| it.status)
        .collect();
    assert_eq!(refused, [400], "the tampered token is not retried");

    // With the token as issued, the same release goes through.
    stack.emulator().reset();
    let out = release(repo.path(), &[], &vars);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(uploads(&stack).len(), 2);
}
