//! The changes feed: what one hub tells the others sharing its store. Every write of a kind
//! of state the hubs hold in memory (datasets, grants, clients and people, alerts) raises
//! that kind's version in the `changes` table; on PostgreSQL it also sends a notification on
//! `causeway_changes` (delivered when the write's transaction commits), so that replicas
//! hear of it at once instead of at their next look.

use std::collections::BTreeMap;

use sqlx::AnyConnection;
use sqlx::Row;

use super::{MetadataStore, Result};

/// The PostgreSQL channel changes are announced on; the payload is the [`Change`]'s name.
pub const CHANNEL: &str = "causeway_changes";

/// A kind of state every hub holds in memory, read again when it changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Change {
    /// Datasets published, given a new contract or removed.
    Datasets,
    /// Grants made, recertified or revoked.
    Grants,
    /// Clients and people added, disabled, given roles or secrets, approved.
    Clients,
    /// Alerts raised or cleared.
    Alerts,
}

impl Change {
    pub const ALL: [Change; 4] = [Self::Datasets, Self::Grants, Self::Clients, Self::Alerts];

    pub fn name(self) -> &'static str {
        match self {
            Self::Datasets => "datasets",
            Self::Grants => "grants",
            Self::Clients => "clients",
            Self::Alerts => "alerts",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|change| change.name() == name)
    }
}

impl MetadataStore {
    /// Marks that `change` happened: its version goes up and, on PostgreSQL, the other
    /// replicas are told when `connection`'s transaction commits (at once outside one).
    pub(super) async fn note(&self, connection: &mut AnyConnection, change: Change) -> Result<()> {
        sqlx::query("UPDATE changes SET version = version + 1 WHERE kind = $1")
            .bind(change.name())
            .execute(&mut *connection)
            .await?;
        if self.is_postgres() {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(change.name())
                .execute(&mut *connection)
                .await?;
        }
        Ok(())
    }

    /// The version of every kind of change.
    pub async fn change_versions(&self) -> Result<BTreeMap<Change, i64>> {
        let rows = sqlx::query("SELECT kind, version FROM changes")
            .fetch_all(&self.pool)
            .await?;
        let mut versions = BTreeMap::new();
        for row in rows {
            let kind: String = row.try_get("kind")?;
            // A kind a newer hub added (during a rolling upgrade) is not one this hub holds.
            if let Some(change) = Change::parse(&kind) {
                versions.insert(change, row.try_get("version")?);
            }
        }
        Ok(versions)
    }
}
