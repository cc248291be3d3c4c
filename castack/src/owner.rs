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

use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    time::Duration,
};

use anyhow::{Context, bail};

use crate::{config::DEFAULT_ROLE, util};

/// The session name, so the caller is `…:assumed-role/ci-publisher/castack`.
pub(crate) const SESSION_NAME: &str = "castack";
/// The longest role session AWS allows (12 h): a sandbox left running for a working
/// day keeps working. Nothing in the stack checks the expiry; the SDK does not know
/// it either, since the keys reach clients as plain environment variables.
const SESSION_SECONDS: u32 = 43_200;

/// Temporary credentials of the role session. `Debug` shows the key id only.
#[derive(Clone)]
pub(crate) struct Session {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    pub arn: String,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("access_key_id", &self.access_key_id).field("arn", &self.arn).finish()
    }
}

/// Assumes `arn:aws:iam::<account>:role/ci-publisher` through moto's STS at
/// `moto`, signing (in shape: moto does not verify signatures) with `access_key_id`.
pub(crate) fn assume_role(
    moto: SocketAddr,
    region: &str,
    account: &str,
    access_key_id: &str,
) -> anyhow::Result<Session> {
    let role = format!("arn:aws:iam::{account}:role/{DEFAULT_ROLE}");
    let body = format!(
        "Action=AssumeRole&Version=2011-06-15&RoleArn={}&RoleSessionName={SESSION_NAME}&DurationSeconds={SESSION_SECONDS}",
        util::percent_encode(&role)
    );
    // moto picks the service from the credential scope of the signature.
    let date = "20260101T000000Z";
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {moto}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nX-Amz-Date: {date}\r\nAuthorization: AWS4-HMAC-SHA256 \
         Credential={access_key_id}/{}/{region}/sts/aws4_request, SignedHeaders=host;x-amz-date, \
         Signature={}\r\nConnection: close\r\n\r\n",
        body.len(),
        &date[..8],
        "0".repeat(64)
    );
    let answer = exchange(moto, &head, &body).with_context(|| format!("cannot reach moto_server at {moto} for STS"))?;
    let text = String::from_utf8_lossy(&answer);
    let (status_line, xml) = text.split_once("\r\n").unwrap_or((&text, ""));
    let field = |tag: &str| util::xml_elements(xml, tag).into_iter().next();
    match (field("AccessKeyId"), field("SecretAccessKey"), field("SessionToken"), field("Arn")) {
        (Some(access_key_id), Some(secret_access_key), Some(session_token), Some(arn))
            if status_line.contains(" 200 ") =>
        {
            Ok(Session { access_key_id, secret_access_key, session_token, arn })
        }
        _ => bail!("moto_server's sts:AssumeRole of {role} failed: {status_line}"),
    }
}

fn exchange(addr: SocketAddr, head: &str, body: &str) -> std::io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    stream.set_write_timeout(Some(Duration::from_secs(20)))?;
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    let mut answer = Vec::new();
    stream.take(1024 * 1024).read_to_end(&mut answer)?;
    Ok(answer)
}
