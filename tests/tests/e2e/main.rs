//! End-to-end tests: each starts the real `causeway` binary (built beforehand with
//! `cargo build --bin causeway`) on a data directory of its own and drives it over HTTP,
//! as clients would. PostgreSQL and MySQL tests use the servers on 127.0.0.1; with
//! `CI=true` they fail when a server is missing instead of skipping.
#![expect(clippy::expect_used, reason = "a test fails loudly on the first broken step")]

mod acceleration;
mod alerts;
mod audit;
mod backups;
mod conformance;
mod connections;
mod console;
mod contracts;
mod daily_work;
mod databases;
mod demo;
mod dry_run;
mod errors;
mod expression_shapes;
mod files;
mod flight;
mod flight_gate;
mod formats;
mod hostile_load;
mod identity;
mod limits;
mod openapi;
mod operations;
mod planning;
mod policy_files;
mod postgres_clients;
mod postgres_wire;
mod quotas;
mod recertification;
mod replicas;
mod resilience;
mod security;
mod supervision;
mod support;
mod tls;
mod verify;
mod verify_terms;
mod walkthrough;
mod workflow;
