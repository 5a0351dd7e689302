//! Decimals of CSV files, read exactly or refused.
//!
//! Arrow's CSV reader parses a decimal by dropping the fraction digits past the scale
//! (`17.685` read as `decimal(10,2)` is `17.68`), silently. So CSV files are read with
//! their decimal fields as text, and [`ExactDecimals`] converts that text the way every
//! database source converts its values ([`decimal_text`]): exactly, rounded where the
//! contract says `rounding: half_even`, or failing the query with an error that names the
//! column and its type, never the value.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use causeway_schemas::Rounding;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, Decimal128Builder};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
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
use crate::sql::decimal_text;

/// A table whose decimal fields its `inner` table reads as text, converted exactly.
#[derive(Debug)]
pub(crate) struct ExactDecimals {
    inner: Arc<dyn TableProvider>,
    /// `inner`'s schema with each decimal field's own type.
    schema: SchemaRef,
    rounding: HashMap<String, Rounding>,
}

impl ExactDecimals {
    /// `inner` reads the fields that `schema` types as decimals as text.
    pub(crate) fn new(
        inner: Arc<dyn TableProvider>,
        schema: SchemaRef,
        rounding: HashMap<String, Rounding>,
    ) -> Self {
        Self {
            inner,
            schema,
            rounding,
        }
    }

    /// `schema` with its decimal fields as text: what the file is read as.
    pub(crate) fn read_as_text(schema: &Schema) -> SchemaRef {
        let fields: Vec<Field> = schema
            .fields()
            .iter()
            .map(|field| match field.data_type() {
                DataType::Decimal128(..) => field.as_ref().clone().with_data_type(DataType::Utf8),
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
                    if read.field(index).data_type() == &DataType::Utf8 =>
                {
                    converted = true;
                    let udf = Arc::new(ScalarUDF::new_from_impl(ExactDecimal {
                        column: field.name().clone(),
                        precision: *precision,
                        scale: *scale,
                        rounding: self.rounding.get(field.name()).copied(),
                        signature: Signature::exact(vec![DataType::Utf8], Volatility::Immutable),
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
        let [ColumnarValue::Array(text)] = args.args.as_slice() else {
            return exec_err!("exact_decimal reads one column of text");
        };
        Ok(ColumnarValue::Array(self.convert(text)?))
    }
}

impl ExactDecimal {
    fn convert(&self, text: &ArrayRef) -> Result<ArrayRef> {
        let Some(text) = text.as_string_opt::<i32>() else {
            return exec_err!("exact_decimal reads text");
        };
        let data_type = DataType::Decimal128(self.precision, self.scale);
        let mut decimals = Decimal128Builder::with_capacity(text.len()).with_data_type(data_type.clone());
        for value in text {
            match value.map(str::trim).filter(|value| !value.is_empty()) {
                None => decimals.append_null(),
                Some(value) => {
                    let number = decimal_text(value, self.precision, self.scale, self.rounding).map_err(
                        |problem| {
                            SourceReadError::into_datafusion(format!(
                                "column '{}' holds {problem} {data_type}",
                                self.column
                            ))
                        },
                    )?;
                    decimals.append_value(number);
                }
            }
        }
        Ok(Arc::new(decimals.finish()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::StringArray;
    use datafusion::arrow::datatypes::Decimal128Type;

    fn reader(rounding: Option<Rounding>) -> ExactDecimal {
        ExactDecimal {
            column: "amount".into(),
            precision: 10,
            scale: 2,
            rounding,
            signature: Signature::exact(vec![DataType::Utf8], Volatility::Immutable),
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
}
