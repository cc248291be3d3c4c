//! PEP 508 requirements as `[build-system] requires` lists them
//! (`hatchling>=1.28`, `setuptools[core] (>=68, <81) ; python_version >= "3.10"`):
//! the name, extras, version specifiers and the marker's text. A direct reference
//! (`name @ https://…`) is refused: nothing can lock it by hash from an index.
//! <https://packaging.python.org/en/latest/specifications/dependency-specifiers/>

use std::fmt;

use anyhow::{Result, bail};

use crate::{project::normalize_name, specifier::SpecifierSet};

/// One parsed requirement.
#[derive(Debug, Clone)]
pub struct Requirement {
    /// The name as written.
    pub name: String,
    /// PEP 503 normalized name.
    pub normalized: String,
    /// The specifiers as written (without parentheses), `""` for none.
    pub specifier_text: String,
    pub specifier: SpecifierSet,
    /// The environment marker after `;`, as written.
    pub marker: Option<String>,
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.name, self.specifier_text)?;
        if let Some(marker) = &self.marker {
            write!(f, " ; {marker}")?;
        }
        Ok(())
    }
}

impl Requirement {
    /// Parses one requirement string.
    pub fn parse(text: &str) -> Result<Requirement> {
        let bad = |why: &str| anyhow::format_err!("{text:?} is not a valid requirement: {why}");
        if text.contains(['\n', '\r']) {
            return Err(bad("it spans lines"));
        }
        let (spec, marker) = match text.split_once(';') {
            Some((spec, marker)) => {
                let marker = marker.trim();
                if marker.is_empty() {
                    return Err(bad("the marker after `;` is empty"));
                }
                (spec, Some(marker.to_owned()))
            }
            None => (text, None),
        };
        let spec = spec.trim();
        let name_end = spec.find(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c))).unwrap_or(spec.len());
        let name = &spec[..name_end];
        let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
        if !edge_ok(name.chars().next()) || !edge_ok(name.chars().last()) {
            return Err(bad("it does not start with a project name"));
        }
        let mut rest = spec[name_end..].trim_start();
        if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']').ok_or_else(|| bad("the extras have no closing `]`"))?;
            let extras = &after[..end];
            let valid = |e: &str| {
                let e = e.trim();
                edge_ok(e.chars().next()) && e.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            };
            if !extras.trim().is_empty() && !extras.split(',').all(valid) {
                return Err(bad("an extra is not a valid name"));
            }
            rest = after[end + 1..].trim_start();
        }
        if rest.starts_with('@') {
            bail!(
                "{text:?} is a direct reference (`name @ URL`): a lock pins versions of an index by hash, so \
                 publish the package to your index (or the CodeArtifact repository) and require it by version"
            );
        }
        let specifier_text = match rest.strip_prefix('(') {
            Some(inner) => inner.strip_suffix(')').ok_or_else(|| bad("the `(` has no closing `)`"))?.trim(),
            None => rest,
        };
        let specifier = SpecifierSet::parse(specifier_text).map_err(|err| bad(&err.to_string()))?;
        let specifier_text: String = specifier_text.split(',').map(str::trim).collect::<Vec<_>>().join(",");
        Ok(Requirement { name: name.to_owned(), normalized: normalize_name(name), specifier_text, specifier, marker })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_build_system_requirements() {
        let r = Requirement::parse("setuptools[core] (>=68, <81) ; python_version >= \"3.10\"").unwrap();
        assert_eq!(r.normalized, "setuptools");
        assert_eq!(r.specifier_text, ">=68,<81");
        assert!(r.specifier.contains("80.9.0") && !r.specifier.contains("81"));
        assert_eq!(r.marker.as_deref(), Some("python_version >= \"3.10\""));
        let r = Requirement::parse("Flit_Core >=3.2,<4").unwrap();
        assert_eq!((r.normalized.as_str(), r.specifier_text.as_str()), ("flit-core", ">=3.2,<4"));
        let r = Requirement::parse("hatchling").unwrap();
        assert!(r.specifier.is_empty() && r.marker.is_none());
        assert_eq!(r.to_string(), "hatchling");
    }

    #[test]
    fn refuses_what_cannot_be_locked_or_read() {
        for (bad, says) in [
            ("pkg @ https://example.invalid/pkg.whl", "direct reference"),
            (">=1", "project name"),
            ("pkg[x", "closing `]`"),
            ("pkg (>=1", "closing `)`"),
            ("pkg >=1.*", "not a valid version specifier"),
            ("pkg ;", "marker"),
            ("pkg\n>=1", "spans lines"),
            ("pkg 1.0", "not a version specifier"),
        ] {
            let err = Requirement::parse(bad).unwrap_err().to_string();
            assert!(err.contains(says), "{bad:?}: {err}");
        }
    }
}
