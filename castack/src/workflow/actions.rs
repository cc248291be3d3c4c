//! The actions the release workflow uses, modelled on what they do on GitHub:
//!
//! - `actions/checkout@v4`: a fresh repository with one commit, fetched as the
//!   action fetches it (`--depth=1 --no-tags`, the event's commit as
//!   `refs/tags/TAG` on a tag push, `refs/remotes/origin/BRANCH` checked out as
//!   `BRANCH` otherwise), so a job sees no other tag and no history.
//! - `actions/upload-artifact@v4`: the files under `path` (a folder's contents, or
//!   one file) stored under `name`; dotfiles left out unless
//!   `include-hidden-files: true` (v4.4 and later); a second upload of a name refused
//!   unless `overwrite: true`.
//! - `actions/download-artifact@v4`: one named artifact's files into `path`. The
//!   real artifact is a zip, so the executable bit is lost.

use std::{collections::BTreeMap, fs, path::Path, process::Command};

use anyhow::{Context, Result, bail};

use super::{Event, JobRun, RunConfig};

impl JobRun<'_> {
    pub(super) fn use_action(
        &mut self,
        action: &str,
        with: &BTreeMap<String, String>,
        config: &RunConfig<'_>,
        artifacts: &Path,
    ) -> Result<String> {
        let with = |key: &str| -> Result<String> { self.resolve(with.get(key).map(String::as_str).unwrap_or("")) };
        match action {
            "actions/checkout" => checkout(&config.repo, &config.sha, self.event, &self.workspace),
            "actions/upload-artifact" => {
                let (name, path) = (with("name")?, with("path")?);
                if name.is_empty() || name.contains(['/', '\\']) {
                    bail!("upload-artifact needs a plain `name:`, not {name:?}");
                }
                let source = self.workspace.join(path.trim_end_matches('/'));
                let target = artifacts.join(&name);
                if target.exists() && with("overwrite")? != "true" {
                    bail!("an artifact named {name} exists already in this run (upload-artifact v4 refuses it)");
                }
                let _ = fs::remove_dir_all(&target);
                fs::create_dir_all(&target)?;
                let hidden = with("include-hidden-files")? == "true";
                let copied = if source.exists() { copy_into(&source, &target, hidden)? } else { 0 };
                if copied == 0 && with("if-no-files-found")? == "error" {
                    bail!("no files were found at {path}");
                }
                Ok(format!("uploaded {copied} file(s) as {name}"))
            }
            "actions/download-artifact" => {
                let (name, path) = (with("name")?, with("path")?);
                // Without a name the real action downloads every artifact, each into a
                // folder of its own: not what the release needs, so not modelled.
                if name.is_empty() {
                    bail!("download-artifact without `name:` is not modelled by this runner");
                }
                let source = artifacts.join(&name);
                if !source.exists() {
                    bail!("no artifact named {name} in this run");
                }
                let target = self.workspace.join(path);
                fs::create_dir_all(&target)?;
                let copied = copy_into(&source, &target, true)?;
                Ok(format!("downloaded {copied} file(s) of {name}"))
            }
            other => bail!("the action {other} is not modelled by this runner"),
        }
    }
}

/// `actions/checkout`: the event's commit alone, as the action fetches it.
fn checkout(repo: &Path, sha: &str, event: &Event, workspace: &Path) -> Result<String> {
    let git = |args: &[&str]| -> Result<()> {
        let out = Command::new("git").args(args).current_dir(workspace).output().context("run git")?;
        if !out.status.success() {
            bail!("git {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(())
    };
    let source = format!("file://{}", repo.display());
    git(&["init", "-q"])?;
    match event {
        Event::TagPush(tag) => {
            git(&["fetch", "-q", "--no-tags", "--depth=1", &source, &format!("+{sha}:refs/tags/{tag}")])?;
            git(&["-c", "advice.detachedHead=false", "checkout", "-q", "--force", &format!("refs/tags/{tag}")])?;
        }
        Event::Dispatch(branch) => {
            let remote = format!("refs/remotes/origin/{branch}");
            git(&["fetch", "-q", "--no-tags", "--depth=1", &source, &format!("+{sha}:{remote}")])?;
            git(&["checkout", "-q", "--force", "-B", branch, &remote])?;
        }
    }
    Ok(format!("checked out {sha}"))
}

/// Copies `source` (a file, or a folder's contents) into `target`; returns the
/// number of files. Like the real artifact zip, the executable bit is not kept.
fn copy_into(source: &Path, target: &Path, hidden: bool) -> Result<usize> {
    if source.is_file() {
        let to = target.join(source.file_name().context("a file has a name")?);
        copy_plain(source, &to)?;
        return Ok(1);
    }
    let mut count = 0;
    for entry in fs::read_dir(source).with_context(|| format!("read {}", source.display()))? {
        let entry = entry?;
        if !hidden && entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let to = target.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            fs::create_dir_all(&to)?;
            count += copy_into(&entry.path(), &to, hidden)?;
        } else {
            copy_plain(&entry.path(), &to)?;
            count += 1;
        }
    }
    Ok(count)
}

fn copy_plain(from: &Path, to: &Path) -> Result<()> {
    fs::copy(from, to).with_context(|| format!("copy {}", from.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(to, fs::Permissions::from_mode(0o644))?;
    }
    Ok(())
}
