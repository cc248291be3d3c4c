//! AssumeRoleWithWebIdentity's token checks, made before a token reaches moto
//! (which accepts any token): castack refuses what STS refuses, with STS's codes.
//!
//! In STS's order: the token must be a JWT; its `iss` names the OIDC provider, which
//! must exist in IAM in the role's account (castack asks moto's IAM,
//! GetOpenIDConnectProvider); its signature must verify with the issuer's keys
//! (castack knows the keys of one issuer, its own fake GitHub issuer, which issues
//! `iss` = `https://token.actions.githubusercontent.com`); `aud` must be one of the
//! provider's client ids; `exp` must not have passed; `nbf` and `iat` must not lie in
//! the future.
//!
//! Codes and statuses are those of the STS model (boto/botocore
//! `botocore/data/sts/2011-06-15/service-2.json`: `InvalidIdentityToken` 400,
//! `ExpiredTokenException` 400). The messages AWS documents or users reported are
//! used where they exist: `No OpenIDConnect provider found in your account for …`
//! and `Incorrect token audience` (aws-actions/configure-aws-credentials README),
//! `Token expired: current date/time … must be before the expiration date/time …`
//! (aws/aws-sdk-java-v2#5709), `Couldn't retrieve verification key from your identity
//! provider,  please reference AssumeRoleWithWebIdentity documentation for
//! requirements` (awslabs/aws-sdk-rust#827, for an issuer castack cannot reach); for
//! a malformed, tampered or not yet valid token, whose wording AWS does not
//! document, the model's description of `InvalidIdentityTokenException`.

use base64::Engine;
use serde_json::{Map, Value};

use crate::{
    config::{ACCESS_KEY_ID, SECRET_ACCESS_KEY},
    forward,
    http::{Body, Request},
    keyring::AwsKey,
    sigv4,
    state::State,
    util,
};

/// The issuer the fake GitHub OIDC endpoint plays; castack's STS verifies its
/// tokens with the emulator's key.
pub(crate) const ISSUER: &str = "https://token.actions.githubusercontent.com";

/// `InvalidIdentityTokenException`'s description in the STS model.
const NOT_VALIDATED: &str = "The web identity token that was passed could not be validated by Amazon Web Services. \
                             Get a new identity token from the identity provider and then retry the request.";

/// An STS error answer: status, code, message.
pub(crate) struct Refused {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

fn invalid(message: impl Into<String>) -> Refused {
    Refused { status: 400, code: "InvalidIdentityToken", message: message.into() }
}

/// Checks the `WebIdentityToken` of an AssumeRoleWithWebIdentity form (`form`
/// decoded) at `now` (seconds since the epoch).
pub(crate) fn check(state: &State, form: &[(String, String)], now: u64) -> Result<(), Refused> {
    let param = |name: &str| form.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
    let (Some(token), Some(role_arn)) = (param("WebIdentityToken"), param("RoleArn")) else {
        let missing = if param("WebIdentityToken").is_none() { "webIdentityToken" } else { "roleArn" };
        return Err(Refused {
            status: 400,
            code: "ValidationError",
            message: format!(
                "1 validation error detected: Value null at '{missing}' failed to satisfy constraint: Member must not \
                 be null"
            ),
        });
    };
    let account = role_account(role_arn).ok_or_else(|| Refused {
        status: 400,
        code: "ValidationError",
        message: "Request ARN is invalid".to_owned(),
    })?;
    let jwt = Jwt::decode(token).ok_or_else(|| invalid(NOT_VALIDATED))?;
    let issuer = jwt.claims.get("iss").and_then(Value::as_str).unwrap_or_default();
    let client_ids = provider_client_ids(state, account, issuer)?;
    if issuer != ISSUER {
        // A provider for another issuer: STS would fetch that issuer's keys, which
        // castack cannot reach.
        return Err(invalid(
            "Couldn't retrieve verification key from your identity provider,  please reference \
             AssumeRoleWithWebIdentity documentation for requirements",
        ));
    }
    if !jwt.signed_by(state) {
        return Err(invalid(NOT_VALIDATED));
    }
    let audiences: Vec<&str> = match jwt.claims.get("aud") {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !audiences.iter().any(|aud| client_ids.iter().any(|id| id == aud)) {
        return Err(invalid("Incorrect token audience"));
    }
    check_times(&jwt.claims, now)
}

/// `exp` must lie ahead; `nbf` and `iat` must not lie ahead (beyond five minutes of
/// clock skew, which the runner's and AWS's clocks may have).
fn check_times(claims: &Map<String, Value>, now: u64) -> Result<(), Refused> {
    let time = |name: &str| claims.get(name).and_then(Value::as_u64);
    let (Some(exp), Some(iat)) = (time("exp"), time("iat")) else { return Err(invalid(NOT_VALIDATED)) };
    if now >= exp {
        return Err(Refused {
            status: 400,
            code: "ExpiredTokenException",
            message: format!("Token expired: current date/time {now} must be before the expiration date/time {exp}"),
        });
    }
    let future = |at: u64| at > now + 300;
    if future(iat) || time("nbf").is_some_and(future) {
        return Err(invalid(NOT_VALIDATED));
    }
    Ok(())
}

/// The account of `arn:<partition>:iam::<12 digits>:role/<path and name>`.
fn role_account(arn: &str) -> Option<&str> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ["arn", partition, "iam", "", account, resource] = parts[..] else { return None };
    let valid = !partition.is_empty()
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && resource.strip_prefix("role/").is_some_and(|it| !it.is_empty());
    valid.then_some(account)
}

/// The client ids of the OIDC provider for `issuer` in `account`, from moto's IAM.
fn provider_client_ids(state: &State, account: &str, issuer: &str) -> Result<Vec<String>, Refused> {
    let not_found = || invalid(format!("No OpenIDConnect provider found in your account for {issuer}"));
    let Some(host_path) = issuer.strip_prefix("https://").filter(|it| !it.is_empty() && !it.contains(['?', '#']))
    else {
        return Err(not_found());
    };
    let Some(moto) = state.config.sts_upstream else {
        return Err(unavailable("no moto_server behind this emulator for IAM (EmulatorConfig::sts_upstream is None)"));
    };
    let arn = format!("arn:aws:iam::{account}:oidc-provider/{host_path}");
    let body = format!(
        "Action=GetOpenIDConnectProvider&Version=2010-05-08&OpenIDConnectProviderArn={}",
        util::percent_encode(&arn)
    );
    let mut headers = vec![
        ("Host".to_owned(), moto.to_string()),
        ("Content-Type".to_owned(), "application/x-www-form-urlencoded; charset=utf-8".to_owned()),
        // moto keeps IAM per account; this header picks the role's.
        ("x-moto-account-id".to_owned(), account.to_owned()),
    ];
    let key = AwsKey::new(ACCESS_KEY_ID, SECRET_ACCESS_KEY);
    sigv4::sign_request(("POST", "/", body.as_bytes()), &mut headers, &key, ("us-east-1", "iam"), util::now_secs());
    let req = Request {
        method: "POST".to_owned(),
        target: "/".to_owned(),
        http10: false,
        headers,
        body: body.into_bytes(),
        connection: 0,
    };
    let failed =
        |err: String| unavailable(&format!("castack could not ask moto_server's IAM at {moto} for {arn}: {err}"));
    let answer = forward::send(&req, moto).map_err(|err| failed(err.to_string()))?;
    let text = match answer.body {
        Body::Bytes(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Body::Stream(reader, _) => {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut std::io::Read::take(reader, 1024 * 1024), &mut bytes)
                .map_err(|err| failed(err.to_string()))?;
            String::from_utf8_lossy(&bytes).into_owned()
        }
        // Only castack's own fault answers trickle; moto's never do.
        Body::Trickle(_) => String::new(),
    };
    match answer.status {
        200 => Ok(util::xml_elements(&text, "member")),
        404 => Err(not_found()),
        status => Err(failed(format!("HTTP {status}"))),
    }
}

fn unavailable(message: &str) -> Refused {
    Refused { status: 502, code: "ServiceUnavailable", message: message.to_owned() }
}

/// A decoded JWT: header and claims, and what its signature covers.
struct Jwt<'a> {
    header: Map<String, Value>,
    claims: Map<String, Value>,
    signed_part: &'a str,
    signature: Vec<u8>,
}

impl<'a> Jwt<'a> {
    /// `None` unless `text` is three base64url segments, the first two JSON objects.
    fn decode(text: &'a str) -> Option<Jwt<'a>> {
        let b64 = |segment: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(segment).ok();
        let object = |segment: &str| match serde_json::from_slice(&b64(segment)?) {
            Ok(Value::Object(map)) => Some(map),
            _ => None,
        };
        let [header, claims, signature] = text.split('.').collect::<Vec<_>>()[..] else { return None };
        let signed_part = &text[..header.len() + 1 + claims.len()];
        Some(Jwt { header: object(header)?, claims: object(claims)?, signed_part, signature: b64(signature)? })
    }

    /// Whether the emulator's OIDC key signed it (`HS256`, the emulator's `kid`).
    fn signed_by(&self, state: &State) -> bool {
        let header = |name: &str| self.header.get(name).and_then(Value::as_str);
        header("alg") == Some("HS256")
            && header("kid") == Some(state.oidc_key_id.as_str())
            && util::constant_time_eq(&util::hmac_sha256(&state.oidc_key, self.signed_part.as_bytes()), &self.signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_accounts() {
        assert_eq!(role_account("arn:aws:iam::111122223333:role/ci-publisher"), Some("111122223333"));
        assert_eq!(role_account("arn:aws-cn:iam::111122223333:role/path/ci"), Some("111122223333"));
        for bad in ["arn:aws:iam::11112222333:role/x", "arn:aws:iam::111122223333:user/x", "arn:aws:sts::1:role/x", "x"]
        {
            assert_eq!(role_account(bad), None, "{bad}");
        }
    }

    #[test]
    fn times() {
        let claims = |pairs: &[(&str, u64)]| pairs.iter().map(|(k, v)| (k.to_string(), Value::from(*v))).collect();
        assert!(check_times(&claims(&[("exp", 1300), ("iat", 1000), ("nbf", 400)]), 1000).is_ok());
        let err = check_times(&claims(&[("exp", 1000), ("iat", 700)]), 1000).unwrap_err();
        assert_eq!((err.status, err.code), (400, "ExpiredTokenException"));
        assert_eq!(err.message, "Token expired: current date/time 1000 must be before the expiration date/time 1000");
        for bad in [claims(&[("exp", 2000), ("iat", 1301)]), claims(&[("exp", 2000), ("iat", 1000), ("nbf", 1400)])] {
            assert_eq!(check_times(&bad, 1000).unwrap_err().code, "InvalidIdentityToken");
        }
        assert_eq!(check_times(&claims(&[("exp", 2000)]), 1000).unwrap_err().code, "InvalidIdentityToken");
    }

    #[test]
    fn malformed_tokens() {
        for bad in ["not-a-jwt", "a.b", "a.b.c.d", "e30.e30.!!", "W10.e30.", "e30.bnVsbA."] {
            assert!(Jwt::decode(bad).is_none(), "{bad}");
        }
        let jwt = Jwt::decode("e30.eyJpc3MiOiJ4In0.AAEC").unwrap();
        assert_eq!((jwt.signed_part, jwt.signature.as_slice()), ("e30.eyJpc3MiOiJ4In0", [0u8, 1, 2].as_slice()));
    }
}
