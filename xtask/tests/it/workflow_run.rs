//! `release.yml` itself, executed end to end by castack's local runner against the
//! local stack: a tag push, a manual run, and a build job whose code replaces the
//! release tool (the artifact and its own copy), which the publish job must refuse
//! before anything else happens.
//!
//! Each job runs in its own fresh clone with the environment a GitHub runner sets.
//! The compile job really compiles the xtask, into a target folder these tests
//! share (so only the first compiles the dependencies; a clone's own crates are
//! compiled again each time) and one at a time, so that no test copies a binary
//! another one is writing. `cargo` on the runner's PATH is a wrapper that records
//! which job ran it, then runs the real one.

use std::{
    collections::BTreeMap,
    fs,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    sync::Mutex,
};

use castack::{
    Stack,
    workflow::{Event, RunConfig, RunReport, StepPlace, Workflow, run},
};

use crate::support::{
    TempDir, WORKFLOW_SECRETS, assert_runner_safe, copy_repo, git, install_and_read_version, published_files,
    repo_root, stack_secrets, start_stack, tools_dir,
};

/// Where the compile jobs of these tests compile.
fn cargo_target() -> PathBuf {
    repo_root().join("target/workflow-run")
}

/// A run of the workflow, and the jobs that ran cargo in it.
struct Ran {
    report: RunReport,
    cargo_jobs: Vec<String>,
}

/// The runner's own environment: what any program needs and the machine's network
/// settings, the shared tool and cargo folders, the stack's endpoints (not its
/// settings: those come from the secrets, as on GitHub), and `cargo` wrapped.
fn runner_env(stack: &Stack, bin: &Path) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = std::env::vars()
        .filter(|(name, _)| {
            ["HOME", "LANG", "TMPDIR", "CARGO_HOME", "RUSTUP_HOME", "RUSTUP_TOOLCHAIN"].contains(&name.as_str())
                || ["SSL_CERT_", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "PIP_", "UV_"]
                    .iter()
                    .any(|p| name.starts_with(p))
                || name.to_ascii_lowercase().ends_with("_proxy")
        })
        .collect();
    let path = std::env::var("PATH").unwrap_or_default();
    env.push(("PATH".to_owned(), format!("{}:{path}", bin.display())));
    env.push(("XTASK_TOOLS_DIR".to_owned(), tools_dir().display().to_string()));
    env.push(("CARGO_TARGET_DIR".to_owned(), cargo_target().display().to_string()));
    env.extend(stack.env().into_iter().filter(|(name, _)| !WORKFLOW_SECRETS.contains(&name.as_str())));
    env
}

/// A `cargo` that appends `$GITHUB_JOB` to `log`, then runs the real cargo.
fn cargo_recorder(bin: &Path, log: &Path) {
    let real = which::which("cargo").expect("cargo on PATH");
    fs::create_dir_all(bin).unwrap();
    let script = format!("#!/bin/sh\necho \"$GITHUB_JOB\" >> '{}'\nexec '{}' \"$@\"\n", log.display(), real.display());
    fs::write(bin.join("cargo"), script).unwrap();
    fs::set_permissions(bin.join("cargo"), fs::Permissions::from_mode(0o755)).unwrap();
}

fn secrets(stack: &Stack) -> BTreeMap<String, String> {
    let mut secrets: BTreeMap<String, String> =
        stack.env().into_iter().filter(|(name, _)| WORKFLOW_SECRETS.contains(&name.as_str())).collect();
    let role = format!("arn:aws:iam::{}:role/{}", stack.config().account, castack::DEFAULT_ROLE);
    secrets.insert("AWS_ROLE_ARN".to_owned(), role);
    secrets
}

/// Runs `release.yml` of a fresh copy of the repository (tagged `tag` when given)
/// for `event`, one run at a time.
fn run_release_workflow(stack: &Stack, tag: Option<&str>, event: Event, hook: Option<&dyn Fn(&StepPlace<'_>)>) -> Ran {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|it| it.into_inner());
    let repo = copy_repo("workflow-repo");
    if let Some(tag) = tag {
        git(repo.path(), &["tag", tag]);
    }
    let sha = git(repo.path(), &["rev-parse", "HEAD"]).trim().to_owned();
    let scratch = TempDir::new("workflow-run");
    let (bin, cargo_log) = (scratch.path().join("bin"), scratch.path().join("cargo-jobs"));
    cargo_recorder(&bin, &cargo_log);
    let text = fs::read_to_string(repo.path().join(".github/workflows/release.yml")).unwrap();
    let workflow = Workflow::parse(&text).expect("parse release.yml");
    let config = RunConfig {
        repo: repo.path().to_path_buf(),
        sha,
        scratch: scratch.path().join("run"),
        secrets: secrets(stack),
        environment_secrets: Default::default(),
        runner_env: runner_env(stack, &bin),
        oidc: stack.oidc_env(),
        after_step: hook,
    };
    let report = run(&workflow, &config, &event).expect("run release.yml");
    let cargo_jobs = fs::read_to_string(&cargo_log).unwrap_or_default().lines().map(str::to_owned).collect();
    Ran { report, cargo_jobs }
}

#[test]
fn a_tag_push_runs_release_yml_end_to_end() {
    let stack = start_stack();
    let ran = run_release_workflow(&stack, Some("v1.0.0"), Event::TagPush("v1.0.0".to_owned()), None);
    let (report, log) = (&ran.report, ran.report.log());
    assert!(report.success(), "release.yml failed:\n{log}");
    let hash = &report.job("compile").unwrap().outputs["xtask-sha256"];
    assert!(hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()), "compile job output {hash:?}");
    // One compile per release: cargo ran once, in the compile job.
    assert_eq!(ran.cargo_jobs, ["compile"], "{log}");
    assert_eq!(
        published_files(&stack),
        ["yamause-1.0.0-py3-none-any.whl", "yamause-1.0.0.tar.gz"].map(String::from).into(),
        "{log}"
    );
    assert_eq!(install_and_read_version(&stack, "yamause==1.0.0"), "1.0.0");
    assert_runner_safe("release.yml (tag push)", &log, &stack_secrets(&stack));
}

#[test]
fn a_manual_run_releases_the_version_in_about_py() {
    let stack = start_stack();
    let about = fs::read_to_string(repo_root().join("yamause/__about__.py")).unwrap();
    let version = about.split('"').nth(1).expect("a version in __about__.py").to_owned();
    let ran = run_release_workflow(&stack, None, Event::Dispatch("main".to_owned()), None);
    let log = ran.report.log();
    assert!(ran.report.success(), "release.yml failed:\n{log}");
    let files = published_files(&stack);
    assert!(
        files.contains(&format!("yamause-{version}.tar.gz")) && files.len() == 2,
        "expected the version {version} of __about__.py: {files:?}\n{log}"
    );
    assert_eq!(ran.cargo_jobs, ["compile"], "{log}");
    assert_runner_safe("release.yml (manual run)", &log, &stack_secrets(&stack));
}

/// Build code runs after the compile job recorded the binary's hash. Say it
/// replaces both the binary it was given and the `xtask` artifact (as it could with
/// the job's runtime token): the publish job refuses the artifact before it runs
/// anything of it, asks for no token and publishes nothing.
#[test]
fn a_binary_swapped_by_the_build_is_refused_before_anything_runs() {
    let stack = start_stack();
    let marker = TempDir::new("swapped-ran");
    let ran_file = marker.path().join("ran");
    let swap = |place: &StepPlace<'_>| {
        if place.job == "build" && place.step == "Build and verify" {
            let evil = format!("#!/bin/sh\necho swapped > '{}'\n", ran_file.display());
            for binary in [place.temp.join("xtask-bin/xtask"), place.artifacts.join("xtask/xtask")] {
                assert!(binary.is_file(), "no binary at {}", binary.display());
                fs::write(&binary, &evil).unwrap();
            }
        }
    };
    let ran = run_release_workflow(&stack, Some("v1.0.0"), Event::TagPush("v1.0.0".to_owned()), Some(&swap));
    let log = ran.report.log();
    assert!(ran.report.job("build").unwrap().success, "the build job failed:\n{log}");
    let publish = ran.report.job("publish").expect("the publish job ran");
    assert!(!publish.success, "the swapped binary was accepted:\n{log}");
    let failed = publish.steps.last().unwrap();
    assert!(failed.name.contains("Check the release tool"), "it failed elsewhere:\n{log}");
    assert!(failed.output.contains("not the binary the compile job made"), "{log}");
    assert!(!ran_file.exists(), "the swapped binary ran");
    assert!(stack.emulator().requests().is_empty(), "a request reached the stack:\n{log}");
    assert!(stack.emulator().issued_oidc_tokens().is_empty(), "an OIDC token was requested");
    assert!(published_files(&stack).is_empty());
}
