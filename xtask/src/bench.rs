//! `cargo xtask bench [NAME]`: side-by-side measurements, each printed as medians of
//! several runs and the ratio against its baseline measured in the same run on the
//! same machine (the machines are shared and noisy, so only ratios mean much).
//!
//! - `compile`: cold build of the release path vs a crate with the same dependencies
//!   at their default features (`xtask/bench/baseline`), plus the sizes;
//! - `startup`: `cargo xtask --help` (what cargo costs on each call) and the binary;
//! - `auth`: our token + endpoint step vs the AWS CLI's `get-authorization-token` +
//!   `get-repository-endpoint`, on the local stack;
//! - `release`: a full release vs the hand-written sequence a single-job setup runs
//!   (AWS CLI for token and endpoint, `python -m build`, `twine upload`; "the
//!   guide's" in the output), on the local stack;
//! - `rerun`: a re-run of a published version (must upload nothing) vs the build alone;
//! - `ci`: `release.yml` run cold, job by job, vs that sequence as one CI job
//!   (see `ci.rs`). `release` and `rerun` are the warm figures;
//! - `policy`: `check-iam`'s trust analysis on generated worst-case documents of
//!   up to IAM's size limit, against its 0.5 s bound (see `policy.rs`).
//! - `inspect`: the Check artifacts step of `--publish-only` on the worst archives,
//!   time and peak memory against the untouched build (see `inspect.rs`).

use std::{
    env, fs,
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use xshell::Shell;

mod child;
mod ci;
mod inspect;
mod policy;

use child::{timed, timed_within};

use crate::{
    flags,
    flags::BenchName,
    project,
    python::{self, ToolLock},
    redact, report,
};

impl flags::Bench {
    pub fn run(self, sh: &Shell) -> Result<()> {
        let root = project::find_root()?;
        let names: Vec<BenchName> = match self.name.unwrap_or(BenchName::All) {
            BenchName::AuthProbe => return auth_probe(&root),
            BenchName::All => BenchName::EACH.to_vec(),
            one => vec![one],
        };
        let runs = self.runs.unwrap_or(5).max(1);
        let cores = std::thread::available_parallelism().map(|it| it.get()).unwrap_or(1);
        report::say(&format!("benchmarks on {cores} core(s), medians of {runs} run(s); ratios are ours / baseline"));
        let needs_stack =
            names.iter().any(|it| [BenchName::Auth, BenchName::Release, BenchName::Rerun, BenchName::Ci].contains(it));
        let stack = if needs_stack { Some(crate::sandbox::start_stack(sh, &root)?) } else { None };
        let bench = Bench { root: root.clone(), runs, stack };
        let mut results = Vec::new();
        for name in &names {
            let lines = match *name {
                BenchName::Startup => bench.startup()?,
                BenchName::Auth => bench.auth(sh)?,
                // Both come from one series of releases.
                BenchName::Rerun if names.contains(&BenchName::Release) => continue,
                BenchName::Release | BenchName::Rerun => bench.release_and_rerun(sh, &names)?,
                BenchName::Compile => bench.compile(self.compile_runs.unwrap_or(1).max(1))?,
                BenchName::Ci => bench.ci(sh, self.compile_runs.unwrap_or(1).max(1))?,
                BenchName::Policy => policy::run(runs),
                BenchName::Inspect => inspect::inspect(sh, &bench.root)?,
                BenchName::All | BenchName::AuthProbe => continue,
            };
            for line in &lines {
                report::say(line);
            }
            results.extend(lines);
        }
        // The results once more, on stdout, for a caller to keep.
        for line in &results {
            report::out(line);
        }
        Ok(())
    }
}

struct Bench {
    root: PathBuf,
    runs: usize,
    stack: Option<crate::sandbox::Stack>,
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

fn ratio(ours: Duration, base: Duration) -> String {
    format!("{:.2}", ours.as_secs_f64() / base.as_secs_f64().max(1e-9))
}

impl Bench {
    fn xtask(&self) -> Result<PathBuf> {
        env::current_exe().context("find the xtask binary")
    }

    /// A command that talks to the stack (see `sandbox::Stack::command`).
    fn with_stack(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        match &self.stack {
            Some(stack) => stack.command(program),
            None => Command::new(program),
        }
    }

    fn startup(&self) -> Result<Vec<String>> {
        let xtask = self.xtask()?;
        let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut through_cargo = Vec::new();
        let mut binary = Vec::new();
        // One warm-up each, so that cargo has nothing to rebuild.
        for i in 0..=self.runs {
            let (t, _) = timed(Command::new(&cargo).args(["xtask", "--help"]).current_dir(&self.root))?;
            let (b, _) = timed(Command::new(&xtask).arg("--help").current_dir(&self.root))?;
            if i > 0 {
                through_cargo.push(t);
                binary.push(b);
            }
        }
        let (c, b) = (median(through_cargo), median(binary));
        Ok(vec![format!(
            "startup: `cargo xtask --help` {} (budget 0.300 s: {}), the binary alone {}; cargo's share {}",
            secs(c),
            if c <= Duration::from_millis(300) { "met" } else { "MISSED" },
            secs(b),
            ratio(c - b.min(c), c)
        )])
    }

    fn aws_cli(&self, sh: &Shell) -> Result<PathBuf> {
        Ok(python::ensure(sh, &self.root, ToolLock::Bench)?.python)
    }

    fn var(&self, name: &str) -> Result<&str> {
        let vars = self.stack.as_ref().map(|it| it.vars()).unwrap_or_default();
        vars.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .with_context(|| format!("the stack has no {name}"))
    }

    /// The baseline's way to the token and the endpoint: two AWS CLI calls.
    fn cli_token_and_endpoint(&self, aws: &Path) -> Result<(String, String)> {
        let (domain, owner, repo) = (
            self.var("CODEARTIFACT_DOMAIN")?,
            self.var("CODEARTIFACT_DOMAIN_OWNER")?,
            self.var("CODEARTIFACT_REPOSITORY")?,
        );
        let cli = |args: &[&str]| -> Result<String> {
            let (_, out) = timed(
                self.with_stack(aws).args(["-m", "awscli", "codeartifact"]).args(args).args(["--output", "text"]),
            )?;
            Ok(String::from_utf8(out.stdout)?.trim().to_owned())
        };
        let token = cli(&[
            "get-authorization-token",
            "--domain",
            domain,
            "--domain-owner",
            owner,
            "--query",
            "authorizationToken",
        ])?;
        redact::register(&token);
        let endpoint = cli(&[
            "get-repository-endpoint",
            "--domain",
            domain,
            "--domain-owner",
            owner,
            "--repository",
            repo,
            "--format",
            "pypi",
            "--query",
            "repositoryEndpoint",
        ])?;
        Ok((token, endpoint))
    }

    fn auth(&self, sh: &Shell) -> Result<Vec<String>> {
        let aws = self.aws_cli(sh)?;
        let mut ours = Vec::new();
        let mut cli = Vec::new();
        for i in 0..=self.runs {
            let (o, _) = timed(self.with_stack(self.xtask()?).args(["bench", "auth-probe"]).current_dir(&self.root))?;
            let start = Instant::now();
            self.cli_token_and_endpoint(&aws)?;
            let c = start.elapsed();
            if i > 0 {
                ours.push(o);
                cli.push(c);
            }
        }
        let (o, c) = (median(ours), median(cli));
        Ok(vec![format!(
            "auth: token + endpoint {} (credentials, two calls; a whole process) vs AWS CLI {}: ratio {} (target 0.10)",
            secs(o),
            secs(c),
            ratio(o, c)
        )])
    }

    fn release_and_rerun(&self, sh: &Shell, names: &[BenchName]) -> Result<Vec<String>> {
        let tools = python::ensure(sh, &self.root, ToolLock::Release)?.python;
        let aws = self.aws_cli(sh)?;
        let ours_repo = copy_repo(&self.root, "ours")?;
        let base_repo = copy_repo(&self.root, "baseline")?;
        let mut ours = Vec::new();
        let mut base = Vec::new();
        // Run 0 warms both sides up and is not counted.
        for i in 0..=self.runs {
            let o = self.our_release(ours_repo.path(), &format!("v0.0.{i}"), "2 uploaded")?;
            let b = self.guide_release(&tools, &aws, base_repo.path(), i)?;
            if i > 0 {
                ours.push(o);
                base.push(b);
            }
        }
        let mut lines = Vec::new();
        let (o, b) = (median(ours), median(base));
        if names.contains(&BenchName::Release) {
            lines.push(format!(
                "release: full release {} (build, verify, authenticate, hash-checked upload, confirm) vs the guide's \
                 sequence {}: ratio {} (target 0.50)",
                secs(o),
                secs(b),
                ratio(o, b)
            ));
        }
        if names.contains(&BenchName::Rerun) {
            lines.push(self.rerun(&tools, ours_repo.path(), base_repo.path())?);
        }
        Ok(lines)
    }

    /// One of our releases of `version` (tagged at HEAD first, as a real publish
    /// needs), checked by a line its output must hold.
    fn our_release(&self, repo: &Path, version: &str, must_say: &str) -> Result<Duration> {
        if !Command::new("git")
            .args(["rev-parse", "-q", "--verify", &format!("refs/tags/{version}")])
            .current_dir(repo)
            .output()?
            .status
            .success()
        {
            timed(Command::new("git").args(["tag", version]).current_dir(repo))?;
        }
        let (elapsed, out) = timed(
            self.with_stack(self.xtask()?)
                .args(["release", version])
                .current_dir(repo)
                .env("XTASK_TOOLS_DIR", python::tools_root(&self.root)),
        )?;
        let log = String::from_utf8_lossy(&out.stderr);
        if !log.contains(must_say) {
            bail!("the release of {version} did not say {must_say:?}:\n{log}");
        }
        Ok(elapsed)
    }

    /// The baseline's steps, as a single-job workflow runs them: version into the file,
    /// token and endpoint from the AWS CLI, `python -m build`, `twine upload`.
    fn guide_release(&self, tools: &Path, aws: &Path, repo: &Path, i: usize) -> Result<Duration> {
        let start = Instant::now();
        fs::write(repo.join("yamause/__about__.py"), format!("__version__ = \"1.0.{i}\"\n"))?;
        let (token, endpoint) = self.cli_token_and_endpoint(aws)?;
        let dist = repo.join(format!("dist-{i}"));
        // The guide's `python -m build`: isolated, so its backend comes from PyPI each time.
        timed(Command::new(tools).args(["-m", "build", "--outdir"]).arg(&dist).arg(repo))?;
        let files: Vec<PathBuf> = fs::read_dir(&dist)?.filter_map(|it| it.ok().map(|e| e.path())).collect();
        timed(
            Command::new(tools)
                .args(["-m", "twine", "upload", "--non-interactive", "--disable-progress-bar"])
                .args(&files)
                .env("TWINE_USERNAME", "aws")
                .env("TWINE_PASSWORD", &token)
                .env("TWINE_REPOSITORY_URL", &endpoint),
        )?;
        Ok(start.elapsed())
    }

    /// A re-run of the published v0.0.0 (it must upload nothing) vs the build alone.
    fn rerun(&self, tools: &Path, ours: &Path, base: &Path) -> Result<String> {
        let mut rerun = Vec::new();
        let mut build = Vec::new();
        for i in 0..=self.runs {
            let r = self.our_release(ours, "v0.0.0", "0 uploaded, 2 already published")?;
            let out_dir = base.join("rebuild");
            let _ = fs::remove_dir_all(&out_dir);
            let (b, _) = timed(Command::new(tools).args(["-m", "build", "--outdir"]).arg(&out_dir).arg(ours))?;
            if i > 0 {
                rerun.push(r);
                build.push(b);
            }
        }
        let (r, b) = (median(rerun), median(build));
        Ok(format!(
            "rerun: re-run of a published version {} (no uploads) vs `python -m build` alone {}: ratio {} (target \
             under 1.50)",
            secs(r),
            secs(b),
            ratio(r, b)
        ))
    }

    fn compile(&self, runs: usize) -> Result<Vec<String>> {
        let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let target = project::target_dir(&self.root).join("bench-compile");
        let baseline = self.root.join("xtask/bench/baseline");
        let mut ours = Vec::new();
        let mut base = Vec::new();
        let mut sizes = (0, 0, 0);
        // Dependencies are downloaded first, so that only compiling is measured.
        timed(Command::new(&cargo).args(["fetch", "--locked", "--quiet"]).current_dir(&self.root))?;
        timed(
            Command::new(&cargo)
                .args(["fetch", "--locked", "--quiet", "--manifest-path"])
                .arg(baseline.join("Cargo.toml")),
        )?;
        for _ in 0..runs {
            let dir = target.join("ours");
            let _ = fs::remove_dir_all(&dir);
            let (o, _) = timed(
                Command::new(&cargo)
                    .args(["build", "--locked", "--quiet", "--package", "xtask", "--no-default-features"])
                    .arg("--target-dir")
                    .arg(&dir)
                    .current_dir(&self.root),
            )?;
            sizes.0 = dir_size(&dir);
            sizes.1 = fs::metadata(dir.join("debug/xtask")).map(|it| it.len()).unwrap_or(0);
            let dir = target.join("baseline");
            let _ = fs::remove_dir_all(&dir);
            let (b, _) = timed(
                Command::new(&cargo)
                    .args(["build", "--locked", "--quiet", "--manifest-path"])
                    .arg(baseline.join("Cargo.toml"))
                    .arg("--target-dir")
                    .arg(&dir),
            )?;
            sizes.2 = dir_size(&dir);
            ours.push(o);
            base.push(b);
        }
        let _ = fs::remove_dir_all(&target);
        let (o, b) = (median(ours), median(base));
        let mib = |n: u64| format!("{:.0} MiB", n as f64 / 1048576.0);
        Ok(vec![format!(
            "compile: cold `cargo build -p xtask --no-default-features` (the release workflow's) {} vs the same \
             dependencies at default features {}: ratio {} \
             (budget 0.55, stretch 0.45); target/ {} vs {}; binary {}",
            secs(o),
            secs(b),
            ratio(o, b),
            mib(sizes.0),
            mib(sizes.2),
            mib(sizes.1)
        )])
    }
}

fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// A throwaway folder, removed when dropped: a copy of the repository's files in a
/// fresh git repository, or a benchmark's scratch folder.
struct Copy(PathBuf);

impl Copy {
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Copy {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn copy_repo(root: &Path, label: &str) -> Result<Copy> {
    let dst = env::temp_dir().join(format!("xtask-bench-{label}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dst);
    crate::git::copy_checkout(root, &dst)?;
    Ok(Copy(dst))
}

/// `xtask bench auth-probe`: the token + endpoint step alone, as a process (the
/// measured side of `auth`).
fn auth_probe(root: &Path) -> Result<()> {
    let project = project::Project::load(root)?;
    let settings = match crate::settings::from_env(&project.pyproject)? {
        crate::settings::Target::Configured(s) => s,
        crate::settings::Target::Missing(m) => bail!("auth-probe needs the publish settings: {} missing", m.join(", ")),
    };
    let runtime = crate::aws::runtime()?;
    runtime.block_on(async {
        let session = crate::aws::authenticate(&settings, &mut Vec::new()).await?;
        crate::aws::token_and_endpoint(&session, &settings).await.map(|_| ())
    })
}
