//! Doubles and intervals written as text as PostgreSQL writes them.
//!
//! `CAST(x AS text)` of a double in DataFusion 55 is Arrow's spelling (`3.0`, `-0.0`,
//! `1e300`, `inf`). PostgreSQL 12
//! and later write the shortest digits that read back as the same double (`float8out`
//! with `extra_float_digits` 1, its default), in `%e` style when the decimal exponent is
//! below -4 or at least 15 (6 for a `real`): `3`, `-0`, `1e+300`, `1.5e-07`, `0.1`,
//! `Infinity`, `NaN`. An interval is written in PostgreSQL's default `IntervalStyle`,
//! `postgres` (`1 year 2 mons 3 days 04:05:06.5`, `-1 days +02:00:00`), where Arrow writes
//! `1 mons 2 days`. [`PostgresText`] puts [`float_text`] and [`interval_text`] in place of
//! each cast of a double, a real or an interval to text.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringArray};
use datafusion::arrow::compute::cast as cast_array;
use datafusion::arrow::datatypes::{
    DataType, Float32Type, Float64Type, IntervalMonthDayNanoType, IntervalUnit,
};
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, Result, exec_err};
use datafusion::config::ConfigOptions;
use datafusion::functions::utils::make_scalar_function;
use datafusion::logical_expr::expr::{Cast, ScalarFunction};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprSchemable, LogicalPlan, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility, cast,
};
use datafusion::optimizer::AnalyzerRule;

use super::rewrite::{Order, rewrite_expressions};

/// Writes each double and interval cast to text as PostgreSQL does (see the module's
/// documentation).
#[derive(Debug, Default)]
pub(crate) struct PostgresText;

impl AnalyzerRule for PostgresText {
    fn name(&self) -> &str {
        "causeway_postgres_text"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        rewrite_expressions(plan, Order::BottomUp, as_text)
    }
}

fn as_text(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    match expr {
        Expr::Cast(Cast { expr: operand, field })
            if matches!(
                field.data_type(),
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            ) =>
        {
            let writer = match operand.get_type(schema) {
                Ok(t) if t.is_floating() => float_text(),
                Ok(DataType::Interval(_)) => interval_text(),
                _ => return Ok(Transformed::no(Expr::Cast(Cast { expr: operand, field }))),
            };
            let text = Expr::ScalarFunction(ScalarFunction::new_udf(writer, vec![*operand]));
            Ok(Transformed::yes(cast(text, field.data_type().clone())))
        }
        other => Ok(Transformed::no(other)),
    }
}

/// What a [`PostgresTextOf`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Written {
    /// A double or a real.
    Float,
    Interval,
}

/// `float_text(x)`: a double or a real as PostgreSQL writes it, as `Utf8`.
pub(crate) fn float_text() -> Arc<ScalarUDF> {
    text_of(Written::Float)
}

/// `interval_text(x)`: an interval as PostgreSQL writes it, as `Utf8`.
pub(crate) fn interval_text() -> Arc<ScalarUDF> {
    text_of(Written::Interval)
}

fn text_of(written: Written) -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::new_from_impl(PostgresTextOf {
        written,
        signature: Signature::any(1, Volatility::Immutable),
    }))
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct PostgresTextOf {
    written: Written,
    signature: Signature,
}

impl ScalarUDFImpl for PostgresTextOf {
    fn name(&self) -> &str {
        match self.written {
            Written::Float => "float_text",
            Written::Interval => "interval_text",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arguments: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let written = self.written;
        make_scalar_function(
            move |values: &[ArrayRef]| match (written, values) {
                (Written::Float, [values]) => floats_written(values),
                (Written::Interval, [values]) => intervals_written(values),
                _ => exec_err!("a text writer takes one operand"),
            },
            vec![],
        )(&args.args)
    }
}

fn intervals_written(values: &ArrayRef) -> Result<ArrayRef> {
    let intervals = cast_array(values, &DataType::Interval(IntervalUnit::MonthDayNano))?;
    let texts: StringArray = intervals
        .as_primitive::<IntervalMonthDayNanoType>()
        .iter()
        .map(|value| value.map(|value| postgres_interval(value.months, value.days, value.nanoseconds)))
        .collect();
    Ok(Arc::new(texts))
}

/// PostgreSQL's `postgres` interval style (`EncodeInterval` in `datetime.c`): the years,
/// months and days that are not zero, each with its sign (`1 year`, `-2 mons`, `3 days`),
/// then the time if it is not zero or nothing came before, as `[-]hh:mm:ss[.ffffff]`,
/// with a `+` when an earlier part was negative and the time is not.
fn postgres_interval(months: i32, days: i32, nanoseconds: i64) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut negative_before = false;
    let (years, months) = (months / 12, months % 12);
    for (value, unit) in [(years, "year"), (months, "mon"), (days, "day")] {
        if value != 0 {
            let plural = if value == 1 { "" } else { "s" };
            // A part after a negative one says its sign (`-1 mons +2 days`).
            let sign = if negative_before && value > 0 { "+" } else { "" };
            parts.push(format!("{sign}{value} {unit}{plural}"));
            negative_before = value < 0;
        }
    }
    let microseconds = nanoseconds / 1_000;
    if microseconds != 0 || parts.is_empty() {
        let sign = if microseconds < 0 {
            "-"
        } else if negative_before {
            "+"
        } else {
            ""
        };
        let magnitude = microseconds.unsigned_abs();
        let (hours, rest) = (magnitude / 3_600_000_000, magnitude % 3_600_000_000);
        let (minutes, rest) = (rest / 60_000_000, rest % 60_000_000);
        let (seconds, fraction) = (rest / 1_000_000, rest % 1_000_000);
        let mut time = format!("{sign}{hours:02}:{minutes:02}:{seconds:02}");
        if fraction != 0 {
            let digits = format!("{fraction:06}");
            time.push('.');
            time.push_str(digits.trim_end_matches('0'));
        }
        parts.push(time);
    }
    parts.join(" ")
}

fn floats_written(values: &ArrayRef) -> Result<ArrayRef> {
    let texts: StringArray = match values.data_type() {
        DataType::Float32 => values
            .as_primitive::<Float32Type>()
            .iter()
            .map(|value| value.map(|value| postgres_text(format!("{value:e}"), value.is_nan(), 6)))
            .collect(),
        _ => {
            let doubles = cast_array(values, &DataType::Float64)?;
            doubles
                .as_primitive::<Float64Type>()
                .iter()
                .map(|value| value.map(|value| postgres_text(format!("{value:e}"), value.is_nan(), 15)))
                .collect()
        }
    };
    debug_assert_eq!(texts.len(), values.len());
    Ok(Arc::new(texts))
}

/// PostgreSQL's text of a float from Rust's shortest `{:e}` spelling of it (`-1.5e-7`,
/// `3e0`, `inf`, `NaN`): plain digits when the exponent is from -4 to `digits` - 1, else
/// `d.ddde±XX` with at least two exponent digits.
fn postgres_text(scientific: String, nan: bool, digits: i32) -> String {
    if nan {
        return "NaN".to_owned();
    }
    match scientific.as_str() {
        "inf" => return "Infinity".to_owned(),
        "-inf" => return "-Infinity".to_owned(),
        _ => {}
    }
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((scientific.as_str(), "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let significant: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if !(-4..digits).contains(&exponent) {
        let (first, rest) = significant.split_at(1.min(significant.len()));
        let fraction = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let exponent_sign = if exponent < 0 { '-' } else { '+' };
        return format!(
            "{sign}{first}{fraction}e{exponent_sign}{:02}",
            exponent.unsigned_abs()
        );
    }
    if exponent < 0 {
        let zeros = "0".repeat(usize::try_from(-exponent - 1).unwrap_or(0));
        return format!("{sign}0.{zeros}{significant}");
    }
    let whole = usize::try_from(exponent + 1).unwrap_or(0);
    if significant.len() <= whole {
        format!("{sign}{significant}{}", "0".repeat(whole - significant.len()))
    } else {
        let (integer, fraction) = significant.split_at(whole);
        format!("{sign}{integer}.{fraction}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Float32Array, Float64Array};

    #[test]
    fn intervals_are_written_in_the_postgres_style() {
        assert_eq!(postgres_interval(1, 2, 0), "1 mon 2 days");
        assert_eq!(postgres_interval(14, 0, 0), "1 year 2 mons");
        assert_eq!(postgres_interval(0, 0, 0), "00:00:00");
        assert_eq!(postgres_interval(0, 3, 14_706_500_000_000), "3 days 04:05:06.5");
        assert_eq!(postgres_interval(0, -1, 7_200_000_000_000), "-1 days +02:00:00");
        assert_eq!(postgres_interval(-1, 2, 0), "-1 mons +2 days");
        assert_eq!(
            postgres_interval(-13, 0, -1_000),
            "-1 years -1 mons -00:00:00.000001"
        );
    }

    #[test]
    fn doubles_are_written_as_postgresql_writes_them() {
        let doubles: ArrayRef = Arc::new(Float64Array::from(vec![
            Some(3.0),
            Some(-0.0),
            Some(1e300),
            Some(1.5e-7),
            Some(0.1),
            Some(0.0001),
            Some(123_456_789_012_345.0),
            Some(1_234_567_890_123_456.0),
            Some(-2.5),
            Some(f64::INFINITY),
            Some(f64::NEG_INFINITY),
            Some(f64::NAN),
            Some(0.30000000000000004),
            None,
        ]));
        let Ok(texts) = floats_written(&doubles) else {
            panic!("texts");
        };
        let texts: Vec<_> = texts.as_string::<i32>().iter().collect();
        assert_eq!(
            texts,
            vec![
                Some("3"),
                Some("-0"),
                Some("1e+300"),
                Some("1.5e-07"),
                Some("0.1"),
                Some("0.0001"),
                Some("123456789012345"),
                Some("1.234567890123456e+15"),
                Some("-2.5"),
                Some("Infinity"),
                Some("-Infinity"),
                Some("NaN"),
                Some("0.30000000000000004"),
                None,
            ]
        );
        let reals: ArrayRef = Arc::new(Float32Array::from(vec![Some(1.1_f32), Some(1_234_567.0)]));
        let Ok(texts) = floats_written(&reals) else {
            panic!("texts");
        };
        let texts: Vec<_> = texts.as_string::<i32>().iter().collect();
        assert_eq!(texts, vec![Some("1.1"), Some("1.234567e+06")]);
    }
}
