//! Step 7, Authenticate: credentials (or the GitHub OIDC exchange), identity, token
//! and endpoint, and a look at the package's origin controls (one `DescribePackage`:
//! `publish: BLOCK` means the Publish step refuses before sending anything, `upstream:
//! ALLOW` is warned about as `check-iam` does; a denial is a one-line note). It runs
//! after Verify, or before the build when the build installs private dependencies
//! with the token.

use anyhow::Result;

use crate::{
    aws::{
        self, Session,
        origin::{Read, Restriction},
    },
    finding::Severity,
    interrupt, origin,
    redact::Secret,
    report::{self, Note},
    settings::Settings,
};

use super::{Ctx, plan::Plan};

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

impl Authenticated {
    /// The repository's index with the token, for a build against private
    /// dependencies; nothing without a session (a dry run builds from the index).
    pub fn index_url(&self) -> Option<Secret> {
        match self {
            Authenticated::Session(auth) => Some(aws::index_url(&auth.endpoint, &auth.token)),
            _ => None,
        }
    }
}

/// Step 7: a session for `ctx.project`'s package.
pub fn run(ctx: &Ctx<'_>, plan: &Plan) -> Result<Authenticated> {
    let package = ctx.project.normalized_name();
    step(&ctx.runtime, plan, Some(&package))
}

/// Step 7 of a run that has no `Ctx` (`--fetch-build-deps`, which publishes nothing,
/// so it does not look at the package).
pub fn on_its_own(runtime: &tokio::runtime::Runtime, plan: &Plan) -> Result<Authenticated> {
    step(runtime, plan, None)
}

/// Authenticates (until a signal comes) and prints what it found.
fn step(runtime: &tokio::runtime::Runtime, plan: &Plan, package: Option<&str>) -> Result<Authenticated> {
    let mut notes = Vec::new();
    let ended = runtime.block_on(interrupt::interruptible(authenticate(plan, package, &mut notes)));
    report::notes(&notes);
    let done = ended??;
    match &done {
        Authenticated::NotConfigured(missing) => report::say(&format!(
            "dry run: the publish target is not configured ({} missing); nothing will be uploaded",
            missing.join(", ")
        )),
        Authenticated::NoCredentials(err) => report::warn(&format!(
            "dry run without AWS credentials ({err}); the repository cannot be checked and nothing will be uploaded"
        )),
        Authenticated::Session(_) => {}
    }
    Ok(done)
}

/// Authenticates and fetches the token and endpoint (and looks at `package`'s
/// origin controls); `notes` gathers what to print with the step.
async fn authenticate(plan: &Plan, package: Option<&str>, notes: &mut Vec<Note>) -> Result<Authenticated> {
    let settings = match plan {
        Plan::DryRun(Err(missing)) => return Ok(Authenticated::NotConfigured(missing.clone())),
        _ => plan.settings().ok_or_else(|| anyhow::format_err!("no publish target to authenticate for"))?,
    };
    let auth = match session(settings, package, notes).await {
        Ok(auth) => auth,
        Err(err) => {
            return match err.downcast::<aws::NoCredentials>() {
                Ok(none) if plan.is_dry_run() => Ok(Authenticated::NoCredentials(none.to_string())),
                Ok(none) => Err(none.into()),
                Err(err) => Err(err),
            };
        }
    };
    notes.push(Note::Say(format!("repository endpoint {}", auth.endpoint)));
    notes.push(Note::Say(format!("authorization token for {} s (masked)", settings.token_duration)));
    Ok(Authenticated::Session(Box::new(auth)))
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
