//! `cargo xtask bench ci`: a release as CI pays for it, cold, side by side with the
//! baseline's single job (`bench.rs`; "the guide's" in the output).
//!
//! Ours is `.github/workflows/release.yml` itself, run by castack's local runner
//! (`run-workflow`): each job in a fresh clone with an empty cargo target folder and
//! empty tool folders, pip's and uv's caches off, crates already downloaded (as the
//! issue's figures assume). The baseline is one job in a fresh clone: a
//! fresh venv, `pip install build twine`, the AWS CLI's token and endpoint, an
//! isolated `python -m build`, `twine upload`. Both upload a new version to the
//! local stack. The runner's own start-up (a VM per job on GitHub) is not counted on
//! either side, though ours has three jobs (one after another) and the baseline one.

use std::{
    env, fs,
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use xshell::Shell;

use super::{Bench, median, ratio, secs, timed};
use crate::{
    python::{self, ToolLock},
    redact, settings,
};

/// One measured phase.
struct Phase {
    name: String,
    time: Duration,
}

/// One cold run of either side: its phases in order.
struct Sample {
    phases: Vec<Phase>,
}

impl Sample {
    fn total(&self) -> Duration {
        self.phases.iter().map(|it| it.time).sum()
    }

    fn phase(&self, prefix: &str) -> Duration {
        self.phases.iter().filter(|it| it.name.starts_with(prefix)).map(|it| it.time).sum()
    }
}

impl Bench {
    pub(super) fn ci(&self, sh: &Shell, runs: usize) -> Result<Vec<String>> {
        let runner = self.build_runner()?;
        let aws = python::ensure(sh, &self.root, ToolLock::Bench)?.python;
        let scratch = env::temp_dir().join(format!("xtask-bench-ci-{}", std::process::id()));
        let _ = fs::remove_dir_all(&scratch);
        let mut ours = Vec::new();
        let mut base = Vec::new();
        for i in 0..runs {
            let dir = scratch.join(format!("run-{i}"));
            ours.push(self.ci_ours(&runner, &dir.join("ours"), &format!("v0.9.{i}")).context("run release.yml")?);
            base.push(self.ci_guide(&aws, &dir.join("guide"), i).context("run the guide's job")?);
            let _ = fs::remove_dir_all(&dir);
        }
        let _ = fs::remove_dir_all(&scratch);
        Ok(report(&ours, &base))
    }

    /// Builds castack's `run-workflow` (not measured) and returns its path.
    fn build_runner(&self) -> Result<PathBuf> {
        let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        timed(Command::new(&cargo).args(["fetch", "--locked", "--quiet"]).current_dir(&self.root))?;
        timed(
            Command::new(&cargo)
                .args(["build", "--locked", "--quiet", "--package", "castack", "--bin", "run-workflow"])
                .current_dir(&self.root),
        )?;
        Ok(crate::project::target_dir(&self.root).join("debug/run-workflow"))
    }

    /// A command talking to the stack, with the environment of a fresh runner: none
    /// of this process's cargo, tool-folder or cache settings, no static keys.
    fn cold(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = self.with_stack(program);
        for (key, _) in env::vars_os() {
            let name = key.to_string_lossy();
            let cargo_state = (name.starts_with("CARGO") && name != "CARGO_HOME") || name == "RUSTC_WRAPPER";
            if cargo_state || name.starts_with("XTASK_") || name == "PIP_FIND_LINKS" {
                cmd.env_remove(&key);
            }
        }
        cmd.env("PIP_NO_CACHE_DIR", "1").env("UV_NO_CACHE", "1");
        cmd
    }

    fn ci_ours(&self, runner: &Path, dir: &Path, tag: &str) -> Result<Sample> {
        let repo = dir.join("repo");
        crate::git::copy_checkout(&self.root, &repo)?;
        timed(Command::new("git").args(["tag", tag]).current_dir(&repo))?;
        let mut cmd = self.cold(runner);
        cmd.arg("--workflow").arg(repo.join(".github/workflows/release.yml"));
        cmd.arg("--repo").arg(&repo).arg("--scratch").arg(dir.join("scratch")).args(["--tag", tag]);
        for key in settings::WORKFLOW_SECRETS {
            cmd.args(["--secret", key.env]);
        }
        // As on GitHub: the role comes from a secret, the keys from OIDC alone.
        cmd.env("AWS_ROLE_ARN", self.var("CASTACK_ROLE_ARN")?);
        cmd.env_remove("AWS_ACCESS_KEY_ID").env_remove("AWS_SECRET_ACCESS_KEY").env_remove("AWS_SESSION_TOKEN");
        let (_, out) = timed(&mut cmd)?;
        let mut phases = Vec::new();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let fields: Vec<&str> = line.split('\t').collect();
            let [job, step, seconds, "ok"] = fields[..] else { bail!("run-workflow printed {line:?}") };
            let time = Duration::from_secs_f64(seconds.parse().with_context(|| format!("read {line:?}"))?);
            phases.push(Phase { name: format!("{job} / {step}"), time });
        }
        let log = String::from_utf8_lossy(&out.stderr);
        if !log.contains("2 uploaded") {
            bail!("release.yml did not upload 2 files:\n{}", redact::scrub(&log));
        }
        Ok(Sample { phases })
    }

    /// The baseline's single job, phase by phase, in a fresh clone.
    fn ci_guide(&self, aws: &Path, dir: &Path, i: usize) -> Result<Sample> {
        let source = dir.join("repo");
        crate::git::copy_checkout(&self.root, &source)?;
        let work = dir.join("work");
        let mut phases = Vec::new();
        let mut phase = |name: &str, cmd: &mut Command| -> Result<()> {
            let (time, _) = timed(cmd)?;
            phases.push(Phase { name: name.to_owned(), time });
            Ok(())
        };
        phase("checkout", Command::new("git").args(["clone", "-q", "--no-local"]).arg(&source).arg(&work))?;
        fs::write(work.join("yamause/__about__.py"), format!("__version__ = \"0.8.{i}\"\n"))?;
        let venv = work.join(".venv");
        phase("venv", self.cold(python::PYTHON).args(["-m", "venv"]).arg(&venv))?;
        let python = venv.join("bin/python");
        let pip = ["-m", "pip", "install", "--disable-pip-version-check", "build", "twine"];
        phase("pip install build twine", self.cold(&python).args(pip))?;
        let start = Instant::now();
        let (token, endpoint) = self.cli_token_and_endpoint(aws)?;
        let cli = Phase { name: "AWS CLI token and endpoint".to_owned(), time: start.elapsed() };
        let dist = work.join("dist");
        phase("python -m build", self.cold(&python).args(["-m", "build", "--outdir"]).arg(&dist).arg(&work))?;
        let files: Vec<PathBuf> = fs::read_dir(&dist)?.filter_map(|it| it.ok().map(|e| e.path())).collect();
        let mut upload = self.cold(&python);
        upload.args(["-m", "twine", "upload", "--non-interactive", "--disable-progress-bar"]).args(&files);
        upload.env("TWINE_USERNAME", "aws").env("TWINE_PASSWORD", &token).env("TWINE_REPOSITORY_URL", &endpoint);
        phase("twine upload", &mut upload)?;
        phases.insert(3, cli);
        Ok(Sample { phases })
    }
}

/// The phases of the median run of each side, the totals and the ratio.
fn report(ours: &[Sample], base: &[Sample]) -> Vec<String> {
    let pick = |samples: &[Sample]| -> usize {
        let m = median(samples.iter().map(Sample::total).collect());
        samples.iter().position(|it| it.total() == m).unwrap_or(0)
    };
    let (o, b) = (&ours[pick(ours)], &base[pick(base)]);
    let mut lines = vec![format!("ci: cold, {} run(s) per side, the median run's phases:", ours.len())];
    for phase in &o.phases {
        lines.push(format!("ci:   release.yml  {:<60} {}", phase.name, secs(phase.time)));
    }
    for phase in &b.phases {
        lines.push(format!("ci:   guide        {:<60} {}", phase.name, secs(phase.time)));
    }
    let (publish, compile) = (o.phase("publish /"), o.phase("compile / Compile"));
    let verdict = |d: Duration, budget: u64| if d <= Duration::from_secs(budget) { "met" } else { "MISSED" };
    lines.push(format!(
        "ci: compile job {}, of which the compile {} (target 40 s: {}); build job {}; publish job {} (target 10 s: {})",
        secs(o.phase("compile /")),
        secs(compile),
        verdict(compile, 40),
        secs(o.phase("build /")),
        secs(publish),
        verdict(publish, 10)
    ));
    let ratio_value = o.total().as_secs_f64() / b.total().as_secs_f64().max(1e-9);
    lines.push(format!(
        "ci: release.yml {} vs the guide's job {}: ratio {} (target 4.0: {})",
        secs(o.total()),
        secs(b.total()),
        ratio(o.total(), b.total()),
        if ratio_value <= 4.0 { "met" } else { "MISSED" }
    ));
    lines
}
