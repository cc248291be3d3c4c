//! What the `sub` conditions of a trust policy admit, proved on the grammar of the
//! subjects GitHub writes (`policy::lang`) rather than tried on examples.
//!
//! Under the default template a subject is `repo:OWNER/REPO:CONTEXT` or, immutable,
//! `repo:OWNER@ID/REPO@ID:CONTEXT`, where CONTEXT is `environment:NAME`,
//! `pull_request` or `ref:REF`, and no value holds a `:` (GitHub writes `%3A`); a
//! custom template joins its claims the same way. A statement is proven when every
//! subject that one of its positive `sub` conditions admits (less what its negated
//! ones and the policy's sub-only Deny statements take away) belongs to the
//! configured repository, in either form and any letter case of the names, and to an
//! allowed context: the release environment, or `ref:refs/tags/v*` without one.
//!
//! What is not proven is described by counter-examples in three regions (another
//! owner, another repository of the owner, another context of the repository), for
//! every kind of context: `probes` turns them into tokens, which the whole policy,
//! other claims included, then judges.

use super::{
    SUB, TrustContext,
    analysis::{Analysis, github_facing},
    scenario,
};
use crate::policy::{
    document::{Condition, Effect, OpKind, Principal, Statement},
    eval, glob,
    lang::{self, Budget, Class, Lang, Outside, Seq},
};

/// How many offending values get counter-examples in every region.
const MAX_WITNESSED: usize = 8;

/// Whose subjects a part of the grammar spans.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Who {
    Anyone,
    /// The configured owner, any repository.
    Owner,
    /// The configured repository.
    Repo,
}

/// Which contexts a part of the grammar spans.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Ctx {
    Any,
    /// The release environment, or the release tags without one.
    Allowed,
    Environment(Option<String>),
    PullRequest,
    Ref(Option<String>),
}

/// The subjects of one subject template, for one repository.
pub(super) struct Grammar<'a> {
    ctx: &'a TrustContext,
    template: &'a [String],
}

impl<'a> Grammar<'a> {
    /// `None` when the template has no `repo` or no `context` claim: its subjects do
    /// not say which repository and context they are for (T14 reports that).
    pub(super) fn new(ctx: &'a TrustContext, template: &'a [String]) -> Option<Grammar<'a>> {
        let has = |key: &str| template.iter().any(|it| it == key);
        (has("repo") && has("context")).then_some(Grammar { ctx, template })
    }

    /// The subjects of `who` in `context`, in both forms.
    pub(super) fn lang(&self, who: Who, context: &Ctx) -> Lang {
        self.form(false, who, context).or(self.form(true, who, context))
    }

    /// The subjects of `who` in `context`, in the name-only or the immutable form.
    pub(super) fn form(&self, immutable: bool, who: Who, context: &Ctx) -> Lang {
        let mut fields: Vec<Vec<Seq>> = Vec::new();
        for key in self.template {
            fields.push(match key.as_str() {
                "repo" => vec![self.repo_field(immutable, who)],
                "context" => self.context_field(context),
                other => vec![Seq::new().text(other).sep(':').any(Class::Value)],
            });
        }
        let mut seqs = vec![Seq::new()];
        for (i, alternatives) in fields.iter().enumerate() {
            let mut next = Vec::new();
            for seq in &seqs {
                for alternative in alternatives {
                    let joined = if i == 0 { seq.clone() } else { seq.clone().sep(':') };
                    next.push(joined.then(alternative));
                }
            }
            seqs = next;
        }
        seqs.into_iter().fold(Lang::default(), |lang, seq| lang.or(seq.lang()))
    }

    /// Every string that starts as the subjects of the owner's repositories do
    /// (`repo:OWNER/` or `repo:OWNER@ID/`, the key in any case): whatever follows,
    /// no other owner's repository can write it, whatever its template, and the
    /// owner's own are the default grammar's concern.
    pub(super) fn owners(&self) -> Lang {
        let repo = &self.ctx.repo;
        let owner = Seq::new().caseless("repo").sep(':').caseless(&repo.owner);
        let immutable = match &repo.owner_id {
            Some(id) => owner.clone().text("@").text(id),
            None => owner.clone().text("@").some(Class::Digit),
        };
        let rest = |seq: Seq| seq.sep('/').any(Class::Any).lang();
        rest(owner).or(rest(immutable))
    }

    fn repo_field(&self, immutable: bool, who: Who) -> Seq {
        // The configured ids when known: other ids are another (perhaps recreated)
        // owner or repository, which is what the immutable form tells apart.
        let id = |seq: Seq, known: Option<&String>| match (immutable, known) {
            (false, _) => seq,
            (true, Some(id)) => seq.text("@").text(id),
            (true, None) => seq.text("@").some(Class::Digit),
        };
        let repo = &self.ctx.repo;
        let owner = Seq::new().text("repo").sep(':');
        let (owner, owner_id) = match who {
            Who::Anyone => (owner.some(Class::Name), None),
            _ => (owner.caseless(&repo.owner), repo.owner_id.as_ref()),
        };
        let name = id(owner, owner_id).sep('/');
        let (name, name_id) = match who {
            Who::Repo => (name.caseless(&repo.name), repo.name_id.as_ref()),
            _ => (name.some(Class::Name), None),
        };
        id(name, name_id)
    }

    fn context_field(&self, context: &Ctx) -> Vec<Seq> {
        let env = |name: Option<&str>| {
            let seq = Seq::new().text("environment").sep(':');
            match name {
                Some(name) => seq.caseless(&scenario::encode(name)),
                None => seq.some(Class::Value),
            }
        };
        let git_ref = |name: Option<&str>| {
            let seq = Seq::new().text("ref").sep(':');
            match name {
                Some(name) => seq.text(name),
                None => seq.text("refs/").some(Class::Value),
            }
        };
        match context {
            // Any ref at all, so the proof covers every subject GitHub could write;
            // counter-examples take `refs/…` ones (`Ctx::Ref`), which read better.
            Ctx::Any => {
                vec![env(None), Seq::new().text("pull_request"), Seq::new().text("ref").sep(':').some(Class::Value)]
            }
            Ctx::Allowed => match &self.ctx.environment {
                Some(name) => vec![env(Some(name))],
                None if self.ctx.release_ref.starts_with("refs/tags/v") => {
                    vec![Seq::new().text("ref").sep(':').text("refs/tags/v").any(Class::Value)]
                }
                None => vec![git_ref(Some(&self.ctx.release_ref))],
            },
            Ctx::Environment(name) => vec![env(name.as_deref())],
            Ctx::PullRequest => vec![Seq::new().text("pull_request")],
            Ctx::Ref(name) => vec![git_ref(name.as_deref())],
        }
    }
}

/// What the proof found.
#[derive(Debug, Clone, Default)]
pub(super) struct Proof {
    /// The template says which repository and context a subject is for (it has
    /// `repo` and `context`), and every GitHub-facing statement is proven.
    pub(super) proven: bool,
    /// The sub values (as written) that admit subjects outside, with the shortest
    /// such subject when the search finished.
    pub(super) offending: Vec<(String, Option<String>)>,
    /// Counter-examples of the offending values in every region and context.
    pub(super) witnesses: Vec<String>,
    /// Values the proof could not decide (too many wildcards, or the work budget
    /// ran out): nothing is known of what they admit.
    pub(super) unsearched: Vec<String>,
    /// Values that admit subjects another repository writes with a subject
    /// template of its own (each repository chooses one), with such a subject.
    pub(super) foreign_template: Vec<(String, String)>,
    /// Some statement is proven only with its conditions on other claims.
    pub(super) by_claims: bool,
}

impl Proof {
    /// What the search for subjects of other repositories' templates found.
    fn note_elsewhere(&mut self, value: &str, found: Option<Outside>) {
        match found {
            Some(Outside::Witness(w)) => {
                let known = self.foreign_template.iter().any(|(v, _)| v == value);
                if self.foreign_template.len() < MAX_WITNESSED && !known {
                    self.foreign_template.push((value.to_owned(), w));
                }
            }
            Some(Outside::Unknown) | None => self.note_unsearched(value),
            Some(Outside::Covered) => {}
        }
    }

    fn note_unsearched(&mut self, value: &str) {
        if !self.unsearched.iter().any(|it| it == value) {
            self.unsearched.push(value.to_owned());
        }
    }
}

/// The sub conditions of one statement as languages; `None` for a value with more
/// wildcards than a subject pattern ever needs, which the searches would take long
/// over (such a value is not proven, and the probes judge it).
struct SubConditions {
    /// One language per positive condition (any of its values).
    positive: Vec<(Option<Lang>, Vec<Value>)>,
    /// What the negated conditions take away.
    negative: Vec<Lang>,
}

/// A condition value as written, and its language.
type Value = (String, Option<Lang>);

/// More `*` than this in one value (runs of `*` count once, as IAM reads them the
/// same), or more `?`, and it is not searched: the proof then fails closed
/// (`trust.unproven`), it never passes a value it did not read.
const MAX_STARS: usize = 8;
const MAX_ONES: usize = 32;

/// The language of one condition value, as its operator reads it. A policy
/// variable (`${…}`) could stand for anything, so it is read as `*`.
fn value_lang(kind: OpKind, value: &str) -> Option<Lang> {
    let toks = glob::pattern(value);
    let stars = toks.iter().filter(|it| **it == glob::Tok::Star).count();
    let ones = toks.iter().filter(|it| **it == glob::Tok::One).count();
    let like = matches!(kind, OpKind::StringLike | OpKind::StringNotLike);
    (!like || (stars <= MAX_STARS && ones <= MAX_ONES)).then(|| read_value(kind, value))
}

fn read_value(kind: OpKind, value: &str) -> Lang {
    if glob::has_variable(value) {
        return Lang::pattern("*");
    }
    match kind {
        OpKind::StringLike | OpKind::StringNotLike => Lang::pattern(value),
        OpKind::StringEqualsIgnoreCase | OpKind::StringNotEqualsIgnoreCase => Lang::literal(value).fold(),
        _ => Lang::literal(value),
    }
}

fn sub_conditions(statement: &Statement) -> SubConditions {
    let mut out = SubConditions { positive: Vec::new(), negative: Vec::new() };
    for condition in statement.conditions_on(SUB) {
        let kind = condition.operator.kind;
        let values: Vec<Value> = condition.values.iter().map(|v| (v.clone(), value_lang(kind, v))).collect();
        if kind.restricts_subject() {
            let union = values.iter().try_fold(Lang::default(), |lang, (_, it)| Some(lang.or(it.clone()?)));
            out.positive.push((union, values));
        } else if matches!(kind, OpKind::StringNotEquals | OpKind::StringNotLike | OpKind::StringNotEqualsIgnoreCase) {
            // A value not searched, or one with a policy variable (whatever the
            // request holds), takes nothing away: the cautious reading.
            let taken = values.into_iter().filter(|(v, _)| !glob::has_variable(v)).filter_map(|(_, it)| it);
            out.negative.push(taken.fold(Lang::default(), Lang::or));
        }
    }
    out
}

/// What the policy's Deny statements on `sub` alone do to every Allow: negated
/// conditions restrict (only the listed subjects can pass), one positive condition
/// excludes. Deny statements with other conditions apply only sometimes, so they are
/// left to the probes.
fn deny_limits(analysis: &Analysis) -> (Vec<Lang>, Vec<Lang>) {
    let (mut restrict, mut exclude) = (Vec::new(), Vec::new());
    for statement in analysis.doc.statements.iter().filter(|it| it.effect == Effect::Deny) {
        // A policy variable is replaced from the request, so what the Deny matches
        // is not known.
        let variable = statement.conditions.iter().flat_map(|it| &it.values).any(|v| glob::has_variable(v));
        let applies = analysis.deny_applies(statement);
        let conditions: Vec<&Condition> = statement.conditions.iter().collect();
        // Conditions are ANDed: every one must be a plain string test on sub that
        // the reading below understands, or the Deny may apply less often.
        let plain = |it: &&Condition| {
            let op = &it.operator;
            it.key_lower() == SUB
                && op.set.is_none()
                && !op.if_exists
                && (op.kind.restricts_subject()
                    || matches!(
                        op.kind,
                        OpKind::StringNotEquals | OpKind::StringNotLike | OpKind::StringNotEqualsIgnoreCase
                    ))
        };
        if !applies || variable || conditions.is_empty() || !conditions.iter().all(plain) {
            continue;
        }
        let sub = sub_conditions(statement);
        let searched =
            statement.conditions.iter().flat_map(|it| &it.values).all(|v| value_lang(OpKind::StringLike, v).is_some());
        if !searched {
            continue;
        }
        if sub.positive.is_empty() && sub.negative.len() == conditions.len() {
            restrict.push(sub.negative.into_iter().fold(Lang::default(), Lang::or));
        } else if sub.negative.is_empty() && sub.positive.len() == 1 && conditions.len() == 1 {
            exclude.extend(sub.positive.into_iter().filter_map(|(lang, _)| lang));
        }
    }
    (restrict, exclude)
}

impl Analysis<'_> {
    /// True for a Deny that certainly applies to GitHub's tokens, so that it may
    /// narrow a proof: for everyone, or GitHub's provider in the role's account
    /// (when that is not known, the account of the providers the Allow statements
    /// trust), and for `sts:AssumeRoleWithWebIdentity`.
    pub(super) fn deny_applies(&self, statement: &Statement) -> bool {
        let account = self.role_account();
        let github = |e: &Principal| {
            (e.kind == "AWS" && e.value == "*")
                || (e.kind == "Federated"
                    && eval::github_provider_account(&e.value).is_some_and(|it| account.as_deref() == Some(&it)))
        };
        statement.effect == Effect::Deny
            && eval::covers_action(&statement.action, super::WEB_IDENTITY)
            && statement.principal.as_ref().is_some_and(|p| !p.negated && (p.any || p.entries.iter().any(github)))
    }

    /// Proves what the sub conditions of the GitHub-facing statements admit.
    pub(super) fn prove_subjects(&self) -> Proof {
        let Some(grammar) = Grammar::new(self.ctx, &self.template) else { return Proof::default() };
        let subjects = grammar.lang(Who::Anyone, &Ctx::Any);
        let allowed = grammar.lang(Who::Repo, &Ctx::Allowed);
        // Another repository may write its subjects with a template of its own
        // (GitHub: "Customizing the subject claims"), so anything that does not
        // start as this repository's subjects, or is one of them, may be its.
        let (everything, ours, ours_any) = (Lang::pattern("*"), grammar.owners(), grammar.lang(Who::Repo, &Ctx::Any));
        let (restrict, exclude) = deny_limits(self);
        let budget = Budget::default();
        let mut proof = Proof { proven: true, ..Proof::default() };
        for statement in self.doc.statements.iter().filter(|it| github_facing(it)) {
            let sub = sub_conditions(statement);
            let mut covered: Vec<&Lang> = vec![&allowed];
            covered.extend(sub.negative.iter().chain(&exclude));
            let within = |lang: &Lang| {
                let mut all: Vec<&Lang> = vec![lang, &subjects];
                all.extend(&restrict);
                lang::outside(&all, &covered, &budget)
            };
            let elsewhere = |lang: &Lang| {
                let mut all: Vec<&Lang> = vec![lang, &everything];
                all.extend(&restrict);
                let mut theirs = covered.clone();
                theirs.extend([&ours, &ours_any]);
                lang::outside(&all, &theirs, &budget)
            };
            let proven = |lang: &Lang| within(lang) == Outside::Covered && elsewhere(lang) == Outside::Covered;
            // The repository alone: the context may then come from other claims.
            let repository = |lang: &Lang| {
                let mut all: Vec<&Lang> = vec![lang, &subjects];
                all.extend(&restrict);
                let mut ours: Vec<&Lang> = vec![&ours_any];
                ours.extend(&covered[1..]);
                lang::outside(&all, &ours, &budget) == Outside::Covered && elsewhere(lang) == Outside::Covered
            };
            let repository_by_sub = sub.positive.iter().any(|(lang, _)| lang.as_ref().is_some_and(repository));
            if sub.positive.iter().any(|(lang, _)| lang.as_ref().is_some_and(proven)) {
                continue;
            }
            if self.pinned_by_claims(statement, repository_by_sub) {
                proof.by_claims = true;
                continue;
            }
            proof.proven = false;
            for (value, lang) in sub.positive.iter().flat_map(|(_, values)| values) {
                proof.note_elsewhere(value, lang.as_ref().map(elsewhere));
                let witness = match lang.as_ref().map(within) {
                    Some(Outside::Covered) => continue,
                    Some(Outside::Witness(w)) => Some(w),
                    Some(Outside::Unknown) | None => None,
                };
                if witness.is_none() {
                    proof.note_unsearched(value);
                }
                if !proof.offending.iter().any(|(v, _)| v == value) {
                    // Counter-examples of a few values are enough to name whom they
                    // admit, and bound the work on a policy full of patterns.
                    if let Some(lang) = lang
                        && witness.is_some()
                        && proof.offending.len() < MAX_WITNESSED
                    {
                        let taken = &covered[1..];
                        proof.witnesses.extend(self.region_witnesses(&grammar, lang, &restrict, taken, &budget));
                    }
                    proof.offending.push((value.clone(), witness));
                }
            }
        }
        proof.witnesses.dedup();
        proof
    }

    /// Counter-examples of `lang` in each region and context kind: another owner's
    /// repository, another repository of the owner, another context of the release
    /// repository.
    fn region_witnesses(
        &self,
        grammar: &Grammar,
        lang: &Lang,
        restrict: &[Lang],
        taken: &[&Lang],
        budget: &Budget,
    ) -> Vec<String> {
        let env = self.ctx.environment.clone();
        let mut contexts = vec![Ctx::Environment(None), Ctx::PullRequest, Ctx::Ref(None)];
        contexts.push(Ctx::Ref(Some(self.ctx.release_ref.clone())));
        if env.is_some() {
            contexts.push(Ctx::Environment(env));
        }
        let allowed = grammar.lang(Who::Repo, &Ctx::Allowed);
        let mut out: Vec<String> = Vec::new();
        for context in &contexts {
            for immutable in [false, true] {
                let regions = [
                    (grammar.form(immutable, Who::Anyone, context), grammar.form(immutable, Who::Owner, context)),
                    (grammar.form(immutable, Who::Owner, context), grammar.form(immutable, Who::Repo, context)),
                    (grammar.form(immutable, Who::Repo, context), allowed.clone()),
                ];
                for (region, inside) in &regions {
                    let mut within: Vec<&Lang> = vec![lang, region];
                    within.extend(restrict);
                    let mut covered: Vec<&Lang> = vec![inside];
                    covered.extend(taken);
                    if let Outside::Witness(w) = lang::outside(&within, &covered, budget)
                        && !out.contains(&w)
                    {
                        out.push(w);
                    }
                }
            }
        }
        out
    }

    /// A subject of `value` (a `StringLike` pattern) in which a wildcard stands for
    /// a separator of the grammar, and that separator.
    pub(super) fn boundary_crossing(&self, value: &str, budget: &Budget) -> Option<(String, char)> {
        let grammar = Grammar::new(self.ctx, &self.template)?;
        let (subject, at) = lang::crossing(&Lang::pattern(value), &grammar.lang(Who::Anyone, &Ctx::Any), budget)?;
        let separator = subject.chars().nth(at)?;
        Some((subject, separator))
    }
}
