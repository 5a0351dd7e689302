//! The rewrite, checked on printed plans.

use std::sync::Arc;

use causeway_schemas::Classification;
use chrono::{DateTime, Utc};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::catalog::TableProvider;
use datafusion::common::TableReference;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::datasource::{MemTable, source_as_provider};
use datafusion::prelude::SessionContext;

use super::*;
use crate::decision::{ColumnInfo, authorize};
use crate::model::{DatasetId, PolicySet};
use crate::principal::{AttributeValue, Role};
use crate::syntax::SyntaxLimits;

fn residents() -> DatasetInfo {
    let column = |name: &str, data_type: DataType, tag: &str| ColumnInfo {
        name: name.into(),
        data_type,
        classification: Classification::new(tag).unwrap(),
    };
    DatasetInfo {
        id: DatasetId::new("civil_affairs", "residents"),
        columns: vec![
            column("id_number", DataType::Utf8, "pii.national_id"),
            column("name", DataType::Utf8, "pii.name"),
            column("birth_date", DataType::Date32, "pii.birth_date"),
            column("grid_id", DataType::Utf8, "public"),
        ],
        recertification_days: 180,
        subject_key: Vec::new(),
    }
}

fn table(dataset: &DatasetInfo) -> Arc<dyn TableProvider> {
    let schema = Schema::new(
        dataset
            .columns
            .iter()
            .map(|column| Field::new(&column.name, column.data_type.clone(), true))
            .collect::<Vec<_>>(),
    );
    Arc::new(MemTable::try_new(Arc::new(schema), vec![vec![]]).unwrap())
}

/// The row filter the view's scan applies before anything else, if any.
fn barrier(plan: &LogicalPlan) -> Option<String> {
    let mut found = None;
    plan.apply(|node| {
        if let LogicalPlan::TableScan(scan) = node
            && let Ok(provider) = source_as_provider(&scan.source)
        {
            let any: &dyn std::any::Any = provider.as_ref();
            found = any
                .downcast_ref::<RowBarrier>()
                .map(|barrier| barrier.filter().to_string());
        }
        Ok(TreeNodeRecursion::Continue)
    })
    .unwrap();
    found
}

fn now() -> DateTime<Utc> {
    "2026-06-01T00:00:00Z".parse().unwrap()
}

fn grid_worker() -> Principal {
    Principal::new("gw-7", "civil_affairs")
        .with_role(Role::Analyst)
        .with_attribute("grid_id", AttributeValue::One("GC-012".into()))
}

fn policies(grants: &[&str]) -> PolicySet {
    PolicySet {
        grants: grants
            .iter()
            .enumerate()
            .map(|(index, yaml)| {
                serde_norway::from_str(&format!(
                    "id: g{}\nsubject: {{department: civil_affairs}}\ndataset: civil_affairs.residents\npurposes: [care]\n{yaml}",
                    index + 1
                ))
                .unwrap()
            })
            .collect(),
        denies: vec![],
    }
}

fn rewritten(principal: &Principal, policies: &PolicySet) -> String {
    let plan = view(principal, policies);
    match barrier(&plan) {
        Some(filter) => format!("{}\n  (rows: {filter})", plan.display_indent()),
        None => plan.display_indent().to_string(),
    }
}

fn view(principal: &Principal, policies: &PolicySet) -> LogicalPlan {
    let dataset = residents();
    let decision = authorize(principal, "care", &dataset, policies, now()).unwrap();
    let functions = PolicyFunctions::new(b"secret");
    let session = SessionContext::new().state();
    let context = RewriteContext {
        principal,
        functions: &functions,
        session: &session,
        limits: SyntaxLimits::default(),
    };
    secure_view(
        table(&dataset),
        TableReference::partial("civil_affairs", "residents"),
        &dataset,
        &decision,
        &context,
    )
    .unwrap()
}

#[test]
fn the_row_filter_comes_first_then_masks_under_the_columns_names() {
    let plan = rewritten(
        &grid_worker(),
        &policies(&[
            "row_filter: grid_id = principal.grid_id\nmasks: {id_number: {kind: hash}}\ncolumns: [id_number, birth_date, grid_id]",
        ]),
    );
    assert_eq!(
        plan,
        "Projection: causeway_pseudonym(civil_affairs.residents.id_number) AS id_number, \
causeway_denied(Utf8(\"civil_affairs.residents\"), Utf8(\"name\"), Utf8(NULL)) AS name, \
CAST(date_trunc(Utf8(\"year\"), CAST(civil_affairs.residents.birth_date AS Timestamp(s))) AS Date32) AS birth_date, \
civil_affairs.residents.grid_id AS grid_id\
\n  TableScan: civil_affairs.residents\
\n  (rows: grid_id = Utf8(\"GC-012\"))"
    );
}

#[test]
fn a_grant_without_a_filter_shows_every_row() {
    let plan = rewritten(&grid_worker(), &policies(&["unmasked: [name]\ncolumns: [name]"]));
    assert!(!plan.contains("rows:"), "{plan}");
    assert!(plan.contains("civil_affairs.residents.name AS name"), "{plan}");
    assert!(
        plan.contains("causeway_denied(Utf8(\"civil_affairs.residents\"), Utf8(\"id_number\")"),
        "{plan}"
    );
}

#[test]
fn a_missing_attribute_lets_no_row_through() {
    let nobody = Principal::new("x", "civil_affairs");
    let plan = rewritten(&nobody, &policies(&["row_filter: grid_id = principal.grid_id"]));
    assert!(plan.contains("(rows: Boolean(false))"), "{plan}");
}

#[test]
fn several_grants_decide_each_value_by_the_grant_that_lets_its_row_through() {
    let plan = rewritten(
        &grid_worker(),
        &policies(&[
            "columns: [grid_id, name]\nrow_filter: grid_id = 'GC-001'",
            "columns: [grid_id, id_number]\nunmasked: [id_number]\nrow_filter: grid_id = principal.grid_id",
        ]),
    );
    let lines: Vec<&str> = plan.lines().collect();
    assert_eq!(
        lines[2].trim(),
        "(rows: grid_id = Utf8(\"GC-001\") OR grid_id = Utf8(\"GC-012\"))"
    );
    assert!(
        lines[0].contains(
            "CASE WHEN civil_affairs.residents.grid_id = Utf8(\"GC-012\") THEN civil_affairs.residents.id_number END AS id_number"
        ),
        "the raw ID only where the second grant lets the row through: {}",
        lines[0]
    );
    assert!(
        lines[0].contains(
            "CASE WHEN civil_affairs.residents.grid_id = Utf8(\"GC-001\") THEN CASE WHEN character_length"
        ),
        "the masked name only where the first grant does: {}",
        lines[0]
    );
}

#[test]
fn grants_are_checked_against_their_dataset_when_made() {
    let dataset = residents();
    let functions = PolicyFunctions::new(b"secret");
    let session = SessionContext::new().state();
    let principal = grid_worker();
    let context = RewriteContext {
        principal: &principal,
        functions: &functions,
        session: &session,
        limits: SyntaxLimits::default(),
    };
    let check = |yaml: &str| {
        let grant = &policies(&[yaml]).grants[0];
        validate_grant(grant, &dataset, &context).map_err(|error| error.to_string())
    };
    assert!(check("row_filter: grid_id = principal.grid_id").is_ok());
    assert_eq!(
        check("columns: [id_number, shoe_size]").unwrap_err(),
        "grant g1: 'shoe_size' is not a column of civil_affairs.residents"
    );
    assert!(
        check("masks: {name: {kind: year_only}}")
            .unwrap_err()
            .contains("year only needs a date")
    );
    assert!(
        check("row_filter: grid_id = ")
            .unwrap_err()
            .starts_with("grant g1: the row filter")
    );
    assert!(check("expires_at: 2020-01-01T00:00:00Z\nvalid_from: 2021-01-01T00:00:00Z").is_err());
    assert!(
        check("verify: {column_matches: true}")
            .unwrap_err()
            .contains("only a verify grant")
    );
    assert!(
        check("kind: verify\ncolumns: [id_number, name]")
            .unwrap_err()
            .contains("names no subject key"),
        "this dataset has none"
    );
}

#[test]
fn verify_grants_name_the_subject_key_and_nothing_that_returns_values() {
    let mut dataset = residents();
    dataset.subject_key = vec!["id_number".into()];
    let functions = PolicyFunctions::new(b"secret");
    let session = SessionContext::new().state();
    let principal = grid_worker();
    let context = RewriteContext {
        principal: &principal,
        functions: &functions,
        session: &session,
        limits: SyntaxLimits::default(),
    };
    let check = |yaml: &str| {
        let grant = &policies(&[yaml]).grants[0];
        validate_grant(grant, &dataset, &context).map_err(|error| error.to_string())
    };
    assert!(check("kind: verify\ncolumns: [id_number, name]\nverify: {max_attempts_per_subject: 2}").is_ok());
    for (yaml, expected) in [
        ("kind: verify", "not *"),
        ("kind: verify\ncolumns: [name, birth_date]", "add 'id_number'"),
        (
            "kind: verify\ncolumns: [id_number]\nmasks: {id_number: {kind: hash}}",
            "no masks",
        ),
        (
            "kind: verify\ncolumns: [id_number]\nmax_rows_per_day: 10",
            "max_records_per_day",
        ),
        (
            "kind: verify\ncolumns: [id_number]\nverify: {max_attempts_per_subject: 0}",
            "at least one",
        ),
        ("kind: verify\ncolumns: [id_number, shoe_size]", "not a column"),
    ] {
        let message = check(yaml).unwrap_err();
        assert!(message.contains(expected), "{yaml}: {message}");
    }
}
