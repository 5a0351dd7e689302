//! The chains against DataFusion's own operators.

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::execution::SessionStateBuilder;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::{SessionConfig, SessionContext};

use super::*;

const TABLE: &str = "CREATE TABLE t (a BIGINT, b BIGINT, c BIGINT, f DOUBLE, g DOUBLE) AS VALUES \
    (1, 2, 3, 0.5, 4.0), (-7, 11, 0, -2.25, 8.0), (40, -3, 5, 1e10, -0.125), (NULL, 1, 2, NULL, 1.0)";

/// A session that parses long chains, as the hub's parser does, with the hub's rewrites
/// or with DataFusion's operators alone.
fn context(rewritten: bool) -> SessionContext {
    let config = SessionConfig::new().set_usize("datafusion.sql_parser.recursion_limit", 10_000);
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_default_features();
    let state = if rewritten {
        state.with_analyzer_rules(super::super::analyzer_rules())
    } else {
        state
    };
    SessionContext::new_with_state(state.build())
}

/// Runs `test` on a stack deep enough for plain DataFusion to plan long chains, as the
/// hub's query threads are.
fn on_deep_stack(test: impl Future<Output = ()> + Send + 'static) {
    let thread = std::thread::Builder::new().stack_size(512 << 20).spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().build();
        runtime.map(|runtime| runtime.block_on(test))
    });
    match thread.map(std::thread::JoinHandle::join) {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(error))) => panic!("no runtime: {error}"),
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(error) => panic!("no thread: {error}"),
    }
}

async fn answer(context: &SessionContext, sql: &str) -> Result<(LogicalPlan, Vec<RecordBatch>)> {
    let frame = context.sql(sql).await?;
    let plan = frame.clone().into_optimized_plan()?;
    Ok((plan, frame.collect().await?))
}

/// The deepest nesting of function calls in any expression of `plan`.
fn call_depth(plan: &LogicalPlan) -> usize {
    fn depth(expr: &Expr) -> usize {
        let mut deepest = 0;
        let _ = expr.apply_children(|child| {
            deepest = deepest.max(depth(child));
            Ok(TreeNodeRecursion::Continue)
        });
        deepest + usize::from(matches!(expr, Expr::ScalarFunction(_)))
    }
    let mut deepest = 0;
    let _ = plan.apply_with_subqueries(|node| {
        node.apply_expressions(|expr| {
            deepest = deepest.max(depth(expr));
            Ok(TreeNodeRecursion::Continue)
        })
    });
    deepest
}

fn left_deep(term: &str, ops: &[&str], count: usize) -> String {
    let mut sql = term.to_owned();
    for index in 1..count {
        sql.push_str(&format!(" {} {term}", ops[index % ops.len()]));
    }
    sql
}

fn right_deep(term: &str, ops: &[&str], count: usize) -> String {
    let mut sql = term.to_owned();
    for index in 1..count {
        sql = format!("{term} {} ({sql})", ops[index % ops.len()]);
    }
    sql
}

/// Long chains of checked arithmetic, in any shape, become calls nested a few levels
/// deep, not a call per operator (planned in moments, where a call per operator took
/// time as the cube of the length), and answer as DataFusion's own operators do.
#[test]
fn long_chains_are_a_few_calls_and_answer_as_the_operators() {
    on_deep_stack(async {
        let integer = "CAST(x AS BIGINT)";
        let double = "CAST(x AS DOUBLE)";
        let shapes = [
            left_deep(integer, &["+"], 500),
            left_deep(integer, &["+", "-", "*"], 500),
            right_deep(integer, &["-", "+"], 500),
            left_deep(double, &["+", "-"], 500),
            right_deep(double, &["-", "+"], 500),
            // Both operands chains at every level: the larger is followed.
            format!(
                "({}) + ({}) - ({})",
                left_deep(integer, &["+"], 300),
                right_deep(integer, &["-"], 350),
                left_deep(integer, &["*"], 40)
            ),
            format!("-({})", left_deep(&format!("(- {integer})"), &["+"], 500)),
        ];
        let (hub, plain) = (context(true), context(false));
        for shape in &shapes {
            let sql = format!("SELECT {shape} AS v FROM (VALUES (1), (2)) AS t(x)");
            let (plan, rows) = answer(&hub, &sql)
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", &sql[..80]));
            assert!(
                call_depth(&plan) <= 4,
                "{}: calls {} deep",
                &sql[..80],
                call_depth(&plan)
            );
            let (_, expected) = answer(&plain, &sql)
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", &sql[..80]));
            assert_eq!(
                pretty_format_batches(&rows).map(|t| t.to_string()).ok(),
                pretty_format_batches(&expected).map(|t| t.to_string()).ok(),
                "{}",
                &sql[..80]
            );
        }
    });
}

/// Short chains with operands on either side, unary minus and NULLs: the same values and
/// the same column names as DataFusion's own operators, so the plans above read the
/// columns they read before.
#[test]
fn chains_keep_the_values_and_names_of_the_operators() {
    on_deep_stack(async {
        let expressions = [
            "a + b - c",
            "a - (b - c)",
            "-(a - b) * c",
            "a * (b + c) - -a",
            "(a + b) * (c - a) - (b - c)",
            "c - (a - (b - (c + a)))",
            "f - g / f + a",
            "(f + g) * (g - f) / g",
            "-(f * -g)",
        ];
        let (hub, plain) = (context(true), context(false));
        for context in [&hub, &plain] {
            let created = match context.sql(TABLE).await {
                Ok(frame) => frame.collect().await.map(|_| ()),
                Err(error) => Err(error),
            };
            assert!(created.is_ok(), "{created:?}");
        }
        for expression in expressions {
            let sql = format!("SELECT {expression}, a FROM t ORDER BY a");
            let (Ok((_, rows)), Ok((_, expected))) = (answer(&hub, &sql).await, answer(&plain, &sql).await)
            else {
                panic!("{sql} is answered by both");
            };
            let table = |batches: &[RecordBatch]| pretty_format_batches(batches).map(|t| t.to_string()).ok();
            assert_eq!(table(&rows), table(&expected), "{sql}");
        }
    });
}

/// Each step of a chain is checked: an overflow anywhere in it fails the query, on
/// whichever side of a step the value so far is.
#[test]
fn every_step_of_a_chain_is_checked() {
    on_deep_stack(async {
        let hub = context(true);
        for sql in [
            "SELECT x + 9223372036854775807 - 9223372036854775807 FROM (VALUES (CAST(1 AS BIGINT))) AS t(x)",
            "SELECT 9223372036854775807 - (x - 9223372036854775807) FROM (VALUES (CAST(1 AS BIGINT))) AS t(x)",
            "SELECT -(x - 9223372036854775807 - 2) + 1 FROM (VALUES (CAST(0 AS BIGINT))) AS t(x)",
            "SELECT x * 1e200 * 1e200 - 1 FROM (VALUES (CAST(1 AS DOUBLE))) AS t(x)",
        ] {
            let answered = answer(&hub, sql).await;
            let message = answered.err().map(|error| error.to_string()).unwrap_or_default();
            assert!(message.contains("verflow"), "{sql}: {message}");
        }
    });
}
