//! `release.yml` itself, executed end to end by castack's local runner against the
//! local stack: a tag push, a manual run, and a build job whose binary is replaced
//! after its hash was recorded (as compromised build code would), which the publish
//! job must refuse before anything else happens.
//!
//! Each job runs in its own fresh clone with the environment a GitHub runner sets;
//! the build job really compiles the xtask (into a target folder the three tests
//! share, so only the first compiles the dependencies) and the publish job runs the
//! binary it handed on.

use std::{collections::BTreeMap, fs, path::PathBuf};

use castack::{
    Stack,
    workflow::{Event, RunConfig, RunReport, StepPlace, Workflow, run},
};

use crate::support::{
    TempDir, assert_runner_safe, copy_repo, git, install_and_read_version, published_files, repo_root, stack_secrets,
    start_stack, tools_dir,
};

/// The settings the workflow reads from repository secrets.
const SECRETS: [&str; 4] =
    ["AWS_REGION", "CODEARTIFACT_DOMAIN", "CODEARTIFACT_DOMAIN_OWNER", "CODEARTIFACT_REPOSITORY"];

/// Where the build jobs of these tests compile: shared, so that only the first one
/// compiles the dependencies (a clone's own crates are compiled again each time).
fn cargo_target() -> PathBuf {
    repo_root().join("target/workflow-run")
}

/// The runner's own environment: what any program needs and the machine's network
/// settings, the shared tool and cargo folders, and the stack's endpoints (not its
/// settings: those come from the secrets, as on GitHub).
fn runner_env(stack: &Stack) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = std::env::vars()
        .filter(|(name, _)| {
            ["PATH", "HOME", "LANG", "TMPDIR", "CARGO_HOME", "RUSTUP_HOME", "RUSTUP_TOOLCHAIN"].contains(&name.as_str())
                || ["SSL_CERT_", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "PIP_", "UV_"]
                    .iter()
                    .any(|p| name.starts_with(p))
                || name.to_ascii_lowercase().ends_with("_proxy")
        })
        .collect();
    env.push(("XTASK_TOOLS_DIR".to_owned(), tools_dir().display().to_string()));
    env.push(("CARGO_TARGET_DIR".to_owned(), cargo_target().display().to_string()));
    env.extend(stack.env().into_iter().filter(|(name, _)| !SECRETS.contains(&name.as_str())));
    env
}

fn secrets(stack: &Stack) -> BTreeMap<String, String> {
    let mut secrets: BTreeMap<String, String> =
        stack.env().into_iter().filter(|(name, _)| SECRETS.contains(&name.as_str())).collect();
    let role = format!("arn:aws:iam::{}:role/{}", stack.config().account, castack::DEFAULT_ROLE);
    secrets.insert("AWS_ROLE_ARN".to_owned(), role);
    secrets
}

/// Runs `release.yml` of a fresh copy of the repository (tagged `tag` when given)
/// for `event`.
fn run_release_workflow(
    stack: &Stack,
    tag: Option<&str>,
    event: Event,
    hook: Option<&dyn Fn(&StepPlace<'_>)>,
) -> RunReport {
    let repo = copy_repo("workflow-repo");
    if let Some(tag) = tag {
        git(repo.path(), &["tag", tag]);
    }
    let sha = git(repo.path(), &["rev-parse", "HEAD"]).trim().to_owned();
    let scratch = TempDir::new("workflow-run");
    let text = fs::read_to_string(repo.path().join(".github/workflows/release.yml")).unwrap();
    let workflow = Workflow::parse(&text).expect("parse release.yml");
    let config = RunConfig {
        repo: repo.path().to_path_buf(),
        sha,
        scratch: scratch.path().to_path_buf(),
        secrets: secrets(stack),
        runner_env: runner_env(stack),
        oidc: stack.oidc_env(),
        after_step: hook,
    };
    run(&workflow, &config, &event).expect("run release.yml")
}

fn step_names(report: &RunReport, job: &str) -> Vec<String> {
    report.job(job).map(|it| it.steps.iter().map(|s| s.name.clone()).collect()).unwrap_or_default()
}

#[test]
fn a_tag_push_runs_release_yml_end_to_end() {
    let stack = start_stack();
    let report = run_release_workflow(&stack, Some("v1.0.0"), Event::TagPush("v1.0.0".to_owned()), None);
    let log = report.log();
    assert!(report.success(), "release.yml failed:\n{log}");
    let hash = &report.job("build").unwrap().outputs["xtask-sha256"];
    assert!(hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()), "build job output {hash:?}");
    let publish = step_names(&report, "publish");
    assert!(publish.iter().any(|it| it.contains("Check the release tool")), "{publish:?}");
    assert_eq!(
        published_files(&stack),
        ["yamause-1.0.0-py3-none-any.whl", "yamause-1.0.0.tar.gz"].map(String::from).into(),
        "{log}"
    );
    assert_eq!(install_and_read_version(&stack, "yamause==1.0.0"), "1.0.0");
    // The publish job compiled nothing: no cargo output in any of its steps.
    let publish_log: String = report.job("publish").unwrap().steps.iter().map(|s| s.output.clone()).collect();
    assert!(!publish_log.contains("Compiling "), "the publish job compiled:\n{publish_log}");
    assert_runner_safe("release.yml (tag push)", &log, &stack_secrets(&stack));
}

#[test]
fn a_manual_run_releases_the_version_in_about_py() {
    let stack = start_stack();
    let about = fs::read_to_string(repo_root().join("yamause/__about__.py")).unwrap();
    let version = about.split('"').nth(1).expect("a version in __about__.py").to_owned();
    let report = run_release_workflow(&stack, None, Event::Dispatch("main".to_owned()), None);
    let log = report.log();
    assert!(report.success(), "release.yml failed:\n{log}");
    let files = published_files(&stack);
    assert!(
        files.contains(&format!("yamause-{version}.tar.gz")) && files.len() == 2,
        "expected the version {version} of __about__.py: {files:?}\n{log}"
    );
    assert_runner_safe("release.yml (manual run)", &log, &stack_secrets(&stack));
}

/// Build code runs after the binary's hash is recorded and can replace the binary
/// before it is handed on: the publish job refuses it before it runs anything of
/// it, asks for no token and publishes nothing.
#[test]
fn a_binary_swapped_by_the_build_is_refused_before_anything_runs() {
    let stack = start_stack();
    let marker = TempDir::new("swapped-ran");
    let ran = marker.path().join("ran");
    let swap = |place: &StepPlace<'_>| {
        if place.job == "build" && place.step == "Build and verify" {
            let binary = place.temp.join("xtask-bin/xtask");
            assert!(binary.is_file(), "the build job keeps its binary at {}", binary.display());
            fs::write(&binary, format!("#!/bin/sh\necho swapped > '{}'\n", ran.display())).unwrap();
        }
    };
    let report = run_release_workflow(&stack, Some("v1.0.0"), Event::TagPush("v1.0.0".to_owned()), Some(&swap));
    let log = report.log();
    assert!(report.job("build").unwrap().success, "the build job failed:\n{log}");
    let publish = report.job("publish").expect("the publish job ran");
    assert!(!publish.success, "the swapped binary was accepted:\n{log}");
    let failed = publish.steps.last().unwrap();
    assert!(failed.name.contains("Check the release tool"), "it failed elsewhere:\n{log}");
    assert!(failed.output.contains("not the binary the build job compiled"), "{log}");
    assert!(!ran.exists(), "the swapped binary ran");
    assert!(stack.emulator().requests().is_empty(), "a request reached the stack:\n{log}");
    assert!(stack.emulator().issued_oidc_tokens().is_empty(), "an OIDC token was requested");
    assert!(published_files(&stack).is_empty());
}
