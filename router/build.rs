//! Embeds the web clients' committed bundles (`router/assets/<client>/…`, built by
//! `web/build.mjs` and `web/graphiql/build.mjs`) into the router: writes `assets.rs` into
//! `OUT_DIR`, a table of every file with its precompressed `.gz` and `.br` siblings, so that
//! `cargo build` needs no node and the binary needs no files beside it.

use std::{
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
};

const ASSET_ROOT: &str = "assets";

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(ASSET_ROOT);
    println!("cargo::rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    collect(&root, &mut files);
    files.sort();

    let mut table = String::from("&[\n");
    for path in &files {
        let name = path.to_string_lossy();
        if name.ends_with(".gz") || name.ends_with(".br") {
            continue;
        }
        let relative = path
            .strip_prefix(&root)
            .unwrap_or(path)
            .to_string_lossy()
            .replace('\\', "/");
        let sibling = |suffix: &str| {
            let compressed = PathBuf::from(format!("{name}{suffix}"));
            if compressed.is_file() {
                format!("Some(include_bytes!({:?}))", compressed.display().to_string())
            } else {
                "None".to_string()
            }
        };
        let _ = writeln!(
            table,
            "    EmbeddedFile {{ path: {relative:?}, body: include_bytes!({:?}), gzip: {}, brotli: {} }},",
            path.display().to_string(),
            sibling(".gz"),
            sibling(".br"),
        );
    }
    table.push(']');

    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default()).join("assets.rs");
    if let Err(error) = fs::write(&out, table) {
        panic!("writing {}: {error}", out.display());
    }
}

fn collect(directory: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(directory) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, files);
        } else if path.is_file() {
            files.push(path);
        }
    }
}
