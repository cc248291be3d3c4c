//! Ctrl-C, SIGTERM and SIGHUP. A terminal's Ctrl-C reaches the whole process group,
//! but `kill`, `timeout`, a supervisor or a cancelled CI step signal this process
//! alone, and a closed terminal sends SIGHUP.
//! Either way the program notes the signal and stops in order: children (each in a
//! process group of its own, so that their own children go too) are stopped, waits
//! and sleeps end, files are put back, and the error says what was done and that a
//! re-run completes the work. No step is left half-done in a way a re-run cannot
//! repair: builds are reproducible and uploads are checked against the repository.

use std::{
    fmt,
    future::Future,
    sync::atomic::{AtomicI32, Ordering},
    time::{Duration, Instant},
};

use anyhow::Result;

static SIGNAL: AtomicI32 = AtomicI32::new(0);

#[cfg(unix)]
const SIGNALS: [(i32, &str); 3] = [(libc::SIGINT, "SIGINT"), (libc::SIGTERM, "SIGTERM"), (libc::SIGHUP, "SIGHUP")];

/// Installs the handlers; from then on SIGINT, SIGTERM and SIGHUP stop the run in
/// order. A handler that cannot be installed is told to `warn` (this module sits
/// below everything that prints).
pub fn install(warn: impl Fn(&str)) {
    #[cfg(unix)]
    for (number, _) in SIGNALS {
        // SAFETY: the action stores into an atomic, which is async-signal-safe.
        let installed =
            unsafe { signal_hook_registry::register(number, move || SIGNAL.store(number, Ordering::SeqCst)) };
        if let Err(err) = installed {
            warn(&format!("could not handle signal {number}: {err}; Ctrl-C will stop the program at once"));
        }
    }
}

/// The error of a run that a signal stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interrupted {
    pub signal: &'static str,
}

impl Interrupted {
    /// 128 + the signal's number, as a shell reports a process that signal ended.
    pub fn exit_code(self) -> u8 {
        match self.signal {
            "SIGINT" => 130,
            "SIGHUP" => 129,
            it if it.starts_with("SIGPIPE") => 141,
            _ => 143,
        }
    }
}

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "stopped by {}", self.signal)
    }
}

impl std::error::Error for Interrupted {}

/// The program's output has no reader any more (EPIPE on stdout or stderr): the
/// run stops in order, as on SIGPIPE, instead of panicking inside `println!`.
pub fn output_lost() {
    #[cfg(unix)]
    let _ = SIGNAL.compare_exchange(0, libc::SIGPIPE, Ordering::SeqCst, Ordering::SeqCst);
}

/// The signal received, if any.
pub fn received() -> Option<Interrupted> {
    let number = SIGNAL.load(Ordering::SeqCst);
    if number == 0 {
        return None;
    }
    #[cfg(unix)]
    let signal = match number {
        libc::SIGPIPE => "SIGPIPE (the output's reader went away)",
        _ => SIGNALS.iter().find(|(n, _)| *n == number).map_or("a signal", |(_, name)| name),
    };
    #[cfg(not(unix))]
    let signal = "a signal";
    Some(Interrupted { signal })
}

/// `Err(Interrupted)` once a signal came.
pub fn check() -> Result<()> {
    match received() {
        Some(it) => Err(it.into()),
        None => Ok(()),
    }
}

/// Sleeps `d`, or less when a signal comes.
pub fn sleep(d: Duration) -> Result<()> {
    let end = Instant::now() + d;
    while Instant::now() < end {
        check()?;
        std::thread::sleep((end - Instant::now()).min(Duration::from_millis(20)));
    }
    check()
}

/// Runs `work` until it ends or a signal comes.
pub async fn interruptible<T>(work: impl Future<Output = T>) -> Result<T> {
    let stopped = async {
        while received().is_none() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let (work, stopped) = (std::pin::pin!(work), std::pin::pin!(stopped));
    match futures_util::future::select(work, stopped).await {
        futures_util::future::Either::Left((out, _)) => Ok(out),
        futures_util::future::Either::Right(((), _)) => {
            Err(received().unwrap_or(Interrupted { signal: "a signal" }).into())
        }
    }
}

/// Sends SIGTERM to the process group `pid` leads, then SIGKILL when it has not
/// ended after `grace` (`ended` tells).
#[cfg(unix)]
pub fn stop_group(pid: u32, grace: Duration, mut ended: impl FnMut() -> bool) {
    let group = -(pid as i32);
    // SAFETY: kill(2) with a process group id touches no memory of ours.
    unsafe { libc::kill(group, libc::SIGTERM) };
    let end = Instant::now() + grace;
    while Instant::now() < end {
        if ended() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: as above.
    unsafe { libc::kill(group, libc::SIGKILL) };
}

/// The child gets SIGTERM when this process dies, however it dies (SIGKILL
/// included): a stack or a release started for it never outlives it. Linux only
/// (`PR_SET_PDEATHSIG`, prctl(2)); elsewhere the signal handlers still stop it.
pub fn die_with_parent(command: &mut std::process::Command) {
    #[cfg(target_os = "linux")]
    // SAFETY: the closure runs between fork and exec and calls only prctl(2), which
    // is async-signal-safe.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(command, || {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
    #[cfg(not(target_os = "linux"))]
    let _ = command;
}

/// Waits for `child`; when a signal comes, passes SIGTERM on to it and waits up to
/// `grace` for it to stop (then SIGKILL). Returns the child's status and the signal,
/// if one came.
pub fn wait_passing_on(
    child: &mut std::process::Child,
    grace: Duration,
) -> std::io::Result<(std::process::ExitStatus, Option<Interrupted>)> {
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok((status, received()));
        }
        if let Some(signal) = received() {
            #[cfg(unix)]
            {
                // SAFETY: kill(2) touches no memory of ours.
                unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
                let end = Instant::now() + grace;
                while Instant::now() < end {
                    if let Some(status) = child.try_wait()? {
                        return Ok((status, Some(signal)));
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
            let _ = child.kill();
            return Ok((child.wait()?, Some(signal)));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
