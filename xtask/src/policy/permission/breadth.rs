//! What the role may do beyond a release: publishing to other packages,
//! repositories or domains, Action wildcards that grant writes a release does not
//! need (`perm.too-broad`), and actions that no release role should have at all
//! (`perm.dangerous-action`).

use super::{PUBLISH, Purpose, analysis::Analysis};
use crate::{
    arn,
    policy::{
        Finding, Severity,
        document::{Effect, Names},
        eval::{Claim, Tri},
        glob::{self, Tok},
        quoted,
    },
};

/// The resource forms the dangerous-action probe asks about: any resource of the kind.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Domain,
    Repository,
    Package,
    Any,
}

/// `perm.dangerous-action`: actions a release role must not have, with the kind of
/// resource they take.
const DANGEROUS: [(&str, Kind); 19] = [
    ("codeartifact:PutPackageOriginConfiguration", Kind::Package),
    ("codeartifact:DeletePackageVersions", Kind::Package),
    ("codeartifact:DisposePackageVersions", Kind::Package),
    ("codeartifact:UpdatePackageVersionsStatus", Kind::Package),
    ("codeartifact:DeletePackage", Kind::Package),
    ("codeartifact:PutDomainPermissionsPolicy", Kind::Domain),
    ("codeartifact:DeleteDomain", Kind::Domain),
    ("codeartifact:PutRepositoryPermissionsPolicy", Kind::Repository),
    ("codeartifact:AssociateExternalConnection", Kind::Repository),
    ("codeartifact:UpdateRepository", Kind::Repository),
    ("codeartifact:DeleteRepository", Kind::Repository),
    ("iam:PassRole", Kind::Any),
    ("iam:CreateRole", Kind::Any),
    ("iam:AttachRolePolicy", Kind::Any),
    ("iam:PutRolePolicy", Kind::Any),
    ("iam:UpdateAssumeRolePolicy", Kind::Any),
    ("iam:CreateAccessKey", Kind::Any),
    ("iam:CreatePolicyVersion", Kind::Any),
    ("sts:AssumeRole", Kind::Any),
];

/// CodeArtifact actions that change something and that a release does not need
/// (`perm.too-broad`: what a wildcard in Action grants beyond the release's
/// needs). With `PublishPackageVersion` and `AssociateWithDownstreamRepository`
/// they are every CodeArtifact action of the Write and Permissions management
/// access levels of
/// https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscodeartifact.html,
/// which the read role must have none of (`read_role`).
pub(super) const WRITE_ACTIONS: [&str; 24] = [
    "codeartifact:AssociateExternalConnection",
    "codeartifact:CopyPackageVersions",
    "codeartifact:CreateDomain",
    "codeartifact:CreatePackageGroup",
    "codeartifact:CreateRepository",
    "codeartifact:DeleteDomain",
    "codeartifact:DeleteDomainPermissionsPolicy",
    "codeartifact:DeletePackage",
    "codeartifact:DeletePackageGroup",
    "codeartifact:DeletePackageVersions",
    "codeartifact:DeleteRepository",
    "codeartifact:DeleteRepositoryPermissionsPolicy",
    "codeartifact:DisassociateExternalConnection",
    "codeartifact:DisposePackageVersions",
    "codeartifact:PutDomainPermissionsPolicy",
    "codeartifact:PutPackageMetadata",
    "codeartifact:PutPackageOriginConfiguration",
    "codeartifact:PutRepositoryPermissionsPolicy",
    "codeartifact:TagResource",
    "codeartifact:UntagResource",
    "codeartifact:UpdatePackageGroup",
    "codeartifact:UpdatePackageGroupOriginConfiguration",
    "codeartifact:UpdatePackageVersionsStatus",
    "codeartifact:UpdateRepository",
];

impl Analysis<'_> {
    /// `perm.too-broad`: publishing must be limited to the package, and Action
    /// wildcards must not grant writes the release does not need.
    pub(super) fn check_too_broad(&self, out: &mut Vec<Finding>) {
        self.check_publish_scope(out);
        self.check_action_wildcards(out);
    }

    /// `perm.too-broad` for the resource: the role must not publish to other
    /// domains, repositories or packages. The broadest probe that gets through says
    /// it all.
    fn check_publish_scope(&self, out: &mut Vec<Finding>) {
        let t = self.target;
        let other = |name: &str, taken: &str| if name == taken { format!("{name}-2") } else { name.to_owned() };
        let other_domain = other("other-domain", &t.domain);
        let elsewhere = arn::Domain { domain: &other_domain, ..t.arn_domain() };
        let probes = [
            (Severity::High, elsewhere.pypi_package(&t.repository, &t.package), "packages in other domains"),
            (
                Severity::High,
                t.arn_domain().pypi_package(&other("other-repository", &t.repository), &t.package),
                "packages in other repositories",
            ),
            (
                Severity::Medium,
                t.arn_domain().pypi_package(&t.repository, &other("other-package", &t.package)),
                "every package in the repository",
            ),
        ];
        let Some((severity, probe, what, outcome)) = probes.into_iter().find_map(|(severity, probe, what)| {
            let outcome = self.ask(PUBLISH, &probe);
            (outcome.answer != Tri::No).then_some((severity, probe, what, outcome))
        }) else {
            return;
        };
        out.push(Finding::new(
            "perm.too-broad",
            severity,
            format!(
                "publish permission is broader than {}/{}: the role may publish {what} (such as {probe}) through {}, \
                 so a leaked release credential can overwrite other packages. Limit {PUBLISH} to \"Resource\": \
                 \"{}\"",
                t.repository,
                t.package,
                self.labels(&outcome.allowed_by),
                t.package_arn()
            ),
        ));
    }

    /// `perm.too-broad` for the action: `NotAction` with `Allow`, and wildcards that
    /// cover CodeArtifact writes a release does not need.
    fn check_action_wildcards(&self, out: &mut Vec<Finding>) {
        for (d, doc) in self.docs.iter().enumerate() {
            for (s, statement) in doc.statements.iter().enumerate().filter(|(_, it)| it.effect == Effect::Allow) {
                let label = self.label((d, s));
                match &statement.action {
                    Names::Except(list) => out.push(Finding::new(
                        "perm.too-broad",
                        Severity::High,
                        format!(
                            "{label} allows every action except [{}] (NotAction with Allow); list the release's \
                             actions instead",
                            quoted(list)
                        ),
                    )),
                    Names::Only(list) => {
                        for pattern in list.iter().filter(|it| glob::has_wildcard(it)) {
                            out.extend(unneeded_writes(&label, pattern));
                        }
                    }
                }
            }
        }
    }

    /// `perm.dangerous-action`.
    pub(super) fn check_dangerous(&self, out: &mut Vec<Finding>) {
        let partition = arn::partition(&self.target.region);
        let unknown = |_: &str| Claim::Unknown;
        let mut found = Vec::new();
        let mut by = Vec::new();
        // The read role's CodeArtifact writes are `perm.read-role-can-write`.
        let codeartifact_elsewhere = self.purpose == Purpose::Read;
        for (action, kind) in DANGEROUS {
            if codeartifact_elsewhere && action.starts_with("codeartifact:") {
                continue;
            }
            let shape = |kind: &str| {
                [
                    glob::literal(&format!("arn:{partition}:codeartifact:")),
                    vec![Tok::Star],
                    glob::literal(kind),
                    vec![Tok::Star],
                ]
                .concat()
            };
            let resource = match kind {
                Kind::Domain => shape(":domain/"),
                Kind::Repository => shape(":repository/"),
                Kind::Package => shape(":package/"),
                Kind::Any => vec![Tok::Star],
            };
            let outcome = self.ask_with(action, resource, &unknown, &[]);
            if outcome.answer != Tri::No {
                found.push(action);
                for at in outcome.allowed_by {
                    if !by.contains(&at) {
                        by.push(at);
                    }
                }
            }
        }
        if found.is_empty() {
            return;
        }
        let origin = if found.contains(&"codeartifact:PutPackageOriginConfiguration") {
            " PutPackageOriginConfiguration can flip origin controls and enable dependency substitution."
        } else {
            ""
        };
        let needed = match self.purpose {
            Purpose::Release => "to upload",
            Purpose::Read => "to download the build requirements",
        };
        out.push(Finding::new(
            "perm.dangerous-action",
            Severity::High,
            format!(
                "{} can {} (granted by {}); none of it is needed {needed}, so remove it.{origin}",
                self.purpose.role(),
                found.join(", "),
                self.labels(&by)
            ),
        ));
    }
}

/// The CodeArtifact writes that `pattern` grants beyond a release's needs, as a
/// finding; `None` when it grants none.
fn unneeded_writes(label: &str, pattern: &str) -> Option<Finding> {
    let extra: Vec<&str> = WRITE_ACTIONS.iter().copied().filter(|it| glob::action_matches(pattern, it)).collect();
    (!extra.is_empty()).then(|| {
        Finding::new(
            "perm.too-broad",
            Severity::High,
            format!(
                "{label} allows {pattern:?}, which grants {} CodeArtifact actions a release does not need (such as \
                 {}); list the actions of the least-privilege policy instead (`cargo xtask iam-policy`)",
                extra.len(),
                extra.iter().take(3).copied().collect::<Vec<_>>().join(", ")
            ),
        )
    })
}
