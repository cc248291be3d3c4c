//! A stand-in for moto_server (STS and the IAM lookup of OIDC providers) on
//! 127.0.0.1, so the STS contract tests need no Python.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{SocketAddr, TcpListener, TcpStream},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    thread::JoinHandle,
    time::Duration,
};

const FAKE_KEY_PREFIX: &str = "ASIAFAKEMOTO";

/// One request the stand-in received.
#[derive(Clone, Debug)]
pub(crate) struct Seen {
    /// Request line and headers.
    pub head: String,
    pub body: String,
}

/// A stand-in for moto_server's STS and IAM on 127.0.0.1: answers
/// AssumeRoleWithWebIdentity with fresh credentials (numbered, so each call's
/// secrets differ; already expired for the session name `expired-session`),
/// GetOpenIDConnectProvider with GitHub's provider (client id `sts.amazonaws.com`)
/// in account 111122223333 only, and GetCallerIdentity with a fixed identity, and
/// records what it was sent.
pub(crate) struct FakeMoto {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeMoto {
    pub(crate) fn start() -> FakeMoto {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (seen, stop) = (seen.clone(), stop.clone());
            std::thread::spawn(move || {
                let counter = AtomicUsize::new(0);
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        serve(stream, &seen, &counter);
                    }
                }
            })
        };
        FakeMoto { addr, seen, stop, thread: Some(thread) }
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for FakeMoto {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The `n`-th credentials the stand-in issues.
pub(crate) fn fake_credentials(n: usize) -> (String, String, String) {
    (format!("{FAKE_KEY_PREFIX}{n:08}"), format!("fake/moto/secret+{n:04}"), format!("FQoGZXIvYXdzFAKESESSION{n:04}=="))
}

fn serve(stream: TcpStream, seen: &Mutex<Vec<Seen>>, counter: &AtomicUsize) {
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let length: usize = head
        .lines()
        .find_map(|line| line.to_ascii_lowercase().strip_prefix("content-length:").map(|it| it.trim().to_owned()))
        .map_or(0, |it| it.parse().unwrap());
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    let body = String::from_utf8(body).unwrap();
    seen.lock().unwrap().push(Seen { head: head.clone(), body: body.clone() });
    let (status, answer) = answer(&body, counter);
    let mut stream = stream;
    let _ = stream.write_all(
        format!(
            "HTTP/1.1 {status}\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
            answer.len()
        )
        .as_bytes(),
    );
}

fn answer(body: &str, counter: &AtomicUsize) -> (&'static str, String) {
    let ns = "https://sts.amazonaws.com/doc/2011-06-15/";
    if body.contains("Action=GetOpenIDConnectProvider") {
        return if body.contains("111122223333%3Aoidc-provider%2Ftoken.actions.githubusercontent.com") {
            (
                "200 OK",
                "<GetOpenIDConnectProviderResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\
                 <GetOpenIDConnectProviderResult><Url>token.actions.githubusercontent.com</Url><ClientIDList>\
                 <member>sts.amazonaws.com</member></ClientIDList><ThumbprintList/></GetOpenIDConnectProviderResult>\
                 </GetOpenIDConnectProviderResponse>"
                    .to_owned(),
            )
        } else {
            ("404 Not Found", "<ErrorResponse><Error><Code>NoSuchEntity</Code></Error></ErrorResponse>".to_owned())
        };
    }
    if body.contains("Action=AssumeRoleWithWebIdentity") {
        let (key, secret, token) = fake_credentials(counter.fetch_add(1, Ordering::SeqCst));
        let expiration = if body.contains("RoleSessionName=expired-session") {
            "2000-01-01T00:00:00Z"
        } else {
            "2030-01-01T00:00:00Z"
        };
        return (
            "200 OK",
            format!(
                "<AssumeRoleWithWebIdentityResponse xmlns=\"{ns}\"><AssumeRoleWithWebIdentityResult>\
                 <Credentials><AccessKeyId>{key}</AccessKeyId><SecretAccessKey>{secret}</SecretAccessKey>\
                 <SessionToken>{token}</SessionToken><Expiration>{expiration}</Expiration></Credentials>\
                 <AssumedRoleUser><AssumedRoleId>AROAFAKE:release-session</AssumedRoleId>\
                 <Arn>arn:aws:sts::111122223333:assumed-role/ci-publisher/release-session</Arn></AssumedRoleUser>\
                 <PackedPolicySize>6</PackedPolicySize></AssumeRoleWithWebIdentityResult>\
                 <ResponseMetadata><RequestId>fake-request-id</RequestId></ResponseMetadata>\
                 </AssumeRoleWithWebIdentityResponse>"
            ),
        );
    }
    (
        "200 OK",
        format!(
            "<GetCallerIdentityResponse xmlns=\"{ns}\"><GetCallerIdentityResult>\
             <Arn>arn:aws:sts::111122223333:assumed-role/ci-publisher/release-session</Arn>\
             <UserId>AROAFAKE:release-session</UserId><Account>111122223333</Account></GetCallerIdentityResult>\
             <ResponseMetadata><RequestId>fake-request-id</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
        ),
    )
}
