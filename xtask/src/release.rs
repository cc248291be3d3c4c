//! `cargo xtask release [TAG]`: the release pipeline, read top to bottom in the order
//! of the numbered steps it prints.
//!
//! 1. Version: TAG (or `GITHUB_REF_NAME` on a tag push, or the version file) → a
//!    normalized PEP 440 version. A hostile tag is refused here, before anything runs.
//! 2. Preflight: git and python3 present, clean tree, tag points at `HEAD`.
//! 3. Stamp: write the version into the version file (atomically; untouched if equal).
//! 4. Python tools: the pinned tool environment.
//! 5. Build: sdist and wheel, reproducible (`SOURCE_DATE_EPOCH` = commit time).
//! 6. Verify: file names, metadata, archive soundness, `twine check --strict`, hashes.
//! 7. Authenticate: credentials (or the GitHub OIDC exchange), identity, token and
//!    endpoint. It runs alongside steps 4–6: neither waits for the other, and a
//!    failure of either stops the other.
//! 8. Publish: skip what is already published identically, refuse what conflicts,
//!    upload the rest, one file at a time.
//! 9. Confirm: every file is in the repository with the same SHA-256 and the
//!    version is `Published`.
//!
//! `--build-only` stops after step 6; `--publish-only DIR` publishes the files of an
//! earlier `--build-only` run after checking them against its manifest. `--dry-run`
//! runs everything but uploads nothing.

use std::{env, fs, path::Path, sync::mpsc, thread, time::Duration};

use anyhow::{Context, Result, bail};
use futures_util::future::Either;
use xshell::Shell;

use crate::{
    aws::{self, Remote, Session},
    dists::{self, Dist},
    exec::{self, Cancel},
    flags, fsutil, git,
    manifest::{self, Manifest},
    private_build,
    project::{self, Project},
    publish::{self, Action, Failure, Uploader},
    python::{self, Lock, Tools},
    redact::Secret,
    report::{self, Steps},
    settings::{self, Settings, Target},
    stamp,
    version::{self, Source, Version},
};

/// What authentication hands the build thread when it finishes first: the token, the
/// endpoint, and what the repository holds of this version.
type Early = (Secret, String, Remote);

/// What the build produced (and the uploader started early, if any).
struct Built {
    tools: Tools,
    dists: Vec<Dist>,
    uploader: Option<Uploader>,
}

/// What authentication produced.
struct Auth {
    session: Session,
    token: Secret,
    endpoint: String,
}

/// Why there is no authentication in a dry run.
enum NoAuth {
    NotConfigured(Vec<&'static str>),
    NoCredentials(String),
}

impl flags::Release {
    pub fn run(self, sh: &Shell) -> Result<()> {
        exec::set_verbose(self.verbose);
        if self.build_only && self.publish_only.is_some() {
            bail!("--build-only and --publish-only exclude each other: run one, then the other");
        }
        // A tag given on the command line is checked before anything else happens.
        let tag = match &self.tag {
            Some(tag) => Some((tag.clone(), version::parse_tag(tag, Source::Argument)?)),
            None => None,
        };
        if self.sandbox {
            return crate::sandbox::release(sh, &self);
        }
        let root = project::find_root()?;
        sh.change_dir(&root);
        let project = Project::load(&root)?;
        // Settings are checked before any network call (and before any build).
        let target = if self.build_only { None } else { Some(settings::from_env(&project.pyproject)?) };
        match (&self.publish_only, target) {
            (Some(dir), Some(target)) => self.publish_only(sh, &project, tag, dir, target),
            (_, target) => self.build_and_publish(sh, &project, tag, target),
        }
    }

    fn build_and_publish(
        &self,
        sh: &Shell,
        project: &Project,
        tag: Option<(String, Version)>,
        target: Option<Target>,
    ) -> Result<()> {
        let settings = match &target {
            Some(Target::Configured(s)) => Some(s.clone()),
            Some(Target::Missing(missing)) if !self.dry_run => bail!(
                "the publish target is not configured: {} missing; {} (or pass --dry-run, or --build-only)",
                missing.join(", "),
                "set them in the environment or in [tool.xtask.publish] of pyproject.toml"
            ),
            _ => None,
        };
        let missing = match &target {
            Some(Target::Missing(missing)) => missing.clone(),
            _ => Vec::new(),
        };
        // Private build dependencies need the token for the build, so the two cannot
        // overlap then.
        let auth_first = settings.as_ref().is_some_and(|it| it.private_dependencies);
        let mut steps = Steps::new(if self.build_only { 6 } else { 9 });
        let (version, tag) = steps.run("Version", || resolve_version(project, tag))?;
        let (checkout, build_lock) = steps.run("Preflight", || {
            let checkout = self.preflight(sh, project, tag.as_deref())?;
            // Checked before the token exists: the token only ever meets that lock.
            let lock = if auth_first { Some(private_build::check_lock(project)?) } else { None };
            Ok((checkout, lock))
        })?;
        let stamped = steps.run("Stamp", || stamp_version(project, &version))?;
        let out = dists::out_dir(&project.root, &version);
        let runtime =
            tokio::runtime::Builder::new_current_thread().enable_all().build().context("start the async runtime")?;
        let cancel = Cancel::default();

        // `early` brings the token, the endpoint and what the repository holds when
        // authentication finished first: then, if any file will need uploading, the
        // uploader starts (importing twine) while the files are verified. It uploads
        // nothing unless verification passes and it is told which files.
        let build = |steps: &mut Steps, index: Option<&str>, early: Option<mpsc::Receiver<Early>>| {
            let sh = Shell::new()?;
            sh.change_dir(&project.root);
            let tools =
                steps.run_unless(&cancel, "Python tools", || python::ensure(&sh, &project.root, Lock::Release))?;
            steps.run_unless(&cancel, "Build", || {
                report::say(&format!(
                    "SOURCE_DATE_EPOCH={} (commit time of HEAD {})",
                    checkout.head_time, checkout.head
                ));
                match (index, &build_lock) {
                    (Some(index), Some(lock)) => {
                        private_build::build(&sh, project, lock, (&out, &checkout.head_time), index, &cancel)
                    }
                    _ => dists::build(&sh, &tools, project, &out, &checkout.head_time, &cancel),
                }
            })?;
            let mut collected = None;
            let mut uploader = None;
            if let Some((token, endpoint, remote)) = early.and_then(|rx| rx.try_recv().ok()) {
                let dists = dists::collect(&out)?;
                if publish::plan(&dists, &remote).contains(&Action::Upload) {
                    uploader = Uploader::start(&sh, &tools, &project.root, &endpoint, &token).ok();
                }
                collected = Some(dists);
            }
            let dists = steps.run_unless(&cancel, "Verify", || {
                let dists = match collected {
                    Some(dists) => dists,
                    None => dists::collect(&out)?,
                };
                verify(&sh, &tools, project, &version, (&out, &checkout.head), dists)
            })?;
            Ok::<_, anyhow::Error>(Built { tools, dists, uploader })
        };

        if self.build_only {
            let built = build(&mut steps, None, None);
            drop(stamped);
            let Built { dists, .. } = built?;
            report::say(&format!("the distributions and {} are in {}", manifest::FILE, out.display()));
            return summarize(project, &version, &dists, &[], Mode::BuildOnly, None);
        }

        let (built, auth) = if auth_first {
            let auth = steps.run("Authenticate", || {
                let (auth, notes) =
                    runtime.block_on(authenticate(settings.as_ref().ok_or(&missing[..]), self.dry_run, &cancel));
                print_notes(&notes);
                auth_step_result(auth)
            })?;
            let index = auth.as_ref().ok().map(private_index);
            let built = build(&mut steps, index.as_ref().map(|it| it.expose()), None);
            drop(stamped);
            (built?, auth)
        } else {
            // The build runs on its own thread while this one authenticates.
            let started = std::time::Instant::now();
            let (early_tx, early_rx) = mpsc::channel();
            let (built, (auth, notes)) = thread::scope(|scope| {
                let steps = &mut steps;
                let cancel = &cancel;
                let build = &build;
                let handle = scope.spawn(move || {
                    let res = build(steps, None, Some(early_rx));
                    if res.is_err() {
                        cancel.cancel();
                    }
                    res
                });
                let auth = runtime.block_on(authenticate(settings.as_ref().ok_or(&missing[..]), self.dry_run, cancel));
                match &auth.0 {
                    Err(AuthError::Failed(_)) => cancel.cancel(),
                    Ok(a) if !self.dry_run => {
                        // A failed listing only means no early uploader.
                        if let Some(settings) = settings.as_ref() {
                            let name = project.normalized_name();
                            let listed = aws::remote_assets(&a.session, settings, &name, version.as_str());
                            if let Ok(remote) = runtime.block_on(listed) {
                                let _ = early_tx.send((a.token.clone(), a.endpoint.clone(), remote));
                            }
                        }
                    }
                    _ => {}
                }
                (handle.join().unwrap_or_else(|_| Err(anyhow::format_err!("the build thread panicked"))), auth)
            });
            drop(stamped);
            let auth_failed = matches!(auth, Err(AuthError::Failed(_)));
            // Authenticate is step 7 whether or not the build got through steps 4–6.
            steps.jump_to(6);
            let auth = steps.run("Authenticate", || {
                report::say(&format!("(ran alongside the build, {} in all)", report::seconds(started.elapsed())));
                print_notes(&notes);
                auth_step_result(auth)
            });
            // Report what failed first: the other part was only stopped because of it.
            if auth_failed {
                let err = auth.err().unwrap_or_else(|| anyhow::format_err!("authentication failed"));
                return Err(err.context("authenticate to AWS"));
            }
            (built?, auth?)
        };
        // A dry run without a target or credentials goes on without a session.
        let auth = auth.ok();
        let mode = if self.dry_run { Mode::DryRun } else { Mode::Publish };
        self.publish_and_confirm(sh, &mut steps, &runtime, project, &version, built, auth, settings.as_ref(), mode)
    }

    #[allow(clippy::too_many_arguments)]
    fn publish_and_confirm(
        &self,
        sh: &Shell,
        steps: &mut Steps,
        runtime: &tokio::runtime::Runtime,
        project: &Project,
        version: &Version,
        built: Built,
        auth: Option<Auth>,
        settings: Option<&Settings>,
        mode: Mode,
    ) -> Result<()> {
        let Built { tools, dists, uploader } = built;
        let (tools, dists) = (&tools, dists.as_slice());
        let (Some(auth), Some(settings)) = (auth, settings) else {
            steps.run("Publish", || {
                report::say("dry run: nothing to compare with, nothing uploaded");
                Ok(())
            })?;
            steps.run("Confirm", || {
                report::say("dry run: nothing to confirm");
                Ok(())
            })?;
            return summarize(project, version, dists, &[], mode, None);
        };
        let name = project.normalized_name();
        let mut auth = auth;
        let outcomes = steps.run("Publish", || {
            let remote = runtime.block_on(aws::remote_assets(&auth.session, settings, &name, version.as_str()))?;
            if let Remote::Unknown(advice) = &remote {
                report::warn(advice);
            }
            let actions = publish::plan(dists, &remote);
            let foreign = publish::foreign(dists, &remote);
            let mixed = (!foreign.is_empty()).then(|| publish::mixed_message(&foreign, version.as_str()));
            let mut outcomes: Vec<Option<Outcome>> = actions
                .iter()
                .zip(dists)
                .map(|(action, dist)| match action {
                    Action::Skip => Some(Outcome::Skipped),
                    Action::Conflict(sha) => {
                        Some(Outcome::Refused(publish::conflict_message(dist, Some(sha), version.as_str())))
                    }
                    Action::Upload if mixed.is_some() => Some(Outcome::Refused(mixed.clone().unwrap_or_default())),
                    Action::Upload if mode == Mode::DryRun => Some(Outcome::WouldUpload),
                    Action::Upload => None,
                })
                .collect();
            let pending: Vec<usize> = (0..dists.len()).filter(|&i| outcomes[i].is_none()).collect();
            let uploaded = upload_files(
                sh,
                runtime,
                tools,
                &project.root,
                dists,
                &pending,
                uploader,
                &mut auth,
                settings,
                version,
            );
            for (i, outcome) in uploaded {
                outcomes[i] = Some(outcome);
            }
            let outcomes: Vec<(Dist, Outcome)> = dists
                .iter()
                .cloned()
                .zip(outcomes.into_iter().map(|it| it.expect("every file has an outcome")))
                .collect();
            for (dist, outcome) in &outcomes {
                report::say(&format!("{}: {}", dist.file_name, outcome.describe()));
            }
            Ok(outcomes)
        })?;
        let confirmed = steps.run("Confirm", || {
            if mode == Mode::DryRun {
                report::say("dry run: nothing uploaded, nothing to confirm");
                return Ok(());
            }
            confirm(runtime, &auth.session, settings, &name, version, &outcomes)
        });
        let install = publish::install_hint(&auth.endpoint, &name, version.as_str(), settings);
        summarize(project, version, dists, &outcomes, mode, Some(&install))?;
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

    fn publish_only(
        &self,
        sh: &Shell,
        project: &Project,
        tag: Option<(String, Version)>,
        dir: &Path,
        target: Target,
    ) -> Result<()> {
        let settings = match target {
            Target::Configured(s) => s,
            Target::Missing(missing) => bail!(
                "the publish target is not configured: {} missing; set them in the environment or in \
                 [tool.xtask.publish] of pyproject.toml",
                missing.join(", ")
            ),
        };
        let mut steps = Steps::new(6);
        let (version, _) = steps.run("Version", || resolve_version(project, tag))?;
        let tools = steps.run("Python tools", || python::ensure(sh, &project.root, Lock::Release))?;
        let dists = steps.run("Check artifacts", || check_artifacts(sh, &tools, project, &version, dir))?;
        let runtime =
            tokio::runtime::Builder::new_current_thread().enable_all().build().context("start the async runtime")?;
        let auth = steps.run("Authenticate", || {
            let (auth, notes) = runtime.block_on(authenticate(Ok(&settings), self.dry_run, &Cancel::default()));
            print_notes(&notes);
            auth_step_result(auth)?.map_err(|_| anyhow::format_err!("no AWS credentials to publish with"))
        })?;
        let mode = if self.dry_run { Mode::DryRun } else { Mode::Publish };
        let built = Built { tools, dists, uploader: None };
        self.publish_and_confirm(sh, &mut steps, &runtime, project, &version, built, Some(auth), Some(&settings), mode)
    }

    fn preflight(&self, sh: &Shell, project: &Project, tag: Option<&str>) -> Result<git::Checkout> {
        // Starting the interpreter can take a while (a pyenv shim is a shell script):
        // it runs alongside the git queries.
        let interpreter =
            thread::spawn(|| Shell::new().map_err(anyhow::Error::from).and_then(|sh| python::check_interpreter(&sh)));
        report::say(&git::check_installed(sh)?);
        let checkout = git::checkout(sh);
        let python =
            interpreter.join().unwrap_or_else(|_| Err(anyhow::format_err!("the interpreter check panicked")))?;
        report::say(&format!("Python {python}"));
        let checkout = checkout?;
        let version_file = format!("{}{}", checkout.prefix, project.version_file);
        let dirty: Vec<String> = git::changed_paths(sh)?.into_iter().filter(|it| *it != version_file).collect();
        let in_ci = report::in_ci();
        if !dirty.is_empty() {
            let list = dirty.iter().take(10).map(|it| format!("\n    {it}")).collect::<String>();
            if self.allow_dirty || in_ci {
                let why = if self.allow_dirty { "--allow-dirty" } else { "CI" };
                report::warn(&format!("releasing with uncommitted changes ({why}):{list}"));
            } else {
                bail!(
                    "the working tree has uncommitted changes, which would end up in a release no \
                     commit describes:{list}\ncommit or stash them, or pass --allow-dirty"
                );
            }
        }
        if let Some(tag) = tag {
            // A release publishes what its tag names: the tag must exist and point
            // at what is built, or the published version is not the tagged code.
            let problem = match git::tag_commit(sh, tag)? {
                Some(commit) if commit == checkout.head => {
                    report::say(&format!("tag {tag} points at HEAD {}", checkout.head));
                    None
                }
                Some(commit) => Some(format!("tag {tag} points at {commit}, not at HEAD {}", checkout.head)),
                None => Some(format!("tag {tag} does not exist here")),
            };
            if let Some(problem) = problem {
                let publishing = !self.dry_run && !self.build_only;
                if publishing && !self.allow_dirty {
                    bail!(
                        "{problem}: a release publishes the commit its tag names. Tag HEAD (`git tag {tag}`), check \
                         the tag out (`git checkout {tag}`), or pass --allow-dirty to publish HEAD anyway"
                    );
                }
                report::warn(&format!("{problem}; the build is of HEAD {}", checkout.head));
            }
        }
        Ok(checkout)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    BuildOnly,
    DryRun,
    Publish,
}

/// What happened to one file.
#[derive(Debug, Clone)]
enum Outcome {
    Uploaded,
    Skipped,
    WouldUpload,
    Refused(String),
}

impl Outcome {
    fn describe(&self) -> String {
        match self {
            Outcome::Uploaded => "uploaded".to_owned(),
            Outcome::Skipped => "already published with the same SHA-256; skipped".to_owned(),
            Outcome::WouldUpload => "dry run: would upload".to_owned(),
            Outcome::Refused(msg) => format!("NOT published: {msg}"),
        }
    }
}

enum AuthError {
    /// Dry run without a target or credentials: nothing to authenticate.
    Skipped(NoAuth),
    /// Stopped because the build failed.
    Stopped,
    Failed(anyhow::Error),
}

/// Authenticates and fetches the token and endpoint, unless `cancel` is set first.
/// Returns the notes to print with the step (the build may be printing meanwhile).
async fn authenticate(
    settings: Result<&Settings, &[&'static str]>,
    dry_run: bool,
    cancel: &Cancel,
) -> (Result<Auth, AuthError>, Vec<String>) {
    let mut notes = Vec::new();
    let settings = match settings {
        Ok(settings) => settings,
        // Only a dry run gets here (a real release stops earlier without a target).
        Err(missing) => return (Err(AuthError::Skipped(NoAuth::NotConfigured(missing.to_vec()))), notes),
    };
    let work = async {
        let session = aws::authenticate(settings, &mut notes).await?;
        let (token, endpoint) = aws::token_and_endpoint(&session, settings).await?;
        Ok::<_, anyhow::Error>(Auth { session, token, endpoint })
    };
    let stopped = async {
        while !cancel.is_cancelled() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    // In a block, so that the losing future (and its borrow of `notes`) is gone after.
    let result = {
        let (work, stopped) = (std::pin::pin!(work), std::pin::pin!(stopped));
        match futures_util::future::select(work, stopped).await {
            Either::Left((res, _)) => res.map_err(|err| match err.downcast::<aws::NoCredentials>() {
                Ok(none) if dry_run => AuthError::Skipped(NoAuth::NoCredentials(none.to_string())),
                Ok(none) => AuthError::Failed(none.into()),
                Err(err) => AuthError::Failed(err),
            }),
            Either::Right(((), _)) => Err(AuthError::Stopped),
        }
    };
    if let Ok(auth) = &result {
        notes.push(format!("repository endpoint {}", auth.endpoint));
        notes.push(format!("authorization token for {} s (masked)", settings.token_duration));
    }
    (result, notes)
}

/// The Authenticate step fails on a real failure; a dry run without a target or
/// credentials passes it with the reason.
fn auth_step_result(auth: Result<Auth, AuthError>) -> Result<Result<Auth, NoAuth>> {
    match auth {
        Ok(auth) => Ok(Ok(auth)),
        Err(AuthError::Skipped(why)) => {
            match &why {
                NoAuth::NotConfigured(missing) => report::say(&format!(
                    "dry run: the publish target is not configured ({} missing); nothing will be uploaded",
                    missing.join(", ")
                )),
                NoAuth::NoCredentials(err) => report::warn(&format!(
                    "dry run without AWS credentials ({err}); the repository cannot be checked and nothing will be uploaded"
                )),
            }
            Ok(Err(why))
        }
        Err(AuthError::Stopped) => Err(anyhow::format_err!("stopped because the build failed")),
        Err(AuthError::Failed(err)) => Err(err),
    }
}

fn print_notes(notes: &[String]) {
    for note in notes {
        match note.strip_prefix("warning: ") {
            Some(rest) => report::warn(rest),
            None => report::say(note),
        }
    }
}

/// The simple index with the token in it, for private build dependencies.
fn private_index(auth: &Auth) -> Secret {
    let url = match auth.endpoint.split_once("://") {
        Some((scheme, rest)) => {
            format!("{scheme}://aws:{}@{rest}simple/", crate::redact::percent_encode(auth.token.expose()))
        }
        None => format!("{}simple/", auth.endpoint),
    };
    Secret::new(url)
}

/// Uploads the files `pending` (indices into `dists`), all in one twine process,
/// then once more for what failed in a way worth retrying: a refused token (after
/// getting a fresh one, once), connection errors and 5xx (with backoff, three runs
/// in all). One refused file never stops the others.
#[allow(clippy::too_many_arguments)]
fn upload_files(
    sh: &Shell,
    runtime: &tokio::runtime::Runtime,
    tools: &Tools,
    root: &Path,
    dists: &[Dist],
    pending: &[usize],
    mut uploader: Option<Uploader>,
    auth: &mut Auth,
    settings: &Settings,
    version: &Version,
) -> Vec<(usize, Outcome)> {
    let mut done = Vec::new();
    let mut pending = pending.to_vec();
    if pending.is_empty() {
        // Nothing to upload: the early uploader is dropped, and exits without a file.
        return done;
    }
    let mut refreshed = false;
    let mut runs = 0;
    while !pending.is_empty() {
        runs += 1;
        let batch: Vec<&Dist> = pending.iter().map(|&i| &dists[i]).collect();
        let started = match uploader.take() {
            Some(early) => Ok(early),
            None => Uploader::start(sh, tools, root, &auth.endpoint, &auth.token),
        };
        let results = match started {
            Ok(uploader) => uploader.upload(&batch),
            Err(err) => batch.iter().map(|_| Err(Failure::Other(format!("{err:#}")))).collect(),
        };
        let mut again = Vec::new();
        let mut token_refused = false;
        for (&i, result) in pending.iter().zip(results) {
            match result {
                Ok(()) => done.push((i, Outcome::Uploaded)),
                Err(Failure::Unauthorized | Failure::Forbidden) if !refreshed => {
                    token_refused = true;
                    again.push(i);
                }
                Err(failure) if failure.is_transient() && runs < 3 => again.push(i),
                Err(failure) => {
                    done.push((i, Outcome::Refused(explain_upload(&failure, &dists[i], settings, version))))
                }
            }
        }
        if token_refused {
            report::say("the repository refused the token (expired?); getting a new one and trying again");
            refreshed = true;
            match runtime.block_on(aws::new_token(&auth.session, settings)) {
                Ok(token) => auth.token = token,
                Err(err) => {
                    done.extend(again.drain(..).map(|i| (i, Outcome::Refused(format!("{err:#}")))));
                }
            }
        } else if !again.is_empty() {
            thread::sleep(Duration::from_secs(runs));
        }
        pending = again;
    }
    done
}

fn explain_upload(failure: &Failure, dist: &Dist, settings: &Settings, version: &Version) -> String {
    match failure {
        Failure::Conflict => publish::conflict_message(dist, None, version.as_str()),
        Failure::Unauthorized => "the repository refused the authorization token (401) even after a fresh one: \
             check that the token belongs to this domain and region (the username must be `aws`)"
            .to_owned(),
        Failure::Forbidden => format!(
            "the repository refused the upload (403): the identity may lack codeartifact:PublishPackageVersion on {} \
             (a PyPI package ARN has an empty namespace, `pypi//name`), or the package's origin controls block direct \
             publishing (`publish: BLOCK`); `cargo xtask check-iam` checks both",
            settings.package_arn(&project::normalize_name(dist.file_name.split('-').next().unwrap_or_default()))
        ),
        Failure::Refused(407, _) => crate::net::PROXY_REFUSED.to_owned(),
        Failure::Refused(402, _) => {
            "the repository refused the upload (402): a CodeArtifact quota was exceeded (asset size or count)"
                .to_owned()
        }
        Failure::Refused(status, reason) => format!("the repository refused the upload ({status}): {reason}"),
        Failure::Server(status) => {
            format!(
                "the repository kept failing ({status}) after 15 attempts: re-run the release later; it resumes where it stopped"
            )
        }
        Failure::Connection => {
            "the connection to the repository failed on three attempts: check the network and re-run \
             the release; it resumes where it stopped"
                .to_owned()
        }
        Failure::Other(text) => format!("twine failed: {text}"),
    }
}

/// Step 9: the repository holds every file with the same SHA-256, and the version is
/// `Published`. Listings can lag a moment behind an upload, hence a few tries.
fn confirm(
    runtime: &tokio::runtime::Runtime,
    session: &Session,
    settings: &Settings,
    name: &str,
    version: &Version,
    outcomes: &[(Dist, Outcome)],
) -> Result<()> {
    let expected: Vec<&Dist> =
        outcomes.iter().filter(|(_, o)| matches!(o, Outcome::Uploaded | Outcome::Skipped)).map(|(d, _)| d).collect();
    if expected.is_empty() {
        report::say("nothing was published, nothing to confirm");
        return Ok(());
    }
    let mut problems = Vec::new();
    for attempt in 0..5 {
        if attempt > 0 {
            thread::sleep(Duration::from_secs(1));
        }
        let remote = runtime.block_on(aws::remote_assets(session, settings, name, version.as_str()))?;
        let assets = match remote {
            Remote::Unknown(advice) => {
                report::warn(&format!("cannot confirm the upload: {advice}"));
                return Ok(());
            }
            Remote::Listed(assets) => assets,
        };
        problems = expected
            .iter()
            .filter_map(|dist| match assets.get(&dist.file_name) {
                Some(sha) if *sha == dist.sha256 => None,
                Some(sha) => {
                    Some(format!("{} is published with sha256:{sha}, not sha256:{}", dist.file_name, dist.sha256))
                }
                None => Some(format!("{} is not in the repository", dist.file_name)),
            })
            .collect();
        // A file this build did not make means the version mixes two builds.
        let all: Vec<Dist> = outcomes.iter().map(|(d, _)| d.clone()).collect();
        let listed = Remote::Listed(assets);
        let foreign = publish::foreign(&all, &listed);
        if !foreign.is_empty() {
            bail!("{}", publish::mixed_message(&foreign, version.as_str()));
        }
        if problems.is_empty() {
            break;
        }
    }
    if !problems.is_empty() {
        bail!("the repository does not hold what was uploaded:\n  {}", problems.join("\n  "));
    }
    for dist in &expected {
        report::say(&format!("confirmed {} sha256:{}", dist.file_name, dist.sha256));
    }
    match runtime.block_on(aws::version_status(session, settings, name, version.as_str())) {
        Ok(status) if status == "Published" => report::say(&format!("{name} {version} is Published")),
        Ok(status) => bail!("{name} {version} is {status:?} in the repository, not Published"),
        Err(err) => report::warn(&format!("could not read the version status: {err:#}")),
    }
    Ok(())
}

/// `--publish-only DIR`: the folder holds exactly the files of the manifest written
/// by `--build-only`, unchanged, built from this commit for this version; and every
/// archive passes the same inspection as after the build (name and version inside,
/// RECORD, `twine check`). The artifact crossed from a job that ran build code, so
/// none of it is trusted before this.
fn check_artifacts(sh: &Shell, tools: &Tools, project: &Project, version: &Version, dir: &Path) -> Result<Vec<Dist>> {
    let dir = &artifact_dir(dir, version)?;
    let manifest = Manifest::read(dir)?;
    let path = dir.join(manifest::FILE);
    if manifest.version != version.as_str() {
        bail!(
            "{} is for version {:?}, but the release is {version}: publish the build of this tag",
            path.display(),
            manifest.version
        );
    }
    if project::normalize_name(&manifest.name) != project.normalized_name() {
        bail!("{} is for project {:?}, not {:?}", path.display(), manifest.name, project.name);
    }
    let commit = expected_commit(sh)?;
    if manifest.commit != commit.id {
        bail!(
            "{} was built from commit {}, but this job runs on {} ({}): publish the build of this run",
            path.display(),
            manifest.commit,
            commit.id,
            commit.source
        );
    }
    let dists = dists::collect(dir)?;
    dists::check_file_names(&dists, &project.name, version)?;
    if manifest.files.len() != dists.len() {
        bail!("{} lists {} file(s), but {} holds {}", path.display(), manifest.files.len(), dir.display(), dists.len());
    }
    for dist in &dists {
        let entry =
            manifest.entry(&dist.file_name).with_context(|| format!("{:?} is not in the manifest", dist.file_name))?;
        if entry.sha256 != dist.sha256 || entry.size != dist.size {
            bail!(
                "{} changed since the build: the manifest says {} B sha256:{}, the file is {} B sha256:{}",
                dist.file_name,
                entry.size,
                entry.sha256,
                dist.size,
                dist.sha256
            );
        }
    }
    // What is inside, as after the build: twine sends the name and version of
    // METADATA, so a wheel named 1.0.0 that says 9.9.9 inside would be filed as 9.9.9.
    let inspected = dists::inspect(sh, tools, &project.root, &dists)?;
    dists::check_metadata(&inspected, &dists, &project.name, version)?;
    for dist in &dists {
        report::say(&format!(
            "  {:<45} {:>9} B  sha256:{}  (matches the manifest)",
            dist.file_name, dist.size, dist.sha256
        ));
    }
    report::say(&format!("built from {} ({})", manifest.commit, commit.source));
    Ok(dists)
}

/// DIR is the build's output folder, or the folder above it (a downloaded copy of
/// `target/dist/`, which holds one folder per version): then the folder of this
/// version, or the only one there is (whose manifest then says which it is).
fn artifact_dir(dir: &Path, version: &Version) -> Result<std::path::PathBuf> {
    if dir.join(manifest::FILE).exists() {
        return Ok(dir.to_path_buf());
    }
    if dir.join(version.as_str()).join(manifest::FILE).exists() {
        return Ok(dir.join(version.as_str()));
    }
    let builds: Vec<_> = fs::read_dir(dir)
        .with_context(|| format!("list {}", dir.display()))?
        .filter_map(|it| it.ok())
        .filter(|it| it.file_type().is_ok_and(|t| t.is_dir()) && it.path().join(manifest::FILE).exists())
        .map(|it| it.path())
        .collect();
    Ok(match builds.as_slice() {
        [only] => only.clone(),
        _ => dir.to_path_buf(),
    })
}

/// The commit a publish-only run must publish the build of.
struct ExpectedCommit {
    id: String,
    source: &'static str,
}

/// `GITHUB_SHA` in GitHub Actions (the commit of the run, the same in both jobs);
/// elsewhere `HEAD`.
fn expected_commit(sh: &Shell) -> Result<ExpectedCommit> {
    if report::in_github_actions() {
        let id = env::var("GITHUB_SHA").unwrap_or_default();
        if id.len() != 40 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!("GITHUB_SHA is {id:?}, not a commit id: run --publish-only in the workflow's publish job");
        }
        return Ok(ExpectedCommit { id: id.to_ascii_lowercase(), source: "GITHUB_SHA" });
    }
    Ok(ExpectedCommit { id: git::checkout(sh)?.head, source: "HEAD" })
}

/// Step 1: the version to release, and the tag it came from (for the tag check).
fn resolve_version(project: &Project, tag: Option<(String, Version)>) -> Result<(Version, Option<String>)> {
    let from_github = env::var("GITHUB_REF_TYPE").is_ok_and(|it| it == "tag") && report::in_github_actions();
    let (version, tag, source) = match tag {
        Some((tag, version)) => (version, Some(tag), Source::Argument),
        None if from_github => {
            let tag = env::var("GITHUB_REF_NAME").context("read GITHUB_REF_NAME of the tag push")?;
            let version = version::parse_tag(&tag, Source::GithubRef)?;
            (version, Some(tag), Source::GithubRef)
        }
        None => {
            let text = fs::read(project.version_path()).with_context(|| format!("read {}", project.version_file))?;
            let current = stamp::find(&text, &project.version_file)?.current;
            let version = version::parse_tag(&current, Source::VersionFile)
                .with_context(|| format!("read the version of {}", project.version_file))?;
            (version, None, Source::VersionFile)
        }
    };
    let origin = match &tag {
        Some(tag) => format!("{source} {tag:?}"),
        None => format!("{source} {}", project.version_file),
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

/// Step 3: writes the version into the version file, leaving the file untouched when
/// it already holds that version. Outside CI the returned guard puts the original
/// back when it is dropped (after the build, or when the release stops for any
/// reason), so a failed `release v2.0.0` leaves no 2.0.0 behind for a later
/// `release` without a tag to pick up.
fn stamp_version(project: &Project, version: &Version) -> Result<Option<StampedFile>> {
    let path = project.version_path();
    let text = fs::read(&path).with_context(|| format!("read {}", project.version_file))?;
    let assignment = stamp::find(&text, &project.version_file)?;
    if assignment.current == version.as_str() {
        report::say(&format!("{} already says {version}; left untouched", project.version_file));
        return Ok(None);
    }
    let new = stamp::replace(&text, &assignment, version.as_str());
    fsutil::write_atomic(&path, &new).with_context(|| format!("write {}", project.version_file))?;
    report::say(&format!("{}: {} → {version}", project.version_file, assignment.current));
    if report::in_ci() {
        // The checkout is the job's own; the stamped file is what CI builds.
        return Ok(None);
    }
    Ok(Some(StampedFile { path, label: project.version_file.clone(), original: text }))
}

/// The version file as it was before the stamp, written back when dropped.
struct StampedFile {
    path: std::path::PathBuf,
    label: String,
    original: Vec<u8>,
}

impl Drop for StampedFile {
    fn drop(&mut self) {
        match fsutil::write_atomic(&self.path, &self.original) {
            Ok(()) => report::say(&format!("{} restored (it is stamped for the build only)", self.label)),
            Err(err) => report::warn(&format!(
                "could not restore {}: {err:#}; `git checkout -- {}` puts it back",
                self.label, self.label
            )),
        }
    }
}

/// Step 6: everything that makes the built files trustworthy, then the manifest.
fn verify(
    sh: &Shell,
    tools: &Tools,
    project: &Project,
    version: &Version,
    (out, commit): (&Path, &str),
    dists: Vec<Dist>,
) -> Result<Vec<Dist>> {
    dists::check_file_names(&dists, &project.name, version)?;
    let inspected = dists::inspect(sh, tools, &project.root, &dists)?;
    dists::check_metadata(&inspected, &dists, &project.name, version)?;
    Manifest::of(&project.name, version.as_str(), commit, &dists).write(out)?;
    report::say(&format!("{}:", out.display()));
    for dist in &dists {
        report::say(&format!("  {:<45} {:>9} B  sha256:{}", dist.file_name, dist.size, dist.sha256));
    }
    Ok(dists)
}

/// The closing summary, also in the GitHub job summary.
fn summarize(
    project: &Project,
    version: &Version,
    dists: &[Dist],
    outcomes: &[(Dist, Outcome)],
    mode: Mode,
    install: Option<&str>,
) -> Result<()> {
    let what = match mode {
        Mode::BuildOnly => "Built",
        Mode::DryRun => "Dry run of",
        Mode::Publish => "Release of",
    };
    let counts = |f: fn(&Outcome) -> bool| outcomes.iter().filter(|(_, o)| f(o)).count();
    let uploaded = counts(|o| matches!(o, Outcome::Uploaded));
    let skipped = counts(|o| matches!(o, Outcome::Skipped));
    let refused = counts(|o| matches!(o, Outcome::Refused(_)));
    let tally = if outcomes.is_empty() || mode == Mode::DryRun {
        format!("{} file(s) verified", dists.len())
    } else {
        format!("{uploaded} uploaded, {skipped} already published, {refused} refused")
    };
    report::say(&format!("{what} {} {version}: {tally}", project.name));
    if let (Some(install), true) = (install, mode == Mode::Publish && refused == 0) {
        report::say(install);
    }
    let mut md = format!(
        "### {what} {} {version}\n\n{tally}\n\n| File | Size (bytes) | SHA-256 | Result |\n|---|---:|---|---|\n",
        project.name
    );
    for dist in dists {
        let result = outcomes
            .iter()
            .find(|(d, _)| d.file_name == dist.file_name)
            .map(|(_, o)| o.describe())
            .unwrap_or_else(|| "built and verified".to_owned());
        md.push_str(&format!(
            "| {} | {} | `{}` | {} |\n",
            report::md_code(&dist.file_name),
            dist.size,
            dist.sha256,
            result.replace('|', "\\|")
        ));
    }
    if let (Some(install), Mode::Publish) = (install, mode) {
        md.push_str(&format!("\n```\n{install}\n```\n"));
    }
    report::append_summary(&md)
}
