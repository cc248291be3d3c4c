//! The built distributions: building them reproducibly, hashing them, and checking
//! that they are what the release says they are (the archives inside: `inspect`).

mod inspect;

use std::{
    fs,
    io::Read,
    path::{Path, PathBuf},
};

use crate::{
    fsutil,
    project::{self, normalize_name},
    version::Version,
};
use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

pub use inspect::inspect;

/// Files of one build, at most: an sdist and wheels for every platform and Python
/// version a project supports (the largest projects publish a few dozen per release).
const MAX_FILES: usize = 256;
/// One archive, at most: 256 MiB (PyPI's default upload limit is 100 MB). With
/// `MAX_FOLDER_BYTES`, what bounds the hashing here and the reading of the
/// inspection (`xtask/py/strict_archive.py` has the limits on what is unpacked;
/// `cargo xtask bench inspect` measures the worst case).
const MAX_FILE_BYTES: u64 = 256 << 20;
/// All archives of a build together, at most: 512 MiB.
const MAX_FOLDER_BYTES: u64 = 512 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sdist,
    Wheel,
}

/// One built file.
#[derive(Debug, Clone)]
pub struct Dist {
    pub path: PathBuf,
    pub file_name: String,
    pub kind: Kind,
    pub size: u64,
    /// Lowercase hex.
    pub sha256: String,
}

/// The output folder of one version: `<target>/dist/<version>`.
pub fn out_dir(root: &Path, version: &Version) -> PathBuf {
    project::target_dir(root).join("dist").join(version.as_str())
}

/// Empties (or creates) the output folder of a build.
pub fn fresh_dir(out: &Path) -> Result<()> {
    if out.exists() {
        fs::remove_dir_all(out).with_context(|| format!("remove the earlier build in {}", out.display()))?;
    }
    fs::create_dir_all(out).with_context(|| format!("create {}", out.display()))
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
        if file_name == crate::manifest::FILE {
            continue;
        }
        parse_file_name(&file_name)
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
        let (size, sha256) = hash_file(&path)?;
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

/// Size and SHA-256 (lowercase hex) of a regular file (`fsutil::open_regular`: a
/// link or FIFO put in its place since it was listed is refused, not read).
pub fn hash_file(path: &Path) -> Result<(u64, String)> {
    let mut file = fsutil::open_regular(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf).with_context(|| format!("read {}", path.display()))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((size, hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()))
}

/// The distribution name and version a file name carries, for names that follow the
/// specifications exactly: PEP 427 wheels
/// (`{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl`, each part of
/// `[A-Za-z0-9_.]`, the version also `!` and `+`, the build tag starting with a
/// digit) and PEP 625 sdists (`{name}-{version}.tar.gz`, the name normalized with
/// `_`). File names come from another job's artifact in `--publish-only`: anything
/// else is refused before it is used, and shown escaped.
pub fn parse_file_name(file_name: &str) -> Result<(String, String)> {
    let bad = |why: &str| {
        anyhow::format_err!("{file_name:?} is not a valid distribution file name (PEP 427 / PEP 625): {why}")
    };
    if file_name.len() > 255 {
        return Err(bad("it is longer than 255 bytes"));
    }
    if !file_name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.!+-".contains(&b)) {
        return Err(bad("only A-Z, a-z, 0-9 and _ . ! + - may appear in one"));
    }
    let part = |text: &str, extra: &[u8]| {
        !text.is_empty()
            && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || extra.contains(&b))
    };
    if let Some(stem) = file_name.strip_suffix(".whl") {
        let parts: Vec<&str> = stem.split('-').collect();
        let tags = match parts.as_slice() {
            [_, _, py, abi, plat] => [py, abi, plat],
            [_, _, build, py, abi, plat] => {
                if !build.starts_with(|c: char| c.is_ascii_digit()) || !part(build, b"") {
                    return Err(bad("its build tag must start with a digit"));
                }
                [py, abi, plat]
            }
            _ => return Err(bad("a wheel name has five or six parts separated by `-`")),
        };
        if !part(parts[0], b"") || !part(parts[1], b"!+") || tags.iter().any(|it| !part(it, b"")) {
            return Err(bad("an empty or malformed part"));
        }
        return Ok((parts[0].to_owned(), parts[1].to_owned()));
    }
    let stem = file_name.strip_suffix(".tar.gz").ok_or_else(|| bad("it ends in neither .whl nor .tar.gz"))?;
    match stem.split('-').collect::<Vec<_>>().as_slice() {
        [name, version] if part(name, b"") && part(version, b"!+") => Ok((name.to_string(), version.to_string())),
        _ => Err(bad("an sdist name is `{name}-{version}.tar.gz`, with `_` for `-` in the name")),
    }
}

/// Every file name parses and carries the project's name and the released version.
pub fn check_file_names(dists: &[Dist], project_name: &str, version: &Version) -> Result<()> {
    let want_name = normalize_name(project_name);
    for dist in dists {
        let (name, file_version) = parse_file_name(&dist.file_name)?;
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
        let kind = if file_name.ends_with(".whl") { Kind::Wheel } else { Kind::Sdist };
        Dist { path: PathBuf::from(file_name), file_name: file_name.to_owned(), kind, size: 1, sha256: String::new() }
    }

    #[test]
    fn parses_file_names() {
        let cases = [
            ("yamause-1.0.0-py3-none-any.whl", Some(("yamause", "1.0.0"))),
            ("yamause-1.0.0-1-py3-none-any.whl", Some(("yamause", "1.0.0"))),
            ("yamause-1.0.0-1b_x-py3-none-any.whl", Some(("yamause", "1.0.0"))),
            ("Yam_ause-1.0rc1-py3-none-any.whl", Some(("Yam_ause", "1.0rc1"))),
            ("yamause-1!2.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", Some(("yamause", "1!2.0"))),
            ("yamause-1.0.0.tar.gz", Some(("yamause", "1.0.0"))),
            ("yam_ause-1.0.0.tar.gz", Some(("yam_ause", "1.0.0"))),
            // PEP 625: the name part of an sdist has no `-`.
            ("yam-ause-1.0.0.tar.gz", None),
            ("yamause-1.0.0-x-py3-none-any.whl", None),
            ("yamause-1.0.0-py3-any.whl", None),
            ("yamause--1.0.0-py3-none-any.whl", None),
            ("yamause.tar.gz", None),
            ("yamause-1.0.0.zip", None),
            // What an attacker would name a file in the artifact.
            ("yamause-1.0.0-py3-none-##[stop-commands]x.whl", None),
            ("yamause-1.0.0-py3-none-any##[add-mask]x.whl", None),
            ("yamause-1.0.0-py3-none-::add-mask::x.whl", None),
            ("yamause-1.0.0-py3-none-any.whl\n::stop-commands::x", None),
            ("yamause-1.0.0-py3-none-`id`.whl", None),
            ("yamause-1.0.0-py3-none-a|b.whl", None),
            ("../yamause-1.0.0.tar.gz", None),
            ("yamause-1.0.0-py3-none-any.whl ", None),
        ];
        for (file_name, want) in cases {
            let got = parse_file_name(file_name);
            assert_eq!(got.as_ref().ok().map(|(a, b)| (a.as_str(), b.as_str())), want, "{file_name}");
            if let Err(err) = got {
                // Shown escaped: no raw line break reaches the output.
                assert!(!err.to_string().contains('\n'), "{err}");
            }
        }
        assert!(parse_file_name(&format!("{}-1.0.tar.gz", "a".repeat(260))).is_err());
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
