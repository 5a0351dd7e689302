//! Row filters: a SQL condition over the dataset's columns and the principal's attributes
//! (`grid_id = principal.grid_id`, `town IN principal.towns`). The condition is parsed into
//! a syntax tree and each `principal.<attribute>` node is replaced by a literal of the
//! attribute's value; values never become SQL text. A principal lacking an attribute the
//! condition needs sees no rows.

use datafusion::common::{DFSchema, Result};
use datafusion::execution::session_state::SessionState;
use datafusion::logical_expr::{Expr, ExprSchemable, lit};
use datafusion::sql::sqlparser::ast::{
    Expr as SqlExpr, Ident, Value, VisitMut, VisitorMut, visit_expressions_mut,
};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer, Whitespace};
use std::ops::ControlFlow;

use crate::error::UnfitPolicy;
use crate::principal::{AttributeValue, Principal};
use crate::syntax::{ExprSyntaxError, SyntaxLimits, on_deep_stack, parse_expr};

/// The prefix that marks a principal's attribute in a row filter.
const PRINCIPAL: &str = "principal";

/// Binds the principal's attributes into `filter` and plans it against `schema`.
pub fn bind(
    filter: &str,
    principal: &Principal,
    schema: &DFSchema,
    session: &SessionState,
    limits: &SyntaxLimits,
) -> Result<Expr> {
    let mut expr = parse(filter, limits)?;
    let mut binder = Binder {
        principal,
        missing: false,
    };
    let _ = expr.visit(&mut binder);
    if binder.missing {
        return Ok(lit(false));
    }
    plan(expr, schema, session)
}

/// Checks a filter when a grant is made: it parses, names only the dataset's columns and
/// any attributes, and is a condition.
pub fn check(filter: &str, schema: &DFSchema, session: &SessionState, limits: &SyntaxLimits) -> Result<()> {
    let mut expr = parse(filter, limits)?;
    let _ = visit_expressions_mut(&mut expr, |node| {
        if attribute_of(node).is_some() {
            *node = SqlExpr::Value(Value::SingleQuotedString("attribute".into()).into());
        }
        ControlFlow::<()>::Continue(())
    });
    let planned = plan(expr, schema, session)?;
    let data_type = planned.get_type(schema)?;
    if data_type != datafusion::arrow::datatypes::DataType::Boolean {
        return Err(UnfitPolicy::NotACondition(data_type).into());
    }
    Ok(())
}

/// Parses the condition. `IN principal.x`, which SQL has no syntax for, is read as
/// `IN (principal.x)` and the list is filled in when the attribute is bound.
fn parse(filter: &str, limits: &SyntaxLimits) -> Result<SqlExpr, ExprSyntaxError> {
    on_deep_stack(filter.len(), || parse_within(filter, limits))
}

fn parse_within(filter: &str, limits: &SyntaxLimits) -> Result<SqlExpr, ExprSyntaxError> {
    let dialect = GenericDialect {};
    let tokens = Tokenizer::new(&dialect, filter).tokenize()?;
    let mut wrapped = Vec::with_capacity(tokens.len() + 2);
    let mut index = 0;
    while index < tokens.len() {
        let token = &tokens[index];
        wrapped.push(token.clone());
        let is_in = matches!(token, Token::Word(word) if word.value.eq_ignore_ascii_case("in"));
        if is_in {
            let mut next = index + 1;
            while matches!(
                tokens.get(next),
                Some(Token::Whitespace(
                    Whitespace::Space | Whitespace::Newline | Whitespace::Tab
                ))
            ) {
                next += 1;
            }
            let names_attribute = matches!(tokens.get(next), Some(Token::Word(word)) if word.value.eq_ignore_ascii_case(PRINCIPAL))
                && matches!(tokens.get(next + 1), Some(Token::Period))
                && matches!(tokens.get(next + 2), Some(Token::Word(_)));
            if names_attribute {
                wrapped.push(Token::Whitespace(Whitespace::Space));
                wrapped.push(Token::LParen);
                wrapped.extend(tokens[next..next + 3].iter().cloned());
                wrapped.push(Token::RParen);
                index = next + 3;
                continue;
            }
        }
        index += 1;
    }
    parse_expr(wrapped, limits)
}

fn attribute_of(node: &SqlExpr) -> Option<&Ident> {
    match node {
        SqlExpr::CompoundIdentifier(parts)
            if parts.len() == 2 && parts[0].value.eq_ignore_ascii_case(PRINCIPAL) =>
        {
            Some(&parts[1])
        }
        _ => None,
    }
}

/// Puts attribute values in place of `principal.<attribute>`, parents before children so
/// that an `IN` list is filled in whole.
struct Binder<'a> {
    principal: &'a Principal,
    missing: bool,
}

impl VisitorMut for Binder<'_> {
    type Break = ();

    fn pre_visit_expr(&mut self, expr: &mut SqlExpr) -> ControlFlow<Self::Break> {
        substitute(expr, self.principal, &mut self.missing);
        ControlFlow::Continue(())
    }
}

fn substitute(node: &mut SqlExpr, principal: &Principal, missing: &mut bool) {
    if let SqlExpr::InList { list, .. } = node
        && let [single] = list.as_slice()
        && let Some(attribute) = attribute_of(single)
    {
        match principal.attributes.get(&attribute.value) {
            Some(value) => *list = values(value).into_iter().map(literal).collect(),
            None => *missing = true,
        }
        if list.is_empty() {
            *missing = true;
        }
        return;
    }
    if let Some(attribute) = attribute_of(node) {
        match principal.attributes.get(&attribute.value) {
            Some(AttributeValue::One(value)) => *node = literal(value.clone()),
            // A list where one value is expected matches none of its values on its own.
            Some(AttributeValue::Many(_)) | None => *missing = true,
        }
    }
}

fn values(value: &AttributeValue) -> Vec<String> {
    match value {
        AttributeValue::One(value) => vec![value.clone()],
        AttributeValue::Many(values) => values.clone(),
    }
}

fn literal(value: String) -> SqlExpr {
    SqlExpr::Value(Value::SingleQuotedString(value).into())
}

fn plan(expr: SqlExpr, schema: &DFSchema, session: &SessionState) -> Result<Expr> {
    let with_alias = datafusion::sql::sqlparser::ast::ExprWithAlias { expr, alias: None };
    session.create_logical_expr_from_sql_expr(with_alias, schema)
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::prelude::SessionContext;

    use super::*;

    fn schema() -> DFSchema {
        let schema = Schema::new(vec![
            Field::new("town", DataType::Utf8, true),
            Field::new("grid_id", DataType::Utf8, true),
            Field::new("age", DataType::Int64, true),
        ]);
        DFSchema::try_from_qualified_schema("residents", &schema).unwrap()
    }

    fn bound(filter: &str, principal: &Principal) -> String {
        let state = SessionContext::new().state();
        bind(filter, principal, &schema(), &state, &SyntaxLimits::default())
            .unwrap()
            .to_string()
    }

    fn worker() -> Principal {
        Principal::new("w", "civil_affairs")
            .with_attribute("grid_id", AttributeValue::One("GC-012".into()))
            .with_attribute(
                "towns",
                AttributeValue::Many(vec!["Guicheng".into(), "Dali".into()]),
            )
    }

    #[test]
    fn attributes_become_literals() {
        assert_eq!(
            bound("grid_id = principal.grid_id", &worker()),
            "residents.grid_id = Utf8(\"GC-012\")"
        );
        assert_eq!(
            bound("town IN principal.towns AND age >= 18", &worker()),
            "residents.town IN ([Utf8(\"Guicheng\"), Utf8(\"Dali\")]) AND residents.age >= Int64(18)"
        );
    }

    #[test]
    fn quotes_in_attribute_values_stay_inside_the_literal() {
        let crafted =
            Principal::new("x", "y").with_attribute("grid_id", AttributeValue::One("x' OR '1'='1".into()));
        assert_eq!(
            bound("grid_id = principal.grid_id", &crafted),
            "residents.grid_id = Utf8(\"x' OR '1'='1\")"
        );
    }

    #[test]
    fn a_missing_attribute_shows_no_rows() {
        let nobody = Principal::new("n", "civil_affairs");
        assert_eq!(
            bound("grid_id = principal.grid_id OR town = 'Dali'", &nobody),
            "Boolean(false)"
        );
        assert_eq!(bound("town IN principal.towns", &nobody), "Boolean(false)");
    }

    #[test]
    fn filters_are_checked_when_granted() {
        let state = SessionContext::new().state();
        let check = |filter: &str| {
            check(filter, &schema(), &state, &SyntaxLimits::default()).map_err(|error| error.to_string())
        };
        assert!(check("grid_id = principal.grid_id").is_ok());
        assert!(check("town IN principal.towns").is_ok());
        let errors = [
            check("shoe_size > 40").unwrap_err(),
            check("town").unwrap_err(),
            check("town = 'x'; DROP TABLE y").unwrap_err(),
            check("town = (").unwrap_err(),
        ];
        assert!(errors[0].contains("shoe_size"), "{}", errors[0]);
        assert!(errors[1].contains("not a condition"), "{}", errors[1]);
    }

    #[test]
    fn a_filter_deeper_than_the_limit_is_refused_by_name() {
        let state = SessionContext::new().state();
        let long = vec!["town = 'Dali'"; 5000].join(" OR ");
        let error = check(&long, &schema(), &state, &SyntaxLimits::default())
            .unwrap_err()
            .to_string();
        assert!(error.contains("limits.max_expression_depth"), "{error}");
        let principal = worker();
        let error = bind(&long, &principal, &schema(), &state, &SyntaxLimits::default())
            .unwrap_err()
            .to_string();
        assert!(error.contains("limits.max_expression_depth"), "{error}");
    }
}
