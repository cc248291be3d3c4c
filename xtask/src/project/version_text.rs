//! Finding the version's text where the build backend reads it: the
//! `__version__ = "…"` assignment of a Python file (or another variable name), a
//! file that holds nothing but the version, or `version = "…"` in the `[project]`
//! table of `pyproject.toml`; and the file with another version in its place
//! (`replace`). The Version step reads it there, Preflight compares it with the
//! committed file, and Stamp writes it (`xtask/src/release/stamp.rs`).
//!
//! The file is treated as bytes: the version is a byte range, so that only its
//! characters change and comments, other code, CRLF line endings and the file's
//! encoding stay as they were.

use std::ops::Range;

use anyhow::{Result, bail};

mod pyproject;

pub use pyproject::find as find_pyproject_version;

/// Where in its file the version is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// `NAME = "…"` at the start of a line of a Python file (`__version__`).
    Assignment(String),
    /// The whole file is the version, with optional surrounding whitespace
    /// (setuptools' `version = {file = "VERSION"}`).
    WholeFile,
    /// `version = "…"` in the `[project]` table of `pyproject.toml`.
    PyprojectVersion,
}

impl Place {
    /// Finds the version in `text`; `file` names the file in error messages.
    pub fn find(&self, text: &[u8], file: &str) -> Result<Assignment> {
        match self {
            Place::Assignment(variable) => find_assignment(text, file, variable),
            Place::WholeFile => find_whole_file(text, file),
            Place::PyprojectVersion => find_pyproject_version(text),
        }
    }
}

/// The version text of a file and where it is.
#[derive(Debug, PartialEq, Eq)]
pub struct Assignment {
    /// Byte range of the version text, between the quotes.
    pub value: Range<usize>,
    /// The current version text.
    pub current: String,
}

/// Finds the single `__version__ = "…"` (or `'…'`) assignment in `text`.
#[cfg(test)]
pub fn find(text: &[u8], file: &str) -> Result<Assignment> {
    find_assignment(text, file, "__version__")
}

/// A file that holds only the version (and whitespace around it).
fn find_whole_file(text: &[u8], file: &str) -> Result<Assignment> {
    let start = text.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(text.len());
    let end = text.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(start, |i| i + 1);
    let current =
        std::str::from_utf8(&text[start..end]).ok().filter(|it| !it.is_empty() && !it.contains(char::is_whitespace));
    match current {
        Some(current) => Ok(Assignment { value: start..end, current: current.to_owned() }),
        None => bail!(
            "{file} must hold the version and nothing else (such as `0.1.0` and a line break), since \
             [tool.setuptools.dynamic] reads the whole file as the version"
        ),
    }
}

/// Finds the single `VARIABLE = "…"` (or `'…'`) assignment in `text`.
///
/// `file` only names the file in error messages.
fn find_assignment(text: &[u8], file: &str, variable: &str) -> Result<Assignment> {
    // (line number, offset of the line's end, the line without a byte order mark)
    let mut found = Vec::new();
    let mut line_end = 0;
    for (lineno, line) in text.split_inclusive(|&b| b == b'\n').enumerate() {
        line_end += line.len();
        // A UTF-8 byte order mark belongs to the file's encoding, not to the first line.
        let line = if lineno == 0 { line.strip_prefix(b"\xef\xbb\xbf").unwrap_or(line) } else { line };
        let code = skip_blanks(line);
        let Some(rest) = code.strip_prefix(variable.as_bytes()) else { continue };
        // `__version__ = …` and `__version__: str = …` are assignments; `__version__ ==`
        // or `__version__.foo` are not.
        let after_name = skip_blanks(rest);
        let is_assignment = match after_name.first() {
            Some(b'=') => after_name.get(1) != Some(&b'='),
            Some(b':') => true,
            _ => false,
        };
        if is_assignment {
            found.push((lineno + 1, line_end, line.len() != code.len(), rest));
        }
    }
    let (lineno, line_end, indented, rest) = match found.as_slice() {
        [one] => *one,
        [] => bail!(
            "{file} has no `{variable} = \"…\"` assignment: add the line \
             `{variable} = \"0.0.0\"` so the release can stamp the version"
        ),
        many => {
            let lines: Vec<String> = many.iter().map(|it| it.0.to_string()).collect();
            bail!(
                "{file} assigns `{variable}` {} times (lines {}): keep exactly one \
                 `{variable} = \"…\"` line so the version has a single source",
                many.len(),
                lines.join(", ")
            )
        }
    };
    let unsupported = || {
        anyhow::format_err!(
            "{file}:{lineno}: the `{variable}` assignment must be a plain string literal at \
             the start of the line, such as `{variable} = \"1.0.0\"`; the release rewrites only \
             what is between the quotes"
        )
    };
    if indented {
        return Err(unsupported());
    }
    // `__version__`, optional `: str`, `=`, a quoted literal, then only a comment.
    let mut rest = skip_blanks(rest);
    if let Some(annotated) = rest.strip_prefix(b":") {
        rest = skip_blanks(annotated).strip_prefix(b"str").map(skip_blanks).ok_or_else(unsupported)?;
    }
    let rest = rest.strip_prefix(b"=").map(skip_blanks).ok_or_else(unsupported)?;
    let quote = match rest.first() {
        Some(&q @ (b'"' | b'\'')) => q,
        _ => return Err(unsupported()),
    };
    let body = &rest[1..];
    let len = body.iter().position(|&b| b == quote || b == b'\\' || b == b'\n').ok_or_else(unsupported)?;
    if body[len] != quote || body.get(len + 1) == Some(&quote) {
        // An escape, a line break or a triple-quoted string: not a plain literal.
        return Err(unsupported());
    }
    let tail = skip_blanks(&body[len + 1..]);
    if !(tail.is_empty() || tail.starts_with(b"#") || tail.starts_with(b"\n") || tail.starts_with(b"\r\n")) {
        return Err(unsupported());
    }
    // `body` is a suffix of its line, so its offset follows from where the line ends.
    let value_start = line_end - body.len();
    let current = String::from_utf8(body[..len].to_vec()).map_err(|_| unsupported())?;
    Ok(Assignment { value: value_start..value_start + len, current })
}

/// Returns `text` with the version of `assignment` replaced by `version`.
pub fn replace(text: &[u8], assignment: &Assignment, version: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + version.len());
    out.extend_from_slice(&text[..assignment.value.start]);
    out.extend_from_slice(version.as_bytes());
    out.extend_from_slice(&text[assignment.value.end..]);
    out
}

fn skip_blanks(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|&&b| b == b' ' || b == b'\t').count();
    &s[n..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(text: &[u8], version: &str) -> Result<Vec<u8>> {
        let assignment = find(text, "yamause/__about__.py")?;
        Ok(replace(text, &assignment, version))
    }

    #[test]
    fn rewrites_only_the_version() {
        let cases: [(&[u8], &[u8]); 8] = [
            (b"__version__ = \"0.1.0\"\n", b"__version__ = \"1.2.3\"\n"),
            (b"__version__ = '0.1.0'\n", b"__version__ = '1.2.3'\n"),
            (b"# c\r\n__version__ = \"0.1.0\"\r\nX = 1\r\n", b"# c\r\n__version__ = \"1.2.3\"\r\nX = 1\r\n"),
            (b"__version__=\"0.1.0\"  # keep me\n", b"__version__=\"1.2.3\"  # keep me\n"),
            (b"__version__: str = \"0\"", b"__version__: str = \"1.2.3\""),
            (
                b"\"\"\"Doc.\"\"\"\n\n__version__ = \"\"\n\ndef f():\n    return __version__ == 'x'\n",
                b"\"\"\"Doc.\"\"\"\n\n__version__ = \"1.2.3\"\n\ndef f():\n    return __version__ == 'x'\n",
            ),
            // Bytes that are not UTF-8 elsewhere in the file survive untouched.
            (
                b"# -*- coding: latin-1 -*-\n# Caf\xe9\n__version__ = \"0.1\"\n",
                b"# -*- coding: latin-1 -*-\n# Caf\xe9\n__version__ = \"1.2.3\"\n",
            ),
            (b"\xef\xbb\xbf__version__ = \"0.1\"\n", b"\xef\xbb\xbf__version__ = \"1.2.3\"\n"),
        ];
        for (i, (input, want)) in cases.iter().enumerate() {
            assert_eq!(stamp(input, "1.2.3").unwrap(), *want, "case {i}");
        }
    }

    #[test]
    fn reads_the_current_version() {
        let a = find(b"x = 1\n__version__ = '2.0rc1'  # c\n", "f").unwrap();
        assert_eq!(a.current, "2.0rc1");
    }

    #[test]
    fn refuses_missing_duplicate_and_unsupported_assignments() {
        let cases: [(&[u8], &str); 9] = [
            (b"VERSION = \"1\"\n", "no `__version__"),
            (b"", "no `__version__"),
            (b"__version__ = \"1\"\n__version__ = \"2\"\n", "2 times (lines 1, 2)"),
            (b"__version__ = \"1\"\nif x:\n    __version__ = \"2\"\n", "2 times (lines 1, 3)"),
            (b"__version__ = get_version()\n", ":1: the `__version__` assignment must be a plain string"),
            (b"__version__ = \"1\" + \"2\"\n", "plain string"),
            (b"__version__ = \"\"\"1\"\"\"\n", "plain string"),
            (b"__version__ = \"1\\x\"\n", "plain string"),
            (b"__version__ = \"1\n", "plain string"),
        ];
        for (input, want) in cases {
            let err = find(input, "yamause/__about__.py").unwrap_err().to_string();
            assert!(err.contains("yamause/__about__.py"), "{err}");
            assert!(err.contains(want), "{err:?} should contain {want:?}");
        }
    }
}
