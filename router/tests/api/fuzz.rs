//! A seeded fuzz of the public endpoint: a few thousand hostile requests against the real
//! router and subgraphs, each one wrong in some way only a client can be — malformed JSON
//! and bytes, wrong media types and methods, hostile documents, malformed values of every
//! custom scalar, enum and input object, forged and wrong-scheme credentials, and the
//! money-moving mutations with a real signed-in person and one field wrong.
//!
//! Every answer must be a client error the client can act on: no 5xx, no hang, no error
//! without `extensions.code`, no `DOWNSTREAM_SERVICE_ERROR` or masked internal error (the
//! only fault is the input), no internal detail (SQL, file paths, panics) in a message.
//! And the books do not change: no request here is valid, so the credit database reads
//! the same before and after.
//!
//! The seed is printed first and in every failure; replay a run with
//! `C9PAY_FUZZ_SEED=<seed> cargo nextest run -p c9pay-router -E 'test(/fuzz/)'`.
//! The cases are drawn from the seed before any is sent, so concurrency does not change
//! them.

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    time::{Duration, Instant},
};

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use c9pay_platform::{
    database::{Backend, Database},
    on_both_backends,
};
use futures::StreamExt as _;
use rand::{Rng, SeedableRng, rngs::StdRng, seq::SliceRandom};
use serde_json::{Value, json};
use sqlx::Row as _;

use crate::{
    helpers::{TestRouter, claims, sign_eddsa, spawn_router_with, subject_of, unsigned_token},
    payments::{SELL, lattes, open_shop, payer_with, payment_code},
};

/// Requests per run and backend.
const REQUESTS: usize = 3_000;
/// Requests in flight at once.
const CONCURRENCY: usize = 8;
/// The router's whole-request time-out in this test (HTTP 408 past it).
const ROUTER_TIMEOUT_MS: u64 = 10_000;
/// The client waits a little longer: no answer by then is a hang.
const CLIENT_TIMEOUT: Duration = Duration::from_millis(ROUTER_TIMEOUT_MS + 2_000);

/// Codes that say a service failed; the fuzz only ever makes the client's mistakes.
const SERVICE_FAILURE_CODES: &[&str] = &[
    "DOWNSTREAM_SERVICE_ERROR",
    "INTERNAL_SERVER_ERROR",
    "SUBGRAPH_TIMEOUT",
    "SERVICE_UNAVAILABLE",
];

/// The root fields that move money; none may succeed.
const MONEY_FIELDS: &[&str] = &["topUp", "sendCredits", "payRequest", "sell", "refundSale"];

/// Text that would give away the implementation, lower case. A pattern that the request
/// itself contains is not counted (a message may quote the client's input).
const LEAKS: &[&str] = &[
    "select ",
    "insert into",
    "delete from",
    "update account",
    "sqlx",
    "sqlite",
    "postgres",
    "error returned from database",
    "violates",
    "constraint",
    "/src/",
    ".rs:",
    "panicked",
    "thread '",
    "backtrace",
    "hyper::",
    "reqwest",
    "error sending request",
    "connection refused",
    "127.0.0.1",
];

/// What the cases need of the platform: two people, a store with a product and a paid
/// sale, a payment request, unused payment codes, and auth's signing key.
struct Fixtures {
    graphql_url: String,
    router_origin: String,
    payer: String,
    payer_token: String,
    payer_id: String,
    merchant: String,
    merchant_token: String,
    merchant_id: String,
    store: String,
    latte: String,
    sale: String,
    request_token: String,
    payment_codes: Vec<String>,
    signing_key: (String, [u8; 32]),
    manifest: Vec<(String, String)>,
}

/// One request, fully decided before anything is sent.
struct Case {
    category: &'static str,
    get: bool,
    /// After `?`, already encoded (or deliberately mis-encoded); GET only.
    query_string: String,
    headers: Vec<(&'static str, Vec<u8>)>,
    body: Vec<u8>,
}

impl Case {
    fn post(category: &'static str, body: Vec<u8>) -> Self {
        Self { category, get: false, query_string: String::new(), headers: vec![("content-type", b"application/json".to_vec())], body }
    }

    /// A JSON POST of `query` and `variables` as `authorization`.
    fn graphql(category: &'static str, authorization: Option<&str>, query: &str, variables: Value) -> Self {
        let mut case = Self::post(category, json!({ "query": query, "variables": variables }).to_string().into_bytes());
        if let Some(authorization) = authorization {
            case.headers.push(("authorization", authorization.as_bytes().to_vec()));
        }
        case
    }

    fn describe(&self) -> String {
        let mut text = format!("{} {}", if self.get { "GET" } else { "POST" }, self.category);
        if !self.query_string.is_empty() {
            let _ = write!(text, " ?{}", clip(&self.query_string, 400));
        }
        for (name, value) in &self.headers {
            let _ = write!(text, "\n  {name}: {}", clip(&String::from_utf8_lossy(value), 200));
        }
        let _ = write!(text, "\n  body: {}", clip(&String::from_utf8_lossy(&self.body), 600));
        text
    }

    /// Everything the client sent, lower case, to tell a quoted input from a leak.
    fn sent_text(&self) -> String {
        let mut text = String::from_utf8_lossy(&self.body).to_lowercase();
        text.push_str(&self.query_string.to_lowercase());
        for (_, value) in &self.headers {
            text.push_str(&String::from_utf8_lossy(value).to_lowercase());
        }
        text
    }
}

fn clip(text: &str, length_max: usize) -> String {
    if text.chars().count() <= length_max {
        return text.to_string();
    }
    let head: String = text.chars().take(length_max).collect();
    format!("{head}… ({} bytes)", text.len())
}

/// What came back.
struct Outcome {
    status: Option<u16>,
    text: String,
    /// The client gave up or the connection failed.
    failure: Option<String>,
}

/// Sends `case`, once more if the connection failed before any answer: the pooled
/// connection it went out on may have been closed by the router after a refusal that left
/// the previous request's body unread (a reused keep-alive connection, "broken pipe").
/// A router that is down or crashed fails the second attempt too.
async fn send(http: &reqwest::Client, fixtures: &Fixtures, case: &Case) -> (Outcome, bool) {
    let first = send_once(http, fixtures, case).await;
    if first.status.is_none() && first.failure.as_deref().is_some_and(|failure| failure.starts_with("the request failed")) {
        return (send_once(http, fixtures, case).await, true);
    }
    (first, false)
}

async fn send_once(http: &reqwest::Client, fixtures: &Fixtures, case: &Case) -> Outcome {
    let mut request = if case.get {
        http.get(format!("{}?{}", fixtures.graphql_url, case.query_string))
    } else {
        http.post(&fixtures.graphql_url).body(case.body.clone())
    };
    for (name, value) in &case.headers {
        // A value HTTP cannot carry (a line break) is not sent; the rest of the case is.
        if let Ok(value) = reqwest::header::HeaderValue::from_bytes(value) {
            request = request.header(*name, value);
        }
    }
    match request.timeout(CLIENT_TIMEOUT).send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            match response.text().await {
                Ok(text) => Outcome { status: Some(status), text, failure: None },
                Err(error) => Outcome { status: Some(status), text: String::new(), failure: Some(format!("reading the answer: {error}")) },
            }
        }
        Err(error) if error.is_timeout() => Outcome {
            status: None,
            text: String::new(),
            failure: Some(format!("no answer within {} ms (the router's time-out is {ROUTER_TIMEOUT_MS} ms)", CLIENT_TIMEOUT.as_millis())),
        },
        Err(error) => {
            let mut chain = error.to_string();
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                let _ = write!(chain, ": {cause}");
                source = cause.source();
            }
            Outcome { status: None, text: String::new(), failure: Some(format!("the request failed: {chain}")) }
        }
    }
}

/// Everything wrong with one answer; empty when it is a good client error.
fn problems(case: &Case, outcome: &Outcome) -> Vec<String> {
    let mut found = Vec::new();
    if let Some(failure) = &outcome.failure {
        found.push(clip(failure, 300));
        return found;
    }
    let status = outcome.status.unwrap_or_default();
    let asks_for_graphiql = case.get
        && !case.query_string.contains("query=")
        && !case.query_string.contains("documentId=")
        && case.headers.iter().any(|(name, value)| *name == "accept" && value.starts_with(b"text/html"));
    if asks_for_graphiql && status == 200 && outcome.text.contains("<title>c9pay GraphQL</title>") {
        return found;
    }
    if status >= 500 {
        found.push(format!("HTTP {status}"));
    }
    if status == 408 {
        found.push("the router's request time-out fired (HTTP 408)".to_string());
    }
    match serde_json::from_str::<Value>(&outcome.text) {
        Ok(Value::Object(body)) if body.contains_key("errors") || body.contains_key("data") => {
            for field in MONEY_FIELDS {
                if body.get("data").is_some_and(|data| !data[*field].is_null()) {
                    found.push(format!("{field} succeeded: no request of the fuzz is valid"));
                }
            }
            if let Some(errors) = body.get("errors") {
                match errors.as_array() {
                    Some(errors) if !errors.is_empty() => {
                        for error in errors {
                            match error["extensions"]["code"].as_str() {
                                None | Some("") => found.push(format!("an error without extensions.code: {error}")),
                                Some(code) if SERVICE_FAILURE_CODES.contains(&code) => {
                                    found.push(format!("{code} for a request whose only fault is its input: {error}"));
                                }
                                Some(_) => {}
                            }
                            if !error["message"].is_string() {
                                found.push(format!("an error without a message: {error}"));
                            }
                        }
                    }
                    _ => found.push("`errors` is not a non-empty list".to_string()),
                }
            }
        }
        _ => found.push(format!("HTTP {status} without a GraphQL response body")),
    }
    let answer = outcome.text.to_lowercase();
    let sent = case.sent_text();
    for leak in LEAKS {
        if answer.contains(leak) && !sent.contains(leak) {
            found.push(format!("the answer gives away an internal detail ({leak:?})"));
        }
    }
    found
}

/// The first error code of an answer, `data` for none, for the tally.
fn tally_key(outcome: &Outcome) -> String {
    if outcome.failure.is_some() {
        return "<no answer>".to_string();
    }
    serde_json::from_str::<Value>(&outcome.text)
        .ok()
        .map(|body| body["errors"][0]["extensions"]["code"].as_str().map_or("data".to_string(), str::to_string))
        .unwrap_or_else(|| "<not JSON>".to_string())
}

// ---------------------------------------------------------------------------------------
// Values

/// Values that are not an `Amount` (a decimal integer), or not an acceptable one.
const BAD_AMOUNTS: &[&str] = &[
    r#""1.5""#, r#""1e309""#, r#""99999999999999999999""#, r#""""#, r#""12a""#, "1.5", "true", "null", "[]", "{}",
    r#"" 1""#, r#""+1""#, r#""0x10""#, r#""١٢٣""#, r#""1\u0000""#, r#""0""#, "0", r#""-1""#, "-1", r#""-0""#,
    r#""-99999999999999999999""#, r#""9223372036854775808""#, r#""1000000000001""#, "1000000000001",
    "9223372036854775807", "-9223372036854775808", "1e3", r#""１""#, r#""∞""#, r#""NaN""#, r#"["1"]"#, r#""1 000""#,
];

/// Values that are not a `DateTime` (RFC 3339).
const BAD_DATE_TIMES: &[&str] = &[
    r#""yesterday""#, r#""2026-13-01T00:00:00Z""#, r#""""#, r#""2026-01-01""#, r#""2026-01-01T00:00:00""#, "0", "1700000000",
    r#""2026-02-30T00:00:00Z""#, r#""2026-01-01T25:00:00Z""#, r#""+275760-09-13T00:00:00Z""#, r#""-000001-01-01T00:00:00Z""#,
    r#""9999999-01-01T00:00:00Z""#, r#""2026-01-01T00:00:00+99:00""#, "true", "[]", "{}", r#""2026-01-01T00:00:00Z\u0000""#,
    r#""２０２６-01-01T00:00:00Z""#, r#""2026-01-01T00:00:60Z""#,
];

/// Dates that parse but make a range no store can be asked for, or one at the edges.
const EDGE_DATE_TIMES: &[&str] = &[
    r#""0001-01-01T00:00:00Z""#, r#""9999-12-31T23:59:59Z""#, r#""1970-01-01T00:00:00Z""#, r#""2262-04-11T23:47:16Z""#,
    r#""1677-09-21T00:12:43Z""#, r#""2026-01-01T00:00:00.999999999Z""#, r#""2026-01-01T00:00:00-23:59""#,
];

/// Values that are not one of our ids (`usr_…`, `sto_…`, `sal_…`, `prd_…`).
const BAD_IDS: &[&str] = &[
    r#""""#, r#""usr_""#, r#""sto_../../etc/passwd""#, "123", r#""sto_%00""#, r#""sto_\u0000""#, "null", "true", "1.5", "[]",
    "{}", r#""sto_🙂""#, r#""STO_0191""#, r#""sal_0000000000000000000000000000000000000000000000000""#, r#""usr_x' or '1'='1""#,
    r#""sto_01910000000000000000000000""#, r#""prd_-1""#, r#""usr_\n""#, "-1", "9999999999999999999999",
];

/// Generic wrong values for a variable of any type.
const BAD_VALUES: &[&str] = &[
    "null", r#""""#, "[]", "{}", "true", "1.5", r#""🙂""#, "-1", r#""\u0000""#, r#"{"amount":"1.5"}"#, r#"[[[]]]"#,
    r#""ÿ\u202e\ud83d\ude00""#, r#"{"__proto__":{}}"#, "1e308", r#""sha256:00""#,
];

/// Strings that make bad enum values.
const BAD_ENUMS: &[&str] = &[r#""hour""#, r#""WEEK""#, "1", r#""""#, "null", "[]", r#""HOUR ""#, r#""ＨＯＵＲ""#, r#""__typename""#];

/// Bad `Int`s (32-bit signed in GraphQL) and out-of-range page sizes.
const BAD_INTS: &[&str] = &["2147483648", "-2147483649", "1.5", r#""10""#, "1e3", "99999999999999999999", "-1", "0", "101", "true", "[]"];

/// Keys that are not `[A-Za-z0-9_-]{1,64}`.
fn bad_key(rng: &mut StdRng) -> String {
    match rng.gen_range(0..6) {
        0 => String::new(),
        1 => "k".repeat(65),
        2 => "a b".to_string(),
        3 => "ключ".to_string(),
        4 => "k\u{0}".to_string(),
        _ => "k/../1".to_string(),
    }
}

fn good_key(rng: &mut StdRng) -> String {
    format!("fuzz-{:016x}", rng.r#gen::<u64>())
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|error| panic!("a fuzz value does not parse as JSON ({text}): {error}"))
}

fn pick<'a>(rng: &mut StdRng, items: &'a [&'a str]) -> &'a str {
    items.choose(rng).copied().unwrap_or_default()
}

/// A GraphQL literal for a JSON value (variables and literals get the same mistakes).
fn literal(value: &Value) -> String {
    match value {
        Value::Object(fields) => {
            let fields: Vec<String> = fields.iter().map(|(key, value)| format!("{key}: {}", literal(value))).collect();
            format!("{{ {} }}", fields.join(", "))
        }
        Value::Array(items) => format!("[{}]", items.iter().map(literal).collect::<Vec<_>>().join(", ")),
        other => other.to_string(),
    }
}

/// Random printable and unprintable text.
fn random_text(rng: &mut StdRng, length_max: usize) -> String {
    let length = rng.gen_range(0..=length_max);
    (0..length)
        .map(|_| match rng.gen_range(0..10) {
            0 => char::from_u32(rng.gen_range(0..0x20)).unwrap_or('?'),
            1 => char::from_u32(rng.gen_range(0x80..0x3000)).unwrap_or('?'),
            2 => ['🙂', '\u{202e}', '\u{feff}', '\u{fffd}', '\u{10ffff}', '\u{7f}'].choose(rng).copied().unwrap_or('?'),
            _ => char::from(rng.gen_range(0x20u8..0x7f)),
        })
        .collect()
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
                char::from(byte).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Credentials

/// A credential that is wrong in one way: forged, truncated, expired, of another scheme.
fn bad_authorization(rng: &mut StdRng, fixtures: &Fixtures) -> Vec<u8> {
    let token = if rng.gen_bool(0.5) { &fixtures.payer_token } else { &fixtures.merchant_token };
    let subject = subject_of(token);
    let (kid, seed) = &fixtures.signing_key;
    let text = match rng.gen_range(0..22) {
        0 => "Bearer".to_string(),
        1 => "Bearer ".to_string(),
        2 => format!("Bearer {}", random_text(rng, 80)),
        3 => "Bearer a.b.c".to_string(),
        4 => {
            let cut = rng.gen_range(1..token.len());
            format!("Bearer {}", token.get(..cut).unwrap_or_default())
        }
        5 => format!("Bearer {}", unsigned_token(&json!({ "alg": "none", "typ": "JWT" }), &claims(&subject, 600), "")),
        6 => format!("Bearer {}", unsigned_token(&json!({ "alg": "none", "kid": kid }), &claims(&subject, 600), "")),
        7 => {
            let other: [u8; 32] = rng.r#gen();
            format!("Bearer {}", sign_eddsa(&claims(&subject, 600), kid, &other))
        }
        8 => {
            let other: [u8; 32] = rng.r#gen();
            format!("Bearer {}", sign_eddsa(&claims(&subject, 600), "another-key", &other))
        }
        9 => format!("Bearer {}", sign_eddsa(&claims(&subject, -3_600), kid, seed)),
        10 => {
            let mut wrong = claims(&subject, 600);
            wrong["aud"] = json!("someone-else");
            format!("Bearer {}", sign_eddsa(&wrong, kid, seed))
        }
        11 => {
            let mut wrong = claims(&subject, 600);
            wrong["iss"] = json!("c9pay-evil");
            format!("Bearer {}", sign_eddsa(&wrong, kid, seed))
        }
        12 => {
            // Another person's claims under this token's signature.
            let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
            if let Some(payload) = parts.get_mut(1) {
                *payload = URL_SAFE_NO_PAD.encode(claims(&fixtures.merchant_id, 600).to_string());
            }
            format!("Bearer {}", parts.join("."))
        }
        13 => {
            let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
            let forged = jsonwebtoken::encode(&header, &claims(&subject, 600), &jsonwebtoken::EncodingKey::from_secret(b"secret"))
                .unwrap_or_default();
            format!("Bearer {forged}")
        }
        14 => format!("DPoP {token}"),
        15 => "Basic dXNlcjpwYXNzd29yZA==".to_string(),
        16 => format!("Token {token}"),
        17 => format!("Bearer {token}, Bearer {token}"),
        18 => format!("Bearer {}", "A".repeat(rng.gen_range(1_000..4_000))),
        19 => {
            let mut flipped = token.clone().into_bytes();
            let index = rng.gen_range(0..flipped.len());
            flipped[index] = if flipped[index] == b'A' { b'B' } else { b'A' };
            format!("Bearer {}", String::from_utf8_lossy(&flipped))
        }
        20 => return [b"Bearer ".as_slice(), &[0xff, 0xfe, 0x80], token.as_bytes()].concat(),
        _ => format!("Bearer {token}.{token}"),
    };
    text.into_bytes()
}

/// A payment code or payment request token that is wrong in one way.
fn bad_token(rng: &mut StdRng, fixtures: &Fixtures, real: &str) -> String {
    let (kid, seed) = &fixtures.signing_key;
    let parts: Vec<&str> = real.split('.').collect();
    let header: Value = parts
        .first()
        .and_then(|part| URL_SAFE_NO_PAD.decode(part).ok())
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or(Value::Null);
    let mut payload: Value = parts
        .get(1)
        .and_then(|part| URL_SAFE_NO_PAD.decode(part).ok())
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or(Value::Null);
    match rng.gen_range(0..9) {
        0 => real.get(..rng.gen_range(0..real.len())).unwrap_or_default().to_string(),
        1 => format!("{real}x"),
        2 => {
            let mut header = header;
            header["alg"] = json!("none");
            unsigned_token(&header, &payload, "")
        }
        3 => {
            let other: [u8; 32] = rng.r#gen();
            sign_eddsa(&payload, header["kid"].as_str().unwrap_or(kid), &other)
        }
        4 => {
            // Expired, and signed by auth's real key: refused for its expiry alone.
            payload["exp"] = json!(chrono::Utc::now().timestamp() - 3_600);
            sign_eddsa(&payload, kid, seed)
        }
        5 => {
            payload["amount"] = json!(1);
            payload["sub"] = json!(fixtures.merchant_id);
            format!("{}.{}.{}", parts.first().unwrap_or(&""), URL_SAFE_NO_PAD.encode(payload.to_string()), parts.get(2).unwrap_or(&""))
        }
        6 => random_text(rng, 300),
        7 => String::new(),
        _ => real.replace('.', ""),
    }
}

// ---------------------------------------------------------------------------------------
// The categories

fn raw_bytes(rng: &mut StdRng) -> Case {
    let length = rng.gen_range(0..2_000);
    let body: Vec<u8> = (0..length).map(|_| rng.r#gen::<u8>()).collect();
    Case::post("random bytes", body)
}

fn malformed_json(rng: &mut StdRng, fixtures: &Fixtures) -> Case {
    let valid = json!({ "query": "query Me { me { displayName } }", "variables": {} }).to_string();
    let body = match rng.gen_range(0..16) {
        0 => valid.get(..rng.gen_range(0..valid.len())).unwrap_or_default().to_string(),
        1 => {
            let mut bytes = valid.clone().into_bytes();
            let index = rng.gen_range(0..bytes.len());
            bytes[index] = rng.r#gen();
            return Case::post("malformed JSON", bytes);
        }
        2 => r#"{"query": 7}"#.to_string(),
        3 => r#"{"query": "{ __typename }", "variables": "{}"}"#.to_string(),
        4 => r#"{"query": "{ __typename }", "variables": [1, 2]}"#.to_string(),
        5 => r#"{"query": "{ __typename }", "operationName": {"a": 1}}"#.to_string(),
        6 => format!(r#"{{"query": "{{ __typename }}", "variables": {{"x": {}1{}}}}}"#, "[".repeat(rng.gen_range(100..5_000)), "]".repeat(rng.gen_range(0..5_000))),
        7 => r#"[{"query": "{ __typename }"}, {"query": "{ __typename }"}]"#.to_string(),
        8 => r#"{"query": "{ __typename }", "query": "{ me { id } }"}"#.to_string(),
        9 => r#"{"query": "{ __typename }", "extensions": "persisted"}"#.to_string(),
        10 => format!(r#"{{"documentId": {}}}"#, pick(rng, &["1", "[]", "true", r#""""#, r#""sha256:""#, r#""sha256:zz""#, r#""md5:00""#])),
        11 => r#"{"query": "{ __typename }", "variables": {"x": 1e999}}"#.to_string(),
        12 => "\u{feff}".to_string() + &valid,
        13 => r#"{"query": "{ __typename }", "variables": {"x": "\ud800"}}"#.to_string(),
        14 => "null".to_string(),
        _ => format!(r#"{{"documentId": "{}", "variables": {{}}, "query": null}}"#, fixtures.manifest.choose(rng).map(|(id, _)| id.as_str()).unwrap_or_default()),
    };
    Case::post("malformed JSON", body.into_bytes())
}

const CONTENT_TYPES: &[&[u8]] = &[
    b"text/plain",
    b"application/json; charset=latin1",
    b"application/graphql",
    b"multipart/form-data; boundary=x",
    b"application/x-www-form-urlencoded",
    b"application/JSON",
    b"application/json;charset=\"utf-8\"",
    b"",
    b"application/json, text/plain",
    b"\xff\xfe",
    b"application/graphql-response+json",
    b"*/*",
];

const ACCEPTS: &[&[u8]] = &[
    b"text/html",
    b"text/plain",
    b"application/xml",
    b"application/graphql-response+json;q=0",
    b"*/*;q=abc",
    b"application/json;q=2",
    b"application/graphql-response+json",
    b"\xff",
    b"application/json;q=0, */*;q=0",
    b"image/png, application/*;q=0.1",
    b",,,;;;q=",
];

fn media_types(rng: &mut StdRng, fixtures: &Fixtures) -> Case {
    let mut case = if rng.gen_bool(0.5) {
        Case::graphql("media types", Some(&fixtures.payer), "query Me { me { displayName } }", json!({}))
    } else {
        scalar_mistake(rng, fixtures)
    };
    case.category = "media types";
    case.headers.retain(|(name, _)| *name != "content-type");
    match rng.gen_range(0..3) {
        0 => {}
        1 => case.headers.push(("content-type", CONTENT_TYPES.choose(rng).copied().unwrap_or_default().to_vec())),
        _ => case.headers.push(("content-type", b"application/json".to_vec())),
    }
    if rng.gen_bool(0.7) {
        case.headers.push(("accept", ACCEPTS.choose(rng).copied().unwrap_or_default().to_vec()));
    }
    case
}

fn get_requests(rng: &mut StdRng, fixtures: &Fixtures) -> Case {
    let query = percent_encode("query Me { me { displayName } }");
    let query_string = match rng.gen_range(0..14) {
        0 => format!("query={}", percent_encode("mutation { topUp(input: { amount: \"1.5\", idempotencyKey: \"k\" }) { amount } }")),
        1 => format!("query={query}&variables=%7Bnot%20json"),
        2 => format!("query={query}&variables=%5B1%5D"),
        3 => format!("query={query}&query={query}"),
        4 => "query=%FF%FE%FD".to_string(),
        5 => "query=%".to_string(),
        6 => "query=%ZZ%".to_string(),
        7 => format!("documentId={}", percent_encode(&random_text(rng, 80))),
        8 => format!("query={query}&extensions=%22x%22"),
        9 => format!("query={}", percent_encode(&random_text(rng, 300))),
        10 => String::new(),
        11 => format!("variables=%7B%7D&operationName={}", percent_encode(&random_text(rng, 20))),
        12 => {
            // A URL has room for a smaller document than a body (the client refuses more).
            let document = percent_encode(&hostile_document(rng, fixtures));
            format!("query={}", if document.len() <= 8_000 { document } else { percent_encode("{ a { b { c } } }") })
        }
        _ => format!("query={}&operationName=%00", percent_encode("subscription { walletActivity { id } }")),
    };
    let mut headers = Vec::new();
    if rng.gen_bool(0.6) {
        headers.push(("authorization", if rng.gen_bool(0.5) { fixtures.payer.clone().into_bytes() } else { bad_authorization(rng, fixtures) }));
    }
    if rng.gen_bool(0.4) {
        headers.push(("accept", ACCEPTS.choose(rng).copied().unwrap_or_default().to_vec()));
    }
    Case { category: "GET", get: true, query_string, headers, body: Vec::new() }
}

/// Valid documents to mangle: reads only, so that no mangling can move money.
const READS: &[&str] = &[
    "query Me { me { id displayName createdAt } }",
    "query Wallet { me { wallet { balance available history(first: 5) { edges { cursor node { id kind amount } } } } } }",
    "query Stores { me { stores { id name products { id name price } account { balance } } } }",
    "query Intro { __schema { queryType { name } types { name kind } } }",
];

fn hostile_document(rng: &mut StdRng, fixtures: &Fixtures) -> String {
    let depth = *[16usize, 40, 300, 3_000, 20_000].choose(rng).unwrap_or(&16);
    match rng.gen_range(0..24) {
        0 => {
            let mut selection = "displayName".to_string();
            for _ in 0..depth.min(2_000) {
                selection = format!("stores {{ owner {{ {selection} }} }}");
            }
            format!("{{ me {{ {selection} }} }}")
        }
        1 => format!("{{ store(id: {}1{}) {{ name }} }}", "[".repeat(depth), "]".repeat(depth)),
        2 => format!("{{ store(id: {}1{}) {{ name }} }}", "{a: ".repeat(depth), "}".repeat(depth)),
        3 => format!("{}{}", "{".repeat(depth), "}".repeat(depth)),
        4 => {
            let count = *[31usize, 100, 1_000].choose(rng).unwrap_or(&31);
            let aliases: Vec<String> = (0..count).map(|index| format!("a{index}: me {{ displayName }}")).collect();
            format!("{{ {} }}", aliases.join(" "))
        }
        5 => "query Cycle { ...A } fragment A on Query { ...B } fragment B on Query { ...A }".to_string(),
        6 => "query Cycle { me { ...U } } fragment U on User { stores { owner { ...U } } }".to_string(),
        7 => {
            let levels = rng.gen_range(5..60);
            let mut query = String::from("query Bomb { ...F0 }\n");
            for level in 0..levels {
                query.push_str(&format!("fragment F{level} on Query {{ ...F{next} ...F{next} }}\n", next = level + 1));
            }
            query.push_str(&format!("fragment F{levels} on Query {{ me {{ displayName }} }}\n"));
            query
        }
        8 => {
            let fields: Vec<String> = (0..rng.gen_range(500..3_000)).map(|index| format!("f{index}: __typename")).collect();
            format!("query Big {{ ...F }} fragment F on Query {{ {} }}", fields.join(" "))
        }
        9 => format!("{{ findPerson(email: \"{}\") {{ id }} }}", "x".repeat(rng.gen_range(1_000..60_000))),
        10 => format!("{{ findPerson(email: \"\"\"{}\"\"\") {{ id }} }}", random_text(rng, 2_000).replace('"', "'")),
        11 => format!(
            "{{ findPerson(email: \"{}\") {{ id }} }}",
            pick(rng, &[r"\u0000", r"\uD800", r"\u{1F600}", r"\q", r"\uZZZZ", "🙂\u{202e}ǅ", "\u{0}", r"\u00"])
        ),
        12 => "{ me\u{0} { displayName } }".to_string(),
        13 => "\u{feff}{ me { displayName } }".to_string(),
        14 => format!("{{ mé {{ displäyName }} {} }}", random_text(rng, 40)),
        15 => pick(
            rng,
            &[
                r#"{ me @skip(if: "yes") { displayName } }"#,
                "{ me @include { displayName } }",
                "{ me @unknown { displayName } }",
                "{ me @skip(if: $undefined) { displayName } }",
                "{ me @deprecated { displayName } }",
                "{ me { ... @defer { displayName } } }",
                "{ me { wallet { history(first: 5) @stream(initialCount: -1) { nodes { id } } } } }",
                "{ me @skip(if: false) @skip(if: true) { displayName } }",
                "query @skip(if: true) { me { displayName } }",
                "query($a: Int @deprecated) { me { displayName } }",
                "{ me { displayName @include(if: null) } }",
                "{ __typename @skip(if: true) @include(if: true) @skip(if: false) }",
            ],
        )
        .to_string(),
        16 => "query A { __typename } query B { me { id } } { __typename }".to_string(),
        17 => "query A { __typename } query A { me { id } }".to_string(),
        18 => "subscription { walletActivity { id amount } }".to_string(),
        19 => "{ __schema { types { fields { type { ofType { ofType { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } } } }".to_string(),
        20 => {
            let variables: Vec<String> = (0..rng.gen_range(100..1_500)).map(|index| format!("$v{index}: Int")).collect();
            format!("query Many({}) {{ __typename }}", variables.join(", "))
        }
        21 => format!("{{ me {{ wallet {{ history(first: 1, first: 2, after: \"{}\") {{ nodes {{ id }} }} }} }} }}", random_text(rng, 60).replace(['"', '\\'], "")),
        22 => format!(
            "{{ __type(name: \"{}\") {{ name fields {{ name }} }} store(id: \"{}\") {{ name }} }}",
            random_text(rng, 30).replace(['"', '\\'], ""),
            fixtures.store
        ),
        _ => {
            // A valid read with random characters put in, taken out or changed.
            let mut text: Vec<char> = pick(rng, READS).chars().collect();
            for _ in 0..rng.gen_range(1..6) {
                let index = rng.gen_range(0..text.len());
                match rng.gen_range(0..3) {
                    0 => {
                        text.remove(index);
                    }
                    1 => text.insert(index, random_text(rng, 1).chars().next().unwrap_or('{')),
                    _ => text[index] = *['{', '}', '(', ')', ':', '$', '@', '.', '"', '!', '#'].choose(rng).unwrap_or(&'{'),
                }
            }
            text.into_iter().collect()
        }
    }
}

fn hostile_documents(rng: &mut StdRng, fixtures: &Fixtures) -> Case {
    let document = hostile_document(rng, fixtures);
    let authorization = if rng.gen_bool(0.7) { Some(fixtures.payer.as_str()) } else { None };
    let mut case = Case::graphql("hostile documents", authorization, &document, json!({}));
    if rng.gen_bool(0.2) {
        case.headers.push(("accept", b"application/graphql-response+json".to_vec()));
    }
    case
}

/// A valid read or a harmless mutation with one argument or variable of a custom scalar,
/// an enum or an input object malformed, as a variable or as a literal.
fn scalar_mistake(rng: &mut StdRng, fixtures: &Fixtures) -> Case {
    let merchant = fixtures.merchant.as_str();
    let payer = fixtures.payer.as_str();
    let store = json!(fixtures.store);
    let (authorization, document, variable, value, others): (&str, &str, &str, Value, Value) = match rng.gen_range(0..13) {
        0 => (payer, "query($since: DateTime!) { me { wallet { history(first: 5, filter: { since: $since }) { nodes { id } } } } }", "since", parse(pick(rng, BAD_DATE_TIMES)), json!({})),
        1 => (payer, "query($until: DateTime) { me { wallet { history(first: 5, filter: { until: $until }) { nodes { id } } } } }", "until", parse(pick(rng, BAD_DATE_TIMES)), json!({})),
        2 => {
            let value = if rng.gen_bool(0.5) { parse(pick(rng, BAD_DATE_TIMES)) } else { parse(pick(rng, EDGE_DATE_TIMES)) };
            let until = parse(pick(rng, EDGE_DATE_TIMES));
            let interval = if rng.gen_bool(0.5) { json!("HOUR") } else { json!("DAY") };
            (merchant, "query($id: ID!, $since: DateTime!, $until: DateTime, $interval: TakingsInterval) { store(id: $id) { takings(since: $since, until: $until, interval: $interval) { total count buckets { start total } } } }", "since", value, json!({ "id": store, "until": until, "interval": interval }))
        }
        3 => (merchant, "query($id: ID!, $since: DateTime!, $interval: TakingsInterval) { store(id: $id) { takings(since: $since, interval: $interval) { total } } }", "interval", parse(pick(rng, BAD_ENUMS)), json!({ "id": store, "since": "2026-01-01T00:00:00Z" })),
        4 => (payer, "query($id: ID!) { store(id: $id) { name products { name } } }", "id", parse(pick(rng, BAD_IDS)), json!({})),
        5 => (merchant, "query($id: ID!) { sale(id: $id) { id total } }", "id", parse(pick(rng, BAD_IDS)), json!({})),
        6 => (payer, "query($kinds: [TransferKind!]) { me { wallet { history(first: 5, filter: { kinds: $kinds }) { nodes { id } } } } }", "kinds", parse(pick(rng, &[r#"["TOPUP"]"#, r#"[null]"#, r#"["top_up"]"#, r#""GIFT""#, "[1]", r#"[["GIFT"]]"#, r#"{"a":1}"#])), json!({})),
        7 => (payer, "query($direction: Direction) { me { wallet { history(first: 5, filter: { direction: $direction }) { nodes { id } } } } }", "direction", parse(pick(rng, BAD_ENUMS)), json!({})),
        8 => (payer, "query($first: Int) { me { wallet { history(first: $first) { nodes { id } } } } }", "first", parse(pick(rng, BAD_INTS)), json!({})),
        9 => {
            let cursor = pick(rng, &[r#""""#, r#""abc""#, r#""AAAAAAAAAAAA""#, r#""eyJ9""#, r#""MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=""#, r#""-1""#, r#""🙂""#, "1", r#""%00""#, r#""OjpmdXp6""#]);
            (merchant, "query($id: ID!, $after: String) { store(id: $id) { sales(first: 5, after: $after) { nodes { id } } } }", "after", parse(cursor), json!({ "id": store }))
        }
        10 => (payer, "query($after: String) { me { wallet { history(first: 5, after: $after) { nodes { id } } } } }", "after", json!(random_text(rng, 60)), json!({})),
        11 => (merchant, "mutation($input: CreatePaymentRequestInput!) { createPaymentRequest(input: $input) { token } }", "input", {
            let mut input = json!({ "storeId": store, "amount": "1000", "expiresInSeconds": 60 });
            match rng.gen_range(0..4) {
                0 => input["amount"] = parse(pick(rng, BAD_AMOUNTS)),
                1 => input["storeId"] = parse(pick(rng, BAD_IDS)),
                2 => input["expiresInSeconds"] = parse(pick(rng, &["0", "901", "-1", "2147483648", "1.5", r#""60""#])),
                _ => {
                    input["extra"] = json!(1);
                }
            }
            input
        }, json!({})),
        _ => (payer, "query($token: String!) { paymentRequest(token: $token) { id amount } }", "token", json!(bad_token(rng, fixtures, &fixtures.request_token)), json!({})),
    };
    let mut variables = others;
    if rng.gen_bool(0.7) {
        variables[variable] = value;
        Case::graphql("scalar mistakes", Some(authorization), document, variables)
    } else {
        // The same mistake as a literal in the document.
        Case::graphql("scalar mistakes", Some(authorization), &inline(document, variable, &value), variables)
    }
}

const TOP_UP: &str = "mutation($input: TopUpInput!) { topUp(input: $input) { balanceAfter } }";
const SEND: &str = "mutation($input: SendCreditsInput!) { sendCredits(input: $input) { balanceAfter } }";
const PAY_REQUEST: &str = "mutation($input: PayRequestInput!) { payRequest(input: $input) { balanceAfter } }";
const REFUND: &str = "mutation($input: RefundSaleInput!) { refundSale(input: $input) { id status } }";

/// A money-moving mutation by a real signed-in person, with at least one field wrong —
/// wrong only in that field where it can be, so that the check of that field is what
/// stands between the request and the money.
fn money_mutation(rng: &mut StdRng, fixtures: &Fixtures) -> Case {
    let (authorization, document, input) = match rng.gen_range(0..5) {
        0 => {
            let input = if rng.gen_bool(0.7) {
                json!({ "amount": parse(pick(rng, BAD_AMOUNTS)), "idempotencyKey": good_key(rng) })
            } else {
                json!({ "amount": "100", "idempotencyKey": bad_key(rng) })
            };
            (&fixtures.payer, TOP_UP, input)
        }
        1 => {
            let mut input = json!({ "toUserId": fixtures.merchant_id, "amount": "1", "idempotencyKey": good_key(rng) });
            match rng.gen_range(0..7) {
                0 => input["amount"] = parse(pick(rng, BAD_AMOUNTS)),
                1 => input["toUserId"] = parse(pick(rng, BAD_IDS)),
                2 => input["toUserId"] = json!(format!("usr_{:032x}", rng.r#gen::<u128>())),
                3 => input["toUserId"] = json!(fixtures.payer_id),
                4 => input["memo"] = json!("m".repeat(141)),
                // Inside the memo: surrounding white space is trimmed, not refused.
                5 => input["memo"] = json!(format!("hel{}lo", char::from_u32(rng.gen_range(0..0x20)).unwrap_or('\u{7}'))),
                _ => input["idempotencyKey"] = json!(bad_key(rng)),
            }
            (&fixtures.payer, SEND, input)
        }
        2 => {
            let items = lattes_of(&fixtures.latte, 1);
            let mut input = json!({ "storeId": fixtures.store, "items": items, "paymentCode": "", "idempotencyKey": good_key(rng) });
            let real_code = fixtures.payment_codes.choose(rng).cloned().unwrap_or_default();
            match rng.gen_range(0..8) {
                0..=2 => input["paymentCode"] = json!(bad_token(rng, fixtures, &real_code)),
                3 => {
                    input["paymentCode"] = json!(real_code);
                    input["items"] = parse(pick(rng, &[
                        "[]",
                        r#"[{"productId":"prd_x","quantity":1}]"#,
                        r#"[{"quantity":1}]"#,
                        r#"{"productId":"x"}"#,
                        r#"[null]"#,
                    ]));
                }
                4 => {
                    input["paymentCode"] = json!(real_code);
                    input["items"] = lattes_of(&fixtures.latte, *[0, -1, 100, 2_147_483_647].choose(rng).unwrap_or(&0));
                }
                5 => {
                    input["paymentCode"] = json!(real_code);
                    input["idempotencyKey"] = json!(bad_key(rng));
                }
                6 => {
                    input["paymentCode"] = json!(real_code);
                    input["storeId"] = parse(pick(rng, BAD_IDS));
                }
                _ => {
                    // The payer cannot sell at someone else's store with their own code.
                    input["paymentCode"] = json!(real_code);
                    return Case::graphql("money-moving mutations", Some(&fixtures.payer), SELL_INPUT, json!({ "input": input }));
                }
            }
            (&fixtures.merchant, SELL_INPUT, input)
        }
        3 => {
            let input = if rng.gen_bool(0.8) {
                json!({ "token": bad_token(rng, fixtures, &fixtures.request_token), "idempotencyKey": good_key(rng) })
            } else {
                json!({ "token": fixtures.request_token, "idempotencyKey": bad_key(rng) })
            };
            (&fixtures.payer, PAY_REQUEST, input)
        }
        _ => {
            let mut input = json!({ "saleId": fixtures.sale, "amount": "1", "reason": "fuzz", "idempotencyKey": good_key(rng) });
            let mut authorization = &fixtures.merchant;
            match rng.gen_range(0..7) {
                0 => input["amount"] = parse(pick(rng, BAD_AMOUNTS)),
                1 => input["amount"] = json!("4501"),
                2 => input["saleId"] = parse(pick(rng, BAD_IDS)),
                3 => input["reason"] = json!(pick(rng, &["", "\u{0}", "fuzz\u{0}", "\u{7}fuzz"])),
                4 => input["reason"] = json!("r".repeat(201)),
                5 => input["idempotencyKey"] = json!(bad_key(rng)),
                _ => authorization = &fixtures.payer,
            }
            (authorization, REFUND, input)
        }
    };
    // Half as variables, half as literals in the document.
    if rng.gen_bool(0.5) {
        Case::graphql("money-moving mutations", Some(authorization), document, json!({ "input": input }))
    } else {
        Case::graphql("money-moving mutations", Some(authorization), &inline(document, "input", &input), json!({}))
    }
}

/// `document` with variable `name` replaced by `value` as a literal, and its declaration
/// removed.
fn inline(document: &str, name: &str, value: &Value) -> String {
    let (header, body) = document.split_at(document.find('{').unwrap_or(0));
    let declaration = format!("${name}:");
    let header = match header.find(&declaration) {
        Some(start) => {
            let rest = header.get(start..).unwrap_or_default();
            let end = start + rest.find([',', ')']).unwrap_or(rest.len());
            let mut header = format!("{}{}", header.get(..start).unwrap_or_default(), header.get(end..).unwrap_or_default());
            header = header.replace("(, ", "(").replace(", )", ")").replace("()", "");
            header
        }
        None => header.to_string(),
    };
    format!("{header}{}", body.replace(&format!("${name}"), &literal(value)))
}

const SELL_INPUT: &str = "mutation($input: SellInput!) { sell(input: $input) { id status } }";

fn lattes_of(latte: &str, quantity: i64) -> Value {
    json!([{ "productId": latte, "quantity": quantity }])
}

/// A request with a forged, truncated, expired or wrong-scheme credential: a read, a
/// scalar mistake or a money-moving mutation.
fn credentials(rng: &mut StdRng, fixtures: &Fixtures) -> Case {
    let mut case = match rng.gen_range(0..3) {
        0 => Case::graphql("credentials", None, "query Me { me { displayName wallet { balance } } }", json!({})),
        1 => money_mutation(rng, fixtures),
        _ => scalar_mistake(rng, fixtures),
    };
    case.category = "credentials";
    case.headers.retain(|(name, _)| *name != "authorization");
    case.headers.push(("authorization", bad_authorization(rng, fixtures)));
    if rng.gen_bool(0.2) {
        case.headers.push(("dpop", random_text(rng, 200).into_bytes()));
    }
    if rng.gen_bool(0.1) {
        case.headers.push(("cookie", format!("__Host-c9pay-admin={}", percent_encode(&random_text(rng, 40))).into_bytes()));
    }
    case
}

/// A page of the router's own origin: trusted documents by id with malformed variables,
/// unknown ids, and free-form documents it may not send.
fn trusted_documents(rng: &mut StdRng, fixtures: &Fixtures) -> Case {
    let body = match rng.gen_range(0..4) {
        0 | 1 => {
            let (id, text) = fixtures.manifest.choose(rng).cloned().unwrap_or_default();
            let mut variables = serde_json::Map::new();
            for name in variable_names(&text) {
                variables.insert(name, parse(pick(rng, BAD_VALUES)));
            }
            json!({ "documentId": id, "variables": variables })
        }
        2 => json!({ "documentId": format!("sha256:{:064x}", rng.r#gen::<u128>()) }),
        _ => json!({ "query": "query Me { me { displayName } }" }),
    };
    let authorization = if rng.gen_bool(0.5) { &fixtures.payer } else { &fixtures.merchant };
    let mut case = Case::post("trusted documents", body.to_string().into_bytes());
    case.headers.push(("authorization", authorization.clone().into_bytes()));
    if rng.gen_bool(0.5) {
        case.headers.push(("origin", fixtures.router_origin.clone().into_bytes()));
    } else {
        case.headers.push(("sec-fetch-site", b"same-origin".to_vec()));
    }
    case
}

/// `$name`s declared by a document.
fn variable_names(document: &str) -> Vec<String> {
    let mut names: Vec<String> = document
        .split('$')
        .skip(1)
        .map(|rest| rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect())
        .filter(|name: &String| !name.is_empty())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Draws one case.
fn draw(rng: &mut StdRng, fixtures: &Fixtures) -> Case {
    match rng.gen_range(0..100) {
        0..=6 => raw_bytes(rng),
        7..=16 => malformed_json(rng, fixtures),
        17..=24 => media_types(rng, fixtures),
        25..=32 => get_requests(rng, fixtures),
        33..=49 => hostile_documents(rng, fixtures),
        50..=67 => scalar_mistake(rng, fixtures),
        68..=79 => credentials(rng, fixtures),
        80..=94 => money_mutation(rng, fixtures),
        _ => trusted_documents(rng, fixtures),
    }
}

// ---------------------------------------------------------------------------------------
// The books

/// Every account's balance (its shards included) and reservations, and how many
/// transfers, holds, payments and refunds the ledger holds.
async fn books(credit: &Database) -> BTreeMap<String, i64> {
    let mut books = BTreeMap::new();
    let accounts = sqlx::query(
        "select a.id as id, cast(a.balance as bigint) as balance, cast(a.held as bigint) as held,
                cast(coalesce((select sum(s.balance) from account_shard s where s.account_id = a.id), 0) as bigint) as shards
         from account a order by a.id",
    )
    .fetch_all(credit.pool())
    .await
    .unwrap_or_else(|error| panic!("reading the accounts: {error}"));
    for row in accounts {
        let id: String = row.try_get("id").unwrap_or_default();
        let balance: i64 = row.try_get("balance").unwrap_or_else(|error| panic!("{error}"));
        let held: i64 = row.try_get("held").unwrap_or_else(|error| panic!("{error}"));
        let shards: i64 = row.try_get("shards").unwrap_or_else(|error| panic!("{error}"));
        books.insert(format!("{id} balance"), balance + shards);
        books.insert(format!("{id} held"), held);
    }
    for table in ["transfer", "hold", "payment", "refund"] {
        let count: i64 = sqlx::query(&format!("select count(*) as count from {table}"))
            .fetch_one(credit.pool())
            .await
            .and_then(|row| row.try_get("count"))
            .unwrap_or_else(|error| panic!("counting {table}: {error}"));
        books.insert(format!("{table} rows"), count);
    }
    books
}

// ---------------------------------------------------------------------------------------
// The test

fn seed() -> u64 {
    match std::env::var("C9PAY_FUZZ_SEED") {
        Ok(text) => text.trim().parse().unwrap_or_else(|error| panic!("C9PAY_FUZZ_SEED={text:?} is not a u64: {error}")),
        Err(_) => rand::random(),
    }
}

async fn fixtures(router: &TestRouter) -> Fixtures {
    let shop = open_shop(router).await;
    let payer = payer_with(router, "ada@example.com", "10000").await;
    let code = payment_code(router, &payer).await;
    let sold = router
        .post(Some(&shop.merchant), SELL, json!({ "store": shop.store, "items": lattes(&shop, 1), "code": code, "key": "setup-sale" }))
        .await;
    let sale = sold.data()["sell"]["id"].as_str().unwrap_or_default().to_string();
    let requested = router
        .post(
            Some(&shop.merchant),
            "mutation($store: ID!) { createPaymentRequest(input: { storeId: $store, amount: \"1000\" }) { token } }",
            json!({ "store": shop.store }),
        )
        .await;
    let request_token = requested.data()["createPaymentRequest"]["token"].as_str().unwrap_or_default().to_string();
    let mut payment_codes = Vec::new();
    for _ in 0..4 {
        payment_codes.push(payment_code(router, &payer).await);
    }
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/persisted-documents.json");
    let manifest: BTreeMap<String, String> = std::fs::read_to_string(path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_else(|| panic!("reading {path}"));
    let token_of = |authorization: &str| authorization.trim_start_matches("Bearer ").to_string();
    Fixtures {
        graphql_url: router.graphql_url(),
        router_origin: router.address.clone(),
        payer_token: token_of(&payer),
        payer_id: subject_of(&token_of(&payer)),
        merchant_token: token_of(&shop.merchant),
        merchant_id: subject_of(&token_of(&shop.merchant)),
        payer,
        merchant: shop.merchant,
        store: shop.store,
        latte: shop.latte,
        sale,
        request_token,
        payment_codes,
        signing_key: router.auth_signing_key().await,
        manifest: manifest.into_iter().collect(),
    }
}

async fn hostile_requests_get_client_errors_and_never_move_money(backend: Backend) {
    let seed = seed();
    println!("fuzz seed {seed} ({backend:?}); replay with C9PAY_FUZZ_SEED={seed}");
    let router = spawn_router_with(backend, |config| config.limits.request_timeout_ms = ROUTER_TIMEOUT_MS).await;
    let fixtures = fixtures(&router).await;
    let credit = c9pay_credit::open_database(&router.credit_config)
        .await
        .unwrap_or_else(|error| panic!("opening the credit database: {error:#}"));
    let before = books(&credit).await;

    let mut rng = StdRng::seed_from_u64(seed);
    let cases: Vec<Case> = (0..REQUESTS).map(|_| draw(&mut rng, &fixtures)).collect();
    let http = reqwest::Client::new();
    let started = Instant::now();
    let outcomes: Vec<(usize, (Outcome, bool))> = futures::stream::iter(cases.iter().enumerate())
        .map(|(index, case)| {
            let http = &http;
            let fixtures = &fixtures;
            async move { (index, send(http, fixtures, case).await) }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let elapsed = started.elapsed();

    let mut per_category: BTreeMap<&str, usize> = BTreeMap::new();
    let mut per_status: BTreeMap<String, usize> = BTreeMap::new();
    let mut per_code: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut resent = 0;
    for (index, (outcome, again)) in &outcomes {
        let Some(case) = cases.get(*index) else { continue };
        resent += usize::from(*again);
        *per_category.entry(case.category).or_default() += 1;
        *per_status.entry(outcome.status.map_or("none".to_string(), |status| status.to_string())).or_default() += 1;
        *per_code.entry(tally_key(outcome)).or_default() += 1;
        let found = problems(case, outcome);
        if !found.is_empty() {
            failures.push((*index, found, case.describe(), outcome.status, clip(&outcome.text, 800)));
        }
    }
    failures.sort_by_key(|(index, ..)| *index);
    println!("{} requests in {:.1} s ({backend:?}, seed {seed})", outcomes.len(), elapsed.as_secs_f64());
    println!("per category: {per_category:?}");
    println!("per status: {per_status:?}");
    println!("per first error code: {per_code:?}");
    println!("sent again after a failed connection: {resent}");

    let after = books(&credit).await;

    let mut report = String::new();
    for (index, found, described, status, text) in failures.iter().take(25) {
        let _ = writeln!(report, "\n#{index}: {}\n  {described}\n  → HTTP {status:?}: {text}", found.join("; "));
    }
    assert!(
        failures.is_empty(),
        "seed {seed} ({backend:?}): {} of {REQUESTS} requests were answered badly; replay with C9PAY_FUZZ_SEED={seed}{report}",
        failures.len()
    );
    let moved: Vec<String> = after
        .iter()
        // An account opened during the run (a wallet read for the first time) holds nothing.
        .filter(|(key, value)| before.get(*key).copied().unwrap_or(0) != **value)
        .map(|(key, value)| format!("{key}: {:?} → {value}", before.get(key)))
        .chain(before.keys().filter(|key| !after.contains_key(*key)).map(|key| format!("{key}: gone")))
        .collect();
    assert!(moved.is_empty(), "seed {seed} ({backend:?}): the books changed: {moved:#?}; replay with C9PAY_FUZZ_SEED={seed}");
    let balance = router.post(Some(&fixtures.payer), "{ me { wallet { balance } } }", json!({})).await;
    assert_eq!(balance.data()["me"]["wallet"]["balance"], "5500", "seed {seed}: the payer's balance after the fuzz");
}

on_both_backends!(hostile_requests_get_client_errors_and_never_move_money);
