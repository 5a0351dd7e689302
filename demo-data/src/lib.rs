//! The demo's synthetic district: Nanhai (Foshan), its seven towns, their grids, households
//! and residents, and what four departments record about them, each in the kind of source it
//! would really live in.
//!
//! Everything comes from one seed, and each dataset draws from its own ChaCha stream, so the
//! same scale always gives byte-identical files, and the database tables (built separately,
//! with `--with-databases`) agree with the files without the files being read back.

//!
//! The generator behind `causeway demo` and `causeway-bench`: the district model
//! ([`district`]), one module per dataset, the text and date helpers, and the identity
//! numbers with their check characters ([`ids`]).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use datafusion::arrow::error::ArrowError;
use datafusion::parquet::errors::ParquetError;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

mod database;
mod dates;
mod district;
mod enrolments;
mod enterprises;
pub mod ids;
mod parcels;
mod residents;
mod text;

use crate::database::{benefit_payments_table, each_benefit_payment, each_inspection, inspections_table};
use crate::dates::Day;
use crate::district::District;
use crate::enrolments::write_enrolments;
use crate::enterprises::{build_enterprises, write_enterprises};
use crate::parcels::write_parcels;
use crate::residents::write_residents;

#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// Where the files are written; created if missing.
    pub dir: PathBuf,
    /// 1 is 10,000 residents; the number of residents is 10,000 times the scale.
    pub scale: u32,
}

/// How many rows each dataset got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generated {
    pub residents: usize,
    pub parcels: usize,
    pub enrolments: usize,
    pub enterprises: usize,
    pub benefit_payments: usize,
    pub inspections: usize,
}

/// A database table as SQL statements, to run in order on one connection inside the
/// caller's schema or database.
pub struct DatabaseTable {
    /// Drops the table if it exists, creates it and its indexes.
    pub setup: Vec<String>,
    /// Multi-row INSERT statements of at most 1,000 rows each.
    pub insert_batches: Vec<String>,
    pub rows: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("the demo scale must be between 1 and {MAX_SCALE}, not {0}")]
    Scale(u32),
    #[error("cannot write {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("cannot build the rows of {}: {source}", path.display())]
    Arrow { path: PathBuf, source: ArrowError },
    #[error("cannot write the Parquet file {}: {source}", path.display())]
    Parquet { path: PathBuf, source: ParquetError },
    #[error("cannot write the SQLite database {}: {source}", path.display())]
    Sqlite { path: PathBuf, source: rusqlite::Error },
    #[error("cannot write the NDJSON file {}: {source}", path.display())]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
}

pub const RESIDENTS_FILE: &str = "residents.parquet";
pub const PARCELS_FILE: &str = "parcels.csv";
pub const ENROLMENTS_FILE: &str = "social_security.db";
pub const ENTERPRISES_FILE: &str = "enterprises.ndjson";

/// Writes residents.parquet, parcels.csv, social_security.db (SQLite, table `enrolments`)
/// and enterprises.ndjson into `options.dir`.
///
/// Blocking: run it in `spawn_blocking`. `progress` is called with what is being written
/// ("register" while the residents are drawn, then "residents", "parcels", "enrolments" and
/// "enterprises"), the rows done and the rows in total, every few thousand rows.
pub fn generate_files(
    options: &GenerateOptions,
    progress: &dyn Fn(&str, u64, u64),
) -> Result<Generated, GenerateError> {
    generate_into(&options.dir, resident_count(options)?, progress)
}

/// `social_security.benefit_payments`, for PostgreSQL: about two payments in 2024 to each
/// resident aged 60 or more.
pub fn benefit_payments_sql(options: &GenerateOptions) -> Result<DatabaseTable, GenerateError> {
    let district = District::build(resident_count(options)?, &|_, _, _| {});
    Ok(benefit_payments_table(&district))
}

/// `market_supervision.inspections`, for MySQL or MariaDB: about two inspections of each
/// enterprise in `enterprises.ndjson`.
pub fn inspections_sql(options: &GenerateOptions) -> Result<DatabaseTable, GenerateError> {
    let district = District::build(resident_count(options)?, &|_, _, _| {});
    Ok(inspections_table(&build_enterprises(&district)))
}

pub(crate) const SEED: u64 = 2020;
pub(crate) const RESIDENTS_PER_SCALE: usize = 10_000;
/// Ten million residents: beyond this the register no longer fits comfortably in memory.
pub(crate) const MAX_SCALE: u32 = 1_000;
pub(crate) const RESIDENTS_PER_ENTERPRISE: usize = 20;
pub(crate) const RESIDENTS_PER_OUTSIDER: usize = 10;
pub(crate) const ROW_GROUP_ROWS: usize = 65_536;
/// Rows of a data page of the residents file: what a lookup by ID number reads per column.
pub(crate) const LOOKUP_PAGE_ROWS: usize = 4_096;
pub(crate) const PROGRESS_EVERY: usize = 4_096;
pub(crate) const INSERT_BATCH_ROWS: usize = 1_000;
/// Share of parcels, and of enrolments, that belong to people who are not residents.
pub(crate) const OUTSIDER_PARCELS_PERCENT: usize = 8;
pub(crate) const OUTSIDER_ENROLMENTS_PERCENT: usize = 3;

/// The day the data describes: ages, and the latest enrolment, registration or payment.
pub(crate) const REFERENCE_DAY: Day = Day::from_civil(2025, 1, 1);
pub(crate) const LAND_REGISTRATION_FROM: Day = Day::from_civil(1992, 1, 1);
pub(crate) const ENTERPRISES_FROM: Day = Day::from_civil(1993, 1, 1);
pub(crate) const INSPECTIONS_FROM: Day = Day::from_civil(2015, 1, 1);
pub(crate) const PAYMENTS_FROM: Day = Day::from_civil(2024, 1, 1);
pub(crate) const PAYMENTS_TO: Day = Day::from_civil(2024, 12, 31);
/// Days from birth to an 18th birthday, at most a day off.
pub(crate) const ADULT_AFTER_DAYS: i32 = 18 * 365 + 5;

pub(crate) fn resident_count(options: &GenerateOptions) -> Result<usize, GenerateError> {
    if (1..=MAX_SCALE).contains(&options.scale) {
        Ok(RESIDENTS_PER_SCALE * options.scale as usize)
    } else {
        Err(GenerateError::Scale(options.scale))
    }
}

pub(crate) fn generate_into(
    dir: &Path,
    resident_count: usize,
    progress: &dyn Fn(&str, u64, u64),
) -> Result<Generated, GenerateError> {
    fs::create_dir_all(dir).map_err(io_error(dir))?;
    let district = District::build(resident_count, progress);
    let residents = write_residents(&dir.join(RESIDENTS_FILE), &district, progress)?;
    let parcels = write_parcels(&dir.join(PARCELS_FILE), &district, progress)?;
    let enrolments = write_enrolments(&dir.join(ENROLMENTS_FILE), &district, progress)?;
    let enterprises = build_enterprises(&district);
    write_enterprises(&dir.join(ENTERPRISES_FILE), &enterprises, progress)?;
    let mut benefit_payments = 0;
    each_benefit_payment(&district, |_| benefit_payments += 1);
    let mut inspections = 0;
    each_inspection(&enterprises, |_| inspections += 1);
    Ok(Generated {
        residents,
        parcels,
        enrolments,
        enterprises: enterprises.len(),
        benefit_payments,
        inspections,
    })
}

pub(crate) fn io_error(path: &Path) -> impl FnOnce(io::Error) -> GenerateError + '_ {
    |source| GenerateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub(crate) fn arrow_error(path: &Path) -> impl FnOnce(ArrowError) -> GenerateError + '_ {
    |source| GenerateError::Arrow {
        path: path.to_path_buf(),
        source,
    }
}

pub(crate) fn parquet_error(path: &Path) -> impl FnOnce(ParquetError) -> GenerateError + '_ {
    |source| GenerateError::Parquet {
        path: path.to_path_buf(),
        source,
    }
}

pub(crate) fn sqlite_error(path: &Path) -> impl FnOnce(rusqlite::Error) -> GenerateError + '_ {
    |source| GenerateError::Sqlite {
        path: path.to_path_buf(),
        source,
    }
}

/// Independent random streams, one per dataset, so that changing how one dataset is drawn
/// never changes the others.
#[derive(Clone, Copy)]
pub(crate) enum Stream {
    Register = 1,
    Outsiders,
    Parcels,
    Enrolments,
    Enterprises,
    BenefitPayments,
    Inspections,
}

pub(crate) fn rng_for(stream: Stream) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    rng.set_stream(stream as u64);
    rng
}

/// One of the weighted `items`.
pub(crate) fn pick<T: Copy, const N: usize>(rng: &mut ChaCha8Rng, items: &[(T, u32); N]) -> T {
    let total: u32 = items.iter().map(|(_, weight)| weight).sum();
    let mut ticket = rng.random_range(0..total);
    for &(item, weight) in items {
        if ticket < weight {
            return item;
        }
        ticket -= weight;
    }
    items[N - 1].0
}

/// One of `items`, all equally likely.
pub(crate) fn choose<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

#[cfg(test)]
mod tests;
