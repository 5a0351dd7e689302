//! Rows outside the row filter stay hidden, and errors tell nothing about them or about
//! raw values.

use super::*;

/// Rows outside the row filter stay hidden however the query widens its own conditions:
/// OR 1=1, other grids named, UNION, subqueries, self-joins, EXISTS, windows.
#[tokio::test]
async fn rows_outside_the_row_filter_stay_hidden() {
    let setup = Setup::start().await;
    let sql = |text: &str| text.replace("{R}", R);
    let n = |name, text: &str, n| count(name, CARE, &sql(text), n);
    let attempts = vec![
        n(
            "OR 1=1",
            "SELECT count(*) AS n FROM {R} WHERE grid_id = 'GC-002' OR 1=1",
            IN_GRID,
        ),
        n("no condition at all", "SELECT count(*) AS n FROM {R}", IN_GRID),
        n(
            "another grid named",
            "SELECT count(*) AS n FROM {R} WHERE grid_id = 'GC-002'",
            0,
        ),
        n(
            "every other grid",
            "SELECT count(*) AS n FROM {R} WHERE grid_id <> 'GC-001'",
            0,
        ),
        n(
            "another town",
            "SELECT count(*) AS n FROM {R} WHERE town = 'Jiujiang' OR town IS NULL",
            0,
        ),
        n(
            "the injection-shaped grid named",
            &format!(
                "SELECT count(*) AS n FROM {{R}} WHERE grid_id = '{}'",
                INJECTION_GRID.replace('\'', "''")
            ),
            0,
        ),
        rows(
            "UNION of other grids",
            CARE,
            &sql("SELECT grid_id FROM {R} UNION SELECT grid_id FROM {R} WHERE grid_id <> 'GC-001'"),
            json!([{"grid_id": "GC-001"}]),
        ),
        rows(
            "DISTINCT grids",
            CARE,
            &sql("SELECT DISTINCT grid_id, town FROM {R}"),
            json!([{"grid_id": "GC-001", "town": "Guicheng"}]),
        ),
        n(
            "subquery on the same table",
            "SELECT count(*) AS n FROM {R} WHERE town IN (SELECT town FROM {R} WHERE grid_id <> 'GC-001')",
            0,
        ),
        n(
            "self-join on the town",
            "SELECT count(*) AS n FROM {R} a JOIN {R} b ON a.town = b.town",
            IN_GRID * IN_GRID,
        ),
        n(
            "self-join to other grids",
            "SELECT count(*) AS n FROM {R} a JOIN {R} b ON a.grid_id <> b.grid_id",
            0,
        ),
        n(
            "EXISTS of another grid",
            "SELECT count(*) AS n FROM {R} WHERE EXISTS (SELECT 1 FROM {R} r2 WHERE r2.grid_id = 'GC-002')",
            0,
        ),
        n(
            "NOT EXISTS of another grid",
            "SELECT count(*) AS n FROM (VALUES (1)) v(x) WHERE NOT EXISTS (SELECT 1 FROM {R} WHERE grid_id <> 'GC-001')",
            1,
        ),
        rows(
            "aggregates over everyone",
            CARE,
            &sql(
                "SELECT count(*) AS n, max(income) AS top, count(DISTINCT town) AS towns, min(birth_date) AS oldest FROM {R}",
            ),
            json!([{"n": IN_GRID, "top": 60000, "towns": 1, "oldest": "1985-01-01"}]),
        ),
        rows(
            "a window over everyone",
            CARE,
            &sql("SELECT DISTINCT count(*) OVER () AS n, max(income) OVER () AS top FROM {R}"),
            json!([{"n": IN_GRID, "top": 60000}]),
        ),
        n(
            "an unused denied column in a subquery is dropped and counts only the grid",
            "SELECT count(*) AS n FROM (SELECT phone FROM {R})",
            IN_GRID,
        ),
        rows(
            "parcels joined to residents find only the grid's owners",
            CARE,
            &sql(
                "SELECT p.parcel_id FROM land_registry.parcels p JOIN {R} r ON r.id_number = p.owner_id_number ORDER BY p.parcel_id",
            ),
            json!([{"parcel_id": "P-1"}, {"parcel_id": "P-5"}]),
        ),
        rows(
            "a full outer join with every grid",
            CARE,
            &sql(
                "SELECT g.grid, count(r.grid_id) AS n FROM (VALUES ('GC-001'), ('GC-002'), ('JJ-001')) g(grid) FULL JOIN {R} r ON r.grid_id = g.grid GROUP BY g.grid ORDER BY g.grid",
            ),
            json!([{"grid": "GC-001", "n": 3}, {"grid": "GC-002", "n": 0}, {"grid": "JJ-001", "n": 0}]),
        ),
        rows(
            "two grants: each row shows each column as the grant that lets it through",
            SURVEY,
            &sql("SELECT name, id_number IS NULL AS no_id, town FROM {R} ORDER BY town, name"),
            json!([
                {"name": "张伟", "no_id": false, "town": "Guicheng"},
                {"name": "李娜", "no_id": false, "town": "Guicheng"},
                {"name": "赵磊", "no_id": false, "town": "Guicheng"},
                {"name": "刘****", "no_id": true, "town": "Jiujiang"},
                {"name": "陈****", "no_id": true, "town": "Jiujiang"},
            ]),
        ),
        count(
            "two grants: the raw name of a row the raw grant does not cover",
            SURVEY,
            &sql("SELECT count(*) AS n FROM {R} WHERE name IN ('刘洋', '陈静', '王芳')"),
            0,
        ),
        count(
            "two grants: rows neither covers",
            SURVEY,
            &sql("SELECT count(*) AS n FROM {R} WHERE town = 'Xiqiao' OR grid_id = 'GC-002'"),
            0,
        ),
    ];
    let mut hidden = hidden_from_care();
    // The survey shows the grid's raw names and the town of Jiujiang's residents.
    hidden.retain(|value| !["张伟", "李娜", "赵磊", "JJ-001"].contains(&value.as_str()));
    run_attempts(&setup, attempts, &hidden).await;
}

/// Predicates are never evaluated on rows outside the row filter: a query whose condition
/// would fail (or print a value) only on another grid's rows answers as if those rows did
/// not exist, so errors cannot tell anything about them.
#[tokio::test]
async fn errors_tell_nothing_about_rows_outside_the_row_filter() {
    let setup = Setup::start().await;
    let sql = |text: &str| text.replace("{R}", R);
    let n = |name, text: &str, n| count(name, CARE, &sql(text), n);
    let attempts = vec![
        n(
            "a cast that fails only if another grid exists",
            "SELECT count(*) AS n FROM {R} WHERE CASE WHEN grid_id = 'GC-002' THEN CAST(town AS INT) ELSE 1 END = 1",
            IN_GRID,
        ),
        n(
            "a cast that fails only if another grid has a high income",
            "SELECT count(*) AS n FROM {R} WHERE CASE WHEN grid_id = 'GC-002' AND income > 100000 THEN CAST(town AS INT) ELSE 1 END = 1",
            IN_GRID,
        ),
        n(
            "the same cast with a higher bound, to bracket that income",
            "SELECT count(*) AS n FROM {R} WHERE CASE WHEN grid_id = 'GC-002' AND income > 200000 THEN CAST(town AS INT) ELSE 1 END = 1",
            IN_GRID,
        ),
        n(
            "a division by zero only at another row's income",
            "SELECT count(*) AS n FROM {R} WHERE 1 / (income - 150000) > 0",
            0,
        ),
        n(
            "an error message printing another row's income",
            "SELECT count(*) AS n FROM {R} WHERE CASE WHEN grid_id <> 'GC-001' THEN chr(income * 1000) ELSE 'a' END = 'a'",
            IN_GRID,
        ),
        n(
            "an error message printing the first character of another row's name",
            "SELECT count(*) AS n FROM {R} WHERE CASE WHEN grid_id <> 'GC-001' THEN chr(ascii(name) + 1114112) ELSE 'a' END = 'a'",
            IN_GRID,
        ),
        n(
            "an error message printing another row's grid",
            "SELECT count(*) AS n FROM {R} WHERE CASE WHEN grid_id <> 'GC-001' THEN regexp_replace('x', grid_id || '(', '') ELSE 'x' END = 'x'",
            IN_GRID,
        ),
    ];
    let mut hidden = hidden_from_care();
    hidden.extend([
        "150000000".into(),
        "30000000".into(),
        "Jiujiang".into(),
        "Xiqiao".into(),
    ]);
    run_attempts(&setup, attempts, &hidden).await;
}

/// Errors while evaluating the analyst's own rows never echo a raw value: failed casts,
/// divisions by a masked number, failed parses.
#[tokio::test]
async fn error_messages_do_not_echo_raw_values() {
    let setup = Setup::start().await;
    let sql = |text: &str| text.replace("{R}", R);
    let fails = |name, text: &str, status, code, message: &str| {
        attempt(
            name,
            CARE,
            &sql(text),
            Expect::Error(status, code, message.to_owned()),
        )
    };
    let bad = StatusCode::BAD_REQUEST;
    let attempts = vec![
        fails(
            "a masked name cast to a number",
            "SELECT CAST(name AS INT) FROM {R}",
            bad,
            "evaluation_error",
            "a value cannot be cast to Int32",
        ),
        fails(
            "a masked address cast to a number in a filter",
            "SELECT count(*) FROM {R} WHERE CAST(address AS BIGINT) > 0",
            bad,
            "evaluation_error",
            "a value cannot be cast to Int64",
        ),
        fails(
            "a hashed ID cast to a number",
            "SELECT CAST(id_number AS BIGINT) FROM {R}",
            bad,
            "evaluation_error",
            "a value cannot be cast",
        ),
        fails(
            "arrow_cast of a masked name",
            "SELECT arrow_cast(name, 'Int64') FROM {R}",
            bad,
            "evaluation_error",
            "a value cannot be cast to Int64",
        ),
        fails(
            "a masked name parsed as a timestamp",
            "SELECT to_timestamp(name) FROM {R}",
            bad,
            "evaluation_error",
            "a value cannot be parsed as a timestamp",
        ),
        fails(
            "a division by a banded number",
            "SELECT 1 / (income - income) FROM {R}",
            bad,
            "evaluation_error",
            "division by zero",
        ),
        fails(
            "a banded number too large for its cast",
            "SELECT arrow_cast(income, 'Int8') FROM {R}",
            bad,
            "evaluation_error",
            "a value cannot be cast",
        ),
        attempt(
            "a masked name as a regular expression",
            CARE,
            &sql("SELECT regexp_replace('x', name || '(', '') FROM {R}"),
            Expect::AnyError,
        ),
        attempt(
            "a masked phone as hex",
            OUTREACH,
            &sql("SELECT decode(phone, 'hex') FROM {R}"),
            Expect::AnyError,
        ),
        attempt(
            "a banded income as a character",
            CARE,
            &sql("SELECT chr(income * 1000) FROM {R}"),
            Expect::AnyError,
        ),
    ];
    run_attempts(&setup, attempts, &hidden_from_care()).await;
}

/// Functions failing on the caller's input (a bad regular expression, bad hex, an invalid
/// character code) are the caller's error: a 4xx, not a 502 that blames the source.
#[tokio::test]
async fn functions_failing_on_bad_input_answer_a_client_error() {
    let setup = Setup::start().await;
    let sql = |text: &str| text.replace("{R}", R);
    let attempts = vec![
        attempt(
            "a regular expression that does not compile",
            CARE,
            &sql("SELECT regexp_replace('x', name || '(', '') FROM {R}"),
            Expect::AnyClientError,
        ),
        attempt(
            "text that is not hex",
            OUTREACH,
            &sql("SELECT decode(phone, 'hex') FROM {R}"),
            Expect::AnyClientError,
        ),
        attempt(
            "a character code beyond Unicode",
            CARE,
            &sql("SELECT chr(income * 1000) FROM {R}"),
            Expect::AnyClientError,
        ),
    ];
    run_attempts(&setup, attempts, &hidden_from_care()).await;
}
