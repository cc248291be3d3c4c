//! Step 5, Build: a fresh environment that holds exactly `build-requirements.txt`,
//! then the project's own PEP 517 backend run in it (`build/build_dists.py`,
//! pypa/build's ProjectBuilder from the release tools), the sdist first and the
//! wheel from the sdist, into a fresh `target/dist/<version>/`, with
//! `SOURCE_DATE_EPOCH` = the commit time of `HEAD`, so two builds of one commit are
//! byte-identical. A stopped or failed build leaves no half file: its folder is
//! removed.
//!
//! The lock's files come from the package index, from the CodeArtifact repository
//! (private build dependencies: the token only in the installer's environment, and
//! the installer runs no package code: wheels only, every file checked against its
//! hash), or from a folder of wheels fetched beforehand (the `build-deps` job of the
//! workflow), checked against the lock's hashes before anything is installed. The
//! backend runs with neither a token nor the network settings.

use std::{
    fs,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result, bail};
use xshell::{Shell, cmd};

use crate::{
    build_lock::{self, BuildLock},
    dists,
    exec::{self, Env},
    project::{self, Project},
    python::{self, LockSource, Tools},
    redact::Secret,
    report,
    version::Version,
};

use super::{Ctx, preflight::Checked};

/// Where the build requirements come from.
pub enum Requirements<'a> {
    /// The package index of the machine's installer settings.
    Index,
    /// The CodeArtifact repository's index URL, with the token.
    Private(&'a Secret),
    /// Wheels fetched beforehand (`release --fetch-build-deps`).
    Wheels(&'a Path),
}

/// The output folder of one version: `<target>/dist/<version>`.
pub fn out_dir(root: &Path, version: &Version) -> PathBuf {
    project::target_dir(root).join("dist").join(version.as_str())
}

/// Step 5: builds the sdist and the wheel into a fresh `out_dir`, which it returns.
/// `index` is the repository's index with the token, for a build against private
/// dependencies; else the requirements come from `--build-deps` or the package index.
pub fn run(ctx: &Ctx<'_>, tools: &Tools, checked: &Checked, index: Option<&Secret>) -> Result<PathBuf> {
    let checkout = &checked.checkout;
    report::say(&format!("SOURCE_DATE_EPOCH={} (commit time of HEAD {})", checkout.head_time, checkout.head));
    let requirements = match (index, ctx.flags.build_deps.as_deref()) {
        (Some(index), _) => Requirements::Private(index),
        (None, Some(folder)) => Requirements::Wheels(folder),
        (None, None) => Requirements::Index,
    };
    let out = out_dir(&ctx.project.root, &ctx.version);
    let built = build(ctx.sh, (ctx.project, &checked.build_lock), tools, requirements, (&out, &checkout.head_time));
    if built.is_err() {
        // A stopped or failed build may have left half a file: nothing of it is
        // kept (a re-run builds it again, byte for byte).
        let _ = fs::remove_dir_all(&out);
    }
    built.map(|()| out)
}

/// Empties (or creates) the output folder of a build.
fn fresh_dir(out: &Path) -> Result<()> {
    if out.exists() {
        fs::remove_dir_all(out).with_context(|| format!("remove the earlier build in {}", out.display()))?;
    }
    fs::create_dir_all(out).with_context(|| format!("create {}", out.display()))
}

/// The environment of `lock` from `requirements`, then the backend, into `out`.
fn build(
    sh: &Shell,
    (project, lock): (&Project, &BuildLock),
    tools: &Tools,
    requirements: Requirements<'_>,
    (out, source_date_epoch): (&Path, &str),
) -> Result<()> {
    fresh_dir(out)?;
    let root = &project.root;
    let venv = project::target_dir(root).join("build-env");
    let source = match &requirements {
        Requirements::Index => LockSource::Index,
        Requirements::Private(index) => LockSource::PrivateIndex(index),
        Requirements::Wheels(folder) => {
            check_wheels(folder, lock)?;
            LockSource::Folder(folder)
        }
    };
    let python = python::fresh_env(sh, &venv, &lock.path, &source).with_context(|| {
        let from = match &requirements {
            Requirements::Index => "the package index".to_owned(),
            Requirements::Private(_) => format!(
                "the repository's index. If no version was found, the repository (or its upstream) lacks it or the \
                 identity lacks codeartifact:ReadFromRepository on the repository, which an installer only sees as \
                 an empty index; `cargo xtask check-iam` checks the permission; {}",
                build_lock::FIX
            ),
            Requirements::Wheels(folder) => format!("the wheels in {}", folder.display()),
        };
        format!("install {} into a fresh build environment from {from}", build_lock::FILE)
    })?;
    let backend = backend_name(project);
    report::say(&format!("build backend {backend}, with {}", lock.summary()));
    let script = root.join("xtask/src/release/build/build_dists.py");
    let tools_python = &tools.python;
    let mut env = Env::base();
    env.set("SOURCE_DATE_EPOCH", source_date_epoch);
    exec::run(cmd!(sh, "{tools_python} {script} {python} {out} {root}"), &env).exec().with_context(|| {
        format!(
            "build the sdist and the wheel with the build backend {backend} and {} ({})",
            build_lock::FILE,
            lock.summary()
        )
    })?;
    Ok(())
}

/// `[build-system] build-backend`, or PEP 517's fallback.
fn backend_name(project: &Project) -> String {
    let backend = project.pyproject.get("build-system").and_then(|it| it.get("build-backend"));
    backend.and_then(|it| it.as_str()).unwrap_or("setuptools.build_meta:__legacy__").to_owned()
}

/// A folder of wheels from another job: only regular files, each a wheel whose
/// SHA-256 the lock names, so a replaced or added file is refused by name before
/// an installer sees it.
pub fn check_wheels(folder: &Path, lock: &BuildLock) -> Result<Vec<PathBuf>> {
    let known: Vec<&str> = lock.pins.iter().flat_map(|it| it.hashes.iter().map(String::as_str)).collect();
    let mut wheels = Vec::new();
    let entries =
        fs::read_dir(folder).with_context(|| format!("list the build requirements in {}", folder.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("list {}", folder.display()))?;
        let name = entry.file_name();
        let shown = name.to_string_lossy().into_owned();
        let file_type = entry.file_type().with_context(|| format!("read the type of {shown:?}"))?;
        if !file_type.is_file() || !shown.ends_with(".whl") || name.to_str().is_none() {
            bail!(
                "{shown:?} in {} is not a wheel file: the folder of build requirements holds the lock's wheels only",
                folder.display()
            );
        }
        let (_, sha256) = dists::hash_file(&entry.path())?;
        if !known.contains(&sha256.as_str()) {
            bail!(
                "{shown} in {} has SHA-256 {sha256}, which {} does not name: the wheel was replaced after it was \
                 fetched; nothing was installed. Run the workflow again",
                folder.display(),
                build_lock::FILE
            );
        }
        wheels.push(entry.path());
    }
    if wheels.is_empty() {
        bail!("{} holds no wheel: fetch the build requirements first (`release --fetch-build-deps`)", folder.display());
    }
    Ok(wheels)
}
