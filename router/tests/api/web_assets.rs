//! The web clients and GraphiQL as a browser meets them: `/` leads to the user app; each
//! client's page comes with a strict Content-Security-Policy and is revalidated on every
//! load; its assets have content-hashed names, are cached for good, and come brotli- or
//! gzip-compressed to a browser that accepts it.

use c9pay_platform::database::Backend;

use crate::helpers::spawn_router;

const CLIENTS: [&str; 3] = ["app", "store", "admin"];

async fn get(router: &crate::helpers::TestRouter, path: &str, accept_encoding: &str) -> reqwest::Response {
    let request = router
        .http
        .get(format!("{}{path}", router.address))
        .header("accept", "text/html,*/*")
        .header("accept-encoding", accept_encoding);
    match request.send().await {
        Ok(response) => response,
        Err(error) => panic!("GET {path}: {error}"),
    }
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// The asset URLs a page names in `src="…"` and `href="…"`.
fn asset_urls(page: &str) -> Vec<String> {
    page.split(['"', '\''])
        .filter(|part| part.contains("/assets/"))
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn the_root_leads_to_the_user_app() {
    let router = spawn_router(Backend::Sqlite).await;
    let client = match reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build() {
        Ok(client) => client,
        Err(error) => panic!("{error}"),
    };
    let response = match client.get(format!("{}/", router.address)).send().await {
        Ok(response) => response,
        Err(error) => panic!("{error}"),
    };
    assert_eq!(response.status().as_u16(), 308);
    assert_eq!(header(&response, "location"), "/app");
}

#[tokio::test]
async fn every_client_page_has_a_strict_policy_and_hashed_assets_that_are_cached_for_good() {
    let router = spawn_router(Backend::Sqlite).await;
    for client in CLIENTS {
        for path in [format!("/{client}"), format!("/{client}/"), format!("/{client}/some/screen")] {
            let page = get(&router, &path, "identity").await;
            assert_eq!(page.status().as_u16(), 200, "{path}");
            let policy = header(&page, "content-security-policy");
            for directive in ["default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"] {
                assert!(policy.contains(directive), "{path}: {directive} missing from {policy}");
            }
            for loose in ["unsafe-inline", "unsafe-eval", "wasm-unsafe-eval", "blob:", "http:", "https:", "*"] {
                assert!(!policy.contains(loose), "{path}: {loose} in {policy}");
            }
            assert_eq!(header(&page, "cache-control"), "no-cache", "{path}");
            assert_eq!(header(&page, "x-content-type-options"), "nosniff", "{path}");
            assert!(header(&page, "content-type").starts_with("text/html"), "{path}");
            let html = page.text().await.unwrap_or_default();
            assert!(!html.contains("<script>") && !html.contains("style=\""), "{path}: no inline script or style");
            let assets = asset_urls(&html);
            assert!(assets.iter().any(|url| url.ends_with(".js")), "{path} loads no script: {html}");
            for url in assets {
                assert!(url.starts_with(&format!("/{client}/assets/")), "{path}: {url} is not this client's");
                let file_name = url.rsplit('/').next().unwrap_or_default();
                let stem = file_name.split('.').next().unwrap_or_default();
                assert!(stem.contains('-'), "{url} has no content hash in its name");
                let asset = get(&router, &url, "gzip, deflate, br").await;
                assert_eq!(asset.status().as_u16(), 200, "{url}");
                assert_eq!(header(&asset, "cache-control"), "public, max-age=31536000, immutable", "{url}");
                assert_eq!(header(&asset, "content-encoding"), "br", "{url}");
                assert_eq!(header(&asset, "vary"), "Accept-Encoding", "{url}");
                let gzip = get(&router, &url, "gzip").await;
                assert_eq!(header(&gzip, "content-encoding"), "gzip", "{url}");
                let bytes = gzip.bytes().await.unwrap_or_default();
                assert_eq!(bytes.get(..2), Some(&[0x1f_u8, 0x8b][..]), "{url}: a gzip stream");
                let plain = get(&router, &url, "identity").await;
                assert_eq!(header(&plain, "content-encoding"), "", "{url}");
            }
        }
        let missing = get(&router, &format!("/{client}/assets/nothing-here.js"), "br").await;
        assert_eq!(missing.status().as_u16(), 404);
    }
}

#[tokio::test]
async fn graphiql_is_served_compressed_and_may_be_framed_by_the_admin_console_only() {
    let router = spawn_router(Backend::Sqlite).await;
    let page = get(&router, "/graphql", "br").await;
    let policy = header(&page, "content-security-policy");
    assert!(policy.contains("frame-ancestors 'self'"), "{policy}");
    let html = page.text().await.unwrap_or_default();
    for url in asset_urls(&html).into_iter().chain(html.split('"').filter(|part| part.starts_with("/graphiql/")).map(str::to_string)) {
        let asset = get(&router, &url, "gzip, br").await;
        assert_eq!(asset.status().as_u16(), 200, "{url}");
        assert_eq!(header(&asset, "content-encoding"), "br", "{url}");
        assert_eq!(header(&asset, "cache-control"), "public, max-age=31536000, immutable", "{url}");
    }
}
