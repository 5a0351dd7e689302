//! Decimals of CSV and NDJSON files, read exactly or refused.
//!
//! Arrow's CSV and JSON readers parse a decimal by dropping the fraction digits past the
//! scale (`17.685` read as `decimal(10,2)` is `17.68`), silently. So CSV files are read
//! with their decimal fields as text, and NDJSON files (whose numbers the JSON reader will
//! not read as text) as decimals of the same integer digits and all the fraction digits 38
//! leave; [`ExactDecimals`] then converts them the way every database source converts its
//! values ([`decimal_text`]): exactly, rounded where the contract says
//! `rounding: half_even`, or failing the query with an error that names the column and its
//! type, never the value.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use causeway_schemas::Rounding;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, Decimal128Builder};
use datafusion::arrow::datatypes::{DataType, Decimal128Type, Field, Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{Result, exec_err, project_schema};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    TableProviderFilterPushDown, TableType, Volatility,
};
use datafusion::physical_expr::ScalarFunctionExpr;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::projection::{ProjectionExec, ProjectionExpr};

use crate::error::SourceReadError;
use crate::sql::{Unreadable, decimal_text};

/// A table whose decimal fields its `inner` table reads as text, converted exactly.
#[derive(Debug)]
pub(crate) struct ExactDecimals {
    inner: Arc<dyn TableProvider>,
    /// `inner`'s schema with each decimal field's own type.
    schema: SchemaRef,
    rounding: Arc<HashMap<String, Rounding>>,
}

impl ExactDecimals {
    /// `inner` reads the fields that `schema` types as decimals as text.
    pub(crate) fn new(
        inner: Arc<dyn TableProvider>,
        schema: SchemaRef,
        rounding: Arc<HashMap<String, Rounding>>,
    ) -> Self {
        Self {
            inner,
            schema,
            rounding,
        }
    }

    /// `schema` with its decimal fields as text: what a CSV file is read as.
    pub(crate) fn read_as_text(schema: &Schema) -> SchemaRef {
        Self::read_decimals_as(schema, |_, _| DataType::Utf8)
    }

    /// `schema` with each `decimal(p, s)` as `decimal(38, 38 - (p - s))`: the same integer
    /// digits, and as many fraction digits as fit; what an NDJSON file is read as.
    pub(crate) fn read_as_wide(schema: &Schema) -> SchemaRef {
        Self::read_decimals_as(schema, |precision, scale| {
            let integer_digits = i16::from(precision) - i16::from(scale);
            let wide_scale = i8::try_from(38 - integer_digits.clamp(0, 38)).unwrap_or(scale);
            DataType::Decimal128(38, wide_scale.max(scale))
        })
    }

    fn read_decimals_as(schema: &Schema, read: impl Fn(u8, i8) -> DataType) -> SchemaRef {
        let fields: Vec<Field> = schema
            .fields()
            .iter()
            .map(|field| match field.data_type() {
                DataType::Decimal128(precision, scale) => {
                    field.as_ref().clone().with_data_type(read(*precision, *scale))
                }
                _ => field.as_ref().clone(),
            })
            .collect();
        Arc::new(Schema::new(fields))
    }
}

#[async_trait]
impl TableProvider for ExactDecimals {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    /// Filters are typed by the decimal schema, the inner table by text: none is passed on.
    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(vec![TableProviderFilterPushDown::Unsupported; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let input = self.inner.scan(state, projection, &[], limit).await?;
        let wanted = project_schema(&self.schema, projection)?;
        let read = input.schema();
        let config = Arc::new(state.config_options().clone());
        let mut converted = false;
        let mut expressions = Vec::with_capacity(wanted.fields().len());
        for (index, field) in wanted.fields().iter().enumerate() {
            let column = Arc::new(Column::new(field.name(), index));
            let expr: Arc<dyn datafusion::physical_expr::PhysicalExpr> = match field.data_type() {
                DataType::Decimal128(precision, scale)
                    if read.field(index).data_type() != field.data_type() =>
                {
                    converted = true;
                    let udf = Arc::new(ScalarUDF::new_from_impl(ExactDecimal {
                        column: field.name().clone(),
                        precision: *precision,
                        scale: *scale,
                        rounding: self.rounding.get(field.name()).copied(),
                        signature: Signature::any(1, Volatility::Immutable),
                    }));
                    Arc::new(ScalarFunctionExpr::new(
                        "exact_decimal",
                        udf,
                        vec![column],
                        Arc::new(field.as_ref().clone()),
                        Arc::clone(&config),
                    ))
                }
                _ => column,
            };
            expressions.push(ProjectionExpr {
                expr,
                alias: field.name().clone(),
            });
        }
        if !converted {
            return Ok(input);
        }
        Ok(Arc::new(ProjectionExec::try_new(expressions, input)?))
    }
}

/// Text to `decimal(precision, scale)` of one column, as [`decimal_text`] reads it.
#[derive(Debug, PartialEq, Eq, Hash)]
struct ExactDecimal {
    column: String,
    precision: u8,
    scale: i8,
    rounding: Option<Rounding>,
    signature: Signature,
}

impl ScalarUDFImpl for ExactDecimal {
    fn name(&self) -> &str {
        "exact_decimal"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arguments: &[DataType]) -> Result<DataType> {
        Ok(DataType::Decimal128(self.precision, self.scale))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [ColumnarValue::Array(read)] = args.args.as_slice() else {
            return exec_err!("exact_decimal reads one column");
        };
        Ok(ColumnarValue::Array(self.convert(read)?))
    }
}

impl ExactDecimal {
    /// Text, or decimals of a larger scale, as `decimal(precision, scale)`.
    fn convert(&self, read: &ArrayRef) -> Result<ArrayRef> {
        let data_type = DataType::Decimal128(self.precision, self.scale);
        let failed = |problem: Unreadable| {
            SourceReadError::into_datafusion(format!("column '{}' holds {problem} {data_type}", self.column))
        };
        let mut decimals = Decimal128Builder::with_capacity(read.len()).with_data_type(data_type.clone());
        if let Some(text) = read.as_string_opt::<i32>() {
            for value in text {
                match value.map(str::trim).filter(|value| !value.is_empty()) {
                    None => decimals.append_null(),
                    Some(value) => decimals.append_value(
                        decimal_text(value, self.precision, self.scale, self.rounding).map_err(failed)?,
                    ),
                }
            }
        } else if let DataType::Decimal128(_, wide_scale) = read.data_type() {
            for value in read.as_primitive::<Decimal128Type>() {
                match value {
                    None => decimals.append_null(),
                    Some(value) => decimals.append_value(self.rescale(value, *wide_scale).map_err(failed)?),
                }
            }
        } else {
            return exec_err!("exact_decimal reads text or decimals");
        }
        Ok(Arc::new(decimals.finish()))
    }

    /// A decimal of scale `from` (no smaller than this one's) at this scale: exact, or
    /// rounded half to even where asked.
    fn rescale(&self, value: i128, from: i8) -> std::result::Result<i128, Unreadable> {
        let dropped = u32::try_from(i16::from(from) - i16::from(self.scale)).unwrap_or(0);
        let factor = 10_i128.pow(dropped);
        let (mut kept, rest) = (value / factor, value % factor);
        if rest != 0 {
            let Some(Rounding::HalfEven) = self.rounding else {
                return Err(Unreadable::TooPrecise);
            };
            let twice = rest.abs() * 2;
            if twice > factor || (twice == factor && kept % 2 != 0) {
                kept += value.signum();
            }
        }
        if kept.abs() >= 10_i128.pow(u32::from(self.precision)) {
            return Err(Unreadable::OutOfRange("a number"));
        }
        Ok(kept)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Decimal128Array, StringArray};

    fn reader(rounding: Option<Rounding>) -> ExactDecimal {
        ExactDecimal {
            column: "amount".into(),
            precision: 10,
            scale: 2,
            rounding,
            signature: Signature::any(1, Volatility::Immutable),
        }
    }

    #[test]
    fn text_converts_exactly_or_the_read_fails_naming_the_column_not_the_value() {
        let text: ArrayRef = Arc::new(StringArray::from(vec![Some("17.68"), None, Some(""), Some("-3")]));
        let Ok(converted) = reader(None).convert(&text) else {
            panic!("values of two fraction digits read as decimal(10, 2)");
        };
        let values: Vec<_> = converted.as_primitive::<Decimal128Type>().iter().collect();
        assert_eq!(values, vec![Some(1_768), None, None, Some(-300)]);

        let text: ArrayRef = Arc::new(StringArray::from(vec!["17.685"]));
        let Err(error) = reader(None).convert(&text) else {
            panic!("17.685 does not fit decimal(10, 2)");
        };
        let message = error.to_string();
        assert!(message.contains("column 'amount'"), "{message}");
        assert!(!message.contains("17.68"), "{message}");
        let Ok(rounded) = reader(Some(Rounding::HalfEven)).convert(&text) else {
            panic!("rounding was asked for");
        };
        assert_eq!(rounded.as_primitive::<Decimal128Type>().value(0), 1_768);
    }

    #[test]
    fn wide_decimals_rescale_exactly_or_round_half_even_when_asked() {
        // 17.685, 17.675, -0.125 and 17.68 at scale 30.
        let wide = |values: Vec<i128>| -> ArrayRef {
            let scaled = values.into_iter().map(|value| Some(value * 10_i128.pow(27)));
            Arc::new(
                Decimal128Array::from_iter(scaled)
                    .with_precision_and_scale(38, 30)
                    .expect("decimal"),
            )
        };
        let read = wide(vec![17_685, 17_675, -125, 17_680]);
        let Ok(rounded) = reader(Some(Rounding::HalfEven)).convert(&read) else {
            panic!("rounding was asked for");
        };
        let values: Vec<_> = rounded
            .as_primitive::<Decimal128Type>()
            .iter()
            .flatten()
            .collect();
        assert_eq!(values, vec![1_768, 1_768, -12, 1_768]);
        assert!(
            reader(None).convert(&read).is_err(),
            "17.685 does not fit decimal(10, 2)"
        );
        let Ok(exact) = reader(None).convert(&wide(vec![17_680, -2_500])) else {
            panic!("two fraction digits fit");
        };
        let values: Vec<_> = exact.as_primitive::<Decimal128Type>().iter().flatten().collect();
        assert_eq!(values, vec![1_768, -250]);
    }
}
