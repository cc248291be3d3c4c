//! The numbered steps of a release, as they are printed: `[3/9] Stamp`, the step's
//! output (folded into a group in GitHub Actions), `[3/9] Stamp: done (0.01 s)`.
//! The step running now names an interrupted run's step, and the lock of the
//! checkout records it for a second run to read.

use std::{
    sync::{Mutex, OnceLock, PoisonError},
    time::Instant,
};

use anyhow::{Context, Result};

use crate::report;

/// The numbered steps of a run: `[3/7] Stamp` … `[3/7] Stamp: done (0.01 s)`.
/// A step's number is its place in the list the plan decided on (`Plan::steps`), so a step keeps
/// its number when an earlier one did not run.
pub struct Steps {
    names: Vec<&'static str>,
}

impl Steps {
    pub fn new(names: &[&'static str]) -> Steps {
        Steps { names: names.to_vec() }
    }

    fn label(&self, name: &str) -> (usize, String) {
        let number = self.names.iter().position(|it| *it == name).map_or(0, |i| i + 1);
        debug_assert!(number > 0, "step {name} is not in the plan {:?}", self.names);
        (number, format!("[{number}/{}] {name}", self.names.len()))
    }

    /// Runs one step: announces it, runs `f`, and reports how it ended and how long it
    /// took. In GitHub Actions the step's output is folded into a group.
    pub fn run<T>(&self, name: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let (number, label) = self.label(name);
        // A signal between steps stops the run before the next one starts.
        crate::interrupt::check()
            .with_context(|| format!("step {number}/{} ({name}) did not start", self.names.len()))?;
        set_current_step(Some(&label));
        report::group(&label);
        let start = Instant::now();
        let res = f();
        let elapsed = start.elapsed();
        report::end_group();
        let outcome = if res.is_ok() { "done" } else { "FAILED" };
        report::say(&format!("{label}: {outcome} ({})", report::seconds(elapsed)));
        // A failed step stays the current one: the run's error is about it.
        if res.is_ok() {
            set_current_step(None);
        }
        res.with_context(|| format!("step {number}/{} ({name}) failed", self.names.len()))
    }
}

/// The step running now, for the message of an interrupted run.
static CURRENT_STEP: Mutex<Option<String>> = Mutex::new(None);

/// Told each step as it starts (the lock of the checkout records it, so that another
/// run can name it).
type StepHook = Box<dyn Fn(&str) + Send + Sync>;
static STEP_HOOK: OnceLock<StepHook> = OnceLock::new();

/// Registers the one hook that hears each step's label as it starts.
pub fn on_step(hook: StepHook) {
    let _ = STEP_HOOK.set(hook);
}

fn set_current_step(label: Option<&str>) {
    if let (Some(label), Some(hook)) = (label, STEP_HOOK.get()) {
        hook(label);
    }
    let mut current = CURRENT_STEP.lock().unwrap_or_else(PoisonError::into_inner);
    match label {
        Some(label) => *current = Some(label.to_owned()),
        None if current.is_some() => *current = None,
        None => {}
    }
}

/// `[8/9] Publish`, when a step is running.
pub fn current_step() -> Option<String> {
    CURRENT_STEP.lock().unwrap_or_else(PoisonError::into_inner).clone()
}
