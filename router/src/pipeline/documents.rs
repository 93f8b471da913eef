//! Documents already seen. Parsing, measuring and validating a document depend only on
//! its text, the operation name and the schema, so a document that passed them once is
//! kept — parsed, with its shape, the `@authenticated`/`@requiresScopes` demands of its
//! operation and, once planned, its plan — and the next request with the same text and
//! operation name starts from there.
//!
//! The key is the SHA-256 of the operation name and the text (a trusted document is
//! resolved to its text first), so a collision would need one in SHA-256. Only documents
//! that passed every check of their own are kept: a refused document is parsed and
//! refused again every time, with the same error. What depends on the request is checked
//! on every request, kept or not: the transport (no mutation over GET, subscriptions
//! only over a streaming transport), the caller, its rights, its rate limits.
//!
//! The cache is bounded by the total length of the texts it holds (each weighs its
//! length plus a fixed overhead), and a document longer than an eighth of the bound is
//! never kept, so hostile clients can neither grow it nor fill it with a few big ones.

use std::sync::{Arc, OnceLock};

use sha2::{Digest, Sha256};

use crate::engine::{Demands, Document, OperationShape, PlannedOperation};

/// What a cached document is charged besides its text (the key, the shape, the maps).
const ENTRY_OVERHEAD_BYTES: usize = 256;

/// A document that parsed, measured within the limits and validated, for one operation.
pub struct PreparedDocument {
    pub document: Document,
    pub shape: OperationShape,
    pub demands: Demands,
    /// The operation's plan, set the first time it is planned.
    pub planned: OnceLock<Arc<PlannedOperation>>,
    /// What the entry weighs in the cache.
    weight: u32,
}

impl PreparedDocument {
    pub fn new(document: Document, shape: OperationShape, demands: Demands, key: &DocumentKey) -> Self {
        let weight = u32::try_from(key.text_bytes.saturating_add(ENTRY_OVERHEAD_BYTES)).unwrap_or(u32::MAX);
        Self { document, shape, demands, planned: OnceLock::new(), weight }
    }
}

pub struct DocumentCache {
    entries: moka::sync::Cache<[u8; 32], Arc<PreparedDocument>>,
    text_bytes_max: usize,
}

/// The cache key of `text` with `operation_name`.
pub struct DocumentKey {
    digest: [u8; 32],
    text_bytes: usize,
}

impl DocumentCache {
    pub fn new(text_bytes_max: usize) -> Self {
        Self {
            entries: moka::sync::Cache::builder()
                .max_capacity(u64::try_from(text_bytes_max).unwrap_or(u64::MAX))
                .weigher(|_key, prepared: &Arc<PreparedDocument>| prepared.weight)
                .build(),
            text_bytes_max,
        }
    }

    /// The key of a document and operation name. The name is written with its length
    /// first, so that no name and text can be shifted into another pair with the same key.
    pub fn key(text: &str, operation_name: Option<&str>) -> DocumentKey {
        let mut hasher = Sha256::new();
        match operation_name {
            Some(name) => {
                hasher.update([1]);
                hasher.update(u64::try_from(name.len()).unwrap_or(u64::MAX).to_be_bytes());
                hasher.update(name.as_bytes());
            }
            None => hasher.update([0]),
        }
        hasher.update(text.as_bytes());
        DocumentKey { digest: hasher.finalize().into(), text_bytes: text.len() }
    }

    pub fn get(&self, key: &DocumentKey) -> Option<Arc<PreparedDocument>> {
        self.entries.get(&key.digest)
    }

    /// Keeps a document that passed every check, unless it is too long to keep.
    pub fn insert(&self, key: &DocumentKey, prepared: Arc<PreparedDocument>) {
        if key.text_bytes > self.text_bytes_max / 8 {
            return;
        }
        self.entries.insert(key.digest, prepared);
    }
}
