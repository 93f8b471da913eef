//! The committed files in `schema/` must match what the subgraphs export and compose to today.
//! Fix a failure with `just schema` and commit `schema/`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use c9pay_schema::{check_dir, compose, drift_report, schema_dir, subgraphs};

#[test]
fn committed_schema_files_match_what_the_subgraphs_export_and_compose_to() {
    let drift = check_dir(&schema_dir(), &subgraphs()).expect("subgraphs compose");
    assert!(drift.is_empty(), "{}", drift_report(&drift));
}

#[test]
fn the_supergraph_composes_with_a_join_graph_for_every_subgraph() {
    let subgraphs = subgraphs();
    let supergraph = compose(&subgraphs).expect("subgraphs compose");

    for subgraph in &subgraphs {
        let entry = format!(
            "@join__graph(name: \"{}\", url: \"{}\")",
            subgraph.name, subgraph.url
        );
        assert!(
            supergraph.contains(&entry),
            "supergraph has no `{entry}` for subgraph `{}`",
            subgraph.name
        );
    }
}

#[test]
fn the_supergraph_uses_join_v0_3_as_the_router_expects() {
    let supergraph = compose(&subgraphs()).expect("subgraphs compose");
    assert!(
        supergraph.contains("@link(url: \"https://specs.apollo.dev/join/v0.3\", for: EXECUTION)"),
        "the supergraph no longer links join v0.3; check that the Hive planner accepts the new \
         join version before committing it"
    );
}

#[test]
fn subgraphs_are_listed_in_their_fixed_order_with_service_urls() {
    let listed: Vec<(String, String)> = subgraphs()
        .into_iter()
        .map(|subgraph| (subgraph.name, subgraph.url))
        .collect();
    let expected: Vec<(String, String)> = ["auth", "users", "credit", "stores"]
        .into_iter()
        .map(|name| (name.to_owned(), format!("http://{name}:8080/graphql")))
        .collect();
    assert_eq!(listed, expected);
}
