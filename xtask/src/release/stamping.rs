//! Step 3, Stamp: the version goes into the version file (atomically, the rest kept
//! byte for byte), and outside CI it is put back after the build. The file and every
//! folder on its path must be regular (`fsutil::regular_file_in`), when it is read and
//! again when it is written or restored: nothing is written through a link.

use std::{fs, path::Path};

use anyhow::{Context, Result};

use crate::{fsutil, project::Project, report, stamp, version::Version};

/// Writes the version into the version file, leaving the file untouched when
/// it already holds that version. Outside CI the returned guard puts the original
/// back when it is dropped (after the build, or when the release stops for any
/// reason), so a failed `release v2.0.0` leaves no 2.0.0 behind for a later
/// `release` without a tag to pick up.
pub fn stamp(project: &Project, version: &Version) -> Result<Option<StampedFile>> {
    let label = &project.version_file;
    let path = fsutil::regular_file_in(&project.root, Path::new(label)).with_context(|| format!("stamp {label}"))?;
    let text = fs::read(&path).with_context(|| format!("read {}", project.version_file))?;
    let permissions = fs::metadata(&path).with_context(|| format!("read {label}"))?.permissions();
    let assignment = stamp::find(&text, &project.version_file)?;
    if assignment.current == version.as_str() {
        report::say(&format!("{} already says {version}; left untouched", project.version_file));
        return Ok(None);
    }
    let new = stamp::replace(&text, &assignment, version.as_str());
    fsutil::regular_file_in(&project.root, Path::new(label)).with_context(|| format!("stamp {label}"))?;
    fsutil::write_atomic(&path, &new).with_context(|| format!("write {}", project.version_file))?;
    report::say(&format!("{}: {} → {version}", project.version_file, assignment.current));
    if report::in_ci() {
        // The checkout is the job's own; the stamped file is what CI builds.
        return Ok(None);
    }
    Ok(Some(StampedFile { root: project.root.clone(), label: label.clone(), original: text, permissions }))
}

/// The version file as it was before the stamp (its bytes and permissions), written
/// back when dropped: as a regular file, in place of the regular file stamped.
pub struct StampedFile {
    root: std::path::PathBuf,
    label: String,
    original: Vec<u8>,
    permissions: fs::Permissions,
}

impl Drop for StampedFile {
    fn drop(&mut self) {
        let restored = fsutil::regular_file_in(&self.root, Path::new(&self.label)).and_then(|path| {
            fsutil::write_atomic(&path, &self.original)?;
            fs::set_permissions(&path, self.permissions.clone()).context("restore the permissions")
        });
        match restored {
            Ok(()) => report::say(&format!("{} restored (it is stamped for the build only)", self.label)),
            Err(err) => report::warn(&format!(
                "could not restore {}: {err:#}; `git checkout -- {}` puts it back",
                self.label, self.label
            )),
        }
    }
}
