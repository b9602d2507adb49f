//! What every Binance parser shares: the typed error for malformed input, and
//! Binance's own error body `{"code": -1121, "msg": "Invalid symbol."}`.
//!
//! Parsers never panic on what the network sends: each problem becomes a
//! [`WireError`] naming where it is (row, field) and what was expected.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::str::FromStr;

/// A Binance message that does not have the documented shape.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{context}: {problem}")]
pub struct WireError {
    /// Where: `klines row 3, column 1 (open price)`, `kline event field k.o (open price)`.
    pub context: String,
    /// What is wrong and what was expected instead.
    pub problem: String,
}

impl WireError {
    pub fn new(context: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            context: context.into(),
            problem: problem.into(),
        }
    }
}

/// Binance's error payload. Any endpoint may answer with it (HTTP 4xx/5xx).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiErrorBody {
    /// Binance's error code, negative (`-1121` invalid symbol, `-1003` too many requests).
    pub code: i64,
    pub msg: String,
}

impl ApiErrorBody {
    /// The body as Binance's error payload, or `None` if it is something else
    /// (an HTML page from a proxy, an empty body).
    pub fn parse(body: &str) -> Option<Self> {
        serde_json::from_str(body).ok()
    }
}

/// The JSON text parsed, with the error naming `context` if it is not JSON.
pub(crate) fn parse_json(text: &str, context: &str) -> Result<Value, WireError> {
    serde_json::from_str(text).map_err(|e| WireError::new(context, format!("not valid JSON ({e})")))
}

/// A short, printable excerpt of a raw message for logs and errors.
pub(crate) fn excerpt(raw: &str) -> String {
    const MAX: usize = 200;
    if raw.len() <= MAX {
        return raw.to_string();
    }
    let mut end = MAX;
    while !raw.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &raw[..end], raw.len())
}

/// A JSON value's kind, for error messages.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// An integer (a time in ms, a trade id), named `what` in errors.
pub(crate) fn int_value(v: &Value, context: impl FnOnce() -> String) -> Result<i64, WireError> {
    v.as_i64().ok_or_else(|| {
        WireError::new(
            context(),
            format!("expected an integer, found {} `{v}`", kind(v)),
        )
    })
}

/// A non-negative integer (a trade count).
pub(crate) fn count_value(v: &Value, context: impl FnOnce() -> String) -> Result<u64, WireError> {
    v.as_u64().ok_or_else(|| {
        WireError::new(
            context(),
            format!("expected a non-negative integer, found {} `{v}`", kind(v)),
        )
    })
}

/// A decimal sent as a string (`"0.01634790"`), parsed exactly, never through f64.
/// Negative values are refused: no price or volume Binance sends is negative.
pub(crate) fn decimal_value<T>(v: &Value, context: impl FnOnce() -> String) -> Result<T, WireError>
where
    T: FromStr + PartialOrd + Default,
{
    let Some(text) = v.as_str() else {
        return Err(WireError::new(
            context(),
            format!(
                "expected a decimal string like \"0.0010\", found {} `{v}`",
                kind(v)
            ),
        ));
    };
    match text.parse::<T>() {
        Ok(value) if value >= T::default() => Ok(value),
        Ok(_) => Err(WireError::new(
            context(),
            format!("`{text}` is negative; prices and volumes are never negative"),
        )),
        Err(_) => Err(WireError::new(
            context(),
            format!("`{text}` is not a decimal number"),
        )),
    }
}

/// A JSON object read field by field, each error naming the field:
/// `kline event `k` field `o` (open price): missing`.
pub(crate) struct Fields<'a> {
    pub map: &'a Map<String, Value>,
    /// What the object is, e.g. "kline event `k`".
    pub context: &'static str,
}

impl<'a> Fields<'a> {
    pub fn at(&self, key: &str, what: &str) -> String {
        format!("{} field `{key}` ({what})", self.context)
    }

    pub fn get(&self, key: &str, what: &str) -> Result<&'a Value, WireError> {
        self.map
            .get(key)
            .ok_or_else(|| WireError::new(self.at(key, what), "missing"))
    }

    pub fn int(&self, key: &str, what: &str) -> Result<i64, WireError> {
        int_value(self.get(key, what)?, || self.at(key, what))
    }

    pub fn count(&self, key: &str, what: &str) -> Result<u64, WireError> {
        count_value(self.get(key, what)?, || self.at(key, what))
    }

    pub fn decimal<T>(&self, key: &str, what: &str) -> Result<T, WireError>
    where
        T: FromStr + PartialOrd + Default,
    {
        decimal_value(self.get(key, what)?, || self.at(key, what))
    }

    pub fn string(&self, key: &str, what: &str) -> Result<&'a str, WireError> {
        let v = self.get(key, what)?;
        v.as_str().ok_or_else(|| {
            WireError::new(
                self.at(key, what),
                format!("expected a string, found {}", kind(v)),
            )
        })
    }

    pub fn boolean(&self, key: &str, what: &str) -> Result<bool, WireError> {
        let v = self.get(key, what)?;
        v.as_bool().ok_or_else(|| {
            WireError::new(
                self.at(key, what),
                format!("expected true or false, found {}", kind(v)),
            )
        })
    }

    pub fn object(&self, key: &str, what: &str) -> Result<&'a Map<String, Value>, WireError> {
        let v = self.get(key, what)?;
        v.as_object().ok_or_else(|| {
            WireError::new(
                self.at(key, what),
                format!("expected an object, found {}", kind(v)),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Price;
    use serde_json::json;

    #[test]
    fn api_error_body_parses_documented_example() {
        let body = include_str!("../../tests/fixtures/binance/error_body.json");
        assert_eq!(
            ApiErrorBody::parse(body),
            Some(ApiErrorBody {
                code: -1121,
                msg: "Invalid symbol.".into()
            })
        );
        assert_eq!(ApiErrorBody::parse("<html>bad gateway</html>"), None);
    }

    #[test]
    fn decimal_value_is_exact_and_strict() {
        let p: Price = decimal_value(&json!("0.01634790"), || "x".into()).unwrap();
        assert_eq!(p.to_string(), "0.0163479");
        let err = decimal_value::<Price>(&json!(0.5), || "row 0, open".into()).unwrap_err();
        assert_eq!(err.context, "row 0, open");
        assert!(err.problem.contains("decimal string"), "{err}");
        let err = decimal_value::<Price>(&json!("abc"), || "o".into()).unwrap_err();
        assert!(err.problem.contains("`abc` is not a decimal"), "{err}");
        let err = decimal_value::<Price>(&json!("-1"), || "o".into()).unwrap_err();
        assert!(err.problem.contains("negative"), "{err}");
    }

    #[test]
    fn excerpt_cuts_long_text_on_a_char_boundary() {
        let long = "é".repeat(300);
        let e = excerpt(&long);
        assert!(e.ends_with("(600 bytes)"), "{e}");
        assert_eq!(excerpt("short"), "short");
    }
}
