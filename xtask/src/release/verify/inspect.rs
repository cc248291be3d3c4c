//! The strict inspection of the archives (`inspect_dists.py`, beside this file),
//! then `twine check --strict`, in one Python process; and what their report means.
//!
//! The inspector reads each archive once, strictly and within limits, and refuses
//! anything two readers could read differently (the rules and limits are in
//! `strict_*.py`, beside it). Its refusal names the file, the member and the rule;
//! twine check runs only once every file passed. A crash of the inspector is its
//! own failure, shown with its last lines, never advice about the metadata.

use std::path::Path;

use anyhow::{Context, Result, bail};
use xshell::{Shell, cmd};

use crate::{
    dists::{Dist, Kind},
    exec::{self, Env},
    project::{Project, normalize_name},
    python::Tools,
    version::Version,
};

/// What the inspector found in one archive.
#[derive(Debug, PartialEq, Eq)]
pub struct Inspected {
    pub file: String,
    pub name: Option<String>,
    pub version: Option<String>,
    pub problems: Vec<String>,
}

/// How far `twine check` got, by the inspector's lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TwineCheck {
    NotRun,
    Started,
    Passed,
    Failed,
}

/// The inspector's report: its JSON lines.
#[derive(Debug)]
struct Report {
    files: Vec<Inspected>,
    twine_check: TwineCheck,
}

/// Inspects `dists` as the archives of `project` at `version`, then runs
/// `twine check --strict` on them: both must pass.
pub fn inspect(sh: &Shell, tools: &Tools, project: &Project, version: &Version, dists: &[Dist]) -> Result<()> {
    let python = &tools.python;
    let script = project.root.join("xtask/src/release/verify/inspect_dists.py");
    let files: Vec<&Path> = dists.iter().map(|it| it.path.as_path()).collect();
    let (name, release) = (&project.name, version.as_str());
    let cmd = cmd!(sh, "{python} {script} --name {name} --version {release} --twine-check {files...}");
    let (ended, stdout) = exec::run(cmd, &Env::base()).capture().spawn()?.finish_keeping_output();
    let report = parse(&stdout);
    judge(report, ended, dists, &project.name, version)
}

/// A refusal of the inspector first (it names the rule), then how the process
/// ended, then what the archives say against the release.
fn judge(report: Report, ended: Result<()>, dists: &[Dist], project_name: &str, version: &Version) -> Result<()> {
    for (it, dist) in report.files.iter().zip(dists) {
        if let Some(problem) = it.problems.first() {
            bail!("{} is refused: {problem}", dist.file_name);
        }
    }
    if let Err(err) = ended {
        return Err(match report.twine_check {
            TwineCheck::Failed => err.context(
                "`twine check --strict` refused the metadata (the archives themselves passed the inspection): fix \
                 what it names, in pyproject.toml or the readme",
            ),
            TwineCheck::Started | TwineCheck::Passed => err.context(
                "`twine check --strict` crashed after the archives passed the inspection (its last lines say \
                 where)",
            ),
            TwineCheck::NotRun => err.context(format!(
                "the archive inspector (xtask/src/release/verify/inspect_dists.py) failed after reporting on {} of {} file(s)",
                report.files.len(),
                dists.len()
            )),
        });
    }
    if report.files.len() != dists.len() || report.twine_check != TwineCheck::Passed {
        bail!(
            "the archive inspector (xtask/src/release/verify/inspect_dists.py) reported on {} of {} file(s) and ended without \
             twine check's result",
            report.files.len(),
            dists.len()
        );
    }
    check_metadata(&report.files, dists, project_name, version)
}

/// Parses the inspector's JSON lines; a line that is not one of them is left out
/// (the process's end says whether it finished).
fn parse(stdout: &str) -> Report {
    let mut report = Report { files: Vec::new(), twine_check: TwineCheck::NotRun };
    for line in stdout.lines() {
        let Ok(value) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        if let Some(state) = value.get("twine_check").and_then(|it| it.as_str()) {
            report.twine_check = match state {
                "started" => TwineCheck::Started,
                "passed" => TwineCheck::Passed,
                _ => TwineCheck::Failed,
            };
            continue;
        }
        let text = |key: &str| value.get(key).and_then(|it| it.as_str()).map(str::to_owned);
        let problems = value
            .get("problems")
            .and_then(|it| it.as_array())
            .map(|it| it.iter().filter_map(|p| p.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        report.files.push(Inspected {
            file: text("file").unwrap_or_default(),
            name: text("name"),
            version: text("version"),
            problems,
        });
    }
    report
}

/// The metadata inside every archive names the project and the released version.
/// The inspector checks both already; this is the release's own word on it.
fn check_metadata(inspected: &[Inspected], dists: &[Dist], project_name: &str, version: &Version) -> Result<()> {
    let want_name = normalize_name(project_name);
    for (it, dist) in inspected.iter().zip(dists) {
        let what = match dist.kind {
            Kind::Wheel => "METADATA",
            Kind::Sdist => "PKG-INFO",
        };
        let name = it.name.as_deref().context("the inspector reported no name")?;
        if normalize_name(name) != want_name {
            bail!("{} has Name {name:?} in its {what}, but the project is {project_name:?}", dist.file_name);
        }
        let found = it.version.as_deref().unwrap_or_default();
        if found != version.as_str() {
            bail!(
                "{} has Version {found:?} in its {what}, but the release is {version}: the version file and the \
                 build disagree",
                dist.file_name
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version;

    fn dist(file_name: &str) -> Dist {
        Dist::for_test(file_name, "")
    }

    fn failed() -> Result<()> {
        Err(anyhow::format_err!("`python inspect_dists.py` failed (exit status: 1); its last output:\n    Traceback"))
    }

    #[test]
    fn judges_the_report() {
        let v = version::parse("1.0.0").unwrap();
        let dists = [dist("yamause-1.0.0.tar.gz")];
        let ok = r#"{"file": "x", "name": "yamause", "version": "1.0.0", "metadata_version": "2.4", "problems": []}"#;
        let passed = format!("{ok}\n{{\"twine_check\": \"started\"}}\n{{\"twine_check\": \"passed\"}}\n");
        judge(parse(&passed), Ok(()), &dists, "yamause", &v).unwrap();
        let refused = r#"{"file": "x", "name": null, "version": null, "problems": ["member \"a/../b\": a `..` part"]}"#;
        let cases = [
            // A refusal wins over how the process ended.
            (refused.to_owned(), failed(), "yamause-1.0.0.tar.gz is refused: member \"a/../b\""),
            (
                format!("{ok}\n{{\"twine_check\": \"started\"}}\n{{\"twine_check\": \"failed\"}}"),
                failed(),
                "`twine check --strict` refused the metadata",
            ),
            (format!("{ok}\n{{\"twine_check\": \"started\"}}"), failed(), "`twine check --strict` crashed"),
            (
                String::new(),
                failed(),
                "the archive inspector (xtask/src/release/verify/inspect_dists.py) failed after reporting on 0",
            ),
            (ok.to_owned(), Ok(()), "ended without twine check's result"),
            (passed.replace("1.0.0", "0.9"), Ok(()), "has Version \"0.9\" in its PKG-INFO"),
            (passed.replace("\"yamause\"", "\"other\""), Ok(()), "has Name \"other\""),
        ];
        for (stdout, ended, want) in cases {
            let err = format!("{:#}", judge(parse(&stdout), ended, &dists, "yamause", &v).unwrap_err());
            assert!(err.contains(want), "{err:?} should contain {want:?}");
            assert!(!err.contains("pyproject.toml") || want.contains("refused the metadata"), "{err}");
        }
    }
}
