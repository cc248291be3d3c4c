//! Safe uploads: compare with what the repository already holds, upload only what is
//! missing, one file at a time, and explain every refusal.
//!
//! A version's files cannot be replaced in CodeArtifact: an identical file may be
//! sent again, different content under the same name is refused with 409. So before
//! uploading, the SHA-256 of each local file is compared with the published asset:
//! identical → skipped, different → refused with both hashes, missing → uploaded.
//! Re-running a release is therefore always safe, and completes a partial one.

use std::{io::Write, path::Path};

use anyhow::Result;
use xshell::{Shell, cmd};

use crate::{
    aws::Remote,
    dists::Dist,
    exec::{self, Env},
    python::Tools,
    redact::Secret,
};

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

/// How an upload ended, read from twine's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// 409: the name is taken by other content.
    Conflict,
    /// 401: the token is expired or invalid.
    Unauthorized,
    /// 403: the identity may not publish this package (or origin controls block it).
    Forbidden,
    /// 400 and other client errors, with twine's explanation.
    Refused(u16, String),
    /// 5xx: worth another attempt.
    Server(u16),
    /// The connection failed or broke: worth another attempt.
    Connection,
    Other(String),
}

impl Failure {
    pub fn is_transient(&self) -> bool {
        matches!(self, Failure::Server(_) | Failure::Connection)
    }
}

/// Maps one upload result (`upload_dists.py`: the HTTP status, or a connection
/// error) to what it means.
pub fn classify(kind: &str, status: Option<u16>, reason: &str) -> Failure {
    match (kind, status) {
        ("http", Some(409)) => Failure::Conflict,
        // pypiserver and some indexes answer a duplicate with 400 "already exists".
        ("http", Some(400)) if reason.to_ascii_lowercase().contains("already exist") => Failure::Conflict,
        ("http", Some(401)) => Failure::Unauthorized,
        ("http", Some(403)) => Failure::Forbidden,
        ("http", Some(status @ 500..=599)) => Failure::Server(status),
        ("http", Some(status)) => Failure::Refused(status, first_line(reason)),
        ("connection", _) => Failure::Connection,
        _ => Failure::Other(first_line(reason)),
    }
}

/// The first non-empty line, cut to 300 characters, after the secrets are scrubbed:
/// a cut first could leave part of a token that no longer matches its mask.
fn first_line(text: &str) -> String {
    let scrubbed = crate::redact::scrub(text);
    scrubbed.lines().map(str::trim).find(|it| !it.is_empty()).unwrap_or("").chars().take(300).collect()
}

/// A twine process that uploads the files it is given on stdin, one at a time
/// (`xtask/py/upload_dists.py`). It can be started before the files are verified, so
/// that importing twine overlaps with the verification: it uploads nothing until
/// `upload` names the files. The token reaches twine only through its environment
/// (`TWINE_PASSWORD`), never its arguments or a file. twine itself repeats an upload
/// that got a 5xx five times.
pub struct Uploader {
    running: exec::Running,
}

impl Uploader {
    pub fn start(sh: &Shell, tools: &Tools, root: &Path, endpoint: &str, token: &Secret) -> Result<Uploader> {
        let python = &tools.python;
        let script = root.join("xtask/py/upload_dists.py");
        let mut env = Env::network();
        env.set("TWINE_USERNAME", "aws").set("TWINE_PASSWORD", token.expose()).set("TWINE_REPOSITORY_URL", endpoint);
        // No keyring lookups: the credentials are all in the environment.
        env.set("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring");
        let running = exec::run(cmd!(sh, "{python} {script} --stdin"), &env).capture().stdin_piped().spawn()?;
        Ok(Uploader { running })
    }

    /// Uploads `dists` and returns each file's outcome.
    pub fn upload(mut self, dists: &[&Dist]) -> Vec<Result<(), Failure>> {
        let paths: String = dists.iter().map(|d| format!("{}\n", d.path.display())).collect();
        let written = match self.running.stdin() {
            Some(stdin) => {
                stdin.write_all(paths.as_bytes()).map_err(|err| format!("could not hand the files to twine: {err}"))
            }
            None => Err("twine has no stdin".to_owned()),
        };
        let out = written.map_err(anyhow::Error::msg).and_then(|()| self.running.finish());
        let stdout = match out {
            Ok(out) => out.stdout,
            Err(err) => {
                let failure = Failure::Other(format!("{err:#}"));
                return dists.iter().map(|_| Err(failure.clone())).collect();
            }
        };
        let mut results: Vec<Result<(), Failure>> =
            dists.iter().map(|_| Err(Failure::Other("twine reported nothing for this file".to_owned()))).collect();
        for line in stdout.lines() {
            let Ok(value) = serde_json::from_str::<serde_json::Value>(line) else { continue };
            let Some(i) = dists.iter().position(|d| value["file"].as_str() == Some(d.file_name.as_str())) else {
                continue;
            };
            results[i] = if value["ok"].as_bool() == Some(true) {
                Ok(())
            } else {
                let status = value["status"].as_u64().and_then(|it| u16::try_from(it).ok());
                Err(classify(value["kind"].as_str().unwrap_or(""), status, value["reason"].as_str().unwrap_or("")))
            };
        }
        results
    }
}

/// The repository's simple index with the token in it (`https://aws:TOKEN@…/simple/`),
/// for pip: a secret, given to the one child that needs it through its environment.
pub fn index_url(endpoint: &str, token: &Secret) -> Secret {
    let url = match endpoint.split_once("://") {
        Some((scheme, rest)) => {
            format!("{scheme}://aws:{}@{rest}simple/", crate::redact::percent_encode(token.expose()))
        }
        None => format!("{endpoint}simple/"),
    };
    Secret::new(url)
}

/// The line consumers use to install the release, with its one-line why.
pub fn install_hint(endpoint: &str, package: &str, version: &str, settings: &crate::settings::Settings) -> String {
    let index = match endpoint.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://aws:${{CODEARTIFACT_AUTH_TOKEN}}@{rest}simple/"),
        None => format!("{endpoint}simple/"),
    };
    format!(
        "install it with:\n    export CODEARTIFACT_AUTH_TOKEN=\"$(aws codeartifact get-authorization-token --domain {} \
         --domain-owner {} --region {} --query authorizationToken --output text)\"\n    pip install --index-url \
         \"{index}\" {package}=={version}\n(--index-url, not --extra-index-url: with an extra index pip may take a \
         same-named package from PyPI instead)",
        settings.domain, settings.domain_owner, settings.region
    )
}

#[cfg(test)]
mod tests {
    use std::{collections::BTreeMap, path::PathBuf};

    use super::*;
    use crate::dists::Kind;

    fn dist(name: &str, sha: &str) -> Dist {
        Dist {
            path: PathBuf::from(name),
            file_name: name.to_owned(),
            kind: Kind::Wheel,
            size: 1,
            sha256: sha.to_owned(),
        }
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
    fn classifies_upload_results() {
        let cases = [
            ("http", Some(409), "Conflict", Failure::Conflict),
            ("http", Some(400), "Package 'a' already exists!", Failure::Conflict),
            ("http", Some(401), "", Failure::Unauthorized),
            ("http", Some(403), "", Failure::Forbidden),
            ("http", Some(503), "", Failure::Server(503)),
            (
                "http",
                Some(400),
                "\nInvalid distribution\nmore",
                Failure::Refused(400, "Invalid distribution".to_owned()),
            ),
            ("connection", None, "Connection aborted", Failure::Connection),
            ("other", None, "something else\n", Failure::Other("something else".to_owned())),
        ];
        for (kind, status, reason, want) in cases {
            assert_eq!(classify(kind, status, reason), want, "{kind} {status:?} {reason}");
        }
    }

    #[test]
    fn conflict_names_both_hashes() {
        let msg = conflict_message(&dist("a.whl", "11"), Some("99"), "1.0");
        assert!(msg.contains("sha256:11") && msg.contains("sha256:99") && msg.contains("new version"), "{msg}");
    }
}
