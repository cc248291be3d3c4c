//! Everything the program prints: lines, notes, warnings and errors, and the GitHub
//! Actions forms of them (`::group::`, `::warning::`, `::error::`, the step summary).
//! The `::add-mask::` of a secret is `redact`'s own, and the numbered steps of a
//! release are `release::steps`.
//!
//! All text passes through `redact::scrub` first, then `neutralize`, so that no line
//! can read as a workflow command the program did not mean to send. Output goes to
//! stderr, so stdout stays free for what a caller may want to capture (`out`).

use std::{fs::OpenOptions, io::Write, time::Duration};

use anyhow::{Context, Result};

use crate::redact;

/// True when running as a GitHub Actions step.
pub fn in_github_actions() -> bool {
    crate::ci::context().github_actions
}

/// True on a CI runner (`CI=true`, which GitHub Actions and most CI systems set).
pub fn in_ci() -> bool {
    crate::ci::context().ci
}

/// Something to print with a step, gathered while its work ran (the notes of
/// `aws::authenticate`, printed once it ends).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    Say(String),
    Warn(String),
}

/// Prints gathered notes, each the way its kind is printed.
pub fn notes(notes: &[Note]) {
    for note in notes {
        match note {
            Note::Say(text) => say(text),
            Note::Warn(text) => warn(text),
        }
    }
}

/// Makes text safe to print into a GitHub Actions log, whoever wrote it (file names
/// from an artifact, server answers, a child's output, error chains).
///
/// The runner reads workflow commands in every line a step prints, in two forms
/// (actions/runner `src/Runner.Common/ActionCommand.cs`): `::name args::data` once
/// the line is trimmed of leading whitespace (`TryParseV2`), and the legacy
/// `##[name args]data` anywhere in the line (`TryParse` finds the prefix with
/// `IndexOf("##[")`). `stop-commands` in either form makes it ignore every later
/// command, `add-mask` included, so one such line would unmask every secret after
/// it. The runner reads a line break at CR as well as at LF.
///
/// So every line (split at CR and LF) gets `##[` → `# #[`, and a leading `::` (after
/// whitespace) → `: :`; the commands the program means to send are printed by this
/// module after the data in them has been neutralized and escaped.
pub fn neutralize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for segment in text.split_inclusive(['\r', '\n']) {
        let body = segment.trim_end_matches(['\r', '\n']);
        let end = &segment[body.len()..];
        let body = body.replace("##[", "# #[");
        let trimmed = body.trim_start();
        match trimmed.strip_prefix("::") {
            Some(rest) => {
                out.push_str(&body[..body.len() - trimmed.len()]);
                out.push_str(": :");
                out.push_str(rest);
            }
            None => out.push_str(&body),
        }
        out.push_str(end);
    }
    out
}

/// Scrubbed of secrets, then neutralized: what every printed text goes through.
pub fn safe(text: &str) -> String {
    neutralize(&redact::scrub(text))
}

/// Writes one line to stderr (`to_stdout`: stdout). A stream whose reader went
/// away (EPIPE: a closed terminal, `| head`) does not panic, as `println!` would:
/// the run then stops in order, as on a signal (`interrupt::output_lost`).
fn emit(to_stdout: bool, line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let written = if to_stdout {
        writeln!(std::io::stdout().lock(), "{line}")
    } else {
        writeln!(std::io::stderr().lock(), "{line}")
    };
    if written.is_err() {
        crate::interrupt::output_lost();
    }
}

/// Prints a line of the program's own output.
pub fn say(text: &str) {
    emit(false, format_args!("{}", safe(text)));
}

/// Prints a result on stdout (documents, findings, paths a caller captures).
pub fn out(text: &str) {
    emit(true, format_args!("{}", safe(text)));
}

/// Prints a JSON document on stdout. `##[` can only be inside a string there, where
/// `#\u0023[` is the same string to a JSON reader and no command to the runner.
pub fn out_json(json: &str) {
    emit(true, format_args!("{}", redact::scrub(json).replace("##[", "#\\u0023[")));
}

/// Prints a warning (a `::warning::` annotation in GitHub Actions).
pub fn warn(text: &str) {
    let text = safe(text);
    if in_github_actions() {
        emit(false, format_args!("::warning::{}", crate::ci::escape_data(&text)));
    } else {
        emit(false, format_args!("warning: {text}"));
    }
}

/// Prints the error that ends the run (a `::error::` annotation in GitHub Actions).
pub fn error(err: &anyhow::Error) {
    let mut text = format!("error: {err}");
    for cause in err.chain().skip(1) {
        text.push_str(&format!("\n  caused by: {cause}"));
    }
    let text = safe(&text);
    emit(false, format_args!("{text}"));
    if in_github_actions() {
        // One annotation with the whole chain; `%0A` keeps it a single command line.
        emit(false, format_args!("::error::{}", crate::ci::escape_data(&text)));
    }
}

/// Prints one line of a child process's output (scrubbed and neutralized here too:
/// a prefix alone stops neither form of workflow command, see `neutralize`).
pub fn child_line(line: &str) {
    emit(false, format_args!("  │ {}", safe(line)));
}

/// Appends Markdown to the job summary (`$GITHUB_STEP_SUMMARY`), when there is one.
pub fn append_summary(markdown: &str) -> Result<()> {
    let Some(path) = &crate::ci::context().step_summary else {
        return Ok(());
    };
    let mut file = OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .with_context(|| format!("open the job summary {}", path.display()))?;
    file.write_all(safe(markdown).as_bytes()).context("write the job summary")?;
    Ok(())
}

/// Opens a folded group of the log: `::group::` in GitHub Actions, elsewhere the
/// label as a line of its own.
pub fn group(label: &str) {
    if in_github_actions() {
        emit(false, format_args!("::group::{}", crate::ci::escape_data(&safe(label))));
    } else {
        say(label);
    }
}

/// Closes the group `group` opened (GitHub Actions only).
pub fn end_group() {
    if in_github_actions() {
        emit(false, format_args!("::endgroup::"));
    }
}

/// Text for a cell of a Markdown table in the job summary: inline code, with the
/// characters that would end the cell or the code span replaced.
pub fn md_code(text: &str) -> String {
    let text: String = text
        .chars()
        .map(|c| match c {
            '|' => '¦',
            '`' => '\'',
            '\r' | '\n' => ' ',
            c if c.is_control() => '�',
            c => c,
        })
        .collect();
    format!("`{text}`")
}

/// `1.23 s`, the way every duration is printed.
pub fn seconds(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_line_reads_as_a_workflow_command() {
        let cases = [
            ("plain text", "plain text"),
            ("::add-mask::x", ": :add-mask::x"),
            ("   ::stop-commands::t", "   : :stop-commands::t"),
            ("\t\u{a0}::error::x", "\t\u{a0}: :error::x"),
            ("name-##[stop-commands]x.whl", "name-# #[stop-commands]x.whl"),
            ("###[a] ##[b]", "## #[a] # #[b]"),
            (
                "ok\n::warning::x\r::set-output name=a::b\r\n  ##[group]y",
                "ok\n: :warning::x\r: :set-output name=a::b\r\n  # #[group]y",
            ),
            ("a :: b", "a :: b"),
        ];
        for (input, want) in cases {
            assert_eq!(neutralize(input), want, "{input:?}");
        }
        // Whatever the input, no runner line starts with `::` or holds `##[`.
        let nasty = "##[##[###[::\r::\n \u{3000}::##[\r\n::";
        for line in neutralize(nasty).split(['\r', '\n']) {
            assert!(!line.trim_start().starts_with("::") && !line.contains("##["), "{line:?}");
        }
    }

    #[test]
    fn markdown_cells_cannot_break_the_table() {
        assert_eq!(md_code("a|b`c\nd"), "`a¦b'c d`");
    }
}
