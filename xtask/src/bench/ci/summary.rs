//! What `bench ci` prints: the machine and its load, the runner costs it adds and
//! their constants, the median run's steps and artifacts, then each shape's jobs
//! and critical path with its ratio to today's (i), and the guide's single job.
//! With several runs, critical paths and ratios are medians; the steps shown are
//! those of the run whose path (i) is the median.

use std::time::Duration;

use anyhow::Result;

use super::{
    Run,
    shapes::{self, Artifact, Direction, Job, JobCost, Shape},
};
use crate::bench::{median, ratio, secs};

/// Each shape of one run, and the guide's job.
struct Shapes {
    today: Shape,
    default: Shape,
    own: Option<Shape>,
    guide: JobCost,
}

impl Shapes {
    fn of(run: &Run) -> Result<Shapes> {
        let m = &run.measured;
        let guide = JobCost::single("guide", run.guide.iter().map(|it| it.time).sum());
        Ok(Shapes {
            today: shapes::today(m)?,
            default: shapes::default_features(m)?,
            own: shapes::own_build(m)?,
            guide,
        })
    }
}

pub(super) fn lines(runs: &[Run], machine: &str) -> Result<Vec<String>> {
    let shaped: Vec<Shapes> = runs.iter().map(Shapes::of).collect::<Result<_>>()?;
    let today = median(shaped.iter().map(|it| it.today.critical_path()).collect());
    let pick = shaped.iter().position(|it| it.today.critical_path() == today).unwrap_or(0);
    let (run, shape) = (&runs[pick], &shaped[pick]);
    let mut out = vec![
        format!("ci: cold, {} run(s) of each; {machine}", runs.len()),
        format!(
            "ci: added for GitHub-hosted runners (sources: docs/ci.md): {} start-up per job (an assumption), and per \
             artifact upload or download {} of service calls + its zipped bytes at {:.0} MB/s + the zip or unzip \
             (deflate, level 6) timed here",
            secs(shapes::JOB_START),
            secs(shapes::TRANSFER_CALLS),
            shapes::WIRE_BYTES_PER_SEC / 1e6
        ),
        format!("ci: the steps as measured here{}:", if runs.len() > 1 { " (the median run)" } else { "" }),
    ];
    out.extend(steps(&run.measured.jobs, run));
    for phase in &run.guide {
        out.push(format!("ci:   guide        {:<60} {}", phase.name, secs(phase.time)));
    }
    for (name, artifact) in &run.measured.artifacts {
        out.push(artifact_line(&format!("artifact {name}"), artifact));
    }
    out.push(artifact_line("the binary at default features (ii)", &run.measured.default_binary));
    let in_workflow = run.measured.jobs.iter().filter(|it| it.id == shapes::COMPILE_JOB).flat_map(|it| &it.steps);
    let in_workflow: Duration = in_workflow.filter(|it| it.name == shapes::COMPILE_STEP).map(|it| it.time).sum();
    out.push(format!(
        "ci: the compile job's cold compile, (i) without and (ii) with the default features, one right after the \
         other: {} and {} (ratio {}); the shapes use these (in the workflow, earlier: {})",
        secs(run.measured.compile),
        secs(run.measured.default_compile),
        ratio(run.measured.default_compile, run.measured.compile),
        secs(in_workflow)
    ));
    out.extend(comparison(&shaped, shape, run, today));
    out.extend(in_job(&run.measured.jobs));
    let guide = median(shaped.iter().map(|it| it.guide.total()).collect());
    out.push(format!(
        "ci: release.yml's critical path {} vs the guide's single job {} (its steps and one start-up): ratio {} \
         (target 4.0: {})",
        secs(today),
        secs(guide),
        ratio(today, guide),
        if today.as_secs_f64() <= 4.0 * guide.as_secs_f64() { "met" } else { "MISSED" }
    ));
    Ok(out)
}

/// Each step of release.yml; an artifact step with what a hosted runner pays.
fn steps(jobs: &[Job], run: &Run) -> Vec<String> {
    let mut out = Vec::new();
    for job in jobs {
        for step in &job.steps {
            let name = format!("{} / {}", job.id, step.name);
            let on_github = step.transfer.as_ref().and_then(|(direction, artifact)| {
                let artifact = run.measured.artifacts.get(artifact)?;
                Some(match direction {
                    Direction::Upload => artifact.upload(),
                    Direction::Download => artifact.download(),
                })
            });
            out.push(match on_github {
                Some(cost) => {
                    format!("ci:   release.yml  {name:<60} {} here, {} on GitHub", secs(step.time), secs(cost))
                }
                None => format!("ci:   release.yml  {name:<60} {}", secs(step.time)),
            });
        }
    }
    out
}

fn artifact_line(what: &str, a: &Artifact) -> String {
    let mib = |n: u64| format!("{:.1} MiB", n as f64 / 1048576.0);
    format!(
        "ci:   {what}: {}, zipped {} (zip {}, unzip {}): upload {}, download {}",
        mib(a.raw),
        mib(a.zipped),
        secs(a.zip),
        secs(a.unzip),
        secs(a.upload()),
        secs(a.download())
    )
}

/// The three shapes, each with its ratio to (i).
fn comparison(all: &[Shapes], shape: &Shapes, run: &Run, today: Duration) -> Vec<String> {
    let mut out = vec![format!(
        "ci: (i) today's release.yml, the compile job's binary without the `commands` feature: {} (ratio 1.00; each \
         job is start-up + steps + artifact moves)",
        describe(&shape.today)
    )];
    let default = median(all.iter().map(|it| it.default.critical_path()).collect());
    out.push(format!(
        "ci: (ii) the compile at default features (the previous shape): {} (ratio {} to (i))",
        describe(&shape.default),
        ratio(default, today)
    ));
    let own: Option<Vec<Duration>> = all.iter().map(|it| it.own.as_ref().map(Shape::critical_path)).collect();
    let (Some(own), Some(own_shape)) = (own.map(median), &shape.own) else {
        out.push(
            "ci: (iii) not measured: release.yml ran the build-deps job (private build dependencies), which the \
             build job waits for and which runs the compile job's binary, so a binary of the build job's own \
             would not take it off the compile job's path"
                .to_owned(),
        );
        return out;
    };
    let verdict = match own.cmp(&today) {
        std::cmp::Ordering::Less => format!("shorter than (i) by {}", secs(today - own)),
        _ => format!("not shorter than (i): {} longer", secs(own - today)),
    };
    let rebuilt: Vec<&String> = run.rebuilt.iter().filter(|it| it.as_str() != "xtask").collect();
    let warning = match rebuilt.is_empty() {
        true => String::new(),
        false => format!("; cargo rebuilt {rebuilt:?} too, so this part is too long"),
    };
    out.push(format!(
        "ci: (iii) the build job compiles its own binary without the AWS SDK: {} (ratio {} to (i)): {verdict}",
        describe(own_shape),
        ratio(own, today)
    ));
    out.push(format!(
        "ci:   (iii)'s compile is an estimate, {} = a cold build of the xtask's dependencies without {} ({}) + the \
         xtask crate alone, rebuilt after (i)'s cold compile ({}{warning})",
        secs(run.measured.without_aws_compile),
        run.left_out.join(", "),
        secs(run.without_aws_deps),
        secs(run.own_crate)
    ));
    out
}

/// The jobs' own times as measured (no runner costs) against their targets.
fn in_job(jobs: &[Job]) -> Vec<String> {
    let sum = |id: &str, step: Option<&str>| -> Duration {
        let job = jobs.iter().filter(|it| it.id == id).flat_map(|it| &it.steps);
        job.filter(|it| step.is_none_or(|name| it.name == name)).map(|it| it.time).sum()
    };
    let compile = sum(shapes::COMPILE_JOB, Some(shapes::COMPILE_STEP));
    let publish = sum("publish", None);
    let verdict = |d: Duration, budget: u64| if d <= Duration::from_secs(budget) { "met" } else { "MISSED" };
    vec![format!(
        "ci: measured in the jobs (no runner costs): compile job {}, of which the compile {} (target 40 s: {}); build \
         job {}; publish job {} (target 10 s: {})",
        secs(sum(shapes::COMPILE_JOB, None)),
        secs(compile),
        verdict(compile, 40),
        secs(sum("build", None)),
        secs(publish),
        verdict(publish, 10)
    )]
}

/// A shape's jobs as `a → b`, side by side as `(a | b)`, and its critical path.
fn describe(shape: &Shape) -> String {
    let job = |it: &JobCost| format!("{} {}", it.id, secs(it.total()));
    let stages: Vec<String> = shape
        .stages
        .iter()
        .map(|stage| match &stage[..] {
            [one] => job(one),
            many => format!("({})", many.iter().map(job).collect::<Vec<_>>().join(" | ")),
        })
        .collect();
    format!("{}: critical path {}", stages.join(" → "), secs(shape.critical_path()))
}
