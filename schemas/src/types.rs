//! Arrow types as written in contracts, and the rules that relate two types.
//!
//! A contract may spell a type the way Arrow prints it (`Utf8`, `Decimal128(12, 2)`,
//! `Timestamp(µs, "UTC")`) or with a short SQL-like alias (`string`, `bigint`,
//! `decimal(12,2)`, `timestamptz`). Types are always stored in Arrow's spelling.

use arrow_schema::{ArrowError, DataType, TimeUnit};

/// How deeply a contract's type may nest (`List(Struct(...))`): far more than any table
/// needs, and few enough that parsing, comparing and dropping the type recurse safely.
pub const MAX_TYPE_DEPTH: usize = 32;

/// Why a contract's type could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TypeError {
    #[error("the type nests deeper than {MAX_TYPE_DEPTH} levels")]
    TooDeep,
    #[error(
        "unknown type '{text}': use an Arrow type such as Utf8, Int64, Decimal128(12, 2), \
         Date32, Timestamp(µs, \"UTC\") or an alias such as string, bigint, decimal(12,2), date, timestamptz"
    )]
    Unknown {
        text: String,
        #[source]
        source: ArrowError,
    },
}

/// Parses a contract type: an alias (case-insensitive) or Arrow's own spelling.
pub fn parse_type(text: &str) -> Result<DataType, TypeError> {
    let trimmed = text.trim();
    // Arrow's parser recurses once per level: the nesting is counted before it runs.
    let mut depth = 0usize;
    for character in trimmed.chars() {
        match character {
            '(' | '<' | '[' | '{' => depth += 1,
            ')' | '>' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth > MAX_TYPE_DEPTH {
            return Err(TypeError::TooDeep);
        }
    }
    if let Some(data_type) = alias(&trimmed.to_ascii_lowercase()) {
        return Ok(data_type);
    }
    trimmed.parse::<DataType>().map_err(|source| TypeError::Unknown {
        text: trimmed.to_owned(),
        source,
    })
}

fn alias(lower: &str) -> Option<DataType> {
    let data_type = match lower {
        "string" | "text" | "varchar" => DataType::Utf8,
        "bool" | "boolean" => DataType::Boolean,
        "tinyint" | "int8" => DataType::Int8,
        "smallint" | "int16" => DataType::Int16,
        "int" | "integer" | "int32" => DataType::Int32,
        "bigint" | "int64" => DataType::Int64,
        "float" | "real" | "float32" => DataType::Float32,
        "double" | "float64" => DataType::Float64,
        "date" => DataType::Date32,
        "timestamp" => DataType::Timestamp(TimeUnit::Microsecond, None),
        "timestamptz" => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        "binary" | "bytes" | "bytea" => DataType::Binary,
        _ => return decimal_alias(lower),
    };
    Some(data_type)
}

fn decimal_alias(lower: &str) -> Option<DataType> {
    let inner = lower
        .strip_prefix("decimal(")
        .or_else(|| lower.strip_prefix("numeric("))?
        .strip_suffix(')')?;
    let (precision, scale) = inner.split_once(',')?;
    let precision: u8 = precision.trim().parse().ok()?;
    let scale: i8 = scale.trim().parse().ok()?;
    if precision == 0 || scale < 0 || scale as u8 > precision {
        return None;
    }
    Some(if precision <= 38 {
        DataType::Decimal128(precision, scale)
    } else {
        DataType::Decimal256(precision, scale)
    })
}

/// The type a reader sees, with physical variants of the same logical type folded together:
/// strings, binaries and dictionary encodings differ in layout, not in the values they hold,
/// and sources store timestamps in the unit they like (PostgreSQL in microseconds, its
/// readers in nanoseconds) without changing what a timestamp means.
pub fn logical(data_type: &DataType) -> DataType {
    match data_type {
        DataType::LargeUtf8 | DataType::Utf8View => DataType::Utf8,
        DataType::LargeBinary | DataType::BinaryView => DataType::Binary,
        DataType::Dictionary(_, value) => logical(value),
        DataType::Timestamp(_, zone) => DataType::Timestamp(
            TimeUnit::Microsecond,
            zone.as_ref()
                .map(|zone| if is_utc(zone) { "UTC".into() } else { zone.clone() }),
        ),
        other => other.clone(),
    }
}

fn is_utc(zone: &str) -> bool {
    matches!(zone, "UTC" | "utc" | "+00:00" | "Z" | "Etc/UTC")
}

/// Whether two types hold the same values.
pub fn same_logical_type(left: &DataType, right: &DataType) -> bool {
    logical(left) == logical(right)
}

/// Whether every value of `from` is exactly representable in `to`, so a reader written for
/// `from` keeps working when a column changes to `to`.
pub fn is_widening(from: &DataType, to: &DataType) -> bool {
    use DataType::*;
    let (from, to) = (logical(from), logical(to));
    if from == to {
        return true;
    }
    match (&from, &to) {
        (Decimal128(p, s) | Decimal256(p, s), Decimal128(p2, s2) | Decimal256(p2, s2)) => {
            decimal_holds(*p, *s, *p2, *s2)
                && !(matches!(from, Decimal256(..)) && matches!(to, Decimal128(..)))
        }
        (Date32, Date64) | (Float16, Float32 | Float64) | (Float32, Float64) => true,
        (_, Decimal128(p, s) | Decimal256(p, s)) => {
            integer_digits(&from).is_some_and(|digits| i16::from(*p) - i16::from(*s) >= digits)
        }
        (_, Float64) => integer_bits(&from).is_some_and(|bits| bits <= 32),
        (_, Float32) => integer_bits(&from).is_some_and(|bits| bits <= 16),
        _ => match (integer_range(&from), integer_range(&to)) {
            (Some((from_min, from_max)), Some((to_min, to_max))) => to_min <= from_min && from_max <= to_max,
            _ => false,
        },
    }
}

fn decimal_holds(precision: u8, scale: i8, new_precision: u8, new_scale: i8) -> bool {
    let integer_digits = i16::from(precision) - i16::from(scale);
    let new_integer_digits = i16::from(new_precision) - i16::from(new_scale);
    new_scale >= scale && new_integer_digits >= integer_digits
}

fn integer_range(data_type: &DataType) -> Option<(i128, i128)> {
    use DataType::*;
    Some(match data_type {
        Int8 => (i8::MIN.into(), i8::MAX.into()),
        Int16 => (i16::MIN.into(), i16::MAX.into()),
        Int32 => (i32::MIN.into(), i32::MAX.into()),
        Int64 => (i64::MIN.into(), i64::MAX.into()),
        UInt8 => (0, u8::MAX.into()),
        UInt16 => (0, u16::MAX.into()),
        UInt32 => (0, u32::MAX.into()),
        UInt64 => (0, u64::MAX.into()),
        _ => return None,
    })
}

fn integer_bits(data_type: &DataType) -> Option<u32> {
    let (min, max) = integer_range(data_type)?;
    let magnitude = max.max(-min);
    Some(128 - magnitude.leading_zeros())
}

fn integer_digits(data_type: &DataType) -> Option<i16> {
    let (min, max) = integer_range(data_type)?;
    let magnitude = max.max(-min);
    Some(magnitude.to_string().len() as i16)
}

#[cfg(test)]
mod depth_tests {
    use super::*;

    #[test]
    fn deeply_nested_types_are_refused_before_they_are_parsed() {
        let deep = format!("{}Int64{}", "List(".repeat(100_000), ")".repeat(100_000));
        let error = parse_type(&deep).unwrap_err().to_string();
        assert!(error.contains("deeper than 32"), "{error}");
        let fine = format!("{}Int64{}", "List(".repeat(3), ")".repeat(3));
        assert!(parse_type(&fine).is_ok(), "{:?}", parse_type(&fine));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(text: &str) -> DataType {
        parse_type(text).unwrap_or_else(|message| panic!("{message}"))
    }

    #[test]
    fn aliases_and_arrow_spellings_parse_to_the_same_types() {
        assert_eq!(ty("string"), DataType::Utf8);
        assert_eq!(ty("Utf8"), DataType::Utf8);
        assert_eq!(ty("decimal(12, 2)"), DataType::Decimal128(12, 2));
        assert_eq!(ty("Decimal128(12, 2)"), DataType::Decimal128(12, 2));
        assert_eq!(ty("DATE"), DataType::Date32);
        assert_eq!(
            ty("timestamptz"),
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        );
        assert_eq!(
            ty("Timestamp(Microsecond, Some(\"UTC\"))"),
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        );
    }

    #[test]
    fn printed_types_parse_back() {
        for text in [
            "Int64",
            "Decimal128(12, 2)",
            "timestamptz",
            "date",
            "LargeUtf8",
            "Binary",
        ] {
            let data_type = ty(text);
            assert_eq!(ty(&data_type.to_string()), data_type, "{text}");
        }
    }

    #[test]
    fn unknown_types_are_refused_with_a_hint() {
        let message = parse_type("varchar2").unwrap_err().to_string();
        assert!(
            message.contains("varchar2") && message.contains("Utf8"),
            "{message}"
        );
        assert!(parse_type("decimal(3,5)").is_err());
    }

    #[test]
    fn widening_keeps_every_value() {
        assert!(is_widening(&ty("int"), &ty("bigint")));
        assert!(is_widening(&DataType::UInt32, &DataType::Int64));
        assert!(is_widening(&ty("int"), &ty("double")));
        assert!(is_widening(&ty("decimal(10,2)"), &ty("decimal(12,3)")));
        assert!(is_widening(&ty("int"), &ty("decimal(12,2)")));
        assert!(is_widening(&DataType::Utf8, &DataType::LargeUtf8));
        assert!(is_widening(&DataType::Date32, &DataType::Date64));
    }

    #[test]
    fn narrowing_and_lossy_changes_are_not_widening() {
        assert!(!is_widening(&ty("bigint"), &ty("int")));
        assert!(!is_widening(&DataType::Int64, &DataType::Float64));
        assert!(!is_widening(&DataType::Int32, &DataType::UInt64));
        assert!(!is_widening(&ty("decimal(12,2)"), &ty("decimal(12,3)")));
        assert!(!is_widening(&ty("bigint"), &ty("decimal(12,2)")));
        assert!(!is_widening(&DataType::Utf8, &DataType::Int64));
        assert!(!is_widening(&DataType::Int64, &DataType::Utf8));
    }

    #[test]
    fn physical_variants_are_the_same_logical_type() {
        assert!(same_logical_type(&DataType::Utf8View, &DataType::Utf8));
        assert!(same_logical_type(
            &DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
            &DataType::LargeUtf8
        ));
        assert!(same_logical_type(
            &ty("Timestamp(µs, \"+00:00\")"),
            &ty("timestamptz")
        ));
        assert!(same_logical_type(
            &ty("Timestamp(ns, \"UTC\")"),
            &ty("timestamptz")
        ));
        assert!(!same_logical_type(&ty("timestamp"), &ty("timestamptz")));
        assert!(!same_logical_type(&DataType::Int32, &DataType::Int64));
    }
}
