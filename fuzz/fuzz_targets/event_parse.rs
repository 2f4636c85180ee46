//! Fuzzes the Event Grid delivery parser: any body under any `aeg-event-type` and
//! `Content-Type` must give a delivery or an error, never a panic, within the body limit.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    // The first byte picks the headers, the rest is the body.
    let Some((&selector, body)) = input.split_first() else {
        return;
    };
    let mut headers = http::HeaderMap::new();
    let aeg = ["Notification", "SubscriptionValidation", "SubscriptionDeletion", "x"];
    let content = ["application/json; charset=utf-8", "application/cloudevents+json", "text/plain"];
    if selector & 0b100 == 0 {
        headers.insert("aeg-event-type", aeg[usize::from(selector & 0b11)].parse().unwrap());
    }
    if selector & 0b1000 == 0 {
        let ct = content[usize::from(selector >> 4) % content.len()];
        headers.insert("content-type", ct.parse().unwrap());
    }
    let _ = kvref::events::parse_with_limit(&headers, body, 64 * 1024);
});
