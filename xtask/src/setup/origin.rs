//! The package's origin controls, the step of the AWS plan after the IAM ones: read
//! with setup's own identity (`DescribePackage`, `ListPackageVersions` with each
//! version's origin, `DescribeRepository` for the upstreams and external
//! connections), planned in the plan's diff style, and applied with `--apply`
//! through `PutPackageOriginConfiguration` (also setup's identity: the release role
//! never gets that permission, and `check-iam` calls it dangerous on one).
//!
//! The target is publish ALLOW, upstream BLOCK, set before the first release: a
//! package the repository does not have yet is created with them, so nothing of its
//! name can be ingested from PyPI first (AWS CodeArtifact User Guide, "Editing
//! package origin controls" and "Dependency substitution attacks"). When versions
//! of the name came from an upstream repository or an external connection (or from
//! nobody knows where), setup changes nothing: it names them and says what to do,
//! since someone else's package may already have been installed. setup never
//! deletes a package or a version.

use anyhow::Result;

use super::diff;
use crate::{
    aws::{
        self, Session,
        origin::{Arrival, Read, Restriction, Restrictions, VersionOrigin},
    },
    origin,
    settings::Settings,
};

/// What the step comes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    UpToDate,
    Create,
    Update,
    /// Nothing of the plan is applied while a step is refused.
    Refused,
}

/// The planned step.
#[derive(Debug, Clone)]
pub struct Step {
    pub title: String,
    pub status: Status,
    pub lines: Vec<String>,
    pub diff: Option<String>,
    /// The package whose origin controls `--apply` sets (to `Restrictions::PROTECTED`).
    pub change: Option<String>,
}

impl Step {
    /// Nothing of the plan is applied while a step is refused: the error says why.
    pub fn check_not_refused(&self) -> Result<()> {
        if self.status == Status::Refused {
            anyhow::bail!(
                "nothing was changed, because the plan refuses a step: {}: {}",
                self.title,
                self.lines.join("; ")
            );
        }
        Ok(())
    }
}

/// Reads the package with setup's identity and plans the step.
pub async fn step(session: &Session, settings: &Settings, package: &str) -> Step {
    plan(&read(session, settings, package).await, settings, package)
}

/// What CodeArtifact holds of the package, read with setup's identity.
pub struct State {
    /// `None`: no package.
    pub restrictions: Option<Restrictions>,
    pub versions: Vec<VersionOrigin>,
    /// `Err`: why they were not read (the plan says so; they only explain).
    pub connections: std::result::Result<aws::origin::Connections, String>,
}

/// Reads the package; `Err` says why it could not be read (a step that cannot be
/// planned is refused, so nothing is applied).
pub async fn read(session: &Session, settings: &Settings, package: &str) -> std::result::Result<State, String> {
    let failed = |err: anyhow::Error| format!("{err:#}");
    let denied = |why: String| format!("{why}\nsetup reads the package with its own identity before it plans it");
    let restrictions = match aws::origin::describe_package(session, settings, package).await.map_err(failed)? {
        Read::Got(it) => it,
        Read::Denied(why) => return Err(denied(why)),
    };
    let versions = match restrictions {
        None => Vec::new(),
        Some(_) => match aws::origin::list_versions(session, settings, package).await.map_err(failed)? {
            Read::Got(it) => it.unwrap_or_default(),
            Read::Denied(why) => return Err(denied(why)),
        },
    };
    let connections = match aws::origin::connections(session, settings).await {
        Ok(Read::Got(it)) => Ok(it),
        Ok(Read::Denied(_)) => Err("not read: codeartifact:DescribeRepository is not permitted".to_owned()),
        Err(err) => Err(format!("not read: {err:#}")),
    };
    Ok(State { restrictions, versions, connections })
}

/// The step for what was read (or why it could not be).
pub fn plan(state: &std::result::Result<State, String>, settings: &Settings, package: &str) -> Step {
    let title = format!(
        "Origin controls of the package {package} in {}/{} (CodeArtifact)",
        settings.domain, settings.repository
    );
    let mut step = Step { title, status: Status::UpToDate, lines: Vec::new(), diff: None, change: None };
    let state = match state {
        Ok(state) => state,
        Err(why) => {
            step.status = Status::Refused;
            step.lines.push(format!("cannot be planned: {why}"));
            return step;
        }
    };
    match &state.connections {
        Ok(it) => step.lines.push(format!("the repository's {it}")),
        Err(why) => step.lines.push(format!("the repository's upstreams and external connections: {why}")),
    }
    let foreign = origin::foreign(&state.versions);
    if !foreign.is_empty() {
        step.status = Status::Refused;
        step.lines.extend(refusal(settings, package, &foreign));
        return step;
    }
    let want = Restrictions::PROTECTED;
    let Some(have) = &state.restrictions else {
        step.status = Status::Create;
        step.lines.push(format!(
            "no package {package} in the repository yet: PutPackageOriginConfiguration creates it with {want}, so \
             nothing of that name can be ingested from an upstream or external connection before the first release"
        ));
        step.diff = Some(diff::lines("", &text(&want)));
        step.change = Some(package.to_owned());
        return step;
    };
    let count = state.versions.len();
    if *have == want {
        step.lines.push(format!("{have}; its {count} version(s) were all published to the repository"));
        return step;
    }
    step.status = Status::Update;
    if have.publish != Restriction::Allow {
        step.lines.push("widens: the release may publish (with publish: BLOCK every upload is refused)".to_owned());
    }
    if have.upstream != Restriction::Block {
        step.lines.push(format!(
            "narrows: versions of {package} are no longer taken from upstream repositories or external connections \
             (its {count} version(s) so far were all published to the repository)"
        ));
    }
    step.diff = Some(diff::lines(&text(have), &text(&want)));
    step.change = Some(package.to_owned());
    step
}

/// Why setup changes nothing when versions came from outside, and what to do.
fn refusal(settings: &Settings, package: &str, foreign: &[&VersionOrigin]) -> Vec<String> {
    let known = foreign.iter().any(|it| it.arrival != Arrival::Unknown);
    let versions: Vec<&str> = foreign.iter().map(|it| it.version.as_str()).collect();
    let (d, o, r) = (&settings.domain, &settings.domain_owner, &settings.repository);
    vec![
        format!("versions of {package} in the repository were not published to it: {}", origin::list(foreign)),
        if known {
            "a dependency substitution may already have happened: whoever installed these versions through the \
             repository got a package of this name from outside it. setup changes nothing here, and never deletes a \
             package or a version"
                .to_owned()
        } else {
            "CodeArtifact does not know where these came from; setup changes nothing until you have checked them, and \
             never deletes a package or a version"
                .to_owned()
        },
        format!(
            "if they are not yours: remove them (`aws codeartifact delete-package-versions --domain {d} --domain-owner \
             {o} --repository {r} --format pypi --package {package} --versions {}`), tell whoever installed them, and \
             run setup again",
            versions.join(" ")
        ),
        format!(
            "if they are yours (you also publish {package} elsewhere): set the controls yourself: `{}`",
            origin::protect_command(settings, package)
        ),
    ]
}

/// The restrictions as the diff shows them, one per line.
fn text(restrictions: &Restrictions) -> String {
    format!("publish: {}\nupstream: {}\n", restrictions.publish, restrictions.upstream)
}

/// The step as text, numbered `number`, in the plan's style.
pub fn render(step: &Step, number: usize) -> String {
    let label = match step.status {
        Status::UpToDate => "up to date",
        Status::Create => "create",
        Status::Update => "update",
        Status::Refused => "refused",
    };
    let mut out = format!("{number}. {}: {label}\n", step.title);
    for line in &step.lines {
        out.push_str(&format!("   {}\n", line.replace('\n', "\n   ")));
    }
    if let Some(diff) = &step.diff {
        out.push_str("   --- in CodeArtifact\n   +++ planned\n");
        for line in diff.lines() {
            out.push_str(&format!("   {line}\n"));
        }
    }
    out
}

/// Carries the step out (after the IAM steps); returns what was done, for the log.
pub async fn apply(session: &Session, settings: &Settings, step: &Step) -> Result<String> {
    let Some(package) = &step.change else {
        return Ok("nothing to change: the package's origin controls are as the plan wants them".to_owned());
    };
    let want = Restrictions::PROTECTED;
    let stored = aws::origin::put_restrictions(session, settings, package, &want).await?;
    if stored != want {
        anyhow::bail!(
            "PutPackageOriginConfiguration of {package} stored {stored}, not {want}: run setup again; if it persists, \
             set them with `{}`",
            origin::protect_command(settings, package)
        );
    }
    Ok(format!("set the origin controls of {package} in {}/{}: {stored}", settings.domain, settings.repository))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::origin::Connections;

    fn settings() -> Settings {
        Settings {
            region: "us-east-1".into(),
            domain: "d".into(),
            domain_owner: "123456789012".into(),
            repository: "r".into(),
            role_arn: None,
            audience: "sts.amazonaws.com".into(),
            token_duration: 900,
            private_dependencies: false,
        }
    }

    fn state(restrictions: Option<Restrictions>, versions: &[(&str, Arrival)]) -> std::result::Result<State, String> {
        let versions = versions
            .iter()
            .map(|(v, a)| VersionOrigin {
                version: (*v).to_owned(),
                status: "Published".to_owned(),
                arrival: a.clone(),
            })
            .collect();
        let connections = Ok(Connections { upstreams: Vec::new(), external: vec!["public:pypi".to_owned()] });
        Ok(State { restrictions, versions, connections })
    }

    #[test]
    fn plans_create_update_up_to_date_and_refuses_foreign_versions() {
        let step = plan(&state(None, &[]), &settings(), "yamause");
        assert_eq!((step.status, step.change.as_deref()), (Status::Create, Some("yamause")));
        assert_eq!(step.diff.as_deref(), Some("+ publish: ALLOW\n+ upstream: BLOCK\n"));
        assert!(step.lines[0].contains("external connections: public:pypi"), "{:?}", step.lines);

        let ingested = Restrictions { publish: Restriction::Block, upstream: Restriction::Allow };
        let step = plan(&state(Some(ingested.clone()), &[("1.0", Arrival::Published)]), &settings(), "yamause");
        assert_eq!(step.status, Status::Update);
        assert_eq!(
            step.diff.as_deref(),
            Some("- publish: BLOCK\n- upstream: ALLOW\n+ publish: ALLOW\n+ upstream: BLOCK\n")
        );
        assert!(
            step.lines.iter().any(|it| it.starts_with("widens"))
                && step.lines.iter().any(|it| it.starts_with("narrows"))
        );

        let step = plan(&state(Some(Restrictions::PROTECTED), &[("1.0", Arrival::Published)]), &settings(), "yamause");
        assert_eq!((step.status, step.change.as_deref(), step.diff.as_deref()), (Status::UpToDate, None, None));

        let theirs = [("1.0", Arrival::Published), ("9.0", Arrival::External("public:pypi".into()))];
        let step = plan(&state(Some(ingested), &theirs), &settings(), "yamause");
        assert_eq!((step.status, step.change.as_deref()), (Status::Refused, None));
        let shown = render(&step, 5);
        assert!(
            shown.starts_with("5. Origin controls of the package yamause in d/r (CodeArtifact): refused\n"),
            "{shown}"
        );
        assert!(
            shown.contains("9.0 (from the external connection public:pypi)") && !shown.contains("1.0 ("),
            "{shown}"
        );
        assert!(shown.contains("--versions 9.0`") && shown.contains("put-package-origin-configuration"), "{shown}");

        let step = plan(&Err("denied".to_owned()), &settings(), "yamause");
        assert!(step.check_not_refused().unwrap_err().to_string().contains("denied"));
    }
}
