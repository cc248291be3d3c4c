//! `cargo xtask release [TAG]`: the release pipeline. `run` decides once what this
//! run is (a [`Plan`]) and then runs the plan's numbered steps, in the order the
//! docs/architecture.md lists them; each step lives in the module of its name under `release/`.
//!
//! 1. Version (`tag`): TAG (or the pushed tag, or the version file) → a normalized
//!    PEP 440 version; a hostile tag is refused before anything runs.
//! 2. Preflight: git and python3, a clean tree, the tag at `HEAD`.
//! 3. Stamp (`stamping`): the version into the version file, put back afterwards
//!    outside CI.
//! 4. Python tools, 5. Build, 6. Verify (`build`).
//! 7. Authenticate (`auth`): after 6, or before 4 when the build installs private
//!    dependencies with the token.
//! 8. Publish (`upload`): skip what is published identically, refuse conflicts,
//!    upload the rest.
//! 9. Confirm (`confirm`): every file in the repository with its SHA-256, the version
//!    `Published`.
//!
//! `--build-only` stops after step 6; `--publish-only DIR` checks the files of such a
//! build (`artifacts`) and publishes them; `--dry-run` uploads nothing;
//! `--fetch-build-deps DIR` only downloads the wheels of the build lock (`fetch`).

mod artifacts;
mod auth;
mod build;
mod confirm;
mod exclusive;
mod fetch;
mod journal;
mod plan;
mod preflight;
mod stamping;
mod summary;
mod tag;
mod upload;

use anyhow::{Result, bail};
use xshell::Shell;

use crate::{
    aws, dists, exec, flags,
    project::{self, Project},
    publish,
    report::Steps,
    version::{self, Source, Version},
};

use plan::{Plan, step};

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
            Some(tag) => Some((tag.clone(), version::parse_tag(tag, Source::Argument)?)),
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
            return fetch::run(sh, (&project, &plan), &steps, dir);
        }
        let (version, tag) = steps.run(step::VERSION, || tag::resolve(&project, tag))?;
        let ctx = Ctx { sh, project: &project, version, steps, runtime: aws::runtime()?, flags: &self };
        match &plan {
            Plan::PublishOnly { dir, .. } => artifacts::publish_only(&ctx, &plan, dir),
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

/// Steps 2 to 9, one after another: preflight, stamp, tools, build, verify,
/// authenticate, publish, confirm (a build against private dependencies
/// authenticates before its tools, since it installs them with the token).
fn build_and_publish(ctx: &Ctx<'_>, plan: &Plan, tag: Option<&str>) -> Result<()> {
    let checked = ctx.steps.run(step::PREFLIGHT, || preflight::run(ctx, plan, tag))?;
    let stamping::Stamped { exclusive: _held, file: stamped } =
        ctx.steps.run(step::STAMP, || stamping::run(ctx.project, &checked.checkout, &ctx.version))?;
    let first = if plan.private_build(ctx.flags) { Some(auth::run(ctx, plan)?) } else { None };
    let index = match &first {
        Some(auth::Authenticated::Session(auth)) => Some(publish::index_url(&auth.endpoint, &auth.token)),
        _ => None,
    };
    let out = dists::out_dir(&ctx.project.root, &ctx.version);
    let built = build::run(ctx, &checked, index.as_ref(), &out);
    // The version file is put back as soon as the build no longer reads it.
    drop(stamped);
    let built = built?;
    if let Plan::BuildOnly = plan {
        return summary::built(ctx, &out, &built.dists);
    }
    let auth = match first {
        Some(auth) => auth,
        None => auth::run(ctx, plan)?,
    };
    upload::publish_and_confirm(ctx, plan, built, auth)
}
