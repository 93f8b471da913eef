//! Authorization declared in the schema: `@authenticated` and `@requiresScopes`
//! (federation v2.5), read from the supergraph at start-up, and the walk that finds which
//! of them an operation meets. The pipeline compares what is found with the principal
//! and refuses the whole request before planning, so an unauthorized field is never
//! fetched.
//!
//! A directive on a field applies to that field; on a type, to every field of that type
//! and every field that returns it. `@requiresScopes(scopes: [["a", "b"], ["c"]])` is
//! satisfied by a principal holding a and b, or c.
//!
//! The walk follows fragments with their own type condition, so a fragment's demands are
//! the same wherever it is spread: each is walked once and its demands reused (a document
//! whose fragments spread each other in a fan cannot make the walk exponential).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use graphql_tools::parser::{
    query::{Document, FragmentDefinition, OperationDefinition, Selection, SelectionSet, TypeCondition},
    schema::{self, Directive, Type, TypeDefinition, Value},
};

/// What a schema element asks of the principal.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Requirement {
    /// `@authenticated`: anyone signed in.
    Authenticated,
    /// `@requiresScopes`: one of these groups of scopes, each in full.
    Scopes(Vec<Vec<String>>),
}

impl Requirement {
    /// Whether a principal with `scopes` (and signed in or not) meets it.
    pub fn is_met(&self, signed_in: bool, scopes: &[String]) -> bool {
        match self {
            Self::Authenticated => signed_in,
            Self::Scopes(groups) => {
                signed_in && groups.iter().any(|group| group.iter().all(|scope| scopes.contains(scope)))
            }
        }
    }
}

/// A requirement met in an operation, at the field (`Type.field`) that carries it.
pub type Demands = BTreeMap<String, BTreeSet<Requirement>>;

#[derive(Default)]
struct FieldRule {
    output_type: String,
    requirements: Vec<Requirement>,
}

/// The authorization directives of the supergraph.
#[derive(Default)]
pub struct AuthorizationRules {
    fields: HashMap<String, HashMap<String, FieldRule>>,
    types: HashMap<String, Vec<Requirement>>,
}

fn requirements_of(directives: &[Directive<'_, String>]) -> Vec<Requirement> {
    directives
        .iter()
        .filter_map(|directive| match directive.name.as_str() {
            "authenticated" => Some(Requirement::Authenticated),
            "requiresScopes" => {
                let groups = directive
                    .arguments
                    .iter()
                    .find(|(name, _)| name == "scopes")
                    .map(|(_, value)| scope_groups(value))
                    .unwrap_or_default();
                Some(Requirement::Scopes(groups))
            }
            _ => None,
        })
        .collect()
}

fn scope_groups(value: &Value<'_, String>) -> Vec<Vec<String>> {
    let Value::List(groups) = value else { return Vec::new() };
    groups
        .iter()
        .map(|group| match group {
            Value::List(scopes) => scopes
                .iter()
                .filter_map(|scope| match scope {
                    Value::String(scope) => Some(scope.clone()),
                    _ => None,
                })
                .collect(),
            Value::String(scope) => vec![scope.clone()],
            _ => Vec::new(),
        })
        .collect()
}

fn named_type<'a>(field_type: &'a Type<'_, String>) -> &'a str {
    match field_type {
        Type::NamedType(name) => name,
        Type::ListType(inner) | Type::NonNullType(inner) => named_type(inner),
    }
}

impl AuthorizationRules {
    pub fn from_supergraph(sdl: &str) -> Result<Self, String> {
        let document = schema::parse_schema::<String>(sdl).map_err(|error| error.to_string())?;
        let mut rules = Self::default();
        for definition in &document.definitions {
            let schema::Definition::TypeDefinition(definition) = definition else { continue };
            let (name, directives, fields) = match definition {
                TypeDefinition::Object(object) => (&object.name, &object.directives, Some(&object.fields)),
                TypeDefinition::Interface(interface) => (&interface.name, &interface.directives, Some(&interface.fields)),
                TypeDefinition::Scalar(scalar) => (&scalar.name, &scalar.directives, None),
                TypeDefinition::Enum(enumeration) => (&enumeration.name, &enumeration.directives, None),
                TypeDefinition::Union(union) => (&union.name, &union.directives, None),
                TypeDefinition::InputObject(_) => continue,
            };
            let type_requirements = requirements_of(directives);
            if !type_requirements.is_empty() {
                rules.types.insert(name.clone(), type_requirements);
            }
            for field in fields.into_iter().flatten() {
                rules.fields.entry(name.clone()).or_default().insert(
                    field.name.clone(),
                    FieldRule {
                        output_type: named_type(&field.field_type).to_string(),
                        requirements: requirements_of(&field.directives),
                    },
                );
            }
        }
        Ok(rules)
    }

    /// How many schema elements carry a directive (for the start-up log).
    pub fn directive_count(&self) -> usize {
        self.types.len()
            + self
                .fields
                .values()
                .flat_map(HashMap::values)
                .filter(|rule| !rule.requirements.is_empty())
                .count()
    }

    /// Every requirement the operation meets, by field. The document must have passed
    /// validation; unknown types and fields are skipped rather than trusted.
    pub fn demands(
        &self,
        document: &Document<'static, String>,
        operation: &OperationDefinition<'static, String>,
        root_type: &str,
    ) -> Demands {
        let fragments = super::analysis::fragments(document);
        let selection_set = match operation {
            OperationDefinition::SelectionSet(selection_set) => selection_set,
            OperationDefinition::Query(query) => &query.selection_set,
            OperationDefinition::Mutation(mutation) => &mutation.selection_set,
            OperationDefinition::Subscription(subscription) => &subscription.selection_set,
        };
        let mut walker = Walker { rules: self, fragments, walked: HashMap::new(), in_progress: HashSet::new() };
        let mut demands = Demands::new();
        walker.selection_set(selection_set, root_type, &mut demands);
        demands
    }
}

struct Walker<'rules, 'document> {
    rules: &'rules AuthorizationRules,
    fragments: HashMap<&'document str, &'document FragmentDefinition<'static, String>>,
    walked: HashMap<&'document str, Demands>,
    in_progress: HashSet<&'document str>,
}

impl<'document> Walker<'_, 'document> {
    fn selection_set(&mut self, selection_set: &'document SelectionSet<'static, String>, parent: &str, demands: &mut Demands) {
        for selection in &selection_set.items {
            match selection {
                Selection::Field(field) => {
                    let Some(rule) = self.rules.fields.get(parent).and_then(|fields| fields.get(&field.name)) else {
                        continue;
                    };
                    let coordinate = format!("{parent}.{}", field.name);
                    let inherited = [parent, rule.output_type.as_str()]
                        .into_iter()
                        .filter_map(|type_name| self.rules.types.get(type_name))
                        .flatten();
                    for requirement in rule.requirements.iter().chain(inherited) {
                        demands.entry(coordinate.clone()).or_default().insert(requirement.clone());
                    }
                    let output_type = rule.output_type.clone();
                    self.selection_set(&field.selection_set, &output_type, demands);
                }
                Selection::InlineFragment(fragment) => {
                    let type_name = match &fragment.type_condition {
                        Some(TypeCondition::On(type_name)) => type_name.as_str(),
                        None => parent,
                    };
                    let type_name = type_name.to_string();
                    self.selection_set(&fragment.selection_set, &type_name, demands);
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.fragment_name.as_str();
                    let Some(fragment) = self.fragments.get(name).copied() else { continue };
                    if !self.walked.contains_key(name) {
                        if !self.in_progress.insert(&fragment.name) {
                            continue;
                        }
                        let TypeCondition::On(type_name) = &fragment.type_condition;
                        let mut fragment_demands = Demands::new();
                        self.selection_set(&fragment.selection_set, type_name, &mut fragment_demands);
                        self.in_progress.remove(fragment.name.as_str());
                        self.walked.insert(&fragment.name, fragment_demands);
                    }
                    if let Some(fragment_demands) = self.walked.get(name) {
                        for (coordinate, requirements) in fragment_demands {
                            demands.entry(coordinate.clone()).or_default().extend(requirements.iter().cloned());
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use graphql_tools::parser::query::Definition;

    use super::*;

    const SDL: &str = r#"
        type Query { me: User! @authenticated  stats: Stats @requiresScopes(scopes: [["admin"], ["auditor", "read"]])  open: String }
        type User { id: ID!  secret: Secret }
        type Secret @authenticated { value: String }
        type Stats { users: Int }
    "#;

    fn demands(query: &str) -> Demands {
        let rules = AuthorizationRules::from_supergraph(SDL).unwrap_or_default();
        let document = graphql_tools::parser::parse_query::<String>(query)
            .map(|document| document.into_static())
            .unwrap_or_else(|error| panic!("{error}"));
        let operation = document
            .definitions
            .iter()
            .find_map(|definition| match definition {
                Definition::Operation(operation) => Some(operation.clone()),
                Definition::Fragment(_) => None,
            })
            .unwrap_or_else(|| panic!("no operation"));
        rules.demands(&document, &operation, "Query")
    }

    #[test]
    fn field_and_type_directives_are_found_through_fragments() {
        let found = demands("{ open ...F ... on Query { stats { users } } } fragment F on Query { me { secret { value } } }");
        let keys: Vec<&str> = found.keys().map(String::as_str).collect();
        assert_eq!(keys, ["Query.me", "Query.stats", "Secret.value", "User.secret"]);
        let scopes = Requirement::Scopes(vec![vec!["admin".to_string()], vec!["auditor".to_string(), "read".to_string()]]);
        assert!(found["Query.stats"].contains(&scopes));
        assert!(scopes.is_met(true, &["admin".to_string()]));
        assert!(scopes.is_met(true, &["read".to_string(), "auditor".to_string()]));
        assert!(!scopes.is_met(true, &["read".to_string()]));
        assert!(!scopes.is_met(false, &["admin".to_string()]));
    }

    #[test]
    fn an_operation_without_directives_demands_nothing() {
        assert!(demands("{ open __typename }").is_empty());
    }
}
