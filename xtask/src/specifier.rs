//! PEP 440 ordering and version specifiers (`>=1.28`, `~=2.1`, `==1.*`, `!=1.0`),
//! as Python's `packaging.specifiers` reads them: enough to tell whether a pinned
//! version of a lock satisfies a requirement of `[build-system] requires`, before
//! anything is installed. The differential test in `tests/it/version_diff.rs` holds
//! this to the pinned `packaging` itself.
//!
//! Pinned versions in a lock were chosen by a resolver, so pre-releases count as
//! matching (`packaging`'s `contains(v, prereleases=True)`).

use std::cmp::Ordering;

use anyhow::{Result, bail};

use crate::version;

/// The parts of a normalized PEP 440 version that order it
/// (<https://packaging.python.org/en/latest/specifications/version-specifiers/>).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Parts {
    epoch: u64,
    /// Release segments, trailing zeros kept (they matter for prefix matching).
    release: Vec<u64>,
    /// `a`, `b` or `rc` (as 0, 1, 2) and its number.
    pre: Option<(u8, u64)>,
    post: Option<u64>,
    dev: Option<u64>,
    /// Local segments, already normalized (lowercase, `.`-separated).
    local: Vec<String>,
}

impl Parts {
    /// Parses a version (any spelling `packaging` accepts).
    fn parse(text: &str) -> Result<Parts> {
        let normalized = version::parse(text)?;
        Ok(Parts::of_normalized(normalized.as_str()))
    }

    /// Splits a normalized version, such as `1!2.0rc1.post2.dev3+abc.5`.
    fn of_normalized(s: &str) -> Parts {
        let (public, local) = match s.split_once('+') {
            Some((public, local)) => (public, local.split('.').map(str::to_owned).collect()),
            None => (s, Vec::new()),
        };
        let (epoch, rest) = match public.split_once('!') {
            Some((epoch, rest)) => (epoch.parse().unwrap_or(u64::MAX), rest),
            None => (0, public),
        };
        let number = |s: &str| s.parse::<u64>().unwrap_or(u64::MAX);
        let (rest, dev) = match rest.split_once(".dev") {
            Some((rest, n)) => (rest, Some(number(n))),
            None => (rest, None),
        };
        let (rest, post) = match rest.split_once(".post") {
            Some((rest, n)) => (rest, Some(number(n))),
            None => (rest, None),
        };
        let release_end = rest.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(rest.len());
        let (release, pre) = rest.split_at(release_end);
        let pre = [("rc", 2), ("a", 0), ("b", 1)]
            .into_iter()
            .find_map(|(letter, rank)| pre.strip_prefix(letter).map(|n| (rank, number(n))));
        Parts { epoch, release: release.split('.').map(number).collect(), pre, post, dev, local }
    }

    fn is_prerelease(&self) -> bool {
        self.pre.is_some() || self.dev.is_some()
    }

    /// The same version without its local part.
    fn public(&self) -> Parts {
        Parts { local: Vec::new(), ..self.clone() }
    }

    /// Epoch and release only (`base_version`).
    fn base(&self) -> Parts {
        Parts { epoch: self.epoch, release: self.release.clone(), pre: None, post: None, dev: None, local: Vec::new() }
    }

    /// `packaging`'s sort key, compared part by part.
    fn compare(&self, other: &Parts) -> Ordering {
        let trimmed = |release: &[u64]| {
            let end = release.iter().rposition(|&it| it != 0).map_or(0, |i| i + 1);
            release[..end].to_vec()
        };
        // No pre-release: after every pre-release of the release, except that a bare
        // dev release (`1.0.dev1`) comes before its pre-releases.
        let pre_key = |it: &Parts| match (it.pre, it.post, it.dev) {
            (None, None, Some(_)) => (0u8, 0u8, 0u64),
            (None, _, _) => (2, 0, 0),
            (Some((rank, n)), _, _) => (1, rank, n),
        };
        let post_key = |it: &Parts| it.post.map_or((0u8, 0u64), |n| (1, n));
        let dev_key = |it: &Parts| it.dev.map_or((1u8, 0u64), |n| (0, n));
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| trimmed(&self.release).cmp(&trimmed(&other.release)))
            .then_with(|| pre_key(self).cmp(&pre_key(other)))
            .then_with(|| post_key(self).cmp(&post_key(other)))
            .then_with(|| dev_key(self).cmp(&dev_key(other)))
            .then_with(|| compare_local(&self.local, &other.local))
    }
}

/// Local parts: none sorts first; numeric segments sort after alphanumeric ones and
/// by value; a longer local with an equal prefix sorts after.
fn compare_local(a: &[String], b: &[String]) -> Ordering {
    let key = |it: &String| match it.parse::<u128>() {
        Ok(n) => (1u8, n, String::new()),
        Err(_) => (0, 0, it.clone()),
    };
    match (a.is_empty(), b.is_empty()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        _ => a.iter().map(key).cmp(b.iter().map(key)),
    }
}

/// One clause of a specifier set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Compatible,
    Equal,
    NotEqual,
    LessEqual,
    GreaterEqual,
    Less,
    Greater,
    Arbitrary,
}

#[derive(Debug, Clone)]
struct Clause {
    op: Op,
    /// As written, for `===` and messages.
    text: String,
    version: Parts,
    /// `==1.*` / `!=1.*`.
    wildcard: bool,
}

/// A comma-separated PEP 440 specifier set; empty matches every version.
#[derive(Debug, Clone, Default)]
pub struct SpecifierSet {
    clauses: Vec<Clause>,
}

impl SpecifierSet {
    /// Parses `>=1.0, <2`, or an empty string (no constraint).
    pub fn parse(text: &str) -> Result<SpecifierSet> {
        let mut clauses = Vec::new();
        for part in text.split(',') {
            let part = part.trim();
            if part.is_empty() && text.trim().is_empty() {
                continue;
            }
            clauses.push(Clause::parse(part)?);
        }
        Ok(SpecifierSet { clauses })
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.clauses.is_empty()
    }

    /// Whether `version` (any spelling) satisfies every clause; pre-releases count.
    pub fn contains(&self, version: &str) -> bool {
        let Ok(normalized) = version::parse(version) else {
            return self.clauses.iter().all(|it| it.op == Op::Arbitrary && it.arbitrary_matches(version));
        };
        let parts = Parts::of_normalized(normalized.as_str());
        self.clauses.iter().all(|it| it.matches(&parts, normalized.as_str()))
    }
}

impl Clause {
    fn parse(part: &str) -> Result<Clause> {
        const OPS: [(&str, Op); 8] = [
            ("===", Op::Arbitrary),
            ("~=", Op::Compatible),
            ("==", Op::Equal),
            ("!=", Op::NotEqual),
            ("<=", Op::LessEqual),
            (">=", Op::GreaterEqual),
            ("<", Op::Less),
            (">", Op::Greater),
        ];
        let Some((op, rest)) = OPS.iter().find_map(|(text, op)| part.strip_prefix(text).map(|rest| (*op, rest.trim())))
        else {
            bail!("{part:?} is not a version specifier (such as >=1.0, ==1.2.*, ~=2.1)");
        };
        let bad = || anyhow::format_err!("{part:?} is not a valid version specifier (PEP 440)");
        if op == Op::Arbitrary {
            if rest.is_empty() || rest.contains(char::is_whitespace) {
                return Err(bad());
            }
            let version = Parts::parse(rest).unwrap_or(Parts::of_normalized("0"));
            return Ok(Clause { op, text: rest.to_owned(), version, wildcard: false });
        }
        let (text, wildcard) = match rest.strip_suffix(".*") {
            Some(prefix) if matches!(op, Op::Equal | Op::NotEqual) => (prefix, true),
            Some(_) => return Err(bad()),
            None => (rest, false),
        };
        let version = Parts::parse(text).map_err(|_| bad())?;
        let local_allowed = matches!(op, Op::Equal | Op::NotEqual) && !wildcard;
        let pre_or_later = version.pre.is_some() || version.post.is_some() || version.dev.is_some();
        if (!version.local.is_empty() && !local_allowed)
            || (wildcard && pre_or_later)
            || (op == Op::Compatible && version.release.len() < 2)
        {
            return Err(bad());
        }
        Ok(Clause { op, text: text.to_owned(), version, wildcard })
    }

    fn arbitrary_matches(&self, version: &str) -> bool {
        version.trim().eq_ignore_ascii_case(&self.text)
    }

    /// `written` is the candidate's normalized form, which `===` compares.
    fn matches(&self, v: &Parts, written: &str) -> bool {
        let spec = &self.version;
        match self.op {
            Op::Arbitrary => self.arbitrary_matches(written),
            Op::Equal if self.wildcard => prefix_matches(v, spec),
            Op::NotEqual if self.wildcard => !prefix_matches(v, spec),
            Op::Equal => equal(v, spec),
            Op::NotEqual => !equal(v, spec),
            Op::LessEqual => v.public().compare(spec) != Ordering::Greater,
            Op::GreaterEqual => v.public().compare(spec) != Ordering::Less,
            Op::Less => {
                // `<2` admits no pre-release of 2 itself, unless the spec is one.
                let same_base = v.base().compare(&spec.base()) == Ordering::Equal;
                let excluded = same_base && v.is_prerelease() && !spec.is_prerelease();
                v.public().compare(spec) == Ordering::Less && !excluded
            }
            Op::Greater => {
                // `>1.0` admits neither `1.0.post1` (unless the spec is a post-release)
                // nor `1.0+local`.
                let same_base = v.base().compare(&spec.base()) == Ordering::Equal;
                let excluded = same_base && ((spec.post.is_none() && v.post.is_some()) || !v.local.is_empty());
                v.public().compare(spec) == Ordering::Greater && !excluded
            }
            Op::Compatible => {
                let mut prefix = spec.base();
                prefix.release.pop();
                v.public().compare(spec) != Ordering::Less && prefix_matches(v, &prefix)
            }
        }
    }
}

/// `==` without a wildcard: a local version in the specifier must match exactly;
/// without one, the candidate's local part is ignored.
fn equal(v: &Parts, spec: &Parts) -> bool {
    if spec.local.is_empty() { v.public().compare(spec) == Ordering::Equal } else { v.compare(spec) == Ordering::Equal }
}

/// `==1.2.*`: the candidate's epoch and release (zero-padded) start with the
/// prefix's; its local part is ignored.
fn prefix_matches(v: &Parts, prefix: &Parts) -> bool {
    if v.epoch != prefix.epoch {
        return false;
    }
    let mut release = v.release.clone();
    if release.len() < prefix.release.len() {
        release.resize(prefix.release.len(), 0);
    }
    if release[..prefix.release.len()] != prefix.release[..] {
        return false;
    }
    // `==1.0.*` does not match `1.0rc1` only through padding; a pre-release of the
    // prefix itself (`1.0.0rc1` for `==1.0.0.*`) matches, as in packaging.
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_versions_like_packaging() {
        let ascending = [
            "1.0.dev456",
            "1.0a1",
            "1.0a2.dev456",
            "1.0a12.dev456",
            "1.0a12",
            "1.0b1.dev456",
            "1.0b2",
            "1.0b2.post345.dev456",
            "1.0b2.post345",
            "1.0rc1.dev456",
            "1.0rc1",
            "1.0",
            "1.0+abc.5",
            "1.0+abc.7",
            "1.0+5",
            "1.0.post456.dev34",
            "1.0.post456",
            "1.1.dev1",
            "2!0.1",
        ];
        for pair in ascending.windows(2) {
            let (a, b) = (Parts::parse(pair[0]).unwrap(), Parts::parse(pair[1]).unwrap());
            assert_eq!(a.compare(&b), Ordering::Less, "{} < {}", pair[0], pair[1]);
        }
        assert_eq!(Parts::parse("1.0").unwrap().compare(&Parts::parse("1.0.0").unwrap()), Ordering::Equal);
    }

    #[test]
    fn matches_specifiers() {
        let cases = [
            (">=1.28", "1.27.0", false),
            (">=1.28", "1.28.0", true),
            ("~=2.1", "2.9", true),
            ("~=2.1", "3.0", false),
            ("~=2.1.3", "2.2", false),
            ("==1.*", "1.9.9", true),
            ("==1.*", "2.0", false),
            ("!=1.0", "1.0.0", false),
            ("<2", "2.0rc1", false),
            ("<2rc2", "2.0rc1", true),
            (">1.0", "1.0.post1", false),
            (">1.0", "1.0.1", true),
            ("==1.0", "1.0+local", true),
            ("==1.0+local", "1.0", false),
            (">=68, <81", "80.9.0", true),
            (">=68, <81", "81.0.0", false),
            ("", "0.1", true),
            ("===1.0", "1.0", true),
            ("===1.0", "1.0.0", false),
        ];
        for (spec, version, want) in cases {
            assert_eq!(SpecifierSet::parse(spec).unwrap().contains(version), want, "{version} in {spec:?}");
        }
    }

    #[test]
    fn refuses_malformed_specifiers() {
        for bad in ["1.0", ">=", ">=1.*", "~=1", "<=1.0+local", "==1.0rc1.*", ">=x", "=>1"] {
            assert!(SpecifierSet::parse(bad).is_err(), "{bad:?}");
        }
    }
}
