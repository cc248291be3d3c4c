//! Builds against private dependencies (`private-dependencies = true`): the build
//! requirements come from the CodeArtifact repository, which needs the token, and
//! the token can publish. So the token never meets build code:
//!
//! 1. the project commits a lock of its build requirements, `build-requirements.txt`,
//!    every one pinned with `==` and hashed; it is checked before authentication;
//! 2. pip installs exactly that lock (`--require-hashes --no-deps`, wheels only) into
//!    a fresh environment, with the repository's index (token included) in its
//!    environment only: pip runs no package code and refuses any file whose hash
//!    the lock does not name;
//! 3. the project's own build backend then runs in that environment with neither the
//!    token nor the network settings (`xtask/py/build_backend.py`).

use std::{
    fs,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result, bail};
use xshell::{Shell, cmd};

use crate::{
    exec::{self, Cancel, Env},
    project::{self, Project, normalize_name},
    python, report,
};

/// The committed lock of the build requirements, at the project root.
pub const LOCK: &str = "build-requirements.txt";

/// How to make the lock, for the error messages.
const HOW: &str = "list the [build-system] requires of pyproject.toml (and what they need) in \
     build-requirements.txt, pinned and hashed: `uv pip compile --generate-hashes --universal \
     -o build-requirements.txt requirements.in` or `pip-compile --generate-hashes`, and commit it";

/// One requirement of the lock.
#[derive(Debug, PartialEq, Eq)]
pub struct Pinned {
    /// Normalized name.
    pub name: String,
    pub version: String,
}

/// Checks the lock and returns its path: every line a `NAME==VERSION` with at least
/// one `--hash=sha256:…`, no option that could point pip elsewhere, and every
/// requirement of `[build-system]` in it.
pub fn check_lock(project: &Project) -> Result<PathBuf> {
    let path = project.root.join(LOCK);
    let text = fs::read_to_string(&path).with_context(|| {
        format!("private-dependencies is on, so the build installs its requirements with the token; read {LOCK}: {HOW}")
    })?;
    let pinned = parse_lock(&text).with_context(|| format!("check {LOCK}: {HOW}"))?;
    for required in build_system_requires(project) {
        if !pinned.iter().any(|it| it.name == required) {
            bail!("{LOCK} does not pin {required}, which [build-system] requires: {HOW}");
        }
    }
    report::say(&format!("{LOCK}: {} requirement(s), each pinned and hashed", pinned.len()));
    Ok(path)
}

/// The normalized names `[build-system] requires` lists.
fn build_system_requires(project: &Project) -> Vec<String> {
    let requires = project.pyproject.get("build-system").and_then(|it| it.get("requires")).and_then(|it| it.as_array());
    requires
        .into_iter()
        .flatten()
        .filter_map(|it| it.as_str())
        .map(|spec| {
            let end = spec.find(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c))).unwrap_or(spec.len());
            normalize_name(&spec[..end])
        })
        .filter(|it| !it.is_empty())
        .collect()
}

/// Parses a hashed requirements file (pip's format: `\` continues a line, `#` starts
/// a comment).
pub fn parse_lock(text: &str) -> Result<Vec<Pinned>> {
    let mut out = Vec::new();
    let joined = text.replace("\\\r\n", " ").replace("\\\n", " ");
    for (no, line) in joined.lines().enumerate() {
        let line = match line.find(" #") {
            Some(i) => &line[..i],
            None if line.trim_start().starts_with('#') => "",
            None => line,
        };
        let mut words = line.split_whitespace();
        let Some(spec) = words.next() else { continue };
        if spec.starts_with('-') {
            bail!("line {}: {spec:?}: the lock may hold requirements and their hashes only", no + 1);
        }
        // `NAME==VERSION`, optionally with extras and an environment marker.
        let spec = spec.split(';').next().unwrap_or(spec);
        let Some((name, version)) = spec.split_once("==") else {
            bail!("line {}: {spec:?} is not pinned with ==", no + 1);
        };
        let name = name.split('[').next().unwrap_or(name);
        let version = version.trim_start_matches('=');
        let valid_name = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if !valid_name || version.is_empty() || version.contains(['*', ',', '<', '>', '!', '~']) {
            bail!("line {}: {spec:?} is not one exact version", no + 1);
        }
        let mut hashes = 0;
        for word in words {
            match word.strip_prefix("--hash=sha256:") {
                Some(hex) if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => hashes += 1,
                _ if word.starts_with("--hash=") => bail!("line {}: {word:?} is not a sha256 hash", no + 1),
                // The rest of an environment marker (`; python_version < "3.11"`).
                _ if !word.starts_with('-') => {}
                _ => bail!("line {}: {word:?}: the lock may hold requirements and their hashes only", no + 1),
            }
        }
        if hashes == 0 {
            bail!("line {}: {name}=={version} has no --hash=sha256:…", no + 1);
        }
        out.push(Pinned { name: normalize_name(name), version: version.to_owned() });
    }
    if out.is_empty() {
        bail!("it lists no requirement");
    }
    Ok(out)
}

/// Installs the lock from the private index into a fresh environment (pip gets the
/// token), then builds the sdist and the wheel with the project's backend there
/// (the build gets no token and no network settings).
pub fn build(
    sh: &Shell,
    project: &Project,
    lock: &Path,
    (out, source_date_epoch): (&Path, &str),
    index: &str,
    cancel: &Cancel,
) -> Result<()> {
    crate::dists::fresh_dir(out)?;
    let venv = project::target_dir(&project.root).join("pybuild");
    if venv.exists() {
        fs::remove_dir_all(&venv)
            .with_context(|| format!("remove the earlier build environment {}", venv.display()))?;
    }
    let base = python::PYTHON;
    exec::run(cmd!(sh, "{base} -m venv {venv}"), &Env::base())
        .cancel(cancel)
        .exec()
        .context("create the build environment")?;
    let python = venv.join(if cfg!(windows) { "Scripts/python.exe" } else { "bin/python" });
    let mut env = Env::private_build();
    env.set("PIP_INDEX_URL", index).set("PIP_DISABLE_PIP_VERSION_CHECK", "1").set("PIP_NO_INPUT", "1");
    exec::run(
        cmd!(sh, "{python} -m pip install --require-hashes --no-deps --only-binary :all: --no-cache-dir -r {lock}"),
        &env,
    )
    .cancel(cancel)
    .exec()
    .with_context(|| {
        format!(
            "install {LOCK} from the repository's index (every file is checked against its hash). If pip found no \
             versions, the repository (or its upstream) lacks them or the identity lacks \
             codeartifact:ReadFromRepository on the repository, which pip only sees as an empty index; \
             `cargo xtask check-iam` checks the permission"
        )
    })?;

    let backend = project
        .pyproject
        .get("build-system")
        .and_then(|it| it.get("build-backend"))
        .and_then(|it| it.as_str())
        .context("pyproject.toml has no [build-system] build-backend")?;
    let script = project.root.join("xtask/py/build_backend.py");
    let root = &project.root;
    let mut env = Env::base();
    env.set("SOURCE_DATE_EPOCH", source_date_epoch);
    exec::run(cmd!(sh, "{python} {script} {backend} {out} {root}"), &env)
        .cancel(cancel)
        .exec()
        .context("build the sdist and the wheel with the build backend")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "--hash=sha256:0000000000000000000000000000000000000000000000000000000000000000";

    #[test]
    fn reads_hashed_locks() {
        let text = format!(
            "# comment\nhatchling==1.27.0 \\\n    {H} \\\n    {H}\n    # via -r in\n\
             tomli==2.2.1 ; python_version < \"3.11\" \\\n    {H}\nPluggy[x]==1.5.0 {H}\n"
        );
        let pinned = parse_lock(&text).unwrap();
        let names: Vec<&str> = pinned.iter().map(|it| it.name.as_str()).collect();
        assert_eq!(names, ["hatchling", "tomli", "pluggy"]);
        assert_eq!(pinned[0].version, "1.27.0");
    }

    #[test]
    fn refuses_what_would_let_the_build_take_something_else() {
        let cases = [
            (format!("hatchling>=1 {H}"), "not pinned with =="),
            ("hatchling==1.27.0".to_owned(), "has no --hash"),
            (format!("hatchling==1.* {H}"), "not one exact version"),
            (
                format!("--index-url https://evil.example/simple\nhatchling==1 {H}"),
                "requirements and their hashes only",
            ),
            (format!("-e git+https://x/y#egg=y\nhatchling==1 {H}"), "requirements and their hashes only"),
            (format!("hatchling==1 {H} --extra-index-url=https://x"), "requirements and their hashes only"),
            ("hatchling==1 --hash=md5:abc".to_owned(), "not a sha256 hash"),
            ("# nothing\n".to_owned(), "lists no requirement"),
        ];
        for (text, want) in cases {
            let err = parse_lock(&text).unwrap_err().to_string();
            assert!(err.contains(want), "{text:?}: {err}");
        }
    }
}
