//! A language as a bit-parallel automaton over one finite alphabet: the atoms of
//! all its sequences laid end to end, each sequence followed by its end position,
//! and a set of positions as bits, so that reading a character is a few word
//! operations per 64 positions whatever the wildcards. Also the alphabet a search
//! reads, with the characters that no automaton tells apart merged into one.

use std::{
    collections::hash_map::RandomState,
    hash::{BuildHasher, Hasher},
};

use super::{Atom, Lang};

pub(super) struct Nfa {
    pub(super) words: usize,
    pub(super) start: Vec<u64>,
    accept: Vec<u64>,
    /// Positions holding a run, which may also be skipped.
    runs: Vec<u64>,
    /// Positions from which every continuation is accepted (only runs of any
    /// character up to the end): a state holding one accepts whatever follows.
    universal: Vec<u64>,
    /// The longest chain of runs one after another: how far a skip can go.
    chain: usize,
    /// For each character of the alphabet (`words` words each): the positions
    /// whose (non-run) atom reads it, and so move on by one.
    advance: Vec<u64>,
    /// For each character: the positions whose run reads it, and so stay.
    stay: Vec<u64>,
}

impl Nfa {
    /// The automaton of `lang` over `alphabet` (sorted by `index`, see `Alphabet`).
    pub(super) fn new(lang: &Lang, alphabet: &Alphabet) -> Nfa {
        let positions: usize = lang.0.iter().map(|seq| seq.len() + 1).sum();
        let words = positions.div_ceil(64).max(1);
        let zero = vec![0u64; words];
        let size = alphabet.chars.len() * words;
        let mut nfa = Nfa {
            words,
            start: zero.clone(),
            accept: zero.clone(),
            runs: zero.clone(),
            universal: zero,
            chain: 0,
            advance: vec![0; size],
            stay: vec![0; size],
        };
        let mut at = 0;
        for seq in &lang.0 {
            let tail = seq.iter().rev().take_while(|it| matches!(it, Atom::Run(super::Class::Any))).count();
            for p in at + seq.len() - tail..at + seq.len() {
                set(&mut nfa.universal, p);
            }
            set(&mut nfa.start, at);
            let mut chain = 0;
            for atom in seq {
                let run = matches!(atom, Atom::Run(_));
                chain = if run { chain + 1 } else { 0 };
                nfa.chain = nfa.chain.max(chain);
                if run {
                    set(&mut nfa.runs, at);
                }
                let masks = if run { &mut nfa.stay } else { &mut nfa.advance };
                for c in alphabet.accepted(*atom) {
                    set(&mut masks[c * words..(c + 1) * words], at);
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

    /// Adds the positions a run may skip to without reading anything. (Plain index
    /// loops: the unoptimised build that `cargo xtask` runs calls every iterator
    /// adapter as a function, and these loops are the search's inner ones.)
    fn close(&self, set: &mut [u64]) {
        for _ in 0..self.chain {
            let mut carry = 0;
            let mut i = 0;
            while i < set.len() {
                let skipping = set[i] & self.runs[i];
                set[i] |= (skipping << 1) | carry;
                carry = skipping >> 63;
                i += 1;
            }
        }
    }

    /// Appends to `out` the positions after reading the character of index `c`.
    pub(super) fn step_into(&self, set: &[u64], c: usize, out: &mut Vec<u64>) {
        let from = out.len();
        let base = c * self.words;
        let mut carry = 0;
        let mut i = 0;
        while i < self.words {
            let bits = set[i];
            let moving = bits & self.advance[base + i];
            out.push((bits & self.stay[base + i]) | (moving << 1) | carry);
            carry = moving >> 63;
            i += 1;
        }
        if self.chain > 0 {
            self.close(&mut out[from..]);
        }
    }

    pub(super) fn accepts(&self, set: &[u64]) -> bool {
        let mut i = 0;
        while i < self.words {
            if set[i] & self.accept[i] != 0 {
                return true;
            }
            i += 1;
        }
        false
    }

    /// True when `set` accepts every string from here on.
    pub(super) fn accepts_all(&self, set: &[u64]) -> bool {
        let mut i = 0;
        while i < self.words {
            if set[i] & self.universal[i] != 0 {
                return true;
            }
            i += 1;
        }
        false
    }

    /// True when the automaton accepts `text`, all of whose characters are in
    /// `alphabet`.
    pub(super) fn runs_over(&self, alphabet: &Alphabet, text: &str) -> bool {
        let mut at = self.start.clone();
        let mut next = Vec::with_capacity(self.words);
        for c in text.chars() {
            let Some(i) = alphabet.index(c) else { return false };
            next.clear();
            self.step_into(&at, i, &mut next);
            if is_empty(&next) {
                return false;
            }
            std::mem::swap(&mut at, &mut next);
        }
        self.accepts(&at)
    }

    /// The masks of character `c`, to tell characters apart.
    fn signature(&self, c: usize) -> impl Iterator<Item = u64> + '_ {
        let masks = c * self.words..(c + 1) * self.words;
        self.advance[masks.clone()].iter().chain(&self.stay[masks]).copied()
    }
}

fn set(bits: &mut [u64], at: usize) {
    bits[at / 64] |= 1 << (at % 64);
}

pub(super) fn is_empty(bits: &[u64]) -> bool {
    let mut i = 0;
    while i < bits.len() {
        if bits[i] != 0 {
            return false;
        }
        i += 1;
    }
    true
}

/// True when `text` is in `lang`.
#[cfg(test)]
pub(super) fn matches(lang: &Lang, text: &str) -> bool {
    let alphabet = Alphabet::of_text(text);
    Nfa::new(lang, &alphabet).runs_over(&alphabet, text)
}

/// What building the automaton of `lang` over `alphabet` costs, in the units of
/// the searches: every atom once, and a class atom once per character.
pub(super) fn build_cost(lang: &Lang, alphabet: &Alphabet) -> u64 {
    let atoms = lang.0.iter().flatten();
    let classes = atoms.clone().filter(|it| matches!(it, Atom::One(_) | Atom::Run(_))).count();
    (atoms.count() + 1 + classes * alphabet.chars.len()) as u64
}

/// The one string `lang` holds when it has no wildcards (a `StringEquals` value).
pub(super) fn literal(lang: &Lang) -> Option<String> {
    let [seq] = lang.0.as_slice() else { return None };
    seq.iter().map(|it| if let Atom::Char(c, _) = it { Some(*c) } else { None }).collect()
}

/// The characters a search reads, in the order it tries them.
pub(super) struct Alphabet {
    pub(super) chars: Vec<char>,
    /// `chars` sorted, with their indices, to find a character's index.
    sorted: Vec<(char, usize)>,
}

impl Alphabet {
    /// Every literal character, the separators, and a fresh letter and digit that
    /// stand for all the characters the languages do not name.
    pub(super) fn of(langs: &[&Lang]) -> Alphabet {
        let mut named: Vec<char> = Vec::new();
        for atom in langs.iter().flat_map(|it| &it.0).flatten() {
            match *atom {
                Atom::Char(c, _) => named.push(c),
                Atom::Fold(c) => named.extend([c, c.to_ascii_uppercase()]),
                _ => {}
            }
        }
        // In one order whatever the languages' order, so that the counter-example a
        // search finds does not depend on how the document is arranged.
        named.sort_unstable();
        named.dedup();
        let fresh = |candidates: &str| candidates.chars().find(|c| named.binary_search(c).is_err());
        // One character that no language names stands for all of them, so there
        // must always be one: a policy may name every placeholder letter (then any
        // other letter or, past ASCII, any other character will do). Digits are few
        // enough to all be named, and then none stands for the others.
        let letter = fresh("xzqjkvwybfghmpu")
            .or_else(|| ('a'..='z').chain('A'..='Z').chain("-._~".chars()).find(|c| named.binary_search(c).is_err()))
            .or_else(|| ('\u{e0}'..=char::MAX).find(|c| named.binary_search(c).is_err()));
        // The fresh ones first, so that counter-examples read as placeholders.
        let mut chars: Vec<char> = [letter, fresh("1234567890")].into_iter().flatten().collect();
        chars.extend(['/', ':', '@'].into_iter().filter(|c| named.binary_search(c).is_err()));
        chars.extend(named);
        Alphabet::from_chars(chars)
    }

    #[cfg(test)]
    fn of_text(text: &str) -> Alphabet {
        let mut chars: Vec<char> = text.chars().collect();
        chars.sort_unstable();
        chars.dedup();
        Alphabet::from_chars(chars)
    }

    fn from_chars(chars: Vec<char>) -> Alphabet {
        let mut sorted: Vec<(char, usize)> = chars.iter().copied().zip(0..).collect();
        sorted.sort_unstable();
        Alphabet { chars, sorted }
    }

    /// True when every character `lang` names is in the alphabet (and so the
    /// others read like its fresh letter or digit).
    pub(super) fn covers(&self, lang: &Lang) -> bool {
        lang.0.iter().flatten().all(|atom| match *atom {
            Atom::Char(c, _) => self.index(c).is_some(),
            Atom::Fold(c) => self.index(c).is_some() && self.index(c.to_ascii_uppercase()).is_some(),
            Atom::One(_) | Atom::Run(_) => true,
        })
    }

    fn index(&self, c: char) -> Option<usize> {
        let at = self.sorted.binary_search_by_key(&c, |it| it.0).ok()?;
        Some(self.sorted[at].1)
    }

    /// The indices of the characters `atom` reads.
    fn accepted(&self, atom: Atom) -> Vec<usize> {
        match atom {
            Atom::Char(c, _) => self.index(c).into_iter().collect(),
            Atom::Fold(c) => [self.index(c), self.index(c.to_ascii_uppercase())].into_iter().flatten().collect(),
            Atom::One(_) | Atom::Run(_) => (0..self.chars.len()).filter(|i| atom.accepts(self.chars[*i])).collect(),
        }
    }
}

/// The indices of the characters that some automaton tells apart from every
/// earlier one: a character that reads exactly like an earlier one everywhere
/// leads to the states that one does, so a breadth-first search need not try it
/// (and the counter-example it finds is the same).
pub(super) fn distinct(alphabet: &Alphabet, nfas: &[&Nfa]) -> Vec<usize> {
    let mut seen: std::collections::HashSet<Vec<u64>, Fx> = std::collections::HashSet::with_hasher(Fx::new());
    (0..alphabet.chars.len()).filter(|c| seen.insert(nfas.iter().flat_map(|it| it.signature(*c)).collect())).collect()
}

/// A fast hash for the search's keys (bit sets and small tuples), keyed per search:
/// the standard SipHash costs most of a search's time in the unoptimised build,
/// and the key keeps a crafted document from choosing colliding states.
pub(super) struct Fx(u64);

impl Fx {
    pub(super) fn new() -> Fx {
        Fx(RandomState::new().build_hasher().finish())
    }
}

impl BuildHasher for Fx {
    type Hasher = FxHasher;

    fn build_hasher(&self) -> FxHasher {
        FxHasher(self.0)
    }
}

pub(super) struct FxHasher(u64);

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
