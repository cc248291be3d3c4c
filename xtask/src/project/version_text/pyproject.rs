//! A static version in `pyproject.toml`: the `version = "…"` line of the
//! `[project]` table (PEP 621), rewritten between its quotes and nowhere else. The
//! TOML is parsed again afterwards, so a line that only looked like the key (inside
//! a multi-line string, say) can never be the one changed.

use anyhow::{Result, bail};

use super::Assignment;

const FILE: &str = "pyproject.toml";

/// Finds the version of `[project] version = "…"` in the text of pyproject.toml.
pub fn find(text: &[u8]) -> Result<Assignment> {
    let unsupported = |why: &str| {
        anyhow::format_err!(
            "{FILE}: {why}; the release rewrites the static version only as one line `version = \"1.0.0\"` in the \
             [project] table (PEP 621)"
        )
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return Err(unsupported("the file is not UTF-8"));
    };
    let mut table = String::new();
    let mut found = Vec::new();
    let mut offset = 0;
    for (lineno, line) in text.split_inclusive('\n').enumerate() {
        let start = offset;
        offset += line.len();
        let code = line.trim_start_matches([' ', '\t']);
        if code.starts_with('[') {
            let end = code.find(']').unwrap_or(code.len());
            table = code[1..end].trim().to_owned();
            continue;
        }
        if table != "project" {
            continue;
        }
        let Some(rest) = code.strip_prefix("version") else { continue };
        let rest = rest.trim_start_matches([' ', '\t']);
        let Some(value) = rest.strip_prefix('=') else { continue };
        let value = value.trim_start_matches([' ', '\t']);
        let quote = match value.chars().next() {
            Some(q @ ('"' | '\'')) => q,
            _ => return Err(unsupported(&format!("line {} is not a quoted string", lineno + 1))),
        };
        let body = &value[1..];
        let Some(len) = body.find([quote, '\\', '\n']) else {
            return Err(unsupported(&format!("line {} does not close its string", lineno + 1)));
        };
        if !body[len..].starts_with(quote) || body[len + 1..].starts_with(quote) {
            return Err(unsupported(&format!("line {} is not a plain one-line string", lineno + 1)));
        }
        let tail = body[len + 1..].trim_start_matches([' ', '\t']);
        if !(tail.is_empty() || tail.starts_with('#') || tail.starts_with('\n') || tail.starts_with("\r\n")) {
            return Err(unsupported(&format!("line {} has more after the string", lineno + 1)));
        }
        let value_start = start + (line.len() - body.len());
        found.push((lineno + 1, Assignment { value: value_start..value_start + len, current: body[..len].to_owned() }));
    }
    let assignment = match found.len() {
        1 => found.remove(0).1,
        0 => return Err(unsupported("[project] has no line `version = \"…\"`")),
        _ => {
            let lines: Vec<String> = found.iter().map(|it| it.0.to_string()).collect();
            return Err(unsupported(&format!("[project] sets version on lines {}", lines.join(", "))));
        }
    };
    // The line found must be the version TOML reads, and changing it must change
    // nothing else.
    let parsed: toml::Table = text.parse().map_err(|_| unsupported("the file is not valid TOML"))?;
    let declared = parsed.get("project").and_then(|it| it.get("version")).and_then(|it| it.as_str());
    if declared != Some(assignment.current.as_str()) {
        return Err(unsupported("the line found is not what TOML reads as [project] version"));
    }
    let probe = "0.0.0.dev424242";
    let changed = super::replace(text.as_bytes(), &assignment, probe);
    let changed: toml::Table = std::str::from_utf8(&changed)
        .ok()
        .and_then(|it| it.parse().ok())
        .ok_or_else(|| unsupported("rewriting the line breaks the TOML"))?;
    let mut expected = parsed.clone();
    if let Some(project) = expected.get_mut("project").and_then(|it| it.as_table_mut()) {
        project.insert("version".to_owned(), toml::Value::String(probe.to_owned()));
    }
    if changed != expected {
        bail!("{FILE}: rewriting the version line changes more than [project] version; write it as one line");
    }
    Ok(assignment)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(text: &str, version: &str) -> Result<String> {
        let found = find(text.as_bytes())?;
        Ok(String::from_utf8(super::super::replace(text.as_bytes(), &found, version)).unwrap())
    }

    #[test]
    fn rewrites_only_the_project_version() {
        let text = "[build-system]\nrequires = [\"poetry-core>=2\"]\n\n[project]\nname = \"x\"\r\nversion = '0.1.0'  # keep\r\n\n[tool.other]\nversion = \"9\"\n";
        assert_eq!(
            stamp(text, "2.0.0rc1").unwrap(),
            text.replace("version = '0.1.0'", "version = '2.0.0rc1'"),
            "the other table's version is left alone"
        );
    }

    #[test]
    fn refuses_what_it_cannot_rewrite_exactly() {
        for (text, says) in [
            ("[project]\nname = \"x\"\n", "has no line"),
            ("[project]\nversion = \"1\"\nversion = \"2\"\n", "lines 2, 3"),
            ("[project]\nversion = \"\"\"1\"\"\"\n", "plain one-line string"),
            ("[project]\nversion = \"1\\u0030\"\n", "plain one-line string"),
            ("[project]\nversion = \"1\" \"x\"\n", "more after the string"),
            ("project.version = \"1\"\n[project]\nname = \"x\"\n", "has no line"),
            ("[project]\ndescription = \"\"\"\n[project]\nversion = \"1\"\n\"\"\"\nversion = \"2\"\n", "lines"),
        ] {
            let err = format!("{:#}", find(text.as_bytes()).unwrap_err());
            assert!(err.contains(says), "{text:?}: {err}");
        }
    }
}
