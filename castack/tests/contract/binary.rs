//! The `castack` binary's failure paths, which need no Python: a missing
//! interpreter and bad arguments end with a clear message and no "ready" line.

use std::process::Command;

fn castack() -> Command {
    Command::new(env!("CARGO_BIN_EXE_castack"))
}

#[test]
fn missing_python_is_a_clear_error() {
    let out = castack().args(["--python", "/nonexistent/castack/python"]).output().unwrap();
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stdout.contains("# castack ready"), "{stdout}");
    assert!(stderr.contains("cannot start pypiserver"), "{stderr}");
    assert!(stderr.contains("/nonexistent/castack/python"), "{stderr}");
    assert!(stderr.contains("xtask -- tools stack"), "{stderr}");
}

#[test]
fn arguments() {
    let out = castack().output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--python"));
    let out = castack().args(["--python", "x", "--port", "not-a-port"]).output().unwrap();
    assert!(!out.status.success());
    let out = castack().arg("--help").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("--repository"));
}
