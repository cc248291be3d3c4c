//! The uploader: one twine process (`upload_dists.py`, beside this file) that
//! uploads the files it is told, one at a time, each within its deadline, and
//! reports each file's outcome as it is done; and what each outcome means
//! (`Failure`).

use std::{io::Write, path::Path};

use anyhow::Result;
use xshell::{Shell, cmd};

use crate::{
    dists::Dist,
    exec::{self, Env},
    limits,
    net::cause::Cause,
    python::Tools,
    redact::Secret,
};

/// How long the uploader may take beyond its files' deadlines (starting Python,
/// reading the files): the deadline of the process as a whole is theirs summed plus
/// this, a bound that holds even where Python's own per-file alarm cannot fire (a
/// name lookup blocked in the C library).
const UPLOADER_SLACK: std::time::Duration = std::time::Duration::from_secs(30);

/// How an upload ended, read from twine's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// 409: the name is taken by other content.
    Conflict,
    /// 401: the token is expired or invalid.
    Unauthorized,
    /// 403: the identity may not publish this package (or origin controls block it).
    Forbidden,
    /// The package's origin controls block direct publishing (`publish: BLOCK`):
    /// CodeArtifact's refusal says "This package is configured to block new
    /// versions". No fresh token changes that.
    Blocked,
    /// 429: throttled, with the `Retry-After` seconds when the answer gave them.
    Throttled(Option<u64>),
    /// 400 and other client errors, with the answer's explanation.
    Refused(u16, String),
    /// 5xx: worth another attempt.
    Server(u16),
    /// No answer, and why (`net::Cause`): the name did not resolve, the connection
    /// was refused, not established within `XTASK_CONNECT_TIMEOUT`, failed TLS, got
    /// no answer within `XTASK_UPLOAD_TIMEOUT` (`NoAnswer`), broke (`Other`), or the
    /// whole upload did not end within the file's deadline (`TooSlow`).
    Network(Cause),
    /// The file is not a readable distribution (it changed or broke on disk).
    Invalid(String),
    /// twine read another name, version or content from the file than the
    /// inspection checked; nothing was sent.
    Mismatch(String),
    /// The uploader ended (crashed, was killed or stopped) before it reported this
    /// file: whether it arrived is for the repository to tell.
    NoResult(String),
    Other(String),
}

impl Failure {
    /// Worth another run of twine. Not a name that did not resolve, a refused or
    /// unestablished connection, a TLS failure or an upload past its deadline: twine
    /// already retried the connection five times within the run, and a server that
    /// trickles would only make each run take its whole deadline again.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Failure::Server(_)
                | Failure::Throttled(_)
                | Failure::Network(Cause::NoAnswer | Cause::Other(_))
                | Failure::NoResult(_)
        )
    }

    /// An upload that ended without a clear answer: the file may have arrived, and
    /// the repository says whether it did.
    pub fn is_unclear(&self) -> bool {
        matches!(
            self,
            Failure::NoResult(_)
                | Failure::Server(_)
                | Failure::Network(Cause::NoAnswer | Cause::Other(_) | Cause::TooSlow)
        )
    }
}

/// Maps one upload result (`upload_dists.py`: a kind, the HTTP status, the reason,
/// the `Retry-After` seconds) to what it means.
pub fn classify(kind: &str, status: Option<u16>, reason: &str, retry_after: Option<u64>) -> Failure {
    // CodeArtifact's words for an origin-control refusal, whatever the status (it is
    // not documented; cdklabs/publib matches on the same words).
    if kind == "http" && reason.to_ascii_lowercase().contains("configured to block new versions") {
        return Failure::Blocked;
    }
    match (kind, status) {
        ("http", Some(409)) => Failure::Conflict,
        // pypiserver and some indexes answer a duplicate with 400 "already exists".
        ("http", Some(400)) if reason.to_ascii_lowercase().contains("already exist") => Failure::Conflict,
        ("http", Some(401)) => Failure::Unauthorized,
        ("http", Some(403)) => Failure::Forbidden,
        ("http", Some(429)) => Failure::Throttled(retry_after),
        ("http", Some(status @ 500..=599)) => Failure::Server(status),
        ("http", Some(status)) => Failure::Refused(status, first_line(reason)),
        ("name", _) => Failure::Network(Cause::Name(first_line(reason))),
        ("refused", _) => Failure::Network(Cause::Refused),
        ("connect-timeout", _) => Failure::Network(Cause::NoConnection),
        ("tls", _) => Failure::Network(Cause::Tls(first_line(reason))),
        ("timeout", _) => Failure::Network(Cause::NoAnswer),
        ("deadline", _) => Failure::Network(Cause::TooSlow),
        ("connection", _) => Failure::Network(Cause::Other(first_line(reason))),
        ("invalid" | "io", _) => Failure::Invalid(first_line(reason)),
        ("mismatch", _) => Failure::Mismatch(first_line(reason)),
        _ => Failure::Other(first_line(reason)),
    }
}

/// The first non-empty line, cut to 300 characters, after the secrets are scrubbed:
/// a cut first could leave part of a token that no longer matches its mask.
fn first_line(text: &str) -> String {
    let scrubbed = crate::redact::scrub(text);
    scrubbed.lines().map(str::trim).find(|it| !it.is_empty()).unwrap_or("").chars().take(300).collect()
}

/// What twine must read from every file before it sends it: the project's
/// normalized name and the release's version (the SHA-256 is each file's own).
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    pub name: &'a str,
    pub version: &'a str,
}

/// A twine process that uploads the files it is given on stdin, one at a time
/// (`upload_dists.py`): it uploads nothing until `upload` names the files,
/// with what the inspection checked of each, which twine's own reading must match
/// before it sends anything. The token reaches twine
/// only through its environment (`TWINE_PASSWORD`), never its arguments or a file.
/// twine itself repeats an upload that got a 5xx five times.
pub struct Uploader {
    running: exec::Running,
}

impl Uploader {
    pub fn start(sh: &Shell, tools: &Tools, root: &Path, endpoint: &str, token: &Secret) -> Result<Uploader> {
        let python = &tools.python;
        let script = root.join("xtask/src/release/publish/upload_dists.py");
        let mut env = Env::network();
        env.set("TWINE_USERNAME", "aws").set("TWINE_PASSWORD", token.expose()).set("TWINE_REPOSITORY_URL", endpoint);
        // No keyring lookups: the credentials are all in the environment.
        env.set("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring");
        // Every request of twine is bounded (`limits`).
        let limits = crate::limits::get();
        env.set("XTASK_CONNECT_TIMEOUT", limits.connect.as_secs_f64().to_string())
            .set("XTASK_UPLOAD_TIMEOUT", limits.upload.as_secs_f64().to_string());
        let running = exec::run(cmd!(sh, "{python} {script} --stdin"), &env).capture().stdin_piped().spawn()?;
        Ok(Uploader { running })
    }

    /// Uploads `dists` and returns each file's outcome, as reported the moment it was
    /// done, and how the uploader ended when that was not normally (a crash, a kill,
    /// a stall, a signal): files it never reported are `NoResult`, or `TooSlow` when
    /// the uploader was stopped at its deadline. Each file's upload must end within
    /// `Limits::upload_total` of its size, and the uploader within their sum and
    /// `UPLOADER_SLACK`.
    pub fn upload(mut self, dists: &[&Dist], expected: Expected) -> (Vec<Result<(), Failure>>, Option<anyhow::Error>) {
        let limits = limits::get();
        let lines: String = dists
            .iter()
            .map(|d| {
                let path = d.path.to_string_lossy();
                let deadline = limits.upload_total(d.size).as_secs_f64();
                let line = serde_json::json!({ "path": path, "name": expected.name, "version": expected.version, "sha256": d.sha256, "deadline": deadline });
                format!("{line}\n")
            })
            .collect();
        let total = dists.iter().map(|d| limits.upload_total(d.size)).sum::<std::time::Duration>() + UPLOADER_SLACK;
        self.running.deadline_from_now(total, "twice XTASK_UPLOAD_TIMEOUT + each file's size at XTASK_UPLOAD_MIN_RATE");
        let written = match self.running.stdin() {
            Some(stdin) => {
                stdin.write_all(lines.as_bytes()).map_err(|err| format!("could not hand the files to twine: {err}"))
            }
            None => Err("twine has no stdin".to_owned()),
        };
        let (ended, stdout) = self.running.finish_keeping_output();
        let ended = match written {
            Err(err) => Err(anyhow::Error::msg(err)),
            Ok(()) => ended,
        };
        let unreported = match &ended {
            Err(err) if err.chain().any(|it| it.is::<exec::DeadlinePassed>()) => Failure::Network(Cause::TooSlow),
            Err(err) => Failure::NoResult(format!("{err:#}")),
            Ok(()) => Failure::NoResult("twine reported nothing for this file".to_owned()),
        };
        let mut results: Vec<Result<(), Failure>> = dists.iter().map(|_| Err(unreported.clone())).collect();
        for line in stdout.lines() {
            let Ok(value) = serde_json::from_str::<serde_json::Value>(line) else { continue };
            let Some(i) = dists.iter().position(|d| value["file"].as_str() == Some(d.file_name.as_str())) else {
                continue;
            };
            results[i] = if value["ok"].as_bool() == Some(true) {
                Ok(())
            } else {
                let status = value["status"].as_u64().and_then(|it| u16::try_from(it).ok());
                let text = |key: &str| value[key].as_str().unwrap_or("").to_owned();
                Err(classify(&text("kind"), status, &text("reason"), value["retry_after"].as_u64()))
            };
        }
        (results, ended.err())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_upload_results() {
        let cases = [
            ("http", Some(409), "Conflict", Failure::Conflict),
            // CodeArtifact's body for a conflicting re-upload.
            ("http", Some(409), "Asset 'yamause-1.0.0.tar.gz' already exists.", Failure::Conflict),
            (
                "http",
                Some(403),
                "This package is configured to block new versions from being published",
                Failure::Blocked,
            ),
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
            ("connection", None, "Connection aborted", Failure::Network(Cause::Other("Connection aborted".to_owned()))),
            ("timeout", None, "ReadTimeout", Failure::Network(Cause::NoAnswer)),
            ("deadline", None, "the upload did not end within 4 s", Failure::Network(Cause::TooSlow)),
            ("connect-timeout", None, "ConnectTimeout", Failure::Network(Cause::NoConnection)),
            ("refused", None, "ConnectionError: refused", Failure::Network(Cause::Refused)),
            (
                "invalid",
                None,
                "BadZipFile: File is not a zip file",
                Failure::Invalid("BadZipFile: File is not a zip file".to_owned()),
            ),
            ("io", None, "FileNotFoundError: x", Failure::Invalid("FileNotFoundError: x".to_owned())),
            ("mismatch", None, "twine read x 9.9.9", Failure::Mismatch("twine read x 9.9.9".to_owned())),
            ("other", None, "something else\n", Failure::Other("something else".to_owned())),
        ];
        for (kind, status, reason, want) in cases {
            assert_eq!(classify(kind, status, reason, None), want, "{kind} {status:?} {reason}");
        }
        assert_eq!(classify("http", Some(429), "Too Many Requests", Some(3)), Failure::Throttled(Some(3)));
        assert!(Failure::Throttled(None).is_transient() && Failure::NoResult(String::new()).is_transient());
        assert!(!Failure::Invalid(String::new()).is_transient());
        // A trickle or an unreachable host is not tried again; a trickle may have arrived.
        assert!(!Failure::Network(Cause::TooSlow).is_transient() && Failure::Network(Cause::TooSlow).is_unclear());
        assert!(!Failure::Network(Cause::NoConnection).is_transient());
        assert!(!Failure::Network(Cause::Refused).is_unclear());
    }
}
