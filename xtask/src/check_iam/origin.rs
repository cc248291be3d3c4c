//! The live origin checks of `check-iam`: the repository's upstreams and external
//! connections (`DescribeRepository`), the
//! package's two origin controls (`DescribePackage`; `publish: BLOCK` refuses every
//! upload, `perm.origin-blocked`) and where each of its versions came from
//! (`ListPackageVersions`), judged by `crate::origin` (`origin.*`).

use crate::{
    aws::{
        self,
        origin::{Read, Restriction},
    },
    origin::{self, Facts},
    policy::{self, Finding, Severity},
    settings::Settings,
};

/// Reads and judges the package's origin; returns its publish setting when it
/// could be read, for the role's analysis.
pub async fn checks(
    session: &aws::Session,
    settings: &Settings,
    name: &str,
    findings: &mut Vec<Finding>,
) -> Option<policy::OriginPublish> {
    // A denial or failure of DescribeRepository is `codeartifact.describe-repository`'s
    // to report; the origin findings then take the connections as unknown.
    let connections = match aws::origin::connections(session, settings).await {
        Ok(Read::Got(connections)) => Some(Read::Got(connections)),
        Ok(Read::Denied(_)) | Err(_) => None,
    };
    let restrictions = match aws::origin::describe_package(session, settings, name).await {
        Ok(it) => it,
        Err(err) => {
            findings.push(Finding::new(
                "perm.origin-blocked",
                Severity::Info,
                format!("could not read the package's origin controls: {err:#}"),
            ));
            return None;
        }
    };
    let publish = publish_finding(&restrictions, settings, name, findings);
    let versions = match &restrictions {
        // Versions exist only where the package does.
        Read::Got(None) => Some(Read::Got(None)),
        _ => match aws::origin::list_versions(session, settings, name).await {
            Ok(it) => Some(it),
            Err(err) => {
                findings.push(Finding::new(
                    "origin.unreadable",
                    Severity::Info,
                    format!("where the versions of {name} came from was not read: {err:#}"),
                ));
                None
            }
        },
    };
    let facts = Facts { package: name.to_owned(), restrictions, versions, connections };
    findings.extend(origin::findings(&facts, settings));
    publish
}

/// `perm.origin-blocked`: `publish: BLOCK` refuses every upload.
fn publish_finding(
    restrictions: &Read<Option<aws::origin::Restrictions>>,
    settings: &Settings,
    name: &str,
    findings: &mut Vec<Finding>,
) -> Option<policy::OriginPublish> {
    match restrictions {
        Read::Got(Some(it)) if it.publish == Restriction::Block => {
            findings.push(Finding::new(
                "perm.origin-blocked",
                Severity::Error,
                format!(
                    "package origin controls of {name} say `publish: BLOCK` (its first version came from an upstream \
                     or external connection): every upload will be refused. If {name} is yours, an administrator can \
                     allow direct publishing: `{}`",
                    origin::protect_command(settings, name)
                ),
            ));
            Some(policy::OriginPublish::Block)
        }
        Read::Got(Some(_)) => {
            findings.push(Finding::new(
                "perm.origin-blocked.ok",
                Severity::Info,
                format!("{name} allows direct publishing"),
            ));
            Some(policy::OriginPublish::Allow)
        }
        Read::Got(None) => {
            findings.push(Finding::new(
                "perm.origin-blocked.ok",
                Severity::Info,
                format!("{name} is not in the repository yet; its first publish creates it with publish: ALLOW"),
            ));
            Some(policy::OriginPublish::NoPackage)
        }
        // `origin.unreadable` says what to allow.
        Read::Denied(_) => None,
    }
}
