//! What a release run is, decided once from the flags and the settings, and the
//! numbered steps that follow from it.

use std::path::PathBuf;

use anyhow::{Result, bail};

use crate::{
    flags,
    project::Project,
    report,
    settings::{self, Settings, Target},
};

/// The names of the steps, as they are printed.
pub mod step {
    pub const VERSION: &str = "Version";
    pub const PREFLIGHT: &str = "Preflight";
    pub const STAMP: &str = "Stamp";
    pub const TOOLS: &str = "Python tools";
    pub const BUILD: &str = "Build";
    pub const VERIFY: &str = "Verify";
    pub const AUTHENTICATE: &str = "Authenticate";
    pub const PUBLISH: &str = "Publish";
    pub const CONFIRM: &str = "Confirm";
    pub const CHECK_ARTIFACTS: &str = "Check artifacts";
    pub const FETCH: &str = "Fetch build requirements";
}

/// One run of `cargo xtask release`.
pub enum Plan {
    /// `--build-only`: build and verify; no AWS at all.
    BuildOnly,
    /// `--dry-run`: everything but the upload. Without a target the repository is
    /// not consulted (the settings missing are named).
    DryRun(Result<Settings, Vec<&'static str>>),
    /// A real release: build, authenticate, publish, confirm.
    Publish(Settings),
    /// `--publish-only DIR`: publish (or, with `--dry-run`, check) the files of an
    /// earlier `--build-only` run.
    PublishOnly { settings: Settings, dir: PathBuf, dry_run: bool },
    /// `--fetch-build-deps DIR`: download the wheels of the build lock from the
    /// repository, and build nothing.
    FetchBuildDeps { settings: Settings, dir: PathBuf },
}

impl Plan {
    /// Decides the plan; a release that needs a target and has none stops here,
    /// before anything runs.
    pub fn decide(flags: &flags::Release, project: &Project) -> Result<Plan> {
        let private = settings::private_dependencies(&project.pyproject)?;
        if flags.build_only {
            if private && flags.build_deps.is_none() {
                bail!(
                    "private-dependencies is on, so a build without the CodeArtifact token needs the wheels of \
                     build-requirements.txt: fetch them with `release --fetch-build-deps DIR` (an identity that can \
                     read the repository) and pass --build-deps DIR, or run the release without --build-only"
                );
            }
            return Ok(Plan::BuildOnly);
        }
        if let Some(dir) = &flags.fetch_build_deps {
            let settings = settings::required(&project.pyproject, "--fetch-build-deps downloads from the repository")?;
            if !private {
                report::warn("private-dependencies is off: the build installs its requirements from the package index");
            }
            return Ok(Plan::FetchBuildDeps { settings, dir: dir.clone() });
        }
        let target = settings::from_env(&project.pyproject)?;
        Ok(match (target, &flags.publish_only) {
            (Target::Configured(settings), Some(dir)) => {
                Plan::PublishOnly { settings, dir: dir.clone(), dry_run: flags.dry_run }
            }
            (Target::Missing(missing), Some(_)) => return Err(settings::not_configured(&missing, "")),
            (Target::Configured(settings), None) if flags.dry_run => Plan::DryRun(Ok(settings)),
            (Target::Missing(missing), None) if flags.dry_run => Plan::DryRun(Err(missing)),
            (Target::Configured(settings), None) => Plan::Publish(settings),
            (Target::Missing(missing), None) => {
                return Err(settings::not_configured(&missing, " (or pass --dry-run, or --build-only)"));
            }
        })
    }

    /// The target to publish to, when there is one.
    pub fn settings(&self) -> Option<&Settings> {
        match self {
            Plan::BuildOnly | Plan::DryRun(Err(_)) => None,
            Plan::DryRun(Ok(settings))
            | Plan::Publish(settings)
            | Plan::PublishOnly { settings, .. }
            | Plan::FetchBuildDeps { settings, .. } => Some(settings),
        }
    }

    /// Nothing is uploaded.
    pub fn is_dry_run(&self) -> bool {
        matches!(self, Plan::DryRun(_) | Plan::PublishOnly { dry_run: true, .. })
    }

    /// The build installs its requirements from the repository, with the token: it
    /// cannot start before authentication then. (With `--build-deps` they come
    /// from a folder instead.)
    pub fn private_build(&self, flags: &flags::Release) -> bool {
        flags.build_deps.is_none()
            && !matches!(self, Plan::FetchBuildDeps { .. })
            && self.settings().is_some_and(|it| it.private_dependencies)
    }

    /// The steps of this plan, in order; a step's number is its place here.
    pub fn steps(&self, flags: &flags::Release) -> Vec<&'static str> {
        use step::*;
        match self {
            Plan::BuildOnly => vec![VERSION, PREFLIGHT, STAMP, TOOLS, BUILD, VERIFY],
            Plan::PublishOnly { .. } => vec![VERSION, TOOLS, CHECK_ARTIFACTS, AUTHENTICATE, PUBLISH, CONFIRM],
            Plan::FetchBuildDeps { .. } => vec![PREFLIGHT, AUTHENTICATE, FETCH],
            _ if self.private_build(flags) => {
                vec![VERSION, PREFLIGHT, STAMP, AUTHENTICATE, TOOLS, BUILD, VERIFY, PUBLISH, CONFIRM]
            }
            _ => vec![VERSION, PREFLIGHT, STAMP, TOOLS, BUILD, VERIFY, AUTHENTICATE, PUBLISH, CONFIRM],
        }
    }
}
