//! `audit.events`: the audit log as a table, read through the same query path as any
//! dataset. Security officers read every record; publishers the records that touch their
//! department's datasets; nobody else anything.

use std::sync::Arc;

use causeway_policies::{Principal, Role};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::streaming::StreamingTable;
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::stream::RecordBatchReceiverStreamBuilder;
use datafusion::physical_plan::streaming::PartitionStream;

use super::closed::{ClosedTable, Refusal};
pub use crate::audit::read::AUDIT_SCHEMA;
use crate::audit::read::{EventFilter, batches, events_schema};
use crate::audit::{Chain, Chains};
const EVENTS: &str = "events";

/// The `audit` schema as `principal` may read it.
#[derive(Debug)]
pub struct AuditSchema {
    chains: Chains,
    principal: Principal,
}

impl AuditSchema {
    pub fn new(chains: Chains, principal: Principal) -> Self {
        Self { chains, principal }
    }
}

#[async_trait::async_trait]
impl SchemaProvider for AuditSchema {
    fn table_names(&self) -> Vec<String> {
        vec![EVENTS.to_owned()]
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        if name != EVENTS {
            return Ok(None);
        }
        let scope = if self.principal.has_role(Role::Auditor) || self.principal.has_role(Role::SecurityAdmin)
        {
            None
        } else if self.principal.has_role(Role::Publisher) {
            Some(self.principal.department.clone())
        } else {
            // Listed in the catalog like any table, but closed to this caller.
            return Ok(Some(Arc::new(ClosedTable::new(
                events_schema(),
                Refusal::NotAnAuditor,
            ))));
        };
        // A partition per chain: this hub's, and every other node's under audit.chains_root.
        let filter = EventFilter {
            department_scope: scope,
            ..EventFilter::default()
        };
        let partitions: Vec<Arc<dyn PartitionStream>> = self
            .chains
            .list()
            .into_iter()
            .map(|chain| {
                Arc::new(EventsPartition {
                    chain,
                    schema: events_schema(),
                    filter: filter.clone(),
                }) as Arc<dyn PartitionStream>
            })
            .collect();
        Ok(Some(Arc::new(StreamingTable::try_new(
            events_schema(),
            partitions,
        )?)))
    }

    fn table_exist(&self, name: &str) -> bool {
        name == EVENTS
    }
}

#[derive(Debug)]
struct EventsPartition {
    chain: Chain,
    schema: SchemaRef,
    filter: EventFilter,
}

impl PartitionStream for EventsPartition {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, context: Arc<TaskContext>) -> SendableRecordBatchStream {
        let mut builder = RecordBatchReceiverStreamBuilder::new(Arc::clone(&self.schema), 2);
        let sender = builder.tx();
        let (chain, filter) = (self.chain.clone(), self.filter.clone());
        let batch_rows = context.session_config().batch_size();
        builder.spawn_blocking(move || {
            batches(&chain, &filter, batch_rows, |batch| {
                sender.blocking_send(Ok(batch)).is_ok()
            })
            .map_err(|error| DataFusionError::External(Box::new(error)))
        });
        builder.build()
    }
}
