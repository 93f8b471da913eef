//! The graphql-http server audit (npm `graphql-http`, `auditServer`) against the router:
//! zero errors required. Needs `node` and `npm ci` run once in `router/tests/audit`.

use std::path::PathBuf;

use c9pay_platform::{database::Backend, on_both_backends};

use crate::helpers::spawn_router;

async fn the_router_passes_the_graphql_over_http_audit(backend: Backend) {
    let router = spawn_router(backend).await;
    let directory = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/audit");
    assert!(
        directory.join("node_modules/graphql-http").is_dir(),
        "the audit needs its npm packages: run `npm ci` in {}",
        directory.display()
    );

    let url = router.graphql_url();
    // std's Command on a blocking thread: the router keeps serving on the runtime while
    // node runs (tokio's own process support is a feature the workspace does not enable).
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .arg("audit.mjs")
            .current_dir(&directory)
            .env("C9PAY_ROUTER_URL", url)
            .output()
    })
    .await
    .unwrap_or_else(|error| panic!("joining the audit: {error}"))
    .unwrap_or_else(|error| panic!("running node: {error}"));

    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "the audit failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("\"error\":0"), "{stdout}");
}

on_both_backends!(the_router_passes_the_graphql_over_http_audit);
