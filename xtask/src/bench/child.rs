//! Running the programs a benchmark measures: timed, their output kept for the
//! caller and quoted when they fail, each in a process group of its own that is
//! stopped whole at a time limit or when a signal comes, so that no build or
//! workflow run outlives the benchmark.

use std::{
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

use crate::redact;

/// How long one program a benchmark runs may take (a cold build on 2 busy cores
/// takes a few minutes); past it, it is stopped and the benchmark fails.
const CHILD_LIMIT: Duration = Duration::from_secs(30 * 60);

/// Runs a command and fails with its output when it fails; see [`timed_within`].
pub(super) fn timed(cmd: &mut Command) -> Result<(Duration, Output)> {
    timed_within(cmd, CHILD_LIMIT)
}

/// Runs a command in a process group of its own, stopped whole (SIGTERM, then
/// SIGKILL) when it runs past `limit` or a signal comes (Ctrl-C, SIGTERM), so no
/// build or workflow run outlives the benchmark; fails with the end of its output
/// when it fails.
pub(super) fn timed_within(cmd: &mut Command, limit: Duration) -> Result<(Duration, Output)> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(cmd, 0);
    crate::interrupt::die_with_parent(cmd);
    let start = Instant::now();
    let mut child = cmd.spawn().with_context(|| format!("run {cmd:?}"))?;
    // Both pipes are drained on threads of their own, so neither can fill up and
    // block the child.
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let status = loop {
        if let Some(status) = child.try_wait().with_context(|| format!("wait for {program}"))? {
            break status;
        }
        let why = match crate::interrupt::received() {
            Some(signal) => Some(signal.to_string()),
            None if start.elapsed() > limit => Some(format!("{program} ran for more than {} s", limit.as_secs())),
            None => None,
        };
        if let Some(why) = why {
            stop(&mut child);
            bail!(
                "{why}: {program} and what it started were stopped; run the benchmark again (figures come only \
                 from complete runs)"
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let elapsed = start.elapsed();
    let out = Output { status, stdout: stdout.join().unwrap_or_default(), stderr: stderr.join().unwrap_or_default() };
    if !out.status.success() {
        let text =
            redact::scrub(&format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)));
        bail!(
            "{program} failed:\n{}",
            text.lines().rev().take(30).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    Ok((elapsed, out))
}

/// Reads a child's pipe to its end on a thread of its own.
fn drain(pipe: Option<impl std::io::Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut out = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut out);
        }
        out
    })
}

/// Stops a child started by [`timed_within`] and everything in its process group.
fn stop(child: &mut std::process::Child) {
    #[cfg(unix)]
    {
        let pid = child.id();
        crate::interrupt::stop_group(pid, Duration::from_secs(5), || matches!(child.try_wait(), Ok(Some(_))));
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_program_is_quoted() {
        let err = timed(Command::new("sh").args(["-c", "echo the build broke >&2; exit 3"])).unwrap_err().to_string();
        assert!(err.contains("sh failed") && err.contains("the build broke"), "{err}");
        let (_, out) = timed(Command::new("sh").args(["-c", "echo fine"])).unwrap();
        assert_eq!(out.stdout, b"fine\n");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_program_past_its_limit_is_stopped_with_what_it_started() {
        let dir = std::env::temp_dir().join(format!("xtask-bench-child-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pid_file = dir.join("pid");
        // A grandchild that would outlive its parent if only the parent were killed.
        let script = format!("sleep 60 & echo $! > {}; wait", pid_file.display());
        let start = Instant::now();
        let err = timed_within(Command::new("sh").args(["-c", &script]), Duration::from_millis(500)).unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(10), "{:?}", start.elapsed());
        assert!(err.to_string().contains("ran for more than 0 s"), "{err}");
        let pid = std::fs::read_to_string(&pid_file).unwrap().trim().to_owned();
        let gone = || {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // Gone, or a zombie waiting for init to reap it.
            stat.is_empty() || stat.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('Z'))
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        while !gone() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(gone(), "the grandchild {pid} still runs");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
