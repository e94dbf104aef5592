//! Reading a step's description from a `tokenizer.json`: small helpers that name what is missing.

use serde_json::Value;

use super::Unsupported;

/// A step's `type`.
pub fn kind(v: &Value) -> Result<&str, Unsupported> {
    v.get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| Unsupported::new("a step without a type"))
}

pub fn field<'v>(v: &'v Value, name: &str) -> Result<&'v Value, Unsupported> {
    v.get(name).ok_or_else(|| missing(v, name))
}

fn missing(v: &Value, name: &str) -> Unsupported {
    Unsupported(format!("a {} without {name}", kind(v).unwrap_or("step")))
}

/// A `Sequence`'s list of steps.
pub fn list<'v>(v: &'v Value, name: &str) -> Result<&'v Vec<Value>, Unsupported> {
    field(v, name)?
        .as_array()
        .ok_or_else(|| Unsupported(format!("a Sequence whose {name} is not a list")))
}

pub fn string<'v>(v: &'v Value, name: &str) -> Result<&'v str, Unsupported> {
    field(v, name)?
        .as_str()
        .ok_or_else(|| Unsupported(format!("{name} is not a string")))
}

/// A true/false field; `default` where the crate has one for a missing field.
pub fn flag(v: &Value, name: &str, default: Option<bool>) -> Result<bool, Unsupported> {
    match v.get(name) {
        None => default.ok_or_else(|| missing(v, name)),
        Some(b) => b
            .as_bool()
            .ok_or_else(|| Unsupported(format!("{name} is not true or false"))),
    }
}
