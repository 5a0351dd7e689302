//! Answers that follow SQL (and PostgreSQL) where DataFusion 55 alone does not, and the
//! functions that tell where rows are stored refused by name.
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{DataType, Decimal128Type, Int64Type};

use datafusion::arrow::record_batch::RecordBatch;

use super::tests::{call, drain, fixture};
use super::*;
use crate::config::LimitsConfig;

/// The batches of `sql`, run as the fixture's analyst.
async fn answer(sql: &str) -> Result<Vec<RecordBatch>, ServiceError> {
    let fixture = fixture(LimitsConfig::default()).await;
    let mut started = fixture.service.execute(call(sql)).await?;
    Ok(drain(&mut started.results).await)
}

/// The first column's integers, in order.
async fn integers(sql: &str) -> Vec<i64> {
    answer(sql)
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"))
        .iter()
        .flat_map(|batch| {
            batch
                .column(0)
                .as_primitive::<Int64Type>()
                .iter()
                .flatten()
                .collect::<Vec<_>>()
        })
        .collect()
}

#[tokio::test]
async fn not_in_a_subquery_that_yields_null_is_never_true() {
    let values = "SELECT x FROM (VALUES (1), (3), (NULL)) t(x)";
    // 3 is not 1, but it may be the NULL: unknown, so no row.
    assert_eq!(
        integers(&format!(
            "{values} WHERE x NOT IN (SELECT v FROM (VALUES (1), (NULL)) s(v)) ORDER BY x"
        ))
        .await,
        Vec::<i64>::new()
    );
    // Without a NULL in the subquery, 3 is not in it; a NULL x is unknown.
    assert_eq!(
        integers(&format!(
            "{values} WHERE x NOT IN (SELECT v FROM (VALUES (1), (2)) s(v)) ORDER BY x"
        ))
        .await,
        [3]
    );
    // An empty subquery holds no value at all: every x, NULL included, is not in it.
    assert_eq!(
        integers(&format!(
            "SELECT count(*) FROM ({values}) t WHERE x NOT IN (SELECT v FROM (VALUES (1)) s(v) WHERE v > 5)"
        ))
        .await,
        [3]
    );
    // Over a dataset, under the analyst's row filter (the Dali rows 1 and 3).
    assert_eq!(
        integers(
            "SELECT id FROM civil_affairs.residents WHERE id NOT IN \
             (SELECT CASE WHEN x = 2 THEN NULL ELSE x END FROM (VALUES (2), (9)) s(x)) ORDER BY id"
        )
        .await,
        Vec::<i64>::new()
    );
    assert_eq!(
        integers("SELECT id FROM civil_affairs.residents WHERE id NOT IN (SELECT 3) ORDER BY id").await,
        [1]
    );
}

#[tokio::test]
async fn a_sum_of_bigints_widens_instead_of_wrapping() {
    let batches = answer("SELECT sum(v) AS total FROM (VALUES (9223372036854775807), (1)) t(v)")
        .await
        .expect("answered");
    let column = batches[0].column(0);
    assert_eq!(column.data_type(), &DataType::Decimal128(38, 0));
    assert_eq!(
        column.as_primitive::<Decimal128Type>().value(0),
        9_223_372_036_854_775_808_i128
    );
    // Grouped, unaliased and over a dataset, the sum keeps its name for what reads it.
    let batches = answer(
        "SELECT town, sum(id) FROM civil_affairs.residents GROUP BY town HAVING sum(id) > 1 ORDER BY sum(id)",
    )
    .await
    .expect("answered");
    let schema = batches[0].schema();
    assert_eq!(schema.field(1).name(), "sum(civil_affairs.residents.id)");
    assert_eq!(batches[0].column(1).as_primitive::<Decimal128Type>().value(0), 4);
}

#[tokio::test]
async fn where_rows_are_stored_is_refused_by_name() {
    for sql in [
        "SELECT count(*) FROM civil_affairs.residents GROUP BY input_file_name()",
        "SELECT file_row_index() FROM civil_affairs.residents",
    ] {
        let error = answer(sql).await.expect_err("refused");
        assert_eq!(error.code(), "function_not_available", "{sql}: {error}");
    }
}

#[tokio::test]
async fn not_in_under_or_and_exists_of_an_aggregate_follow_sql() {
    let values = "SELECT x FROM (VALUES (1), (3), (5)) t(x)";
    // The NOT IN is never true (the subquery yields a NULL): only x > 4 lets a row through.
    assert_eq!(
        integers(&format!(
            "{values} WHERE x NOT IN (SELECT v FROM (VALUES (1), (NULL)) s(v)) OR x > 4 ORDER BY x"
        ))
        .await,
        [5]
    );
    // An aggregate without GROUP BY always yields one row, so EXISTS holds for every x.
    assert_eq!(
        integers(&format!(
            "{values} WHERE EXISTS (SELECT count(*) FROM (VALUES (1)) s(v) WHERE v = t.x AND v < 0) ORDER BY x"
        ))
        .await,
        [1, 3, 5]
    );
    assert_eq!(
        integers(&format!(
            "{values} WHERE NOT EXISTS (SELECT max(v) FROM (VALUES (1)) s(v) WHERE v = t.x) ORDER BY x"
        ))
        .await,
        Vec::<i64>::new()
    );
}

#[tokio::test]
async fn a_correlated_not_in_follows_sql() {
    let outer = "(VALUES (1, 10), (2, 20), (3, 30), (NULL, 40), (5, 50)) t(x, k)";
    let inner = "(VALUES (10, 1), (20, 7), (20, NULL), (50, 8)) s(k, v)";
    // Per row: 1 is in its group; 2's group holds a NULL (unknown); 3's group is empty
    // (true); a NULL x over an empty group is true, over rows unknown; 5 is not 8 (true).
    assert_eq!(
        integers(&format!(
            "SELECT coalesce(x, 0) FROM {outer} WHERE x NOT IN (SELECT v FROM {inner} WHERE s.k = t.k) ORDER BY 1"
        ))
        .await,
        [0, 3, 5]
    );
    // Under OR, and of an expression.
    assert_eq!(
        integers(&format!(
            "SELECT x FROM {outer} WHERE x + 0 NOT IN (SELECT v FROM {inner} WHERE s.k = t.k) OR x = 1 ORDER BY 1"
        ))
        .await,
        [1, 3, 5]
    );
}

#[tokio::test]
async fn a_scalar_subquery_of_no_rows_or_named_as_another_column_is_answered() {
    for sql in [
        "SELECT id, (SELECT id FROM civil_affairs.residents WHERE id < 0) AS x FROM civil_affairs.residents WHERE id = 1",
        "SELECT (SELECT id FROM civil_affairs.residents WHERE id < 0) AS x",
        "SELECT id FROM civil_affairs.residents WHERE id = 1 AND (SELECT id FROM civil_affairs.residents WHERE id < 0) IS NULL",
        "SELECT id, (SELECT id FROM civil_affairs.residents WHERE id < 0) FROM civil_affairs.residents WHERE id = 1",
        "SELECT r.id, (SELECT max(q.id) AS id FROM civil_affairs.residents q) FROM civil_affairs.residents r WHERE r.id = 1",
        "SELECT *, (SELECT id FROM civil_affairs.residents WHERE id = 3) FROM civil_affairs.residents WHERE id = 1",
    ] {
        let batches = answer(sql).await.unwrap_or_else(|error| panic!("{sql}: {error}"));
        assert_eq!(
            batches.iter().map(RecordBatch::num_rows).sum::<usize>(),
            1,
            "{sql}"
        );
    }
}

/// The stable code and message of a query that fails.
async fn failure(sql: &str) -> (String, String) {
    let error = answer(sql).await.expect_err(sql);
    (error.code().to_owned(), error.to_string())
}

#[tokio::test]
async fn integer_arithmetic_that_overflows_fails_instead_of_wrapping() {
    for sql in [
        "SELECT v + 1 FROM (VALUES (9223372036854775807)) t(v)",
        "SELECT v - 2 FROM (VALUES (-9223372036854775807)) t(v)",
        "SELECT v * v FROM (VALUES (4294967296)) t(v)",
        "SELECT -v FROM (VALUES (-9223372036854775808)) t(v)",
        "SELECT CAST(v AS int) * CAST(65536 AS int) * CAST(65536 AS int) FROM (VALUES (1)) t(v)",
        "SELECT CAST(v AS smallint) + CAST(v AS smallint) FROM (VALUES (30000)) t(v)",
        "SELECT id * 9223372036854775807 FROM civil_affairs.residents",
        "SELECT 9223372036854775807 + 1",
        // A decimal past the precision of its type.
        "SELECT v + 1 FROM (VALUES (CAST(9999999999999999999999999999 AS decimal(38, 10)))) t(v)",
    ] {
        let (code, message) = failure(sql).await;
        assert!(message.contains("overflow"), "{sql}: {code}: {message}");
    }
    // What fits is exact, and keeps its name.
    let batches = answer("SELECT v + 1 FROM (VALUES (9223372036854775806)) t(v)")
        .await
        .expect("answered");
    assert_eq!(batches[0].schema().field(0).name(), "t.v + Int64(1)");
    assert_eq!(
        batches[0].column(0).as_primitive::<Int64Type>().value(0),
        i64::MAX
    );
}

#[tokio::test]
async fn a_windowed_sum_of_bigints_widens_too() {
    let batches = answer(
        "SELECT sum(v) OVER (ORDER BY v ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running \
         FROM (VALUES (9223372036854775807), (9223372036854775807)) t(v)",
    )
    .await
    .expect("answered");
    let column = batches[0].column(0);
    assert_eq!(column.data_type(), &DataType::Decimal128(38, 0));
    let values: Vec<i128> = column.as_primitive::<Decimal128Type>().iter().flatten().collect();
    assert_eq!(values, [i128::from(i64::MAX), 2 * i128::from(i64::MAX)]);
}

#[tokio::test]
async fn numbers_with_a_point_are_exact_decimals_and_exponents_doubles() {
    let batches = answer("SELECT 0.1 + 0.2 = 0.3, 99999999.99, 1e300, 2.5E-3, 1.5 * 2")
        .await
        .expect("answered");
    let batch = &batches[0];
    assert!(
        batch.column(0).as_boolean().value(0),
        "0.1 + 0.2 = 0.3 in exact decimals"
    );
    assert_eq!(batch.column(1).data_type(), &DataType::Decimal128(10, 2));
    assert_eq!(
        batch.column(1).as_primitive::<Decimal128Type>().value(0),
        9_999_999_999
    );
    assert_eq!(batch.column(2).data_type(), &DataType::Float64);
    assert_eq!(
        batch
            .column(2)
            .as_primitive::<datafusion::arrow::datatypes::Float64Type>()
            .value(0),
        1e300
    );
    assert_eq!(
        batch
            .column(3)
            .as_primitive::<datafusion::arrow::datatypes::Float64Type>()
            .value(0),
        2.5e-3
    );
}

#[tokio::test]
async fn an_allowed_aggregate_wrapped_in_values_or_a_scalar_subquery_is_answered() {
    let plain = integers("SELECT count(*) FROM civil_affairs.residents").await;
    for sql in [
        "VALUES ((SELECT count(*) FROM civil_affairs.residents))",
        "SELECT (SELECT count(*) FROM civil_affairs.residents)",
        "SELECT * FROM (VALUES ((SELECT count(*) FROM civil_affairs.residents))) t(n)",
    ] {
        assert_eq!(integers(sql).await, plain, "{sql}");
    }
}

#[tokio::test]
async fn a_guard_beside_a_division_keeps_a_zero_divisor_from_failing() {
    let rows = "(VALUES (1, 0, 5), (2, 2, 6), (3, -3, 9), (4, NULL, 1)) t(id, d, n)";
    for (sql, expected) in [
        (
            format!("SELECT id FROM {rows} WHERE d <> 0 AND n / d > 1 ORDER BY id"),
            vec![2],
        ),
        (
            format!("SELECT id FROM {rows} WHERE n / d < 0 AND 0 <> d ORDER BY id"),
            vec![3],
        ),
        (
            format!("SELECT id FROM {rows} WHERE d > 0 AND n % d = 0 ORDER BY id"),
            vec![2],
        ),
        (
            format!("SELECT id FROM {rows} WHERE d = 0 OR n / d < 0 ORDER BY id"),
            vec![1, 3],
        ),
        (
            format!("SELECT id FROM {rows} WHERE CASE WHEN d <> 0 THEN n / d > 1 ELSE false END ORDER BY id"),
            vec![2],
        ),
        (
            format!("SELECT id FROM {rows} WHERE CASE WHEN d = 0 THEN true ELSE n / d < 0 END ORDER BY id"),
            vec![1, 3],
        ),
        // Cast on the way: a small integer beside a bigint, and a decimal divisor.
        (
            format!(
                "SELECT id FROM {rows} WHERE CAST(d AS smallint) <> 0 AND n / CAST(d AS smallint) > 1 ORDER BY id"
            ),
            vec![2],
        ),
        (
            format!(
                "SELECT id FROM {rows} WHERE CAST(d AS decimal(5, 1)) <> 0 AND 1.0 / CAST(d AS decimal(5, 1)) > 0.2 ORDER BY id"
            ),
            vec![2],
        ),
    ] {
        assert_eq!(integers(&sql).await, expected, "{sql}");
    }
    // A double, -0 included, is guarded the same way.
    assert_eq!(
        integers(
            "SELECT id FROM (VALUES (1, CAST('-0' AS double)), (2, 0.5)) t(id, f) WHERE f <> 0 AND 1 / f > 1"
        )
        .await,
        [2]
    );
    // Without a guard, or with one that does not decide the answer at zero, a zero divisor
    // still fails, as in PostgreSQL.
    for sql in [
        format!("SELECT id FROM {rows} WHERE id > 0 AND n / d > 1"),
        format!("SELECT id FROM {rows} WHERE d <> 0 OR n / d > 1"),
        format!("SELECT id FROM {rows} WHERE d <> 1 AND n / d > 1"),
        format!("SELECT id FROM {rows} WHERE n <> 0 AND n / d > 1"),
    ] {
        let (_, message) = failure(&sql).await;
        assert!(
            message.contains("division by zero") || message.contains("Divide by zero"),
            "{sql}: {message}"
        );
    }
}

#[tokio::test]
async fn intersect_all_and_except_all_count_copies() {
    let left = "SELECT x FROM (VALUES (1), (1), (1), (2), (3), (NULL), (NULL)) a(x)";
    let right = "SELECT y FROM (VALUES (1), (1), (2), (2), (NULL)) b(y)";
    // min(3, 2) ones, min(1, 2) twos, min(2, 1) NULLs.
    assert_eq!(
        integers(&format!(
            "SELECT coalesce(x, 0) FROM ({left} INTERSECT ALL {right}) t ORDER BY 1"
        ))
        .await,
        [0, 1, 1, 2]
    );
    // 3 - 2 ones, no two, the three, 2 - 1 NULLs.
    assert_eq!(
        integers(&format!(
            "SELECT coalesce(x, 0) FROM ({left} EXCEPT ALL {right}) t ORDER BY 1"
        ))
        .await,
        [0, 1, 3]
    );
    // Without ALL, each value once.
    assert_eq!(
        integers(&format!(
            "SELECT coalesce(x, 0) FROM ({left} INTERSECT {right}) t ORDER BY 1"
        ))
        .await,
        [0, 1, 2]
    );
    assert_eq!(
        integers(&format!(
            "SELECT coalesce(x, 0) FROM ({left} EXCEPT {right}) t ORDER BY 1"
        ))
        .await,
        [3]
    );
    // A column named as the hub's own numbering would be is the table's.
    assert_eq!(
        integers(
            "SELECT causeway_left_copy_0 FROM (SELECT * FROM (VALUES (1), (1), (2)) a(causeway_left_copy_0) \
             INTERSECT ALL SELECT * FROM (VALUES (1), (1), (1)) b(causeway_right_copy_0)) t ORDER BY 1"
        )
        .await,
        [1, 1]
    );
}
