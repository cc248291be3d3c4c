//! What to do with each file, decided from what the repository holds: a version's
//! files cannot be replaced in CodeArtifact (an identical file may be sent again,
//! different content under the same name is refused with 409), so the SHA-256 of
//! each local file is compared with the published asset: identical → skipped,
//! different → refused with both hashes, missing → uploaded. Re-running a release is
//! therefore always safe, and completes a partial one. A version that holds files
//! this build did not make gets nothing more.

use crate::{aws::Remote, dists::Dist};

/// What to do with one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Upload,
    /// Published already with the same SHA-256.
    Skip,
    /// Published already with other content (the remote SHA-256).
    Conflict(String),
}

/// Decides, per file, from what the repository holds.
pub fn plan(dists: &[Dist], remote: &Remote) -> Vec<Action> {
    dists
        .iter()
        .map(|dist| match remote {
            Remote::Listed(assets) => match assets.get(&dist.file_name) {
                None => Action::Upload,
                Some(sha) if *sha == dist.sha256 => Action::Skip,
                Some(sha) => Action::Conflict(sha.clone()),
            },
            Remote::Unknown(_) => Action::Upload,
        })
        .collect()
}

/// The files of this version the repository holds that this build did not make
/// (name, SHA-256): another build of the version was published, from a second tag
/// of the same version or by hand.
pub fn foreign<'a>(dists: &[Dist], remote: &'a Remote) -> Vec<(&'a str, &'a str)> {
    let Remote::Listed(assets) = remote else { return Vec::new() };
    assets
        .iter()
        .filter(|(name, _)| !dists.iter().any(|d| d.file_name == **name))
        .map(|(name, sha)| (name.as_str(), sha.as_str()))
        .collect()
}

/// Why nothing more is uploaded to a version that holds `foreign` files.
pub fn mixed_message(foreign: &[(&str, &str)], version: &str) -> String {
    let list: Vec<String> = foreign.iter().map(|(name, sha)| format!("{name} (sha256:{sha})")).collect();
    format!(
        "the repository already holds file(s) of {version} that this build did not make: {}. Another build of \
         {version} was published (a second tag of the same version, or an upload by hand); adding this build's \
         files would mix two builds in one version, so nothing is uploaded. Release a new version",
        list.join(", ")
    )
}

/// The message for a file whose name is taken by other content.
pub fn conflict_message(dist: &Dist, remote_sha: Option<&str>, version: &str) -> String {
    let remote = remote_sha.map(|it| format!(", published sha256:{it}")).unwrap_or_default();
    format!(
        "{} differs from the file already published under that name (local sha256:{}{remote}): a published file \
         cannot be replaced; release a new version (for example a .post release) instead of {version}",
        dist.file_name, dist.sha256
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn dist(name: &str, sha: &str) -> Dist {
        Dist::for_test(name, sha)
    }

    #[test]
    fn plans_from_remote_hashes() {
        let dists = [dist("a.whl", "11"), dist("b.whl", "22"), dist("c.tar.gz", "33")];
        let remote = Remote::Listed(BTreeMap::from([
            ("a.whl".to_owned(), "11".to_owned()),
            ("b.whl".to_owned(), "99".to_owned()),
        ]));
        assert_eq!(plan(&dists, &remote), [Action::Skip, Action::Conflict("99".to_owned()), Action::Upload]);
        assert_eq!(plan(&dists, &Remote::Unknown(String::new())), [Action::Upload, Action::Upload, Action::Upload]);
    }

    #[test]
    fn conflict_names_both_hashes() {
        let msg = conflict_message(&dist("a.whl", "11"), Some("99"), "1.0");
        assert!(msg.contains("sha256:11") && msg.contains("sha256:99") && msg.contains("new version"), "{msg}");
    }
}
