//! Everything the program prints: numbered steps with their elapsed time, notes,
//! warnings and errors, and the GitHub Actions forms of them (`::group::`,
//! `::error::`, `::add-mask::`, the step summary).
//!
//! All text passes through `redact::scrub` first. Output goes to stderr, so stdout
//! stays free for what a caller may want to capture (`sandbox` prints its `export`
//! lines there).

use std::{
    env,
    fs::OpenOptions,
    io::Write,
    time::{Duration, Instant},
};

use anyhow::{Context, Result};

use crate::redact;

/// True when running as a GitHub Actions step.
pub fn in_github_actions() -> bool {
    env::var_os("GITHUB_ACTIONS").is_some_and(|it| it == "true")
}

/// Prints a line of the program's own output.
pub fn say(text: &str) {
    eprintln!("{}", redact::scrub(text));
}

/// Prints a warning (a `::warning::` annotation in GitHub Actions).
pub fn warn(text: &str) {
    let text = redact::scrub(text);
    if in_github_actions() {
        eprintln!("::warning::{}", escape_data(&text));
    } else {
        eprintln!("warning: {text}");
    }
}

/// Prints the error that ends the run (a `::error::` annotation in GitHub Actions).
pub fn error(err: &anyhow::Error) {
    let mut text = format!("error: {err}");
    for cause in err.chain().skip(1) {
        text.push_str(&format!("\n  caused by: {cause}"));
    }
    let text = redact::scrub(&text);
    eprintln!("{text}");
    if in_github_actions() {
        // One annotation with the whole chain; `%0A` keeps it a single command line.
        eprintln!("::error::{}", escape_data(&text));
    }
}

/// Prints one line of a child process's output, already scrubbed by the caller.
///
/// The prefix matters in GitHub Actions: the runner reads any line that starts with
/// `::` (after blanks) as a workflow command, so a child could otherwise inject
/// commands into the job. No child line can start with `::` after this prefix.
pub fn child_line(line: &str) {
    eprintln!("  │ {line}");
}

/// Tells the GitHub Actions runner to mask `value` in the job log from now on.
pub fn add_mask(value: &str) {
    if in_github_actions() {
        // Printed on stdout and stderr alike; the runner reads workflow commands on both.
        eprintln!("::add-mask::{}", escape_data(value));
    }
}

/// Escapes a value for a workflow command (the runner's `EscapeData`).
pub fn escape_data(text: &str) -> String {
    text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// Appends Markdown to the job summary (`$GITHUB_STEP_SUMMARY`), when there is one.
pub fn append_summary(markdown: &str) -> Result<()> {
    let Some(path) = env::var_os("GITHUB_STEP_SUMMARY").filter(|it| !it.is_empty()) else {
        return Ok(());
    };
    let mut file = OpenOptions::new()
        .append(true)
        .create(true)
        .open(&path)
        .with_context(|| format!("open the job summary {}", path.to_string_lossy()))?;
    file.write_all(redact::scrub(markdown).as_bytes()).context("write the job summary")?;
    Ok(())
}

/// The numbered steps of a command: `[3/7] Stamp` … `[3/7] Stamp: done (0.01 s)`.
pub struct Steps {
    total: usize,
    done: usize,
}

impl Steps {
    pub fn new(total: usize) -> Steps {
        Steps { total, done: 0 }
    }

    /// Runs one step: announces it, runs `f`, and reports how it ended and how long it
    /// took. In GitHub Actions the step's output is folded into a group.
    pub fn run<T>(&mut self, name: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
        self.done += 1;
        let label = format!("[{}/{}] {name}", self.done, self.total);
        if in_github_actions() {
            eprintln!("::group::{}", escape_data(&label));
        } else {
            say(&label);
        }
        let start = Instant::now();
        let res = f();
        let elapsed = start.elapsed();
        if in_github_actions() {
            eprintln!("::endgroup::");
        }
        let outcome = if res.is_ok() { "done" } else { "FAILED" };
        say(&format!("{label}: {outcome} ({})", seconds(elapsed)));
        res.with_context(|| format!("step {}/{} ({name}) failed", self.done, self.total))
    }
}

impl Steps {
    /// Moves the count on to step `n` when the steps before it did not all run (the
    /// build stopped early), so that later steps keep their numbers.
    pub fn jump_to(&mut self, n: usize) {
        self.done = self.done.max(n);
    }

    /// Like `run`, but the step does not start when `cancel` is set: another part of
    /// the release has failed already.
    pub fn run_unless<T>(
        &mut self,
        cancel: &crate::exec::Cancel,
        name: &str,
        f: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        if cancel.is_cancelled() {
            self.done += 1;
            anyhow::bail!("step {}/{} ({name}) did not start: authentication failed", self.done, self.total);
        }
        self.run(name, f)
    }
}

/// `1.23 s`, the way every duration is printed.
pub fn seconds(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}
