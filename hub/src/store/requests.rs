//! Access requests and their decisions.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{MetadataStore, Result, StoreError, json, parse, time};
use crate::access::requests::{AccessRequest, RequestState};

const COLUMNS: &str = "id, department, dataset, requester, requester_department, requester_identity, body, state, \
publisher_decision, officer_decision, grant_id, auto_approved, deadline, created_at, decided_at";

impl MetadataStore {
    pub async fn insert_request(&self, request: &AccessRequest) -> Result<()> {
        sqlx::query(
            "INSERT INTO access_requests (id, department, dataset, requester, requester_department, \
             requester_identity, body, state, publisher_decision, officer_decision, grant_id, auto_approved, \
             deadline, created_at, decided_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(&request.id)
        .bind(&request.dataset.department)
        .bind(&request.dataset.name)
        .bind(&request.requester)
        .bind(&request.requester_department)
        .bind(json(&RequesterIdentity {
            roles: request.requester_roles.clone(),
            attributes: request.requester_attributes.clone(),
        })?)
        .bind(json(&request.terms)?)
        .bind(request.state.as_str())
        .bind(request.publisher_review.as_ref().map(json).transpose()?)
        .bind(request.officer_review.as_ref().map(json).transpose()?)
        .bind(request.grant_id.as_deref())
        .bind(i64::from(request.auto_approved))
        .bind(request.deadline.to_rfc3339())
        .bind(request.created_at.to_rfc3339())
        .bind(request.decided_at.map(|at| at.to_rfc3339()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn request(&self, id: &str) -> Result<Option<AccessRequest>> {
        let sql = format!("SELECT {COLUMNS} FROM access_requests WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(request_from_row).transpose()
    }

    pub async fn list_requests(&self) -> Result<Vec<AccessRequest>> {
        let sql = format!("SELECT {COLUMNS} FROM access_requests ORDER BY created_at");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(request_from_row).collect()
    }

    /// Saves the decisions of a request that was still pending; false when it no longer was
    /// (another reviewer decided meanwhile).
    pub async fn save_request(&self, request: &AccessRequest) -> Result<bool> {
        let updated = sqlx::query(
            "UPDATE access_requests SET state = $1, publisher_decision = $2, officer_decision = $3, grant_id = $4, \
             decided_at = $5 WHERE id = $6 AND state = 'pending'",
        )
        .bind(request.state.as_str())
        .bind(request.publisher_review.as_ref().map(json).transpose()?)
        .bind(request.officer_review.as_ref().map(json).transpose()?)
        .bind(request.grant_id.as_deref())
        .bind(request.decided_at.map(|at| at.to_rfc3339()))
        .bind(&request.id)
        .execute(&self.pool)
        .await?;
        Ok(updated.rows_affected() == 1)
    }
}

fn request_from_row(row: &AnyRow) -> Result<AccessRequest> {
    let state = match row.try_get::<String, _>("state")?.as_str() {
        "pending" => RequestState::Pending,
        "approved" => RequestState::Approved,
        "rejected" => RequestState::Rejected,
        "withdrawn" => RequestState::Withdrawn,
        other => return Err(StoreError::Corrupt(format!("unknown request state '{other}'"))),
    };
    let optional = |column: &str| -> Result<Option<String>> { Ok(row.try_get(column)?) };
    let identity: RequesterIdentity = optional("requester_identity")?
        .as_deref()
        .map(parse)
        .transpose()?
        .unwrap_or_default();
    Ok(AccessRequest {
        id: row.try_get("id")?,
        dataset: causeway_policies::DatasetId::new(
            row.try_get::<String, _>("department")?,
            row.try_get::<String, _>("dataset")?,
        ),
        requester: row.try_get("requester")?,
        requester_department: row.try_get("requester_department")?,
        requester_roles: identity.roles,
        requester_attributes: identity.attributes,
        terms: parse(&row.try_get::<String, _>("body")?)?,
        state,
        publisher_review: optional("publisher_decision")?
            .as_deref()
            .map(parse)
            .transpose()?,
        officer_review: optional("officer_decision")?.as_deref().map(parse).transpose()?,
        grant_id: optional("grant_id")?,
        auto_approved: row.try_get::<i64, _>("auto_approved")? != 0,
        deadline: time(&row.try_get::<String, _>("deadline")?)?,
        created_at: time(&row.try_get::<String, _>("created_at")?)?,
        decided_at: optional("decided_at")?.as_deref().map(time).transpose()?,
    })
}

/// The requester's roles and attributes as they filed the request (`requester_identity`).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct RequesterIdentity {
    #[serde(default)]
    roles: std::collections::BTreeSet<causeway_policies::Role>,
    #[serde(default)]
    attributes: std::collections::BTreeMap<String, causeway_policies::AttributeValue>,
}
