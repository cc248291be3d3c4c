//! The built distributions (`Dist`), as Build hands them to Verify and Verify to
//! Publish and Confirm, and as the manifest lists them: their file names, read
//! strictly (PEP 427 / PEP 625), and their SHA-256. Finding and checking them is
//! the Verify step's (`xtask/src/release/verify.rs`).

use std::{
    io::Read,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use crate::fsutil;

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

#[cfg(test)]
impl Dist {
    /// A file of that name for a unit test: its kind from the name, one byte, `sha256`.
    pub fn for_test(file_name: &str, sha256: &str) -> Dist {
        let kind = if file_name.ends_with(".whl") { Kind::Wheel } else { Kind::Sdist };
        Dist {
            path: PathBuf::from(file_name),
            file_name: file_name.to_owned(),
            kind,
            size: 1,
            sha256: sha256.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
