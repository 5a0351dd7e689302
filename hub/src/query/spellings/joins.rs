//! The columns of joins `USING`, and subqueries in select lists, as SQL reads them.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    Distinct, Expr, Function, FunctionArg, FunctionArgExpr, FunctionArgumentList, FunctionArguments,
    GroupByExpr, Ident, JoinConstraint, JoinOperator, ObjectName, OrderBy, OrderByKind, Query, Select,
    SelectItem, SetExpr, TableFactor, VisitMut, VisitorMut, visit_expressions, visit_expressions_mut,
};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;

use super::Refusal;

/// The columns of `a JOIN b USING (c)` named without a table, as SQL defines them: `c` is
/// `a.c` in an inner or left join, `b.c` in a right join, and `COALESCE(a.c, b.c)` in a
/// full join. DataFusion 55 reads `c` as `a.c` in the select list whatever the join (a
/// right or full join then shows NULL where PostgreSQL shows `b`'s key) and calls it
/// ambiguous in `WHERE`. In a select of one join with `USING`, each unqualified `c`
/// outside subqueries is written as the column it is (in the select list under its own
/// name); `SELECT *` over a right or full join with `USING` is refused, as its `c` would be
/// `a.c` (name the columns, or join `ON`).
pub(super) struct UsingColumns;

impl VisitorMut for UsingColumns {
    type Break = Refusal;

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<Refusal> {
        let SetExpr::Select(select) = query.body.as_mut() else {
            return ControlFlow::Continue(());
        };
        let Some((side, merged)) = using_columns(select) else {
            return ControlFlow::Continue(());
        };
        let mut qualify = OutsideSubqueries::new(|expr: &Expr| match expr {
            Expr::Identifier(ident) => merged_column(&merged, ident),
            _ => None,
        });
        for item in &mut select.projection {
            match item {
                SelectItem::UnnamedExpr(Expr::Identifier(ident)) => {
                    if let Some(expr) = merged_column(&merged, ident) {
                        *item = SelectItem::ExprWithAlias {
                            expr,
                            alias: ident.clone(),
                        };
                    }
                }
                SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. } => {
                    let _ = expr.visit(&mut qualify);
                }
                SelectItem::Wildcard(_) if side != Side::Left => {
                    return ControlFlow::Break(Refusal::NotSupported(
                        "SELECT * over a RIGHT or FULL JOIN ... USING (name the columns, or join ON)",
                    ));
                }
                _ => {}
            }
        }
        if let Some(selection) = &mut select.selection {
            let _ = selection.visit(&mut qualify);
        }
        if let GroupByExpr::Expressions(keys, _) = &mut select.group_by {
            for key in keys {
                let _ = key.visit(&mut qualify);
            }
        }
        if let Some(having) = &mut select.having {
            let _ = having.visit(&mut qualify);
        }
        if let Some(OrderBy {
            kind: OrderByKind::Expressions(keys),
            ..
        }) = &mut query.order_by
        {
            for key in keys {
                let _ = key.expr.visit(&mut qualify);
            }
        }
        ControlFlow::Continue(())
    }
}

/// Which side of a join a merged column is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    /// An inner or left join: `a.c`.
    Left,
    /// A right join: `b.c`.
    Right,
    /// A full join: `COALESCE(a.c, b.c)`.
    Both,
}

/// The side a select's one join with `USING` reads its columns from, and each of them with
/// the expression it stands for.
fn using_columns(select: &Select) -> Option<(Side, Vec<(Ident, Expr)>)> {
    let [from] = select.from.as_slice() else {
        return None;
    };
    let [join] = from.joins.as_slice() else {
        return None;
    };
    let (columns, side) = match &join.join_operator {
        JoinOperator::Join(JoinConstraint::Using(columns))
        | JoinOperator::Inner(JoinConstraint::Using(columns))
        | JoinOperator::Left(JoinConstraint::Using(columns))
        | JoinOperator::LeftOuter(JoinConstraint::Using(columns)) => (columns, Side::Left),
        JoinOperator::Right(JoinConstraint::Using(columns))
        | JoinOperator::RightOuter(JoinConstraint::Using(columns)) => (columns, Side::Right),
        JoinOperator::FullOuter(JoinConstraint::Using(columns)) => (columns, Side::Both),
        _ => return None,
    };
    let (left, right) = (reference(&from.relation)?, reference(&join.relation)?);
    columns
        .iter()
        .map(|column| {
            let [part] = column.0.as_slice() else {
                return None;
            };
            let name = part.as_ident()?.clone();
            let of = |table: &[Ident]| {
                let mut parts = table.to_vec();
                parts.push(name.clone());
                Expr::CompoundIdentifier(parts)
            };
            let expr = match side {
                Side::Left => of(&left),
                Side::Right => of(&right),
                Side::Both => Expr::Function(Function {
                    name: ObjectName::from(vec![Ident::new("coalesce")]),
                    uses_odbc_syntax: false,
                    parameters: FunctionArguments::None,
                    args: FunctionArguments::List(FunctionArgumentList {
                        duplicate_treatment: None,
                        args: vec![
                            FunctionArg::Unnamed(FunctionArgExpr::Expr(of(&left))),
                            FunctionArg::Unnamed(FunctionArgExpr::Expr(of(&right))),
                        ],
                        clauses: Vec::new(),
                    }),
                    filter: None,
                    null_treatment: None,
                    over: None,
                    within_group: Vec::new(),
                }),
            };
            Some((name, expr))
        })
        .collect::<Option<Vec<_>>>()
        .map(|merged| (side, merged))
}

/// How a table of a `FROM` is named in expressions: its alias, or its name.
fn reference(table: &TableFactor) -> Option<Vec<Ident>> {
    match table {
        TableFactor::Table {
            alias: Some(alias), ..
        }
        | TableFactor::Derived {
            alias: Some(alias), ..
        } => Some(vec![alias.name.clone()]),
        TableFactor::Table {
            name, alias: None, ..
        } => name.0.iter().map(|part| part.as_ident().cloned()).collect(),
        _ => None,
    }
}

/// The column a merged column of a join with `USING` stands for, by its name.
fn merged_column(merged: &[(Ident, Expr)], ident: &Ident) -> Option<Expr> {
    // Unquoted names fold to lower case, as PostgreSQL folds them; quoted ones are exact.
    let folded = |name: &Ident| match name.quote_style {
        None => name.value.to_lowercase(),
        Some(_) => name.value.clone(),
    };
    merged
        .iter()
        .find(|(name, _)| folded(name) == folded(ident))
        .map(|(_, expr)| expr.clone())
}

/// Rewrites the expressions of one part of a query with `rewrite`, but not those of the
/// queries nested in it (their names are their own tables').
struct OutsideSubqueries<F> {
    rewrite: F,
    depth: usize,
}

impl<F: FnMut(&Expr) -> Option<Expr>> OutsideSubqueries<F> {
    fn new(rewrite: F) -> Self {
        Self { rewrite, depth: 0 }
    }
}

impl<F: FnMut(&Expr) -> Option<Expr>> VisitorMut for OutsideSubqueries<F> {
    type Break = ();

    fn pre_visit_query(&mut self, _query: &mut Query) -> ControlFlow<()> {
        self.depth += 1;
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _query: &mut Query) -> ControlFlow<()> {
        self.depth -= 1;
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if self.depth == 0
            && let Some(rewritten) = (self.rewrite)(expr)
        {
            *expr = rewritten;
        }
        ControlFlow::Continue(())
    }
}

/// `EXISTS (subquery)` and `x IN (subquery)` in a select list, which DataFusion 55 plans
/// only as conditions of a filter, written as scalar subqueries of counts, which it plans
/// anywhere: `EXISTS (SELECT .. FROM f WHERE c)` as `(SELECT count(*) FROM f WHERE c) > 0`,
/// and `x IN (SELECT y FROM f WHERE c)` with SQL's three values: true where a row has
/// `y = x`; else false where there are no rows; else unknown where `x` is NULL or a `y`
/// is; else false. Only a subquery that is one plain `SELECT` (no grouping, `DISTINCT ON`,
/// ordering or limit) is rewritten, and for `IN` only where `x` names no column without
/// its table (which the subquery's own tables could capture) or the select reads one
/// table, whose name is then put on `x`'s columns.
pub(super) struct SubqueriesAsCounts;

impl VisitorMut for SubqueriesAsCounts {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        let SetExpr::Select(select) = query.body.as_mut() else {
            return ControlFlow::Continue(());
        };
        // The one table unqualified columns of the select list belong to, if it reads one.
        let outer = match select.from.as_slice() {
            [only] if only.joins.is_empty() => reference(&only.relation),
            _ => None,
        };
        for item in &mut select.projection {
            let (SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. }) = item else {
                continue;
            };
            // Each query nested in the item is visited as a query of its own, with its own
            // tables.
            let _ = expr.visit(&mut OutsideSubqueries::new(|expr: &Expr| {
                as_counts(expr, outer.as_deref())
            }));
        }
        ControlFlow::Continue(())
    }
}

fn as_counts(expr: &Expr, outer: Option<&[Ident]>) -> Option<Expr> {
    let text = match expr {
        Expr::Exists { subquery, negated } => {
            let rows = count_of(subquery, None)?;
            format!("({rows} {} 0)", if *negated { "=" } else { ">" })
        }
        Expr::InSubquery {
            expr: operand,
            subquery,
            negated,
        } => {
            let operand = qualified(operand, outer)?;
            let SetExpr::Select(select) = subquery.body.as_ref() else {
                return None;
            };
            // Moved into the subquery, `x` must not name one of its tables.
            if captured(&operand, select) {
                return None;
            }
            let [SelectItem::UnnamedExpr(value) | SelectItem::ExprWithAlias { expr: value, .. }] =
                select.projection.as_slice()
            else {
                return None;
            };
            let matching = count_of(subquery, Some(format!("({value}) = ({operand})")))?;
            let rows = count_of(subquery, None)?;
            let nulls = count_of(subquery, Some(format!("({value}) IS NULL")))?;
            let member = format!(
                "(CASE WHEN {matching} > 0 THEN TRUE WHEN {rows} = 0 THEN FALSE \
                 WHEN ({operand}) IS NULL OR {nulls} > 0 THEN NULL ELSE FALSE END)"
            );
            if *negated {
                format!("(NOT {member})")
            } else {
                member
            }
        }
        _ => return None,
    };
    Parser::new(&GenericDialect {})
        .try_with_sql(&text)
        .and_then(|mut parser| parser.parse_expr())
        .ok()
}

/// `(SELECT count(*) FROM .. WHERE ..)` of a subquery that is one plain `SELECT`, with
/// `also` added to its condition.
fn count_of(subquery: &Query, also: Option<String>) -> Option<String> {
    let plain_query = subquery.with.is_none()
        && subquery.order_by.is_none()
        && subquery.limit_clause.is_none()
        && subquery.fetch.is_none()
        && subquery.pipe_operators.is_empty();
    let SetExpr::Select(select) = subquery.body.as_ref() else {
        return None;
    };
    let plain_select = matches!(&select.group_by, GroupByExpr::Expressions(keys, modifiers) if keys.is_empty() && modifiers.is_empty())
        && select.having.is_none()
        && select.qualify.is_none()
        && select.top.is_none()
        && select.named_window.is_empty()
        && !matches!(select.distinct, Some(Distinct::On(_)))
        && !select.from.is_empty()
        // An aggregate makes one row of none (`EXISTS (SELECT max(x) ..)` is true), and a
        // function in the select list may be one: such subqueries are left as they are.
        && !select.projection.iter().any(|item| {
            let mut calls = false;
            if let SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. } = item {
                let _ = visit_expressions(expr, |inner| {
                    calls |= matches!(inner, Expr::Function(_));
                    ControlFlow::<()>::Continue(())
                });
            }
            calls
        });
    if !(plain_query && plain_select) {
        return None;
    }
    let from = select
        .from
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let condition = match (&select.selection, also) {
        (Some(condition), Some(also)) => format!(" WHERE ({condition}) AND ({also})"),
        (Some(condition), None) => format!(" WHERE {condition}"),
        (None, Some(also)) => format!(" WHERE {also}"),
        (None, None) => String::new(),
    };
    Some(format!("(SELECT count(*) FROM {from}{condition})"))
}

/// `operand` with the outer table's name on each of its unqualified columns, or `None`
/// where it has such a column and there is no one outer table; never one with subqueries.
fn qualified(operand: &Expr, outer: Option<&[Ident]>) -> Option<Expr> {
    let mut operand = operand.clone();
    let mut unplaced = false;
    let _ = visit_expressions_mut(&mut operand, |inner| {
        match inner {
            Expr::Identifier(name) => match outer {
                Some(table) => {
                    let mut parts = table.to_vec();
                    parts.push(name.clone());
                    *inner = Expr::CompoundIdentifier(parts);
                }
                None => unplaced = true,
            },
            Expr::Subquery(_) | Expr::Exists { .. } | Expr::InSubquery { .. } => unplaced = true,
            _ => {}
        }
        ControlFlow::<()>::Continue(())
    });
    (!unplaced).then_some(operand)
}

/// Whether a column of `operand` is qualified by a name a table of `select` also goes by
/// (compared by their last parts, without regard to case), so that it would read that
/// table's column once moved into `select`.
fn captured(operand: &Expr, select: &Select) -> bool {
    let inner: Vec<String> = select
        .from
        .iter()
        .flat_map(|from| std::iter::once(&from.relation).chain(from.joins.iter().map(|join| &join.relation)))
        .map(|table| {
            reference(table)
                .and_then(|parts| parts.last().map(|last| last.value.to_lowercase()))
                .unwrap_or_default()
        })
        .collect();
    let mut captured = false;
    let _ = visit_expressions(operand, |expr| {
        if let Expr::CompoundIdentifier(parts) = expr
            && let [.., table, _] = parts.as_slice()
        {
            // A table the subquery reads without a name it can be told by is a capture too.
            captured |= inner
                .iter()
                .any(|name| name.is_empty() || *name == table.value.to_lowercase());
        }
        ControlFlow::<()>::Continue(())
    });
    captured
}

#[cfg(test)]
mod tests {
    use super::super::tests::{parse_read_query, spelled};

    #[test]
    fn using_columns_are_the_columns_sql_says() {
        assert_eq!(
            spelled("SELECT id, p.name FROM people p JOIN firms f USING (id) WHERE id < 20"),
            "SELECT p.id AS id, p.name FROM people p JOIN firms f USING(id) WHERE p.id < 20"
        );
        assert_eq!(
            spelled("SELECT id FROM people RIGHT JOIN x.firms USING (id) GROUP BY id"),
            "SELECT x.firms.id AS id FROM people RIGHT JOIN x.firms USING(id) GROUP BY x.firms.id"
        );
        assert_eq!(
            spelled("SELECT id + 1 FROM people p FULL JOIN firms f USING (id)"),
            "SELECT coalesce(p.id, f.id) + 1 FROM people p FULL JOIN firms f USING(id)"
        );
        // A subquery's own `id` is its own.
        assert_eq!(
            spelled(
                "SELECT p.name FROM people p JOIN firms f USING (id) WHERE EXISTS (SELECT 1 FROM t WHERE t.id = id)"
            ),
            "SELECT p.name FROM people p JOIN firms f USING(id) WHERE EXISTS (SELECT 1 FROM t WHERE t.id = id)"
        );
        assert_eq!(
            spelled("SELECT count(*) FROM a FULL JOIN b USING (id) GROUP BY id ORDER BY id"),
            "SELECT count(*) FROM a FULL JOIN b USING(id) GROUP BY coalesce(a.id, b.id) ORDER BY coalesce(a.id, b.id)"
        );
        // A quoted "Id" is not the unquoted Id, which is id.
        assert_eq!(
            spelled("SELECT Id FROM a JOIN b USING (\"Id\")"),
            "SELECT Id FROM a JOIN b USING(\"Id\")"
        );
        assert!(matches!(
            parse_read_query("SELECT * FROM people p FULL JOIN firms f USING (id)"),
            Err(crate::query::QueryError::NotSupported(_))
        ));
        assert!(parse_read_query("SELECT * FROM people p LEFT JOIN firms f USING (id)").is_ok());
    }

    #[test]
    fn subqueries_in_select_lists_become_counts_unless_a_table_would_capture_them() {
        let counted =
            spelled("SELECT f.id, EXISTS (SELECT 1 FROM links l WHERE l.firm_id = f.id) FROM firms f");
        assert!(
            counted.contains("(SELECT count(*) FROM links l WHERE l.firm_id = f.id) > 0"),
            "{counted}"
        );
        let member = spelled("SELECT id IN (SELECT person_id FROM links) FROM people");
        assert!(member.contains("(person_id) = (people.id)"), "{member}");
        // The outer `people` would read the subquery's own `people`: left as written.
        let captured = spelled("SELECT household IN (SELECT household FROM people) FROM people");
        assert!(
            captured.contains("household IN (SELECT household FROM people)"),
            "{captured}"
        );
        // Two outer tables: an unqualified column cannot be placed.
        let unplaced = spelled("SELECT id IN (SELECT person_id FROM links) FROM people, firms");
        assert!(
            unplaced.contains("id IN (SELECT person_id FROM links)"),
            "{unplaced}"
        );
        // An aggregate's subquery always has a row: left as written.
        let aggregate = spelled("SELECT EXISTS (SELECT max(id) FROM t WHERE id < 0) FROM u");
        assert!(aggregate.contains("EXISTS (SELECT max(id)"), "{aggregate}");
        // A nested query's IN is its own, with its own tables.
        let nested = spelled(
            "SELECT (SELECT count(*) FROM orders o WHERE id IN (SELECT order_id FROM refunds)) FROM customers",
        );
        assert!(!nested.contains("customers.id"), "{nested}");
        // A filter's EXISTS is DataFusion's own (a semi join).
        let filtered = spelled("SELECT 1 FROM t WHERE EXISTS (SELECT 1 FROM u)");
        assert!(filtered.contains("WHERE EXISTS (SELECT 1 FROM u)"), "{filtered}");
    }
}
