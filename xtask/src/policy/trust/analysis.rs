//! The questions every trust check asks: is this token (a `Scenario`) allowed by
//! the policy, which statements decide it, and which `sub` values the policy names.
//! The checks themselves live in the sibling modules, each an `impl Analysis` block.

use super::{
    AUD, GITHUB_PROVIDER_HOST, KEY_PREFIX, SUB, TrustContext, TrustFacts, WEB_IDENTITY,
    scenario::{self, Scenario},
};
use crate::{
    arn,
    policy::{
        budget::Budgets,
        document::{Document, Effect, OpKind, Principal, Statement},
        eval::{self, Caller, Claim, Request, Tri},
        glob::{self, Tok},
    },
};

/// The policy, the context, and the subject template in effect.
pub(super) struct Analysis<'a> {
    /// The policy with each statement, and each value of a condition, once.
    pub(super) doc: Document,
    pub(super) ctx: &'a TrustContext,
    pub(super) facts: &'a TrustFacts,
    pub(super) template: Vec<String>,
    /// The role's account (`role_account`), worked out once: every evaluation asks.
    account: Option<String>,
    /// What the searches and the simulated requests of this analysis spend.
    pub(super) budgets: &'a Budgets,
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
/// policy: `aud` and `sub` always, and since January 2026 these ("AWS STS supports
/// validation of identity provider claims",
/// https://aws.amazon.com/about-aws/whats-new/2026/01/aws-sts-supports-validation-identity-provider-claims/).
/// Keys of other claims may be missing when STS evaluates the policy.
pub(super) const STS_CLAIMS: [&str; 11] = [
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

/// The one account of the GitHub providers of the role's partition that the Allow
/// statements of `doc` trust.
fn allow_account(doc: &Document, partition: &str) -> Option<String> {
    let mut accounts = doc
        .statements
        .iter()
        .filter(|it| it.effect == Effect::Allow)
        .flat_map(|it| it.principal.iter().flat_map(|p| &p.entries))
        .filter(|e| e.kind == "Federated")
        .filter_map(|e| arn::github_provider(&e.value))
        .filter(|it| it.partition == partition)
        .map(|it| it.account);
    let first = accounts.next()?;
    accounts.all(|it| it == first).then_some(first)
}

/// `doc` with each statement once (whatever its Sid) and each value of a
/// condition once: IAM reads repeated ones as one, and so the analysis does the
/// same work for them as for one.
fn canonical(doc: &Document) -> Document {
    let mut statements: Vec<Statement> = Vec::with_capacity(doc.statements.len());
    for statement in &doc.statements {
        let mut statement = statement.clone();
        for condition in &mut statement.conditions {
            let mut seen = std::collections::HashSet::new();
            condition.values.retain(|it| seen.insert(it.clone()));
        }
        if let Some(principal) = &mut statement.principal {
            let mut seen = std::collections::HashSet::new();
            principal.entries.retain(|it| seen.insert((it.kind.clone(), it.value.clone())));
        }
        let same = |it: &Statement| {
            it.effect == statement.effect
                && it.action == statement.action
                && it.resource == statement.resource
                && it.principal == statement.principal
                && it.conditions == statement.conditions
        };
        if !statements.iter().any(same) {
            statements.push(statement);
        }
    }
    Document { statements, ..doc.clone() }
}

impl<'a> Analysis<'a> {
    pub(super) fn new(
        doc: &Document,
        ctx: &'a TrustContext,
        facts: &'a TrustFacts,
        budgets: &'a Budgets,
    ) -> Analysis<'a> {
        let doc = canonical(doc);
        let account = ctx.account.clone().or_else(|| allow_account(&doc, &ctx.partition));
        Analysis { doc, ctx, facts, template: scenario::template(facts), account, budgets }
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
        let context = |key: &str| self.claim(scenario, &sub, key);
        let caller =
            Caller::GitHub { partition: self.ctx.partition.clone(), account: self.role_account(), any_provider };
        let request = Request {
            action: WEB_IDENTITY,
            resource: None,
            caller: Some(&caller),
            context: &context,
            relax,
            budget: Some(&self.budgets.evaluation),
        };
        eval::decide(&[&self.doc], &request)
    }

    /// What the request context of `scenario`'s token holds for `key` (lower
    /// case), its sub being `sub`.
    pub(super) fn claim(&self, scenario: &Scenario, sub: &[Tok], key: &str) -> Claim {
        match key.strip_prefix(KEY_PREFIX) {
            Some("sub") => Claim::Value(sub.to_vec()),
            // STS evaluates only some of GitHub's claims; a condition on another
            // may see the key missing, so its outcome is not known.
            Some(name) if !STS_CLAIMS.contains(&name) => Claim::Unknown,
            Some(name) => scenario.claim(name).map(|it| Claim::Value(it.shape())).unwrap_or(Claim::Absent),
            // Keys outside GitHub's claims (aws:…, sts:RoleSessionName) are not in
            // the token; the caller may choose them, so any value.
            None => Claim::Value(vec![Tok::Star]),
        }
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
            let budget = Some(&self.budgets.evaluation);
            let hit = match kind {
                OpKind::StringLike => glob::intersects_within(&glob::pattern(&value), shape, budget),
                OpKind::StringEquals => glob::intersects_within(&glob::literal(&value), shape, budget),
                _ => glob::intersects_within(&glob::lowercase(&glob::literal(&value)), &glob::lowercase(shape), budget),
            };
            // A match cut short by the budget blames nothing.
            let hit = hit && !self.budgets.evaluation.ran_out();
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

    /// True when `entry` names GitHub's provider as STS uses it for this role: in
    /// the role's partition and account (when that is known).
    pub(super) fn own_provider(&self, entry: &Principal) -> bool {
        entry.kind == "Federated"
            && arn::github_provider(&entry.value)
                .is_some_and(|it| it.is_in(&self.ctx.partition, self.account.as_deref()))
    }

    /// True for a Deny that certainly applies to GitHub's tokens, so that it may
    /// narrow a proof: for everyone, or GitHub's provider in the role's partition
    /// and account (when that is not known, the account of the providers the Allow
    /// statements trust), and for `sts:AssumeRoleWithWebIdentity`.
    pub(super) fn deny_applies(&self, statement: &Statement) -> bool {
        let github =
            |e: &Principal| (e.kind == "AWS" && e.value == "*") || (self.account.is_some() && self.own_provider(e));
        statement.effect == Effect::Deny
            && eval::covers_action(&statement.action, WEB_IDENTITY)
            && statement.principal.as_ref().is_some_and(|p| !p.negated && (p.any || p.entries.iter().any(github)))
    }
}
