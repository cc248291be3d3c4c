//! Regular languages of strings, small enough to decide questions about exactly:
//! the IAM globs of a policy (`StringLike` patterns, `StringEquals` literals) and the
//! grammar of the subjects GitHub writes (`repo:OWNER/REPO:environment:NAME`, …).
//!
//! A language is a union of sequences of atoms (a character, one character of a
//! class, a run of a class). The two questions the trust analysis asks are
//! answered by searching the product of the automata over a finite alphabet
//! (`search`):
//! - `outside`: is every string of all the `within` languages in one of the
//!   `covered` languages? If not, the shortest counter-example;
//! - `crossing`: can a wildcard of a pattern match a separator of the grammar
//!   (the `:` between fields, the `/` between owner and repository)?
//!
//! The alphabet is finite because atoms only tell characters apart by the literal
//! characters they name and by their classes: every literal, the separators, and
//! one fresh letter and one fresh digit stand for all the others.

mod nfa;
mod search;

#[cfg(test)]
pub(crate) use search::outside;
pub(crate) use search::{Outside, Searcher, crossing};

use super::glob::{self, Tok};

/// A set of characters an atom accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Class {
    Any,
    /// A character of an owner or repository name: not `/`, `:` or `@`.
    Name,
    Digit,
    /// A character of a field value in a subject: not `:` (GitHub writes `%3A`).
    Value,
}

impl Class {
    pub(crate) fn has(self, c: char) -> bool {
        match self {
            Class::Any => true,
            Class::Name => !matches!(c, '/' | ':' | '@'),
            Class::Digit => c.is_ascii_digit(),
            Class::Value => c != ':',
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct Lang(pub Vec<Vec<Atom>>);

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
        search::matches(self, text)
    }
}

impl Atom {
    /// True when the atom reads `c`.
    pub(crate) fn accepts(self, c: char) -> bool {
        match self {
            Atom::Char(x, _) => x == c,
            Atom::Fold(x) => c.to_ascii_lowercase() == x,
            Atom::One(class) | Atom::Run(class) => class.has(c),
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::budget::Budget;

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
