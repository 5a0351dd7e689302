//! The policy model and its enforcement: pure logic, no I/O.
//!
//! Every request to the hub carries a [`Principal`]: who calls, for which department, in
//! which roles and with which attributes. [`authorize`] decides, from the grants and deny
//! rules in force, what a principal may see of a dataset for a purpose, and why;
//! [`secure_view`] rewrites a scan of the dataset into exactly that.

mod conditions;
mod decision;
mod error;
mod files;
mod masks;
mod model;
mod principal;
pub mod rewrite;
mod syntax;
mod udf;
mod verify;

pub use conditions::{AccessConditions, AutoApproval, PartialVerifyTerms};
pub use decision::{
    AccessDenied, AppliedGrant, ColumnAccess, ColumnDecision, ColumnInfo, ColumnSource, DatasetInfo,
    Decision, RowQuota, authorize, default_masks, denied_request, largest_subject_quota, may_read_all_rows,
};
pub use error::{PolicyError, UnfitPolicy};
pub use files::{FileError, FilePolicies, Located};
pub use masks::{default_mask, reveals_no_more};
pub use model::{DatasetId, DenyRule, Grant, GrantKind, Lapse, Mask, PolicySet, Subject, VerifyTerms};
pub use principal::{
    AttributeValue, Principal, Role, RolesConflict, UnknownRole, check_separation, role_names,
};
pub use rewrite::{RewriteContext, check_terms, secure_view, validate_grant};
pub use syntax::{ExprSyntaxError, SyntaxLimitExceeded, SyntaxLimits, on_deep_stack};
pub use udf::{DENIED, PSEUDONYM, PolicyFunctions, denied_columns};
pub use verify::{VerifyDecision, VerifyGrant, VerifyPlan, VerifyRefused, authorize_verify};
