//! The log's files: segments named after the sequence number of their first record, so
//! that sorting the names sorts the chain.

use std::path::{Path, PathBuf};

const PREFIX: &str = "segment-";
const SUFFIX: &str = ".jsonl";

/// The file of the segment whose first record is `first_seq`.
pub fn segment_path(dir: &Path, first_seq: u64) -> PathBuf {
    dir.join(format!("{PREFIX}{first_seq:020}{SUFFIX}"))
}

/// The first sequence number a segment's name promises.
pub fn first_seq(path: &Path) -> Option<u64> {
    path.file_name()?
        .to_str()?
        .strip_prefix(PREFIX)?
        .strip_suffix(SUFFIX)?
        .parse()
        .ok()
}

/// The segments of `dir`, oldest first.
pub fn list(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut segments: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| first_seq(path).is_some())
        .collect();
    segments.sort();
    Ok(segments)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_sort_by_their_first_record() {
        let dir = tempfile::tempdir().unwrap();
        for seq in [1001, 1, 99] {
            std::fs::write(segment_path(dir.path(), seq), "").unwrap();
        }
        std::fs::write(dir.path().join("notes.txt"), "").unwrap();
        let firsts: Vec<u64> = list(dir.path())
            .unwrap()
            .iter()
            .filter_map(|path| first_seq(path))
            .collect();
        assert_eq!(firsts, [1, 99, 1001]);
    }
}
