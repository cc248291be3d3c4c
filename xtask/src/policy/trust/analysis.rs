//! The questions every trust check asks: is this token (a `Scenario`) allowed by
//! the policy, which statements decide it, and which `sub` values the policy names.
//! The checks themselves live in the sibling modules, each an `impl Analysis` block.

use super::{
    AUD, GITHUB_PROVIDER_HOST, KEY_PREFIX, SUB, TrustContext, TrustFacts, WEB_IDENTITY,
    scenario::{self, Scenario},
};
use crate::policy::{
    document::{Document, Effect, OpKind, Statement},
    eval::{self, Caller, Claim, Request, Tri},
    glob::{self, Tok},
};

/// The policy, the context, and the subject template in effect.
pub(super) struct Analysis<'a> {
    pub(super) doc: &'a Document,
    pub(super) ctx: &'a TrustContext,
    pub(super) facts: &'a TrustFacts,
    pub(super) template: Vec<String>,
    /// The role's account (`role_account`), worked out once: every evaluation asks.
    account: Option<String>,
}

/// Statements that let a GitHub token in: `Allow`, the web-identity action, and a
/// principal that is (or looks like) GitHub's provider, or everyone.
pub(super) fn github_facing(statement: &Statement) -> bool {
    statement.effect == Effect::Allow
        && eval::covers_action(&statement.action, WEB_IDENTITY)
        && statement.principal.as_ref().is_some_and(|p| {
            p.negated
                || p.any
                || p.entries.iter().any(|e| {
                    (e.kind == "AWS" && e.value == "*")
                        || (e.kind == "Federated" && e.value.contains(GITHUB_PROVIDER_HOST))
                })
        })
}

/// The claims of GitHub's token that STS puts in the request context of a trust
/// policy: `aud` and `sub` always, and since January 2026 these (AWS, "AWS STS
/// supports validation of identity provider claims", 2026-01; shared reference
/// §2.1). Keys of other claims may be missing when STS evaluates the policy.
const STS_CLAIMS: [&str; 11] = [
    "aud",
    "sub",
    "actor",
    "actor_id",
    "enterprise_id",
    "environment",
    "job_workflow_ref",
    "ref",
    "repository",
    "repository_id",
    "workflow",
];

/// The one account of the GitHub providers the Allow statements of `doc` trust.
fn allow_account(doc: &Document) -> Option<String> {
    let mut accounts = doc
        .statements
        .iter()
        .filter(|it| it.effect == Effect::Allow)
        .flat_map(|it| it.principal.iter().flat_map(|p| &p.entries))
        .filter(|e| e.kind == "Federated")
        .filter_map(|e| eval::github_provider_account(&e.value));
    let first = accounts.next()?;
    accounts.all(|it| it == first).then_some(first)
}

impl<'a> Analysis<'a> {
    pub(super) fn new(doc: &'a Document, ctx: &'a TrustContext, facts: &'a TrustFacts) -> Analysis<'a> {
        let account = ctx.account.clone().or_else(|| allow_account(doc));
        Analysis { doc, ctx, facts, template: scenario::template(facts), account }
    }
}

impl Analysis<'_> {
    pub(super) fn eval(&self, scenario: &Scenario, relax: &[&str], any_provider: bool) -> Tri {
        self.outcome(scenario, relax, any_provider).answer
    }

    /// The labels of the Deny statements that refuse `scenario`.
    pub(super) fn denied_by(&self, scenario: &Scenario) -> Vec<String> {
        let outcome = self.outcome(scenario, &[], false);
        outcome.denied_by.iter().map(|(_, s)| self.doc.statements[*s].label()).collect()
    }

    fn outcome(&self, scenario: &Scenario, relax: &[&str], any_provider: bool) -> eval::Outcome {
        let sub = scenario.sub(&self.template).shape();
        let context = |key: &str| match key.strip_prefix(KEY_PREFIX) {
            Some("sub") => Claim::Value(sub.clone()),
            // STS evaluates only some of GitHub's claims; a condition on another
            // may see the key missing, so its outcome is not known.
            Some(name) if !STS_CLAIMS.contains(&name) => Claim::Unknown,
            Some(name) => scenario.claim(name).map(|it| Claim::Value(it.shape())).unwrap_or(Claim::Absent),
            // Keys outside GitHub's claims (aws:…, sts:RoleSessionName) are not in
            // the token; the caller may choose them, so any value.
            None => Claim::Value(vec![Tok::Star]),
        };
        let caller = Caller::GitHub { account: self.role_account(), any_provider };
        let request = Request { action: WEB_IDENTITY, resource: None, caller: Some(&caller), context: &context, relax };
        eval::decide(&[self.doc], &request)
    }

    /// The role's account: as configured, else the one account of the GitHub
    /// providers the Allow statements trust (`None` when they name several).
    pub(super) fn role_account(&self) -> Option<String> {
        self.account.clone()
    }

    pub(super) fn allowed(&self, scenario: &Scenario) -> Tri {
        self.eval(scenario, &[], false)
    }

    pub(super) fn sub(&self, scenario: &Scenario) -> String {
        scenario.sub(&self.template).display()
    }

    /// The values of the positive string conditions on `key` in GitHub-facing
    /// statements, with their operator kinds.
    pub(super) fn values_of(&self, key: &str) -> Vec<(OpKind, String)> {
        let mut out = Vec::new();
        for statement in self.doc.statements.iter().filter(|it| github_facing(it)) {
            for condition in statement.conditions_on(key) {
                let kind = condition.operator.kind;
                if matches!(kind, OpKind::StringEquals | OpKind::StringLike | OpKind::StringEqualsIgnoreCase) {
                    out.extend(condition.values.iter().map(|v| (kind, v.clone())));
                }
            }
        }
        out
    }

    /// The sub values that match `shape`: the patterns to blame for a
    /// counter-example that gets through.
    pub(super) fn culprits(&self, shape: &[Tok]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (kind, value) in self.values_of(SUB) {
            let hit = match kind {
                OpKind::StringLike => glob::intersects(&glob::pattern(&value), shape),
                OpKind::StringEquals => glob::intersects(&glob::literal(&value), shape),
                _ => glob::intersects(&glob::lowercase(&glob::literal(&value)), &glob::lowercase(shape)),
            };
            if hit && !out.contains(&value) {
                out.push(value);
            }
        }
        out
    }

    pub(super) fn recommended_sub(&self, immutable: bool) -> (&'static str, String) {
        scenario::recommended_sub(self.ctx, immutable)
    }

    /// The `Condition` element to paste into the trust policy.
    pub(super) fn snippet(&self, immutable: bool) -> String {
        let (op, sub) = self.recommended_sub(immutable);
        let aud = &self.ctx.audience;
        if op == "StringEquals" {
            format!("\"Condition\": {{\"StringEquals\": {{\"{AUD}\": \"{aud}\", \"{SUB}\": \"{sub}\"}}}}")
        } else {
            format!("\"Condition\": {{\"StringEquals\": {{\"{AUD}\": \"{aud}\"}}, \"{op}\": {{\"{SUB}\": \"{sub}\"}}}}")
        }
    }

    pub(super) fn expected(&self) -> Scenario {
        scenario::expected(self.ctx, self.facts)
    }

    /// The account that should own the provider, or a placeholder for messages.
    pub(super) fn account(&self) -> &str {
        self.ctx.account.as_deref().unwrap_or("ACCOUNT_ID")
    }

    /// The ARN of GitHub's provider in that account, as messages suggest it.
    pub(super) fn provider_arn(&self) -> String {
        self.ctx.provider_arn(self.account())
    }
}
