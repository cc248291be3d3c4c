//! The stack's default caller: a session of the release role in the account that
//! owns the domain, so a sandbox release and `check-iam` run as a newcomer's own
//! setup would (caller and domain in one account) and print no cross-account note.
//!
//! moto files static keys it does not know under its default account 123456789012
//! (`DEFAULT_ACCOUNT_ID` in getmoto/moto `moto/core/models.py`), while the domain
//! belongs to the configured account (111122223333 by default). moto's
//! `sts:AssumeRole` files the session it mints under the account of the role ARN
//! (and needs neither the role nor a trust policy), and GetCallerIdentity with those
//! keys answers `arn:aws:sts::<owner>:assumed-role/<role>/<session>`: exactly the
//! principal the emulator names in its AccessDenied messages. The stack mints that
//! session once, with its throwaway keys, when it starts; the throwaway keys stay
//! available as the cross-account caller ([`crate::Stack::cross_account_credentials_env`]).
//! It also creates GitHub's OIDC provider in that account (`create_github_provider`),
//! which the emulator's STS requires of a web-identity token, as STS does.

use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    time::Duration,
};

use anyhow::{Context, bail};

use crate::{
    clock,
    config::{ACCESS_KEY_ID, DEFAULT_ROLE, SECRET_ACCESS_KEY},
    keyring::AwsKey,
    sigv4, util,
    web_identity::ISSUER,
};

/// The session name, so the caller is `…:assumed-role/ci-publisher/castack`.
pub(crate) const SESSION_NAME: &str = "castack";
/// The longest role session AWS allows (12 h): a sandbox left running for a working
/// day keeps working. The emulator refuses the session's signatures after it ends,
/// as AWS would; the SDK does not know the expiry, since the keys reach clients as
/// plain environment variables.
const SESSION_SECONDS: u32 = 43_200;

/// Temporary credentials of the role session (`AwsKey`'s `Debug` hides the secrets).
#[derive(Clone, Debug)]
pub(crate) struct Session {
    pub key: AwsKey,
    /// When the session ends (seconds since the epoch), as moto answered.
    pub expires: Option<u64>,
    pub arn: String,
}

/// Assumes `arn:aws:iam::<account>:role/ci-publisher` through moto's STS at
/// `moto`, signed with the stack's throwaway static key.
pub(crate) fn assume_role(moto: SocketAddr, region: &str, account: &str) -> anyhow::Result<Session> {
    let role = format!("arn:aws:iam::{account}:role/{DEFAULT_ROLE}");
    let body = format!(
        "Action=AssumeRole&Version=2011-06-15&RoleArn={}&RoleSessionName={SESSION_NAME}&DurationSeconds={SESSION_SECONDS}",
        util::percent_encode(&role)
    );
    // moto picks the service from the credential scope of the signature.
    let answer = call(moto, &body, (region, "sts"), &[])
        .with_context(|| format!("cannot reach moto_server at {moto} for STS"))?;
    let (status_line, xml) = answer.split_once("\r\n").unwrap_or((&answer, ""));
    let field = |tag: &str| util::xml_elements(xml, tag).into_iter().next();
    match (field("AccessKeyId"), field("SecretAccessKey"), field("SessionToken"), field("Arn")) {
        (Some(access_key_id), Some(secret), Some(token), Some(arn)) if status_line.contains(" 200 ") => {
            let expires = field("Expiration").and_then(|it| clock::parse_iso8601(&it));
            Ok(Session { key: AwsKey::new(access_key_id, secret).with_session_token(token), expires, arn })
        }
        _ => bail!("moto_server's sts:AssumeRole of {role} failed: {status_line}"),
    }
}

/// Creates GitHub's OIDC provider (client id `sts.amazonaws.com`, no thumbprint)
/// in `account` of moto's IAM, as `cargo xtask setup` would.
pub(crate) fn create_github_provider(moto: SocketAddr, account: &str) -> anyhow::Result<()> {
    let body = format!(
        "Action=CreateOpenIDConnectProvider&Version=2010-05-08&Url={}&ClientIDList.member.1=sts.amazonaws.com",
        util::percent_encode(ISSUER)
    );
    // moto keeps IAM per account; this header picks the domain owner's.
    let answer = call(moto, &body, ("us-east-1", "iam"), &[("x-moto-account-id", account)])
        .with_context(|| format!("cannot reach moto_server at {moto} for IAM"))?;
    let status_line = answer.lines().next().unwrap_or_default();
    if !status_line.contains(" 200 ") {
        bail!("moto_server's iam:CreateOpenIDConnectProvider in account {account} failed: {status_line}");
    }
    Ok(())
}

/// One signed query-protocol POST to moto; the answer as text.
fn call(moto: SocketAddr, body: &str, scope: (&str, &str), extra: &[(&str, &str)]) -> std::io::Result<String> {
    let mut headers = vec![
        ("Host".to_owned(), moto.to_string()),
        ("Content-Type".to_owned(), "application/x-www-form-urlencoded".to_owned()),
    ];
    headers.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let key = AwsKey::new(ACCESS_KEY_ID, SECRET_ACCESS_KEY);
    sigv4::sign_request(("POST", "/", body.as_bytes()), &mut headers, &key, scope, util::now_secs());
    let mut head = "POST / HTTP/1.1\r\n".to_owned();
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", body.len()));
    let mut stream = TcpStream::connect_timeout(&moto, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    stream.set_write_timeout(Some(Duration::from_secs(20)))?;
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    let mut answer = Vec::new();
    stream.take(1024 * 1024).read_to_end(&mut answer)?;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}
