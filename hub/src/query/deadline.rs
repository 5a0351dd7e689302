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

/// `builder` with a look at `at` before each of its analyzer and optimizer rules.
pub(super) fn with_deadline(mut builder: SessionStateBuilder, at: Instant) -> SessionStateBuilder {
    let deadline = Arc::new(Deadline { at });
    if let Some(analyzer) = builder.analyzer() {
        analyzer.rules = checked_before_each(&analyzer.rules, deadline.clone());
    }
    if let Some(optimizer) = builder.optimizer() {
        optimizer.rules = checked_before_each(&optimizer.rules, deadline);
    }
    builder
}

/// `rules` with `check` before each.
fn checked_before_each<R: ?Sized>(rules: &[Arc<R>], check: Arc<R>) -> Vec<Arc<R>> {
    rules
        .iter()
        .flat_map(|rule| [Arc::clone(&check), Arc::clone(rule)])
        .collect()
}
