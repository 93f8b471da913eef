//! Admins and schema-declared authorization through the router: an admin session is a
//! token plus a `__Host-` cookie holding a fingerprint whose SHA-256 the token names; an
//! admin field (`@requiresScopes(scopes: [["admin"]])`) is refused to everyone else
//! before anything is fetched; and ownership stays with the resolvers.

use c9pay_platform::{database::Backend, on_both_backends, testing::TestResponse};
use serde_json::{Value, json};

use crate::helpers::{ADMIN_EMAIL, PASSWORD, TestRouter, bearer, metric, read, spawn_router};

const STATISTICS: &str = "{ platformStatistics { accounts openSessions kiosks } }";

fn claims_of(token: &str) -> Value {
    use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
    let payload = token.split('.').nth(1).unwrap_or_default();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap_or_default()).unwrap_or_default()
}

struct Admin {
    authorization: String,
    cookie: String,
    set_cookie: String,
    body: Value,
}

async fn admin_log_in(router: &TestRouter, email: &str) -> (u16, Option<Admin>, Value) {
    let response = router
        .http
        .post(format!("{}/admin/log-in", router.address))
        .json(&json!({ "email": email, "password": PASSWORD }))
        .send()
        .await
        .unwrap_or_else(|error| panic!("admin log-in: {error}"));
    let status = response.status().as_u16();
    let set_cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if status != 200 {
        return (status, None, body);
    }
    let cookie = set_cookie.split(';').next().unwrap_or_default().to_string();
    let authorization = bearer(body["accessToken"].as_str().unwrap_or_default());
    (status, Some(Admin { authorization, cookie, set_cookie, body: body.clone() }), body)
}

async fn as_admin(router: &TestRouter, authorization: &str, cookie: Option<&str>, query: &str) -> TestResponse {
    let mut headers = vec![("authorization", authorization)];
    if let Some(cookie) = cookie {
        headers.push(("cookie", cookie));
    }
    router.post_with(&headers, query, json!({})).await
}

async fn logged_in_admin(router: &TestRouter) -> Admin {
    router.sign_up(ADMIN_EMAIL, "Root").await;
    match admin_log_in(router, ADMIN_EMAIL).await {
        (200, Some(admin), _) => admin,
        (status, _, body) => panic!("admin log-in answered {status}: {body:#}"),
    }
}

async fn an_admin_with_token_and_cookie_reads_platform_statistics(backend: Backend) {
    let router = spawn_router(backend).await;
    let admin = logged_in_admin(&router).await;

    let response = as_admin(&router, &admin.authorization, Some(&admin.cookie), STATISTICS).await;

    assert_eq!(response.data()["platformStatistics"]["accounts"], 1, "{:#}", response.body);
    for attribute in ["__Host-c9pay-admin=", "HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(admin.set_cookie.contains(attribute), "{attribute} missing from {}", admin.set_cookie);
    }
    assert!(!admin.set_cookie.contains("Domain"), "a __Host- cookie has no Domain");
    assert!(admin.body["sessionExpiresAt"].is_string() && admin.body["expiresAt"].is_string());
    let claims = claims_of(admin.body["accessToken"].as_str().unwrap_or_default());
    let lifetime_s = claims["exp"].as_i64().unwrap_or_default() - claims["iat"].as_i64().unwrap_or_default();
    assert!((1..=600).contains(&lifetime_s), "the idle time-out bounds an admin token: {lifetime_s}");
    assert_eq!(claims["kind"], "admin");
    assert_eq!(claims["fph"].as_str().map(str::len), Some(43), "the cookie's SHA-256, not the cookie");
    // The idle time-out renews the token inside the session; the absolute one caps it.
    let extended = as_admin(&router, &admin.authorization, Some(&admin.cookie), "mutation { extendAdminSession { accessToken expiresAt sessionExpiresAt } }").await;
    let payload = &extended.data()["extendAdminSession"];
    assert_eq!(payload["sessionExpiresAt"], admin.body["sessionExpiresAt"]);
    let renewed = bearer(payload["accessToken"].as_str().unwrap_or_default());
    let again = as_admin(&router, &renewed, Some(&admin.cookie), STATISTICS).await;
    assert_eq!(again.data()["platformStatistics"]["accounts"], 1);
    // Logging out ends the admin session: its tokens stop, the renewed one included.
    let logged_out = as_admin(&router, &renewed, Some(&admin.cookie), "mutation { logOut }").await;
    assert_eq!(logged_out.data()["logOut"], true);
    let mut refused = false;
    for _ in 0..100 {
        if as_admin(&router, &admin.authorization, Some(&admin.cookie), STATISTICS).await.status == 401 {
            refused = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(refused, "a logged-out admin token still works");
    assert_eq!(as_admin(&router, &renewed, Some(&admin.cookie), STATISTICS).await.status, 401);
}

async fn an_admin_token_without_its_cookie_or_with_another_cookie_is_refused(backend: Backend) {
    let router = spawn_router(backend).await;
    let admin = logged_in_admin(&router).await;
    let (_, other, _) = admin_log_in(&router, ADMIN_EMAIL).await;
    let other_cookie = other.map(|other| other.cookie).unwrap_or_default();

    for (cookie, why) in [
        (None, "no cookie"),
        (Some(other_cookie.as_str()), "the cookie of another admin session"),
        (Some("__Host-c9pay-admin=forged"), "a made-up cookie"),
        (Some("c9pay-admin=forged"), "a cookie of another name"),
    ] {
        let response = as_admin(&router, &admin.authorization, cookie, STATISTICS).await;
        assert_eq!(response.status, 401, "{why}: {:#}", response.body);
        assert_eq!(response.error_code(), "UNAUTHENTICATED", "{why}");
        assert!(response.body.get("data").is_none(), "{why}");
    }
}

async fn a_user_calling_an_admin_field_is_forbidden_before_any_fetch(backend: Backend) {
    let router = spawn_router(backend).await;
    let user = bearer(&router.sign_up("ada@example.com", "Ada").await);
    let fetches = |metrics: String| {
        ["auth", "users"].map(|subgraph| metric(&metrics, "c9pay_subgraph_fetches_total", &[("subgraph", subgraph)]))
    };
    let fetches_before = fetches(router.metrics().await);

    let response = router.post(Some(&user), STATISTICS, json!({})).await;
    let mixed = router.post(Some(&user), "{ me { displayName } platformStatistics { accounts } }", json!({})).await;

    for refused in [&response, &mixed] {
        assert_eq!(refused.status, 403, "{:#}", refused.body);
        assert_eq!(refused.error_code(), "FORBIDDEN");
        assert!(refused.body.get("data").is_none());
        assert!(refused.body.to_string().contains("Query.platformStatistics"), "{:#}", refused.body);
    }
    let fetches_after = fetches(router.metrics().await);
    assert_eq!(fetches_before, fetches_after, "nothing was fetched for the refused requests");
    // Nor can a person whose email is not an admin's open an admin session.
    let (status, admin, body) = admin_log_in(&router, "ada@example.com").await;
    assert_eq!(status, 401, "{body:#}");
    assert!(admin.is_none());
    assert_eq!(body["errors"][0]["extensions"]["code"], "INVALID_CREDENTIALS");
}

async fn an_anonymous_request_for_an_authenticated_field_reaches_no_subgraph(backend: Backend) {
    let router = spawn_router(backend).await;
    // logIn is open to anonymous callers; logOut is @authenticated and is not.
    let response = router.post(None, "mutation { logOut }", json!({})).await;
    assert_eq!(response.status, 401);
    let introspected = read(router.http.post(router.graphql_url()).json(&json!({ "query": "{ __schema { queryType { name } } }" }))).await;
    assert_eq!(introspected.data()["__schema"]["queryType"]["name"], "Query");
}

async fn a_merchant_cannot_read_another_stores_sales(backend: Backend) {
    let router = spawn_router(backend).await;
    let owner = bearer(&router.sign_up("minsu@example.com", "Minsu").await);
    let rival = bearer(&router.sign_up("jisoo@example.com", "Jisoo").await);
    let store = router.post(Some(&owner), "mutation { openStore(input: { name: \"Cafe Nine\" }) { id } }", json!({})).await.data()["openStore"]["id"].clone();
    router.post(Some(&rival), "mutation { openStore(input: { name: \"Tea House\" }) { id } }", json!({})).await.data();
    let latte = router
        .post(Some(&owner), "mutation($store: ID!) { addProduct(input: { storeId: $store, name: \"Latte\", price: \"4500\" }) { id } }", json!({ "store": store }))
        .await
        .data()["addProduct"]["id"]
        .clone();
    let payer = bearer(&router.sign_up("ada@example.com", "Ada").await);
    router.post(Some(&payer), "mutation { topUp(input: { amount: \"10000\", idempotencyKey: \"k\" }) { balanceAfter } }", json!({})).await.data();
    let code = router.post(Some(&payer), "mutation { issuePaymentCode { token } }", json!({})).await.data()["issuePaymentCode"]["token"].clone();
    let sale = router
        .post(
            Some(&owner),
            "mutation($store: ID!, $latte: ID!, $code: String!) { sell(input: { storeId: $store, items: [{ productId: $latte, quantity: 1 }], paymentCode: $code, idempotencyKey: \"s\" }) { id } }",
            json!({ "store": store, "latte": latte, "code": code }),
        )
        .await
        .data()["sell"]["id"]
        .clone();
    let read_sale = "query($sale: ID!) { sale(id: $sale) { id total } }";
    let takings = "query($store: ID!) { store(id: $store) { account { balance } } }";

    let by_owner = router.post(Some(&owner), read_sale, json!({ "sale": sale })).await;
    let by_rival = router.post(Some(&rival), read_sale, json!({ "sale": sale })).await;
    let rival_takings = router.post(Some(&rival), takings, json!({ "store": store })).await;

    assert_eq!(by_owner.data()["sale"]["total"], "4500");
    assert_eq!(by_rival.error_code(), "FORBIDDEN", "{:#}", by_rival.body);
    assert!(by_rival.body["data"]["sale"].is_null());
    assert_eq!(rival_takings.error_code(), "FORBIDDEN", "{:#}", rival_takings.body);
}

async fn brute_forcing_the_admin_log_in_is_rate_limited(backend: Backend) {
    let router = spawn_router(backend).await;
    router.sign_up(ADMIN_EMAIL, "Root").await;
    let attempt = || {
        router
            .http
            .post(format!("{}/admin/log-in", router.address))
            .json(&json!({ "email": ADMIN_EMAIL, "password": "not the password" }))
            .send()
    };

    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(attempt().await.map(|response| response.status().as_u16()).unwrap_or_default());
    }
    let limited = attempt().await.unwrap_or_else(|error| panic!("{error}"));

    assert_eq!(statuses[..5], [401; 5], "five wrong passwords are answered");
    assert_eq!(statuses[5], 429);
    assert_eq!(limited.status().as_u16(), 429);
    assert!(limited.headers().get("retry-after").is_some());
    // The right password is refused too until the limit passes: guessing gains nothing.
    let (status, admin, _) = admin_log_in(&router, ADMIN_EMAIL).await;
    assert_eq!(status, 429);
    assert!(admin.is_none());
}

async fn an_admin_log_out_ends_the_session_and_clears_the_cookie(backend: Backend) {
    let router = spawn_router(backend).await;
    let admin = logged_in_admin(&router).await;

    let response = router
        .http
        .post(format!("{}/admin/log-out", router.address))
        .header("content-type", "application/json")
        .header("x-c9pay-csrf", "1")
        .header("authorization", &admin.authorization)
        .header("cookie", &admin.cookie)
        .body("{}")
        .send()
        .await
        .unwrap_or_else(|error| panic!("admin log-out: {error}"));

    assert_eq!(response.status().as_u16(), 200);
    let set_cookie = response.headers().get("set-cookie").and_then(|value| value.to_str().ok()).unwrap_or_default().to_string();
    assert!(set_cookie.starts_with("__Host-c9pay-admin=;") && set_cookie.contains("Max-Age=0"), "{set_cookie}");
    let mut refused = false;
    for _ in 0..50 {
        let answer = as_admin(&router, &admin.authorization, Some(&admin.cookie), STATISTICS).await;
        if answer.body.get("errors").is_some() {
            refused = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(refused, "the ended admin session's token and cookie still work");
}

on_both_backends!(
    an_admin_log_out_ends_the_session_and_clears_the_cookie,
    brute_forcing_the_admin_log_in_is_rate_limited,
    an_admin_with_token_and_cookie_reads_platform_statistics,
    an_admin_token_without_its_cookie_or_with_another_cookie_is_refused,
    a_user_calling_an_admin_field_is_forbidden_before_any_fetch,
    an_anonymous_request_for_an_authenticated_field_reaches_no_subgraph,
    a_merchant_cannot_read_another_stores_sales,
);
