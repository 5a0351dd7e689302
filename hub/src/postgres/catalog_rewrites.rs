//! Catalog statements as tools send them, rewritten into what the schema-only copy of the
//! catalog can plan, before they are planned.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    Expr, FunctionArguments, Ident, SelectItem, SetExpr, Statement, Value, visit_expressions_mut,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;

/// `current_user`, `session_user`, `current_role` and `user` as the caller's id
/// (datafusion-pg-catalog's answer is always `postgres`): tools show it as who is signed in.
/// `sql` with the functions that name the user replaced by [`USER`] ([`users_named`]), read
/// before datafusion-pg-catalog's parser renames `current_user` to `session_user`; `sql`
/// itself when it calls none of them. The id goes in only after the last parse
/// ([`user_in`]): an id holding quotes or backslashes must never be read as SQL.
pub(super) fn users_named_in(sql: &str) -> std::borrow::Cow<'_, str> {
    let Ok(mut statements) = Parser::parse_sql(&PostgreSqlDialect {}, sql) else {
        return sql.into();
    };
    let mut calls = false;
    let _ = datafusion::sql::sqlparser::ast::visit_expressions(&statements, |expr| {
        calls |= user_function(expr).is_some();
        ControlFlow::<()>::Continue(())
    });
    if !calls {
        return sql.into();
    }
    for statement in &mut statements {
        users_named(statement);
    }
    statements
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
        .into()
}

fn users_named(statement: &mut Statement) {
    // A select-list item keeps the function's name, as PostgreSQL names its column.
    if let Statement::Query(query) = statement {
        let mut bodies = vec![query.body.as_mut()];
        while let Some(body) = bodies.pop() {
            match body {
                SetExpr::SetOperation { left, right, .. } => bodies.extend([left.as_mut(), right.as_mut()]),
                SetExpr::Select(select) => {
                    for item in &mut select.projection {
                        if let SelectItem::UnnamedExpr(expr) = item
                            && let Some(name) = user_function(expr)
                        {
                            let alias = Ident::new(name);
                            let expr = std::mem::replace(expr, Expr::Value(Value::Null.into()));
                            *item = SelectItem::ExprWithAlias { expr, alias };
                        }
                    }
                }
                _ => {}
            }
        }
    }
    let _ = visit_expressions_mut(statement, |expr| {
        if user_function(expr).is_some() {
            *expr = Expr::Value(Value::SingleQuotedString(USER.to_owned()).into());
        }
        ControlFlow::<()>::Continue(())
    });
}

/// The literal that stands for the caller's id until the statement is parsed for the last
/// time. A statement that writes it itself gets its own id, which it may read anyway.
const USER: &str = "causeway:current-user";

/// `statement`, parsed for the last time, with [`USER`] replaced by `user`.
pub(super) fn user_in(statement: &mut Statement, user: &str) {
    let _ = visit_expressions_mut(statement, |expr| {
        if let Expr::Value(value) = expr
            && matches!(&value.value, Value::SingleQuotedString(text) if text == USER)
        {
            value.value = Value::SingleQuotedString(user.to_owned());
        }
        ControlFlow::<()>::Continue(())
    });
}

/// The name of the function `expr` calls, if it is one that names the user.
fn user_function(expr: &Expr) -> Option<String> {
    let function = match expr {
        Expr::Function(function) => function,
        // A keyword in PostgreSQL, an identifier to the parser.
        Expr::Identifier(ident)
            if ident.quote_style.is_none() && ident.value.eq_ignore_ascii_case("current_role") =>
        {
            return Some("current_role".to_owned());
        }
        _ => return None,
    };
    let [name] = function.name.0.as_slice() else {
        return None;
    };
    let name = name.as_ident()?.value.to_lowercase();
    let bare = match &function.args {
        FunctionArguments::None => true,
        FunctionArguments::List(list) => list.args.is_empty(),
        FunctionArguments::Subquery(_) => false,
    };
    (bare && ["current_user", "session_user", "current_role", "user"].contains(&name.as_str()))
        .then_some(name)
}

/// `ARRAY(SELECT x ...)`, which psql's `\d` sends and DataFusion cannot plan, as the
/// aggregate that builds the same array: `(SELECT array_agg(e) FROM (SELECT x ...) AS a(e))`.
pub(super) fn array_subqueries_as_aggregates(statement: &mut Statement) {
    let _ = visit_expressions_mut(statement, |expr| {
        if let Expr::Function(function) = expr
            && function.name.to_string().eq_ignore_ascii_case("array")
            && let FunctionArguments::Subquery(query) = &function.args
        {
            let text =
                format!("(SELECT array_agg(array_element) FROM ({query}) AS array_subquery(array_element))");
            if let Ok(aggregate) = Parser::new(&PostgreSqlDialect {})
                .try_with_sql(&text)
                .and_then(|mut parser| parser.parse_expr())
            {
                *expr = aggregate;
            }
        }
        ControlFlow::<()>::Continue(())
    });
}
