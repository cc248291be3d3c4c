//! The git queries of the release preflight. Read-only: the release never commits,
//! tags or pushes (only `copy_checkout` makes a repository, a throwaway one).

use std::path::Path;

use anyhow::{Context, Result, bail};
use xshell::{Shell, cmd};

use crate::exec::{self, Env};

const INSTALL_HINT: &str = "install git (https://git-scm.com/downloads; Debian/Ubuntu: `apt install git`) \
     and make sure it is on PATH";

fn read(cmd: xshell::Cmd<'_>) -> Result<String> {
    Ok(exec::run(cmd, &Env::base()).capture().exec()?.stdout.trim_end().to_owned())
}

/// Checks that git is installed; returns its version line.
pub fn check_installed(sh: &Shell) -> Result<String> {
    read(cmd!(sh, "git --version")).with_context(|| format!("run git: {INSTALL_HINT}"))
}

/// The repository facts the release needs.
pub struct Checkout {
    /// The path of the project root inside the repository (`""` or `sub/dir/`).
    pub prefix: String,
    /// The repository's own folder (`.git`, or a worktree's): where a run keeps
    /// what belongs to this checkout alone (its lock, the stamp's journal).
    pub git_dir: std::path::PathBuf,
    pub head: String,
    /// Commit time of `HEAD`, seconds since the epoch: the `SOURCE_DATE_EPOCH` of
    /// the build.
    pub head_time: String,
}

/// Reads `HEAD` and where the project sits in its repository.
pub fn checkout(sh: &Shell) -> Result<Checkout> {
    let places = read(cmd!(sh, "git rev-parse --absolute-git-dir --show-prefix"))
        .context("find the git repository: run the release inside a git checkout of the project")?;
    let mut places = places.lines();
    let git_dir = std::path::PathBuf::from(places.next().unwrap_or_default());
    let prefix = places.next().unwrap_or_default().to_owned();
    // One call for the commit and its time.
    let line = read(cmd!(sh, "git log -1 --format=%H%x20%ct HEAD"))
        .context("read HEAD: the repository has no commit yet; commit the project first")?;
    let (head, head_time) = line.split_once(' ').unwrap_or((line.as_str(), ""));
    let hex = |s: &str, len: usize| s.len() >= len && s.bytes().all(|b| b.is_ascii_hexdigit());
    if !hex(head, 40) || head_time.is_empty() || !head_time.bytes().all(|b| b.is_ascii_digit()) {
        bail!("git printed {line:?} for the commit and commit time of HEAD");
    }
    Ok(Checkout { prefix, git_dir, head: head.to_owned(), head_time: head_time.to_owned() })
}

/// Paths (relative to the repository top) with uncommitted changes, untracked files
/// included: an untracked file inside the package would end up in the sdist.
pub fn changed_paths(sh: &Shell) -> Result<Vec<String>> {
    let out = read(cmd!(sh, "git status --porcelain=v1 -z --untracked-files=normal"))
        .context("list uncommitted changes with git status")?;
    Ok(parse_porcelain_z(&out))
}

/// Parses `git status --porcelain=v1 -z`: `XY PATH\0`, renames and copies followed by
/// `ORIG\0`.
pub fn parse_porcelain_z(out: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let mut entries = out.split('\0').filter(|it| !it.is_empty());
    while let Some(entry) = entries.next() {
        let Some(path) = entry.get(3..) else { continue };
        paths.push(path.to_owned());
        if entry.starts_with(['R', 'C'])
            && let Some(orig) = entries.next()
        {
            paths.push(orig.to_owned());
        }
    }
    paths
}

/// Copies the files of the checkout at `src` (tracked and new, not ignored) into
/// `dst`, a fresh repository with one commit of them, at a fixed date and author: a
/// throwaway copy to release from without touching the real checkout (the
/// benchmarks and the tests).
pub fn copy_checkout(src: &Path, dst: &Path) -> Result<()> {
    let sh = Shell::new()?;
    sh.change_dir(src);
    let listed = read(cmd!(sh, "git ls-files -z --cached --others --exclude-standard")).context("list the files")?;
    for rel in listed.split('\0').filter(|it| !it.is_empty()) {
        let from = src.join(rel);
        if !from.is_file() {
            continue; // deleted in the working tree
        }
        let to = dst.join(rel);
        std::fs::create_dir_all(to.parent().context("a file of the checkout has a folder")?)?;
        std::fs::copy(&from, &to).with_context(|| format!("copy {}", from.display()))?;
    }
    sh.change_dir(dst);
    let identity = ["-c", "user.name=xtask", "-c", "user.email=xtask@example.invalid"];
    let mut env = Env::base();
    env.set("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z").set("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z");
    for args in [&["init", "-q", "-b", "main"][..], &["add", "-A"], &["commit", "-q", "-m", "copy"]] {
        exec::run(cmd!(sh, "git {identity...} {args...}"), &env).capture().exec().context("commit the copy")?;
    }
    Ok(())
}

/// The bytes of `path` (relative to the repository top) as `HEAD` has it, `None`
/// when `HEAD` has no such file.
pub fn committed_file(sh: &Shell, path: &str) -> Result<Option<Vec<u8>>> {
    let spec = format!("HEAD:{path}");
    let known = exec::run(cmd!(sh, "git cat-file -e {spec}"), &Env::base()).capture().exec().is_ok();
    if !known {
        return Ok(None);
    }
    let out = cmd!(sh, "git cat-file blob {spec}").quiet().output().with_context(|| format!("read {path} of HEAD"))?;
    Ok(Some(out.stdout))
}

/// The commit a tag points at, if the tag exists locally.
pub fn tag_commit(sh: &Shell, tag: &str) -> Result<Option<String>> {
    let reference = format!("refs/tags/{tag}");
    // `%(*objectname)` is the commit behind an annotated tag; a lightweight tag has
    // none and its own `%(objectname)` is the commit.
    // The pattern also matches `refs/tags/TAG/…`, hence the exact comparison.
    let format = "--format=%(refname) %(objectname) %(*objectname)";
    let out = read(cmd!(sh, "git for-each-ref {format} {reference}")).context("look up the tag")?;
    let line = out.lines().find(|line| line.split(' ').next() == Some(reference.as_str()));
    Ok(line.and_then(|line| line.split_whitespace().last()).map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_porcelain() {
        let out = " M yamause/__about__.py\0?? new.txt\0R  b.py\0a.py\0A  c d.py\0";
        assert_eq!(parse_porcelain_z(out), ["yamause/__about__.py", "new.txt", "b.py", "a.py", "c d.py"]);
        assert!(parse_porcelain_z("").is_empty());
    }
}
