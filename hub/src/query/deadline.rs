//! Planning that stops at the query's deadline.
//!
//! DataFusion's analyzer and optimizer run their rules one after another, on the calling
//! thread, without looking at a clock, and the time some of them take grows faster than the
//! expression they rewrite: DataFusion 55 plans a flat chain of 2,000 operators in about ten
//! seconds on a debug build. A `tokio` timeout cannot interrupt that work, so a query's
//! deadline would be seen only once planning had finished, with a query thread and a slot
//! held all along. [`with_deadline`] puts a look at the deadline before every rule of a
//! query's own session: planning then ends within one rule of the deadline, with
//! [`PlanningDeadline`] (the query's `query_timeout`).

use std::sync::Arc;

use datafusion::common::tree_node::Transformed;
use datafusion::common::{DataFusionError, Result};
use datafusion::config::ConfigOptions;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::session_state::SessionState;
use datafusion::logical_expr::LogicalPlan;
use datafusion::optimizer::{AnalyzerRule, OptimizerConfig, OptimizerRule};
use tokio::time::Instant;

/// Planning reached the query's deadline.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("planning reached the query's deadline")]
pub struct PlanningDeadline;

/// A rule that changes nothing and fails once `at` has passed.
#[derive(Debug)]
struct Deadline {
    at: Instant,
}

impl Deadline {
    fn check(&self) -> Result<()> {
        if Instant::now() >= self.at {
            Err(DataFusionError::External(Box::new(PlanningDeadline)))
        } else {
            Ok(())
        }
    }
}

impl AnalyzerRule for Deadline {
    fn name(&self) -> &str {
        "causeway_deadline"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        self.check().map(|()| plan)
    }
}

impl OptimizerRule for Deadline {
    fn name(&self) -> &str {
        "causeway_deadline"
    }

    fn rewrite(&self, plan: LogicalPlan, _config: &dyn OptimizerConfig) -> Result<Transformed<LogicalPlan>> {
        self.check().map(|()| Transformed::no(plan))
    }
}

/// `builder` (made from `base`) with a look at `at` before each of `base`'s analyzer and
/// optimizer rules.
pub(super) fn with_deadline(
    builder: SessionStateBuilder,
    base: &SessionState,
    at: Instant,
) -> SessionStateBuilder {
    let deadline = Arc::new(Deadline { at });
    let mut analyzer = base.analyzer().clone();
    analyzer.rules = analyzer
        .rules
        .iter()
        .flat_map(|rule| {
            [
                Arc::clone(&deadline) as Arc<dyn AnalyzerRule + Send + Sync>,
                Arc::clone(rule),
            ]
        })
        .collect();
    let optimizer_rules = base
        .optimizer()
        .rules
        .iter()
        .flat_map(|rule| {
            [
                Arc::clone(&deadline) as Arc<dyn OptimizerRule + Send + Sync>,
                Arc::clone(rule),
            ]
        })
        .collect();
    let mut builder = builder.with_optimizer_rules(optimizer_rules);
    *builder.analyzer() = Some(analyzer);
    builder
}
