//! What a run did, per file, and the closing summary (also the GitHub job summary):
//! after a publish, how consumers install the release with pip, uv and poetry
//! (`install_help`).

use std::path::Path;

use anyhow::{Result, bail};

use crate::{dists::Dist, install_help::Instructions, manifest, report};

use super::Ctx;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    BuildOnly,
    DryRun,
    Publish,
}

/// What happened to one file.
#[derive(Debug, Clone)]
pub enum Outcome {
    Uploaded,
    Skipped,
    WouldUpload,
    Refused(String),
}

impl Outcome {
    pub fn describe(&self) -> String {
        match self {
            Outcome::Uploaded => "uploaded".to_owned(),
            Outcome::Skipped => "already published with the same SHA-256; skipped".to_owned(),
            Outcome::WouldUpload => "dry run: would upload".to_owned(),
            Outcome::Refused(msg) => format!("NOT published: {msg}"),
        }
    }
}

/// A release fails when a file was not published: each is named with why.
pub fn all_published(outcomes: &[(Dist, Outcome)]) -> Result<()> {
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
    Ok(())
}

/// The end of `--build-only`: where the files are, and the summary.
pub fn built(ctx: &Ctx<'_>, out: &Path, dists: &[Dist]) -> Result<()> {
    report::say(&format!("the distributions and {} are in {}", manifest::FILE, out.display()));
    summarize(ctx, dists, &[], Mode::BuildOnly, None)
}

/// The closing summary, also in the GitHub job summary.
pub fn summarize(
    ctx: &Ctx<'_>,
    dists: &[Dist],
    outcomes: &[(Dist, Outcome)],
    mode: Mode,
    install: Option<&Instructions>,
) -> Result<()> {
    let (project, version) = (ctx.project, &ctx.version);
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
    let install = install.filter(|_| mode == Mode::Publish && refused == 0);
    if let Some(install) = install {
        report::say(install.text().trim_end());
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
    if let Some(install) = install {
        md.push_str(&format!("\n{}", install.markdown()));
    }
    report::append_summary(&md)
}
