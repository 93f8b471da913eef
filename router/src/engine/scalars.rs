//! The custom scalars whose format the router knows, checked before anything is planned.
//!
//! A value that does not parse as its scalar is the client's mistake. The subgraphs name
//! it too (`INVALID_AMOUNT`, `INVALID_DATE_TIME`), but only after the router has planned
//! the operation and called them; for the scalars in [`FORMATS`] the router refuses first,
//! with the same code, the scalar's name and where the value sits (`$input.amount`, or
//! `topUp(input.amount)` for a literal). The table uses the scalars' own parsers
//! ([`Amount::from_input`], chrono's RFC 3339 parser that async-graphql's `DateTime` uses),
//! so the router can never refuse what a subgraph would take.
//!
//! Ids are `ID` in the schema, and which kind of id an argument takes (`usr_…`, `sto_…`)
//! is each resolver's knowledge, not the schema's: they stay the subgraphs' to name
//! (`INVALID_ID`).

use std::collections::HashMap;

use c9pay_platform::{
    error::code,
    money::{Amount, AmountInput},
};
use graphql_tools::parser::{
    query::{self, Document, OperationDefinition, Selection, SelectionSet, Type, Value},
    schema::{self, TypeDefinition},
};

/// A value refused by its scalar's format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedScalar {
    pub code: &'static str,
    /// The scalar's name, as in the schema.
    pub scalar: &'static str,
    /// Where the value sits: `$variable.field[index]`, or `field(argument.field)`.
    pub argument: String,
    /// Why the value is not one, for a person.
    pub reason: &'static str,
    /// The value as sent, shortened.
    pub shown: String,
}

impl MalformedScalar {
    pub fn message(&self) -> String {
        let article = if self.scalar.starts_with(['A', 'E', 'I', 'O', 'U']) { "an" } else { "a" };
        format!("{} at {} is not {article} {}: {}", self.shown, self.argument, self.scalar, self.reason)
    }
}

struct Format {
    scalar: &'static str,
    code: &'static str,
    /// `Ok` when the value is acceptable, else why not.
    check: fn(Input<'_>) -> Result<(), &'static str>,
}

/// A value as the client sent it: a JSON variable or a literal of the document.
#[derive(Clone, Copy)]
enum Input<'a> {
    Json(&'a serde_json::Value),
    Literal(&'a Value<'static, String>),
}

const FORMATS: [Format; 2] = [
    Format {
        scalar: "Amount",
        code: code::INVALID_AMOUNT,
        check: check_amount,
    },
    Format {
        scalar: "DateTime",
        code: code::INVALID_DATE_TIME,
        check: check_date_time,
    },
];

fn check_amount(input: Input<'_>) -> Result<(), &'static str> {
    let input = match input {
        Input::Json(serde_json::Value::String(text)) => AmountInput::Text(text),
        Input::Json(serde_json::Value::Number(number)) => number.as_i64().map_or(AmountInput::Other, AmountInput::Integer),
        Input::Literal(Value::String(text)) => AmountInput::Text(text),
        Input::Literal(Value::Int(number)) => number.as_i64().map_or(AmountInput::Other, AmountInput::Integer),
        Input::Json(_) | Input::Literal(_) => AmountInput::Other,
    };
    Amount::from_input(input).map(drop)
}

const DATE_TIME_FORMAT: &str = "a DateTime is an RFC 3339 date and time, for example \"2026-11-29T09:30:00Z\"";

fn check_date_time(input: Input<'_>) -> Result<(), &'static str> {
    let text = match input {
        Input::Json(serde_json::Value::String(text)) | Input::Literal(Value::String(text)) => text,
        _ => return Err(DATE_TIME_FORMAT),
    };
    text.parse::<chrono::DateTime<chrono::Utc>>().map(drop).map_err(|_| DATE_TIME_FORMAT)
}

/// What the router needs of the public schema to find every value of a known scalar:
/// the types of fields' arguments, of fields (to walk into selections) and of input
/// objects' fields.
pub struct ScalarFormats {
    /// Type → field → the field's type name and its arguments' types (nested, so that a
    /// lookup per selected field borrows instead of allocating a key).
    fields: HashMap<String, HashMap<String, FieldTypes>>,
    /// Input object → its fields' types.
    inputs: HashMap<String, HashMap<String, Type<'static, String>>>,
    /// Input types that are or may contain a scalar of [`FORMATS`]: only they are walked.
    relevant: HashMap<String, bool>,
}

struct FieldTypes {
    output: String,
    arguments: HashMap<String, Type<'static, String>>,
}

impl ScalarFormats {
    pub fn from_schema(schema: &schema::Document<'static, String>) -> Self {
        let mut fields: HashMap<String, HashMap<String, FieldTypes>> = HashMap::new();
        let mut inputs = HashMap::new();
        for definition in &schema.definitions {
            let schema::Definition::TypeDefinition(definition) = definition else {
                continue;
            };
            let (type_name, type_fields) = match definition {
                TypeDefinition::Object(object) => (&object.name, &object.fields),
                TypeDefinition::Interface(interface) => (&interface.name, &interface.fields),
                TypeDefinition::InputObject(input) => {
                    let input_fields = input
                        .fields
                        .iter()
                        .map(|field| (field.name.clone(), field.value_type.clone()))
                        .collect();
                    inputs.insert(input.name.clone(), input_fields);
                    continue;
                }
                _ => continue,
            };
            for field in type_fields {
                let arguments = field
                    .arguments
                    .iter()
                    .map(|argument| (argument.name.clone(), argument.value_type.clone()))
                    .collect();
                let output = named(&field.field_type).to_string();
                fields
                    .entry(type_name.clone())
                    .or_default()
                    .insert(field.name.clone(), FieldTypes { output, arguments });
            }
        }
        let mut formats = Self {
            fields,
            inputs,
            relevant: HashMap::new(),
        };
        formats.relevant = formats.relevant_input_types();
        formats
    }

    /// Every input type name with whether it is, or (through input objects) contains, a
    /// scalar of [`FORMATS`].
    fn relevant_input_types(&self) -> HashMap<String, bool> {
        let mut relevant: HashMap<String, bool> = FORMATS.iter().map(|format| (format.scalar.to_string(), true)).collect();
        for name in self.inputs.keys() {
            relevant.entry(name.clone()).or_insert(false);
        }
        // An input object is relevant when one of its fields' types is: iterate to a fixed
        // point (input objects may refer to each other, even in cycles through lists).
        loop {
            let mut changed = false;
            for (name, fields) in &self.inputs {
                if relevant[name] {
                    continue;
                }
                if fields.values().any(|field_type| relevant.get(named(field_type)).copied().unwrap_or(false)) {
                    relevant.insert(name.clone(), true);
                    changed = true;
                }
            }
            if !changed {
                return relevant;
            }
        }
    }

    fn is_relevant(&self, value_type: &Type<'static, String>) -> bool {
        self.relevant.get(named(value_type)).copied().unwrap_or(false)
    }

    /// The first malformed value of a known scalar in the chosen operation: in its
    /// variables (as sent, or their defaults) and in the literals of its fields' arguments,
    /// fragments included.
    pub fn check(
        &self,
        document: &Document<'static, String>,
        operation: &OperationDefinition<'static, String>,
        variables: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), MalformedScalar> {
        let (root, definitions, selection_set) = match operation {
            OperationDefinition::SelectionSet(selection_set) => ("Query", &[][..], selection_set),
            OperationDefinition::Query(query) => ("Query", &query.variable_definitions[..], &query.selection_set),
            OperationDefinition::Mutation(mutation) => ("Mutation", &mutation.variable_definitions[..], &mutation.selection_set),
            OperationDefinition::Subscription(subscription) => {
                ("Subscription", &subscription.variable_definitions[..], &subscription.selection_set)
            }
        };
        for definition in definitions {
            if !self.is_relevant(&definition.var_type) {
                continue;
            }
            let mut path = format!("${}", definition.name);
            match variables.get(&definition.name) {
                Some(value) => self.value(&definition.var_type, Input::Json(value), &mut path)?,
                None => {
                    if let Some(default) = &definition.default_value {
                        self.value(&definition.var_type, Input::Literal(default), &mut path)?;
                    }
                }
            }
        }
        let fragments = super::analysis::fragments(document);
        let mut walk = Walk {
            formats: self,
            fragments: &fragments,
            visited: Vec::new(),
        };
        walk.selection_set(root, selection_set)
    }

    /// Checks `input` against `value_type`, extending `path` as it goes down.
    fn value(&self, value_type: &Type<'static, String>, input: Input<'_>, path: &mut String) -> Result<(), MalformedScalar> {
        if input.is_null() {
            return Ok(()); // nullability is validation's and the executor's to judge
        }
        if let Input::Literal(Value::Variable(_)) = input {
            return Ok(()); // checked with the variables, against the variable's own type
        }
        match value_type {
            Type::NonNullType(inner) => self.value(inner, input, path),
            Type::ListType(item_type) => match input {
                Input::Json(serde_json::Value::Array(items)) => self.items(item_type, items.iter().map(Input::Json), path),
                Input::Literal(Value::List(items)) => self.items(item_type, items.iter().map(Input::Literal), path),
                // A single value where a list is expected is coerced to a list of one.
                single => self.value(item_type, single, path),
            },
            Type::NamedType(name) => {
                if let Some(format) = FORMATS.iter().find(|format| format.scalar == name) {
                    return (format.check)(input).map_err(|reason| MalformedScalar {
                        code: format.code,
                        scalar: format.scalar,
                        argument: path.clone(),
                        reason,
                        shown: input.describe(),
                    });
                }
                let Some(fields) = self.inputs.get(name) else {
                    return Ok(());
                };
                let length = path.len();
                let mut field_value = |field: &str, value: Input<'_>| {
                    let Some(field_type) = fields.get(field).filter(|field_type| self.is_relevant(field_type)) else {
                        return Ok(());
                    };
                    path.truncate(length);
                    path.push('.');
                    path.push_str(field);
                    self.value(field_type, value, path)
                };
                match input {
                    Input::Json(serde_json::Value::Object(object)) => {
                        for (field, value) in object {
                            field_value(field, Input::Json(value))?;
                        }
                    }
                    Input::Literal(Value::Object(object)) => {
                        for (field, value) in object {
                            field_value(field, Input::Literal(value))?;
                        }
                    }
                    _ => {}
                }
                path.truncate(length);
                Ok(())
            }
        }
    }

    fn items<'a>(
        &self,
        item_type: &Type<'static, String>,
        items: impl Iterator<Item = Input<'a>>,
        path: &mut String,
    ) -> Result<(), MalformedScalar> {
        let length = path.len();
        for (index, item) in items.enumerate() {
            path.truncate(length);
            path.push_str(&format!("[{index}]"));
            self.value(item_type, item, path)?;
        }
        path.truncate(length);
        Ok(())
    }
}

impl Input<'_> {
    fn is_null(self) -> bool {
        matches!(self, Input::Json(serde_json::Value::Null) | Input::Literal(Value::Null))
    }

    /// The value for a message, short: a client's 10 MB string is not echoed back.
    fn describe(self) -> String {
        const SHOWN_MAX: usize = 40;
        let text = match self {
            Input::Json(value) => value.to_string(),
            Input::Literal(value) => value.to_string(),
        };
        if text.chars().count() > SHOWN_MAX {
            format!("{}…", text.chars().take(SHOWN_MAX).collect::<String>())
        } else {
            text
        }
    }
}

/// A walk through an operation's selections, with each selection's parent type, to the
/// literal arguments of its fields.
struct Walk<'w> {
    formats: &'w ScalarFormats,
    fragments: &'w HashMap<&'w str, &'w query::FragmentDefinition<'static, String>>,
    /// Fragments already checked (each is checked once, whatever its spreads; validation
    /// has refused cycles, and this also stops a fan of spreads from being walked out).
    visited: Vec<&'w str>,
}

impl<'w> Walk<'w> {
    fn selection_set(&mut self, parent: &str, selection_set: &'w SelectionSet<'static, String>) -> Result<(), MalformedScalar> {
        for selection in &selection_set.items {
            match selection {
                Selection::Field(field) => {
                    let Some(types) = self.formats.fields.get(parent).and_then(|fields| fields.get(&field.name)) else {
                        continue; // __typename, introspection: no custom scalars there
                    };
                    for (name, value) in &field.arguments {
                        let Some(argument_type) = types.arguments.get(name).filter(|argument_type| self.formats.is_relevant(argument_type)) else {
                            continue;
                        };
                        let mut path = format!("{}({name}", field.name);
                        self.formats.literal(argument_type, value, &mut path)?;
                    }
                    if !field.selection_set.items.is_empty() {
                        self.selection_set(&types.output, &field.selection_set)?;
                    }
                }
                Selection::InlineFragment(inline) => {
                    let parent = match &inline.type_condition {
                        Some(query::TypeCondition::On(name)) => name.as_str(),
                        None => parent,
                    };
                    self.selection_set(parent, &inline.selection_set)?;
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.fragment_name.as_str();
                    if self.visited.contains(&name) {
                        continue;
                    }
                    let Some(fragment) = self.fragments.get(name) else {
                        continue;
                    };
                    self.visited.push(fragment.name.as_str());
                    let query::TypeCondition::On(parent) = &fragment.type_condition;
                    self.selection_set(parent, &fragment.selection_set)?;
                }
            }
        }
        Ok(())
    }
}

impl ScalarFormats {
    /// A literal argument of a field, `path` being `field(argument`.
    fn literal(&self, value_type: &Type<'static, String>, value: &Value<'static, String>, path: &mut String) -> Result<(), MalformedScalar> {
        self.value(value_type, Input::Literal(value), path).map_err(|mut malformed| {
            malformed.argument.push(')');
            malformed
        })
    }
}

fn named<'t>(value_type: &'t Type<'static, String>) -> &'t str {
    match value_type {
        Type::NamedType(name) => name,
        Type::ListType(inner) | Type::NonNullType(inner) => named(inner),
    }
}

