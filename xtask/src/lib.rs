//! The modules of the xtask. `main` parses the flags, makes the one `Shell` of the
//! run and hands it to the command; each command lives in the module of its name
//! (see `cargo xtask --help`). The binary (`main.rs`) only calls `main`.
//!
//! Everything is crate-private, so the compiler reports what nothing uses; the
//! integration tests in `tests/it` reach only the items exported at the end.

// Built without the `commands` feature (the release workflow's binary), helpers that
// only those commands call are unused: that is the point of leaving them out.
#![cfg_attr(not(feature = "commands"), allow(dead_code, unused_imports))]

mod arn;
mod aws;
#[cfg(feature = "commands")]
mod bench;
mod build_lock;
#[cfg(feature = "commands")]
mod check_iam;
mod ci;
mod dists;
mod exec;
mod finding;
mod flags;
mod fsutil;
mod git;
mod github;
#[cfg(feature = "commands")]
mod github_api;
#[cfg(feature = "commands")]
mod iam_policy;
#[cfg(feature = "commands")]
mod iam_role;
mod install_help;
mod interrupt;
mod limits;
#[cfg(feature = "commands")]
mod lint;
mod lock;
mod manifest;
mod net;
mod origin;
#[cfg(feature = "commands")]
mod policy;
mod project;
mod python;
mod redact;
mod release;
mod report;
mod requirement;
mod rerun;
#[cfg(feature = "commands")]
mod sandbox;
mod settings;
#[cfg(feature = "commands")]
mod setup;
mod specifier;
mod version;

use std::process::ExitCode;

use anyhow::Result;
use xshell::Shell;

/// For the tests: throwaway copies of the repository to release from.
pub use git::copy_checkout;
/// For the PEP 440 differential test.
pub use version::{Version, parse as parse_version};

/// The program: flags, the one `Shell` of the run, the command; an error is printed
/// with its fix, and a signal's with what a re-run does.
pub fn main() -> ExitCode {
    match try_main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => match err.chain().find_map(|it| it.downcast_ref::<interrupt::Interrupted>()).copied() {
            Some(signal) => {
                let during = release::current_step().map(|it| format!(" during {it}")).unwrap_or_default();
                report::error(&err.context(format!(
                    "{signal}{during}: the programs it ran were stopped and the version file put back. Run the same \
                     command again to finish: a release rebuilds identical files, skips what is already published and \
                     uploads the rest"
                )));
                ExitCode::from(signal.exit_code())
            }
            None => {
                report::error(&err);
                ExitCode::FAILURE
            }
        },
    }
}

fn try_main() -> Result<()> {
    // Before any secret exists: no same-user process may read this one's memory.
    redact::protect_memory();
    interrupt::install(report::warn);
    let flags = flags::Xtask::from_env_or_exit();
    // A password in a proxy URL is a secret from the first line the program prints.
    net::register_proxy_credentials();
    limits::init()?;
    let sh = Shell::new()?;
    match flags.subcommand {
        flags::XtaskCmd::Release(cmd) => cmd.run(&sh),
        flags::XtaskCmd::Lock(cmd) => cmd.run(&sh),
        flags::XtaskCmd::Tools(cmd) => cmd.run(&sh),
        #[cfg(feature = "commands")]
        other => commands(&sh, other),
        #[cfg(not(feature = "commands"))]
        _ => anyhow::bail!(
            "this build of the xtask holds the release's own commands only (release, lock, tools), as the release \
             workflow compiles it: run the others through `cargo xtask`, which builds them"
        ),
    }
}

/// Every command but the release's own (the `commands` feature, on by default; the
/// release workflow's compile job leaves it out).
#[cfg(feature = "commands")]
fn commands(sh: &Shell, command: flags::XtaskCmd) -> Result<()> {
    match command {
        flags::XtaskCmd::Bench(cmd) => cmd.run(sh),
        flags::XtaskCmd::CheckIam(cmd) => cmd.run(sh),
        flags::XtaskCmd::IamPolicy(cmd) => cmd.run(sh),
        flags::XtaskCmd::InstallHelp(cmd) => cmd.run(sh),
        flags::XtaskCmd::Lint(cmd) => cmd.run(sh),
        flags::XtaskCmd::Sandbox(cmd) => cmd.run(sh),
        flags::XtaskCmd::Setup(cmd) => cmd.run(sh),
        flags::XtaskCmd::Release(_) | flags::XtaskCmd::Lock(_) | flags::XtaskCmd::Tools(_) => {
            unreachable!("the release's own commands are run by try_main")
        }
    }
}
