//! Recertification: a grant lapses unless the owning department confirms it within its
//! dataset's interval (ISO/IEC 27001 A.5.18's periodic review of access rights).

use chrono::{Duration, Utc};

use causeway_policies::{DatasetId, DatasetInfo, Principal, Role};

use super::{Access, AccessError, may_see_grant};
use crate::audit::Gate;
use crate::store::GrantRecord;

impl Access {
    /// Confirms grant `id` for another recertification interval of its dataset, as one of
    /// the owning department's publishers: the owner decides whether its data is still
    /// shared. A revoked or lapsed grant cannot be confirmed, nor one of a policy file (a lapsed grant
    /// is asked for again).
    pub async fn recertify(
        &self,
        id: &str,
        dataset: &(dyn Fn(&DatasetId) -> Option<DatasetInfo> + Sync),
        by: &Principal,
        gate: &mut Gate,
    ) -> Result<GrantRecord, AccessError> {
        let mut record = self
            .store
            .grant(id)
            .await?
            .filter(|record| record.revoked_at.is_none())
            .ok_or_else(|| AccessError::NotFound(format!("grant {id}")))?;
        let dataset = dataset(&record.grant.dataset)
            .ok_or_else(|| AccessError::NotFound(format!("dataset {}", record.grant.dataset)))?;
        if !(by.has_role(Role::Publisher) && by.department == record.grant.dataset.department) {
            return Err(AccessError::Forbidden(format!(
                "only a publisher of {} may confirm grant {id}: its owner decides whether it is still shared",
                record.grant.dataset.department
            )));
        }
        let now = Utc::now();
        if !record.grant.is_valid_at(now) {
            return Err(AccessError::NotConfirmable(format!(
                "grant {id} is no longer in force; it must be asked for again"
            )));
        }
        if record.grant.recertify_by.is_none() {
            return Err(AccessError::NotConfirmable(format!(
                "grant {id} has no recertification deadline to move"
            )));
        }
        record.grant.recertify_by = Some(now + interval(&dataset));
        let entry = gate.record();
        entry.datasets.push(dataset.id.to_string());
        if !entry.grants.iter().any(|grant| grant == id) {
            entry.grants.push(id.to_owned());
        }
        entry.detail = Some(serde_json::json!({ "recertify_by": record.grant.recertify_by }).to_string());
        gate.pass().await?;
        if !self.store.recertify_grant(&record.grant).await? {
            return Err(AccessError::NotFound(format!("grant {id}")));
        }
        self.reload().await?;
        Ok(record)
    }

    /// Gives every stored grant in force that has no recertification deadline (one made
    /// before grants were recertified) a whole interval of its dataset from now, so that it
    /// lapses unless confirmed like any other; returns how many. Run once at start.
    pub async fn schedule_recertification(
        &self,
        dataset: &(dyn Fn(&DatasetId) -> Option<DatasetInfo> + Sync),
    ) -> Result<usize, AccessError> {
        let now = Utc::now();
        let mut scheduled = 0;
        for mut record in self.store.list_grants().await? {
            if record.revoked_at.is_some() || record.grant.recertify_by.is_some() {
                continue;
            }
            let Some(info) = dataset(&record.grant.dataset) else {
                continue;
            };
            record.grant.recertify_by = Some(now + interval(&info));
            if self.store.recertify_grant(&record.grant).await? {
                scheduled += 1;
            }
        }
        if scheduled > 0 {
            self.reload().await?;
        }
        Ok(scheduled)
    }

    /// The grants in force whose recertification falls within `within` of now, that `by`
    /// may see, soonest first.
    pub async fn due(&self, by: &Principal, within: Duration) -> Result<Vec<GrantRecord>, AccessError> {
        let now = Utc::now();
        let mut due: Vec<GrantRecord> = self
            .store
            .list_grants()
            .await?
            .into_iter()
            .filter(|record| {
                record.revoked_at.is_none()
                    && record.grant.is_valid_at(now)
                    && record
                        .grant
                        .recertify_by
                        .is_some_and(|by_then| by_then <= now + within)
                    && may_see_grant(by, record)
            })
            .collect();
        due.sort_by_key(|record| record.grant.recertify_by);
        Ok(due)
    }
}

/// How long a grant on `dataset` stays in force without being confirmed again.
pub(super) fn interval(dataset: &DatasetInfo) -> Duration {
    Duration::days(i64::from(dataset.recertification_days.max(1)))
}
