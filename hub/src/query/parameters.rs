//! The values bound to a statement's placeholders `$1`, `$2`, ...: how many it takes, of
//! which types, and the given values cast to them.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::LogicalPlan;

use super::QueryError;

/// The highest placeholder number a statement may use, PostgreSQL's (`$65535`): the list
/// of types has one entry per number, so a statement naming `$99999999999` would otherwise
/// ask for terabytes.
pub const MAX_PARAMETERS: usize = 65_535;

/// The type of each of the plan's placeholders, `$1` first; a gap in the numbers, or a
/// placeholder whose type the statement does not imply, is `None`.
pub(super) fn parameter_types(plan: &LogicalPlan) -> Result<Vec<Option<DataType>>, DataFusionError> {
    let types = plan.get_parameter_types()?;
    let mut count = 0;
    for name in types.keys() {
        let number = name
            .strip_prefix('$')
            .and_then(|number| number.parse::<usize>().ok());
        match number {
            Some(number) if (1..=MAX_PARAMETERS).contains(&number) => count = count.max(number),
            _ => {
                return Err(DataFusionError::Plan(format!(
                    "placeholders are numbered $1 to ${MAX_PARAMETERS}; {name} is not one of them"
                )));
            }
        }
    }
    Ok((1..=count)
        .map(|index| types.get(&format!("${index}")).cloned().flatten())
        .collect())
}

/// The parameters as the statement's placeholders take them: each value cast to the type the
/// statement implies for its placeholder (a JSON integer for an `int` column, text for a
/// date), as PostgreSQL coerces a bound parameter; a value that does not convert is refused.
pub(super) fn bind_types(
    parameters: Vec<ScalarValue>,
    types: &[Option<DataType>],
) -> Result<Vec<ScalarValue>, QueryError> {
    if parameters.len() != types.len() {
        return Err(QueryError::Plan(format!(
            "the statement takes {} parameters, but {} were given",
            types.len(),
            parameters.len()
        )));
    }
    parameters
        .into_iter()
        .zip(types)
        .enumerate()
        .map(|(index, (value, wanted))| match wanted {
            Some(wanted) if value.is_null() => {
                ScalarValue::try_from(wanted).map_err(|error| QueryError::Plan(error.strip_backtrace()))
            }
            Some(wanted) if value.data_type() != *wanted => value.cast_to(wanted).map_err(|_| {
                QueryError::Plan(format!(
                    "parameter ${} is a {}, which cannot be read as the {wanted} the statement compares it with",
                    index + 1,
                    value.data_type()
                ))
            }),
            _ => Ok(value),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_past_the_limit_are_refused_without_a_list_of_their_size() {
        let context = datafusion::prelude::SessionContext::new();
        let plan = |sql: &str| {
            futures::executor::block_on(context.state().create_logical_plan(sql)).expect("a plan")
        };
        assert_eq!(parameter_types(&plan("SELECT $2, $1")).expect("types").len(), 2);
        assert_eq!(
            parameter_types(&plan("SELECT $65535")).expect("types").len(),
            65_535
        );
        for sql in ["SELECT $65536", "SELECT $99999999999"] {
            let error = parameter_types(&plan(sql)).expect_err(sql).to_string();
            assert!(
                error.contains("placeholders are numbered $1 to $65535"),
                "{sql}: {error}"
            );
        }
    }

    #[test]
    fn values_are_cast_to_the_types_their_placeholders_take() {
        let bound = bind_types(
            vec![
                ScalarValue::Int64(Some(7)),
                ScalarValue::Utf8(Some("2024-02-29".into())),
                ScalarValue::Null,
                ScalarValue::Utf8(Some("as is".into())),
            ],
            &[
                Some(DataType::Int32),
                Some(DataType::Date32),
                Some(DataType::Utf8),
                None,
            ],
        )
        .expect("bound");
        assert_eq!(
            bound,
            [
                ScalarValue::Int32(Some(7)),
                ScalarValue::Date32(Some(19_782)),
                ScalarValue::Utf8(None),
                ScalarValue::Utf8(Some("as is".into())),
            ]
        );
    }

    #[test]
    fn the_wrong_number_or_an_unreadable_value_is_refused() {
        let counted = bind_types(vec![], &[Some(DataType::Int64)]).expect_err("too few");
        assert_eq!(
            counted.to_string(),
            "the statement takes 1 parameters, but 0 were given"
        );
        let unreadable = bind_types(
            vec![ScalarValue::Utf8(Some("not a date".into()))],
            &[Some(DataType::Date32)],
        )
        .expect_err("not a date");
        assert_eq!(unreadable.code(), "invalid_query");
        assert!(unreadable.to_string().contains("parameter $1"), "{unreadable}");
    }
}
