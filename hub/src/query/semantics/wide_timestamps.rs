//! Dates become timestamps of any year.
//!
//! DataFusion 55's `timestamp` counts nanoseconds in 64 bits, from 1677-09-21 to
//! 2262-04-11, and `date_trunc` works in nanoseconds whatever its operand: a date of 1600
//! or of 2300, which a contract's `date` holds (as PostgreSQL's, from 4713 BC), could not be
//! cast to a timestamp or truncated to its month. [`WideTimestamps`] runs before type
//! coercion, so that everything above is typed from its result:
//!
//! * `CAST(date AS timestamp)` is a timestamp in microseconds (PostgreSQL's own unit,
//!   294,276 years either side of 2000);
//! * `date_trunc(field, date)` is computed on the calendar by [`date_trunc_date`], for the
//!   fields from `microseconds` to `year`, as a timestamp in microseconds at midnight.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, TimestampMicrosecondArray};
use datafusion::arrow::compute::cast as cast_array;
use datafusion::arrow::datatypes::{DataType, Date32Type, TimeUnit};
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, Result, ScalarValue, exec_err};
use datafusion::config::ConfigOptions;
use datafusion::functions::utils::make_scalar_function;
use datafusion::logical_expr::expr::{Cast, ScalarFunction};
use datafusion::logical_expr::function::Hint;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprSchemable, LogicalPlan, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility, cast,
};
use datafusion::optimizer::AnalyzerRule;

use super::rewrite::{Order, rewrite_expressions};

/// See the module's documentation.
#[derive(Debug, Default)]
pub(crate) struct WideTimestamps;

impl AnalyzerRule for WideTimestamps {
    fn name(&self) -> &str {
        "causeway_wide_timestamps"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        rewrite_expressions(plan, Order::BottomUp, widen)
    }
}

fn is_date(expr: &Expr, schema: &DFSchema) -> bool {
    expr.get_type(schema)
        .is_ok_and(|t| matches!(t, DataType::Date32 | DataType::Date64))
}

fn widen(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    match expr {
        Expr::Cast(Cast { expr: operand, field })
            if matches!(field.data_type(), DataType::Timestamp(TimeUnit::Nanosecond, _))
                && is_date(&operand, schema) =>
        {
            let DataType::Timestamp(_, zone) = field.data_type() else {
                return Ok(Transformed::no(Expr::Cast(Cast { expr: operand, field })));
            };
            Ok(Transformed::yes(cast(
                *operand,
                DataType::Timestamp(TimeUnit::Microsecond, zone.clone()),
            )))
        }
        Expr::ScalarFunction(call)
            if call.name() == "date_trunc"
                && matches!(call.args.as_slice(), [Expr::Literal(field, _), operand]
                    if truncation(field).is_some() && is_date(operand, schema)) =>
        {
            let mut args = call.args;
            let operand = args.pop().map(|date| match date.get_type(schema) {
                Ok(DataType::Date32) => date,
                _ => cast(date, DataType::Date32),
            });
            let field = args.pop();
            let (Some(field), Some(operand)) = (field, operand) else {
                return exec_err!("date_trunc takes a field and a date");
            };
            Ok(Transformed::yes(Expr::ScalarFunction(ScalarFunction::new_udf(
                date_trunc_date(),
                vec![field, operand],
            ))))
        }
        other => Ok(Transformed::no(other)),
    }
}

/// What `date_trunc` keeps of a date, by PostgreSQL's field names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Truncation {
    /// `microseconds` to `day`: a date is already a whole day.
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

fn truncation(field: &ScalarValue) -> Option<Truncation> {
    let (ScalarValue::Utf8(Some(name))
    | ScalarValue::LargeUtf8(Some(name))
    | ScalarValue::Utf8View(Some(name))) = field
    else {
        return None;
    };
    Some(match name.to_ascii_lowercase().as_str() {
        "microsecond" | "microseconds" | "millisecond" | "milliseconds" | "second" | "minute" | "hour"
        | "day" => Truncation::Day,
        "week" => Truncation::Week,
        "month" => Truncation::Month,
        "quarter" => Truncation::Quarter,
        "year" => Truncation::Year,
        _ => return None,
    })
}

/// `date_trunc(field, date)` as a timestamp in microseconds.
fn date_trunc_date() -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::new_from_impl(DateTruncDate {
        signature: Signature::any(2, Volatility::Immutable),
    }))
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct DateTruncDate {
    signature: Signature,
}

impl ScalarUDFImpl for DateTruncDate {
    fn name(&self) -> &str {
        "date_trunc"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arguments: &[DataType]) -> Result<DataType> {
        Ok(DataType::Timestamp(TimeUnit::Microsecond, None))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        make_scalar_function(
            |operands: &[ArrayRef]| {
                let [field, days] = operands else {
                    return exec_err!("date_trunc takes a field and a date");
                };
                let Some(truncation) = truncation(&ScalarValue::try_from_array(field, 0)?) else {
                    return exec_err!("date_trunc: unknown field");
                };
                let days = cast_array(days, &DataType::Date32)?;
                let truncated: TimestampMicrosecondArray = days
                    .as_primitive::<Date32Type>()
                    .iter()
                    .map(|day| day.and_then(|day| truncate(day, truncation)))
                    .collect();
                Ok(Arc::new(truncated) as ArrayRef)
            },
            // The field is one literal.
            vec![Hint::AcceptsSingular, Hint::Pad],
        )(&args.args)
    }
}

const MICROSECONDS_PER_DAY: i64 = 86_400_000_000;

/// The first day of the `truncation` holding `day` (days since 1970-01-01), in
/// microseconds since 1970-01-01 00:00.
fn truncate(day: i32, truncation: Truncation) -> Option<i64> {
    use chrono::{Datelike, NaiveDate};
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1)?;
    let date = epoch.checked_add_signed(chrono::Duration::days(i64::from(day)))?;
    let first = match truncation {
        Truncation::Day => date,
        Truncation::Week => date - chrono::Duration::days(i64::from(date.weekday().num_days_from_monday())),
        Truncation::Month => date.with_day(1)?,
        Truncation::Quarter => NaiveDate::from_ymd_opt(date.year(), (date.month0() / 3) * 3 + 1, 1)?,
        Truncation::Year => NaiveDate::from_ymd_opt(date.year(), 1, 1)?,
    };
    first
        .signed_duration_since(epoch)
        .num_days()
        .checked_mul(MICROSECONDS_PER_DAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_of_any_year_truncate_on_the_calendar() {
        let at = |year, month, date| {
            i64::from(Date32Type::from_naive_date(
                chrono::NaiveDate::from_ymd_opt(year, month, date).unwrap_or_default(),
            )) * MICROSECONDS_PER_DAY
        };
        let of = |year, month, date| {
            Date32Type::from_naive_date(
                chrono::NaiveDate::from_ymd_opt(year, month, date).unwrap_or_default(),
            )
        };
        // 1600-03-15 was a Wednesday.
        assert_eq!(truncate(of(1600, 3, 15), Truncation::Week), Some(at(1600, 3, 13)));
        assert_eq!(truncate(of(1600, 3, 15), Truncation::Month), Some(at(1600, 3, 1)));
        assert_eq!(
            truncate(of(1600, 3, 15), Truncation::Quarter),
            Some(at(1600, 1, 1))
        );
        assert_eq!(
            truncate(of(2300, 11, 30), Truncation::Quarter),
            Some(at(2300, 10, 1))
        );
        assert_eq!(truncate(of(2300, 11, 30), Truncation::Year), Some(at(2300, 1, 1)));
        assert_eq!(
            truncate(of(1969, 12, 31), Truncation::Day),
            Some(-MICROSECONDS_PER_DAY)
        );
    }
}
