//! What the `sub` conditions of a trust policy admit, proved on the grammar of the
//! subjects GitHub writes (`grammar`, `policy::lang`) rather than tried on examples.
//!
//! A statement is proven when every subject that one of its positive `sub`
//! conditions admits (less what its negated ones and the policy's sub-only Deny
//! statements take away) belongs to the configured repository, in either form and
//! any letter case of the names, and to an allowed context: the release
//! environment, or `ref:refs/tags/v*` without one. A condition admits the union of
//! its values, so it is proven when each value is: the questions are asked value
//! by value (`questions`), each distinct one once, so that repeating a value, or
//! splitting a statement into several, asks nothing new.
//!
//! What is not proven is described by counter-examples in three regions (another
//! owner, another repository of the owner, another context of the repository), for
//! every kind of context: `probes` turns them into tokens, which the whole policy,
//! other claims included, then judges. Which values get counter-examples is chosen
//! in the values' sorted order, never in the order the document lists them.

use super::{
    analysis::{Analysis, github_facing},
    grammar::{Ctx, Grammar, Who},
    questions::{Asked, Questions, SubConditions, Verdict, deny_limits, sub_conditions},
};
use crate::policy::{
    budget::Budget,
    document::Statement,
    lang::{self, Lang, Outside},
};

/// How many offending values get counter-examples in every region.
const MAX_WITNESSED: usize = 8;

/// How many offending values have their own shortest counter-example tried as a
/// token. A value past it is left undecided (`trust.unproven`).
const MAX_TRIED: usize = 128;

/// The work the counter-examples of one value in every region may take: they only
/// add tokens to try (the value is known to offend already), so running out of
/// this is no failure.
const REGION_WORK: u64 = 25_000;

/// What the proof found.
#[derive(Debug, Clone, Default)]
pub(super) struct Proof {
    /// The template says which repository and context a subject is for (it has
    /// `repo` and `context`), and every GitHub-facing statement is proven.
    pub(super) proven: bool,
    /// The sub values (as written, sorted) that admit subjects outside, with the
    /// shortest such subject when the search finished.
    pub(super) offending: Vec<(String, Option<String>)>,
    /// Counter-examples of the offending values, to try as tokens: each value's
    /// own (the first `MAX_TRIED`), and more in every region and context.
    pub(super) witnesses: Vec<String>,
    /// Values the proof could not decide (the work budget ran out): nothing is
    /// known of what they admit.
    pub(super) unsearched: Vec<String>,
    /// Values that admit subjects another repository writes with a subject
    /// template of its own (each repository chooses one), with such a subject.
    pub(super) foreign_template: Vec<(String, String)>,
    /// Some statement is proven only with its conditions on other claims.
    pub(super) by_claims: bool,
}

/// An offending value, with what its counter-examples are searched within.
struct Open {
    value: String,
    witness: Option<String>,
    lang: Lang,
    taken: Vec<Lang>,
}

impl Analysis<'_> {
    /// Proves what the sub conditions of the GitHub-facing statements admit.
    pub(super) fn prove_subjects(&self) -> Proof {
        let Some(grammar) = Grammar::new(self.ctx, &self.template) else { return Proof::default() };
        let (restrict, exclude, exclude_key) = deny_limits(self);
        let statements: Vec<(&Statement, SubConditions)> =
            self.doc.statements.iter().filter(|it| github_facing(it)).map(|it| (it, sub_conditions(it))).collect();
        let regions = self.region_langs(&grammar);
        let mut named: Vec<&Lang> = statements.iter().flat_map(|(_, sub)| sub.langs()).collect();
        named.extend(exclude.iter().chain(&regions));
        let mut questions = Questions::new(&grammar, restrict, exclude_key, &named, &self.budgets.search);
        let mut proof = Proof { proven: true, ..Proof::default() };
        let mut open: Vec<Open> = Vec::new();
        let mut elsewhere: Vec<(String, String)> = Vec::new();
        for (statement, sub) in &statements {
            let mut taken = sub.negative.clone();
            taken.extend(exclude.iter().cloned());
            let asked: Vec<Vec<Asked>> = sub
                .positive
                .iter()
                .map(|values| values.iter().map(|it| questions.ask(it, sub, &taken)).collect())
                .collect();
            if asked.iter().any(|values| values.iter().all(|it| it.verdict.proven())) {
                continue;
            }
            // The repository alone: the context may then come from other claims.
            let repository_by_sub = self.pinned_by_claims(statement, true)
                && asked.iter().any(|values| {
                    values.iter().all(|it| it.verdict.elsewhere == Outside::Covered && questions.repository(it, &taken))
                });
            if self.pinned_by_claims(statement, repository_by_sub) {
                proof.by_claims = true;
                continue;
            }
            proof.proven = false;
            for it in asked.into_iter().flatten() {
                proof.note(&it, &taken, &mut open, &mut elsewhere);
            }
        }
        self.describe_open(&grammar, &questions, open, &mut proof);
        elsewhere.sort();
        elsewhere.dedup_by(|a, b| a.0 == b.0);
        elsewhere.truncate(MAX_WITNESSED);
        proof.foreign_template = elsewhere;
        proof.unsearched.sort();
        proof.unsearched.dedup();
        proof
    }

    /// The offending values in sorted order, with their counter-examples.
    fn describe_open(&self, grammar: &Grammar, questions: &Questions, mut open: Vec<Open>, proof: &mut Proof) {
        open.sort_by(|a, b| a.value.cmp(&b.value));
        open.dedup_by(|a, b| a.value == b.value);
        for (i, it) in open.into_iter().enumerate() {
            if i < MAX_TRIED
                && let Some(witness) = &it.witness
            {
                proof.witnesses.push(witness.clone());
            }
            if i < MAX_WITNESSED && it.witness.is_some() {
                let taken: Vec<&Lang> = it.taken.iter().collect();
                proof.witnesses.extend(self.region_witnesses(grammar, questions, &it.lang, &taken));
            }
            proof.offending.push((it.value, it.witness));
        }
        let mut seen = std::collections::HashSet::new();
        proof.witnesses.retain(|it| seen.insert(it.clone()));
    }

    /// The contexts counter-examples are searched in, in each region.
    fn region_contexts(&self) -> Vec<Ctx> {
        let mut contexts = vec![Ctx::Environment(None), Ctx::PullRequest, Ctx::Ref(None)];
        contexts.push(Ctx::Ref(Some(self.ctx.release_ref.clone())));
        if let Some(env) = &self.ctx.environment {
            contexts.push(Ctx::Environment(Some(env.clone())));
        }
        contexts
    }

    /// Every language `region_witnesses` searches in.
    fn region_langs(&self, grammar: &Grammar) -> Vec<Lang> {
        let mut out = Vec::new();
        for context in &self.region_contexts() {
            for immutable in [false, true] {
                for who in [Who::Anyone, Who::Owner, Who::Repo] {
                    out.push(grammar.form(immutable, who, context));
                }
            }
        }
        out
    }

    /// Counter-examples of `lang` in each region and context kind: another owner's
    /// repository, another repository of the owner, another context of the release
    /// repository.
    fn region_witnesses(&self, grammar: &Grammar, questions: &Questions, lang: &Lang, taken: &[&Lang]) -> Vec<String> {
        let allowed = grammar.lang(Who::Repo, &Ctx::Allowed);
        let budget = Budget::new(REGION_WORK);
        let mut out: Vec<String> = Vec::new();
        for context in &self.region_contexts() {
            for immutable in [false, true] {
                let regions = [
                    (grammar.form(immutable, Who::Anyone, context), grammar.form(immutable, Who::Owner, context)),
                    (grammar.form(immutable, Who::Owner, context), grammar.form(immutable, Who::Repo, context)),
                    (grammar.form(immutable, Who::Repo, context), allowed.clone()),
                ];
                for (region, inside) in &regions {
                    let mut within: Vec<&Lang> = vec![lang, region];
                    within.extend(questions.restrict());
                    let mut covered: Vec<&Lang> = vec![inside];
                    covered.extend(taken);
                    if let Outside::Witness(w) = questions.searcher().outside(&within, &covered, &budget)
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
    pub(super) fn boundary_crossing(
        &self,
        value: &str,
        budget: &crate::policy::budget::Budget,
    ) -> Option<(String, char)> {
        let grammar = Grammar::new(self.ctx, &self.template)?;
        let (subject, at) = lang::crossing(&Lang::pattern(value), &grammar.lang(Who::Anyone, &Ctx::Any), budget)?;
        let separator = subject.chars().nth(at)?;
        Some((subject, separator))
    }
}

impl Proof {
    /// What the questions about one value of a statement that is not proven found.
    fn note(&mut self, asked: &Asked, taken: &[Lang], open: &mut Vec<Open>, elsewhere: &mut Vec<(String, String)>) {
        let Verdict { within, elsewhere: outside_ours } = &asked.verdict;
        match outside_ours {
            Outside::Witness(w) => elsewhere.push((asked.value.clone(), w.clone())),
            Outside::Unknown => self.unsearched.push(asked.value.clone()),
            Outside::Covered => {}
        }
        let witness = match within {
            Outside::Covered => return,
            Outside::Witness(w) => Some(w.clone()),
            Outside::Unknown => {
                self.unsearched.push(asked.value.clone());
                None
            }
        };
        open.push(Open { value: asked.value.clone(), witness, lang: asked.lang.clone(), taken: taken.to_vec() });
    }
}
