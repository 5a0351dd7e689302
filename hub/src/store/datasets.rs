//! Datasets and the versions of their contracts.

use causeway_connectors::SourceSpec;
use causeway_connectors::accelerated::AccelerationSpec;
use causeway_policies::AccessConditions;
use causeway_schemas::Contract;
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::changes::Change;
use super::{MetadataStore, Result, StoreError, json, now, parse};

/// A published dataset with its current contract.
#[derive(Debug, Clone)]
pub struct DatasetRecord {
    pub contract: Contract,
    pub source: SourceSpec,
    /// What the owner publishes about getting access: decision time and the permit list.
    pub access: AccessConditions,
    /// Whether queries read an in-memory copy instead of the source, refreshed how often.
    pub acceleration: Option<AccelerationSpec>,
    pub version: i64,
    pub published_by: String,
    pub created_at: String,
    pub updated_at: String,
}

impl DatasetRecord {
    pub fn department(&self) -> &str {
        &self.contract.department
    }

    pub fn name(&self) -> &str {
        &self.contract.name
    }
}

/// One version of a dataset's contract.
#[derive(Debug, Clone, Serialize)]
pub struct ContractVersion {
    pub version: i64,
    pub created_by: String,
    pub created_at: String,
    /// Whether an admin forced an incompatible change.
    pub forced: bool,
}

pub struct NewDataset<'a> {
    pub contract: &'a Contract,
    pub source: &'a SourceSpec,
    pub access: &'a AccessConditions,
    pub acceleration: Option<&'a AccelerationSpec>,
    pub published_by: &'a str,
}

/// Datasets with their current contract; a `WHERE` may follow.
macro_rules! select_datasets {
    ($($tail:literal)?) => {
        concat!(
            "SELECT d.source, d.access, d.acceleration, d.current_version, d.published_by, d.created_at, d.updated_at, v.contract \
             FROM datasets d JOIN contract_versions v \
             ON v.department = d.department AND v.name = d.name AND v.version = d.current_version ",
            $($tail)?
        )
    };
}

impl MetadataStore {
    pub async fn list_datasets(&self) -> Result<Vec<DatasetRecord>> {
        let rows = sqlx::query(select_datasets!("ORDER BY d.department, d.name"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(dataset_from_row).collect()
    }

    pub async fn dataset(&self, department: &str, name: &str) -> Result<Option<DatasetRecord>> {
        let row = sqlx::query(select_datasets!("WHERE d.department = $1 AND d.name = $2"))
            .bind(department)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(dataset_from_row).transpose()
    }

    /// Every version of a dataset's contract, oldest first.
    pub async fn contract_versions(&self, department: &str, name: &str) -> Result<Vec<ContractVersion>> {
        let rows = sqlx::query(
            "SELECT version, created_by, created_at, forced FROM contract_versions \
             WHERE department = $1 AND name = $2 ORDER BY version",
        )
        .bind(department)
        .bind(name)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ContractVersion {
                    version: row.try_get("version")?,
                    created_by: row.try_get("created_by")?,
                    created_at: row.try_get("created_at")?,
                    forced: row.try_get::<i64, _>("forced")? != 0,
                })
            })
            .collect()
    }

    /// One version of a dataset's contract as it was published; none when there is no such
    /// version.
    pub async fn contract_version(
        &self,
        department: &str,
        name: &str,
        version: i64,
    ) -> Result<Option<(ContractVersion, Contract)>> {
        let row = sqlx::query(
            "SELECT version, created_by, created_at, forced, contract FROM contract_versions \
             WHERE department = $1 AND name = $2 AND version = $3",
        )
        .bind(department)
        .bind(name)
        .bind(version)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok((
                ContractVersion {
                    version: row.try_get("version")?,
                    created_by: row.try_get("created_by")?,
                    created_at: row.try_get("created_at")?,
                    forced: row.try_get::<i64, _>("forced")? != 0,
                },
                parse(&row.try_get::<String, _>("contract")?)?,
            ))
        })
        .transpose()
    }

    /// Records a new dataset as version 1 of its contract; its department is created on
    /// first use.
    pub async fn insert_dataset(&self, new: NewDataset<'_>) -> Result<DatasetRecord> {
        let contract = new.contract;
        let (department, name) = (contract.department.as_str(), contract.name.as_str());
        let at = now();
        let mut transaction = self.pool.begin().await?;
        let existing = sqlx::query("SELECT 1 FROM datasets WHERE department = $1 AND name = $2")
            .bind(department)
            .bind(name)
            .fetch_optional(&mut *transaction)
            .await?;
        if existing.is_some() {
            return Err(StoreError::AlreadyExists(format!("dataset {department}.{name}")));
        }
        sqlx::query(
            "INSERT INTO departments (name, created_at) SELECT $1, $2 \
             WHERE NOT EXISTS (SELECT 1 FROM departments WHERE name = $3)",
        )
        .bind(department)
        .bind(&at)
        .bind(department)
        .execute(&mut *transaction)
        .await?;
        let inserted = sqlx::query(
            "INSERT INTO datasets (department, name, source, access, acceleration, current_version, published_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $8)",
        )
        .bind(department)
        .bind(name)
        .bind(json(new.source)?)
        .bind(json(new.access)?)
        .bind(new.acceleration.map(json).transpose()?)
        .bind(new.published_by)
        .bind(&at)
        .bind(&at)
        .execute(&mut *transaction)
        .await;
        if let Err(error) = inserted {
            return Err(unique_violation_as(error, || {
                format!("dataset {department}.{name}")
            }));
        }
        insert_version(&mut transaction, contract, 1, new.published_by, &at, false).await?;
        self.note(&mut transaction, Change::Datasets).await?;
        transaction.commit().await?;
        Ok(DatasetRecord {
            contract: contract.clone(),
            source: new.source.clone(),
            access: new.access.clone(),
            acceleration: new.acceleration.cloned(),
            version: 1,
            published_by: new.published_by.to_owned(),
            created_at: at.clone(),
            updated_at: at,
        })
    }

    /// Makes `contract` the next version, provided the current version is still `expected`
    /// (another hub replica may have changed it meanwhile).
    pub async fn add_contract_version(
        &self,
        contract: &Contract,
        expected: i64,
        created_by: &str,
        forced: bool,
    ) -> Result<i64> {
        let (department, name) = (contract.department.as_str(), contract.name.as_str());
        let at = now();
        let next = expected + 1;
        let mut transaction = self.pool.begin().await?;
        let updated = sqlx::query(
            "UPDATE datasets SET current_version = $1, updated_at = $2 \
             WHERE department = $3 AND name = $4 AND current_version = $5",
        )
        .bind(next)
        .bind(&at)
        .bind(department)
        .bind(name)
        .bind(expected)
        .execute(&mut *transaction)
        .await?;
        if updated.rows_affected() != 1 {
            return Err(StoreError::Conflict(format!("dataset {department}.{name}")));
        }
        insert_version(&mut transaction, contract, next, created_by, &at, forced).await?;
        self.note(&mut transaction, Change::Datasets).await?;
        transaction.commit().await?;
        Ok(next)
    }

    /// Removes a dataset and its contract versions; false when there was none.
    pub async fn delete_dataset(&self, department: &str, name: &str) -> Result<bool> {
        let mut transaction = self.pool.begin().await?;
        sqlx::query("DELETE FROM contract_versions WHERE department = $1 AND name = $2")
            .bind(department)
            .bind(name)
            .execute(&mut *transaction)
            .await?;
        let deleted = sqlx::query("DELETE FROM datasets WHERE department = $1 AND name = $2")
            .bind(department)
            .bind(name)
            .execute(&mut *transaction)
            .await?;
        self.note(&mut transaction, Change::Datasets).await?;
        transaction.commit().await?;
        Ok(deleted.rows_affected() > 0)
    }
}

async fn insert_version(
    transaction: &mut sqlx::Transaction<'_, sqlx::Any>,
    contract: &Contract,
    version: i64,
    created_by: &str,
    at: &str,
    forced: bool,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO contract_versions (department, name, version, contract, created_by, created_at, forced) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&contract.department)
    .bind(&contract.name)
    .bind(version)
    .bind(json(contract)?)
    .bind(created_by)
    .bind(at)
    .bind(i64::from(forced))
    .execute(&mut **transaction)
    .await
    .map_err(|error| {
        unique_violation_as(error, || {
            format!(
                "version {version} of dataset {}.{}",
                contract.department, contract.name
            )
        })
    })?;
    Ok(())
}

fn dataset_from_row(row: &AnyRow) -> Result<DatasetRecord> {
    let access: Option<String> = row.try_get("access")?;
    let acceleration: Option<String> = row.try_get("acceleration")?;
    Ok(DatasetRecord {
        source: parse(&row.try_get::<String, _>("source")?)?,
        access: access.as_deref().map(parse).transpose()?.unwrap_or_default(),
        acceleration: acceleration.as_deref().map(parse).transpose()?,
        version: row.try_get("current_version")?,
        published_by: row.try_get("published_by")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        contract: parse(&row.try_get::<String, _>("contract")?)?,
    })
}

/// Two replicas publishing the same dataset at once: the loser's insert breaks the key.
fn unique_violation_as(error: sqlx::Error, what: impl FnOnce() -> String) -> StoreError {
    match &error {
        sqlx::Error::Database(database) if database.is_unique_violation() => {
            StoreError::AlreadyExists(what())
        }
        _ => StoreError::Database(error),
    }
}
