//! The Causeway hub as a library: startup ([`startup::Hub`]), the query service
//! ([`query`]), the HTTP API ([`api`]), identity, the audit log, the metadata store and the
//! configuration. The `causeway` binary only parses its command line ([`cli::run`]); tests
//! and other front doors start a hub in process with [`startup::Hub::build`] and
//! [`startup::Hub::serve_until`].

pub mod acceleration;
pub mod access;
pub mod api;
pub mod audit;
pub mod backup;
pub mod cli;
pub mod config;
pub mod demo;
pub mod flight;
pub mod identity;
pub mod postgres;
pub mod private_files;
pub mod query;
pub mod registry;
pub mod replicas;
pub mod server;
pub mod startup;
pub mod store;
pub mod supervision;
pub mod telemetry;
