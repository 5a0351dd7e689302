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

/// What a backup keeps of a store (every row, read in one snapshot) loads into a new store
/// of either kind and reads back the same: a dataset, an account and a day's count.
#[tokio::test]
async fn a_dump_loads_into_a_new_store_of_either_kind_and_reads_back_the_same() {
    use std::collections::{BTreeMap, BTreeSet};

    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("source.db").display());
    let source_store = MetadataStore::connect(&url).await.expect("sqlite store");
    let residents = contract();
    let source = source();
    source_store
        .insert_dataset(NewDataset {
            contract: &residents,
            source: &source,
            access: &AccessConditions::default(),
            acceleration: None,
            published_by: "steward",
        })
        .await
        .expect("dataset");
    let roles = BTreeSet::from([causeway_policies::Role::Analyst]);
    source_store
        .insert_client(super::NewClient {
            id: "stats-etl",
            kind: super::AccountKind::Service,
            name: None,
            department: "statistics",
            roles: &roles,
            attributes: &BTreeMap::new(),
            secret_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
            approved_by: Some("security-admin"),
        })
        .await
        .expect("client");
    let day = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).expect("day");
    source_store
        .add_row_usage(day, "stats-etl", &["civil_affairs.residents".into()], 42)
        .await
        .expect("usage");
    let dumped = source_store.dump().await.expect("dump");
    let tables: Vec<&str> = dumped.iter().map(|table| table.table.as_str()).collect();
    for expected in [
        "clients",
        "contract_versions",
        "datasets",
        "departments",
        "grants",
        "row_usage",
    ] {
        assert!(tables.contains(&expected), "{tables:?}");
    }

    let dumped = &dumped;
    on_every_store(|store| async move {
        assert!(store.is_empty().await.expect("empty"));
        store.load(dumped).await.expect("load");
        assert!(!store.is_empty().await.expect("empty"));
        assert_eq!(&store.dump().await.expect("dump again"), dumped);
        let dataset = store
            .dataset("civil_affairs", "residents")
            .await
            .expect("get")
            .expect("restored");
        assert_eq!(dataset.contract, contract());
        let client = store
            .client("stats-etl")
            .await
            .expect("client")
            .expect("restored");
        assert_eq!(client.approved_by.as_deref(), Some("security-admin"));
        let usage = store.row_usage(day, "stats-etl").await.expect("usage");
        assert_eq!(usage.get("civil_affairs.residents"), Some(&42));
    })
    .await;
}

/// The last migration of the previous release (commit 8726e48), whose stores this release
/// must take over.
const PREVIOUS_RELEASE: i64 = 7;

/// A store as the previous release left it, on either kind of store: its migrations applied
/// (as that release recorded them) and the rows it wrote (`fixtures/previous_release.sql`:
/// departments, datasets and contract versions, a service and a person, a grant, an access
/// request, an alert, a refresh token). This release migrates it and reads all of it.
#[tokio::test]
async fn a_store_left_by_the_previous_release_is_migrated_and_served() {
    // The migrations that release applied are this release's, byte for byte: sqlx refuses a
    // store whose applied migrations were edited since (their SHA-384, as it recorded them).
    for line in include_str!("fixtures/previous_release.checksums")
        .lines()
        .filter(|line| !line.starts_with('#'))
    {
        let (version, checksum) = line.split_once(' ').expect("version and checksum");
        let version: i64 = version.parse().expect("version");
        let migration = super::MIGRATIONS
            .iter()
            .find(|migration| migration.version == version)
            .expect("the migration is still there");
        let now: String = migration
            .checksum
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        assert_eq!(now, checksum, "migration {version} was edited after its release");
        let sql = std::fs::read(format!(
            "{}/migrations/{}",
            env!("CARGO_MANIFEST_DIR"),
            file_of(version)
        ))
        .expect("migration file");
        let digest: String = ring::digest::digest(&ring::digest::SHA384, &sql)
            .as_ref()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        assert_eq!(digest, checksum);
    }

    let dir = tempfile::tempdir().expect("tempdir");
    let mut urls = vec![format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("previous.db").display()
    )];
    let database = TestDatabase::create().await;
    urls.extend(database.as_ref().map(|database| database.url.clone()));
    for url in urls {
        let previous = MetadataStore::connect_at(&url, Some(PREVIOUS_RELEASE))
            .await
            .expect("the previous release's schema");
        sqlx::raw_sql(include_str!("fixtures/previous_release.sql"))
            .execute(&previous.pool)
            .await
            .expect("the previous release's rows");
        previous.pool.close().await;

        let store = MetadataStore::connect(&url)
            .await
            .expect("migrated by this release");
        assert_eq!(
            store.schema_version().await.expect("version"),
            MetadataStore::release_schema_version()
        );
        let datasets = store.list_datasets().await.expect("datasets");
        assert_eq!(datasets.len(), 1, "{datasets:?}");
        assert_eq!(datasets[0].contract.name, "residents");
        assert_eq!(datasets[0].version, 2);
        assert_eq!(
            store
                .contract_versions("civil_affairs", "residents")
                .await
                .expect("versions")
                .len(),
            2
        );
        let clients = store.list_clients().await.expect("clients");
        let person = clients
            .iter()
            .find(|client| client.kind == super::AccountKind::Person)
            .expect("a person");
        assert!(person.approved_by.is_some(), "{person:?}");
        assert_eq!(clients.len(), 2, "{clients:?}");
        let grants = store.list_grants().await.expect("grants");
        assert_eq!(grants.len(), 1);
        assert_eq!(grants[0].grant.purposes.len(), 1, "{:?}", grants[0]);
        assert_eq!(store.list_requests().await.expect("requests").len(), 1);
        assert_eq!(store.list_open_alerts().await.expect("alerts").len(), 1);
        // What the previous release did not have starts empty.
        assert_eq!(store.change_versions().await.expect("changes").len(), 4);
        let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 30).expect("day");
        assert!(store.row_usage(day, "stats-etl").await.expect("usage").is_empty());
    }
    if let Some(database) = database {
        database.drop().await;
    }
}

/// The file of migration `version`.
fn file_of(version: i64) -> String {
    std::fs::read_dir(format!("{}/migrations", env!("CARGO_MANIFEST_DIR")))
        .expect("migrations")
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .find(|name| name.starts_with(&format!("{version:04}_")))
        .expect("migration file")
}

/// Refusing what an account waits with: roles added to approved ones are taken away again,
/// and it keeps the approved roles it still holds, with their approval; a new account, or
/// one waiting with a new secret, is disabled.
#[tokio::test]
async fn a_refusal_takes_added_roles_away_and_disables_only_what_was_never_approved() {
    use causeway_policies::Role;
    use std::collections::{BTreeMap, BTreeSet};
    on_every_store(|store| async move {
        let roles = |list: &[Role]| list.iter().copied().collect::<BTreeSet<Role>>();
        let hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA";
        let insert = async |id: &str, held: &[Role], approved_by: Option<&str>| {
            store
                .insert_client(super::NewClient {
                    id,
                    kind: super::AccountKind::Service,
                    name: None,
                    department: "statistics",
                    roles: &roles(held),
                    attributes: &BTreeMap::new(),
                    secret_hash: hash,
                    approved_by,
                })
                .await
                .expect("client");
        };
        insert("grown", &[Role::Analyst, Role::Auditor], Some("officer")).await;
        insert("new", &[Role::Analyst, Role::Auditor], None).await;
        // A role added, then one of the approved ones taken away, while it waits.
        store
            .set_client_roles(
                "grown",
                &roles(&[Role::Analyst, Role::Auditor, Role::Publisher]),
                None,
            )
            .await
            .expect("roles");
        store
            .set_client_roles("grown", &roles(&[Role::Analyst, Role::Publisher]), None)
            .await
            .expect("roles");
        let waiting = store.client("grown").await.expect("read").expect("client");
        assert_eq!(waiting.approved_by, None);
        assert_eq!(
            waiting.approved_roles,
            Some(roles(&[Role::Analyst, Role::Auditor])),
            "what was approved is kept from the first change on"
        );
        let refused = store
            .refuse_client("grown", "officer-2", "no request on file")
            .await;
        assert_eq!(
            refused.expect("refuse"),
            Some(super::Refusal::RolesKept(roles(&[Role::Analyst])))
        );
        let kept = store.client("grown").await.expect("read").expect("client");
        assert_eq!(
            (
                kept.disabled,
                kept.roles.clone(),
                kept.approved_by.as_deref(),
                kept.approved_roles.clone()
            ),
            (false, roles(&[Role::Analyst]), Some("officer"), None),
            "the approved role it still held, with its approval: {kept:?}"
        );
        assert_eq!(
            kept.refused.map(|refused| refused.by).as_deref(),
            Some("officer-2")
        );
        assert_eq!(
            store
                .refuse_client("grown", "officer-2", "again")
                .await
                .expect("refuse"),
            None,
            "it waits for nothing now"
        );

        // A new secret waits with nothing to go back to, even after a role change.
        store
            .set_client_roles("grown", &roles(&[Role::Analyst, Role::Publisher]), None)
            .await
            .expect("roles");
        store
            .set_client_secret("grown", hash, None)
            .await
            .expect("secret");
        assert_eq!(
            store
                .client("grown")
                .await
                .expect("read")
                .expect("client")
                .approved_roles,
            None
        );
        assert_eq!(
            store
                .refuse_client("grown", "officer-2", "who asked for this?")
                .await
                .expect("refuse"),
            Some(super::Refusal::Disabled)
        );
        assert!(
            store
                .client("grown")
                .await
                .expect("read")
                .expect("client")
                .disabled
        );

        // A new account had nothing approved.
        assert_eq!(
            store
                .refuse_client("new", "officer-2", "unknown")
                .await
                .expect("refuse"),
            Some(super::Refusal::Disabled)
        );
        let new = store.client("new").await.expect("read").expect("client");
        assert!(new.disabled && new.approved_roles.is_none(), "{new:?}");

        // An approval ends what a refusal left.
        insert("approved-later", &[Role::Analyst], Some("officer")).await;
        store
            .set_client_roles("approved-later", &roles(&[Role::Analyst, Role::Publisher]), None)
            .await
            .expect("roles");
        assert!(
            store
                .approve_client("approved-later", "officer-2")
                .await
                .expect("approve")
        );
        let approved = store
            .client("approved-later")
            .await
            .expect("read")
            .expect("client");
        assert_eq!(
            (approved.approved_by.as_deref(), approved.approved_roles),
            (Some("officer-2"), None)
        );
    })
    .await;
}
