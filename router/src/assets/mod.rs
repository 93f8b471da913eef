//! What the router serves to browsers: the three web clients (`/app`, `/store`, `/admin`,
//! see [`clients`]) and GraphiQL (see [`graphiql`]).
//!
//! Their bundles are built from `web/` by node, committed under `router/assets/`, and
//! embedded at compile time by `build.rs`, so that `cargo build` needs no node and a
//! running router needs no files and no CDN. Every asset is committed with a gzip and a
//! brotli copy beside it, compressed once at its highest level; the router picks one by
//! `Accept-Encoding` and spends no CPU compressing.

pub mod clients;
pub mod graphiql;

use std::{collections::HashMap, sync::LazyLock};

use axum::{
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

/// One embedded file and its precompressed copies.
pub struct EmbeddedFile {
    /// Relative to `router/assets/`, e.g. `app/assets/app-3FQ2ZK.js`.
    pub path: &'static str,
    pub body: &'static [u8],
    pub gzip: Option<&'static [u8]>,
    pub brotli: Option<&'static [u8]>,
}

static FILES: &[EmbeddedFile] = include!(concat!(env!("OUT_DIR"), "/assets.rs"));

static BY_PATH: LazyLock<HashMap<&'static str, &'static EmbeddedFile>> =
    LazyLock::new(|| FILES.iter().map(|file| (file.path, file)).collect());

/// Every embedded file.
pub fn files() -> &'static [EmbeddedFile] {
    FILES
}

/// The embedded file at `path` (relative to `router/assets/`).
pub fn find(path: &str) -> Option<&'static EmbeddedFile> {
    BY_PATH.get(path).copied()
}

/// `Cache-Control` of an asset whose URL changes with its content.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// An encoding the router can answer with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Brotli,
    Gzip,
    Identity,
}

/// The best encoding the client accepts among those the file has: brotli, then gzip
/// (both smaller than the original), else the original. `q=0` refuses an encoding.
pub fn negotiate_encoding(headers: &HeaderMap, file: &EmbeddedFile) -> Encoding {
    let accepted = |name: &str| {
        headers
            .get_all(header::ACCEPT_ENCODING)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .any(|coding| {
                let mut parts = coding.split(';');
                let coding_name = parts.next().unwrap_or_default().trim();
                let quality = parts
                    .filter_map(|parameter| parameter.trim().strip_prefix("q="))
                    .find_map(|value| value.trim().parse::<f32>().ok())
                    .unwrap_or(1.0);
                (coding_name.eq_ignore_ascii_case(name) || coding_name == "*") && quality > 0.0
            })
    };
    if file.brotli.is_some() && accepted("br") {
        Encoding::Brotli
    } else if file.gzip.is_some() && accepted("gzip") {
        Encoding::Gzip
    } else {
        Encoding::Identity
    }
}

/// The content type of a file, by its extension.
pub fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Serves an embedded file in the best encoding the client accepts.
pub fn serve(file: &'static EmbeddedFile, headers: &HeaderMap, cache_control: &'static str) -> Response {
    let (body, content_encoding) = match negotiate_encoding(headers, file) {
        Encoding::Brotli => (file.brotli.unwrap_or(file.body), Some("br")),
        Encoding::Gzip => (file.gzip.unwrap_or(file.body), Some("gzip")),
        Encoding::Identity => (file.body, None),
    };
    let mut response = (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type(file.path)),
            (header::CACHE_CONTROL, cache_control),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::VARY, "Accept-Encoding"),
        ],
        body,
    )
        .into_response();
    if let Some(encoding) = content_encoding {
        response
            .headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
    }
    response
}

/// 404 for a path that names no embedded file.
pub fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "not found",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> EmbeddedFile {
        EmbeddedFile { path: "app/assets/app.js", body: b"x", gzip: Some(b"g"), brotli: Some(b"b") }
    }

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(value).unwrap_or(HeaderValue::from_static("")));
        headers
    }

    #[test]
    fn brotli_is_preferred_then_gzip_then_the_original() {
        assert_eq!(negotiate_encoding(&accept("gzip, deflate, br, zstd"), &file()), Encoding::Brotli);
        assert_eq!(negotiate_encoding(&accept("gzip"), &file()), Encoding::Gzip);
        assert_eq!(negotiate_encoding(&accept("br;q=0, gzip;q=0.5"), &file()), Encoding::Gzip);
        assert_eq!(negotiate_encoding(&accept("identity"), &file()), Encoding::Identity);
        assert_eq!(negotiate_encoding(&HeaderMap::new(), &file()), Encoding::Identity);
        let without_copies = EmbeddedFile { gzip: None, brotli: None, ..file() };
        assert_eq!(negotiate_encoding(&accept("br, gzip"), &without_copies), Encoding::Identity);
    }

    #[test]
    fn every_embedded_asset_has_its_compressed_copies_and_they_are_smaller() {
        for file in files().iter().filter(|file| !file.path.ends_with(".html")) {
            let gzip = file.gzip.unwrap_or_else(|| panic!("{} has no .gz copy", file.path));
            let brotli = file.brotli.unwrap_or_else(|| panic!("{} has no .br copy", file.path));
            if file.body.len() > 1024 {
                assert!(gzip.len() < file.body.len(), "{}: gzip is not smaller", file.path);
                assert!(brotli.len() < file.body.len(), "{}: brotli is not smaller", file.path);
            }
        }
    }
}
