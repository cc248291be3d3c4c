//! A statement proven by its other claims: when its `sub` conditions admit more
//! than the release job (`repo:OWNER/REPO:*`, `repo:OWNER/*`), conditions on the
//! `repository` (or `repository_id`) claim and on the `environment` claim (or `ref`,
//! for tag pushes without one) can still pin it to the release job, in the
//! statement or as a Deny that refuses every other value. STS evaluates these claims
//! (AWS, January 2026: "AWS STS supports validation of identity provider claims"),
//! and GitHub writes them into every token whatever the repository's subject
//! template, so they hold for every token.

use super::{KEY_PREFIX, analysis::Analysis};
use crate::policy::{
    document::{Condition, OpKind, Statement},
    glob,
};

impl Analysis<'_> {
    /// True when `statement` admits only tokens of the release repository (by its
    /// sub, `repository_by_sub`, or by the claims) in the allowed context (by the
    /// claims).
    pub(super) fn pinned_by_claims(&self, statement: &Statement, repository_by_sub: bool) -> bool {
        let repo = &self.ctx.repo;
        let full = repo.full_name();
        // GitHub's names are case-insensitive, but the claim holds the name as
        // GitHub spells it, which the context has when GitHub was asked.
        let is_repo = |kind: OpKind, v: &str| if folds(kind) { v.eq_ignore_ascii_case(&full) } else { v == full };
        let is_id = |_: OpKind, v: &str| repo.name_id.as_deref() == Some(v);
        let repository = repository_by_sub
            || self.pins(statement, "repository", &is_repo)
            || self.pins(statement, "repository_id", &is_id);
        let context = match &self.ctx.environment {
            Some(env) => {
                let is_env = |kind: OpKind, v: &str| if folds(kind) { v.eq_ignore_ascii_case(env) } else { v == env };
                self.pins(statement, "environment", &is_env)
            }
            // Written out up to the `v`, any pattern after it is a `v*` tag.
            None => self.pins(statement, "ref", &|_, v: &str| v.starts_with("refs/tags/v")),
        };
        repository && context
    }

    /// True when claim `name` can only hold values that `ours` accepts in a token
    /// `statement` admits: a plain positive condition of the statement says so
    /// (conditions are ANDed, values ORed), or a Deny that certainly applies
    /// refuses every token whose claim is not one of them.
    fn pins(&self, statement: &Statement, name: &str, ours: &dyn Fn(OpKind, &str) -> bool) -> bool {
        let key = format!("{KEY_PREFIX}{name}");
        // IfExists passes a token without the claim (a job without an environment
        // has none), and a set operator an empty set. Only `ref` may be a pattern.
        let only_ours = |it: &Condition, kinds: &[OpKind]| {
            let op = &it.operator;
            let literal = name == "ref"
                || !matches!(op.kind, OpKind::StringLike | OpKind::StringNotLike)
                || it.values.iter().all(|v| !glob::has_wildcard(v));
            op.set.is_none()
                && !op.if_exists
                && kinds.contains(&op.kind)
                && literal
                && !it.values.is_empty()
                && it.values.iter().all(|v| !glob::has_variable(v) && ours(op.kind, v))
        };
        let positive = [OpKind::StringEquals, OpKind::StringEqualsIgnoreCase, OpKind::StringLike];
        let negated = [OpKind::StringNotEquals, OpKind::StringNotEqualsIgnoreCase, OpKind::StringNotLike];
        statement.conditions_on(&key).any(|it| only_ours(it, &positive))
            || self.doc.statements.iter().filter(|it| self.deny_applies(it)).any(|deny| {
                // The Deny's only condition: a negated test is true for every other
                // value and for a missing claim, so whatever it leaves is ours.
                deny.conditions.len() == 1 && deny.conditions_on(&key).any(|it| only_ours(it, &negated))
            })
    }
}

fn folds(kind: OpKind) -> bool {
    matches!(kind, OpKind::StringEqualsIgnoreCase | OpKind::StringNotEqualsIgnoreCase)
}
