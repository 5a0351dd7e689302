use std::path::{Path, PathBuf};

/// The files and folders a hub keeps in its data directory (`storage.data_dir`), named here
/// and nowhere else. The audit log and spill files may be configured elsewhere
/// (`storage.audit_dir`, `limits.spill_dir`); these are their defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataPaths {
    root: PathBuf,
    /// `storage.keys_dir` and `storage.pseudonym_key`, where they are set.
    keys: Option<PathBuf>,
    pseudonym_key: Option<PathBuf>,
}

impl DataPaths {
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
            keys: None,
            pseudonym_key: None,
        }
    }

    /// The same, with the keys kept elsewhere where `keys` and `pseudonym_key` say.
    pub fn with_keys(mut self, keys: Option<&Path>, pseudonym_key: Option<&Path>) -> Self {
        self.keys = keys.map(Path::to_path_buf);
        self.pseudonym_key = pseudonym_key.map(Path::to_path_buf);
        self
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The built-in issuer's signing keys (private keys mode 0600).
    pub fn keys(&self) -> PathBuf {
        self.keys.clone().unwrap_or_else(|| self.root.join("keys"))
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
        self.pseudonym_key
            .clone()
            .unwrap_or_else(|| self.root.join("pseudonym.key"))
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

/// An SQLite URL (`sqlite://PATH[?OPTIONS]`) with its path resolved by `absolute`, and
/// `mode=rwc` added when it names no mode, so that the file is made on first start; any other
/// URL as it is.
pub(super) fn sqlite_url(url: &str, absolute: &dyn Fn(&Path) -> PathBuf) -> String {
    let Some(rest) = url.strip_prefix("sqlite://") else {
        return url.to_owned();
    };
    let (path, options) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() || path == ":memory:" {
        return url.to_owned();
    }
    let path = absolute(Path::new(path));
    let options = if options.split('&').any(|option| option.starts_with("mode=")) {
        options.to_owned()
    } else if options.is_empty() {
        "mode=rwc".to_owned()
    } else {
        format!("{options}&mode=rwc")
    };
    format!("sqlite://{}?{options}", path.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_store_paths_resolve_against_the_file_folder_and_are_created() {
        let absolute = |path: &Path| Path::new("/etc/causeway").join(path);
        assert_eq!(
            sqlite_url("sqlite://causeway-data/metadata.db", &absolute),
            "sqlite:///etc/causeway/causeway-data/metadata.db?mode=rwc"
        );
        assert_eq!(
            sqlite_url("sqlite://db.sqlite?mode=ro", &absolute),
            "sqlite:///etc/causeway/db.sqlite?mode=ro"
        );
        assert_eq!(
            sqlite_url("postgres://hub@db/causeway", &absolute),
            "postgres://hub@db/causeway"
        );
    }
}
