//! The leak test: every release scenario runs with recognisable secret values, and
//! none of them may appear in the output, in any process's command line (watched in
//! /proc while the scenarios run, and as recorded by the release for its children), or
//! in any file under the repository copy, its `target/` or the tool environments.

use std::{
    collections::BTreeSet,
    fs,
    path::Path,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    thread,
    time::{Duration, SystemTime},
};

use castack::{Fault, Stack, StackConfig, UploadFailure};

use crate::support::{self, Creds, ForwardProxy, TempDir, copy_repo, release, release_env, text};

/// Every command line of every process, sampled until stopped.
struct ProcWatcher {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<BTreeSet<String>>>,
    handle: Option<thread::JoinHandle<()>>,
}

impl ProcWatcher {
    fn start() -> ProcWatcher {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(BTreeSet::new()));
        let (s, w) = (stop.clone(), seen.clone());
        let handle = thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                if let Ok(entries) = fs::read_dir("/proc") {
                    for entry in entries.flatten() {
                        if let Ok(raw) = fs::read(entry.path().join("cmdline"))
                            && !raw.is_empty()
                        {
                            let line = String::from_utf8_lossy(&raw).replace('\0', " ");
                            w.lock().unwrap().insert(line);
                        }
                    }
                }
                thread::sleep(Duration::from_millis(2));
            }
        });
        ProcWatcher { stop, seen, handle: Some(handle) }
    }

    fn finish(mut self) -> BTreeSet<String> {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            h.join().unwrap();
        }
        std::mem::take(&mut self.seen.lock().unwrap())
    }
}

/// Files under `dir` changed since `since`, with their contents.
fn files_since(dir: &Path, since: SystemTime, out: &mut Vec<(String, Vec<u8>)>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_dir() {
            files_since(&path, since, out);
        } else if meta.modified().is_ok_and(|m| m >= since)
            && let Ok(data) = fs::read(&path)
        {
            out.push((path.display().to_string(), data));
        }
    }
}

#[test]
fn no_secret_reaches_output_argv_or_files() {
    let request_token = "LEAKCHECK-oidc-request-token-5c1f3a9e7d";
    let static_secret = "LEAKCHECKsecretAccessKey0123456789abcdef";
    // A proxy that wants credentials; the password has an `@`, so its URL form is
    // percent-encoded.
    let proxy_password = "LEAKCHECK-proxy-P@ss-91ab";
    let proxy = ForwardProxy::start(Some(&format!("leakuser:{proxy_password}")));
    let proxy_url = proxy.url(Some("leakuser:LEAKCHECK-proxy-P%40ss-91ab"));
    let wrong_proxy_url = proxy.url(Some("leakuser:LEAKCHECK-wrong-proxy-pass-3e"));
    let mut config = StackConfig::new(support::tools_python("stack"));
    config.oidc_request_token = Some(request_token.to_owned());
    let stack = Stack::start(config).expect("start the local stack");
    // The static runs sign with a secret and session token of the test's own: the
    // emulator must know them (it verifies signatures), under a key id of their own.
    let static_key = "ASIALEAKCHECK0000001";
    stack.emulator().add_credentials(
        castack::AwsKey::new(static_key, static_secret).with_session_token("LEAKCHECKsessionToken0123456789abcdef"),
    );
    let repo = copy_repo("leak");
    // Files written from now on are the runs' (the copy's sources hold the test's
    // own literals).
    thread::sleep(Duration::from_millis(20));
    let started = SystemTime::now();
    let record = TempDir::new("leak-children");
    let children = record.path().join("children.jsonl");
    let summary = record.path().join("summary.md");
    let watcher = ProcWatcher::start();

    let extra =
        [("XTASK_RECORD_CHILDREN", children.to_str().unwrap()), ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())];
    let static_env = |tag: &str| {
        let mut vars = release_env(&stack, Creds::Static, tag, &extra);
        vars.retain(|(k, _)| {
            !["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"].contains(&k.as_str())
        });
        vars.push(("AWS_ACCESS_KEY_ID".to_owned(), static_key.to_owned()));
        vars.push(("AWS_SECRET_ACCESS_KEY".to_owned(), static_secret.to_owned()));
        vars.push(("AWS_SESSION_TOKEN".to_owned(), "LEAKCHECKsessionToken0123456789abcdef".to_owned()));
        vars
    };
    let mut outputs = Vec::new();
    let mut run = |name: &str, args: &[&str], vars: Vec<(String, String)>, setup: &dyn Fn()| {
        stack.emulator().reset();
        setup();
        let out = release(repo.path(), args, &vars);
        outputs.push((name.to_owned(), text(&out)));
    };
    let oidc = |tag: &str| release_env(&stack, Creds::GithubOidc, tag, &extra);
    let through = |mut vars: Vec<(String, String)>, url: &str| {
        vars.retain(|(k, _)| !k.eq_ignore_ascii_case("no_proxy"));
        vars.push(("HTTP_PROXY".to_owned(), url.to_owned()));
        vars
    };

    run("oidc release", &[], oidc("v1.0.0"), &|| ());
    run("oidc re-run, verbose", &["-v"], oidc("v1.0.0"), &|| ());
    run("oidc dry run", &["--dry-run"], oidc("v1.0.1"), &|| ());
    run("static release", &["v1.1.0", "--verbose"], static_env(""), &|| ());
    run("token expires mid-release", &["v1.2.0", "-v"], oidc("v1.2.0"), &|| {
        stack.emulator().inject(Fault::Upload { pass: 1, failure: UploadFailure::ExpireToken }.times(1)).unwrap();
    });
    run("upload refused", &["v1.3.0", "-v"], static_env(""), &|| {
        stack.emulator().inject(Fault::Upload { pass: 0, failure: UploadFailure::Forbidden }.always()).unwrap();
    });
    run("token denied", &["v1.4.0"], static_env(""), &|| {
        stack
            .emulator()
            .inject(Fault::Deny { action: "GetAuthorizationToken".to_owned(), principal: None }.always())
            .unwrap();
    });
    run("trust policy refuses", &[], oidc("v1.5.0"), &|| {
        let fault = Fault::Sts {
            code: "AccessDenied".to_owned(),
            message: "Not authorized to perform sts:AssumeRoleWithWebIdentity".to_owned(),
            status: 403,
        };
        stack.emulator().inject(fault.always().only("AssumeRoleWithWebIdentity")).unwrap();
    });
    run("behind an authenticating proxy", &["-v"], through(oidc("v1.6.0"), &proxy_url), &|| ());
    run("wrong proxy password", &["v1.7.0", "-v"], through(static_env(""), &wrong_proxy_url), &|| ());
    let cmdlines = watcher.finish();

    // The secrets of the runs: chosen by the test or issued by the stack.
    let mut secrets: Vec<String> =
        vec![request_token.to_owned(), static_secret.to_owned(), "LEAKCHECKsessionToken0123456789abcdef".to_owned()];
    let tokens = stack.emulator().issued_tokens();
    let jwts = stack.emulator().issued_oidc_tokens();
    let sts = stack.issued_sts_secrets();
    assert!(tokens.len() >= 2, "the scenarios must have minted CodeArtifact tokens (one expired): {}", tokens.len());
    assert!(
        jwts.len() >= 4 && sts.len() >= 4,
        "the OIDC scenarios must have run: {} JWTs, {} STS secrets",
        jwts.len(),
        sts.len()
    );
    // The Basic form twine sends a token in (`aws:TOKEN`), which a server may echo.
    secrets.extend(tokens.iter().map(|it| base64_simd::STANDARD.encode_to_string(format!("aws:{it}"))));
    secrets.extend(tokens);
    secrets.extend(jwts);
    secrets.extend(sts);
    for password in [proxy_password, "LEAKCHECK-proxy-P%40ss-91ab", "LEAKCHECK-wrong-proxy-pass-3e"] {
        secrets.push(password.to_owned());
        secrets.push(format!("leakuser:{password}"));
    }
    for userinfo in [format!("leakuser:{proxy_password}"), "leakuser:LEAKCHECK-wrong-proxy-pass-3e".to_owned()] {
        // The `Proxy-Authorization: Basic` form.
        secrets.push(base64_simd::STANDARD.encode_to_string(userinfo.as_bytes()));
    }
    let forms = support::secret_forms(&secrets);
    let leaked = |haystack: &str| {
        forms.iter().find(|s| haystack.contains(s.as_str())).map(|s| s.chars().take(12).collect::<String>())
    };

    for (name, output) in &outputs {
        // `::add-mask::VALUE` is how a secret is handed to the runner, which never
        // shows that line; it must carry nothing but a secret.
        let (masks, shown): (Vec<&str>, Vec<&str>) = output.lines().partition(|l| l.starts_with("::add-mask::"));
        for mask in masks {
            // Workflow-command data is escaped: % CR LF.
            let value = mask["::add-mask::".len()..].replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%");
            let prefix: String = value.chars().take(8).collect();
            assert!(forms.contains(&value), "`{name}` masked {prefix:?}…, which is not a secret of the run");
        }
        let shown = shown.join("\n");
        assert!(leaked(&shown).is_none(), "a secret ({:?}…) is in the output of `{name}`", leaked(&shown));
        // And as the runner reads it: no command but the release's own, no secret
        // shown once its masks are applied.
        support::assert_runner_safe(name, output, &forms);
    }
    // The test's own proxy gets its password as an argument; that is not a leak of
    // the release.
    for line in cmdlines.iter().filter(|it| !it.contains(" -m proxy ")) {
        assert!(leaked(line).is_none(), "a secret ({:?}…) is in a process's command line", leaked(line));
    }
    let recorded = fs::read_to_string(&children).expect("the release records its children");
    let mut twine_runs = 0;
    for line in recorded.lines() {
        assert!(leaked(line).is_none(), "a secret is in a child's argv: {line}");
        let child: serde_json::Value = serde_json::from_str(line).unwrap();
        let env: Vec<&str> = child["env"].as_array().unwrap().iter().map(|it| it.as_str().unwrap()).collect();
        for forbidden in [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            "AWS_ROLE_ARN",
        ] {
            assert!(!env.contains(&forbidden), "a child got {forbidden}: {line}");
        }
        let is_upload = child["argv"]
            .as_array()
            .unwrap()
            .iter()
            .any(|it| it.as_str().is_some_and(|a| a.ends_with("upload_dists.py")));
        twine_runs += usize::from(is_upload);
        assert_eq!(env.contains(&"TWINE_PASSWORD"), is_upload, "only twine upload gets the token: {line}");
    }
    assert!(twine_runs >= 4, "only {twine_runs} uploads were recorded");

    let mut files = Vec::new();
    files_since(repo.path(), started, &mut files);
    files_since(&support::tools_dir(), started, &mut files);
    files_since(record.path(), started, &mut files);
    files_since(stack.state_dir(), started, &mut files);
    assert!(files.iter().any(|(p, _)| p.ends_with("manifest.json")), "the scan must see the build output");
    for (path, data) in &files {
        let content = String::from_utf8_lossy(data);
        assert!(leaked(&content).is_none(), "a secret ({:?}…) is in the file {path}", leaked(&content));
    }
    // The scenarios did what they say (a leak test of runs that never got far proves little).
    let all: String = outputs.iter().map(|(_, o)| o.as_str()).collect();
    for want in [
        "exchanged the GitHub OIDC token",
        "already published with the same SHA-256",
        "refused the token (expired?)",
        "refused the upload (403)",
        "lacks codeartifact:GetAuthorizationToken",
        "does not accept this job's token",
        "HTTP_PROXY=http://***@127.0.0.1:",
        "407 Proxy Authentication Required",
    ] {
        assert!(
            all.contains(want),
            "no scenario printed {want:?}:\n{}",
            outputs.iter().map(|(n, o)| format!("=== {n}\n{o}")).collect::<String>()
        );
    }
}
