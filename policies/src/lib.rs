//! The policy model and its enforcement: pure logic, no I/O.
//!
//! Every request to the hub carries a [`Principal`]: who calls, for which department, in
//! which roles and with which attributes (a grid worker's `grid_id`, say). Grants, deny
//! rules and the plan rewrite that enforces them build on it.

mod principal;

pub use principal::{AttributeValue, Principal, Role, UnknownRole};
