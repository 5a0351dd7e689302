//! Columns: those not granted are refused wherever the query names them; masked ones show
//! their masks, and predicates on them test the mask.

use super::*;

/// Denied columns are refused by name however the query reaches them: directly, through
/// `*`, subqueries, CTEs, set operations, joins, correlated subqueries, aggregates, windows,
/// predicates, grouping and ordering.
#[tokio::test]
async fn columns_not_granted_are_refused_wherever_the_query_names_them() {
    let setup = Setup::start().await;
    let phone: &[&str] = &["phone"];
    let subsidy: &[&str] = &["subsidy"];
    let sql = |text: &str| text.replace("{R}", R);
    let attempts = vec![
        denied("named directly", &sql("SELECT phone FROM {R}"), phone),
        denied("star", &sql("SELECT * FROM {R}"), &["phone", "subsidy"]),
        denied(
            "qualified star of an alias",
            &sql("SELECT r.* FROM {R} r"),
            &["phone", "subsidy"],
        ),
        denied(
            "star except the other one",
            &sql("SELECT * EXCLUDE (subsidy) FROM {R}"),
            phone,
        ),
        denied(
            "fully qualified with the catalog",
            &sql("SELECT phone FROM causeway.{R}"),
            phone,
        ),
        denied(
            "star of a subquery",
            &sql("SELECT * FROM (SELECT phone FROM {R}) t"),
            phone,
        ),
        denied(
            "min through a view of a view",
            &sql("SELECT min(p) AS p FROM (SELECT p FROM (SELECT phone AS p FROM {R}) a) b"),
            phone,
        ),
        denied(
            "CTE",
            &sql("WITH t AS (SELECT phone FROM {R}) SELECT * FROM t"),
            phone,
        ),
        denied(
            "CTE of a CTE",
            &sql("WITH a AS (SELECT * FROM {R}), b AS (SELECT phone FROM a) SELECT max(phone) FROM b"),
            phone,
        ),
        denied(
            "recursive CTE",
            &sql(
                "WITH RECURSIVE x(p) AS (SELECT phone FROM {R} UNION ALL SELECT p FROM x WHERE false) SELECT count(*) FROM x",
            ),
            phone,
        ),
        denied(
            "UNION with a granted column",
            &sql("SELECT name FROM {R} UNION SELECT phone FROM {R}"),
            phone,
        ),
        denied(
            "UNION ALL with VALUES",
            &sql("SELECT phone FROM {R} UNION ALL VALUES ('x')"),
            phone,
        ),
        denied(
            "INTERSECT with a guess",
            &sql("SELECT phone FROM {R} INTERSECT SELECT '13800138000'"),
            phone,
        ),
        denied(
            "EXCEPT from a guess",
            &sql("SELECT '13800138000' AS p EXCEPT SELECT phone FROM {R}"),
            phone,
        ),
        denied(
            "IN a subquery",
            &sql("SELECT name FROM {R} WHERE '13800138000' IN (SELECT phone FROM {R})"),
            phone,
        ),
        denied(
            "self-join",
            &sql("SELECT a.name, b.phone FROM {R} a JOIN {R} b ON a.id_number = b.id_number"),
            phone,
        ),
        denied(
            "join with another dataset",
            &sql(
                "SELECT p.parcel_id, r.subsidy FROM land_registry.parcels p JOIN {R} r ON r.id_number = p.owner_id_number",
            ),
            subsidy,
        ),
        denied(
            "self-join ON the denied column",
            &sql("SELECT a.name FROM {R} a JOIN {R} b ON a.phone = b.phone"),
            phone,
        ),
        denied(
            "join with another dataset ON the denied column",
            &sql("SELECT p.parcel_id FROM land_registry.parcels p JOIN {R} r ON p.owner_id_number = r.phone"),
            phone,
        ),
        denied(
            "correlated scalar subquery",
            &sql("SELECT (SELECT max(r2.phone) FROM {R} r2 WHERE r2.town = r.town) AS p FROM {R} r"),
            phone,
        ),
        denied(
            "correlated EXISTS",
            &sql(
                "SELECT name FROM {R} r WHERE EXISTS (SELECT 1 FROM {R} t2 WHERE t2.phone = '13800138000' AND t2.town = r.town)",
            ),
            phone,
        ),
        denied(
            "LATERAL join",
            &sql(
                "SELECT r.name, x.n FROM {R} r CROSS JOIN LATERAL (SELECT count(*) AS n FROM land_registry.parcels p WHERE p.parcel_id = r.phone) x",
            ),
            phone,
        ),
        denied("min", &sql("SELECT min(phone) FROM {R}"), phone),
        denied("max", &sql("SELECT max(phone) FROM {R}"), phone),
        denied(
            "count distinct",
            &sql("SELECT count(DISTINCT phone) FROM {R}"),
            phone,
        ),
        denied("count", &sql("SELECT count(phone) FROM {R}"), phone),
        denied("array_agg", &sql("SELECT array_agg(phone) FROM {R}"), phone),
        denied(
            "string_agg",
            &sql("SELECT string_agg(phone, ',') FROM {R}"),
            phone,
        ),
        denied(
            "sum of a denied number",
            &sql("SELECT sum(subsidy) FROM {R}"),
            subsidy,
        ),
        denied(
            "avg of a denied number",
            &sql("SELECT avg(subsidy) FROM {R}"),
            subsidy,
        ),
        denied(
            "count FILTER on the denied column",
            &sql("SELECT count(*) FILTER (WHERE phone LIKE '138%') FROM {R}"),
            phone,
        ),
        denied(
            "GROUP BY the denied column with counts",
            &sql("SELECT count(*) FROM {R} GROUP BY phone"),
            phone,
        ),
        denied(
            "GROUP BY ROLLUP",
            &sql("SELECT town, count(*) FROM {R} GROUP BY ROLLUP (town, phone)"),
            phone,
        ),
        denied(
            "HAVING on the denied column",
            &sql("SELECT town FROM {R} GROUP BY town HAVING max(phone) > '138'"),
            phone,
        ),
        denied("DISTINCT", &sql("SELECT DISTINCT phone FROM {R}"), phone),
        denied(
            "DISTINCT ON",
            &sql("SELECT DISTINCT ON (phone) name FROM {R}"),
            phone,
        ),
        denied(
            "ORDER BY with LIMIT 1 to learn the order",
            &sql("SELECT name FROM {R} ORDER BY phone LIMIT 1"),
            phone,
        ),
        denied(
            "ORDER BY a denied number",
            &sql("SELECT name FROM {R} ORDER BY subsidy DESC LIMIT 1"),
            subsidy,
        ),
        denied(
            "row_number over a partition by the denied column",
            &sql("SELECT name, row_number() OVER (PARTITION BY phone ORDER BY name) AS k FROM {R}"),
            phone,
        ),
        denied(
            "rank over a denied number",
            &sql("SELECT name, rank() OVER (ORDER BY subsidy) AS k FROM {R}"),
            subsidy,
        ),
        denied(
            "lag",
            &sql("SELECT name, lag(phone) OVER (ORDER BY name) AS p FROM {R}"),
            phone,
        ),
        denied(
            "lead",
            &sql("SELECT name, lead(subsidy) OVER (ORDER BY name) AS s FROM {R}"),
            subsidy,
        ),
        denied(
            "first_value",
            &sql("SELECT first_value(phone) OVER (ORDER BY name) AS p FROM {R}"),
            phone,
        ),
        denied(
            "WHERE LIKE",
            &sql("SELECT name FROM {R} WHERE phone LIKE '138%'"),
            phone,
        ),
        denied(
            "WHERE range on a denied number",
            &sql("SELECT name FROM {R} WHERE subsidy > 1000"),
            subsidy,
        ),
        denied(
            "WHERE IS NULL",
            &sql("SELECT count(*) FROM {R} WHERE subsidy IS NULL"),
            subsidy,
        ),
        denied(
            "compared with itself",
            &sql("SELECT count(*) FROM {R} WHERE phone = phone"),
            phone,
        ),
        denied(
            "CASE",
            &sql("SELECT CASE WHEN phone LIKE '138%' THEN 1 ELSE 0 END AS c FROM {R}"),
            phone,
        ),
        denied(
            "CAST",
            &sql("SELECT CAST(subsidy AS VARCHAR) AS s FROM {R}"),
            subsidy,
        ),
        denied("coalesce", &sql("SELECT coalesce(phone, name) FROM {R}"), phone),
        denied(
            "a struct around it",
            &sql("SELECT named_struct('p', phone) AS s FROM {R}"),
            phone,
        ),
        denied(
            "UNNEST of an array",
            &sql("SELECT unnest(make_array(phone)) FROM {R}"),
            phone,
        ),
        denied(
            "generate_series joined on its length",
            &sql("SELECT g FROM generate_series(1, 20) t(g) JOIN {R} r ON length(r.phone) = g"),
            phone,
        ),
        denied(
            "VALUES joined on it",
            &sql("SELECT v.x FROM (VALUES ('13800138000'), ('0')) v(x) JOIN {R} r ON r.phone = v.x"),
            phone,
        ),
    ];
    run_attempts(&setup, attempts, &hidden_from_care()).await;
}

/// Masked columns show their masks, and only their masks, through expressions, casts,
/// aggregates, windows and grouping.
#[tokio::test]
async fn masked_columns_stay_masked_through_expressions_aggregates_and_windows() {
    let setup = Setup::start().await;
    let [zhang, li, zhao] = [0, 1, 2].map(|index| setup.pseudonym(RESIDENTS[index].id_number));
    let zhang_md5 = digest(&zhang, "md5").await;
    let sql = |text: &str| text.replace("{R}", R);
    let attempts = vec![
        rows(
            "every granted column",
            CARE,
            &sql("SELECT * EXCLUDE (phone, subsidy) FROM {R} ORDER BY birth_date"),
            json!([
                {"id_number": li, "name": "李****", "address": "Guicheng", "birth_date": "1985-01-01", "town": "Guicheng", "grid_id": "GC-001", "income": 60000},
                {"id_number": zhang, "name": "张****", "address": "Guicheng", "birth_date": "1990-01-01", "town": "Guicheng", "grid_id": "GC-001", "income": 50000},
                {"id_number": zhao, "name": "赵****", "address": "Guicheng", "birth_date": "1995-01-01", "town": "Guicheng", "grid_id": "GC-001", "income": 40000},
            ]),
        ),
        rows(
            "default partial masks of another purpose",
            OUTREACH,
            &sql("SELECT name, phone, id_number FROM {R} ORDER BY phone"),
            json!([
                {"name": "李****", "phone": "****5678", "id_number": "****2345"},
                {"name": "赵****", "phone": "****7777", "id_number": "****6789"},
                {"name": "张****", "phone": "****8000", "id_number": "****123X"},
            ]),
        ),
        rows(
            "CASE over a masked name",
            CARE,
            &sql("SELECT CASE WHEN name LIKE '张%' THEN name ELSE 'other' END AS n FROM {R} ORDER BY n"),
            json!([{"n": "other"}, {"n": "other"}, {"n": "张****"}]),
        ),
        rows(
            "casts of masked date and number",
            CARE,
            &sql(
                "SELECT CAST(birth_date AS VARCHAR) AS b, CAST(income AS VARCHAR) AS i, CAST(birth_date AS INT) AS d FROM {R} ORDER BY b",
            ),
            json!([
                {"b": "1985-01-01", "i": "60000", "d": 5479},
                {"b": "1990-01-01", "i": "50000", "d": 7305},
                {"b": "1995-01-01", "i": "40000", "d": 9131},
            ]),
        ),
        rows(
            "string functions over masks",
            CARE,
            &sql(
                "SELECT upper(address) AS a, reverse(name) AS n, concat(name, '|', address) AS c FROM {R} ORDER BY n",
            ),
            json!([
                {"a": "GUICHENG", "n": "****张", "c": "张****|Guicheng"},
                {"a": "GUICHENG", "n": "****李", "c": "李****|Guicheng"},
                {"a": "GUICHENG", "n": "****赵", "c": "赵****|Guicheng"},
            ]),
        ),
        rows(
            "min, max, count distinct and string_agg of masked names",
            CARE,
            &sql(
                "SELECT min(name) AS lo, max(name) AS hi, count(DISTINCT address) AS towns, string_agg(name, ',' ORDER BY name) AS names FROM {R}",
            ),
            json!([{"lo": "张****", "hi": "赵****", "towns": 1, "names": "张****,李****,赵****"}]),
        ),
        rows(
            "array_agg of masked addresses and birth dates",
            CARE,
            &sql("SELECT array_agg(address) AS a, array_agg(birth_date ORDER BY birth_date) AS b FROM {R}"),
            json!([{"a": ["Guicheng", "Guicheng", "Guicheng"], "b": ["1985-01-01", "1990-01-01", "1995-01-01"]}]),
        ),
        rows(
            "sum and avg of a banded number",
            CARE,
            &sql("SELECT sum(income) AS s, avg(income) AS a, max(income) AS m FROM {R}"),
            json!([{"s": 150000, "a": 50000.0, "m": 60000}]),
        ),
        rows(
            "GROUP BY a masked date",
            CARE,
            &sql("SELECT birth_date, count(*) AS n FROM {R} GROUP BY birth_date ORDER BY birth_date"),
            json!([
                {"birth_date": "1985-01-01", "n": 1},
                {"birth_date": "1990-01-01", "n": 1},
                {"birth_date": "1995-01-01", "n": 1},
            ]),
        ),
        rows(
            "window functions over masks",
            CARE,
            &sql(
                "SELECT name, row_number() OVER (PARTITION BY address ORDER BY income) AS k, lag(name) OVER (ORDER BY birth_date) AS before FROM {R} ORDER BY k",
            ),
            json!([
                {"name": "赵****", "k": 1, "before": "张****"},
                {"name": "张****", "k": 2, "before": "李****"},
                {"name": "李****", "k": 3, "before": null},
            ]),
        ),
        rows(
            "ORDER BY a masked phone orders by what the mask shows",
            OUTREACH,
            &sql("SELECT name FROM {R} ORDER BY phone DESC LIMIT 1"),
            json!([{"name": "张****"}]),
        ),
        rows(
            "hashes of the pseudonym are hashes of the pseudonym",
            CARE,
            &sql("SELECT md5(id_number) AS m FROM {R} WHERE name LIKE '张%'"),
            json!([{ "m": zhang_md5 }]),
        ),
    ];
    run_attempts(&setup, attempts, &hidden_from_care()).await;
}

/// Predicates on a masked column test the mask, never the raw value: equality with the
/// real value, prefixes, ranges, lengths, substrings and regular expressions find nothing
/// the mask does not show.
#[tokio::test]
async fn predicates_on_masked_columns_test_the_mask_not_the_raw_value() {
    let setup = Setup::start().await;
    let sql = |text: &str| text.replace("{R}", R);
    let none = |name, purpose, text: &str| count(name, purpose, &sql(text), 0);
    let attempts = vec![
        none(
            "hashed ID equal to the real ID",
            CARE,
            "SELECT count(*) AS n FROM {R} WHERE id_number = '44060419900307123X'",
        ),
        none(
            "hashed ID IN a list of real IDs",
            CARE,
            "SELECT count(*) AS n FROM {R} WHERE id_number IN ('44060419900307123X', '440604198506302345')",
        ),
        none(
            "hashed ID LIKE the region code",
            CARE,
            "SELECT count(*) AS n FROM {R} WHERE id_number LIKE '4406%'",
        ),
        none(
            "hashed ID in a range of real IDs",
            CARE,
            "SELECT count(*) AS n FROM {R} WHERE id_number BETWEEN '440604000000000000' AND '440604999999999999'",
        ),
        none(
            "masked name equal to the real name",
            CARE,
            "SELECT count(*) AS n FROM {R} WHERE name = '张伟'",
        ),
        none(
            "masked name LIKE its hidden part",
            CARE,
            "SELECT count(*) AS n FROM {R} WHERE name LIKE '%伟'",
        ),
        none(
            "the length of a masked name",
            CARE,
            "SELECT count(*) AS n FROM {R} WHERE length(name) = 2",
        ),
        none(
            "a substring of a masked name",
            CARE,
            "SELECT count(*) AS n FROM {R} WHERE substr(name, 2, 1) = '伟'",
        ),
        none(
            "a regular expression on a masked name",
            CARE,
            "SELECT count(*) AS n FROM {R} WHERE regexp_like(name, '^张伟$')",
        ),
        none(
            "the masked address LIKE its street",
            CARE,
            "SELECT count(*) AS n FROM {R} WHERE address LIKE '%Nanhai%'",
        ),
        none(
            "the masked address longer than its town",
            CARE,
            "SELECT count(*) AS n FROM {R} WHERE length(address) > 8",
        ),
        none(
            "the real birth date",
            CARE,
            "SELECT count(*) AS n FROM {R} WHERE birth_date = DATE '1985-06-30'",
        ),
        none(
            "a birth date range inside the year",
            CARE,
            "SELECT count(*) AS n FROM {R} WHERE birth_date BETWEEN DATE '1985-06-01' AND DATE '1985-07-31'",
        ),
        none(
            "the month of a year-only date",
            CARE,
            "SELECT count(*) AS n FROM {R} WHERE extract(month FROM birth_date) <> 1",
        ),
        none(
            "the real income",
            CARE,
            "SELECT count(*) AS n FROM {R} WHERE income = 52000",
        ),
        none(
            "a narrow income range",
            CARE,
            "SELECT count(*) AS n FROM {R} WHERE income > 51000 AND income < 53000",
        ),
        none(
            "the remainder of a banded income",
            CARE,
            "SELECT count(*) AS n FROM {R} WHERE income % 10000 <> 0",
        ),
        none(
            "a masked phone equal to the real phone",
            OUTREACH,
            "SELECT count(*) AS n FROM {R} WHERE phone = '13800138000'",
        ),
        none(
            "a masked phone LIKE its prefix",
            OUTREACH,
            "SELECT count(*) AS n FROM {R} WHERE phone LIKE '138%'",
        ),
        none(
            "a masked phone in a range",
            OUTREACH,
            "SELECT count(*) AS n FROM {R} WHERE phone > '13800000000'",
        ),
        none(
            "the first digits of a masked phone",
            OUTREACH,
            "SELECT count(*) AS n FROM {R} WHERE substr(phone, 1, 3) = '138'",
        ),
        none(
            "the length of a masked phone",
            OUTREACH,
            "SELECT count(*) AS n FROM {R} WHERE length(phone) = 11",
        ),
        none(
            "a partially masked ID LIKE the region code",
            OUTREACH,
            "SELECT count(*) AS n FROM {R} WHERE id_number LIKE '440604%'",
        ),
        rows(
            "lengths of partial masks are always four stars plus what they keep",
            OUTREACH,
            &sql("SELECT DISTINCT length(phone) AS p, length(id_number) AS i, length(name) AS n FROM {R}"),
            json!([{"p": 8, "i": 8, "n": 5}]),
        ),
        rows(
            "the kept digits match only what the mask shows",
            OUTREACH,
            &sql("SELECT name, phone FROM {R} WHERE phone LIKE '%8000' OR phone = '****8000'"),
            json!([{"name": "张****", "phone": "****8000"}]),
        ),
    ];
    run_attempts(&setup, attempts, &hidden_from_care()).await;
}
