//! A local GitHub Actions runner for the project's own workflow files: it reads a
//! workflow (such as `.github/workflows/release.yml`) and executes its jobs, in
//! the order `needs:` gives, each in a fresh clone, with the environment a GitHub
//! runner sets. So a step that cannot work (a path, an output name, the hand-off
//! between jobs) fails here, not first on GitHub, and `cargo xtask bench ci` times
//! the very file that CI runs.
//!
//! Modelled: `run:` steps (GitHub's `bash -e {0}`, or with `shell: bash` its
//! `bash --noprofile --norc -eo pipefail {0}`, also from `defaults:`), each in its
//! own process group, killed whole at the job's `timeout-minutes`; step `env:` with
//! `${{ secrets.* }}`, `${{ needs.*.outputs.* }}`, `${{ steps.*.outputs.* }}`,
//! `${{ github.ref_name }}` and `${{ runner.temp }}` resolved; `GITHUB_OUTPUT`
//! (a file per step under `$RUNNER_TEMP/_runner_file_commands`, `KEY=VALUE` and
//! `KEY<<EOF` forms), `GITHUB_ENV`, `GITHUB_STEP_SUMMARY`, `GITHUB_JOB`; job
//! `outputs:`; `ACTIONS_ID_TOKEN_REQUEST_*` only in a job with `id-token: write`.
//! Actions (`actions.rs`): `actions/checkout`, `actions/upload-artifact` and
//! `actions/download-artifact`. Anything else in a workflow is an error, never
//! silently skipped (`parse.rs`); so is an expression that names an output no step
//! set (GitHub gives an empty string there: here a misspelt name is found at once).

use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail, format_err};

mod actions;
mod expr;
mod parse;
mod process;

/// A parsed workflow: its jobs in file order.
#[derive(Debug, Clone)]
pub struct Workflow {
    pub jobs: Vec<Job>,
}

#[derive(Debug, Clone)]
pub struct Job {
    pub id: String,
    pub needs: Vec<String>,
    /// `if:`; without one, GitHub's `success()`.
    pub condition: Option<String>,
    /// `environment:`: its secrets, and the `environment` claim of its OIDC token.
    pub environment: Option<String>,
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
    /// `if:`; without one, the step runs (this runner stops a job at its first
    /// failed step).
    pub condition: Option<String>,
    pub kind: StepKind,
    /// `env:` of the step: name → value (may hold expressions).
    pub env: Vec<(String, String)>,
    pub shell: Shell,
}

/// How a `run:` script is started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shell {
    /// No `shell:` anywhere: `bash -e {0}`.
    Default,
    /// `shell: bash`: `bash --noprofile --norc -eo pipefail {0}`.
    Bash,
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
    /// The secrets of each environment (by name), which win over the repository's
    /// in a job that names the environment, as on GitHub.
    pub environment_secrets: BTreeMap<String, BTreeMap<String, String>>,
    /// The runner's own environment (PATH, HOME, toolchains, network settings).
    pub runner_env: Vec<(String, String)>,
    /// `ACTIONS_ID_TOKEN_REQUEST_URL`/`_TOKEN`, for a job with `id-token: write`.
    /// For a job with an environment, the URL gets `&castack_environment=NAME`,
    /// which castack's OIDC issuer reads to put that environment in the token (on
    /// GitHub the token service knows the job's environment itself).
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
    /// The run's artifact store, one folder per artifact name: build code that got
    /// hold of the job's runtime token could replace an artifact.
    pub artifacts: &'a Path,
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
    /// Not run: its `if:` was false (by default: a job it needs did not succeed).
    pub skipped: bool,
}

impl JobReport {
    /// `needs.<job>.result`: success, failure or skipped.
    pub fn result(&self) -> &'static str {
        match (self.skipped, self.success) {
            (true, _) => "skipped",
            (false, true) => "success",
            (false, false) => "failure",
        }
    }
}

#[derive(Debug)]
pub struct StepReport {
    pub name: String,
    pub seconds: f64,
    pub success: bool,
    pub output: String,
    /// The names (never the values) of the variables a `run:` step's process got.
    pub env_names: Vec<String>,
}

impl RunReport {
    /// Every job that ran succeeded (skipped ones by their `if:` count as fine), and
    /// at least one ran.
    pub fn success(&self) -> bool {
        self.jobs.iter().any(|it| !it.skipped) && self.jobs.iter().all(|it| it.success || it.skipped)
    }

    pub fn job(&self, id: &str) -> Option<&JobReport> {
        self.jobs.iter().find(|it| it.id == id)
    }

    /// Every step's output, job by job, for an assertion message.
    pub fn log(&self) -> String {
        let mut out = String::new();
        for job in &self.jobs {
            if job.skipped {
                out.push_str(&format!("=== {} (skipped: its `if:` was false)\n", job.id));
            }
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

/// Runs the workflow's jobs for `event`, in `needs:` order; a job whose `if:` is
/// false (by default `success()`: every job it needs succeeded) is skipped.
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
        let context = Needs { job, report: &report, steps: None };
        let condition = job.condition.as_deref().unwrap_or("success()");
        let runs = expr::evaluate(condition, &context).with_context(|| format!("job {}: `if: {condition}`", job.id))?;
        if !runs.truthy() {
            report.jobs.push(JobReport { id: job.id.clone(), skipped: true, ..Default::default() });
            continue;
        }
        let done = run_job(job, config, event, &report, &artifacts)?;
        report.jobs.push(done);
    }
    Ok(report)
}

/// What an `if:` sees: the jobs this one needs (and, in a step, the outputs of
/// the steps before it).
struct Needs<'a> {
    job: &'a Job,
    report: &'a RunReport,
    steps: Option<&'a BTreeMap<String, BTreeMap<String, String>>>,
}

impl expr::Context for Needs<'_> {
    fn lookup(&self, path: &[&str]) -> Option<expr::Value> {
        match path {
            ["needs", job, rest @ ..] if self.job.needs.iter().any(|it| it == job) => {
                let report = self.report.job(job)?;
                match rest {
                    ["result"] => Some(expr::Value::Text(report.result().to_owned())),
                    ["outputs", name] => {
                        Some(report.outputs.get(*name).map_or(expr::Value::Null, |it| expr::Value::Text(it.clone())))
                    }
                    _ => None,
                }
            }
            ["steps", id, "outputs", name] => {
                let outputs = self.steps?.get(*id)?;
                Some(outputs.get(*name).map_or(expr::Value::Null, |it| expr::Value::Text(it.clone())))
            }
            _ => None,
        }
    }

    fn status(&self, function: &str) -> Option<bool> {
        // In a step, every step before it succeeded (a failed step ends the job).
        if self.steps.is_some() {
            return match function {
                "success" => Some(true),
                "failure" | "cancelled" => Some(false),
                _ => None,
            };
        }
        let results = self.job.needs.iter().map(|need| self.report.job(need).map_or("skipped", |it| it.result()));
        let results: Vec<&str> = results.collect();
        match function {
            "success" => Some(results.iter().all(|it| *it == "success")),
            "failure" => Some(results.contains(&"failure")),
            "cancelled" => Some(false),
            _ => None,
        }
    }
}

/// Percent-encodes a query value (RFC 3986 unreserved characters stay).
fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The per-job state of a run.
struct JobRun<'a> {
    /// The variable names of the last `run:` step, for its report.
    step_env_names: Vec<String>,
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
    env.push(("GITHUB_JOB".to_owned(), job.id.clone()));
    if job.id_token {
        for (name, value) in &config.oidc {
            let value = match (&job.environment, name.as_str()) {
                (Some(environment), "ACTIONS_ID_TOKEN_REQUEST_URL") => {
                    format!("{value}&castack_environment={}", percent_encode(environment))
                }
                _ => value.clone(),
            };
            env.push((name.clone(), value));
        }
    }
    let mut secrets = config.secrets.clone();
    if let Some(environment) = &job.environment {
        secrets.extend(config.environment_secrets.get(environment).cloned().unwrap_or_default());
    }
    let mut state = JobRun {
        step_env_names: Vec::new(),
        workspace,
        temp,
        env,
        steps: BTreeMap::new(),
        needs: done,
        secrets: &secrets,
        event,
    };
    let mut report = JobReport { id: job.id.clone(), success: true, ..Default::default() };
    let deadline = Instant::now() + job.timeout;
    for (n, step) in job.steps.iter().enumerate() {
        if let Some(condition) = &step.condition {
            let context = Needs { job, report: done, steps: Some(&state.steps) };
            let runs = expr::evaluate(condition, &context)
                .with_context(|| format!("job {}, {}: `if: {condition}`", job.id, step.name))?;
            if !runs.truthy() {
                continue;
            }
        }
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
            env_names: std::mem::take(&mut state.step_env_names),
        });
        if let Some(hook) = config.after_step {
            let (workspace, temp) = (&state.workspace, &state.temp);
            hook(&StepPlace { job: &job.id, step: &step.name, workspace, temp, artifacts });
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
        // The runner's file commands live in RUNNER_TEMP, as on GitHub (where build
        // code can see them too).
        let files = self.temp.join("_runner_file_commands").join(format!("step-{n}"));
        fs::create_dir_all(&files)?;
        let (output_file, env_file, summary) = (files.join("output"), files.join("env"), files.join("summary"));
        let script_file = files.join("script.sh");
        for file in [&output_file, &env_file, &summary] {
            fs::write(file, "")?;
        }
        fs::write(&script_file, script)?;
        let mut cmd = Command::new("bash");
        match step.shell {
            Shell::Default => cmd.arg("-e"),
            Shell::Bash => cmd.args(["--noprofile", "--norc", "-eo", "pipefail"]),
        };
        cmd.arg(&script_file).current_dir(&self.workspace);
        cmd.env_clear().envs(self.env.iter().map(|(k, v)| (k, v)));
        for (name, value) in &step.env {
            cmd.env(name, self.resolve(value)?);
        }
        cmd.env("GITHUB_OUTPUT", &output_file).env("GITHUB_ENV", &env_file).env("GITHUB_STEP_SUMMARY", &summary);
        let mut names: Vec<String> =
            cmd.get_envs().filter(|(_, v)| v.is_some()).map(|(k, _)| k.to_string_lossy().into_owned()).collect();
        names.sort();
        self.step_env_names = names;
        let output = process::run_bounded(cmd, deadline)?;
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

    /// A one-commit repository tagged `v1` and a scratch folder, removed at the end.
    struct Sandbox {
        dir: PathBuf,
        sha: String,
    }

    impl Sandbox {
        fn new() -> Sandbox {
            static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let dir = std::env::temp_dir().join(format!("castack-workflow-{}-{n}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            let repo = dir.join("repo");
            fs::create_dir_all(&repo).unwrap();
            fs::write(repo.join("a.txt"), "a\n").unwrap();
            let git = |args: &[&str]| {
                let out = Command::new("git")
                    .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
                    .args(args)
                    .current_dir(&repo)
                    .output()
                    .unwrap();
                assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
                String::from_utf8(out.stdout).unwrap()
            };
            git(&["init", "-q", "-b", "main"]);
            git(&["add", "-A"]);
            git(&["commit", "-qm", "one"]);
            fs::write(repo.join("b.txt"), "b\n").unwrap();
            git(&["add", "-A"]);
            git(&["commit", "-qm", "two"]);
            git(&["tag", "v1"]);
            git(&["tag", "other"]);
            let sha = git(&["rev-parse", "HEAD"]).trim().to_owned();
            Sandbox { dir, sha }
        }

        fn run(&self, yaml: &str, event: Event, hook: Option<&dyn Fn(&StepPlace<'_>)>) -> RunReport {
            let config = RunConfig {
                repo: self.dir.join("repo"),
                sha: self.sha.clone(),
                scratch: self.dir.join("scratch"),
                secrets: [("S".to_owned(), "secret-value".to_owned())].into(),
                environment_secrets: [("env-a".to_owned(), [("S".to_owned(), "env-value".to_owned())].into())].into(),
                runner_env: vec![("PATH".to_owned(), std::env::var("PATH").unwrap())],
                oidc: vec![("ACTIONS_ID_TOKEN_REQUEST_URL".to_owned(), "http://127.0.0.1:9/token".to_owned())],
                after_step: hook,
            };
            run(&Workflow::parse(yaml).unwrap(), &config, &event).unwrap()
        }
    }

    impl Drop for Sandbox {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }

    const HAND_OFF: &str = r#"
jobs:
  first:
    outputs:
      value: ${{ steps.set.outputs.value }}
    steps:
      - uses: actions/checkout@x
      - id: set
        run: |
          echo "value=from-first" >> "$GITHUB_OUTPUT"
          echo "job $GITHUB_JOB ref $GITHUB_REF tags $(git tag | tr '\n' ' ')commits $(git rev-list --count HEAD)"
          mkdir out && echo hi > out/file && echo hidden > out/.hidden && chmod +x out/file
      - uses: actions/upload-artifact@x
        with:
          name: out
          path: out/
  second:
    needs: first
    permissions:
      id-token: write
    steps:
      - uses: actions/download-artifact@x
        with:
          name: out
          path: got
      - env:
          VALUE: ${{ needs.first.outputs.value }}
          SECRET: ${{ secrets.S }}
        run: |
          echo "value $VALUE secret $SECRET oidc ${ACTIONS_ID_TOKEN_REQUEST_URL:-none}"
          ls -A got | tr '\n' ' '
          test ! -x got/file && echo "not executable"
"#;

    #[test]
    fn runs_jobs_in_order_and_hands_outputs_and_artifacts_on() {
        let sandbox = Sandbox::new();
        let report = sandbox.run(HAND_OFF, Event::TagPush("v1".to_owned()), None);
        let log = report.log();
        assert!(report.success(), "{log}");
        // The event's commit alone, with its tag only, as actions/checkout fetches it.
        assert!(log.contains("job first ref refs/tags/v1 tags v1 commits 1"), "{log}");
        assert!(log.contains("value from-first secret secret-value oidc http://127.0.0.1:9/token"), "{log}");
        // upload-artifact leaves dotfiles out; a download loses the executable bit.
        assert!(log.contains("\nfile not executable\n") && !log.contains(".hidden"), "{log}");

        let report = sandbox.run(HAND_OFF, Event::Dispatch("main".to_owned()), None);
        assert!(report.log().contains("job first ref refs/heads/main tags commits 1"), "{}", report.log());
    }

    #[test]
    fn conditions_skip_jobs_and_steps_and_environments_bring_their_secrets() {
        let sandbox = Sandbox::new();
        let yaml = r#"
jobs:
  first:
    outputs:
      private: ${{ steps.o.outputs.private }}
    steps:
      - id: o
        run: echo "private=false" >> "$GITHUB_OUTPUT"
  optional:
    needs: first
    if: needs.first.outputs.private == 'true'
    steps:
      - run: echo optional ran
  last:
    needs: [first, optional]
    if: ${{ !cancelled() && needs.first.result == 'success' && (needs.optional.result == 'success' || needs.optional.result == 'skipped') }}
    environment: env-a
    permissions:
      id-token: write
    steps:
      - if: needs.first.outputs.private == 'true'
        run: echo step ran
      - env:
          S: ${{ secrets.S }}
        run: echo "secret $S url $ACTIONS_ID_TOKEN_REQUEST_URL"
  plain:
    needs: optional
    steps:
      - run: echo plain ran
"#;
        let report = sandbox.run(yaml, Event::Dispatch("main".to_owned()), None);
        let log = report.log();
        assert!(report.success(), "{log}");
        assert!(report.job("optional").unwrap().skipped && report.job("plain").unwrap().skipped, "{log}");
        assert!(!log.contains("optional ran") && !log.contains("step ran") && !log.contains("plain ran"), "{log}");
        assert!(log.contains("secret env-value url http://127.0.0.1:9/token&castack_environment=env-a"), "{log}");
    }

    #[test]
    fn a_failed_job_skips_what_needs_it_and_the_hook_sees_each_step() {
        let sandbox = Sandbox::new();
        let seen = std::sync::Mutex::new(Vec::new());
        let hook = |place: &StepPlace<'_>| seen.lock().unwrap().push(format!("{}/{}", place.job, place.step));
        let yaml = "jobs:
  a:
    steps:
      - name: fails
        run: exit 3
  b:
    needs: a
    steps:
      - run: echo b
  c:
    needs: b
    steps:
      - run: echo c
";
        let report = sandbox.run(yaml, Event::Dispatch("main".to_owned()), Some(&hook));
        assert!(!report.success());
        assert!(report.job("b").unwrap().skipped && report.job("c").unwrap().skipped, "{report:?}");
        assert_eq!(*seen.lock().unwrap(), ["a/fails"]);
    }

    #[test]
    fn shells_are_githubs_and_a_timeout_kills_the_whole_step() {
        let sandbox = Sandbox::new();
        // `bash -e {0}` by default: a failure inside a pipe goes unnoticed, as on
        // GitHub; `shell: bash` adds pipefail.
        let pipe = "jobs:
  a:
    steps:
      - run: false | true
";
        assert!(sandbox.run(pipe, Event::Dispatch("main".to_owned()), None).success());
        let pipefail = "defaults:
  run:
    shell: bash
jobs:
  a:
    steps:
      - run: false | true
";
        assert!(!sandbox.run(pipefail, Event::Dispatch("main".to_owned()), None).success());

        let marker = sandbox.dir.join("still-running");
        let slow = format!(
            "jobs:
  a:
    timeout-minutes: 0.02
    steps:
      - run: (sleep 3 && touch '{}') & sleep 30
",
            marker.display()
        );
        let started = Instant::now();
        let report = sandbox.run(&slow, Event::Dispatch("main".to_owned()), None);
        assert!(!report.success() && report.log().contains("timeout-minutes ran out"), "{}", report.log());
        assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
        std::thread::sleep(Duration::from_secs(4));
        assert!(!marker.exists(), "a process of the stopped step lived on");
    }
}
