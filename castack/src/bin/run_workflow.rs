//! `run-workflow`: runs a GitHub Actions workflow file with castack's local runner
//! ([`castack::workflow`]), for `cargo xtask bench ci`, which times the very file
//! that CI runs.
//!
//! The runner's environment is this process's environment, except the variables
//! named by `--secret` (given to the workflow as `secrets.NAME`) and
//! `ACTIONS_ID_TOKEN_REQUEST_*` (given only to jobs with `id-token: write`).
//! stdout gets one line per step, `JOB<TAB>STEP<TAB>SECONDS<TAB>ok|failed`; stderr
//! gets the log of every step. Exits non-zero when a job failed.

use std::{collections::BTreeMap, path::PathBuf, process::ExitCode};

use anyhow::{Context, Result, bail};
use castack::workflow::{Event, RunConfig, Workflow, run};

mod flags {
    use std::path::PathBuf;

    xflags::xflags! {
        /// Run a workflow file locally, job by job, each in a fresh clone.
        cmd run-workflow {
            /// The workflow file.
            required --workflow path: PathBuf
            /// The repository to check out (a local path).
            required --repo path: PathBuf
            /// An empty folder for the jobs' workspaces and artifacts.
            required --scratch path: PathBuf
            /// Run as a push of this tag.
            optional --tag tag: String
            /// Run as `workflow_dispatch` on this branch.
            optional --dispatch branch: String
            /// A variable of this environment that the workflow reads as a secret.
            repeated --secret name: String
        }
    }
}

const OIDC_VARS: [&str; 2] = ["ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN"];

fn main() -> ExitCode {
    match try_main(flags::RunWorkflow::from_env_or_exit()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("run-workflow: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn try_main(flags: flags::RunWorkflow) -> Result<bool> {
    let event = match (flags.tag, flags.dispatch) {
        (Some(tag), None) => Event::TagPush(tag),
        (None, Some(branch)) => Event::Dispatch(branch),
        _ => bail!("give exactly one of --tag and --dispatch"),
    };
    let text =
        std::fs::read_to_string(&flags.workflow).with_context(|| format!("read {}", flags.workflow.display()))?;
    let workflow = Workflow::parse(&text).with_context(|| format!("parse {}", flags.workflow.display()))?;
    let sha = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(&flags.repo)
        .output()
        .context("run git")?;
    if !sha.status.success() {
        bail!("{} is not a git repository", flags.repo.display());
    }
    let mut secrets = BTreeMap::new();
    let (mut runner_env, mut oidc) = (Vec::new(), Vec::new());
    for (name, value) in std::env::vars() {
        if flags.secret.contains(&name) {
            secrets.insert(name, value);
        } else if OIDC_VARS.contains(&name.as_str()) {
            oidc.push((name, value));
        } else {
            runner_env.push((name, value));
        }
    }
    let config = RunConfig {
        repo: flags.repo,
        sha: String::from_utf8(sha.stdout)?.trim().to_owned(),
        scratch: PathBuf::from(&flags.scratch),
        secrets,
        environment_secrets: Default::default(),
        runner_env,
        oidc,
        after_step: None,
    };
    let report = run(&workflow, &config, &event)?;
    eprint!("{}", report.log());
    for job in &report.jobs {
        for step in &job.steps {
            let status = if step.success { "ok" } else { "failed" };
            println!("{}\t{}\t{:.3}\t{status}", job.id, step.name.replace('\t', " "), step.seconds);
        }
    }
    Ok(report.success())
}
