//! Reviewing an access request: who may give which decision, the forms a reviewer may
//! require, the grant both approvals make, and a reviewer's dry run of that grant before
//! deciding (the rows themselves are the query service's: `QueryService::sample`).

use std::collections::BTreeMap;
use std::sync::Arc;

use causeway_policies::{
    DatasetInfo, Grant, GrantKind, Mask, PartialVerifyTerms, PolicySet, Principal, RewriteContext, Role,
    VerifyTerms,
};
use chrono::{DateTime, Utc};
use datafusion::execution::session_state::SessionState;
use serde::Deserialize;

use super::requests::{AccessRequest, RequestState, Review, ReviewInput, describe, grant_for, invalid};
use super::{Access, AccessError};
use crate::audit::Gate;

/// The decision a reviewer proposes, to try before giving it: the masks, row filter and
/// verify terms they would require (as in `POST /v1/access-requests/{id}/decision`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proposal {
    #[serde(default)]
    pub masks: BTreeMap<String, Mask>,
    #[serde(default)]
    pub row_filter: Option<String>,
    #[serde(default)]
    pub verify: Option<PartialVerifyTerms>,
}

/// Which decision of a request a reviewer gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// The owning department's publisher's.
    Publisher,
    /// A security administrator's.
    Officer,
}

/// The grant approving a request would make, and what to try it with.
#[derive(Debug)]
pub struct ProposedGrant {
    /// As it would be stored, quotas and expiry included.
    pub grant: Grant,
    /// The grant (without its quotas, which count what the requester reads) and the hub's
    /// deny rules, in place of the hub's grants.
    pub policies: Arc<PolicySet>,
}

impl Access {
    /// A request `principal` may decide now: it concerns them (else it does not exist for
    /// them), is not their own, and is pending.
    pub async fn reviewable(&self, principal: &Principal, id: &str) -> Result<AccessRequest, AccessError> {
        let request = self
            .store
            .request(id)
            .await?
            .filter(|request| request.concerns(principal))
            .ok_or_else(|| AccessError::NotFound(format!("access request {id}")))?;
        if request.requester == principal.id {
            return Err(AccessError::Forbidden("nobody decides their own request".into()));
        }
        if request.state != RequestState::Pending {
            return Err(AccessError::Forbidden(format!(
                "request {id} is {} already",
                request.state.as_str()
            )));
        }
        Ok(request)
    }

    /// Records a reviewer's decision. The publisher's slot is for the owning department's
    /// publishers, the officer's for security administrators; two different people fill them,
    /// neither of them the requester. Both approving makes the grant; either rejecting,
    /// with a reason, ends the request.
    /// `request` is one [`Access::reviewable`] gave.
    pub async fn decide(
        &self,
        principal: &Principal,
        mut request: AccessRequest,
        input: ReviewInput,
        dataset: &DatasetInfo,
        session: &SessionState,
        gate: &mut Gate,
    ) -> Result<AccessRequest, AccessError> {
        if !input.approve
            && input
                .reason
                .as_deref()
                .is_none_or(|reason| reason.trim().is_empty())
        {
            return Err(AccessError::Forbidden("a refusal gives its reason".into()));
        }
        let verify = check_replacements(&request, dataset, &input.masks, input.verify.as_ref())?;
        let now = Utc::now();
        let review = Review {
            by: principal.id.clone(),
            approve: input.approve,
            reason: input.reason,
            masks: input.masks,
            row_filter: input.row_filter,
            verify,
            at: now,
        };
        match slot_for(&request, principal)? {
            Slot::Publisher => request.publisher_review = Some(review),
            Slot::Officer => request.officer_review = Some(review),
        }
        let reviews = [&request.publisher_review, &request.officer_review];
        if reviews
            .iter()
            .any(|review| review.as_ref().is_some_and(|review| !review.approve))
        {
            request.state = RequestState::Rejected;
            request.decided_at = Some(now);
        } else if let [Some(publisher), Some(officer)] = reviews {
            let mut grant = approved_grant(&request, Some(publisher), Some(officer), now);
            grant.approved_by = vec![publisher.by.clone(), officer.by.clone()];
            self.approve(&mut request, grant, dataset, principal, session, gate)
                .await?;
        }
        describe(gate, &request);
        gate.pass().await?;
        if !self.store.save_request(&request).await? {
            return Err(AccessError::Forbidden(format!(
                "request {} was decided meanwhile; look again",
                request.id
            )));
        }
        Ok(request)
    }

    /// The grant `principal` would make by approving `request` (one [`Access::reviewable`]
    /// gave) with `proposal`, with the other reviewer's decision as it stands (none yet:
    /// nothing more from them). Checked as the decision would be; refused to whoever could
    /// not give it.
    pub fn proposed_grant(
        &self,
        principal: &Principal,
        request: &AccessRequest,
        proposal: Proposal,
        dataset: &DatasetInfo,
        session: &SessionState,
    ) -> Result<ProposedGrant, AccessError> {
        let verify = check_replacements(request, dataset, &proposal.masks, proposal.verify.as_ref())?;
        let now = Utc::now();
        let review = Review {
            by: principal.id.clone(),
            approve: true,
            reason: None,
            masks: proposal.masks,
            row_filter: proposal.row_filter,
            verify,
            at: now,
        };
        let grant = match slot_for(request, principal)? {
            Slot::Publisher => approved_grant(request, Some(&review), request.officer_review.as_ref(), now),
            Slot::Officer => approved_grant(request, request.publisher_review.as_ref(), Some(&review), now),
        };
        let requester = request.requester_principal();
        let context = RewriteContext {
            principal: &requester,
            functions: self.functions(),
            session,
            limits: self.limits(),
        };
        // The grant's id is made up for the try.
        super::validate_unnamed(&grant, "proposed", dataset, &context)?;
        let tried = Grant {
            max_rows_per_query: None,
            max_rows_per_day: None,
            max_subjects_per_day: None,
            ..grant.clone()
        };
        let policies = Arc::new(PolicySet {
            grants: vec![tried],
            denies: self.snapshot().denies.clone(),
        });
        Ok(ProposedGrant { grant, policies })
    }
}

/// The decision `principal` gives on `request`: the publisher's for the owning department's
/// publishers, the officer's for security administrators, two different people, each once.
pub(super) fn slot_for(request: &AccessRequest, principal: &Principal) -> Result<Slot, AccessError> {
    let owner = principal.has_role(Role::Publisher) && principal.department == request.dataset.department;
    let mine = |review: &Option<Review>| review.as_ref().is_some_and(|review| review.by == principal.id);
    if owner && request.publisher_review.is_none() && !mine(&request.officer_review) {
        return Ok(Slot::Publisher);
    }
    if principal.has_role(Role::SecurityAdmin)
        && request.officer_review.is_none()
        && !mine(&request.publisher_review)
    {
        return Ok(Slot::Officer);
    }
    Err(AccessError::Forbidden(format!(
        "request {} waits for {}, and you cannot give it",
        request.id,
        match (&request.publisher_review, &request.officer_review) {
            (None, None) => "a publisher of the owning department and a security administrator",
            (None, Some(_)) => "a publisher of the owning department",
            _ => "a security administrator",
        }
    )))
}

/// Checks the forms a reviewer requires: each for a column asked for, revealing no more
/// than the form asked for; a change the requester has not agreed to is refused, naming
/// what to do. A verify grant returns no value, so it takes no masks; its terms may be
/// narrowed, never widened. Gives the verify terms the reviewer requires, whole.
pub(super) fn check_replacements(
    request: &AccessRequest,
    dataset: &DatasetInfo,
    masks: &BTreeMap<String, Mask>,
    verify: Option<&PartialVerifyTerms>,
) -> Result<Option<VerifyTerms>, AccessError> {
    let id = &request.id;
    if request.terms.kind == GrantKind::Verify && !masks.is_empty() {
        return Err(invalid(format!(
            "request {id} is for a verify grant, which returns no value: it takes no masks"
        )));
    }
    let required = match (verify, request.terms.asked_verify()) {
        (None, _) => None,
        (Some(_), None) => {
            return Err(invalid(format!(
                "request {id} is for a read grant: only a verify grant takes verify terms"
            )));
        }
        (Some(narrowing), Some(asked)) => {
            let required = narrowing.applied_to(&asked);
            let wider = required.beyond(&asked);
            if !wider.is_empty() {
                return Err(invalid(format!(
                    "a reviewer may narrow the verify terms request {id} asked for, not widen them: {} was not asked for",
                    wider.join(", ")
                )));
            }
            Some(required)
        }
    };
    for (column, replacement) in masks {
        let known = dataset
            .columns
            .iter()
            .find(|known| known.name == *column)
            .filter(|known| {
                request
                    .terms
                    .columns
                    .iter()
                    .any(|asked| asked == "*" || *asked == known.name)
            })
            .ok_or_else(|| {
                invalid(format!(
                    "'{column}' is not among the columns request {id} asks for"
                ))
            })?;
        let asked = request.terms.asked_form(known);
        let shown = |form: Option<&Mask>| form.map_or_else(|| "raw".to_owned(), ToString::to_string);
        match causeway_policies::reveals_no_more(replacement, asked.as_ref()) {
            Some(true) => {}
            Some(false) => {
                return Err(invalid(format!(
                    "{column} as {replacement} reveals more than the {} asked for",
                    shown(asked.as_ref())
                )));
            }
            None => {
                return Err(invalid(format!(
                    "{column} as {replacement} cannot be compared with the {} asked for: the requester asks again in that form",
                    shown(asked.as_ref())
                )));
            }
        }
    }
    Ok(required)
}

/// The grant the two approvals make: what was asked, then each reviewer's replacements
/// (each checked to reveal no more than asked); where both replaced a column, the form that
/// reveals less, or null when theirs cannot be compared; both row filters; the stricter of
/// each verify term. A review not given yet adds nothing.
pub(super) fn approved_grant(
    request: &AccessRequest,
    publisher: Option<&Review>,
    officer: Option<&Review>,
    now: DateTime<Utc>,
) -> Grant {
    let none = BTreeMap::new();
    let publisher_masks = publisher.map_or(&none, |review| &review.masks);
    let mut masks = request.terms.masks.clone();
    masks.extend(publisher_masks.clone());
    for (column, mask) in officer.map_or(&none, |review| &review.masks) {
        let kept = match publisher_masks.get(column) {
            Some(theirs) => match causeway_policies::reveals_no_more(mask, Some(theirs)) {
                Some(true) => mask.clone(),
                Some(false) => theirs.clone(),
                None => Mask::Null,
            },
            None => mask.clone(),
        };
        masks.insert(column.clone(), kept);
    }
    let unmasked: Vec<String> = request
        .terms
        .unmasked
        .iter()
        .filter(|column| !masks.contains_key(*column))
        .cloned()
        .collect();
    let filter = |review: Option<&Review>| review.and_then(|review| review.row_filter.clone());
    let row_filter = match (filter(publisher), filter(officer)) {
        (Some(first), Some(second)) => Some(format!("({first}) AND ({second})")),
        (Some(filter), None) | (None, Some(filter)) => Some(filter),
        (None, None) => None,
    };
    let mut grant = grant_for(request, unmasked, masks, row_filter, now);
    let required = |review: Option<&Review>| review.and_then(|review| review.verify.clone());
    for terms in [required(publisher), required(officer)].into_iter().flatten() {
        grant.verify = grant.verify.map(|kept| kept.stricter(&terms));
    }
    grant
}
