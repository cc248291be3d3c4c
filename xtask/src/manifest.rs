//! `manifest.json`: what `release --build-only` built (project, version, the commit
//! it was built from, and each file's size and SHA-256), written next to the files
//! and read back by `release --publish-only`, which trusts nothing else about them.
//!
//! Writing and reading live together so that the two cannot drift. Reading is
//! strict: the manifest comes from another job's artifact, so every field must be
//! there with the right type, and every file name must be a valid distribution name.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::{dists, fsutil};

/// The name of the manifest next to the distributions.
pub const FILE: &str = "manifest.json";

/// The largest manifest read: 1 MiB, for a few hundred bytes per file of a build
/// that holds at most a few hundred files.
const MAX_BYTES: u64 = 1 << 20;

/// One distribution of the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub file: String,
    pub size: u64,
    /// Lowercase hex.
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub name: String,
    pub version: String,
    /// The full commit id the files were built from.
    pub commit: String,
    pub files: Vec<Entry>,
}

impl Manifest {
    /// The manifest of a build.
    pub fn of(name: &str, version: &str, commit: &str, built: &[dists::Dist]) -> Manifest {
        let files =
            built.iter().map(|d| Entry { file: d.file_name.clone(), size: d.size, sha256: d.sha256.clone() }).collect();
        Manifest { name: name.to_owned(), version: version.to_owned(), commit: commit.to_owned(), files }
    }

    /// Writes `manifest.json` into `dir`, atomically.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let files: Vec<Value> =
            self.files.iter().map(|f| json!({ "file": f.file, "size": f.size, "sha256": f.sha256 })).collect();
        let value = json!({ "name": self.name, "version": self.version, "commit": self.commit, "files": files });
        let text = serde_json::to_string_pretty(&value).context("format the manifest")? + "\n";
        fsutil::write_atomic(&dir.join(FILE), text.as_bytes())
    }

    /// Reads and checks `dir/manifest.json`: a regular file (never through a link,
    /// never a FIFO) of at most `MAX_BYTES`.
    pub fn read(dir: &Path) -> Result<Manifest> {
        let path = dir.join(FILE);
        let read = || -> Result<String> {
            let data = fsutil::read_capped(&path, MAX_BYTES)?;
            String::from_utf8(data).context("it is not UTF-8")
        };
        let text = read().with_context(|| {
            format!("read {}: run `cargo xtask release --build-only` first and pass its output folder", path.display())
        })?;
        Manifest::parse(&text).with_context(|| format!("read {}: it is not a manifest this tool wrote", path.display()))
    }

    fn parse(text: &str) -> Result<Manifest> {
        let value: Value = serde_json::from_str(text).context("it is not JSON")?;
        let field = |key: &str| -> Result<String> {
            value.get(key).and_then(Value::as_str).map(str::to_owned).with_context(|| format!("no string `{key}`"))
        };
        let commit = field("commit")?;
        if commit.len() != 40 || !commit.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) {
            bail!("`commit` {commit:?} is not a full commit id");
        }
        let list = value.get("files").and_then(Value::as_array).context("no list `files`")?;
        let mut files: Vec<Entry> = Vec::new();
        for item in list {
            let file = item.get("file").and_then(Value::as_str).context("a file without a string `file`")?;
            dists::parse_file_name(file)?;
            let size = item.get("size").and_then(Value::as_u64).with_context(|| format!("{file:?} has no size"))?;
            let sha256 = item.get("sha256").and_then(Value::as_str).unwrap_or_default();
            if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) {
                bail!("{file:?} has no SHA-256 (64 lowercase hex digits)");
            }
            if files.iter().any(|it| it.file == file) {
                bail!("{file:?} is listed twice");
            }
            files.push(Entry { file: file.to_owned(), size, sha256: sha256.to_owned() });
        }
        Ok(Manifest { name: field("name")?, version: field("version")?, commit, files })
    }

    pub fn entry(&self, file: &str) -> Option<&Entry> {
        self.files.iter().find(|it| it.file == file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";
    const SHA: &str = "5c626156abb700cae7a2ed2ea170963622f67ed02e93e371082a2a1f8ae5ab7c";

    #[test]
    fn writes_what_it_reads() {
        let dir = std::env::temp_dir().join(format!("xtask-manifest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let manifest = Manifest {
            name: "yamause".to_owned(),
            version: "1.0.0".to_owned(),
            commit: COMMIT.to_owned(),
            files: vec![Entry { file: "yamause-1.0.0.tar.gz".to_owned(), size: 5, sha256: SHA.to_owned() }],
        };
        manifest.write(&dir).unwrap();
        assert_eq!(Manifest::read(&dir).unwrap(), manifest);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn refuses_what_a_build_never_writes() {
        let with = |files: &str, commit: &str| {
            format!(r#"{{"name": "yamause", "version": "1.0.0", "commit": "{commit}", "files": [{files}]}}"#)
        };
        let file = |name: &str| format!(r#"{{"file": "{name}", "size": 1, "sha256": "{SHA}"}}"#);
        let cases = [
            (with(&file("../x"), COMMIT), "not a valid distribution file name"),
            (with(&file("yamause-1.0.0-py3-none-##[stop-commands]x.whl"), COMMIT), "not a valid distribution"),
            (with(&format!("{},{}", file("yamause-1.0.0.tar.gz"), file("yamause-1.0.0.tar.gz")), COMMIT), "twice"),
            (with(&file("yamause-1.0.0.tar.gz"), "HEAD"), "not a full commit id"),
            (with(r#"{"file": "yamause-1.0.0.tar.gz", "size": "1", "sha256": "x"}"#, COMMIT), "has no size"),
            (with(r#"{"file": "yamause-1.0.0.tar.gz", "size": 1, "sha256": "ABC"}"#, COMMIT), "has no SHA-256"),
            (r#"{"name": "yamause", "version": "1.0.0", "files": []}"#.to_owned(), "no string `commit`"),
            ("[]".to_owned(), "no string `commit`"),
        ];
        for (text, want) in cases {
            let err = format!("{:#}", Manifest::parse(&text).unwrap_err());
            assert!(err.contains(want), "{text}: {err}");
        }
    }
}
