//! The release workflow's critical path as GitHub-hosted runners pay for it, in
//! three shapes, from one measured run of `release.yml` and the cold compiles of
//! `compile.rs`:
//!
//! - (i) today's: compile → build → publish, one after another; the compile job's
//!   binary (`--no-default-features`) is downloaded by the build and publish jobs;
//! - (ii) the previous one: the same, the compile at default features (every
//!   command in the binary; the default features now also hold the IAM client,
//!   which the previous workflow did not compile);
//! - (iii) the build job compiles a binary of its own without the AWS SDK, so the
//!   compile and build jobs run side by side and the publish job waits for both.
//!
//! A local run has neither runner start-ups nor a network between jobs, so each job
//! is charged [`JOB_START`] and each artifact upload or download the zip or unzip
//! timed here (deflate at level 6, `actions/upload-artifact`'s default
//! `compression-level`) plus [`TRANSFER_CALLS`] and the zipped bytes at
//! [`WIRE_BYTES_PER_SEC`]. docs/ci.md gives the sources of the three constants.

use std::{collections::BTreeMap, time::Duration};

use anyhow::{Context, Result, bail};

/// Start-up of one job on a GitHub-hosted runner, from the previous job's end to
/// the first step: no GitHub document gives a figure, so this is an assumption
/// (docs/ci.md: a published run shows 6 s between dependent jobs and 2 to 3 s of
/// runner set-up, https://github.com/github/gh-aw/issues/21703; the runner
/// application's own start averages 3.7 s, https://depot.dev/blog/reducing-queue-time-with-cached-schemas).
pub(super) const JOB_START: Duration = Duration::from_secs(10);
/// The artifact service's calls of one upload (create, finalize) or download (find,
/// signed URL): a 13 MB download took about 1 s in all
/// (https://github.com/actions/download-artifact/issues/146).
pub(super) const TRANSFER_CALLS: Duration = Duration::from_secs(1);
/// Artifact throughput between a hosted runner and the artifact store, either way:
/// 5 GB uploaded and downloaded in 1.5 to 2 minutes with v4
/// (https://github.com/actions/upload-artifact/issues/199), rounded down to 40 MB/s.
pub(super) const WIRE_BYTES_PER_SEC: f64 = 40e6;

/// The job, step and artifact names of release.yml that the shapes rearrange; a
/// rename there makes the benchmark fail with this file's name, never guess.
pub(super) const COMPILE_JOB: &str = "compile";
pub(super) const COMPILE_STEP: &str = "Compile";
const BUILD_JOB: &str = "build";
const BUILD_DEPS_JOB: &str = "build-deps";
const PUBLISH_JOB: &str = "publish";
pub(super) const TOOL_ARTIFACT: &str = "xtask";
const HASH_CHECK_STEP: &str = "Check the release tool against the compile job's hash";

/// Which way an artifact moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Direction {
    Upload,
    Download,
}

/// One step of a measured job.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Step {
    pub name: String,
    /// Measured on this machine (for an artifact step: a local copy).
    pub time: Duration,
    /// The artifact an `actions/upload-artifact` or `download-artifact` step moves.
    pub transfer: Option<(Direction, String)>,
}

/// One measured job, its steps in order.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Job {
    pub id: String,
    pub steps: Vec<Step>,
}

/// An artifact as the artifact actions move it: one zip archive.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(super) struct Artifact {
    /// Bytes of its files, and of the zip.
    pub raw: u64,
    pub zipped: u64,
    /// Zipping it (deflate level 6) and unzipping it, timed here.
    pub zip: Duration,
    pub unzip: Duration,
}

impl Artifact {
    pub fn upload(&self) -> Duration {
        self.zip + TRANSFER_CALLS + wire(self.zipped)
    }

    pub fn download(&self) -> Duration {
        TRANSFER_CALLS + wire(self.zipped) + self.unzip
    }
}

fn wire(bytes: u64) -> Duration {
    Duration::from_secs_f64(bytes as f64 / WIRE_BYTES_PER_SEC)
}

/// What one job costs on the critical path.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct JobCost {
    pub id: String,
    /// Its steps but the artifact moves, as measured.
    pub work: Duration,
    /// Its artifact moves as a hosted runner pays for them.
    pub transfers: Duration,
}

impl JobCost {
    /// A single job's cost: one start-up and `work`.
    pub fn single(id: &str, work: Duration) -> JobCost {
        JobCost { id: id.to_owned(), work, transfers: Duration::ZERO }
    }

    pub fn total(&self) -> Duration {
        JOB_START + self.work + self.transfers
    }
}

/// A workflow's jobs as they run: stages one after another, the jobs of a stage
/// side by side on runners of their own.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Shape {
    pub stages: Vec<Vec<JobCost>>,
}

impl Shape {
    /// The longest way through: each stage ends with its slowest job.
    pub fn critical_path(&self) -> Duration {
        self.stages.iter().map(|stage| stage.iter().map(JobCost::total).max().unwrap_or_default()).sum()
    }

    #[cfg(test)]
    pub fn job(&self, id: &str) -> Option<&JobCost> {
        self.stages.iter().flatten().find(|it| it.id == id)
    }
}

/// Every measured input of the three shapes, from one run.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Measured {
    /// release.yml's jobs as they ran (a skipped job has none), in order.
    pub jobs: Vec<Job>,
    /// The artifacts of that run, by name.
    pub artifacts: BTreeMap<String, Artifact>,
    /// (i) and (ii): cold compiles of the compile job's command without and with
    /// the default features, timed one right after the other outside the workflow
    /// (the workflow's own compile ran minutes earlier, at another load of a shared
    /// machine); and (ii)'s binary.
    pub compile: Duration,
    pub default_compile: Duration,
    pub default_binary: Artifact,
    /// (iii): the estimated cold compile of a binary without the AWS SDK.
    pub without_aws_compile: Duration,
}

/// A job's cost: its steps as measured, its artifact moves as charged.
fn cost(job: &Job, artifacts: &BTreeMap<String, Artifact>) -> Result<JobCost> {
    let mut out = JobCost { id: job.id.clone(), work: Duration::ZERO, transfers: Duration::ZERO };
    for step in &job.steps {
        match &step.transfer {
            None => out.work += step.time,
            Some((direction, name)) => {
                let artifact = artifacts.get(name).with_context(|| {
                    format!("job {}, step {:?} moves an artifact {name:?} the run did not store", job.id, step.name)
                })?;
                out.transfers += match direction {
                    Direction::Upload => artifact.upload(),
                    Direction::Download => artifact.download(),
                };
            }
        }
    }
    Ok(out)
}

fn find<'a>(jobs: &'a [Job], id: &str) -> Result<&'a Job> {
    jobs.iter().find(|it| it.id == id).with_context(|| {
        format!("release.yml ran no job {id:?}: update the names at the top of xtask/src/bench/ci/shapes.rs")
    })
}

/// `m`'s jobs with the compile job's compile step taking `time`.
fn with_compile(m: &Measured, time: Duration) -> Result<Vec<Job>> {
    let mut jobs = m.jobs.clone();
    let compile = jobs.iter_mut().find(|it| it.id == COMPILE_JOB);
    let step = compile.and_then(|job| job.steps.iter_mut().find(|it| it.name == COMPILE_STEP)).with_context(|| {
        format!(
            "release.yml has no step {COMPILE_STEP:?} in a job {COMPILE_JOB:?}: update the names at the top of \
             xtask/src/bench/ci/shapes.rs"
        )
    })?;
    step.time = time;
    Ok(jobs)
}

/// Every job after the one before it.
fn in_order(jobs: &[Job], artifacts: &BTreeMap<String, Artifact>) -> Result<Shape> {
    let stages = jobs.iter().map(|job| cost(job, artifacts).map(|it| vec![it])).collect::<Result<_>>()?;
    Ok(Shape { stages })
}

/// (i) today's shape: every job after the one before it.
pub(super) fn today(m: &Measured) -> Result<Shape> {
    in_order(&with_compile(m, m.compile)?, &m.artifacts)
}

/// (ii) the previous shape: today's, with the compile at default features and its
/// (larger) binary moved instead.
pub(super) fn default_features(m: &Measured) -> Result<Shape> {
    let mut artifacts = m.artifacts.clone();
    artifacts.insert(TOOL_ARTIFACT.to_owned(), m.default_binary);
    in_order(&with_compile(m, m.default_compile)?, &artifacts)
}

/// (iii) the build job compiles a binary of its own without the AWS SDK: it
/// downloads and checks no release tool, so it needs nothing of the compile job and
/// runs beside it; the publish job still takes the compile job's binary.
/// `None` with private build dependencies: the build job then waits for the
/// `build-deps` job, which runs the compile job's binary, and nothing changes.
pub(super) fn own_build(m: &Measured) -> Result<Option<Shape>> {
    if m.jobs.iter().any(|it| it.id == BUILD_DEPS_JOB) {
        return Ok(None);
    }
    if m.jobs.len() != 3 {
        bail!(
            "release.yml ran {} jobs, not compile, build and publish: update xtask/src/bench/ci/shapes.rs",
            m.jobs.len()
        );
    }
    let jobs = with_compile(m, m.compile)?;
    let mut build = find(&jobs, BUILD_JOB)?.clone();
    let before = build.steps.len();
    build.steps.retain(|step| {
        step.name != HASH_CHECK_STEP && step.transfer != Some((Direction::Download, TOOL_ARTIFACT.to_owned()))
    });
    if build.steps.len() + 2 != before {
        bail!(
            "the build job has not exactly one download of {TOOL_ARTIFACT:?} and one step {HASH_CHECK_STEP:?}: \
             update xtask/src/bench/ci/shapes.rs to release.yml"
        );
    }
    let time = m.without_aws_compile;
    build.steps.insert(1, Step { name: "Compile without the AWS SDK (estimate)".to_owned(), time, transfer: None });
    let side_by_side = vec![cost(find(&jobs, COMPILE_JOB)?, &m.artifacts)?, cost(&build, &m.artifacts)?];
    let publish = cost(find(&jobs, PUBLISH_JOB)?, &m.artifacts)?;
    Ok(Some(Shape { stages: vec![side_by_side, vec![publish]] }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    fn step(name: &str, time: f64) -> Step {
        Step { name: name.to_owned(), time: secs(time), transfer: None }
    }

    fn moves(name: &str, direction: Direction, artifact: &str) -> Step {
        Step { name: name.to_owned(), time: secs(0.01), transfer: Some((direction, artifact.to_owned())) }
    }

    /// release.yml's jobs without private dependencies, with round figures.
    fn measured() -> Measured {
        use Direction::*;
        let jobs = vec![
            Job {
                id: "compile".into(),
                steps: vec![
                    step("Check out", 1.0),
                    // The workflow's own compile: the shapes take `compile` instead.
                    step("Compile", 999.0),
                    step("Check the lock of the build requirements", 0.5),
                    moves("Hand the release tool on", Upload, "xtask"),
                ],
            },
            Job {
                id: "build".into(),
                steps: vec![
                    step("Check out", 1.0),
                    moves("Fetch the release tool", Download, "xtask"),
                    step(HASH_CHECK_STEP, 0.5),
                    step("Build and verify", 9.0),
                    moves("Hand the distributions to the publish job", Upload, "dist"),
                ],
            },
            Job {
                id: "publish".into(),
                steps: vec![
                    step("Check out", 1.0),
                    moves("Fetch the release tool", Download, "xtask"),
                    step(HASH_CHECK_STEP, 0.5),
                    moves("Fetch the distributions of the build job", Download, "dist"),
                    step("Publish", 8.0),
                ],
            },
        ];
        // 40 MB zipped: one second on the wire.
        let xtask = Artifact { raw: 100_000_000, zipped: 40_000_000, zip: secs(3.0), unzip: secs(0.5) };
        let dist = Artifact { raw: 20_000, zipped: 20_000, zip: secs(0.0), unzip: secs(0.0) };
        Measured {
            jobs,
            artifacts: BTreeMap::from([("xtask".into(), xtask), ("dist".into(), dist)]),
            compile: secs(60.0),
            default_compile: secs(90.0),
            default_binary: Artifact { raw: 200_000_000, zipped: 80_000_000, zip: secs(6.0), unzip: secs(1.0) },
            without_aws_compile: secs(30.0),
        }
    }

    fn close(a: Duration, b: f64) -> bool {
        (a.as_secs_f64() - b).abs() < 0.01
    }

    #[test]
    fn transfers_cost_their_zip_calls_and_bytes() {
        let a = measured().artifacts["xtask"];
        assert!(close(a.upload(), 3.0 + 1.0 + 1.0), "{:?}", a.upload());
        assert!(close(a.download(), 1.0 + 1.0 + 0.5), "{:?}", a.download());
    }

    #[test]
    fn today_runs_every_job_after_the_one_before() {
        let shape = today(&measured()).unwrap();
        let start = JOB_START.as_secs_f64();
        // compile 61.5 + upload 5; build 10.5 + download 2.5 + upload 1.0005; publish
        // 9.5 + download 2.5 + download 1.0005.
        assert!(close(shape.job("compile").unwrap().total(), start + 61.5 + 5.0));
        assert!(close(shape.job("build").unwrap().transfers, 2.5 + 1.0005));
        let expected = 3.0 * start + 61.5 + 5.0 + 10.5 + 3.5005 + 9.5 + 3.5005;
        assert!(close(shape.critical_path(), expected), "{:?} vs {expected}", shape.critical_path());
    }

    #[test]
    fn default_features_compile_longer_and_move_a_larger_binary() {
        let (m, shape) = (measured(), default_features(&measured()).unwrap());
        let today = today(&m).unwrap();
        // 30 s more compile; the binary: upload 6 + 1 + 2 instead of 5, each of two
        // downloads 1 + 2 + 1 instead of 2.5.
        let more = 30.0 + (9.0 - 5.0) + 2.0 * (4.0 - 2.5);
        assert!(close(shape.critical_path() - today.critical_path(), more));
    }

    #[test]
    fn own_build_runs_beside_the_compile_and_publish_waits_for_both() {
        let m = measured();
        let shape = own_build(&m).unwrap().unwrap();
        assert_eq!(shape.stages.len(), 2);
        let build = shape.job("build").unwrap();
        // No download or hash check of the tool; its own compile instead.
        assert!(close(build.work, 1.0 + 30.0 + 9.0));
        assert!(close(build.transfers, 1.0005));
        let start = JOB_START.as_secs_f64();
        let compile = start + 66.5;
        let publish = start + 9.5 + 3.5005;
        assert!(close(shape.critical_path(), compile + publish), "{:?}", shape.critical_path());
        // A build slower than the compile job is the path instead.
        let slow = Measured { without_aws_compile: secs(200.0), ..measured() };
        let shape = own_build(&slow).unwrap().unwrap();
        assert!(close(shape.critical_path(), start + 1.0 + 200.0 + 9.0 + 1.0005 + publish));
    }

    #[test]
    fn own_build_is_not_modelled_with_private_dependencies() {
        let mut m = measured();
        m.jobs.insert(1, Job { id: "build-deps".into(), steps: vec![step("Check out", 1.0)] });
        assert_eq!(own_build(&m).unwrap(), None);
    }

    #[test]
    fn a_renamed_workflow_is_an_error_not_a_guess() {
        let mut m = measured();
        m.jobs[1].steps[2].name = "Verify the tool".into();
        let err = own_build(&m).unwrap_err().to_string();
        assert!(err.contains("shapes.rs"), "{err}");
        let mut m = measured();
        m.jobs[0].steps[1].name = "Build the tool".into();
        assert!(default_features(&m).unwrap_err().to_string().contains("update the names"));
        let mut m = measured();
        m.artifacts.remove("dist");
        assert!(today(&m).unwrap_err().to_string().contains("\"dist\""));
    }
}
