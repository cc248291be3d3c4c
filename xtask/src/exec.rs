//! Running child processes: with the least environment they need, their output
//! scrubbed of secrets before it is shown, stopped on a signal, at a deadline or
//! when it stalls.
//!
//! Commands are built with `xshell::cmd!`, so arguments are never parsed by a shell.
//! The child's environment is cleared and rebuilt from an allow-list (`Env`), so AWS
//! credentials, the GitHub OIDC request token or a stray `PYTHONPATH` never reach a
//! program that does not need them.

use std::{
    collections::VecDeque,
    ffi::{OsStr, OsString},
    io::{BufRead, BufReader, Read},
    process::{Child, Command, ExitStatus, Stdio},
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    thread,
};

use anyhow::{Context, Result, bail};
use xshell::Cmd;

use crate::{redact, report};

mod environment;
mod watch;

pub use environment::Env;

/// How much of a child's output an error message quotes.
const TAIL_LINES: usize = 40;

/// What a finished child printed on stdout, when it was captured.
pub struct Output {
    pub stdout: String,
}

/// Options of one run.
pub struct Run<'a> {
    cmd: Cmd<'a>,
    env: Env,
    show: bool,
    capture: bool,
    stdin_piped: bool,
}

/// A child stopped at its total deadline (`XTASK_CHILD_TIMEOUT`, or the caller's):
/// in an error chain, it tells the caller that the child did not crash but ran out
/// of time, which another run will not fix.
#[derive(Debug)]
pub struct DeadlinePassed {
    pub shown: String,
    pub after: std::time::Duration,
    pub named: &'static str,
    /// `; its last output:` and its last lines, or nothing.
    pub tail: String,
}

impl std::fmt::Display for DeadlinePassed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` did not finish within {} ({}), so it was stopped; raise {} if it is only slow{}",
            self.shown,
            crate::limits::shown(self.after),
            self.named,
            self.named,
            self.tail
        )
    }
}

impl std::error::Error for DeadlinePassed {}

/// Prepares `cmd` to run with the environment `env`.
pub fn run<'a>(cmd: Cmd<'a>, env: &Env) -> Run<'a> {
    Run { cmd, env: env.clone(), show: is_verbose(), capture: false, stdin_piped: false }
}

static VERBOSE: AtomicBool = AtomicBool::new(false);

/// Show the output of every child as it runs (`--verbose`; always in GitHub Actions,
/// where each step's output is folded into a group anyway).
pub fn set_verbose(yes: bool) {
    VERBOSE.store(yes, Ordering::SeqCst);
}

pub fn is_verbose() -> bool {
    VERBOSE.load(Ordering::SeqCst) || report::in_github_actions()
}

impl<'a> Run<'a> {
    /// Keep this child's stdout for the caller (`Output::stdout`) instead of showing it.
    pub fn capture(mut self) -> Self {
        self.capture = true;
        self
    }

    /// Give the child a pipe as stdin (`Running::stdin`) instead of nothing.
    pub fn stdin_piped(mut self) -> Self {
        self.stdin_piped = true;
        self
    }

    /// Runs the child to completion; a non-zero exit is an error that quotes the last
    /// lines of its output.
    pub fn exec(self) -> Result<Output> {
        self.spawn()?.finish()
    }

    /// Starts the child; `Running::finish` waits for it.
    pub fn spawn(self) -> Result<Running> {
        let shown = self.cmd.to_string();
        let mut command = Command::from(self.cmd.env_clear());
        let vars = self.env.resolve();
        record(&command, &vars);
        command.envs(vars);
        let stdin = if self.stdin_piped { Stdio::piped() } else { Stdio::null() };
        command.stdin(stdin).stdout(Stdio::piped()).stderr(Stdio::piped());
        // Like xshell: programs run for their effect are echoed, queries are not.
        if !self.capture {
            report::say(&format!("$ {shown}"));
        }
        // A process group of its own: stopping the child stops what it started, and
        // a terminal's Ctrl-C reaches this program alone, which stops it in order.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command.spawn().map_err(|err| {
            let hint = if err.kind() == std::io::ErrorKind::NotFound { ": is it installed and on PATH?" } else { "" };
            anyhow::format_err!("could not start `{shown}`: {err}{hint}")
        })?;

        let activity = watch::Activity::new();
        let tail = Arc::new(Mutex::new(VecDeque::with_capacity(TAIL_LINES)));
        let stderr = child.stderr.take().map(|it| pump(it, tail.clone(), self.show, activity.clone()));
        // stdout is either kept whole for the caller or streamed like stderr.
        let capture = self.capture;
        let stdout = child.stdout.take().map(|it| {
            let (tail, show, activity) = (tail.clone(), self.show, activity.clone());
            thread::spawn(move || -> String {
                if capture {
                    read_all(it, &activity)
                } else {
                    pump(it, tail, show, activity).join().map(|()| String::new()).unwrap_or_default()
                }
            })
        });
        let stdin = child.stdin.take();
        let deadline = watch::Deadline::from_now(crate::limits::get().child, "XTASK_CHILD_TIMEOUT");
        Ok(Running { child, shown, tail, stdout, stderr, stdin, activity, deadline })
    }
}

/// A started child (see `Run::spawn`).
pub struct Running {
    child: Child,
    shown: String,
    tail: Arc<Mutex<VecDeque<String>>>,
    stdout: Option<thread::JoinHandle<String>>,
    stderr: Option<thread::JoinHandle<()>>,
    stdin: Option<std::process::ChildStdin>,
    activity: watch::Activity,
    deadline: watch::Deadline,
}

impl Running {
    /// Stops the child `after` from now (instead of `XTASK_CHILD_TIMEOUT` from its
    /// start); `named` says, in the message, what sets that deadline.
    pub fn deadline_from_now(&mut self, after: std::time::Duration, named: &'static str) {
        self.deadline = watch::Deadline::from_now(after, named);
    }

    /// The child's stdin, when it was started with `stdin_piped`; dropping it closes it.
    pub fn stdin(&mut self) -> Option<&mut std::process::ChildStdin> {
        self.stdin.as_mut()
    }

    /// Closes stdin, waits for the child, and fails when it failed.
    pub fn finish(self) -> Result<Output> {
        let (result, stdout) = self.finish_keeping_output();
        result.map(|()| Output { stdout })
    }

    /// Like `finish`, but what the child printed on stdout (when captured) comes back
    /// whether or not it failed: a crashed uploader's results for the files it
    /// finished are still true.
    pub fn finish_keeping_output(mut self) -> (Result<()>, String) {
        drop(self.stdin.take());
        let waited = watch::wait(&mut self.child, &self.activity, self.deadline);
        let stdout = self.stdout.take().map(|it| it.join().unwrap_or_default()).unwrap_or_default();
        if let Some(it) = self.stderr.take() {
            let _ = it.join();
        }
        (self.outcome(waited), stdout)
    }

    fn outcome(&self, waited: std::io::Result<Result<ExitStatus, watch::Stopped>>) -> Result<()> {
        let shown = &self.shown;
        let status = match waited.with_context(|| format!("wait for `{shown}`"))? {
            Ok(status) => status,
            Err(watch::Stopped::Interrupted(signal)) => {
                return Err(anyhow::Error::new(signal).context(format!("`{shown}` was stopped")));
            }
            Err(watch::Stopped::Deadline(deadline)) => {
                let (after, named) = (deadline.after, deadline.named);
                return Err(DeadlinePassed { shown: shown.clone(), after, named, tail: self.tail_text() }.into());
            }
            Err(watch::Stopped::Stalled(idle)) => bail!(
                "`{shown}` printed nothing and moved no bytes for {}, so it was stopped: it is most likely waiting on \
                 a network that does not answer (check the network and the proxy settings) and a re-run resumes \
                 where this one stopped; raise XTASK_STALL_TIMEOUT if it is only slow{}",
                crate::limits::shown(idle),
                self.tail_text()
            ),
        };
        if !status.success() {
            bail!("`{shown}` failed ({status}){}", self.tail_text());
        }
        Ok(())
    }

    /// `; its last output:` and the last lines, for an error message.
    fn tail_text(&self) -> String {
        let tail = self.tail.lock().unwrap_or_else(PoisonError::into_inner);
        if tail.is_empty() {
            return String::new();
        }
        let mut msg = "; its last output:".to_owned();
        for line in tail.iter() {
            msg.push_str("\n    ");
            msg.push_str(line);
        }
        msg
    }
}

impl Drop for Running {
    /// A child that was never finished (an error elsewhere) is stopped, not left behind.
    fn drop(&mut self) {
        drop(self.stdin.take());
        if self.stdout.is_some() {
            watch::stop_child(&mut self.child);
        }
    }
}

/// Test instrumentation: with `XTASK_RECORD_CHILDREN=FILE`, every child's program,
/// arguments and the *names* of its environment variables (never their values) are
/// appended to FILE as one JSON line, so the leak tests can check what each child
/// was given.
fn record(command: &Command, vars: &[(OsString, OsString)]) {
    let Some(path) = std::env::var_os("XTASK_RECORD_CHILDREN") else { return };
    let mut argv = vec![command.get_program().to_string_lossy().into_owned()];
    argv.extend(command.get_args().map(|it| it.to_string_lossy().into_owned()));
    let names: Vec<String> = vars.iter().map(|(k, _)| k.to_string_lossy().into_owned()).collect();
    let line = serde_json::json!({ "argv": argv, "env": names }).to_string() + "\n";
    let file = std::fs::OpenOptions::new().append(true).create(true).open(path);
    if let Ok(mut file) = file {
        let _ = std::io::Write::write_all(&mut file, line.as_bytes());
    }
}

/// Reads a captured stream whole, noting each chunk as a sign of life.
fn read_all(stream: impl Read, activity: &watch::Activity) -> String {
    let mut reader = BufReader::new(stream);
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match reader.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                activity.touch();
                raw.extend_from_slice(&buf[..n]);
            }
        }
    }
    String::from_utf8_lossy(&raw).into_owned()
}

/// Reads a stream line by line, scrubs each line, keeps the last ones and shows them
/// when `show` is set.
fn pump(
    stream: impl Read + Send + 'static,
    tail: Arc<Mutex<VecDeque<String>>>,
    show: bool,
    activity: watch::Activity,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => activity.touch(),
            }
            let line = String::from_utf8_lossy(&buf);
            let line = redact::scrub(line.trim_end_matches(['\n', '\r']));
            if show {
                report::child_line(&line);
            }
            let mut tail = tail.lock().unwrap_or_else(PoisonError::into_inner);
            if tail.len() == TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(line);
        }
    })
}

/// `true` when `program` can be found on `PATH`.
pub fn on_path(program: impl AsRef<OsStr>) -> bool {
    which::which(program).is_ok()
}
