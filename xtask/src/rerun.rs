//! Running the current command again from a build of the xtask with a feature it
//! was built without (`sso`, for SSO profiles). Such a build has a target folder of
//! its own (`target/<feature>`), so switching between it and the usual build never
//! rebuilds either.

use std::{ffi::OsString, process::Command};

use anyhow::{Context, Result};

use crate::{project, report};

/// Runs `cargo run --features FEATURE -- <this command's arguments>` and exits with
/// its status (128 + the signal's number when a signal ended it). `why` says what
/// needs the feature.
pub fn with_feature(cargo: OsString, feature: &str, why: &str) -> Result<()> {
    let root = project::find_root()?;
    report::say(&format!("{why}: building xtask with `--features {feature}` (a few minutes the first time)"));
    let status = Command::new(cargo)
        .args(["run", "--locked", "--quiet", "--package", "xtask", "--features", feature, "--manifest-path"])
        .arg(root.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(project::target_dir(&root).join(feature))
        .arg("--")
        .args(std::env::args_os().skip(1))
        .status()
        .with_context(|| format!("run cargo to build xtask with the {feature} feature"))?;
    #[cfg(unix)]
    let signal = std::os::unix::process::ExitStatusExt::signal(&status).map(|it| 128 + it);
    #[cfg(not(unix))]
    let signal = None;
    std::process::exit(status.code().or(signal).unwrap_or(1));
}
