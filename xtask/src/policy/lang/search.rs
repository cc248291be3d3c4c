//! The searches over languages: `outside` (containment, with the shortest
//! counter-example) and `crossing` (a wildcard that stands for a separator).
//!
//! `outside` explores the product of the automata breadth first, so the first
//! counter-example found is a shortest one. Each language runs as a bit-parallel
//! automaton (`Nfa`): its positions are bits, and reading a character is a few
//! word operations per 64 positions, so a step costs the same whatever the
//! wildcards. Every expanded state spends from the analysis' `Budget`; when it
//! runs out the answer is `Unknown`, which every caller reads as the worst.

use std::{
    cell::RefCell,
    collections::{HashMap, HashSet},
    rc::Rc,
};

use super::{
    Atom, Lang,
    nfa::{self, Alphabet, Fx, Nfa},
};
use crate::policy::budget::Budget;

/// Beyond this many states one search gives up (`Unknown`): the memory a search
/// may hold, whatever is left of the budget.
const MAX_STATES: usize = 100_000;

/// What `outside` found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Outside {
    /// Every string of the `within` languages is covered.
    Covered,
    /// The shortest string in all `within` languages and in no `covered` one.
    Witness(String),
    /// The search was too large to finish; assume the worst.
    Unknown,
}

/// True when `text` is in `lang`.
#[cfg(test)]
pub(super) fn matches(lang: &Lang, text: &str) -> bool {
    nfa::matches(lang, text)
}

/// Is every string that all of `within` match also matched by one of `covered`?
#[cfg(test)]
pub(crate) fn outside(within: &[&Lang], covered: &[&Lang], budget: &Budget) -> Outside {
    let all: Vec<&Lang> = within.iter().chain(covered).copied().collect();
    Searcher::new(&all).outside(within, covered, budget)
}

/// Searches over one alphabet, with each language's automaton built once: the
/// trust analysis asks many questions of the same grammar, and building its
/// automata would otherwise cost more than the questions.
pub(crate) struct Searcher {
    alphabet: Alphabet,
    nfas: RefCell<HashMap<Lang, Rc<Nfa>>>,
}

impl Searcher {
    /// A searcher for questions about `langs` (and languages that name no other
    /// character).
    pub(crate) fn new(langs: &[&Lang]) -> Searcher {
        Searcher { alphabet: Alphabet::of(langs), nfas: RefCell::new(HashMap::new()) }
    }

    /// The automaton of `lang`; building it spends from `budget`.
    fn compile(&self, lang: &Lang, budget: &Budget) -> Option<Rc<Nfa>> {
        if let Some(nfa) = self.nfas.borrow().get(lang) {
            return Some(nfa.clone());
        }
        if !budget.spend(nfa::build_cost(lang, &self.alphabet)) {
            return None;
        }
        let nfa = Rc::new(Nfa::new(lang, &self.alphabet));
        self.nfas.borrow_mut().insert(lang.clone(), nfa.clone());
        Some(nfa)
    }

    /// Is every string that all of `within` match also matched by one of
    /// `covered`? `Unknown` when `budget` runs out (or a language names a
    /// character the searcher was not made for).
    pub(crate) fn outside(&self, within: &[&Lang], covered: &[&Lang], budget: &Budget) -> Outside {
        let mut nfas: Vec<Rc<Nfa>> = Vec::with_capacity(within.len() + covered.len());
        for lang in within.iter().chain(covered) {
            if !self.alphabet.covers(lang) {
                return Outside::Unknown;
            }
            let Some(nfa) = self.compile(lang, budget) else { return Outside::Unknown };
            nfas.push(nfa);
        }
        // One string (a `StringEquals` value): it is the only candidate.
        if let Some(text) = within.first().and_then(|it| nfa::literal(it)) {
            let width: usize = nfas.iter().map(|it| it.words).sum();
            if !budget.spend((text.chars().count() * (width + nfas.len())) as u64 + 1) {
                return Outside::Unknown;
            }
            let accepts = |nfa: &Nfa| nfa.runs_over(&self.alphabet, &text);
            let inside =
                nfas[..within.len()].iter().all(|it| accepts(it)) && !nfas[within.len()..].iter().any(|it| accepts(it));
            return if inside { Outside::Witness(text) } else { Outside::Covered };
        }
        let nfas: Vec<&Nfa> = nfas.iter().map(|it| it.as_ref()).collect();
        // Telling the characters apart reads every automaton's masks once.
        let masks: usize = nfas.iter().map(|it| it.words).sum();
        if !budget.spend((self.alphabet.chars.len() * masks / 8) as u64 + 1) {
            return Outside::Unknown;
        }
        let chars = nfa::distinct(&self.alphabet, &nfas);
        // A state is the positions of every automaton, end to end.
        let spans: Vec<(usize, usize)> = nfas
            .iter()
            .scan(0, |at, nfa| {
                let span = (*at, *at + nfa.words);
                *at += nfa.words;
                Some(span)
            })
            .collect();
        let start: Rc<[u64]> = nfas.iter().flat_map(|it| it.start.iter().copied()).collect();
        let product =
            Product { nfas: &nfas, within: within.len(), spans: &spans, chars: &chars, alphabet: &self.alphabet.chars };
        product.search(start, budget)
    }
}

/// The automata of one containment question, and the characters worth trying.
struct Product<'a> {
    /// The `within` automata, then the `covered` ones.
    nfas: &'a [&'a Nfa],
    within: usize,
    spans: &'a [(usize, usize)],
    chars: &'a [usize],
    alphabet: &'a [char],
}

impl Product<'_> {
    /// Breadth first from `start`: the first state where every `within`
    /// automaton accepts and no `covered` one does ends a shortest
    /// counter-example.
    fn search(&self, start: Rc<[u64]>, budget: &Budget) -> Outside {
        let width = self.spans.last().map_or(0, |it| it.1);
        let mut index: HashSet<Rc<[u64]>, Fx> = HashSet::with_hasher(Fx::new());
        let mut states: Vec<Visited> = vec![(start.clone(), None)];
        index.insert(start);
        let mut next = 0;
        let mut moved: Vec<u64> = Vec::with_capacity(width);
        while next < states.len() {
            let state = states[next].0.clone();
            let part = |i: usize| &state[self.spans[i].0..self.spans[i].1];
            let accepts = |i: usize| self.nfas[i].accepts(part(i));
            if (0..self.within).all(accepts) && !(self.within..self.nfas.len()).any(accepts) {
                return Outside::Witness(trace(&states, next));
            }
            // What expanding the state costs: every automaton stepped on a
            // character, a unit per word of it and one more.
            let mut work = 1;
            for &c in self.chars {
                moved.clear();
                let mut alive = true;
                let mut i = 0;
                while alive && i < self.nfas.len() {
                    self.nfas[i].step_into(part(i), c, &mut moved);
                    work += self.nfas[i].words as u64 + 1;
                    let now = &moved[self.spans[i].0..];
                    // No string through here is in every `within` language, or
                    // every one is covered.
                    alive = if i < self.within { !nfa::is_empty(now) } else { !self.nfas[i].accepts_all(now) };
                    i += 1;
                }
                if !alive || index.contains(moved.as_slice()) {
                    continue;
                }
                if states.len() >= MAX_STATES {
                    return Outside::Unknown;
                }
                let moved: Rc<[u64]> = Rc::from(moved.as_slice());
                index.insert(moved.clone());
                states.push((moved, Some((next, Some(self.alphabet[c])))));
            }
            if !budget.spend(work) {
                return Outside::Unknown;
            }
            next += 1;
        }
        Outside::Covered
    }
}

/// A string of `shape` that `pattern` matches with one of its wildcards standing
/// for a separator of `shape`, and the position of that character (`None` also when
/// the budget runs out).
pub(crate) fn crossing(pattern: &Lang, shape: &Lang, budget: &Budget) -> Option<(String, usize)> {
    let alphabet = Alphabet::of(&[pattern, shape]).chars;
    for p in &pattern.0 {
        for s in &shape.0 {
            if let Some(found) = crossing_in(p, s, &alphabet, budget) {
                return Some(found);
            }
        }
    }
    None
}

/// A node of the crossing search: positions in the pattern and the shape, and the
/// index of the first separator a wildcard consumed.
type Node = (usize, usize, Option<usize>);

fn crossing_in(p: &[Atom], s: &[Atom], alphabet: &[char], budget: &Budget) -> Option<(String, usize)> {
    let mut nodes: Vec<Reached> = vec![((0, 0, None), None)];
    let mut seen: HashSet<Node, Fx> = HashSet::with_hasher(Fx::new());
    seen.insert((0, 0, None));
    let mut next = 0;
    let mut depth: Vec<usize> = vec![0];
    while next < nodes.len() && nodes.len() < MAX_STATES {
        let ((i, j, crossed), _) = nodes[next];
        if i == p.len() && j == s.len() && crossed.is_some() {
            let text = trace(&nodes, next);
            return crossed.map(|at| (text, at));
        }
        let mut push = |node: Node, via: Option<char>, nodes: &mut Vec<_>, depth: &mut Vec<usize>| {
            if budget.spend(1) && seen.insert(node) {
                depth.push(depth[next] + usize::from(via.is_some()));
                nodes.push((node, Some((next, via))));
            }
        };
        // A run may match nothing.
        if matches!(p.get(i), Some(Atom::Run(_))) {
            push((i + 1, j, crossed), None, &mut nodes, &mut depth);
        }
        if matches!(s.get(j), Some(Atom::Run(_))) {
            push((i, j + 1, crossed), None, &mut nodes, &mut depth);
        }
        if let (Some(a), Some(b)) = (p.get(i), s.get(j)) {
            for &c in alphabet.iter().filter(|c| a.accepts(**c) && b.accepts(**c)) {
                let wildcard = matches!(a, Atom::One(super::Class::Any) | Atom::Run(super::Class::Any));
                let separator = matches!(b, Atom::Char(_, true));
                let at = crossed.or((wildcard && separator).then_some(depth[next]));
                let ni = if matches!(a, Atom::Run(_)) { i } else { i + 1 };
                let nj = if matches!(b, Atom::Run(_)) { j } else { j + 1 };
                push((ni, nj, at), Some(c), &mut nodes, &mut depth);
            }
        }
        next += 1;
    }
    None
}

/// How a state of a search was reached: its parent, and the character read (none
/// when a run matched nothing).
type Link = Option<(usize, Option<char>)>;

/// A state of the containment search and how it was reached.
type Visited = (Rc<[u64]>, Link);

/// A node of the crossing search and how it was reached.
type Reached = (Node, Link);

/// The characters read on the way to state `at`.
fn trace<T>(states: &[(T, Link)], mut at: usize) -> String {
    let mut out = Vec::new();
    while let Some((parent, via)) = states[at].1 {
        out.extend(via);
        at = parent;
    }
    out.iter().rev().collect()
}
