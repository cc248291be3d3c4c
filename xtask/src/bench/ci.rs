//! `cargo xtask bench ci`: a release as CI pays for it, cold, job by job, with what
//! a GitHub-hosted runner adds (a start-up per job, each artifact's upload and
//! download), in three shapes of the workflow side by side (`shapes.rs`), and
//! beside the baseline's single job (`bench.rs`; "the guide's" in the output).
//!
//! Ours is `.github/workflows/release.yml` itself, run by castack's local runner
//! (`run-workflow`): each job in a fresh clone with an empty cargo target folder and
//! empty tool folders, pip's and uv's caches off, crates already downloaded (as the
//! issue's figures assume). Then, in the same run: a cold compile at default
//! features, and the parts of the estimate of a compile without the AWS SDK
//! (`compile.rs`); each artifact is zipped and unzipped as the artifact actions do.
//! The baseline is one job in a fresh clone: a fresh venv, `pip install build
//! twine`, the AWS CLI's token and endpoint, an isolated `python -m build`, `twine
//! upload`. Both upload a new version to the local stack.

use std::{
    collections::BTreeMap,
    env, fs,
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use xshell::Shell;

use super::{Bench, timed, timed_within};
use crate::{
    python::{self, ToolLock},
    redact, settings,
};

mod compile;
mod shapes;
mod summary;

use shapes::{Direction, Job, Measured, Step};

/// How long `run-workflow` may take: its jobs stop themselves at their
/// `timeout-minutes` (20 each), so this only catches a runner that hangs.
const WORKFLOW_LIMIT: Duration = Duration::from_secs(65 * 60);

/// One measured phase of the guide's job.
struct Phase {
    name: String,
    time: Duration,
}

/// One cold run of everything `bench ci` compares.
struct Run {
    measured: Measured,
    guide: Vec<Phase>,
    /// The two parts of (iii)'s estimate, what cargo rebuilt for the second, and
    /// the dependencies the first left out.
    without_aws_deps: Duration,
    own_crate: Duration,
    rebuilt: Vec<String>,
    left_out: Vec<String>,
}

/// What `run-workflow` reported of release.yml.
struct WorkflowRun {
    jobs: Vec<Job>,
    /// Its `--scratch` folder, with the artifacts in `artifacts/NAME`.
    scratch: PathBuf,
}

impl Bench {
    pub(super) fn ci(&self, sh: &Shell, runs: usize) -> Result<Vec<String>> {
        let (load_before, started) = (load_average(), Instant::now());
        let runner = self.build_runner()?;
        let aws = python::ensure(sh, &self.root, ToolLock::Bench)?.python;
        let scratch = env::temp_dir().join(format!("xtask-bench-ci-{}", std::process::id()));
        let _ = fs::remove_dir_all(&scratch);
        // Removed however the run ends: its target folders take gigabytes.
        let _scratch = super::Copy(scratch.clone());
        let mut all = Vec::new();
        for i in 0..runs {
            let dir = scratch.join(format!("run-{i}"));
            all.push(self.ci_run(&runner, &aws, &dir, i)?);
            let _ = fs::remove_dir_all(&dir);
        }
        let cores = std::thread::available_parallelism().map(|it| it.get()).unwrap_or(1);
        let machine = format!(
            "{cores} core(s), 1-minute load average {load_before} before and {} after; took {:.0} s",
            load_average(),
            started.elapsed().as_secs_f64()
        );
        summary::lines(&all, &machine)
    }

    /// One cold run of each thing compared, one after another.
    fn ci_run(&self, runner: &Path, aws: &Path, dir: &Path, i: usize) -> Result<Run> {
        let ours = self.ci_ours(runner, &dir.join("ours"), &format!("v0.9.{i}")).context("run release.yml")?;
        let guide = self.ci_guide(aws, &dir.join("guide"), i).context("run the guide's job")?;
        let repo = dir.join("ours/repo");
        let (target_i, target_ii) = (dir.join("target-i"), dir.join("target-ii"));
        // Side by side, in turns (odd runs the other way round), so that a load
        // that rises or falls during the run does not favour one of them.
        let ((compile, _), (default_compile, binary)) = if i.is_multiple_of(2) {
            (self.release_build(&repo, &target_i, false)?, self.release_build(&repo, &target_ii, true)?)
        } else {
            let default = self.release_build(&repo, &target_ii, true)?;
            (self.release_build(&repo, &target_i, false)?, default)
        };
        let (without_aws_deps, left_out) = self.without_aws_build(&repo, &dir.join("without-aws"))?;
        let (own_crate, rebuilt) = self.own_crate_build(&repo, &target_i)?;
        let zips = dir.join("zip");
        let mut artifacts = BTreeMap::new();
        for (direction, name) in ours.jobs.iter().flat_map(|job| &job.steps).filter_map(|it| it.transfer.as_ref()) {
            if *direction == Direction::Upload && !artifacts.contains_key(name) {
                let artifact = compile::zip_artifact(&ours.scratch.join("artifacts").join(name), &zips)?;
                artifacts.insert(name.clone(), artifact);
            }
        }
        let default_binary = compile::zip_artifact(&binary, &zips)?;
        let without_aws_compile = without_aws_deps + own_crate;
        let measured =
            Measured { jobs: ours.jobs, artifacts, compile, default_compile, default_binary, without_aws_compile };
        Ok(Run { measured, guide, without_aws_deps, own_crate, rebuilt, left_out })
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

    fn ci_ours(&self, runner: &Path, dir: &Path, tag: &str) -> Result<WorkflowRun> {
        let repo = dir.join("repo");
        crate::git::copy_checkout(&self.root, &repo)?;
        timed(Command::new("git").args(["tag", tag]).current_dir(&repo))?;
        let scratch = dir.join("scratch");
        let mut cmd = self.cold(runner);
        cmd.arg("--workflow").arg(repo.join(".github/workflows/release.yml"));
        cmd.arg("--repo").arg(&repo).arg("--scratch").arg(&scratch).args(["--tag", tag]);
        for key in settings::WORKFLOW_SECRETS {
            cmd.args(["--secret", key.env]);
        }
        // As on GitHub: the role comes from a secret, the keys from OIDC alone.
        cmd.env("AWS_ROLE_ARN", self.var("CASTACK_ROLE_ARN")?);
        cmd.env_remove("AWS_ACCESS_KEY_ID").env_remove("AWS_SECRET_ACCESS_KEY").env_remove("AWS_SESSION_TOKEN");
        let (_, out) = timed_within(&mut cmd, WORKFLOW_LIMIT)?;
        let log = String::from_utf8_lossy(&out.stderr);
        if !log.contains("2 uploaded") {
            bail!("release.yml did not upload 2 files:\n{}", redact::scrub(&log));
        }
        let jobs = read_jobs(&String::from_utf8_lossy(&out.stdout), &log)?;
        Ok(WorkflowRun { jobs, scratch })
    }

    /// The baseline's single job, phase by phase, in a fresh clone.
    fn ci_guide(&self, aws: &Path, dir: &Path, i: usize) -> Result<Vec<Phase>> {
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
        Ok(phases)
    }
}

/// release.yml's jobs and steps from `run-workflow`'s stdout (one
/// `JOB<TAB>STEP<TAB>SECONDS<TAB>ok` line per step, in order), each artifact step
/// marked from its log (see [`moved_artifacts`]).
fn read_jobs(stdout: &str, log: &str) -> Result<Vec<Job>> {
    let mut moved = moved_artifacts(log);
    let mut jobs: Vec<Job> = Vec::new();
    for line in stdout.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        let [job, step, seconds, "ok"] = fields[..] else { bail!("run-workflow printed {line:?}") };
        let time = Duration::from_secs_f64(seconds.parse().with_context(|| format!("read {line:?}"))?);
        let transfer = moved.remove(&(job.to_owned(), step.to_owned()));
        if let Some((_, name)) = &transfer
            && !plain_name(name)
        {
            bail!("release.yml moved an artifact named {name:?}: the benchmark reads only plain names");
        }
        let step = Step { name: step.to_owned(), time, transfer };
        match jobs.last_mut() {
            Some(last) if last.id == job => last.steps.push(step),
            _ => jobs.push(Job { id: job.to_owned(), steps: vec![step] }),
        }
    }
    Ok(jobs)
}

/// The artifact each step moved: under a step's head `=== JOB / STEP (ok, …)` in
/// `run-workflow`'s log, an artifact action's whole output is one line,
/// `uploaded N file(s) as NAME` or `downloaded N file(s) of NAME`. A `run:` step
/// whose output were exactly such a line would be misread; release.yml's are not.
fn moved_artifacts(log: &str) -> BTreeMap<(String, String), (Direction, String)> {
    let lines: Vec<&str> = log.lines().collect();
    let mut out = BTreeMap::new();
    for (i, line) in lines.iter().enumerate() {
        let place = line.strip_prefix("=== ").and_then(|it| it.rsplit_once(" (ok, ")).map(|(place, _)| place);
        let Some((job, step)) = place.and_then(|it| it.split_once(" / ")) else { continue };
        let (Some(next), after) = (lines.get(i + 1), lines.get(i + 2)) else { continue };
        if after.is_some_and(|it| !it.starts_with("=== ")) {
            continue;
        }
        let moved = match (next.strip_prefix("uploaded "), next.strip_prefix("downloaded ")) {
            (Some(rest), _) => rest.split_once(" file(s) as ").map(|(_, name)| (Direction::Upload, name)),
            (_, Some(rest)) => rest.split_once(" file(s) of ").map(|(_, name)| (Direction::Download, name)),
            _ => None,
        };
        if let Some((direction, name)) = moved {
            out.insert((job.to_owned(), step.to_owned()), (direction, name.to_owned()));
        }
    }
    out
}

/// An artifact name that is safe as a folder name: letters, digits, `-`, `_`, `.`,
/// not starting with a dot.
fn plain_name(name: &str) -> bool {
    !name.is_empty() && !name.starts_with('.') && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// The first field of /proc/loadavg, or "unknown".
fn load_average() -> String {
    let text = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace().next().unwrap_or("unknown").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `run-workflow`'s output for a compile and a build job (shortened).
    const STDOUT: &str = "compile\tCheck out\t0.100\tok\ncompile\tCompile\t60.000\tok\n\
                          compile\tHand the release tool on\t0.020\tok\nbuild\tFetch the release tool\t0.010\tok\n\
                          build\tBuild and verify\t9.000\tok\nbuild\tHand the distributions on\t0.010\tok\n";
    const LOG: &str = "=== compile / Check out (ok, 0.1 s)\nchecked out abc\n\
                       === compile / Compile (ok, 60.0 s)\nuploaded 3 file(s) as fake\nxtask SHA-256 00\n\
                       === compile / Hand the release tool on (ok, 0.0 s)\nuploaded 1 file(s) as xtask\n\
                       === build / Fetch the release tool (ok, 0.0 s)\ndownloaded 1 file(s) of xtask\n\
                       === build / Build and verify (ok, 9.0 s)\n=== build / Hand the distributions on (ok, 0.0 s)\n\
                       uploaded 2 file(s) as dist\n";

    #[test]
    fn jobs_steps_and_artifact_moves_are_read_from_the_runner() {
        let jobs = read_jobs(STDOUT, LOG).unwrap();
        assert_eq!(jobs.iter().map(|it| it.id.as_str()).collect::<Vec<_>>(), ["compile", "build"]);
        let moves: Vec<_> = jobs.iter().flat_map(|it| &it.steps).map(|it| it.transfer.clone()).collect();
        let up = |name: &str| Some((Direction::Upload, name.to_owned()));
        // A script's output that starts like an artifact report (the Compile step
        // here) is no artifact move: an action's output is that one line alone.
        assert_eq!(moves, [None, None, up("xtask"), Some((Direction::Download, "xtask".to_owned())), None, up("dist")]);
        assert_eq!(jobs[0].steps[1].time, Duration::from_secs(60));
    }

    #[test]
    fn a_failed_step_or_an_odd_artifact_name_stops_the_benchmark() {
        assert!(read_jobs("compile\tCompile\t1.0\tfailed\n", "").is_err());
        let log = "=== build / Up (ok, 0.0 s)\nuploaded 1 file(s) as ../../etc\n";
        let err = read_jobs("build\tUp\t0.1\tok\n", log).unwrap_err().to_string();
        assert!(err.contains("plain names"), "{err}");
        for bad in ["", ".hidden", "a/b", "a\\b", "x y"] {
            assert!(!plain_name(bad), "{bad:?}");
        }
        assert!(plain_name("build-deps_1.0"));
    }
}
