//! The fault matrix: every fault of a broken network or service, at the step it
//! hits, end to end on the local stack. For each the release must end within its
//! bound (short deadlines are set through the overrides, so that the whole matrix
//! takes minutes), either recover or fail with a message that names the step and the
//! fix, print no secret, and a re-run after the fault is lifted must publish exactly
//! the files the build made. The table of what each fault did is printed at the end.
//!
//! Every fault hits a step of the publish job (Authenticate, Publish, Confirm), so
//! the matrix runs that job as the workflow does, `release --publish-only` on a
//! `--build-only` artifact, and its re-run as GitHub's "Re-run failed jobs" does,
//! on the same artifact. An upload fault needs a version the repository does not
//! hold yet, so each gets its own build; the others share one.

use std::{
    collections::BTreeMap,
    fs,
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use castack::{Fault, Rule, Stack, UploadFailure};

use crate::support::{
    Creds, TempDir, assert_runner_safe, copy_repo, ensure_tag, git, release, release_env, stack_secrets, start_stack,
    text, xtask_command,
};

/// The deadlines of the matrix: a stall ends in seconds, not minutes. A case's
/// bound is the whole release's, build included (a fresh build environment from
/// the lock takes seconds): the faults at Publish have room for it.
const LIMITS: [(&str, &str); 5] = [
    ("XTASK_CONNECT_TIMEOUT", "1"),
    ("XTASK_AWS_ATTEMPT_TIMEOUT", "1"),
    ("XTASK_AWS_TIMEOUT", "3"),
    ("XTASK_UPLOAD_TIMEOUT", "2"),
    ("XTASK_STALL_TIMEOUT", "10"),
];

/// What a fault must lead to.
enum Expect {
    /// The release absorbs it (retries, a fresh token, the repository's word).
    Recovered,
    /// The release fails, and its output holds each of these.
    Fails(&'static [&'static str]),
}

struct Case {
    fault: &'static str,
    step: &'static str,
    rules: Vec<Rule>,
    expect: Expect,
    /// The release must end within this.
    bound: Duration,
}

fn case(fault: &'static str, step: &'static str, rules: Vec<Rule>, expect: Expect, bound_s: u64) -> Case {
    Case { fault, step, rules, expect, bound: Duration::from_secs(bound_s) }
}

fn stall(times: u32, only: &str) -> Rule {
    Fault::Stall { max_ms: 20_000 }.times(times).only(only)
}

/// An answer that comes a byte every 200 ms: never silent, never done.
fn trickle(times: u32, only: &str) -> Rule {
    Fault::Trickle { max_ms: 30_000 }.times(times).only(only)
}

/// A connection closed without an answer at once.
fn reset(times: u32, only: &str) -> Rule {
    Fault::Stall { max_ms: 0 }.times(times).only(only)
}

fn throttle(times: u32, only: &str) -> Rule {
    Fault::Throttle { retry_after_seconds: 1 }.times(times).only(only)
}

fn internal(times: u32, only: &str) -> Rule {
    Fault::InternalError.times(times).only(only)
}

fn upload(times: u32, failure: UploadFailure) -> Rule {
    Fault::Upload { pass: 0, failure }.times(times)
}

const AUTH: &str = "step 4/6 (Authenticate) failed";
const PUBLISH: &str = "step 5/6 (Publish) failed";
/// A service that accepted the request and never began to answer.
const SILENT: &str = "then sent no answer within";

fn cases() -> Vec<Case> {
    use Expect::*;
    let sts = "GetCallerIdentity";
    let token = "GetAuthorizationToken";
    let endpoint = "GetRepositoryEndpoint";
    // Listing runs in Publish and again in Confirm, each call with three attempts:
    // three hits fail Publish.
    let listing = "ListPackageVersionAssets";
    vec![
        case(
            "stall",
            "STS",
            vec![stall(5, sts)],
            Fails(&[AUTH, "AWS STS for GetCallerIdentity", SILENT, "XTASK_AWS_ATTEMPT_TIMEOUT"]),
            20,
        ),
        case(
            "500 ×3",
            "STS",
            vec![internal(3, sts)],
            Fails(&[AUTH, "AWS STS failed on GetCallerIdentity even after retries", "Re-run"]),
            20,
        ),
        case(
            "throttle ×3",
            "STS",
            vec![throttle(3, sts)],
            Fails(&[AUTH, "AWS STS throttled GetCallerIdentity", "Re-run"]),
            25,
        ),
        case(
            "reset",
            "STS",
            vec![reset(5, sts)],
            Fails(&[AUTH, "could not reach AWS STS for GetCallerIdentity", "check the network"]),
            20,
        ),
        case("stall", "token", vec![stall(5, token)], Fails(&[AUTH, "for GetAuthorizationToken", SILENT]), 20),
        case(
            "slow beyond the deadline",
            "token",
            vec![Fault::Slow { delay_ms: 4_000 }.times(3).only(token)],
            Fails(&[AUTH, SILENT]),
            25,
        ),
        // The SDK's standard retries (three attempts), `Retry-After` honoured, absorb
        // two; a third throttled answer is the "throttled even after retries" case.
        case("throttle ×2", "token", vec![throttle(2, token)], Recovered, 25),
        case(
            "throttle ×3",
            "token",
            vec![throttle(3, token)],
            Fails(&[AUTH, "GetAuthorizationToken was throttled even after retries", "Re-run"]),
            25,
        ),
        case(
            "throttle ×6",
            "token",
            vec![throttle(6, token)],
            Fails(&[AUTH, "GetAuthorizationToken was throttled even after retries", "Re-run"]),
            25,
        ),
        case(
            "500 ×3",
            "token",
            vec![internal(3, token)],
            Fails(&[AUTH, "CodeArtifact failed on GetAuthorizationToken even after retries"]),
            20,
        ),
        case("stall", "endpoint", vec![stall(5, endpoint)], Fails(&[AUTH, "for GetRepositoryEndpoint", SILENT]), 20),
        case(
            "reset",
            "endpoint",
            vec![reset(5, endpoint)],
            Fails(&[AUTH, "could not reach CodeArtifact", "GetRepositoryEndpoint"]),
            20,
        ),
        case("stall", "listing", vec![stall(3, listing)], Fails(&[PUBLISH, "ListPackageVersionAssets", SILENT]), 40),
        case(
            "throttle ×3",
            "listing",
            vec![throttle(3, listing)],
            Fails(&[PUBLISH, "ListPackageVersionAssets was throttled even after retries"]),
            50,
        ),
        // The SDK's retries absorb two server errors; a third fails Publish with
        // "Re-run" (as at GetAuthorizationToken above).
        case("500 ×2", "listing", vec![internal(2, listing)], Recovered, 35),
        case(
            "trickle",
            "listing",
            vec![trickle(3, listing)],
            Fails(&[PUBLISH, "ListPackageVersionAssets", "answered too slowly", "XTASK_AWS_TIMEOUT"]),
            40,
        ),
        // A listing that hands out the token of its first page again would never end.
        case(
            "page loop",
            "listing",
            vec![Fault::PageLoop.always().only(listing)],
            Fails(&[PUBLISH, "ListPackageVersionAssets of yamause 1.0.0 handed out the same page token twice"]),
            20,
        ),
        case(
            "stall",
            "upload",
            vec![stall(10, "pypi-upload")],
            Fails(&[
                "2 of 2 file(s) were not published",
                "NOT published",
                "sent no answer within 2 s (XTASK_UPLOAD_TIMEOUT)",
            ]),
            40,
        ),
        // Each file's upload ends at its deadline (twice the 2 s of XTASK_UPLOAD_TIMEOUT + its
        // size at the default XTASK_UPLOAD_MIN_RATE), and is not tried again.
        case(
            "trickle",
            "upload",
            vec![trickle(2, "pypi-upload")],
            Fails(&["2 of 2 file(s) were not published", "took the upload too slowly", "XTASK_UPLOAD_MIN_RATE"]),
            40,
        ),
        case("500 ×3", "upload", vec![upload(3, UploadFailure::InternalError)], Recovered, 70),
        case("throttle ×3", "upload", vec![throttle(3, "pypi-upload")], Recovered, 40),
        case("reset ×3", "upload", vec![upload(3, UploadFailure::Reset)], Recovered, 40),
        case("reset-after-store ×2", "upload", vec![upload(2, UploadFailure::ResetAfterStore)], Recovered, 40),
        case("expire-token", "upload", vec![upload(1, UploadFailure::ExpireToken)], Recovered, 40),
    ]
}

/// The files of `version` the repository holds, with their SHA-256.
fn published(stack: &Stack, version: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for entry in fs::read_dir(stack.package_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with(&format!("yamause-{version}-")) || name == format!("yamause-{version}.tar.gz") {
            out.insert(name, crate::support::sha256_file(&path));
        }
    }
    out
}

/// The files the build in `dir` made, with their SHA-256.
fn built(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for entry in fs::read_dir(dir).unwrap_or_else(|err| panic!("{}: {err}", dir.display())) {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name != "manifest.json" {
            out.insert(name, crate::support::sha256_file(&path));
        }
    }
    out
}

fn env_of(stack: &Stack) -> Vec<(String, String)> {
    let mut vars = release_env(stack, Creds::Static, "", &[("GITHUB_ACTIONS", "true"), ("CI", "true")]);
    vars.extend(LIMITS.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    vars
}

/// The publish job's artifact of `version`: a `--build-only` of the tag, as the
/// build job makes it (the repository's checkout gets the next version's stamp next,
/// so each artifact moves to a folder of its own).
fn build_artifact(repo: &Path, scratch: &Path, version: &str, vars: &[(String, String)]) -> std::path::PathBuf {
    let out = release(repo, &[&format!("v{version}"), "--build-only"], vars);
    assert!(out.status.success(), "the build of {version}:\n{}", text(&out));
    let dir = scratch.join(version);
    fs::rename(repo.join("target/dist").join(version), &dir).unwrap();
    dir
}

#[test]
fn every_fault_ends_in_bounded_time_with_a_message_and_a_rerun_completes() {
    let stack = start_stack();
    let repo = copy_repo("faults");
    let scratch = TempDir::new("fault-artifacts");
    let mut vars = env_of(&stack);
    let cases = cases();
    // One artifact for the faults before any upload, one per upload fault.
    let versions: Vec<String> = cases
        .iter()
        .enumerate()
        .map(|(n, case)| if case.step == "upload" { format!("1.0.{n}") } else { "1.0.0".to_owned() })
        .collect();
    let mut artifacts = BTreeMap::new();
    for version in &versions {
        if !artifacts.contains_key(version) {
            artifacts.insert(version.clone(), build_artifact(repo.path(), scratch.path(), version, &vars));
        }
    }
    vars.push(("GITHUB_SHA".to_owned(), git(repo.path(), &["rev-parse", "HEAD"]).trim().to_owned()));
    let mut table =
        vec![format!("| fault | step | outcome | ended after | re-run |"), "|---|---|---|---:|---|".to_owned()];
    let mut problems = Vec::new();
    for (case, version) in cases.into_iter().zip(&versions) {
        let (tag, artifact) = (format!("v{version}"), artifacts[version].to_str().unwrap());
        stack.emulator().reset();
        for rule in &case.rules {
            stack.emulator().inject(rule.clone()).unwrap();
        }
        let started = Instant::now();
        let out = release(repo.path(), &[&tag, "--publish-only", artifact], &vars);
        let took = started.elapsed();
        let log = text(&out);
        let name = format!("{} at {}", case.fault, case.step);
        assert_runner_safe(&name, &log, &stack_secrets(&stack));
        let outcome = match (&case.expect, out.status.success()) {
            (Expect::Recovered, true) => "recovered".to_owned(),
            (Expect::Fails(needles), false) => {
                for needle in *needles {
                    if !log.contains(needle) {
                        problems.push(format!("{name}: the output lacks {needle:?}:\n{log}"));
                    }
                }
                "failed, with the step and the fix".to_owned()
            }
            (Expect::Recovered, false) => {
                problems.push(format!("{name}: expected to recover, but failed:\n{log}"));
                "FAILED".to_owned()
            }
            (Expect::Fails(_), true) => {
                let served: Vec<String> =
                    stack.emulator().requests().iter().map(|r| format!("{} {}", r.operation, r.status)).collect();
                problems.push(format!("{name}: expected to fail, but succeeded ({served:?}):\n{log}"));
                "SUCCEEDED".to_owned()
            }
        };
        if took > case.bound {
            problems.push(format!("{name}: took {:.1} s, bound {} s", took.as_secs_f64(), case.bound.as_secs()));
        }
        // The fault lifted, a re-run completes and the repository holds exactly the
        // files of the build.
        stack.emulator().reset();
        let again = release(repo.path(), &[&tag, "--publish-only", artifact], &vars);
        let rerun = if again.status.success() && published(&stack, version) == built(&artifacts[version]) {
            "completes"
        } else {
            problems.push(format!("{name}: the re-run did not complete:\n{}", text(&again)));
            "FAILED"
        };
        table.push(format!("| {} | {} | {outcome} | {:.1} s | {rerun} |", case.fault, case.step, took.as_secs_f64()));
    }
    eprintln!("\nfault matrix (deadlines: {LIMITS:?}):\n{}\n", table.join("\n"));
    assert!(problems.is_empty(), "{}\n\n{}", table.join("\n"), problems.join("\n\n"));
}

/// The pid of the running uploader (`upload_dists.py`), if any.
fn uploader_pid(repo: &Path) -> Option<u32> {
    // This release's uploader: its script lies in this copy of the repository (other
    // tests upload at the same time).
    let script = repo.join("xtask/src/release/publish/upload_dists.py");
    for entry in fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let cmdline = fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(script.to_string_lossy().as_ref()) {
            return Some(pid);
        }
    }
    None
}

#[test]
fn a_killed_uploader_and_an_interrupted_release_lose_nothing() {
    let stack = start_stack();
    let repo = copy_repo("killed");
    // On a laptop: the version file is stamped for the build only.
    let mut vars = env_of(&stack);
    vars.retain(|(k, _)| k != "GITHUB_ACTIONS" && k != "CI");

    // twine killed in the middle of the batch: the first upload is slow, the
    // uploader is killed while it waits; the repository says what arrived and the
    // release completes.
    stack.emulator().inject(Fault::Slow { delay_ms: 1_500 }.times(1).only("pypi-upload")).unwrap();
    ensure_tag(repo.path(), "v2.0.0");
    let running = spawn_release(repo.path(), "v2.0.0", &vars);
    wait_for(Duration::from_secs(60), || running.said("  │ Uploading yamause-2.0.0").then_some(()))
        .expect("an upload started");
    let pid = uploader_pid(repo.path()).expect("the uploader runs");
    std::thread::sleep(Duration::from_millis(300));
    let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
    let (status, log) = running.finish();
    assert!(status.success(), "{log}");
    // The killed uploader's files came back as unreported and were tried again.
    assert!(log.contains("the uploader ended before") || log.contains("file(s) to try again"), "{log}");
    assert_eq!(published(&stack, "2.0.0"), built(&repo.path().join("target/dist/2.0.0")), "{log}");

    // SIGINT to the release alone while it uploads: it stops its children, says what
    // was done and what a re-run does, leaves the tree clean; the re-run completes.
    stack.emulator().reset();
    stack.emulator().inject(Fault::Slow { delay_ms: 5_000 }.times(1).only("pypi-upload")).unwrap();
    ensure_tag(repo.path(), "v2.1.0");
    let running = spawn_release(repo.path(), "v2.1.0", &vars);
    let release_pid = running.child.id();
    wait_for(Duration::from_secs(60), || running.said("  │ Uploading yamause-2.1.0").then_some(()))
        .expect("an upload started");
    let started = Instant::now();
    let _ = Command::new("kill").args(["-INT", &release_pid.to_string()]).status();
    let (status, log) = running.finish();
    assert!(started.elapsed() < Duration::from_secs(10), "the release took {:?} to stop", started.elapsed());
    assert_eq!(status.code(), Some(130), "{log}");
    assert!(log.contains("stopped by SIGINT during [8/9] Publish"), "{log}");
    assert!(log.contains("Run the same command again to finish"), "{log}");
    assert!(
        wait_for(Duration::from_secs(5), || uploader_pid(repo.path()).is_none().then_some(())).is_some(),
        "twine outlived the release"
    );
    let status = crate::support::git(repo.path(), &["status", "--porcelain"]);
    assert_eq!(status, "", "the interrupted release left files in the tree");
    let leftovers: Vec<String> = fs::read_dir(repo.path().join("target/dist/2.1.0"))
        .unwrap()
        .map(|it| it.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|it| !(it.ends_with(".whl") || it.ends_with(".tar.gz") || it == "manifest.json"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files in the dist folder: {leftovers:?}");
    stack.emulator().reset();
    let out = release(repo.path(), &["v2.1.0"], &vars);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(published(&stack, "2.1.0"), built(&repo.path().join("target/dist/2.1.0")));
}

/// A release running in the background, its output collected as it comes.
struct Running {
    child: std::process::Child,
    output: std::sync::Arc<std::sync::Mutex<String>>,
    reader: std::thread::JoinHandle<()>,
}

impl Running {
    fn said(&self, needle: &str) -> bool {
        self.output.lock().unwrap().contains(needle)
    }

    fn finish(mut self) -> (std::process::ExitStatus, String) {
        let status = self.child.wait().unwrap();
        self.reader.join().unwrap();
        let output = self.output.lock().unwrap().clone();
        (status, output)
    }
}

fn spawn_release(repo: &Path, tag: &str, vars: &[(String, String)]) -> Running {
    let owned: Vec<(String, std::ffi::OsString)> = vars.iter().map(|(k, v)| (k.clone(), v.into())).collect();
    let refs: Vec<(&str, &std::ffi::OsStr)> = owned.iter().map(|(k, v)| (k.as_str(), v.as_os_str())).collect();
    let mut child = xtask_command(repo, &["release", tag, "-v"], &refs)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the release");
    let stderr = child.stderr.take().unwrap();
    let output = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let sink = output.clone();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            let mut out = sink.lock().unwrap();
            out.push_str(&line);
            out.push('\n');
        }
    });
    Running { child, output, reader }
}

fn wait_for<T>(within: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + within;
    while Instant::now() < end {
        if let Some(it) = probe() {
            return Some(it);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[test]
fn sigterm_to_the_sandbox_alone_stops_the_whole_stack() {
    let target = crate::support::repo_root().join("target");
    let mut child =
        xtask_command(&crate::support::repo_root(), &["sandbox"], &[("CARGO_TARGET_DIR", target.as_os_str())])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the sandbox");
    let exports = ready_exports(&mut child);
    let state = state_folder(&exports);
    let running = || processes_with(&state);
    assert!(!running().is_empty(), "no server of the stack runs from {state}");
    let started = Instant::now();
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let status = child.wait().unwrap();
    assert!(started.elapsed() < Duration::from_secs(20), "the sandbox took {:?} to stop", started.elapsed());
    assert!(
        wait_for(Duration::from_secs(10), || running().is_empty().then_some(())).is_some(),
        "servers of the stack outlived the sandbox ({status}): {:?}",
        running()
    );
}

#[test]
fn the_stack_of_a_sandbox_that_is_killed_stops_too() {
    let target = crate::support::repo_root().join("target");
    let mut child =
        xtask_command(&crate::support::repo_root(), &["sandbox"], &[("CARGO_TARGET_DIR", target.as_os_str())])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the sandbox");
    let exports = ready_exports(&mut child);
    let state = state_folder(&exports);
    assert!(!processes_with(&state).is_empty(), "no server of the stack runs from {state}");
    // SIGKILL: no handler runs; the stack learns from the kernel that its parent died.
    let _ = Command::new("kill").args(["-KILL", &child.id().to_string()]).status();
    let _ = child.wait();
    assert!(
        wait_for(Duration::from_secs(15), || processes_with(&state).is_empty().then_some(())).is_some(),
        "servers of the stack outlived the killed sandbox: {:?}",
        processes_with(&state)
    );
}

/// The `export` lines of a sandbox, once it says it is ready.
fn ready_exports(child: &mut std::process::Child) -> Vec<String> {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        let mut lines = Vec::new();
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let ready = line.contains("castack ready");
            lines.push(line);
            if ready {
                let _ = tx.send(lines.clone());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(240)).expect("the sandbox printed its exports")
}

/// The stack's own folder (its servers run there), from `AWS_CONFIG_FILE`.
fn state_folder(exports: &[String]) -> String {
    exports
        .iter()
        .find_map(|it| it.strip_prefix("export AWS_CONFIG_FILE="))
        .map(|it| it.trim_matches('\'').trim_end_matches("/aws/config").to_owned())
        .expect("the state folder of the stack")
}

/// Processes whose command line or working folder names `needle`.
fn processes_with(needle: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let cmdline = String::from_utf8_lossy(&fs::read(entry.path().join("cmdline")).unwrap_or_default()).into_owned();
        let cwd = fs::read_link(entry.path().join("cwd")).map(|it| it.display().to_string()).unwrap_or_default();
        if cmdline.contains(needle) || cwd.starts_with(needle) {
            out.push(pid);
        }
    }
    out
}

/// A `--build-only` release of a copy of the repository whose build runs a hatch
/// hook doing `hook` (Python, indented for the hook's body), with `vars`; checks
/// that it failed in Build within `bound`, kept nothing and left no process, and
/// returns its output.
fn stopped_build(label: &str, hook: &str, vars: &[(&str, &str)], bound: Duration) -> String {
    let repo = copy_repo(label);
    fs::write(
        repo.path().join("hatch_build.py"),
        format!(
            "import sys, time\nfrom hatchling.builders.hooks.plugin.interface import BuildHookInterface\n\n\
             class CustomBuildHook(BuildHookInterface):\n    def initialize(self, version, build_data):\n{hook}\n"
        ),
    )
    .unwrap();
    let mut pyproject = fs::read_to_string(repo.path().join("pyproject.toml")).unwrap();
    pyproject.push_str("\n[tool.hatch.build.hooks.custom]\n");
    fs::write(repo.path().join("pyproject.toml"), pyproject).unwrap();
    crate::support::git(repo.path(), &["add", "-A"]);
    crate::support::git(repo.path(), &["commit", "-q", "-m", "a build hook that never ends"]);
    let started = Instant::now();
    let vars: Vec<(&str, &std::ffi::OsStr)> = vars.iter().map(|(k, v)| (*k, std::ffi::OsStr::new(*v))).collect();
    let out = crate::support::xtask(repo.path(), &["release", "v1.0.0", "--build-only"], &vars);
    let log = text(&out);
    assert!(!out.status.success(), "{log}");
    assert!(started.elapsed() < bound, "the build took {:?} to stop:\n{log}", started.elapsed());
    assert!(log.contains("step 5/6 (Build) failed"), "{log}");
    // Nothing of the stopped build is kept, and no process of it is left.
    assert!(!repo.path().join("target/dist/1.0.0").exists());
    let left = processes_with(&repo.path().display().to_string());
    assert!(
        wait_for(Duration::from_secs(5), || processes_with(&repo.path().display().to_string())
            .is_empty()
            .then_some(()))
        .is_some(),
        "processes of the build were left: {left:?}"
    );
    log
}

/// A build hook that waits forever, printing nothing and moving no bytes (what a
/// build does that waits on a network that never answers), is stopped by the
/// watchdog.
#[test]
fn a_child_that_hangs_is_stopped_by_the_watchdog() {
    let hook = "        time.sleep(600)";
    let log = stopped_build("hanging-build", hook, &[("XTASK_STALL_TIMEOUT", "2")], Duration::from_secs(30));
    assert!(log.contains("printed nothing and moved no bytes for 2"), "{log}");
    assert!(log.contains("XTASK_STALL_TIMEOUT"), "{log}");
}

/// A build hook that prints forever (so it never looks stalled) is stopped at the
/// child's total deadline, which the message names.
#[test]
fn a_child_that_never_ends_is_stopped_at_its_total_deadline() {
    let hook = "        while True:\n            print('still working', flush=True)\n            time.sleep(0.3)";
    let vars = [("XTASK_STALL_TIMEOUT", "2"), ("XTASK_CHILD_TIMEOUT", "25")];
    let log = stopped_build("endless-build", hook, &vars, Duration::from_secs(60));
    assert!(log.contains("did not finish within 25 s (XTASK_CHILD_TIMEOUT)"), "{log}");
    assert!(!log.contains("printed nothing"), "{log}");
}

/// The release of `tag` in `repo` on a laptop (the version file is stamped for the
/// build only), started in the background.
fn spawn_laptop_release(stack: &Stack, repo: &Path, tag: &str) -> Running {
    let mut vars = env_of(stack);
    vars.retain(|(k, _)| k != "GITHUB_ACTIONS" && k != "CI");
    ensure_tag(repo, tag);
    spawn_release(repo, tag, &vars)
}

fn laptop_release(stack: &Stack, repo: &Path, tag: &str) -> (bool, String) {
    let (status, log) = spawn_laptop_release(stack, repo, tag).finish();
    (status.success(), log)
}

/// SIGHUP (a closed terminal) during the build stops the release as SIGTERM does:
/// exit 129, the version file put back, no half-built folder; a re-run completes.
#[test]
fn sighup_during_the_build_puts_the_version_file_back() {
    let stack = start_stack();
    let repo = copy_repo("sighup");
    let running = spawn_laptop_release(&stack, repo.path(), "v3.1.0");
    wait_for(Duration::from_secs(120), || running.said("[5/9] Build\n").then_some(())).expect("the build started");
    let _ = Command::new("kill").args(["-HUP", &running.child.id().to_string()]).status();
    let started = Instant::now();
    let (status, log) = running.finish();
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?} to stop:\n{log}", started.elapsed());
    assert_eq!(status.code(), Some(129), "{log}");
    assert!(log.contains("stopped by SIGHUP during [5/9] Build") && log.contains("restored"), "{log}");
    assert_eq!(crate::support::git(repo.path(), &["status", "--porcelain"]), "", "{log}");
    assert!(!repo.path().join("target/dist/3.1.0").exists(), "a half-built folder was left:\n{log}");
    let (ok, log) = laptop_release(&stack, repo.path(), "v3.1.0");
    assert!(ok, "{log}");
    assert_eq!(published(&stack, "3.1.0"), built(&repo.path().join("target/dist/3.1.0")));
}

/// SIGKILL during the build leaves the version file stamped; the next run puts it
/// back first and says so, completes, and leaves the file as committed.
#[test]
fn after_sigkill_the_next_run_puts_the_stamp_back_first() {
    let stack = start_stack();
    let repo = copy_repo("sigkill");
    let about = repo.path().join("yamause/__about__.py");
    let committed = fs::read(&about).unwrap();
    let running = spawn_laptop_release(&stack, repo.path(), "v3.2.0");
    wait_for(Duration::from_secs(120), || running.said("[5/9] Build\n").then_some(())).expect("the build started");
    let pid = running.child.id();
    let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
    let (_, log) = running.finish();
    assert!(fs::read_to_string(&about).unwrap().contains("\"3.2.0\""), "not stamped when killed:\n{log}");

    let (ok, log) = laptop_release(&stack, repo.path(), "v3.3.0");
    assert!(ok, "{log}");
    assert!(
        log.contains(&format!("yamause/__about__.py was left stamped by a release that did not finish (pid {pid})")),
        "{log}"
    );
    assert!(log.contains("yamause/__about__.py ([tool.hatch.version] path): 0.1.0 → 3.3.0"), "{log}");
    assert_eq!(fs::read(&about).unwrap(), committed, "{log}");
    assert_eq!(crate::support::git(repo.path(), &["status", "--porcelain"]), "");
}

/// Two releases in one checkout at once: the second names the first (its pid and
/// step) and, past its wait, refuses having changed nothing; the first completes
/// with its own files only.
#[test]
fn a_second_release_in_the_same_checkout_names_the_first_and_waits() {
    let stack = start_stack();
    let repo = copy_repo("two-runs");
    // The first release's uploads are slow, so it holds the checkout a while.
    stack.emulator().inject(Fault::Slow { delay_ms: 4_000 }.times(1).only("pypi-upload")).unwrap();
    let first = spawn_laptop_release(&stack, repo.path(), "v3.4.0");
    wait_for(Duration::from_secs(120), || first.said("  │ Uploading yamause-3.4.0").then_some(())).expect("uploads");
    let mut vars = env_of(&stack);
    vars.retain(|(k, _)| k != "GITHUB_ACTIONS" && k != "CI");
    vars.push(("XTASK_LOCK_TIMEOUT".to_owned(), "1".to_owned()));
    ensure_tag(repo.path(), "v3.5.0");
    let second = release(repo.path(), &["v3.5.0"], &vars);
    let log = text(&second);
    assert!(!second.status.success(), "{log}");
    let holder = format!("another release (pid {}, step [8/9] Publish) is using this checkout", first.child.id());
    assert!(log.contains(&holder), "{log}");
    assert!(!repo.path().join("target/dist/3.5.0").exists(), "the second run built:\n{log}");
    let (status, log) = first.finish();
    assert!(status.success(), "{log}");
    assert_eq!(published(&stack, "3.4.0"), built(&repo.path().join("target/dist/3.4.0")));
    assert_eq!(crate::support::git(repo.path(), &["status", "--porcelain"]), "");
    // Once the first ended, the second runs.
    let (ok, log) = laptop_release(&stack, repo.path(), "v3.5.0");
    assert!(ok, "{log}");
}

/// SIGTERM while the Python tools are installed: the stopped pip is not taken for a
/// broken one (no second install, no "install Python" advice); the run says it
/// was stopped.
#[test]
fn sigterm_during_the_tools_install_is_a_stop_not_a_broken_pip() {
    let repo = copy_repo("sigterm-tools");
    let tools = crate::support::TempDir::new("sigterm-tools-dir");
    let mut child = xtask_command(
        repo.path(),
        &["release", "v3.6.0", "--build-only", "-v"],
        // The machine's PATH, without the tests' uv: pip is what gets stopped here.
        &[("XTASK_TOOLS_DIR", tools.path().as_os_str()), ("PATH", &std::env::var_os("PATH").unwrap_or_default())],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut log = String::new();
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("-m pip") {
                let _ = tx.send(());
            }
            log.push_str(&line);
            log.push('\n');
        }
        log
    });
    rx.recv_timeout(Duration::from_secs(60)).expect("pip started");
    std::thread::sleep(Duration::from_millis(300));
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let status = child.wait().unwrap();
    let log = reader.join().unwrap();
    assert_eq!(status.code(), Some(143), "{log}");
    assert!(log.contains("stopped by SIGTERM during [4/6] Python tools"), "{log}");
    assert!(!log.contains("install Python 3.9 or newer") && !log.contains("trying again"), "{log}");
}
