//! A scalar subquery that finds no row is NULL, whatever its column.
//!
//! DataFusion 55 gives `(SELECT id FROM t WHERE ...)` the nullability of `id`, so over a
//! column declared `nullable: false` a subquery that finds nothing fails the whole query
//! ("declared as non-nullable but contains null values") where SQL answers NULL.
//! [`NullableScalarSubqueries`] passes such a subquery's value through `nullable_value`,
//! which returns its argument unchanged and is declared nullable, and types the plan again
//! so that every column computed from it is nullable too.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, Result};
use datafusion::config::ConfigOptions;
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::{
    ColumnarValue, Expr, LogicalPlan, Projection, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Subquery, Volatility,
};
use datafusion::optimizer::AnalyzerRule;

/// Makes scalar subqueries over non-nullable columns nullable (see the module's
/// documentation). Runs after type coercion.
#[derive(Debug, Default)]
pub(crate) struct NullableScalarSubqueries;

impl AnalyzerRule for NullableScalarSubqueries {
    fn name(&self) -> &str {
        "causeway_nullable_scalar_subqueries"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        let rewritten = plan.transform_up_with_subqueries(|plan| {
            plan.map_expressions(|expr| {
                expr.transform_up(|expr| match expr {
                    Expr::ScalarSubquery(subquery) if !first_nullable(&subquery) => {
                        Ok(Transformed::yes(Expr::ScalarSubquery(nullable(subquery)?)))
                    }
                    other => Ok(Transformed::no(other)),
                })
            })
        })?;
        if !rewritten.transformed {
            return Ok(rewritten.data);
        }
        // Each node's schema again, from the subqueries up: a column read from one is
        // nullable now.
        rewritten
            .data
            .transform_up_with_subqueries(|plan| plan.recompute_schema().map(Transformed::yes))
            .map(|transformed| transformed.data)
    }
}

fn first_nullable(subquery: &Subquery) -> bool {
    subquery
        .subquery
        .schema()
        .fields()
        .first()
        .is_none_or(|field| field.is_nullable())
}

/// `subquery` with its one column passed through `nullable_value`, named as before.
fn nullable(subquery: Subquery) -> Result<Subquery> {
    let schema = Arc::clone(subquery.subquery.schema());
    let columns = schema
        .iter()
        .map(|(qualifier, field)| {
            let column = Expr::Column(Column::new(qualifier.cloned(), field.name()));
            Expr::ScalarFunction(ScalarFunction::new_udf(nullable_value(), vec![column]))
                .alias_qualified(qualifier.cloned(), field.name())
        })
        .collect();
    let projection = Projection::try_new(columns, Arc::clone(&subquery.subquery))?;
    Ok(Subquery {
        subquery: Arc::new(LogicalPlan::Projection(projection)),
        ..subquery
    })
}

fn nullable_value() -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::new_from_impl(NullableValue {
        signature: Signature::any(1, Volatility::Immutable),
    }))
}

/// Its argument, unchanged, declared nullable (the default of a function's result).
#[derive(Debug, PartialEq, Eq, Hash)]
struct NullableValue {
    signature: Signature,
}

impl ScalarUDFImpl for NullableValue {
    fn name(&self) -> &str {
        "nullable_value"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arguments: &[DataType]) -> Result<DataType> {
        Ok(arguments.first().cloned().unwrap_or(DataType::Null))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        match args.args.into_iter().next() {
            Some(value) => Ok(value),
            None => datafusion::common::exec_err!("nullable_value takes one value"),
        }
    }
}
