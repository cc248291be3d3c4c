//! The built distributions: building them reproducibly, hashing them, and checking
//! that they are what the release says they are.

use std::{
    fs,
    io::Read,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};
use xshell::{Shell, cmd};

use crate::{
    exec::{self, Env},
    project::{self, normalize_name},
    python::Tools,
    version::Version,
};

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
    let entries = fs::read_dir(out).with_context(|| format!("list {}", out.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("list {}", out.display()))?;
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

/// Size and SHA-256 (lowercase hex) of a file.
pub fn hash_file(path: &Path) -> Result<(u64, String)> {
    let mut file = fs::File::open(path).with_context(|| format!("open {}", path.display()))?;
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

/// What the inspector script found in one archive.
#[derive(Debug, PartialEq, Eq)]
pub struct Inspected {
    pub file: String,
    pub name: Option<String>,
    pub version: Option<String>,
    pub problems: Vec<String>,
}

/// Parses the inspector's JSON lines.
pub fn parse_inspection(stdout: &str) -> Result<Vec<Inspected>> {
    let mut out = Vec::new();
    for line in stdout.lines().filter(|it| !it.trim().is_empty()) {
        let value: serde_json::Value =
            serde_json::from_str(line).with_context(|| format!("read the inspector's output {line:?}"))?;
        if value.get("twine_check").is_some() {
            continue;
        }
        let text = |key: &str| value.get(key).and_then(|it| it.as_str()).map(str::to_owned);
        let problems = value
            .get("problems")
            .and_then(|it| it.as_array())
            .map(|it| it.iter().filter_map(|p| p.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        out.push(Inspected {
            file: text("file").unwrap_or_default(),
            name: text("name"),
            version: text("version"),
            problems,
        });
    }
    Ok(out)
}

/// The metadata inside every archive names the project and the released version,
/// and the archives are well-formed (see `xtask/py/inspect_dists.py`).
pub fn check_metadata(inspected: &[Inspected], dists: &[Dist], project_name: &str, version: &Version) -> Result<()> {
    if inspected.len() != dists.len() {
        bail!("the inspector reported {} of {} files", inspected.len(), dists.len());
    }
    let want_name = normalize_name(project_name);
    for (it, dist) in inspected.iter().zip(dists) {
        let what = match dist.kind {
            Kind::Wheel => "METADATA",
            Kind::Sdist => "PKG-INFO",
        };
        if !it.problems.is_empty() {
            bail!("{} is not a sound archive: {}", dist.file_name, it.problems.join("; "));
        }
        let name = it.name.as_deref().unwrap_or_default();
        if normalize_name(name) != want_name {
            bail!("{} has Name {name:?} in its {what}, but the project is {project_name:?}", dist.file_name);
        }
        let found = it.version.as_deref().unwrap_or_default();
        if found != version.as_str() {
            bail!(
                "{} has Version {found:?} in its {what}, but the release is {version}: \
                 the version file and the build disagree",
                dist.file_name
            );
        }
    }
    Ok(())
}

/// Runs the inspector and `twine check --strict` on the distributions, in one
/// Python process.
pub fn inspect(sh: &Shell, tools: &Tools, root: &Path, dists: &[Dist]) -> Result<Vec<Inspected>> {
    let python = &tools.python;
    let script = root.join("xtask/py/inspect_dists.py");
    let files: Vec<&Path> = dists.iter().map(|it| it.path.as_path()).collect();
    let out = exec::run(cmd!(sh, "{python} {script} --twine-check {files...}"), &Env::base())
        .capture()
        .exec()
        .context("check the distributions with `twine check --strict` (fix the metadata it names in pyproject.toml)")?;
    parse_inspection(&out.stdout)
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

    #[test]
    fn checks_inspected_metadata() {
        let v = version::parse("1.0.0").unwrap();
        let dists = [dist("yamause-1.0.0.tar.gz")];
        let ok = r#"{"file": "x", "name": "yamause", "version": "1.0.0", "metadata_version": "2.4", "problems": []}"#;
        check_metadata(&parse_inspection(ok).unwrap(), &dists, "yamause", &v).unwrap();
        let cases = [
            (
                r#"{"file": "x", "name": "yamause", "version": "0.9", "problems": []}"#,
                "has Version \"0.9\" in its PKG-INFO",
            ),
            (r#"{"file": "x", "name": "other", "version": "1.0.0", "problems": []}"#, "has Name \"other\""),
            (
                r#"{"file": "x", "name": null, "version": null, "problems": ["unsafe member path '../x'"]}"#,
                "not a sound archive: unsafe member path",
            ),
            ("", "reported 0 of 1 files"),
        ];
        for (line, want) in cases {
            let err = check_metadata(&parse_inspection(line).unwrap(), &dists, "yamause", &v).unwrap_err().to_string();
            assert!(err.contains(want), "{err:?} should contain {want:?}");
        }
    }
}
