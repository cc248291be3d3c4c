//! Step 2, Preflight: what must hold before anything changes: git and python3
//! present, a clean working tree (outside CI), the tag at `HEAD` for a real publish,
//! and, for a build against private dependencies, the hashed lock it will install.

use std::{path::PathBuf, thread};

use anyhow::{Result, bail};
use xshell::Shell;

use crate::{git, private_build, python, report};

use super::{Ctx, plan::Plan};

/// What the preflight established.
pub struct Checked {
    pub checkout: git::Checkout,
    /// `build-requirements.txt`, checked, when the build installs private
    /// dependencies: the token only ever meets that lock.
    pub build_lock: Option<PathBuf>,
}

pub fn run(ctx: &Ctx<'_>, plan: &Plan, tag: Option<&str>) -> Result<Checked> {
    let checkout = checks(ctx, plan, tag)?;
    let build_lock = if plan.private_build() { Some(private_build::check_lock(ctx.project)?) } else { None };
    Ok(Checked { checkout, build_lock })
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
    let version_file = format!("{}{}", checkout.prefix, project.version_file);
    let dirty: Vec<String> = git::changed_paths(sh)?.into_iter().filter(|it| *it != version_file).collect();
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
