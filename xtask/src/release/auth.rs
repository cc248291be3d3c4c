//! Step 7, Authenticate: credentials (or the GitHub OIDC exchange), identity, token
//! and endpoint, and a look at the package's origin controls (one `DescribePackage`:
//! `publish: BLOCK` means the Publish step refuses before sending anything, `upstream:
//! ALLOW` is warned about as `check-iam` does; a denial is a one-line note). It runs
//! alongside the build, on this thread while the build runs on its own; a failure
//! of either stops the other. A build against private dependencies needs the token,
//! so then authentication comes first.

use std::{sync::mpsc, thread, time::Duration};

use anyhow::Result;
use futures_util::future::Either;

use crate::{
    aws::{
        self, Session,
        origin::{Read, Restriction},
    },
    exec::Cancel,
    finding::Severity,
    interrupt, origin, publish,
    redact::Secret,
    report::{self, Note},
    settings::Settings,
};

use super::{
    Ctx,
    build::{Build, Built, Early},
    plan::{Plan, step},
};

/// An authenticated session with the token and the endpoint.
pub struct Auth {
    pub session: Session,
    pub token: Secret,
    pub endpoint: String,
    /// The package's origin controls refuse direct publishing (`publish: BLOCK`), as
    /// the look before uploading found them.
    pub publish_blocked: bool,
}

/// How the Authenticate step passed: with a session, or, in a dry run, without one
/// (and why).
pub enum Authenticated {
    Session(Box<Auth>),
    NotConfigured(Vec<&'static str>),
    NoCredentials(String),
}

/// How authentication ended before it becomes a step's result.
enum Ended {
    Done(Authenticated),
    /// Stopped because the build failed.
    Stopped,
    Failed(anyhow::Error),
}

/// Until the build fails (`cancel`) or a signal comes.
async fn stopped(cancel: &Cancel) {
    while !cancel.is_cancelled() && interrupt::received().is_none() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Steps 4–7 in the plan's order: the build and authentication, side by side unless
/// the build needs the token.
/// What failed first is what is reported: the other part was only stopped.
pub fn with_build(ctx: &Ctx<'_>, plan: &Plan, build: &Build<'_>) -> Result<(Built, Authenticated)> {
    let package = ctx.project.normalized_name();
    if plan.private_build(ctx.flags) {
        let (ended, notes) = ctx.runtime.block_on(authenticate(plan, Some(&package), &Cancel::default()));
        let auth = ctx.steps.run(step::AUTHENTICATE, || step_result(ended, &notes))?;
        let index = match &auth {
            Authenticated::Session(auth) => Some(publish::index_url(&auth.endpoint, &auth.token)),
            _ => None,
        };
        return Ok((build.run(index.as_ref(), None)?, auth));
    }
    alongside(ctx, plan, build)
}

/// The Authenticate step on its own (`--publish-only`: nothing to build).
pub fn alone(ctx: &Ctx<'_>, plan: &Plan) -> Result<Authenticated> {
    let package = ctx.project.normalized_name();
    let (ended, notes) = ctx.runtime.block_on(authenticate(plan, Some(&package), &Cancel::default()));
    ctx.steps.run(step::AUTHENTICATE, || step_result(ended, &notes))
}

/// The Authenticate step of a run that has no `Ctx` (`--fetch-build-deps`, which
/// publishes nothing, so it does not look at the package).
pub fn on_its_own(runtime: &tokio::runtime::Runtime, steps: &report::Steps, plan: &Plan) -> Result<Authenticated> {
    let (ended, notes) = runtime.block_on(authenticate(plan, None, &Cancel::default()));
    steps.run(step::AUTHENTICATE, || step_result(ended, &notes))
}

/// The build on its own thread while this one authenticates; when authentication
/// finishes first, the build learns what the repository holds (`Early`).
fn alongside(ctx: &Ctx<'_>, plan: &Plan, build: &Build<'_>) -> Result<(Built, Authenticated)> {
    let started = std::time::Instant::now();
    let cancel = Cancel::default();
    let (early_tx, early_rx) = mpsc::channel();
    let (built, (ended, notes)) = thread::scope(|scope| {
        let cancel = &cancel;
        let handle = scope.spawn(move || {
            let res = build.run(None, Some((early_rx, cancel)));
            if res.is_err() {
                cancel.cancel();
            }
            res
        });
        let package = ctx.project.normalized_name();
        let ended = ctx.runtime.block_on(authenticate(plan, Some(&package), cancel));
        match &ended.0 {
            Ended::Failed(_) => cancel.cancel(),
            Ended::Done(Authenticated::Session(auth)) if !plan.is_dry_run() => {
                // A failed listing only means no early uploader.
                if let Some(early) = early_listing(ctx, plan, auth) {
                    let _ = early_tx.send(early);
                }
            }
            _ => {}
        }
        (handle.join().unwrap_or_else(|_| Err(anyhow::format_err!("the build thread panicked"))), ended)
    });
    let failed = matches!(ended, Ended::Failed(_));
    let auth = ctx.steps.run(step::AUTHENTICATE, || {
        report::say(&format!("(ran alongside the build, {} in all)", report::seconds(started.elapsed())));
        step_result(ended, &notes)
    });
    // Report what failed first: the build was only stopped because of it.
    if failed {
        let err = auth.err().unwrap_or_else(|| anyhow::format_err!("authentication failed"));
        return Err(err.context("authenticate to AWS"));
    }
    Ok((built?, auth?))
}

fn early_listing(ctx: &Ctx<'_>, plan: &Plan, auth: &Auth) -> Option<Early> {
    let settings = plan.settings()?;
    let name = ctx.project.normalized_name();
    let listed = aws::remote_assets(&auth.session, settings, &name, ctx.version.as_str());
    let remote = ctx.block_on(listed).ok()?;
    Some(Early { token: auth.token.clone(), endpoint: auth.endpoint.clone(), remote })
}

/// Authenticates and fetches the token and endpoint (and looks at `package`'s
/// origin controls), unless `cancel` is set first. Returns the notes to print with
/// the step (the build may be printing meanwhile).
async fn authenticate(plan: &Plan, package: Option<&str>, cancel: &Cancel) -> (Ended, Vec<Note>) {
    let mut notes = Vec::new();
    let settings = match plan {
        Plan::DryRun(Err(missing)) => return (Ended::Done(Authenticated::NotConfigured(missing.clone())), notes),
        _ => match plan.settings() {
            Some(settings) => settings,
            None => return (Ended::Failed(anyhow::format_err!("no publish target to authenticate for")), notes),
        },
    };
    let ended = {
        let work = std::pin::pin!(session(settings, package, &mut notes));
        let stopped = std::pin::pin!(stopped(cancel));
        // In a block, so that the losing future (and its borrow of `notes`) is gone after.
        match futures_util::future::select(work, stopped).await {
            Either::Left((Ok(auth), _)) => Ended::Done(Authenticated::Session(Box::new(auth))),
            Either::Left((Err(err), _)) => match err.downcast::<aws::NoCredentials>() {
                Ok(none) if plan.is_dry_run() => Ended::Done(Authenticated::NoCredentials(none.to_string())),
                Ok(none) => Ended::Failed(none.into()),
                Err(err) => Ended::Failed(err),
            },
            Either::Right(((), _)) => match interrupt::check() {
                Err(signal) => Ended::Failed(signal),
                Ok(()) => Ended::Stopped,
            },
        }
    };
    if let Ended::Done(Authenticated::Session(auth)) = &ended {
        notes.push(Note::Say(format!("repository endpoint {}", auth.endpoint)));
        notes.push(Note::Say(format!("authorization token for {} s (masked)", settings.token_duration)));
    }
    (ended, notes)
}

async fn session(settings: &Settings, package: Option<&str>, notes: &mut Vec<Note>) -> Result<Auth> {
    let session = aws::authenticate(settings, notes).await?;
    let (token, endpoint) = aws::token_and_endpoint(&session, settings).await?;
    let publish_blocked = match package {
        Some(package) => look_at_origin(&session, settings, package, notes).await,
        None => false,
    };
    Ok(Auth { session, token, endpoint, publish_blocked })
}

/// The look before uploading: `DescribePackage` alone, its findings as `check-iam`
/// words them (which cannot know the versions' origins: it points there). Never
/// fails the step: a denial (the release role needs no DescribePackage) is one line,
/// another error a warning. Returns whether publishing is blocked.
async fn look_at_origin(session: &Session, settings: &Settings, package: &str, notes: &mut Vec<Note>) -> bool {
    let look = match aws::origin::describe_package(session, settings, package).await {
        Ok(Read::Denied(_)) => {
            notes.push(Note::Say(format!(
                "origin controls of {package} not looked at: codeartifact:DescribePackage is not granted (the release \
                 does not need it; `cargo xtask check-iam` reads them, `cargo xtask setup` sets them)"
            )));
            return false;
        }
        Ok(Read::Got(None)) => {
            notes.push(Note::Say(format!(
                "{package} is not in the repository yet: this release creates it with publish: ALLOW, upstream: BLOCK"
            )));
            return false;
        }
        Ok(look) => look,
        Err(err) => {
            notes.push(Note::Warn(format!("could not look at the origin controls of {package}: {err:#}")));
            return false;
        }
    };
    let blocked = matches!(&look, Read::Got(Some(it)) if it.publish == Restriction::Block);
    let facts = origin::Facts { package: package.to_owned(), restrictions: look, versions: None, connections: None };
    for finding in origin::findings(&facts, settings) {
        let line = format!("{} (Authenticate, before uploading): {}", finding.id, finding.message);
        notes.push(if finding.severity > Severity::Info { Note::Warn(line) } else { Note::Say(line) });
    }
    if blocked {
        notes.push(Note::Warn(format!(
            "perm.origin-blocked (Authenticate, before uploading): {}; the Publish step will send nothing",
            origin::publish_blocked(settings, package)
        )));
    }
    blocked
}

/// The Authenticate step fails on a real failure; a dry run without a target or
/// credentials passes it with the reason.
fn step_result(ended: Ended, notes: &[Note]) -> Result<Authenticated> {
    report::notes(notes);
    match ended {
        Ended::Done(done) => {
            match &done {
                Authenticated::NotConfigured(missing) => report::say(&format!(
                    "dry run: the publish target is not configured ({} missing); nothing will be uploaded",
                    missing.join(", ")
                )),
                Authenticated::NoCredentials(err) => report::warn(&format!(
                    "dry run without AWS credentials ({err}); the repository cannot be checked and nothing will be \
                     uploaded"
                )),
                Authenticated::Session(_) => {}
            }
            Ok(done)
        }
        Ended::Stopped => Err(anyhow::format_err!("stopped because the build failed")),
        Ended::Failed(err) => Err(err),
    }
}
