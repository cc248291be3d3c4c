//! Regular languages of strings, small enough to decide questions about exactly:
//! the IAM globs of a policy (`StringLike` patterns, `StringEquals` literals) and the
//! grammar of the subjects GitHub writes (`repo:OWNER/REPO:environment:NAME`, …).
//!
//! A language is a union of sequences of atoms (a character, one character of a
//! class, a run of a class). The two questions the trust analysis asks are
//! answered by searching the product of the automata over a finite alphabet:
//! - `outside`: is every string of all the `within` languages in one of the
//!   `covered` languages? If not, the shortest counter-example;
//! - `crossing`: can a wildcard of a pattern match a separator of the grammar
//!   (the `:` between fields, the `/` between owner and repository)?
//!
//! The alphabet is finite because atoms only tell characters apart by the literal
//! characters they name and by their classes: every literal, the separators, and
//! one fresh letter and one fresh digit stand for all the others.

use std::{
    cell::Cell,
    collections::{HashMap, HashSet},
};

use super::glob::{self, Tok};

/// A set of characters an atom accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    Any,
    /// A character of an owner or repository name: not `/`, `:` or `@`.
    Name,
    Digit,
    /// A character of a field value in a subject: not `:` (GitHub writes `%3A`).
    Value,
}

impl Class {
    fn has(self, c: char) -> bool {
        match self {
            Class::Any => true,
            Class::Name => !matches!(c, '/' | ':' | '@'),
            Class::Digit => c.is_ascii_digit(),
            Class::Value => c != ':',
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Atom {
    /// This character; `true` marks a separator of the subject grammar.
    Char(char, bool),
    /// This (lower-case) character in either case: names GitHub compares without
    /// case, and the `IgnoreCase` operators.
    Fold(char),
    /// One character of the class.
    One(Class),
    /// Any run of characters of the class, possibly empty.
    Run(Class),
}

/// The strings that some sequence matches.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Lang(pub Vec<Vec<Atom>>);

/// Beyond this many states one search gives up (the caller then assumes the worst).
/// The questions about real policies stay in the hundreds.
const MAX_STATES: usize = 20_000;

/// How much work the questions of one analysis may do together (automaton positions
/// visited), so that a document of many long patterns is answered "unknown" (the
/// worst) at once rather than slowly. The questions about real policies use a few
/// thousand.
pub(crate) struct Budget(Cell<usize>);

impl Budget {
    pub(crate) fn new(work: usize) -> Budget {
        Budget(Cell::new(work))
    }

    /// Uses `work`; false when not that much is left.
    fn spend(&self, work: usize) -> bool {
        let left = self.0.get();
        self.0.set(left.saturating_sub(work));
        left >= work
    }
}

impl Default for Budget {
    fn default() -> Budget {
        Budget::new(5_000_000)
    }
}

impl Lang {
    /// The language of an IAM `StringLike` pattern.
    pub(crate) fn pattern(text: &str) -> Lang {
        Lang(vec![from_glob(&glob::pattern(text))])
    }

    /// The language of one literal string (`StringEquals`).
    pub(crate) fn literal(text: &str) -> Lang {
        Lang(vec![text.chars().map(|c| Atom::Char(c, false)).collect()])
    }

    /// The union of two languages.
    pub(crate) fn or(mut self, other: Lang) -> Lang {
        self.0.extend(other.0);
        self
    }

    /// Letter case folded: for the `IgnoreCase` operators.
    pub(crate) fn fold(&self) -> Lang {
        let fold = |seq: &Vec<Atom>| {
            seq.iter()
                .map(|atom| match *atom {
                    Atom::Char(c, false) if c.is_ascii_alphabetic() => Atom::Fold(c.to_ascii_lowercase()),
                    other => other,
                })
                .collect()
        };
        Lang(self.0.iter().map(fold).collect())
    }

    /// True when `text` is in the language.
    #[cfg(test)]
    pub(crate) fn matches(&self, text: &str) -> bool {
        let mut set = start(self);
        for c in text.chars() {
            set = step(self, &set, c);
        }
        accepts(self, &set)
    }
}

fn from_glob(toks: &[Tok]) -> Vec<Atom> {
    toks.iter()
        .map(|tok| match *tok {
            Tok::Char(c) => Atom::Char(c, false),
            Tok::One => Atom::One(Class::Any),
            Tok::Star | Tok::Segment => Atom::Run(Class::Any),
            Tok::Digits => Atom::Run(Class::Digit),
        })
        .collect()
}

/// Builds one sequence of a grammar, left to right.
#[derive(Clone, Debug, Default)]
pub(crate) struct Seq(Vec<Atom>);

impl Seq {
    pub(crate) fn new() -> Seq {
        Seq::default()
    }
    /// Literal text, with no separators in it.
    pub(crate) fn text(mut self, text: &str) -> Seq {
        self.0.extend(text.chars().map(|c| Atom::Char(c, false)));
        self
    }
    /// A separator of the grammar.
    pub(crate) fn sep(mut self, c: char) -> Seq {
        self.0.push(Atom::Char(c, true));
        self
    }
    /// Text in either letter case (names GitHub compares without case).
    pub(crate) fn caseless(mut self, text: &str) -> Seq {
        self.0.extend(
            text.chars().map(|c| {
                if c.is_ascii_alphabetic() { Atom::Fold(c.to_ascii_lowercase()) } else { Atom::Char(c, false) }
            }),
        );
        self
    }
    /// One or more characters of `class`.
    pub(crate) fn some(mut self, class: Class) -> Seq {
        self.0.extend([Atom::One(class), Atom::Run(class)]);
        self
    }
    /// Zero or more characters of `class`.
    pub(crate) fn any(mut self, class: Class) -> Seq {
        self.0.push(Atom::Run(class));
        self
    }
    pub(crate) fn then(mut self, other: &Seq) -> Seq {
        self.0.extend(other.0.iter().copied());
        self
    }
    pub(crate) fn lang(self) -> Lang {
        Lang(vec![self.0])
    }
}

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

/// Is every string that all of `within` match also matched by one of `covered`?
pub(crate) fn outside(within: &[&Lang], covered: &[&Lang], budget: &Budget) -> Outside {
    let union = Lang(covered.iter().flat_map(|it| it.0.iter().cloned()).collect());
    let mut langs: Vec<&Lang> = within.to_vec();
    langs.push(&union);
    let alphabet = alphabet(&langs);
    let last = langs.len() - 1;
    let start_state: Vec<Set> = langs.iter().map(|it| start(it)).collect();
    let mut index: HashMap<Vec<Set>, usize> = HashMap::new();
    let mut states: Vec<Visited> = vec![(start_state.clone(), None)];
    index.insert(start_state, 0);
    let mut next = 0;
    while next < states.len() {
        let (state, _) = &states[next];
        let found = (0..last).all(|i| accepts(langs[i], &state[i])) && !accepts(langs[last], &state[last]);
        if found {
            return Outside::Witness(trace(&states, next));
        }
        let state = state.clone();
        // Expanding a state steps every position on every character.
        if !budget.spend(alphabet.len() * (state.iter().map(Vec::len).sum::<usize>() + 1)) {
            return Outside::Unknown;
        }
        for &c in &alphabet {
            let moved: Vec<Set> = langs.iter().zip(&state).map(|(lang, set)| step(lang, set, c)).collect();
            if moved[..last].iter().any(Vec::is_empty) || index.contains_key(&moved) {
                continue;
            }
            if states.len() >= MAX_STATES {
                return Outside::Unknown;
            }
            index.insert(moved.clone(), states.len());
            states.push((moved, Some((next, Some(c)))));
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
    let mut seen: HashSet<Node> = HashSet::new();
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
            for &c in alphabet.iter().filter(|c| accepts_char(a, **c) && accepts_char(b, **c)) {
                let wildcard = matches!(a, Atom::One(Class::Any) | Atom::Run(Class::Any));
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

fn accepts_char(atom: &Atom, c: char) -> bool {
    match *atom {
        Atom::Char(x, _) => x == c,
        Atom::Fold(x) => c.to_ascii_lowercase() == x,
        Atom::One(class) | Atom::Run(class) => class.has(c),
    }
}

/// A set of automaton positions: (sequence, position), sorted.
type Set = Vec<(u32, u32)>;

/// How a state of a search was reached: its parent, and the character read (none
/// when a run matched nothing).
type Link = Option<(usize, Option<char>)>;

/// A state of the containment search and how it was reached.
type Visited = (Vec<Set>, Link);

/// A node of the crossing search and how it was reached.
type Reached = (Node, Link);

/// The positions a run may skip to without reading anything, added.
fn closure(lang: &Lang, set: Set) -> Set {
    let mut out = Vec::with_capacity(set.len() * 2);
    for (s, mut p) in set {
        out.push((s, p));
        while let Some(Atom::Run(_)) = lang.0[s as usize].get(p as usize) {
            p += 1;
            out.push((s, p));
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

fn start(lang: &Lang) -> Set {
    closure(lang, (0..lang.0.len() as u32).map(|s| (s, 0)).collect())
}

fn step(lang: &Lang, set: &Set, c: char) -> Set {
    let mut out = Vec::new();
    for &(s, p) in set {
        match lang.0[s as usize].get(p as usize) {
            Some(atom @ Atom::Run(_)) if accepts_char(atom, c) => out.push((s, p)),
            Some(atom) if accepts_char(atom, c) => out.push((s, p + 1)),
            _ => {}
        }
    }
    closure(lang, out)
}

fn accepts(lang: &Lang, set: &Set) -> bool {
    set.iter().any(|&(s, p)| p as usize == lang.0[s as usize].len())
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn name_subject() -> Lang {
        Seq::new().text("repo").sep(':').some(Class::Name).sep('/').some(Class::Name).sep(':').any(Class::Any).lang()
    }

    #[test]
    fn languages_match_like_their_globs() {
        let like = Lang::pattern("repo:o/r:*");
        assert!(like.matches("repo:o/r:pull_request") && !like.matches("repo:o/r2:x"));
        assert!(Lang::literal("a*").matches("a*") && !Lang::literal("a*").matches("ab"));
        assert!(Lang::pattern("A?").fold().matches("ab") && Lang::pattern("a?").fold().matches("Ab"));
        let owner = Seq::new().caseless("Octo-Org").lang();
        assert!(owner.matches("octo-org") && owner.matches("OCTO-ORG") && !owner.matches("octo_org"));
        assert_eq!(outside(&[&Lang::literal("OCTO-org")], &[&owner], &Budget::default()), Outside::Covered);
        let shape = name_subject();
        assert!(shape.matches("repo:o/r:x") && !shape.matches("repo:o/r/x:y") && !shape.matches("repo:/r:x"));
    }

    #[test]
    fn containment_gives_the_shortest_counter_example() {
        let subjects = name_subject();
        let own = Lang::pattern("repo:octo-org/yamause:*");
        assert_eq!(
            outside(&[&Lang::pattern("repo:octo-org/yamause:environment:*"), &subjects], &[&own], &Budget::default()),
            Outside::Covered
        );
        let Outside::Witness(w) = outside(&[&Lang::pattern("repo:octo-org/*"), &subjects], &[&own], &Budget::default())
        else {
            panic!()
        };
        assert!(w.starts_with("repo:octo-org/") && !own.matches(&w) && subjects.matches(&w), "{w}");
        assert_eq!(w, "repo:octo-org/x:");
        let Outside::Witness(w) = outside(&[&Lang::pattern("repo:*"), &subjects], &[&own], &Budget::default()) else {
            panic!()
        };
        assert_eq!(w, "repo:x/x:");
        // A union on the covered side, and an empty intersection.
        let envs = Lang::pattern("repo:octo-org/yamause:environment:*").or(Lang::pattern("repo:octo-org/yamause:ref*"));
        assert_eq!(
            outside(&[&Lang::pattern("repo:octo-org/yamause:ref:refs/tags/v*")], &[&envs], &Budget::default()),
            Outside::Covered
        );
        assert_eq!(outside(&[&Lang::literal("a"), &Lang::literal("b")], &[], &Budget::default()), Outside::Covered);
        assert_eq!(outside(&[&Lang::literal("a")], &[], &Budget::default()), Outside::Witness("a".into()));
    }

    #[test]
    fn wildcards_that_stand_for_a_separator_are_found() {
        let shape = name_subject();
        let (w, at) = crossing(&Lang::pattern("repo:*:x"), &shape, &Budget::default()).unwrap();
        assert!(shape.matches(&w) && w.chars().nth(at) == Some('/'), "{w} {at}");
        let (w, at) = crossing(&Lang::pattern("repo:octo-org/yamause*"), &shape, &Budget::default()).unwrap();
        assert_eq!(w.chars().nth(at), Some(':'), "{w}");
        // A wildcard inside a field only matches field characters.
        let env = Seq::new().text("repo").sep(':').some(Class::Name).sep('/').some(Class::Name).sep(':');
        let env = env.then(&Seq::new().text("environment").sep(':').some(Class::Value)).lang();
        assert_eq!(crossing(&Lang::pattern("repo:octo-org/*:environment:release"), &env, &Budget::default()), None);
        assert!(crossing(&Lang::pattern("repo:octo-org/*:release"), &env, &Budget::default()).is_some());
        assert!(crossing(&Lang::pattern("repo:octo-org/yamause:environment:*"), &env, &Budget::default()).is_none());
        assert!(env.matches("repo:o/r:environment:a/b") && !env.matches("repo:o/r:environment:a:b"));
        let digits = Seq::new().some(Class::Digit).lang();
        assert!(digits.matches("123") && !digits.matches("12a") && !digits.matches(""));
        assert_eq!(crossing(&Lang::literal("repo:o/r:x"), &shape, &Budget::default()), None);
    }

    #[test]
    fn large_searches_give_up_cautiously() {
        let many = Lang::pattern(&"*a".repeat(40));
        let other = Lang::pattern(&"*b".repeat(40));
        assert_ne!(outside(&[&many], &[&other], &Budget::default()), Outside::Covered);
    }
}
