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

use crate::{
    private_deps,
    support::{
        TempDir, WORKFLOW_SECRETS, assert_runner_safe, copy_repo, git, install_and_read_version, published_files,
        repo_root, stack_secrets, start_stack, tools_dir,
    },
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
    // The tests' uv (`support::uv_dir`): the jobs' build environments with it.
    env.push(("PATH".to_owned(), format!("{}:{}:{path}", bin.display(), crate::support::uv_dir().display())));
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

/// The secrets of GitHub environments, by environment.
type EnvironmentSecrets = BTreeMap<String, BTreeMap<String, String>>;

/// Runs `release.yml` of a fresh copy of the repository (tagged `tag` when given)
/// for `event`, one run at a time.
fn run_release_workflow(stack: &Stack, tag: Option<&str>, event: Event, hook: Option<&dyn Fn(&StepPlace<'_>)>) -> Ran {
    let repo = copy_repo("workflow-repo");
    run_workflow_in(stack, repo.path(), (tag, event), hook, EnvironmentSecrets::new())
}

/// Runs `release.yml` of the repository at `repo` (tagged `tag` when given).
fn run_workflow_in(
    stack: &Stack,
    repo: &Path,
    (tag, event): (Option<&str>, Event),
    hook: Option<&dyn Fn(&StepPlace<'_>)>,
    environment_secrets: EnvironmentSecrets,
) -> Ran {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|it| it.into_inner());
    if let Some(tag) = tag {
        git(repo, &["tag", tag]);
    }
    let sha = git(repo, &["rev-parse", "HEAD"]).trim().to_owned();
    let scratch = TempDir::new("workflow-run");
    let (bin, cargo_log) = (scratch.path().join("bin"), scratch.path().join("cargo-jobs"));
    cargo_recorder(&bin, &cargo_log);
    let text = fs::read_to_string(repo.join(".github/workflows/release.yml")).unwrap();
    let workflow = Workflow::parse(&text).expect("parse release.yml");
    let config = RunConfig {
        repo: repo.to_path_buf(),
        sha,
        scratch: scratch.path().join("run"),
        secrets: secrets(stack),
        environment_secrets,
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
    // The binary the compile job hands on holds the release's own commands only:
    // none of check-iam's finding ids.
    let holds_check_iam = std::sync::Mutex::new(None);
    let inspect = |place: &StepPlace<'_>| {
        if place.job == "compile" && place.step == "Compile" {
            let binary = fs::read(place.temp.join("xtask-bin/xtask")).unwrap();
            let found = binary.windows(b"trust.foreign-repository".len()).any(|it| it == b"trust.foreign-repository");
            *holds_check_iam.lock().unwrap() = Some(found);
        }
    };
    let ran = run_release_workflow(&stack, Some("v1.0.0"), Event::TagPush("v1.0.0".to_owned()), Some(&inspect));
    assert_eq!(*holds_check_iam.lock().unwrap(), Some(false), "the compile job's binary holds check-iam");
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

/// The read-only role of the `build-deps` environment (another role than the
/// release's, so each job's log names the one it assumed).
fn build_deps_secrets(stack: &Stack) -> EnvironmentSecrets {
    let role = format!("arn:aws:iam::{}:role/ci-reader", stack.config().account);
    [("build-deps".to_owned(), [("AWS_ROLE_ARN".to_owned(), role)].into())].into()
}

/// A project whose build backend only the CodeArtifact repository has: the
/// build-deps job fetches the lock's wheels with the read role of its environment,
/// the build job builds from them with no token, AWS setting or OIDC variable in any
/// step's environment, and the publish job publishes.
#[test]
fn private_build_requirements_come_from_a_job_of_their_own() {
    let stack = start_stack();
    private_deps::seed_private_repository(&stack);
    let repo = private_deps::private_fixture("workflow-private");
    private_deps::lock_from_stack(&stack, repo.path());
    let event = (Some("v2.0.0"), Event::TagPush("v2.0.0".to_owned()));
    let ran = run_workflow_in(&stack, repo.path(), event, None, build_deps_secrets(&stack));
    let (report, log) = (&ran.report, ran.report.log());
    assert!(report.success(), "release.yml failed:\n{log}");
    assert_eq!(report.job("compile").unwrap().outputs["private-dependencies"], "true", "{log}");
    let deps = report.job("build-deps").unwrap();
    assert!(!deps.skipped && deps.success, "{log}");
    let deps_log: String = deps.steps.iter().map(|it| it.output.as_str()).collect();
    assert!(deps_log.contains("assumed-role/ci-reader/gha-4242-1"), "{deps_log}");
    // No credential, setting or OIDC variable in any step of the build job (the
    // recording shows them where they are: the publish step).
    let secret_names = |step: &castack::workflow::StepReport| -> Vec<String> {
        let credentials = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN"];
        step.env_names
            .iter()
            .filter(|it| {
                it.starts_with("ACTIONS_ID_TOKEN")
                    || it.starts_with("CODEARTIFACT_")
                    || credentials.contains(&it.as_str())
            })
            .cloned()
            .collect()
    };
    let build = report.job("build").unwrap();
    for step in &build.steps {
        assert!(secret_names(step).is_empty(), "the build job's step {:?} got {:?}", step.name, secret_names(step));
    }
    let publish = report.job("publish").unwrap();
    let publish_step = publish.steps.iter().find(|it| it.name == "Publish").unwrap();
    assert!(secret_names(publish_step).contains(&"ACTIONS_ID_TOKEN_REQUEST_TOKEN".to_owned()), "{publish_step:?}");
    assert!(build.steps.iter().any(|it| it.output.contains("build backend octo_build")), "{log}");
    assert_eq!(ran.cargo_jobs, ["compile"], "{log}");
    let uploaded = crate::support::uploads(&stack);
    assert_eq!(uploaded, ["fixture_private-2.0.0.tar.gz", "fixture_private-2.0.0-py3-none-any.whl"], "{log}");
    let (installed, _) = crate::backends::install(&stack, "fixture-private", "2.0.0", "fixture_private");
    assert_eq!(installed, "2.0.0");
    assert_runner_safe("release.yml (private build requirements)", &log, &stack_secrets(&stack));
}

/// A wheel replaced in the `build-deps` artifact (by anything that can write
/// artifacts of the run) is refused by name before the build installs anything.
#[test]
fn a_wheel_replaced_in_the_build_deps_artifact_is_refused_before_the_build() {
    let stack = start_stack();
    private_deps::seed_private_repository(&stack);
    let repo = private_deps::private_fixture("workflow-private-tampered");
    private_deps::lock_from_stack(&stack, repo.path());
    let replace = |place: &StepPlace<'_>| {
        if place.job == "build-deps" && place.step == "Hand the wheels to the build job" {
            let folder = place.artifacts.join("build-deps");
            let wheel = fs::read_dir(&folder)
                .unwrap()
                .map(|it| it.unwrap().path())
                .find(|it| it.file_name().unwrap().to_string_lossy().starts_with("octo_build"));
            let wheel = wheel.unwrap_or_else(|| panic!("no octo_build wheel in {}", folder.display()));
            let mut bytes = fs::read(&wheel).unwrap();
            bytes.extend_from_slice(b"\n# not what the lock names\n");
            fs::write(&wheel, bytes).unwrap();
        }
    };
    let event = (Some("v2.0.0"), Event::TagPush("v2.0.0".to_owned()));
    let ran = run_workflow_in(&stack, repo.path(), event, Some(&replace), build_deps_secrets(&stack));
    let log = ran.report.log();
    let build = ran.report.job("build").unwrap();
    assert!(!build.success, "the replaced wheel was accepted:\n{log}");
    let failed = build.steps.last().unwrap();
    assert_eq!(failed.name, "Build and verify", "{log}");
    assert!(failed.output.contains("octo_build-1.0.0-py3-none-any.whl in "), "{log}");
    assert!(failed.output.contains("which build-requirements.txt does not name"), "{log}");
    assert!(!failed.output.contains("pip --python"), "an installer ran:\n{log}");
    assert!(ran.report.job("publish").unwrap().skipped, "{log}");
    assert!(crate::support::uploads(&stack).is_empty(), "{log}");
}
