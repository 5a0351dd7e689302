//! Dataset contracts: what a department promises about a dataset it publishes.
//!
//! A [`Contract`] names the dataset, its owner and its fields (Arrow type, nullability,
//! description and classification tag). Contracts are versioned: [`compatibility`] decides
//! whether a new version may replace the current one, and [`validate`] checks a contract
//! against the Arrow schema its source really has.

pub mod compatibility;
pub mod contract;
pub mod diff;
pub mod types;
pub mod validate;

pub use compatibility::{Incompatibility, check_compatible};
pub use contract::{Classification, Contract, ContractError, FieldSpec, Owner, Rounding};
pub use diff::{Change, contract_changes};
pub use validate::{SchemaMismatch, SourceTyping, check_against_source, unbounded_decimals};
