//! Matching records against a dataset for verify-only grants: one scan of the rows of the
//! records' subjects (the subject key's values handed to the source as `IN` lists, so that
//! a database uses its index and an accelerated copy its hash lookup), under the grants' row
//! filters, compared here value by value. Nothing of a row leaves this module but whether
//! it matched.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use causeway_policies::rewrite::RowBarrier;
use causeway_policies::{DatasetId, Principal, VerifyPlan};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::catalog::TableProvider;
use datafusion::common::{Column, DFSchema, ScalarValue, TableReference};
use datafusion::datasource::provider_as_source;
use datafusion::logical_expr::utils::disjunction;
use datafusion::logical_expr::{Expr, LogicalPlanBuilder, in_list, lit};
use datafusion::physical_plan::collect;

use super::{QueryEngine, QueryError, UnknownDataset};

/// The records of one call, column by column: every record gives the same columns, the
/// subject key's first. A value is `None` where it cannot be a value of its column (text
/// that is no date for a date column, a null): it matches nothing.
#[derive(Debug, Clone)]
pub struct Records {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<ScalarValue>>>,
}

/// Whether one record matched a row of its subject, and, per given column, whether the row
/// of its subject that agrees with it on most columns has that value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordMatch {
    pub matched: bool,
    pub columns: BTreeMap<String, bool>,
}

impl QueryEngine {
    /// The type of each of `columns` of `dataset`, as its table gives them.
    pub fn column_types(&self, dataset: &DatasetId, columns: &[String]) -> Result<Vec<DataType>, QueryError> {
        let info = self
            .dataset(dataset)
            .ok_or_else(|| QueryError::UnknownTable(UnknownDataset::dataset(dataset)))?;
        columns
            .iter()
            .map(|name| {
                info.columns
                    .iter()
                    .find(|column| column.name == *name)
                    .map(|column| column.data_type.clone())
                    .ok_or_else(|| QueryError::Plan(format!("'{name}' is not a column of {dataset}")))
            })
            .collect()
    }

    /// Matches `records` (whose first `key_len` columns are the subject key) against the
    /// rows of `dataset` that `plan`'s row filters let through for `principal`.
    pub async fn match_records(
        &self,
        principal: &Principal,
        dataset: &DatasetId,
        plan: &VerifyPlan,
        key_len: usize,
        records: &Records,
    ) -> Result<Vec<RecordMatch>, QueryError> {
        let no_match = |record: &Vec<Option<ScalarValue>>| RecordMatch {
            matched: false,
            columns: records
                .columns
                .iter()
                .zip(record)
                .map(|(column, _)| (column.clone(), false))
                .collect(),
        };
        // The subject key's values of each record that has them all.
        let keys: Vec<Option<Vec<ScalarValue>>> = records
            .rows
            .iter()
            .map(|record| record[..key_len].iter().cloned().collect::<Option<Vec<_>>>())
            .collect();
        let mut wanted: Vec<Vec<ScalarValue>> = vec![Vec::new(); key_len];
        for key in keys.iter().flatten() {
            for (values, value) in wanted.iter_mut().zip(key) {
                if !values.contains(value) {
                    values.push(value.clone());
                }
            }
        }
        if wanted.first().is_none_or(Vec::is_empty) {
            return Ok(records.rows.iter().map(no_match).collect());
        }
        let rows = self
            .subject_rows(principal, dataset, plan, &records.columns, wanted)
            .await?;
        // Each subject's rows, as the given columns' values.
        let mut by_subject: HashMap<&[ScalarValue], Vec<&[ScalarValue]>> = HashMap::new();
        for row in &rows {
            by_subject.entry(&row[..key_len]).or_default().push(&row[..]);
        }
        Ok(records
            .rows
            .iter()
            .zip(&keys)
            .map(|(record, key)| {
                let Some(found) = key.as_ref().and_then(|key| by_subject.get(key.as_slice())) else {
                    return no_match(record);
                };
                let equal = |row: &[ScalarValue], index: usize| record[index].as_ref() == Some(&row[index]);
                let agreeing =
                    |row: &[ScalarValue]| (0..record.len()).filter(|index| equal(row, *index)).count();
                // The columns are those of the one row that agrees on most of them (the first
                // such): a subject's answer never combines values from different rows.
                let Some(best) = found.iter().copied().rev().max_by_key(|row| agreeing(row)) else {
                    return no_match(record);
                };
                let matched = agreeing(best) == record.len();
                let columns = records
                    .columns
                    .iter()
                    .enumerate()
                    .map(|(index, column)| (column.clone(), equal(best, index)))
                    .collect();
                RecordMatch { matched, columns }
            })
            .collect())
    }

    /// The values of `columns` in the rows whose subject key (the first columns) takes one
    /// of `wanted`'s values, among those `plan`'s row filters let through; one scan, on the
    /// query threads, under the hub's query slots and time limit.
    async fn subject_rows(
        &self,
        principal: &Principal,
        dataset: &DatasetId,
        plan: &VerifyPlan,
        columns: &[String],
        wanted: Vec<Vec<ScalarValue>>,
    ) -> Result<Vec<Vec<ScalarValue>>, QueryError> {
        let table = self
            .catalog()
            .map_err(|error| self.classify(error))?
            .schema(&dataset.department)
            .ok_or_else(|| QueryError::UnknownTable(UnknownDataset::dataset(dataset)))?
            .table(&dataset.name)
            .await
            .map_err(|error| self.classify(error))?
            .ok_or_else(|| QueryError::UnknownTable(UnknownDataset::dataset(dataset)))?;
        let state = self.context.state();
        let schema = DFSchema::try_from(table.schema()).map_err(|error| self.classify(error))?;
        let column = |name: &str| Expr::Column(Column::new_unqualified(name));
        // The grants' row filters as the barrier inside the scan, as for a query.
        let source = match &plan.row_filters {
            None => table,
            Some(filters) => {
                let conditions = filters
                    .iter()
                    .map(|filter| {
                        causeway_policies::rewrite::row_filter::bind(
                            filter,
                            principal,
                            &schema,
                            &state,
                            &self.access.limits(),
                        )
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|error| QueryError::Policy(error.to_string()))?;
                let rows = disjunction(conditions).unwrap_or_else(|| lit(false));
                let barrier: Arc<dyn TableProvider> = Arc::new(RowBarrier::new(table, rows));
                // Its functions held to the memory limit before they allocate, as a query's.
                let budget = super::bounded::ResultBudget::new(self.memory_limit_bytes());
                super::bounded::bounded_source(&barrier, &budget)
                    .map_err(|error| self.classify(error))?
                    .unwrap_or(barrier)
            }
        };
        let subjects = wanted
            .into_iter()
            .enumerate()
            .map(|(index, values)| {
                in_list(
                    column(&columns[index]),
                    values.into_iter().map(lit).collect(),
                    false,
                )
            })
            .reduce(|all, one| all.and(one))
            .unwrap_or_else(|| lit(false));
        let reference = TableReference::partial(dataset.department.as_str(), dataset.name.as_str());
        let logical = LogicalPlanBuilder::scan(reference, provider_as_source(source), None)
            .and_then(|builder| builder.filter(subjects))
            .and_then(|builder| builder.project(columns.iter().map(|name| column(name))))
            .and_then(LogicalPlanBuilder::build)
            .map_err(|error| self.classify(error))?;
        let types = self.column_types(dataset, columns)?;
        let permit = Arc::clone(&self.permits)
            .try_acquire_owned()
            .map_err(|_| QueryError::Busy(self.limits.max_concurrent_queries))?;
        let timeout = self.limits.query_timeout;
        let collected = self
            .on_query_threads(async move {
                let _permit = permit;
                tokio::time::timeout(timeout, async {
                    let physical = state.create_physical_plan(&logical).await?;
                    collect(physical, state.task_ctx()).await
                })
                .await
            })
            .await?;
        let batches = collected
            .map_err(|_| QueryError::Timeout(timeout))?
            .map_err(|error| self.classify(error))?;
        let mut rows = Vec::new();
        for batch in batches {
            // Values compared as the contract types them, whatever the source's arrays are.
            let arrays = batch
                .columns()
                .iter()
                .zip(&types)
                .map(|(array, data_type)| cast(array, data_type))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|error| self.classify(error.into()))?;
            for index in 0..batch.num_rows() {
                rows.push(
                    arrays
                        .iter()
                        .map(|array| ScalarValue::try_from_array(array, index))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|error| self.classify(error))?,
                );
            }
        }
        Ok(rows)
    }
}
