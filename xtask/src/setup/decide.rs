//! What replacing an existing policy document with the generated one would do, read
//! from `policy`'s analysis of the existing document (the same checks as
//! `check-iam`): whether the existing one admits other repositories, allows more
//! than the release needs, or refuses something the release needs. The generated
//! documents pass that analysis (a test of `policy` checks it), so what the
//! existing one is blamed for is what the change takes away, and what it lacks is
//! what the change adds. docs/checks.md ("In `setup`") lists which finding ids
//! fall under which of these.

use crate::policy::{
    self, Finding, NamedPolicy, PermissionFacts, ProviderFacts, PublishTarget, Purpose, TrustContext, TrustFacts,
};

/// The analysis' verdict on an existing document that differs from the generated one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// It admits other repositories or principals: the role is not touched
    /// without `--force`.
    pub foreign: Vec<String>,
    /// It allows more than the release needs (its own repository's other branches,
    /// wider actions or resources), or cannot be read reliably: kept without `--force`.
    pub broader: Vec<String>,
    /// What the release needs and it refuses: the generated one widens it by these.
    pub missing: Vec<String>,
}

impl Verdict {
    /// The existing document passes the analysis: nothing to gain by replacing it.
    pub fn fine(&self) -> bool {
        self.foreign.is_empty() && self.broader.is_empty() && self.missing.is_empty()
    }
}

/// Findings that mean the trust policy lets in someone other than the release job
/// of this repository, or may (the analysis could not prove otherwise); each is
/// explained in docs/checks.md.
const FOREIGN_TRUST: [&str; 9] = [
    "trust.foreign-repository",
    "trust.unproven",
    "trust.any-repository",
    "trust.org-wide",
    "trust.prefix-wildcard",
    "trust.wildcard-boundary",
    "trust.sub-unrestricted",
    "trust.extra-principal",
    "trust.set-operator",
];

/// Findings that say the document cannot be read as written: replacing it could
/// take away anything, so it is treated as broader.
const UNREADABLE: [&str; 6] = [
    "policy.malformed",
    "policy.unknown-operator",
    "trust.duplicate-key",
    "perm.duplicate-key",
    "trust.not-a-trust-policy",
    "perm.not-a-permission-policy",
];

/// Permission findings that mean the policy allows more than the role needs.
const BROADER_PERMISSION: [&str; 4] =
    ["perm.too-broad", "perm.dangerous-action", "perm.bearer-token-condition", "perm.read-role-can-write"];

/// Permission findings about facts outside the documents (the domain's account,
/// origin controls, a live simulation): the same for either document.
const OUTSIDE: [&str; 3] = ["perm.cross-account", "perm.origin-blocked", "perm.simulation"];

/// The existing trust policy `text`, analysed in `ctx` with the provider as the
/// plan leaves it (present, with the audience), so only the document is judged.
pub fn trust(text: &str, ctx: &TrustContext) -> Verdict {
    let facts = TrustFacts {
        provider: Some(ProviderFacts { exists: true, client_ids: vec![ctx.audience.clone()] }),
        ..TrustFacts::default()
    };
    let findings = policy::analyse_trust(text, ctx, &facts);
    let mut verdict = Verdict { foreign: Vec::new(), broader: Vec::new(), missing: Vec::new() };
    for finding in findings {
        let Finding { id, severity, message } = finding;
        let line = format!("{id}: {message}");
        if FOREIGN_TRUST.contains(&id) {
            verdict.foreign.push(line);
        } else if UNREADABLE.contains(&id)
            || id == "trust.broad-subject"
            || (id == "trust.audience" && !severity.fails())
        {
            // `trust.audience` below error: `aud` is not pinned, so more tokens pass.
            verdict.broader.push(line);
        } else if severity.fails() {
            verdict.missing.push(line);
        }
    }
    verdict
}

/// The existing permission policy `text` (named `name`) of the role of `purpose`,
/// analysed alone against `target`.
pub fn permission(name: &str, text: &str, target: &PublishTarget, purpose: Purpose) -> Verdict {
    let policies = [NamedPolicy::new(name, text)];
    let findings = policy::analyse_permissions_as(purpose, &policies, target, &PermissionFacts::default());
    let mut verdict = Verdict { foreign: Vec::new(), broader: Vec::new(), missing: Vec::new() };
    for Finding { id, severity, message } in findings {
        let line = format!("{id}: {message}");
        // ReadFromRepository in the release role is a note of the analysis (the
        // build-deps job's read role reads, if anything does), and more than the
        // generated policy allows.
        let unneeded_read =
            purpose == Purpose::Release && id == "perm.read-from-repository" && severity == policy::Severity::Info;
        if UNREADABLE.contains(&id) || BROADER_PERMISSION.contains(&id) || unneeded_read {
            verdict.broader.push(line);
        } else if !OUTSIDE.contains(&id) && severity > policy::Severity::Info {
            verdict.missing.push(line);
        }
    }
    verdict
}

/// What the role's other policies (attached or inline, not the one setup writes)
/// allow beyond its needs: reported, never removed.
pub fn other_policies(policies: &[NamedPolicy], target: &PublishTarget, purpose: Purpose) -> Vec<String> {
    if policies.is_empty() {
        return Vec::new();
    }
    let findings = policy::analyse_permissions_as(purpose, policies, target, &PermissionFacts::default());
    findings
        .into_iter()
        .filter(|it| BROADER_PERMISSION.contains(&it.id) || UNREADABLE.contains(&it.id))
        .map(|it| format!("{}: {}", it.id, it.message))
        .collect()
}
