//! Reading a policy's JSON text so that a key written twice in one object is seen,
//! not silently dropped.
//!
//! `serde_json::Value` keeps the last of two equal keys, so `{"StringEquals": {aud},
//! "StringEquals": {sub}}` would read as a condition on `sub` alone, and the user
//! would be told about a missing `aud` pin instead of about the document IAM does
//! not read as written. This reader builds the same `Value` through serde's
//! `DeserializeSeed`, records every repeated key with its JSON path and both values,
//! and keeps the two merged (objects key by key, names as one list), which is the
//! document the author meant and the fix the finding proposes.

use std::{cell::RefCell, fmt};

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// A key that appears twice in one JSON object.
#[derive(Debug, Clone, PartialEq)]
pub struct Duplicate {
    /// Where the object is, such as `Statement[0].Condition` (empty: the top level).
    pub path: String,
    pub key: String,
    pub first: Value,
    pub second: Value,
    /// The two values merged: what the document keeps, and the suggested fix.
    pub merged: Value,
}

impl Duplicate {
    /// `Statement[0].Condition`, or `the top level` for the document object.
    pub fn place(&self) -> String {
        if self.path.is_empty() { "the top level".to_owned() } else { self.path.clone() }
    }
}

/// Parses `text` as one JSON value; the duplicates come back beside it.
pub fn read(text: &str) -> Result<(Value, Vec<Duplicate>), serde_json::Error> {
    let duplicates = RefCell::new(Vec::new());
    let mut de = serde_json::Deserializer::from_str(text);
    let value = Reader { path: String::new(), duplicates: &duplicates }.deserialize(&mut de)?;
    de.end()?;
    Ok((value, duplicates.into_inner()))
}

/// Builds a `Value` at `path`, noting repeated keys in `duplicates`.
struct Reader<'a> {
    path: String,
    duplicates: &'a RefCell<Vec<Duplicate>>,
}

impl<'a> Reader<'a> {
    fn child(&self, path: String) -> Reader<'a> {
        Reader { path, duplicates: self.duplicates }
    }
}

impl<'de> DeserializeSeed<'de> for Reader<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Reader<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // JSON text has no NaN or infinity, so this is always a number.
        Ok(serde_json::Number::from_f64(v).map(Value::Number).unwrap_or(Value::Null))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self.child(format!("{}[{}]", self.path, items.len())))? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = if self.path.is_empty() { key.clone() } else { format!("{}.{key}", self.path) };
            let value = map.next_value_seed(self.child(path))?;
            match out.remove(&key) {
                None => {
                    out.insert(key, value);
                }
                Some(first) => {
                    let merged = merge(&first, &value);
                    self.duplicates.borrow_mut().push(Duplicate {
                        path: self.path.clone(),
                        key: key.clone(),
                        first,
                        second: value,
                        merged: merged.clone(),
                    });
                    out.insert(key, merged);
                }
            }
        }
        Ok(Value::Object(out))
    }
}

/// Two values of one key as one: objects key by key (values of a key in both
/// merged the same way), strings and lists as one list without repeats; anything
/// else keeps the second, as JSON readers do.
pub fn merge(first: &Value, second: &Value) -> Value {
    match (first, second) {
        (Value::Object(a), Value::Object(b)) => {
            let mut out = a.clone();
            for (key, value) in b {
                let merged = match out.get(key) {
                    Some(existing) => merge(existing, value),
                    None => value.clone(),
                };
                out.insert(key.clone(), merged);
            }
            Value::Object(out)
        }
        (Value::String(_) | Value::Array(_), Value::String(_) | Value::Array(_)) => {
            let mut items: Vec<Value> = Vec::new();
            for value in [first, second] {
                let list = match value {
                    Value::Array(list) => list.clone(),
                    other => vec![other.clone()],
                };
                for item in list {
                    if !items.contains(&item) {
                        items.push(item);
                    }
                }
            }
            if items.len() == 1 { items.remove(0) } else { Value::Array(items) }
        }
        _ => second.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn repeated_keys_are_reported_with_their_path_and_merged() {
        let text = r#"{"Statement": [{"Effect": "Allow", "Action": "a:b", "Action": ["c:d", "a:b"],
            "Condition": {"StringEquals": {"k1": "v1"}, "StringEquals": {"k2": "v2"}}}]}"#;
        let (value, duplicates) = read(text).unwrap();
        assert_eq!(duplicates.len(), 2, "{duplicates:#?}");
        let action = &duplicates[0];
        assert_eq!((action.path.as_str(), action.key.as_str()), ("Statement[0]", "Action"));
        assert_eq!((action.first.clone(), action.second.clone()), (json!("a:b"), json!(["c:d", "a:b"])));
        assert_eq!(action.merged, json!(["a:b", "c:d"]));
        let condition = &duplicates[1];
        assert_eq!(condition.place(), "Statement[0].Condition");
        assert_eq!(condition.merged, json!({"k1": "v1", "k2": "v2"}));
        assert_eq!(value["Statement"][0]["Condition"]["StringEquals"], json!({"k1": "v1", "k2": "v2"}));
        assert_eq!(value["Statement"][0]["Action"], json!(["a:b", "c:d"]));
    }

    #[test]
    fn documents_without_repeats_read_as_serde_json_reads_them() {
        for text in [r#"{"a": [1, -2, 3.5, true, null, "x", {"b": {}}]}"#, "[]", "\"s\"", "1e3", "{\"k\": \"\\u00e9\"}"]
        {
            let (value, duplicates) = read(text).unwrap();
            assert!(duplicates.is_empty());
            assert_eq!(value, serde_json::from_str::<Value>(text).unwrap(), "{text}");
        }
        let (_, top) = read(r#"{"Version": "1", "Version": "2"}"#).unwrap();
        assert_eq!((top[0].place(), top[0].merged.clone()), ("the top level".to_owned(), json!(["1", "2"])));
        // Other kinds keep the second value, as JSON readers do.
        assert_eq!(merge(&json!(1), &json!(true)), json!(true));
        for bad in ["{", "{\"a\": 1} x", "[1,]", &"[".repeat(10_000)] {
            assert!(read(bad).is_err(), "{bad:.20}");
        }
    }
}
