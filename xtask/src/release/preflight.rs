//! Step 2, Preflight: what must hold before anything changes: the hashed lock of the
//! build requirements made from today's `[build-system]`, git and python3 present,
//! a clean working tree (outside CI), the tag at `HEAD` for a real publish.

use std::thread;

use anyhow::{Result, bail};
use xshell::Shell;

use crate::{
    build_lock::{self, BuildLock},
    git,
    project::{Project, version_text},
    python, report,
};

use super::{Ctx, plan::Plan};

/// What the preflight established.
pub struct Checked {
    pub checkout: git::Checkout,
    /// `build-requirements.txt`, checked against `[build-system]`: the build
    /// installs exactly it (and, with private dependencies, the token only ever
    /// meets it).
    pub build_lock: BuildLock,
}

pub fn run(ctx: &Ctx<'_>, plan: &Plan, tag: Option<&str>) -> Result<Checked> {
    // The lock first: a stale one is refused before anything else runs.
    let build_lock = lock_only(ctx.project)?;
    let checkout = checks(ctx, plan, tag)?;
    Ok(Checked { checkout, build_lock })
}

/// The Preflight of `--fetch-build-deps`, which builds nothing: the lock alone
/// (and the proxy settings, as every Preflight).
pub fn lock_only(project: &Project) -> Result<BuildLock> {
    // A proxy variable no client here can use (`socks5://`, no host) is refused
    // before the first installer or AWS call would fail on it, or go around it.
    crate::net::check_proxy_vars()?;
    build_lock::check(project)
}

fn checks(ctx: &Ctx<'_>, plan: &Plan, tag: Option<&str>) -> Result<git::Checkout> {
    let (sh, project) = (ctx.sh, ctx.project);
    // Starting the interpreter can take a while (a pyenv shim is a shell script):
    // it runs alongside the git queries.
    let interpreter =
        thread::spawn(|| Shell::new().map_err(anyhow::Error::from).and_then(|sh| python::check_interpreter(&sh)));
    report::say(&git::check_installed(sh)?);
    let checkout = git::checkout(sh);
    let python = interpreter.join().unwrap_or_else(|_| Err(anyhow::format_err!("the interpreter check panicked")))?;
    report::say(&format!("Python {python}"));
    let checkout = checkout?;
    let version_file = format!("{}{}", checkout.prefix, project.version_file());
    let mut dirty = git::changed_paths(sh)?;
    // A version file changed in its version alone (stamped by hand, or by a run
    // that was killed) is what Stamp rewrites anyway; any other change is not.
    if dirty.contains(&version_file) && only_version_differs(ctx, &version_file)? {
        dirty.retain(|it| *it != version_file);
    }
    let in_ci = report::in_ci();
    if !dirty.is_empty() {
        let list = dirty.iter().take(10).map(|it| format!("\n    {it}")).collect::<String>();
        if ctx.flags.allow_dirty || in_ci {
            let why = if ctx.flags.allow_dirty { "--allow-dirty" } else { "CI" };
            report::warn(&format!("releasing with uncommitted changes ({why}):{list}"));
        } else {
            bail!(
                "the working tree has uncommitted changes, which would end up in a release no \
                 commit describes:{list}\ncommit or stash them, or pass --allow-dirty"
            );
        }
    }
    if let Some(tag) = tag {
        check_tag(ctx, plan, tag, &checkout)?;
    }
    Ok(checkout)
}

/// Whether the working copy of the version file is the committed one with another
/// version written in.
fn only_version_differs(ctx: &Ctx<'_>, in_repository: &str) -> Result<bool> {
    let project = ctx.project;
    let Some(committed) = git::committed_file(ctx.sh, in_repository)? else { return Ok(false) };
    let Ok(working) = std::fs::read(project.version_path()) else { return Ok(false) };
    let place = &project.version.place;
    let (Ok(now), Ok(then)) =
        (place.find(&working, project.version_file()), place.find(&committed, project.version_file()))
    else {
        return Ok(false);
    };
    Ok(version_text::replace(&committed, &then, &now.current) == working)
}

/// A release publishes what its tag names: the tag must exist and point at what is
/// built, or the published version is not the tagged code.
fn check_tag(ctx: &Ctx<'_>, plan: &Plan, tag: &str, checkout: &git::Checkout) -> Result<()> {
    {
        let problem = match git::tag_commit(ctx.sh, tag)? {
            Some(commit) if commit == checkout.head => {
                report::say(&format!("tag {tag} points at HEAD {}", checkout.head));
                None
            }
            Some(commit) => Some(format!("tag {tag} points at {commit}, not at HEAD {}", checkout.head)),
            None => Some(format!("tag {tag} does not exist here")),
        };
        if let Some(problem) = problem {
            let publishing = matches!(plan, Plan::Publish(_));
            if publishing && !ctx.flags.allow_dirty {
                bail!(
                    "{problem}: a release publishes the commit its tag names. Tag HEAD (`git tag {tag}`), check \
                     the tag out (`git checkout {tag}`), or pass --allow-dirty to publish HEAD anyway"
                );
            }
            report::warn(&format!("{problem}; the build is of HEAD {}", checkout.head));
        }
    }
    Ok(())
}
