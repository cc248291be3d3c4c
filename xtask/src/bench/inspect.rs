//! `cargo xtask bench inspect`: the Check artifacts step of `release --publish-only`
//! on the worst inputs, against the untouched build in the same run. Each input is
//! written by `xtask/tests/it/hostile_dists.py` (its `bench-*` cases and a few of
//! the tests' cases): archives at the limits of `xtask/src/release/verify/strict_archive.py`, where
//! the inspection does the most work and passes, and bombs far past them, refused as
//! late as the limits allow. Each runs as the publish job would (a real release
//! process, its manifest to match), and the step's time, the run's CPU time and the
//! peak memory of its largest process (`wait4`'s `ru_maxrss`, which covers the Python
//! inspector) are reported. Targets: 10 s and 256 MB for any input.

use std::{
    env, fs,
    io::Read,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use serde_json::Value;
use xshell::Shell;

use crate::{
    dists,
    python::{self, ToolLock},
};

use super::{copy_repo, secs, timed};

/// The inputs: (case of `hostile_dists.py`, or "untouched" for the real build).
const CASES: [&str; 9] = [
    "untouched",
    "bench-largest",
    "bench-zip-ratio",
    "bench-many-zip",
    "bench-many-tar",
    "bench-gzip-bomb",
    "declared-bomb",
    "ratio-bomb",
    "bench-too-many",
];

/// What one run of the check cost.
struct Measured {
    outcome: String,
    step: Duration,
    wall: Duration,
    cpu: Duration,
    peak_mb: f64,
}

pub(super) fn inspect(sh: &Shell, root: &Path) -> Result<Vec<String>> {
    let xtask = env::current_exe().context("find the xtask binary")?;
    let tools_dir = python::tools_root(root);
    let python = python::ensure(sh, root, ToolLock::Release)?.python;
    let repo = copy_repo(root, "inspect")?;
    let built = repo.path().join("target/dist/1.0.0");
    timed(Command::new("git").args(["tag", "v1.0.0"]).current_dir(repo.path()))?;
    timed(clean(&xtask, repo.path(), &tools_dir).args(["release", "v1.0.0", "--build-only"]))?;
    let scratch = repo.path().join("target/bench-inspect");
    let mut lines = Vec::new();
    let mut base: Option<Measured> = None;
    let (mut worst_step, mut worst_peak) = (Duration::ZERO, 0.0f64);
    for case in CASES {
        let dir = scratch.join(case).join("1.0.0");
        fs::create_dir_all(&dir)?;
        for entry in fs::read_dir(&built)? {
            let entry = entry?;
            fs::copy(entry.path(), dir.join(entry.file_name()))?;
        }
        if case != "untouched" {
            let script = root.join("xtask/tests/it/hostile_dists.py");
            timed(Command::new(&python).arg(script).arg(case).arg(&dir))?;
            rewrite_manifest(&dir)?;
        }
        let mut cmd = clean(&xtask, repo.path(), &tools_dir);
        cmd.args(["release", "v1.0.0", "--publish-only"]).arg(&dir);
        let measured = run(cmd)?;
        let ratio = base.as_ref().map(|b| format!(", {:.1}x the untouched build's", ratio(measured.step, b.step)));
        lines.push(format!(
            "inspect {case}: {} — Check artifacts {}{}; the run {} (CPU {}), peak RSS {:.0} MB",
            measured.outcome,
            secs(measured.step),
            ratio.unwrap_or_default(),
            secs(measured.wall),
            secs(measured.cpu),
            measured.peak_mb
        ));
        worst_step = worst_step.max(measured.step);
        worst_peak = worst_peak.max(measured.peak_mb);
        base.get_or_insert(measured);
        fs::remove_dir_all(scratch.join(case))?;
    }
    let met = |ok: bool| if ok { "met" } else { "MISSED" };
    lines.push(format!(
        "inspect: worst Check artifacts {} (target 10 s: {}), worst peak RSS {worst_peak:.0} MB (target 256 MB: {})",
        secs(worst_step),
        met(worst_step <= Duration::from_secs(10)),
        met(worst_peak <= 256.0)
    ));
    Ok(lines)
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-9)
}

/// `xtask` in `repo` with nothing of this machine's AWS or GitHub settings: the
/// publish settings are placeholders and no credentials exist, so an input that
/// passes the check stops at Authenticate, and one that does not never gets there.
fn clean(xtask: &Path, repo: &Path, tools_dir: &Path) -> Command {
    let mut cmd = Command::new(xtask);
    cmd.current_dir(repo).env_clear();
    for name in ["PATH", "HOME", "LANG", "TMPDIR"] {
        if let Some(value) = env::var_os(name) {
            cmd.env(name, value);
        }
    }
    let nowhere = repo.join("target/no-aws-config");
    cmd.env("XTASK_TOOLS_DIR", tools_dir)
        .env("AWS_REGION", "us-east-1")
        .env("CODEARTIFACT_DOMAIN", "bench")
        .env("CODEARTIFACT_DOMAIN_OWNER", "111122223333")
        .env("CODEARTIFACT_REPOSITORY", "bench")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", &nowhere)
        .env("AWS_SHARED_CREDENTIALS_FILE", &nowhere);
    cmd
}

/// The manifest with each archive's size and SHA-256 as they are now.
fn rewrite_manifest(dir: &Path) -> Result<()> {
    let path = dir.join("manifest.json");
    let mut manifest: Value = serde_json::from_str(&fs::read_to_string(&path)?)?;
    for entry in manifest["files"].as_array_mut().context("a manifest lists files")? {
        let file: PathBuf = dir.join(entry["file"].as_str().context("a manifest entry names its file")?);
        let (size, sha256) = dists::hash_file(&file)?;
        entry["size"] = size.into();
        entry["sha256"] = sha256.into();
    }
    fs::write(&path, serde_json::to_string_pretty(&manifest)?)?;
    Ok(())
}

/// Runs `cmd` to its end and measures it: wall time, CPU time and peak RSS of the
/// whole process tree (`wait4`), and the Check artifacts step's own time from its
/// report line.
fn run(mut cmd: Command) -> Result<Measured> {
    let started = Instant::now();
    let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    let pipes = [
        child.stdout.take().map(|it| Box::new(it) as Box<dyn Read + Send>),
        child.stderr.take().map(|it| Box::new(it) as Box<dyn Read + Send>),
    ];
    let readers: Vec<_> = pipes
        .into_iter()
        .flatten()
        .map(|mut pipe| {
            std::thread::spawn(move || {
                let mut out = String::new();
                let _ = pipe.read_to_string(&mut out);
                out
            })
        })
        .collect();
    let (peak_kb, cpu) = wait4(child.id())?;
    let wall = started.elapsed();
    let output: String = readers.into_iter().map(|it| it.join().unwrap_or_default()).collect();
    let step = output
        .lines()
        .find_map(|line| {
            let rest = line.split_once("Check artifacts: ")?.1;
            let seconds = rest.split_once('(')?.1.split_once(" s)")?.0;
            seconds.parse::<f64>().ok()
        })
        .map(Duration::from_secs_f64)
        .context("the run printed no Check artifacts step")?;
    let outcome = match output.lines().find(|it| it.contains(" is refused: ")) {
        Some(line) => {
            let rule = line.split_once(" is refused: ").map_or("", |it| it.1);
            format!("refused ({})", rule.chars().take(70).collect::<String>())
        }
        None if output.contains("Check artifacts: done") => "passed".to_owned(),
        None => bail!("the check neither passed nor refused an archive:\n{output}"),
    };
    Ok(Measured { outcome, step, wall, cpu, peak_mb: peak_kb as f64 / 1024.0 })
}

/// Waits for the child `pid`: the peak RSS in KiB of the largest process of its
/// tree, and the CPU time of the tree.
fn wait4(pid: u32) -> Result<(i64, Duration)> {
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value to be filled in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our child, not waited for yet; both pointers are valid.
    let waited = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage) };
    if waited < 0 {
        return Err(std::io::Error::last_os_error()).context("wait for the release");
    }
    let time = |t: libc::timeval| Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64);
    Ok((usage.ru_maxrss, time(usage.ru_utime) + time(usage.ru_stime)))
}
