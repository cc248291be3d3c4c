//! What the integration tests share: the xtask binary, the pinned tool
//! environments, throwaway copies of the repository, the local stack and releases
//! against it, a real forward proxy, and a model of the GitHub runner's log.

use castack::{Stack, StackConfig};

use std::{
    collections::{BTreeSet, HashMap},
    ffi::{OsStr, OsString},
    fs,
    path::{Path, PathBuf},
    process::{Command, Output},
    sync::{Mutex, OnceLock},
};

/// The five settings of the setup guide, which release.yml passes from repository
/// secrets.
pub const WORKFLOW_SECRETS: [&str; 5] =
    ["AWS_ROLE_ARN", "AWS_REGION", "CODEARTIFACT_DOMAIN", "CODEARTIFACT_DOMAIN_OWNER", "CODEARTIFACT_REPOSITORY"];

/// The repository this test binary was built from.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The `xtask` binary under test.
pub fn xtask_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_xtask"))
}

/// Where the tests keep the tool environments: the repository's own, so that every
/// test (and every copy of the repository) shares them.
pub fn tools_dir() -> PathBuf {
    repo_root().join("target/pytools")
}

/// The Python interpreter of a pinned tool environment (`release`, `stack` …),
/// provisioned by `xtask tools LOCK` on first use.
pub fn tools_python(lock: &str) -> PathBuf {
    static CACHE: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut cache = cache.lock().unwrap_or_else(|it| it.into_inner());
    if let Some(python) = cache.get(lock) {
        return python.clone();
    }
    let out = Command::new(xtask_bin())
        .args(["tools", lock])
        .current_dir(repo_root())
        .env("XTASK_TOOLS_DIR", tools_dir())
        .output()
        .expect("run `xtask tools`");
    assert!(
        out.status.success(),
        "provisioning the {lock} tools failed; they need python3 (3.10+ for the stack) with venv and \
         access to PyPI:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let python = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    cache.insert(lock.to_owned(), python.clone());
    python
}

/// A Python with pip of its own, for tests that run pip themselves (the tool
/// environments have none: the interpreter's pip installs into them). Made once,
/// next to the tool environments.
pub fn pip_python() -> PathBuf {
    static MADE: OnceLock<PathBuf> = OnceLock::new();
    MADE.get_or_init(|| {
        let dir = tools_dir().join("test-pip");
        let python = dir.join("bin/python");
        let ready = dir.join("ready");
        if !ready.exists() {
            let _ = fs::remove_dir_all(&dir);
            let out = Command::new("python3").args(["-m", "venv"]).arg(&dir).output().expect("run python3");
            assert!(out.status.success(), "python3 -m venv failed (install python3-venv):\n{}", text(&out));
            fs::write(&ready, "").unwrap();
        }
        python
    })
    .clone()
}

/// An environment with the build requirements of this repository's own lock
/// (hatchling), made once next to the tool environments, for tests that build a
/// throwaway project as the release does.
pub fn hatchling_python() -> PathBuf {
    static MADE: OnceLock<PathBuf> = OnceLock::new();
    MADE.get_or_init(|| {
        let dir = tools_dir().join("test-hatchling");
        let python = dir.join("bin/python");
        let ready = dir.join("ready");
        if !ready.exists() {
            let _ = fs::remove_dir_all(&dir);
            let out = Command::new("python3").args(["-m", "venv"]).arg(&dir).output().expect("run python3");
            assert!(out.status.success(), "python3 -m venv failed (install python3-venv):\n{}", text(&out));
            let out = Command::new(&python)
                .args(["-m", "pip", "install", "--disable-pip-version-check", "--require-hashes", "--no-deps"])
                .args(["--only-binary", ":all:", "-r"])
                .arg(repo_root().join("build-requirements.txt"))
                .output()
                .unwrap();
            assert!(out.status.success(), "installing build-requirements.txt failed (PyPI access?):\n{}", text(&out));
            fs::write(&ready, "").unwrap();
        }
        python
    })
    .clone()
}

/// Builds the project in `project` into `out` (sdist, then the wheel from it) the way
/// the release does: `xtask/src/release/build/build_dists.py` of the release tools, with hatchling
/// from [`hatchling_python`].
pub fn build_project(project: &Path, out: &Path, source_date_epoch: &str) -> Output {
    fs::create_dir_all(out).unwrap();
    Command::new(tools_python("release"))
        .arg(repo_root().join("xtask/src/release/build/build_dists.py"))
        .arg(hatchling_python())
        .arg(out)
        .arg(project)
        .env("SOURCE_DATE_EPOCH", source_date_epoch)
        .output()
        .expect("run build_dists.py")
}

/// SHA-256 of `data`, lowercase hex (as manifests, CodeArtifact and pip write it).
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of the file at `path`, lowercase hex.
pub fn sha256_file(path: &Path) -> String {
    sha256_hex(&fs::read(path).unwrap_or_else(|err| panic!("read {}: {err}", path.display())))
}

/// A temporary directory, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("xtask-it-{label}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Runs git in `dir`, panicking on failure.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
        .env("GIT_AUTHOR_NAME", "test")
        .env("GIT_AUTHOR_EMAIL", "test@example.invalid")
        .env("GIT_COMMITTER_NAME", "test")
        .env("GIT_COMMITTER_EMAIL", "test@example.invalid")
        .output()
        .expect("run git (install git and put it on PATH)");
    assert!(out.status.success(), "git {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// A copy of the repository's files (tracked and new, not ignored) in a fresh git
/// repository with one commit, so a test can release it without touching the real
/// checkout.
pub fn copy_repo(label: &str) -> TempDir {
    let dst = TempDir::new(label);
    xtask::copy_checkout(&repo_root(), dst.path()).expect("copy the repository");
    dst
}

/// Runs the xtask binary in `dir` with `args`, with a clean environment plus `envs`.
pub fn xtask(dir: &Path, args: &[&str], envs: &[(&str, &OsStr)]) -> Output {
    xtask_command(dir, args, envs).output().expect("run the xtask binary")
}

/// The command `xtask` runs, for a test that changes it further.
pub fn xtask_command(dir: &Path, args: &[&str], envs: &[(&str, &OsStr)]) -> Command {
    let mut cmd = Command::new(xtask_bin());
    cmd.args(args).current_dir(dir).env_clear();
    // What any program needs, where the Rust toolchain lives (the sandbox runs
    // cargo; images such as Docker's `rust` set RUSTUP_HOME and CARGO_HOME outside
    // HOME), and the machine's network settings (proxies, trust stores, package
    // index mirrors): nothing of the AWS or GitHub environment.
    for (key, value) in std::env::vars_os() {
        let name = key.to_string_lossy();
        let keep =
            ["PATH", "HOME", "LANG", "TMPDIR", "NODE_EXTRA_CA_CERTS", "CARGO_HOME", "RUSTUP_HOME", "RUSTUP_TOOLCHAIN"]
                .contains(&name.as_ref())
                || ["SSL_CERT_", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "PIP_", "UV_", "npm_config_", "NPM_CONFIG_"]
                    .iter()
                    .any(|p| name.starts_with(p))
                || name.to_ascii_lowercase().ends_with("_proxy");
        if keep {
            cmd.env(key, value);
        }
    }
    cmd.env("XTASK_TOOLS_DIR", tools_dir());
    // uv on PATH, so that the releases of the tests make their build environments
    // with it (a second per release instead of three, measured cold): a test that
    // proves the pip path gives its own PATH (tools.rs, faults.rs' tools install,
    // release_offline.rs' offline runs).
    if !envs.iter().any(|(key, _)| *key == "PATH") {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let joined = std::env::join_paths(std::iter::once(uv_dir()).chain(std::env::split_paths(&path)));
        cmd.env("PATH", joined.expect("PATH joins"));
    }
    for (key, value) in envs {
        cmd.env(key, value);
    }
    cmd
}

/// A folder holding only `uv` (a link to the one of the pinned `lock` tools), for
/// PATH: the lock environment's folder would also put its python3 first.
pub fn uv_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let uv = tools_python("lock").parent().expect("the lock tools' bin folder").join("uv");
        assert!(uv.is_file(), "the lock tools have no uv at {}", uv.display());
        let dir = tools_dir().join("test-uv");
        fs::create_dir_all(&dir).unwrap();
        // Made under a name of this process, then renamed: test binaries run at once.
        let link = dir.join(format!(".uv-{}", std::process::id()));
        let _ = fs::remove_file(&link);
        std::os::unix::fs::symlink(&uv, &link).unwrap();
        fs::rename(&link, dir.join("uv")).unwrap();
        dir
    })
    .clone()
}

/// stdout and stderr of a finished process, for assertion messages.
pub fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// A real forward proxy (proxy.py, pinned in the stack lock) on 127.0.0.1, with its
/// access log in a file; stopped when dropped.
pub struct ForwardProxy {
    child: std::process::Child,
    port: u16,
    log: PathBuf,
    _dir: TempDir,
}

impl ForwardProxy {
    /// Starts the proxy; with `basic_auth` (`user:password`) it answers 407 to a
    /// request without those credentials.
    pub fn start(basic_auth: Option<&str>) -> ForwardProxy {
        let dir = TempDir::new("proxy");
        let (port_file, log) = (dir.path().join("port"), dir.path().join("access.log"));
        let mut cmd = Command::new(tools_python("stack"));
        cmd.args(["-m", "proxy", "--hostname", "127.0.0.1", "--port", "0", "--num-workers", "1"])
            .args(["--num-acceptors", "1", "--log-level", "INFO", "--port-file"])
            .arg(&port_file)
            .arg("--log-file")
            .arg(&log)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        if let Some(auth) = basic_auth {
            cmd.args(["--basic-auth", auth]);
        }
        // proxy.py forks its acceptors: a group of its own, stopped as one.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = cmd.spawn().expect("start proxy.py from the stack tools (xtask/tools/stack.txt)");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let port = loop {
            let port = fs::read_to_string(&port_file).ok().and_then(|it| it.trim().parse::<u16>().ok());
            if let Some(port) = port.filter(|_| std::net::TcpStream::connect(("127.0.0.1", port.unwrap())).is_ok()) {
                break port;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("proxy.py exited ({status}): {}", fs::read_to_string(&log).unwrap_or_default());
            }
            assert!(std::time::Instant::now() < deadline, "proxy.py did not listen within 30 s");
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        ForwardProxy { child, port, log, _dir: dir }
    }

    /// `http://[USERINFO@]127.0.0.1:PORT`.
    pub fn url(&self, userinfo: Option<&str>) -> String {
        match userinfo {
            Some(userinfo) => format!("http://{userinfo}@127.0.0.1:{}", self.port),
            None => format!("http://127.0.0.1:{}", self.port),
        }
    }

    /// The access log's request lines: `METHOD HOST:PORT/PATH - STATUS`, from lines
    /// such as `… server.access_log:393 - 127.0.0.1:58700 - GET 127.0.0.1:1/ - 200 OK - …`.
    pub fn requests(&self) -> Vec<String> {
        let log = fs::read_to_string(&self.log).unwrap_or_default();
        log.lines()
            .filter(|it| it.contains("access_log"))
            .filter_map(|line| {
                let parts: Vec<&str> = line.split(" - ").collect();
                let i = parts.iter().position(|p| {
                    ["GET ", "POST ", "PUT ", "HEAD ", "CONNECT ", "DELETE "].iter().any(|m| p.starts_with(m))
                })?;
                Some(format!("{} - {}", parts[i], parts.get(i + 1).unwrap_or(&"")))
            })
            .collect()
    }
}

impl Drop for ForwardProxy {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a GitHub Actions runner makes of a step's output: a small model of
/// actions/runner's command parsing (`src/Runner.Common/ActionCommand.cs`): a line
/// (split at CR or LF) is a command when, trimmed of leading whitespace, it starts
/// with `::name args::data`, or when it holds the legacy `##[name args]data`
/// anywhere; `stop-commands` turns every command off until a line `::TOKEN::`.
#[derive(Debug, Default)]
pub struct RunnerView {
    /// The lines the log shows, with the masks applied.
    pub shown: Vec<String>,
    /// Every command the runner acted on, by name.
    pub commands: Vec<String>,
    pub masks: Vec<String>,
}

/// Commands of the legacy `##[…]` form the runner knows.
const RUNNER_COMMANDS: &[&str] = &[
    "add-mask",
    "stop-commands",
    "set-output",
    "set-env",
    "add-path",
    "save-state",
    "error",
    "warning",
    "notice",
    "debug",
    "group",
    "endgroup",
    "echo",
    "add-matcher",
    "remove-matcher",
];

pub fn runner_view(output: &str) -> RunnerView {
    let mut view = RunnerView::default();
    let mut stopped: Option<String> = None;
    let unescape = |data: &str| data.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%");
    // A mask hides a value from the lines printed after it, not before.
    let show = |view: &mut RunnerView, line: &str| {
        let mut line = line.to_owned();
        for mask in view.masks.iter().filter(|it| !it.is_empty()) {
            line = line.replace(mask.as_str(), "***");
        }
        view.shown.push(line);
    };
    for line in output.split(['\r', '\n']) {
        if let Some(token) = &stopped {
            if line.trim() == format!("::{token}::") {
                stopped = None;
            } else {
                show(&mut view, line);
            }
            continue;
        }
        let trimmed = line.trim_start();
        let v2 = trimmed.strip_prefix("::").and_then(|rest| rest.split_once("::"));
        let legacy = line.find("##[").and_then(|i| {
            let rest = &line[i + 3..];
            rest.split_once(']').filter(|(info, _)| RUNNER_COMMANDS.contains(&info.split(' ').next().unwrap_or("")))
        });
        let Some((info, data)) = v2.or(legacy) else {
            show(&mut view, line);
            continue;
        };
        let name = info.split(' ').next().unwrap_or_default().to_owned();
        match name.as_str() {
            "add-mask" => view.masks.push(unescape(data)),
            "stop-commands" => stopped = Some(data.to_owned()),
            // Annotations are shown, in the log and on the run's page.
            "error" | "warning" | "notice" => show(&mut view, &unescape(data)),
            _ => {}
        }
        view.commands.push(name);
    }
    view
}

/// Each secret as is and percent-encoded with upper- and lower-case hex digits: the
/// forms the release masks.
pub fn secret_forms(secrets: &[String]) -> Vec<String> {
    let percent = |value: &str, upper: bool| -> String {
        value
            .bytes()
            .map(|b| match b {
                b if b.is_ascii_alphanumeric() || b"-._~".contains(&b) => (b as char).to_string(),
                b if upper => format!("%{b:02X}"),
                b => format!("%{b:02x}"),
            })
            .collect()
    };
    secrets.iter().flat_map(|s| [s.clone(), percent(s, true), percent(s, false)]).collect()
}

/// The runner acts on no command but the ones the release sends (and masks nothing
/// but `secrets`, given in every form), and no secret is visible in what it shows.
pub fn assert_runner_safe(name: &str, output: &str, secrets: &[String]) {
    let view = runner_view(output);
    for mask in &view.masks {
        let prefix: String = mask.chars().take(8).collect();
        assert!(secrets.contains(mask), "`{name}`: the runner would mask {prefix:?}…, which is no secret of the run");
    }
    for command in &view.commands {
        assert!(
            ["group", "endgroup", "error", "warning", "add-mask"].contains(&command.as_str()),
            "`{name}`: the runner would act on `{command}`:\n{output}"
        );
    }
    let shown = view.shown.join("\n");
    for secret in secrets.iter().filter(|it| it.len() >= 8) {
        assert!(!shown.contains(secret.as_str()), "`{name}`: a secret ({}…) is visible:\n{shown}", &secret[..8]);
        // Nor a part of one, as a cut before scrubbing would leave (every 32-byte
        // window of a long secret, at 16-byte steps).
        for start in (0..secret.len().saturating_sub(32)).step_by(16).filter(|i| secret.is_char_boundary(*i)) {
            let part = &secret[start..start + 32];
            assert!(!shown.contains(part), "`{name}`: a part of a secret ({}…) is visible:\n{shown}", &part[..8]);
        }
    }
}

/// Copies the folder `from` into `to`, recursively.
pub fn copy_dir(from: &Path, to: &Path) {
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest: PathBuf = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            fs::create_dir_all(&dest).unwrap();
            copy_dir(&entry.path(), &dest);
        } else {
            fs::copy(entry.path(), dest).unwrap();
        }
    }
}

// Releases against the local stack.

/// The account and role the stack's moto hands out sessions for.
fn role_arn(stack: &Stack) -> String {
    format!("arn:aws:iam::{}:role/{}", stack.config().account, castack::DEFAULT_ROLE)
}

/// A stack of its own for one test (started in a second or two), stopped when dropped.
/// Its account has GitHub's OIDC provider, as after `setup`.
pub fn start_stack() -> Stack {
    start_stack_with(StackConfig::new(tools_python("stack")))
}

/// A stack with `config` (`StackConfig::new(tools_python("stack"))` changed).
pub fn start_stack_with(config: StackConfig) -> Stack {
    let started = std::time::Instant::now();
    let stack = Stack::start(config).expect("start the castack stack");
    eprintln!("stack started in {:.2} s", started.elapsed().as_secs_f64());
    stack
}

/// How the release authenticates.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Creds {
    /// Keys in the environment (a laptop, or any CI): a session of the release role
    /// in the domain owner's account, which the stack minted when it started.
    Static,
    /// The stack's throwaway static keys, which moto files under its default
    /// account 123456789012: a caller outside the domain owner's account.
    CrossAccount,
    /// A GitHub Actions tag push with `id-token: write` and AWS_ROLE_ARN: the OIDC
    /// exchange.
    GithubOidc,
    /// GitHub Actions with AWS_ROLE_ARN but no `id-token: write`.
    GithubNoIdToken,
}

/// The environment of a release against `stack`.
pub fn release_env(stack: &Stack, creds: Creds, tag: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut vars = stack.env();
    // GitHub's API is the stack's fake, so no test reaches api.github.com (or a
    // person's `gh` login, which is asked for the API's host only).
    vars.push(("GITHUB_API_URL".to_owned(), stack.emulator().github_api_url()));
    match creds {
        Creds::Static => vars.extend(stack.credentials_env()),
        Creds::CrossAccount => vars.extend(stack.cross_account_credentials_env()),
        Creds::GithubOidc | Creds::GithubNoIdToken => {
            if creds == Creds::GithubOidc {
                vars.extend(stack.oidc_env());
            }
            for (k, v) in [
                ("GITHUB_ACTIONS", "true"),
                ("CI", "true"),
                ("GITHUB_REF_TYPE", "tag"),
                ("GITHUB_REF_NAME", tag),
                ("GITHUB_RUN_ID", "4242"),
                ("GITHUB_RUN_ATTEMPT", "1"),
            ] {
                vars.push((k.to_owned(), v.to_owned()));
            }
            vars.push(("AWS_ROLE_ARN".to_owned(), role_arn(stack)));
        }
    }
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    vars
}

/// Runs `xtask release ARGS` in `repo` with `vars`.
///
/// The tag being released is created at `HEAD` first when it does not exist, as a
/// person or a tag push would have (a real publish requires it; `tag_must_exist`
/// tests the refusal).
pub fn release(repo: &Path, args: &[&str], vars: &[(String, String)]) -> Output {
    let from_args = args.first().filter(|it| !it.starts_with('-')).map(|it| it.to_string());
    let pushed = vars.iter().any(|(k, v)| k == "GITHUB_REF_TYPE" && v == "tag");
    let from_push = vars.iter().find(|(k, _)| k == "GITHUB_REF_NAME" && pushed).map(|(_, v)| v.clone());
    if let Some(tag) = from_args.or(from_push).filter(|it| !it.is_empty()) {
        ensure_tag(repo, &tag);
    }
    let mut all = vec!["release"];
    all.extend_from_slice(args);
    run_xtask(repo, &all, vars)
}

/// Creates `tag` at `HEAD` unless it exists (wherever it points).
pub fn ensure_tag(repo: &Path, tag: &str) {
    let exists = Command::new("git")
        .args(["rev-parse", "-q", "--verify", &format!("refs/tags/{tag}")])
        .current_dir(repo)
        .output()
        .is_ok_and(|it| it.status.success());
    // A hostile tag is refused by the release before git could see it; never tag one.
    let plain = tag.chars().all(|c| c.is_ascii_alphanumeric() || "._!+-".contains(c)) && !tag.starts_with('-');
    if !exists && plain {
        git(repo, &["tag", tag]);
    }
}

/// Runs `xtask ARGS` in `dir` with `vars` (on top of the clean test environment).
pub fn run_xtask(dir: &Path, args: &[&str], vars: &[(String, String)]) -> Output {
    let owned: Vec<(String, OsString)> = vars.iter().map(|(k, v)| (k.clone(), OsString::from(v))).collect();
    let refs: Vec<(&str, &std::ffi::OsStr)> = owned.iter().map(|(k, v)| (k.as_str(), v.as_os_str())).collect();
    xtask(dir, args, &refs)
}

pub fn uploads(stack: &Stack) -> Vec<String> {
    stack
        .emulator()
        .requests()
        .into_iter()
        .filter(|r| r.operation == "pypi-upload" && r.status == 200)
        .filter_map(|r| r.file)
        .collect()
}

pub fn published_files(stack: &Stack) -> BTreeSet<String> {
    fs::read_dir(stack.package_dir())
        .unwrap()
        .map(|it| it.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|it| it.ends_with(".whl") || it.ends_with(".tar.gz"))
        .collect()
}

/// Installs `requirement` with pip from the stack's index into a fresh virtual
/// environment and returns what `yamause.__version__` says.
pub fn install_and_read_version(stack: &Stack, requirement: &str) -> String {
    let venv = TempDir::new("install");
    let python3 = tools_python("release");
    let out = Command::new(&python3).args(["-m", "venv"]).arg(venv.path().join("v")).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let python = venv.path().join("v/bin/python");
    let token = stack.emulator().issue_token(Some(900)).unwrap();
    let out = Command::new(&python)
        .args(["-m", "pip", "install", "--no-cache-dir", "--disable-pip-version-check", requirement])
        .env("PIP_INDEX_URL", stack.index_url(&token.value))
        .env_remove("PIP_FIND_LINKS")
        .output()
        .unwrap();
    assert!(out.status.success(), "pip install {requirement} failed:\n{}", text(&out));
    let out = Command::new(&python).args(["-c", "import yamause; print(yamause.__version__)"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Every secret the stack handed out or was given (the OIDC request token, the
/// static key, CodeArtifact tokens and their Basic form, JWTs, STS sessions), in
/// every form the release masks.
pub fn stack_secrets(stack: &Stack) -> Vec<String> {
    let emulator = stack.emulator();
    let mut secrets = vec![emulator.oidc_request_token().to_owned(), castack::SECRET_ACCESS_KEY.to_owned()];
    let tokens = emulator.issued_tokens();
    secrets.extend(tokens.iter().map(|it| base64_simd::STANDARD.encode_to_string(format!("aws:{it}"))));
    secrets.extend(tokens);
    secrets.extend(emulator.issued_oidc_tokens());
    secrets.extend(stack.issued_sts_secrets());
    secret_forms(&secrets)
}

/// A run's printed output made comparable across runs and machines, for a reviewed
/// snapshot (`insta::assert_snapshot!`, in tests/it/snapshots): the copy's path, the
/// tool folder, the tests' scratch folders and the machine's python3 become
/// `[REPO]`, `[TOOLS]`, `[SCRATCH]` and `[PYTHON3]`; elapsed times `[T] s`, commit
/// ids `[COMMIT]`, SHA-256 digests `[SHA256]`, file sizes `[SIZE] B`, ports `[PORT]`,
/// the versions git and Python print `[V]`. Only outputs of runs that hold no secret
/// are snapshotted (offline ones), so none can reach a file.
pub fn snapshot_text(out: &Output, repo: &Path) -> String {
    let both = format!(
        "exit: {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut plain = both
        .replace(&repo.display().to_string(), "[REPO]")
        .replace(&tools_dir().display().to_string(), "[TOOLS]")
        .replace(&std::env::temp_dir().join("xtask-it-").display().to_string(), "[TMP]/xtask-it-");
    if let Ok(python) = which::which("python3") {
        plain = plain.replace(&python.display().to_string(), "[PYTHON3]");
    }
    let rules = [
        (r"\[TMP\]/xtask-it-[a-z0-9-]+-[0-9]+-[0-9]+", "[SCRATCH]"),
        (r"\b[0-9]+\.[0-9]+ s\b", "[T] s"),
        (r"\b[0-9a-f]{64}\b", "[SHA256]"),
        (r"\b[0-9a-f]{40}\b", "[COMMIT]"),
        (r"\b[0-9]+ B  ", "[SIZE] B  "),
        (r"127\.0\.0\.1:[0-9]+", "127.0.0.1:[PORT]"),
        (r"(git version|Python) [0-9][0-9A-Za-z.+-]*", "$1 [V]"),
    ];
    rules.iter().fold(plain, |text, (pattern, with)| {
        regex_lite::Regex::new(pattern).unwrap().replace_all(&text, *with).into_owned()
    })
}
