//! Functions that build values, held to the query's memory limit *before* they allocate.
//!
//! DataFusion's memory pool counts what operators buffer (sorts, joins, aggregates), but a
//! scalar function allocates its result unasked: `repeat('x', 1000000000)` asks for a
//! gigabyte at once, and Rust aborts the whole process when an allocation fails. So every
//! scalar function of a query is wrapped: before it runs, the largest result it can make
//! from its arguments is reserved in the query's [`ResultBudget`] (as large as its memory
//! limit), and a result that would not fit is the query's `memory_limit` error. The
//! reservation ends once the result exists; operators that keep it count it in the
//! query's memory pool. The budget is apart from the pool because spilling operators may
//! rightly fill the pool, and a function's result cannot be spilled: a query holds at most
//! its limit in operators and its limit in results being made.
//!
//! The bound is exact or generous for functions that amplify (`repeat`, `lpad`, `rpad`,
//! `replace`, `regexp_replace`, `array_repeat`, `range`, ...), and the sum of the arguments'
//! sizes for those that combine (`concat`, `||`, `array_concat`, ...), which stops nested
//! doublings such as `concat(concat(x, x), concat(x, x))` at the limit.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use causeway_policies::rewrite::RowBarrier;
use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::catalog::TableProvider;
use datafusion::common::Result;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::datasource::{provider_as_source, source_as_provider};
use std::sync::atomic::{AtomicUsize, Ordering};

use datafusion::error::DataFusionError;
use datafusion::logical_expr::interval_arithmetic::Interval;
use datafusion::logical_expr::preimage::PreimageResult;
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::sort_properties::{ExprProperties, SortProperties};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, Expr, LogicalPlan, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature,
};

mod concat;
mod estimate;

use super::subjects::SubjectMeter;
pub use concat::{ConcatPlanner, string_concat};
use estimate::{Estimate, is_variable_width};

/// Wraps every scalar function call of `plan` (its subqueries' included) so that its
/// results are reserved in `pool` before they are made. Run on the plan as written, so
/// that constant folding is bounded too, and again on the optimised plan, for calls the
/// optimiser made.
pub fn bound_plan(plan: LogicalPlan, pool: &Arc<ResultBudget>) -> Result<LogicalPlan> {
    plan.transform_up_with_subqueries(|node| {
        bound_scan(node, pool)?.transform_data(|node| node.map_expressions(|expr| bound_expr(expr, pool)))
    })
    .map(|transformed| transformed.data)
}

/// A scan whose row filter (a grant's, evaluated inside the scan by its barrier, apart from
/// the plan's expressions) calls bounded functions too; as is, any other scan.
fn bound_scan(node: LogicalPlan, pool: &Arc<ResultBudget>) -> Result<Transformed<LogicalPlan>> {
    let LogicalPlan::TableScan(mut scan) = node else {
        return Ok(Transformed::no(node));
    };
    match bounded_source(&source_as_provider(&scan.source)?, pool)? {
        Some(bounded) => {
            scan.source = provider_as_source(bounded);
            Ok(Transformed::yes(LogicalPlan::TableScan(scan)))
        }
        None => Ok(Transformed::no(LogicalPlan::TableScan(scan))),
    }
}

/// `provider` with its row barrier's filter bounded (under a distinct-person meter too), or
/// `None` when it has none or it is bounded already.
pub fn bounded_source(
    provider: &Arc<dyn TableProvider>,
    pool: &Arc<ResultBudget>,
) -> Result<Option<Arc<dyn TableProvider>>> {
    if let Some(barrier) = provider.downcast_ref::<RowBarrier>() {
        let filter = bound_expr(barrier.filter().clone(), pool)?;
        return Ok(filter.transformed.then(|| {
            Arc::new(RowBarrier::new(Arc::clone(barrier.inner()), filter.data)) as Arc<dyn TableProvider>
        }));
    }
    if let Some(meter) = provider.downcast_ref::<SubjectMeter>() {
        return Ok(bounded_source(meter.inner(), pool)?
            .map(|inner| Arc::new(meter.with_inner(inner)) as Arc<dyn TableProvider>));
    }
    Ok(None)
}

fn bound_expr(expr: Expr, pool: &Arc<ResultBudget>) -> Result<Transformed<Expr>> {
    expr.transform_up(|expr| match expr {
        Expr::ScalarFunction(mut call)
            if !is_bounded(&call.func)
                && !POLICY_FUNCTIONS.contains(&call.name())
                && !FIXED_WIDTH.contains(&call.name()) =>
        {
            call.func = bound(Arc::clone(&call.func), pool);
            Ok(Transformed::yes(Expr::ScalarFunction(call)))
        }
        other => Ok(Transformed::no(other)),
    })
}

/// The hub's own functions, which make values of fixed size from one value.
const POLICY_FUNCTIONS: [&str; 2] = [causeway_policies::DENIED, causeway_policies::PSEUDONYM];

/// The hub's own rewrites of arithmetic and rounding (`semantics::checked`,
/// `semantics::floats`, `semantics::rounding`): numbers in, a number out, so nothing to bound.
const FIXED_WIDTH: [&str; 12] = [
    "checked_add",
    "checked_subtract",
    "checked_multiply",
    "checked_negate",
    "rounded_divide",
    "checked_arithmetic",
    "checked_float_add",
    "checked_float_subtract",
    "checked_float_multiply",
    "checked_float_divide",
    "checked_float_arithmetic",
    "round_to_integer",
];

fn is_bounded(function: &Arc<ScalarUDF>) -> bool {
    let inner: &dyn std::any::Any = function.inner().as_ref();
    inner.is::<Bounded>()
}

fn bound(function: Arc<ScalarUDF>, pool: &Arc<ResultBudget>) -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::new_from_impl(Bounded {
        estimate: Estimate::of(function.name()),
        inner: function,
        pool: Arc::clone(pool),
    }))
}

/// The bytes a query's function results may take while they are being made.
#[derive(Debug)]
pub struct ResultBudget {
    limit: usize,
    taken: AtomicUsize,
}

impl ResultBudget {
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            limit,
            taken: AtomicUsize::new(0),
        })
    }

    fn take(self: &Arc<Self>, bytes: usize, by: &str) -> Result<Taken> {
        let mut taken = self.taken.load(Ordering::Acquire);
        loop {
            let total = taken.saturating_add(bytes);
            if total > self.limit {
                return Err(DataFusionError::ResourcesExhausted(format!(
                    "{by}() would make a result of up to {bytes} bytes, with {taken} of the query's {} taken",
                    self.limit
                )));
            }
            match self
                .taken
                .compare_exchange_weak(taken, total, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    return Ok(Taken {
                        budget: Arc::clone(self),
                        bytes,
                    });
                }
                Err(now) => taken = now,
            }
        }
    }
}

/// Bytes taken from a budget, given back when dropped.
struct Taken {
    budget: Arc<ResultBudget>,
    bytes: usize,
}

impl Drop for Taken {
    fn drop(&mut self) {
        self.budget.taken.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

/// A scalar function whose results are reserved in the query's result budget first.
#[derive(Debug)]
struct Bounded {
    inner: Arc<ScalarUDF>,
    estimate: Estimate,
    pool: Arc<ResultBudget>,
}

impl PartialEq for Bounded {
    fn eq(&self, other: &Self) -> bool {
        self.inner == other.inner && Arc::ptr_eq(&self.pool, &other.pool)
    }
}

impl Eq for Bounded {}

impl Hash for Bounded {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.inner.hash(state);
    }
}

impl ScalarUDFImpl for Bounded {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn schema_name(&self, args: &[Expr]) -> Result<String> {
        self.inner.schema_name(args)
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        self.inner.return_field_from_args(args)
    }

    fn is_strict(&self) -> bool {
        self.inner.is_strict()
    }

    fn preimage(&self, args: &[Expr], lit_expr: &Expr, info: &SimplifyContext) -> Result<PreimageResult> {
        self.inner.preimage(args, lit_expr, info)
    }

    fn conditional_arguments<'a>(&self, args: &'a [Expr]) -> Option<(Vec<&'a Expr>, Vec<&'a Expr>)> {
        self.inner.conditional_arguments(args)
    }

    fn evaluate_bounds(&self, inputs: &[&Interval]) -> Result<Interval> {
        self.inner.evaluate_bounds(inputs)
    }

    fn propagate_constraints(
        &self,
        interval: &Interval,
        inputs: &[&Interval],
    ) -> Result<Option<Vec<Interval>>> {
        self.inner.propagate_constraints(interval, inputs)
    }

    fn strictly_order_preserving(&self, inputs: &[ExprProperties]) -> Result<bool> {
        self.inner.strictly_order_preserving(inputs)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        if !is_variable_width(args.return_field.data_type()) {
            return self.inner.invoke_with_args(args);
        }
        let bytes = self.estimate.bytes(&args);
        let _taken = self.pool.take(bytes, self.inner.name())?;
        self.inner.invoke_with_args(args)
    }

    fn simplify(&self, args: Vec<Expr>, info: &SimplifyContext) -> Result<ExprSimplifyResult> {
        // A function's own simplification may put new calls in the plan (`concat` merging
        // its literals, `arrow_cast` becoming a cast): they are bounded too.
        Ok(match self.inner.simplify(args, info)? {
            ExprSimplifyResult::Simplified(expr) => {
                ExprSimplifyResult::Simplified(bound_expr(expr, &self.pool)?.data)
            }
            original => original,
        })
    }

    fn short_circuits(&self) -> bool {
        self.inner.short_circuits()
    }

    fn output_ordering(&self, inputs: &[ExprProperties]) -> Result<SortProperties> {
        self.inner.output_ordering(inputs)
    }

    fn preserves_lex_ordering(&self, inputs: &[ExprProperties]) -> Result<bool> {
        self.inner.preserves_lex_ordering(inputs)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.inner.coerce_types(arg_types)
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.inner.documentation()
    }
}

#[cfg(test)]
mod tests;
