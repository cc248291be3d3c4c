//! Just enough of a Rust lexer for the tidy checks: the string literals,
//! identifiers and punctuation of a source file, comments dropped, and the items
//! under `#[cfg(test)]` left out.

use std::path::{Path, PathBuf};

/// A token of Rust source, as far as the scan needs: string literals (their text
/// as written, escapes included), identifiers and single punctuation characters.
/// Comments, whitespace, lifetimes, char and number literals are dropped.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Str(String),
    Ident(String),
    Punct(char),
}

pub fn lex(source: &str) -> Vec<Tok> {
    let s: Vec<char> = source.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let at = |i: usize| s.get(i).copied().unwrap_or('\0');
    while i < s.len() {
        let c = s[i];
        if c == '/' && at(i + 1) == '/' {
            while i < s.len() && s[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < s.len() {
                if s[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if s[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == '"' {
            let start = i + 1;
            i += 1;
            while i < s.len() && s[i] != '"' {
                i += if s[i] == '\\' { 2 } else { 1 };
            }
            out.push(Tok::Str(s[start..i.min(s.len())].iter().collect()));
            i += 1;
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{..}'), else a lifetime ('a, 'static).
            if at(i + 1) == '\\' {
                i += 2;
                while i < s.len() && s[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if at(i + 2) == '\'' {
                i += 3;
            } else {
                i += 1;
            }
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < s.len() && (s[i].is_alphanumeric() || s[i] == '_') {
                i += 1;
            }
            let word: String = s[start..i].iter().collect();
            let hashes = s[i..].iter().take_while(|it| **it == '#').count();
            if matches!(word.as_str(), "r" | "br" | "cr") && at(i + hashes) == '"' {
                let start = i + hashes + 1;
                let close: String = std::iter::once('"').chain(std::iter::repeat_n('#', hashes)).collect();
                let rest: String = s[start..].iter().collect();
                let len = rest.find(&close).unwrap_or(rest.len());
                out.push(Tok::Str(rest[..len].to_owned()));
                i = start + rest[..len].chars().count() + close.chars().count();
            } else if matches!(word.as_str(), "b" | "c") && at(i) == '"' {
                // A byte or C string: the `"` is lexed next, as a string.
            } else {
                out.push(Tok::Ident(word));
            }
        } else if c.is_ascii_digit() {
            while i < s.len() && (s[i].is_alphanumeric() || s[i] == '_') {
                i += 1;
            }
        } else {
            if !c.is_whitespace() {
                out.push(Tok::Punct(c));
            }
            i += 1;
        }
    }
    out
}

/// `tokens` without the items under `#[cfg(test)]`; a test-only module in a file of
/// its own (`#[cfg(test)] mod tests;`) goes to `test_only`, as the path of its file
/// without the extension (which its folder, if any, starts with too).
pub fn without_test_items(tokens: Vec<Tok>, path: &Path, test_only: &mut Vec<PathBuf>) -> Vec<Tok> {
    let cfg_test = [
        Tok::Punct('#'),
        Tok::Punct('['),
        Tok::Ident("cfg".into()),
        Tok::Punct('('),
        Tok::Ident("test".into()),
        Tok::Punct(')'),
        Tok::Punct(']'),
    ];
    let stem = path.file_stem().unwrap().to_string_lossy();
    let module_dir = if ["mod", "lib", "main"].contains(&stem.as_ref()) {
        path.parent().unwrap().to_path_buf()
    } else {
        path.with_extension("")
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        if !tokens[i..].starts_with(&cfg_test) {
            out.push(tokens[i].clone());
            i += 1;
            continue;
        }
        i += cfg_test.len();
        let item_start = i;
        let mut depth = 0;
        while i < tokens.len() {
            match &tokens[i] {
                Tok::Punct('{') => depth += 1,
                Tok::Punct('}') => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                Tok::Punct(';') if depth == 0 => break,
                _ => {}
            }
            i += 1;
        }
        if let [.., Tok::Ident(kw), Tok::Ident(name), Tok::Punct(';')] = &tokens[item_start..=i.min(tokens.len() - 1)]
            && kw == "mod"
        {
            test_only.push(module_dir.join(name));
        }
        i += 1;
    }
    out
}
