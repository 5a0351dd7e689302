//! The store's behaviour, the same against SQLite and PostgreSQL. PostgreSQL tests use a
//! database of their own on the machine's server; with `CI=true` a missing server fails.

use causeway_connectors::SourceSpec;
use causeway_connectors::accelerated::{AccelerationMode, AccelerationSpec};
use causeway_policies::AccessConditions;
use causeway_schemas::Contract;

use super::{MetadataStore, NewDataset, StoreError};

const CONTRACT: &str = r#"
department: civil_affairs
name: residents
title: Residents
owner: { name: Desk, email: desk@example.gov }
fields:
  - { name: id_number, type: string, nullable: false }
  - { name: town, type: string }
primary_key: [id_number]
"#;

fn contract() -> Contract {
    Contract::from_yaml(CONTRACT).expect("contract")
}

fn source() -> SourceSpec {
    SourceSpec::Parquet {
        path: "residents.parquet".into(),
    }
}

/// Runs `check` against a fresh SQLite store and a fresh PostgreSQL store.
async fn on_every_store<F, Fut>(check: F)
where
    F: Fn(MetadataStore) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("metadata.db").display());
    check(MetadataStore::connect(&url).await.expect("sqlite store")).await;

    if let Some(database) = TestDatabase::create().await {
        check(
            MetadataStore::connect(&database.url)
                .await
                .expect("postgres store"),
        )
        .await;
        database.drop().await;
    }
}

struct TestDatabase {
    name: String,
    url: String,
}

const SERVER: &str = "postgres://postgres@127.0.0.1:5432/test";

impl TestDatabase {
    async fn create() -> Option<Self> {
        use sqlx::Connection;
        let name = format!("causeway_store_{}", uuid::Uuid::new_v4().simple());
        match sqlx::PgConnection::connect(SERVER).await {
            Ok(mut connection) => {
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut connection)
                    .await
                    .expect("create database");
                Some(Self {
                    url: format!("postgres://postgres@127.0.0.1:5432/{name}"),
                    name,
                })
            }
            Err(error) if std::env::var("CI").is_ok_and(|ci| ci == "true" || ci == "1") => {
                panic!("PostgreSQL at 127.0.0.1:5432 is required (CI=true): {error}")
            }
            Err(error) => {
                eprintln!("PostgreSQL store checks skipped: {error}");
                None
            }
        }
    }

    async fn drop(self) {
        use sqlx::Connection;
        if let Ok(mut connection) = sqlx::PgConnection::connect(SERVER).await {
            let statement = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
                .execute(&mut connection)
                .await;
        }
    }
}

#[tokio::test]
async fn datasets_are_stored_with_their_first_version() {
    on_every_store(|store| async move {
        assert!(store.list_datasets().await.expect("list").is_empty());
        let contract = contract();
        let source = source();
        let acceleration = AccelerationSpec {
            mode: AccelerationMode::Memory,
            refresh: Some(std::time::Duration::from_secs(600)),
        };
        let record = store
            .insert_dataset(NewDataset {
                contract: &contract,
                source: &source,
                access: &AccessConditions::default(),
                acceleration: Some(&acceleration),
                published_by: "steward",
            })
            .await
            .expect("insert");
        assert_eq!(record.version, 1);

        let stored = store
            .dataset("civil_affairs", "residents")
            .await
            .expect("get")
            .expect("present");
        assert_eq!(stored.contract, contract);
        assert_eq!(stored.source, source);
        assert_eq!(stored.acceleration, Some(acceleration));
        assert_eq!(stored.published_by, "steward");
        assert!(
            store
                .dataset("civil_affairs", "nobody")
                .await
                .expect("get")
                .is_none()
        );

        let again = store
            .insert_dataset(NewDataset {
                contract: &contract,
                source: &source,
                access: &AccessConditions::default(),
                acceleration: None,
                published_by: "steward",
            })
            .await;
        assert!(matches!(again, Err(StoreError::AlreadyExists(_))), "{again:?}");
    })
    .await;
}

#[tokio::test]
async fn every_contract_version_is_kept_and_changes_do_not_race() {
    on_every_store(|store| async move {
        let contract = contract();
        store
            .insert_dataset(NewDataset {
                contract: &contract,
                source: &source(),
                access: &AccessConditions::default(),
                acceleration: None,
                published_by: "steward",
            })
            .await
            .expect("insert");
        let mut second = contract.clone();
        second.title = "Resident register".into();
        assert_eq!(
            store
                .add_contract_version(&second, 1, "steward", false)
                .await
                .expect("v2"),
            2
        );
        let stale = store.add_contract_version(&second, 1, "other", false).await;
        assert!(matches!(stale, Err(StoreError::Conflict(_))), "{stale:?}");
        assert_eq!(
            store
                .add_contract_version(&second, 2, "admin", true)
                .await
                .expect("v3"),
            3
        );

        let versions = store
            .contract_versions("civil_affairs", "residents")
            .await
            .expect("versions");
        let summary: Vec<(i64, &str, bool)> = versions
            .iter()
            .map(|version| (version.version, version.created_by.as_str(), version.forced))
            .collect();
        assert_eq!(
            summary,
            vec![(1, "steward", false), (2, "steward", false), (3, "admin", true)]
        );
        let current = store
            .dataset("civil_affairs", "residents")
            .await
            .expect("get")
            .expect("present");
        assert_eq!(
            (current.version, current.contract.title.as_str()),
            (3, "Resident register")
        );
    })
    .await;
}

#[tokio::test]
async fn deleting_removes_the_dataset_and_its_versions() {
    on_every_store(|store| async move {
        let contract = contract();
        store
            .insert_dataset(NewDataset {
                contract: &contract,
                source: &source(),
                access: &AccessConditions::default(),
                acceleration: None,
                published_by: "steward",
            })
            .await
            .expect("insert");
        assert!(
            store
                .delete_dataset("civil_affairs", "residents")
                .await
                .expect("delete")
        );
        assert!(
            !store
                .delete_dataset("civil_affairs", "residents")
                .await
                .expect("delete again")
        );
        assert!(
            store
                .contract_versions("civil_affairs", "residents")
                .await
                .expect("versions")
                .is_empty()
        );
        // The name may be published again, starting over at version 1.
        let record = store
            .insert_dataset(NewDataset {
                contract: &contract,
                source: &source(),
                access: &AccessConditions::default(),
                acceleration: None,
                published_by: "steward",
            })
            .await
            .expect("republish");
        assert_eq!(record.version, 1);
    })
    .await;
}

#[tokio::test]
async fn unsupported_urls_are_refused() {
    let error = MetadataStore::connect("mysql://root@127.0.0.1/test")
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::UnsupportedUrl), "{error}");
}
