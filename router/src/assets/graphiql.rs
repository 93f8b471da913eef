//! GraphiQL, which `GET /graphql` serves to a browser.
//!
//! Nothing is loaded from a CDN (the router is the trust boundary; a compromised CDN
//! would run in the admins' origin): GraphiQL is bundled by `web/graphiql` (`npm run
//! build`) into `router/assets/graphiql/`, committed, and embedded here, so that
//! `cargo build` needs no node and the page needs no network. The page's
//! Content-Security-Policy lets it load scripts, styles and data from this origin only.
//!
//! The assets are served at fixed paths that the page references with `?v=` and a hash of
//! their content, so that they can be cached for good: a new build is a new URL.

use std::sync::LazyLock;

use axum::{
    http::{HeaderMap, header},
    response::{IntoResponse, Response},
};

use super::{EmbeddedFile, IMMUTABLE, find, not_found, serve};

/// Where the page loads GraphiQL's script from.
pub const SCRIPT_PATH: &str = "/graphiql/graphiql.js";
/// Where the page loads GraphiQL's stylesheet from.
pub const STYLESHEET_PATH: &str = "/graphiql/graphiql.css";

const SCRIPT_FILE: &str = "graphiql/graphiql.js";
const STYLESHEET_FILE: &str = "graphiql/graphiql.css";
const PAGE_TEMPLATE: &str = include_str!("graphiql.html");

fn body(path: &str) -> &'static [u8] {
    find(path).map_or(&[], |file: &EmbeddedFile| file.body)
}

const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; \
    connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'";

/// The hash of both assets, which the page puts in their URLs.
static VERSION: LazyLock<String> =
    LazyLock::new(|| format!("{:016x}", fnv1a(&[body(SCRIPT_FILE), body(STYLESHEET_FILE)])));

static PAGE: LazyLock<String> = LazyLock::new(|| PAGE_TEMPLATE.replace("{{version}}", &VERSION));

/// The HTML page, which loads the bundled assets.
pub fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        PAGE.as_str(),
    )
        .into_response()
}

/// `GET /graphiql/graphiql.js`, in the best encoding the browser accepts.
pub async fn script(headers: HeaderMap) -> Response {
    asset(SCRIPT_FILE, &headers)
}

/// `GET /graphiql/graphiql.css`.
pub async fn stylesheet(headers: HeaderMap) -> Response {
    asset(STYLESHEET_FILE, &headers)
}

fn asset(path: &str, headers: &HeaderMap) -> Response {
    find(path).map_or_else(not_found, |file| serve(file, headers, IMMUTABLE))
}

/// 64-bit FNV-1a: not for security, only so that a new build gets new asset URLs.
fn fnv1a(parts: &[&[u8]]) -> u64 {
    parts
        .iter()
        .flat_map(|part| part.iter())
        .fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
            (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_the_bundled_assets_with_their_version() {
        assert!(!PAGE.contains("{{version}}"));
        assert!(PAGE.contains(&format!("{SCRIPT_PATH}?v={}", *VERSION)));
        assert!(PAGE.contains(&format!("{STYLESHEET_PATH}?v={}", *VERSION)));
        assert!(
            !PAGE.contains("//"),
            "the page loads nothing from elsewhere"
        );
    }

    #[test]
    fn the_assets_are_graphiql() {
        assert!(body(SCRIPT_FILE).windows(8).any(|window| window == b"graphiql"));
        assert!(
            body(STYLESHEET_FILE)
                .windows(19)
                .any(|window| window == b".graphiql-container")
        );
    }
}
