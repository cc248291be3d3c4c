//! `build-requirements.txt`: the committed lock of the project's build requirements
//! (`[build-system] requires` of `pyproject.toml` and everything they need), every
//! one pinned with `==` and hashed. `cargo xtask lock` writes it; the release
//! installs exactly it into a fresh environment and refuses, in Preflight, a lock
//! that is missing, stale or edited by hand, before any tool is installed or any
//! request is made.
//!
//! The lock records what it was made from (a `# requires = [...]` header line), so
//! a change of `[build-system] requires` without a new lock is found even when the
//! old pins happen to satisfy the new requirements.

use std::{fs, path::PathBuf};

use anyhow::{Context, Result, bail};

use crate::{project::Project, report, requirement::Requirement};

/// The lock, at the project root.
pub const FILE: &str = "build-requirements.txt";

/// The fix for every problem of the lock.
pub const FIX: &str = "run `cargo xtask lock` and commit build-requirements.txt";

/// The header line that records `[build-system] requires`.
const MADE_FROM: &str = "# requires = ";

/// One pinned requirement of the lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pinned {
    /// PEP 503 normalized name.
    pub name: String,
    pub version: String,
    /// The environment marker, when the resolver added one.
    pub marker: Option<String>,
    /// SHA-256 digests (lowercase hex) of the files it may be installed from.
    pub hashes: Vec<String>,
}

/// A lock as read from its text.
#[derive(Debug)]
pub struct Parsed {
    pub pins: Vec<Pinned>,
    /// The `[build-system] requires` it was made from, when it says.
    pub made_from: Option<Vec<String>>,
}

/// A lock checked against `pyproject.toml`.
#[derive(Debug)]
pub struct BuildLock {
    pub path: PathBuf,
    pub pins: Vec<Pinned>,
}

impl BuildLock {
    /// `name==version` of every pin, for messages.
    pub fn summary(&self) -> String {
        let pins: Vec<String> = self.pins.iter().map(|it| format!("{}=={}", it.name, it.version)).collect();
        pins.join(", ")
    }
}

/// The header `cargo xtask lock` writes above the resolver's output.
pub fn header(requires: &[String], python: &str) -> String {
    let list = serde_json::to_string(requires).unwrap_or_default();
    format!(
        "# {FILE}: the build requirements of this project, pinned and hashed.\n\
         # Made by `cargo xtask lock` from [build-system] of pyproject.toml; do not edit:\n\
         # change [build-system], then run `cargo xtask lock` again.\n\
         {MADE_FROM}{list}\n\
         # Python {python} and newer, every platform.\n"
    )
}

/// `[build-system] requires` of the project, each parsed; the message names
/// pyproject.toml.
pub fn build_system_requires(project: &Project) -> Result<Vec<Requirement>> {
    let build_system = project.pyproject.get("build-system").and_then(|it| it.as_table()).context(
        "pyproject.toml has no [build-system] table: add one with `requires` and `build-backend` (PEP 517/518)",
    )?;
    let requires = build_system
        .get("requires")
        .and_then(|it| it.as_array())
        .context("pyproject.toml: [build-system] has no `requires` list (PEP 518)")?;
    requires
        .iter()
        .map(|it| {
            let text = it.as_str().context("pyproject.toml: [build-system] requires holds something not a string")?;
            Requirement::parse(text).context("pyproject.toml: [build-system] requires")
        })
        .collect()
}

/// The requirement strings as `cargo xtask lock` records them: trimmed, sorted.
pub fn canonical(requires: &[Requirement]) -> Vec<String> {
    let mut out: Vec<String> = requires.iter().map(Requirement::to_string).collect();
    out.sort();
    out
}

/// Preflight: reads the lock and checks it against `[build-system] requires`.
pub fn check(project: &Project) -> Result<BuildLock> {
    let requires = build_system_requires(project)?;
    let path = project.root.join(FILE);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            bail!("there is no {FILE}: the release builds with exactly the locked build requirements; {FIX}")
        }
        Err(err) => return Err(err).with_context(|| format!("read {FILE}")),
    };
    let parsed = parse(&text).with_context(|| format!("{FILE} is not a lock the release can install: {FIX}"))?;
    let today = canonical(&requires);
    match &parsed.made_from {
        None => bail!(
            "{FILE} does not say which [build-system] requires it was made from (it was not made by `cargo xtask lock`): {FIX}"
        ),
        Some(made_from) => {
            let mut made_from = made_from.clone();
            made_from.sort();
            if made_from != today {
                bail!(
                    "{FILE} was made from [build-system] requires = {}, but pyproject.toml now says {}: {FIX}",
                    serde_json::to_string(&made_from).unwrap_or_default(),
                    serde_json::to_string(&today).unwrap_or_default()
                );
            }
        }
    }
    for requirement in &requires {
        let pins: Vec<&Pinned> = parsed.pins.iter().filter(|it| it.name == requirement.normalized).collect();
        if pins.is_empty() && requirement.marker.is_none() {
            bail!("{FILE} does not pin {}, which [build-system] requires: {FIX}", requirement.name);
        }
        for pin in pins {
            if !requirement.specifier.contains(&pin.version) {
                bail!(
                    "{FILE} pins {}=={}, but [build-system] requires {requirement}: {FIX}",
                    requirement.name,
                    pin.version
                );
            }
        }
    }
    report::say(&format!(
        "{FILE}: {} requirement(s), each pinned and hashed, made from today's [build-system]",
        parsed.pins.len()
    ));
    Ok(BuildLock { path, pins: parsed.pins })
}

/// Parses a hashed requirements file (pip's format: `\` continues a line, `#`
/// starts a comment): every line a `NAME==VERSION` with at least one
/// `--hash=sha256:…`, no option that could point an installer elsewhere.
pub fn parse(text: &str) -> Result<Parsed> {
    let mut pins = Vec::new();
    let mut made_from = None;
    let joined = text.replace("\\\r\n", " ").replace("\\\n", " ");
    for (no, line) in joined.lines().enumerate() {
        let no = no + 1;
        if let Some(list) = line.strip_prefix(MADE_FROM) {
            let list: Vec<String> = serde_json::from_str(list)
                .with_context(|| format!("line {no}: the `{MADE_FROM}…` header is not a list of strings"))?;
            made_from = Some(list);
            continue;
        }
        let line = match line.find(" #") {
            Some(i) => &line[..i],
            None if line.trim_start().starts_with('#') => "",
            None => line,
        };
        if let Some(pin) = parse_line(line).with_context(|| format!("line {no}"))? {
            pins.push(pin);
        }
    }
    if pins.is_empty() {
        bail!("it lists no requirement");
    }
    Ok(Parsed { pins, made_from })
}

fn parse_line(line: &str) -> Result<Option<Pinned>> {
    let (requirement, options) = match line.find(" --") {
        Some(i) => (&line[..i], &line[i..]),
        None => (line, ""),
    };
    let requirement = requirement.trim();
    if requirement.is_empty() && options.trim().is_empty() {
        return Ok(None);
    }
    if requirement.is_empty() || requirement.starts_with('-') {
        bail!("{:?}: the lock may hold requirements and their hashes only", line.trim());
    }
    let (spec, marker) = match requirement.split_once(';') {
        Some((spec, marker)) => (spec.trim(), Some(marker.trim().to_owned())),
        None => (requirement, None),
    };
    let Some((name, version)) = spec.split_once("==") else {
        bail!("{spec:?} is not pinned with ==");
    };
    let name = name.split('[').next().unwrap_or(name).trim();
    let version = version.trim();
    let valid_name = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if !valid_name || crate::version::parse(version).is_err() || version.starts_with('=') {
        bail!("{spec:?} is not one exact version");
    }
    let mut hashes = Vec::new();
    for word in options.split_whitespace() {
        match word.strip_prefix("--hash=sha256:") {
            Some(hex) if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                hashes.push(hex.to_ascii_lowercase());
            }
            _ if word.starts_with("--hash=") => bail!("{word:?} is not a sha256 hash"),
            _ => bail!("{word:?}: the lock may hold requirements and their hashes only"),
        }
    }
    if hashes.is_empty() {
        bail!("{name}=={version} has no --hash=sha256:…");
    }
    Ok(Some(Pinned { name: crate::project::normalize_name(name), version: version.to_owned(), marker, hashes }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "--hash=sha256:0000000000000000000000000000000000000000000000000000000000000000";

    #[test]
    fn reads_hashed_locks_and_their_origin() {
        let text = format!(
            "{}hatchling==1.27.0 \\\n    {H} \\\n    {H}\n    # via -r in\n\
             tomli==2.2.1 ; python_version < \"3.11\" \\\n    {H}\nPluggy[x]==1.5.0 {H}\n",
            header(&["hatchling==1.27.0".to_owned()], "3.9")
        );
        let parsed = parse(&text).unwrap();
        let names: Vec<&str> = parsed.pins.iter().map(|it| it.name.as_str()).collect();
        assert_eq!(names, ["hatchling", "tomli", "pluggy"]);
        assert_eq!(parsed.pins[0].version, "1.27.0");
        assert_eq!(parsed.pins[0].hashes.len(), 2);
        assert_eq!(parsed.pins[1].marker.as_deref(), Some("python_version < \"3.11\""));
        assert_eq!(parsed.made_from.unwrap(), ["hatchling==1.27.0"]);
    }

    #[test]
    fn refuses_what_would_let_the_build_take_something_else() {
        let cases = [
            (format!("hatchling>=1 {H}"), "not pinned with =="),
            ("hatchling==1.27.0".to_owned(), "has no --hash"),
            (format!("hatchling==1.* {H}"), "not one exact version"),
            (format!("hatchling===1.0 {H}"), "not one exact version"),
            (
                format!("--index-url https://evil.example.invalid/simple\nhatchling==1 {H}"),
                "requirements and their hashes only",
            ),
            (format!("-e git+https://x.invalid/y#egg=y\nhatchling==1 {H}"), "requirements and their hashes only"),
            (format!("hatchling==1 {H} --extra-index-url=https://x.invalid"), "requirements and their hashes only"),
            ("hatchling==1 --hash=md5:abc".to_owned(), "not a sha256 hash"),
            ("# nothing\n".to_owned(), "lists no requirement"),
            (format!("# requires = [1]\nhatchling==1 {H}"), "not a list of strings"),
        ];
        for (text, want) in cases {
            let err = format!("{:#}", parse(&text).unwrap_err());
            assert!(err.contains(want), "{text:?}: {err}");
        }
    }
}
