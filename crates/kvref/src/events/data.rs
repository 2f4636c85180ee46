//! Lenient reading of event fields, as Azure really sends them: `data` keys in PascalCase (the
//! wire), camelCase (old docs) or with stray spaces (doc samples: `"ObjectName "`), values
//! with stray spaces, `NBF`/`EXP` as integers, floats, numeric strings or `null`.

use serde_json::{Map, Value};

/// The value under `name`: an exact key first, else one equal to it ignoring case and spaces.
pub(super) fn field<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    object.get(name).or_else(|| {
        object
            .iter()
            .find(|(key, _)| key.trim().eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    })
}

/// The trimmed, non-empty string under `name`.
pub(super) fn text(object: &Map<String, Value>, name: &str) -> Option<String> {
    match field(object, name)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        _ => None,
    }
}

/// Seconds since the epoch under `name`: a number or a numeric string, whole or not; `None`
/// for `null`, a missing key, or anything out of range.
pub(super) fn epoch(object: &Map<String, Value>, name: &str) -> Option<i64> {
    let seconds = match field(object, name)? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().and_then(whole_seconds)),
        Value::String(s) => {
            let s = s.trim();
            s.parse::<i64>()
                .ok()
                .or_else(|| s.parse::<f64>().ok().and_then(whole_seconds))
        }
        _ => None,
    }?;
    // jiff's range (years -9999..=9999) is wide enough for any real expiry.
    jiff::Timestamp::from_second(seconds).ok().map(|_| seconds)
}

/// Truncates a float to whole seconds when it is finite and fits an `i64`.
fn whole_seconds(seconds: f64) -> Option<i64> {
    const LIMIT: f64 = 9.2e18;
    #[allow(clippy::cast_possible_truncation)]
    (seconds.is_finite() && seconds.abs() < LIMIT).then(|| seconds.trunc() as i64)
}

/// The event's `data` as an object: CloudEvents may carry it JSON-encoded in a string.
pub(super) fn data_object(event: &Map<String, Value>) -> Option<Map<String, Value>> {
    match field(event, "data")? {
        Value::Object(data) => Some(data.clone()),
        Value::String(encoded) => match serde_json::from_str(encoded) {
            Ok(Value::Object(data)) => Some(data),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => unreachable!("test input is an object"),
        }
    }

    #[test]
    fn keys_match_in_any_case_and_with_stray_spaces() {
        let data = object(json!({"ObjectName ": "a", "vaultname": " v ", "Version": "  "}));
        assert_eq!(text(&data, "ObjectName").as_deref(), Some("a"));
        assert_eq!(text(&data, "VaultName").as_deref(), Some("v"));
        assert_eq!(text(&data, "Version"), None);
    }

    #[test]
    fn epochs_are_numbers_floats_strings_or_null() {
        let data = object(json!({
            "NBF": 1627491993, "EXP": 1690563970.0, "a": "1559081980", "b": null,
            "c": "soon", "d": 1e300, "e": " 1559082102.5 ", "f": true,
        }));
        assert_eq!(epoch(&data, "nbf"), Some(1627491993));
        assert_eq!(epoch(&data, "EXP"), Some(1690563970));
        assert_eq!(epoch(&data, "a"), Some(1559081980));
        assert_eq!(epoch(&data, "b"), None);
        assert_eq!(epoch(&data, "c"), None);
        assert_eq!(epoch(&data, "d"), None);
        assert_eq!(epoch(&data, "e"), Some(1559082102));
        assert_eq!(epoch(&data, "f"), None);
        assert_eq!(epoch(&data, "missing"), None);
    }
}
