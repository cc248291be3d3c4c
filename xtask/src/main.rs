//! `cargo xtask`: the release tooling of the yamause Python package.
//!
//! `main` parses the flags, makes the one `Shell` of the run and hands it to the
//! command; each command lives in the module of its name. See `cargo xtask --help`.

use std::process::ExitCode;

use anyhow::Result;
use xshell::Shell;
use xtask::{flags, limits, net, redact, report};

fn main() -> ExitCode {
    match try_main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            report::error(&err);
            ExitCode::FAILURE
        }
    }
}

fn try_main() -> Result<()> {
    // Before any secret exists: no same-user process may read this one's memory.
    redact::protect_memory();
    let flags = flags::Xtask::from_env_or_exit();
    // A password in a proxy URL is a secret from the first line the program prints.
    net::register_proxy_credentials();
    limits::init()?;
    let sh = Shell::new()?;
    match flags.subcommand {
        flags::XtaskCmd::Release(cmd) => cmd.run(&sh),
        flags::XtaskCmd::Bench(cmd) => cmd.run(&sh),
        flags::XtaskCmd::CheckIam(cmd) => cmd.run(&sh),
        flags::XtaskCmd::IamPolicy(cmd) => cmd.run(&sh),
        flags::XtaskCmd::Lint(cmd) => cmd.run(&sh),
        flags::XtaskCmd::Sandbox(cmd) => cmd.run(&sh),
        flags::XtaskCmd::Tools(cmd) => cmd.run(&sh),
    }
}
