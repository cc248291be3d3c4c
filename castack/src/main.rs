//! `castack`: runs the test stack in the foreground for use from another shell.
//!
//! stdout gets shell lines only (`unset …`, `export NAME='value'`, then
//! `# castack ready`), so `eval "$(… | sed '/^# castack ready$/q')"` or a parent
//! process can read them; progress and the request log go to stderr. The stack
//! stops, children included, on Ctrl-C, on SIGTERM, and when stdin reaches EOF (a
//! parent stops it by closing the pipe). When stdin is a terminal it is not read, so
//! the process can also run as a background job of an interactive shell.

use std::{
    io::{IsTerminal, Read, Write},
    process::ExitCode,
    sync::mpsc,
};

use anyhow::Context;

mod flags {
    use std::path::PathBuf;

    xflags::xflags! {
        /// Start a local CodeArtifact-compatible stack (emulator, pypiserver,
        /// moto_server) and print the shell lines to use it.
        cmd castack {
            /// Python of a venv with pypiserver[passlib] and moto[server]
            /// (`cargo run -q -p xtask -- tools stack` prints it).
            required --python python: PathBuf
            /// Account that owns the domain (default 111122223333).
            optional --account account: String
            /// Region (default us-east-1).
            optional --region region: String
            /// Domain name (default sandbox-domain).
            optional --domain domain: String
            /// Repository name (default sandbox-repo).
            optional --repository repository: String
            /// Port of the emulator (default: a free one).
            optional --port port: u16
            /// How long an upload stays out of listings, the index and downloads,
            /// in milliseconds (CodeArtifact's publishing latency; default 1200).
            optional --latency-ms latency_ms: u64
            /// Print the throwaway static keys, which moto files under its default
            /// account 123456789012, instead of a session of the role in the domain
            /// owner's account: a cross-account caller.
            optional --cross-account
            /// Keep running at stdin EOF (stop with Ctrl-C or SIGTERM only).
            optional --ignore-stdin
            /// Do not log each request to stderr.
            optional -q, --quiet
        }
    }
}

enum Stop {
    Signal,
    StdinClosed,
}

fn main() -> ExitCode {
    let flags = flags::Castack::from_env_or_exit();
    match run(flags) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("castack: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(flags: flags::Castack) -> anyhow::Result<()> {
    let (tx, rx) = mpsc::channel();
    // Set before the children start, so a Ctrl-C during start-up still ends cleanly.
    let signal_tx = tx.clone();
    ctrlc::set_handler(move || {
        let _ = signal_tx.send(Stop::Signal);
    })
    .context("cannot install the Ctrl-C/SIGTERM handler")?;

    // The servers run in the stack's own folder: a relative interpreter path would
    // not be found from there.
    let python = std::path::absolute(&flags.python).context("cannot resolve the --python path")?;
    let mut config = castack::StackConfig::new(python);
    if let Some(it) = flags.account {
        config.account = it;
    }
    if let Some(it) = flags.region {
        config.region = it;
    }
    if let Some(it) = flags.domain {
        config.domain = it;
    }
    if let Some(it) = flags.repository {
        config.repository = it;
    }
    config.emulator_port = flags.port;
    if let Some(ms) = flags.latency_ms {
        config.publish_latency = std::time::Duration::from_millis(ms);
    }
    config.echo_requests = !flags.quiet;
    eprintln!("castack: starting pypiserver and moto_server with {}", config.python.display());
    let stack = castack::Stack::start(config)?;

    print_env(&stack, flags.cross_account)?;
    eprintln!(
        "castack: ready; CodeArtifact {} (domain {}, repository {}), STS {} (forwarded to moto), IAM {}, \
         control API {}; callers are {}",
        stack.codeartifact_url(),
        stack.config().domain,
        stack.config().repository,
        stack.sts_url(),
        stack.moto_url(),
        stack.emulator().control_url(),
        if flags.cross_account { "moto's default account 123456789012 (cross-account)" } else { stack.caller_arn() },
    );

    let stdin = std::io::stdin();
    if !flags.ignore_stdin && !stdin.is_terminal() {
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            let mut stdin = stdin.lock();
            while matches!(stdin.read(&mut buf), Ok(n) if n > 0) {}
            let _ = tx.send(Stop::StdinClosed);
        });
    }
    let why = match rx.recv() {
        Ok(Stop::Signal) | Err(_) => "signal",
        Ok(Stop::StdinClosed) => "stdin closed",
    };
    eprintln!("castack: stopping ({why})");
    drop(stack);
    eprintln!("castack: stopped");
    Ok(())
}

/// The shell lines for clients of `stack` on stdout, then the ready line.
fn print_env(stack: &castack::Stack, cross_account: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    for name in castack::UNSET_VARS {
        writeln!(out, "unset {name}")?;
    }
    let mut vars = stack.env();
    vars.push(("AWS_DEFAULT_REGION".to_owned(), stack.config().region.clone()));
    if cross_account {
        vars.extend(stack.cross_account_credentials_env());
    } else {
        vars.extend(stack.credentials_env());
    }
    vars.extend(stack.oidc_env());
    vars.push(("CASTACK_CONTROL_URL".to_owned(), stack.emulator().control_url()));
    // The role a GitHub OIDC token can assume (a workflow's `AWS_ROLE_ARN`).
    let role = format!("arn:aws:iam::{}:role/{}", stack.config().account, castack::DEFAULT_ROLE);
    vars.push(("CASTACK_ROLE_ARN".to_owned(), role));
    vars.push(("CASTACK_PYPI_ENDPOINT".to_owned(), stack.pypi_endpoint()));
    for (name, value) in vars {
        writeln!(out, "export {name}={}", castack::shell_quote(&value))?;
    }
    writeln!(out, "# castack ready")?;
    out.flush()?;
    Ok(())
}
