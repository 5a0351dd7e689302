//! What a query reads, for its audit record: the datasets and columns its optimised plan
//! scans, and the masks, row filters and grants that apply to them.

use std::collections::{BTreeSet, HashMap};

use causeway_policies::{ColumnAccess, DatasetId, DatasetInfo, Decision, RowQuota};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::logical_expr::LogicalPlan;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reads {
    /// `department.name`
    pub datasets: Vec<String>,
    /// `department.name.column`
    pub columns: Vec<String>,
    /// `department.name.column: mask`
    pub masks: Vec<String>,
    /// `department.name: filter`
    pub row_filters: Vec<String>,
    pub grants: Vec<String>,
    /// The row quota of each dataset read under grants.
    pub quotas: Vec<(String, RowQuota)>,
    /// The distinct-person quota of each dataset read under one.
    pub subject_quotas: Vec<(String, u64)>,
    /// The classification of each column read, e.g. `pii.name`, once each.
    pub classifications: BTreeSet<String>,
}

/// The reads of `plan`, whose datasets were decided by `decisions` and are described in
/// `datasets`. Scans count, not names:
/// a catalog query that looks at every dataset's columns reads none of them. The hub's own
/// tables count as datasets (`audit.events`), the catalog's (`information_schema`) do not.
pub fn reads(
    plan: &LogicalPlan,
    decisions: &[Decision],
    datasets: &HashMap<DatasetId, DatasetInfo>,
) -> Reads {
    let mut scanned: Vec<(String, Vec<String>)> = Vec::new();
    let _ = plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            if scan.table_name.schema() == Some("information_schema") {
                return Ok(TreeNodeRecursion::Continue);
            }
            // `department.name`, whether the query named the catalog or not.
            let table = match scan.table_name.schema() {
                Some(schema) => format!("{schema}.{}", scan.table_name.table()),
                None => scan.table_name.to_string(),
            };
            let columns = scan
                .projected_schema
                .fields()
                .iter()
                .map(|field| field.name().clone());
            match scanned.iter_mut().find(|(name, _)| *name == table) {
                Some((_, known)) => known.extend(columns),
                None => scanned.push((table, columns.collect())),
            }
        }
        Ok(TreeNodeRecursion::Continue)
    });
    let mut reads = Reads::default();
    let mut grants = BTreeSet::new();
    for (table, columns) in scanned {
        let Some(decision) = decisions
            .iter()
            .find(|decision| decision.dataset.to_string() == table)
        else {
            reads
                .columns
                .extend(columns.iter().map(|column| format!("{table}.{column}")));
            reads.datasets.push(table);
            continue;
        };
        let columns: BTreeSet<String> = columns.into_iter().collect();
        for column in &decision.columns {
            if !columns.contains(&column.name) {
                continue;
            }
            reads.columns.push(format!("{table}.{}", column.name));
            if let Some(info) = datasets.get(&decision.dataset)
                && let Some(described) = info
                    .columns
                    .iter()
                    .find(|described| described.name == column.name)
            {
                reads.classifications.insert(described.classification.to_string());
            }
            if let ColumnAccess::Visible { through } = &column.access {
                for source in through {
                    if let Some(mask) = &source.mask {
                        reads.masks.push(format!("{table}.{}: {mask}", column.name));
                    }
                }
            }
        }
        reads.quotas.push((table.clone(), decision.row_quota()));
        if let Some(limit) = decision.subject_quota() {
            reads.subject_quotas.push((table.clone(), limit));
        }
        for grant in &decision.grants {
            grants.insert(grant.id.clone());
            if let Some(filter) = &grant.row_filter {
                reads.row_filters.push(format!("{table}: {filter}"));
            }
        }
        reads.datasets.push(table);
    }
    reads.grants = grants.into_iter().collect();
    reads
}
