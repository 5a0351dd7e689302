//! The differences the differential suite finds today, each with its cause. The suite fails
//! on any difference not listed here and on any listed one that now agrees: fix the hub,
//! then take its lines off.
//!
//! None of them is in text: quotes, backslashes, `%` and `_`, padding, case, collations and
//! non-ASCII text all agree, pushed or not, in every database.

use std::collections::BTreeMap;

use super::{Check, Dialect};

/// Filters (`table: filter`) whose answers differ for one cause in the databases named.
struct Known {
    /// The databases where these filters differ alike.
    dialects: &'static [Dialect],
    check: Check,
    cause: &'static str,
    filters: &'static [&'static str],
}

/// SQLite reads an integer literal beyond 64 bits as a REAL, and compares an integer column
/// with it as reals; Causeway reads it as an exact decimal, as PostgreSQL does.
const SQLITE_REAL_LITERAL: &str = "SQLite reads -9223372036854775809 as a REAL, in which \
    -9223372036854775808 equals it (as 9223372036854775807 equals 9223372036854775808); \
    Causeway reads it as an exact decimal (as PostgreSQL does), \
    which no bigint equals";

const KNOWN: &[Known] = &[Known {
    dialects: &[Dialect::Sqlite],
    check: Check::Database,
    cause: SQLITE_REAL_LITERAL,
    filters: &[
        "integers: NOT (i64 = -9223372036854775809)",
        "integers: i64 <= -9223372036854775809",
        "integers: i64 <> -9223372036854775809",
        "integers: i64 = -9223372036854775809",
        "integers: i64 = -9223372036854775809 OR i64 IS NULL",
        "integers: i64 > -9223372036854775809",
        "integers: i64 IN (-9223372036854775809, 9223372036854775808)",
        "integers: i64 IN (9223372036854775807, -9223372036854775809)",
        "integers: i64 IS DISTINCT FROM -9223372036854775809",
        "integers: i64 IS NOT DISTINCT FROM -9223372036854775809",
        "integers: i64 NOT IN (-9223372036854775809, 9223372036854775808)",
        "integers: i64 NOT IN (9223372036854775807, -9223372036854775809)",
    ],
}];

/// The known differences of `dialect`, by check and filter, with their causes.
pub(super) fn known(dialect: Dialect) -> BTreeMap<(Check, &'static str), &'static str> {
    KNOWN
        .iter()
        .filter(|known| known.dialects.contains(&dialect))
        .flat_map(|known| {
            known
                .filters
                .iter()
                .map(move |filter| ((known.check, *filter), known.cause))
        })
        .collect()
}
