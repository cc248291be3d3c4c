//! `cargo xtask release [TAG]`: the release pipeline. `run` decides once what this
//! run is (a [`Plan`], `plan`) and then runs the plan's numbered steps one after
//! another (`Steps`, `steps`), each in the module of its name:
//!
//! 1. Version (`version`): TAG (or the pushed tag, or the version file) → a
//!    normalized PEP 440 version; a hostile tag is refused before anything runs.
//! 2. Preflight (`preflight`): the build lock, git and python3, a clean tree, the
//!    tag at `HEAD`.
//! 3. Stamp (`stamp`): the checkout's locks, then the version into the version file,
//!    put back after the build outside CI.
//! 4. Python tools (`python_tools`): the pinned build and twine.
//! 5. Build (`build`): the sdist and the wheel, reproducibly.
//! 6. Verify (`verify`): names, archives, `twine check`, the manifest.
//! 7. Authenticate (`authenticate`): after 6, or before 4 when the build installs
//!    private dependencies with the token.
//! 8. Publish (`publish`): skip what is published identically, refuse conflicts,
//!    upload the rest.
//! 9. Confirm (`confirm`): every file in the repository with its SHA-256, the version
//!    `Published`; then the summary (`summary`).
//!
//! `--build-only` stops after step 6; `--publish-only DIR` checks the files of such a
//! build (Check artifacts, `check_artifacts`) and publishes them; `--dry-run` uploads
//! nothing; `--fetch-build-deps DIR` only downloads the wheels of the build lock
//! (Fetch build requirements, `fetch_build_deps`). docs/architecture.md has the
//! table of what each step receives and hands on.

mod authenticate;
mod build;
mod check_artifacts;
mod confirm;
mod fetch_build_deps;
mod plan;
mod preflight;
mod publish;
mod python_tools;
mod stamp;
mod steps;
mod summary;
mod verify;
mod version;

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use xshell::Shell;

use crate::{
    aws,
    dists::Dist,
    exec, flags,
    install_help::Instructions,
    project::{self, Project},
    python::Tools,
    redact::Secret,
    report,
    version::{Source, Version},
};

use authenticate::Authenticated;
use plan::{Plan, step};
use steps::Steps;
use summary::Mode;

pub use steps::current_step;

impl flags::Release {
    pub fn run(self, sh: &Shell) -> Result<()> {
        exec::set_verbose(self.verbose);
        if self.build_only && self.publish_only.is_some() {
            bail!("--build-only and --publish-only exclude each other: run one, then the other");
        }
        if self.fetch_build_deps.is_some() && (self.build_only || self.publish_only.is_some() || self.dry_run) {
            bail!("--fetch-build-deps only downloads the build requirements: it combines with no other mode");
        }
        if self.build_deps.is_some() && (self.publish_only.is_some() || self.fetch_build_deps.is_some()) {
            bail!("--build-deps gives a build its requirements: it does not combine with --publish-only");
        }
        // A tag given on the command line is checked before anything else happens.
        let tag = match &self.tag {
            Some(tag) => Some((tag.clone(), crate::version::parse_tag(tag, Source::Argument)?)),
            None => None,
        };
        if self.sandbox {
            #[cfg(feature = "commands")]
            return crate::sandbox::release(sh, &self);
            #[cfg(not(feature = "commands"))]
            bail!("--sandbox is not part of this build (the release workflow's): run it through `cargo xtask`");
        }
        let root = project::find_root()?;
        sh.change_dir(&root);
        let project = Project::load(&root)?;
        // The settings are checked before any network call (and before any build).
        let plan = Plan::decide(&self, &project)?;
        // Then whether this build can sign in with the active profile (it may run the
        // command again from one that can).
        if !self.build_only {
            aws::sso::ensure_supported()?;
        }
        let steps = Steps::new(&plan.steps(&self));
        if let Plan::FetchBuildDeps { dir, .. } = &plan {
            return fetch_only(sh, (&project, &plan), &steps, dir);
        }
        let (version, tag) = steps.run(step::VERSION, || version::run(&project, tag))?;
        let ctx = Ctx { sh, project: &project, version, steps, runtime: aws::runtime()?, flags: &self };
        match &plan {
            Plan::PublishOnly { dir, .. } => publish_only(&ctx, &plan, dir),
            _ => build_and_publish(&ctx, &plan, tag.as_deref()),
        }
    }
}

/// What every step of a run shares.
struct Ctx<'a> {
    sh: &'a Shell,
    project: &'a Project,
    version: Version,
    steps: Steps,
    runtime: tokio::runtime::Runtime,
    flags: &'a flags::Release,
}

impl Ctx<'_> {
    /// Runs an AWS call to its end (each is bounded, see `limits`), or until a signal
    /// comes.
    fn block_on<T>(&self, work: impl std::future::Future<Output = Result<T>>) -> Result<T> {
        self.runtime.block_on(crate::interrupt::interruptible(work))?
    }
}

/// Steps 2 to 9, one after another (a build against private dependencies
/// authenticates before its tools, since it installs them with the token).
fn build_and_publish(ctx: &Ctx<'_>, plan: &Plan, tag: Option<&str>) -> Result<()> {
    let checked = ctx.steps.run(step::PREFLIGHT, || preflight::run(ctx, plan, tag))?;
    let stamp::Stamped { exclusive: _held, file: stamped } =
        ctx.steps.run(step::STAMP, || stamp::run(ctx.project, &checked.checkout, &ctx.version))?;
    let first = if plan.private_build(ctx.flags) {
        Some(ctx.steps.run(step::AUTHENTICATE, || authenticate::run(ctx, plan))?)
    } else {
        None
    };
    let index = first.as_ref().and_then(Authenticated::index_url);
    let built = build_and_verify(ctx, plan, &checked, index.as_ref());
    // The version file is put back as soon as the build is done with it.
    drop(stamped);
    let (tools, out, dists) = built?;
    if let Plan::BuildOnly = plan {
        return summary::built(ctx, &out, &dists);
    }
    let auth = match first {
        Some(auth) => auth,
        None => ctx.steps.run(step::AUTHENTICATE, || authenticate::run(ctx, plan))?,
    };
    publish_and_confirm(ctx, plan, (&tools, &dists), auth)
}

/// Steps 4 to 6: the tools, the files, their verification.
fn build_and_verify(
    ctx: &Ctx<'_>,
    plan: &Plan,
    checked: &preflight::Checked,
    index: Option<&Secret>,
) -> Result<(Tools, PathBuf, Vec<Dist>)> {
    let tools = ctx.steps.run(step::TOOLS, || python_tools::run(ctx, plan))?;
    let out = ctx.steps.run(step::BUILD, || build::run(ctx, &tools, checked, index))?;
    let dists = ctx.steps.run(step::VERIFY, || verify::run(ctx, &tools, &checked.checkout, &out))?;
    Ok((tools, out, dists))
}

/// `--publish-only DIR`, the publish job of the split workflow: Version, then Python
/// tools, Check artifacts, Authenticate, Publish, Confirm.
fn publish_only(ctx: &Ctx<'_>, plan: &Plan, dir: &Path) -> Result<()> {
    let tools = ctx.steps.run(step::TOOLS, || python_tools::run(ctx, plan))?;
    let dists = ctx.steps.run(step::CHECK_ARTIFACTS, || check_artifacts::run(ctx, &tools, dir))?;
    let auth = ctx.steps.run(step::AUTHENTICATE, || authenticate::run(ctx, plan))?;
    publish_and_confirm(ctx, plan, (&tools, &dists), auth)
}

/// `--fetch-build-deps DIR`: Preflight (the lock), Authenticate, Fetch build
/// requirements.
fn fetch_only(sh: &Shell, (project, plan): (&Project, &Plan), steps: &Steps, dir: &Path) -> Result<()> {
    let lock = steps.run(step::PREFLIGHT, || preflight::lock_only(project))?;
    let runtime = aws::runtime()?;
    let auth = steps.run(step::AUTHENTICATE, || authenticate::on_its_own(&runtime, plan))?;
    let Authenticated::Session(auth) = auth else {
        bail!("no session to download the build requirements with");
    };
    steps.run(step::FETCH, || fetch_build_deps::run(sh, project, &lock, &auth, dir))
}

/// Steps 8 and 9, then the summary; fails when a file was not published.
fn publish_and_confirm(
    ctx: &Ctx<'_>,
    plan: &Plan,
    (tools, dists): (&Tools, &[Dist]),
    auth: Authenticated,
) -> Result<()> {
    let mode = if plan.is_dry_run() { Mode::DryRun } else { Mode::Publish };
    let (Authenticated::Session(mut auth), Some(settings)) = (auth, plan.settings()) else {
        ctx.steps.run(step::PUBLISH, || {
            report::say("dry run: nothing to compare with, nothing uploaded");
            Ok(())
        })?;
        ctx.steps.run(step::CONFIRM, || {
            report::say("dry run: nothing to confirm");
            Ok(())
        })?;
        return summary::summarize(ctx, dists, &[], mode, None);
    };
    let outcomes = ctx.steps.run(step::PUBLISH, || publish::run(ctx, (tools, settings), dists, &mut auth, mode))?;
    let confirmed = ctx.steps.run(step::CONFIRM, || confirm::run(ctx, (&auth.session, settings), &outcomes, mode));
    let name = ctx.project.normalized_name();
    let install = Instructions::new(&auth.endpoint, settings, &name, ctx.version.as_str());
    summary::summarize(ctx, dists, &outcomes, mode, Some(&install))?;
    summary::all_published(&outcomes)?;
    confirmed
}
