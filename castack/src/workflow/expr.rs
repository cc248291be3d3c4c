//! The part of GitHub's expression language that `if:` conditions of this
//! project's workflows use: literals (`'text'`, `true`, `false`, numbers), the
//! contexts `needs.<job>.outputs.<name>` and `needs.<job>.result`, the status
//! functions `success()`, `failure()`, `cancelled()` and `always()`, `!`, `==`,
//! `!=`, `&&`, `||` and parentheses
//! (<https://docs.github.com/en/actions/reference/workflows-and-actions/expressions>).
//! Comparison is GitHub's loose one for strings: case-insensitive. Anything else
//! is an error, never a guess.

use anyhow::{Result, bail};

/// A value while evaluating.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Bool(bool),
    Text(String),
    Null,
}

impl Value {
    /// GitHub's truthiness: false, null, `""` and 0 are false.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Bool(b) => *b,
            Value::Text(s) => !s.is_empty() && s != "0",
            Value::Null => false,
        }
    }

    fn loosely_equals(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Text(a), Value::Text(b)) => a.eq_ignore_ascii_case(b),
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Null, Value::Null) => true,
            // A bool against text: GitHub casts both to numbers; `'true'` is NaN.
            _ => false,
        }
    }
}

/// What an expression may look up.
pub trait Context {
    /// `needs.<job>.outputs.<name>` or `needs.<job>.result`: `None` when the run has
    /// no such thing (an error here, where GitHub would give an empty string).
    fn lookup(&self, path: &[&str]) -> Option<Value>;
    /// `success()` / `failure()` / `cancelled()` for the jobs this one needs.
    fn status(&self, function: &str) -> Option<bool>;
}

/// Evaluates `text` (with or without `${{ }}` around it).
pub fn evaluate(text: &str, context: &dyn Context) -> Result<Value> {
    let inner = text.trim();
    let inner = inner.strip_prefix("${{").and_then(|it| it.strip_suffix("}}")).unwrap_or(inner);
    let tokens = tokenize(inner)?;
    let mut parser = Parser { tokens: &tokens, at: 0, context };
    let value = parser.or()?;
    if parser.at != tokens.len() {
        bail!("`{inner}`: unexpected {:?}", tokens[parser.at]);
    }
    Ok(value)
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Text(String),
    Word(String),
    Op(&'static str),
}

fn tokenize(s: &str) -> Result<Vec<Token>> {
    let mut out = Vec::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '\'' {
            // `''` inside a literal is one quote.
            let mut text = String::new();
            i += 1;
            loop {
                match (chars.get(i), chars.get(i + 1)) {
                    (Some('\''), Some('\'')) => {
                        text.push('\'');
                        i += 2;
                    }
                    (Some('\''), _) => break,
                    (Some(c), _) => {
                        text.push(*c);
                        i += 1;
                    }
                    (None, _) => bail!("`{s}`: a string is not closed"),
                }
            }
            i += 1;
            out.push(Token::Text(text));
        } else if let Some(op) = ["==", "!=", "&&", "||", "!", "(", ")"].iter().find(|op| {
            let op: Vec<char> = op.chars().collect();
            chars[i..].starts_with(&op)
        }) {
            i += op.len();
            out.push(Token::Op(op));
        } else if c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || "_-.".contains(chars[i])) {
                i += 1;
            }
            out.push(Token::Word(chars[start..i].iter().collect()));
        } else {
            bail!("`{s}`: {c:?} is not modelled by this runner's expressions");
        }
    }
    Ok(out)
}

struct Parser<'a> {
    tokens: &'a [Token],
    at: usize,
    context: &'a dyn Context,
}

impl Parser<'_> {
    fn peek_op(&self, op: &str) -> bool {
        matches!(self.tokens.get(self.at), Some(Token::Op(it)) if *it == op)
    }

    fn or(&mut self) -> Result<Value> {
        let mut left = self.and()?;
        while self.peek_op("||") {
            self.at += 1;
            let right = self.and()?;
            left = if left.truthy() { left } else { right };
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Value> {
        let mut left = self.equality()?;
        while self.peek_op("&&") {
            self.at += 1;
            let right = self.equality()?;
            left = if left.truthy() { right } else { left };
        }
        Ok(left)
    }

    fn equality(&mut self) -> Result<Value> {
        let left = self.unary()?;
        for (op, equal) in [("==", true), ("!=", false)] {
            if self.peek_op(op) {
                self.at += 1;
                let right = self.unary()?;
                return Ok(Value::Bool(left.loosely_equals(&right) == equal));
            }
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Value> {
        if self.peek_op("!") {
            self.at += 1;
            return Ok(Value::Bool(!self.unary()?.truthy()));
        }
        if self.peek_op("(") {
            self.at += 1;
            let value = self.or()?;
            if !self.peek_op(")") {
                bail!("a `(` is not closed");
            }
            self.at += 1;
            return Ok(value);
        }
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        match token {
            Some(Token::Text(text)) => Ok(Value::Text(text)),
            Some(Token::Word(word)) => self.word(&word),
            other => bail!("expected a value, found {other:?}"),
        }
    }

    fn word(&mut self, word: &str) -> Result<Value> {
        match word {
            "true" => return Ok(Value::Bool(true)),
            "false" => return Ok(Value::Bool(false)),
            "null" => return Ok(Value::Null),
            _ => {}
        }
        if self.peek_op("(") {
            self.at += 1;
            if !self.peek_op(")") {
                bail!("{word}() takes no arguments here");
            }
            self.at += 1;
            if word == "always" {
                return Ok(Value::Bool(true));
            }
            return match self.context.status(word) {
                Some(value) => Ok(Value::Bool(value)),
                None => bail!("the function {word}() is not modelled by this runner"),
            };
        }
        if word.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(Value::Text(word.to_owned()));
        }
        let path: Vec<&str> = word.split('.').collect();
        match self.context.lookup(&path) {
            Some(value) => Ok(value),
            None => bail!("`{word}` names nothing this run has (or is not modelled by this runner)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed;

    impl Context for Fixed {
        fn lookup(&self, path: &[&str]) -> Option<Value> {
            match path {
                ["needs", "compile", "outputs", "private"] => Some(Value::Text("true".into())),
                ["needs", "deps", "result"] => Some(Value::Text("skipped".into())),
                ["needs", "compile", "result"] => Some(Value::Text("success".into())),
                _ => None,
            }
        }

        fn status(&self, function: &str) -> Option<bool> {
            match function {
                "success" => Some(false),
                "failure" | "cancelled" => Some(false),
                _ => None,
            }
        }
    }

    #[test]
    fn evaluates_the_conditions_of_the_release_workflow() {
        let cases = [
            ("needs.compile.outputs.private == 'true'", true),
            ("${{ needs.compile.outputs.private == 'TRUE' }}", true),
            ("needs.compile.outputs.private != 'true'", false),
            (
                "!cancelled() && needs.compile.result == 'success' && (needs.deps.result == 'success' || needs.deps.result == 'skipped')",
                true,
            ),
            ("success()", false),
            ("always() && !failure()", true),
            ("'it''s' == 'IT''S'", true),
        ];
        for (text, want) in cases {
            assert_eq!(evaluate(text, &Fixed).unwrap().truthy(), want, "{text}");
        }
        for bad in ["needs.nope.result == 'x'", "contains('a', 'b')", "1 < 2", "'open", "(true"] {
            assert!(evaluate(bad, &Fixed).is_err(), "{bad}");
        }
    }
}
