//! `cargo xtask lock`: writes `build-requirements.txt`, the lock of the project's
//! build requirements that every release installs (see `build_lock`); with
//! `--check`, only checks it (the workflow's compile job, which also learns from it
//! whether the build needs the `build-deps` job).
//!
//! uv (pinned in `xtask/tools/lock.txt`) resolves `[build-system] requires` of
//! `pyproject.toml` for every platform and every Python from the project's lowest
//! (`requires-python`, else 3.9), wheels only, each file hashed. The index is PyPI
//! (or what the machine's uv settings name), or, with `private-dependencies = true`,
//! the CodeArtifact repository: then the token lives in memory and in uv's
//! environment only (never in an argument, a file or the lock; uv runs without a
//! cache so nothing of the private index stays on disk), and the lock is checked to
//! hold no secret before it is written, atomically.

use anyhow::{Context, Result, bail};
use xshell::{Shell, cmd};

use crate::{
    aws, build_lock, exec, flags, fsutil, interrupt,
    project::{self, Project},
    python::{self, ToolLock},
    redact::{self, Secret},
    report, settings,
};

/// The oldest Python a lock is made for when `requires-python` says nothing.
const DEFAULT_PYTHON: &str = "3.9";

impl flags::Lock {
    pub fn run(self, sh: &Shell) -> Result<()> {
        let root = project::find_root()?;
        sh.change_dir(&root);
        let project = Project::load(&root)?;
        if self.check {
            build_lock::check(&project)?;
            let private = settings::private_dependencies(&project.pyproject)?;
            report::out(&format!("private-dependencies={private}"));
            return Ok(());
        }
        let requires = build_lock::canonical(&build_lock::build_system_requires(&project)?);
        let python = lowest_python(&project)?;
        let index = private_index(&project)?;
        let uv = python::ensure(sh, &root, ToolLock::Lock)?.bin("uv");
        let work = project::target_dir(&root).join("lock");
        std::fs::create_dir_all(&work).with_context(|| format!("create {}", work.display()))?;
        let (input, output) = (work.join("build-system-requires.in"), work.join("resolved.txt"));
        std::fs::write(&input, requires.join("\n") + "\n").with_context(|| format!("write {}", input.display()))?;
        let _ = std::fs::remove_file(&output);

        let from = match &index {
            Some(_) => "the CodeArtifact repository",
            None => "the package index (PyPI unless uv's settings name another)",
        };
        report::say(&format!("resolving [build-system] requires = {requires:?} for Python {python}+ from {from}"));
        let mut env = exec::Env::installer();
        // No interpreter download: the lock is resolved for a Python version, not with it.
        env.set("UV_PYTHON_DOWNLOADS", "never");
        let no_cache = index.as_ref().map(|index| {
            // The index URL carries the token: the environment only, never an argument.
            env.set("UV_DEFAULT_INDEX", index.expose()).set("UV_KEYRING_PROVIDER", "disabled");
            "--no-cache"
        });
        let base = python::PYTHON;
        exec::run(
            cmd!(
                sh,
                "{uv} pip compile --quiet --universal --python-version {python} --python {base} --generate-hashes --only-binary :all: --no-header {no_cache...} --output-file {output} {input}"
            ),
            &env,
        )
        .exec()
        .with_context(|| {
            format!(
                "resolve the build requirements with uv from {from}: a requirement no version of which has a wheel \
                 for Python {python} and newer, or which the index lacks, cannot be locked"
            )
        })?;
        let resolved = std::fs::read_to_string(&output).with_context(|| format!("read {}", output.display()))?;
        let _ = std::fs::remove_file(&output);
        let text = format!("{}{resolved}", build_lock::header(&requires, &python));
        if redact::scrub(&text) != text {
            bail!("the resolver's output holds a secret (the index credentials); {} was not written", build_lock::FILE);
        }
        let pins = build_lock::parse(&text).context("read what uv resolved")?.pins;
        fsutil::write_atomic(&root.join(build_lock::FILE), text.as_bytes())
            .with_context(|| format!("write {}", build_lock::FILE))?;
        let summary: Vec<String> = pins.iter().map(|it| format!("{}=={}", it.name, it.version)).collect();
        report::say(&format!("{}: {} pins ({}); commit it", build_lock::FILE, pins.len(), summary.join(", ")));
        Ok(())
    }
}

/// The lowest Python the lock must cover: the `>=X.Y` of `requires-python`, else 3.9.
fn lowest_python(project: &Project) -> Result<String> {
    let requires_python = project.pyproject.get("project").and_then(|it| it.get("requires-python"));
    let Some(spec) = requires_python.and_then(|it| it.as_str()) else { return Ok(DEFAULT_PYTHON.to_owned()) };
    for clause in spec.split(',').map(str::trim) {
        if let Some(version) = clause.strip_prefix(">=") {
            let mut parts = version.trim().split('.');
            let (major, minor) = (parts.next().unwrap_or_default(), parts.next().unwrap_or("0"));
            let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
            if numeric(major) && numeric(minor) {
                return Ok(format!("{major}.{minor}"));
            }
        }
    }
    Ok(DEFAULT_PYTHON.to_owned())
}

/// With private dependencies: the repository's index URL with a fresh token.
fn private_index(project: &Project) -> Result<Option<Secret>> {
    if !settings::private_dependencies(&project.pyproject)? {
        return Ok(None);
    }
    let settings = settings::required(
        &project.pyproject,
        "private-dependencies is on, so the lock is resolved from the CodeArtifact repository",
    )?;
    aws::sso::ensure_supported()?;
    let runtime = aws::runtime()?;
    let mut notes = Vec::new();
    let session = async {
        let session = aws::authenticate(&settings, &mut notes).await?;
        aws::token_and_endpoint(&session, &settings).await
    };
    let (token, endpoint) = runtime
        .block_on(interrupt::interruptible(session))?
        .context("get a CodeArtifact token to resolve the build requirements from the repository")?;
    report::notes(&notes);
    Ok(Some(aws::index_url(&endpoint, &token)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lowest_python_comes_from_requires_python() {
        for (text, want) in [
            ("", "3.9"),
            ("requires-python = \">=3.10\"\n", "3.10"),
            ("requires-python = \"<4, >= 3.11.2\"\n", "3.11"),
            ("requires-python = \"~=3.12\"\n", "3.9"),
        ] {
            let pyproject = format!("[project]\nname = \"x\"\nversion = \"1\"\n{text}");
            let project = Project::parse(&pyproject, &|_| false).unwrap();
            assert_eq!(lowest_python(&project).unwrap(), want, "{text}");
        }
    }
}
