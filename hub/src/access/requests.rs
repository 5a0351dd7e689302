//! Access requests: an analyst asks for columns of a dataset for a purpose, with a
//! justification and a duration. The owning department's publisher and a security administrator
//! each decide; the grant exists only when both approved, and nobody decides their own
//! request. A request that meets the dataset's published conditions (the permit list) is
//! approved at once, with no discretion. Each dataset has a decision deadline in working
//! days; requests past it are overdue.

use std::collections::{BTreeMap, BTreeSet};

use causeway_policies::{
    AccessConditions, AttributeValue, AutoApproval, ColumnInfo, DatasetId, DatasetInfo, Grant, GrantKind,
    Mask, PartialVerifyTerms, Principal, Role, Subject, VerifyTerms,
};
use chrono::{DateTime, Duration, Utc};
use datafusion::execution::session_state::SessionState;
use serde::{Deserialize, Serialize};

use super::{Access, AccessError};
use crate::audit::Gate;
use crate::store::GrantOrigin;

/// What is asked for.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestTerms {
    /// The kind of grant asked for: `read` (the default), or `verify` to match records
    /// against the dataset without reading it. Always written out.
    #[serde(default)]
    pub kind: GrantKind,
    /// The columns wanted (for `verify`, those to match on, the subject key among them);
    /// `*` for all.
    pub columns: Vec<String>,
    pub purpose: String,
    pub justification: String,
    /// How many days the access should last.
    pub days: u32,
    /// Columns asked for raw, lifting their classification's default mask.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unmasked: Vec<String>,
    /// Columns asked for under a given mask. Columns in neither are asked for as their
    /// classification shows them by default.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub masks: BTreeMap<String, Mask>,
    /// For `verify`, the terms asked for (per-column answers, attempts a subject, records a
    /// day); those left out are a verify permit's when one approves the request at once,
    /// else the defaults. Only verify requests take them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<PartialVerifyTerms>,
}

impl RequestTerms {
    /// The verify terms asked for, over `base` (a permit's terms, or the defaults); none for
    /// a read request that states none.
    pub fn verify_over(&self, base: &VerifyTerms) -> Option<VerifyTerms> {
        let stated = self.verify.as_ref().map(|terms| terms.applied_to(base));
        match self.kind {
            GrantKind::Verify => Some(stated.unwrap_or_else(|| base.clone())),
            GrantKind::Read => stated,
        }
    }

    /// The verify terms asked for, over the defaults: what reviewers decide on.
    pub fn asked_verify(&self) -> Option<VerifyTerms> {
        self.verify_over(&VerifyTerms::default())
    }

    /// The form a column is asked for in: `None` raw, else its mask.
    pub(super) fn asked_form(&self, column: &ColumnInfo) -> Option<Mask> {
        if self.unmasked.contains(&column.name) {
            return None;
        }
        self.masks
            .get(&column.name)
            .cloned()
            .or_else(|| causeway_policies::default_mask(&column.classification))
    }
}

/// One reviewer's decision.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Review {
    pub by: String,
    pub approve: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Masks the reviewer requires on the grant.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub masks: BTreeMap<String, Mask>,
    /// A row filter the reviewer requires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row_filter: Option<String>,
    /// Verify terms the reviewer requires, no looser than those asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<VerifyTerms>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    Pending,
    Approved,
    Rejected,
    /// Its requester took it back before it was decided.
    Withdrawn,
}

impl RequestState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Withdrawn => "withdrawn",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessRequest {
    pub id: String,
    pub dataset: DatasetId,
    pub requester: String,
    pub requester_department: String,
    /// The requester's roles when they filed the request: a reviewer's dry run reads as
    /// them, deny rules on roles included.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub requester_roles: BTreeSet<Role>,
    /// The requester's attributes when they filed the request (`grid_id`, `town`): what
    /// row filters naming `principal.*` see in a reviewer's dry run.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub requester_attributes: BTreeMap<String, AttributeValue>,
    #[serde(flatten)]
    pub terms: RequestTerms,
    pub state: RequestState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publisher_review: Option<Review>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub officer_review: Option<Review>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_id: Option<String>,
    pub auto_approved: bool,
    pub deadline: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<DateTime<Utc>>,
}

impl AccessRequest {
    /// The requester as they filed the request: id, department, roles and attributes.
    pub fn requester_principal(&self) -> Principal {
        let mut requester = Principal::new(&self.requester, &self.requester_department);
        requester.roles = self.requester_roles.clone();
        requester.attributes = self.requester_attributes.clone();
        requester
    }

    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        self.state == RequestState::Pending && now > self.deadline
    }

    /// Who sees it: the requester, the owning department's publishers, security administrators.
    pub fn concerns(&self, principal: &Principal) -> bool {
        principal.id == self.requester
            || principal.has_role(Role::SecurityAdmin)
            || principal.has_role(Role::Auditor)
            || (principal.has_role(Role::Publisher) && principal.department == self.dataset.department)
    }
}

/// A reviewer's answer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewInput {
    pub approve: bool,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub masks: BTreeMap<String, Mask>,
    #[serde(default)]
    pub row_filter: Option<String>,
    /// For a verify request, narrower terms than those asked for: no per-column answers,
    /// fewer attempts a subject or records a day; terms left out stay as asked.
    #[serde(default)]
    pub verify: Option<PartialVerifyTerms>,
}

/// Puts the request, as it will be stored, into its audit record.
pub(super) fn describe(gate: &mut Gate, request: &AccessRequest) {
    let record = gate.record();
    record.datasets = vec![request.dataset.to_string()];
    record.purpose = Some(request.terms.purpose.clone());
    record.grants = request.grant_id.iter().cloned().collect();
    record.detail = serde_json::to_string(request).ok();
}

/// The longest access a request may ask for.
const MAX_DAYS: u32 = 366;

impl Access {
    /// Files a request; approves it at once when it meets one of the dataset's published
    /// conditions.
    pub async fn request(
        &self,
        principal: &Principal,
        dataset: &DatasetInfo,
        conditions: &AccessConditions,
        terms: RequestTerms,
        session: &SessionState,
        gate: &mut Gate,
    ) -> Result<AccessRequest, AccessError> {
        if let Some(role) = principal.administrative_role() {
            return Err(AccessError::Forbidden(format!(
                "an account with the {role} role reads no data, so it asks for none (separation of duties)"
            )));
        }
        if terms.purpose.trim().is_empty() || terms.justification.trim().is_empty() {
            return Err(invalid("a request states its purpose and a justification".into()));
        }
        if terms.days == 0 || terms.days > MAX_DAYS {
            return Err(invalid(format!("ask for 1 to {MAX_DAYS} days")));
        }
        if terms.columns.is_empty() {
            return Err(invalid("ask for at least one column, or *".into()));
        }
        for column in &terms.columns {
            if column != "*" && !dataset.columns.iter().any(|known| known.name == *column) {
                return Err(invalid(format!("'{column}' is not a column of {}", dataset.id)));
            }
        }
        // Each column's form is stated for a column asked for, once.
        let asked = |column: &String| {
            terms.columns.contains(column)
                || (terms.columns.iter().any(|c| c == "*")
                    && dataset.columns.iter().any(|known| known.name == *column))
        };
        for column in terms.unmasked.iter().chain(terms.masks.keys()) {
            if !asked(column) {
                return Err(invalid(format!(
                    "'{column}' has a form but is not among the columns asked for"
                )));
            }
        }
        if let Some(both) = terms
            .unmasked
            .iter()
            .find(|column| terms.masks.contains_key(*column))
        {
            return Err(invalid(format!("'{both}' is asked for both raw and masked")));
        }
        {
            // What the grant would be is checked now, not at its approval: its masks fit
            // their columns (an SQL mask reads its own column only), and a verify grant
            // names the subject key and takes no masks.
            let context = causeway_policies::RewriteContext {
                principal,
                functions: self.functions(),
                session,
                limits: self.limits(),
            };
            let mut prospective = Grant {
                kind: terms.kind,
                ..grant_template(dataset.id.clone(), principal)
            };
            // Its errors read "grant asked for: ...": there is no grant id yet.
            prospective.id = "asked for".into();
            prospective.columns = terms.columns.clone();
            prospective.unmasked = terms.unmasked.iter().cloned().collect();
            prospective.masks = terms.masks.clone();
            prospective.purposes = [terms.purpose.clone()].into();
            prospective.verify = terms.asked_verify();
            causeway_policies::validate_grant(&prospective, dataset, &context)?;
        }
        if let Some((rule, column)) =
            causeway_policies::denied_request(principal, dataset, &terms.columns, &self.snapshot())
        {
            return Err(AccessError::Forbidden(format!(
                "{}; a grant could not change that, so it is not asked for",
                super::grantee::never_shown(dataset, rule, column.as_deref(), "you")
            )));
        }
        let now = Utc::now();
        let mut request = AccessRequest {
            id: format!("request-{}", &uuid::Uuid::now_v7().simple().to_string()[20..]),
            dataset: dataset.id.clone(),
            requester: principal.id.clone(),
            requester_department: principal.department.clone(),
            requester_roles: principal.roles.clone(),
            requester_attributes: principal.attributes.clone(),
            terms,
            state: RequestState::Pending,
            publisher_review: None,
            officer_review: None,
            grant_id: None,
            auto_approved: false,
            deadline: self.calendar().add_working_days(now, conditions.decision_days),
            created_at: now,
            decided_at: None,
        };
        let permit = conditions
            .auto_approve
            .iter()
            .find(|permit| meets(&request, principal, permit, dataset));
        if let Some(permit) = permit {
            let mut grant = grant_for(
                &request,
                Vec::new(),
                permit.masks.clone(),
                permit.row_filter.clone(),
                now,
            );
            grant.max_subjects_per_day = permit.max_subjects_per_day;
            // What the request asked for over the permit's terms, within them (`meets`).
            grant.verify = request
                .terms
                .verify_over(&permit.verify_terms().unwrap_or_default());
            request.auto_approved = true;
            self.approve(&mut request, grant, dataset, principal, session, gate)
                .await?;
        }
        describe(gate, &request);
        gate.pass().await?;
        self.store.insert_request(&request).await?;
        Ok(request)
    }

    /// Approves `request` with `grant`, which is made by `principal` (its record on disk
    /// first): under the dataset's published conditions when the request is
    /// `auto_approved`, else on both reviews.
    pub(super) async fn approve(
        &self,
        request: &mut AccessRequest,
        grant: Grant,
        dataset: &DatasetInfo,
        principal: &Principal,
        session: &SessionState,
        gate: &mut Gate,
    ) -> Result<(), AccessError> {
        let origin = if request.auto_approved {
            GrantOrigin::AutoApproved
        } else {
            GrantOrigin::Request
        };
        request.state = RequestState::Approved;
        request.grant_id = Some(grant.id.clone());
        // Decided when the grant starts: both are "now" of the decision.
        request.decided_at = grant.valid_from.or_else(|| Some(Utc::now()));
        describe(gate, request);
        self.create_grant(
            grant,
            dataset,
            origin,
            Some(&request.id),
            principal,
            session,
            gate,
        )
        .await?;
        Ok(())
    }

    /// Withdraws `principal`'s own request `id` while it waits for a decision: neither
    /// reviewer can decide it afterwards. `gate` is passed before it is stored.
    pub async fn withdraw(
        &self,
        principal: &Principal,
        id: &str,
        gate: &mut Gate,
    ) -> Result<AccessRequest, AccessError> {
        let mut request = self
            .store
            .request(id)
            .await?
            .filter(|request| request.concerns(principal))
            .ok_or_else(|| AccessError::NotFound(format!("access request {id}")))?;
        if request.requester != principal.id {
            return Err(AccessError::Forbidden(format!(
                "only its requester, {}, may withdraw request {id}",
                request.requester
            )));
        }
        match request.state {
            RequestState::Pending => {}
            RequestState::Approved => {
                return Err(AccessError::Forbidden(format!(
                    "request {id} is approved already: its grant is revoked, not the request withdrawn"
                )));
            }
            other => {
                return Err(AccessError::Forbidden(format!(
                    "request {id} is {} already",
                    other.as_str()
                )));
            }
        }
        request.state = RequestState::Withdrawn;
        request.decided_at = Some(Utc::now());
        describe(gate, &request);
        gate.pass().await?;
        if !self.store.save_request(&request).await? {
            return Err(AccessError::Forbidden(format!(
                "request {id} was decided meanwhile; look again"
            )));
        }
        Ok(request)
    }

    /// The requests that concern `principal`, newest first.
    pub async fn requests_for(&self, principal: &Principal) -> Result<Vec<AccessRequest>, AccessError> {
        let mut requests: Vec<AccessRequest> = self
            .store
            .list_requests()
            .await?
            .into_iter()
            .filter(|request| request.concerns(principal))
            .collect();
        requests.sort_by_key(|request| std::cmp::Reverse(request.created_at));
        Ok(requests)
    }
}

/// A request or decision that does not fit (400).
pub(super) fn invalid(message: String) -> AccessError {
    AccessError::Invalid(causeway_policies::PolicyError::Invalid {
        grant: "request".into(),
        message,
    })
}

/// Whether a request meets a permit: the requester's department, the purpose, the columns,
/// the duration and any verify terms asked for are all within it. A verify request of the
/// subject key alone (whether someone is in the dataset at all) is met only by a permit of
/// the key alone, never by a wider one.
fn meets(
    request: &AccessRequest,
    principal: &Principal,
    permit: &AutoApproval,
    dataset: &DatasetInfo,
) -> bool {
    let columns_allowed = permit.columns.iter().any(|column| column == "*")
        || (!request.terms.columns.iter().any(|column| column == "*")
            && request
                .terms
                .columns
                .iter()
                .all(|column| permit.columns.contains(column)));
    // A request that states forms of its own is for people to decide.
    permit.kind == request.terms.kind
        && request.terms.unmasked.is_empty()
        && request.terms.masks.is_empty()
        && (permit.departments.is_empty() || permit.departments.contains(&principal.department))
        && permit.purposes.contains(&request.terms.purpose)
        && columns_allowed
        && request.terms.days <= permit.max_days
        && match (&request.terms.verify, permit.verify_terms()) {
            (Some(asked), Some(allowed)) => asked.applied_to(&allowed).within(&allowed),
            (Some(_), None) => false,
            (None, _) => true,
        }
        && (request.terms.kind != GrantKind::Verify
            || dataset.only_subject_key(&permit.columns)
            || !dataset.only_subject_key(&request.terms.columns))
}

pub(super) fn grant_for(
    request: &AccessRequest,
    unmasked: Vec<String>,
    masks: BTreeMap<String, Mask>,
    row_filter: Option<String>,
    now: DateTime<Utc>,
) -> Grant {
    Grant {
        kind: request.terms.kind,
        verify: request.terms.asked_verify(),
        columns: request.terms.columns.clone(),
        masks,
        unmasked: unmasked.into_iter().collect(),
        row_filter,
        purposes: [request.terms.purpose.clone()].into(),
        valid_from: Some(now),
        expires_at: Some(now + Duration::days(i64::from(request.terms.days))),
        requested_by: Some(request.requester.clone()),
        ..grant_template(request.dataset.clone(), &Principal::new(&request.requester, ""))
    }
}

/// A read grant of every column of `dataset` for `requester`, with nothing else said.
fn grant_template(dataset: DatasetId, requester: &Principal) -> Grant {
    let subject = Subject::Client {
        client: requester.id.clone(),
    };
    Grant::new(super::new_grant_id(), subject, dataset)
}
