//! Waiting for a child with a watchdog: the wait ends when the child does, when the
//! run is cancelled (another part failed) or interrupted (a signal), or when the
//! child has stalled: printed nothing and used no CPU for `XTASK_STALL_TIMEOUT`. A
//! child that computes or talks is never stopped; one that waits on a network that
//! does not answer is, with a message that says so.

use std::{
    process::{Child, ExitStatus},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use super::Cancel;
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

/// Why a wait ended without the child ending on its own.
pub enum Stopped {
    Cancelled,
    Interrupted(interrupt::Interrupted),
    Stalled(Duration),
}

/// Waits for `child` (the leader of its own process group), stopping the group when
/// the run is cancelled or interrupted or the child stalls.
pub fn wait(
    child: &mut Child,
    cancel: Option<&Cancel>,
    activity: &Activity,
) -> std::io::Result<Result<ExitStatus, Stopped>> {
    let stall = limits::get().stall;
    let mut cpu = CpuTime::of(child.id());
    let mut sampled = Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Ok(status));
        }
        let stop = if let Some(signal) = interrupt::received() {
            Some(Stopped::Interrupted(signal))
        } else if cancel.is_some_and(Cancel::is_cancelled) {
            Some(Stopped::Cancelled)
        } else {
            if sampled.elapsed() >= Duration::from_secs(1) {
                sampled = Instant::now();
                let now = CpuTime::of(child.id());
                if now != cpu {
                    activity.touch();
                    cpu = now;
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

/// The CPU time a process used (with its waited-for children), in clock ticks, read
/// from `/proc/PID/stat` (proc(5): utime, stime, cutime, cstime); `None` elsewhere.
#[derive(PartialEq, Eq)]
struct CpuTime(Option<u64>);

impl CpuTime {
    fn of(pid: u32) -> CpuTime {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok();
        // The command name is in parentheses and may hold spaces: fields count from
        // after its closing parenthesis (field 3 is the state).
        let ticks = stat.as_deref().and_then(|stat| {
            let rest = &stat[stat.rfind(')')? + 2..];
            let fields: Vec<&str> = rest.split(' ').collect();
            (11..=14).map(|i| fields.get(i).and_then(|it| it.parse::<u64>().ok())).sum::<Option<u64>>()
        });
        CpuTime(ticks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cpu_time_of_a_process() {
        let own = CpuTime::of(std::process::id());
        assert!(cfg!(not(target_os = "linux")) || own.0.is_some());
        assert_eq!(CpuTime::of(u32::MAX).0, None);
    }
}
