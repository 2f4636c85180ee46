//! Parsing of token responses and error bodies shared by every credential.
//!
//! Identity endpoints disagree on types: IMDS and App Service send `expires_on` as a string of
//! epoch seconds, Service Fabric documents a number, Entra sends `expires_in` as a number, and the
//! legacy App Service protocol (2017-09-01) sends a date string whose format depends on the
//! platform (`1/16/2020 5:24:12 AM +00:00` on Windows, `06/20/2019 02:57:58 +00:00` on Linux).
//! Everything here accepts all of them. Nothing here ever puts a response body into an error,
//! because a body that failed to parse may still hold a token.

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::{Offset, TimeZone};
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

use super::AccessToken;

/// Why a successful-looking response could not be turned into a token (never includes the body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TokenParseError(pub(crate) String);

/// Parses a token response body (`access_token` plus `expires_on` or `expires_in`, optionally
/// `refresh_in`). `now` is when the response arrived, for the relative fields.
pub(crate) fn parse_token_response(
    body: &[u8],
    now: Timestamp,
) -> Result<AccessToken, TokenParseError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        TokenParseError(format!(
            "the response is not JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    let Some(object) = value.as_object() else {
        return Err(TokenParseError("the response is not a JSON object".into()));
    };
    let token = match object.get("access_token") {
        Some(Value::String(token)) if !token.is_empty() => token.clone(),
        Some(_) => {
            return Err(TokenParseError(
                "the response's access_token is empty or not a string".into(),
            ));
        }
        None => return Err(TokenParseError("the response has no access_token".into())),
    };
    let expires_on = expiry_from_fields(object.get("expires_on"), object.get("expires_in"), now)?;
    if expires_on <= now {
        // Using it would fail at the vault, and caching it is impossible: every secret would
        // ask the endpoint again (IMDS throttles).
        return Err(TokenParseError(format!(
            "the token it sent had already expired on arrival (expires {expires_on}, now {}); \
             check this machine's clock and the identity endpoint's",
            now.round(jiff::Unit::Second).unwrap_or(now)
        )));
    }
    let mut access_token = AccessToken::new(token, expires_on);
    // refresh_in is only a hint: one too large to add to `now` is ignored rather than failing the
    // token, and one of zero or less is ignored because it would make every use refresh.
    let refresh_on = object
        .get("refresh_in")
        .and_then(seconds_value)
        .filter(|&refresh_in| refresh_in > 0)
        .and_then(|refresh_in| now.checked_add(SignedDuration::from_secs(refresh_in)).ok());
    if let Some(refresh_on) = refresh_on {
        access_token = access_token.with_refresh_on(refresh_on);
    }
    Ok(access_token)
}

/// `expires_on` (absolute, preferred) or else `expires_in` (relative to `now`).
pub(crate) fn expiry_from_fields(
    expires_on: Option<&Value>,
    expires_in: Option<&Value>,
    now: Timestamp,
) -> Result<Timestamp, TokenParseError> {
    if let Some(value) = expires_on.filter(|v| !v.is_null()) {
        return parse_expires_on(value).ok_or_else(|| {
            TokenParseError(
                "the response's expires_on is neither epoch seconds nor a known date format".into(),
            )
        });
    }
    if let Some(value) = expires_in.filter(|v| !v.is_null()) {
        let seconds = seconds_value(value).ok_or_else(|| {
            TokenParseError("the response's expires_in is not a number of seconds".into())
        })?;
        return now
            .checked_add(SignedDuration::from_secs(seconds))
            .map_err(|_| TokenParseError("the response's expires_in is out of range".into()));
    }
    Err(TokenParseError(
        "the response has neither expires_on nor expires_in".into(),
    ))
}

/// Seconds as a JSON number or a string of digits.
pub(crate) fn seconds_value(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64)),
        Value::String(s) => parse_epoch_seconds(s.trim()),
        _ => None,
    }
}

fn parse_epoch_seconds(s: &str) -> Option<i64> {
    if s.is_empty() {
        return None;
    }
    if let Ok(n) = s.parse::<i64>() {
        return Some(n);
    }
    // Some endpoints have been seen sending fractional seconds.
    let (whole, fraction) = s.split_once('.')?;
    if fraction.bytes().all(|b| b.is_ascii_digit()) {
        whole.parse::<i64>().ok()
    } else {
        None
    }
}

/// An absolute expiry: epoch seconds as number or string, or one of the date formats identity
/// endpoints have been seen to send.
pub(crate) fn parse_expires_on(value: &Value) -> Option<Timestamp> {
    match value {
        Value::Number(_) => Timestamp::from_second(seconds_value(value)?).ok(),
        Value::String(s) => {
            let s = s.trim();
            match parse_epoch_seconds(s) {
                Some(seconds) => Timestamp::from_second(seconds).ok(),
                None => parse_date_string(s),
            }
        }
        _ => None,
    }
}

/// Date strings: RFC 3339 / ISO 8601 (`2019-06-20T02:57:58Z`, `2019-06-20 02:57:58`), and the
/// legacy App Service `M/d/yyyy h:mm:ss [AM|PM] [+hh:mm]` family. A missing offset means UTC.
pub(crate) fn parse_date_string(s: &str) -> Option<Timestamp> {
    if let Ok(ts) = s.parse::<Timestamp>() {
        return Some(ts);
    }
    if let Ok(dt) = s.parse::<DateTime>() {
        return dt.to_zoned(TimeZone::UTC).ok().map(|z| z.timestamp());
    }
    parse_slash_date(s)
}

fn parse_slash_date(s: &str) -> Option<Timestamp> {
    let mut parts = s.split_whitespace();
    let date = parts.next()?;
    let time = parts.next()?;
    let mut meridiem = None;
    let mut offset = Offset::UTC;
    for part in parts {
        if part.eq_ignore_ascii_case("AM") || part.eq_ignore_ascii_case("PM") {
            if meridiem.is_some() {
                return None;
            }
            meridiem = Some(part.eq_ignore_ascii_case("PM"));
        } else {
            offset = parse_offset(part)?;
        }
    }
    let mut date_fields = date.split('/');
    let month: i8 = date_fields.next()?.parse().ok()?;
    let day: i8 = date_fields.next()?.parse().ok()?;
    let year: i16 = date_fields.next()?.parse().ok()?;
    if date_fields.next().is_some() {
        return None;
    }
    let mut time_fields = time.split(':');
    let mut hour: i8 = time_fields.next()?.parse().ok()?;
    let minute: i8 = time_fields.next()?.parse().ok()?;
    let second_text = time_fields.next()?;
    if time_fields.next().is_some() {
        return None;
    }
    let second: i8 = second_text
        .split_once('.')
        .map_or(second_text, |(whole, _)| whole)
        .parse()
        .ok()?;
    match meridiem {
        Some(_) if !(0..=12).contains(&hour) => return None,
        Some(true) if hour < 12 => hour += 12,
        Some(false) if hour == 12 => hour = 0,
        _ => {}
    }
    let date = Date::new(year, month, day).ok()?;
    let time = Time::new(hour, minute, second, 0).ok()?;
    offset.to_timestamp(date.to_datetime(time)).ok()
}

fn parse_offset(text: &str) -> Option<Offset> {
    if text.eq_ignore_ascii_case("Z") || text.eq_ignore_ascii_case("UTC") {
        return Some(Offset::UTC);
    }
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let (hours, minutes) = match rest.split_once(':') {
        Some((h, m)) => (h, m),
        // Only ASCII digits may be split by byte position: other text could split a character.
        None if rest.len() == 4 && rest.bytes().all(|b| b.is_ascii_digit()) => rest.split_at(2),
        None => (rest, "0"),
    };
    if !is_digits(hours) || !is_digits(minutes) {
        return None;
    }
    let hours: i32 = hours.parse().ok()?;
    let minutes: i32 = minutes.parse().ok()?;
    if !(0..=23).contains(&hours) || !(0..=59).contains(&minutes) {
        return None;
    }
    Offset::from_seconds(sign * (hours * 3600 + minutes * 60)).ok()
}

fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// A one-line, bounded description of an error body, taken from the fields identity endpoints
/// use for errors (`error`/`error_description`, App Service's `message`, Service Fabric's
/// `error.code`/`error.message`). Falls back to the start of a non-JSON body. The description
/// never includes an `access_token` field.
pub(crate) fn describe_error_body(body: &[u8]) -> Option<String> {
    const LIMIT: usize = 400;
    let text = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => {
            let mut parts = Vec::new();
            match object.get("error") {
                Some(Value::String(code)) => parts.push(code.clone()),
                Some(Value::Object(inner)) => {
                    for key in ["code", "message"] {
                        if let Some(Value::String(s)) = inner.get(key) {
                            parts.push(s.clone());
                        }
                    }
                }
                _ => {}
            }
            for key in ["error_description", "message", "Message"] {
                if let Some(Value::String(s)) = object.get(key) {
                    parts.push(s.clone());
                }
            }
            if parts.is_empty() {
                return None;
            }
            parts.join(": ")
        }
        Ok(_) => return None,
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            if text.is_empty() || text.contains("access_token") {
                return None;
            }
            text.to_owned()
        }
    };
    let one_line: String = text
        .split(['\r', '\n'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    Some(truncate(&one_line, LIMIT))
}

fn truncate(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_owned();
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Verbatim copy of shared/fixtures/azure/imds-token-200.json.
    const IMDS_FIXTURE: &str = r#"{"access_token":"eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.e30.c2lnbmF0dXJl","refresh_token":"","expires_in":"28799","expires_on":"1539927532","not_before":"1539898432","resource":"https://vault.azure.net/","token_type":"Bearer"}"#;
    /// Verbatim copy of shared/fixtures/azure/app-service-token-200.json.
    const APP_SERVICE_FIXTURE: &str = r#"{"access_token":"eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.e30.c2lnbmF0dXJl","expires_on":"1758530571","resource":"https://vault.azure.net","token_type":"Bearer","client_id":"6beb3ab0-6e28-4a92-8e5a-ce0d5abf3a8c"}"#;
    /// Verbatim copy of shared/fixtures/azure/entra-v2-token-200.json.
    const ENTRA_FIXTURE: &str = r#"{"token_type":"Bearer","expires_in":86399,"ext_expires_in":86399,"access_token":"access_token"}"#;
    /// A Service Fabric error body.
    const SERVICE_FABRIC_ERROR_FIXTURE: &[u8] = br#"{"error":{"correlationId":"x","code":"SecretHeaderNotFound","message":"Secret is not found in the request headers."}}"#;
    /// Verbatim copy of shared/fixtures/azure/app-service-error-400.json.
    const APP_SERVICE_ERROR_FIXTURE: &str = r#"{"statusCode":400,"message":"Unable to load the proper Managed Identity.","correlationId":"a90d4b60-c919-495b-a883-e15e9775d0c2"}"#;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn epoch_seconds_as_string_or_number() {
        assert_eq!(
            parse_expires_on(&json!("1702429034")),
            Some(Timestamp::from_second(1702429034).unwrap())
        );
        assert_eq!(
            parse_expires_on(&json!(1565244611)),
            Some(Timestamp::from_second(1565244611).unwrap())
        );
        assert_eq!(
            parse_expires_on(&json!(" 1565244611 ")),
            Some(Timestamp::from_second(1565244611).unwrap())
        );
        assert_eq!(
            parse_expires_on(&json!("1565244611.0")),
            Some(Timestamp::from_second(1565244611).unwrap())
        );
        assert_eq!(parse_expires_on(&json!(true)), None);
        assert_eq!(parse_expires_on(&json!("")), None);
        assert_eq!(parse_expires_on(&json!("soon")), None);
    }

    #[test]
    fn legacy_app_service_date_formats() {
        // Windows App Service: 12-hour clock, no zero padding.
        assert_eq!(
            parse_expires_on(&json!("1/16/2020 5:24:12 AM +00:00")),
            Some(ts("2020-01-16T05:24:12Z"))
        );
        assert_eq!(
            parse_expires_on(&json!("12/19/2019 5:03:41 PM +00:00")),
            Some(ts("2019-12-19T17:03:41Z"))
        );
        assert_eq!(
            parse_expires_on(&json!("1/1/2020 12:00:01 AM +00:00")),
            Some(ts("2020-01-01T00:00:01Z"))
        );
        assert_eq!(
            parse_expires_on(&json!("1/1/2020 12:00:01 PM +00:00")),
            Some(ts("2020-01-01T12:00:01Z"))
        );
        // Linux App Service: 24-hour clock.
        assert_eq!(
            parse_expires_on(&json!("06/20/2019 02:57:58 +00:00")),
            Some(ts("2019-06-20T02:57:58Z"))
        );
        assert_eq!(
            parse_expires_on(&json!("11/05/2021 15:18:31 +00:00")),
            Some(ts("2021-11-05T15:18:31Z"))
        );
        // The old documentation example.
        assert_eq!(
            parse_expires_on(&json!("09/14/2017 00:00:00 PM +00:00")),
            Some(ts("2017-09-14T12:00:00Z"))
        );
        // Offsets other than UTC, and none at all (UTC).
        assert_eq!(
            parse_expires_on(&json!("06/20/2019 02:57:58 +02:00")),
            Some(ts("2019-06-20T00:57:58Z"))
        );
        assert_eq!(
            parse_expires_on(&json!("06/20/2019 02:57:58 -0130")),
            Some(ts("2019-06-20T04:27:58Z"))
        );
        assert_eq!(
            parse_expires_on(&json!("01/02/2006 15:04:05")),
            Some(ts("2006-01-02T15:04:05Z"))
        );
        // MSAL Go's other layouts.
        assert_eq!(
            parse_expires_on(&json!("2006-01-02 15:04:05")),
            Some(ts("2006-01-02T15:04:05Z"))
        );
        assert_eq!(
            parse_expires_on(&json!("2006-01-02T15:04:05+01:00")),
            Some(ts("2006-01-02T14:04:05Z"))
        );
    }

    #[test]
    fn malformed_dates_are_rejected() {
        for bad in [
            "13/01/2020 01:00:00 +00:00",
            "1/32/2020 01:00:00",
            "1/1/2020 25:00:00",
            "1/1/2020 13:00:00 PM",
            "1/1/2020 01:00:00 AM PM",
            "1/1/2020",
            "1/1/2020 01:00",
            "1/1/2020 01:00:00 +25:00",
            "1/1/2020 01:00:00 nonsense",
        ] {
            assert_eq!(parse_expires_on(&json!(bad)), None, "{bad}");
        }
    }

    #[test]
    fn offsets_with_multi_byte_characters_are_rejected_without_panicking() {
        // Four bytes after the sign, but 'é' spans bytes 1..3: splitting at 2 would panic.
        for bad in [
            "1/1/2020 1:1:1 +1é1",
            "1/1/2020 1:1:1 -é12",
            "1/1/2020 1:1:1 +12é",
            "1/1/2020 1:1:1 +1:é",
        ] {
            assert_eq!(parse_expires_on(&json!(bad)), None, "{bad}");
        }
    }

    #[test]
    fn imds_and_app_service_fixtures_parse() {
        let now = ts("2018-10-19T00:00:00Z");
        let imds = IMDS_FIXTURE;
        let token = parse_token_response(imds.as_bytes(), now).unwrap();
        assert_eq!(
            token.expires_on(),
            Timestamp::from_second(1539927532).unwrap()
        );
        let app_service = APP_SERVICE_FIXTURE;
        let token = parse_token_response(app_service.as_bytes(), now).unwrap();
        assert_eq!(
            token.expires_on(),
            Timestamp::from_second(1758530571).unwrap()
        );
    }

    #[test]
    fn entra_numbers_and_refresh_in() {
        let now = ts("2026-01-01T00:00:00Z");
        let entra = ENTRA_FIXTURE;
        let token = parse_token_response(entra.as_bytes(), now).unwrap();
        assert_eq!(token.expires_on(), ts("2026-01-01T23:59:59Z"));
        assert_eq!(token.refresh_on(), None);
        let with_refresh = br#"{"access_token":"t","expires_in":"7200","refresh_in":3600}"#;
        let token = parse_token_response(with_refresh, now).unwrap();
        assert_eq!(token.expires_on(), ts("2026-01-01T02:00:00Z"));
        assert_eq!(token.refresh_on(), Some(ts("2026-01-01T01:00:00Z")));
    }

    #[test]
    fn an_out_of_range_refresh_in_is_ignored_without_panicking() {
        let now = ts("2026-01-01T00:00:00Z");
        for body in [
            format!(
                r#"{{"access_token":"t","expires_in":7200,"refresh_in":{}}}"#,
                i64::MAX
            ),
            format!(
                r#"{{"access_token":"t","expires_in":7200,"refresh_in":"{}"}}"#,
                i64::MAX
            ),
            r#"{"access_token":"t","expires_in":7200,"refresh_in":1e300}"#.to_owned(),
        ] {
            let token = parse_token_response(body.as_bytes(), now).unwrap();
            assert_eq!(token.expires_on(), ts("2026-01-01T02:00:00Z"), "{body}");
            assert_eq!(token.refresh_on(), None, "{body}");
        }
    }

    #[test]
    fn a_refresh_in_of_zero_or_less_is_ignored() {
        let now = ts("2026-01-01T00:00:00Z");
        for refresh_in in [r#"0"#, r#"-5"#, r#""-3600""#, r#"-0.5"#] {
            let body =
                format!(r#"{{"access_token":"t","expires_in":7200,"refresh_in":{refresh_in}}}"#);
            let token = parse_token_response(body.as_bytes(), now).unwrap();
            assert_eq!(token.refresh_on(), None, "{body}");
        }
    }

    #[test]
    fn expires_on_is_preferred_over_expires_in() {
        let now = ts("2026-01-01T00:00:00Z");
        let body = br#"{"access_token":"t","expires_in":"60","expires_on":"1767229200"}"#;
        let token = parse_token_response(body, now).unwrap();
        assert_eq!(token.expires_on(), ts("2026-01-01T01:00:00Z"));
    }

    #[test]
    fn parse_errors_never_echo_the_body() {
        let now = Timestamp::UNIX_EPOCH;
        let cases: [&[u8]; 6] = [
            b"not json SECRETTOKEN",
            br#"["SECRETTOKEN"]"#,
            br#"{"access_token":"SECRETTOKEN"}"#,
            br#"{"access_token":"SECRETTOKEN","expires_on":"whenever"}"#,
            br#"{"access_token":"SECRETTOKEN","expires_in":[1]}"#,
            br#"{"token":"SECRETTOKEN","expires_in":1}"#,
        ];
        for body in cases {
            let err = parse_token_response(body, now).unwrap_err();
            assert!(!err.0.contains("SECRETTOKEN"), "{}", err.0);
        }
        let err = parse_token_response(br#"{"access_token":""}"#, now).unwrap_err();
        assert!(err.0.contains("empty"));
    }

    #[test]
    fn error_bodies_are_described() {
        let app_service = APP_SERVICE_ERROR_FIXTURE;
        assert_eq!(
            describe_error_body(app_service.as_bytes()).as_deref(),
            Some("Unable to load the proper Managed Identity.")
        );
        assert_eq!(
            describe_error_body(
                br#"{"error":"invalid_request","error_description":"Identity not found"}"#
            )
            .as_deref(),
            Some("invalid_request: Identity not found")
        );
        assert_eq!(
            describe_error_body(SERVICE_FABRIC_ERROR_FIXTURE).as_deref(),
            Some("SecretHeaderNotFound: Secret is not found in the request headers.")
        );
        assert_eq!(
            describe_error_body(b"upstream\r\nunreachable").as_deref(),
            Some("upstream unreachable")
        );
        assert_eq!(describe_error_body(br#"{"access_token":"x"}"#), None);
        assert_eq!(describe_error_body(b"access_token=x"), None);
        let long = "x".repeat(1000);
        assert!(describe_error_body(long.as_bytes()).unwrap().len() < 500);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn parsers_never_panic(text in ".{0,120}", bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
                let _ = parse_date_string(&text);
                let _ = parse_expires_on(&Value::String(text.clone()));
                let _ = parse_token_response(&bytes, Timestamp::UNIX_EPOCH);
                let _ = describe_error_body(&bytes);
                let _ = describe_error_body(text.as_bytes());
            }

            #[test]
            fn epoch_seconds_round_trip(seconds in 0i64..4_102_444_800) {
                let expected = Timestamp::from_second(seconds).unwrap();
                prop_assert_eq!(parse_expires_on(&json!(seconds)), Some(expected));
                prop_assert_eq!(parse_expires_on(&json!(seconds.to_string())), Some(expected));
            }

            #[test]
            fn windows_dates_round_trip(seconds in 0i64..4_102_444_800) {
                // The format Windows App Service writes: M/d/yyyy h:mm:ss tt +00:00.
                let ts = Timestamp::from_second(seconds).unwrap();
                let dt = ts.to_zoned(TimeZone::UTC).datetime();
                let hour12 = match dt.hour() % 12 { 0 => 12, h => h };
                let text = format!(
                    "{}/{}/{} {}:{:02}:{:02} {} +00:00",
                    dt.month(), dt.day(), dt.year(), hour12, dt.minute(), dt.second(),
                    if dt.hour() < 12 { "AM" } else { "PM" }
                );
                prop_assert_eq!(parse_expires_on(&json!(text)), Some(ts));
            }
        }
    }
}
