//! A step's process: started in a process group of its own, its stdout and stderr
//! collected into one text, the whole group killed when the job's time runs out, so
//! no cargo or xtask of a stopped step keeps writing into the scratch folder.

use std::{
    io::Read,
    process::{Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

/// How long the output may stay open after the step's shell exited (a background
/// child holding it): then the group is killed and the output taken as it is.
const LINGER: Duration = Duration::from_secs(5);

/// Runs `cmd` to its end or to `deadline`; a non-zero exit is an error with the
/// output.
pub fn run_bounded(mut cmd: Command, deadline: Instant) -> Result<String> {
    let (reader, writer) = std::io::pipe()?;
    cmd.stdin(Stdio::null()).stdout(writer.try_clone()?).stderr(writer);
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd.spawn().context("start bash")?;
    // The parent's copies of the pipe's write end go with `cmd`.
    drop(cmd);
    let group = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = { reader }.read_to_end(&mut bytes);
        let _ = tx.send(String::from_utf8_lossy(&bytes).into_owned());
    });
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() > deadline {
            kill_group(group);
            let _ = child.wait();
            let output = rx.recv_timeout(LINGER).unwrap_or_default();
            bail!("the job's timeout-minutes ran out; the step's processes were killed:\n{output}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = match rx.recv_timeout(LINGER) {
        Ok(output) => output,
        Err(_) => {
            kill_group(group);
            rx.recv_timeout(LINGER).unwrap_or_default()
        }
    };
    if !status.success() {
        bail!("the step failed ({status}):\n{output}");
    }
    Ok(output)
}

fn kill_group(group: u32) {
    let _ = Command::new("kill").args(["-KILL", "--", &format!("-{group}")]).status();
}
