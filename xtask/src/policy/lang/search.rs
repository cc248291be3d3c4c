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
    collections::{HashMap, HashSet, hash_map::RandomState},
    hash::{BuildHasher, Hasher},
};

use super::{Atom, Lang};
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

/// A language as a bit-parallel automaton over one alphabet: the atoms of all its
/// sequences laid end to end, each sequence followed by its end position.
struct Nfa {
    words: usize,
    start: Vec<u64>,
    accept: Vec<u64>,
    /// Positions holding a run, which may also be skipped.
    runs: Vec<u64>,
    /// For each character of the alphabet: the positions whose (non-run) atom
    /// reads it, and so move on by one.
    advance: Vec<Vec<u64>>,
    /// For each character: the positions whose run reads it, and so stay.
    stay: Vec<Vec<u64>>,
}

impl Nfa {
    fn new(lang: &Lang, alphabet: &[char]) -> Nfa {
        let positions: usize = lang.0.iter().map(|seq| seq.len() + 1).sum();
        let words = positions.div_ceil(64).max(1);
        let zero = vec![0u64; words];
        let mut nfa = Nfa {
            words,
            start: zero.clone(),
            accept: zero.clone(),
            runs: zero.clone(),
            advance: vec![zero.clone(); alphabet.len()],
            stay: vec![zero; alphabet.len()],
        };
        let mut at = 0;
        for seq in &lang.0 {
            set(&mut nfa.start, at);
            for atom in seq {
                if matches!(atom, Atom::Run(_)) {
                    set(&mut nfa.runs, at);
                }
                for (i, &c) in alphabet.iter().enumerate() {
                    if atom.accepts(c) {
                        let to = if matches!(atom, Atom::Run(_)) { &mut nfa.stay[i] } else { &mut nfa.advance[i] };
                        set(to, at);
                    }
                }
                at += 1;
            }
            set(&mut nfa.accept, at);
            at += 1;
        }
        let mut start = std::mem::take(&mut nfa.start);
        nfa.close(&mut start);
        nfa.start = start;
        nfa
    }

    /// Adds the positions a run may skip to without reading anything.
    fn close(&self, set: &mut [u64]) {
        loop {
            let (mut changed, mut carry) = (false, 0);
            for (bits, runs) in set.iter_mut().zip(&self.runs) {
                let skipping = *bits & runs;
                let add = (skipping << 1) | carry;
                carry = skipping >> 63;
                changed |= add & !*bits != 0;
                *bits |= add;
            }
            if !changed {
                return;
            }
        }
    }

    /// Appends to `out` the positions after reading the character of index `c`.
    fn step_into(&self, set: &[u64], c: usize, out: &mut Vec<u64>) {
        let from = out.len();
        let mut carry = 0;
        for ((bits, stay), advance) in set.iter().zip(&self.stay[c]).zip(&self.advance[c]) {
            let moving = bits & advance;
            out.push((bits & stay) | (moving << 1) | carry);
            carry = moving >> 63;
        }
        self.close(&mut out[from..]);
    }

    fn accepts(&self, set: &[u64]) -> bool {
        set.iter().zip(&self.accept).any(|(s, a)| s & a != 0)
    }
}

fn set(bits: &mut [u64], at: usize) {
    bits[at / 64] |= 1 << (at % 64);
}

fn is_empty(bits: &[u64]) -> bool {
    bits.iter().all(|it| *it == 0)
}

/// True when `text` is in `lang`.
#[cfg(test)]
pub(super) fn matches(lang: &Lang, text: &str) -> bool {
    let mut alphabet: Vec<char> = text.chars().collect();
    alphabet.sort_unstable();
    alphabet.dedup();
    let nfa = Nfa::new(lang, &alphabet);
    let mut at = nfa.start.clone();
    for c in text.chars() {
        let Ok(i) = alphabet.binary_search(&c) else { return false };
        let mut next = Vec::with_capacity(nfa.words);
        nfa.step_into(&at, i, &mut next);
        at = next;
    }
    nfa.accepts(&at)
}

/// Is every string that all of `within` match also matched by one of `covered`?
pub(crate) fn outside(within: &[&Lang], covered: &[&Lang], budget: &Budget) -> Outside {
    let union = Lang(covered.iter().flat_map(|it| it.0.iter().cloned()).collect());
    let mut langs: Vec<&Lang> = within.to_vec();
    langs.push(&union);
    let alphabet = alphabet(&langs);
    let nfas: Vec<Nfa> = langs.iter().map(|it| Nfa::new(it, &alphabet)).collect();
    let last = nfas.len() - 1;
    // A state is the positions of every automaton, end to end.
    let spans: Vec<(usize, usize)> = nfas
        .iter()
        .scan(0, |at, nfa| {
            let span = (*at, *at + nfa.words);
            *at += nfa.words;
            Some(span)
        })
        .collect();
    let width = spans[last].1;
    let start: Vec<u64> = nfas.iter().flat_map(|it| it.start.iter().copied()).collect();
    let mut index: HashMap<Vec<u64>, usize, Fx> = HashMap::with_hasher(Fx::new());
    let mut states: Vec<Visited> = vec![(start.clone(), None)];
    index.insert(start, 0);
    // Expanding a state steps every automaton on every character.
    let cost = (alphabet.len() * (width + nfas.len())) as u64;
    let mut next = 0;
    while next < states.len() {
        let state = &states[next].0;
        let part = |i: usize| &state[spans[i].0..spans[i].1];
        if (0..last).all(|i| nfas[i].accepts(part(i))) && !nfas[last].accepts(part(last)) {
            return Outside::Witness(trace(&states, next));
        }
        if !budget.spend(cost) {
            return Outside::Unknown;
        }
        let state = state.clone();
        for c in 0..alphabet.len() {
            let mut moved = Vec::with_capacity(width);
            let mut dead = false;
            for (i, nfa) in nfas.iter().enumerate() {
                nfa.step_into(&state[spans[i].0..spans[i].1], c, &mut moved);
                // No string through here is in every `within` language.
                if i < last && is_empty(&moved[spans[i].0..]) {
                    dead = true;
                    break;
                }
            }
            if dead || index.contains_key(&moved) {
                continue;
            }
            if states.len() >= MAX_STATES {
                return Outside::Unknown;
            }
            index.insert(moved.clone(), states.len());
            states.push((moved, Some((next, Some(alphabet[c])))));
        }
        next += 1;
    }
    Outside::Covered
}

/// A string of `shape` that `pattern` matches with one of its wildcards standing
/// for a separator of `shape`, and the position of that character (`None` also when
/// the budget runs out).
pub(crate) fn crossing(pattern: &Lang, shape: &Lang, budget: &Budget) -> Option<(String, usize)> {
    let alphabet = alphabet(&[pattern, shape]);
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
type Visited = (Vec<u64>, Link);

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

/// Every literal character, the separators, and a fresh letter and digit that
/// stand for all the characters the languages do not name.
fn alphabet(langs: &[&Lang]) -> Vec<char> {
    let mut named: Vec<char> = Vec::new();
    for lang in langs {
        for seq in &lang.0 {
            for atom in seq {
                let chars = match *atom {
                    Atom::Char(c, _) => vec![c],
                    Atom::Fold(c) => vec![c, c.to_ascii_uppercase()],
                    _ => Vec::new(),
                };
                for c in chars {
                    if !named.contains(&c) {
                        named.push(c);
                    }
                }
            }
        }
    }
    // In one order whatever the languages' order, so that the counter-example a
    // search finds does not depend on how the document is arranged.
    named.sort_unstable();
    let fresh = |candidates: &str| candidates.chars().find(|c| !named.contains(c));
    // One character that no language names stands for all of them, so there must
    // always be one: a policy may name every placeholder letter (then any other
    // letter or, past ASCII, any other character will do). Digits are few enough
    // to all be named, and then none stands for the others.
    let letter = fresh("xzqjkvwybfghmpu")
        .or_else(|| ('a'..='z').chain('A'..='Z').chain("-._~".chars()).find(|c| !named.contains(c)))
        .or_else(|| ('\u{e0}'..=char::MAX).find(|c| !named.contains(c)));
    // The fresh ones first, so that counter-examples read as placeholders.
    let mut out: Vec<char> = [letter, fresh("1234567890")].into_iter().flatten().collect();
    for c in ['/', ':', '@'] {
        if !named.contains(&c) {
            out.push(c);
        }
    }
    out.extend(named);
    out
}

/// A fast hash for the search's keys (bit sets and small tuples), keyed per search:
/// the standard SipHash costs most of a search's time in the unoptimised build,
/// and the key keeps a crafted document from choosing colliding states.
struct Fx(u64);

impl Fx {
    fn new() -> Fx {
        Fx(RandomState::new().build_hasher().finish())
    }
}

impl BuildHasher for Fx {
    type Hasher = FxHasher;

    fn build_hasher(&self) -> FxHasher {
        FxHasher(self.0)
    }
}

struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn finish(&self) -> u64 {
        // A final mix, so that the low bits the table uses depend on every word.
        let mut x = self.0;
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^ (x >> 33)
    }
}
