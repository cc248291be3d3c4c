//! Step 6, Verify: one sdist and at least one wheel, nothing else, within limits
//! (`collect`); file names that follow PEP 427 / PEP 625 exactly and carry the
//! project's name and the release's version; every archive read once, strictly
//! (`inspect`, with `verify/inspect_dists.py` and `verify/strict_*.py`), then
//! `twine check --strict`; sizes and SHA-256 printed and written, with the commit
//! built, to `manifest.json`. Check artifacts (`--publish-only`) runs the same
//! checks on a folder from another job.

mod inspect;

use std::{fs, path::Path};

use anyhow::{Context, Result, bail};

use crate::{
    dists::{self, Dist, Kind},
    git::Checkout,
    manifest::{self, Manifest},
    project::normalize_name,
    python::Tools,
    report,
    version::Version,
};

use super::Ctx;

pub use inspect::inspect;

/// Files of one build, at most: an sdist and wheels for every platform and Python
/// version a project supports (the largest projects publish a few dozen per release).
const MAX_FILES: usize = 256;
/// One archive, at most: 256 MiB (PyPI's default upload limit is 100 MB). With
/// `MAX_FOLDER_BYTES`, what bounds the hashing here and the reading of the
/// inspection (`verify/strict_archive.py` has the limits on what is unpacked;
/// `cargo xtask bench inspect` measures the worst case).
const MAX_FILE_BYTES: u64 = 256 << 20;
/// All archives of a build together, at most: 512 MiB.
const MAX_FOLDER_BYTES: u64 = 512 << 20;

/// Step 6: the files of `out`, checked, and the manifest beside them.
pub fn run(ctx: &Ctx<'_>, tools: &Tools, checkout: &Checkout, out: &Path) -> Result<Vec<Dist>> {
    let (project, version) = (ctx.project, &ctx.version);
    let dists = collect(out)?;
    check_file_names(&dists, &project.name, version)?;
    inspect(ctx.sh, tools, project, version, &dists)?;
    Manifest::of(&project.name, version.as_str(), &checkout.head, &dists).write(out)?;
    report::say(&format!("{}:", out.display()));
    for dist in &dists {
        report::say(&format!("  {:<45} {:>9} B  sha256:{}", dist.file_name, dist.size, dist.sha256));
    }
    Ok(dists)
}

/// Lists and hashes the distributions in `out`: exactly one sdist, at least one wheel,
/// and nothing else but the manifest. In `--publish-only` the folder comes from
/// another job's artifact: a link (which could point anywhere), a subfolder, a name
/// that is not valid UTF-8 or not a distribution name are all refused.
pub fn collect(out: &Path) -> Result<Vec<Dist>> {
    let mut dists = Vec::new();
    let mut total = 0;
    let entries = fs::read_dir(out).with_context(|| format!("list {}", out.display()))?;
    for (count, entry) in entries.enumerate() {
        let entry = entry.with_context(|| format!("list {}", out.display()))?;
        if count > MAX_FILES {
            bail!("{} holds more than {MAX_FILES} files, the limit of one build", out.display());
        }
        let raw_name = entry.file_name();
        let Some(file_name) = raw_name.to_str().map(str::to_owned) else {
            bail!("{raw_name:?} in {} is not a valid UTF-8 file name: only distributions belong there", out.display());
        };
        // `DirEntry::file_type` does not follow links.
        let file_type = entry.file_type().with_context(|| format!("read the type of {file_name:?}"))?;
        if file_type.is_symlink() {
            bail!("{file_name:?} in {} is a symbolic link: only regular files are published", out.display());
        }
        if !file_type.is_file() {
            bail!(
                "{file_name:?} in {} is not a regular file: only the sdist, wheels and the manifest belong there",
                out.display()
            );
        }
        if file_name == manifest::FILE {
            continue;
        }
        dists::parse_file_name(&file_name)
            .with_context(|| format!("list {}: only the sdist, wheels and the manifest belong there", out.display()))?;
        let kind = if file_name.ends_with(".whl") { Kind::Wheel } else { Kind::Sdist };
        let path = entry.path();
        // `DirEntry::metadata` does not follow links either: the sizes are known
        // before anything is read.
        let listed = entry.metadata().with_context(|| format!("read the size of {file_name:?}"))?.len();
        total += listed;
        if listed > MAX_FILE_BYTES || total > MAX_FOLDER_BYTES {
            bail!(
                "{file_name} is {} MiB, and the archives of {} {} MiB together: the limits are {} MiB for one \
                 archive and {} MiB for all (docs/security.md, Limits)",
                listed >> 20,
                out.display(),
                total >> 20,
                MAX_FILE_BYTES >> 20,
                MAX_FOLDER_BYTES >> 20
            );
        }
        let (size, sha256) = dists::hash_file(&path)?;
        dists.push(Dist { path, file_name, kind, size, sha256 });
    }
    // Sdist first, then wheels by name: a stable order for output and uploads.
    dists.sort_by(|a, b| (a.kind == Kind::Wheel, &a.file_name).cmp(&(b.kind == Kind::Wheel, &b.file_name)));
    let sdists = dists.iter().filter(|it| it.kind == Kind::Sdist).count();
    let wheels = dists.len() - sdists;
    if sdists != 1 || wheels == 0 {
        bail!(
            "expected one sdist and at least one wheel in {}, found {sdists} sdist(s) and {wheels} wheel(s)",
            out.display()
        );
    }
    Ok(dists)
}

/// Every file name parses and carries the project's name and the released version.
pub fn check_file_names(dists: &[Dist], project_name: &str, version: &Version) -> Result<()> {
    let want_name = normalize_name(project_name);
    for dist in dists {
        let (name, file_version) = dists::parse_file_name(&dist.file_name)?;
        if normalize_name(&name) != want_name {
            bail!("{} is named {name:?}, but the project is {project_name:?} (pyproject.toml)", dist.file_name);
        }
        if file_version != version.as_str() {
            bail!("{} carries version {file_version}, but the release is {version}", dist.file_name);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version;

    fn dist(file_name: &str) -> Dist {
        Dist::for_test(file_name, "")
    }

    #[test]
    fn checks_names_and_versions() {
        let v = version::parse("1.0.0").unwrap();
        let good = [dist("yamause-1.0.0.tar.gz"), dist("yamause-1.0.0-py3-none-any.whl")];
        check_file_names(&good, "yamause", &v).unwrap();
        let err = check_file_names(&[dist("other-1.0.0.tar.gz")], "yamause", &v).unwrap_err();
        assert!(err.to_string().contains("the project is \"yamause\""), "{err}");
        let err = check_file_names(&[dist("yamause-1.0.1-py3-none-any.whl")], "yamause", &v).unwrap_err();
        assert!(err.to_string().contains("carries version 1.0.1"), "{err}");
    }
}
