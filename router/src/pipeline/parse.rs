//! Stage 1: parse the document, refusing one with too many tokens before it is built.

use super::Pipeline;
use crate::{
    engine::{Document, ParseError},
    error::{RouterError, code},
};

pub(super) fn parse(pipeline: &Pipeline, query: &str) -> Result<Document, RouterError> {
    let tokens_max = pipeline.limits.tokens_max;
    pipeline
        .engine
        .parse(query, tokens_max)
        .map_err(|error| match error {
            ParseError::TooManyTokens { .. } => RouterError::Limit {
                code: code::QUERY_TOO_COMPLEX,
                message: format!("the document has more than {tokens_max} tokens"),
            },
            ParseError::TooDeep => RouterError::Limit {
                code: code::QUERY_TOO_DEEP,
                message: "the document nests too deeply".to_string(),
            },
            ParseError::Syntax(message) => RouterError::Parse(message),
        })
}
