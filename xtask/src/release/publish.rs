//! Step 8, Publish: what the repository holds decides each file (`decide`:
//! identical → skipped, different → refused with both hashes, missing → uploaded),
//! a version that holds another build's files gets nothing more, and the uploads go
//! through one twine process (`uploader`) with bounded retries; a file whose upload
//! ended without a clear answer is looked up in the repository, and every refusal is
//! explained with its fix (`explain`).

mod decide;
mod explain;
mod uploader;

use std::time::Duration;

use anyhow::Result;

use crate::{
    aws::{self, Remote},
    dists::Dist,
    origin,
    python::Tools,
    report,
    settings::Settings,
};

use super::{
    Ctx,
    authenticate::Auth,
    summary::{Mode, Outcome},
};

use decide::Action;
pub use decide::{foreign, mixed_message};
use uploader::{Expected, Failure, Uploader};

/// Step 8: each file's outcome.
pub fn run(
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
    let foreign = decide::foreign(dists, &remote);
    let mixed = (!foreign.is_empty()).then(|| decide::mixed_message(&foreign, version));
    // The look at Authenticate found `publish: BLOCK`: every upload would be refused.
    let blocked = auth.publish_blocked.then(|| {
        format!("{} (DescribePackage before uploading; nothing was sent)", origin::publish_blocked(settings, &name))
    });
    let mut outcomes: Vec<Option<Outcome>> = decide::plan(dists, &remote)
        .iter()
        .zip(dists)
        .map(|(action, dist)| match action {
            Action::Skip => Some(Outcome::Skipped),
            Action::Conflict(sha) => Some(Outcome::Refused(decide::conflict_message(dist, Some(sha), version))),
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
pub(super) const RUNS: u64 = 3;

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
        let expected = Expected { name: &name, version: ctx.version.as_str() };
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
                Err(failure) => done.push((
                    i,
                    Outcome::Refused(explain::explain(&failure, &dists[i], (settings, &auth.endpoint), ctx)),
                )),
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
