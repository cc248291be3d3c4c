//! Reading a policy document: the text as IAM hands it out (often percent-encoded)
//! into normalised statements, where every element that IAM allows in several
//! shapes (`Statement` object or list, `Action` string or list, `Principal` `"*"` or
//! a map of string-or-list) has one shape.
//!
//! Parsing never fails on a statement: a statement IAM would refuse is left out and
//! described in `Document::problems`, so the rest can still be analysed. A key
//! written twice in one object is kept merged and listed in `Document::duplicates`
//! (see `json`).

use serde_json::Value;

use super::{json::Duplicate, text};

/// A parsed policy document.
#[derive(Debug, Clone, Default)]
pub struct Document {
    pub statements: Vec<Statement>,
    /// Statements left out because IAM would refuse them, as sentences.
    pub problems: Vec<String>,
    /// Keys written twice in one object (the statements read them merged).
    pub duplicates: Vec<Duplicate>,
    /// Its size as IAM counts it against its quotas: the characters of the JSON
    /// text, whitespace not counted (`text::iam_size`).
    pub size: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// `Action`/`Resource` (the listed names) or `NotAction`/`NotResource` (every name
/// except the listed ones).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Names {
    Only(Vec<String>),
    Except(Vec<String>),
}

/// `Principal` or, with `negated`, `NotPrincipal`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principals {
    pub negated: bool,
    /// `"Principal": "*"`.
    pub any: bool,
    pub entries: Vec<Principal>,
}

/// One principal: its kind as written (`AWS`, `Federated`, `Service`,
/// `CanonicalUser`) and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub kind: String,
    pub value: String,
}

#[derive(Debug, Clone)]
pub struct Statement {
    /// Position in the document, from 0.
    pub index: usize,
    pub sid: Option<String>,
    pub effect: Effect,
    pub action: Names,
    pub resource: Option<Names>,
    pub principal: Option<Principals>,
    pub conditions: Vec<Condition>,
}

/// One condition: operator, key and the values (any of which may match).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub operator: Operator,
    /// The key as written; compare with `key_lower`, as IAM ignores case in keys.
    pub key: String,
    pub values: Vec<String>,
}

/// A condition operator split into its parts: `ForAllValues:StringLikeIfExists` is
/// `set = ForAllValues`, `kind = StringLike`, `if_exists = true`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    /// As written in the policy.
    pub name: String,
    pub set: Option<SetOp>,
    pub kind: OpKind,
    pub if_exists: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOp {
    ForAllValues,
    ForAnyValue,
}

/// The condition operators IAM knows, and `Unknown` for any other name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    Null,
    Unknown,
}

const OPERATORS: [(&str, OpKind); 27] = [
    ("StringEquals", OpKind::StringEquals),
    ("StringNotEquals", OpKind::StringNotEquals),
    ("StringEqualsIgnoreCase", OpKind::StringEqualsIgnoreCase),
    ("StringNotEqualsIgnoreCase", OpKind::StringNotEqualsIgnoreCase),
    ("StringLike", OpKind::StringLike),
    ("StringNotLike", OpKind::StringNotLike),
    ("NumericEquals", OpKind::NumericEquals),
    ("NumericNotEquals", OpKind::NumericNotEquals),
    ("NumericLessThan", OpKind::NumericLessThan),
    ("NumericLessThanEquals", OpKind::NumericLessThanEquals),
    ("NumericGreaterThan", OpKind::NumericGreaterThan),
    ("NumericGreaterThanEquals", OpKind::NumericGreaterThanEquals),
    ("DateEquals", OpKind::DateEquals),
    ("DateNotEquals", OpKind::DateNotEquals),
    ("DateLessThan", OpKind::DateLessThan),
    ("DateLessThanEquals", OpKind::DateLessThanEquals),
    ("DateGreaterThan", OpKind::DateGreaterThan),
    ("DateGreaterThanEquals", OpKind::DateGreaterThanEquals),
    ("Bool", OpKind::Bool),
    ("BinaryEquals", OpKind::BinaryEquals),
    ("IpAddress", OpKind::IpAddress),
    ("NotIpAddress", OpKind::NotIpAddress),
    ("ArnEquals", OpKind::ArnEquals),
    ("ArnLike", OpKind::ArnLike),
    ("ArnNotEquals", OpKind::ArnNotEquals),
    ("ArnNotLike", OpKind::ArnNotLike),
    ("Null", OpKind::Null),
];

impl OpKind {
    /// The negated operators: true when no value matches (and when the key is absent).
    pub fn is_negated(self) -> bool {
        matches!(
            self,
            OpKind::StringNotEquals
                | OpKind::StringNotEqualsIgnoreCase
                | OpKind::StringNotLike
                | OpKind::NumericNotEquals
                | OpKind::DateNotEquals
                | OpKind::NotIpAddress
                | OpKind::ArnNotEquals
                | OpKind::ArnNotLike
        )
    }

    /// The operators the AWS creation-time guardrail accepts as restricting `sub`.
    pub fn restricts_subject(self) -> bool {
        matches!(self, OpKind::StringEquals | OpKind::StringLike | OpKind::StringEqualsIgnoreCase)
    }
}

impl Operator {
    /// Splits an operator name; an unknown base name gives `OpKind::Unknown`.
    /// Names are matched without regard to case, so a typo in case alone is not
    /// reported as an unknown operator (IAM itself would say whether it accepts it).
    pub fn parse(name: &str) -> Operator {
        let mut rest = name;
        let mut set = None;
        if let Some((prefix, base)) = name.split_once(':') {
            set = match prefix.to_ascii_lowercase().as_str() {
                "forallvalues" => Some(SetOp::ForAllValues),
                "foranyvalue" => Some(SetOp::ForAnyValue),
                _ => return Operator { name: name.to_owned(), set: None, kind: OpKind::Unknown, if_exists: false },
            };
            rest = base;
        }
        let lower = rest.to_ascii_lowercase();
        let (base, if_exists) = match lower.strip_suffix("ifexists") {
            Some(base) => (base, true),
            None => (lower.as_str(), false),
        };
        let kind = OPERATORS
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(base))
            .map(|(_, kind)| *kind)
            .unwrap_or(OpKind::Unknown);
        // IAM has no `NullIfExists`.
        let kind = if kind == OpKind::Null && if_exists { OpKind::Unknown } else { kind };
        Operator { name: name.to_owned(), set, kind, if_exists }
    }
}

impl Condition {
    pub fn key_lower(&self) -> String {
        self.key.to_lowercase()
    }
}

impl Statement {
    /// `statement "Sid"` or `statement 2` (counted from 1), for messages.
    pub fn label(&self) -> String {
        match &self.sid {
            Some(sid) if !sid.is_empty() => format!("statement {sid:?}"),
            _ => format!("statement {}", self.index + 1),
        }
    }

    /// The conditions whose key is `key` (lower-case), across operators.
    pub fn conditions_on<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a Condition> + 'a {
        self.conditions.iter().filter(move |it| it.key_lower() == key)
    }
}

impl Document {
    /// Parses a policy as IAM returns it: JSON, or percent-encoded JSON (what
    /// `GetRole`, `GetRolePolicy` and `GetPolicyVersion` return). The error says
    /// what is wrong with the document as a whole.
    pub fn parse(text: &str) -> Result<Document, String> {
        let decoded = text::decode(text)?;
        Ok(Document { duplicates: decoded.duplicates, size: decoded.size, ..Document::from_value(&decoded.value)? })
    }

    /// Normalises an already parsed document.
    pub fn from_value(value: &Value) -> Result<Document, String> {
        let Value::Object(map) = value else {
            return Err(format!("the policy is a JSON {}, not an object with a \"Statement\"", type_name(value)));
        };
        let items: Vec<&Value> =
            match map.get("Statement") {
                None => return Err(
                    "the policy has no \"Statement\": a policy is {\"Version\": \"2012-10-17\", \"Statement\": [ … ]}"
                        .to_owned(),
                ),
                Some(Value::Array(items)) => items.iter().collect(),
                Some(item @ Value::Object(_)) => vec![item],
                Some(other) => {
                    return Err(format!(
                        "\"Statement\" is a JSON {}; it must be an object or a list of objects",
                        type_name(other)
                    ));
                }
            };
        let mut doc = Document::default();
        for (index, item) in items.into_iter().enumerate() {
            match parse_statement(index, item) {
                Ok(statement) => doc.statements.push(statement),
                Err(problem) => doc.problems.push(format!("statement {} is left out: {problem}", index + 1)),
            }
        }
        Ok(doc)
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "object",
    }
}

fn parse_statement(index: usize, value: &Value) -> Result<Statement, String> {
    let Value::Object(map) = value else {
        return Err(format!("it is a JSON {}, not an object", type_name(value)));
    };
    let sid = match map.get("Sid") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => return Err(format!("\"Sid\" is a {}, not a string", type_name(other))),
    };
    let effect = match map.get("Effect") {
        Some(Value::String(s)) if s == "Allow" => Effect::Allow,
        Some(Value::String(s)) if s == "Deny" => Effect::Deny,
        Some(other) => return Err(format!("\"Effect\" is {other}; it must be \"Allow\" or \"Deny\"")),
        None => return Err("it has no \"Effect\"; add \"Effect\": \"Allow\"".to_owned()),
    };
    let action = names(map, "Action", "NotAction")?
        .ok_or("it has neither \"Action\" nor \"NotAction\"; name the actions it applies to")?;
    let resource = names(map, "Resource", "NotResource")?;
    let principal = principals(map)?;
    let conditions = match map.get("Condition") {
        None => Vec::new(),
        Some(value) => conditions(value)?,
    };
    Ok(Statement { index, sid, effect, action, resource, principal, conditions })
}

fn names(map: &serde_json::Map<String, Value>, only: &str, except: &str) -> Result<Option<Names>, String> {
    match (map.get(only), map.get(except)) {
        (Some(_), Some(_)) => Err(format!("it has both \"{only}\" and \"{except}\"; keep one")),
        (Some(value), None) => Ok(Some(Names::Only(strings(value, only)?))),
        (None, Some(value)) => Ok(Some(Names::Except(strings(value, except)?))),
        (None, None) => Ok(None),
    }
}

/// A string or a non-empty list of strings.
fn strings(value: &Value, element: &str) -> Result<Vec<String>, String> {
    match value {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|it| match it {
                Value::String(s) => Ok(s.clone()),
                other => Err(format!("\"{element}\" has a {} entry; its entries must be strings", type_name(other))),
            })
            .collect(),
        Value::Array(_) => Err(format!("\"{element}\" is an empty list")),
        other => Err(format!("\"{element}\" is a {}; it must be a string or a list of strings", type_name(other))),
    }
}

fn principals(map: &serde_json::Map<String, Value>) -> Result<Option<Principals>, String> {
    let (negated, element, value) = match (map.get("Principal"), map.get("NotPrincipal")) {
        (Some(_), Some(_)) => return Err("it has both \"Principal\" and \"NotPrincipal\"; keep one".to_owned()),
        (Some(value), None) => (false, "Principal", value),
        (None, Some(value)) => (true, "NotPrincipal", value),
        (None, None) => return Ok(None),
    };
    match value {
        Value::String(s) if s == "*" => Ok(Some(Principals { negated, any: true, entries: Vec::new() })),
        Value::Object(kinds) if !kinds.is_empty() => {
            let mut entries = Vec::new();
            for (kind, values) in kinds {
                for value in strings(values, &format!("{element}.{kind}"))? {
                    entries.push(Principal { kind: kind.clone(), value });
                }
            }
            Ok(Some(Principals { negated, any: false, entries }))
        }
        other => {
            Err(format!("\"{element}\" is {other}; it must be \"*\" or an object such as {{\"Federated\": \"arn:…\"}}"))
        }
    }
}

fn conditions(value: &Value) -> Result<Vec<Condition>, String> {
    let Value::Object(operators) = value else {
        return Err(format!("\"Condition\" is a {}; it must be an object of operators", type_name(value)));
    };
    let mut out = Vec::new();
    for (name, keys) in operators {
        let Value::Object(keys) = keys else {
            return Err(format!("\"Condition\".\"{name}\" is a {}; it must be an object of keys", type_name(keys)));
        };
        let operator = Operator::parse(name);
        for (key, values) in keys {
            // Numbers and booleans are allowed and mean their text.
            let scalar = |it: &Value| match it {
                Value::String(s) => Ok(s.clone()),
                Value::Number(n) => Ok(n.to_string()),
                Value::Bool(b) => Ok(b.to_string()),
                other => Err(format!("condition key \"{key}\" has a {} value", type_name(other))),
            };
            let values = match values {
                Value::Array(items) => items.iter().map(scalar).collect::<Result<Vec<_>, _>>()?,
                other => vec![scalar(other)?],
            };
            out.push(Condition { operator: operator.clone(), key: key.clone(), values });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operators_split_into_parts() {
        let cases = [
            ("StringEquals", None, OpKind::StringEquals, false),
            ("stringlike", None, OpKind::StringLike, false),
            ("ForAllValues:StringLike", Some(SetOp::ForAllValues), OpKind::StringLike, false),
            ("ForAnyValue:StringEqualsIfExists", Some(SetOp::ForAnyValue), OpKind::StringEquals, true),
            ("StringNotLikeIfExists", None, OpKind::StringNotLike, true),
            ("ArnLike", None, OpKind::ArnLike, false),
            ("Null", None, OpKind::Null, false),
            ("NullIfExists", None, OpKind::Unknown, true),
            ("StringMatches", None, OpKind::Unknown, false),
            ("ForSomeValues:StringLike", None, OpKind::Unknown, false),
            ("", None, OpKind::Unknown, false),
        ];
        for (name, set, kind, if_exists) in cases {
            let op = Operator::parse(name);
            assert_eq!((op.set, op.kind, op.if_exists), (set, kind, if_exists), "{name}");
        }
    }

    #[test]
    fn every_shape_of_a_statement_normalises() {
        let text = r#"{"Statement": {"Effect": "Allow", "Principal": {"Federated": "arn:x", "AWS": ["a", "b"]},
            "NotAction": "iam:*", "Resource": ["r1", "r2"],
            "Condition": {"StringEquals": {"K:Sub": ["v1", "v2"], "n": 900, "b": true}}}}"#;
        let doc = Document::parse(text).unwrap();
        assert!(doc.problems.is_empty(), "{:?}", doc.problems);
        let s = &doc.statements[0];
        assert_eq!(s.effect, Effect::Allow);
        assert_eq!(s.action, Names::Except(vec!["iam:*".into()]));
        assert_eq!(s.resource, Some(Names::Only(vec!["r1".into(), "r2".into()])));
        let p = s.principal.as_ref().unwrap();
        assert_eq!(p.entries.len(), 3);
        assert!(!p.any && !p.negated);
        let keys: Vec<(String, Vec<String>)> = s.conditions.iter().map(|c| (c.key_lower(), c.values.clone())).collect();
        assert!(keys.contains(&("k:sub".into(), vec!["v1".into(), "v2".into()])), "{keys:?}");
        assert!(keys.contains(&("n".into(), vec!["900".into()])), "{keys:?}");
        assert!(keys.contains(&("b".into(), vec!["true".into()])), "{keys:?}");
    }

    #[test]
    fn encoded_documents_are_decoded() {
        let plain =
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C\
                       %22Action%22%3A%22s3%3AGetObject%22%2C%22Resource%22%3A%22%2A%22%7D%5D%7D";
        let lower = encoded.replace("%7B", "%7b").replace("%3A", "%3a").replace("%2A", "%2a");
        let plus = "%7B%22Statement%22%3A+%5B%7B%22Effect%22%3A+%22Allow%22%2C+%22Action%22%3A+%22x%3Ay%22%7D%5D%7D";
        for text in [plain, encoded, &lower, plus, &format!("  {encoded}\n")] {
            let doc = Document::parse(text).unwrap_or_else(|err| panic!("{text}: {err}"));
            assert_eq!(doc.statements.len(), 1, "{text}");
        }
        // A literal `%` in a plain document is left alone.
        let doc = Document::parse(r#"{"Statement":[{"Effect":"Allow","Action":"a:b","Resource":"100%"}]}"#).unwrap();
        assert_eq!(doc.statements[0].resource, Some(Names::Only(vec!["100%".into()])));
    }

    #[test]
    fn broken_documents_say_what_is_wrong() {
        let cases = [
            ("", "empty"),
            ("   ", "empty"),
            ("{", "not JSON"),
            ("%7B%22Statement", "not JSON"),
            ("[1, 2]", "list, not an object"),
            ("\"text\"", "string, not an object"),
            ("{\"Version\": \"2012-10-17\"}", "no \"Statement\""),
            ("{\"Statement\": 3}", "must be an object or a list"),
            ("%ZZ", "not JSON"),
            ("%FF%FE", "not JSON"),
            ("\u{feff}{\"Statement\": []}", "byte order mark"),
        ];
        for (text, want) in cases {
            let err = Document::parse(text).unwrap_err();
            assert!(err.contains(want), "{text:?}: {err}");
        }
    }

    #[test]
    fn bad_statements_are_left_out_with_a_reason() {
        let text = r#"{"Statement": [
            {"Effect": "Allow", "Action": "a:b"},
            {"Effect": "Permit", "Action": "a:b"},
            {"Action": "a:b"},
            {"Effect": "Allow"},
            {"Effect": "Allow", "Action": "a:b", "NotAction": "c:d"},
            {"Effect": "Allow", "Action": []},
            {"Effect": "Allow", "Action": [1]},
            {"Effect": "Allow", "Action": "a:b", "Principal": "someone"},
            {"Effect": "Allow", "Action": "a:b", "Condition": {"StringEquals": "x"}},
            {"Effect": "Allow", "Action": "a:b", "Condition": {"StringEquals": {"k": {"nested": 1}}}},
            "not an object"
        ]}"#;
        let doc = Document::parse(text).unwrap();
        assert_eq!(doc.statements.len(), 1);
        assert_eq!(doc.problems.len(), 10, "{:#?}", doc.problems);
        assert!(
            doc.problems[0].starts_with("statement 2 is left out: \"Effect\" is \"Permit\""),
            "{}",
            doc.problems[0]
        );
    }
}
