//! The stack's processes and files: pypiserver and moto_server as children that
//! die with the test process (a watchdog on their stdin), each started on a free
//! loopback port (again, when another process took it first) and awaited until it
//! answers HTTP, and the private state folder that disappears with the stack.

use std::{
    fs,
    io::{Read, Write},
    net::{SocketAddr, TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::atomic::{AtomicUsize, Ordering},
    time::{Duration, Instant},
};

use anyhow::{Context, bail, format_err};

use super::StackConfig;
use crate::util;

/// A private folder under the system temp folder, removed on drop.
pub(super) struct StateDir {
    pub(super) path: PathBuf,
}

impl StateDir {
    pub(super) fn create() -> anyhow::Result<StateDir> {
        use std::os::unix::fs::DirBuilderExt;
        sweep_stale_state_dirs();
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("castack-{}-{n}-{}", std::process::id(), util::random_hex(4)));
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .with_context(|| format!("cannot create the stack's state folder {}", path.display()))?;
        Ok(StateDir { path })
    }
}

/// Removes state folders of stacks whose process died without cleaning up
/// (SIGKILL; their servers exit on their own when the pipe to them closes). Only on
/// Linux, where `/proc` tells whether the owning process still runs.
fn sweep_stale_state_dirs() {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix("castack-").and_then(|it| it.split('-').next()) else { continue };
        let Ok(pid) = pid.parse::<u32>() else { continue };
        if !Path::new(&format!("/proc/{pid}")).exists() && entry.path().join("htpasswd").exists() {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

impl Drop for StateDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// A child server; dropping it kills and reaps the process.
pub(super) struct Service {
    name: &'static str,
    pub(super) child: Child,
    pub(super) port: u16,
    log: PathBuf,
    port_was_chosen: bool,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `python -m <module> <args>` with a watchdog thread that exits the process
/// when its stdin (a pipe held by this process) closes: if the test process dies
/// without running destructors (SIGKILL, abort), the servers still go away.
const BOOTSTRAP: &str = "\
import os, runpy, sys, threading
def _watch():
    try:
        sys.stdin.buffer.read()
    finally:
        os._exit(0)
threading.Thread(target=_watch, daemon=True).start()
module = sys.argv[1]
sys.argv = [module] + sys.argv[2:]
runpy.run_module(module, run_name='__main__', alter_sys=True)
";

pub(super) struct ServiceSpec {
    pub(super) name: &'static str,
    pub(super) module: &'static str,
    /// Path of a GET that answers once the server is up.
    pub(super) probe: String,
    pub(super) args: Box<dyn Fn(u16) -> Vec<String>>,
}

impl ServiceSpec {
    pub(super) fn spawn(&self, config: &StackConfig, state: &StateDir, port: Option<u16>) -> anyhow::Result<Service> {
        let (port, port_was_chosen) = match port {
            Some(port) => {
                if TcpListener::bind(("127.0.0.1", port)).is_err() {
                    bail!(
                        "cannot start {}: port {port} on 127.0.0.1 is already in use; free it, or leave the port \
                         unset so castack picks a free one",
                        self.name
                    );
                }
                (port, false)
            }
            None => (free_port()?, true),
        };
        let log = state.path.join("logs").join(format!("{}.log", self.name));
        let out = fs::File::create(&log).with_context(|| format!("cannot create {}", log.display()))?;
        let err = out.try_clone()?;
        let bin_dir = config.python.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut cmd = Command::new(&config.python);
        cmd.arg("-c")
            .arg(BOOTSTRAP)
            .arg(self.module)
            .args((self.args)(port))
            .current_dir(&state.path)
            // A cleared environment: no AWS credentials, no INITIAL_NO_AUTH_ACTION_COUNT,
            // no PYTHONPATH of the person running the tests.
            .env_clear()
            .env("PATH", format!("{}:/usr/local/bin:/usr/bin:/bin", bin_dir.display()))
            .env("HOME", state.path.join("home"))
            .env("TMPDIR", state.path.join("tmp"))
            .env("LANG", "C.UTF-8")
            .env("PYTHONUNBUFFERED", "1")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("PYTHONNOUSERSITE", "1")
            .stdin(Stdio::piped())
            .stdout(out)
            .stderr(err);
        let child =
            cmd.spawn().with_context(|| format!("cannot run {} with {}", self.name, config.python.display()))?;
        Ok(Service { name: self.name, child, port, log, port_was_chosen })
    }

    /// Waits until the server answers HTTP; a server that lost a race for its free
    /// port is started again on another one (twice at most).
    pub(super) fn await_ready(
        &self,
        mut service: Service,
        config: &StackConfig,
        state: &StateDir,
    ) -> anyhow::Result<Service> {
        for attempt in 0.. {
            match wait_ready(&mut service, &self.probe, config.startup_timeout) {
                Ok(()) => return Ok(service),
                Err(err) => {
                    let lost_race = service.port_was_chosen
                        && attempt < 2
                        && fs::read_to_string(&service.log).is_ok_and(|it| it.contains("Address already in use"));
                    if !lost_race {
                        return Err(err);
                    }
                    drop(service);
                    service = self.spawn(config, state, None)?;
                }
            }
        }
        unreachable!()
    }
}

fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).context("cannot find a free port on 127.0.0.1")?;
    Ok(listener.local_addr()?.port())
}

fn wait_ready(service: &mut Service, probe: &str, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    let pid = service.child.id();
    loop {
        if let Some(status) = service.child.try_wait()? {
            return Err(failure(
                service,
                format!(
                    "{} (pid {pid}) exited with {status} before answering on 127.0.0.1:{}",
                    service.name, service.port
                ),
            ));
        }
        if answers_http(service.port, probe) {
            // Another process on the port could have answered: make sure ours still runs.
            std::thread::sleep(Duration::from_millis(50));
            if let Some(status) = service.child.try_wait()? {
                return Err(failure(
                    service,
                    format!("{} (pid {pid}) exited with {status} although port {} answers", service.name, service.port),
                ));
            }
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(failure(
                service,
                format!(
                    "{} (pid {pid}) did not answer on http://127.0.0.1:{}{probe} within {} s",
                    service.name,
                    service.port,
                    timeout.as_secs_f64()
                ),
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn answers_http(port: u16, path: &str) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
    if stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n").as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 5];
    stream.read_exact(&mut head).is_ok() && &head == b"HTTP/"
}

/// An error naming the process, with the last lines of its output and a hint.
fn failure(service: &Service, what: String) -> anyhow::Error {
    let output = fs::read_to_string(&service.log).unwrap_or_default();
    let lines: Vec<&str> = output.lines().collect();
    let tail =
        lines[lines.len().saturating_sub(15)..].iter().map(|it| format!("    {it}")).collect::<Vec<_>>().join("\n");
    let tail = if tail.is_empty() { "    (no output)".to_owned() } else { tail };
    let hint = if output.contains("No module named") {
        "\nThe Python environment lacks pypiserver or moto: use the `stack` tool environment \
         (`cargo run -q -p xtask -- tools stack` prints its interpreter)."
    } else if output.contains("Address already in use") {
        "\nThe port is taken by another process: free it or let castack pick a free port."
    } else {
        ""
    };
    format_err!("{what}; last lines of its output:\n{tail}{hint}")
}
