-- SQL conformance queries. Each starts with a line `-- id: what it checks`; the SQL runs up
-- to the next such line. Tables are written as placeholders ({people}, {firms}, {links},
-- {numbers}, {floats}), replaced by `department.dataset` for the hub and `schema.table`
-- for PostgreSQL. A query with an ORDER BY at its top level compares in order, any other
-- as a multiset of rows, so every ORDER BY here orders totally.

-- == NULLs in IN, NOT IN, EXISTS ==

-- in_list_with_null: a NULL in an IN list matches nothing more
SELECT id FROM {people} WHERE household IN (1, 2, NULL);

-- not_in_list_with_null: x NOT IN (.., NULL) is never true
SELECT id FROM {people} WHERE household NOT IN (1, 2, NULL);

-- not_in_list_skips_null_values: NOT IN leaves out rows whose value is NULL
SELECT id FROM {people} WHERE household NOT IN (1, 2, 3, 4);

-- in_list_result_is_null: IN gives NULL for a NULL value and for a non-match with a NULL in the list
SELECT id, household IN (1, NULL) AS member, household NOT IN (1, NULL) AS non_member FROM {people} WHERE id <= 20 OR id > 1000;

-- in_list_only_null: IN (NULL) matches no row
SELECT count(*) FROM {people} WHERE district IN (NULL);

-- not_in_strings: NOT IN over strings leaves out NULL districts and keeps 'West '
SELECT id FROM {people} WHERE district NOT IN ('North', 'South', 'East', 'West', 'Central');

-- in_list_decimals: IN over a decimal column with decimal literals
SELECT id FROM {people} WHERE income IN (0, 0.01, 100.5, -2.5);

-- in_list_dates: IN over dates given as strings
SELECT id FROM {people} WHERE birth IN ('2000-02-29', '1970-01-01', '1904-02-29');

-- in_subquery: IN over a subquery whose column has NULLs
SELECT id FROM {people} WHERE id IN (SELECT person_id FROM {links});

-- not_in_subquery_with_nulls: NOT IN over a subquery holding a NULL gives no rows
SELECT id FROM {people} WHERE id NOT IN (SELECT person_id FROM {links});

-- not_in_subquery_without_nulls: NOT IN over a subquery with its NULLs filtered out
SELECT id FROM {people} WHERE id NOT IN (SELECT person_id FROM {links} WHERE person_id IS NOT NULL);

-- not_in_subquery_null_left: a NULL value is never NOT IN a non-empty subquery
SELECT id FROM {people} WHERE household NOT IN (SELECT small FROM {numbers} WHERE small IS NOT NULL);

-- not_in_empty_subquery: every row, NULLs included, is NOT IN an empty subquery
SELECT count(*) FROM {people} WHERE household NOT IN (SELECT small FROM {numbers} WHERE id < 0);

-- in_empty_subquery: no row is IN an empty subquery
SELECT count(*) FROM {people} WHERE household IN (SELECT small FROM {numbers} WHERE id < 0);

-- not_in_subquery_counts: NOT IN of firm owners over people ids, NULL owners left out
SELECT count(*) FROM {firms} WHERE owner_id NOT IN (SELECT id FROM {people});

-- in_subquery_null_only: IN a subquery of only NULLs matches nothing
SELECT count(*) FROM {people} WHERE id IN (SELECT person_id FROM {links} WHERE person_id IS NULL);

-- not_in_subquery_null_only: NOT IN a subquery of only NULLs matches nothing
SELECT count(*) FROM {people} WHERE id NOT IN (SELECT person_id FROM {links} WHERE person_id IS NULL);

-- not_in_subquery_or: NOT IN with NULLs combined with OR
SELECT id FROM {people} WHERE id NOT IN (SELECT person_id FROM {links}) OR id > 1010;

-- not_in_correlated: correlated NOT IN over a nullable column
SELECT f.id FROM {firms} f WHERE f.owner_id NOT IN (SELECT l.person_id FROM {links} l WHERE l.firm_id = f.id);

-- not_in_correlated_expression: correlated NOT IN of an expression
SELECT f.id FROM {firms} f WHERE f.owner_id + 0 NOT IN (SELECT l.person_id FROM {links} l WHERE l.firm_id = f.id);

-- not_in_correlated_or: correlated NOT IN under OR
SELECT f.id FROM {firms} f WHERE f.id > 500 OR f.owner_id NOT IN (SELECT l.person_id FROM {links} l WHERE l.firm_id = f.id AND l.role = 'owner');

-- not_in_correlated_null_value: a NULL compared value passes only an empty subquery
SELECT f.id FROM {firms} f WHERE f.owner_id IS NULL AND f.owner_id NOT IN (SELECT l.person_id FROM {links} l WHERE l.firm_id = f.id);

-- not_in_correlated_not_null: correlated NOT IN over a column without NULLs
SELECT p.id FROM {people} p WHERE p.household NOT IN (SELECT q.household FROM {people} q WHERE q.district = p.district AND q.id < p.id AND q.household IS NOT NULL) AND p.id < 60;

-- exists_correlated: EXISTS with a correlated equality
SELECT id FROM {people} p WHERE EXISTS (SELECT 1 FROM {links} l WHERE l.person_id = p.id);

-- not_exists_correlated: NOT EXISTS keeps people with no link
SELECT id FROM {people} p WHERE NOT EXISTS (SELECT 1 FROM {links} l WHERE l.person_id = p.id);

-- not_exists_null_keys: links with a NULL person match no person
SELECT count(*) FROM {links} l WHERE NOT EXISTS (SELECT 1 FROM {people} p WHERE p.id = l.person_id);

-- exists_empty: EXISTS over an empty subquery
SELECT count(*) FROM {people} WHERE EXISTS (SELECT 1 FROM {numbers} WHERE id < 0);

-- exists_null_row: a row of NULLs exists
SELECT count(*) FROM {people} WHERE EXISTS (SELECT big FROM {numbers} WHERE id = 6);

-- exists_correlated_extra_filter: EXISTS with a correlated and a constant condition
SELECT id FROM {firms} f WHERE EXISTS (SELECT 1 FROM {links} l WHERE l.firm_id = f.id AND l.role = 'owner');

-- any_subquery: = ANY over a subquery
SELECT id FROM {people} WHERE household = ANY (SELECT small FROM {numbers} WHERE id IN (3, 5, 9));

-- all_subquery_with_null: > ALL over a subquery with a NULL is never true
SELECT count(*) FROM {people} WHERE household > ALL (SELECT small FROM {numbers} WHERE id IN (8, 6));

-- == Joins ==

-- join_inner: inner join on a nullable key
SELECT p.id, l.firm_id, l.role FROM {people} p JOIN {links} l ON p.id = l.person_id;

-- join_left: left join keeps people without links
SELECT p.id, l.firm_id FROM {people} p LEFT JOIN {links} l ON p.id = l.person_id WHERE p.id > 250;

-- join_right: right join keeps links without people
SELECT l.person_id, l.firm_id, p.name FROM {people} p RIGHT JOIN {links} l ON p.id = l.person_id;

-- join_full: full join on nullable keys
SELECT p.id, l.person_id, l.firm_id FROM {people} p FULL JOIN {links} l ON p.id = l.person_id;

-- join_full_counts: NULLs on each side of a full join
SELECT count(*), count(p.id), count(l.person_id), count(*) FILTER (WHERE p.id IS NULL) FROM {people} p FULL JOIN {links} l ON p.id = l.person_id;

-- join_null_keys_never_match: NULL join keys do not match each other
SELECT count(*) FROM {links} a JOIN {links} b ON a.person_id = b.person_id;

-- join_not_distinct_keys: IS NOT DISTINCT FROM matches NULL keys
SELECT count(*) FROM {links} a JOIN {links} b ON a.person_id IS NOT DISTINCT FROM b.person_id AND a.firm_id IS NOT DISTINCT FROM b.firm_id;

-- join_not_distinct_single: IS NOT DISTINCT FROM alone matches NULL keys
SELECT count(*) FROM {links} a JOIN {links} b ON a.person_id IS NOT DISTINCT FROM b.person_id;

-- join_not_distinct_parenthesized: two parenthesized IS NOT DISTINCT FROM conditions
SELECT count(*) FROM {links} a JOIN {links} b ON (a.person_id IS NOT DISTINCT FROM b.person_id) AND (a.firm_id IS NOT DISTINCT FROM b.firm_id);

-- precedence_is_distinct_and: IS DISTINCT FROM binds tighter than AND
SELECT count(*) FROM {people} WHERE household IS DISTINCT FROM 1 AND active;

-- join_three_tables: people, links and firms
SELECT p.id, f.id, f.sector FROM {people} p JOIN {links} l ON l.person_id = p.id JOIN {firms} f ON f.id = l.firm_id WHERE l.role = 'owner';

-- join_left_condition_in_on: a condition in ON keeps the unmatched rows
SELECT p.id, l.firm_id FROM {people} p LEFT JOIN {links} l ON p.id = l.person_id AND l.role = 'owner' WHERE p.id <= 60;

-- join_left_condition_in_where: a condition in WHERE drops them
SELECT p.id, l.firm_id FROM {people} p LEFT JOIN {links} l ON p.id = l.person_id WHERE l.role = 'owner' AND p.id <= 60;

-- join_anti_by_left_null: left join then IS NULL finds people without links
SELECT p.id FROM {people} p LEFT JOIN {links} l ON p.id = l.person_id WHERE l.person_id IS NULL;

-- join_on_expression: join on an arithmetic expression
SELECT p.id, f.id FROM {people} p JOIN {firms} f ON p.household = f.employees % 7 WHERE p.id < 30 AND f.id < 20;

-- join_non_equi: join on an inequality
SELECT count(*) FROM {people} p JOIN {numbers} n ON p.household > n.small;

-- join_cross_count: cross join size
SELECT count(*) FROM {people} CROSS JOIN {floats};

-- join_using: USING merges the key column
SELECT id, p.name, f.name FROM {people} p JOIN {firms} f USING (id) WHERE id < 20 OR id > 500;

-- join_text_keys: equal strings join, NULLs and trailing spaces do not
SELECT p.district, count(*) FROM {people} p JOIN {people} q ON p.district = q.district GROUP BY p.district;

-- join_date_keys: join on dates
SELECT p.id, f.id FROM {people} p JOIN {firms} f ON p.birth = f.registered;

-- join_decimal_int_keys: a decimal joins an integer of equal value
SELECT p.id, n.id FROM {people} p JOIN {numbers} n ON p.income = n.small;

-- join_float_keys: float join keys, -0 equal to 0 and NaN equal to NaN as PostgreSQL compares them
SELECT a.id, b.id FROM {floats} a JOIN {floats} b ON a.f = b.f;

-- join_left_count_zero: count over a left join gives 0 for no match
SELECT p.id, count(l.firm_id) FROM {people} p LEFT JOIN {links} l ON l.person_id = p.id WHERE p.id > 280 GROUP BY p.id;

-- join_full_on_false: a full join on an unsatisfiable condition keeps every row once
SELECT count(*), count(p.id), count(n.id) FROM {people} p FULL JOIN {numbers} n ON p.id = n.id AND p.id < 0;

-- join_left_with_or: left join on an OR condition
SELECT n.id, f.id FROM {numbers} n LEFT JOIN {firms} f ON f.id = n.id OR f.employees = n.small;

-- join_semi_duplicates: IN does not duplicate rows for duplicate matches
SELECT count(*) FROM {firms} WHERE id IN (SELECT firm_id FROM {links});

-- == Aggregates ==

-- agg_count_star_vs_column: count(*) counts NULLs, count(column) does not
SELECT count(*), count(household), count(district), count(name), count(DISTINCT district), count(DISTINCT household) FROM {people};

-- agg_all_null_group: aggregates over only NULLs
SELECT count(income), sum(income), avg(income), min(income), max(income), sum(household), min(name) FROM {people} WHERE income IS NULL;

-- agg_empty_input: aggregates over no rows give one row of NULLs and zero counts
SELECT count(*), count(income), sum(income), avg(income), min(name), max(birth), sum(score) FROM {people} WHERE id < 0;

-- agg_empty_grouped: a grouped aggregate over no rows gives no rows
SELECT district, count(*) FROM {people} WHERE id < 0 GROUP BY district;

-- agg_sum_int: sum of an integer column
SELECT sum(household), sum(id), min(household), max(household) FROM {people};

-- agg_sum_int_extremes: sum of int extremes does not overflow (PostgreSQL sums int as bigint)
SELECT sum(small), sum(tiny) FROM {numbers};

-- agg_sum_bigint_overflow: sum of bigint beyond its range (PostgreSQL sums bigint as numeric)
SELECT sum(big) FROM {numbers} WHERE id IN (1, 7);

-- agg_sum_bigint_all: sum of bigint with both extremes
SELECT sum(big) FROM {numbers};

-- agg_sum_bigint_negative_overflow: sum of bigint below its range
SELECT sum(big) FROM {numbers} WHERE id IN (2, 4);

-- agg_avg_bigint: avg of bigint extremes
SELECT avg(big) FROM {numbers} WHERE id IN (1, 7);

-- agg_avg_int: avg of an int column
SELECT avg(household), avg(id) FROM {people};

-- agg_avg_decimal: avg of a decimal column
SELECT avg(income), avg(capital) FROM {people} p JOIN {firms} f ON f.id = p.id;

-- agg_sum_decimal: sum of decimals with extremes
SELECT sum(income), sum(amount) FROM {people} p LEFT JOIN {numbers} n ON n.id = p.id;

-- agg_sum_decimal_38_overflow: sum of decimal(38,10) past 38 digits
SELECT sum(dec) FROM {numbers} WHERE id IN (1, 5);

-- agg_sum_decimal_38: sum of decimal(38,10) where the extremes cancel
SELECT sum(dec) FROM {numbers} WHERE id <> 1 AND id <> 2;

-- agg_min_max_text: min and max of text in byte order
SELECT min(name), max(name), min(district), max(district) FROM {people};

-- agg_min_max_date: min and max of dates
SELECT min(p.birth), max(p.birth), min(f.registered), max(f.registered) FROM {people} p, {firms} f WHERE p.id = f.id;

-- agg_group_by_null: NULL forms one group
SELECT district, count(*), sum(household) FROM {people} GROUP BY district;

-- agg_group_by_two: two grouping columns with NULLs
SELECT district, active, count(*) FROM {people} GROUP BY district, active;

-- agg_group_by_expression: grouping by an expression of a nullable column
SELECT household % 3, count(*) FROM {people} GROUP BY household % 3;

-- agg_group_by_ordinal: grouping and ordering by position
SELECT sector, count(*) FROM {firms} GROUP BY 1 ORDER BY 1;

-- agg_having_count: HAVING on a count
SELECT district, count(*) FROM {people} GROUP BY district HAVING count(*) > 40;

-- agg_having_null_sum: HAVING on a NULL sum
SELECT household, count(*) FROM {people} WHERE income IS NULL GROUP BY household HAVING sum(income) IS NULL;

-- agg_having_without_group: HAVING without GROUP BY filters the single row
SELECT count(*) FROM {people} HAVING count(*) > 1000;

-- agg_having_aggregate_not_selected: HAVING on an aggregate not in the select list
SELECT sector FROM {firms} GROUP BY sector HAVING max(employees) > 400;

-- agg_filter_clause: aggregates with FILTER
SELECT count(*) FILTER (WHERE active), count(*) FILTER (WHERE NOT active), sum(household) FILTER (WHERE district IS NULL) FROM {people};

-- agg_bool_and_or: bool_and and bool_or skip NULLs
SELECT district, bool_and(active), bool_or(active) FROM {people} GROUP BY district;

-- agg_string_agg_ordered: string_agg with an ORDER BY
SELECT district, string_agg(name, '|' ORDER BY id) FROM {people} WHERE id > 1000 GROUP BY district;

-- agg_stddev_variance: sample and population deviation and variance
SELECT stddev_samp(household), stddev_pop(household), var_samp(score), var_pop(score) FROM {people} WHERE id < 1000;

-- agg_stddev_single_row: sample deviation of one row is NULL
SELECT stddev_samp(household), var_samp(household) FROM {people} WHERE id = 1;

-- agg_sum_float: sum and avg of doubles
SELECT sum(score), avg(score), min(score), max(score) FROM {people} WHERE id <> 1003;

-- agg_count_distinct_float: count distinct doubles, -0 and 0 the same, NaN one value
SELECT count(DISTINCT f) FROM {floats};

-- agg_group_float: groups of doubles, -0 with 0 and NaN with NaN
SELECT count(*) FROM (SELECT f FROM {floats} GROUP BY f) g;

-- agg_coalesce_empty_sum: coalesce over the NULL sum of no rows
SELECT coalesce(sum(household), -1), coalesce(max(name), 'none') FROM {people} WHERE id < 0;

-- agg_count_distinct_grouped: count distinct per group
SELECT sector, count(DISTINCT owner_id), count(owner_id) FROM {firms} GROUP BY sector;

-- agg_nested_in_expression: arithmetic on aggregates
SELECT district, max(household) - min(household), sum(income) / count(*) FROM {people} WHERE income IS NOT NULL AND id < 1000 GROUP BY district;

-- agg_min_max_bigint: min and max of bigint extremes
SELECT min(big), max(big), min(tiny), max(tiny) FROM {numbers};

-- agg_min_max_decimal38: min and max of decimal(38,10)
SELECT min(dec), max(dec) FROM {numbers};

-- == DISTINCT and ORDER BY ==

-- distinct_nulls: DISTINCT keeps one NULL
SELECT DISTINCT district FROM {people};

-- distinct_two_columns: DISTINCT over two nullable columns
SELECT DISTINCT district, active FROM {people};

-- distinct_trailing_space: 'West' and 'West ' are distinct
SELECT DISTINCT district FROM {people} WHERE district LIKE '%West%';

-- distinct_floats: DISTINCT over doubles, -0 with 0
SELECT count(*) FROM (SELECT DISTINCT f FROM {floats}) d;

-- order_default_nulls_ascending: NULLs sort last ascending by default
SELECT id, household FROM {people} WHERE id > 280 ORDER BY household, id;

-- order_default_nulls_descending: NULLs sort first descending by default
SELECT id, household FROM {people} WHERE id > 280 ORDER BY household DESC, id;

-- order_nulls_first: explicit NULLS FIRST ascending
SELECT id, household FROM {people} WHERE id > 280 ORDER BY household NULLS FIRST, id;

-- order_nulls_last_descending: explicit NULLS LAST descending
SELECT id, household FROM {people} WHERE id > 280 ORDER BY household DESC NULLS LAST, id;

-- order_text_bytes: text in byte order (C collation), NULL last
SELECT id, name FROM {people} WHERE id > 1000 ORDER BY name, id;

-- order_text_descending: text descending, NULL first
SELECT id, name FROM {people} WHERE id > 1000 ORDER BY name DESC, id;

-- order_dates: dates ascending around 1900, 1970 and 2000, NULL last
SELECT id, birth FROM {people} WHERE id > 1000 ORDER BY birth, id;

-- order_decimals_descending: decimals descending with NULLs first
SELECT id, income FROM {people} WHERE id > 1000 ORDER BY income DESC, id;

-- order_booleans: false before true, NULL last
SELECT id, active FROM {people} WHERE id > 1000 ORDER BY active, id;

-- order_by_expression: ordering by an expression
SELECT id FROM {people} WHERE id > 1004 ORDER BY household * -1, id;

-- order_by_alias: ordering by an output alias
SELECT id, household * 2 AS doubled FROM {people} WHERE id > 1004 ORDER BY doubled DESC, id;

-- order_by_position: ordering by output positions
SELECT district, id FROM {people} WHERE id > 1000 ORDER BY 1, 2;

-- order_limit_offset: LIMIT and OFFSET after ordering
SELECT id, income FROM {people} ORDER BY income DESC NULLS LAST, id LIMIT 5 OFFSET 3;

-- order_limit_nulls_descending: the first rows descending are the NULLs
SELECT id, income FROM {people} ORDER BY income DESC, id LIMIT 5;

-- order_limit_ascending: the first rows ascending
SELECT id, income FROM {people} ORDER BY income, id LIMIT 5;

-- limit_zero: LIMIT 0 gives no rows
SELECT id FROM {people} ORDER BY id LIMIT 0;

-- offset_beyond_end: OFFSET past the last row gives no rows
SELECT id FROM {people} ORDER BY id OFFSET 10000;

-- offset_only: OFFSET without LIMIT
SELECT id FROM {people} ORDER BY id OFFSET 310;

-- order_by_case: ordering by a CASE
SELECT id FROM {people} WHERE id > 1000 ORDER BY CASE WHEN district IS NULL THEN 0 ELSE 1 END, district, id;

-- order_mixed_directions: one key ascending, one descending
SELECT district, id FROM {people} WHERE id <= 40 ORDER BY district DESC, id ASC;

-- order_floats: doubles ordered: -Infinity first, -0 equal to 0, NaN above Infinity, NULL last
SELECT id FROM {floats} ORDER BY f, id;

-- order_floats_descending: doubles descending: NULL first, then NaN
SELECT id FROM {floats} ORDER BY f DESC, id;

-- order_subquery_limit: ORDER BY and LIMIT inside a derived table
SELECT count(*), sum(id) FROM (SELECT id FROM {people} ORDER BY birth, id LIMIT 10) t;

-- order_nulls_first_text: NULLS FIRST on text
SELECT id FROM {people} WHERE id > 1000 ORDER BY district NULLS FIRST, id;

-- == Integer arithmetic, division, modulo and overflow ==

-- int_division_negative: integer division truncates toward zero
SELECT 7 / 2, -7 / 2, 7 / -2, -7 / -2;

-- int_modulo_negative: the remainder takes the dividend's sign
SELECT 7 % 3, -7 % 3, 7 % -3, -7 % -3;

-- int_division_columns: division and modulo of columns with negatives
SELECT id, big / small, big % small, small / tiny, small % tiny FROM {numbers} WHERE small <> 0 AND tiny <> 0;

-- int_division_by_literal: column divided by a negative literal
SELECT id, household / -2, household % -4 FROM {people} WHERE id <= 20 OR id > 1000;

-- int_division_by_zero_literal: integer division by zero is an error
SELECT household / 0 FROM {people};

-- int_division_by_zero_column: division by a zero in the data is an error
SELECT id, big / small FROM {numbers};

-- int_modulo_by_zero: modulo by zero is an error
SELECT id, big % small FROM {numbers};

-- int_division_min_by_minus_one: the smallest bigint divided by -1 overflows
SELECT big / -1 FROM {numbers} WHERE id = 2;

-- int_modulo_min_by_minus_one: the smallest bigint modulo -1 is 0
SELECT big % -1 FROM {numbers} WHERE id = 2;

-- bigint_add_overflow: bigint + 1 past its maximum is an error
SELECT big + 1 FROM {numbers} WHERE id = 1;

-- bigint_subtract_overflow: bigint - 1 past its minimum is an error
SELECT big - 1 FROM {numbers} WHERE id = 2;

-- bigint_multiply_overflow: bigint * 2 past its range is an error
SELECT big * 2 FROM {numbers} WHERE id = 7;

-- bigint_negate_overflow: negating the smallest bigint is an error
SELECT -big FROM {numbers} WHERE id = 2;

-- bigint_abs_overflow: abs of the smallest bigint is an error
SELECT abs(big) FROM {numbers} WHERE id = 2;

-- bigint_add_in_range: bigint arithmetic that stays in range
SELECT id, big + 1, big - 1 FROM {numbers} WHERE id = 7 OR id = 3;

-- int_add_overflow: int + int past int's range is an error in PostgreSQL
SELECT small + 1 FROM {numbers} WHERE id = 1;

-- int_multiply_overflow: int * int past int's range
SELECT small * small FROM {numbers} WHERE id = 1;

-- smallint_add_overflow: smallint + smallint past smallint's range
SELECT tiny + tiny FROM {numbers} WHERE id = 1;

-- int_literal_overflow: constant bigint overflow
SELECT 9223372036854775807 + 1;

-- int_literal_beyond_bigint: a literal beyond bigint is a numeric
SELECT 9223372036854775808;

-- int_precedence_aliased: operator precedence, each result named
SELECT 2 + 3 * 4 AS a, (2 + 3) * 4 AS b, 2 - 3 - 4 AS c, 100 / 10 / 5 AS d, 2 * 7 % 4 AS e;

-- int_mixed_widths: int times bigint gives bigint
SELECT id, small * big FROM {numbers} WHERE id IN (3, 4, 5, 8, 9);

-- int_unary_minus: unary minus on columns
SELECT id, -household, -income, -score FROM {people} WHERE id > 1000 AND id <> 1004;

-- int_negate_overflow: negating the smallest int is an error
SELECT -household FROM {people} WHERE id = 1004;

-- int_precedence: operator precedence
SELECT 2 + 3 * 4, (2 + 3) * 4, 2 - 3 - 4, 100 / 10 / 5, 2 * 7 % 4;

-- == Decimal arithmetic, rounding, casts ==

-- decimal_add_scales: adding decimals of different scales
SELECT id, income + 0.005, income - 1 FROM {people} WHERE id > 1000;

-- decimal_multiply: decimal times integer
SELECT id, amount * 3, amount * small FROM {numbers} WHERE id <> 1 AND id <> 2;

-- decimal_divide_integer: decimal divided by an integer
SELECT id, income / 3 FROM {people} WHERE id > 1002;

-- decimal_divide_decimal: decimal divided by decimal
SELECT id, amount / dec FROM {numbers} WHERE dec <> 0 AND id > 2;

-- decimal_divide_by_zero: decimal division by zero is an error
SELECT income / 0 FROM {people} WHERE id = 1005;

-- decimal_modulo: decimal remainder with negatives
SELECT id, amount % 2, dec % 1 FROM {numbers} WHERE id > 2;

-- decimal_literal_equality: 0.1 + 0.2 = 0.3 holds for exact decimals
SELECT 0.1 + 0.2 = 0.3, 1.1 * 3 = 3.3;

-- decimal_literal_sum: decimal literals add exactly
SELECT 0.1 + 0.2, 1.005 * 1000, 1 / 3.0;

-- decimal_compare_column: comparing a decimal column with decimal literals
SELECT id FROM {people} WHERE income = 0.01 OR income = -0.5 OR income > 9999999999.98;

-- decimal_extreme_arithmetic: the largest decimal(12,2) values times 10
SELECT id, amount * 10 FROM {numbers} WHERE id IN (1, 2);

-- decimal38_addition_overflow: decimal(38,10) + 1 past 38 digits
SELECT dec + 1 FROM {numbers} WHERE id = 1;

-- round_decimal_literals: round of decimal literals, half away from zero
SELECT round(2.5), round(-2.5), round(0.125, 2), round(-0.125, 2), round(1234.5678, -2);

-- round_decimal_column: round of decimal columns
SELECT id, round(amount, 1), round(amount), round(dec, 2) FROM {numbers} WHERE id > 2;

-- round_decimal_negative_digits: round to tens and hundreds
SELECT id, round(income, -2), round(income, -1) FROM {people} WHERE id > 1002;

-- round_float_column: round of doubles, PostgreSQL rounds halves to even
SELECT id, round(f) FROM {numbers} WHERE id > 2;

-- trunc_decimal_column: trunc toward zero of decimals
SELECT id, trunc(amount), trunc(amount, 1), trunc(dec, 3) FROM {numbers} WHERE id > 2;

-- trunc_float_column: trunc of doubles
SELECT id, trunc(score) FROM {people} WHERE id > 1000;

-- ceil_floor_decimal: ceil and floor of negative and positive decimals
SELECT id, ceil(amount), floor(amount) FROM {numbers} WHERE id > 2;

-- ceil_floor_float: ceil and floor of doubles
SELECT id, ceil(f), floor(f) FROM {numbers} WHERE id > 2 AND id <> 7;

-- abs_values: abs of int, decimal and double
SELECT id, abs(household), abs(income), abs(score) FROM {people} WHERE id > 1000 AND id <> 1004;

-- sign_function: sign of decimals and doubles
SELECT id, sign(income), sign(score) FROM {people} WHERE id > 1000;

-- power_sqrt: power and square root
SELECT power(2, 10), sqrt(16), power(2.0, -1), cbrt(27.0);

-- sqrt_negative: square root of a negative number is an error
SELECT sqrt(-1.0);

-- ln_zero: logarithm of zero is an error
SELECT ln(0.0);

-- log_values: natural and base-10 logarithms
SELECT ln(10.0), log(100.0), log10(1000.0), exp(1.0);

-- mod_function: mod() with negatives
SELECT mod(-7, 3), mod(7, -3), mod(household, 4) FROM {people} WHERE id = 1010;

-- cast_float_literal_to_int: 2.5 cast to int rounds (PostgreSQL's literal is numeric)
SELECT CAST(2.5 AS int), CAST(-2.5 AS int), CAST(3.7 AS int);

-- cast_decimal_to_int: casting decimals to int rounds half away from zero
SELECT id, CAST(amount AS int) FROM {numbers} WHERE id > 2;

-- cast_scale_down_equal: a decimal cast to a smaller scale rounds before it is compared
SELECT id FROM {numbers} WHERE CAST(amount AS numeric(12,0)) = 3 OR CAST(amount AS numeric(12,0)) = 1235 ORDER BY id;

-- cast_scale_down_less: a rounded cast compared with less-than keeps what rounds up out
SELECT id FROM {numbers} WHERE CAST(amount AS numeric(12,0)) < 3 ORDER BY id;

-- cast_scale_down_in_list: a rounded cast in an IN list
SELECT id FROM {numbers} WHERE CAST(dec AS numeric(38,1)) IN (0.1, 123456789.0, -7.5) ORDER BY id;

-- cast_decimal_to_int_compared: a decimal cast to bigint rounds before it is compared
SELECT id FROM {numbers} WHERE CAST(amount AS bigint) = 3 OR CAST(amount AS bigint) = -8 ORDER BY id;

-- cast_double_to_bigint: casting doubles to bigint rounds
SELECT id, CAST(f AS bigint) FROM {numbers} WHERE id > 2;

-- cast_double_overflow: casting a huge double to bigint is an error
SELECT CAST(f AS bigint) FROM {numbers} WHERE id = 1;

-- cast_bigint_to_int_overflow: narrowing a bigint out of range is an error
SELECT CAST(big AS int) FROM {numbers} WHERE id = 1;

-- cast_int_to_smallint_overflow: narrowing an int out of range is an error
SELECT CAST(small AS smallint) FROM {numbers} WHERE id = 11;

-- cast_text_to_int: text to integer
SELECT CAST('42' AS int), CAST('-7' AS bigint), CAST('+3' AS int);

-- cast_text_with_spaces_to_int: text with surrounding spaces to integer
SELECT CAST(' 42 ' AS int);

-- cast_bad_text_to_int: text that is no number is an error
SELECT CAST('4x2' AS int);

-- cast_decimal_text_to_int: '1.5' is not an integer
SELECT CAST('1.5' AS int);

-- cast_text_to_decimal_rounds: text to decimal(10,2) rounds
SELECT CAST('1.005' AS decimal(10,2)), CAST('-1.005' AS decimal(10,2)), CAST('2.344' AS decimal(10,2));

-- cast_decimal_scale_down: narrowing a decimal's scale rounds half away from zero
SELECT id, CAST(dec AS decimal(20,2)) FROM {numbers} WHERE abs(dec) < 1000000000;

-- cast_decimal_overflow: a decimal too wide for its new precision is an error
SELECT CAST(amount AS decimal(5,2)) FROM {numbers} WHERE id = 1;

-- cast_int_to_text: integers to text
SELECT p.id, CAST(household AS text), CAST(big AS text) FROM {people} p LEFT JOIN {numbers} n ON n.id = p.household WHERE p.id > 1000;

-- cast_decimal_to_text: decimals to text keep their scale
SELECT id, CAST(income AS text) FROM {people} WHERE id > 1000;

-- cast_double_to_text: doubles to text
SELECT id, CAST(score AS text) FROM {people} WHERE id > 1000;

-- cast_bool_to_text: booleans to text
SELECT id, CAST(active AS text) FROM {people} WHERE id > 1000;

-- cast_date_to_text: dates to text
SELECT id, CAST(birth AS text) FROM {people} WHERE id > 1000;

-- cast_text_to_date: text to a leap day
SELECT CAST('2024-02-29' AS date), CAST('1900-03-01' AS date);

-- cast_text_to_bad_date: February 29 of a common year is an error
SELECT CAST('2023-02-29' AS date);

-- cast_text_to_bool: text to boolean
SELECT CAST('true' AS boolean), CAST('f' AS boolean), CAST('yes' AS boolean);

-- cast_int_to_bool: integer to boolean
SELECT CAST(0 AS boolean), CAST(5 AS boolean);

-- cast_text_to_double: text to double, with special values
SELECT CAST('1e3' AS double precision), CAST('-0' AS double precision) = 0;

-- cast_int_to_decimal: integer to decimal
SELECT id, CAST(small AS decimal(20,3)) FROM {numbers} WHERE id > 2;

-- == Strings ==

-- str_length: length in characters and bytes of non-ASCII text
SELECT id, length(name), char_length(name), octet_length(name) FROM {people} WHERE id > 1000;

-- str_upper_lower: upper and lower of non-ASCII text
SELECT id, upper(name), lower(name) FROM {people} WHERE id > 1000;

-- str_lower_final_sigma: lower of Greek capitals
SELECT lower('ΣΑΣ ΟΔΟΣ');

-- str_upper_sharp_s: upper of the German sharp s
SELECT upper('straße');

-- str_initcap: initcap of words
SELECT id, initcap(name) FROM {people} WHERE id > 1000 AND id <> 1011;

-- str_substring: substring by start and length
SELECT id, substring(name, 2, 3), substring(name FROM 3) FROM {people} WHERE id > 1000;

-- str_substring_zero_start: substring from 0 or a negative start counts the missing characters
SELECT substring('abcdef', 0, 3), substring('abcdef', -1, 4), substring('张伟明', 2, 5);

-- str_substring_negative_length: a negative substring length is an error
SELECT substring('abcdef', 2, -1);

-- str_left_right: left and right, with negative counts
SELECT id, left(name, 2), right(name, 2), left(name, -1), right(name, -1) FROM {people} WHERE id > 1000;

-- str_position: position and strpos of non-ASCII text
SELECT id, position('e' IN name), strpos(name, 'ñ'), strpos(name, '') FROM {people} WHERE id > 1000;

-- str_trim: trim, ltrim and rtrim of spaces
SELECT id, '[' || trim(name) || ']', '[' || ltrim(name) || ']', '[' || rtrim(name) || ']' FROM {people} WHERE id > 1000;

-- str_trim_characters: trim of given characters
SELECT id, btrim(name, ' _%'), trim(BOTH 'x' FROM name), ltrim(name, 'Z') FROM {people} WHERE id > 1000;

-- str_lpad_rpad: lpad and rpad, padding and truncating
SELECT id, lpad(name, 8, '*'), rpad(name, 8, '·'), lpad(name, 3) FROM {people} WHERE id > 1000;

-- str_lpad_empty_fill: lpad with an empty fill leaves the string
SELECT lpad('ab', 5, ''), rpad('ab', 1, 'x');

-- str_replace: replace, including with an empty pattern
SELECT id, replace(name, 'e', 'E'), replace(name, ' ', ''), replace(name, '', 'x') FROM {people} WHERE id > 1000;

-- str_concat_function: concat skips NULLs
SELECT id, concat(name, NULL, '-', district) FROM {people} WHERE id > 1000;

-- str_concat_ws: concat_ws skips NULLs
SELECT id, concat_ws('/', name, NULL, district, household) FROM {people} WHERE id > 1000;

-- str_pipe_null: || with a NULL gives NULL
SELECT id, name || ' @ ' || district FROM {people} WHERE id > 1000;

-- str_pipe_number: || joins text and a number
SELECT id, 'n' || id, name || household FROM {people} WHERE id > 1000;

-- str_repeat: repeat of non-ASCII text
SELECT id, repeat(name, 2), repeat(name, 0) FROM {people} WHERE id > 1000;

-- str_reverse: reverse of characters, not bytes
SELECT id, reverse(name) FROM {people} WHERE id > 1000;

-- str_split_part: split_part by a space
SELECT id, split_part(name, ' ', 1), split_part(name, ' ', 2), split_part(name, ' ', 5) FROM {people} WHERE id > 1000;

-- str_starts_with: starts_with
SELECT id FROM {people} WHERE starts_with(name, 'Res') AND id < 30;

-- str_ascii_chr: ascii and chr of non-ASCII characters
SELECT id, ascii(name) FROM {people} WHERE id > 1000;

-- str_chr: chr of code points
SELECT chr(65), chr(233), chr(24352);

-- str_md5: md5 of text
SELECT id, md5(name) FROM {people} WHERE id > 1000;

-- str_translate: translate characters
SELECT id, translate(name, 'eé', 'EÉ') FROM {people} WHERE id > 1000;

-- str_regexp_replace_first: regexp_replace replaces the first match only
SELECT id, regexp_replace(name, '[0-9]', '#') FROM {people} WHERE id BETWEEN 95 AND 105;

-- str_regexp_replace_global: regexp_replace with the g flag
SELECT id, regexp_replace(name, '[0-9]', '#', 'g') FROM {people} WHERE id BETWEEN 95 AND 105;

-- str_regex_match_operator: the ~ and ~* operators
SELECT id FROM {people} WHERE name ~ '^[A-Z][a-z]+ 1[0-9]$' OR name ~* '^josé';

-- str_compare_less: string comparison in byte order
SELECT count(*) FROM {people} WHERE name < 'Resident 2';

-- str_compare_case: upper case sorts before lower case in byte order
SELECT 'B' < 'a', 'é' > 'z', '' < ' ';

-- str_equal_trailing_space: trailing spaces make strings differ
SELECT id FROM {people} WHERE district = 'West';

-- str_empty_vs_null: empty string is not NULL
SELECT count(*) FILTER (WHERE name = ''), count(*) FILTER (WHERE name IS NULL), count(*) FILTER (WHERE district = '') FROM {people};

-- str_length_of_empty_and_null: length of '' and NULL
SELECT length(''), length(NULL), length(' ');

-- str_quote_backslash: a quote and a backslash in literals
SELECT id FROM {people} WHERE name = 'O''Brien' OR name = 'back\slash' OR name = 'a''b"c';

-- str_to_hex: to_hex of integers
SELECT to_hex(255), to_hex(household) FROM {people} WHERE id = 1006;

-- str_lower_in_filter: lower() in a filter on non-ASCII text
SELECT id FROM {people} WHERE lower(name) = 'josé ñúñez' OR lower(name) = 'ångström';

-- str_character_length_combining: a combining accent counts as a character
SELECT length('é'), length('😀👍🏽');

-- str_overlay: overlay of a substring
SELECT overlay('abcdef' PLACING 'XY' FROM 2 FOR 3);

-- == LIKE and ILIKE ==

-- like_prefix: LIKE with a prefix pattern
SELECT id FROM {people} WHERE name LIKE 'Res%' AND id < 40;

-- like_underscore: _ matches one character
SELECT id FROM {people} WHERE name LIKE 'Resident 1_';

-- like_escaped_percent: \% matches a percent sign (backslash is the default escape)
SELECT id FROM {people} WHERE name LIKE '%\%%';

-- like_escaped_underscore: \_ matches an underscore
SELECT id FROM {people} WHERE name LIKE '%\_%';

-- like_escape_clause: ESCAPE names another escape character
SELECT id FROM {people} WHERE name LIKE '%!%%' ESCAPE '!';

-- like_escape_hash: ESCAPE '#' before an underscore
SELECT id FROM {people} WHERE name LIKE '%#_%' ESCAPE '#';

-- like_backslash_in_data: a doubled backslash matches one
SELECT id FROM {people} WHERE name LIKE 'back\\slash';

-- like_null: LIKE and NOT LIKE are NULL on NULL
SELECT count(*) FILTER (WHERE name LIKE '%'), count(*) FILTER (WHERE name NOT LIKE 'R%'), count(*) FROM {people};

-- like_trailing_space: LIKE does not ignore trailing spaces
SELECT id FROM {people} WHERE district LIKE 'West';

-- like_empty_pattern: '' matches only the empty string
SELECT id FROM {people} WHERE name LIKE '';

-- like_chinese: LIKE with non-ASCII text
SELECT id FROM {people} WHERE name LIKE '%朝阳%' OR district LIKE '_西区';

-- like_emoji_underscore: _ matches one emoji
SELECT id FROM {people} WHERE name LIKE 'Zoë _';

-- ilike_ascii: ILIKE ignores ASCII case
SELECT id FROM {people} WHERE name ILIKE 'RESIDENT 1_';

-- ilike_non_ascii: ILIKE ignores non-ASCII case
SELECT id FROM {people} WHERE name ILIKE 'josé%' OR name ILIKE 'ångström';

-- not_ilike: NOT ILIKE leaves out NULLs
SELECT count(*) FROM {people} WHERE name NOT ILIKE 'resident%';

-- like_column_pattern: a pattern from a column
SELECT p.id, l.role FROM {people} p JOIN {links} l ON p.id = l.person_id WHERE p.name LIKE '%' || l.role || '%';

-- == CASE, COALESCE, NULLIF ==

-- case_simple_null: a simple CASE never matches NULL
SELECT id, CASE household WHEN NULL THEN 'null' WHEN 1 THEN 'one' ELSE 'other' END FROM {people} WHERE id > 1000;

-- case_searched: searched CASE with an IS NULL branch
SELECT id, CASE WHEN income > 1000 THEN 'high' WHEN income IS NULL THEN 'unknown' ELSE 'low' END FROM {people} WHERE id > 1000;

-- case_without_else: a CASE without ELSE gives NULL
SELECT id, CASE WHEN active THEN 'yes' END FROM {people} WHERE id > 1000;

-- case_mixed_types: CASE branches of integer and decimal
SELECT id, CASE WHEN active THEN 1 ELSE 1.5 END FROM {people} WHERE id > 1000;

-- case_guards_division: CASE does not evaluate the branch it does not take
SELECT id, CASE WHEN household = 0 THEN NULL ELSE 10 / household END FROM {people} WHERE id > 1000;

-- case_guards_division_by_small: CASE guarding a division by a zero column
SELECT id, CASE WHEN small = 0 THEN -1 ELSE big / small END FROM {numbers};

-- case_in_where: CASE in a filter
SELECT id FROM {people} WHERE CASE WHEN district IS NULL THEN household > 2 ELSE district = 'North' END;

-- case_in_aggregate: CASE inside sum
SELECT sum(CASE WHEN active THEN 1 ELSE 0 END), sum(CASE WHEN active IS NULL THEN 1 END) FROM {people};

-- coalesce_text: first non-NULL text
SELECT id, coalesce(district, name, 'none') FROM {people} WHERE id > 1000;

-- coalesce_numbers: coalesce of an int and a decimal
SELECT id, coalesce(household, income), coalesce(score, 0) FROM {people} WHERE id > 1000;

-- coalesce_all_null: coalesce of NULLs
SELECT coalesce(NULL, NULL), coalesce(NULL, 1, 2);

-- nullif_values: nullif of int and text
SELECT id, nullif(household, 0), nullif(name, '') FROM {people} WHERE id > 1000;

-- nullif_guards_division: dividing by nullif(x, 0)
SELECT id, 100 / nullif(household, 0) FROM {people} WHERE id > 1000;

-- greatest_least: greatest and least ignore NULLs
SELECT id, greatest(household, 3), least(income, 0), greatest(name, district) FROM {people} WHERE id > 1000;

-- greatest_all_null: greatest of only NULLs
SELECT greatest(household, NULL), least(NULL, household) FROM {people} WHERE id = 1002;

-- is_distinct_from: IS DISTINCT FROM treats NULLs as values
SELECT id, household IS DISTINCT FROM 1, household IS NOT DISTINCT FROM NULL FROM {people} WHERE id > 1000;

-- between_with_nulls: BETWEEN on NULLs and reversed bounds
SELECT id, household BETWEEN 1 AND 3, household BETWEEN 3 AND 1, household NOT BETWEEN 1 AND 3 FROM {people} WHERE id > 1000;

-- == Booleans ==

-- bool_three_valued: AND, OR and NOT with NULLs
SELECT id, active AND household > 2, active OR household > 2, NOT active FROM {people} WHERE id > 1000;

-- bool_is_predicates: IS TRUE, IS NOT FALSE, IS UNKNOWN
SELECT id, active IS TRUE, active IS NOT FALSE, active IS UNKNOWN FROM {people} WHERE id > 1000;

-- bool_filter_null: a NULL condition drops the row
SELECT count(*) FILTER (WHERE active), count(*) FILTER (WHERE NOT active), count(*) FILTER (WHERE active IS NULL) FROM {people};

-- bool_compare: comparing booleans
SELECT id FROM {people} WHERE active = false AND id > 1000;

-- bool_literals: boolean literals and NULL logic without a table
SELECT true AND NULL, false AND NULL, true OR NULL, false OR NULL, NOT CAST(NULL AS boolean);

-- == Dates ==

-- date_plus_integer: date + integer adds days
SELECT id, birth + 1, birth + 366 FROM {people} WHERE id > 1000;

-- date_minus_integer: date - integer subtracts days
SELECT id, birth - 30 FROM {people} WHERE id > 1000;

-- date_minus_date: date - date is a number of days
SELECT id, birth - DATE '1970-01-01' FROM {people} WHERE id > 1000;

-- date_minus_date_columns: difference of two date columns
SELECT f.id, f.registered - p.birth FROM {firms} f JOIN {people} p ON p.id = f.owner_id WHERE f.id < 30;

-- date_plus_interval: date + interval, cast back to a date
SELECT id, CAST(birth + INTERVAL '1 month' AS date), CAST(birth + INTERVAL '1 year' AS date) FROM {people} WHERE id > 1000;

-- date_interval_month_end: adding a month to January 31
SELECT CAST(DATE '2000-01-31' + INTERVAL '1 month' AS date), CAST(DATE '2001-01-31' + INTERVAL '1 month' AS date);

-- date_minus_interval: date - interval of days
SELECT id, CAST(birth - INTERVAL '10 days' AS date) FROM {people} WHERE id > 1000;

-- date_extract_parts: extract year, month and day
SELECT id, extract(year FROM birth), extract(month FROM birth), extract(day FROM birth) FROM {people} WHERE id > 1000;

-- date_extract_dow_doy: day of week and of year
SELECT id, extract(dow FROM birth), extract(doy FROM birth), extract(quarter FROM birth) FROM {people} WHERE id > 1000;

-- date_extract_week: ISO week and ISO year
SELECT id, extract(week FROM birth), extract(isoyear FROM birth) FROM {people} WHERE id > 1000;

-- date_extract_epoch: seconds since 1970 of a date
SELECT id, extract(epoch FROM birth) FROM {people} WHERE id > 1000;

-- date_part_function: date_part gives a double
SELECT id, date_part('year', birth), date_part('month', birth) FROM {people} WHERE id > 1000;

-- date_trunc_month: truncating a date to its month
SELECT id, CAST(date_trunc('month', birth) AS date) FROM {people} WHERE id > 1000;

-- date_trunc_week: truncating a date to its Monday
SELECT id, CAST(date_trunc('week', birth) AS date) FROM {people} WHERE id > 1000;

-- date_trunc_year_quarter: truncating a date to its year and quarter
SELECT id, CAST(date_trunc('year', birth) AS date), CAST(date_trunc('quarter', birth) AS date) FROM {people} WHERE id > 1000;

-- date_trunc_month_after_1677: date_trunc of dates inside the nanosecond range
SELECT id, CAST(date_trunc('month', birth) AS date), CAST(date_trunc('week', birth) AS date) FROM {people} WHERE id > 1000 AND birth > '1700-01-01';

-- date_cast_to_timestamp_after_1677: dates inside the nanosecond range as timestamps
SELECT id, CAST(birth AS timestamp) FROM {people} WHERE id > 1000 AND birth > '1700-01-01';

-- date_before_1677_as_timestamp: a date of 1600 as a timestamp
SELECT CAST(birth AS timestamp) FROM {people} WHERE id = 1013;

-- date_compare_string: comparing a date with a string
SELECT id FROM {people} WHERE birth < '1970-01-01' AND id > 1000;

-- date_between: BETWEEN on dates around 2000
SELECT id FROM {people} WHERE birth BETWEEN '1999-12-31' AND '2000-03-01';

-- date_literal_leap: a leap day literal and its neighbours
SELECT DATE '2024-02-29', DATE '2024-02-29' + 1, DATE '2000-03-01' - 1, DATE '1900-03-01' - 1;

-- date_literal_invalid: February 29 1900 does not exist
SELECT DATE '1900-02-29';

-- date_make_date: make_date of a leap day
SELECT make_date(2024, 2, 29), make_date(1970, 1, 1);

-- date_make_date_invalid: make_date of an invalid day is an error
SELECT make_date(2023, 2, 29);

-- date_group_by_year: grouping by the year of a date
SELECT extract(year FROM registered), count(*) FROM {firms} WHERE registered < '1995-01-01' GROUP BY extract(year FROM registered);

-- date_cast_to_timestamp: a date as a timestamp at midnight
SELECT id, CAST(birth AS timestamp) FROM {people} WHERE id > 1000;

-- date_to_char: formatting a date with to_char
SELECT id, to_char(birth, 'YYYY-MM-DD') FROM {people} WHERE id > 1000;

-- date_order_and_limit: the earliest dates
SELECT id, birth FROM {people} ORDER BY birth, id LIMIT 6;

-- date_min_max_grouped: earliest and latest date per district
SELECT district, min(birth), max(birth) FROM {people} GROUP BY district;

-- date_future_filter: dates after 2030
SELECT id FROM {people} WHERE birth > DATE '2030-01-01';

-- date_count_by_month: grouping by month of a date
SELECT extract(month FROM birth), count(*) FROM {people} GROUP BY extract(month FROM birth);

-- timestamp_literal_arithmetic: a timestamp plus an interval
SELECT TIMESTAMP '2000-02-28 23:30:00' + INTERVAL '1 hour', TIMESTAMP '1969-12-31 23:59:59' + INTERVAL '1 second';

-- timestamp_trunc: date_trunc of a timestamp literal
SELECT date_trunc('hour', TIMESTAMP '2024-02-29 13:45:12'), date_trunc('day', TIMESTAMP '2024-02-29 13:45:12');

-- == Set operations ==

-- union_distinct_nulls: UNION keeps one NULL
SELECT district FROM {people} UNION SELECT sector FROM {firms};

-- union_all_counts: UNION ALL keeps duplicates and NULLs
SELECT count(*), count(v) FROM (SELECT district AS v FROM {people} UNION ALL SELECT sector FROM {firms}) u;

-- intersect_nulls: INTERSECT treats NULLs as equal
SELECT district FROM {people} INTERSECT SELECT sector FROM {firms};

-- intersect_empty_strings: INTERSECT finds the empty string on both sides
SELECT name FROM {people} INTERSECT SELECT sector FROM {firms};

-- except_nulls: EXCEPT removes NULL when the other side has one
SELECT household FROM {people} EXCEPT SELECT employees FROM {firms};

-- except_keeps_null: EXCEPT keeps NULL when the other side has none
SELECT household FROM {people} EXCEPT SELECT small FROM {numbers} WHERE small IS NOT NULL;

-- intersect_all: INTERSECT ALL keeps the smaller count of duplicates
SELECT household FROM {people} WHERE id < 50 INTERSECT ALL SELECT household FROM {people} WHERE id >= 50 AND id < 70;

-- except_all: EXCEPT ALL subtracts counts
SELECT household FROM {people} WHERE id < 50 EXCEPT ALL SELECT household FROM {people} WHERE id >= 50 AND id < 90;

-- intersect_all_nulls_and_pairs: INTERSECT ALL of two columns, NULLs counted as equal
SELECT household, district FROM {people} WHERE id < 120 INTERSECT ALL SELECT household, district FROM {people} WHERE id >= 100;

-- except_all_nulls_and_pairs: EXCEPT ALL of two columns, NULLs counted as equal
SELECT household, active FROM {people} WHERE id < 150 EXCEPT ALL SELECT household, active FROM {people} WHERE id >= 100;

-- except_all_same_table: EXCEPT ALL of a table with itself filtered, ordered
SELECT household FROM {people} EXCEPT ALL SELECT household FROM {people} WHERE household > 2 ORDER BY household;

-- intersect_all_in_union: INTERSECT ALL inside a UNION ALL, with a literal column
SELECT 1 AS n UNION ALL (SELECT small FROM {numbers} INTERSECT ALL SELECT household FROM {people});

-- except_all_in_subquery: EXCEPT ALL as a subquery counted
SELECT count(*) FROM (SELECT district FROM {people} EXCEPT ALL SELECT district FROM {people} WHERE id % 2 = 0) AS d;

-- union_mixed_types: UNION of an int and a decimal column
SELECT household FROM {people} WHERE id > 1000 UNION SELECT income FROM {people} WHERE id > 1005;

-- union_order_limit: UNION ordered and limited
SELECT id FROM {people} WHERE id < 10 UNION SELECT id FROM {firms} WHERE id > 500 ORDER BY 1 DESC LIMIT 4;

-- union_floats_zero: 0 and -0 are one value in a UNION
SELECT f FROM {floats} WHERE id = 4 UNION SELECT f FROM {floats} WHERE id = 5;

-- union_floats_count: distinct doubles of a UNION, NaN once
SELECT count(*) FROM (SELECT f FROM {floats} UNION SELECT f FROM {floats}) u;

-- union_all_nested: nested UNION ALL and UNION
SELECT x FROM (SELECT 1 AS x UNION ALL SELECT 1 UNION ALL SELECT NULL) a UNION SELECT NULL;

-- except_strings_trailing_space: EXCEPT compares trailing spaces
SELECT district FROM {people} WHERE id > 1000 EXCEPT SELECT district FROM {people} WHERE id <= 300;

-- == Window functions ==

-- win_row_number: row_number per partition, NULL partition included
SELECT id, district, row_number() OVER (PARTITION BY district ORDER BY id) FROM {people} WHERE id <= 40 OR id > 1000;

-- win_rank_ties: rank with ties and NULLs, NULLs last ascending
SELECT id, household, rank() OVER (ORDER BY household) FROM {people} WHERE id > 1000;

-- win_dense_rank_desc: dense_rank descending, NULLs first
SELECT id, income, dense_rank() OVER (ORDER BY income DESC) FROM {people} WHERE id > 1000;

-- win_sum_partition: sum over a whole partition
SELECT id, district, sum(income) OVER (PARTITION BY district) FROM {people} WHERE id > 1000;

-- win_running_sum: running sum over id
SELECT id, sum(household) OVER (ORDER BY id) FROM {people} WHERE id > 1000;

-- win_running_sum_peers: a running sum includes the peers of the current row (RANGE)
SELECT id, household, sum(household) OVER (ORDER BY household) FROM {people} WHERE id > 1000;

-- win_rows_frame: a frame of the two preceding rows
SELECT id, sum(income) OVER (ORDER BY id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) FROM {people} WHERE id > 1000;

-- win_following_frame: a frame ending after the current row
SELECT id, count(*) OVER (ORDER BY id ROWS BETWEEN CURRENT ROW AND 2 FOLLOWING), max(name) OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING) FROM {people} WHERE id > 1000;

-- win_lag_lead: lag and lead with defaults
SELECT id, lag(name) OVER (ORDER BY id), lead(income, 2, 0) OVER (ORDER BY id) FROM {people} WHERE id > 1000;

-- win_first_last_value: first_value and last_value with the default frame
SELECT id, first_value(name) OVER (PARTITION BY district ORDER BY id), last_value(name) OVER (PARTITION BY district ORDER BY id) FROM {people} WHERE id > 1000;

-- win_nth_value: nth_value with a whole-partition frame
SELECT id, nth_value(id, 2) OVER (ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) FROM {people} WHERE id > 1000;

-- win_ntile: ntile of 15 rows into 4
SELECT id, ntile(4) OVER (ORDER BY id) FROM {people} WHERE id > 1000;

-- win_count_partition: count(*) and count(column) over partitions
SELECT id, count(*) OVER (PARTITION BY active), count(district) OVER () FROM {people} WHERE id > 1000;

-- win_avg_partition: avg of a decimal over a partition
SELECT id, avg(income) OVER (PARTITION BY active) FROM {people} WHERE id > 1000;

-- win_avg_frame: avg of a decimal over a moving frame, rounded
SELECT id, avg(income) OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING) FROM {people} WHERE id > 1000 OR id < 40;

-- win_avg_named: avg of a decimal over a window, used in an expression
SELECT id, income - avg(income) OVER (PARTITION BY district) AS gap FROM {people} WHERE id > 1000;

-- win_percent_rank_cume_dist: percent_rank and cume_dist
SELECT id, percent_rank() OVER (ORDER BY household), cume_dist() OVER (ORDER BY household) FROM {people} WHERE id > 1000;

-- win_top_per_group: the top row per group through a derived table
SELECT id, district FROM (SELECT id, district, row_number() OVER (PARTITION BY district ORDER BY income DESC NULLS LAST, id) AS rn FROM {people}) t WHERE rn = 1;

-- win_rank_nulls_first: rank with NULLS FIRST
SELECT id, rank() OVER (ORDER BY household NULLS FIRST) FROM {people} WHERE id > 1000;

-- win_sum_bigint_overflow: a windowed sum of bigint beyond its range
SELECT id, sum(big) OVER (ORDER BY id) FROM {numbers} WHERE id IN (1, 7);

-- win_sum_bigint_whole: a sum of bigint over the whole window
SELECT id, sum(big) OVER () FROM {numbers} WHERE id IN (1, 7, 11);

-- agg_sum_bigint_grouped: a grouped sum of bigint beyond its range
SELECT id % 2, sum(big) FROM {numbers} WHERE id IN (1, 7, 11) GROUP BY id % 2;

-- win_order_by_result: window results ordered outside
SELECT id, row_number() OVER (ORDER BY birth DESC, id) AS rn FROM {people} WHERE id > 1000 ORDER BY rn;

-- == Subqueries and CTEs ==

-- scalar_subquery: an uncorrelated scalar subquery
SELECT id, (SELECT max(household) FROM {people}) FROM {firms} WHERE id < 5;

-- scalar_correlated_count: a correlated count is 0 where nothing matches
SELECT f.id, (SELECT count(*) FROM {links} l WHERE l.firm_id = f.id) FROM {firms} f WHERE f.id > 110;

-- scalar_correlated_sum: a correlated sum is NULL where nothing matches
SELECT f.id, (SELECT sum(share) FROM {links} l WHERE l.firm_id = f.id) FROM {firms} f WHERE f.id > 110;

-- scalar_subquery_many_rows: a scalar subquery of several rows is an error
SELECT (SELECT id FROM {people} WHERE id > 1000);

-- scalar_subquery_empty: a scalar subquery of no rows is NULL
SELECT id, (SELECT id FROM {people} WHERE id < 0) FROM {firms} WHERE id = 1;

-- scalar_subquery_beside_star: a scalar subquery beside *, named as a column of it
SELECT *, (SELECT id FROM {people} WHERE id = 1001) FROM {firms} WHERE id = 1;

-- scalar_subquery_empty_in_filter: an empty scalar subquery is NULL in a condition too
SELECT id FROM {firms} WHERE id < 4 AND (SELECT p.id FROM {people} p WHERE p.id < 0) IS NULL;

-- scalar_subquery_empty_aliased: an empty scalar subquery whose column is renamed
SELECT f.id, (SELECT p.id AS pid FROM {people} p WHERE p.id < 0) AS nothing FROM {firms} f WHERE f.id = 1;

-- scalar_subquery_in_filter: compare with an average
SELECT id FROM {people} WHERE income > (SELECT avg(income) * 2 FROM {people});

-- scalar_subquery_correlated_filter: compare with a correlated maximum
SELECT p.id FROM {people} p WHERE p.household = (SELECT max(q.household) FROM {people} q WHERE q.district = p.district);

-- derived_table: a grouped derived table joined back
SELECT p.id, d.total FROM {people} p JOIN (SELECT district, count(*) AS total FROM {people} GROUP BY district) d ON p.district = d.district WHERE p.id > 1000;

-- cte_basic: a CTE used once
WITH rich AS (SELECT id, income FROM {people} WHERE income > 60000) SELECT count(*), min(income) FROM rich;

-- cte_twice: a CTE used twice
WITH h AS (SELECT household, count(*) AS n FROM {people} WHERE household < 100 GROUP BY household) SELECT a.household, a.n, b.n FROM h a JOIN h b ON a.household = b.household + 1;

-- cte_chain: CTEs that build on each other
WITH a AS (SELECT id, district FROM {people} WHERE id > 1000), b AS (SELECT district, count(*) AS n FROM a GROUP BY district) SELECT * FROM b;

-- cte_recursive: a recursive CTE counting to ten
WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 10) SELECT sum(n), count(*) FROM r;

-- cte_recursive_dates: a recursive CTE over dates
WITH RECURSIVE d(day) AS (SELECT DATE '2024-02-27' UNION ALL SELECT CAST(day + INTERVAL '1 day' AS date) FROM d WHERE day < DATE '2024-03-02') SELECT day FROM d ORDER BY day;

-- exists_in_select: EXISTS as a selected value
SELECT f.id, EXISTS (SELECT 1 FROM {links} l WHERE l.firm_id = f.id) FROM {firms} f WHERE f.id > 115;

-- in_subquery_grouped: IN over a grouped subquery with HAVING
SELECT id FROM {firms} WHERE id IN (SELECT firm_id FROM {links} GROUP BY firm_id HAVING count(*) > 4);

-- subquery_in_case: a subquery inside CASE
SELECT id, CASE WHEN id IN (SELECT person_id FROM {links}) THEN 'linked' ELSE 'alone' END FROM {people} WHERE id > 1000;

-- lateral_like_correlated_max: the latest link per person through a correlated subquery
SELECT p.id FROM {people} p WHERE (SELECT max(l.since) FROM {links} l WHERE l.person_id = p.id) > DATE '2012-06-01';

-- == Floats: -0, NaN, Infinity ==

-- float_equals_zero: -0 equals 0
SELECT id FROM {floats} WHERE f = 0;

-- float_equals_nan: NaN equals NaN in PostgreSQL
SELECT id FROM {floats} WHERE f = CAST('NaN' AS double precision);

-- float_not_equal_self: NaN <> NaN is false in PostgreSQL
SELECT id FROM {floats} WHERE f <> f;

-- float_greater_than_huge: NaN sorts above every number, Infinity above 1e308
SELECT id FROM {floats} WHERE f > 1e300;

-- float_less_than_zero: -0 is not below 0
SELECT id FROM {floats} WHERE f < 0;

-- float_below_infinity: every number but NaN is below Infinity
SELECT id FROM {floats} WHERE f < CAST('Infinity' AS double precision);

-- float_specials_rendered: NaN and the infinities as values
SELECT id, f FROM {floats} ORDER BY id;

-- float_max_min: max is NaN and min is -Infinity
SELECT max(f), min(f) FROM {floats};

-- float_max_is_nan: the rows holding the maximum are the NaNs
SELECT id FROM {floats} WHERE f = (SELECT max(f) FROM {floats});

-- float_sum_infinities: Infinity plus -Infinity is NaN
SELECT sum(f) FROM {floats} WHERE id IN (2, 3);

-- float_minus_zero_text: -0 as text
SELECT CAST(f AS text) FROM {floats} WHERE id = 5;

-- float_in_list: IN over doubles, -0 matching 0
SELECT id FROM {floats} WHERE f IN (0, 1.5, -1.5);

-- float_between: BETWEEN on doubles
SELECT id FROM {floats} WHERE f BETWEEN -2 AND 1;

-- float_precision_sum: 0.1 + 0.2 as doubles
SELECT sum(f) FROM {floats} WHERE id IN (11, 12);

-- float_equals_decimal_literal: a double compared with 0.1
SELECT id FROM {floats} WHERE f = 0.1;

-- float_division_by_zero: double division by zero is an error in PostgreSQL
SELECT f / 0 FROM {floats} WHERE id = 7;

-- float_overflow: a double product past its range is an error in PostgreSQL
SELECT f * 10 FROM {floats} WHERE id = 10;

-- float_nan_to_int: NaN cast to an integer is an error
SELECT CAST(f AS bigint) FROM {floats} WHERE id = 1;

-- float_group_counts: groups of doubles with their counts
SELECT count(*), max(id) FROM {floats} GROUP BY f;

-- float_arithmetic_columns: doubles in arithmetic
SELECT id, score * 2, score / 4, score + 0.1 FROM {people} WHERE id > 1000 AND id <> 1003 AND id <> 1004;

-- float_extreme_values: the largest and tiniest doubles
SELECT id, f FROM {numbers} WHERE id IN (1, 2, 7, 11) ORDER BY id;

-- float_order_limit: ordering doubles then limiting
SELECT id, f FROM {floats} WHERE id > 3 ORDER BY f DESC NULLS LAST, id LIMIT 4;

-- == Miscellaneous ==

-- select_without_from: constants without a table
SELECT 1, 'a', NULL, true, 2.50;

-- values_clause: a VALUES list as a table
SELECT * FROM (VALUES (1, 'a'), (2, NULL), (NULL, 'c')) AS v(x, y);

-- count_join_distinct: counting distinct pairs over a join
SELECT count(DISTINCT p.district), count(DISTINCT l.role) FROM {people} p JOIN {links} l ON l.person_id = p.id;

-- in_long_list: a long IN list
SELECT count(*) FROM {people} WHERE id IN (1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 1001, 1002, 1003);

-- is_null_many: IS NULL and IS NOT NULL across columns
SELECT count(*) FILTER (WHERE name IS NULL), count(*) FILTER (WHERE birth IS NULL), count(*) FILTER (WHERE income IS NOT NULL), count(*) FILTER (WHERE score IS NULL) FROM {people};

-- group_having_order_limit: GROUP BY, HAVING, ORDER BY and LIMIT together
SELECT firm_id, count(*) AS n FROM {links} GROUP BY firm_id HAVING count(*) >= 3 ORDER BY n DESC, firm_id NULLS FIRST LIMIT 7;

-- select_star_tricky_rows: every column of the tricky rows
SELECT * FROM {people} WHERE id > 1000 ORDER BY id;

-- select_star_firms: every column of the tricky firms
SELECT * FROM {firms} WHERE id > 500 ORDER BY id;

-- select_star_numbers: every column of the extremes
SELECT * FROM {numbers} ORDER BY id;

-- select_star_links: every column of the last links
SELECT * FROM {links} WHERE person_id > 1000 OR person_id IS NULL;

-- where_or_null: OR with a NULL operand
SELECT id FROM {people} WHERE household = 2 OR district = NULL;

-- where_not_of_null: NOT of a NULL comparison drops the row
SELECT count(*) FROM {people} WHERE NOT (household = 2);

-- arithmetic_with_null: arithmetic with NULL is NULL
SELECT id, household + NULL, income * NULL, name || NULL FROM {people} WHERE id = 1001;

-- filter_on_expression_alias_group: grouping by a CASE
SELECT CASE WHEN income < 0 THEN 'negative' WHEN income = 0 THEN 'zero' WHEN income > 0 THEN 'positive' END AS s, count(*) FROM {people} GROUP BY 1;

-- == More NULL logic around subqueries ==

-- not_in_list_null_or: NOT IN over a list with a NULL, under OR
SELECT id FROM {people} WHERE household NOT IN (1, NULL) OR id > 1012;

-- not_in_subquery_and: NOT IN with NULLs under AND stays empty
SELECT count(*) FROM {people} WHERE id NOT IN (SELECT person_id FROM {links}) AND id > 0;

-- not_of_in_subquery: NOT (x IN subquery) is NOT IN
SELECT count(*) FROM {people} WHERE NOT (id IN (SELECT person_id FROM {links}));

-- in_subquery_or: IN over a subquery under OR
SELECT count(*) FROM {people} WHERE id IN (SELECT person_id FROM {links}) OR id > 1010;

-- not_exists_or: NOT EXISTS under OR
SELECT count(*) FROM {people} p WHERE NOT EXISTS (SELECT 1 FROM {links} l WHERE l.person_id = p.id) OR p.id < 5;

-- exists_aggregate_always_row: a subquery with an aggregate always has a row
SELECT count(*) FROM {firms} f WHERE EXISTS (SELECT count(*) FROM {links} l WHERE l.firm_id = f.id AND l.firm_id < 0);

-- scalar_correlated_count_plus_one: count(*) + 1 of no matching rows is 1
SELECT f.id, (SELECT count(*) + 1 FROM {links} l WHERE l.firm_id = f.id) FROM {firms} f WHERE f.id > 110;

-- scalar_correlated_coalesce_sum: coalesce of a correlated sum
SELECT f.id, (SELECT coalesce(sum(l.share), 0) FROM {links} l WHERE l.firm_id = f.id) FROM {firms} f WHERE f.id > 110;

-- correlated_in_having: a correlated subquery in HAVING
SELECT district, count(*) FROM {people} p GROUP BY district HAVING count(*) > (SELECT count(*) FROM {firms} f WHERE f.sector IS NULL) + 20;

-- null_comparisons: comparisons with NULL are NULL
SELECT NULL = NULL, NULL <> 1, NULL IS NULL, NULL IS NOT DISTINCT FROM NULL;

-- count_of_null_expression: count of an all-NULL expression is 0
SELECT count(NULLIF(household, household)), count(CASE WHEN false THEN 1 END) FROM {people};

-- double_colon_casts: PostgreSQL's :: casts
SELECT CAST(NULL AS int) + 1, '2024-02-29'::date + 1, '42'::bigint * 2, 3::double precision / 2;

-- == Grouping sets, DISTINCT ON, FETCH ==

-- group_by_rollup: ROLLUP adds subtotal rows with NULL keys
SELECT sector, count(*), sum(employees) FROM {firms} GROUP BY ROLLUP (sector);

-- group_by_cube: CUBE over two nullable columns
SELECT district, active, count(*) FROM {people} WHERE id > 1000 GROUP BY CUBE (district, active);

-- group_by_grouping_sets: GROUPING SETS with an empty set
SELECT role, firm_id IS NULL, count(*) FROM {links} GROUP BY GROUPING SETS ((role), (firm_id IS NULL), ());

-- distinct_on: DISTINCT ON keeps the first row of each group
SELECT DISTINCT ON (district) district, id FROM {people} ORDER BY district, id;

-- fetch_first: FETCH FIRST n ROWS ONLY
SELECT id FROM {people} ORDER BY id DESC FETCH FIRST 3 ROWS ONLY;

-- percentile_within_group: percentile_cont within group
SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY household) FROM {people};

-- == More windows ==

-- win_rank_partition_desc: rank within partitions, descending with NULLs first
SELECT id, rank() OVER (PARTITION BY district ORDER BY income DESC) FROM {people} WHERE id > 1000 OR id < 30;

-- win_range_offset_decimal: RANGE frame with a numeric offset
SELECT id, count(*) OVER (ORDER BY income RANGE BETWEEN 100 PRECEDING AND 100 FOLLOWING) FROM {people} WHERE id > 1000;

-- win_range_offset_nulls: RANGE frame over an integer with NULL peers
SELECT id, sum(id) OVER (ORDER BY household RANGE BETWEEN 1 PRECEDING AND 1 FOLLOWING) FROM {people} WHERE id > 1004;

-- win_named_window: a WINDOW clause
SELECT id, sum(household) OVER w, count(*) OVER w FROM {people} WHERE id > 1000 WINDOW w AS (PARTITION BY active ORDER BY id);

-- win_lag_partition_default: lag with a default inside partitions
SELECT id, lag(id, 1, -1) OVER (PARTITION BY district ORDER BY id) FROM {people} WHERE id > 1000;

-- == More strings ==

-- str_split_part_negative: split_part counting from the end
SELECT split_part('a b c', ' ', -1), split_part('a b c', ' ', -3);

-- str_concat_formats: concat of numbers, decimals, dates and booleans
SELECT id, concat(id, '|', income, '|', birth, '|', active) FROM {people} WHERE id > 1000;

-- str_varchar_length_cast: a cast to varchar(3) truncates
SELECT CAST('abcdef' AS varchar(3));

-- str_pipe_decimal_literal: a decimal literal joined to text keeps its digits
SELECT 'v' || 1.50, 'w' || 2.0;

-- str_replace_overlapping: replace works left to right without overlaps
SELECT replace('aaaa', 'aa', 'b'), replace('abcabc', 'bc', '');

-- str_left_zero: left and right with 0
SELECT left('abc', 0), right('abc', 0), substring('abc', 4);

-- str_order_union: text ordered after a UNION, NULL last
SELECT district FROM {people} UNION SELECT sector FROM {firms} ORDER BY 1;

-- == More numbers ==

-- caret_operator: ^ is exponentiation in PostgreSQL
SELECT 2 ^ 3;

-- bitwise_operators: &, | and shifts
SELECT 12 & 10, 12 | 3, 1 << 4, 256 >> 2;

-- exp_overflow: exp of a large number is an error in PostgreSQL
SELECT exp(CAST(1000 AS double precision));

-- round_float_literal_edge: round(2.675, 2) of a literal
SELECT round(2.675, 2), round(1.005, 2);

-- decimal_modulo_literal: remainder of decimal literals
SELECT 10 % 3.5, -10 % 3.5;

-- bigint_to_double: a bigint extreme as a double
SELECT CAST(big AS double precision) FROM {numbers} WHERE id IN (1, 2);

-- numeric_literal_to_bigint_overflow: 1e19 cast to bigint is an error
SELECT CAST(10000000000000000000 AS bigint);

-- int_divide_decimal_literal: an integer column divided by 2.0
SELECT id, household / 2.0 FROM {people} WHERE id > 1004;

-- avg_smallint: avg of smallint extremes
SELECT avg(tiny), sum(tiny) FROM {numbers};

-- == More dates ==

-- date_trunc_result_type: date_trunc of a date literal, as returned
SELECT date_trunc('month', DATE '2024-02-29');

-- date_minus_year_interval: a leap day minus a year
SELECT CAST(DATE '2024-02-29' - INTERVAL '1 year' AS date), CAST(DATE '2024-02-29' + INTERVAL '4 years' AS date);

-- to_date_pattern: to_date with a PostgreSQL pattern
SELECT to_date('29/02/2024', 'DD/MM/YYYY');

-- make_date_1600: make_date of a leap day of 1600
SELECT make_date(1600, 2, 29);

-- interval_text: an interval as text
SELECT CAST(INTERVAL '1 month 2 days' AS text);

-- extract_epoch_timestamp: epoch of a timestamp literal with a fraction
SELECT extract(epoch FROM TIMESTAMP '1969-12-31 23:59:59.5');

-- date_age_in_days: days since birth, compared with today
SELECT count(*) FROM {people} WHERE current_date - birth > 365 * 100;

-- == More set operations and subqueries ==

-- set_operation_precedence: INTERSECT binds tighter than UNION
SELECT 1 UNION SELECT 2 INTERSECT SELECT 3;

-- in_subquery_with_limit: IN over an ordered, limited subquery
SELECT id FROM {people} WHERE id IN (SELECT person_id FROM {links} WHERE person_id IS NOT NULL ORDER BY person_id DESC LIMIT 5);

-- cte_in_subquery: a CTE referenced in a subquery
WITH owners AS (SELECT person_id FROM {links} WHERE role = 'owner') SELECT count(*) FROM {people} WHERE id IN (SELECT person_id FROM owners);

-- cte_recursive_union_distinct: a recursive CTE with UNION stops on repeats
WITH RECURSIVE r(n) AS (SELECT 1 UNION SELECT (n * 3) % 7 FROM r) SELECT n FROM r ORDER BY n;

-- filter_before_division: the select list is computed only for the rows the WHERE keeps
SELECT id, 1000 / small FROM {numbers} WHERE small <> 0 AND id < 6;

-- guard_beside_division: a guard in the same AND keeps a zero divisor from failing
SELECT id FROM {numbers} WHERE small <> 0 AND big / small > 1;

-- guard_after_division: the guard written after the division
SELECT id FROM {numbers} WHERE big % small = 0 AND small <> 0 AND id > 1;

-- guard_positive_divisor: a divisor guarded as positive, in a three-way AND
SELECT id FROM {numbers} WHERE id > 2 AND small > 0 AND 100 / small >= 1;

-- guard_or_division: a zero divisor answered by an OR before the remainder
SELECT id FROM {numbers} WHERE small = 0 OR tiny % small = 0;

-- guard_boolean_case_division: a boolean CASE guarding a division
SELECT id FROM {numbers} WHERE CASE WHEN small <> 0 THEN big / small < 0 ELSE false END;

-- guard_case_zero_first: a branch for zero, then the division in a later branch
SELECT id FROM {numbers} WHERE CASE WHEN tiny = 0 THEN false WHEN id > 3 THEN 1000 / tiny > 0 ELSE true END;

-- guard_decimal_division: a decimal divisor guarded beside its division
SELECT id FROM {numbers} WHERE amount <> 0 AND 1 / amount > 0.01;

-- guard_double_division: a double divisor guarded beside its division, -0 included
SELECT id FROM {floats} WHERE f <> 0 AND 1 / f > 0;

-- guard_in_select_list: a guarded division as a boolean column
SELECT id, small <> 0 AND big / small > 1 AS above FROM {numbers};

-- guard_in_join: a guard beside a division in a join's condition
SELECT n.id, p.id FROM {numbers} n JOIN {people} p ON p.id = n.id + 1000 AND n.small <> 0 AND p.household / n.small >= 0;

-- filter_before_overflow: a product that overflows only on rows the WHERE drops
SELECT id, big * 2 FROM {numbers} WHERE abs(big) < 1000 AND id < 10;

-- double_greater_than_decimal_literal: doubles against a decimal literal, NaN and infinities included
SELECT id FROM {floats} WHERE f > 1.25 ORDER BY id;

-- double_between_decimal_literals: BETWEEN decimal literals over doubles
SELECT id FROM {floats} WHERE f BETWEEN -1.5 AND 0.25 ORDER BY id;

-- coalesce_double_decimal: COALESCE of a double and a decimal is a double
SELECT id, COALESCE(f, 0.5) FROM {floats} WHERE id IN (6, 7) ORDER BY id;

-- case_double_decimal: CASE branches of a double and a decimal are doubles
SELECT id, CASE WHEN id = 2 THEN f ELSE 2.5 END FROM {floats} WHERE id IN (2, 4) ORDER BY id;

-- decimal_column_equals_literal: a decimal column against a decimal literal, exactly
SELECT id FROM {numbers} WHERE amount = 1234.56 OR amount = -0.5;

-- decimal_literal_arithmetic: decimal literals computed exactly
SELECT 1.10 * 3, 10.5 - 0.25, 0.1 + 0.2, 2.675 * 100;

-- values_scalar_subquery: an aggregate wrapped in VALUES
VALUES ((SELECT count(*) FROM {people}));

-- select_scalar_subquery: an aggregate wrapped in a scalar subquery
SELECT (SELECT count(*) FROM {people} WHERE active), (SELECT max(income) FROM {people});

-- bigint_literal_beyond_range: an integer literal past bigint is numeric
SELECT 92233720368547758070 / 10;

-- numeric_sum_38_digits: sum of decimal(38,10) past 38 digits keeps every digit
SELECT sum(dec) FROM {numbers} WHERE id IN (1, 5, 7);

-- == Doubles: errors, zeros and text as PostgreSQL's ==

-- float_zero_equals_minus_zero: -0 equals 0 in a filter
SELECT id FROM {people} WHERE score = 0;

-- float_zero_in_list: -0 is in a list holding 0
SELECT id FROM {floats} WHERE f IN (0, 7.5);

-- float_zero_between: -0 lies between 0 and 1
SELECT id FROM {floats} WHERE f BETWEEN 0 AND 1;

-- float_zero_less_than: -0 is not below 0
SELECT id FROM {floats} WHERE f < 0 AND f > -1;

-- float_zero_group: -0 and 0 are one group
SELECT count(*) FROM (SELECT f FROM {floats} WHERE f BETWEEN -1 AND 1 GROUP BY f) g;

-- float_zero_distinct: DISTINCT keeps one of -0 and 0
SELECT count(*) FROM (SELECT DISTINCT f FROM {floats} WHERE f >= -1 AND f <= 1) d;

-- float_zero_count_distinct: count(DISTINCT) counts -0 and 0 once
SELECT count(DISTINCT f) FROM {floats} WHERE f BETWEEN -1 AND 1;

-- float_zero_count_distinct_grouped: count(DISTINCT) of doubles grouped by a double
SELECT count(DISTINCT f) FROM {floats} WHERE f BETWEEN -1 AND 1 GROUP BY f * 0;

-- float_zero_union: UNION keeps one of -0 and 0
SELECT count(*) FROM (SELECT f FROM {floats} WHERE f BETWEEN -1 AND 1 UNION SELECT CAST(0 AS double precision)) u;

-- float_zero_window_partition: -0 and 0 are one window partition
SELECT id, count(*) OVER (PARTITION BY f) FROM {floats} WHERE f BETWEEN -1 AND 1;

-- float_zero_join: -0 joins 0
SELECT a.id, b.id FROM {floats} a JOIN {floats} b ON a.f = b.f WHERE a.id IN (4, 5) ORDER BY a.id, b.id;

-- float_nan_equals_nan: NaN equals NaN and sorts above Infinity
SELECT id FROM {floats} WHERE f = CAST('NaN' AS double precision) OR f > CAST('Infinity' AS double precision);

-- float_nan_division_by_zero: NaN / 0 is NaN, not an error
SELECT f / 0 FROM {floats} WHERE id = 1;

-- float_infinity_arithmetic: infinities in the data stay infinite
SELECT id, f + 1, f * 2, f - 1e300 FROM {floats} WHERE id IN (2, 3) ORDER BY id;

-- float_underflow: a product too small for a double is an error
SELECT CAST(1e-300 AS double precision) * CAST(1e-300 AS double precision);

-- float_sqrt_negative: the square root of a negative double is an error
SELECT sqrt(f) FROM {floats} WHERE id = 8;

-- float_ln_negative: the logarithm of a negative number is an error
SELECT ln(f) FROM {floats} WHERE id = 8;

-- float_log10_zero: log10 of zero is an error
SELECT log10(f) FROM {floats} WHERE id = 4;

-- float_power_zero_negative: zero to a negative power is an error
SELECT power(f, -1) FROM {floats} WHERE id = 4;

-- float_power_negative_fraction: a negative number to a fractional power is an error
SELECT power(f, 0.5) FROM {floats} WHERE id = 8;

-- float_functions_in_range: sqrt, ln, exp and power of ordinary doubles
SELECT sqrt(f), ln(f), exp(f), power(f, 2), log10(f) FROM {floats} WHERE id = 7;

-- integer_power: powers of integers are doubles
SELECT 2 ^ -1, power(2, 10), 2 ^ 0.5, 10 ^ 2;

-- float_text: doubles written as text
SELECT id, CAST(f AS text) FROM {floats} ORDER BY id;

-- float_text_concat: doubles in a concatenation
SELECT id, 'x=' || CAST(f AS text) FROM {floats} WHERE id IN (4, 5, 7, 10, 11) ORDER BY id;

-- == Patterns, case and averages as PostgreSQL's ==

-- like_escape_backslash_literal: with another escape character a backslash is plain text
SELECT id FROM {people} WHERE name LIKE '%k\s%' ESCAPE '#';

-- like_escape_not: NOT LIKE with an escape character
SELECT id FROM {people} WHERE id > 1000 AND name NOT LIKE '%!%%' ESCAPE '!';

-- like_escape_escaped_escape: the escape character escaping itself
SELECT id FROM {people} WHERE 'a!b' LIKE 'a!!b' ESCAPE '!' AND id = 1;

-- ilike_escape: ILIKE with an escape character
SELECT id FROM {people} WHERE name ILIKE '%X!_Y%' ESCAPE '!';

-- to_char_templates: dates written with PostgreSQL's templates
SELECT id, to_char(birth, 'DD/MM/YYYY'), to_char(birth, 'FMDD FMMonth YYYY'), to_char(birth, 'Dy, DD Mon YYYY'), to_char(birth, 'YYYY"年"MM"月"DD"日"') FROM {people} WHERE id > 1000 AND id <> 1013;

-- to_char_day_of_year: day of the year and ISO week
SELECT id, to_char(birth, 'DDD'), to_char(birth, 'IYYY-IW') FROM {people} WHERE id IN (1001, 1005, 1008, 1015);

-- to_date_templates: dates read with PostgreSQL's templates
SELECT to_date('31/12/1999', 'DD/MM/YYYY'), to_date('2024-02-29', 'YYYY-MM-DD'), to_date('19880808', 'YYYYMMDD');

-- upper_lower_non_ascii: case mapped one character for one
SELECT id, upper(name), lower(name) FROM {people} WHERE id > 1000 ORDER BY id;

-- lower_in_filter_sharp_s: a filter on lower() of text with ß
SELECT id FROM {people} WHERE upper(name) = 'STRAßE Ǆ';

-- avg_decimal_grouped: averages of decimals per group, rounded
SELECT district, avg(income) FROM {people} GROUP BY district ORDER BY district;

-- avg_decimal_having: an average of decimals in HAVING
SELECT household, avg(income) FROM {people} GROUP BY household HAVING avg(income) > 1000 ORDER BY household;

-- to_hex_int_negative: to_hex of negative int values uses 32 bits
SELECT id, to_hex(household) FROM {people} WHERE household < 0 OR id = 1003 ORDER BY id;

-- == Joins with USING ==

-- join_using_right: a RIGHT JOIN's USING column is the right side's key
SELECT id, p.name, f.name FROM {people} p RIGHT JOIN {firms} f USING (id) WHERE id > 290 ORDER BY id;

-- join_using_full: a FULL JOIN's USING column is the key of either side
SELECT id FROM {people} p FULL JOIN {firms} f USING (id) WHERE id > 280 ORDER BY id;

-- join_using_left_grouped: a LEFT JOIN's USING column in GROUP BY and HAVING
SELECT id, count(f.name) FROM {people} p LEFT JOIN {firms} f USING (id) WHERE id > 1000 GROUP BY id HAVING id < 1010 ORDER BY id;

-- == Subqueries as selected values ==

-- not_exists_in_select: NOT EXISTS as a selected value
SELECT f.id, NOT EXISTS (SELECT 1 FROM {links} l WHERE l.firm_id = f.id) AS alone FROM {firms} f WHERE f.id > 115 ORDER BY f.id;

-- in_subquery_selected_with_null: IN over a subquery holding a NULL is true or unknown
SELECT p.id, p.household IN (SELECT q.household FROM {people} q WHERE q.id IN (1002, 1003)) FROM {people} p WHERE p.id > 1000 ORDER BY p.id;

-- not_in_subquery_selected: NOT IN over a subquery as a selected value
SELECT id, id NOT IN (SELECT person_id FROM {links} WHERE person_id IS NOT NULL) FROM {people} WHERE id > 1000 ORDER BY id;

-- in_subquery_empty_selected: IN over an empty subquery is false, for a NULL too
SELECT p.id, p.household IN (SELECT q.household FROM {people} q WHERE q.id < 0) FROM {people} p WHERE p.id > 1000 ORDER BY p.id;

-- rollup_rewritten_keys: ROLLUP over keys the hub rewrites (a template, a double product)
SELECT to_char(birth, 'YYYY'), score * 2, count(*) FROM {people} WHERE id > 1000 GROUP BY ROLLUP (to_char(birth, 'YYYY'), score * 2);

-- caret_precedence: ^ binds tighter than * and +
SELECT 2 ^ 3 + 1, 2 * 3 ^ 2, - 2 ^ 2, 2 ^ 3 ^ 2;

-- interval_text_signs: an interval's parts after a negative one carry their signs
SELECT CAST(INTERVAL '-1 month 2 days' AS text), CAST(INTERVAL '1 year -3 days 4 hours' AS text);
