//! The queries where the hub's answer is known to differ from PostgreSQL's, by id, each
//! with the reason, grouped by cause. The list shrinks as the hub is fixed: a listed query
//! that agrees fails the test until it is removed from here.

pub const KNOWN: &[(&str, &str)] = &[
    // Refused by name (not_supported) until the engine answers them right.
    (
        "intersect_all",
        "refused: DataFusion's INTERSECT ALL keeps every duplicate of the left side",
    ),
    (
        "except_all",
        "refused: DataFusion's EXCEPT ALL removes every row that occurs on the right",
    ),
    // Decimals past 38 digits: the hub fails where PostgreSQL's numeric has more digits.
    (
        "decimal38_addition_overflow",
        "decimal(38,10) + 1 past 38 digits fails with arithmetic overflow; PostgreSQL's numeric has the digits",
    ),
    // Integer typing: an integer literal is a bigint, so int + 1 is a bigint (a wider type).
    (
        "int_add_overflow",
        "int + 1 is computed as bigint (literals are Int64): no integer overflow error",
    ),
    // Double errors: IEEE results where PostgreSQL raises an error.
    (
        "float_division_by_zero",
        "double / 0 gives Infinity instead of a division by zero error",
    ),
    (
        "float_overflow",
        "double overflow gives Infinity instead of an error",
    ),
    (
        "exp_overflow",
        "exp(1000) gives Infinity instead of an overflow error",
    ),
    ("ln_zero", "ln(0) gives -Infinity instead of an error"),
    // avg of decimals: truncated, not rounded.
    (
        "agg_avg_decimal",
        "avg(decimal) is truncated (not rounded) at 6 fraction digits",
    ),
    // -0.0 is not equal to 0.0 when sorting.
    (
        "order_floats",
        "ORDER BY sorts -0.0 before 0.0; PostgreSQL holds them equal",
    ),
    // Text of values.
    (
        "cast_double_to_text",
        "double to text writes -0.0, 3.0, 1e300; PostgreSQL writes -0, 3, 1e+300",
    ),
    (
        "float_minus_zero_text",
        "-0 as text is '-0.0'; PostgreSQL writes '-0'",
    ),
    (
        "str_concat_formats",
        "concat() writes booleans as true/false; PostgreSQL as t/f",
    ),
    (
        "interval_text",
        "interval as text is '1 mons 2 days'; PostgreSQL writes '1 mon 2 days'",
    ),
    (
        "str_to_hex",
        "to_hex of a negative int uses 64 bits; PostgreSQL uses 32",
    ),
    // Unicode case mapping: full mappings where PostgreSQL maps one character to one.
    (
        "str_upper_lower",
        "upper('straße ǅ') gives 'STRASSE Ǆ'; PostgreSQL keeps ß",
    ),
    (
        "str_upper_sharp_s",
        "upper('straße') gives 'STRASSE'; PostgreSQL gives 'STRAßE'",
    ),
    (
        "str_lower_final_sigma",
        "lower('ΣΑΣ') uses the final sigma ς; PostgreSQL gives σ",
    ),
    // Dates before 1677 cannot be nanosecond timestamps.
    (
        "date_trunc_month",
        "date_trunc over a date of 1600 fails (nanosecond timestamps start in 1677)",
    ),
    (
        "date_trunc_week",
        "date_trunc over a date of 1600 fails (nanosecond timestamps start in 1677)",
    ),
    (
        "date_trunc_year_quarter",
        "date_trunc over a date of 1600 fails (nanosecond timestamps start in 1677)",
    ),
    (
        "date_cast_to_timestamp",
        "CAST(date AS timestamp) of 1600 fails (nanosecond timestamps start in 1677)",
    ),
    (
        "date_before_1677_as_timestamp",
        "CAST(date AS timestamp) of 1600 fails (nanosecond timestamps start in 1677)",
    ),
    // Functions that take other patterns or mean other things.
    (
        "date_to_char",
        "to_char takes strftime patterns: 'YYYY-MM-DD' is returned as it is",
    ),
    (
        "to_date_pattern",
        "to_date takes strftime patterns: 'DD/MM/YYYY' fails",
    ),
    (
        "caret_operator",
        "^ is bitwise xor (2 ^ 3 = 1); in PostgreSQL it is exponentiation",
    ),
    // Parsing: IS [NOT] DISTINCT FROM binds looser than AND.
    (
        "join_not_distinct_keys",
        "a IS NOT DISTINCT FROM b AND c ... parses as a IS NOT DISTINCT FROM (b AND c): refused",
    ),
    (
        "precedence_is_distinct_and",
        "x IS DISTINCT FROM 1 AND y parses as x IS DISTINCT FROM (1 AND y): refused",
    ),
    // Refused with an error where PostgreSQL answers.
    (
        "not_in_correlated",
        "refused: correlated NOT IN (null-aware anti join takes one key only)",
    ),
    (
        "exists_in_select",
        "refused: EXISTS in the select list is not implemented",
    ),
    (
        "subquery_in_case",
        "refused: IN (subquery) inside CASE is not implemented",
    ),
    ("join_using", "refused: the USING column id is called ambiguous"),
    (
        "scalar_subquery_empty",
        "refused: a scalar subquery's column named id is called ambiguous with firms.id",
    ),
    (
        "int_precedence",
        "refused: (2 + 3) * 4 and 2 + 3 * 4 get the same column name",
    ),
    (
        "like_escape_clause",
        "refused: LIKE ... ESCAPE '!' fails ('a function failed on a value')",
    ),
    (
        "like_escape_hash",
        "refused: LIKE ... ESCAPE '#' fails ('a function failed on a value')",
    ),
];
