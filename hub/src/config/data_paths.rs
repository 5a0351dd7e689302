use std::path::{Path, PathBuf};

/// The files and folders a hub keeps in its data directory (`storage.data_dir`), named here
/// and nowhere else. The audit log and spill files may be configured elsewhere
/// (`storage.audit_dir`, `limits.spill_dir`); these are their defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataPaths {
    root: PathBuf,
}

impl DataPaths {
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The built-in issuer's signing keys (private keys mode 0600).
    pub fn keys(&self) -> PathBuf {
        self.root.join("keys")
    }

    /// The audit log's segments, checkpoints and manifest.
    pub fn audit(&self) -> PathBuf {
        self.root.join("audit")
    }

    /// Files of sorts and joins that outgrew their memory.
    pub fn spill(&self) -> PathBuf {
        self.root.join("spill")
    }

    /// The secret of keyed pseudonyms, shared by every hub whose pseudonyms must agree.
    pub fn pseudonym_key(&self) -> PathBuf {
        self.root.join("pseudonym.key")
    }

    /// The Unix socket over which the CLI on this machine records an operator's actions.
    pub fn operator_socket(&self) -> PathBuf {
        self.root.join("operator.sock")
    }

    /// The default metadata store (SQLite).
    pub fn metadata(&self) -> PathBuf {
        self.root.join("metadata.db")
    }
}
