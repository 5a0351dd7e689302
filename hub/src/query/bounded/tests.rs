//! Bounded functions against plain DataFusion.
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};

use super::*;

const LIMIT: usize = 16 * 1024 * 1024;

async fn run(sql: &str) -> Result<Vec<datafusion::arrow::record_batch::RecordBatch>> {
    let pool = ResultBudget::new(LIMIT);
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_pool(Arc::new(
            datafusion::execution::memory_pool::GreedyMemoryPool::new(LIMIT),
        ))
        .build_arc()?;
    let mut state = SessionStateBuilder::new()
        .with_config(SessionConfig::new())
        .with_runtime_env(runtime)
        .with_default_features()
        .build();
    {
        use datafusion::execution::FunctionRegistry;
        state.register_expr_planner(Arc::new(ConcatPlanner))?;
        state.register_udf(string_concat())?;
    }
    let plan = bound_plan(state.create_logical_plan(sql).await?, &pool)?;
    let plan = bound_plan(state.optimize(&plan)?, &pool)?;
    let physical = state.query_planner().create_physical_plan(&plan, &state).await?;
    datafusion::physical_plan::collect(physical, state.task_ctx()).await
}

fn is_memory_error(result: &Result<Vec<datafusion::arrow::record_batch::RecordBatch>>) -> bool {
    matches!(result, Err(error) if matches!(error.find_root(), datafusion::error::DataFusionError::ResourcesExhausted(_)))
}

#[tokio::test]
async fn amplifying_functions_are_refused_before_they_allocate() {
    for sql in [
        "SELECT repeat('x', 1000000000)",
        "SELECT lpad('x', 1000000000)",
        "SELECT rpad('x', 1000000000, '字')",
        "SELECT replace(repeat('a', 100000), 'a', repeat('b', 200))",
        "SELECT regexp_replace(repeat('a', 100000), 'a', repeat('b', 200), 'g')",
        "SELECT array_repeat('x', 1000000000)",
        "SELECT range(1000000000)",
        "SELECT generate_series(1, 1000000000)",
        "SELECT concat(concat(concat(repeat('x', 5000000), repeat('x', 5000000)), repeat('x', 5000000)), repeat('x', 5000000))",
        "SELECT repeat('x', 5000000) || repeat('y', 5000000) || repeat('z', 5000000) || repeat('w', 5000000)",
        "SELECT overlay(repeat('x', 10) PLACING repeat('y', 17000000) FROM 2)",
        "SELECT x || repeat('y', 17000000) FROM (VALUES ('a'), ('b')) AS t(x)",
    ] {
        let result = run(sql).await;
        let outcome = result.as_ref().map(|_| "a result").map_err(ToString::to_string);
        assert!(is_memory_error(&result), "{sql}: {outcome:?}");
    }
}

#[tokio::test]
async fn ordinary_results_are_what_datafusion_gives() {
    for sql in [
        "SELECT repeat('ab', 3), lpad('7', 3, '0'), rpad('a', 3), replace('banana', 'a', 'o')",
        "SELECT 'a' || 'b', 'a' || NULL, NULL || 'b', 'n=' || 42, concat('a', NULL, 'b')",
        "SELECT regexp_replace('2024-01-05', '(\\d+)-(\\d+)-(\\d+)', '\\3/\\2/\\1')",
        "SELECT array_repeat(1, 3), range(3), upper('straße')",
        "SELECT x || '!' FROM (VALUES ('a'), (NULL), ('c')) AS t(x)",
        "SELECT arrow_cast('12', 'Int64'), substring('abcdef' FROM 2 FOR 3), overlay('abcdef' PLACING 'XY' FROM 2)",
    ] {
        let bounded = run(sql).await.unwrap();
        let plain = SessionContext::new()
            .sql(sql)
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let text = |batches: &[datafusion::arrow::record_batch::RecordBatch]| {
            datafusion::arrow::util::pretty::pretty_format_batches(batches)
                .unwrap()
                .to_string()
                .lines()
                .skip(3)
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_eq!(text(&bounded), text(&plain), "{sql}");
    }
}
