//! Browser sessions (token-handler pattern): the router keeps a person's refresh token in
//! an HttpOnly `__Host-` cookie that no script can read, rotates it on every refresh,
//! ends the whole log-in when a spent one comes back, and refuses requests that could
//! come from another site.

use c9pay_platform::{database::Backend, on_both_backends};
use serde_json::{Value, json};

use crate::helpers::{ME, PASSWORD, TestRouter, bearer, spawn_router};

const COOKIE: &str = "__Host-c9pay-session";

/// What a session endpoint answered: status, body and the `Set-Cookie` it sent, if any.
struct SessionAnswer {
    status: u16,
    body: Value,
    set_cookie: Option<String>,
}

impl SessionAnswer {
    /// The refresh token the cookie carries (empty when the cookie is cleared).
    fn cookie_value(&self) -> String {
        let cookie = self.set_cookie.as_deref().unwrap_or_default();
        let first = cookie.split(';').next().unwrap_or_default();
        first.strip_prefix(&format!("{COOKIE}=")).unwrap_or_default().to_string()
    }

    fn error_code(&self) -> &str {
        self.body["errors"][0]["extensions"]["code"].as_str().unwrap_or_default()
    }

    fn access_token(&self) -> String {
        self.body["accessToken"].as_str().unwrap_or_default().to_string()
    }
}

/// Posts to a session endpoint the way the web clients do: JSON, the CSRF header, and
/// the cookie (if any) the browser holds.
async fn session_post(router: &TestRouter, path: &str, cookie: Option<&str>, extra: &[(&str, &str)], body: Value) -> SessionAnswer {
    let mut request = router
        .http
        .post(format!("{}{path}", router.address))
        .header("content-type", "application/json")
        .header("x-c9pay-csrf", "1")
        .body(body.to_string());
    if let Some(value) = cookie {
        request = request.header("cookie", format!("{COOKIE}={value}"));
    }
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    send(request).await
}

async fn send(request: reqwest::RequestBuilder) -> SessionAnswer {
    let response = match request.send().await {
        Ok(response) => response,
        Err(error) => panic!("the router did not answer: {error}"),
    };
    let status = response.status().as_u16();
    let set_cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|value| value.to_str().ok())
        .map(str::to_string);
    let body = response.json().await.unwrap_or(Value::Null);
    SessionAnswer { status, body, set_cookie }
}

async fn log_in(router: &TestRouter, email: &str) -> SessionAnswer {
    session_post(router, "/session/log-in", None, &[], json!({ "email": email, "password": PASSWORD })).await
}

async fn a_browser_log_in_keeps_the_refresh_token_in_an_http_only_host_cookie_only(backend: Backend) {
    let router = spawn_router(backend).await;

    let signed_up = session_post(
        &router,
        "/session/sign-up",
        None,
        &[],
        json!({ "email": "ada@example.com", "password": PASSWORD, "displayName": "Ada" }),
    )
    .await;
    let logged_in = log_in(&router, "ada@example.com").await;

    for answer in [&signed_up, &logged_in] {
        assert_eq!(answer.status, 200, "{:#}", answer.body);
        let cookie = answer.set_cookie.as_deref().unwrap_or_default();
        for attribute in ["Path=/", "Secure", "HttpOnly", "SameSite=Strict", "Max-Age="] {
            assert!(cookie.contains(attribute), "{attribute} missing from {cookie}");
        }
        assert!(!cookie.contains("Domain"), "a __Host- cookie has no Domain: {cookie}");
        assert!(cookie.starts_with(&format!("{COOKIE}=")), "{cookie}");
        assert!(answer.cookie_value().len() > 20, "{cookie}");
        assert!(answer.body.get("refreshToken").is_none(), "the refresh token reaches no script: {:#}", answer.body);
        assert!(!answer.body.to_string().contains(&answer.cookie_value()), "{:#}", answer.body);
        assert_eq!(answer.body["user"]["displayName"], "Ada");
    }
    let me = router.post(Some(&bearer(&logged_in.access_token())), ME, json!({})).await;
    assert_eq!(me.data()["me"]["displayName"], "Ada");
}

async fn a_refresh_through_the_cookie_rotates_it_and_a_replayed_cookie_ends_the_log_in(backend: Backend) {
    let router = spawn_router(backend).await;
    router.sign_up("ada@example.com", "Ada").await;
    let logged_in = log_in(&router, "ada@example.com").await;
    let first = logged_in.cookie_value();

    let refreshed = session_post(&router, "/session/refresh", Some(&first), &[], json!({})).await;

    assert_eq!(refreshed.status, 200, "{:#}", refreshed.body);
    let second = refreshed.cookie_value();
    assert!(!second.is_empty() && second != first, "the cookie is rotated");
    let me = router.post(Some(&bearer(&refreshed.access_token())), ME, json!({})).await;
    assert_eq!(me.data()["me"]["displayName"], "Ada");

    // A copy of the first cookie (stolen, or a second tab that raced) comes back.
    let replayed = session_post(&router, "/session/refresh", Some(&first), &[], json!({})).await;

    assert_eq!(replayed.status, 401);
    assert_eq!(replayed.error_code(), "REFRESH_TOKEN_REUSED");
    assert!(replayed.set_cookie.as_deref().unwrap_or_default().contains("Max-Age=0"), "the dead cookie is cleared");
    // The whole log-in ended: the rightful browser's newer cookie and token stop too.
    let owner = session_post(&router, "/session/refresh", Some(&second), &[], json!({})).await;
    assert_eq!(owner.error_code(), "REFRESH_TOKEN_INVALID");
    assert!(router.eventually_refused(&bearer(&refreshed.access_token())).await);
}

async fn a_cross_site_request_or_one_without_the_csrf_header_is_refused_and_spends_nothing(backend: Backend) {
    let router = spawn_router(backend).await;
    router.sign_up("ada@example.com", "Ada").await;
    let cookie = log_in(&router, "ada@example.com").await.cookie_value();

    let from_elsewhere = session_post(&router, "/session/refresh", Some(&cookie), &[("origin", "https://evil.example")], json!({})).await;
    let cross_site = session_post(&router, "/session/refresh", Some(&cookie), &[("sec-fetch-site", "cross-site")], json!({})).await;
    // A form post: no custom header, a form content type.
    let form = send(
        router
            .http
            .post(format!("{}/session/refresh", router.address))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", format!("{COOKIE}={cookie}"))
            .body("a=b"),
    )
    .await;

    for (answer, what) in [(&from_elsewhere, "another origin"), (&cross_site, "cross-site"), (&form, "a form")] {
        assert_eq!(answer.status, 403, "{what}: {:#}", answer.body);
        assert_eq!(answer.error_code(), "CSRF_REFUSED", "{what}");
        assert!(answer.set_cookie.is_none(), "{what}");
    }
    let same_site = session_post(&router, "/session/refresh", Some(&cookie), &[("sec-fetch-site", "same-origin")], json!({})).await;
    assert_eq!(same_site.status, 200, "the cookie was not spent by the refused requests: {:#}", same_site.body);
}

async fn log_out_clears_the_cookie_and_ends_the_session_and_everywhere_ends_every_one(backend: Backend) {
    let router = spawn_router(backend).await;
    router.sign_up("ada@example.com", "Ada").await;
    let this_browser = log_in(&router, "ada@example.com").await;
    let other_browser = log_in(&router, "ada@example.com").await;

    let logged_out = session_post(
        &router,
        "/session/log-out",
        Some(&this_browser.cookie_value()),
        &[("authorization", &bearer(&this_browser.access_token()))],
        json!({}),
    )
    .await;

    assert_eq!(logged_out.status, 200, "{:#}", logged_out.body);
    assert_eq!(logged_out.body["ended"], 1);
    assert!(logged_out.set_cookie.as_deref().unwrap_or_default().contains("Max-Age=0"));
    let refreshed = session_post(&router, "/session/refresh", Some(&this_browser.cookie_value()), &[], json!({})).await;
    assert_eq!(refreshed.error_code(), "REFRESH_TOKEN_INVALID");
    let other = session_post(&router, "/session/refresh", Some(&other_browser.cookie_value()), &[], json!({})).await;
    assert_eq!(other.status, 200, "only this browser's session ended: {:#}", other.body);

    let everywhere = session_post(
        &router,
        "/session/log-out",
        Some(&other.cookie_value()),
        &[("authorization", &bearer(&other.access_token()))],
        json!({ "everywhere": true }),
    )
    .await;
    assert_eq!(everywhere.status, 200, "{:#}", everywhere.body);
    assert!(router.eventually_refused(&bearer(&other.access_token())).await);
}

async fn wrong_passwords_missing_cookies_and_bad_bodies_are_refused_with_codes(backend: Backend) {
    let router = spawn_router(backend).await;
    router.sign_up("ada@example.com", "Ada").await;

    let wrong = session_post(&router, "/session/log-in", None, &[], json!({ "email": "ada@example.com", "password": "not the password" })).await;
    let no_cookie = session_post(&router, "/session/refresh", None, &[], json!({})).await;
    let not_an_object = send(
        router
            .http
            .post(format!("{}/session/log-in", router.address))
            .header("content-type", "application/json")
            .header("x-c9pay-csrf", "1")
            .body("[1, 2]"),
    )
    .await;

    assert_eq!((wrong.status, wrong.error_code()), (401, "INVALID_CREDENTIALS"), "{:#}", wrong.body);
    assert!(wrong.set_cookie.is_none());
    assert_eq!((no_cookie.status, no_cookie.error_code()), (401, "NO_SESSION"));
    assert_eq!((not_an_object.status, not_an_object.error_code()), (400, "BAD_REQUEST"));
}

on_both_backends!(
    a_browser_log_in_keeps_the_refresh_token_in_an_http_only_host_cookie_only,
    a_refresh_through_the_cookie_rotates_it_and_a_replayed_cookie_ends_the_log_in,
    a_cross_site_request_or_one_without_the_csrf_header_is_refused_and_spends_nothing,
    log_out_clears_the_cookie_and_ends_the_session_and_everywhere_ends_every_one,
    wrong_passwords_missing_cookies_and_bad_bodies_are_refused_with_codes,
);
