//! The web clients: `/app` (people), `/store` (kiosks and merchants), `/admin` (admins).
//!
//! Each is a single-page app whose `index.html` is served for the client's own path and
//! any path below it but `assets/` (the app routes in the browser), with a strict
//! Content-Security-Policy: scripts, styles, images, fonts and connections from this
//! origin only, no inline script or style, no `blob:`, no WebAssembly. Its assets have the
//! hash of their content in their file names (`web/build.mjs`), so they are cached for
//! good, while the page itself is revalidated on every load.

use axum::{
    Router,
    extract::Path,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
    routing::get,
};

use super::{EmbeddedFile, IMMUTABLE, find, not_found, serve};

/// The clients, by the path they are served at.
pub const CLIENTS: [&str; 3] = ["app", "store", "admin"];

/// The page's policy. `frame-src 'self'` lets the admin console embed GraphiQL; the
/// camera (scanning QR codes) and the screen wake lock (a payment code on screen) are
/// allowed for this origin only.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
    media-src 'self'; manifest-src 'self'; worker-src 'self'; frame-src 'self'; \
    base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
const PERMISSIONS_POLICY: &str = "camera=(self), screen-wake-lock=(self), microphone=(), geolocation=(), payment=()";

/// `/` (to the user app), and every client's page and assets.
pub fn routes() -> Router {
    let mut router = Router::new().route("/", get(|| async { Redirect::permanent("/app") }));
    for client in CLIENTS {
        router = router
            .route(&format!("/{client}"), get(move |headers: HeaderMap| async move { page(client, &headers) }))
            .route(&format!("/{client}/"), get(move |headers: HeaderMap| async move { page(client, &headers) }))
            .route(
                &format!("/{client}/{{*rest}}"),
                get(move |Path(rest): Path<String>, headers: HeaderMap| async move {
                    match rest.strip_prefix("assets/") {
                        Some(_) => asset(client, &rest, &headers),
                        None => page(client, &headers),
                    }
                }),
            );
    }
    router
}

/// The client's `index.html`.
fn page(client: &str, headers: &HeaderMap) -> Response {
    let Some(file) = find(&format!("{client}/index.html")) else {
        return (StatusCode::NOT_FOUND, "this client is not built into this router").into_response();
    };
    with_page_headers(serve(file, headers, "no-cache"))
}

fn asset(client: &str, rest: &str, headers: &HeaderMap) -> Response {
    match find(&format!("{client}/{rest}")) {
        Some(file) if !is_page(file) => serve(file, headers, IMMUTABLE),
        _ => not_found(),
    }
}

fn is_page(file: &EmbeddedFile) -> bool {
    file.path.ends_with(".html")
}

fn with_page_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::HeaderName::from_static("permissions-policy"), PERMISSIONS_POLICY),
        (header::HeaderName::from_static("cross-origin-opener-policy"), "same-origin"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ] {
        headers.insert(name, header::HeaderValue::from_static(value));
    }
    response
}
