//! Every ending says its true cause, within its deadline: a name whose resolver
//! never answers (a private mount namespace whose resolv.conf names a silent
//! resolver on 127.0.0.x), an address that drops connection attempts (a listener
//! with a full backlog), a half-open OIDC endpoint (accepts, never reads), and an
//! AWS answer that trickles. Each against real sockets on 127.0.0.1, nothing leaving
//! the machine, and each followed by the same release with the fault lifted.

use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream, UdpSocket},
    os::fd::AsRawFd,
    path::Path,
    process::{Command, Output, Stdio},
    thread,
    time::{Duration, Instant},
};

use castack::Stack;

use crate::support::{
    Creds, TempDir, copy_repo, ensure_tag, release, release_env, run_xtask, start_stack, text, xtask_bin,
};

/// Short deadlines, so each fault ends in seconds.
const LIMITS: [(&str, &str); 3] =
    [("XTASK_CONNECT_TIMEOUT", "1"), ("XTASK_AWS_ATTEMPT_TIMEOUT", "1.5"), ("XTASK_AWS_TIMEOUT", "4")];

fn vars_with(stack: &Stack, creds: Creds, extra: &[(&str, String)]) -> Vec<(String, String)> {
    let mut vars = release_env(stack, creds, "v4.0.0", &[]);
    vars.extend(LIMITS.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    for (name, value) in extra {
        vars.retain(|(k, _)| k != name);
        vars.push((name.to_string(), value.clone()));
    }
    vars
}

/// The release with the fault lifted publishes.
fn rerun_completes(stack: &Stack, repo: &Path, creds: Creds, tag: &str) {
    let out = release(repo, &[tag], &vars_with(stack, creds, &[]));
    assert!(out.status.success(), "the re-run did not complete:\n{}", text(&out));
}

fn timed(run: impl FnOnce() -> Output) -> (Output, Duration) {
    let started = Instant::now();
    let out = run();
    (out, started.elapsed())
}

/// A listener whose backlog is full: the kernel drops further connection attempts.
/// Connections are made until two attempts in a row get no answer (how many fit
/// before that depends on the kernel), and kept open, never accepted.
fn dropping_listener() -> (TcpListener, Vec<TcpStream>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    // SAFETY: listen(2) on a socket we own, with a backlog of 0.
    assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 0) }, 0);
    let addr = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    let mut dropped_in_a_row = 0;
    for _ in 0..64 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
            Ok(conn) => {
                fillers.push(conn);
                dropped_in_a_row = 0;
            }
            Err(_) => dropped_in_a_row += 1,
        }
        if dropped_in_a_row == 2 {
            return (listener, fillers);
        }
    }
    panic!("the listener on {addr} kept accepting connection attempts with a backlog of 0");
}

#[test]
fn an_address_that_drops_connection_attempts_is_named_as_such() {
    let stack = start_stack();
    let repo = copy_repo("dropped-connections");
    let (listener, _fillers) = dropping_listener();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let vars = vars_with(&stack, Creds::Static, &[("AWS_ENDPOINT_URL_STS", url.clone())]);
    ensure_tag(repo.path(), "v4.0.0");
    let (out, took) = timed(|| release(repo.path(), &["v4.0.0"], &vars));
    let log = text(&out);
    assert!(!out.status.success(), "{log}");
    assert!(took < Duration::from_secs(15), "took {took:?}:\n{log}");
    let host = url.trim_start_matches("http://");
    assert!(log.contains(&format!("no connection to {host} within 1 s (XTASK_CONNECT_TIMEOUT)")), "{log}");
    assert!(!log.contains("stalls"), "{log}");
    rerun_completes(&stack, repo.path(), Creds::Static, "v4.0.0");
}

/// A server that accepts and never reads nor answers.
fn half_open_listener() -> TcpListener {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let accepting = listener.try_clone().unwrap();
    thread::spawn(move || {
        let mut held = Vec::new();
        for conn in accepting.incoming().flatten() {
            held.push(conn);
        }
    });
    listener
}

#[test]
fn a_half_open_oidc_endpoint_is_named_with_its_deadline() {
    let stack = start_stack();
    let repo = copy_repo("half-open-oidc");
    let listener = half_open_listener();
    let url = format!("http://{}/token?api-version=2.0", listener.local_addr().unwrap());
    let vars = vars_with(&stack, Creds::GithubOidc, &[("ACTIONS_ID_TOKEN_REQUEST_URL", url)]);
    ensure_tag(repo.path(), "v4.0.0");
    let (out, took) = timed(|| release(repo.path(), &[], &vars));
    let log = text(&out);
    assert!(!out.status.success(), "{log}");
    assert!(took < Duration::from_secs(20), "took {took:?}:\n{log}");
    assert!(log.contains("the GitHub OIDC token endpoint"), "{log}");
    assert!(log.contains("accepted the connection and the request, then sent no answer within"), "{log}");
    assert!(log.contains("XTASK_AWS_ATTEMPT_TIMEOUT") && !log.contains("could not reach"), "{log}");
    rerun_completes(&stack, repo.path(), Creds::GithubOidc, "v4.0.0");
}

/// A server that reads a request, answers its head at once, then the body a byte
/// every 300 ms.
fn trickling_listener() -> TcpListener {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let accepting = listener.try_clone().unwrap();
    thread::spawn(move || {
        for conn in accepting.incoming().flatten() {
            thread::spawn(move || {
                let mut conn = conn;
                let mut buf = [0u8; 8192];
                let _ = conn.read(&mut buf);
                let head = "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 4000\r\n\r\n";
                if conn.write_all(head.as_bytes()).is_err() {
                    return;
                }
                let deadline = Instant::now() + Duration::from_secs(30);
                for byte in std::iter::repeat(b' ') {
                    if conn.write_all(&[byte]).is_err() || Instant::now() > deadline {
                        return;
                    }
                    thread::sleep(Duration::from_millis(300));
                }
            });
        }
    });
    listener
}

#[test]
fn a_trickled_aws_answer_ends_at_the_calls_deadline() {
    let stack = start_stack();
    let repo = copy_repo("trickle-sts");
    let listener = trickling_listener();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let vars = vars_with(&stack, Creds::Static, &[("AWS_ENDPOINT_URL_STS", url)]);
    ensure_tag(repo.path(), "v4.0.0");
    let (out, took) = timed(|| release(repo.path(), &["v4.0.0"], &vars));
    let log = text(&out);
    assert!(!out.status.success(), "{log}");
    assert!(took < Duration::from_secs(20), "took {took:?}:\n{log}");
    assert!(log.contains("answered too slowly") && log.contains("XTASK_AWS_TIMEOUT"), "{log}");
    rerun_completes(&stack, repo.path(), Creds::Static, "v4.0.0");
}

/// `xtask ARGS` in a private mount namespace whose /etc/resolv.conf names only a
/// resolver on `resolver` that never answers.
fn with_silent_resolver(repo: &Path, args: &[&str], vars: &[(String, String)], resolver: &str) -> (Command, TempDir) {
    let dir = TempDir::new("silent-resolver");
    let conf = dir.path().join("resolv.conf");
    std::fs::write(&conf, format!("nameserver {resolver}\noptions timeout:30 attempts:1\n")).unwrap();
    let mut command = Command::new("unshare");
    command
        .args([
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            "mount --bind \"$0\" /etc/resolv.conf && shift && exec \"$@\"",
        ])
        .arg(&conf)
        .arg("--")
        .arg(xtask_bin())
        .args(args)
        .current_dir(repo);
    let base = crate::support::xtask_command(repo, &[], &[]);
    command.env_clear().envs(base.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))));
    command.envs(vars.iter().map(|(k, v)| (k, v)));
    // `unshare` and `sh` exec: the xtask keeps the child's pid.
    (command, dir)
}

#[test]
fn a_silent_resolver_ends_within_the_deadline_and_a_signal_within_a_second() {
    let stack = start_stack();
    let repo = copy_repo("silent-resolver");
    let resolver = "127.0.0.23";
    let _silent =
        UdpSocket::bind(format!("{resolver}:53")).expect("bind a silent resolver on 127.0.0.23:53 (needs root)");
    let port = stack.emulator().addr().port();
    let host = "sts.stack.invalid";
    let url = format!("http://{host}:{port}");
    let vars = vars_with(&stack, Creds::Static, &[("AWS_ENDPOINT_URL_STS", url.clone())]);
    ensure_tag(repo.path(), "v4.0.0");
    // The AWS calls under the silent resolver, as the publish job makes them: the
    // build (whose installer would wait on the resolver for the package index) and
    // the publish tools come first, with the machine's resolver.
    let built = release(repo.path(), &["v4.0.0", "--build-only"], &vars);
    assert!(built.status.success(), "{}", text(&built));
    let tools = run_xtask(repo.path(), &["tools", "publish"], &vars);
    assert!(tools.status.success(), "{}", text(&tools));
    let started = Instant::now();
    let args = ["release", "v4.0.0", "--publish-only", "target/dist"];
    let (mut command, _conf) = with_silent_resolver(repo.path(), &args, &vars, resolver);
    let out = command.output().expect("run unshare (util-linux) for a private mount namespace");
    let took = started.elapsed();
    let log = text(&out);
    assert!(
        !log.contains("unshare failed") && !log.contains("mount: "),
        "a private mount namespace is needed (run the tests as root with CAP_SYS_ADMIN):\n{log}"
    );
    assert!(!out.status.success(), "{log}");
    assert!(took < Duration::from_secs(15), "took {took:?}:\n{log}");
    assert!(log.contains(&format!("the name {host} did not resolve within")), "{log}");
    assert!(!log.contains("stalls"), "{log}");

    // SIGTERM while the lookup hangs (a long connect deadline; the fetch of the
    // build requirements authenticates at once): the run ends within a second.
    let mut slow = vars.clone();
    slow.push(("XTASK_CONNECT_TIMEOUT".to_owned(), "15".to_owned()));
    slow.push(("XTASK_AWS_ATTEMPT_TIMEOUT".to_owned(), "30".to_owned()));
    slow.push(("XTASK_AWS_TIMEOUT".to_owned(), "60".to_owned()));
    let deps = TempDir::new("silent-resolver-deps");
    let args = ["release", "--fetch-build-deps", deps.path().to_str().unwrap()];
    let (mut command, _conf) = with_silent_resolver(repo.path(), &args, &slow, resolver);
    let mut child = command.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let reader = thread::spawn(move || {
        let mut log = String::new();
        let _ = stderr.read_to_string(&mut log);
        log
    });
    thread::sleep(Duration::from_secs(4));
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let signalled = Instant::now();
    let status = child.wait().unwrap();
    let waited = signalled.elapsed();
    let log = reader.join().unwrap();
    assert!(waited < Duration::from_secs(2), "the signal took {waited:?} to act:\n{log}");
    assert!(!status.success() && log.contains("stopped by SIGTERM"), "{log}");
    rerun_completes(&stack, repo.path(), Creds::Static, "v4.0.0");
}

/// The uploader (`upload_dists.py`, real twine) against what a broken network does
/// to an upload, each ending within the file's deadline with its cause named: a
/// port nothing listens on (refused), an address that drops connection attempts
/// (twine's six connection attempts, then `connect-timeout`; with a deadline shorter
/// than those attempts, the deadline ends them), and a server that trickles its
/// answer, a byte every 300 ms, never silent for `XTASK_UPLOAD_TIMEOUT` (ended by
/// the file's deadline alone: without it this upload lasts as long as the
/// server's 30 s). End to end through a release: the fault matrix's "trickle" row.
#[test]
fn the_uploader_ends_each_upload_within_its_deadline_and_names_the_cause() {
    let wheel = crate::hostile_archives::built().dist.join("yamause-1.0.0-py3-none-any.whl");
    let sha = crate::support::sha256_file(&wheel);
    let upload = |address: String, deadline: f64| -> (serde_json::Value, Duration) {
        let line = serde_json::json!({
            "path": wheel, "name": "yamause", "version": "1.0.0", "sha256": sha, "deadline": deadline,
        });
        let started = Instant::now();
        let mut child = Command::new(crate::support::tools_python("release"))
            .arg(crate::support::repo_root().join("xtask/src/release/publish/upload_dists.py"))
            .arg("--stdin")
            .env("TWINE_USERNAME", "aws")
            .env("TWINE_PASSWORD", "not-a-token-at-all")
            .env("TWINE_REPOSITORY_URL", format!("http://{address}/pypi/r/"))
            .envs([("XTASK_CONNECT_TIMEOUT", "1"), ("XTASK_UPLOAD_TIMEOUT", "2")])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(format!("{line}\n").as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        let took = started.elapsed();
        let result = serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().next().unwrap_or("{}"))
            .unwrap_or_else(|_| panic!("no result line: {}", text(&out)));
        (result, took)
    };
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().to_string();
    let (refused, took) = upload(closed, 30.0);
    assert_eq!(refused["kind"], "refused", "{refused}");
    assert!(took < Duration::from_secs(15), "took {took:?}");

    let (listener, _fillers) = dropping_listener();
    let dropping = listener.local_addr().unwrap().to_string();
    let (dropped, took) = upload(dropping.clone(), 30.0);
    assert_eq!(dropped["kind"], "connect-timeout", "{dropped}");
    assert!(took < Duration::from_secs(20), "took {took:?}");
    let (cut, took) = upload(dropping, 2.5);
    assert_eq!(cut["kind"], "deadline", "{cut}");
    assert!(took < Duration::from_secs(7), "twine's connection attempts ran past the deadline: {took:?}");

    let trickling = trickling_listener();
    let (slow, took) = upload(trickling.local_addr().unwrap().to_string(), 3.0);
    assert_eq!(slow["kind"], "deadline", "{slow}");
    assert!(slow["reason"].as_str().unwrap().contains("did not end within 3 s"), "{slow}");
    assert!(took < Duration::from_secs(8), "the trickle was not cut at the deadline: {took:?}");
}
