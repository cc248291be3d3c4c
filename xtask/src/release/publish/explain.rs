//! What a failed upload means and what to do about it: each `Failure` as a message
//! that names the cause, the deadline that ended it (with the variable that sets
//! it) and the fix.

use std::time::Duration;

use crate::{
    dists::Dist,
    net::cause::{Cause, Deadlines},
    origin, project,
    settings::Settings,
};

use super::{Ctx, RUNS, decide, uploader::Failure};

/// The host of the repository endpoint the uploads go to, for messages.
fn host_of(endpoint: &str) -> &str {
    endpoint.split("://").nth(1).unwrap_or(endpoint).split(['/', '?']).next().unwrap_or_default()
}

/// Why an upload got no answer, with the deadline that ended it: `XTASK_UPLOAD_TIMEOUT`
/// for silence, and the file's whole deadline (`Limits::upload_total`) for a trickle.
fn network(cause: &Cause, dist: &Dist, host: &str) -> String {
    let limits = crate::limits::get();
    let total = limits.upload_total(dist.size);
    match cause {
        Cause::TooSlow => format!(
            "{host} took the upload too slowly: it did not end within {} (twice XTASK_UPLOAD_TIMEOUT, {}, + its {} \
             bytes at XTASK_UPLOAD_MIN_RATE, {} KiB/s), so it was stopped; the network or a proxy on the way \
             trickles. Re-run the release later (it resumes where it stopped), or on a slow link lower \
             XTASK_UPLOAD_MIN_RATE",
            crate::limits::shown(total),
            crate::limits::shown(limits.upload_floor()),
            dist.size,
            limits.upload_min_rate as f64 / 1024.0
        ),
        Cause::Name(_) => Cause::Name(format!("the name {host} did not resolve")).describe(host, &deadlines(total)),
        other => format!(
            "{} (twine tried the connection six times; re-run the release: it resumes where it stopped)",
            other.describe(host, &deadlines(total))
        ),
    }
}

fn deadlines(total: Duration) -> Deadlines<'static> {
    Deadlines {
        silence: crate::limits::get().upload,
        silence_var: "XTASK_UPLOAD_TIMEOUT",
        total,
        total_var: "XTASK_UPLOAD_MIN_RATE",
    }
}

/// What a failed upload means and what to do about it.
pub fn explain(failure: &Failure, dist: &Dist, (settings, endpoint): (&Settings, &str), ctx: &Ctx<'_>) -> String {
    let version = ctx.version.as_str();
    match failure {
        Failure::Conflict => decide::conflict_message(dist, None, version),
        Failure::Unauthorized => "the repository refused the authorization token (401) even after a fresh one: \
             check that the token belongs to this domain and region (the username must be `aws`)"
            .to_owned(),
        Failure::Forbidden => format!(
            "the repository refused the upload (403): the identity may lack codeartifact:PublishPackageVersion on {} \
             (a PyPI package ARN has an empty namespace, `pypi//name`), or the package's origin controls block direct \
             publishing (`publish: BLOCK`); `cargo xtask check-iam` checks both",
            settings.package_arn(&project::normalize_name(dist.file_name.split('-').next().unwrap_or_default()))
        ),
        Failure::Blocked => origin::publish_blocked(settings, &ctx.project.normalized_name()),
        Failure::Refused(407, _) => crate::net::PROXY_REFUSED.to_owned(),
        Failure::Refused(402, _) => {
            "the repository refused the upload (402): a CodeArtifact quota was exceeded (asset size or count)"
                .to_owned()
        }
        Failure::Refused(status, reason) => format!("the repository refused the upload ({status}): {reason}"),
        Failure::Server(status) => format!(
            "the repository kept failing ({status}) on {RUNS} runs of twine, each retrying five times: re-run the \
             release later; it resumes where it stopped"
        ),
        Failure::Network(cause) => network(cause, dist, host_of(endpoint)),
        Failure::Throttled(_) => format!(
            "the repository kept throttling the upload (429) on {RUNS} attempts: re-run the release in a minute; it \
             resumes where it stopped"
        ),
        Failure::Invalid(reason) => format!("twine could not read the file: {reason}"),
        Failure::Mismatch(reason) => format!("refused before it was sent: {reason}"),
        Failure::NoResult(why) => format!(
            "the uploader ended before it reported this file, on {RUNS} attempts, and the repository does not hold \
             it: {why}"
        ),
        Failure::Other(text) => format!("twine failed: {text}"),
    }
}
