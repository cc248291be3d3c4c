//! One release at a time per checkout and per target folder. A run that stamps and
//! builds holds two advisory locks (flock(2), released by the kernel however the
//! process ends, SIGKILL included) for its whole length: one in the repository's
//! own folder (the checkout: its version file) and one in the target folder (the
//! build environment and `dist/`, which checkouts can share through
//! `CARGO_TARGET_DIR`). Each lock file says which process holds it and its current
//! step, so a second run names the first: it waits up to `XTASK_LOCK_TIMEOUT` (say
//! so once), then refuses, having changed nothing.

use std::{
    fs::{self, File, TryLockError},
    os::unix::fs::FileExt,
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

use crate::{interrupt, limits, report};

/// The locks of this run, released when dropped (or when the process ends).
pub struct Exclusive {
    files: Arc<Vec<File>>,
}

impl Drop for Exclusive {
    fn drop(&mut self) {
        for file in self.files.iter() {
            let _ = file.set_len(0);
        }
    }
}

/// Takes the lock files `places` (path and what it guards, for messages), in order.
pub fn acquire(places: &[(PathBuf, &str)]) -> Result<Exclusive> {
    let mut files = Vec::new();
    for (path, what) in places {
        files.push(hold(path, what)?);
    }
    let files = Arc::new(files);
    write_holder(&files, "starting");
    let shared = files.clone();
    crate::release::steps::on_step(Box::new(move |label| write_holder(&shared, label)));
    Ok(Exclusive { files })
}

/// `pid N, step LABEL` into every lock file.
fn write_holder(files: &[File], step: &str) {
    let text = format!("pid {}, step {step}\n", std::process::id());
    for file in files {
        let _ = file.set_len(0);
        let _ = file.write_all_at(text.as_bytes(), 0);
    }
}

fn hold(path: &Path, what: &str) -> Result<File> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    }
    let file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .with_context(|| format!("open the lock {}", path.display()))?;
    let wait = limits::get().lock_wait;
    let end = Instant::now() + wait;
    let mut said = false;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(TryLockError::Error(err)) => {
                return Err(err).with_context(|| format!("lock {}", path.display()));
            }
            Err(TryLockError::WouldBlock) => {}
        }
        let holder = holder(path);
        if Instant::now() >= end {
            bail!(
                "another release ({holder}) is using {what}; nothing was changed. Wait for it to end (or stop it) \
                 and run this again; XTASK_LOCK_TIMEOUT (now {}) sets how long a release waits",
                limits::shown(wait)
            );
        }
        if !said {
            report::say(&format!(
                "another release ({holder}) is using {what}: waiting up to {} for it",
                limits::shown(wait)
            ));
            said = true;
        }
        interrupt::sleep(Duration::from_millis(200))?;
    }
}

/// What the lock file says of its holder.
fn holder(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let text = text.trim();
    if text.is_empty() { "a process that has not said which".to_owned() } else { text.to_owned() }
}
