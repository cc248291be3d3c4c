//! `cargo xtask release [TAG]`: the release pipeline, read top to bottom in the order
//! of the numbered steps it prints.
//!
//! 1. Version: TAG (or `GITHUB_REF_NAME` on a tag push, or the version file) → a
//!    normalized PEP 440 version. A hostile tag is refused here, before anything runs.
//! 2. Preflight: git and python3 present, clean tree, tag points at `HEAD`.
//! 3. Stamp: write the version into the version file (atomically; untouched if equal).
//! 4. Python tools: the pinned tool environment.
//! 5. Build: sdist and wheel, reproducible (`SOURCE_DATE_EPOCH` = commit time).
//! 6. Verify: file names, metadata, archive soundness, `twine check --strict`, hashes.
//! 7. Publish: upload to CodeArtifact (with `--dry-run`: say what would be uploaded).

use std::{env, fs, path::Path};

use anyhow::{Context, Result, bail};
use xshell::Shell;

use crate::{
    dists::{self, Dist},
    exec::{self, Cancel},
    flags, fsutil, git,
    project::{self, Project},
    python::{self, Lock},
    report::{self, Steps},
    stamp,
    version::{self, Source, Version},
};

impl flags::Release {
    pub fn run(self, sh: &Shell) -> Result<()> {
        exec::set_verbose(self.verbose);
        // A tag given on the command line is checked before anything else happens.
        let tag = match &self.tag {
            Some(tag) => Some((tag.clone(), version::parse_tag(tag, Source::Argument)?, Source::Argument)),
            None => None,
        };
        let root = project::find_root()?;
        sh.change_dir(&root);
        let project = Project::load(&root)?;
        let mut steps = Steps::new(7);

        let (version, tag) = steps.run("Version", || resolve_version(&project, tag))?;
        let checkout = steps.run("Preflight", || self.preflight(sh, &project, tag.as_deref()))?;
        steps.run("Stamp", || stamp_version(&project, &version))?;
        let tools = steps.run("Python tools", || python::ensure(sh, &root, Lock::Release))?;
        let out = dists::out_dir(&root, &version);
        steps.run("Build", || {
            report::say(&format!("SOURCE_DATE_EPOCH={} (commit time of HEAD {})", checkout.head_time, checkout.head));
            dists::build(sh, &tools, &project, &out, &checkout.head_time, &Cancel::default())
        })?;
        let dists = steps.run("Verify", || verify(sh, &tools, &project, &version, &out))?;
        steps.run("Publish", || self.publish(&project, &version, &dists))?;
        summarize(&project, &version, &dists, self.dry_run)
    }

    fn preflight(&self, sh: &Shell, project: &Project, tag: Option<&str>) -> Result<git::Checkout> {
        report::say(&git::check_installed(sh)?);
        report::say(&format!("Python {}", python::check_interpreter(sh)?));
        let checkout = git::checkout(sh)?;
        let version_file = format!("{}{}", checkout.prefix, project.version_file);
        let dirty: Vec<String> = git::changed_paths(sh)?.into_iter().filter(|it| *it != version_file).collect();
        let in_ci = env::var_os("CI").is_some_and(|it| it == "true");
        if !dirty.is_empty() {
            let list = dirty.iter().take(10).map(|it| format!("\n    {it}")).collect::<String>();
            if self.allow_dirty || in_ci {
                let why = if self.allow_dirty { "--allow-dirty" } else { "CI" };
                report::warn(&format!("releasing with uncommitted changes ({why}):{list}"));
            } else {
                bail!(
                    "the working tree has uncommitted changes, which would end up in a release no \
                     commit describes:{list}\ncommit or stash them, or pass --allow-dirty"
                );
            }
        }
        if let Some(tag) = tag {
            match git::tag_commit(sh, tag)? {
                Some(commit) if commit != checkout.head => report::warn(&format!(
                    "tag {tag} points at {commit}, not at HEAD {}: the release is built from HEAD; \
                     check out the tag to release what it names",
                    checkout.head
                )),
                Some(_) => report::say(&format!("tag {tag} points at HEAD {}", checkout.head)),
                None => report::say(&format!("tag {tag} does not exist here; releasing HEAD {}", checkout.head)),
            }
        }
        Ok(checkout)
    }

    fn publish(&self, _project: &Project, version: &Version, dists: &[Dist]) -> Result<()> {
        let target = ["CODEARTIFACT_DOMAIN", "CODEARTIFACT_DOMAIN_OWNER", "CODEARTIFACT_REPOSITORY", "AWS_REGION"]
            .map(|name| env::var(name).ok().filter(|it| !it.is_empty()));
        let configured = target.iter().all(Option::is_some);
        if self.dry_run {
            match target {
                [Some(domain), Some(owner), Some(repository), Some(region)] => report::say(&format!(
                    "dry run: would upload {} file(s) of version {version} to CodeArtifact \
                     {domain}/{repository} (owner {owner}, region {region}); nothing was uploaded",
                    dists.len()
                )),
                _ => report::say(
                    "dry run: the publish target is not configured (set CODEARTIFACT_DOMAIN, \
                     CODEARTIFACT_DOMAIN_OWNER, CODEARTIFACT_REPOSITORY and AWS_REGION); nothing was uploaded",
                ),
            }
            return Ok(());
        }
        if !configured {
            bail!(
                "the publish target is not configured: set CODEARTIFACT_DOMAIN, \
                 CODEARTIFACT_DOMAIN_OWNER, CODEARTIFACT_REPOSITORY and AWS_REGION, or pass --dry-run"
            );
        }
        bail!("publishing to CodeArtifact is not implemented yet: run with --dry-run")
    }
}

/// Step 1: the version to release, and the tag it came from (for the tag check).
fn resolve_version(project: &Project, tag: Option<(String, Version, Source)>) -> Result<(Version, Option<String>)> {
    let from_github = env::var("GITHUB_REF_TYPE").is_ok_and(|it| it == "tag") && report::in_github_actions();
    let (version, tag, source) = match tag {
        Some((tag, version, source)) => (version, Some(tag), source),
        None if from_github => {
            let tag = env::var("GITHUB_REF_NAME").context("read GITHUB_REF_NAME of the tag push")?;
            let version = version::parse_tag(&tag, Source::GithubRef)?;
            (version, Some(tag), Source::GithubRef)
        }
        None => {
            let text = fs::read(project.version_path()).with_context(|| format!("read {}", project.version_file))?;
            let current = stamp::find(&text, &project.version_file)?.current;
            let version = version::parse_tag(&current, Source::VersionFile)
                .with_context(|| format!("read the version of {}", project.version_file))?;
            (version, None, Source::VersionFile)
        }
    };
    let origin = match &tag {
        Some(tag) => format!("{source} {tag:?}"),
        None => format!("{source} {}", project.version_file),
    };
    report::say(&format!("releasing {} {version} (from {origin})", project.name));
    Ok((version, tag))
}

/// Step 3: writes the version into the version file, leaving the file untouched when
/// it already holds that version.
fn stamp_version(project: &Project, version: &Version) -> Result<()> {
    let path = project.version_path();
    let text = fs::read(&path).with_context(|| format!("read {}", project.version_file))?;
    let assignment = stamp::find(&text, &project.version_file)?;
    if assignment.current == version.as_str() {
        report::say(&format!("{} already says {version}; left untouched", project.version_file));
        return Ok(());
    }
    let new = stamp::replace(&text, &assignment, version.as_str());
    fsutil::write_atomic(&path, &new).with_context(|| format!("write {}", project.version_file))?;
    report::say(&format!("{}: {} → {version}", project.version_file, assignment.current));
    Ok(())
}

/// Step 6: everything that makes the built files trustworthy, then the manifest.
fn verify(sh: &Shell, tools: &python::Tools, project: &Project, version: &Version, out: &Path) -> Result<Vec<Dist>> {
    let dists = dists::collect(out)?;
    dists::check_file_names(&dists, &project.name, version)?;
    let inspected = dists::inspect(sh, tools, &project.root, &dists)?;
    dists::check_metadata(&inspected, &dists, &project.name, version)?;
    dists::write_manifest(out, &project.name, version, &dists)?;
    report::say(&format!("{}:", out.display()));
    for dist in &dists {
        report::say(&format!("  {:<45} {:>9} B  sha256:{}", dist.file_name, dist.size, dist.sha256));
    }
    Ok(dists)
}

/// The closing summary, also in the GitHub job summary.
fn summarize(project: &Project, version: &Version, dists: &[Dist], dry_run: bool) -> Result<()> {
    let what = if dry_run { "Dry run of" } else { "Released" };
    report::say(&format!("{what} {} {version}: {} file(s) verified", project.name, dists.len()));
    let mut md =
        format!("### {what} {} {version}\n\n| File | Size (bytes) | SHA-256 |\n|---|---:|---|\n", project.name);
    for dist in dists {
        md.push_str(&format!("| `{}` | {} | `{}` |\n", dist.file_name, dist.size, dist.sha256));
    }
    report::append_summary(&md)
}
