//! Fetch build requirements, the step of `release --fetch-build-deps DIR` (the
//! `build-deps` job of the workflow with private build dependencies): the wheels of `build-requirements.txt`, downloaded
//! from the CodeArtifact repository into DIR and checked against the lock's hashes,
//! for a build job that holds no token. It runs no build code and needs only an
//! identity that can read the repository (`iam-policy`'s read role); pip downloads
//! wheels only (`--only-binary :all:`), which runs no package code, with the token
//! in its environment alone.

use std::{fs, path::Path};

use anyhow::{Context, Result};
use xshell::{Shell, cmd};

use crate::{
    aws,
    build_lock::{self, BuildLock},
    exec::{self, Env},
    project::{self, Project},
    python::{self, NULL_DEVICE},
    report,
};

use super::{authenticate::Auth, build};

/// Fetch build requirements: the lock's wheels into a fresh DIR, each checked
/// against its hash.
pub fn run(sh: &Shell, project: &Project, lock: &BuildLock, auth: &Auth, dir: &Path) -> Result<()> {
    if dir.exists() {
        fs::remove_dir_all(dir).with_context(|| format!("remove the earlier {}", dir.display()))?;
    }
    fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    let python = python::with_pip(sh, &project::target_dir(&project.root).join("pip-env"))?;
    let index = aws::index_url(&auth.endpoint, &auth.token);
    let mut env = Env::private_build();
    // The URL carries the token: pip's environment only, never an argument.
    env.set("PIP_INDEX_URL", index.expose())
        .set("PIP_CONFIG_FILE", NULL_DEVICE)
        .set("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .set("PIP_NO_INPUT", "1");
    let lock_file = &lock.path;
    exec::run(
        cmd!(
            sh,
            "{python} -m pip download --require-hashes --no-deps --only-binary :all: --no-cache-dir --dest {dir} -r {lock_file}"
        ),
        &env,
    )
    .exec()
    .with_context(|| {
        format!(
            "download the wheels of {} from the repository (each checked against its hash). If pip found no \
             versions, the repository (or its upstream) lacks them or the identity lacks \
             codeartifact:ReadFromRepository on the repository; `cargo xtask check-iam --read-role --inspect-role \
             --role-arn ARN` checks the read role",
            build_lock::FILE
        )
    })?;
    let wheels = build::check_wheels(dir, lock)?;
    report::say(&format!("{}: {} wheel(s), each one the lock names by hash", dir.display(), wheels.len()));
    for wheel in &wheels {
        let (size, sha256) = crate::dists::hash_file(wheel)?;
        let name = wheel.file_name().unwrap_or_default().to_string_lossy();
        report::say(&format!("  {name:<55} {size:>9} B  sha256:{sha256}"));
    }
    Ok(())
}
