//! The chains of a hub and of the replicas beside it: each node writes its own chain in a
//! folder named after it (`AUDIT_ROOT/NODE`), and with `audit.chains_root` every replica reads
//! and verifies all of them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use utoipa::ToSchema;

use super::segments;
use super::verify::{Verification, VerifyOptions, verify};

/// One node's chain: the folder of its segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    pub node: String,
    pub dir: PathBuf,
}

/// The chains a hub reads: its own, and with `audit.chains_root` every other node's folder
/// there, found again at every reading (a replica added since is read too).
#[derive(Debug, Clone)]
pub struct Chains {
    own: Chain,
    root: Option<PathBuf>,
}

impl Chains {
    pub fn new(node: String, dir: PathBuf, root: Option<PathBuf>) -> Self {
        Self {
            own: Chain { node, dir },
            root,
        }
    }

    /// This hub's own chain only.
    pub fn own_only(node: String, dir: PathBuf) -> Self {
        Self::new(node, dir, None)
    }

    pub fn own(&self) -> &Chain {
        &self.own
    }

    /// This hub's chain first, then the other nodes' in name order. Folders that cannot be
    /// listed leave the others: a hub reads its own chain whatever the shared volume does.
    pub fn list(&self) -> Vec<Chain> {
        let mut chains = vec![self.own.clone()];
        chains.extend(self.others());
        chains
    }

    /// The other nodes' chains under the root.
    pub fn others(&self) -> Vec<Chain> {
        let Some(root) = &self.root else {
            return Vec::new();
        };
        let own = std::fs::canonicalize(&self.own.dir).unwrap_or_else(|_| self.own.dir.clone());
        let Ok(entries) = std::fs::read_dir(root) else {
            tracing::warn!(folder = %root.display(), "cannot list audit.chains_root: reading this hub's chain only");
            return Vec::new();
        };
        // A folder without segments (`lost+found`, a replica not yet started) holds no records.
        let mut others: Vec<Chain> = entries
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|path| path.is_dir() && std::fs::canonicalize(path).is_ok_and(|path| path != own))
            .filter(|path| segments::list(path).is_ok_and(|found| !found.is_empty()))
            .filter_map(|path| {
                let node = path.file_name()?.to_str()?.to_owned();
                (!node.starts_with('.')).then_some(Chain { node, dir: path })
            })
            .collect();
        others.sort_by(|a, b| a.node.cmp(&b.node));
        others
    }

    /// The chain of `node`.
    pub fn find(&self, node: &str) -> Option<Chain> {
        self.list().into_iter().find(|chain| chain.node == node)
    }
}

/// One node's chain in a folder of them (`ROOT/NODE`), as `causeway audit verify --chains`
/// and `GET /v1/audit/verify` report it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NodeVerification {
    /// The folder's name: the node whose chain it holds.
    pub node: String,
    /// Whether the folder holds that node's chain, whole.
    pub valid: bool,
    /// What is wrong with the folder itself, where the records are not the reason: it holds
    /// no segment, holds another node's chain, or cannot be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// What the verification of its records found, where they could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
}

/// Verifies the chain in `dir`, which is named after `node`: a folder that holds no segment
/// (its chain is gone) or another node's chain is a break, as much as a changed record. A
/// chain a hub writes now (`live`) may have a tail not yet sealed.
pub fn verify_node(
    dir: &Path,
    node: &str,
    keys: &HashMap<String, Vec<u8>>,
    accept_legacy: bool,
    live: bool,
) -> NodeVerification {
    let options = VerifyOptions {
        live,
        accept_legacy,
        ..VerifyOptions::offline()
    };
    match verify(dir, keys, &options) {
        Ok(report) => {
            let problem = if report.segments == 0 {
                Some(format!("{} holds no segment: its chain is gone", dir.display()))
            } else if report.valid && !report.legacy && report.node.as_deref() != Some(node) {
                Some(format!(
                    "{} holds the chain of node {}, not of the node it is named after",
                    dir.display(),
                    report.node.as_deref().unwrap_or("(none)")
                ))
            } else {
                None
            };
            NodeVerification {
                node: node.to_owned(),
                valid: report.valid && problem.is_none(),
                problem,
                verification: Some(report),
            }
        }
        Err(error) => NodeVerification {
            node: node.to_owned(),
            valid: false,
            problem: Some(format!("{} cannot be verified: {error}", dir.display())),
            verification: None,
        },
    }
}
