//! Backup and restore of a hub's state: the metadata store's rows, the signing keys, the
//! pseudonym key (without which no pseudonym, hashed mask or sealed audit value is ever
//! given or opened again) and the audit chains.
//!
//! A backup is a folder (`causeway-backup` format 1):
//!
//! ```text
//! manifest.json               what was kept, with the SHA-256 and size of every file below
//! store/<table>.jsonl         one JSON object per row, in the store's own column names
//! keys/signing/<name>.key     the Ed25519 signing keys, PKCS #8, as the keys folder holds them
//! keys/pseudonym.key          the pseudonym key
//! keys/pseudonym.retired/     the pseudonym keys rotations replaced, which open old sealed values
//! audit/<node>/segment-*.jsonl  each chain's segments, as far as they were written whole
//! ```
//!
//! The manifest is written last, so a folder without one is not a backup. What is read in
//! which order makes a backup of a running hub consistent: the store is read in one
//! snapshot, then the chains, then the keys, and since every change is recorded before it
//! takes effect, each change the store's rows show has its record in the chains copied after;
//! the keys come last, so every key that signed a checkpoint copied is in the backup.
//! The chains' last records may follow their last checkpoint; the restored hub seals that
//! tail when it starts, as it does after a crash (`audit.recovered`).
//!
//! Restoring writes into a hub that has nothing yet: an empty store (SQLite or PostgreSQL,
//! whichever the backup came from), no keys or the same keys, no chain. Every file is checked
//! against the manifest before anything is written. The rows are written at the schema
//! version they were read at and then migrated, so a backup made by an earlier release
//! restores into this one; one made by a later release is refused.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::audit::segments;
use crate::config::Config;
use crate::store::{MetadataStore, StoreError, TableRows};

/// What the manifest's `format` says.
pub const FORMAT: &str = "causeway-backup";
/// The version of the layout above; a restore refuses versions it does not know.
pub const FORMAT_VERSION: u32 = 1;
const MANIFEST: &str = "manifest.json";

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the backup in {folder} is damaged: {reason}")]
    Damaged { folder: String, reason: String },
    #[error("{0}")]
    Refused(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// A backup's table of contents.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    pub format_version: u32,
    /// The release of Causeway that made it.
    pub release: String,
    pub made_at: DateTime<Utc>,
    /// The last store migration applied when the rows were read.
    pub schema_version: i64,
    /// `sqlite` or `postgresql`: where the rows were read from.
    pub store: String,
    /// Rows kept, by table.
    pub tables: BTreeMap<String, usize>,
    /// The chains kept, by node (the folder names under `audit/`).
    pub chains: Vec<String>,
    /// Every file of the backup but the manifest, by path relative to the backup's folder.
    pub files: BTreeMap<String, FileEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileEntry {
    pub bytes: u64,
    /// Lower-case hexadecimal SHA-256 of the file.
    pub sha256: String,
}

/// Which audit chains a backup or restore takes.
#[derive(Debug, Clone, Copy)]
pub enum Chains<'a> {
    /// The hub's own, in its `storage.audit_dir`, kept under its `audit.node` name.
    Own,
    /// Every node's folder under this root (replicas sharing one audit volume).
    All(&'a Path),
}

/// Makes a backup of the hub `config` describes into `to`, which must not exist or be empty.
pub async fn make(config: &Config, to: &Path, chains: Chains<'_>) -> Result<Manifest, BackupError> {
    if to.exists() && std::fs::read_dir(to).map_err(io(to))?.next().is_some() {
        return Err(BackupError::Refused(format!(
            "{} is not empty: a backup goes into a new folder",
            to.display()
        )));
    }
    create_private_dir(to)?;
    let mut files = BTreeMap::new();

    // The store, in one snapshot. No migration is applied: a backup never changes the store.
    let store = MetadataStore::connect_at(&config.metadata_url(), Some(0)).await?;
    let schema_version = store.schema_version().await?;
    let dumped = store.dump().await?;
    let mut tables = BTreeMap::new();
    for table in &dumped {
        let mut lines = Vec::new();
        for row in &table.rows {
            serde_json::to_writer(&mut lines, row)
                .map_err(|error| BackupError::Refused(error.to_string()))?;
            lines.push(b'\n');
        }
        write_file(to, &format!("store/{}.jsonl", table.table), &lines, &mut files)?;
        tables.insert(table.table.clone(), table.rows.len());
    }

    // The chains, then the keys: every key that signed a checkpoint copied is there.
    let mut kept = Vec::new();
    for (node, dir) in chain_folders(config, chains)? {
        for segment in segments::list(&dir).map_err(io(&dir))? {
            let mut bytes = std::fs::read(&segment).map_err(io(&segment))?;
            // The open segment may end in a record being written: keep whole lines only.
            let whole = bytes
                .iter()
                .rposition(|byte| *byte == b'\n')
                .map_or(0, |at| at + 1);
            bytes.truncate(whole);
            let name = segment
                .file_name()
                .and_then(|name| name.to_str())
                .unwrap_or_default();
            write_file(to, &format!("audit/{node}/{name}"), &bytes, &mut files)?;
        }
        kept.push(node);
    }

    // The keys, last.
    let paths = config.data_paths();
    for (name, bytes) in key_files(&paths.keys())? {
        write_file(to, &format!("keys/signing/{name}"), &bytes, &mut files)?;
    }
    let pseudonym_path = paths.pseudonym_key();
    let pseudonym = std::fs::read(&pseudonym_path).map_err(io(&pseudonym_path))?;
    write_file(to, "keys/pseudonym.key", &pseudonym, &mut files)?;
    let retired = crate::access::pseudonym_key::retired_dir(&pseudonym_path);
    if retired.is_dir() {
        for (name, bytes) in key_files(&retired)? {
            write_file(to, &format!("keys/pseudonym.retired/{name}"), &bytes, &mut files)?;
        }
    }

    let manifest = Manifest {
        format: FORMAT.to_owned(),
        format_version: FORMAT_VERSION,
        release: env!("CARGO_PKG_VERSION").to_owned(),
        made_at: Utc::now(),
        schema_version,
        store: if store.is_postgres() {
            "postgresql"
        } else {
            "sqlite"
        }
        .to_owned(),
        tables,
        chains: kept,
        files,
    };
    let text =
        serde_json::to_vec_pretty(&manifest).map_err(|error| BackupError::Refused(error.to_string()))?;
    write_aside(&to.join(MANIFEST), &text)?;
    Ok(manifest)
}

/// A backup checked and ready to be written into a hub that has nothing yet.
pub struct Restore {
    pub manifest: Manifest,
    from: PathBuf,
    store: MetadataStore,
    keys_dir: PathBuf,
    pseudonym_key: PathBuf,
    /// Each chain kept, with the folder it goes into.
    chains: Vec<(String, PathBuf)>,
}

impl Restore {
    /// Reads the backup in `from`, checks every file against its manifest, and checks that
    /// the hub `config` describes has no state of its own that the backup would overwrite.
    /// Nothing is written but the store's migrations up to the backup's version.
    pub async fn prepare(config: &Config, from: &Path, chains: Chains<'_>) -> Result<Self, BackupError> {
        let damaged = |reason: String| BackupError::Damaged {
            folder: from.display().to_string(),
            reason,
        };
        let manifest_path = from.join(MANIFEST);
        if !from.is_dir() {
            return Err(BackupError::Refused(format!(
                "there is no backup at {}",
                from.display()
            )));
        }
        let text = std::fs::read(&manifest_path).map_err(|error| {
            damaged(format!(
                "no {MANIFEST} ({error}): a backup cut short before its manifest is no backup"
            ))
        })?;
        let manifest: Manifest =
            serde_json::from_slice(&text).map_err(|error| damaged(format!("{MANIFEST}: {error}")))?;
        if manifest.format != FORMAT || manifest.format_version > FORMAT_VERSION {
            return Err(BackupError::Refused(format!(
                "{} is a {} backup of format {}; this release reads {FORMAT} format {FORMAT_VERSION} and earlier",
                from.display(),
                manifest.format,
                manifest.format_version
            )));
        }
        let release_version = MetadataStore::release_schema_version();
        if manifest.schema_version > release_version {
            return Err(BackupError::Refused(format!(
                "the backup was made by Causeway {} at store migration {}; this release knows up to {release_version}: restore it with that release",
                manifest.release, manifest.schema_version
            )));
        }
        for (path, entry) in &manifest.files {
            let inside =
                safe_relative(path).ok_or_else(|| damaged(format!("{path} is not a path inside it")))?;
            let bytes =
                std::fs::read(from.join(inside)).map_err(|error| damaged(format!("{path}: {error}")))?;
            if file_entry(&bytes) != *entry {
                return Err(damaged(format!(
                    "{path} is not the file the manifest names (size or SHA-256 differ)"
                )));
            }
        }

        for table in manifest.tables.keys() {
            let plain = !table.is_empty()
                && table
                    .bytes()
                    .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_');
            if !plain || !manifest.files.contains_key(&format!("store/{table}.jsonl")) {
                return Err(damaged(format!(
                    "the table {table:?} has no file the manifest names"
                )));
            }
        }
        for node in &manifest.chains {
            if safe_relative(node).is_none_or(|path| path.components().count() != 1) {
                return Err(damaged(format!("{node:?} is not a node's folder name")));
            }
        }

        // Where each chain goes, and that nothing is there yet.
        let targets: Vec<(String, PathBuf)> = match chains {
            Chains::Own => {
                let [node] = manifest.chains.as_slice() else {
                    return Err(BackupError::Refused(format!(
                        "the backup keeps the chains of {} nodes ({}): restore them with --chains AUDIT_ROOT",
                        manifest.chains.len(),
                        manifest.chains.join(", ")
                    )));
                };
                let this = config.audit.node_name();
                if &this != node {
                    return Err(BackupError::Refused(format!(
                        "the backup's chain is node {node}'s, and this hub is node {this}: set audit.node = \"{node}\" to continue that chain"
                    )));
                }
                vec![(node.clone(), config.audit_dir())]
            }
            Chains::All(root) => manifest
                .chains
                .iter()
                .map(|node| (node.clone(), root.join(node)))
                .collect(),
        };
        for (_, dir) in &targets {
            if crate::audit::in_use(dir) {
                return Err(BackupError::Refused(format!(
                    "a hub is running on {}: stop it before restoring",
                    dir.display()
                )));
            }
            if dir.exists() && !segments::list(dir).map_err(io(dir))?.is_empty() {
                return Err(BackupError::Refused(format!(
                    "{} already holds an audit chain: restore into a hub that has none",
                    dir.display()
                )));
            }
        }

        // The keys: none yet, or the very same.
        let paths = config.data_paths();
        let keys_dir = paths.keys();
        if keys_dir.exists() {
            for (name, bytes) in key_files(&keys_dir)? {
                if manifest
                    .files
                    .get(&format!("keys/signing/{name}"))
                    .is_none_or(|entry| *entry != file_entry(&bytes))
                {
                    return Err(BackupError::Refused(format!(
                        "{} holds a signing key ({name}) the backup does not: restore into a hub that has no keys of its own",
                        keys_dir.display()
                    )));
                }
            }
        }
        let pseudonym_key = paths.pseudonym_key();
        if let Ok(bytes) = std::fs::read(&pseudonym_key)
            && manifest.files.get("keys/pseudonym.key") != Some(&file_entry(&bytes))
        {
            return Err(BackupError::Refused(format!(
                "{} is another pseudonym key than the backup's: restore into a hub that has none, or every pseudonym would change",
                pseudonym_key.display()
            )));
        }

        // The store: brought to the backup's version, and empty.
        let url = config.metadata_url();
        if let Some(file) = url
            .strip_prefix("sqlite://")
            .and_then(|rest| rest.split('?').next())
            && let Some(parent) = Path::new(file).parent()
        {
            create_private_dir(parent)?;
        }
        let store = MetadataStore::connect_at(&url, Some(manifest.schema_version)).await?;
        let at = store.schema_version().await?;
        if at != manifest.schema_version {
            return Err(BackupError::Refused(format!(
                "the store is at migration {at}, past the backup's {}: restore into a new store",
                manifest.schema_version
            )));
        }
        if !store.is_empty().await? {
            return Err(BackupError::Refused(format!(
                "the store ({}) already holds datasets, accounts or grants: restore into an empty one",
                crate::store::where_of(&url)
            )));
        }
        Ok(Self {
            manifest,
            from: from.to_path_buf(),
            store,
            keys_dir,
            pseudonym_key,
            chains: targets,
        })
    }

    /// Puts the keys and the audit chains in place: after this, the restored hub's own log
    /// can record the restore.
    pub fn place_keys_and_chains(&self) -> Result<(), BackupError> {
        create_private_dir(&self.keys_dir)?;
        for path in self.manifest.files.keys() {
            if let Some(name) = path.strip_prefix("keys/signing/") {
                let target = self.keys_dir.join(name);
                if !target.exists() {
                    write_aside(&target, &self.read(path)?)?;
                }
            }
        }
        if !self.pseudonym_key.exists() {
            if let Some(parent) = self.pseudonym_key.parent() {
                create_private_dir(parent)?;
            }
            write_aside(&self.pseudonym_key, &self.read("keys/pseudonym.key")?)?;
        }
        let retired = crate::access::pseudonym_key::retired_dir(&self.pseudonym_key);
        for path in self.manifest.files.keys() {
            if let Some(name) = path.strip_prefix("keys/pseudonym.retired/") {
                create_private_dir(&retired)?;
                let target = retired.join(name);
                if !target.exists() {
                    write_aside(&target, &self.read(path)?)?;
                }
            }
        }
        for (node, dir) in &self.chains {
            create_private_dir(dir)?;
            let prefix = format!("audit/{node}/");
            for path in self.manifest.files.keys() {
                if let Some(name) = path.strip_prefix(&prefix) {
                    write_aside(&dir.join(name), &self.read(path)?)?;
                }
            }
        }
        Ok(())
    }

    /// Writes the rows into the store, then applies this release's later migrations.
    pub async fn load_store(&self) -> Result<(), BackupError> {
        let mut tables = Vec::new();
        for table in self.manifest.tables.keys() {
            let path = format!("store/{table}.jsonl");
            let bytes = self.read(&path)?;
            let rows = bytes
                .split(|byte| *byte == b'\n')
                .filter(|line| !line.is_empty())
                .map(serde_json::from_slice)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|error| BackupError::Damaged {
                    folder: self.from.display().to_string(),
                    reason: format!("{path}: {error}"),
                })?;
            tables.push(TableRows {
                table: table.clone(),
                rows,
            });
        }
        self.store.load(&tables).await?;
        self.store.migrate().await?;
        Ok(())
    }

    /// Opens and closes every restored chain but this hub's own (which the restore's record
    /// opened): each seals the tail the backup caught after its last checkpoint, as its node
    /// would at its next start, so that a chain whose node never runs again still verifies.
    /// Returns what could not be sealed, by node.
    pub async fn seal_other_chains(&self, config: &Config) -> Vec<String> {
        let own = std::fs::canonicalize(config.audit_dir()).unwrap_or_else(|_| config.audit_dir());
        let keys = match crate::identity::KeyRing::open(&self.keys_dir) {
            Ok(keys) => std::sync::Arc::new(keys),
            Err(error) => return vec![format!("the other nodes' chains are not sealed: {error}")],
        };
        let mut unsealed = Vec::new();
        for (node, dir) in &self.chains {
            if std::fs::canonicalize(dir).is_ok_and(|dir| dir == own) {
                continue;
            }
            let settings = crate::config::AuditConfig {
                node: Some(node.clone()),
                ..config.audit.clone()
            };
            match crate::audit::AuditLog::open(dir, &settings, std::sync::Arc::clone(&keys)) {
                Ok(log) => log.close().await,
                Err(error) => unsealed.push(format!(
                    "node {node}'s chain is not sealed ({error}): it is when that node next starts"
                )),
            }
        }
        unsealed
    }

    fn read(&self, path: &str) -> Result<Vec<u8>, BackupError> {
        let full = self.from.join(path);
        std::fs::read(&full).map_err(io(&full))
    }
}

/// The folders of the chains to keep, by node.
fn chain_folders(config: &Config, chains: Chains<'_>) -> Result<Vec<(String, PathBuf)>, BackupError> {
    match chains {
        Chains::Own => Ok(vec![(config.audit.node_name(), config.audit_dir())]),
        Chains::All(root) => {
            let mut folders = Vec::new();
            for entry in std::fs::read_dir(root).map_err(io(root))? {
                let path = entry.map_err(io(root))?.path();
                let Some(name) = path.file_name().and_then(|name| name.to_str()).map(str::to_owned) else {
                    continue;
                };
                if !path.is_dir() || name.starts_with('.') {
                    continue;
                }
                // A folder without segments (`lost+found`, a replica not yet started) holds
                // no chain to keep.
                if segments::list(&path).map_err(io(&path))?.is_empty() {
                    tracing::warn!(folder = %path.display(), "no audit segments here: not backed up");
                    continue;
                }
                folders.push((name, path));
            }
            // This hub's own chain, wherever it is.
            let own = std::fs::canonicalize(config.audit_dir()).unwrap_or_else(|_| config.audit_dir());
            let included = folders
                .iter()
                .any(|(_, path)| std::fs::canonicalize(path).is_ok_and(|path| path == own));
            if !included && !segments::list(&own).unwrap_or_default().is_empty() {
                folders.push((config.audit.node_name(), own));
            }
            folders.sort();
            folders.dedup_by(|a, b| a.0 == b.0);
            Ok(folders)
        }
    }
}

/// The `.key` files of a folder, by name.
fn key_files(dir: &Path) -> Result<Vec<(String, Vec<u8>)>, BackupError> {
    let mut keys = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let path = entry.map_err(io(dir))?.path();
        if path.extension().is_some_and(|extension| extension == "key")
            && let Some(name) = path.file_name().and_then(|name| name.to_str())
            && !name.starts_with('.')
        {
            keys.push((name.to_owned(), std::fs::read(&path).map_err(io(&path))?));
        }
    }
    keys.sort();
    Ok(keys)
}

fn file_entry(bytes: &[u8]) -> FileEntry {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    FileEntry {
        bytes: bytes.len() as u64,
        sha256: digest.as_ref().iter().map(|byte| format!("{byte:02x}")).collect(),
    }
}

/// `path` when it stays inside the backup's folder: plain names only, no `..` or root.
fn safe_relative(path: &str) -> Option<&Path> {
    let relative = Path::new(path);
    relative
        .components()
        .all(|part| matches!(part, std::path::Component::Normal(_)))
        .then_some(relative)
}

fn write_file(
    root: &Path,
    relative: &str,
    bytes: &[u8],
    files: &mut BTreeMap<String, FileEntry>,
) -> Result<(), BackupError> {
    let path = root.join(relative);
    if let Some(parent) = path.parent() {
        create_private_dir(parent)?;
    }
    write_aside(&path, bytes)?;
    files.insert(relative.to_owned(), file_entry(bytes));
    Ok(())
}

fn write_aside(path: &Path, bytes: &[u8]) -> Result<(), BackupError> {
    crate::private_files::replace(path, bytes).map_err(io(path))
}

fn create_private_dir(dir: &Path) -> Result<(), BackupError> {
    crate::private_files::create_dir(dir).map_err(io(dir))
}
