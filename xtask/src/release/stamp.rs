//! Step 3, Stamp: the release takes the checkout for itself (`exclusive`), puts
//! back what a run that died left stamped (`journal`), then the version goes into
//! the version file (atomically, the rest kept byte for byte: the bytes of the
//! version are found by `project::version_text`); outside CI it is put back after
//! Verify, and the journal says so until then. The file and every
//! folder on its path must be regular (`fsutil::regular_file_in`), when it is read and
//! again when it is written or restored: nothing is written through a link.

use std::{
    fs,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result};

use crate::{
    fsutil,
    git::Checkout,
    project::{Project, version_text},
    report,
    version::Version,
};

mod exclusive;
mod journal;

use exclusive::Exclusive;

/// What the Stamp step leaves for the rest of the run: the locks (held to its end)
/// and the version file to put back.
pub struct Stamped {
    /// Held to the end of the run (the upload reads `dist/`).
    pub exclusive: Exclusive,
    /// Put back when dropped, after the build.
    pub file: Option<StampedFile>,
}

/// Step 3: the locks, the recovery of an earlier run's stamp, the stamp.
pub fn run(project: &Project, checkout: &Checkout, version: &Version) -> Result<Stamped> {
    let target = crate::project::target_dir(&project.root);
    let exclusive = exclusive::acquire(&[
        (checkout.git_dir.join("xtask-release.lock"), "this checkout"),
        (target.join("release.lock"), &format!("the target folder {}", target.display())),
    ])?;
    let journal = journal::path(&checkout.git_dir);
    journal::recover(&journal)?;
    let file = stamp(project, version, journal)?;
    Ok(Stamped { exclusive, file })
}

/// Writes the version into the version file, leaving the file untouched when
/// it already holds that version. Outside CI the returned guard puts the original
/// back when it is dropped (after the build, or when the release stops for any
/// reason), so a failed `release v2.0.0` leaves no 2.0.0 behind for a later
/// `release` without a tag to pick up.
fn stamp(project: &Project, version: &Version, journal: PathBuf) -> Result<Option<StampedFile>> {
    let label = project.version_file();
    let path = fsutil::regular_file_in(&project.root, Path::new(label)).with_context(|| format!("stamp {label}"))?;
    let text = fs::read(&path).with_context(|| format!("read {label}"))?;
    let permissions = fs::metadata(&path).with_context(|| format!("read {label}"))?.permissions();
    let assignment = project.version.place.find(&text, label)?;
    if assignment.current == version.as_str() {
        report::say(&format!("{label} already says {version}; left untouched"));
        return Ok(None);
    }
    let new = version_text::replace(&text, &assignment, version.as_str());
    // In CI the checkout is the job's own and the stamped file is what it builds:
    // nothing is put back, so nothing is journaled.
    let in_ci = report::in_ci();
    if !in_ci {
        journal::record(&journal, (&path, label), &text, &new)?;
    }
    fsutil::regular_file_in(&project.root, Path::new(label)).with_context(|| format!("stamp {label}"))?;
    fsutil::write_atomic(&path, &new).with_context(|| format!("write {label}"))?;
    report::say(&format!("{label} ({}): {} → {version}", project.version.declared_by, assignment.current));
    if in_ci {
        return Ok(None);
    }
    let (root, label) = (project.root.clone(), label.to_owned());
    Ok(Some(StampedFile { root, label, original: text, permissions, journal }))
}

/// The version file as it was before the stamp, written back when dropped.
pub struct StampedFile {
    root: PathBuf,
    label: String,
    original: Vec<u8>,
    permissions: fs::Permissions,
    journal: PathBuf,
}

impl Drop for StampedFile {
    fn drop(&mut self) {
        let restored = fsutil::regular_file_in(&self.root, Path::new(&self.label)).and_then(|path| {
            fsutil::write_atomic(&path, &self.original)?;
            fs::set_permissions(&path, self.permissions.clone()).context("restore the permissions")
        });
        match restored {
            Ok(()) => {
                journal::clear(&self.journal);
                report::say(&format!("{} restored (it is stamped for the build only)", self.label));
            }
            Err(err) => report::warn(&format!(
                "could not restore {}: {err:#}; `git checkout -- {}` puts it back",
                self.label, self.label
            )),
        }
    }
}
