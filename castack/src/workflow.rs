//! A local GitHub Actions runner for the project's own workflow files: it reads a
//! workflow (such as `.github/workflows/release.yml`) and executes its jobs, in
//! the order `needs:` gives, each in a fresh clone, with the environment a GitHub
//! runner sets. So a step that cannot work (a path, an output name, the hand-off
//! between jobs) fails here, not first on GitHub, and `cargo xtask bench ci` times
//! the very file that CI runs.
//!
//! Modelled: `run:` steps (`bash --noprofile --norc -eo pipefail`), step `env:`
//! with `${{ secrets.* }}`, `${{ needs.*.outputs.* }}`, `${{ steps.*.outputs.* }}`
//! and `${{ github.* }}` resolved; `GITHUB_OUTPUT` (a file per step, `KEY=VALUE`
//! and `KEY<<EOF` forms), `GITHUB_ENV`, `GITHUB_STEP_SUMMARY`; job `outputs:`;
//! `ACTIONS_ID_TOKEN_REQUEST_*` only in a job with `id-token: write`. Actions:
//! `actions/checkout` (a clone at the event's commit), `actions/upload-artifact` and
//! `actions/download-artifact` (folders copied; like the real zip, a download
//! loses the executable bit). Anything else in a workflow is an error, never
//! silently skipped; so is an expression that names an output no step set (GitHub
//! gives an empty string there: here a misspelt name is found at once).

use std::{
    collections::BTreeMap,
    fs,
    io::Read,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail, format_err};

mod parse;

/// A parsed workflow: its jobs in file order.
#[derive(Debug, Clone)]
pub struct Workflow {
    pub jobs: Vec<Job>,
}

#[derive(Debug, Clone)]
pub struct Job {
    pub id: String,
    pub needs: Vec<String>,
    /// `permissions: id-token: write`.
    pub id_token: bool,
    pub timeout: Duration,
    /// Job outputs: name → expression.
    pub outputs: Vec<(String, String)>,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone)]
pub struct Step {
    pub name: String,
    pub id: Option<String>,
    pub kind: StepKind,
    /// `env:` of the step: name → value (may hold expressions).
    pub env: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub enum StepKind {
    Run(String),
    /// `uses:` without the ref, and its `with:`.
    Uses(String, BTreeMap<String, String>),
}

/// What triggered the run.
#[derive(Debug, Clone)]
pub enum Event {
    /// A pushed tag.
    TagPush(String),
    /// `workflow_dispatch` on a branch.
    Dispatch(String),
}

/// Everything a run needs from outside the workflow.
pub struct RunConfig<'a> {
    /// The repository to check out (a local clone source) and the commit.
    pub repo: PathBuf,
    pub sha: String,
    /// Where the jobs' workspaces and the artifacts go.
    pub scratch: PathBuf,
    pub secrets: BTreeMap<String, String>,
    /// The runner's own environment (PATH, HOME, toolchains, network settings).
    pub runner_env: Vec<(String, String)>,
    /// `ACTIONS_ID_TOKEN_REQUEST_URL`/`_TOKEN`, for a job with `id-token: write`.
    pub oidc: Vec<(String, String)>,
    /// Called after each step: a test can tamper with what a step left behind, as
    /// compromised build code would.
    pub after_step: Option<&'a dyn Fn(&StepPlace<'_>)>,
}

/// Where a step ran, for [`RunConfig::after_step`].
pub struct StepPlace<'a> {
    pub job: &'a str,
    pub step: &'a str,
    /// `GITHUB_WORKSPACE` and `RUNNER_TEMP` of the job.
    pub workspace: &'a Path,
    pub temp: &'a Path,
}

/// What a run did.
#[derive(Debug, Default)]
pub struct RunReport {
    pub jobs: Vec<JobReport>,
}

#[derive(Debug, Default)]
pub struct JobReport {
    pub id: String,
    pub steps: Vec<StepReport>,
    pub outputs: BTreeMap<String, String>,
    pub success: bool,
}

#[derive(Debug)]
pub struct StepReport {
    pub name: String,
    pub seconds: f64,
    pub success: bool,
    pub output: String,
}

impl RunReport {
    pub fn success(&self) -> bool {
        !self.jobs.is_empty() && self.jobs.iter().all(|it| it.success)
    }

    pub fn job(&self, id: &str) -> Option<&JobReport> {
        self.jobs.iter().find(|it| it.id == id)
    }

    /// Every step's output, job by job, for an assertion message.
    pub fn log(&self) -> String {
        let mut out = String::new();
        for job in &self.jobs {
            for step in &job.steps {
                let status = if step.success { "ok" } else { "FAILED" };
                out.push_str(&format!(
                    "=== {} / {} ({status}, {:.1} s)\n{}\n",
                    job.id, step.name, step.seconds, step.output
                ));
            }
        }
        out
    }
}

/// Runs the workflow's jobs for `event`, in `needs:` order; a job whose needs
/// failed does not run.
pub fn run(workflow: &Workflow, config: &RunConfig<'_>, event: &Event) -> Result<RunReport> {
    let mut report = RunReport::default();
    let artifacts = config.scratch.join("artifacts");
    fs::create_dir_all(&artifacts)?;
    let mut pending: Vec<&Job> = workflow.jobs.iter().collect();
    while !pending.is_empty() {
        let ready = pending
            .iter()
            .position(|job| job.needs.iter().all(|need| report.job(need).is_some()))
            .context("the jobs' `needs:` form a cycle or name a job that does not exist")?;
        let job = pending.remove(ready);
        if job.needs.iter().any(|need| !report.job(need).is_some_and(|it| it.success)) {
            continue;
        }
        let done = run_job(job, config, event, &report, &artifacts)?;
        report.jobs.push(done);
    }
    Ok(report)
}

/// The per-job state of a run.
struct JobRun<'a> {
    workspace: PathBuf,
    temp: PathBuf,
    env: Vec<(String, String)>,
    steps: BTreeMap<String, BTreeMap<String, String>>,
    needs: &'a RunReport,
    secrets: &'a BTreeMap<String, String>,
    event: &'a Event,
}

fn run_job(job: &Job, config: &RunConfig<'_>, event: &Event, done: &RunReport, artifacts: &Path) -> Result<JobReport> {
    let workspace = config.scratch.join("work").join(&job.id);
    let temp = config.scratch.join("temp").join(&job.id);
    let _ = fs::remove_dir_all(&workspace);
    fs::create_dir_all(&workspace)?;
    fs::create_dir_all(&temp)?;
    let mut env = config.runner_env.clone();
    env.extend(github_env(config, event, &workspace, &temp));
    if job.id_token {
        env.extend(config.oidc.iter().cloned());
    }
    let mut state =
        JobRun { workspace, temp, env, steps: BTreeMap::new(), needs: done, secrets: &config.secrets, event };
    let mut report = JobReport { id: job.id.clone(), success: true, ..Default::default() };
    let deadline = Instant::now() + job.timeout;
    for (n, step) in job.steps.iter().enumerate() {
        let started = Instant::now();
        let result = match &step.kind {
            StepKind::Run(script) => state.run_step(n, step, script, deadline),
            StepKind::Uses(action, with) => state.use_action(action, with, config, artifacts),
        };
        let (success, output) = match result {
            Ok(output) => (true, output),
            Err(err) => (false, format!("{err:#}")),
        };
        report.steps.push(StepReport {
            name: step.name.clone(),
            seconds: started.elapsed().as_secs_f64(),
            success,
            output,
        });
        if let Some(hook) = config.after_step {
            hook(&StepPlace { job: &job.id, step: &step.name, workspace: &state.workspace, temp: &state.temp });
        }
        if !success {
            report.success = false;
            return Ok(report);
        }
    }
    for (name, expr) in &job.outputs {
        report.outputs.insert(name.clone(), state.resolve(expr)?);
    }
    Ok(report)
}

/// The variables a GitHub runner sets for every step.
fn github_env(config: &RunConfig<'_>, event: &Event, workspace: &Path, temp: &Path) -> Vec<(String, String)> {
    let (event_name, reference, ref_type, ref_name) = match event {
        Event::TagPush(tag) => ("push", format!("refs/tags/{tag}"), "tag", tag.clone()),
        Event::Dispatch(branch) => ("workflow_dispatch", format!("refs/heads/{branch}"), "branch", branch.clone()),
    };
    [
        ("GITHUB_ACTIONS", "true".to_owned()),
        ("CI", "true".to_owned()),
        ("GITHUB_EVENT_NAME", event_name.to_owned()),
        ("GITHUB_REF", reference),
        ("GITHUB_REF_TYPE", ref_type.to_owned()),
        ("GITHUB_REF_NAME", ref_name),
        ("GITHUB_SHA", config.sha.clone()),
        ("GITHUB_RUN_ID", "4242".to_owned()),
        ("GITHUB_RUN_ATTEMPT", "1".to_owned()),
        ("GITHUB_REPOSITORY", "octo-org/yamause".to_owned()),
        ("GITHUB_WORKSPACE", workspace.display().to_string()),
        ("RUNNER_TEMP", temp.display().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

impl JobRun<'_> {
    /// `${{ … }}` expressions in `value` replaced; an expression this runner does not
    /// know is an error.
    fn resolve(&self, value: &str) -> Result<String> {
        let mut out = String::new();
        let mut rest = value;
        while let Some(start) = rest.find("${{") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find("}}").context("an expression without `}}`")? + start;
            let expr = rest[start + 3..end].trim();
            out.push_str(&self.lookup(expr)?);
            rest = &rest[end + 2..];
        }
        out.push_str(rest);
        Ok(out)
    }

    fn lookup(&self, expr: &str) -> Result<String> {
        let parts: Vec<&str> = expr.split('.').collect();
        let missing = || format_err!("`${{{{ {expr} }}}}` names nothing this run has");
        match parts.as_slice() {
            ["secrets", name] => Ok(self.secrets.get(*name).cloned().unwrap_or_default()),
            ["needs", job, "outputs", name] => {
                self.needs.job(job).and_then(|it| it.outputs.get(*name)).cloned().ok_or_else(missing)
            }
            ["steps", id, "outputs", name] => {
                self.steps.get(*id).and_then(|it| it.get(*name)).cloned().ok_or_else(missing)
            }
            ["github", "ref_name"] => Ok(match self.event {
                Event::TagPush(tag) => tag.clone(),
                Event::Dispatch(branch) => branch.clone(),
            }),
            ["runner", "temp"] => Ok(self.temp.display().to_string()),
            _ => bail!("`${{{{ {expr} }}}}` is not modelled by this runner"),
        }
    }

    fn run_step(&mut self, n: usize, step: &Step, script: &str, deadline: Instant) -> Result<String> {
        // The runner's own files live next to RUNNER_TEMP, not in it, as on GitHub.
        let files = self.temp.with_extension(format!("step-{n}"));
        fs::create_dir_all(&files)?;
        let (output_file, env_file, summary) = (files.join("output"), files.join("env"), files.join("summary"));
        let script_file = files.join("script.sh");
        for file in [&output_file, &env_file, &summary] {
            fs::write(file, "")?;
        }
        fs::write(&script_file, script)?;
        let mut cmd = Command::new("bash");
        cmd.args(["--noprofile", "--norc", "-eo", "pipefail"]).arg(&script_file).current_dir(&self.workspace);
        cmd.env_clear().envs(self.env.iter().map(|(k, v)| (k, v)));
        for (name, value) in &step.env {
            cmd.env(name, self.resolve(value)?);
        }
        cmd.env("GITHUB_OUTPUT", &output_file).env("GITHUB_ENV", &env_file).env("GITHUB_STEP_SUMMARY", &summary);
        let output = run_bounded(cmd, deadline)?;
        if let Some(id) = &step.id {
            let outputs = parse_outputs(&fs::read_to_string(&output_file)?)?;
            self.steps.insert(id.clone(), outputs);
        }
        for (name, value) in parse_outputs(&fs::read_to_string(&env_file)?)? {
            self.env.retain(|(k, _)| *k != name);
            self.env.push((name, value));
        }
        Ok(output)
    }

    fn use_action(
        &mut self,
        action: &str,
        with: &BTreeMap<String, String>,
        config: &RunConfig<'_>,
        artifacts: &Path,
    ) -> Result<String> {
        let with = |key: &str| -> Result<String> { self.resolve(with.get(key).map(String::as_str).unwrap_or("")) };
        match action {
            "actions/checkout" => checkout(&config.repo, &config.sha, &self.workspace),
            "actions/upload-artifact" => {
                let (name, path) = (with("name")?, with("path")?);
                let source = self.workspace.join(path.trim_end_matches('/'));
                let target = artifacts.join(&name);
                if target.exists() && with("overwrite")? != "true" {
                    bail!("an artifact named {name} exists already in this run (upload-artifact v4 refuses it)");
                }
                let _ = fs::remove_dir_all(&target);
                fs::create_dir_all(&target)?;
                let copied = copy_into(&source, &target)?;
                if copied == 0 && with("if-no-files-found")? == "error" {
                    bail!("no files were found at {path}");
                }
                Ok(format!("uploaded {copied} file(s) as {name}"))
            }
            "actions/download-artifact" => {
                let (name, path) = (with("name")?, with("path")?);
                let source = artifacts.join(&name);
                if !source.exists() {
                    bail!("no artifact named {name} in this run");
                }
                let target = self.workspace.join(path);
                fs::create_dir_all(&target)?;
                let copied = copy_into(&source, &target)?;
                Ok(format!("downloaded {copied} file(s) of {name}"))
            }
            other => bail!("the action {other} is not modelled by this runner"),
        }
    }
}

/// `actions/checkout`: a fresh clone at `sha`, tags included.
fn checkout(repo: &Path, sha: &str, workspace: &Path) -> Result<String> {
    let git = |args: &[&str], dir: &Path| -> Result<()> {
        let out = Command::new("git").args(args).current_dir(dir).output().context("run git")?;
        if !out.status.success() {
            bail!("git {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(())
    };
    let source = repo.display().to_string();
    git(&["clone", "-q", "--no-local", &source, "."], workspace)?;
    git(&["-c", "advice.detachedHead=false", "checkout", "-q", sha], workspace)?;
    Ok(format!("checked out {sha}"))
}

/// Copies `source` (a file, or a folder's contents) into `target`; returns the
/// number of files. Like the real artifact zip, the executable bit is not kept.
fn copy_into(source: &Path, target: &Path) -> Result<usize> {
    if source.is_file() {
        let to = target.join(source.file_name().context("a file has a name")?);
        fs::copy(source, &to)?;
        set_plain(&to)?;
        return Ok(1);
    }
    let mut count = 0;
    for entry in fs::read_dir(source).with_context(|| format!("read {}", source.display()))? {
        let entry = entry?;
        let to = target.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            fs::create_dir_all(&to)?;
            count += copy_into(&entry.path(), &to)?;
        } else {
            fs::copy(entry.path(), &to)?;
            set_plain(&to)?;
            count += 1;
        }
    }
    Ok(count)
}

fn set_plain(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(0o644))?;
    }
    Ok(())
}

/// `KEY=VALUE` lines and `KEY<<DELIMITER` … `DELIMITER` blocks.
pub fn parse_outputs(text: &str) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.is_empty() {
            continue;
        }
        if let Some((key, delimiter)) = line.split_once("<<") {
            let mut value = Vec::new();
            loop {
                let next = lines.next().with_context(|| format!("{key}: no closing {delimiter}"))?;
                if next == delimiter {
                    break;
                }
                value.push(next);
            }
            out.insert(key.to_owned(), value.join("\n"));
        } else if let Some((key, value)) = line.split_once('=') {
            out.insert(key.to_owned(), value.to_owned());
        } else {
            bail!("{line:?} is neither KEY=VALUE nor KEY<<DELIMITER");
        }
    }
    Ok(out)
}

/// Runs `cmd`, its output captured (stdout and stderr in one), stopped at `deadline`.
fn run_bounded(mut cmd: Command, deadline: Instant) -> Result<String> {
    let (reader, writer) = std::io::pipe()?;
    cmd.stdin(Stdio::null()).stdout(writer.try_clone()?).stderr(writer);
    let mut child = cmd.spawn().context("start bash")?;
    drop(cmd);
    let collector = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = { reader }.read_to_string(&mut text);
        text
    });
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("the job's timeout-minutes ran out");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = collector.join().unwrap_or_default();
    if !status.success() {
        bail!("the step failed ({status}):\n{output}");
    }
    Ok(output)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_outputs_in_both_forms() {
        let outputs = parse_outputs("a=1\nb<<EOF\nx\ny\nEOF\nc=with=equals\n").unwrap();
        assert_eq!(outputs["a"], "1");
        assert_eq!(outputs["b"], "x\ny");
        assert_eq!(outputs["c"], "with=equals");
        assert!(parse_outputs("garbage\n").is_err());
    }
}
