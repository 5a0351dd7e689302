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

/// DataFusion's SQL reads `99999999.99` as a double; against a decimal column it becomes
/// `Decimal128(30, 15)` with the double's binary value. Small values (`0.01`) survive the
/// rounding to 15 places, values of eight integer digits do not.
const FLOAT_DECIMAL: &str = "the hub's SQL reads 99999999.99 as a double and compares a decimal \
    with it as decimal(30,15) holding the double's binary value (99999999.989999999123456); \
    the database compares the decimal as written";

const FLOAT_OVERFLOW: &str = "the hub's SQL reads 10000000000000000000000000000 as a double, \
    which the hub fails to cast to decimal(38,10)'s comparison type (400 'a value cannot be \
    cast'); the database answers";

const BIGINT_DOUBLE: &str = "the hub's SQL reads -9223372036854775809 as a double and compares \
    a bigint with it (and with every literal of its IN list) as doubles, in which \
    -9223372036854775808 equals it and 9223372036854775807 equals 9223372036854775808; the \
    database compares exactly";

const KNOWN: &[Known] = &[
    Known {
        dialects: &[Dialect::Postgres, Dialect::Mysql],
        check: Check::Database,
        cause: FLOAT_DECIMAL,
        filters: &[
            "decimals: NOT (d < -99999999.99)",
            "decimals: NOT (d = -99999999.99)",
            "decimals: NOT (d = 99999999.99)",
            "decimals: d < -99999999.99",
            "decimals: d <= 99999999.99",
            "decimals: d <> -99999999.99",
            "decimals: d <> 99999999.99",
            "decimals: d = -99999999.99",
            "decimals: d = -99999999.99 OR d IS NULL",
            "decimals: d = 99999999.99",
            "decimals: d = 99999999.99 OR d IS NULL",
            "decimals: d > 99999999.99",
            "decimals: d >= -99999999.99",
            "decimals: d BETWEEN -99999999.99 AND 0.01",
            "decimals: d BETWEEN CAST('0.01' AS DECIMAL(10,2)) AND 99999999.99",
            "decimals: d IN (-99999999.99, 0.01)",
            "decimals: d IN (99999999.99, -99999999.99)",
            "decimals: d IN (CAST('0.01' AS DECIMAL(10,2)), 99999999.99)",
            "decimals: d IS DISTINCT FROM -99999999.99",
            "decimals: d IS DISTINCT FROM 99999999.99",
            "decimals: d IS NOT DISTINCT FROM -99999999.99",
            "decimals: d IS NOT DISTINCT FROM 99999999.99",
            "decimals: d NOT BETWEEN -99999999.99 AND 0.01",
            "decimals: d NOT BETWEEN CAST('0.01' AS DECIMAL(10,2)) AND 99999999.99",
            "decimals: d NOT IN (-99999999.99, 0.01)",
            "decimals: d NOT IN (99999999.99, -99999999.99)",
            "decimals: d NOT IN (CAST('0.01' AS DECIMAL(10,2)), 99999999.99)",
        ],
    },
    Known {
        dialects: &[Dialect::Postgres, Dialect::Mysql],
        check: Check::Database,
        cause: FLOAT_OVERFLOW,
        filters: &[
            "decimals: NOT (w < 10000000000000000000000000000)",
            "decimals: NOT (w = 10000000000000000000000000000)",
            "decimals: w < 10000000000000000000000000000",
            "decimals: w <= 10000000000000000000000000000",
            "decimals: w <> 10000000000000000000000000000",
            "decimals: w = 10000000000000000000000000000",
            "decimals: w = 10000000000000000000000000000 OR w IS NULL",
            "decimals: w > 10000000000000000000000000000",
            "decimals: w >= 10000000000000000000000000000",
            "decimals: w BETWEEN 1 AND 10000000000000000000000000000",
            "decimals: w BETWEEN 10000000000000000000000000000 AND -9223372036854775808",
            "decimals: w IN (1, 10000000000000000000000000000)",
            "decimals: w IN (10000000000000000000000000000, -9223372036854775808)",
            "decimals: w IS DISTINCT FROM 10000000000000000000000000000",
            "decimals: w IS NOT DISTINCT FROM 10000000000000000000000000000",
            "decimals: w NOT BETWEEN 1 AND 10000000000000000000000000000",
            "decimals: w NOT BETWEEN 10000000000000000000000000000 AND -9223372036854775808",
            "decimals: w NOT IN (1, 10000000000000000000000000000)",
            "decimals: w NOT IN (10000000000000000000000000000, -9223372036854775808)",
        ],
    },
    Known {
        dialects: &[Dialect::Postgres, Dialect::Mysql],
        check: Check::Database,
        cause: BIGINT_DOUBLE,
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
    },
    Known {
        dialects: &[Dialect::Sqlite],
        check: Check::Database,
        cause: BIGINT_DOUBLE,
        filters: &[
            "integers: i64 IN (-9223372036854775809, 9223372036854775808)",
            "integers: i64 NOT IN (-9223372036854775809, 9223372036854775808)",
        ],
    },
];

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
