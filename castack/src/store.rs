//! What the repository holds, as CodeArtifact files it: the distribution files in
//! pypiserver's package folder, each under the project name and version of the
//! upload form that brought it, and each visible to listings, the index and
//! downloads only once the publishing latency has passed.
//!
//! Why the form and not the file name: twine sends `name` and `version` read from
//! the archive's METADATA (pypa/twine `twine/package.py`), and a registry files the
//! upload by them (PyPI's legacy upload API does; CodeArtifact is assumed to). A
//! wheel called `…-0.9.1-…` whose METADATA says 9.9.9 is therefore version 9.9.9.
//! Files put into the folder by hand (fixtures, `pip download`) have no form; they
//! are filed by their file name, and visible at once.
//!
//! Why the latency: "Package versions published to a CodeArtifact repository are
//! often available for download in less than one second … However, publishing can
//! be inconsistent and can sometimes take longer … use retries … repeat the download
//! up to three times" (CodeArtifact User Guide, "Publishing latency",
//! https://docs.aws.amazon.com/codeartifact/latest/ug/packages-overview.html#package-publishing-latency).
//! A client that reads right after an upload must be ready not to find it yet.
//!
//! The store also holds each package's origin configuration once the package has a
//! record (`OriginRestrictions`): CodeArtifact sets it when the package's first
//! version arrives (published directly: publish ALLOW, upstream BLOCK; ingested from
//! an upstream or external connection: publish BLOCK, upstream ALLOW), and
//! PutPackageOriginConfiguration sets it, creating the record when none exists (AWS
//! CodeArtifact User Guide, "Editing package origin controls",
//! https://docs.aws.amazon.com/codeartifact/latest/ug/package-origin-controls.html).
//! A file ingested from the external connection is filed with the connection's name:
//! its version's origin is EXTERNAL.

use std::{
    collections::{BTreeMap, HashMap},
    path::Path,
    time::{Duration, Instant},
};

use crate::{
    config::OriginRestrictions,
    pypi::{self, DistFile},
};

/// How one upload was filed.
#[derive(Clone, Debug)]
struct Filing {
    /// The form's `name`, as the uploader wrote it (`Demo_Pkg`).
    project: Option<String>,
    /// The form's `version`.
    version: Option<String>,
    /// Listings, the index and downloads show the file from then on.
    visible_at: Instant,
    /// The external connection it was ingested from; `None`: published directly.
    external: Option<String>,
}

/// The filings of the uploads that came through the emulator, by file name, and the
/// latency new uploads get. Kept across [`crate::Emulator::reset`]: they describe
/// what is stored, which a reset does not change.
#[derive(Debug)]
pub(crate) struct Store {
    filings: HashMap<String, Filing>,
    latency: Duration,
    /// The origin configuration of each package that has a record, by normalized name.
    records: BTreeMap<String, OriginRestrictions>,
}

impl Store {
    pub fn new(latency: Duration) -> Store {
        Store { filings: HashMap::new(), latency, records: BTreeMap::new() }
    }

    /// The origin configuration of `package` (normalized), when it has a record.
    pub fn record(&self, package: &str) -> Option<OriginRestrictions> {
        self.records.get(package).copied()
    }

    /// Every package record, by normalized name.
    pub fn records(&self) -> &BTreeMap<String, OriginRestrictions> {
        &self.records
    }

    /// PutPackageOriginConfiguration: sets the record, creating it if needed.
    pub fn put_record(&mut self, package: &str, restrictions: OriginRestrictions) {
        self.records.insert(package.to_owned(), restrictions);
    }

    /// The first version's arrival: the record gets `defaults` unless it exists.
    fn ensure_record(&mut self, project: Option<&str>, defaults: OriginRestrictions) {
        if let Some(project) = project.filter(|it| !it.trim().is_empty()) {
            self.records.entry(pypi::normalize_name(project.trim())).or_insert(defaults);
        }
    }

    pub fn latency(&self) -> Duration {
        self.latency
    }

    pub fn set_latency(&mut self, latency: Duration) {
        self.latency = latency;
    }

    /// Files `file_name`, just stored, under the form's `name` and `version`; it is
    /// hidden for the latency, or for `lag` when that is longer (a `Lag` fault).
    /// A package's first version published this way creates its record with publish
    /// ALLOW, upstream BLOCK.
    pub fn file(&mut self, file_name: &str, project: Option<&str>, version: Option<&str>, lag: Duration) {
        let filing = Filing {
            project: project.filter(|it| !it.trim().is_empty()).map(|it| it.trim().to_owned()),
            version: version.filter(|it| !it.trim().is_empty()).map(|it| it.trim().to_owned()),
            visible_at: Instant::now() + self.latency.max(lag),
            external: None,
        };
        self.ensure_record(project, OriginRestrictions::PUBLISHED);
        self.filings.insert(file_name.to_owned(), filing);
    }

    /// Files `file_name`, just copied from the external connection `connection`,
    /// under `project` and `version` (from its file name), visible at once. A
    /// package's first version ingested this way creates its record with publish
    /// BLOCK, upstream ALLOW.
    pub fn ingested(&mut self, file_name: &str, project: &str, version: &str, connection: &str) {
        let filing = Filing {
            project: Some(project.to_owned()),
            version: Some(version.to_owned()),
            visible_at: Instant::now(),
            external: Some(connection.to_owned()),
        };
        self.ensure_record(Some(project), OriginRestrictions::INGESTED);
        self.filings.insert(file_name.to_owned(), filing);
    }

    /// Whether `file_name` is stored but not visible yet.
    pub fn pending(&self, file_name: &str) -> bool {
        self.filings.get(file_name).is_some_and(|it| it.visible_at > Instant::now())
    }

    /// The filings as they stand now, to apply outside the lock (reading the folder
    /// is I/O).
    pub fn snapshot(&self) -> Filings {
        Filings { filings: self.filings.clone(), now: Instant::now() }
    }
}

/// A copy of the filings at one instant.
pub(crate) struct Filings {
    filings: HashMap<String, Filing>,
    now: Instant,
}

impl Filings {
    /// Every visible distribution file in `dir`, under the name and version it was
    /// filed by, sorted by file name.
    pub fn visible(&self, dir: &Path) -> Vec<DistFile> {
        pypi::scan(dir)
            .into_iter()
            .filter_map(|mut file| {
                let Some(filing) = self.filings.get(&file.file_name) else { return Some(file) };
                if filing.visible_at > self.now {
                    return None;
                }
                if let Some(project) = &filing.project {
                    file.package = pypi::normalize_name(project);
                    file.project = project.clone();
                }
                if let Some(version) = &filing.version {
                    file.version = version.clone();
                }
                file.external = filing.external.clone();
                Some(file)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_by_form_and_hides_for_the_latency() {
        let dir = std::env::temp_dir().join(format!("castack-store-{}", crate::util::random_hex(4)));
        std::fs::create_dir_all(&dir).unwrap();
        for name in ["demo_pkg-0.9.1-py3-none-any.whl", "demo_pkg-1.0.0.tar.gz", "by_hand-2.0.tar.gz"] {
            std::fs::write(dir.join(name), name).unwrap();
        }
        let mut store = Store::new(Duration::ZERO);
        store.file("demo_pkg-0.9.1-py3-none-any.whl", Some("Demo.Pkg"), Some("9.9.9"), Duration::ZERO);
        store.file("demo_pkg-1.0.0.tar.gz", Some("demo-pkg"), Some("1.0.0"), Duration::from_secs(60));
        let visible = store.snapshot().visible(&dir);
        let shown: Vec<(&str, &str, &str)> =
            visible.iter().map(|it| (it.file_name.as_str(), it.package.as_str(), it.version.as_str())).collect();
        assert_eq!(
            shown,
            [("by_hand-2.0.tar.gz", "by-hand", "2.0"), ("demo_pkg-0.9.1-py3-none-any.whl", "demo-pkg", "9.9.9")]
        );
        assert_eq!(visible[1].project, "Demo.Pkg");
        assert!(store.pending("demo_pkg-1.0.0.tar.gz") && !store.pending("by_hand-2.0.tar.gz"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_first_arrival_sets_the_record_and_later_ones_keep_it() {
        let mut store = Store::new(Duration::ZERO);
        store.ingested("evil_pkg-9.0-py3-none-any.whl", "Evil.Pkg", "9.0", "public:pypi");
        store.file("evil_pkg-9.1-py3-none-any.whl", Some("evil-pkg"), Some("9.1"), Duration::ZERO);
        assert_eq!(store.record("evil-pkg"), Some(OriginRestrictions::INGESTED));
        store.file("ours-1.0.tar.gz", Some("Ours"), Some("1.0"), Duration::ZERO);
        store.ingested("ours-0.1.tar.gz", "ours", "0.1", "public:pypi");
        assert_eq!(store.record("ours"), Some(OriginRestrictions::PUBLISHED));
        assert_eq!(store.record("nothing"), None);
        store.put_record("nothing", OriginRestrictions::INGESTED);
        assert_eq!(store.record("nothing"), Some(OriginRestrictions::INGESTED));
    }
}
