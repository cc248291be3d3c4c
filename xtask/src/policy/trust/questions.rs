//! The questions the proof asks of one `sub` value, as languages: does it admit
//! only the release job's subjects (`within`), and nothing another repository can
//! write with a template of its own (`elsewhere`)? Each distinct value (with what
//! its statement takes away) is asked once: the answers are kept, so that
//! repeating values or statements does no work twice and cannot change what the
//! work budget lets the proof finish.
//!
//! Also here: how the policy's conditions on `sub` read as languages, and what its
//! sub-only Deny statements do to every Allow.

use std::collections::HashMap;

use super::{
    SUB,
    analysis::Analysis,
    grammar::{Ctx, Grammar, Who},
};
use crate::policy::{
    budget::Budget,
    document::{Condition, Effect, OpKind, Statement},
    glob,
    lang::{Lang, Outside, Searcher},
};

/// The sub conditions of one statement as languages.
#[derive(Clone)]
pub(super) struct SubConditions {
    /// The values of each positive condition (the condition admits any of them).
    pub(super) positive: Vec<Vec<Value>>,
    /// What each negated condition takes away.
    pub(super) negative: Vec<Lang>,
    /// The negated conditions' values, sorted: which statements take the same away.
    negative_key: String,
}

/// A condition value as written, how its operator reads it, and its language.
#[derive(Clone)]
pub(super) struct Value {
    pub(super) text: String,
    kind: OpKind,
    lang: Lang,
}

/// The answers about one value in one statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Verdict {
    /// Outside the release job's subjects (within GitHub's grammar).
    pub(super) within: Outside,
    /// Outside the subjects of the owner's repositories, for any template.
    pub(super) elsewhere: Outside,
}

impl Verdict {
    pub(super) fn proven(&self) -> bool {
        self.within == Outside::Covered && self.elsewhere == Outside::Covered
    }
}

/// A value and what was found about it.
pub(super) struct Asked {
    pub(super) value: String,
    pub(super) lang: Lang,
    pub(super) verdict: Verdict,
    key: Key,
}

/// A question's identity: the value, how it is read, and what is taken away.
type Key = (String, String, String);

/// The languages every question is asked against, and the answers so far.
pub(super) struct Questions<'a> {
    subjects: Lang,
    allowed: Lang,
    everything: Lang,
    ours: Lang,
    ours_any: Lang,
    restrict: Vec<Lang>,
    exclude_key: String,
    searcher: Searcher,
    budget: &'a Budget,
    verdicts: HashMap<Key, Verdict>,
    repositories: HashMap<Key, bool>,
}

impl<'a> Questions<'a> {
    /// `restrict`: what the sub-only Deny statements let through at most;
    /// `exclude_key` names what they take away from every statement; `named`:
    /// every other language the questions will be asked about, so that all of
    /// them are read over one alphabet and each automaton is built once.
    pub(super) fn new(
        grammar: &Grammar,
        restrict: Vec<Lang>,
        exclude_key: String,
        named: &[&Lang],
        budget: &'a Budget,
    ) -> Self {
        let subjects = grammar.lang(Who::Anyone, &Ctx::Any);
        let allowed = grammar.lang(Who::Repo, &Ctx::Allowed);
        // Another repository may write its subjects with a template of its own
        // (GitHub: "Customizing the subject claims"), so anything that does not
        // start as this repository's subjects, or is one of them, may be its.
        let everything = Lang::pattern("*");
        let ours = grammar.owners();
        let ours_any = grammar.lang(Who::Repo, &Ctx::Any);
        let mut langs: Vec<&Lang> = vec![&subjects, &allowed, &everything, &ours, &ours_any];
        langs.extend(&restrict);
        langs.extend(named);
        let searcher = Searcher::new(&langs);
        Questions {
            subjects,
            allowed,
            everything,
            ours,
            ours_any,
            restrict,
            exclude_key,
            searcher,
            budget,
            verdicts: HashMap::new(),
            repositories: HashMap::new(),
        }
    }

    /// The searcher of these questions, for more over the same languages.
    pub(super) fn searcher(&self) -> &Searcher {
        &self.searcher
    }

    pub(super) fn restrict(&self) -> &[Lang] {
        &self.restrict
    }

    /// The verdict on `value` in a statement that takes `taken` away (its negated
    /// conditions, then the Deny statements' exclusions).
    pub(super) fn ask(&mut self, value: &Value, sub: &SubConditions, taken: &[Lang]) -> Asked {
        let key =
            (value.text.clone(), format!("{:?}", value.kind), format!("{}\n{}", sub.negative_key, self.exclude_key));
        let verdict = match self.verdicts.get(&key) {
            Some(known) => known.clone(),
            None => {
                let verdict = Verdict {
                    within: self.outside(&value.lang, &self.subjects, &[&self.allowed], taken),
                    elsewhere: self.outside(
                        &value.lang,
                        &self.everything,
                        &[&self.allowed, &self.ours, &self.ours_any],
                        taken,
                    ),
                };
                self.verdicts.insert(key.clone(), verdict.clone());
                verdict
            }
        };
        Asked { value: value.text.clone(), lang: value.lang.clone(), verdict, key }
    }

    /// True when `asked`'s value admits only subjects of the release repository, in
    /// any context (which other claims may then pin).
    pub(super) fn repository(&mut self, asked: &Asked, taken: &[Lang]) -> bool {
        if let Some(known) = self.repositories.get(&asked.key) {
            return *known;
        }
        let answer = self.outside(&asked.lang, &self.subjects, &[&self.ours_any], taken) == Outside::Covered;
        self.repositories.insert(asked.key.clone(), answer);
        answer
    }

    /// Is every string of `lang` in `region` (and in what the Deny statements let
    /// through) in one of `inside` or `taken`?
    fn outside(&self, lang: &Lang, region: &Lang, inside: &[&Lang], taken: &[Lang]) -> Outside {
        let mut within: Vec<&Lang> = vec![lang, region];
        within.extend(&self.restrict);
        let mut covered: Vec<&Lang> = inside.to_vec();
        covered.extend(taken);
        self.searcher.outside(&within, &covered, self.budget)
    }
}

impl SubConditions {
    /// Every language of the conditions.
    pub(super) fn langs(&self) -> impl Iterator<Item = &Lang> {
        self.positive.iter().flatten().map(|it| &it.lang).chain(&self.negative)
    }
}

/// The language of one condition value, as its operator reads it. A policy
/// variable (`${…}`) could stand for anything, so it is read as `*`.
fn value_lang(kind: OpKind, value: &str) -> Lang {
    if glob::has_variable(value) {
        return Lang::pattern("*");
    }
    match kind {
        OpKind::StringLike | OpKind::StringNotLike => Lang::pattern(value),
        OpKind::StringEqualsIgnoreCase | OpKind::StringNotEqualsIgnoreCase => Lang::literal(value).fold(),
        _ => Lang::literal(value),
    }
}

fn negated(kind: OpKind) -> bool {
    matches!(kind, OpKind::StringNotEquals | OpKind::StringNotLike | OpKind::StringNotEqualsIgnoreCase)
}

/// The sub conditions of `statement`, each value once.
pub(super) fn sub_conditions(statement: &Statement) -> SubConditions {
    let mut out = SubConditions { positive: Vec::new(), negative: Vec::new(), negative_key: String::new() };
    let mut negative_values: Vec<String> = Vec::new();
    for condition in statement.conditions_on(SUB) {
        let kind = condition.operator.kind;
        let mut values: Vec<Value> = Vec::new();
        for text in &condition.values {
            if !values.iter().any(|it| it.text == *text) {
                values.push(Value { text: text.clone(), kind, lang: value_lang(kind, text) });
            }
        }
        if kind.restricts_subject() {
            out.positive.push(values);
        } else if negated(kind) {
            // A value with a policy variable (whatever the request holds) takes
            // nothing away: the cautious reading.
            let taken: Vec<Value> = values.into_iter().filter(|it| !glob::has_variable(&it.text)).collect();
            negative_values.extend(taken.iter().map(|it| format!("{kind:?} {}", it.text)));
            out.negative.push(taken.into_iter().fold(Lang::default(), |all, it| all.or(it.lang)));
        }
    }
    negative_values.sort();
    negative_values.dedup();
    out.negative_key = negative_values.join("\n");
    out
}

/// What the policy's Deny statements on `sub` alone do to every Allow: negated
/// conditions restrict (only the listed subjects can pass), one positive condition
/// excludes. Deny statements with other conditions apply only sometimes, so they are
/// left to the probes. Also a key that names what they exclude.
pub(super) fn deny_limits(analysis: &Analysis) -> (Vec<Lang>, Vec<Lang>, String) {
    let (mut restrict, mut exclude) = (Vec::new(), Vec::new());
    for statement in analysis.doc.statements.iter().filter(|it| it.effect == Effect::Deny) {
        if !plain_sub_deny(analysis, statement) {
            continue;
        }
        let conditions = statement.conditions.len();
        let sub = sub_conditions(statement);
        if sub.positive.is_empty() && sub.negative.len() == conditions {
            let lang = sub.negative.into_iter().fold(Lang::default(), Lang::or);
            restrict.push((sub.negative_key, lang));
        } else if sub.negative.is_empty() && sub.positive.len() == 1 && conditions == 1 {
            exclude
                .extend(sub.positive.into_iter().flatten().map(|it| (format!("{:?} {}", it.kind, it.text), it.lang)));
        }
    }
    // In one order whatever the document's, so that the searches are the same.
    restrict.sort_by(|a, b| a.0.cmp(&b.0));
    exclude.sort_by(|a, b| a.0.cmp(&b.0));
    exclude.dedup_by(|a, b| a.0 == b.0);
    let key = exclude.iter().map(|(key, _)| key.as_str()).collect::<Vec<_>>().join("\n");
    (restrict.into_iter().map(|it| it.1).collect(), exclude.into_iter().map(|it| it.1).collect(), key)
}

/// A Deny that certainly applies to GitHub's tokens and whose conditions are all
/// plain string tests on `sub` that the reading above understands (conditions are
/// ANDed: any other may make the Deny apply less often).
fn plain_sub_deny(analysis: &Analysis, statement: &Statement) -> bool {
    // A policy variable is replaced from the request, so what the Deny matches is
    // not known.
    let variable = statement.conditions.iter().flat_map(|it| &it.values).any(|v| glob::has_variable(v));
    let plain = |it: &Condition| {
        let op = &it.operator;
        it.key_lower() == SUB && op.set.is_none() && !op.if_exists && (op.kind.restricts_subject() || negated(op.kind))
    };
    analysis.deny_applies(statement)
        && !variable
        && !statement.conditions.is_empty()
        && statement.conditions.iter().all(plain)
}
