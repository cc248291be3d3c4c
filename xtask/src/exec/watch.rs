//! Waiting for a child with a watchdog: the wait ends when the child does, when the
//! run is interrupted (a signal), when its total
//! deadline passes (`XTASK_CHILD_TIMEOUT`, or the caller's own), or when the child
//! has stalled: printed nothing and moved no bytes for `XTASK_STALL_TIMEOUT`.
//!
//! Progress is output, or bytes read or written by any process of the child's
//! group (`/proc/PID/io`, rchar and wchar), not CPU time: a client that spins a
//! little while a server trickles, or waits on a network that does not answer, uses
//! CPU and moves nothing, and must not count as alive. A trickle that does move
//! bytes is ended by the total deadline instead.

use std::{
    process::{Child, ExitStatus},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use crate::{interrupt, limits};

/// When the child last showed a sign of life (output), in milliseconds since `start`.
#[derive(Clone)]
pub struct Activity {
    start: Instant,
    last: Arc<AtomicU64>,
}

impl Activity {
    pub fn new() -> Activity {
        Activity { start: Instant::now(), last: Arc::new(AtomicU64::new(0)) }
    }

    pub fn touch(&self) {
        let now = self.start.elapsed().as_millis() as u64;
        self.last.fetch_max(now, Ordering::SeqCst);
    }

    fn idle(&self) -> Duration {
        self.start.elapsed().saturating_sub(Duration::from_millis(self.last.load(Ordering::SeqCst)))
    }
}

/// A child's total deadline: when it passes, and the variable that sets it, for
/// the message.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    pub at: Instant,
    pub after: Duration,
    pub named: &'static str,
}

impl Deadline {
    pub fn from_now(after: Duration, named: &'static str) -> Deadline {
        Deadline { at: Instant::now() + after, after, named }
    }
}

/// Why a wait ended without the child ending on its own.
pub enum Stopped {
    Interrupted(interrupt::Interrupted),
    Stalled(Duration),
    Deadline(Deadline),
}

/// Waits for `child` (the leader of its own process group), stopping the group when
/// the run is interrupted, the deadline passes, or the child stalls.
pub fn wait(
    child: &mut Child,
    activity: &Activity,
    deadline: Deadline,
) -> std::io::Result<Result<ExitStatus, Stopped>> {
    let stall = limits::get().stall;
    let mut moved = BytesMoved::of_group(child.id());
    let mut sampled = Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Ok(status));
        }
        let stop = if let Some(signal) = interrupt::received() {
            Some(Stopped::Interrupted(signal))
        } else if Instant::now() >= deadline.at {
            Some(Stopped::Deadline(deadline))
        } else {
            if sampled.elapsed() >= Duration::from_secs(1) {
                sampled = Instant::now();
                let now = BytesMoved::of_group(child.id());
                if now != moved {
                    activity.touch();
                    moved = now;
                }
            }
            (activity.idle() > stall).then(|| Stopped::Stalled(activity.idle()))
        };
        if let Some(stop) = stop {
            stop_child(child);
            return Ok(Err(stop));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Stops the child and everything it started: SIGTERM to its group, SIGKILL after
/// three seconds.
pub fn stop_child(child: &mut Child) {
    #[cfg(unix)]
    {
        let pid = child.id();
        interrupt::stop_group(pid, Duration::from_secs(3), || child.try_wait().is_ok_and(|it| it.is_some()));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The bytes the processes of a group read and wrote (`/proc/PID/io`: rchar and
/// wchar, which count every read and write, pipes and TLS sockets included, and a
/// process's reaped children; proc(5)), summed over the live members of the group
/// led by `pgid`; `None` where /proc cannot tell. Any change is progress, so a
/// member that exits (its count leaves the sum) counts too.
#[derive(Debug, PartialEq, Eq)]
struct BytesMoved(Option<u64>);

impl BytesMoved {
    fn of_group(pgid: u32) -> BytesMoved {
        let Ok(entries) = std::fs::read_dir("/proc") else { return BytesMoved(None) };
        let mut total: Option<u64> = None;
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(pid) = name.to_str().and_then(|it| it.parse::<u32>().ok()) else { continue };
            if pid != pgid && group_of(pid) != Some(pgid) {
                continue;
            }
            if let Some(bytes) = io_bytes(pid) {
                total = Some(total.unwrap_or(0).wrapping_add(bytes));
            }
        }
        BytesMoved(total)
    }
}

/// The process group of `pid` (`/proc/PID/stat` field 5; the command name in
/// parentheses may hold spaces, so fields count from after its closing one).
fn group_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 2..].split(' ').nth(2)?.parse().ok()
}

/// rchar + wchar of `pid`.
fn io_bytes(pid: u32) -> Option<u64> {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).ok()?;
    let field = |key: &str| io.lines().find_map(|it| it.strip_prefix(key)).and_then(|it| it.trim().parse::<u64>().ok());
    Some(field("rchar:")?.wrapping_add(field("wchar:")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_the_bytes_a_group_moves() {
        if cfg!(not(target_os = "linux")) {
            return;
        }
        // A child in a group of its own that reads a file: its count grows.
        let mut command = std::process::Command::new("sh");
        command.args(["-c", "sleep 0.3; head -c 100000 /dev/zero > /dev/null; sleep 5"]);
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command.spawn().unwrap();
        let before = BytesMoved::of_group(child.id());
        assert!(before.0.is_some(), "no /proc/PID/io for our own child");
        std::thread::sleep(Duration::from_millis(1500));
        let after = BytesMoved::of_group(child.id());
        let _ = child.kill();
        let _ = child.wait();
        assert!(after.0.unwrap() >= before.0.unwrap() + 100_000, "{before:?} → {after:?}");
        assert_eq!(BytesMoved::of_group(u32::MAX).0, None);
    }
}
