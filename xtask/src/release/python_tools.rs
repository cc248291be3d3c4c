//! Step 4, Python tools: the pinned tool environment a run needs: build (the PEP
//! 517 frontend), twine and packaging from `xtask/tools/release.txt`, or, for
//! `--publish-only`, twine and packaging alone from `publish.txt` (the same pins: the
//! publish job installs nothing that builds). Provisioning itself, with uv or pip,
//! reused until the lock or the interpreter changes, is `python::ensure`, which
//! `cargo xtask tools` and `lock` share.

use anyhow::Result;

use crate::python::{self, ToolLock, Tools};

use super::{Ctx, plan::Plan};

/// Step 4: the tools of `plan`.
pub fn run(ctx: &Ctx<'_>, plan: &Plan) -> Result<Tools> {
    let lock = match plan {
        Plan::PublishOnly { .. } => ToolLock::Publish,
        _ => ToolLock::Release,
    };
    python::ensure(ctx.sh, &ctx.project.root, lock)
}
