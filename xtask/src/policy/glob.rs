//! IAM wildcard matching: the glob of `StringLike`, `ArnLike`, `Action` and
//! `Resource` (`*` = any run of characters, `/` and `:` included; `?` = exactly one
//! character), and the intersection of two globs.
//!
//! The intersection is what lets the simulation reason about claims it only partly
//! knows: the release job's `job_workflow_ref` is `OWNER/REPO/<some file>@REF`, so a
//! condition passes for it when some file name would make it pass.

use super::budget::Budget;

/// One element of a glob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tok {
    Char(char),
    /// `?`: exactly one character.
    One,
    /// `*`: any run of characters, possibly empty.
    Star,
    /// Any run of characters without `/`: an unknown file name in a simulated
    /// claim. Policy patterns never contain it.
    Segment,
    /// Any run of digits: an unknown owner or repository id in a simulated claim
    /// (GitHub's ids are numbers, so an unknown one never holds `/` or `:`).
    Digits,
}

/// Beyond this many states the intersection gives up and answers "they intersect",
/// the cautious answer for every caller (a grant that might exist is reported).
/// Real policies stay far below it: IAM documents are at most a few kilobytes.
const MAX_STATES: usize = 20_000_000;

/// `text` as a glob of literal characters (no wildcards).
pub(crate) fn literal(text: &str) -> Vec<Tok> {
    text.chars().map(Tok::Char).collect()
}

/// `pattern` as a glob. `${*}`, `${?}` and `${$}` are IAM's escapes for the literal
/// characters; runs of `*` collapse into one (same meaning, fewer states).
pub(crate) fn pattern(pattern: &str) -> Vec<Tok> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '$'
            && chars.get(i + 1) == Some(&'{')
            && chars.get(i + 3) == Some(&'}')
            && matches!(chars.get(i + 2), Some('*' | '?' | '$'))
        {
            out.push(Tok::Char(chars[i + 2]));
            i += 4;
            continue;
        }
        match c {
            '*' if out.last() == Some(&Tok::Star) => {}
            '*' => out.push(Tok::Star),
            '?' => out.push(Tok::One),
            c => out.push(Tok::Char(c)),
        }
        i += 1;
    }
    out
}

/// True when `glob` has no wildcard, so it stands for exactly one string.
pub(crate) fn is_literal(glob: &[Tok]) -> bool {
    glob.iter().all(|it| matches!(it, Tok::Char(_)))
}

/// True when `glob` matches every string (it is only `*`).
pub(crate) fn is_everything(glob: &[Tok]) -> bool {
    glob == [Tok::Star]
}

/// The glob with its literal characters lower-cased, for the `IgnoreCase` operators
/// and action names.
pub(crate) fn lowercase(glob: &[Tok]) -> Vec<Tok> {
    let mut out = Vec::with_capacity(glob.len());
    for tok in glob {
        match tok {
            Tok::Char(c) => out.extend(c.to_lowercase().map(Tok::Char)),
            other => out.push(*other),
        }
    }
    out
}

/// True when some string matches both globs.
pub(crate) fn intersects(a: &[Tok], b: &[Tok]) -> bool {
    intersects_within(a, b, None)
}

/// `intersects`, spending its steps from `budget`: when the budget runs out the
/// answer is the cautious "they intersect" (and the budget remembers it ran out).
pub(crate) fn intersects_within(a: &[Tok], b: &[Tok], budget: Option<&Budget>) -> bool {
    if budget.is_some_and(Budget::ran_out) {
        return true;
    }
    let mut meter = Meter { budget, steps: 0 };
    let answer = intersect(a, b, &mut meter);
    if meter.settle() { answer } else { true }
}

/// Counts the steps of one match and spends them from the budget in batches.
struct Meter<'a> {
    budget: Option<&'a Budget>,
    steps: u64,
}

impl Meter<'_> {
    const BATCH: u64 = 1024;

    /// One more step; false when the budget has run out.
    fn step(&mut self) -> bool {
        self.steps += 1;
        if self.steps < Self::BATCH {
            return true;
        }
        self.steps = 0;
        self.budget.is_none_or(|it| it.spend(Self::BATCH))
    }

    /// Spends the rest; true unless the budget ran out at some point.
    fn settle(&mut self) -> bool {
        let rest = std::mem::take(&mut self.steps);
        self.budget.is_none_or(|it| it.spend(rest) && !it.ran_out())
    }
}

fn intersect(a: &[Tok], b: &[Tok], meter: &mut Meter) -> bool {
    // Two strings: equal or not. The lengths and the last characters first:
    // subjects that differ mostly differ at the end.
    if is_literal(a) && is_literal(b) {
        return a.len() == b.len() && a.last() == b.last() && a.iter().zip(b).all(|(x, y)| meter.step() && x == y);
    }
    let greedy = |glob: &[Tok]| !glob.iter().any(|it| matches!(it, Tok::Segment | Tok::Digits));
    if is_literal(b) && greedy(a) {
        let text: Vec<char> = b.iter().map(|it| if let Tok::Char(c) = it { *c } else { '\0' }).collect();
        return matches_chars(a, &text, meter);
    }
    if is_literal(a) && greedy(b) {
        return intersect(b, a, meter);
    }
    let (n, m) = (a.len(), b.len());
    let Some(states) = (n + 1).checked_mul(m + 1).filter(|it| *it <= MAX_STATES) else { return true };
    // A search over the product of the two automata: state (i, j) means a common
    // prefix has been read with `a` at token i and `b` at token j.
    let mut seen = vec![false; states];
    let mut stack = vec![(0usize, 0usize)];
    seen[0] = true;
    let mut visit = |i: usize, j: usize, stack: &mut Vec<(usize, usize)>| {
        let k = i * (m + 1) + j;
        if !seen[k] {
            seen[k] = true;
            stack.push((i, j));
        }
    };
    while let Some((i, j)) = stack.pop() {
        if i == n && j == m {
            return true;
        }
        if !meter.step() {
            return true;
        }
        // A star may match nothing.
        if matches!(a.get(i), Some(Tok::Star | Tok::Segment | Tok::Digits)) {
            visit(i + 1, j, &mut stack);
        }
        if matches!(b.get(j), Some(Tok::Star | Tok::Segment | Tok::Digits)) {
            visit(i, j + 1, &mut stack);
        }
        // Both read one common character.
        if let (Some(x), Some(y)) = (a.get(i), b.get(j)) {
            let compatible = match (x, y) {
                (Tok::Char(p), Tok::Char(q)) => p == q,
                (Tok::Segment, Tok::Char('/')) | (Tok::Char('/'), Tok::Segment) => false,
                (Tok::Digits, Tok::Char(c)) | (Tok::Char(c), Tok::Digits) => c.is_ascii_digit(),
                (Tok::Digits, Tok::Segment) | (Tok::Segment, Tok::Digits) => true,
                _ => true,
            };
            if compatible {
                let stays = |tok: &Tok| matches!(tok, Tok::Star | Tok::Segment | Tok::Digits);
                let ni = if stays(x) { i } else { i + 1 };
                let nj = if stays(y) { j } else { j + 1 };
                visit(ni, nj, &mut stack);
            }
        }
    }
    false
}

/// The classic greedy glob match of a pattern against a concrete string.
fn matches_chars(pattern: &[Tok], text: &[char], meter: &mut Meter) -> bool {
    // The literal start of the pattern, compared from its end: subjects that
    // differ mostly differ late, after a long common start.
    let start = pattern.iter().take_while(|it| matches!(it, Tok::Char(_))).count();
    if start > text.len() {
        return false;
    }
    for i in (0..start).rev() {
        if !meter.step() {
            return true;
        }
        if pattern[i] != Tok::Char(text[i]) {
            return false;
        }
    }
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if !meter.step() {
            return true;
        }
        match pattern.get(p) {
            Some(Tok::One) => (p, t) = (p + 1, t + 1),
            Some(Tok::Char(c)) if *c == text[t] => (p, t) = (p + 1, t + 1),
            Some(Tok::Star) => {
                star = Some((p, t));
                p += 1;
            }
            _ => match star {
                // Let the last star swallow one more character and retry.
                Some((sp, st)) => {
                    star = Some((sp, st + 1));
                    (p, t) = (sp + 1, st + 1);
                }
                None => return false,
            },
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|it| *it == Tok::Star)
}

/// IAM's `StringLike` match of `value` against `pattern` (case-sensitive).
pub fn glob_match(pattern: &str, value: &str) -> bool {
    intersects(&self::pattern(pattern), &literal(value))
}

/// True when the `Action` entry `pattern` (such as `sts:*`, `*` or
/// `codeartifact:Get*`) covers `action`. Action names are case-insensitive.
pub fn action_matches(pattern: &str, action: &str) -> bool {
    intersects(&lowercase(&self::pattern(pattern)), &literal(&action.to_lowercase()))
}

/// True when `text` holds a policy variable (`${key}`, not one of the escapes
/// `${*}`, `${?}`, `${$}`): IAM replaces it with a value of the request (IAM,
/// "Policy variables": "in any condition that involves the string operators"), so
/// what the value matches depends on the request.
pub(crate) fn has_variable(text: &str) -> bool {
    let rest = text.replace("${*}", "").replace("${?}", "").replace("${$}", "");
    rest.contains("${")
}

/// True when `text` has a `*` or `?` that IAM would read as a wildcard.
pub fn has_wildcard(text: &str) -> bool {
    !is_literal(&pattern(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_like_iam() {
        let cases = [
            ("repo:octo-org/yamause:*", "repo:octo-org/yamause:environment:release", true),
            ("repo:octo-org/yamause:*", "repo:octo-org/yamause-evil:ref:refs/heads/main", false),
            ("repo:octo-org/yamause*", "repo:octo-org/yamause-evil:ref:refs/heads/main", true),
            // `*` crosses `/` and `:`.
            ("repo:*", "repo:attacker/x:ref:refs/heads/main", true),
            ("repo:octo-org/*", "repo:octo-org/other:pull_request", true),
            ("*", "", true),
            ("*", "anything at all", true),
            ("", "", true),
            ("", "x", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("a?c", "abbc", false),
            ("?", "", false),
            ("*?", "", false),
            ("*?", "x", true),
            ("repo:o/r:ref:refs/tags/v*", "repo:o/r:ref:refs/tags/v1.0.0", true),
            ("repo:o/r:ref:refs/tags/v*", "repo:o/r:ref:refs/heads/v1", false),
            // Values are case-sensitive.
            ("repo:Octo-Org/yamause:*", "repo:octo-org/yamause:pull_request", false),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
            ("**a**", "bab", true),
            // IAM's escapes stand for the literal characters.
            ("a${*}b", "a*b", true),
            ("a${*}b", "axb", false),
            ("a${?}", "a?", true),
            ("${$}x", "$x", true),
            ("${x}", "${x}", true),
            ("naïve*", "naïve-ünïcode", true),
        ];
        for (pattern, value, want) in cases {
            assert_eq!(glob_match(pattern, value), want, "{pattern:?} ~ {value:?}");
        }
    }

    #[test]
    fn actions_match_case_insensitively() {
        let cases = [
            ("sts:AssumeRoleWithWebIdentity", "sts:assumerolewithwebidentity", true),
            ("sts:*", "sts:AssumeRoleWithWebIdentity", true),
            ("*", "codeartifact:PublishPackageVersion", true),
            ("STS:AssumeRole*", "sts:AssumeRoleWithWebIdentity", true),
            ("sts:AssumeRole", "sts:AssumeRoleWithWebIdentity", false),
            ("codeartifact:Get*", "codeartifact:GetAuthorizationToken", true),
            ("codeartifact:Get*", "codeartifact:PublishPackageVersion", false),
            ("codeartifact:*", "sts:GetServiceBearerToken", false),
            ("codeartifact:Publish?ackageVersion", "codeartifact:PublishPackageVersion", true),
            ("iam:*", "IAM:PassRole", true),
        ];
        for (pattern, action, want) in cases {
            assert_eq!(action_matches(pattern, action), want, "{pattern:?} ~ {action:?}");
        }
    }

    #[test]
    fn globs_intersect_when_a_common_string_exists() {
        let cases = [
            ("repo:o/r:*", "repo:o/r:environment:*", true),
            ("repo:o/r:environment:release", "repo:o/r:environment:*", true),
            ("repo:o/r:environment:release", "repo:o/r:ref:*", false),
            // A star may swallow "@refs/…" (see the segment test for file names).
            ("o/r/*@refs/heads/feature-x", "o/r/.github/workflows/release.yml@refs/tags/v*", true),
            ("o/r/*@refs/tags/v1.0.0", "o/r/.github/workflows/release.yml@refs/tags/v*", true),
            ("a?", "?b", true),
            ("a?", "??c", false),
            ("*", "", true),
            ("a*", "*b", true),
            ("a*a", "b*", false),
            ("x*y*z", "*q*", true),
            ("abc", "abc", true),
            ("abc", "abd", false),
        ];
        for (a, b, want) in cases {
            assert_eq!(intersects(&pattern(a), &pattern(b)), want, "{a:?} ∩ {b:?}");
            assert_eq!(intersects(&pattern(b), &pattern(a)), want, "{b:?} ∩ {a:?}");
        }
    }

    #[test]
    fn a_segment_does_not_cross_a_slash() {
        let file = |rest: &str| [literal("o/r/.github/workflows/"), vec![Tok::Segment], literal(rest)].concat();
        let cases = [
            ("@refs/heads/feature-x", "o/r/.github/workflows/release.yml@refs/tags/v*", false),
            ("@refs/tags/v1", "o/r/.github/workflows/release.yml@refs/tags/v*", true),
            ("@refs/tags/v1", "o/r/.github/workflows/*.yml@refs/tags/v1", true),
            ("@refs/tags/v1", "o/r/.github/workflows/sub/x.yml@refs/tags/v1", false),
            ("@refs/tags/v1", "*", true),
        ];
        for (rest, policy, want) in cases {
            assert_eq!(intersects(&file(rest), &pattern(policy)), want, "{rest:?} ∩ {policy:?}");
            assert_eq!(intersects(&pattern(policy), &file(rest)), want, "{policy:?} ∩ {rest:?}");
        }
        assert!(!intersects(&[Tok::Segment], &literal("a/b")));
        assert!(intersects(&[Tok::Segment], &literal("ab")));
        assert!(intersects(&[Tok::Segment], &literal("")));
    }

    #[test]
    fn literals_and_wildcards_are_told_apart() {
        assert!(has_wildcard("repo:o/r:*"));
        assert!(has_wildcard("a?"));
        assert!(!has_wildcard("repo:o/r:environment:release"));
        assert!(!has_wildcard("a${*}"));
        assert!(is_everything(&pattern("**")));
        assert!(!is_everything(&pattern("*a")));
    }

    #[test]
    fn huge_patterns_do_not_explode() {
        // Beyond the state limit the answer is the cautious "they intersect"; here
        // it is also the true one ("abab…" matches both).
        assert!(intersects(&pattern(&"*a".repeat(5000)), &pattern(&"*b".repeat(5000))));
        assert!(!glob_match(&"a".repeat(10_000), &"a".repeat(9_999)));
        assert!(glob_match(&"*".repeat(10_000), &"a".repeat(10_000)));
    }
}
