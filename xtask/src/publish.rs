//! Safe uploads: compare with what the repository already holds, upload only what is
//! missing, one file at a time, and explain every refusal.
//!
//! A version's files cannot be replaced in CodeArtifact: an identical file may be
//! sent again, different content under the same name is refused with 409. So before
//! uploading, the SHA-256 of each local file is compared with the published asset:
//! identical → skipped, different → refused with both hashes, missing → uploaded.
//! Re-running a release is therefore always safe, and completes a partial one.

use std::{thread, time::Duration};

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

/// Reads twine's error output (`HTTPError: 409 Conflict from URL`, connection errors).
pub fn classify(output: &str) -> Failure {
    if let Some(rest) = output.split("HTTPError: ").nth(1) {
        let status: u16 = rest.split_whitespace().next().and_then(|it| it.parse().ok()).unwrap_or(0);
        let reason = rest.lines().skip(1).map(str::trim).find(|it| !it.is_empty()).unwrap_or("").to_owned();
        return match status {
            409 => Failure::Conflict,
            401 => Failure::Unauthorized,
            403 => Failure::Forbidden,
            500..=599 => Failure::Server(status),
            // pypiserver and some indexes answer a duplicate with 400 "already exists".
            400 if reason.to_ascii_lowercase().contains("already exist") => Failure::Conflict,
            _ => Failure::Refused(status, reason),
        };
    }
    let lower = output.to_ascii_lowercase();
    let connection = [
        "connectionerror",
        "connection aborted",
        "connection reset",
        "max retries exceeded",
        "remotedisconnected",
        "timed out",
        "broken pipe",
    ];
    if connection.iter().any(|it| lower.contains(it)) {
        return Failure::Connection;
    }
    Failure::Other(output.lines().rev().find(|it| !it.trim().is_empty()).unwrap_or("").trim().to_owned())
}

/// Uploads one file with twine. The token reaches twine only through its environment
/// (`TWINE_PASSWORD`), never its arguments or a file. twine itself repeats an upload
/// that got a 5xx five times; connection errors and 5xx that survive that are retried
/// here with backoff (three twine runs in all), and the last outcome is returned.
pub fn upload(sh: &Shell, tools: &Tools, dist: &Dist, endpoint: &str, token: &Secret) -> Result<(), Failure> {
    let python = &tools.python;
    let file = &dist.path;
    let mut env = Env::network();
    env.set("TWINE_USERNAME", "aws").set("TWINE_PASSWORD", token.expose()).set("TWINE_REPOSITORY_URL", endpoint);
    // No keyring lookups: the credentials are all in the environment.
    env.set("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring");
    let mut last = Failure::Other(String::new());
    for attempt in 1..=3u32 {
        if attempt > 1 {
            thread::sleep(Duration::from_secs(u64::from(attempt - 1)));
        }
        let result =
            exec::run(cmd!(sh, "{python} -m twine upload --non-interactive --disable-progress-bar {file}"), &env)
                .exec();
        match result {
            Ok(_) => return Ok(()),
            Err(err) => {
                last = classify(&format!("{err:#}"));
                if !last.is_transient() {
                    return Err(last);
                }
            }
        }
    }
    Err(last)
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
    fn classifies_twine_output() {
        let cases = [
            ("ERROR    HTTPError: 409 Conflict from https://x/pypi/r/\n         Conflict", Failure::Conflict),
            ("HTTPError: 400 Bad Request from http://x/\n Package 'a' already exists!", Failure::Conflict),
            ("HTTPError: 401 Unauthorized from https://x/", Failure::Unauthorized),
            ("HTTPError: 403 Forbidden from https://x/", Failure::Forbidden),
            ("HTTPError: 503 Service Unavailable from https://x/", Failure::Server(503)),
            (
                "HTTPError: 400 Bad Request from https://x/\nInvalid distribution",
                Failure::Refused(400, "Invalid distribution".to_owned()),
            ),
            ("requests.exceptions.ConnectionError: ('Connection aborted.', RemoteDisconnected())", Failure::Connection),
            ("something else\n", Failure::Other("something else".to_owned())),
        ];
        for (text, want) in cases {
            assert_eq!(classify(text), want, "{text}");
        }
    }

    #[test]
    fn conflict_names_both_hashes() {
        let msg = conflict_message(&dist("a.whl", "11"), Some("99"), "1.0");
        assert!(msg.contains("sha256:11") && msg.contains("sha256:99") && msg.contains("new version"), "{msg}");
    }
}
