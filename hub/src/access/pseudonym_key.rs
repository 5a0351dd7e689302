//! The pseudonym key: the secret of keyed pseudonyms (`hash` masks, the audit log's
//! pseudonyms of typed values), of the sealing of audit values, and of the keys derived from
//! it (Flight SQL tickets). Every hub whose pseudonyms must agree shares the one file.
//!
//! It is rotated rarely, and on purpose: after a rotation every pseudonym is another, so
//! joins across the rotation no longer match. The key replaced is kept, read-only, in the
//! folder `<key>.retired/` beside it (`<milliseconds since 1970>.key`), so that values sealed
//! in the audit log before the rotation still open; it gives no pseudonym any more.

use std::path::{Path, PathBuf};

use super::AccessError;

/// The hub's secret for keyed pseudonyms, created at first start. Every hub that must give
/// the same pseudonyms (replicas, or hubs whose pseudonyms are joined) shares this file.
pub fn open(path: &Path) -> Result<Vec<u8>, AccessError> {
    let failed = |message: String| AccessError::Key {
        path: path.display().to_string(),
        message,
    };
    match std::fs::read(path) {
        Ok(key) if key.len() >= 32 => return Ok(key),
        Ok(_) => return Err(failed("it is shorter than 32 bytes".into())),
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(failed(error.to_string())),
        Err(_) => {}
    }
    let mut key = vec![0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut key)
        .map_err(|_| failed("no randomness available".into()))?;
    // Written aside, then linked into place: replicas starting together on a shared folder
    // all end with the one key that got there first, never a part-written one.
    let aside = path.with_extension(format!("new-{}", uuid::Uuid::new_v4().simple()));
    let written = crate::private_files::write_new(&aside, &key);
    let linked = written.and_then(|()| std::fs::hard_link(&aside, path));
    let _ = std::fs::remove_file(&aside);
    match linked {
        Ok(()) => Ok(key),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => match std::fs::read(path) {
            Ok(key) if key.len() >= 32 => Ok(key),
            Ok(_) => Err(failed("it is shorter than 32 bytes".into())),
            Err(error) => Err(failed(error.to_string())),
        },
        Err(error) => Err(failed(error.to_string())),
    }
}

/// The folder of the keys a rotation replaced.
pub fn retired_dir(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".retired");
    path.with_file_name(name)
}

/// The keys rotations replaced, newest first; none when the folder is not there.
pub fn retired(path: &Path) -> Result<Vec<Vec<u8>>, AccessError> {
    let dir = retired_dir(path);
    let failed = |message: String| AccessError::Key {
        path: dir.display().to_string(),
        message,
    };
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(failed(error.to_string())),
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|extension| extension == "key"))
        .collect();
    paths.sort();
    paths.reverse();
    paths
        .iter()
        .map(|path| std::fs::read(path).map_err(|error| failed(error.to_string())))
        .collect()
}

/// Replaces the key with a new one, keeping the old one in [`retired_dir`]. Every hub using
/// the key must be stopped: each holds it in memory, and hubs giving different pseudonyms
/// would not agree.
pub fn rotate(path: &Path) -> Result<(), AccessError> {
    let failed = |message: String| AccessError::Key {
        path: path.display().to_string(),
        message,
    };
    let current = std::fs::read(path).map_err(|error| failed(format!("no key to replace: {error}")))?;
    let dir = retired_dir(path);
    crate::private_files::create_dir(&dir).map_err(|error| failed(error.to_string()))?;
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis())
        .unwrap_or_default();
    crate::private_files::write_new(&dir.join(format!("{millis:015}.key")), &current)
        .map_err(|error| failed(error.to_string()))?;
    let mut key = vec![0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut key)
        .map_err(|_| failed("no randomness available".into()))?;
    crate::private_files::replace(path, &key).map_err(|error| failed(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::literals::AuditLiterals;

    /// A rotation gives another key; values sealed under the one it replaced still open.
    #[test]
    fn a_rotated_key_gives_other_pseudonyms_and_still_opens_what_it_sealed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pseudonym.key");
        let first = open(&path).unwrap();
        let before = AuditLiterals::new(&first);
        let sealed = before
            .protect("SELECT * FROM t WHERE id = '440101199001011234'", &[])
            .sealed
            .unwrap();

        rotate(&path).unwrap();
        let second = open(&path).unwrap();
        assert_ne!(first, second);
        assert_eq!(retired(&path).unwrap(), vec![first.clone()]);
        let after = AuditLiterals::new(&second);
        assert_ne!(before.pseudonym("4401"), after.pseudonym("4401"));
        assert!(
            after.open(&sealed).is_none(),
            "the new key alone does not open it"
        );
        let opened = after
            .with_retired(&retired(&path).unwrap())
            .open(&sealed)
            .unwrap();
        assert!(opened.to_string().contains("440101199001011234"), "{opened}");
    }
}
