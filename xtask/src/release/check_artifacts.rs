//! Check artifacts, the step of `--publish-only DIR` (the publish job of the split
//! workflow) that checks the files of an earlier `--build-only` run before they are
//! published as a release publishes: the manifest, the commit, the names, the sizes
//! and SHA-256, and every archive inspected as Verify inspects it. Nothing in DIR is
//! trusted before it is checked.

use std::{fs, path::Path};

use anyhow::{Context, Result, bail};
use xshell::Shell;

use crate::{
    ci,
    dists::Dist,
    git,
    manifest::{self, Manifest},
    project,
    python::Tools,
    report,
    version::Version,
};

use super::{Ctx, verify};

/// Check artifacts: the folder holds exactly the files of the manifest written by
/// `--build-only`, unchanged, built from this commit for this version; and every
/// archive passes the same inspection as after the build (name and version inside,
/// RECORD, `twine check`). The artifact crossed from a job that ran build code, so
/// none of it is trusted before this.
pub fn run(ctx: &Ctx<'_>, tools: &Tools, dir: &Path) -> Result<Vec<Dist>> {
    let (sh, project, version) = (ctx.sh, ctx.project, &ctx.version);
    let dir = &artifact_dir(dir, version)?;
    let manifest = Manifest::read(dir)?;
    let path = dir.join(manifest::FILE);
    if manifest.version != version.as_str() {
        bail!(
            "{} is for version {:?}, but the release is {version}: publish the build of this tag",
            path.display(),
            manifest.version
        );
    }
    if project::normalize_name(&manifest.name) != project.normalized_name() {
        bail!("{} is for project {:?}, not {:?}", path.display(), manifest.name, project.name);
    }
    let commit = expected_commit(sh)?;
    if manifest.commit != commit.id {
        bail!(
            "{} was built from commit {}, but this job runs on {} ({}): publish the build of this run",
            path.display(),
            manifest.commit,
            commit.id,
            commit.source
        );
    }
    let dists = verify::collect(dir)?;
    verify::check_file_names(&dists, &project.name, version)?;
    if manifest.files.len() != dists.len() {
        bail!("{} lists {} file(s), but {} holds {}", path.display(), manifest.files.len(), dir.display(), dists.len());
    }
    for dist in &dists {
        let entry =
            manifest.entry(&dist.file_name).with_context(|| format!("{:?} is not in the manifest", dist.file_name))?;
        if entry.sha256 != dist.sha256 || entry.size != dist.size {
            bail!(
                "{} changed since the build: the manifest says {} B sha256:{}, the file is {} B sha256:{}",
                dist.file_name,
                entry.size,
                entry.sha256,
                dist.size,
                dist.sha256
            );
        }
    }
    // What is inside, as after the build: twine sends the name and version of
    // METADATA, so a wheel named 1.0.0 that says 9.9.9 inside would be filed as 9.9.9.
    verify::inspect(sh, tools, project, version, &dists)?;
    for dist in &dists {
        report::say(&format!(
            "  {:<45} {:>9} B  sha256:{}  (matches the manifest)",
            dist.file_name, dist.size, dist.sha256
        ));
    }
    report::say(&format!("built from {} ({})", manifest.commit, commit.source));
    Ok(dists)
}

/// DIR is the build's output folder, or the folder above it (a downloaded copy of
/// `target/dist/`, which holds one folder per version): then the folder of this
/// version, or the only one there is (whose manifest then says which it is).
fn artifact_dir(dir: &Path, version: &Version) -> Result<std::path::PathBuf> {
    // Whatever is there, without following it: `Manifest::read` says what is wrong.
    let present = |path: &Path| fs::symlink_metadata(path.join(manifest::FILE)).is_ok();
    if present(dir) {
        return Ok(dir.to_path_buf());
    }
    if present(&dir.join(version.as_str())) {
        return Ok(dir.join(version.as_str()));
    }
    let builds: Vec<_> = fs::read_dir(dir)
        .with_context(|| format!("list {}", dir.display()))?
        .filter_map(|it| it.ok())
        .filter(|it| it.file_type().is_ok_and(|t| t.is_dir()) && present(&it.path()))
        .map(|it| it.path())
        .collect();
    Ok(match builds.as_slice() {
        [only] => only.clone(),
        _ => dir.to_path_buf(),
    })
}

/// The commit a publish-only run must publish the build of.
struct ExpectedCommit {
    id: String,
    source: &'static str,
}

/// `GITHUB_SHA` in GitHub Actions (the commit of the run, the same in both jobs);
/// elsewhere `HEAD`.
fn expected_commit(sh: &Shell) -> Result<ExpectedCommit> {
    if report::in_github_actions() {
        let id = ci::context().sha.clone().unwrap_or_default();
        if id.len() != 40 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!("GITHUB_SHA is {id:?}, not a commit id: run --publish-only in the workflow's publish job");
        }
        return Ok(ExpectedCommit { id: id.to_ascii_lowercase(), source: "GITHUB_SHA" });
    }
    Ok(ExpectedCommit { id: git::checkout(sh)?.head, source: "HEAD" })
}
