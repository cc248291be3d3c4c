//! `cargo xtask sandbox` and `cargo xtask release TAG --sandbox`, run as a person
//! would: the stack comes up, prints its environment, and stops with everything it
//! started; a sandbox release publishes and installs the package.

use std::{
    fs,
    io::{BufRead, BufReader},
    os::unix::process::CommandExt,
    process::{Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use crate::support::{copy_repo, repo_root, text, xtask, xtask_bin};

/// Processes whose process group is `pgid`.
fn group_members(pgid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else { continue };
        // The fields after the command name (which may hold spaces) start after ')'.
        let fields: Vec<&str> =
            stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
        // state, ppid, pgrp
        if fields.get(2).and_then(|it| it.parse::<u32>().ok()) == Some(pgid) && fields.first() != Some(&"Z") {
            out.push(pid);
        }
    }
    out
}

#[test]
fn sandbox_prints_its_environment_and_ctrl_c_stops_everything() {
    let mut child = Command::new(xtask_bin())
        .arg("sandbox")
        .current_dir(repo_root())
        .env("XTASK_TOOLS_DIR", crate::support::tools_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        // Its own process group, as a terminal's foreground job would be.
        .process_group(0)
        .spawn()
        .unwrap();
    let pgid = child.id();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut exports = Vec::new();
    for line in stdout.lines() {
        let line = line.unwrap();
        if line == "# castack ready" {
            break;
        }
        exports.push(line);
    }
    let text = exports.join("\n");
    for name in [
        "AWS_ENDPOINT_URL_CODEARTIFACT",
        "AWS_ENDPOINT_URL_STS",
        "CODEARTIFACT_DOMAIN",
        "AWS_ACCESS_KEY_ID",
        "ACTIONS_ID_TOKEN_REQUEST_URL",
    ] {
        assert!(text.contains(&format!("export {name}=")), "{name} missing:\n{text}");
    }
    assert!(text.contains("unset") && text.contains("AWS_PROFILE"), "{text}");
    let running = group_members(pgid);
    assert!(running.len() >= 4, "expected xtask, cargo, castack, pypiserver, moto: {running:?}");

    // Ctrl-C in a terminal sends SIGINT to the whole foreground group.
    let status = Command::new("kill").args(["-INT", "--", &format!("-{pgid}")]).status().unwrap();
    assert!(status.success());
    let _ = child.wait();
    let deadline = Instant::now() + Duration::from_secs(15);
    while !group_members(pgid).is_empty() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(100));
    }
    assert!(group_members(pgid).is_empty(), "left running after Ctrl-C: {:?}", group_members(pgid));
}

#[test]
fn sandbox_release_publishes_and_installs_the_package() {
    let repo = copy_repo("sandbox-release");
    // Share the built stack with the other tests instead of building it again.
    let target = repo_root().join("target");
    // A version other than the file's (0.1.0): what is installed and checked is the
    // version this run released, not the one the file says after it is put back.
    let out = xtask(repo.path(), &["release", "v0.3.0", "--sandbox"], &[("CARGO_TARGET_DIR", target.as_os_str())]);
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    assert!(log.contains("2 uploaded, 0 already published, 0 refused"), "{log}");
    assert!(
        log.contains(
            "installed yamause==0.3.0 from sandbox-repo in a fresh environment: its metadata says 0.3.0, \
             yamause.__version__ says \"0.3.0\", imported from"
        ),
        "{log}"
    );
    // Imported from the installed package, not from the checkout's own folder.
    let imported = log.split("imported from ").nth(1).unwrap_or_default().lines().next().unwrap_or_default();
    assert!(imported.contains("site-packages/yamause/"), "{log}");
    let about = fs::read_to_string(repo.path().join("yamause/__about__.py")).unwrap();
    assert!(about.contains("\"0.1.0\""), "the version file was not put back: {about}");
    // The person's own AWS settings never reach the stack: the release ran as the
    // stack's session of the role in the domain owner's account (moto's AssumeRole
    // keys start ASIA), so it says nothing about a cross-account domain.
    assert!(log.contains("AWS_ACCESS_KEY_ID=ASIA"), "{log}");
    assert!(log.contains("authenticated as arn:aws:sts::111122223333:assumed-role/ci-publisher/castack"), "{log}");
    assert!(!log.contains("is not the domain owner"), "{log}");
    assert!(!log.contains("AWS_SESSION_TOKEN="), "the session token was printed:\n{log}");
}
