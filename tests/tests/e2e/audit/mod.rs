//! The audit log: what each access leaves in it, that a query's record is on disk before
//! its result, that a crash loses nothing acknowledged, that tampering is found, and that
//! queries stop when the log cannot be written.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Hub, causeway, eventually, json_of};

mod integrity;
mod reading;
mod records;

const RESIDENTS_CSV: &str = "id_number,name,town,grid_id\n\
440605199001011234,Chen Wei,Guicheng,GC-001\n\
440605198502022345,Li Na,Dali,DL-003\n\
440605197703033456,Wang Fang,Guicheng,GC-001\n";

const PURPOSE: &str = "grid-management";

/// A hub with the residents published and an analyst of grid GC-001 who reads them with
/// the ID number hashed and only their grid's rows.
async fn setup() -> (Hub, reqwest::Client, String) {
    setup_on(Hub::start("").await).await
}

async fn setup_on(hub: Hub) -> (Hub, reqwest::Client, String) {
    hub.publish_residents(RESIDENTS_CSV, "").await;
    let secret = hub
        .add_client(
            "grid-worker",
            "town_office",
            &["analyst"],
            json!({"grid_id": "GC-001"}),
        )
        .await;
    let grant = hub
        .grant(json!({
            "subject": {"client": "grid-worker"},
            "dataset": "civil_affairs.residents",
            "masks": {"id_number": {"kind": "hash"}},
            "row_filter": "grid_id = principal.grid_id",
            "purposes": [PURPOSE],
        }))
        .await;
    let analyst = hub.authorized(&hub.token("grid-worker", &secret).await);
    let grant_id = grant["id"].as_str().expect("grant id").to_owned();
    (hub, analyst, grant_id)
}

/// A query for the purpose these tests' grants name, headers and all.
async fn ask(hub: &Hub, client: &reqwest::Client, sql: &str) -> reqwest::Response {
    hub.caller(client).query_response(sql, PURPOSE).await
}

fn audit_dir(hub: &Hub) -> PathBuf {
    hub.dir().join("audit")
}

/// Every record of the log in `dir`, oldest first.
fn records(dir: &Path) -> Vec<Value> {
    let mut segments: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("audit dir")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "jsonl"))
        .collect();
    segments.sort();
    segments
        .iter()
        .flat_map(|path| {
            std::fs::read_to_string(path)
                .expect("segment")
                .lines()
                .filter_map(|line| serde_json::from_str(line).ok())
                .collect::<Vec<Value>>()
        })
        .collect()
}

fn find<'a>(records: &'a [Value], action: &str, query_id: &str) -> &'a Value {
    records
        .iter()
        .find(|record| record["action"] == action && record["query_id"] == query_id)
        .unwrap_or_else(|| panic!("no {action} record of query {query_id}"))
}

fn verify_cli(hub: &Hub) -> std::process::Output {
    causeway(&[
        "audit",
        "verify",
        "--config",
        &hub.dir().join("causeway.toml").to_string_lossy(),
    ])
}

/// A tiny file system for the audit log, mounted for the test and taken away after it.
pub(crate) struct SmallDisk {
    pub(crate) path: PathBuf,
}

impl SmallDisk {
    pub(crate) fn mount() -> Option<SmallDisk> {
        let path = std::env::temp_dir().join(format!("causeway-audit-disk-{}", std::process::id()));
        std::fs::create_dir_all(&path).expect("mount point");
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
            .arg(&path)
            .status()
            .is_ok_and(|status| status.success());
        if mounted {
            Some(SmallDisk { path })
        } else {
            assert!(
                std::env::var("CI").is_err(),
                "cannot mount a small tmpfs (needs root): the audit disk test cannot run"
            );
            eprintln!("skipped: cannot mount a tmpfs here");
            None
        }
    }

    /// Fills the disk to its last byte.
    pub(crate) fn fill(&self) -> PathBuf {
        let filler = self.path.join("filler");
        let mut file = std::fs::File::create(&filler).expect("filler");
        let block = vec![0u8; 64 * 1024];
        let mut size = block.len();
        // Smaller and smaller writes, until not one byte fits.
        while size > 0 {
            match std::io::Write::write(&mut file, &block[..size]) {
                Ok(written) if written > 0 => {}
                _ => size /= 2,
            }
        }
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.path).status();
        let _ = std::fs::remove_dir(&self.path);
    }
}
