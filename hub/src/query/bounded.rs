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

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, FieldRef, Int64Type};
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, Result, ScalarValue, exec_err};
use std::sync::atomic::{AtomicUsize, Ordering};

use datafusion::error::DataFusionError;
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::interval_arithmetic::Interval;
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawBinaryExpr};
use datafusion::logical_expr::preimage::PreimageResult;
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::sort_properties::{ExprProperties, SortProperties};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, Expr, ExprSchemable, LogicalPlan, ReturnFieldArgs, ScalarFunctionArgs,
    ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::sql::sqlparser::ast::BinaryOperator;

/// Wraps every scalar function call of `plan` (its subqueries' included) so that its
/// results are reserved in `pool` before they are made. Run on the plan as written, so
/// that constant folding is bounded too, and again on the optimised plan, for calls the
/// optimiser made.
pub fn bound_plan(plan: LogicalPlan, pool: &Arc<ResultBudget>) -> Result<LogicalPlan> {
    plan.transform_up_with_subqueries(|node| node.map_expressions(|expr| bound_expr(expr, pool)))
        .map(|transformed| transformed.data)
}

fn bound_expr(expr: Expr, pool: &Arc<ResultBudget>) -> Result<Transformed<Expr>> {
    expr.transform_up(|expr| match expr {
        Expr::ScalarFunction(mut call)
            if !is_bounded(&call.func) && !POLICY_FUNCTIONS.contains(&call.name()) =>
        {
            call.func = bound(Arc::clone(&call.func), pool);
            Ok(Transformed::yes(Expr::ScalarFunction(call)))
        }
        other => Ok(Transformed::no(other)),
    })
}

/// The hub's own functions, which make values of fixed size from one value.
const POLICY_FUNCTIONS: [&str; 2] = [causeway_policies::DENIED, causeway_policies::PSEUDONYM];

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

/// How the largest result of a function is found from its arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Estimate {
    /// `repeat(text, n)`: the text's bytes times n.
    Repeat,
    /// `lpad(text, n [, fill])`: n characters of at most 4 bytes (1 when all are ASCII).
    Pad,
    /// `replace(text, from, to)`: every occurrence of `from` (or every gap, when it is
    /// empty) becomes `to`.
    Replace,
    /// `regexp_replace(text, pattern, replacement [, flags])`: every match (at most one per
    /// byte and gap) becomes the replacement, whose group references copy at most the text.
    RegexpReplace,
    /// `array_repeat(element, n)`: n copies.
    ArrayRepeat,
    /// `array_resize(list, n [, value])`: n elements of at most the list's average size.
    ArrayResize,
    /// `range(start, stop [, step])` and `generate_series`: one element per step.
    Series,
    /// Case mapping (`upper`, `lower`, `initcap`) and `translate` can make a character up
    /// to three times longer in bytes; `encode` to hex doubles.
    Triple,
    /// Anything else: at most the sum of its arguments' sizes (concatenation, arrays built
    /// from their arguments); checked only for results of variable width.
    Arguments,
}

impl Estimate {
    fn of(name: &str) -> Self {
        match name {
            "repeat" => Self::Repeat,
            "lpad" | "rpad" => Self::Pad,
            "replace" => Self::Replace,
            "regexp_replace" => Self::RegexpReplace,
            "array_repeat" | "list_repeat" => Self::ArrayRepeat,
            "array_resize" | "list_resize" => Self::ArrayResize,
            "range" | "generate_series" => Self::Series,
            "upper" | "lower" | "initcap" | "translate" | "encode" | "to_hex" => Self::Triple,
            _ => Self::Arguments,
        }
    }

    /// The most bytes the result of `args` can take.
    fn bytes(self, args: &ScalarFunctionArgs) -> usize {
        let rows = args.number_rows.max(1);
        let values = &args.args;
        let sum_rows = |each: &dyn Fn(usize) -> usize| -> usize {
            (0..rows).fold(0usize, |total, row| total.saturating_add(each(row)))
        };
        match self {
            Self::Repeat => {
                let (text, count) = (lengths(values.first()), integers(values.get(1)));
                sum_rows(&|row| text(row).saturating_mul(non_negative(count(row))))
            }
            Self::Pad => {
                let count = integers(values.get(1));
                let wide = values.iter().any(|value| !is_ascii(value));
                let per_char = if wide { 4 } else { 1 };
                sum_rows(&|row| non_negative(count(row)).saturating_mul(per_char))
            }
            Self::Replace => {
                let (text, from, to) = (
                    lengths(values.first()),
                    lengths(values.get(1)),
                    lengths(values.get(2)),
                );
                sum_rows(&|row| {
                    let places = text(row) / from(row).max(1) + 1;
                    text(row).saturating_add(places.saturating_mul(to(row)))
                })
            }
            Self::RegexpReplace => {
                let (text, replacement) = (lengths(values.first()), lengths(values.get(2)));
                sum_rows(&|row| {
                    let (text, replacement) = (text(row), replacement(row));
                    // Each match becomes the replacement; each group reference in it copies
                    // part of the text, all of them at most the text per reference.
                    text.saturating_add((text + 1).saturating_mul(replacement).saturating_mul(2))
                })
            }
            Self::ArrayRepeat => {
                let (element, count) = (element_bytes(values.first(), rows), integers(values.get(1)));
                sum_rows(&|row| element.saturating_add(8).saturating_mul(non_negative(count(row))))
            }
            Self::ArrayResize => {
                let list = values.first().map_or(0, |value| value_bytes(value, rows)) / rows;
                let count = integers(values.get(1));
                sum_rows(&|row| list.saturating_add(16).saturating_mul(non_negative(count(row))))
            }
            Self::Series => series_bytes(values, rows),
            Self::Triple => sum_of_arguments(values, rows).saturating_mul(3),
            Self::Arguments => sum_of_arguments(values, rows),
        }
    }
}

fn non_negative(value: i64) -> usize {
    usize::try_from(value.max(0)).unwrap_or(usize::MAX)
}

fn sum_of_arguments(values: &[ColumnarValue], rows: usize) -> usize {
    values.iter().fold(0usize, |total, value| {
        total.saturating_add(value_bytes(value, rows))
    })
}

/// The bytes an argument holds for all `rows` (a scalar counts once per row, as it does in
/// a result built from it).
fn value_bytes(value: &ColumnarValue, rows: usize) -> usize {
    match value {
        ColumnarValue::Scalar(scalar) => scalar.size().saturating_mul(rows),
        ColumnarValue::Array(array) => array_bytes(array.as_ref()),
    }
}

/// The bytes an array's values take: for text and binaries those of its own rows, not of
/// the whole buffer a slice shares.
fn array_bytes(array: &dyn Array) -> usize {
    let len = array.len();
    let span = |first: usize, last: usize| last.saturating_sub(first);
    match array.data_type() {
        DataType::Utf8 => {
            let offsets = array.as_string::<i32>().value_offsets();
            span(offset(offsets.first()), offset(offsets.last())) + 4 * len
        }
        DataType::LargeUtf8 => {
            let offsets = array.as_string::<i64>().value_offsets();
            span(offset(offsets.first()), offset(offsets.last())) + 8 * len
        }
        DataType::Binary => {
            let offsets = array.as_binary::<i32>().value_offsets();
            span(offset(offsets.first()), offset(offsets.last())) + 4 * len
        }
        DataType::LargeBinary => {
            let offsets = array.as_binary::<i64>().value_offsets();
            span(offset(offsets.first()), offset(offsets.last())) + 8 * len
        }
        _ => array.get_array_memory_size(),
    }
}

fn offset<T: Copy + TryInto<usize>>(value: Option<&T>) -> usize {
    value.and_then(|value| (*value).try_into().ok()).unwrap_or(0)
}

/// The average bytes of one element of an argument.
fn element_bytes(value: Option<&ColumnarValue>, rows: usize) -> usize {
    match value {
        Some(ColumnarValue::Scalar(scalar)) => scalar.size(),
        Some(ColumnarValue::Array(array)) => array_bytes(array.as_ref()) / rows.max(1),
        None => 0,
    }
}

/// A row's length in bytes of a text or binary argument (0 for null or other types).
fn lengths(value: Option<&ColumnarValue>) -> Box<dyn Fn(usize) -> usize + '_> {
    match value {
        Some(ColumnarValue::Scalar(scalar)) => {
            let length = scalar_text_len(scalar);
            Box::new(move |_| length)
        }
        Some(ColumnarValue::Array(array)) => match array.data_type() {
            DataType::Utf8 => {
                let array = array.as_string::<i32>();
                Box::new(move |row| {
                    if array.is_valid(row) {
                        array.value(row).len()
                    } else {
                        0
                    }
                })
            }
            DataType::LargeUtf8 => {
                let array = array.as_string::<i64>();
                Box::new(move |row| {
                    if array.is_valid(row) {
                        array.value(row).len()
                    } else {
                        0
                    }
                })
            }
            DataType::Utf8View => {
                let array = array.as_string_view();
                Box::new(move |row| {
                    if array.is_valid(row) {
                        array.value(row).len()
                    } else {
                        0
                    }
                })
            }
            DataType::Binary => {
                let array = array.as_binary::<i32>();
                Box::new(move |row| {
                    if array.is_valid(row) {
                        array.value(row).len()
                    } else {
                        0
                    }
                })
            }
            DataType::LargeBinary => {
                let array = array.as_binary::<i64>();
                Box::new(move |row| {
                    if array.is_valid(row) {
                        array.value(row).len()
                    } else {
                        0
                    }
                })
            }
            // Numbers and other values printed as text: generous.
            _ => Box::new(|_| 64),
        },
        None => Box::new(|_| 0),
    }
}

fn scalar_text_len(scalar: &ScalarValue) -> usize {
    match scalar {
        ScalarValue::Utf8(text) | ScalarValue::LargeUtf8(text) | ScalarValue::Utf8View(text) => {
            text.as_ref().map_or(0, String::len)
        }
        ScalarValue::Binary(bytes) | ScalarValue::LargeBinary(bytes) | ScalarValue::BinaryView(bytes) => {
            bytes.as_ref().map_or(0, Vec::len)
        }
        other if other.is_null() => 0,
        _ => 64,
    }
}

/// A row's value of an integer argument (0 for null or other types).
fn integers(value: Option<&ColumnarValue>) -> Box<dyn Fn(usize) -> i64 + '_> {
    match value {
        Some(ColumnarValue::Scalar(scalar)) => {
            let number = scalar_integer(scalar);
            Box::new(move |_| number)
        }
        Some(ColumnarValue::Array(array)) => match cast(array, &DataType::Int64) {
            Ok(numbers) => Box::new(move |row| {
                let numbers = numbers.as_primitive::<Int64Type>();
                if numbers.is_valid(row) {
                    numbers.value(row)
                } else {
                    0
                }
            }),
            // Not an integer: the function refuses it itself.
            Err(_) => Box::new(|_| 0),
        },
        None => Box::new(|_| 0),
    }
}

fn scalar_integer(scalar: &ScalarValue) -> i64 {
    scalar
        .cast_to(&DataType::Int64)
        .ok()
        .and_then(|value| match value {
            ScalarValue::Int64(number) => number,
            _ => None,
        })
        .unwrap_or(0)
}

fn is_ascii(value: &ColumnarValue) -> bool {
    match value {
        ColumnarValue::Scalar(
            ScalarValue::Utf8(text) | ScalarValue::LargeUtf8(text) | ScalarValue::Utf8View(text),
        ) => text.as_ref().is_none_or(|text| text.is_ascii()),
        ColumnarValue::Array(array) => match array.data_type() {
            DataType::Utf8 => array.as_string::<i32>().iter().flatten().all(str::is_ascii),
            DataType::LargeUtf8 => array.as_string::<i64>().iter().flatten().all(str::is_ascii),
            DataType::Utf8View => array.as_string_view().iter().flatten().all(str::is_ascii),
            _ => true,
        },
        _ => true,
    }
}

/// Elements of `range`/`generate_series`: integers step by step; dates and timestamps by
/// the shortest span their step can be (a month as 28 days).
fn series_bytes(values: &[ColumnarValue], rows: usize) -> usize {
    let scalar_at = |value: &ColumnarValue, row: usize| -> Option<ScalarValue> {
        match value {
            ColumnarValue::Scalar(scalar) => Some(scalar.clone()),
            ColumnarValue::Array(array) => ScalarValue::try_from_array(array, row).ok(),
        }
    };
    let mut total = 0usize;
    for row in 0..rows {
        let args: Vec<ScalarValue> = values.iter().filter_map(|value| scalar_at(value, row)).collect();
        let (start, stop, step) = match args.as_slice() {
            [stop] => (ScalarValue::Int64(Some(0)), stop.clone(), None),
            [start, stop] => (start.clone(), stop.clone(), None),
            [start, stop, step, ..] => (start.clone(), stop.clone(), Some(step.clone())),
            [] => continue,
        };
        let elements = series_length(&start, &stop, step.as_ref()).unwrap_or(0);
        total = total.saturating_add(elements.saturating_mul(8));
    }
    total
}

fn series_length(start: &ScalarValue, stop: &ScalarValue, step: Option<&ScalarValue>) -> Option<usize> {
    const DAY_NANOS: i128 = 86_400_000_000_000;
    let nanos = |value: &ScalarValue| -> Option<i128> {
        match value {
            ScalarValue::Date32(Some(days)) => Some(i128::from(*days) * DAY_NANOS),
            ScalarValue::Date64(Some(millis)) => Some(i128::from(*millis) * 1_000_000),
            ScalarValue::TimestampSecond(Some(v), _) => Some(i128::from(*v) * 1_000_000_000),
            ScalarValue::TimestampMillisecond(Some(v), _) => Some(i128::from(*v) * 1_000_000),
            ScalarValue::TimestampMicrosecond(Some(v), _) => Some(i128::from(*v) * 1_000),
            ScalarValue::TimestampNanosecond(Some(v), _) => Some(i128::from(*v)),
            _ => None,
        }
    };
    let span = match (nanos(start), nanos(stop)) {
        (Some(start), Some(stop)) => {
            let step = match step {
                Some(ScalarValue::IntervalMonthDayNano(Some(interval))) => {
                    i128::from(interval.months) * 28 * DAY_NANOS
                        + i128::from(interval.days) * DAY_NANOS
                        + i128::from(interval.nanoseconds)
                }
                Some(ScalarValue::IntervalDayTime(Some(interval))) => {
                    i128::from(interval.days) * DAY_NANOS + i128::from(interval.milliseconds) * 1_000_000
                }
                Some(ScalarValue::IntervalYearMonth(Some(months))) => i128::from(*months) * 28 * DAY_NANOS,
                _ => DAY_NANOS,
            };
            (stop - start).checked_div(step)
        }
        _ => {
            let (start, stop) = (scalar_integer(start), scalar_integer(stop));
            let step = step.map_or(1, scalar_integer);
            i128::from(stop)
                .saturating_sub(i128::from(start))
                .checked_div(i128::from(step))
        }
    }?;
    usize::try_from(span.saturating_add(1).max(0)).ok()
}

/// Whether results of `data_type` vary in size with their arguments.
fn is_variable_width(data_type: &DataType) -> bool {
    !data_type.is_primitive() && !matches!(data_type, DataType::Boolean | DataType::Null)
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

/// Plans `a || b` on text as [`StringConcat`], so that it is bounded like every function,
/// and a chain `a || b || c` as one call of three operands: as shallow as it is wide, and
/// named in one pass (lists are planned as `array_concat` by DataFusion's own planner,
/// which comes first).
#[derive(Debug, Default)]
pub struct ConcatPlanner;

impl ExprPlanner for ConcatPlanner {
    fn plan_binary_op(&self, expr: RawBinaryExpr, schema: &DFSchema) -> Result<PlannerResult<RawBinaryExpr>> {
        if expr.op != BinaryOperator::StringConcat {
            return Ok(PlannerResult::Original(expr));
        }
        let is_list = |side: &Expr| {
            !is_string_concat(side)
                && side.get_type(schema).is_ok_and(|data_type| {
                    matches!(
                        data_type,
                        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..)
                    )
                })
        };
        if is_list(&expr.left) || is_list(&expr.right) {
            return Ok(PlannerResult::Original(expr));
        }
        let mut operands = Vec::new();
        for side in [expr.left, expr.right] {
            match side {
                Expr::ScalarFunction(call) if call.name() == STRING_CONCAT => operands.extend(call.args),
                other => operands.push(other),
            }
        }
        Ok(PlannerResult::Planned(Expr::ScalarFunction(
            ScalarFunction::new_udf(string_concat(), operands),
        )))
    }
}

fn is_string_concat(expr: &Expr) -> bool {
    matches!(expr, Expr::ScalarFunction(call) if call.name() == STRING_CONCAT)
}

const STRING_CONCAT: &str = "string_concat";

/// The `||` of texts as a function: null when any operand is null, as SQL says.
pub fn string_concat() -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::new_from_impl(StringConcat {
        signature: Signature::variadic_any(Volatility::Immutable),
    }))
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct StringConcat {
    signature: Signature,
}

impl ScalarUDFImpl for StringConcat {
    fn name(&self) -> &str {
        STRING_CONCAT
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn schema_name(&self, args: &[Expr]) -> Result<String> {
        let names: Vec<String> = args.iter().map(|arg| arg.schema_name().to_string()).collect();
        Ok(names.join(" || "))
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        Ok(vec![DataType::Utf8; arg_types.len()])
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        if args.args.len() < 2 {
            return exec_err!("|| takes two operands or more");
        }
        if args
            .args
            .iter()
            .all(|arg| matches!(arg, ColumnarValue::Scalar(_)))
        {
            let mut joined = String::new();
            for arg in &args.args {
                let ColumnarValue::Scalar(value) = arg else {
                    continue;
                };
                match value.cast_to(&DataType::Utf8)? {
                    ScalarValue::Utf8(Some(text)) => joined.push_str(&text),
                    _ => return Ok(ColumnarValue::Scalar(ScalarValue::Utf8(None))),
                }
            }
            return Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(joined))));
        }
        let operands = args
            .args
            .iter()
            .map(|arg| Ok(cast(&arg.to_array(rows)?, &DataType::Utf8)?))
            .collect::<Result<Vec<ArrayRef>>>()?;
        let texts: Vec<_> = operands
            .iter()
            .map(|operand| operand.as_string::<i32>())
            .collect();
        let bytes = texts
            .iter()
            .fold(0usize, |total, text| total.saturating_add(array_bytes(*text)));
        let mut joined = StringBuilder::with_capacity(rows, bytes);
        let mut value = String::new();
        for row in 0..rows {
            if texts.iter().all(|text| text.is_valid(row)) {
                value.clear();
                for text in &texts {
                    value.push_str(text.value(row));
                }
                joined.append_value(&value);
            } else {
                joined.append_null();
            }
        }
        Ok(ColumnarValue::Array(Arc::new(joined.finish())))
    }
}

#[cfg(test)]
mod tests {
    use datafusion::execution::SessionStateBuilder;
    use datafusion::execution::runtime_env::RuntimeEnvBuilder;
    use datafusion::prelude::{SessionConfig, SessionContext};

    use super::*;

    const LIMIT: usize = 16 * 1024 * 1024;

    async fn run(sql: &str) -> Result<Vec<datafusion::arrow::record_batch::RecordBatch>> {
        let pool = ResultBudget::new(LIMIT);
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_pool(Arc::new(
                datafusion::execution::memory_pool::GreedyMemoryPool::new(LIMIT),
            ))
            .build_arc()?;
        let mut state = SessionStateBuilder::new()
            .with_config(SessionConfig::new())
            .with_runtime_env(runtime)
            .with_default_features()
            .build();
        {
            use datafusion::execution::FunctionRegistry;
            state.register_expr_planner(Arc::new(ConcatPlanner))?;
            state.register_udf(string_concat())?;
        }
        let plan = bound_plan(state.create_logical_plan(sql).await?, &pool)?;
        let plan = bound_plan(state.optimize(&plan)?, &pool)?;
        let physical = state.query_planner().create_physical_plan(&plan, &state).await?;
        datafusion::physical_plan::collect(physical, state.task_ctx()).await
    }

    fn is_memory_error(result: &Result<Vec<datafusion::arrow::record_batch::RecordBatch>>) -> bool {
        matches!(result, Err(error) if matches!(error.find_root(), datafusion::error::DataFusionError::ResourcesExhausted(_)))
    }

    #[tokio::test]
    async fn amplifying_functions_are_refused_before_they_allocate() {
        for sql in [
            "SELECT repeat('x', 1000000000)",
            "SELECT lpad('x', 1000000000)",
            "SELECT rpad('x', 1000000000, '字')",
            "SELECT replace(repeat('a', 100000), 'a', repeat('b', 200))",
            "SELECT regexp_replace(repeat('a', 100000), 'a', repeat('b', 200), 'g')",
            "SELECT array_repeat('x', 1000000000)",
            "SELECT range(1000000000)",
            "SELECT generate_series(1, 1000000000)",
            "SELECT concat(concat(concat(repeat('x', 5000000), repeat('x', 5000000)), repeat('x', 5000000)), repeat('x', 5000000))",
            "SELECT repeat('x', 5000000) || repeat('y', 5000000) || repeat('z', 5000000) || repeat('w', 5000000)",
            "SELECT overlay(repeat('x', 10) PLACING repeat('y', 17000000) FROM 2)",
            "SELECT x || repeat('y', 17000000) FROM (VALUES ('a'), ('b')) AS t(x)",
        ] {
            let result = run(sql).await;
            let outcome = result.as_ref().map(|_| "a result").map_err(ToString::to_string);
            assert!(is_memory_error(&result), "{sql}: {outcome:?}");
        }
    }

    #[tokio::test]
    async fn ordinary_results_are_what_datafusion_gives() {
        for sql in [
            "SELECT repeat('ab', 3), lpad('7', 3, '0'), rpad('a', 3), replace('banana', 'a', 'o')",
            "SELECT 'a' || 'b', 'a' || NULL, NULL || 'b', 'n=' || 42, concat('a', NULL, 'b')",
            "SELECT regexp_replace('2024-01-05', '(\\d+)-(\\d+)-(\\d+)', '\\3/\\2/\\1')",
            "SELECT array_repeat(1, 3), range(3), upper('straße')",
            "SELECT x || '!' FROM (VALUES ('a'), (NULL), ('c')) AS t(x)",
            "SELECT arrow_cast('12', 'Int64'), substring('abcdef' FROM 2 FOR 3), overlay('abcdef' PLACING 'XY' FROM 2)",
        ] {
            let bounded = run(sql).await.unwrap();
            let plain = SessionContext::new()
                .sql(sql)
                .await
                .unwrap()
                .collect()
                .await
                .unwrap();
            let text = |batches: &[datafusion::arrow::record_batch::RecordBatch]| {
                datafusion::arrow::util::pretty::pretty_format_batches(batches)
                    .unwrap()
                    .to_string()
                    .lines()
                    .skip(3)
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            assert_eq!(text(&bounded), text(&plain), "{sql}");
        }
    }
}
