//! Trusted documents (what Hive and Apollo call persisted documents or persisted queries):
//! the first stage. The web clients' GraphQL documents are extracted at build time
//! (`web/build.mjs`) into a manifest, `sha256:<hex of the document>` → document,
//! committed as `router/assets/persisted-documents.json` and embedded with the clients.
//!
//! A request may name a document by `documentId` instead of sending its text. And when
//! trusted documents are enforced (the default), a request from a page of this router's
//! own origin — one of the web clients — may run only a document of the manifest: a
//! script injected into one of our pages cannot use the clients' credentials for any
//! other operation. Admins (GraphiQL in the admin console, with the admin session's
//! cookie) and clients that are not pages of this origin (native apps, services) stay
//! free-form.

use std::{collections::HashMap, sync::LazyLock};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{Caller, GraphQLRequest, Pipeline};
use crate::{assets, error::RouterError};

/// Where the manifest is, among the embedded assets.
pub const MANIFEST_PATH: &str = "persisted-documents.json";

/// Whether first-party pages must send trusted documents.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Pages of this origin may send only documents of the manifest (the default).
    #[default]
    Enforce,
    /// Documents are looked up by `documentId` when named; anything else is free-form.
    Allow,
}

/// The manifest and the mode.
pub struct TrustedDocuments {
    documents: &'static HashMap<String, String>,
    mode: Mode,
}

static EMBEDDED: LazyLock<HashMap<String, String>> = LazyLock::new(|| {
    let Some(file) = assets::find(MANIFEST_PATH) else {
        return HashMap::new();
    };
    match serde_json::from_slice(file.body) {
        Ok(documents) => documents,
        Err(error) => {
            tracing::error!(%error, "the embedded trusted-documents manifest does not parse");
            HashMap::new()
        }
    }
});

impl TrustedDocuments {
    pub fn new(mode: Mode) -> Self {
        Self { documents: &EMBEDDED, mode }
    }

    /// How many documents the manifest holds.
    pub fn len(&self) -> usize {
        self.documents.len()
    }

    pub fn is_empty(&self) -> bool {
        self.documents.is_empty()
    }

    fn get(&self, document_id: &str) -> Option<&'static str> {
        self.documents.get(document_id).map(String::as_str)
    }
}

/// The id of a document's text in the manifest: `sha256:` and the lower-case hex of the
/// SHA-256 of its UTF-8 bytes.
pub fn document_id(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    let mut id = String::with_capacity(7 + 64);
    id.push_str("sha256:");
    for byte in digest {
        id.push_str(&format!("{byte:02x}"));
    }
    id
}

/// The text of the document the request runs, or the refusal.
pub fn resolve<'request>(
    pipeline: &Pipeline,
    request: &'request GraphQLRequest,
    caller: &Caller<'_>,
) -> Result<&'request str, RouterError> {
    let trusted = &pipeline.trusted_documents;
    if let Some(id) = &request.document_id {
        return trusted.get(id).ok_or_else(|| {
            RouterError::PersistedDocumentNotFound(format!("no trusted document has the id {id:?}"))
        });
    }
    let must_be_trusted = trusted.mode == Mode::Enforce && caller.first_party;
    if must_be_trusted && trusted.get(&document_id(&request.query)).is_none() {
        tracing::warn!(
            request_id = caller.request_id,
            "refused a free-form document from a page of this origin"
        );
        return Err(RouterError::PersistedDocumentNotFound(
            "this client may send only its trusted documents".to_string(),
        ));
    }
    Ok(&request.query)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_id_is_the_sha256_of_its_text() {
        assert_eq!(
            document_id("{ me { displayName } }"),
            format!("sha256:{}", {
                let digest = Sha256::digest(b"{ me { displayName } }");
                digest.iter().map(|byte| format!("{byte:02x}")).collect::<String>()
            })
        );
        assert_eq!(document_id("").len(), 71);
    }

    #[test]
    fn the_embedded_manifest_maps_each_id_to_its_own_document() {
        for (id, text) in EMBEDDED.iter() {
            assert_eq!(&document_id(text), id, "{text}");
        }
    }
}
