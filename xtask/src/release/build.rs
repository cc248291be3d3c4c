//! Steps 4 to 6, Python tools, Build, Verify: the pinned tools, a reproducible build
//! with the project's own backend and locked build requirements (`build_env`), and
//! everything that makes the files trustworthy, then the manifest.

use std::path::Path;

use anyhow::Result;

use crate::{
    build_env::{self, Requirements},
    dists::{self, Dist},
    manifest::Manifest,
    python::{self, ToolLock, Tools},
    redact::Secret,
    report,
};

use super::{Ctx, plan::step, preflight::Checked};

/// What the build produced, verified.
pub struct Built {
    pub tools: Tools,
    pub dists: Vec<Dist>,
}

/// Runs steps 4–6 into `out`. `index` is the repository's index with the token, for
/// a build against private dependencies (else `--build-deps` or the package index).
pub fn run(ctx: &Ctx<'_>, checked: &Checked, index: Option<&Secret>, out: &Path) -> Result<Built> {
    let (sh, project, checkout, steps) = (ctx.sh, ctx.project, &checked.checkout, &ctx.steps);
    let tools = steps.run(step::TOOLS, || python::ensure(sh, &project.root, ToolLock::Release))?;
    let built = steps.run(step::BUILD, || {
        report::say(&format!("SOURCE_DATE_EPOCH={} (commit time of HEAD {})", checkout.head_time, checkout.head));
        let requirements = match (index, ctx.flags.build_deps.as_deref()) {
            (Some(index), _) => Requirements::Private(index),
            (None, Some(folder)) => Requirements::Wheels(folder),
            (None, None) => Requirements::Index,
        };
        let (lock, source_date_epoch) = (&checked.build_lock, &checkout.head_time);
        build_env::Build { project, lock, requirements, out, source_date_epoch }.run(sh, &tools)
    });
    if built.is_err() {
        // A stopped or failed build may have left half a file: nothing of it is
        // kept (a re-run builds it again, byte for byte).
        let _ = std::fs::remove_dir_all(out);
    }
    built?;
    let dists = steps.run(step::VERIFY, || verify(ctx, (&tools, checked), out, dists::collect(out)?))?;
    Ok(Built { tools, dists })
}

/// Step 6: names, metadata and archives, `twine check`; then the manifest.
fn verify(ctx: &Ctx<'_>, (tools, checked): (&Tools, &Checked), out: &Path, dists: Vec<Dist>) -> Result<Vec<Dist>> {
    let (project, version) = (ctx.project, &ctx.version);
    dists::check_file_names(&dists, &project.name, version)?;
    dists::inspect(ctx.sh, tools, project, version, &dists)?;
    Manifest::of(&project.name, version.as_str(), &checked.checkout.head, &dists).write(out)?;
    report::say(&format!("{}:", out.display()));
    for dist in &dists {
        report::say(&format!("  {:<45} {:>9} B  sha256:{}", dist.file_name, dist.size, dist.sha256));
    }
    Ok(dists)
}
