//! Backup and restore: a backup of a running hub on SQLite, restored into a new hub on
//! PostgreSQL, serves the same accounts, grants and pseudonyms, and its audit chain, the
//! backup's and restore's records in it, verifies. A damaged backup, and a hub that already
//! has state, are refused before anything is written.

use std::path::Path;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Hub, POSTGRES_URL, Postgres, causeway};

const RESIDENTS: &str = "id_number,name,town\n\
110101199001011234,Chen Wei,Guicheng\n\
110101198502022345,Li Na,Dali\n\
110101197003033456,Wang Fang,Guicheng\n";

const ROWS: &str = "SELECT id_number, name, town FROM civil_affairs.residents ORDER BY id_number";

/// The restored hub: its own data directory and store, the original's files as its file root.
fn restored_config(dir: &Path, files: &Path, store: &str) -> String {
    format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n\
         [storage]\ndata_dir = \"{dir}\"\nmetadata_url = \"{store}\"\n\
         [connectors]\nfile_roots = [\"{files}\"]\n",
        dir = dir.display(),
        files = files.display(),
    )
}

fn run(args: &[&str]) -> (bool, String) {
    let output = causeway(args);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

fn kids(jwks: &Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|key| key["kid"].as_str().expect("kid").to_owned())
        .collect()
}

#[tokio::test]
async fn a_backup_of_a_running_hub_restores_into_a_new_hub_on_another_store() {
    let Some(pg) = Postgres::connect().await else {
        return;
    };
    let store = format!("{POSTGRES_URL}?options=-c%20search_path%3D{}", pg.schema);
    let a = Hub::start("").await;
    a.publish_residents(RESIDENTS, "").await;
    let secret = a
        .add_client("backup-analyst", "statistics", &["analyst"], json!({}))
        .await;
    a.grant(json!({
        "subject": {"client": "backup-analyst"},
        "dataset": "civil_affairs.residents",
        "masks": {"name": {"kind": "hash"}},
        "purposes": ["testing"],
    }))
    .await;
    let analyst = a.caller_of("backup-analyst", &secret).await;
    let (status, before) = analyst.query(ROWS, "testing").await;
    assert_eq!(status, StatusCode::OK, "{before}");
    assert_ne!(before["rows"][0]["name"], "Li Na", "the name is masked: {before}");
    let (_, jwks_before) = a.get("/.well-known/jwks.json").await;

    // Backed up while A runs: A records it, then the backup is made.
    let folder = tempfile::tempdir().expect("tempdir");
    let backup = folder.path().join("backup");
    let config_a = a.dir().join("causeway.toml");
    let (ok, said) = run(&[
        "backup",
        "--config",
        &config_a.to_string_lossy(),
        "--to",
        &backup.to_string_lossy(),
    ]);
    assert!(ok, "{said}");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(backup.join("manifest.json")).expect("manifest"))
            .expect("json");
    assert_eq!(manifest["format"], "causeway-backup");
    assert!(manifest["tables"]["grants"].as_u64() >= Some(1), "{manifest}");
    assert!(manifest["files"]["keys/pseudonym.key"].is_object(), "{manifest}");

    // A damaged copy is refused, naming the file, before anything is written.
    let damaged = folder.path().join("damaged");
    copy_dir(&backup, &damaged);
    let grants = damaged.join("store/grants.jsonl");
    let text = std::fs::read_to_string(&grants).expect("grants");
    std::fs::write(&grants, text.replace("backup-analyst", "backup-analysT")).expect("tamper");
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let config_elsewhere = elsewhere.path().join("causeway.toml");
    std::fs::write(
        &config_elsewhere,
        restored_config(elsewhere.path(), a.dir(), "sqlite://metadata.db?mode=rwc"),
    )
    .expect("config");
    let (ok, said) = run(&[
        "restore",
        "--config",
        &config_elsewhere.to_string_lossy(),
        "--from",
        &damaged.to_string_lossy(),
    ]);
    assert!(!ok, "a damaged backup restored: {said}");
    assert!(said.contains("store/grants.jsonl"), "{said}");
    assert!(
        !elsewhere.path().join("keys").exists(),
        "nothing is written from a damaged backup"
    );

    // Restored into a new hub on PostgreSQL, which then starts.
    let restore_output = std::sync::Mutex::new(String::new());
    let b = a
        .replica_prepared(
            |dir| restored_config(dir, a.dir(), &store),
            |config| {
                let (ok, said) = run(&[
                    "restore",
                    "--config",
                    &config.to_string_lossy(),
                    "--from",
                    &backup.to_string_lossy(),
                ]);
                assert!(ok, "{said}");
                // A second restore into the same hub finds its state and is refused.
                let (again, refused) = run(&[
                    "restore",
                    "--config",
                    &config.to_string_lossy(),
                    "--from",
                    &backup.to_string_lossy(),
                ]);
                assert!(!again, "restored twice: {refused}");
                *restore_output.lock().expect("output") = format!("{said}\n{refused}");
            },
        )
        .await;
    let said = restore_output.into_inner().expect("output");
    assert!(said.contains("already holds"), "{said}");

    // The same accounts, grants, signing keys and pseudonyms.
    let analyst_at_b = b.caller_of("backup-analyst", &secret).await;
    let (status, after) = analyst_at_b.query(ROWS, "testing").await;
    assert_eq!(status, StatusCode::OK, "{after}\n{}", b.log());
    assert_eq!(after["rows"], before["rows"], "the same rows and pseudonyms");
    let (_, jwks_after) = b.get("/.well-known/jwks.json").await;
    assert_eq!(kids(&jwks_after), kids(&jwks_before));

    // One chain, continued: A's records, the backup's and the restore's, then B's own.
    let actions: Vec<Value> = b
        .audit_rows("SELECT action FROM audit.events WHERE action LIKE 'backup.%' ORDER BY seq")
        .await
        .into_iter()
        .map(|row| row["action"].clone())
        .collect();
    assert_eq!(actions, [json!("backup.made"), json!("backup.restored")]);
    let grants_made = b
        .audit_rows("SELECT count(*) AS n FROM audit.events WHERE action = 'grant.created'")
        .await;
    assert_eq!(
        grants_made[0]["n"], manifest["tables"]["grants"],
        "A's records of every grant the store holds are in the restored chain"
    );
    let config_b = b.dir().join("causeway.toml");
    let (ok, said) = run(&["audit", "verify", "--config", &config_b.to_string_lossy()]);
    assert!(ok, "{said}");
    pg.cleanup().await;
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let path = entry.expect("entry").path();
        let target = to.join(path.file_name().expect("name"));
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).expect("copy");
        }
    }
}
