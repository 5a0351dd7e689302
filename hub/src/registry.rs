//! The dataset registry: publishing, evolving and removing datasets, keeping the metadata
//! store and the query catalog in step, and knowing which datasets are available now.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use causeway_connectors::accelerated::{AccelerationError, AccelerationSpec};
use causeway_connectors::{ConnectorError, Connectors, OpenedSource, SourceSpec};
use causeway_policies::{AccessConditions, ColumnInfo, DatasetId, DatasetInfo, Principal};
use causeway_schemas::{Contract, ContractError, Incompatibility, check_compatible};
use datafusion::catalog::TableProvider;
use serde::Deserialize;
use tokio::sync::{Mutex, RwLock};

use crate::acceleration::Accelerations;
use crate::audit::{AuditError, Gate};
use crate::query::QueryEngine;
use crate::store::{ContractVersion, DatasetRecord, MetadataStore, NewDataset, StoreError};

/// What a publisher sends: the contract and where the rows live.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetSpec {
    pub contract: Contract,
    pub source: SourceSpec,
    /// How to get access: decision time and the conditions of automatic approval.
    #[serde(default)]
    pub access: AccessConditions,
    /// Serve the dataset from an in-memory copy, e.g. `{ mode: memory, refresh: 10m }`.
    #[serde(default)]
    pub acceleration: Option<AccelerationSpec>,
}

impl DatasetSpec {
    pub fn from_yaml(text: &str) -> Result<Self, RegistryError> {
        let spec: Self = serde_norway::from_str(text).map_err(|error| {
            RegistryError::InvalidContract(ContractError::Syntax {
                format: "YAML",
                message: error.to_string(),
            })
        })?;
        spec.contract.validate()?;
        Ok(spec)
    }

    pub fn from_json(text: &str) -> Result<Self, RegistryError> {
        let spec: Self = serde_json::from_str(text).map_err(|error| {
            RegistryError::InvalidContract(ContractError::Syntax {
                format: "JSON",
                message: error.to_string(),
            })
        })?;
        spec.contract.validate()?;
        Ok(spec)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(transparent)]
    InvalidContract(#[from] ContractError),
    #[error("{0}")]
    Forbidden(String),
    #[error(
        "dataset {0} already exists; publish a new contract version with PUT /v1/datasets/{{department}}/{{name}}/contract"
    )]
    AlreadyExists(String),
    #[error("dataset {0} does not exist")]
    NotFound(String),
    #[error("the contract is for {found}, but this is {expected}")]
    WrongDataset { expected: String, found: String },
    #[error("the new contract is not backward compatible: {}; the owning department's publisher may force it (`dataset update-contract --force`, `?force=true`)", join(.0))]
    Incompatible(Vec<Incompatibility>),
    #[error(transparent)]
    Source(#[from] ConnectorError),
    #[error(transparent)]
    Acceleration(#[from] AccelerationError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot update the query catalog: {0}")]
    Catalog(String),
    #[error(transparent)]
    Audit(#[from] AuditError),
}

fn join(problems: &[Incompatibility]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Whether a dataset can be queried now.
#[derive(Debug, Clone)]
pub enum Availability {
    Available,
    /// The source could not be opened or no longer matches the contract.
    Unavailable(String),
}

/// A dataset as the catalog shows it.
#[derive(Debug, Clone)]
pub struct DatasetState {
    pub record: DatasetRecord,
    pub availability: Availability,
    opened: Option<OpenedSource>,
}

pub struct Registry {
    store: MetadataStore,
    connectors: Connectors,
    engine: Arc<QueryEngine>,
    accelerations: Arc<Accelerations>,
    datasets: RwLock<BTreeMap<(String, String), DatasetState>>,
    /// Changes run one at a time, so the store and the catalog never disagree on this hub.
    changes: Mutex<()>,
}

/// How long a row count estimate may take before the catalog answers without one.
const ESTIMATE_TIMEOUT: Duration = Duration::from_secs(5);

impl DatasetState {
    /// Decimal fields that need a rounding to be published today (see
    /// [`OpenedSource::unbounded_decimals`]); empty for a dataset that is not open.
    pub fn unbounded_decimals(&self) -> &[String] {
        self.opened
            .as_ref()
            .map_or(&[], |opened| opened.unbounded_decimals.as_slice())
    }
}

impl Registry {
    pub fn new(
        store: MetadataStore,
        connectors: Connectors,
        engine: Arc<QueryEngine>,
        accelerations: Arc<Accelerations>,
    ) -> Self {
        Self {
            store,
            connectors,
            engine,
            accelerations,
            datasets: RwLock::new(BTreeMap::new()),
            changes: Mutex::new(()),
        }
    }

    pub fn store(&self) -> &MetadataStore {
        &self.store
    }

    pub fn accelerations(&self) -> &Arc<Accelerations> {
        &self.accelerations
    }

    /// Opens every stored dataset and checks it against its contract. A dataset whose
    /// source fails stays in the catalog as unavailable, with the reason; the others serve.
    pub async fn load(&self) -> Result<(), RegistryError> {
        let _change = self.changes.lock().await;
        let records = self.store.list_datasets().await?;
        let mut datasets = BTreeMap::new();
        for record in records {
            let key = key(record.department(), record.name());
            datasets.insert(key, self.serve(record).await?);
        }
        *self.datasets.write().await = datasets;
        Ok(())
    }

    /// Brings this hub's catalog up to the store's, for changes made elsewhere (another
    /// replica on the same store, a command run beside the hub): a dataset published there
    /// is opened here, one whose contract or record changed is opened again, and one removed
    /// is no longer served. Datasets that did not change are left as they are, their sources
    /// open and their copies loaded. Returns how many datasets changed.
    pub async fn sync(&self) -> Result<usize, RegistryError> {
        let _change = self.changes.lock().await;
        let stored: BTreeMap<_, _> = self
            .store
            .list_datasets()
            .await?
            .into_iter()
            .map(|record| (key(record.department(), record.name()), record))
            .collect();
        let (gone, changed): (Vec<_>, Vec<_>) = {
            let current = self.datasets.read().await;
            let gone = current
                .keys()
                .filter(|key| !stored.contains_key(*key))
                .cloned()
                .collect();
            let changed = stored
                .iter()
                .filter(|(key, record)| {
                    current
                        .get(*key)
                        .is_none_or(|state| !same_record(&state.record, record))
                })
                .map(|(_, record)| record.clone())
                .collect();
            (gone, changed)
        };
        let count = gone.len() + changed.len();
        // One dataset the catalog refuses does not hold the others back; it is tried again
        // at the next read.
        for (department, name) in gone {
            if let Err(error) = self.engine.deregister(&department, &name) {
                tracing::error!(dataset = %format!("{department}.{name}"), %error, "a dataset removed elsewhere is still served here");
                continue;
            }
            self.accelerations.remove(&format!("{department}.{name}"));
            self.datasets.write().await.remove(&key(&department, &name));
            tracing::info!(dataset = %format!("{department}.{name}"), "removed elsewhere; no longer served");
        }
        for record in changed {
            let key = key(record.department(), record.name());
            let state = match self.serve(record).await {
                Ok(state) => state,
                Err(error) => {
                    tracing::error!(dataset = %format!("{}.{}", key.0, key.1), %error, "a dataset changed elsewhere is not served here as stored");
                    continue;
                }
            };
            tracing::info!(dataset = %format!("{}.{}", key.0, key.1), version = state.record.version, "changed elsewhere; served as stored");
            self.datasets.write().await.insert(key, state);
        }
        Ok(count)
    }

    /// `record` opened and registered for queries, or unavailable with the reason its source
    /// gave; an error only when the catalog refuses it.
    async fn serve(&self, record: DatasetRecord) -> Result<DatasetState, RegistryError> {
        let served = match self.open(&record.source, &record.contract).await {
            Ok(opened) => self
                .served_table(&record.contract, record.acceleration.as_ref(), &opened)
                .await
                .map(|table| (opened, table)),
            Err(error) => Err(error),
        };
        Ok(match served {
            Ok((opened, table)) => {
                self.register(&record, &opened, table)?;
                DatasetState {
                    record,
                    availability: Availability::Available,
                    opened: Some(opened),
                }
            }
            Err(error) => {
                let id = format!("{}.{}", record.department(), record.name());
                tracing::warn!(dataset = %id, %error, "dataset unavailable");
                // A dataset that was served and now fails to open is not served on.
                let _ = self.engine.deregister(record.department(), record.name());
                DatasetState {
                    record,
                    availability: Availability::Unavailable(error.to_string()),
                    opened: None,
                }
            }
        })
    }

    /// Every dataset, unavailable where its source failed at start or at its last read.
    pub async fn list(&self) -> Vec<DatasetState> {
        let failing = self.connectors.health().failing();
        self.datasets
            .read()
            .await
            .values()
            .cloned()
            .map(|state| with_reads(state, &failing))
            .collect()
    }

    pub async fn get(&self, department: &str, name: &str) -> Result<DatasetState, RegistryError> {
        let failing = self.connectors.health().failing();
        self.datasets
            .read()
            .await
            .get(&key(department, name))
            .cloned()
            .map(|state| with_reads(state, &failing))
            .ok_or_else(|| RegistryError::NotFound(format!("{department}.{name}")))
    }

    pub async fn versions(
        &self,
        department: &str,
        name: &str,
    ) -> Result<Vec<ContractVersion>, RegistryError> {
        Ok(self.store.contract_versions(department, name).await?)
    }

    /// Version `version` of a dataset's contract.
    pub async fn contract_at(
        &self,
        department: &str,
        name: &str,
        version: i64,
    ) -> Result<(ContractVersion, Contract), RegistryError> {
        self.store
            .contract_version(department, name, version)
            .await?
            .ok_or_else(|| RegistryError::NotFound(format!("version {version} of {department}.{name}")))
    }

    /// The source's own row count estimate, if it keeps one and answers in time.
    pub async fn estimate_rows(&self, state: &DatasetState) -> Option<u64> {
        let opened = state.opened.as_ref()?;
        let session = self.engine.session();
        let estimate = self
            .connectors
            .estimate_rows(&state.record.source, opened, &session);
        match tokio::time::timeout(ESTIMATE_TIMEOUT, estimate).await {
            Ok(Ok(rows)) => rows,
            Ok(Err(error)) => {
                tracing::debug!(%error, "no row count estimate");
                None
            }
            Err(_) => None,
        }
    }

    /// Publishes a new dataset: the contract must be valid and match its source. `gate` is
    /// passed (its audit record on disk) before the dataset is stored and served.
    pub async fn publish(
        &self,
        principal: &Principal,
        spec: DatasetSpec,
        gate: &mut Gate,
    ) -> Result<DatasetState, RegistryError> {
        let contract = &spec.contract;
        let id = format!("{}.{}", contract.department, contract.name);
        if !principal.may_publish_for(&contract.department) {
            return Err(RegistryError::Forbidden(format!(
                "only the {} department's publishers may publish {id}",
                contract.department
            )));
        }
        let _change = self.changes.lock().await;
        if self
            .datasets
            .read()
            .await
            .contains_key(&key(&contract.department, &contract.name))
        {
            return Err(RegistryError::AlreadyExists(id));
        }
        self.connectors.check_spec(&spec.source)?;
        let opened = self.open(&spec.source, contract).await?;
        refuse_unbounded(&opened)?;
        let table = self
            .served_table(contract, spec.acceleration.as_ref(), &opened)
            .await?;
        if let Err(error) = gate.pass().await {
            self.accelerations.remove(&id);
            return Err(error.into());
        }
        let inserted = self
            .store
            .insert_dataset(NewDataset {
                contract,
                source: &spec.source,
                access: &spec.access,
                acceleration: spec.acceleration.as_ref(),
                published_by: &principal.id,
            })
            .await
            .map_err(|error| match error {
                StoreError::AlreadyExists(_) => RegistryError::AlreadyExists(id.clone()),
                other => other.into(),
            });
        let record = match inserted {
            Ok(record) => record,
            Err(error) => {
                self.accelerations.remove(&id);
                return Err(error);
            }
        };
        self.register(&record, &opened, table)?;
        tracing::info!(dataset = %id, by = %principal.id, "published");
        Ok(self.remember(record, opened).await)
    }

    /// Makes `contract` the dataset's next version. It must be backward compatible with the
    /// current one unless an admin forces it, and must match the source either way.
    pub async fn update_contract(
        &self,
        principal: &Principal,
        department: &str,
        name: &str,
        contract: Contract,
        force: bool,
        gate: &mut Gate,
    ) -> Result<DatasetState, RegistryError> {
        let id = format!("{department}.{name}");
        // Forcing an incompatible contract is its owner's decision, recorded as forced.
        if !principal.may_publish_for(department) {
            return Err(RegistryError::Forbidden(format!(
                "only the {department} department's publishers may change {id}"
            )));
        }
        let found = format!("{}.{}", contract.department, contract.name);
        if found != id {
            return Err(RegistryError::WrongDataset { expected: id, found });
        }
        let _change = self.changes.lock().await;
        let current = self.get(department, name).await?.record;
        let problems = check_compatible(&current.contract, &contract);
        if !problems.is_empty() && !force {
            return Err(RegistryError::Incompatible(problems));
        }
        let opened = self.open(&current.source, &contract).await?;
        refuse_unbounded(&opened)?;
        let table = self
            .served_table(&contract, current.acceleration.as_ref(), &opened)
            .await?;
        gate.pass().await?;
        let version = self
            .store
            .add_contract_version(&contract, current.version, &principal.id, !problems.is_empty())
            .await?;
        let record = self
            .store
            .dataset(department, name)
            .await?
            .ok_or_else(|| RegistryError::NotFound(id.clone()))?;
        self.register(&record, &opened, table)?;
        tracing::info!(dataset = %id, version, by = %principal.id, forced = !problems.is_empty(), "contract changed");
        Ok(self.remember(record, opened).await)
    }

    pub async fn delete(
        &self,
        principal: &Principal,
        department: &str,
        name: &str,
        gate: &mut Gate,
    ) -> Result<(), RegistryError> {
        let id = format!("{department}.{name}");
        if !principal.may_publish_for(department) {
            return Err(RegistryError::Forbidden(format!(
                "only the {department} department's publishers may remove {id}"
            )));
        }
        let _change = self.changes.lock().await;
        self.get(department, name).await?;
        gate.pass().await?;
        if !self.store.delete_dataset(department, name).await? {
            return Err(RegistryError::NotFound(id));
        }
        self.engine
            .deregister(department, name)
            .map_err(|error| RegistryError::Catalog(error.to_string()))?;
        self.accelerations.remove(&id);
        self.datasets.write().await.remove(&key(department, name));
        tracing::info!(dataset = %id, by = %principal.id, "removed");
        Ok(())
    }

    async fn open(&self, source: &SourceSpec, contract: &Contract) -> Result<OpenedSource, RegistryError> {
        let session = self.engine.session();
        Ok(self.connectors.open(source, contract, &session).await?)
    }

    /// The table queries of the dataset read: the source itself, or an in-memory copy of it
    /// (loaded now) when the dataset is accelerated.
    async fn served_table(
        &self,
        contract: &Contract,
        acceleration: Option<&AccelerationSpec>,
        opened: &OpenedSource,
    ) -> Result<Arc<dyn TableProvider>, RegistryError> {
        let id = format!("{}.{}", contract.department, contract.name);
        let Some(spec) = acceleration else {
            self.accelerations.remove(&id);
            return Ok(opened.table.clone());
        };
        // A copy with a one-column primary key is sorted by it, for lookups by key.
        let key = match contract.primary_key.as_slice() {
            [column] => opened.table.schema().index_of(column).ok(),
            _ => None,
        };
        let table = self
            .accelerations
            .accelerate(&id, spec, opened.table.clone(), key)
            .await?;
        Ok(table)
    }

    fn register(
        &self,
        record: &DatasetRecord,
        opened: &OpenedSource,
        table: Arc<dyn TableProvider>,
    ) -> Result<(), RegistryError> {
        let schema = opened.table.schema();
        let mut dataset = declared_info(&record.contract, &record.access);
        // The policies see each column as the source gives it.
        for column in &mut dataset.columns {
            if let Ok(field) = schema.field_with_name(&column.name) {
                column.data_type = field.data_type().clone();
            }
        }
        self.engine
            .register(record.department(), record.name(), table, dataset)
            .map_err(|error| RegistryError::Catalog(error.to_string()))
    }

    async fn remember(&self, record: DatasetRecord, opened: OpenedSource) -> DatasetState {
        let state = DatasetState {
            record,
            availability: Availability::Available,
            opened: Some(opened),
        };
        self.datasets
            .write()
            .await
            .insert(key(state.record.department(), state.record.name()), state.clone());
        state
    }
}

/// What the policies know of a dataset from its contract and access conditions alone: its
/// columns as declared, their classifications, its subject key. What a publish checks the
/// published permits against before the source is opened.
pub fn declared_info(contract: &Contract, access: &AccessConditions) -> DatasetInfo {
    DatasetInfo {
        id: DatasetId::new(&contract.department, &contract.name),
        columns: contract
            .fields
            .iter()
            .map(|field| ColumnInfo {
                name: field.name.clone(),
                data_type: field.data_type.clone(),
                classification: field.classification.clone(),
            })
            .collect(),
        recertification_days: access.recertification_days,
        subject_key: contract.subject_key.clone(),
    }
}

/// A new dataset or contract version must say how to read every value of its source: a
/// decimal field over a column of any scale needs a rounding. Datasets stored before this
/// rule load as they are, and name such fields in their catalog entry.
fn refuse_unbounded(opened: &OpenedSource) -> Result<(), RegistryError> {
    if opened.unbounded_decimals.is_empty() {
        Ok(())
    } else {
        Err(ConnectorError::UnboundedDecimals(opened.unbounded_decimals.clone()).into())
    }
}

/// A dataset whose last read failed is unavailable until one succeeds.
fn with_reads(
    mut state: DatasetState,
    failing: &std::collections::BTreeMap<String, causeway_connectors::SourceFailure>,
) -> DatasetState {
    if matches!(state.availability, Availability::Available)
        && let Some(failure) = failing.get(&format!("{}.{}", state.record.department(), state.record.name()))
    {
        state.availability = Availability::Unavailable(format!(
            "its last read failed at {}: {}",
            failure.since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            failure.reason
        ));
    }
    state
}

/// Whether two records of one dataset are the same publication at the same version: a
/// dataset removed and published again has a new creation time.
fn same_record(held: &DatasetRecord, stored: &DatasetRecord) -> bool {
    held.version == stored.version
        && held.created_at == stored.created_at
        && held.updated_at == stored.updated_at
}

fn key(department: &str, name: &str) -> (String, String) {
    (department.to_owned(), name.to_owned())
}
