//! Permission-policy analysis: the checks P1–P12 of the shared reference, as
//! questions to an IAM evaluator ("may the role call X on resource R?") over all
//! the role's permission documents together (attached and inline): allowed when a
//! statement allows it and none denies it.
//!
//! The ARNs asked about are the ones CodeArtifact authorises: the domain, the
//! repository, and the package in the empty-namespace PyPI form
//! `package/DOMAIN/REPO/pypi//NAME` with the normalized name. P10 (cross-account
//! resource policies) needs the role's account and P11 (origin controls) the
//! package's origin setting; `PermissionFacts` carries them, and a missing fact
//! gives an `info` finding saying what to check by hand. The domain and repository
//! policies that P10 depends on are not read, nor is P12 (a live simulation) run:
//! both findings say how to check by hand.

use super::{
    Finding, Severity,
    document::{Document, Effect, Names},
    document_findings,
    eval::{self, Claim, Outcome, Request, Tri},
    finish,
    glob::{self, Tok},
};
use crate::settings::Settings;

const GET_AUTHORIZATION_TOKEN: &str = "codeartifact:GetAuthorizationToken";
const BEARER_TOKEN: &str = "sts:GetServiceBearerToken";
const GET_REPOSITORY_ENDPOINT: &str = "codeartifact:GetRepositoryEndpoint";
const PUBLISH: &str = "codeartifact:PublishPackageVersion";
const LIST_ASSETS: &str = "codeartifact:ListPackageVersionAssets";
const DESCRIBE_VERSION: &str = "codeartifact:DescribePackageVersion";
const READ: &str = "codeartifact:ReadFromRepository";
const SERVICE: &str = "codeartifact.amazonaws.com";

/// Where the release publishes, and the token lifetime it asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishTarget {
    pub region: String,
    pub domain: String,
    pub domain_owner: String,
    pub repository: String,
    /// The normalized package name (`yamause`).
    pub package: String,
    /// `durationSeconds` of GetAuthorizationToken (0 = the role session's lifetime).
    pub token_duration: i64,
    /// The build installs its requirements from the repository
    /// (`private-dependencies`): the role then needs ReadFromRepository on it.
    pub private_dependencies: bool,
}

impl PublishTarget {
    /// A target with the package name normalized and the default 900 s token.
    pub fn new(region: &str, domain: &str, domain_owner: &str, repository: &str, package: &str) -> PublishTarget {
        PublishTarget {
            region: region.to_owned(),
            domain: domain.to_owned(),
            domain_owner: domain_owner.to_owned(),
            repository: repository.to_owned(),
            package: normalize_package_name(package),
            token_duration: 900,
            private_dependencies: false,
        }
    }

    pub fn from_settings(settings: &Settings, package: &str) -> PublishTarget {
        PublishTarget {
            token_duration: settings.token_duration,
            private_dependencies: settings.private_dependencies,
            ..PublishTarget::new(
                &settings.region,
                &settings.domain,
                &settings.domain_owner,
                &settings.repository,
                package,
            )
        }
    }

    fn arn_domain(&self) -> crate::arn::Domain<'_> {
        crate::arn::Domain { region: &self.region, owner: &self.domain_owner, domain: &self.domain }
    }

    fn prefix(&self) -> String {
        self.arn_domain().prefix()
    }

    pub fn domain_arn(&self) -> String {
        self.arn_domain().domain()
    }

    pub fn repository_arn(&self) -> String {
        self.arn_domain().repository(&self.repository)
    }

    pub fn package_arn(&self) -> String {
        self.arn_domain().pypi_package(&self.repository, &self.package)
    }
}

/// A permission document of the role and its name (for messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedPolicy {
    pub name: String,
    pub text: String,
}

impl NamedPolicy {
    pub fn new(name: &str, text: &str) -> NamedPolicy {
        NamedPolicy { name: name.to_owned(), text: text.to_owned() }
    }
}

/// Facts from the AWS APIs; each one the caller could not get is `None`.
#[derive(Debug, Clone, Default)]
pub struct PermissionFacts {
    /// The release role (its account decides whether the domain is cross-account).
    pub role_arn: Option<String>,
    /// `originConfiguration.restrictions.publish` of the package (P11).
    pub origin: Option<OriginPublish>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OriginPublish {
    Allow,
    Block,
    /// The package does not exist in the repository yet (the first publish sets
    /// `publish: ALLOW`).
    NoPackage,
}

/// PEP 503 normalization, which CodeArtifact applies to PyPI names in ARNs:
/// lower case, and every run of `-`, `_` and `.` becomes one `-`.
pub fn normalize_package_name(name: &str) -> String {
    crate::project::normalize_name(name)
}

/// Runs every permission check over the role's documents (plain or
/// percent-encoded JSON each).
pub fn analyse_permissions(policies: &[NamedPolicy], target: &PublishTarget, facts: &PermissionFacts) -> Vec<Finding> {
    let mut out = Vec::new();
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
        document_findings(&doc, &what, &mut out);
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
    let analysis = Analysis { names, docs, target, facts };
    analysis.check_authorization_token(&mut out);
    analysis.check_bearer_token(&mut out);
    analysis.check_repository_endpoint(&mut out);
    analysis.check_publish(&mut out);
    analysis.check_too_broad(&mut out);
    analysis.check_dangerous(&mut out);
    analysis.check_read(&mut out);
    analysis.check_safe_rerun(&mut out);
    analysis.check_cross_account(&mut out);
    analysis.check_origin(&mut out);
    analysis.check_simulation(&mut out);
    if !out.iter().any(|it| it.severity > Severity::Info) {
        out.push(Finding::new(
            "perm.ok",
            Severity::Info,
            format!(
                "the permission policies allow every call of a release ({GET_AUTHORIZATION_TOKEN} on {}, \
                 {BEARER_TOKEN} for {SERVICE}, {GET_REPOSITORY_ENDPOINT} on {}, {PUBLISH}, {LIST_ASSETS} and \
                 {DESCRIBE_VERSION} on {}) and nothing this check counts as too broad or dangerous",
                target.domain_arn(),
                target.repository_arn(),
                target.package_arn()
            ),
        ));
    }
    finish(out)
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

/// The resource forms the dangerous-action probe asks about: any resource of the kind.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Domain,
    Repository,
    Package,
    Any,
}

/// P8: actions a release role must not have, with the kind of resource they take.
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
/// (P7: what a wildcard in Action grants beyond the release's needs).
const WRITE_ACTIONS: [&str; 24] = [
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

struct Analysis<'a> {
    names: Vec<String>,
    docs: Vec<Document>,
    target: &'a PublishTarget,
    facts: &'a PermissionFacts,
}

impl Analysis<'_> {
    fn role_account(&self) -> Option<&str> {
        self.facts.role_arn.as_deref().and_then(|it| it.split(':').nth(4)).filter(|it| !it.is_empty())
    }

    /// The request context of `action`: what the release's call carries. Keys the
    /// check cannot know are `Unknown`, so conditions on them give `Maybe`.
    fn context(&self, action: &str, service: Option<&str>, duration: Option<i64>) -> impl Fn(&str) -> Claim {
        let bearer = action.eq_ignore_ascii_case(BEARER_TOKEN);
        let codeartifact = action.to_ascii_lowercase().starts_with("codeartifact:");
        let region = self.target.region.clone();
        let owner = self.target.domain_owner.clone();
        let role_arn = self.facts.role_arn.clone();
        let role_account = self.role_account().map(str::to_owned);
        let service = service.map(str::to_owned);
        move |key: &str| match key {
            "sts:awsservicename" if bearer => service.as_deref().map(Claim::known).unwrap_or(Claim::Absent),
            "sts:durationseconds" if bearer => match duration {
                // With 0 the token lives as long as the session; what reaches STS
                // then is not documented.
                Some(0) => Claim::Unknown,
                Some(seconds) => Claim::known(&seconds.to_string()),
                None => Claim::Absent,
            },
            "sts:awsservicename" | "sts:durationseconds" => Claim::Absent,
            "aws:requestedregion" => Claim::known(&region),
            "aws:resourceaccount" if codeartifact => Claim::known(&owner),
            "aws:principalaccount" => role_account.as_deref().map(Claim::known).unwrap_or(Claim::Unknown),
            "aws:principalarn" => role_arn.as_deref().map(Claim::known).unwrap_or(Claim::Unknown),
            "aws:principaltype" => Claim::known("AssumedRole"),
            "aws:securetransport" => Claim::known("true"),
            _ => Claim::Unknown,
        }
    }

    fn ask_with(&self, action: &str, resource: Vec<Tok>, context: &dyn Fn(&str) -> Claim, relax: &[&str]) -> Outcome {
        let docs: Vec<&Document> = self.docs.iter().collect();
        eval::decide(&docs, &Request { action, resource: Some(resource), caller: None, context, relax })
    }

    /// May the role call `action` on `resource` as a release does?
    fn ask(&self, action: &str, resource: &str) -> Outcome {
        let context = self.context(action, None, None);
        self.ask_with(action, glob::literal(resource), &context, &[])
    }

    fn label(&self, (d, s): (usize, usize)) -> String {
        format!("{} of policy {:?}", self.docs[d].statements[s].label(), self.names[d])
    }

    fn labels(&self, at: &[(usize, usize)]) -> String {
        at.iter().map(|it| self.label(*it)).collect::<Vec<_>>().join(", ")
    }

    /// The resources of the `Allow` statements whose Action covers `action`.
    fn granted_on(&self, action: &str) -> Vec<String> {
        let mut out = Vec::new();
        for doc in &self.docs {
            for statement in doc.statements.iter().filter(|it| it.effect == Effect::Allow) {
                if !eval::covers_action(&statement.action, action) {
                    continue;
                }
                let text = match &statement.resource {
                    Some(Names::Only(list)) => list.clone(),
                    Some(Names::Except(list)) => vec![format!("everything except {list:?}")],
                    None => Vec::new(),
                };
                for item in text {
                    if !out.contains(&item) {
                        out.push(item);
                    }
                }
            }
        }
        out
    }

    /// Why a required call is refused, as a clause: an explicit Deny, the wrong
    /// resources, or no grant at all.
    fn why_refused(&self, action: &str, outcome: &Outcome) -> String {
        if !outcome.denied_by.is_empty() {
            return format!("it is denied explicitly by {}", self.labels(&outcome.denied_by));
        }
        let granted = self.granted_on(action);
        if granted.is_empty() {
            "no statement allows it".to_owned()
        } else {
            format!("it is allowed only on [{}] or under conditions the release does not meet", quoted(&granted))
        }
    }

    /// The sentence for a required call that the check cannot confirm.
    fn unconfirmed(&self, id: &'static str, action: &str, resource: &str, outcome: &Outcome) -> Finding {
        Finding::new(
            id,
            Severity::Info,
            format!(
                "could not confirm that the role may call {action} on {resource}: {} depend on condition keys or \
                 operators this check cannot evaluate; confirm with `aws iam simulate-principal-policy`",
                self.labels(&outcome.allowed_by)
            ),
        )
    }

    /// P1.
    fn check_authorization_token(&self, out: &mut Vec<Finding>) {
        let arn = self.target.domain_arn();
        let outcome = self.ask(GET_AUTHORIZATION_TOKEN, &arn);
        match outcome.answer {
            Tri::Yes => {}
            Tri::Maybe => {
                out.push(self.unconfirmed("perm.get-authorization-token", GET_AUTHORIZATION_TOKEN, &arn, &outcome))
            }
            Tri::No => {
                let who = match &self.facts.role_arn {
                    Some(role) => {
                        let account = self.role_account().unwrap_or("ACCOUNT");
                        let name = role.rsplit('/').next().unwrap_or("ROLE");
                        format!("arn:aws:sts::{account}:assumed-role/{name}/SESSION")
                    }
                    None => "arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION".to_owned(),
                };
                let bearer_condition = self.bearer_condition_blocks(GET_AUTHORIZATION_TOKEN, &arn);
                out.push(Finding::new(
                    "perm.get-authorization-token",
                    Severity::Error,
                    format!(
                        "the role cannot call {GET_AUTHORIZATION_TOKEN} on domain/{}: {}{bearer_condition}; AWS \
                         answers \"User: {who} is not authorized to perform: {GET_AUTHORIZATION_TOKEN} on resource: \
                         {arn}\". Add {}",
                        self.target.domain,
                        self.why_refused(GET_AUTHORIZATION_TOKEN, &outcome),
                        snippet("AuthorizationToken", &[GET_AUTHORIZATION_TOKEN], &arn, None)
                    ),
                ));
            }
        }
    }

    /// A clause for the common mistake of granting a CodeArtifact action in the
    /// bearer-token statement: `sts:AWSServiceName` is absent from CodeArtifact
    /// requests, so the condition refuses them.
    fn bearer_condition_blocks(&self, action: &str, resource: &str) -> String {
        let context = self.context(action, None, None);
        let relaxed = self.ask_with(action, glob::literal(resource), &context, &["sts:awsservicename"]);
        if relaxed.answer == Tri::No {
            return String::new();
        }
        format!(
            " ({} conditions on sts:AWSServiceName, a key that only sts:GetServiceBearerToken requests carry, so it \
             never applies to {action}; give {action} a statement of its own)",
            self.labels(&relaxed.allowed_by)
        )
    }

    /// P2, P3, P4.
    fn check_bearer_token(&self, out: &mut Vec<Finding>) {
        let duration = self.target.token_duration;
        let context = self.context(BEARER_TOKEN, Some(SERVICE), Some(duration));
        let outcome = self.ask_with(BEARER_TOKEN, glob::literal("*"), &context, &[]);
        match outcome.answer {
            Tri::Maybe => {
                out.push(self.unconfirmed("perm.service-bearer-token", BEARER_TOKEN, "*", &outcome));
                return;
            }
            Tri::No => {
                let relaxed = self.ask_with(
                    BEARER_TOKEN,
                    glob::literal("*"),
                    &context,
                    &["sts:awsservicename", "sts:durationseconds"],
                );
                let why = if outcome.denied_by.is_empty() && relaxed.answer != Tri::No {
                    format!(
                        "the conditions of {} refuse a request for {SERVICE} with sts:DurationSeconds = {duration} \
                         (the release's token duration)",
                        self.labels(&relaxed.allowed_by)
                    )
                } else {
                    self.why_refused(BEARER_TOKEN, &outcome)
                };
                out.push(Finding::new(
                    "perm.service-bearer-token",
                    Severity::Error,
                    format!(
                        "the role cannot call {BEARER_TOKEN} ({why}); GetAuthorizationToken then fails with \"… is \
                         not authorized to perform: {BEARER_TOKEN} …\". It must be in the role's own permission \
                         policy, as CodeArtifact resource policies cannot grant it. Add {}",
                        snippet("BearerTokenForCodeArtifact", &[BEARER_TOKEN], "*", Some(BEARER_CONDITION))
                    ),
                ));
                return;
            }
            Tri::Yes => {}
        }
        let other = self.context(BEARER_TOKEN, Some("other.amazonaws.com"), Some(duration));
        let unscoped = self.ask_with(BEARER_TOKEN, glob::literal("*"), &other, &[]);
        if unscoped.answer != Tri::No {
            out.push(Finding::new(
                "perm.bearer-token-condition",
                Severity::Low,
                format!(
                    "{BEARER_TOKEN} is not scoped to CodeArtifact in {}: scope it with \"Condition\": {BEARER_CONDITION}",
                    self.labels(&unscoped.allowed_by)
                ),
            ));
        }
        let long = self.context(BEARER_TOKEN, Some(SERVICE), Some(43200));
        if self.ask_with(BEARER_TOKEN, glob::literal("*"), &long, &[]).answer != Tri::No {
            let wanted = if duration > 0 { duration } else { 900 };
            out.push(Finding::new(
                "perm.token-duration",
                Severity::Info,
                format!(
                    "nothing bounds the CodeArtifact token lifetime (up to 12 hours); consider adding \
                     \"NumericLessThanEquals\": {{\"sts:DurationSeconds\": \"{wanted}\"}} to the bearer-token \
                     condition (the release asks for {duration} s)"
                ),
            ));
        }
    }

    /// P5.
    fn check_repository_endpoint(&self, out: &mut Vec<Finding>) {
        let arn = self.target.repository_arn();
        let outcome = self.ask(GET_REPOSITORY_ENDPOINT, &arn);
        match outcome.answer {
            Tri::Yes => {}
            Tri::Maybe => {
                out.push(self.unconfirmed("perm.get-repository-endpoint", GET_REPOSITORY_ENDPOINT, &arn, &outcome))
            }
            Tri::No => out.push(Finding::new(
                "perm.get-repository-endpoint",
                Severity::Error,
                format!(
                    "the role cannot resolve the PyPI endpoint of {}/{}: {GET_REPOSITORY_ENDPOINT} needs the \
                     repository ARN, and {}{}. Add {}",
                    self.target.domain,
                    self.target.repository,
                    self.why_refused(GET_REPOSITORY_ENDPOINT, &outcome),
                    self.bearer_condition_blocks(GET_REPOSITORY_ENDPOINT, &arn),
                    snippet("RepositoryEndpoint", &[GET_REPOSITORY_ENDPOINT], &arn, None)
                ),
            )),
        }
    }

    /// P6.
    fn check_publish(&self, out: &mut Vec<Finding>) {
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
        let Some((prefix, rest)) = resource.split_once(":package/") else {
            if resource.contains(":repository/") || resource.contains(":domain/") {
                return format!(
                    "{resource:?} is a domain or repository ARN, but publishing is authorised on the package ARN"
                );
            }
            return format!("{resource:?} is not a CodeArtifact package ARN");
        };
        let mut notes = Vec::new();
        if prefix != self.target.prefix() && !glob::has_wildcard(prefix) {
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

    /// P7: publishing must be limited to the package, and Action wildcards must not
    /// grant writes the release does not need.
    fn check_too_broad(&self, out: &mut Vec<Finding>) {
        let t = self.target;
        let other_repo = if t.repository == "other-repository" { "other-repository-2" } else { "other-repository" };
        let other_domain = if t.domain == "other-domain" { "other-domain-2" } else { "other-domain" };
        let other_package = if t.package == "other-package" { "other-package-2" } else { "other-package" };
        let probes = [
            (
                Severity::High,
                format!("{}:package/{other_domain}/{}/pypi//{}", t.prefix(), t.repository, t.package),
                "packages in other domains",
            ),
            (
                Severity::High,
                format!("{}:package/{}/{other_repo}/pypi//{}", t.prefix(), t.domain, t.package),
                "packages in other repositories",
            ),
            (
                Severity::Medium,
                format!("{}:package/{}/{}/pypi//{other_package}", t.prefix(), t.domain, t.repository),
                "every package in the repository",
            ),
        ];
        for (severity, probe, what) in probes {
            let outcome = self.ask(PUBLISH, &probe);
            if outcome.answer != Tri::No {
                out.push(Finding::new(
                    "perm.too-broad",
                    severity,
                    format!(
                        "publish permission is broader than {}/{}: the role may publish {what} (such as {probe}) \
                         through {}, so a leaked release credential can overwrite other packages. Limit {PUBLISH} to \
                         \"Resource\": \"{}\"",
                        t.repository,
                        t.package,
                        self.labels(&outcome.allowed_by),
                        t.package_arn()
                    ),
                ));
                // The broadest probe that gets through says it all.
                break;
            }
        }
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
                            let extra: Vec<&str> =
                                WRITE_ACTIONS.iter().copied().filter(|it| glob::action_matches(pattern, it)).collect();
                            if !extra.is_empty() {
                                out.push(Finding::new(
                                    "perm.too-broad",
                                    Severity::High,
                                    format!(
                                        "{label} allows {pattern:?}, which grants {} CodeArtifact actions a release \
                                         does not need (such as {}); list the actions of the least-privilege policy \
                                         instead (`cargo xtask iam-policy`)",
                                        extra.len(),
                                        extra.iter().take(3).copied().collect::<Vec<_>>().join(", ")
                                    ),
                                ));
                            }
                        }
                    }
                }
            }
        }
    }

    /// P8.
    fn check_dangerous(&self, out: &mut Vec<Finding>) {
        let t = self.target;
        let partition = t.prefix().split(':').nth(1).unwrap_or("aws").to_owned();
        let unknown = |_: &str| Claim::Unknown;
        let mut found = Vec::new();
        let mut by = Vec::new();
        for (action, kind) in DANGEROUS {
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
        out.push(Finding::new(
            "perm.dangerous-action",
            Severity::High,
            format!(
                "the release role can {} (granted by {}); none of it is needed to upload, so remove it.{origin}",
                found.join(", "),
                self.labels(&by)
            ),
        ));
    }

    /// P9: required when the build installs its requirements from the repository,
    /// otherwise only noted.
    fn check_read(&self, out: &mut Vec<Finding>) {
        let arn = self.target.repository_arn();
        let outcome = self.ask(READ, &arn);
        if self.target.private_dependencies {
            match outcome.answer {
                Tri::Yes => {}
                Tri::Maybe => out.push(self.unconfirmed("perm.read-from-repository", READ, &arn, &outcome)),
                Tri::No => out.push(Finding::new(
                    "perm.read-from-repository",
                    Severity::Error,
                    format!(
                        "private-dependencies is on, so the build installs its requirements from {}/{}, which needs \
                         {READ} on the repository, and {}: the build gets 403. Add {}",
                        self.target.domain,
                        self.target.repository,
                        self.why_refused(READ, &outcome),
                        snippet("PrivateBuildDependencies", &[READ], &arn, None)
                    ),
                )),
            }
            return;
        }
        if outcome.answer == Tri::Yes {
            out.push(Finding::new(
                "perm.read-from-repository",
                Severity::Info,
                format!(
                    "{READ} is not required to publish PyPI packages; keep it only if something downloads from the \
                     repository with this role"
                ),
            ));
        }
    }

    /// The actions a safe re-run uses to compare what is already published.
    fn check_safe_rerun(&self, out: &mut Vec<Finding>) {
        let arn = self.target.package_arn();
        let missing: Vec<&str> =
            [LIST_ASSETS, DESCRIBE_VERSION].into_iter().filter(|it| self.ask(it, &arn).answer != Tri::Yes).collect();
        if missing.is_empty() {
            return;
        }
        out.push(Finding::new(
            "perm.safe-rerun",
            Severity::Low,
            format!(
                "safe re-runs need {} on {arn}: with them a re-run compares the published files' hashes and skips \
                 identical files instead of failing with 409 Conflict. Add {}",
                missing.join(" and "),
                snippet("SafeRerunChecks", &[LIST_ASSETS, DESCRIBE_VERSION], &arn, None)
            ),
        ));
    }

    /// P10: a domain in another account needs the domain and repository policies to
    /// grant the role too. The analysis does not read those policies, so the finding
    /// says how to check them.
    fn check_cross_account(&self, out: &mut Vec<Finding>) {
        const ID: &str = "perm.cross-account";
        let t = self.target;
        let owner = &t.domain_owner;
        let commands = format!(
            "`aws codeartifact get-domain-permissions-policy --domain {} --domain-owner {owner}` and `aws codeartifact \
             get-repository-permissions-policy --domain {} --domain-owner {owner} --repository {}`",
            t.domain, t.domain, t.repository
        );
        let Some(account) = self.role_account() else {
            out.push(Finding::new(
                ID,
                Severity::Info,
                format!(
                    "not checked offline: if the role is not in account {owner} (the domain owner), the domain policy \
                     must grant it {GET_AUTHORIZATION_TOKEN} and the repository policy {PUBLISH}; check with {commands}"
                ),
            ));
            return;
        };
        if account == owner {
            return;
        }
        out.push(Finding::new(
            ID,
            Severity::Info,
            format!(
                "not checked offline: the role is in account {account} but the domain belongs to {owner}, so the \
                 domain policy must grant it {GET_AUTHORIZATION_TOKEN} and the repository policy {PUBLISH}; check \
                 with {commands}"
            ),
        ));
    }

    /// P11.
    fn check_origin(&self, out: &mut Vec<Finding>) {
        const ID: &str = "perm.origin-blocked";
        let t = self.target;
        let describe = format!(
            "aws codeartifact describe-package --domain {} --domain-owner {} --repository {} --format pypi --package {} \
             --query package.originConfiguration.restrictions.publish",
            t.domain, t.domain_owner, t.repository, t.package
        );
        match self.facts.origin {
            None => out.push(Finding::new(
                ID,
                Severity::Info,
                format!(
                    "not checked offline: if the first version of {} in {} came from an upstream or external \
                     connection, origin controls block direct publishing; `{describe}` must print ALLOW",
                    t.package, t.repository
                ),
            )),
            Some(OriginPublish::Block) => out.push(Finding::new(
                ID,
                Severity::Error,
                format!(
                    "direct publishing of {} to {} is blocked by package origin controls (publish: BLOCK, usually \
                     because the first version came from an upstream), so CodeArtifact refuses the upload; if this \
                     repository is meant to be the package's origin, allow it: `aws codeartifact \
                     put-package-origin-configuration --domain {} --domain-owner {} --repository {} --format pypi \
                     --package {} --restrictions publish=ALLOW,upstream=BLOCK`",
                    t.package, t.repository, t.domain, t.domain_owner, t.repository, t.package
                ),
            )),
            Some(OriginPublish::Allow | OriginPublish::NoPackage) => {}
        }
    }

    /// P12: a live `iam:SimulatePrincipalPolicy` is not run, so the finding says how
    /// to run it by hand.
    fn check_simulation(&self, out: &mut Vec<Finding>) {
        out.push(Finding::new(
            "perm.simulation",
            Severity::Info,
            "not checked live: `aws iam simulate-principal-policy --policy-source-arn ROLE_ARN --action-names \
             … --resource-arns …` for each call of a release confirms this analysis against the real policies \
             (it does not see SCPs, RCPs or resource policies, so \"allowed\" is necessary, not sufficient)",
        ));
    }
}

fn quoted(values: &[String]) -> String {
    values.iter().map(|it| format!("{it:?}")).collect::<Vec<_>>().join(", ")
}
