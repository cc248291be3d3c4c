//! IAM evaluation of one simulated request against normalised statements: allowed
//! when an `Allow` statement applies and no `Deny` statement does.
//!
//! A request may hold values with unknown parts (the release job's workflow file
//! name, an attacker's choice of branch) and keys the check cannot know at all.
//! Unknown parts are resolved in the request's favour: an `Allow` statement applies
//! when some value would make it apply, a `Deny` statement only when every value
//! would. For the release job's token that is the benign assumption (its real values
//! are the ones the policy author had in mind); for a counter-example it is the
//! attacker's choice. Keys the check cannot know, and unknown operators, make the
//! answer `Maybe`, which each caller reads in its own cautious direction.

use super::{
    budget::Budget,
    document::{Condition, Document, Effect, Names, OpKind, Principal, Principals, Statement},
    glob::{self, Tok},
};
use crate::arn;

/// A three-valued answer, ordered `No < Maybe < Yes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Tri {
    No,
    Maybe,
    Yes,
}

impl Tri {
    pub(crate) fn of(b: bool) -> Tri {
        if b { Tri::Yes } else { Tri::No }
    }
    pub(crate) fn and(self, other: Tri) -> Tri {
        self.min(other)
    }
    pub(crate) fn or(self, other: Tri) -> Tri {
        self.max(other)
    }
    pub(crate) fn not(self) -> Tri {
        match self {
            Tri::No => Tri::Yes,
            Tri::Maybe => Tri::Maybe,
            Tri::Yes => Tri::No,
        }
    }
}

/// What the request context holds for a condition key.
#[derive(Debug, Clone)]
pub(crate) enum Claim {
    Absent,
    /// A value; `Tok::Star` marks a part the check does not know.
    Value(Vec<Tok>),
    /// The check cannot know whether the key is present or what it holds.
    Unknown,
}

impl Claim {
    pub(crate) fn known(text: &str) -> Claim {
        Claim::Value(glob::literal(text))
    }
}

/// Who makes the request, for the `Principal` of trust policies.
#[derive(Debug, Clone)]
pub(crate) enum Caller {
    /// A GitHub OIDC token through `AssumeRoleWithWebIdentity`: STS matches the
    /// provider of the role's partition and account (`account`, any account when
    /// unknown). `any_provider` accepts every `Federated` principal, to diagnose a
    /// wrong ARN.
    GitHub { partition: String, account: Option<String>, any_provider: bool },
}

pub(crate) struct Request<'a> {
    pub action: &'a str,
    /// `None`: the statements' `Resource` is not looked at (trust policies have none).
    pub resource: Option<Vec<Tok>>,
    /// `None`: `Principal` is not looked at (identity policies have none).
    pub caller: Option<&'a Caller>,
    /// The context value of a condition key (given in lower case).
    pub context: &'a dyn Fn(&str) -> Claim,
    /// Conditions on these keys (lower case) are taken as passing, to find out
    /// whether they are what refuses a request.
    pub relax: &'a [&'a str],
    /// What the wildcard matches spend; `None`: unmetered.
    pub budget: Option<&'a Budget>,
}

/// The answer and the statements that made it, as (document, statement) positions.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    pub answer: Tri,
    pub allowed_by: Vec<(usize, usize)>,
    pub denied_by: Vec<(usize, usize)>,
}

/// Whether `Allow` or `Deny` is being matched: see the module comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Exists,
    ForAll,
}

/// Evaluates `request` against every statement of `docs`.
pub(crate) fn decide(docs: &[&Document], request: &Request) -> Outcome {
    let (mut allow, mut deny) = (Tri::No, Tri::No);
    let (mut allowed_by, mut denied_by) = (Vec::new(), Vec::new());
    for (d, doc) in docs.iter().enumerate() {
        for (s, statement) in doc.statements.iter().enumerate() {
            match statement.effect {
                Effect::Allow => {
                    let applies = applies(statement, request, Mode::Exists);
                    if applies != Tri::No {
                        allowed_by.push((d, s));
                    }
                    allow = allow.or(applies);
                }
                Effect::Deny => {
                    let applies = applies(statement, request, Mode::ForAll);
                    if applies != Tri::No {
                        denied_by.push((d, s));
                    }
                    deny = deny.or(applies);
                }
            }
        }
    }
    Outcome { answer: allow.and(deny.not()), allowed_by, denied_by }
}

/// Whether `statement` applies to `request`, whatever its effect.
fn applies(statement: &Statement, request: &Request, mode: Mode) -> Tri {
    if !covers_action(&statement.action, request.action) {
        return Tri::No;
    }
    if let Some(resource) = &request.resource
        && !resource_matches(statement.resource.as_ref(), resource, mode)
    {
        return Tri::No;
    }
    if let Some(caller) = request.caller {
        // Trust and resource policies must name a principal; without one the
        // statement grants nothing.
        let Some(principals) = &statement.principal else { return Tri::No };
        if !principal_matches(principals, caller) {
            return Tri::No;
        }
    }
    let mut answer = Tri::Yes;
    for condition in &statement.conditions {
        let key = condition.key_lower();
        if request.relax.contains(&key.as_str()) {
            continue;
        }
        answer = answer.and(evaluate_condition(condition, &(request.context)(&key), mode, request.budget));
    }
    answer
}

/// True when `Action`/`NotAction` covers `action`.
pub(crate) fn covers_action(names: &Names, action: &str) -> bool {
    match names {
        Names::Only(patterns) => patterns.iter().any(|it| glob::action_matches(it, action)),
        Names::Except(patterns) => !patterns.iter().any(|it| glob::action_matches(it, action)),
    }
}

fn resource_matches(names: Option<&Names>, resource: &[Tok], mode: Mode) -> bool {
    let Some(names) = names else { return true };
    let (patterns, negated) = match names {
        Names::Only(p) => (p, false),
        Names::Except(p) => (p, true),
    };
    let globs: Vec<Vec<Tok>> = patterns.iter().map(|it| glob::pattern(it)).collect();
    let some = || globs.iter().any(|g| glob::intersects(g, resource));
    let every = || globs.iter().any(|g| covers(g, resource));
    match (negated, mode) {
        (false, Mode::Exists) => some(),
        (false, Mode::ForAll) => every(),
        (true, Mode::Exists) => !every(),
        (true, Mode::ForAll) => !some(),
    }
}

/// True when every string of `value` matches `glob` (exact for a literal value;
/// otherwise only a glob that matches everything is known to cover it).
fn covers(glob: &[Tok], value: &[Tok]) -> bool {
    if glob::is_literal(value) { glob::intersects(glob, value) } else { glob::is_everything(glob) }
}

pub(crate) fn principal_matches(principals: &Principals, caller: &Caller) -> bool {
    let hit = principals.any || principals.entries.iter().any(|it| principal_entry_matches(it, caller));
    hit != principals.negated
}

fn principal_entry_matches(entry: &Principal, caller: &Caller) -> bool {
    match caller {
        Caller::GitHub { partition, account, any_provider } => {
            (entry.kind == "AWS" && entry.value == "*")
                || (entry.kind == "Federated"
                    && (*any_provider
                        || arn::github_provider(&entry.value)
                            .is_some_and(|it| it.is_in(partition, account.as_deref()))))
        }
    }
}

/// One condition of an `Allow` (`allow`) or a `Deny` statement against the context
/// value of its key, as `decide` reads it.
pub(crate) fn condition_answer(condition: &Condition, claim: &Claim, allow: bool, budget: Option<&Budget>) -> Tri {
    evaluate_condition(condition, claim, if allow { Mode::Exists } else { Mode::ForAll }, budget)
}

/// One condition against the context value of its key.
fn evaluate_condition(condition: &Condition, claim: &Claim, mode: Mode, budget: Option<&Budget>) -> Tri {
    let op = &condition.operator;
    if op.kind == OpKind::Unknown {
        return Tri::Maybe;
    }
    let shape = match claim {
        Claim::Unknown => return Tri::Maybe,
        Claim::Absent => {
            if op.kind == OpKind::Null {
                return Tri::of(condition.values.iter().any(|it| it.eq_ignore_ascii_case("true")));
            }
            if op.if_exists {
                return Tri::Yes;
            }
            // ForAllValues is true for an empty set, ForAnyValue false; a negated
            // operator is true when the key is missing, the others false.
            return match op.set {
                Some(super::document::SetOp::ForAllValues) => Tri::Yes,
                Some(super::document::SetOp::ForAnyValue) => Tri::No,
                None => Tri::of(op.kind.is_negated()),
            };
        }
        Claim::Value(shape) => shape,
    };
    if op.kind == OpKind::Null {
        return Tri::of(condition.values.iter().any(|it| it.eq_ignore_ascii_case("false")));
    }
    // Every claim the simulation uses is single-valued, so a set operator reads the
    // one-element set the same way as the plain operator.
    let known = Known::of(shape);
    let matches = |v: &String, every: bool| {
        // Every value is read (and, for the slower paths, parsed): that is work too.
        if budget.is_some_and(|it| !it.spend(1 + v.len() as u64 / 8)) {
            return Tri::Maybe;
        }
        known
            .as_ref()
            .and_then(|it| it.compare(op.kind, v))
            .unwrap_or_else(|| value_matches(op.kind, v, shape, every, budget))
    };
    let some = || condition.values.iter().fold(Tri::No, |acc, v| acc.or(matches(v, false)));
    let every = || condition.values.iter().fold(Tri::No, |acc, v| acc.or(matches(v, true)));
    match (op.kind.is_negated(), mode) {
        (false, Mode::Exists) => some(),
        (false, Mode::ForAll) => every(),
        (true, Mode::Exists) => every().not(),
        (true, Mode::ForAll) => some().not(),
    }
}

/// A request value without unknown parts, as text and in lower case: a plain
/// string condition on it is a comparison, the common case of a simulated token.
struct Known {
    text: String,
    lower: String,
}

impl Known {
    fn of(shape: &[Tok]) -> Option<Known> {
        let text: String = glob::is_literal(shape)
            .then(|| shape.iter().filter_map(|it| if let Tok::Char(c) = it { Some(*c) } else { None }).collect())?;
        Some(Known { lower: text.to_lowercase(), text })
    }

    /// The positive form of `kind` on `value`, when it is a plain comparison.
    fn compare(&self, kind: OpKind, value: &str) -> Option<Tri> {
        if glob::has_variable(value) {
            return None;
        }
        match kind {
            OpKind::StringEquals | OpKind::StringNotEquals => Some(Tri::of(value == self.text)),
            OpKind::StringEqualsIgnoreCase | OpKind::StringNotEqualsIgnoreCase => {
                Some(Tri::of(value.chars().flat_map(char::to_lowercase).eq(self.lower.chars())))
            }
            _ => None,
        }
    }
}

/// Whether some (or, with `every`, each) string of `shape` matches the policy
/// value `value` under the positive form of `kind`.
fn value_matches(kind: OpKind, value: &str, shape: &[Tok], every: bool, budget: Option<&Budget>) -> Tri {
    use OpKind::*;
    let glob_test = |policy: Vec<Tok>, shape: &[Tok]| {
        let covers = || {
            if glob::is_literal(shape) {
                glob::intersects_within(&policy, shape, budget)
            } else {
                glob::is_everything(&policy)
            }
        };
        if every { Tri::of(covers()) } else { Tri::of(glob::intersects_within(&policy, shape, budget)) }
    };
    if glob::has_variable(value)
        && matches!(
            kind,
            StringEquals
                | StringNotEquals
                | StringEqualsIgnoreCase
                | StringNotEqualsIgnoreCase
                | StringLike
                | StringNotLike
                | ArnEquals
                | ArnLike
                | ArnNotEquals
                | ArnNotLike
        )
    {
        // Substituted from the request: it could be the very value the request has.
        return Tri::Maybe;
    }
    let literal = glob::is_literal(shape);
    let text = || shape.iter().map(|it| if let Tok::Char(c) = it { *c } else { '*' }).collect::<String>();
    match kind {
        StringEquals | StringNotEquals => glob_test(glob::literal(value), shape),
        StringEqualsIgnoreCase | StringNotEqualsIgnoreCase => {
            glob_test(glob::lowercase(&glob::literal(value)), &glob::lowercase(shape))
        }
        StringLike | StringNotLike | ArnEquals | ArnLike | ArnNotEquals | ArnNotLike => {
            glob_test(glob::pattern(value), shape)
        }
        NumericEquals
        | NumericNotEquals
        | NumericLessThan
        | NumericLessThanEquals
        | NumericGreaterThan
        | NumericGreaterThanEquals => {
            if literal {
                numeric(kind, &text(), value)
            } else {
                Tri::of(!every)
            }
        }
        Bool => {
            if literal {
                Tri::of(text().eq_ignore_ascii_case(value))
            } else {
                Tri::of(!every)
            }
        }
        BinaryEquals => {
            if literal {
                Tri::of(text() == value)
            } else {
                Tri::of(!every)
            }
        }
        // Dates and addresses never come up in the requests simulated here.
        DateEquals
        | DateNotEquals
        | DateLessThan
        | DateLessThanEquals
        | DateGreaterThan
        | DateGreaterThanEquals
        | IpAddress
        | NotIpAddress
        | Null
        | Unknown => Tri::Maybe,
    }
}

/// A numeric operator on a known value.
fn numeric(kind: OpKind, have: &str, want: &str) -> Tri {
    let (Ok(have), Ok(want)) = (have.trim().parse::<f64>(), want.trim().parse::<f64>()) else { return Tri::No };
    Tri::of(match kind {
        OpKind::NumericEquals | OpKind::NumericNotEquals => have == want,
        OpKind::NumericLessThan => have < want,
        OpKind::NumericLessThanEquals => have <= want,
        OpKind::NumericGreaterThan => have > want,
        _ => have >= want,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::document::Operator;

    fn condition(op: &str, values: &[&str]) -> Condition {
        Condition {
            operator: Operator::parse(op),
            key: "k".into(),
            values: values.iter().map(|it| it.to_string()).collect(),
        }
    }

    #[test]
    fn conditions_follow_iam_rules() {
        use Tri::*;
        let value = |s: &str| Claim::known(s);
        let cases: Vec<(&str, &[&str], Claim, Tri)> = vec![
            ("StringEquals", &["a"], value("a"), Yes),
            ("StringEquals", &["A"], value("a"), No),
            ("StringEquals", &["a*"], value("abc"), No),
            ("StringEquals", &["x", "a"], value("a"), Yes),
            ("StringEqualsIgnoreCase", &["A"], value("a"), Yes),
            ("StringLike", &["a*"], value("abc"), Yes),
            ("StringLike", &["A*"], value("abc"), No),
            ("StringNotEquals", &["a"], value("b"), Yes),
            ("StringNotEquals", &["a"], value("a"), No),
            ("StringNotLike", &["a*"], value("abc"), No),
            ("StringEquals", &["a"], Claim::Absent, No),
            ("StringNotEquals", &["a"], Claim::Absent, Yes),
            ("StringEqualsIfExists", &["a"], Claim::Absent, Yes),
            ("StringEqualsIfExists", &["a"], value("b"), No),
            ("ForAllValues:StringEquals", &["a"], Claim::Absent, Yes),
            ("ForAnyValue:StringEquals", &["a"], Claim::Absent, No),
            ("ForAllValues:StringLike", &["a*"], value("b"), No),
            ("Null", &["true"], Claim::Absent, Yes),
            ("Null", &["true"], value("a"), No),
            ("Null", &["false"], value("a"), Yes),
            ("NumericLessThanEquals", &["900"], value("900"), Yes),
            ("NumericLessThanEquals", &["900"], value("43200"), No),
            ("NumericLessThan", &["x"], value("1"), No),
            ("Bool", &["true"], value("TRUE"), Yes),
            ("StringMatches", &["a"], value("a"), Maybe),
            ("StringEquals", &["a"], Claim::Unknown, Maybe),
            ("DateLessThan", &["2030-01-01"], value("2020-01-01"), Maybe),
        ];
        for (op, values, claim, want) in cases {
            assert_eq!(evaluate_condition(&condition(op, values), &claim, Mode::Exists, None), want, "{op} {values:?}");
        }
    }

    #[test]
    fn unknown_parts_favour_the_request() {
        // `o/r/<any file>@refs/tags/v1`: an Allow passes if some file name passes...
        let shape = Claim::Value([glob::literal("o/r/"), vec![Tok::Star], glob::literal("@refs/tags/v1")].concat());
        let like = condition("StringLike", &["o/r/.github/workflows/release.yml@refs/tags/v*"]);
        assert_eq!(evaluate_condition(&like, &shape, Mode::Exists, None), Tri::Yes);
        assert_eq!(evaluate_condition(&like, &shape, Mode::ForAll, None), Tri::No);
        // ...and a Deny applies only if every file name makes it apply.
        let not_like = condition("StringNotLike", &["o/r/.github/workflows/release.yml@*"]);
        assert_eq!(evaluate_condition(&not_like, &shape, Mode::ForAll, None), Tri::No);
        assert_eq!(evaluate_condition(&not_like, &shape, Mode::Exists, None), Tri::Yes);
        let wrong_ref = condition("StringLike", &["o/r/*@refs/heads/main"]);
        assert_eq!(evaluate_condition(&wrong_ref, &shape, Mode::Exists, None), Tri::No);
    }
}
