//! Permission-policy analysis, reported as the `perm.*` findings of docs/checks.md:
//! questions to an IAM evaluator ("may the role call X on resource R?") over all
//! the role's permission documents together (attached and inline): allowed when a
//! statement allows it and none denies it.
//!
//! The ARNs asked about are the ones CodeArtifact authorises: the domain, the
//! repository, and the package in the empty-namespace PyPI form
//! `package/DOMAIN/REPO/pypi//NAME` with the normalized name. `perm.cross-account`
//! (cross-account resource policies) needs the role's account and
//! `perm.origin-blocked` (origin controls) the package's origin setting;
//! `PermissionFacts` carries them, and a missing fact gives an `info` finding saying
//! what to check by hand. The analysis neither reads the domain and repository
//! policies that `perm.cross-account` depends on nor runs a live simulation
//! (`perm.simulation`): those findings say how to do it by hand.
//!
//! `analyse_permissions_as` reads the documents and, for the release role
//! (`Purpose::Release`), runs the checks in the order of this module's parts:
//! `target` (what it is told), `analysis` (the questions every check asks), then the
//! checks: `tokens` (the calls before the upload: `perm.get-authorization-token`,
//! `perm.service-bearer-token`, `perm.bearer-token-condition`, `perm.token-duration`,
//! `perm.get-repository-endpoint`), `publish` (`perm.publish`,
//! `perm.publish-resource`), `breadth` (`perm.too-broad`, `perm.dangerous-action`),
//! `reads` (`perm.read-from-repository`, `perm.safe-rerun`) and `outside_policies`
//! (`perm.cross-account`, `perm.origin-blocked`, `perm.simulation`).
//!
//! For the build-deps job's read role (`Purpose::Read`) it asks the token calls
//! (`tokens`), `ReadFromRepository` on the repository and that the role can write
//! nothing (`read_role`: `perm.read-from-repository`, `perm.read-role-can-write`),
//! then `perm.dangerous-action`, `perm.cross-account` and `perm.simulation`: that
//! job runs in an environment without reviewers, so a read role that could publish
//! would let anyone who can push a `v*` tag publish.

mod analysis;
mod breadth;
mod outside_policies;
mod publish;
mod read_role;
mod reads;
mod target;
mod tokens;

pub(super) use read_role::READ_SID;
pub use target::{NamedPolicy, OriginPublish, PermissionFacts, PublishTarget};

use self::analysis::Analysis;
use super::{Finding, Severity, document::Document, document_findings, finish};

const GET_AUTHORIZATION_TOKEN: &str = "codeartifact:GetAuthorizationToken";
const BEARER_TOKEN: &str = "sts:GetServiceBearerToken";
const GET_REPOSITORY_ENDPOINT: &str = "codeartifact:GetRepositoryEndpoint";
const PUBLISH: &str = "codeartifact:PublishPackageVersion";
const LIST_ASSETS: &str = "codeartifact:ListPackageVersionAssets";
const DESCRIBE_VERSION: &str = "codeartifact:DescribePackageVersion";
const READ: &str = "codeartifact:ReadFromRepository";
const SERVICE: &str = "codeartifact.amazonaws.com";

/// PEP 503 normalization, which CodeArtifact applies to PyPI names in ARNs:
/// lower case, and every run of `-`, `_` and `.` becomes one `-`.
pub fn normalize_package_name(name: &str) -> String {
    crate::project::normalize_name(name)
}

/// Which role the documents are for: what it must be able to do, and what it
/// must not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// The release role of the publish job: the token, the endpoint, publishing
    /// the package and the safe re-run reads; nothing broader.
    Release,
    /// The read role of the build-deps job: the token, the endpoint and
    /// `ReadFromRepository` on the repository; no write of any kind.
    Read,
}

impl Purpose {
    /// The role, as messages name it.
    pub fn role(self) -> &'static str {
        match self {
            Purpose::Release => "the release role",
            Purpose::Read => "the read role of the build-deps job",
        }
    }
}

/// Runs every permission check of the release role over its documents.
#[cfg(test)]
pub fn analyse_permissions(policies: &[NamedPolicy], target: &PublishTarget, facts: &PermissionFacts) -> Vec<Finding> {
    analyse_permissions_as(Purpose::Release, policies, target, facts)
}

/// Runs the permission checks of `purpose` over the role's documents (plain or
/// percent-encoded JSON each).
pub fn analyse_permissions_as(
    purpose: Purpose,
    policies: &[NamedPolicy],
    target: &PublishTarget,
    facts: &PermissionFacts,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let (names, docs) = read_documents(policies, &mut out);
    let analysis = Analysis { names, docs, target, facts, purpose };
    analysis.check_authorization_token(&mut out);
    analysis.check_bearer_token(&mut out);
    analysis.check_repository_endpoint(&mut out);
    match purpose {
        Purpose::Release => {
            analysis.check_publish(&mut out);
            analysis.check_too_broad(&mut out);
            analysis.check_dangerous(&mut out);
            analysis.check_read(&mut out);
            analysis.check_safe_rerun(&mut out);
            analysis.check_cross_account(&mut out);
            analysis.check_origin(&mut out);
        }
        Purpose::Read => {
            analysis.check_read_required(&mut out);
            analysis.check_writes(&mut out);
            analysis.check_dangerous(&mut out);
            analysis.check_cross_account(&mut out);
        }
    }
    analysis.check_simulation(&mut out);
    if !out.iter().any(|it| it.severity > Severity::Info) {
        out.push(permissions_ok(purpose, target));
    }
    finish(out)
}

/// Parses the documents that are permission policies, with their names; the others,
/// and statements IAM would refuse, become findings.
fn read_documents(policies: &[NamedPolicy], out: &mut Vec<Finding>) -> (Vec<String>, Vec<Document>) {
    let mut names = Vec::new();
    let mut docs = Vec::new();
    for policy in policies {
        let what = format!("permission policy {:?}", policy.name);
        let doc = match Document::parse(&policy.text) {
            Ok(doc) => doc,
            Err(err) => {
                out.push(Finding::new("policy.malformed", Severity::Error, format!("{what}: {err}")));
                continue;
            }
        };
        document_findings(&doc, &what, "perm.duplicate-key", out);
        if doc.statements.iter().any(|it| it.principal.is_some()) {
            out.push(Finding::new(
                "perm.not-a-permission-policy",
                Severity::Error,
                format!(
                    "{what} has a Principal, so it is a trust or resource policy, not a permission policy of the \
                     role; pass the role's attached and inline policies (`aws iam list-attached-role-policies`, \
                     `aws iam list-role-policies`)"
                ),
            ));
            continue;
        }
        for statement in doc.statements.iter().filter(|it| it.resource.is_none()) {
            out.push(Finding::new(
                "policy.malformed",
                Severity::Error,
                format!(
                    "{what}, {}: an identity policy statement needs \"Resource\"; IAM refuses it",
                    statement.label()
                ),
            ));
        }
        names.push(policy.name.clone());
        docs.push(doc);
    }
    (names, docs)
}

/// The passing finding: every call the role makes, on its ARN.
fn permissions_ok(purpose: Purpose, target: &PublishTarget) -> Finding {
    let message = match purpose {
        Purpose::Release => format!(
            "the permission policies allow every call of a release ({GET_AUTHORIZATION_TOKEN} on {}, {BEARER_TOKEN} \
             for {SERVICE}, {GET_REPOSITORY_ENDPOINT} on {}, {PUBLISH}, {LIST_ASSETS} and {DESCRIBE_VERSION} on {}) \
             and nothing this check counts as too broad or dangerous",
            target.domain_arn(),
            target.repository_arn(),
            target.package_arn()
        ),
        Purpose::Read => format!(
            "the permission policies allow every call of the build-deps job ({GET_AUTHORIZATION_TOKEN} on {}, \
             {BEARER_TOKEN} for {SERVICE}, {GET_REPOSITORY_ENDPOINT} and {READ} on {}) and no CodeArtifact write \
             or other dangerous action",
            target.domain_arn(),
            target.repository_arn()
        ),
    };
    Finding::new("perm.ok", Severity::Info, message)
}

/// A statement to paste into the permission policy.
fn snippet(sid: &str, actions: &[&str], resource: &str, condition: Option<&str>) -> String {
    let actions = if actions.len() == 1 {
        format!("{:?}", actions[0])
    } else {
        format!("[{}]", actions.iter().map(|it| format!("{it:?}")).collect::<Vec<_>>().join(", "))
    };
    let condition = condition.map(|it| format!(", \"Condition\": {it}")).unwrap_or_default();
    format!(
        "{{\"Sid\": \"{sid}\", \"Effect\": \"Allow\", \"Action\": {actions}, \"Resource\": \"{resource}\"{condition}}}"
    )
}

const BEARER_CONDITION: &str = "{\"StringEquals\": {\"sts:AWSServiceName\": \"codeartifact.amazonaws.com\"}}";
