//! The rewrite that enforces a decision: a scan of a dataset becomes the scan, then the
//! rows the grants let through, then a projection of every column under its own name,
//! masked as granted, or a stand-in for a column that may not be read. Whatever the query
//! does above (joins, aggregates, windows, predicates) sees only this. The optimiser may
//! still push the row filter and the query's own filters into the source.

mod column_mask;
mod grant_check;
mod row_barrier;
pub mod row_filter;

use std::sync::Arc;

use datafusion::catalog::TableProvider;
use datafusion::common::{Column, DFSchema, TableReference};
use datafusion::datasource::provider_as_source;
use datafusion::execution::session_state::SessionState;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder};

use crate::decision::{ColumnAccess, DatasetInfo, Decision};
use crate::error::PolicyError;
use crate::model::{Grant, GrantKind};
use crate::principal::Principal;
use crate::syntax::SyntaxLimits;
use crate::udf::PolicyFunctions;
use grant_check::Branch;

pub use column_mask::mask_expr;
pub use row_barrier::{RowBarrier, RowBarrierExec};

/// What the rewrite needs besides the decision.
pub struct RewriteContext<'a> {
    pub principal: &'a Principal,
    pub functions: &'a PolicyFunctions,
    /// Parses row filters and SQL masks; no data is read.
    pub session: &'a SessionState,
    /// How deep and large row filters and SQL masks may be.
    pub limits: SyntaxLimits,
}

/// A view of `table` (the dataset's published table, known to queries as `reference`)
/// holding exactly the rows and columns `decision` allows.
pub fn secure_view(
    table: Arc<dyn TableProvider>,
    reference: TableReference,
    dataset: &DatasetInfo,
    decision: &Decision,
    context: &RewriteContext<'_>,
) -> Result<LogicalPlan, PolicyError> {
    // Row filters name the table's columns without qualifier: they are evaluated inside
    // the scan, and the projection above resolves them against the scan.
    let schema = DFSchema::try_from(table.schema())?;
    let conditions = decision
        .grants
        .iter()
        .map(|grant| match &grant.row_filter {
            None => Ok(datafusion::logical_expr::lit(true)),
            Some(filter) => row_filter::bind(
                filter,
                context.principal,
                &schema,
                context.session,
                &context.limits,
            )
            .map_err(|source| PolicyError::RowFilter {
                grant: grant.id.clone(),
                filter: filter.clone(),
                source,
            }),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let rows = grant_check::visible_rows(&conditions);
    let dataset_name = dataset.id.to_string();
    let mut columns = Vec::with_capacity(dataset.columns.len());
    for (column, decided) in dataset.columns.iter().zip(&decision.columns) {
        let field = column_of(&schema, &column.name)?;
        let value = match &decided.access {
            ColumnAccess::Denied { .. } => {
                context
                    .functions
                    .denied(&dataset_name, &column.name, &column.data_type)?
            }
            ColumnAccess::Visible { through } => {
                let branches = through
                    .iter()
                    .map(|source| {
                        let value = match &source.mask {
                            None => field.clone(),
                            Some(mask) => mask_expr(
                                field.clone(),
                                &column.data_type,
                                mask,
                                context.functions,
                                &schema,
                                context.session,
                                &context.limits,
                            )
                            .map_err(|error| PolicyError::Mask {
                                grant: source.grant_id.clone(),
                                column: column.name.clone(),
                                source: error,
                            })?,
                        };
                        Ok(Branch {
                            condition: conditions[source.grant].clone(),
                            value,
                        })
                    })
                    .collect::<Result<Vec<_>, PolicyError>>()?;
                grant_check::column_value(branches, &rows, &schema).map_err(PolicyError::Plan)?
            }
        };
        columns.push(value.alias(&column.name));
    }
    let source: Arc<dyn TableProvider> = if grant_check::is_true(&rows) {
        table
    } else {
        Arc::new(RowBarrier::new(table, rows))
    };
    Ok(
        LogicalPlanBuilder::scan(reference, provider_as_source(source), None)?
            .project(columns)?
            .build()?,
    )
}

fn column_of(schema: &DFSchema, name: &str) -> Result<Expr, PolicyError> {
    let (qualifier, field) = schema.qualified_field_with_unqualified_name(name)?;
    Ok(Expr::Column(Column::new(qualifier.cloned(), field.name())))
}

/// Checks a grant against the dataset it is for: its columns exist, its masks fit their
/// columns, its row filter parses to a condition over the dataset.
pub fn validate_grant(
    grant: &Grant,
    dataset: &DatasetInfo,
    context: &RewriteContext<'_>,
) -> Result<(), PolicyError> {
    let invalid = |message: String| PolicyError::Invalid {
        grant: grant.id.clone(),
        message,
    };
    if grant.dataset != dataset.id {
        return Err(invalid(format!(
            "it is for {}, not {}",
            grant.dataset, dataset.id
        )));
    }
    check_terms(grant)?;
    check_kind(grant, dataset).map_err(invalid)?;
    let schema = dataset_schema(dataset)?;
    let known = |name: &String| name == "*" || dataset.columns.iter().any(|column| column.name == *name);
    let named = grant
        .columns
        .iter()
        .chain(grant.masks.keys())
        .chain(grant.unmasked.iter());
    for column in named {
        if !known(column) {
            return Err(PolicyError::UnknownColumn {
                grant: grant.id.clone(),
                dataset: dataset.id.to_string(),
                column: column.clone(),
            });
        }
    }
    for (name, mask) in &grant.masks {
        let Some(column) = dataset.columns.iter().find(|column| column.name == *name) else {
            continue;
        };
        let field = column_of(&schema, name)?;
        mask_expr(
            field,
            &column.data_type,
            mask,
            context.functions,
            &schema,
            context.session,
            &context.limits,
        )
        .map_err(|source| PolicyError::Mask {
            grant: grant.id.clone(),
            column: name.clone(),
            source,
        })?;
    }
    if let Some(filter) = &grant.row_filter {
        row_filter::check(filter, &schema, context.session, &context.limits).map_err(|source| {
            PolicyError::RowFilter {
                grant: grant.id.clone(),
                filter: filter.clone(),
                source,
            }
        })?;
    }
    Ok(())
}

/// Checks what a grant says that needs no dataset to judge: a purpose, dates in order, and
/// the terms its kind may take (a verify grant names the columns it matches on and takes
/// neither masks nor row quotas, since it returns no value and no row; only verify grants
/// take verify terms). [`validate_grant`] runs it first; `causeway policy check` runs it
/// alone on grants whose dataset it cannot see.
pub fn check_terms(grant: &Grant) -> Result<(), PolicyError> {
    terms_of_kind(grant).map_err(|message| PolicyError::Invalid {
        grant: grant.id.clone(),
        message,
    })
}

fn terms_of_kind(grant: &Grant) -> Result<(), String> {
    if grant.purposes.is_empty() {
        return Err("it names no purpose".into());
    }
    if let (Some(from), Some(until)) = (grant.valid_from, grant.expires_at)
        && until <= from
    {
        return Err("it expires before it starts".into());
    }
    match grant.kind {
        GrantKind::Read => {
            if grant.verify.is_some() {
                return Err("only a verify grant (kind: verify) takes verify terms".into());
            }
            if grant.max_subjects_per_day == Some(0) {
                return Err("max_subjects_per_day of 0 allows nothing: revoke the grant instead".into());
            }
            Ok(())
        }
        GrantKind::Verify => {
            if grant.columns.iter().any(|column| column == "*") {
                return Err("a verify grant names the columns it matches on, not *".into());
            }
            if !grant.masks.is_empty() || !grant.unmasked.is_empty() {
                return Err(
                    "a verify grant returns no value, so it takes no masks and no unmasked columns".into(),
                );
            }
            if grant.max_rows_per_query.is_some()
                || grant.max_rows_per_day.is_some()
                || grant.max_subjects_per_day.is_some()
            {
                return Err(
                    "a verify grant returns no row; limit it with verify.max_records_per_day instead of row quotas"
                        .into(),
                );
            }
            let terms = grant.verify_terms();
            if terms.max_attempts_per_subject == 0 || terms.max_records_per_day == 0 {
                return Err(
                    "a verify grant allows at least one attempt a subject and one record a day".into(),
                );
            }
            Ok(())
        }
    }
}

/// What a grant of its kind needs of its dataset: a subject key to count subjects by, and
/// for a verify grant that key among the columns it matches on.
fn check_kind(grant: &Grant, dataset: &DatasetInfo) -> Result<(), String> {
    match grant.kind {
        GrantKind::Read => {
            if grant.max_subjects_per_day.is_some() && dataset.subject_key.is_empty() {
                return Err(format!(
                    "{} names no subject key in its contract, so its subjects cannot be counted for max_subjects_per_day",
                    dataset.id
                ));
            }
            Ok(())
        }
        GrantKind::Verify => {
            if dataset.subject_key.is_empty() {
                return Err(format!(
                    "{} names no subject key in its contract, so a verify grant on it could not count attempts per person",
                    dataset.id
                ));
            }
            if let Some(key) = dataset
                .subject_key
                .iter()
                .find(|key| !grant.columns.contains(*key))
            {
                return Err(format!(
                    "a verify grant matches on the subject key of {}: add '{key}' to its columns",
                    dataset.id
                ));
            }
            Ok(())
        }
    }
}

/// The dataset's columns as a plan schema qualified by the dataset's name.
pub fn dataset_schema(dataset: &DatasetInfo) -> Result<DFSchema, PolicyError> {
    let schema = datafusion::arrow::datatypes::Schema::new(
        dataset
            .columns
            .iter()
            .map(|column| {
                datafusion::arrow::datatypes::Field::new(&column.name, column.data_type.clone(), true)
            })
            .collect::<Vec<_>>(),
    );
    let reference = TableReference::partial(dataset.id.department.as_str(), dataset.id.name.as_str());
    Ok(DFSchema::try_from_qualified_schema(reference, &schema)?)
}

#[cfg(test)]
mod tests;
