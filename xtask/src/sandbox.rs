//! `cargo xtask sandbox` and `cargo xtask release TAG --sandbox`: the local
//! CodeArtifact-compatible stack (the `castack` crate: a CodeArtifact emulator in
//! front of real pypiserver, real moto_server for STS and IAM, a fake GitHub OIDC
//! issuer), for watching a complete release with no AWS account.
//!
//! The stack is a separate program built by cargo on demand, so the release binary
//! never compiles server code.

use std::{
    env,
    ffi::OsString,
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, ChildStdin, Command, Stdio},
    sync::mpsc,
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use aws_config::Region;
use aws_sdk_codeartifact::types::PackageFormat;
use aws_sdk_sts::config::Credentials;
use xshell::{Shell, cmd};

use crate::{
    exec::{self, Env},
    flags, interrupt, project,
    python::{self, ToolLock},
    redact::{self, Secret},
    report,
};

/// The line `castack` prints when the stack is up.
const READY: &str = "# castack ready";

impl flags::Sandbox {
    pub fn run(self, sh: &Shell) -> Result<()> {
        let root = project::find_root()?;
        let python = python::ensure(sh, &root, ToolLock::Stack)?.python;
        report::say("starting the local stack; the `export` lines below point another shell at it; Ctrl-C stops it");
        // In the foreground with the terminal's stdio. Whatever stdin is (a closed one
        // in CI), it is not the stop signal here: SIGINT or SIGTERM is, whether a
        // terminal sends it to the group or `kill` to this process alone; it is passed
        // on to the stack, which stops its servers before it exits. The stack also
        // stops when this process dies (`die_with_parent`).
        let mut command = Command::new(cargo());
        command
            .args(["run", "--locked", "--quiet", "--package", "castack", "--bin", "castack", "--", "--ignore-stdin"])
            .arg("--python")
            .arg(&python)
            .current_dir(&root);
        interrupt::die_with_parent(&mut command);
        let mut child = command.spawn().context("run the stack with cargo")?;
        let (status, signal) =
            interrupt::wait_passing_on(&mut child, Duration::from_secs(15)).context("wait for the stack")?;
        if let Some(signal) = signal {
            report::say(&format!("{signal}: the stack stopped ({status})"));
            return Ok(());
        }
        if !status.success() && status.code().is_some() {
            bail!("the stack stopped with {status}");
        }
        Ok(())
    }
}

/// The running stack of a `release --sandbox` (or a benchmark), stopped when dropped.
pub struct Stack {
    child: Child,
    stdin: Option<ChildStdin>,
    vars: Vec<(String, String)>,
}

impl Drop for Stack {
    fn drop(&mut self) {
        // Closing stdin asks the stack to stop its servers and exit.
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Stack {
    /// The variables the stack printed: endpoints, settings, throwaway credentials.
    pub fn vars(&self) -> &[(String, String)] {
        &self.vars
    }

    /// A command for `program` that talks to the stack: the stack's settings and
    /// throwaway credentials, and none of the person's own AWS, CodeArtifact, GitHub
    /// or twine settings.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        for (key, _) in env::vars_os() {
            let name = key.to_string_lossy();
            if ["AWS_", "CODEARTIFACT_", "ACTIONS_ID_TOKEN_", "GITHUB_", "TWINE_"].iter().any(|p| name.starts_with(p)) {
                cmd.env_remove(&key);
            }
        }
        cmd.envs(self.vars.iter().map(|(k, v)| (k, v)));
        cmd
    }

    fn var(&self, name: &str) -> Result<&str> {
        self.vars
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .with_context(|| format!("the stack did not print {name}"))
    }
}

fn cargo() -> OsString {
    env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// Builds and starts the stack, and waits for its environment.
pub fn start_stack(sh: &Shell, root: &Path) -> Result<Stack> {
    let python = python::ensure(sh, root, ToolLock::Stack)?.python;
    let cargo = cargo();
    exec::run(cmd!(sh, "{cargo} build --locked --quiet --package castack --bin castack"), &cargo_env())
        .exec()
        .context("build the local stack (castack)")?;
    let binary = project::target_dir(root).join("debug").join(if cfg!(windows) { "castack.exe" } else { "castack" });
    let mut command = Command::new(&binary);
    command
        .arg("--python")
        .arg(&python)
        .current_dir(root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    interrupt::die_with_parent(&mut command);
    let mut child = command.spawn().with_context(|| format!("start {}", binary.display()))?;
    let stdin = child.stdin.take();
    let stdout = child.stdout.take().context("the stack's stdout")?;
    let stderr = child.stderr.take().context("the stack's stderr")?;
    // The stack's own log is shown like any child's output.
    thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if exec::is_verbose() {
                report::child_line(&redact::scrub(&line));
            }
        }
    });
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let ready = line.trim() == READY;
            lines.push(line);
            if ready {
                let _ = tx.send(Ok(lines));
                return;
            }
        }
        let _ = tx.send(Err(lines));
    });
    let mut stack = Stack { child, stdin, vars: Vec::new() };
    match rx.recv_timeout(Duration::from_secs(90)) {
        Ok(Ok(lines)) => {
            stack.vars = parse_exports(&lines.join("\n"))?;
            Ok(stack)
        }
        Ok(Err(_)) => bail!("the stack exited before it was ready: run with --verbose to see its log"),
        Err(_) => bail!("the stack was not ready within 90 s: run with --verbose to see its log"),
    }
}

/// Builds need cargo's own environment (rustup, the registry cache) but nothing AWS.
fn cargo_env() -> Env {
    let mut env = Env::network();
    env.inherit_prefix("CARGO").inherit_prefix("RUSTUP").inherit_prefix("RUST");
    env
}

/// Parses `export NAME=VALUE` lines (values bare or single-quoted, `'\''` for a
/// quote); `unset` and comment lines are skipped.
pub fn parse_exports(text: &str) -> Result<Vec<(String, String)>> {
    let mut vars = Vec::new();
    for line in text.lines() {
        let Some(assignment) = line.trim().strip_prefix("export ") else { continue };
        let (name, raw) =
            assignment.split_once('=').with_context(|| format!("cannot read the stack's line {line:?}"))?;
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            bail!("the stack printed an odd variable name {name:?}");
        }
        let mut value = String::new();
        let mut rest = raw;
        while !rest.is_empty() {
            if let Some(quoted) = rest.strip_prefix('\'') {
                let end = quoted.find('\'').with_context(|| format!("unterminated quote in {line:?}"))?;
                value.push_str(&quoted[..end]);
                rest = &quoted[end + 1..];
            } else if let Some(after) = rest.strip_prefix("\\'") {
                value.push('\'');
                rest = after;
            } else {
                let end = rest.find(['\'', '\\']).unwrap_or(rest.len());
                value.push_str(&rest[..end]);
                rest = &rest[end..];
            }
        }
        vars.push((name.to_owned(), value));
    }
    Ok(vars)
}

/// `release TAG --sandbox`: the whole release against a throwaway stack, then proof
/// that it worked: the package installed with pip from the stack's index.
pub fn release(sh: &Shell, flags: &flags::Release) -> Result<()> {
    if flags.build_only || flags.publish_only.is_some() {
        bail!("--sandbox runs the whole release; it does not combine with --build-only or --publish-only");
    }
    let root = project::find_root()?;
    // What this run releases: the tag's version, else what the version file says now
    // (the release puts the file back afterwards, so it is read before).
    let project = project::Project::load(&root)?;
    let version = match &flags.tag {
        Some(tag) => crate::version::parse_tag(tag, crate::version::Source::Argument)?,
        None => crate::version::parse_tag(&project.current_version()?, crate::version::Source::VersionFile)?,
    };
    report::say("starting a throwaway local stack (CodeArtifact emulator, pypiserver, moto)");
    let stack = start_stack(sh, &root)?;
    for (name, value) in &stack.vars {
        if name.contains("SECRET") || name.contains("TOKEN") {
            redact::register(value);
        } else {
            report::say(&format!("  {name}={value}"));
        }
    }

    // The release itself runs exactly as it would against AWS, in a child that sees
    // the stack's settings and throwaway credentials instead of any of the user's.
    let mut child = stack.command(env::current_exe().context("find the xtask binary")?);
    child.arg("release").args(flags.tag.iter());
    // The stack is thrown away after this run: an untagged or uncommitted checkout
    // may be tried on it (`--allow-dirty`), which a real repository refuses.
    report::say("sandbox: the tag and clean-tree checks only warn here (--allow-dirty is implied)");
    child.arg("--allow-dirty");
    for (on, flag) in [(flags.dry_run, "--dry-run"), (flags.verbose, "--verbose")] {
        if on {
            child.arg(flag);
        }
    }
    child.current_dir(&root);
    // The sandbox release is a local release, not a GitHub Actions run.
    child.env_remove("ACTIONS_ID_TOKEN_REQUEST_URL").env_remove("ACTIONS_ID_TOKEN_REQUEST_TOKEN");
    interrupt::die_with_parent(&mut child);
    let mut running = child.spawn().context("run the release against the stack")?;
    // A signal reaches the release (which stops in order) and then the stack (dropped).
    let (status, signal) =
        interrupt::wait_passing_on(&mut running, Duration::from_secs(30)).context("wait for the release")?;
    if let Some(signal) = signal {
        return Err(anyhow::Error::new(signal).context("the release against the local stack"));
    }
    if !status.success() {
        bail!("the release against the local stack failed ({status}); the messages above say why");
    }
    if flags.dry_run {
        report::say("dry run: nothing was published, so there is nothing to install");
        return Ok(());
    }
    let runtime = crate::aws::runtime()?;
    let (token, endpoint) = runtime.block_on(sandbox_token(&stack))?;
    install_and_check(sh, (&project, &version), &stack, &token, &endpoint)
}

/// A token and the endpoint from the stack, with the credentials it printed.
async fn sandbox_token(stack: &Stack) -> Result<(Secret, String)> {
    // A session of the role in the domain owner's account (the stack prints its
    // token), or the static cross-account keys (none).
    let session = stack.var("AWS_SESSION_TOKEN").ok().map(str::to_owned);
    let creds = Credentials::new(
        stack.var("AWS_ACCESS_KEY_ID")?,
        stack.var("AWS_SECRET_ACCESS_KEY")?,
        session,
        None,
        "sandbox",
    );
    let config = crate::aws::loader()?
        .region(Region::new(stack.var("AWS_REGION")?.to_owned()))
        .credentials_provider(creds)
        .endpoint_url(stack.var("AWS_ENDPOINT_URL_CODEARTIFACT")?)
        .load()
        .await;
    let client = aws_sdk_codeartifact::Client::new(&config);
    let (domain, owner) = (stack.var("CODEARTIFACT_DOMAIN")?, stack.var("CODEARTIFACT_DOMAIN_OWNER")?);
    let token =
        client.get_authorization_token().domain(domain).domain_owner(owner).duration_seconds(900).send().await?;
    let token = Secret::codeartifact_token(token.authorization_token().unwrap_or_default().to_owned());
    let endpoint = client
        .get_repository_endpoint()
        .domain(domain)
        .domain_owner(owner)
        .repository(stack.var("CODEARTIFACT_REPOSITORY")?)
        .format(PackageFormat::Pypi)
        .send()
        .await?;
    Ok((token, crate::aws::check_endpoint(endpoint.repository_endpoint().unwrap_or_default())?))
}

/// Installs the released version with pip into a fresh virtual environment, from the
/// stack's index only, and checks the version the installed distribution and its
/// module say, imported from outside the checkout (where the checkout's own package
/// folder cannot stand in for the installed one).
fn install_and_check(
    sh: &Shell,
    (project, version): (&project::Project, &crate::version::Version),
    stack: &Stack,
    token: &Secret,
    endpoint: &str,
) -> Result<()> {
    let venv: PathBuf = project::target_dir(&project.root).join("sandbox-install");
    if venv.exists() {
        std::fs::remove_dir_all(&venv)?;
    }
    let python3 = python::PYTHON;
    exec::run(cmd!(sh, "{python3} -m venv {venv}"), &Env::base())
        .exec()
        .context("create a fresh virtual environment")?;
    let python = venv.join("bin/python");
    let index = crate::aws::index_url(endpoint, token);
    let mut env = Env::network();
    // The index URL carries the token: environment only, never an argument.
    env.set("PIP_INDEX_URL", index.expose()).set("PIP_NO_CACHE_DIR", "1").set("PIP_DISABLE_PIP_VERSION_CHECK", "1");
    let requirement = format!("{}=={version}", project.name);
    exec::run(cmd!(sh, "{python} -m pip install {requirement}"), &env)
        .exec()
        .context("install the released package from the stack's index")?;
    // `-I`: neither the current folder nor the user's site-packages on sys.path; and
    // the current folder is the fresh environment's, outside the checkout.
    let (name, module) = (&project.name, project.import_name());
    let check = format!(
        "import importlib, importlib.metadata as m\n\
         print(m.version({name:?}))\n\
         mod = importlib.import_module({module:?})\n\
         print(getattr(mod, '__version__', '-'))\n\
         print(mod.__file__)\n"
    );
    let sh_outside = sh.push_dir(&venv);
    let out = exec::run(cmd!(sh, "{python} -I -c {check}"), &Env::base()).capture().exec();
    drop(sh_outside);
    let out = out.with_context(|| format!("import {module} from the installed {requirement}"))?;
    let lines: Vec<&str> = out.stdout.lines().map(str::trim).collect();
    let [installed, attribute, file] = lines[..] else {
        bail!("the check of the installed package printed {:?}", out.stdout);
    };
    report::say(&format!(
        "installed {requirement} from {} in a fresh environment: its metadata says {installed}, {module}.__version__ \
         says {attribute:?}, imported from {file}",
        stack.var("CODEARTIFACT_REPOSITORY")?
    ));
    if installed != version.as_str() || !(attribute == version.as_str() || attribute == "-") {
        bail!(
            "the installed package says it is {installed} ({module}.__version__ {attribute:?}), but {version} was released"
        );
    }
    if std::path::Path::new(file).starts_with(&project.root) && !std::path::Path::new(file).starts_with(&venv) {
        bail!("{module} was imported from the checkout ({file}), not from the installed package");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_export_lines() {
        let text = "unset AWS_PROFILE\nexport A=plain\nexport B='with space'\nexport C='it'\\''s'\n# castack ready\n";
        let vars = parse_exports(text).unwrap();
        assert_eq!(
            vars,
            [("A".into(), "plain".into()), ("B".into(), "with space".into()), ("C".into(), "it's".into())]
        );
        assert!(parse_exports("export X='open").is_err());
        assert!(parse_exports("export $(id)=1").is_err());
    }
}
