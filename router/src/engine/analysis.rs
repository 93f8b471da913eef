//! What the pipeline needs to know about an operation before planning it: its kind, its
//! root fields (for the anonymous allow-list) and its size (for the limits), measured on
//! the parsed document with every fragment spread expanded.
//!
//! A fragment is measured once and its measure reused at every spread, with saturating
//! arithmetic: a document whose fragments spread each other in a fan (a "fragment bomb")
//! expands exponentially, and measuring it by walking the expansion would be the very
//! denial of service the limits exist to stop.

use std::collections::{HashMap, HashSet};

use graphql_tools::parser::query::{
    Definition, Directive, Document, FragmentDefinition, OperationDefinition, Selection, SelectionSet, Value,
};

use super::OperationKind;

/// The measure of one operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperationShape {
    pub kind: OperationKind,
    pub name: Option<String>,
    /// Names of the root fields, fragments at the root expanded, once per response key
    /// (so `a: logIn b: logIn` lists `logIn` twice).
    pub root_fields: Vec<String>,
    /// Deepest field nesting; `{ a { b } }` is 2.
    pub depth: usize,
    /// Aliased fields, counted at every expansion.
    pub aliases: usize,
    /// Fields, counted at every expansion.
    pub fields: usize,
}

/// Why no operation could be chosen from a document.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SelectionError {
    #[error("the document contains no operation")]
    NoOperation,
    #[error("the document contains several operations: name one with operationName")]
    OperationNameRequired,
    #[error("the document has no operation named {0:?}")]
    UnknownOperation(String),
}

#[derive(Clone, Copy, Default)]
struct Measure {
    depth: usize,
    aliases: usize,
    fields: usize,
}

impl Measure {
    fn add(self, other: Measure) -> Measure {
        Measure {
            depth: self.depth.max(other.depth),
            aliases: self.aliases.saturating_add(other.aliases),
            fields: self.fields.saturating_add(other.fields),
        }
    }
}

/// The document's fragments by name.
pub(super) fn fragments<'d>(document: &'d Document<'static, String>) -> HashMap<&'d str, &'d FragmentDefinition<'static, String>> {
    document
        .definitions
        .iter()
        .filter_map(|definition| match definition {
            Definition::Fragment(fragment) => Some((fragment.name.as_str(), fragment)),
            Definition::Operation(_) => None,
        })
        .collect()
}

/// The operation `operation_name` picks (or the only one).
pub fn select_operation<'document>(
    document: &'document Document<'static, String>,
    operation_name: Option<&str>,
) -> Result<&'document OperationDefinition<'static, String>, SelectionError> {
    let mut operations = document.definitions.iter().filter_map(|definition| match definition {
        Definition::Operation(operation) => Some(operation),
        Definition::Fragment(_) => None,
    });
    match operation_name {
        Some(wanted) => operations
            .find(|operation| name_of(operation) == Some(wanted))
            .ok_or_else(|| SelectionError::UnknownOperation(wanted.chars().take(100).collect())),
        None => {
            let first = operations.next().ok_or(SelectionError::NoOperation)?;
            if operations.next().is_some() {
                return Err(SelectionError::OperationNameRequired);
            }
            Ok(first)
        }
    }
}

fn name_of<'a>(operation: &'a OperationDefinition<'static, String>) -> Option<&'a str> {
    match operation {
        OperationDefinition::SelectionSet(_) => None,
        OperationDefinition::Query(query) => query.name.as_deref(),
        OperationDefinition::Mutation(mutation) => mutation.name.as_deref(),
        OperationDefinition::Subscription(subscription) => subscription.name.as_deref(),
    }
}

/// Measures the selected operation. The document must have passed validation (fragments
/// exist, no fragment cycles); a cycle is still cut rather than followed, so a document
/// that skipped validation cannot hang the router here.
pub fn shape(
    document: &Document<'static, String>,
    operation: &OperationDefinition<'static, String>,
) -> OperationShape {
    let fragments = fragments(document);
    let (kind, selection_set) = match operation {
        OperationDefinition::SelectionSet(selection_set) => (OperationKind::Query, selection_set),
        OperationDefinition::Query(query) => (OperationKind::Query, &query.selection_set),
        OperationDefinition::Mutation(mutation) => {
            (OperationKind::Mutation, &mutation.selection_set)
        }
        OperationDefinition::Subscription(subscription) => {
            (OperationKind::Subscription, &subscription.selection_set)
        }
    };
    let mut measurer = Measurer {
        fragments,
        measured: HashMap::new(),
        in_progress: HashSet::new(),
    };
    let measure = measurer.selection_set(selection_set);
    let mut root_fields = Vec::new();
    measurer.root_fields(selection_set, &mut root_fields, &mut HashSet::new(), &mut HashSet::new());
    OperationShape {
        kind,
        name: name_of(operation).map(str::to_string),
        root_fields,
        depth: measure.depth,
        aliases: measure.aliases,
        fields: measure.fields,
    }
}

struct Measurer<'document> {
    fragments: HashMap<&'document str, &'document FragmentDefinition<'static, String>>,
    measured: HashMap<&'document str, Measure>,
    in_progress: HashSet<&'document str>,
}

impl<'document> Measurer<'document> {
    fn selection_set(&mut self, selection_set: &'document SelectionSet<'static, String>) -> Measure {
        let mut total = Measure::default();
        for selection in &selection_set.items {
            let measure = match selection {
                Selection::Field(field) => {
                    let inner = self.selection_set(&field.selection_set);
                    Measure {
                        depth: inner.depth.saturating_add(1),
                        aliases: inner.aliases.saturating_add(usize::from(field.alias.is_some())),
                        fields: inner.fields.saturating_add(1),
                    }
                }
                Selection::InlineFragment(fragment) => self.selection_set(&fragment.selection_set),
                Selection::FragmentSpread(spread) => self.fragment(&spread.fragment_name),
            };
            total = total.add(measure);
        }
        total
    }

    fn fragment(&mut self, name: &'document str) -> Measure {
        if let Some(measure) = self.measured.get(name) {
            return *measure;
        }
        let Some(fragment) = self.fragments.get(name).copied() else {
            return Measure::default();
        };
        if !self.in_progress.insert(name) {
            return Measure::default();
        }
        let measure = self.selection_set(&fragment.selection_set);
        self.in_progress.remove(name);
        self.measured.insert(name, measure);
        measure
    }

    fn root_fields(
        &self,
        selection_set: &'document SelectionSet<'static, String>,
        names: &mut Vec<String>,
        response_keys: &mut HashSet<String>,
        visited: &mut HashSet<&'document str>,
    ) {
        for selection in &selection_set.items {
            match selection {
                Selection::Field(field) => {
                    // One entry per response key: `a: logIn b: logIn` are two calls (rate
                    // limits count both), while fields under the same key merge into one.
                    let key = field.alias.as_deref().unwrap_or(&field.name);
                    if response_keys.insert(key.to_string()) {
                        names.push(field.name.clone());
                    }
                }
                Selection::InlineFragment(fragment) => {
                    self.root_fields(&fragment.selection_set, names, response_keys, visited);
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.fragment_name.as_str();
                    if let Some(fragment) = self.fragments.get(name).copied()
                        && visited.insert(name)
                    {
                        self.root_fields(&fragment.selection_set, names, response_keys, visited);
                    }
                }
            }
        }
    }
}

/// The first Float literal anywhere in `document`: in a field's or a directive's
/// arguments, in a variable's default value, in every operation and fragment.
pub fn float_literal(document: &Document<'_, String>) -> Option<f64> {
    document.definitions.iter().find_map(|definition| match definition {
        Definition::Operation(operation) => {
            let (variables, directives, selection_set) = match operation {
                OperationDefinition::SelectionSet(selection_set) => (&[][..], &[][..], selection_set),
                OperationDefinition::Query(query) => (&query.variable_definitions[..], &query.directives[..], &query.selection_set),
                OperationDefinition::Mutation(mutation) => {
                    (&mutation.variable_definitions[..], &mutation.directives[..], &mutation.selection_set)
                }
                OperationDefinition::Subscription(subscription) => (
                    &subscription.variable_definitions[..],
                    &subscription.directives[..],
                    &subscription.selection_set,
                ),
            };
            variables
                .iter()
                .find_map(|variable| variable.default_value.as_ref().and_then(float_in_value))
                .or_else(|| float_in_directives(directives))
                .or_else(|| float_in_selection_set(selection_set))
        }
        Definition::Fragment(fragment) => {
            float_in_directives(&fragment.directives).or_else(|| float_in_selection_set(&fragment.selection_set))
        }
    })
}

fn float_in_selection_set(selection_set: &SelectionSet<'_, String>) -> Option<f64> {
    selection_set.items.iter().find_map(|selection| match selection {
        Selection::Field(field) => field
            .arguments
            .iter()
            .find_map(|(_, value)| float_in_value(value))
            .or_else(|| float_in_directives(&field.directives))
            .or_else(|| float_in_selection_set(&field.selection_set)),
        Selection::FragmentSpread(spread) => float_in_directives(&spread.directives),
        Selection::InlineFragment(inline) => {
            float_in_directives(&inline.directives).or_else(|| float_in_selection_set(&inline.selection_set))
        }
    })
}

fn float_in_directives(directives: &[Directive<'_, String>]) -> Option<f64> {
    directives
        .iter()
        .find_map(|directive| directive.arguments.iter().find_map(|(_, value)| float_in_value(value)))
}

fn float_in_value(value: &Value<'_, String>) -> Option<f64> {
    match value {
        Value::Float(number) => Some(*number),
        Value::List(items) => items.iter().find_map(float_in_value),
        Value::Object(fields) => fields.iter().find_map(|(_, value)| float_in_value(value)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measure(query: &str) -> OperationShape {
        let document = match graphql_tools::parser::parse_query::<String>(query) {
            Ok(document) => document.into_static(),
            Err(error) => panic!("parse: {error}"),
        };
        let operation = match select_operation(&document, None) {
            Ok(operation) => operation,
            Err(error) => panic!("select: {error}"),
        };
        shape(&document, operation)
    }

    #[test]
    fn depth_counts_field_nesting_through_fragments() {
        let shape = measure("{ me { ...F } } fragment F on User { wallet { balance } }");
        assert_eq!(shape.depth, 3);
        assert_eq!(shape.root_fields, vec!["me".to_string()]);
        assert_eq!(shape.kind, OperationKind::Query);
    }

    #[test]
    fn aliases_count_at_every_spread() {
        let shape = measure("{ a: me { id } ...F ...F } fragment F on Query { b: me { id } }");
        assert_eq!(shape.aliases, 3);
        assert_eq!(shape.fields, 6);
    }

    #[test]
    fn a_fragment_fan_is_measured_without_expanding_it() {
        let mut query = String::from("{ ...F0 }\n");
        for level in 0..60 {
            query.push_str(&format!(
                "fragment F{level} on Query {{ ...F{next} ...F{next} }}\n",
                next = level + 1
            ));
        }
        query.push_str("fragment F60 on Query { a: __typename }\n");
        let shape = measure(&query);
        assert_eq!(shape.fields, 1 << 60);
        assert!(shape.aliases >= 1 << 30);
    }

    #[test]
    fn root_fields_of_a_mutation_include_inline_fragments() {
        let shape = measure("mutation M { ... on Mutation { logIn(input: {}) { accessToken } } signUp }");
        assert_eq!(shape.kind, OperationKind::Mutation);
        assert_eq!(shape.name.as_deref(), Some("M"));
        assert_eq!(shape.root_fields, vec!["logIn".to_string(), "signUp".to_string()]);
    }

    #[test]
    fn several_operations_need_a_name() {
        let document = graphql_tools::parser::parse_query::<String>("query A { a } query B { b }")
            .map(|document| document.into_static());
        let Ok(document) = document else { panic!("parse") };
        assert_eq!(
            select_operation(&document, None).err(),
            Some(SelectionError::OperationNameRequired)
        );
        assert!(select_operation(&document, Some("B")).is_ok());
        assert!(select_operation(&document, Some("C")).is_err());
    }
}
