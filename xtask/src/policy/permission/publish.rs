//! The upload itself: `PublishPackageVersion` on the package ARN exactly as
//! CodeArtifact authorises it (`perm.publish`), and, when the grant names another
//! ARN, what is wrong with it (`perm.publish-resource`: the `//` of PyPI's empty
//! namespace, a name that is not normalized, …).

use super::{PUBLISH, analysis::Analysis, normalize_package_name, snippet};
use crate::policy::{Finding, Severity, eval::Tri, glob, quoted};

impl Analysis<'_> {
    /// `perm.publish` and `perm.publish-resource`.
    pub(super) fn check_publish(&self, out: &mut Vec<Finding>) {
        let arn = self.target.package_arn();
        let outcome = self.ask(PUBLISH, &arn);
        let fix = snippet("Publish", &[PUBLISH], &arn, None);
        match outcome.answer {
            Tri::Yes => {}
            Tri::Maybe => out.push(self.unconfirmed("perm.publish", PUBLISH, &arn, &outcome)),
            Tri::No => {
                let granted = self.granted_on(PUBLISH);
                if granted.is_empty() {
                    out.push(Finding::new(
                        "perm.publish",
                        Severity::Error,
                        format!("the role may not call {PUBLISH} at all, so the upload is refused (403); add {fix}"),
                    ));
                } else if !outcome.denied_by.is_empty() || granted.iter().any(|it| glob::glob_match(it, &arn)) {
                    out.push(Finding::new(
                        "perm.publish",
                        Severity::Error,
                        format!(
                            "the role may not call {PUBLISH} on {arn}: {}{}; the upload is refused (403). Remove \
                             the denial or the condition, so that {fix} applies",
                            self.why_refused(PUBLISH, &outcome),
                            self.bearer_condition_blocks(PUBLISH, &arn)
                        ),
                    ));
                } else {
                    let notes: Vec<String> = granted.iter().map(|it| self.diagnose_package_arn(it)).collect();
                    out.push(Finding::new(
                        "perm.publish-resource",
                        Severity::Error,
                        format!(
                            "{PUBLISH} is granted on [{}] but CodeArtifact authorises {arn} ({}). Use \"Resource\": \
                             \"{arn}\"",
                            quoted(&granted),
                            notes.join("; ")
                        ),
                    ));
                }
            }
        }
    }

    /// What is wrong with `resource` as the ARN of the package, as a clause.
    fn diagnose_package_arn(&self, resource: &str) -> String {
        let t = self.target;
        // A grant is a pattern, not an ARN (its partition or region may be `*`), so it
        // is split at `:package/` rather than parsed by `arn::parse`.
        let Some((prefix, rest)) = resource.split_once(":package/") else {
            if resource.contains(":repository/") || resource.contains(":domain/") {
                return format!(
                    "{resource:?} is a domain or repository ARN, but publishing is authorised on the package ARN"
                );
            }
            return format!("{resource:?} is not a CodeArtifact package ARN");
        };
        let mut notes = Vec::new();
        if prefix != t.prefix() && !glob::has_wildcard(prefix) {
            notes.push(format!("region and account must be {}", t.prefix().trim_start_matches("arn:")));
        }
        let segments: Vec<&str> = rest.split('/').collect();
        let (domain, repository) = (segments.first().copied(), segments.get(1).copied());
        if domain.is_some_and(|it| it != t.domain && !glob::has_wildcard(it)) {
            notes.push(format!("domain {:?} is not {:?}", domain.unwrap_or_default(), t.domain));
        }
        if repository.is_some_and(|it| it != t.repository && !glob::has_wildcard(it)) {
            notes.push(format!("repository {:?} is not {:?}", repository.unwrap_or_default(), t.repository));
        }
        if let Some(format) = segments.get(2).filter(|it| **it != "pypi" && !glob::has_wildcard(it)) {
            notes.push(format!("format segment {format:?} is not \"pypi\""));
        }
        if segments.len() == 4 {
            notes.push(
                "the namespace segment is missing: PyPI packages have an empty namespace, hence \"//\" \
                 (pypi//NAME)"
                    .to_owned(),
            );
        }
        if segments.len() >= 4 {
            let name = segments[segments.len() - 1];
            if name != t.package && normalize_package_name(name) == t.package {
                notes.push(format!("name {name:?} is not normalized: CodeArtifact uses {:?} in ARNs", t.package));
            } else if name != t.package && !glob::has_wildcard(name) {
                notes.push(format!("package {name:?} is not {:?}", t.package));
            }
        }
        if notes.is_empty() {
            notes.push(format!("{resource:?} does not match it"));
        }
        format!("{resource:?}: {}", notes.join(", "))
    }
}
