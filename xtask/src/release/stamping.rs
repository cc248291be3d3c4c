//! Step 3, Stamp: the version goes into the version file (atomically, the rest kept
//! byte for byte), and outside CI it is put back after the build.

use std::fs;

use anyhow::{Context, Result};

use crate::{fsutil, project::Project, report, stamp, version::Version};

/// Writes the version into the version file, leaving the file untouched when
/// it already holds that version. Outside CI the returned guard puts the original
/// back when it is dropped (after the build, or when the release stops for any
/// reason), so a failed `release v2.0.0` leaves no 2.0.0 behind for a later
/// `release` without a tag to pick up.
pub fn stamp(project: &Project, version: &Version) -> Result<Option<StampedFile>> {
    let (path, label) = (project.version_path(), project.version_file());
    let text = fs::read(&path).with_context(|| format!("read {label}"))?;
    let assignment = project.version.place.find(&text, label)?;
    if assignment.current == version.as_str() {
        report::say(&format!("{label} already says {version}; left untouched"));
        return Ok(None);
    }
    let new = stamp::replace(&text, &assignment, version.as_str());
    fsutil::write_atomic(&path, &new).with_context(|| format!("write {label}"))?;
    report::say(&format!("{label} ({}): {} → {version}", project.version.declared_by, assignment.current));
    if report::in_ci() {
        // The checkout is the job's own; the stamped file is what CI builds.
        return Ok(None);
    }
    Ok(Some(StampedFile { path, label: label.to_owned(), original: text }))
}

/// The version file as it was before the stamp, written back when dropped.
pub struct StampedFile {
    path: std::path::PathBuf,
    label: String,
    original: Vec<u8>,
}

impl Drop for StampedFile {
    fn drop(&mut self) {
        match fsutil::write_atomic(&self.path, &self.original) {
            Ok(()) => report::say(&format!("{} restored (it is stamped for the build only)", self.label)),
            Err(err) => report::warn(&format!(
                "could not restore {}: {err:#}; `git checkout -- {}` puts it back",
                self.label, self.label
            )),
        }
    }
}
