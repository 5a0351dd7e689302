//! A contract checked against the Arrow schema its source really has.

use std::fmt;

use arrow_schema::{DataType, Schema};

use crate::contract::Contract;
use crate::types::{is_widening, logical, same_logical_type};

/// How the source knows its column types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceTyping {
    /// The source stores types (Parquet, databases): they must be the contract's.
    Declared,
    /// The source stores types and its values are converted to the contract's as they are
    /// read: the contract's type must hold every value of the source's (see
    /// [`crate::types::is_widening`]). A `Null` source type stands for any type.
    Widening,
    /// The source stores text (CSV, NDJSON) and its types were guessed from a sample; the
    /// contract's types are used to read it, so a guessed type only has to be readable as
    /// the contract's type.
    Inferred,
    /// Like [`SourceTyping::Inferred`], for sources whose types are only hints and that
    /// keep dates, times and decimals as text (JSON, SQLite): a string may hold them.
    Loose,
}

/// One way a source differs from its contract.
#[derive(Debug, Clone, PartialEq)]
pub enum SchemaMismatch {
    MissingInSource {
        field: String,
        contract: DataType,
    },
    TypeMismatch {
        field: String,
        contract: DataType,
        source: DataType,
    },
}

impl fmt::Display for SchemaMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingInSource { field, contract } => write!(
                f,
                "field '{field}' ({contract} in the contract) does not exist in the source"
            ),
            Self::TypeMismatch {
                field,
                contract,
                source,
            } => write!(
                f,
                "field '{field}' is {contract} in the contract but {source} in the source"
            ),
        }
    }
}

/// Lists every contract field that the source lacks or types differently; empty when the
/// source satisfies the contract. Source columns the contract does not name are allowed:
/// they are simply not published.
pub fn check_against_source(
    contract: &Contract,
    source: &Schema,
    typing: SourceTyping,
) -> Vec<SchemaMismatch> {
    contract
        .fields
        .iter()
        .filter_map(|field| {
            let Ok(column) = source.field_with_name(&field.name) else {
                return Some(SchemaMismatch::MissingInSource {
                    field: field.name.clone(),
                    contract: field.data_type.clone(),
                });
            };
            let matches = match typing {
                SourceTyping::Declared => same_logical_type(&field.data_type, column.data_type()),
                SourceTyping::Widening => {
                    column.data_type() == &DataType::Null || is_widening(column.data_type(), &field.data_type)
                }
                SourceTyping::Inferred => readable_as(column.data_type(), &field.data_type),
                SourceTyping::Loose => {
                    readable_as(column.data_type(), &field.data_type)
                        || (logical(column.data_type()) == DataType::Utf8
                            && (field.data_type.is_temporal()
                                || matches!(
                                    field.data_type,
                                    DataType::Decimal128(..) | DataType::Decimal256(..)
                                )))
                }
            };
            (!matches).then(|| SchemaMismatch::TypeMismatch {
                field: field.name.clone(),
                contract: field.data_type.clone(),
                source: column.data_type().clone(),
            })
        })
        .collect()
}

/// The decimal fields of `contract` whose source column is declared to hold numbers of any
/// scale (PostgreSQL's `numeric` without a precision, read as `Null` under
/// [`SourceTyping::Widening`]) and that do not say how to round: such a column can hold a
/// value the field cannot, which is refused at publish, and named in the catalog and health
/// of a dataset published before this rule. Sources without declared types (CSV, NDJSON,
/// SQLite) are checked value by value as they are read.
pub fn unbounded_decimals(contract: &Contract, source: &Schema, typing: SourceTyping) -> Vec<String> {
    if typing != SourceTyping::Widening {
        return Vec::new();
    }
    contract
        .fields
        .iter()
        .filter(|field| {
            field.rounding.is_none()
                && matches!(
                    field.data_type,
                    DataType::Decimal128(..) | DataType::Decimal256(..)
                )
                && source
                    .field_with_name(&field.name)
                    .is_ok_and(|column| column.data_type() == &DataType::Null)
        })
        .map(|field| field.name.clone())
        .collect()
}

/// Whether text that a reader guessed to be `guessed` parses as `declared`. Any text reads
/// as a string; numbers read as wider numbers; a column guessed to be a string holds text
/// that is not a number, date or boolean, so it reads only as a string.
fn readable_as(guessed: &DataType, declared: &DataType) -> bool {
    use DataType::*;
    let (guessed, declared) = (logical(guessed), logical(declared));
    if guessed == declared || declared == Utf8 || guessed == Null {
        return true;
    }
    let integer = |t: &DataType| t.is_integer();
    match (&guessed, &declared) {
        (g, d) if integer(g) => integer(d) || d.is_floating() || matches!(d, Decimal128(..) | Decimal256(..)),
        (Float64, d) => d.is_floating() || matches!(d, Decimal128(..) | Decimal256(..)),
        (Date32 | Date64, Date32 | Date64 | Timestamp(..)) => true,
        (Timestamp(..), Timestamp(..)) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_schema::Field;

    use super::*;

    fn contract() -> Contract {
        Contract::from_yaml(
            r#"
department: social_security
name: enrolments
title: Enrolments
owner: { name: Desk, email: desk@ss.example.gov }
fields:
  - { name: id_number, type: string, nullable: false }
  - { name: monthly_amount, type: "decimal(10,2)" }
  - { name: enrolled_on, type: date }
"#,
        )
        .unwrap()
    }

    fn schema(fields: Vec<(&str, DataType)>) -> Schema {
        Schema::new(
            fields
                .into_iter()
                .map(|(name, data_type)| Arc::new(Field::new(name, data_type, true)))
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn a_decimal_over_a_numeric_of_any_scale_needs_a_rounding() {
        let source = schema(vec![
            ("id_number", DataType::Utf8),
            ("monthly_amount", DataType::Null),
            ("enrolled_on", DataType::Date32),
        ]);
        let mut contract = contract();
        assert_eq!(
            unbounded_decimals(&contract, &source, SourceTyping::Widening),
            vec!["monthly_amount".to_owned()]
        );
        // Declared precision and scale, or a source read value by value, need none.
        let declared = schema(vec![("monthly_amount", DataType::Decimal128(10, 2))]);
        assert!(unbounded_decimals(&contract, &declared, SourceTyping::Widening).is_empty());
        assert!(unbounded_decimals(&contract, &source, SourceTyping::Loose).is_empty());
        contract.fields[1].rounding = Some(crate::Rounding::HalfEven);
        assert!(unbounded_decimals(&contract, &source, SourceTyping::Widening).is_empty());
    }

    #[test]
    fn a_matching_source_with_extra_columns_passes() {
        let source = schema(vec![
            ("id_number", DataType::Utf8View),
            ("monthly_amount", DataType::Decimal128(10, 2)),
            ("enrolled_on", DataType::Date32),
            ("internal_note", DataType::Utf8),
        ]);
        assert_eq!(
            check_against_source(&contract(), &source, SourceTyping::Declared),
            vec![]
        );
    }

    #[test]
    fn mismatches_name_the_field_and_both_types() {
        let source = schema(vec![
            ("id_number", DataType::Utf8),
            ("monthly_amount", DataType::Float64),
        ]);
        let messages: Vec<String> = check_against_source(&contract(), &source, SourceTyping::Declared)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            messages,
            [
                "field 'monthly_amount' is Decimal128(10, 2) in the contract but Float64 in the source",
                "field 'enrolled_on' (Date32 in the contract) does not exist in the source",
            ]
        );
    }

    #[test]
    fn widening_sources_may_be_read_as_wider_types() {
        let source = schema(vec![
            ("id_number", DataType::Utf8),
            ("monthly_amount", DataType::Decimal128(8, 2)),
            ("enrolled_on", DataType::Null),
        ]);
        assert_eq!(
            check_against_source(&contract(), &source, SourceTyping::Widening),
            vec![]
        );
        let narrower = schema(vec![
            ("id_number", DataType::Utf8),
            ("monthly_amount", DataType::Decimal128(12, 2)),
            ("enrolled_on", DataType::Date32),
        ]);
        let problems = check_against_source(&contract(), &narrower, SourceTyping::Widening);
        assert_eq!(problems.len(), 1, "{problems:?}");
    }

    #[test]
    fn inferred_text_columns_need_only_be_readable() {
        let guessed = schema(vec![
            ("id_number", DataType::Int64),
            ("monthly_amount", DataType::Int64),
            ("enrolled_on", DataType::Date32),
        ]);
        assert_eq!(
            check_against_source(&contract(), &guessed, SourceTyping::Inferred),
            vec![]
        );

        let words = schema(vec![
            ("id_number", DataType::Utf8),
            ("monthly_amount", DataType::Utf8),
            ("enrolled_on", DataType::Date32),
        ]);
        let problems = check_against_source(&contract(), &words, SourceTyping::Inferred);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].to_string().contains("'monthly_amount'"));
    }

    #[test]
    fn loose_strings_may_hold_dates_and_decimals() {
        let guessed = schema(vec![
            ("id_number", DataType::Utf8),
            ("monthly_amount", DataType::Utf8),
            ("enrolled_on", DataType::Utf8),
        ]);
        assert_eq!(
            check_against_source(&contract(), &guessed, SourceTyping::Loose),
            vec![]
        );
        assert_eq!(
            check_against_source(&contract(), &guessed, SourceTyping::Inferred).len(),
            2
        );
    }
}
