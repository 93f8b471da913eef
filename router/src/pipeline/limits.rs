//! Stage 2: choose the operation and hold it to the configured limits. Tokens were
//! counted while parsing; depth, aliases and fields are measured with every fragment
//! expanded.

use super::Pipeline;
use crate::{
    config::Limits,
    engine::{Document, OperationShape},
    error::{RouterError, code},
};

pub(super) fn check(
    pipeline: &Pipeline,
    document: &Document,
    operation_name: Option<&str>,
) -> Result<OperationShape, RouterError> {
    let shape = pipeline
        .engine
        .shape(document, operation_name)
        .map_err(|error| RouterError::OperationSelection(error.to_string()))?;
    within(&pipeline.limits, &shape)?;
    Ok(shape)
}

fn within(limits: &Limits, shape: &OperationShape) -> Result<(), RouterError> {
    if shape.depth > limits.depth_max {
        return Err(RouterError::Limit {
            code: code::QUERY_TOO_DEEP,
            message: format!(
                "the operation nests {} fields deep; the most allowed is {}",
                shape.depth, limits.depth_max
            ),
        });
    }
    if shape.aliases > limits.aliases_max {
        return Err(RouterError::Limit {
            code: code::TOO_MANY_ALIASES,
            message: format!(
                "the operation has {} aliases; the most allowed is {}",
                shape.aliases, limits.aliases_max
            ),
        });
    }
    if shape.fields > limits.fields_max {
        return Err(RouterError::Limit {
            code: code::QUERY_TOO_COMPLEX,
            message: format!(
                "the operation selects {} fields with its fragments expanded; the most allowed is {}",
                shape.fields, limits.fields_max
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::OperationKind;

    fn shape(depth: usize, aliases: usize, fields: usize) -> OperationShape {
        OperationShape {
            kind: OperationKind::Query,
            name: None,
            root_fields: vec!["me".to_string()],
            depth,
            aliases,
            fields,
        }
    }

    #[test]
    fn each_limit_has_its_own_code() {
        let limits = Limits::default();
        assert!(within(&limits, &shape(limits.depth_max, limits.aliases_max, limits.fields_max)).is_ok());
        let code_of = |shape: OperationShape| within(&limits, &shape).err().map(|error| error.code());
        assert_eq!(code_of(shape(limits.depth_max + 1, 0, 1)), Some(code::QUERY_TOO_DEEP));
        assert_eq!(code_of(shape(1, limits.aliases_max + 1, 1)), Some(code::TOO_MANY_ALIASES));
        assert_eq!(code_of(shape(1, 0, limits.fields_max + 1)), Some(code::QUERY_TOO_COMPLEX));
    }
}
