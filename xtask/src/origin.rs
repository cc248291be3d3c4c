//! What the package's origin in CodeArtifact means for the release and its
//! consumers: the findings `check-iam` reports and the release warns with, and the
//! words `setup` and the release share.
//!
//! CodeArtifact gives a package the origin controls of its first version's arrival:
//! published directly → publish ALLOW, upstream BLOCK; ingested from an upstream
//! repository or an external connection (`public:pypi`) → publish BLOCK, upstream
//! ALLOW (AWS CodeArtifact User Guide, "Editing package origin controls",
//! https://docs.aws.amazon.com/codeartifact/latest/ug/package-origin-controls.html).
//! So before the first release, anyone who installs a public package of the same
//! name through a repository with a PyPI connection makes CodeArtifact ingest it:
//! consumers get that package, and the release is refused. With upstream ALLOW on a
//! package of ours, a higher version published to PyPI by anyone reaches every
//! consumer of the repository: the dependency substitution the User Guide's
//! "Dependency substitution attacks"
//! (https://docs.aws.amazon.com/codeartifact/latest/ug/dependency-substitution-attacks.html)
//! describes, and protects against with publish ALLOW, upstream BLOCK.
//!
//! Finding ids:
//! - `origin.upstream-allowed`: upstream ALLOW on our package; an error when
//!   versions from outside the repository are there, else medium;
//! - `origin.foreign-versions`: versions that were not published to the repository
//!   (an upstream repository, an external connection; of unknown origin: medium);
//! - `origin.unprotected`: no package yet while the repository has upstreams or
//!   external connections (medium; low when they could not be read; info when it
//!   has none);
//! - `origin.ok`, `origin.unreadable` (info); `codeartifact.connections` (info):
//!   the repository's upstreams and external connections.

use crate::{
    aws::origin::{Arrival, Connections, Read, Restriction, Restrictions, VersionOrigin},
    finding::{Finding, Severity},
    settings::Settings,
};

/// What was read about the package.
#[derive(Debug, Clone)]
pub struct Facts {
    /// The normalized name.
    pub package: String,
    /// `Got(None)`: the repository has no such package.
    pub restrictions: Read<Option<Restrictions>>,
    /// `None`: not asked (a release looks at the restrictions only).
    pub versions: Option<Read<Option<Vec<VersionOrigin>>>>,
    /// `None`: not asked.
    pub connections: Option<Read<Connections>>,
}

/// The versions that were not published to this repository.
pub fn foreign(versions: &[VersionOrigin]) -> Vec<&VersionOrigin> {
    versions.iter().filter(|it| !it.arrival.is_published()).collect()
}

/// The versions, each with where it came from: `9.0 (from the external connection public:pypi)`.
pub fn list(versions: &[&VersionOrigin]) -> String {
    versions.iter().map(|it| format!("{} ({})", it.version, it.arrival)).collect::<Vec<_>>().join(", ")
}

/// The AWS CLI command that protects the package, as an administrator would run it.
pub fn protect_command(settings: &Settings, package: &str) -> String {
    format!(
        "aws codeartifact put-package-origin-configuration --domain {} --domain-owner {} --repository {} --region {} \
         --format pypi --package {package} --restrictions publish=ALLOW,upstream=BLOCK",
        settings.domain, settings.domain_owner, settings.repository, settings.region
    )
}

/// Why the repository refuses new versions of `package`, and what to do.
pub fn publish_blocked(settings: &Settings, package: &str) -> String {
    format!(
        "the repository refuses new versions of {package}: its origin controls block direct publishing (`publish: \
         BLOCK`, the default when the package's first version came from an upstream such as PyPI, so {package} there \
         may be someone else's; `cargo xtask check-iam` lists where its versions came from). If {package} is yours, \
         allow publishing: `{}`",
        protect_command(settings, package)
    )
}

/// The findings about the package's origin: what `check-iam` reports, and (from
/// the restrictions alone) what the release warns with.
pub fn findings(facts: &Facts, settings: &Settings) -> Vec<Finding> {
    let mut out = Vec::new();
    let name = &facts.package;
    let fix = format!("`cargo xtask setup --apply`, or `{}`", protect_command(settings, name));
    let connections = match &facts.connections {
        Some(Read::Got(it)) => {
            out.push(Finding::new(
                "codeartifact.connections",
                Severity::Info,
                format!("{}/{}: {it}", settings.domain, settings.repository),
            ));
            Some(it)
        }
        Some(Read::Denied(why)) => {
            out.push(Finding::new(
                "origin.unreadable",
                Severity::Info,
                format!("the repository's upstreams and external connections were not read: {why}"),
            ));
            None
        }
        None => None,
    };
    let versions = match &facts.versions {
        Some(Read::Got(Some(it))) => Some(it.as_slice()),
        Some(Read::Got(None)) => Some(&[][..]),
        Some(Read::Denied(why)) => {
            out.push(Finding::new(
                "origin.unreadable",
                Severity::Info,
                format!("where the versions of {name} came from was not read: {why}"),
            ));
            None
        }
        None => None,
    };
    let foreign = versions.map(foreign).unwrap_or_default();
    let restrictions = match &facts.restrictions {
        Read::Got(it) => it.as_ref(),
        Read::Denied(why) => {
            out.push(Finding::new(
                "origin.unreadable",
                Severity::Info,
                format!("the origin controls of {name} were not read: {why}"),
            ));
            return with_foreign(out, name, &foreign, settings);
        }
    };
    let Some(restrictions) = restrictions else {
        out.push(unprotected(name, connections.map(|it| !it.is_empty()), &fix));
        return out;
    };
    if restrictions.upstream != Restriction::Block {
        out.push(upstream_allowed(name, restrictions, (versions, &foreign), connections, &fix));
    }
    let out = with_foreign(out, name, &foreign, settings);
    if restrictions == &Restrictions::PROTECTED && foreign.is_empty() {
        let mut out = out;
        let all = versions
            .map(|it| format!("; its {} version(s) were all published to the repository", it.len()))
            .unwrap_or_default();
        out.push(Finding::new("origin.ok", Severity::Info, format!("{name}: {restrictions}{all}")));
        return out;
    }
    out
}

/// `origin.upstream-allowed`: an error when versions from outside are there (not
/// counting those of unknown origin), else medium.
fn upstream_allowed(
    name: &str,
    restrictions: &Restrictions,
    (versions, foreign): (Option<&[VersionOrigin]>, &[&VersionOrigin]),
    connections: Option<&Connections>,
    fix: &str,
) -> Finding {
    let severity =
        if foreign.iter().any(|it| it.arrival != Arrival::Unknown) { Severity::Error } else { Severity::Medium };
    let through = connections.map(|it| format!(" (this repository's {it})")).unwrap_or_default();
    let known = match versions {
        None => " `cargo xtask check-iam` lists where its versions came from.".to_owned(),
        Some(all) if foreign.is_empty() => {
            format!(" All {} version(s) so far were published to the repository.", all.len())
        }
        Some(_) => format!(" Versions from outside are already there: {}.", list(foreign)),
    };
    Finding::new(
        "origin.upstream-allowed",
        severity,
        format!(
            "the origin controls of {name} say `upstream: {}`: CodeArtifact takes versions of {name} from the \
             repository's upstreams and external connections{through}, so a package of that name that anyone \
             publishes to PyPI reaches whoever installs {name} through it (dependency substitution).{known} Block \
             it: {fix}",
            restrictions.upstream
        ),
    )
}

/// Adds `origin.foreign-versions` when versions came from outside the repository.
fn with_foreign(mut out: Vec<Finding>, name: &str, foreign: &[&VersionOrigin], settings: &Settings) -> Vec<Finding> {
    if foreign.is_empty() {
        return out;
    }
    let known = foreign.iter().any(|it| it.arrival != Arrival::Unknown);
    let versions: Vec<&str> = foreign.iter().map(|it| it.version.as_str()).collect();
    let text = if known {
        format!(
            "versions of {name} in the repository were not published to it: {}. A dependency substitution may \
             already have happened: whoever installed them got a package of this name from outside. Check who \
             published them (the public index's project page, your own release logs); if they are not yours, \
             remove them (`aws codeartifact delete-package-versions --domain {} --domain-owner {} --repository {} \
             --format pypi --package {name} --versions {}`) and tell whoever installed them; then protect the \
             package (`cargo xtask setup --apply`)",
            list(foreign),
            settings.domain,
            settings.domain_owner,
            settings.repository,
            versions.join(" ")
        )
    } else {
        format!(
            "CodeArtifact does not know where these versions of {name} came from: {} (versions published before \
             it recorded origins are UNKNOWN). Check that they are yours",
            list(foreign)
        )
    };
    out.push(Finding::new("origin.foreign-versions", if known { Severity::Error } else { Severity::Medium }, text));
    out
}

/// `origin.unprotected`: no package yet; `has_connections` says whether the
/// repository has upstreams or external connections (`None`: not known).
fn unprotected(name: &str, has_connections: Option<bool>, fix: &str) -> Finding {
    match has_connections {
        Some(false) => Finding::new(
            "origin.unprotected",
            Severity::Info,
            format!(
                "{name} is not in the repository yet, and the repository has no upstreams or external connections: \
                 the first release creates it with publish: ALLOW, upstream: BLOCK. Setting them now keeps a \
                 connection added later from ingesting it first: {fix}"
            ),
        ),
        has => Finding::new(
            "origin.unprotected",
            if has == Some(true) { Severity::Medium } else { Severity::Low },
            format!(
                "{name} is not in the repository yet{}: until its origin controls are set, anyone who installs \
                 {name} through the repository makes CodeArtifact ingest whatever the public index has under that \
                 name, which consumers then get and which blocks the release (publish: BLOCK). Set them before the \
                 first release: {fix}",
                if has == Some(true) {
                    ", and the repository takes packages from upstreams or external connections"
                } else {
                    ""
                }
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            region: "eu-central-1".into(),
            domain: "my-company".into(),
            domain_owner: "123456789012".into(),
            repository: "python-packages".into(),
            role_arn: None,
            audience: "sts.amazonaws.com".into(),
            token_duration: 900,
            private_dependencies: false,
        }
    }

    fn version(version: &str, arrival: Arrival) -> VersionOrigin {
        VersionOrigin { version: version.to_owned(), status: "Published".to_owned(), arrival }
    }

    fn facts(restrictions: Option<Restrictions>, versions: Vec<VersionOrigin>, connections: Connections) -> Facts {
        Facts {
            package: "yamause".to_owned(),
            restrictions: Read::Got(restrictions),
            versions: Some(Read::Got(Some(versions))),
            connections: Some(Read::Got(connections)),
        }
    }

    fn ids(findings: &[Finding]) -> Vec<(&str, Severity)> {
        findings.iter().map(|it| (it.id, it.severity)).filter(|(id, _)| *id != "codeartifact.connections").collect()
    }

    const ALLOWED: Restrictions = Restrictions { publish: Restriction::Allow, upstream: Restriction::Allow };
    const INGESTED: Restrictions = Restrictions { publish: Restriction::Block, upstream: Restriction::Allow };

    #[test]
    fn the_severity_follows_what_came_from_outside() {
        let pypi = Connections { upstreams: Vec::new(), external: vec!["public:pypi".to_owned()] };
        let ours = vec![version("1.0", Arrival::Published)];
        let found = findings(&facts(Some(Restrictions::PROTECTED), ours.clone(), pypi.clone()), &settings());
        assert_eq!(ids(&found), [("origin.ok", Severity::Info)]);

        let found = findings(&facts(Some(ALLOWED), ours.clone(), pypi.clone()), &settings());
        assert_eq!(ids(&found), [("origin.upstream-allowed", Severity::Medium)]);
        assert!(
            found[1].message.contains("put-package-origin-configuration") && found[1].message.contains("public:pypi")
        );

        let mut theirs = ours.clone();
        theirs.push(version("9.0", Arrival::External("public:pypi".to_owned())));
        let found = findings(&facts(Some(INGESTED), theirs.clone(), pypi.clone()), &settings());
        assert_eq!(
            ids(&found),
            [("origin.upstream-allowed", Severity::Error), ("origin.foreign-versions", Severity::Error)]
        );
        assert!(found[2].message.contains("9.0 (from the external connection public:pypi)"), "{}", found[2].message);
        assert!(
            found[2].message.contains("--versions 9.0") && !found[2].message.contains("1.0 ("),
            "{}",
            found[2].message
        );

        // Blocked upstream, but they are already there: still an error.
        let found = findings(&facts(Some(Restrictions::PROTECTED), theirs, pypi.clone()), &settings());
        assert_eq!(ids(&found), [("origin.foreign-versions", Severity::Error)]);
        let unknown = vec![version("0.1", Arrival::Unknown)];
        let found = findings(&facts(Some(Restrictions::PROTECTED), unknown, pypi.clone()), &settings());
        assert_eq!(ids(&found), [("origin.foreign-versions", Severity::Medium)]);
        let upstream = vec![version("2.0", Arrival::Upstream("team-repo".to_owned()))];
        let found = findings(&facts(Some(ALLOWED), upstream, Connections::default()), &settings());
        assert_eq!(
            ids(&found),
            [("origin.upstream-allowed", Severity::Error), ("origin.foreign-versions", Severity::Error)]
        );
    }

    #[test]
    fn a_missing_package_is_a_risk_only_with_connections() {
        let pypi = Connections { upstreams: Vec::new(), external: vec!["public:pypi".to_owned()] };
        assert_eq!(
            ids(&findings(&facts(None, Vec::new(), pypi), &settings())),
            [("origin.unprotected", Severity::Medium)]
        );
        assert_eq!(
            ids(&findings(&facts(None, Vec::new(), Connections::default()), &settings())),
            [("origin.unprotected", Severity::Info)]
        );
        let release =
            Facts { package: "yamause".to_owned(), restrictions: Read::Got(None), versions: None, connections: None };
        assert_eq!(ids(&findings(&release, &settings())), [("origin.unprotected", Severity::Low)]);
        let denied = Facts { restrictions: Read::Denied("no".to_owned()), ..release.clone() };
        assert_eq!(ids(&findings(&denied, &settings())), [("origin.unreadable", Severity::Info)]);
        // The release's look: restrictions only, upstream allowed: a warning that
        // points at check-iam for the versions.
        let look = Facts { restrictions: Read::Got(Some(ALLOWED)), ..release };
        let found = findings(&look, &settings());
        assert_eq!(ids(&found), [("origin.upstream-allowed", Severity::Medium)]);
        assert!(found[0].message.contains("cargo xtask check-iam"), "{}", found[0].message);
    }
}
