//! The diff of a policy document the plan shows: both documents normalized (parsed,
//! printed with IAM's key order by `policy::to_pretty_json`), then a line diff by
//! the longest common subsequence. Policies are a few dozen lines, so the quadratic
//! table costs nothing and no diff crate is needed.

use serde_json::Value;

use crate::policy;

/// `existing` (as IAM returns it: plain or percent-encoded JSON) against `generated`,
/// both normalized: `Ok(None)` when they are the same document, else the diff.
/// `Err` when `existing` is not JSON, with the reason.
pub fn documents(existing: &str, generated: &Value) -> Result<Option<String>, String> {
    let decoded = decode(existing);
    let value: Value = serde_json::from_str(&decoded).map_err(|err| format!("it is not JSON ({err})"))?;
    if &value == generated {
        return Ok(None);
    }
    Ok(Some(lines(&policy::to_pretty_json(&value), &policy::to_pretty_json(generated))))
}

/// A document that is all new, as a diff: every line added.
pub fn added(generated: &Value) -> String {
    lines("", &policy::to_pretty_json(generated))
}

/// A policy document as IAM returns it, in plain JSON (the policy reader's decoding).
pub fn decode(text: &str) -> String {
    crate::policy::plain_text(text)
}

/// The line diff of `old` and `new`: each line of either prefixed with `  ` (in
/// both), `- ` (only in `old`) or `+ ` (only in `new`), in order.
pub fn lines(old: &str, new: &str) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    // lcs[i][j]: the longest common subsequence of a[i..] and b[j..].
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let mut out = String::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out.push_str(&format!("  {}\n", a[i]));
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            // On a tie the removed line comes first, as diff(1) prints a change.
            out.push_str(&format!("- {}\n", a[i]));
            i += 1;
        } else {
            out.push_str(&format!("+ {}\n", b[j]));
            j += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_diff_keeps_common_lines_and_marks_the_rest() {
        assert_eq!(lines("a\nb\nc\n", "a\nx\nc\n"), "  a\n- b\n+ x\n  c\n");
        assert_eq!(lines("", "a\n"), "+ a\n");
        assert_eq!(lines("a\n", ""), "- a\n");
        assert_eq!(lines("a\nb\n", "a\nb\n"), "  a\n  b\n");
        // A line moved: one side of it is removed, the other added.
        let diff = lines("a\nb\nc\n", "b\nc\na\n");
        assert_eq!(diff, "- a\n  b\n  c\n+ a\n");
    }

    #[test]
    fn documents_are_compared_normalized_and_decoded() {
        let generated =
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "x", "Resource": "*"}]});
        let same = r#"{"Statement":[{"Resource":"*","Action":"x","Effect":"Allow"}],"Version":"2012-10-17"}"#;
        assert_eq!(documents(same, &generated), Ok(None));
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C\
                       %22Action%22%3A%22y%22%2C%22Resource%22%3A%22%2A%22%7D%5D%7D";
        let diff = documents(encoded, &generated).unwrap().unwrap();
        assert!(diff.contains("-       \"Action\": \"y\",") && diff.contains("+       \"Action\": \"x\","), "{diff}");
        assert!(documents("%7Bnot json", &generated).unwrap_err().contains("not JSON"));
        assert_eq!(decode("a%2Bb+c%zz"), "a+b+c%zz");
    }
}
