//! Files only the hub's user may read (keys, backups), written whole or not at all: a reader
//! beside the writer (another replica on a shared folder, a crash halfway) never sees part of
//! one.

use std::io::Write;
use std::path::Path;

/// Writes `bytes` to the new file `path` (refused if it exists), readable and writable by its
/// owner only (0600), and syncs it to disk.
pub fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Writes `bytes` to a new file beside `path` and renames it into place, replacing what was
/// there: `path` holds the old bytes or the new ones, whole.
pub fn replace(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let aside = path.with_extension(format!("part-{}", uuid::Uuid::new_v4().simple()));
    let placed = write_new(&aside, bytes).and_then(|()| std::fs::rename(&aside, path));
    if placed.is_err() {
        let _ = std::fs::remove_file(&aside);
    }
    placed
}

/// Creates `dir` and any missing parents, those it creates open to their owner only (0700).
pub fn create_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_the_owners_alone_and_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("a/b");
        create_dir(&folder).unwrap();
        let path = folder.join("secret.key");
        write_new(&path, b"first").unwrap();
        assert!(
            write_new(&path, b"again").is_err(),
            "an existing file is not overwritten"
        );
        replace(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        assert_eq!(
            std::fs::read_dir(&folder).unwrap().count(),
            1,
            "nothing left aside"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(&folder), 0o700);
        }
    }
}
