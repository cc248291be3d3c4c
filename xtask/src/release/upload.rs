//! Step 8, Publish: what the repository holds decides each file (identical →
//! skipped, different → refused with both hashes, missing → uploaded), a version
//! that holds another build's files gets nothing more, and the uploads go through one
//! twine process with bounded retries. Then step 9 and the summary.

use std::time::Duration;

use anyhow::{Result, bail};

use crate::{
    aws::{self, Remote},
    dists::Dist,
    install_help::Instructions,
    net::cause::{Cause, Deadlines},
    origin, project,
    publish::{self, Action, Failure, Uploader},
    python::Tools,
    report,
    settings::Settings,
};

use super::{
    Ctx,
    auth::{Auth, Authenticated},
    build::Built,
    confirm,
    plan::{Plan, step},
    summary::{self, Mode, Outcome},
};

/// Steps 8 and 9, then the summary; fails when a file was not published.
pub fn publish_and_confirm(ctx: &Ctx<'_>, plan: &Plan, built: Built, auth: Authenticated) -> Result<()> {
    let mode = if plan.is_dry_run() { Mode::DryRun } else { Mode::Publish };
    let Built { tools, dists } = built;
    let (Authenticated::Session(mut auth), Some(settings)) = (auth, plan.settings()) else {
        ctx.steps.run(step::PUBLISH, || {
            report::say("dry run: nothing to compare with, nothing uploaded");
            Ok(())
        })?;
        ctx.steps.run(step::CONFIRM, || {
            report::say("dry run: nothing to confirm");
            Ok(())
        })?;
        return summary::summarize(ctx, &dists, &[], mode, None);
    };
    let outcomes =
        ctx.steps.run(step::PUBLISH, || publish(ctx, (&tools, settings), &dists, &mut auth, mode))?;
    let confirmed = ctx.steps.run(step::CONFIRM, || {
        if mode == Mode::DryRun {
            report::say("dry run: nothing uploaded, nothing to confirm");
            return Ok(());
        }
        confirm::confirm(ctx, &auth.session, settings, &outcomes)
    });
    let name = ctx.project.normalized_name();
    let install = Instructions::new(&auth.endpoint, settings, &name, ctx.version.as_str());
    summary::summarize(ctx, &dists, &outcomes, mode, Some(&install))?;
    let refused: Vec<&str> = outcomes
        .iter()
        .filter_map(|(_, o)| match o {
            Outcome::Refused(msg) => Some(msg.as_str()),
            _ => None,
        })
        .collect();
    if !refused.is_empty() {
        bail!("{} of {} file(s) were not published:\n  {}", refused.len(), outcomes.len(), refused.join("\n  "));
    }
    confirmed
}

/// Step 8 itself: each file's outcome.
fn publish(
    ctx: &Ctx<'_>,
    (tools, settings): (&Tools, &Settings),
    dists: &[Dist],
    auth: &mut Auth,
    mode: Mode,
) -> Result<Vec<(Dist, Outcome)>> {
    let version = ctx.version.as_str();
    let name = ctx.project.normalized_name();
    let remote = ctx.block_on(aws::remote_assets(&auth.session, settings, &name, version))?;
    if let Remote::Unknown(advice) = &remote {
        report::warn(advice);
    }
    let foreign = publish::foreign(dists, &remote);
    let mixed = (!foreign.is_empty()).then(|| publish::mixed_message(&foreign, version));
    // The look at Authenticate found `publish: BLOCK`: every upload would be refused.
    let blocked = auth.publish_blocked.then(|| {
        format!("{} (DescribePackage before uploading; nothing was sent)", origin::publish_blocked(settings, &name))
    });
    let mut outcomes: Vec<Option<Outcome>> = publish::plan(dists, &remote)
        .iter()
        .zip(dists)
        .map(|(action, dist)| match action {
            Action::Skip => Some(Outcome::Skipped),
            Action::Conflict(sha) => Some(Outcome::Refused(publish::conflict_message(dist, Some(sha), version))),
            Action::Upload => match (mixed.as_ref().or(blocked.as_ref()), mode) {
                (Some(why), _) => Some(Outcome::Refused(why.clone())),
                (None, Mode::DryRun) => Some(Outcome::WouldUpload),
                (None, _) => None,
            },
        })
        .collect();
    let pending: Vec<usize> = (0..dists.len()).filter(|&i| outcomes[i].is_none()).collect();
    for (i, outcome) in upload_files(ctx, (tools, settings), (dists, &pending), auth)? {
        outcomes[i] = Some(outcome);
    }
    let outcomes: Vec<(Dist, Outcome)> =
        dists.iter().cloned().zip(outcomes.into_iter().map(|it| it.expect("every file has an outcome"))).collect();
    for (dist, outcome) in &outcomes {
        report::say(&format!("{}: {}", dist.file_name, outcome.describe()));
    }
    Ok(outcomes)
}

/// How many twine runs a file may take: the first, and two more for failures worth
/// retrying (twine itself repeats an upload that got a 5xx five times per run).
const RUNS: u64 = 3;

/// Uploads the files `pending` (indices into `dists`), all in one twine process,
/// then again for what failed in a way worth retrying: a refused token (after
/// getting a fresh one, once), throttling (after `Retry-After`), timeouts, broken
/// connections, 5xx, and files the uploader never reported because it ended early
/// (the repository says whether they arrived). `RUNS` runs in all; one refused file
/// never stops the others. A signal stops the uploads, after saying which files are
/// done.
fn upload_files(
    ctx: &Ctx<'_>,
    (tools, settings): (&Tools, &Settings),
    (dists, pending): (&[Dist], &[usize]),
    auth: &mut Auth,
) -> Result<Vec<(usize, Outcome)>> {
    let mut done = Vec::new();
    let mut pending = pending.to_vec();
    let mut refreshed = false;
    let mut runs = 0;
    while !pending.is_empty() {
        runs += 1;
        let batch: Vec<&Dist> = pending.iter().map(|&i| &dists[i]).collect();
        let started = Uploader::start(ctx.sh, tools, &ctx.project.root, &auth.endpoint, &auth.token);
        let name = ctx.project.normalized_name();
        let expected = publish::Expected { name: &name, version: ctx.version.as_str() };
        let (results, ended) = match started {
            Ok(uploader) => uploader.upload(&batch, expected),
            Err(err) => (batch.iter().map(|_| Err(Failure::Other(format!("{err:#}")))).collect(), None),
        };
        let results = arrived_anyway(ctx, settings, auth, &batch, results);
        let mut again = Vec::new();
        let (mut token_refused, mut wait) = (false, Duration::ZERO);
        for (&i, result) in pending.iter().zip(results) {
            match result {
                Ok(()) => done.push((i, Outcome::Uploaded)),
                Err(Failure::Unauthorized | Failure::Forbidden) if !refreshed => {
                    token_refused = true;
                    again.push(i);
                }
                Err(failure) if failure.is_transient() && runs < RUNS => {
                    wait = wait.max(backoff(&failure, runs));
                    again.push(i);
                }
                Err(failure) => {
                    done.push((i, Outcome::Refused(explain(&failure, &dists[i], (settings, &auth.endpoint), ctx))))
                }
            }
        }
        if let Some(signal) = ended.filter(|it| it.chain().any(|c| c.is::<crate::interrupt::Interrupted>())) {
            for (i, outcome) in &done {
                report::say(&format!("{}: {}", dists[*i].file_name, outcome.describe()));
            }
            return Err(signal);
        }
        if token_refused {
            report::say("the repository refused the token (expired?); getting a new one and trying again");
            refreshed = true;
            match ctx.block_on(aws::new_token(&auth.session, settings)) {
                Ok(token) => auth.token = token,
                Err(err) => done.extend(again.drain(..).map(|i| (i, Outcome::Refused(format!("{err:#}"))))),
            }
        } else if !again.is_empty() {
            report::say(&format!("{} file(s) to try again in {}", again.len(), report::seconds(wait)));
            crate::interrupt::sleep(wait)?;
        }
        pending = again;
    }
    Ok(done)
}

/// How long to wait before the next run: the `Retry-After` of a throttled answer
/// (at most a minute), else one second more per run.
fn backoff(failure: &Failure, runs: u64) -> Duration {
    match failure {
        Failure::Throttled(Some(seconds)) => Duration::from_secs((*seconds).min(60)),
        _ => Duration::from_secs(runs),
    }
}

/// Files whose upload ended without a clear answer (the uploader crashed, was
/// killed or stalled; the answer timed out; the connection broke, possibly after the
/// file was stored): the repository says whether they arrived.
fn arrived_anyway(
    ctx: &Ctx<'_>,
    settings: &Settings,
    auth: &Auth,
    batch: &[&Dist],
    results: Vec<Result<(), Failure>>,
) -> Vec<Result<(), Failure>> {
    let unclear = |it: &Result<(), Failure>| it.as_ref().is_err_and(Failure::is_unclear);
    if !results.iter().any(unclear) {
        return results;
    }
    let name = ctx.project.normalized_name();
    let listed = ctx.block_on(aws::remote_assets(&auth.session, settings, &name, ctx.version.as_str()));
    let Ok(Remote::Listed(assets)) = listed else { return results };
    results
        .into_iter()
        .zip(batch)
        .map(|(result, dist)| match result {
            Err(failure) if unclear(&Err(failure.clone())) => match assets.get(&dist.file_name) {
                Some(sha) if *sha == dist.sha256 => {
                    report::say(&format!("{} arrived although its upload ended without an answer", dist.file_name));
                    Ok(())
                }
                Some(_) => Err(Failure::Conflict),
                None => Err(failure),
            },
            other => other,
        })
        .collect()
}

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
            "{host} took the upload too slowly: it did not end within {} (XTASK_UPLOAD_TIMEOUT, {}, + its {} bytes at \
             XTASK_UPLOAD_MIN_RATE, {} KiB/s), so it was stopped; the network or a proxy on the way trickles. Re-run \
             the release later (it resumes where it stopped), or on a slow link lower XTASK_UPLOAD_MIN_RATE",
            crate::limits::shown(total),
            crate::limits::shown(limits.upload),
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
fn explain(failure: &Failure, dist: &Dist, (settings, endpoint): (&Settings, &str), ctx: &Ctx<'_>) -> String {
    let version = ctx.version.as_str();
    match failure {
        Failure::Conflict => publish::conflict_message(dist, None, version),
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
