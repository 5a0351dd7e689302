//! The largest result a function can make from its arguments, before it makes it.

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::ScalarValue;

use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs};

/// How the largest result of a function is found from its arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Estimate {
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
    pub(super) fn of(name: &str) -> Self {
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
    pub(super) fn bytes(self, args: &ScalarFunctionArgs) -> usize {
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
pub(super) fn array_bytes(array: &dyn Array) -> usize {
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
pub(super) fn is_variable_width(data_type: &DataType) -> bool {
    !data_type.is_primitive() && !matches!(data_type, DataType::Boolean | DataType::Null)
}
