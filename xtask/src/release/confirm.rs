//! Step 9, Confirm: the repository holds every file with the same SHA-256 and no
//! file of the version that this build did not make, and the version is `Published`
//! and of internal origin (published to this repository, not taken from an
//! upstream or an external connection: `DescribePackageVersion`'s `origin`).

use std::time::Duration;

use anyhow::{Result, bail};

use crate::{
    aws::{self, Remote, Session, origin::Arrival},
    dists::Dist,
    interrupt, report,
    settings::Settings,
};

use super::{
    Ctx, publish,
    summary::{Mode, Outcome},
};

/// Step 9 (nothing to confirm after a dry run).
pub fn run(
    ctx: &Ctx<'_>,
    (session, settings): (&Session, &Settings),
    outcomes: &[(Dist, Outcome)],
    mode: Mode,
) -> Result<()> {
    if mode == Mode::DryRun {
        report::say("dry run: nothing uploaded, nothing to confirm");
        return Ok(());
    }
    confirm(ctx, session, settings, outcomes)
}

/// The repository holds every file with the same SHA-256, and the version is
/// `Published`. Listings can lag behind an upload: CodeArtifact says publishing
/// "can sometimes take longer" than a second and to retry "up to three times"
/// (User Guide, "Publishing latency"), hence five tries a second apart.
fn confirm(ctx: &Ctx<'_>, session: &Session, settings: &Settings, outcomes: &[(Dist, Outcome)]) -> Result<()> {
    let version = &ctx.version;
    let name = &ctx.project.normalized_name();
    let expected: Vec<&Dist> =
        outcomes.iter().filter(|(_, o)| matches!(o, Outcome::Uploaded | Outcome::Skipped)).map(|(d, _)| d).collect();
    if expected.is_empty() {
        report::say("nothing was published, nothing to confirm");
        return Ok(());
    }
    let mut problems = Vec::new();
    for attempt in 0..5 {
        if attempt > 0 {
            interrupt::sleep(Duration::from_secs(1))?;
        }
        let remote = ctx.block_on(aws::remote_assets(session, settings, name, version.as_str()))?;
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
        if attempt < 4 {
            report::say(&format!(
                "the repository does not list {} of {} file(s) as uploaded yet (its listings can lag an upload); \
                 checking again in 1 s",
                problems.len(),
                expected.len()
            ));
        }
    }
    if !problems.is_empty() {
        bail!("the repository does not hold what was uploaded:\n  {}", problems.join("\n  "));
    }
    for dist in &expected {
        report::say(&format!("confirmed {} sha256:{}", dist.file_name, dist.sha256));
    }
    match ctx.block_on(aws::origin::version_origin(session, settings, name, version.as_str())) {
        Ok((_, arrival @ (Arrival::External(_) | Arrival::Upstream(_)))) => bail!(
            "{name} {version} in the repository came {arrival}, not from this release: CodeArtifact took a version of \
             that name from outside (dependency substitution), and consumers may get it. Check it, remove it if it \
             is not yours, and protect the package (`cargo xtask check-iam` says how)"
        ),
        Ok((status, arrival)) if status == "Published" => {
            report::say(&format!("{name} {version} is Published, {arrival}"));
            if arrival == Arrival::Unknown {
                report::warn(&format!("CodeArtifact does not say where {name} {version} came from (origin UNKNOWN)"));
            }
        }
        Ok((status, _)) => bail!("{name} {version} is {status:?} in the repository, not Published"),
        Err(err) => report::warn(&format!("could not read the version's status and origin: {err:#}")),
    }
    Ok(())
}
