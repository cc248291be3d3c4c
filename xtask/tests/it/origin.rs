//! The package's origin in CodeArtifact, end to end on the local stack with a second
//! pypiserver standing in for PyPI behind the repository's external connection
//! `public:pypi`: the release's first publish protects the package (publish ALLOW,
//! upstream BLOCK); a name ingested from PyPI first makes `setup` refuse (naming the
//! versions and where they came from), `check-iam` fail and the release refuse
//! before it sends anything; `setup --apply` protects the package before any
//! release, and again changes nothing. The install instructions the release and
//! `install-help` print are run as printed (the token line with the pinned AWS CLI,
//! then pip, uv and poetry from the pinned locks), with the token in the environment
//! only, and install the release.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Output},
};

use castack::{Fault, OriginRestrictions, Stack, StackConfig};
use serde_json::Value;

use crate::{
    setup::{setup, setup_env},
    support::{self, Creds, TempDir, copy_repo, release, release_env, run_xtask, start_stack_with, text, uploads},
};

/// A stack whose repository has the external connection to the stand-in for PyPI;
/// `github_oidc_provider` as the setup tests want it (false: an empty account).
fn stack_with_public_pypi(github_oidc_provider: bool) -> Stack {
    let mut config = StackConfig::new(support::tools_python("stack"));
    config.public_pypi = true;
    config.github_oidc_provider = github_oidc_provider;
    start_stack_with(config)
}

/// Writes a minimal wheel of `name` `version` into `dir` (what pip needs: METADATA,
/// WHEEL, RECORD), as anyone could upload it to PyPI; returns its path.
fn public_wheel(dir: &Path, name: &str, version: &str) -> PathBuf {
    let path = dir.join(format!("{}-{version}-py3-none-any.whl", name.replace('-', "_")));
    let script = r#"
import base64, hashlib, sys, zipfile
path, name, version = sys.argv[1:4]
info = f"{name.replace('-', '_')}-{version}.dist-info"
files = {
    f"{name.replace('-', '_')}/__init__.py": b"__version__ = 'not yours'\n",
    f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
    f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: xtask-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
def digest(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
record = "".join(f"{n},{digest(d)},{len(d)}\n" for n, d in files.items()) + f"{info}/RECORD,,\n"
with zipfile.ZipFile(path, "w") as z:
    for n, d in files.items():
        z.writestr(n, d)
    z.writestr(f"{info}/RECORD", record)
"#;
    let out =
        Command::new(support::tools_python("stack")).args(["-c", script]).arg(&path).args([name, version]).output();
    let out = out.unwrap();
    assert!(out.status.success(), "{}", text(&out));
    path
}

/// `pip download --no-deps REQUIREMENT` through the repository: an install through
/// it, which is what makes CodeArtifact ingest a name from PyPI.
fn install_through_the_repository(stack: &Stack, requirement: &str) -> Output {
    let into = TempDir::new("ingest");
    let token = stack.emulator().issue_token(None).unwrap().value;
    Command::new(support::tools_python("stack"))
        .args(["-m", "pip", "download", "--no-deps", "--no-cache-dir", "--disable-pip-version-check", "-d"])
        .arg(into.path())
        .arg(requirement)
        .env("PIP_INDEX_URL", stack.index_url(&token))
        .env("PIP_CONFIG_FILE", "/dev/null")
        .env_remove("PIP_FIND_LINKS")
        .env_remove("PIP_EXTRA_INDEX_URL")
        .output()
        .unwrap()
}

fn check_iam(repo: &Path, vars: &[(String, String)]) -> (Value, Output) {
    let out = run_xtask(repo, &["check-iam", "--format", "json", "--github-repo", "octo-org/yamause"], vars);
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|err| panic!("not JSON ({err}):\n{}", text(&out)));
    (report, out)
}

/// The finding `id` of a check-iam report: its severity and message.
fn finding(report: &Value, id: &str) -> Option<(String, String)> {
    let found = report["findings"].as_array().unwrap().iter().find(|it| it["id"] == id)?;
    Some((found["severity"].as_str().unwrap().to_owned(), found["message"].as_str().unwrap().to_owned()))
}

/// The code lines (indented by four spaces) of the section of the instructions that
/// starts with `name:`, its `nth` one (uv has two: the TOML, then the shell).
fn code(instructions: &str, name: &str, nth: usize) -> Vec<String> {
    let mut sections: Vec<Vec<String>> = Vec::new();
    let mut inside = false;
    for line in instructions.lines() {
        if line.starts_with(&format!("{name}: ")) {
            sections.push(Vec::new());
            inside = true;
        } else if !line.starts_with("    ") && !line.is_empty() {
            inside = false;
        } else if inside {
            sections.last_mut().unwrap().push(line.strip_prefix("    ").unwrap_or(line).to_owned());
        }
    }
    let section = sections.get(nth).unwrap_or_else(|| panic!("no {name} section {nth}:\n{instructions}"));
    let trimmed: Vec<String> = section.iter().rev().skip_while(|it| it.is_empty()).cloned().collect();
    trimmed.into_iter().rev().collect()
}

/// What a consumer's shell has: their AWS identity (the stack's caller, for the
/// printed `aws codeartifact get-authorization-token`), the AWS CLI and `tool_bin` on
/// `PATH`, a home of its own, and nothing of the test's environment. The token is
/// not in it: the script starts with the printed `export CODEARTIFACT_AUTH_TOKEN=…`.
struct Consumer<'a> {
    stack: &'a Stack,
    /// The printed token line.
    token_line: String,
}

impl Consumer<'_> {
    /// Runs the token line and then `commands` with sh in `dir`.
    fn run(&self, dir: &Path, tool_bin: &Path, extra: &[(&str, &str)], commands: &[String]) -> Output {
        let home = dir.join(".home");
        fs::create_dir_all(&home).unwrap();
        let aws_bin = support::tools_python("bench").parent().unwrap().to_path_buf();
        let path = format!("{}:{}:/usr/local/bin:/usr/bin:/bin", tool_bin.display(), aws_bin.display());
        let mut cmd = Command::new("sh");
        cmd.arg("-ec").arg(format!("{}\n{}", self.token_line, commands.join("\n")));
        cmd.current_dir(dir).env_clear().env("PATH", path).env("HOME", &home).env("LANG", "C.UTF-8");
        for (key, value) in self.stack.env().into_iter().chain(self.stack.credentials_env()) {
            cmd.env(key, value);
        }
        for (key, value) in extra {
            cmd.env(key, value);
        }
        cmd.output().unwrap()
    }
}

/// The printed pip line, in a fresh environment: returns what `yamause.__version__`
/// says there.
fn pip_installs(consumer: &Consumer, instructions: &str, work: &Path) -> String {
    let venv = work.join("pip-env");
    let made = Command::new(support::tools_python("release")).args(["-m", "venv"]).arg(&venv).output().unwrap();
    assert!(made.status.success(), "{}", text(&made));
    let pip = code(instructions, "pip", 0);
    assert_eq!(pip.len(), 1, "{instructions}");
    assert!(pip[0].starts_with("PIP_INDEX_URL=\"http://aws:${CODEARTIFACT_AUTH_TOKEN}@127.0.0.1:"), "{}", pip[0]);
    let extra = [("PIP_CONFIG_FILE", "/dev/null"), ("PIP_DISABLE_PIP_VERSION_CHECK", "1"), ("PIP_NO_CACHE_DIR", "1")];
    let out = consumer.run(work, &venv.join("bin"), &extra, &pip);
    assert!(out.status.success(), "the printed pip line failed:\n{}\n{}", pip[0], text(&out));
    imported_version(&venv.join("bin/python"))
}

/// uv's printed pyproject.toml snippet in a new consumer project, then its printed
/// commands: returns what `yamause.__version__` says in the project's environment.
fn uv_installs(consumer: &Consumer, instructions: &str, work: &Path) -> String {
    let project = work.join("uv-consumer");
    fs::create_dir_all(&project).unwrap();
    let toml = code(instructions, "uv", 0).join("\n");
    assert!(toml.contains("explicit = true") && !toml.contains("aws:"), "{toml}");
    fs::write(project.join("pyproject.toml"), format!("{CONSUMER_PROJECT}\n{toml}\n")).unwrap();
    let uv_bin = support::tools_python("lock").parent().unwrap().to_path_buf();
    let (python, cache) = (support::tools_python("release"), work.join("uv-cache"));
    let extra = [
        ("UV_CACHE_DIR", cache.to_str().unwrap()),
        ("UV_PYTHON", python.to_str().unwrap()),
        ("UV_PYTHON_DOWNLOADS", "never"),
    ];
    let commands = code(instructions, "uv", 1);
    assert!(commands.iter().any(|it| it.starts_with("export UV_INDEX_CODEARTIFACT_PASSWORD=")), "{commands:?}");
    let out = consumer.run(&project, &uv_bin, &extra, &commands);
    assert!(out.status.success(), "the printed uv commands failed:\n{}\n{}", commands.join("\n"), text(&out));
    let lock = fs::read_to_string(project.join("uv.lock")).unwrap();
    assert!(lock.contains("name = \"yamause\"") && lock.contains("version = \"1.0.0\""), "{lock}");
    imported_version(&project.join(".venv/bin/python"))
}

/// poetry's printed commands (pinned poetry, `xtask/tools/poetry.txt`) in a new
/// consumer project: returns what `yamause.__version__` says in its environment.
/// The machine has no keyring service: the null backend says so, as a headless
/// machine's configuration would.
fn poetry_installs(consumer: &Consumer, instructions: &str, work: &Path) -> String {
    let project = work.join("poetry-consumer");
    fs::create_dir_all(&project).unwrap();
    let toml = format!("{CONSUMER_PROJECT}\n[tool.poetry]\npackage-mode = false\n");
    fs::write(project.join("pyproject.toml"), toml).unwrap();
    let poetry_bin = support::tools_python("poetry").parent().unwrap().to_path_buf();
    let (cache, config) = (work.join("poetry-cache"), work.join("poetry-config"));
    let extra = [
        ("POETRY_CACHE_DIR", cache.to_str().unwrap()),
        ("POETRY_CONFIG_DIR", config.to_str().unwrap()),
        ("POETRY_VIRTUALENVS_IN_PROJECT", "true"),
        ("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring"),
    ];
    let commands = code(instructions, "poetry", 0);
    assert!(commands[0].starts_with("poetry source add --priority=explicit codeartifact "), "{commands:?}");
    let out = consumer.run(&project, &poetry_bin, &extra, &commands);
    assert!(out.status.success(), "the printed poetry commands failed:\n{}\n{}", commands.join("\n"), text(&out));
    imported_version(&project.join(".venv/bin/python"))
}

/// The consumer project the uv and poetry instructions are tried in.
const CONSUMER_PROJECT: &str =
    "[project]\nname = \"consumer\"\nversion = \"0.0.0\"\nrequires-python = \">=3.9\"\ndependencies = []\n";

fn imported_version(python: &Path) -> String {
    let out = Command::new(python).args(["-c", "import yamause; print(yamause.__version__)"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Every file under `dir` that holds `secret`.
fn files_with(dir: &Path, secret: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                stack.push(path);
            } else if fs::read(&path).is_ok_and(|it| it.windows(secret.len()).any(|w| w == secret.as_bytes())) {
                found.push(path);
            }
        }
    }
    found
}

/// The first release creates the package with publish ALLOW, upstream BLOCK, even in
/// a repository with a PyPI connection; check-iam then finds it protected; and the
/// instructions `install-help` prints install it, run as printed: the token line
/// (the AWS CLI), pip's line, uv's pyproject.toml snippet and commands, poetry's
/// commands, with the token in the environment only (no file of the consumers'
/// projects holds it afterwards).
#[test]
fn the_first_release_protects_the_package_and_the_printed_instructions_install_it() {
    let stack = stack_with_public_pypi(true);
    // Someone publishes a higher yamause to PyPI after the release: it must not come through.
    let repo = copy_repo("origin-first-release");
    let vars = release_env(&stack, Creds::Static, "", &[]);
    let out = release(repo.path(), &["v1.0.0"], &vars);
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    assert!(log.contains("yamause is not in the repository yet: this release creates it"), "{log}");
    assert!(log.contains("yamause 1.0.0 is Published, published to this repository"), "{log}");
    assert_eq!(stack.emulator().package_origin("yamause"), Some(OriginRestrictions::PUBLISHED));
    public_wheel(&stack.public_pypi_dir().unwrap(), "yamause", "99.0");

    let (report, out) = check_iam(repo.path(), &vars);
    assert!(out.status.success(), "{report:#}");
    let (severity, message) = finding(&report, "origin.ok").unwrap_or_else(|| panic!("{report:#}"));
    assert_eq!(severity, "info");
    assert!(message.contains("publish: ALLOW, upstream: BLOCK") && message.contains("1 version(s)"), "{message}");
    let (_, connections) = finding(&report, "codeartifact.connections").unwrap();
    assert!(connections.contains("external connections: public:pypi"), "{connections}");

    let out = run_xtask(repo.path(), &["install-help", "1.0.0"], &vars);
    assert!(out.status.success(), "{}", text(&out));
    let instructions = String::from_utf8(out.stdout.clone()).unwrap();
    let token = stack.emulator().current_token().unwrap().value;
    assert!(!text(&out).contains(&token), "install-help printed a token");
    let token_line = code(&instructions, "token", 0);
    assert_eq!(token_line.len(), 1, "{instructions}");
    let consumer = Consumer { stack: &stack, token_line: token_line[0].clone() };
    let work = TempDir::new("consumer");
    assert_eq!(pip_installs(&consumer, &instructions, work.path()), "1.0.0");
    assert_eq!(uv_installs(&consumer, &instructions, work.path()), "1.0.0");
    assert_eq!(poetry_installs(&consumer, &instructions, work.path()), "1.0.0");
    // The printed token line asked the stack for the token the release holds.
    assert_eq!(stack.emulator().current_token().unwrap().value, token);
    assert_eq!(files_with(work.path(), &token), Vec::<PathBuf>::new(), "the token was written to disk");
    // PyPI's 99.0 stayed out of the repository.
    assert!(!stack.package_dir().join("yamause-99.0-py3-none-any.whl").exists());
}

/// A name that someone published to PyPI and that was installed through the
/// repository before the first release: CodeArtifact ingested it (publish BLOCK,
/// upstream ALLOW, its version EXTERNAL). `setup --apply` refuses and changes
/// nothing, naming the version and where it came from; `check-iam` fails with the
/// origin findings; the release refuses before it sends anything.
#[test]
fn a_name_ingested_from_pypi_first_is_refused_by_setup_check_iam_and_the_release() {
    let stack = stack_with_public_pypi(false);
    public_wheel(&stack.public_pypi_dir().unwrap(), "yamause", "9.0");
    let ingested = install_through_the_repository(&stack, "yamause==9.0");
    assert!(ingested.status.success(), "{}", text(&ingested));
    assert_eq!(stack.emulator().package_origin("yamause"), Some(OriginRestrictions::INGESTED));

    let repo = copy_repo("origin-ingested");
    let vars = setup_env(&stack);
    let out = setup(repo.path(), &vars, &["--apply"]);
    let shown = text(&out);
    assert!(!out.status.success(), "{shown}");
    let step = shown.lines().find(|it| it.contains("Origin controls of the package yamause")).unwrap_or_default();
    assert!(step.starts_with("5. ") && step.ends_with(": refused"), "{shown}");
    assert!(shown.contains("9.0 (from the external connection public:pypi)"), "{shown}");
    assert!(shown.contains("a dependency substitution may already have happened"), "{shown}");
    assert!(shown.contains("delete-package-versions") && shown.contains("--versions 9.0"), "{shown}");
    assert!(shown.contains("nothing was changed"), "{shown}");
    // Nothing at all was applied: no role, and the package as it was.
    assert!(!shown.contains("created the role"), "{shown}");
    assert_eq!(stack.emulator().package_origin("yamause"), Some(OriginRestrictions::INGESTED));

    let vars = release_env(&stack, Creds::Static, "", &[]);
    let (report, out) = check_iam(repo.path(), &vars);
    assert!(!out.status.success() && report["status"] == "fail", "{report:#}");
    let (severity, message) = finding(&report, "origin.foreign-versions").unwrap_or_else(|| panic!("{report:#}"));
    assert_eq!(severity, "error");
    assert!(message.contains("9.0 (from the external connection public:pypi)"), "{message}");
    let (severity, message) = finding(&report, "origin.upstream-allowed").unwrap();
    assert_eq!(severity, "error");
    assert!(message.contains("upstream: ALLOW") && message.contains("external connections: public:pypi"), "{message}");
    assert_eq!(finding(&report, "perm.origin-blocked").unwrap().0, "error");

    let out = release(repo.path(), &["v1.0.0"], &vars);
    let log = text(&out);
    assert!(!out.status.success(), "{log}");
    assert!(log.contains("perm.origin-blocked (Authenticate, before uploading)"), "{log}");
    assert!(log.contains("origin.upstream-allowed (Authenticate, before uploading)"), "{log}");
    assert!(log.contains("nothing was sent"), "{log}");
    assert!(uploads(&stack).is_empty(), "{log}");
    assert!(stack.emulator().requests().iter().all(|it| it.operation != "pypi-upload"), "{log}");
}

/// `setup --apply` on a repository without the package creates it with publish
/// ALLOW, upstream BLOCK before any release, so PyPI's package of the name is then
/// never ingested; a second `--apply` changes nothing.
#[test]
fn setup_protects_the_package_before_the_first_release_and_again_changes_nothing() {
    let stack = stack_with_public_pypi(false);
    public_wheel(&stack.public_pypi_dir().unwrap(), "yamause", "9.0");
    let repo = copy_repo("origin-setup");
    let vars = setup_env(&stack);

    let out = setup(repo.path(), &vars, &[]);
    let shown = text(&out);
    assert!(out.status.success(), "{shown}");
    let step = shown.lines().find(|it| it.contains("Origin controls of the package yamause")).unwrap_or_default();
    assert!(step.starts_with("5. ") && step.ends_with(": create"), "{shown}");
    assert!(shown.contains("   + publish: ALLOW\n   + upstream: BLOCK"), "{shown}");
    assert!(shown.contains("external connections: public:pypi"), "{shown}");
    assert_eq!(stack.emulator().package_origin("yamause"), None, "the plan changed something");

    let out = setup(repo.path(), &vars, &["--apply"]);
    let shown = text(&out);
    assert!(out.status.success(), "{shown}");
    assert!(shown.contains("set the origin controls of yamause in sandbox-domain/sandbox-repo"), "{shown}");
    assert_eq!(stack.emulator().package_origin("yamause"), Some(OriginRestrictions::PUBLISHED));
    assert!(shown.contains("PASS origin.ok"), "the verdict sees the package protected:\n{shown}");
    let puts = |stack: &Stack| {
        stack.emulator().requests().iter().filter(|it| it.operation == "PutPackageOriginConfiguration").count()
    };
    assert_eq!(puts(&stack), 1);

    // PyPI's yamause is no longer ingested.
    let ingested = install_through_the_repository(&stack, "yamause==9.0");
    assert!(!ingested.status.success(), "{}", text(&ingested));
    assert!(!stack.package_dir().join("yamause-9.0-py3-none-any.whl").exists());

    let out = setup(repo.path(), &vars, &["--apply"]);
    let shown = text(&out);
    assert!(out.status.success(), "{shown}");
    assert!(
        shown.contains("nothing to change:") && shown.contains("origin controls are as the plan wants them"),
        "{shown}"
    );
    let step = shown.lines().find(|it| it.contains("Origin controls of the package yamause")).unwrap_or_default();
    assert!(step.ends_with(": up to date"), "{shown}");
    assert_eq!(puts(&stack), 1, "a second --apply changed the origin controls again");
}

/// The release role never gets `codeartifact:PutPackageOriginConfiguration`: only
/// `setup`, with its own identity, changes the origin controls. `iam-policy` leaves
/// it out, and `check-iam` calls a role that has it dangerous.
#[test]
fn the_release_role_never_gets_put_package_origin_configuration() {
    let repo = copy_repo("origin-policy");
    let target = [
        ("AWS_REGION", "us-east-1"),
        ("CODEARTIFACT_DOMAIN", "my-company"),
        ("CODEARTIFACT_DOMAIN_OWNER", "123456789012"),
        ("CODEARTIFACT_REPOSITORY", "python-packages"),
    ];
    let vars: Vec<(String, String)> = target.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let out = run_xtask(repo.path(), &["iam-policy", "--format", "json", "--github-repo", "octo-org/yamause"], &vars);
    assert!(out.status.success(), "{}", text(&out));
    let both: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut policy = both["permissionPolicy"].clone();
    assert!(!policy.to_string().contains("PutPackageOriginConfiguration"), "{policy:#}");

    policy["Statement"].as_array_mut().unwrap().push(serde_json::json!({
        "Effect": "Allow", "Action": "codeartifact:PutPackageOriginConfiguration",
        "Resource": "arn:aws:codeartifact:us-east-1:123456789012:package/my-company/python-packages/pypi//yamause",
    }));
    let file = TempDir::new("origin-policy");
    let path = file.path().join("policy.json");
    fs::write(&path, policy.to_string()).unwrap();
    let args = ["check-iam", "--format", "json", "--permission-policy", path.to_str().unwrap()];
    let out = run_xtask(repo.path(), &args, &vars);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", text(&out)));
    let (_, message) = finding(&report, "perm.dangerous-action").unwrap_or_else(|| panic!("{report:#}"));
    assert!(message.contains("PutPackageOriginConfiguration"), "{message}");
}

/// What CodeArtifact refuses, each named with its step and fix: setup's plan when
/// DescribePackage says the repository does not exist (the step is refused, nothing
/// applied); `--apply` when PutPackageOriginConfiguration is denied (the action and
/// the package's ARN); the release and check-iam when DescribePackage is denied (a
/// note, and the release goes on).
#[test]
fn codeartifacts_refusals_name_the_step_and_the_fix() {
    let stack = stack_with_public_pypi(false);
    let repo = copy_repo("origin-refusals");
    let vars = setup_env(&stack);
    let emulator = stack.emulator();

    emulator.inject(Fault::RepositoryNotFound.always().only("DescribePackage")).unwrap();
    let out = setup(repo.path(), &vars, &["--apply"]);
    let shown = text(&out);
    assert!(!out.status.success(), "{shown}");
    let step = shown.lines().find(|it| it.contains("Origin controls of the package yamause")).unwrap_or_default();
    assert!(step.ends_with(": refused"), "{shown}");
    assert!(
        shown.contains("cannot be planned: DescribePackage failed") && shown.contains("CODEARTIFACT_REPOSITORY"),
        "{shown}"
    );
    assert!(shown.contains("nothing was changed") && !shown.contains("created the role"), "{shown}");
    emulator.reset();

    let deny = |action: &str| Fault::Deny { action: action.to_owned(), principal: None }.always();
    emulator.inject(deny("PutPackageOriginConfiguration")).unwrap();
    let out = setup(repo.path(), &vars, &["--apply"]);
    let shown = text(&out);
    assert!(!out.status.success(), "{shown}");
    assert!(shown.contains("set the package's origin controls (the IAM part is done); run setup again"), "{shown}");
    let arn = "arn:aws:codeartifact:us-east-1:111122223333:package/sandbox-domain/sandbox-repo/pypi//yamause";
    assert!(shown.contains(&format!("lacks codeartifact:PutPackageOriginConfiguration on {arn}")), "{shown}");
    assert_eq!(emulator.package_origin("yamause"), None);
    emulator.reset();

    emulator.inject(deny("DescribePackage")).unwrap();
    let vars = release_env(&stack, Creds::Static, "", &[]);
    let (report, out) = check_iam(repo.path(), &vars);
    assert!(out.status.success(), "{report:#}");
    let (severity, message) = finding(&report, "origin.unreadable").unwrap_or_else(|| panic!("{report:#}"));
    assert!(severity == "info" && message.contains("codeartifact:DescribePackage"), "{message}");
    let out = release(repo.path(), &["v1.0.0"], &vars);
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    assert!(
        log.contains("origin controls of yamause not looked at: codeartifact:DescribePackage is not granted"),
        "{log}"
    );
    assert_eq!(uploads(&stack).len(), 2, "{log}");
}
