//! The castack test stack with its real processes: twine uploads and pip installs
//! through the emulator into real pypiserver (also with a token that expires in the
//! middle), AssumeRoleWithWebIdentity through the emulator's STS proxy to real
//! moto_server with a JWT from the fake OIDC endpoint, clean shutdown, start-up
//! failures, and the `castack` binary. Every external command runs with a deadline.

use std::{
    fs,
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use aws_config::{BehaviorVersion, Region, retry::RetryConfig};
use aws_credential_types::Credentials;
use aws_sdk_codeartifact::types::{HashAlgorithm, PackageFormat};
use aws_sdk_sts::error::ProvideErrorMetadata;
use aws_smithy_http_client::tls;
use castack::{Fault, Stack, StackConfig, UploadFailure};

use crate::support::{self, TempDir, start_stack};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

fn http_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring))
        .build_https()
}

async fn sdk_config(endpoint: &str, credentials: Credentials) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(credentials)
        .endpoint_url(endpoint)
        .http_client(http_client())
        .retry_config(RetryConfig::standard().with_max_attempts(1))
        .load()
        .await
}

async fn codeartifact(stack: &Stack) -> aws_sdk_codeartifact::Client {
    let creds = Credentials::new(castack::ACCESS_KEY_ID, castack::SECRET_ACCESS_KEY, None, None, "castack");
    aws_sdk_codeartifact::Client::new(&sdk_config(&stack.codeartifact_url(), creds).await)
}

/// A token and the PyPI endpoint, the way a release gets them.
fn token_and_endpoint(stack: &Stack) -> (String, String) {
    rt().block_on(async {
        let client = codeartifact(stack).await;
        let cfg = stack.config();
        let token = client
            .get_authorization_token()
            .domain(&cfg.domain)
            .domain_owner(&cfg.account)
            .duration_seconds(900)
            .send()
            .await
            .expect("GetAuthorizationToken");
        let endpoint = client
            .get_repository_endpoint()
            .domain(&cfg.domain)
            .domain_owner(&cfg.account)
            .repository(&cfg.repository)
            .format(PackageFormat::Pypi)
            .send()
            .await
            .expect("GetRepositoryEndpoint");
        (token.authorization_token().unwrap().to_owned(), endpoint.repository_endpoint().unwrap().to_owned())
    })
}

/// Runs `cmd` with a deadline, returning its output; panics (killing it) on timeout.
fn run(cmd: &mut Command, timeout: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("cannot run {cmd:?}: {err}"));
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not finish within {} s", timeout.as_secs());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Output { status, stdout: out_reader.join().unwrap(), stderr: err_reader.join().unwrap() }
}

/// A command of a tool environment's Python with a minimal environment: no
/// ~/.pypirc, pip configuration or credentials of the person running the tests.
fn python_cmd(python: &Path, home: &Path) -> Command {
    let mut cmd = Command::new(python);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("LANG", "C.UTF-8")
        .env("PIP_CONFIG_FILE", "/dev/null")
        .env("PIP_NO_INPUT", "1")
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1");
    cmd
}

/// Builds the throwaway project `castack-demo` 1.0.0 (wheel and sdist) as the
/// release builds; `flavour` changes the module's contents, not the file names.
fn build_demo(dir: &Path, flavour: &str) -> Vec<PathBuf> {
    let project = dir.join(format!("project-{flavour}"));
    fs::create_dir_all(project.join("src/castack_demo")).unwrap();
    fs::write(
        project.join("pyproject.toml"),
        "[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n\n\
         [project]\nname = \"castack-demo\"\nversion = \"1.0.0\"\n\
         description = \"Throwaway package of the castack tests\"\nrequires-python = \">=3.8\"\n\n\
         [tool.hatch.build.targets.wheel]\npackages = [\"src/castack_demo\"]\n",
    )
    .unwrap();
    fs::write(
        project.join("src/castack_demo/__init__.py"),
        format!("\"\"\"castack demo ({flavour}).\"\"\"\n__version__ = \"1.0.0\"\n"),
    )
    .unwrap();
    let out = support::build_project(&project, &project.join("dist"), "1700000000");
    assert!(out.status.success(), "building the demo package failed:\n{}", support::text(&out));
    let mut files: Vec<PathBuf> = fs::read_dir(project.join("dist")).unwrap().map(|it| it.unwrap().path()).collect();
    files.sort();
    let names: Vec<String> = files.iter().map(|it| it.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(names, ["castack_demo-1.0.0-py3-none-any.whl", "castack_demo-1.0.0.tar.gz"]);
    files
}

/// `twine upload` with the token in the environment, never on the command line.
fn twine_upload(home: &Path, endpoint: &str, token: &str, files: &[PathBuf]) -> Output {
    let python = support::tools_python("release");
    run(
        python_cmd(&python, home)
            .args([
                "-m",
                "twine",
                "upload",
                "--non-interactive",
                "--disable-progress-bar",
                "--repository-url",
                endpoint,
            ])
            .args(files)
            .env("TWINE_USERNAME", "aws")
            .env("TWINE_PASSWORD", token),
        Duration::from_secs(120),
    )
}

#[test]
fn twine_upload_pip_install_and_listing() {
    let stack = start_stack();
    let tmp = TempDir::new("stack-upload");
    let files = build_demo(tmp.path(), "a");
    let (token, endpoint) = token_and_endpoint(&stack);
    assert_eq!(endpoint, stack.pypi_endpoint());

    let out = twine_upload(tmp.path(), &endpoint, &token, &files);
    assert!(out.status.success(), "twine upload failed:\n{}", support::text(&out));

    // Into a fresh virtual environment with real pip, from the simple index.
    let release_python = support::tools_python("release");
    let venv = tmp.path().join("venv");
    let out = run(python_cmd(&release_python, tmp.path()).args(["-m", "venv"]).arg(&venv), Duration::from_secs(120));
    assert!(out.status.success(), "python -m venv failed:\n{}", support::text(&out));
    let venv_python = venv.join("bin/python");
    let out = run(
        python_cmd(&venv_python, tmp.path())
            .args(["-m", "pip", "install", "--no-cache-dir", "castack-demo==1.0.0"])
            // pip's URL carries the token: in the environment, not on the command line.
            .env("PIP_INDEX_URL", stack.index_url(&token)),
        Duration::from_secs(120),
    );
    assert!(out.status.success(), "pip install failed:\n{}", support::text(&out));
    let out = run(
        python_cmd(&venv_python, tmp.path()).args(["-c", "import castack_demo; print(castack_demo.__version__)"]),
        Duration::from_secs(30),
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1.0.0", "{}", support::text(&out));

    // The control plane now knows the version and its assets.
    rt().block_on(async {
        let client = codeartifact(&stack).await;
        let cfg = stack.config();
        let versions = client
            .list_package_versions()
            .domain(&cfg.domain)
            .repository(&cfg.repository)
            .format(PackageFormat::Pypi)
            .package("castack-demo")
            .send()
            .await
            .unwrap();
        let listed: Vec<&str> = versions.versions().iter().map(|it| it.version()).collect();
        assert_eq!(listed, ["1.0.0"]);
        let assets = client
            .list_package_version_assets()
            .domain(&cfg.domain)
            .repository(&cfg.repository)
            .format(PackageFormat::Pypi)
            .package("castack-demo")
            .package_version("1.0.0")
            .send()
            .await
            .unwrap();
        assert_eq!(assets.assets().len(), 2);
        for file in &files {
            let name = file.file_name().unwrap().to_string_lossy();
            let asset =
                assets.assets().iter().find(|it| it.name() == name).unwrap_or_else(|| panic!("{name} not listed"));
            assert_eq!(asset.hashes().unwrap()[&HashAlgorithm::Sha256], support::sha256_file(file), "{name}");
            assert_eq!(asset.size(), Some(fs::metadata(file).unwrap().len() as i64));
        }
    });

    let log = stack.emulator().requests();
    let uploads: Vec<_> = log.iter().filter(|it| it.operation == "pypi-upload").collect();
    assert_eq!(uploads.len(), 2);
    assert!(uploads.iter().all(|it| it.status == 200 && it.user.as_deref() == Some("aws")));
    assert!(log.iter().any(|it| it.operation == "pypi-download" && it.status == 200));
    assert!(log.iter().any(|it| it.operation == "pypi-index" && it.status == 200));
    assert!(!format!("{log:?}").contains(&token[..40]), "the request log must not hold the token");
}

#[test]
fn wrong_or_expired_tokens_are_refused() {
    let stack = start_stack();
    // This test is about tokens: pip reads the index right after twine's upload, which
    // the publishing latency would hide for a moment.
    stack.emulator().set_publish_latency(Duration::ZERO).unwrap();
    let tmp = TempDir::new("stack-refused");
    let files = build_demo(tmp.path(), "a");
    let (token, endpoint) = token_and_endpoint(&stack);

    let out = twine_upload(tmp.path(), &endpoint, "not-the-token", &files);
    assert!(!out.status.success());
    assert!(support::text(&out).contains("403"), "{}", support::text(&out));
    assert!(fs::read_dir(stack.package_dir()).unwrap().next().is_none(), "nothing may be stored");

    let out = twine_upload(tmp.path(), &endpoint, &token, &files[..1]);
    assert!(out.status.success(), "{}", support::text(&out));
    let pip_python = support::pip_python();
    let download = |token: &str| {
        run(
            python_cmd(&pip_python, tmp.path())
                .args(["-m", "pip", "download", "--no-deps", "--no-cache-dir", "-d"])
                .arg(tmp.path().join("downloads"))
                .arg("castack-demo==1.0.0")
                .env("PIP_INDEX_URL", stack.index_url(token)),
            Duration::from_secs(120),
        )
    };
    // pip reports a refused index page as "no versions"; the log shows the 403.
    let last_index_status =
        || stack.emulator().requests().iter().rev().find(|it| it.operation == "pypi-index").map(|it| it.status);
    let out = download("not-the-token");
    assert!(!out.status.success());
    assert_eq!(last_index_status(), Some(403), "{}", support::text(&out));
    let out = download(&token);
    assert!(out.status.success(), "{}", support::text(&out));

    // An expired token is refused by pypiserver; the next GetAuthorizationToken
    // hands out a fresh one that works.
    assert!(stack.emulator().expire_token().unwrap());
    let out = download(&token);
    assert!(!out.status.success());
    assert_eq!(last_index_status(), Some(403), "{}", support::text(&out));
    let (fresh, _) = token_and_endpoint(&stack);
    assert_ne!(fresh, token);
    assert!(download(&fresh).status.success());
}

#[test]
fn identical_reupload_is_accepted_and_different_content_conflicts() {
    let stack = start_stack();
    let tmp = TempDir::new("stack-reupload");
    let first = build_demo(tmp.path(), "a");
    let second = build_demo(tmp.path(), "b");
    assert_ne!(support::sha256_file(&first[0]), support::sha256_file(&second[0]), "the rebuilt wheel must differ");
    let (token, endpoint) = token_and_endpoint(&stack);

    assert!(twine_upload(tmp.path(), &endpoint, &token, &first).status.success());
    let stored = stack.package_dir().join("castack_demo-1.0.0-py3-none-any.whl");
    let before = fs::metadata(&stored).unwrap().modified().unwrap();

    // The same files again: accepted, nothing rewritten (pypiserver alone would refuse).
    let out = twine_upload(tmp.path(), &endpoint, &token, &first);
    assert!(out.status.success(), "{}", support::text(&out));
    assert_eq!(fs::metadata(&stored).unwrap().modified().unwrap(), before);

    // Other content under the same name: 409, as CodeArtifact answers.
    let out = twine_upload(tmp.path(), &endpoint, &token, &second[..1]);
    assert!(!out.status.success());
    assert!(support::text(&out).contains("409 Conflict"), "{}", support::text(&out));
    assert_eq!(support::sha256_file(&stored), support::sha256_file(&first[0]));
}

#[test]
fn broken_upload_stores_the_file_and_a_retry_passes() {
    let stack = start_stack();
    let tmp = TempDir::new("stack-broken");
    let files = build_demo(tmp.path(), "a");
    let (token, endpoint) = token_and_endpoint(&stack);
    // The wheel goes through; the sdist is stored but its answer is lost.
    stack
        .emulator()
        .inject(castack::Fault::Upload { pass: 1, failure: castack::UploadFailure::ResetAfterStore }.times(1))
        .unwrap();
    let out = twine_upload(tmp.path(), &endpoint, &token, &files);
    assert!(!out.status.success(), "{}", support::text(&out));
    assert!(stack.package_dir().join("castack_demo-1.0.0.tar.gz").is_file());
    // Retrying the whole upload: both files exist with identical content.
    let out = twine_upload(tmp.path(), &endpoint, &token, &files);
    assert!(out.status.success(), "{}", support::text(&out));
}

#[test]
fn token_expiring_mid_release_is_refused_and_a_fresh_token_works() {
    let stack = start_stack();
    let tmp = TempDir::new("stack-expire");
    let files = build_demo(tmp.path(), "a");
    let (token, endpoint) = token_and_endpoint(&stack);
    // The wheel goes through; the token runs out before the sdist.
    stack.emulator().inject(Fault::Upload { pass: 1, failure: UploadFailure::ExpireToken }.times(1)).unwrap();
    let out = twine_upload(tmp.path(), &endpoint, &token, &files);
    assert!(!out.status.success(), "{}", support::text(&out));
    assert!(support::text(&out).contains("401"), "{}", support::text(&out));
    assert!(stack.package_dir().join("castack_demo-1.0.0-py3-none-any.whl").is_file());
    assert!(!stack.package_dir().join("castack_demo-1.0.0.tar.gz").exists(), "the refused upload must not be stored");
    assert!(stack.emulator().current_token().is_none());

    // The old token is dead in pypiserver too; a fresh one finishes the release.
    let out = twine_upload(tmp.path(), &endpoint, &token, &files[1..]);
    assert!(!out.status.success());
    assert!(support::text(&out).contains("403"), "{}", support::text(&out));
    let (fresh, _) = token_and_endpoint(&stack);
    assert_ne!(fresh, token);
    let out = twine_upload(tmp.path(), &endpoint, &fresh, &files);
    assert!(out.status.success(), "{}", support::text(&out));
    assert!(stack.package_dir().join("castack_demo-1.0.0.tar.gz").is_file());

    assert_eq!(stack.emulator().issued_tokens(), [token.clone(), fresh.clone()]);
    let uploads: Vec<u16> =
        stack.emulator().requests().iter().filter(|it| it.operation == "pypi-upload").map(|it| it.status).collect();
    assert_eq!(uploads, [200, 401, 403, 200, 200]);
}

/// A JWT from the fake OIDC endpoint, fetched as actions/toolkit does.
fn fetch_oidc_token(stack: &Stack, audience: &str) -> String {
    let env = stack.oidc_env();
    let url = &env.iter().find(|(k, _)| k == "ACTIONS_ID_TOKEN_REQUEST_URL").unwrap().1;
    let bearer = &env.iter().find(|(k, _)| k == "ACTIONS_ID_TOKEN_REQUEST_TOKEN").unwrap().1;
    let (status, body) = http_get(&format!("{url}&audience={audience}"), Some(&format!("bearer {bearer}")));
    assert_eq!(status, 200, "{body}");
    let value: serde_json::Value = serde_json::from_str(&body).unwrap();
    value["value"].as_str().unwrap().to_owned()
}

/// A plain HTTP/1.0 GET of `http://127.0.0.1:PORT/...`.
fn http_get(url: &str, authorization: Option<&str>) -> (u16, String) {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut stream = TcpStream::connect(host).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut request = format!("GET {path} HTTP/1.0\r\nHost: {host}\r\n");
    if let Some(value) = authorization {
        request.push_str(&format!("Authorization: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    (head.split(' ').nth(1).unwrap().parse().unwrap(), body.to_owned())
}

#[test]
fn oidc_token_assumes_a_role_in_moto_through_the_sts_proxy() {
    // A recognisable request token, so a leak of it would be easy to spot.
    let request_token = "castack-recognisable-request-token-0001";
    let mut config = StackConfig::new(support::tools_python("stack"));
    config.oidc_request_token = Some(request_token.to_owned());
    let stack = Stack::start(config).expect("start the castack stack");
    assert!(stack.oidc_env().contains(&("ACTIONS_ID_TOKEN_REQUEST_TOKEN".to_owned(), request_token.to_owned())));
    let env = stack.env();
    let var = |name: &str| env.iter().find(|(key, _)| key == name).map(|(_, value)| value.clone()).unwrap();
    let sts_url = var("AWS_ENDPOINT_URL_STS");
    assert_eq!(sts_url, stack.sts_url());
    assert_eq!(sts_url, stack.codeartifact_url(), "STS goes to the emulator");
    assert_eq!(var("AWS_ENDPOINT_URL_IAM"), stack.moto_url(), "IAM goes to moto directly");

    let account = stack.config().account.clone();
    let role = format!("arn:aws:iam::{account}:role/ci-publisher");
    // The first JWT is refused as too old (an injected STS fault); a new one works.
    let stale = fetch_oidc_token(&stack, "sts.amazonaws.com");
    let jwt = fetch_oidc_token(&stack, "sts.amazonaws.com");
    let expired = "Token expired: current date/time 1767225900 must be before the expiration date/time 1767225600";
    stack
        .emulator()
        .inject(
            Fault::Sts { code: "ExpiredTokenException".into(), message: expired.into(), status: 400 }
                .times(1)
                .only("AssumeRoleWithWebIdentity"),
        )
        .unwrap();
    let (key, secret, session) = rt().block_on(async {
        let throwaway = Credentials::new(castack::ACCESS_KEY_ID, castack::SECRET_ACCESS_KEY, None, None, "castack");
        let sts = aws_sdk_sts::Client::new(&sdk_config(&sts_url, throwaway).await);
        let assume = |token: String| {
            sts.assume_role_with_web_identity()
                .role_arn(&role)
                .role_session_name("release-session")
                .web_identity_token(token)
                .send()
        };
        let err = assume(stale.clone()).await.unwrap_err().into_service_error();
        assert!(err.is_expired_token_exception(), "{err:?}");
        assert_eq!(err.message(), Some(expired));

        let assumed = assume(jwt.clone()).await.expect("AssumeRoleWithWebIdentity through the emulator to moto");
        let creds = assumed.credentials().unwrap();
        let session = Credentials::new(
            creds.access_key_id(),
            creds.secret_access_key(),
            Some(creds.session_token().to_owned()),
            None,
            "assumed",
        );
        let sts = aws_sdk_sts::Client::new(&sdk_config(&sts_url, session).await);
        let me = sts.get_caller_identity().send().await.unwrap();
        assert_eq!(
            me.arn(),
            Some(format!("arn:aws:sts::{account}:assumed-role/ci-publisher/release-session").as_str())
        );
        assert_eq!(me.account(), Some(account.as_str()));
        (creds.access_key_id().to_owned(), creds.secret_access_key().to_owned(), creds.session_token().to_owned())
    });

    // What moto issued went through the emulator and is remembered for leak tests,
    // after the secrets of the stack's own session of the domain owner's role.
    let owner: Vec<String> = stack
        .credentials_env()
        .into_iter()
        .filter(|(k, _)| k == "AWS_SECRET_ACCESS_KEY" || k == "AWS_SESSION_TOKEN")
        .map(|(_, v)| v)
        .collect();
    assert_eq!(stack.issued_sts_secrets(), [owner, vec![secret.clone(), session.clone()]].concat());
    assert_eq!(stack.emulator().issued_oidc_tokens(), [stale.clone(), jwt.clone()]);
    // moto itself answered both forwarded calls, the emulator's lookup of the token
    // issuer's provider in IAM before the exchange, and the stack's own AssumeRole
    // and CreateOpenIDConnectProvider at start.
    let moto_log = fs::read_to_string(stack.log_file("moto_server")).unwrap();
    assert_eq!(moto_log.matches("\"POST / HTTP/1.1\" 200").count(), 5, "{moto_log}");

    let log = stack.emulator().requests();
    let sts_calls: Vec<(&str, u16, Option<&str>)> = log
        .iter()
        .filter(|it| it.operation != "oidc")
        .map(|it| (it.operation.as_str(), it.status, it.access_key_id.as_deref()))
        .collect();
    assert_eq!(
        sts_calls,
        [
            ("AssumeRoleWithWebIdentity", 400, None),
            ("AssumeRoleWithWebIdentity", 200, None),
            ("GetCallerIdentity", 200, Some(key.as_str())),
        ]
    );
    let logged = format!("{log:?}");
    for secret in [stale.as_str(), &jwt, &secret, &session, request_token] {
        assert!(!logged.contains(secret), "the request log holds a secret");
    }
}

/// Whether a process with this pid runs a command line containing `needle`.
fn process_runs(pid: u32, needle: &str) -> bool {
    fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|it| String::from_utf8_lossy(&it).replace('\0', " ").contains(needle))
}

/// Pids of processes whose command line holds every one of `needles`.
fn processes_with(needles: &[&str]) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        if needles.iter().all(|needle| process_runs(pid, needle)) {
            pids.push(pid);
        }
    }
    pids
}

#[test]
fn dropping_the_stack_stops_every_process() {
    let stack = start_stack();
    let pids = stack.pids();
    assert_eq!(pids.len(), 2);
    let state = stack.state_dir().to_path_buf();
    assert!(process_runs(pids[0], "pypiserver"), "pid {} is not pypiserver", pids[0]);
    assert!(process_runs(pids[1], "moto.server"), "pid {} is not moto_server", pids[1]);
    drop(stack);
    for pid in pids {
        assert!(!Path::new(&format!("/proc/{pid}")).exists() || !process_runs(pid, "runpy"), "pid {pid} still runs");
    }
    assert!(!state.exists(), "the state folder must be removed");
}

#[test]
fn stacks_run_in_parallel() {
    let a = start_stack();
    let b = start_stack();
    assert_ne!(a.codeartifact_url(), b.codeartifact_url());
    assert_ne!(a.moto_url(), b.moto_url());
    assert_ne!(a.state_dir(), b.state_dir());
    let (token_a, _) = token_and_endpoint(&a);
    let (token_b, _) = token_and_endpoint(&b);
    assert_ne!(token_a, token_b);
}

/// A Python without pypiserver and moto: the system's `python3`.
fn which_python3() -> PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join("python3"))
        .find(|it| it.is_file())
        .expect("python3 is not on PATH: install Python 3 (the release tools need it too)")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Asserts that no stack server was left running for `port` (a connection test
/// could meet another test's server that got the same free port).
fn assert_nothing_on(port: u16) {
    let leftover = processes_with(&["runpy", &format!(" {port} ")]);
    assert!(leftover.is_empty(), "processes left running on port {port}: {leftover:?}");
}

#[test]
fn missing_python_is_a_clear_error() {
    let err = Stack::start(StackConfig::new("/nonexistent/castack/bin/python")).err().expect("must fail");
    let text = format!("{err:#}");
    assert!(text.contains("pypiserver") && text.contains("/nonexistent/castack/bin/python"), "{text}");
    assert!(text.contains("xtask -- tools stack"), "{text}");
}

#[test]
fn python_without_the_servers_quotes_their_output() {
    let python3 = which_python3();
    let mut config = StackConfig::new(python3);
    config.pypiserver_port = Some(free_port());
    config.moto_port = Some(free_port());
    let err = Stack::start(config.clone()).err().expect("a Python without pypiserver must fail");
    let text = format!("{err:#}");
    assert!(text.contains("pypiserver (pid"), "{text}");
    assert!(text.contains("exited"), "{text}");
    assert!(text.contains("No module named pypiserver"), "{text}");
    assert!(text.contains("tools stack"), "{text}");
    assert_nothing_on(config.pypiserver_port.unwrap());
    assert_nothing_on(config.moto_port.unwrap());
}

#[test]
fn a_taken_port_is_a_clear_error_and_leaves_nothing_running() {
    let python = support::tools_python("stack");
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_port = taken.local_addr().unwrap().port();

    let mut config = StackConfig::new(&python);
    config.pypiserver_port = Some(taken_port);
    let text = format!("{:#}", Stack::start(config).err().expect("must fail"));
    assert!(text.contains("cannot start pypiserver") && text.contains(&format!("port {taken_port}")), "{text}");

    // moto's port taken: pypiserver, already started, must be stopped again.
    let mut config = StackConfig::new(&python);
    config.pypiserver_port = Some(free_port());
    config.moto_port = Some(taken_port);
    let text = format!("{:#}", Stack::start(config.clone()).err().expect("must fail"));
    assert!(text.contains("cannot start moto_server") && text.contains("already in use"), "{text}");
    assert_nothing_on(config.pypiserver_port.unwrap());
    drop(taken);
}

#[test]
fn a_server_that_is_too_slow_is_stopped() {
    let mut config = StackConfig::new(support::tools_python("stack"));
    config.startup_timeout = Duration::from_millis(1);
    config.pypiserver_port = Some(free_port());
    config.moto_port = Some(free_port());
    let text = format!("{:#}", Stack::start(config.clone()).err().expect("must time out"));
    assert!(text.contains("did not answer on http://127.0.0.1:"), "{text}");
    assert!(text.contains("last lines of its output"), "{text}");
    assert_nothing_on(config.pypiserver_port.unwrap());
    assert_nothing_on(config.moto_port.unwrap());
}

/// The `castack` binary, built by cargo next to this test binary.
fn castack_binary() -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = run(
        Command::new(cargo)
            .args(["build", "--quiet", "--package", "castack", "--bin", "castack"])
            .current_dir(support::repo_root()),
        Duration::from_secs(600),
    );
    assert!(out.status.success(), "cargo build -p castack failed:\n{}", support::text(&out));
    // <target>/debug/deps/it-HASH → <target>/debug/castack
    let exe = std::env::current_exe().unwrap();
    let binary = exe.parent().unwrap().parent().unwrap().join("castack");
    assert!(binary.is_file(), "{} was not built", binary.display());
    binary
}

/// Starts the binary and reads its stdout up to the ready line.
fn start_binary(binary: &Path) -> (Child, Vec<(String, String)>, Vec<String>) {
    let mut child = Command::new(binary)
        .arg("--python")
        .arg(support::tools_python("stack"))
        .arg("--quiet")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let done = line == "# castack ready";
            lines.push(line);
            if done {
                break;
            }
        }
        let _ = tx.send(lines);
    });
    let lines = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_else(|_| {
        let _ = child.kill();
        panic!("castack printed no ready line within 60 s")
    });
    assert_eq!(lines.last().map(String::as_str), Some("# castack ready"), "{lines:?}");
    let mut exports = Vec::new();
    let mut unsets = Vec::new();
    for line in &lines[..lines.len() - 1] {
        if let Some(name) = line.strip_prefix("unset ") {
            unsets.push(name.to_owned());
        } else {
            let (name, value) =
                line.strip_prefix("export ").and_then(|it| it.split_once('=')).unwrap_or_else(|| panic!("{line}"));
            let value = value
                .strip_prefix('\'')
                .and_then(|it| it.strip_suffix('\''))
                .unwrap_or_else(|| panic!("unquoted: {line}"));
            exports.push((name.to_owned(), value.replace(r"'\''", "'")));
        }
    }
    (child, exports, unsets)
}

fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(status) = fs::read_to_string(format!("/proc/{child}/status")) else { continue };
        if status.lines().any(|line| line.split_whitespace().collect::<Vec<_>>() == ["PPid:", &pid.to_string()]) {
            out.push(child);
        }
    }
    out
}

fn wait_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("castack did not stop within {} s", within.as_secs());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn binary_prints_the_environment_and_stops_on_stdin_eof_or_sigterm() {
    let binary = castack_binary();
    let (mut child, exports, unsets) = start_binary(&binary);
    for name in [
        "AWS_ENDPOINT_URL_CODEARTIFACT",
        "AWS_ENDPOINT_URL_STS",
        "AWS_ENDPOINT_URL_IAM",
        "AWS_REGION",
        "AWS_EC2_METADATA_DISABLED",
        "CODEARTIFACT_DOMAIN",
        "CODEARTIFACT_DOMAIN_OWNER",
        "CODEARTIFACT_REPOSITORY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "ACTIONS_ID_TOKEN_REQUEST_URL",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        "CASTACK_CONTROL_URL",
    ] {
        assert!(exports.iter().any(|(k, _)| k == name), "{name} not exported: {exports:?}");
    }
    for name in ["AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"] {
        assert!(unsets.iter().any(|it| it == name), "{name} not unset");
    }
    let control = &exports.iter().find(|(k, _)| k == "CASTACK_CONTROL_URL").unwrap().1;
    let (status, body) = http_get(&format!("{control}/info"), None);
    assert_eq!(status, 200, "{body}");
    let servers = children_of(child.id());
    assert_eq!(servers.len(), 2, "pypiserver and moto_server: {servers:?}");

    // Closing stdin stops it, servers included.
    drop(child.stdin.take());
    assert!(wait_exit(&mut child, Duration::from_secs(20)).success());
    for pid in &servers {
        assert!(!process_runs(*pid, "runpy"), "server {pid} survived castack");
    }

    // SIGTERM does the same.
    let (mut child, _, _) = start_binary(&binary);
    let servers = children_of(child.id());
    let out = run(Command::new("kill").args(["-TERM", &child.id().to_string()]), Duration::from_secs(10));
    assert!(out.status.success(), "kill -TERM failed (install procps or util-linux): {}", support::text(&out));
    assert!(wait_exit(&mut child, Duration::from_secs(20)).success());
    for pid in &servers {
        assert!(!process_runs(*pid, "runpy"), "server {pid} survived castack");
    }
}
