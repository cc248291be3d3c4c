//! Step 1, Version: the version to release, from the TAG argument, the pushed tag of
//! a GitHub tag push, or the version file (a manual run releases what is there).

use anyhow::{Context, Result, bail};

use crate::{
    ci,
    project::Project,
    report,
    version::{self, Source, Version},
};

/// The version to release, and the tag it came from (for the tag check).
pub fn run(project: &Project, tag: Option<(String, Version)>) -> Result<(Version, Option<String>)> {
    let (version, tag, source) = match (tag, &ci::context().pushed_tag) {
        (Some((tag, version)), _) => (version, Some(tag), Source::Argument),
        (None, Some(pushed)) => {
            let version = version::parse_tag(pushed, Source::GithubRef)?;
            (version, Some(pushed.clone()), Source::GithubRef)
        }
        (None, None) => {
            let current = project.current_version()?;
            let version = version::parse_tag(&current, Source::VersionFile)
                .with_context(|| format!("read the version of {}", project.version_file()))?;
            (version, None, Source::VersionFile)
        }
    };
    let origin = match &tag {
        Some(tag) => format!("{source} {tag:?}"),
        None => format!("{source} {}", project.version_file()),
    };
    report::say(&format!("releasing {} {version} (from {origin})", project.name));
    if let Some(tag) = tag.as_deref().filter(|tag| !version::is_canonical(tag, &version)) {
        let canonical = version::canonical_tag(&version);
        let why = format!(
            "tag {tag:?} is version {version}, whose canonical tag is {canonical}: two tags of one version could \
             publish it from two different commits"
        );
        if report::in_ci() {
            bail!(
                "{why}. Push {canonical} instead (`git tag {canonical} && git push origin {canonical}`) and delete {tag}"
            );
        }
        report::warn(&format!("{why}; in CI this is refused: tag the release {canonical}"));
    }
    Ok((version, tag))
}
