//! Trusted documents: the web clients' documents are in a manifest the router embeds
//! (`router/assets/persisted-documents.json`, made by `web/build.mjs`). A request may
//! name one by `documentId`; a page of the router's own origin may run nothing else
//! (`PERSISTED_DOCUMENT_NOT_FOUND`), while admins (GraphiQL) and native clients stay
//! free-form, and the switch `trusted_documents = "allow"` lifts the rule.

use std::collections::BTreeMap;

use c9pay_platform::{database::Backend, on_both_backends, testing::TestResponse};
use c9pay_router::pipeline::trusted_documents::{Mode, document_id};
use serde_json::{Value, json};

use crate::helpers::{TestRouter, bearer, read, spawn_router, spawn_router_with};

const FREE_FORM: &str = "query FreeForm { me { displayName } }";

/// The committed manifest: id → document.
fn manifest() -> BTreeMap<String, String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/persisted-documents.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{path}: {error}"));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{path}: {error}"))
}

/// A document of the manifest that a signed-in person can run without variables, and
/// whose answer names the person: the app's own `me` query.
fn trusted_me_query() -> (String, String) {
    manifest()
        .into_iter()
        .find(|(_, text)| text.starts_with("query") && !text.contains('$') && text.contains("me {") && text.contains("displayName"))
        .unwrap_or_else(|| panic!("the manifest has no `me` query without variables"))
}

/// Posts as a page of the router's own origin would: `Origin` names the router.
async fn from_own_page(router: &TestRouter, person: &str, body: Value) -> TestResponse {
    let origin = router.address.clone();
    read(
        router
            .http
            .post(router.graphql_url())
            .header("authorization", person)
            .header("origin", origin)
            .header("accept", "application/graphql-response+json")
            .json(&body),
    )
    .await
}

fn code(response: &TestResponse) -> &str {
    response.body["errors"][0]["extensions"]["code"].as_str().unwrap_or_default()
}

async fn a_page_of_this_origin_runs_trusted_documents_by_id_or_text_and_nothing_else(backend: Backend) {
    let router = spawn_router(backend).await;
    let person = bearer(&router.sign_up("ada@example.com", "Ada").await);
    let (id, text) = trusted_me_query();
    assert_eq!(document_id(&text), id, "the manifest's ids are the documents' SHA-256");

    let by_id = from_own_page(&router, &person, json!({ "documentId": id })).await;
    let by_text = from_own_page(&router, &person, json!({ "query": text })).await;
    let free_form = from_own_page(&router, &person, json!({ "query": FREE_FORM })).await;
    let unknown_id = from_own_page(&router, &person, json!({ "documentId": document_id(FREE_FORM) })).await;

    assert_eq!(by_id.data()["me"]["displayName"], "Ada", "{:#}", by_id.body);
    assert_eq!(by_text.data()["me"]["displayName"], "Ada");
    for (refused, what) in [(&free_form, "a free-form document"), (&unknown_id, "an unknown id")] {
        assert_eq!(refused.status, 400, "{what}: {:#}", refused.body);
        assert_eq!(code(refused), "PERSISTED_DOCUMENT_NOT_FOUND", "{what}");
        assert!(refused.body.get("data").is_none(), "{what}: nothing ran");
    }
}

async fn native_clients_stay_free_form_and_anyone_may_name_a_trusted_document(backend: Backend) {
    let router = spawn_router(backend).await;
    let person = bearer(&router.sign_up("ada@example.com", "Ada").await);
    let (id, _) = trusted_me_query();

    let native = router.post(Some(&person), FREE_FORM, json!({})).await;
    let native_by_id = read(router.http.post(router.graphql_url()).header("authorization", &person).json(&json!({ "documentId": id }))).await;
    let unknown = read(router.http.post(router.graphql_url()).header("authorization", &person).json(&json!({ "documentId": "sha256:00" }))).await;
    let both = read(router.http.post(router.graphql_url()).header("authorization", &person).json(&json!({ "documentId": id, "query": FREE_FORM }))).await;

    assert_eq!(native.data()["me"]["displayName"], "Ada");
    assert_eq!(native_by_id.data()["me"]["displayName"], "Ada");
    assert_eq!(code(&unknown), "PERSISTED_DOCUMENT_NOT_FOUND");
    assert_eq!(code(&both), "BAD_REQUEST", "{:#}", both.body);
}

async fn with_the_switch_off_a_page_of_this_origin_is_free_form(backend: Backend) {
    let router = spawn_router_with(backend, |config| config.trusted_documents = Mode::Allow).await;
    let person = bearer(&router.sign_up("ada@example.com", "Ada").await);

    let free_form = from_own_page(&router, &person, json!({ "query": FREE_FORM })).await;

    assert_eq!(free_form.data()["me"]["displayName"], "Ada");
}

#[test]
fn the_manifest_ids_are_the_sha256_of_their_documents() {
    let documents = manifest();
    assert!(documents.len() >= 20, "the clients send more documents than {}", documents.len());
    for (id, text) in documents {
        assert_eq!(document_id(&text), id);
    }
}

on_both_backends!(
    a_page_of_this_origin_runs_trusted_documents_by_id_or_text_and_nothing_else,
    native_clients_stay_free_form_and_anyone_may_name_a_trusted_document,
    with_the_switch_off_a_page_of_this_origin_is_free_form,
);
