//! Security: every way an analyst might read a value its grants do not allow, through the
//! query language, EXPLAIN, error messages, the catalog and crafted identities. Each attempt
//! asserts exactly what comes back: the refusal, or the rows the grants allow and no more.
//!
//! The analyst is a grid worker of another department, holding a grant for residents of
//! their own grid only, with `phone` and `subsidy` not granted, `id_number` as a keyed
//! pseudonym, `income` in bands and the default masks of personal data on the rest.
//! Deny rules cannot be made over the API yet and are not tested here.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int64Array, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{ADMIN, Hub, write_parquet};

/// One resident, as the civil affairs register keeps them.
struct Resident {
    id_number: &'static str,
    name: &'static str,
    phone: &'static str,
    address: &'static str,
    born: &'static str,
    town: &'static str,
    grid_id: &'static str,
    income: i64,
    subsidy: i64,
}

const fn resident(
    id_number: &'static str,
    name: &'static str,
    phone: &'static str,
    address: &'static str,
    born: &'static str,
    (town, grid_id): (&'static str, &'static str),
    (income, subsidy): (i64, i64),
) -> Resident {
    Resident {
        id_number,
        name,
        phone,
        address,
        born,
        town,
        grid_id,
        income,
        subsidy,
    }
}

/// The first three live in the analyst's grid, GC-001; the others do not. The last one's
/// grid is a string that looks like an injection.
const RESIDENTS: [Resident; 7] = [
    resident(
        "44060419900307123X",
        "张伟",
        "13800138000",
        "Guicheng, 1 Nanhai Road",
        "1990-03-07",
        ("Guicheng", "GC-001"),
        (52000, 1200),
    ),
    resident(
        "440604198506302345",
        "李娜",
        "13912345678",
        "Guicheng, 8 Haiyi Road",
        "1985-06-30",
        ("Guicheng", "GC-001"),
        (61000, 0),
    ),
    resident(
        "440604199512126789",
        "赵磊",
        "13566667777",
        "Guicheng, 5 Lake Road",
        "1995-12-12",
        ("Guicheng", "GC-001"),
        (47000, 800),
    ),
    resident(
        "440604197212153456",
        "王芳",
        "13698765432",
        "Guicheng, 22 Foping Road",
        "1972-12-15",
        ("Guicheng", "GC-002"),
        (150000, 0),
    ),
    resident(
        "440605200103034567",
        "刘洋",
        "13755554444",
        "Jiujiang, 3 River Street",
        "2001-03-03",
        ("Jiujiang", "JJ-001"),
        (38000, 2500),
    ),
    resident(
        "440605196811115678",
        "陈静",
        "13822223333",
        "Jiujiang, 9 Market Lane",
        "1968-11-11",
        ("Jiujiang", "JJ-001"),
        (990000, 0),
    ),
    resident(
        "440606198807078888",
        "黄敏",
        "13911112222",
        "Xiqiao, 7 Hill Road",
        "1988-07-07",
        ("Xiqiao", INJECTION_GRID),
        (45000, 300),
    ),
];

/// A grid id that is also an attempt at SQL injection.
const INJECTION_GRID: &str = "x' OR '1'='1";

/// How many residents the analyst's grid has.
const IN_GRID: usize = 3;

const RESIDENTS_SPEC: &str = r#"
contract:
  department: civil_affairs
  name: residents
  title: Residents
  owner: { name: Register desk, email: register@example.gov }
  primary_key: [id_number]
  fields:
    - { name: id_number, type: string, nullable: false, classification: pii.national_id }
    - { name: name, type: string, classification: pii.name }
    - { name: phone, type: string, classification: pii.phone }
    - { name: address, type: string, classification: pii.address }
    - { name: birth_date, type: date, classification: pii.birth_date }
    - { name: town, type: string, classification: public }
    - { name: grid_id, type: string, classification: public }
    - { name: income, type: bigint, classification: internal }
    - { name: subsidy, type: bigint, classification: internal }
source: { kind: parquet, path: residents.parquet }
"#;

/// Parcels and their owners: P-1 and P-5 belong to residents of GC-001, P-2 and P-3 to
/// residents of other grids, P-4 to someone who is no resident.
const PARCELS_CSV: &str = "parcel_id,owner_id_number,area,town\n\
P-1,44060419900307123X,120.5,Guicheng\n\
P-2,440604197212153456,88.0,Guicheng\n\
P-3,440605196811115678,300.0,Jiujiang\n\
P-4,440604198001017777,55.5,Guicheng\n\
P-5,440604198506302345,75.0,Guicheng\n";

const PARCELS_SPEC: &str = r#"
contract:
  department: land_registry
  name: parcels
  title: Parcels
  owner: { name: Land desk, email: land@example.gov }
  fields:
    - { name: parcel_id, type: string, nullable: false, classification: public }
    - { name: owner_id_number, type: string, classification: pii.national_id }
    - { name: area, type: double, classification: public }
    - { name: town, type: string, classification: public }
source: { kind: csv, path: parcels.csv }
"#;

/// Writes the register as Parquet, so its files carry statistics.
fn write_residents(dir: &std::path::Path) {
    let text = |pick: fn(&Resident) -> &'static str| -> ArrayRef {
        Arc::new(StringArray::from(RESIDENTS.iter().map(pick).collect::<Vec<_>>()))
    };
    let number = |pick: fn(&Resident) -> i64| -> ArrayRef {
        Arc::new(Int64Array::from(RESIDENTS.iter().map(pick).collect::<Vec<_>>()))
    };
    let born = cast(&text(|r| r.born), &DataType::Date32).expect("dates");
    let schema = Arc::new(Schema::new(vec![
        Field::new("id_number", DataType::Utf8, false),
        Field::new("name", DataType::Utf8, true),
        Field::new("phone", DataType::Utf8, true),
        Field::new("address", DataType::Utf8, true),
        Field::new("birth_date", DataType::Date32, true),
        Field::new("town", DataType::Utf8, true),
        Field::new("grid_id", DataType::Utf8, true),
        Field::new("income", DataType::Int64, true),
        Field::new("subsidy", DataType::Int64, true),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            text(|r| r.id_number),
            text(|r| r.name),
            text(|r| r.phone),
            text(|r| r.address),
            born,
            text(|r| r.town),
            text(|r| r.grid_id),
            number(|r| r.income),
            number(|r| r.subsidy),
        ],
    )
    .expect("residents batch");
    write_parquet(&dir.join("residents.parquet"), &[batch]);
}

/// The grid worker's main purpose: the register of GC-001, masked.
const CARE: &str = "grid-care";
/// A second purpose of the grid worker's: name, phone and ID with their default masks.
const OUTREACH: &str = "phone-outreach";
/// A purpose with two grants: raw names in GC-001, masked names in all of Jiujiang.
const SURVEY: &str = "survey";
const ANALYST: &str = "grid-worker";
const RESIDENTS_TABLE: &str = "civil_affairs.residents";

/// A hub with residents and parcels, and the grid worker of GC-001 (of the town office,
/// an analyst) holding grants for [`CARE`], [`OUTREACH`] and [`SURVEY`].
struct Setup {
    hub: Hub,
    analyst: reqwest::Client,
}

impl Setup {
    async fn start() -> Setup {
        let hub = Hub::start("").await;
        write_residents(hub.dir());
        std::fs::write(hub.dir().join("parcels.csv"), PARCELS_CSV).expect("parcels csv");
        hub.publish_ok(RESIDENTS_SPEC).await;
        hub.publish_ok(PARCELS_SPEC).await;
        let analyst = client(
            &hub,
            ANALYST,
            "town_office",
            json!({"grid_id": "GC-001", "town": "Guicheng"}),
        )
        .await;
        let grants = [
            json!({
                "subject": {"client": ANALYST},
                "dataset": RESIDENTS_TABLE,
                "columns": ["id_number", "name", "address", "birth_date", "town", "grid_id", "income"],
                "masks": {"id_number": {"kind": "hash"}, "income": {"kind": "bucket", "width": 10000.0}},
                "row_filter": "grid_id = principal.grid_id",
                "purposes": [CARE],
            }),
            json!({
                "subject": {"client": ANALYST},
                "dataset": "land_registry.parcels",
                "masks": {"owner_id_number": {"kind": "hash"}},
                "purposes": [CARE],
            }),
            json!({
                "subject": {"client": ANALYST},
                "dataset": RESIDENTS_TABLE,
                "columns": ["id_number", "name", "phone", "grid_id"],
                "row_filter": "grid_id = principal.grid_id",
                "purposes": [OUTREACH],
            }),
            json!({
                "subject": {"client": ANALYST},
                "dataset": RESIDENTS_TABLE,
                "columns": ["id_number", "name", "grid_id", "town"],
                "masks": {"id_number": {"kind": "hash"}},
                "unmasked": ["name"],
                "row_filter": "grid_id = principal.grid_id",
                "purposes": [SURVEY],
            }),
            json!({
                "subject": {"client": ANALYST},
                "dataset": RESIDENTS_TABLE,
                "columns": ["name", "town", "grid_id"],
                "row_filter": "town = 'Jiujiang'",
                "purposes": [SURVEY],
            }),
        ];
        for grant in grants {
            hub.grant(grant).await;
        }
        Setup { hub, analyst }
    }

    async fn ask(&self, sql: &str, purpose: &str) -> (StatusCode, Value) {
        ask(&self.hub, &self.analyst, sql, purpose).await
    }

    /// The analyst's keyed pseudonym of `value`, as this hub computes it.
    fn pseudonym(&self, value: &str) -> String {
        pseudonym(&self.hub, value)
    }
}

/// A new client of `department` with the analyst role and `attributes`, signed in.
async fn client(hub: &Hub, id: &str, department: &str, attributes: Value) -> reqwest::Client {
    let secret = hub.add_client(id, department, &["analyst"], attributes).await;
    hub.authorized(&hub.token(id, &secret).await)
}

async fn ask(hub: &Hub, client: &reqwest::Client, sql: &str, purpose: &str) -> (StatusCode, Value) {
    let (status, mut body) = hub.caller(client).query(sql, purpose).await;
    // Query ids are random: nothing to look for in them.
    if let Some(object) = body.as_object_mut() {
        object.remove("query_id");
    }
    (status, body)
}

async fn get(hub: &Hub, client: &reqwest::Client, path: &str) -> (StatusCode, Value) {
    hub.caller(client).get(path).await
}

/// HMAC-SHA256 of `value` with the hub's pseudonym key, first 16 bytes in hex: what the
/// hash mask shows (the test reads the key from the hub's data directory).
fn pseudonym(hub: &Hub, value: &str) -> String {
    let key = std::fs::read(hub.dir().join("pseudonym.key")).expect("pseudonym key");
    let tag = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key),
        value.as_bytes(),
    );
    hex(&tag.as_ref()[..16])
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Everything about residents that the grid worker may not see for [`CARE`]: every raw
/// ID, name, phone, full address, birth date and income, and the other grids.
fn hidden_from_care() -> Vec<String> {
    let mut hidden = Vec::new();
    for resident in &RESIDENTS {
        hidden.extend([
            resident.id_number.to_owned(),
            resident.name.to_owned(),
            resident.phone.to_owned(),
            resident.address.to_owned(),
            resident.born.to_owned(),
            resident.income.to_string(),
        ]);
        if resident.grid_id != "GC-001" {
            hidden.push(resident.grid_id.to_owned());
        }
    }
    // 王芳's income is also the sum of the grid's bands, which the analyst may compute.
    hidden.retain(|value| value != "150000");
    hidden.push("440604198001017777".into());
    hidden
}

/// The hidden values that occur in `text`, leaving out those the attempt wrote itself.
fn revealed(text: &str, sql: &str, hidden: &[String]) -> Vec<String> {
    hidden
        .iter()
        .filter(|value| text.contains(value.as_str()) && !sql.contains(value.as_str()))
        .cloned()
        .collect()
}

/// The message of a query refused for reading `columns` of the residents.
fn not_granted_message(columns: &[&str], purpose: &str) -> String {
    let columns: Vec<String> = columns
        .iter()
        .map(|column| format!("column {column} of {RESIDENTS_TABLE}"))
        .collect();
    format!(
        "the query reads {}, which no grant for purpose '{purpose}' lets you read",
        columns.join(", ")
    )
}

/// What an attempt must get back.
enum Expect {
    /// 403 `column_not_granted` naming these columns of the residents.
    NotGranted(&'static [&'static str]),
    /// 200 with exactly these rows.
    Rows(Value),
    /// This status and error code, and a message containing the text.
    Error(StatusCode, &'static str, String),
    /// An error, whatever its status and code.
    AnyError,
    /// An error with a 4xx status, whatever its code.
    AnyClientError,
}

struct Attempt {
    name: &'static str,
    purpose: &'static str,
    sql: String,
    expect: Expect,
}

fn attempt(name: &'static str, purpose: &'static str, sql: &str, expect: Expect) -> Attempt {
    Attempt {
        name,
        purpose,
        sql: sql.to_owned(),
        expect,
    }
}

fn denied(name: &'static str, sql: &str, columns: &'static [&'static str]) -> Attempt {
    attempt(name, CARE, sql, Expect::NotGranted(columns))
}

fn rows(name: &'static str, purpose: &'static str, sql: &str, rows: Value) -> Attempt {
    attempt(name, purpose, sql, Expect::Rows(rows))
}

/// A count that must come out as the analyst's own rows show it.
fn count(name: &'static str, purpose: &'static str, sql: &str, n: usize) -> Attempt {
    attempt(name, purpose, sql, Expect::Rows(json!([{ "n": n }])))
}

/// Runs every attempt; fails naming each attempt that got something else, or whose answer
/// holds a value in `hidden`.
async fn run_attempts(setup: &Setup, attempts: Vec<Attempt>, hidden: &[String]) {
    let total = attempts.len();
    let mut failures = Vec::new();
    for attempt in attempts {
        let (status, body) = setup.ask(&attempt.sql, attempt.purpose).await;
        let mut problems = Vec::new();
        let error = (&body["error"]["code"], body["error"]["message"].as_str());
        match &attempt.expect {
            Expect::NotGranted(columns) => {
                let message = not_granted_message(columns, attempt.purpose);
                if status != StatusCode::FORBIDDEN
                    || error.0 != "column_not_granted"
                    || error.1 != Some(message.as_str())
                {
                    problems.push(format!("expected 403 column_not_granted: {message}"));
                }
            }
            Expect::Rows(expected) => {
                if status != StatusCode::OK || body["rows"] != *expected {
                    problems.push(format!("expected 200 with rows {expected}"));
                }
            }
            Expect::Error(expected_status, code, text) => {
                if status != *expected_status
                    || error.0 != *code
                    || !error.1.is_some_and(|message| message.contains(text.as_str()))
                {
                    problems.push(format!("expected {expected_status} {code} saying '{text}'"));
                }
            }
            Expect::AnyError => {
                if status.is_success() || body.get("rows").is_some() {
                    problems.push("expected an error".into());
                }
            }
            Expect::AnyClientError => {
                if !status.is_client_error() || body.get("rows").is_some() {
                    problems.push("expected a 4xx error".into());
                }
            }
        }
        let leaked = revealed(&body.to_string(), &attempt.sql, hidden);
        if !leaked.is_empty() {
            problems.push(format!("the answer shows hidden values {leaked:?}"));
        }
        if !problems.is_empty() {
            failures.push(format!(
                "[{}] ({}) {}\n    {}\n    got {status} {body}",
                attempt.name,
                attempt.purpose,
                attempt.sql,
                problems.join("; ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {total} attempts got more than their grants allow:\n{}\n{}",
        failures.len(),
        failures.join("\n"),
        setup.hub.log()
    );
}

const R: &str = RESIDENTS_TABLE;

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
            "Cannot cast string '…' to value of Int32 type",
        ),
        fails(
            "a masked address cast to a number in a filter",
            "SELECT count(*) FROM {R} WHERE CAST(address AS BIGINT) > 0",
            bad,
            "evaluation_error",
            "Cannot cast string '…' to value of Int64 type",
        ),
        fails(
            "a hashed ID cast to a number",
            "SELECT CAST(id_number AS BIGINT) FROM {R}",
            bad,
            "evaluation_error",
            "Cannot cast string '…'",
        ),
        fails(
            "arrow_cast of a masked name",
            "SELECT arrow_cast(name, 'Int64') FROM {R}",
            bad,
            "evaluation_error",
            "Cannot cast string '…' to value of Int64 type",
        ),
        fails(
            "a masked name parsed as a timestamp",
            "SELECT to_timestamp(name) FROM {R}",
            bad,
            "evaluation_error",
            "Error parsing timestamp from '…'",
        ),
        fails(
            "a division by a banded number",
            "SELECT 1 / (income - income) FROM {R}",
            bad,
            "evaluation_error",
            "Divide by zero error",
        ),
        fails(
            "a banded number too large for its cast",
            "SELECT arrow_cast(income, 'Int8') FROM {R}",
            bad,
            "evaluation_error",
            "Cast error",
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

/// EXPLAIN shows the plan with the caller's own filter literal and nothing of the data;
/// EXPLAIN of a denied column is refused; EXPLAIN ANALYZE and EXPLAIN VERBOSE are refused.
#[tokio::test]
async fn explain_shows_the_plan_but_no_data() {
    let setup = Setup::start().await;
    let sql = |text: &str| text.replace("{R}", R);
    let refused_analyze = |name, text: &str| {
        attempt(
            name,
            CARE,
            &sql(text),
            Expect::Error(
                StatusCode::FORBIDDEN,
                "explain_not_allowed",
                "EXPLAIN ANALYZE and EXPLAIN VERBOSE are not available".into(),
            ),
        )
    };
    let attempts = vec![
        denied(
            "EXPLAIN of a denied column",
            &sql("EXPLAIN SELECT phone FROM {R}"),
            &["phone"],
        ),
        refused_analyze(
            "EXPLAIN VERBOSE of a denied column",
            "EXPLAIN VERBOSE SELECT name FROM {R} ORDER BY subsidy",
        ),
        refused_analyze("EXPLAIN ANALYZE", "EXPLAIN ANALYZE SELECT name FROM {R}"),
        refused_analyze(
            "EXPLAIN ANALYZE VERBOSE",
            "EXPLAIN ANALYZE VERBOSE SELECT count(*) FROM {R}",
        ),
        attempt(
            "EXPLAIN under another purpose",
            "marketing",
            &sql("EXPLAIN SELECT name FROM {R}"),
            Expect::Error(
                StatusCode::FORBIDDEN,
                "access_denied",
                "no grant lets you read civil_affairs.residents for the purpose 'marketing'".into(),
            ),
        ),
    ];
    run_attempts(&setup, attempts, &hidden_from_care()).await;

    let hidden = hidden_from_care();
    for (name, text) in [
        (
            "EXPLAIN",
            "EXPLAIN SELECT name, id_number, address, birth_date, income FROM {R} WHERE town = 'Guicheng'",
        ),
        (
            "EXPLAIN FORMAT tree",
            "EXPLAIN FORMAT tree SELECT name, id_number, income FROM {R}",
        ),
        (
            "EXPLAIN FORMAT pgjson",
            "EXPLAIN FORMAT pgjson SELECT name, id_number, income FROM {R}",
        ),
        (
            "EXPLAIN FORMAT graphviz",
            "EXPLAIN FORMAT graphviz SELECT name, id_number, income FROM {R}",
        ),
    ] {
        let (status, body) = setup.ask(&sql(text), CARE).await;
        assert_eq!(status, StatusCode::OK, "[{name}] {body}");
        let plan = body.to_string();
        // The physical plan shows the row filter the scan applies; the logical-only formats
        // show the scan.
        if name == "EXPLAIN" || name == "EXPLAIN FORMAT tree" {
            assert!(
                plan.contains("GC-001"),
                "[{name}] the caller's own filter: {plan}"
            );
        }
        let leaked = revealed(&plan, text, &hidden);
        assert!(leaked.is_empty(), "[{name}] shows {leaked:?}: {plan}");
    }
}

/// A restricted caller's own filters narrow what is read from a Parquet file (by its
/// statistics, bloom filters and page index) as an unrestricted caller's do, beside the row
/// filter; they are applied again above the row barrier, which applies the row filter.
#[tokio::test]
async fn a_restricted_callers_filters_still_prune_the_parquet_scan() {
    let setup = Setup::start().await;
    let (status, body) = setup
        .ask(
            &format!("EXPLAIN SELECT name FROM {R} WHERE town = 'Jiujiang'"),
            CARE,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let plan = body["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|row| row["plan_type"] == "physical_plan")
        .and_then(|row| row["plan"].as_str())
        .unwrap_or_default()
        .to_owned();
    let scan = plan
        .lines()
        .find(|line| line.contains("DataSourceExec"))
        .unwrap_or_default();
    assert!(
        scan.contains("predicate=") && scan.contains("Jiujiang") && scan.contains("GC-001"),
        "{plan}"
    );
    let above = plan.find("FilterExec").unwrap_or(usize::MAX);
    let barrier = plan.find("RowBarrierExec").unwrap_or(0);
    assert!(
        above < barrier,
        "the query's filter runs above the barrier: {plan}"
    );
    let (status, body) = setup
        .ask(&format!("SELECT name FROM {R} WHERE town = 'Jiujiang'"), CARE)
        .await;
    assert_eq!((status, &body["rows"]), (StatusCode::OK, &json!([])), "{body}");
}

/// EXPLAIN VERBOSE would print the statistics of the source (the raw minimum and maximum
/// of masked columns, the number of rows outside the caller's rows): it is refused, and the
/// refusal shows nothing of them.
#[tokio::test]
async fn explain_verbose_shows_no_statistics_of_hidden_values() {
    let setup = Setup::start().await;
    for (purpose, text) in [
        (CARE, "EXPLAIN VERBOSE SELECT name, id_number FROM {R}"),
        (
            CARE,
            "EXPLAIN VERBOSE SELECT income, birth_date, address FROM {R}",
        ),
        (OUTREACH, "EXPLAIN VERBOSE SELECT phone FROM {R}"),
    ] {
        let sql = text.replace("{R}", R);
        let (status, body) = setup.ask(&sql, purpose).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{sql}: {body}");
        assert_eq!(body["error"]["code"], "explain_not_allowed", "{sql}: {body}");
        let leaked = revealed(&body.to_string(), &sql, &hidden_from_care());
        assert!(leaked.is_empty(), "{sql}: {leaked:?}");
    }
}

/// The catalog is open to every caller: information_schema, SHOW TABLES, SHOW COLUMNS and
/// DESCRIBE list the datasets and their columns, never a value. SET, file paths as tables,
/// other catalogs and external tables are closed.
#[tokio::test]
async fn catalog_tables_and_statements_are_closed() {
    let setup = Setup::start().await;
    let error = |name, text: &str, code, message: &str| {
        attempt(
            name,
            CARE,
            text,
            Expect::Error(StatusCode::BAD_REQUEST, code, message.to_owned()),
        )
    };
    let residents_columns = json!([
        {"column_name": "id_number"}, {"column_name": "name"}, {"column_name": "phone"},
        {"column_name": "address"}, {"column_name": "birth_date"}, {"column_name": "town"},
        {"column_name": "grid_id"}, {"column_name": "income"}, {"column_name": "subsidy"},
    ]);
    let attempts = vec![
        attempt(
            "information_schema.tables",
            CARE,
            "SELECT table_schema, table_name FROM information_schema.tables \
             WHERE table_schema <> 'information_schema' ORDER BY 1, 2",
            Expect::Rows(json!([
                {"table_schema": "audit", "table_name": "events"},
                {"table_schema": "civil_affairs", "table_name": "residents"},
                {"table_schema": "land_registry", "table_name": "parcels"},
            ])),
        ),
        attempt(
            "information_schema.columns",
            CARE,
            "SELECT column_name FROM information_schema.columns \
             WHERE table_name = 'residents' ORDER BY ordinal_position",
            Expect::Rows(residents_columns.clone()),
        ),
        attempt(
            "information_schema.columns of a dataset not granted for the purpose",
            OUTREACH,
            "SELECT column_name FROM information_schema.columns \
             WHERE table_name = 'parcels' ORDER BY ordinal_position",
            Expect::Rows(json!([
                {"column_name": "parcel_id"}, {"column_name": "owner_id_number"},
                {"column_name": "area"}, {"column_name": "town"},
            ])),
        ),
        error(
            "SET a statistics option",
            "SET datafusion.explain.show_statistics = true",
            "not_read_only",
            "not SET",
        ),
        error(
            "the source file as a table",
            "SELECT * FROM 'residents.parquet'",
            "unknown_table",
            "not found",
        ),
        error(
            "another catalog",
            "SELECT * FROM datafusion.public.residents",
            "unknown_table",
            "not found",
        ),
        error(
            "an external table over the source",
            "CREATE EXTERNAL TABLE r STORED AS PARQUET LOCATION 'residents.parquet'",
            "not_read_only",
            "not CREATE EXTERNAL TABLE",
        ),
    ];
    run_attempts(&setup, attempts, &hidden_from_care()).await;

    for (sql, expected) in [
        ("SHOW TABLES", vec!["residents", "parcels"]),
        (
            "SHOW COLUMNS FROM civil_affairs.residents",
            vec!["id_number", "income", "subsidy"],
        ),
        (
            "DESCRIBE land_registry.parcels",
            vec!["parcel_id", "owner_id_number", "area"],
        ),
    ] {
        let (status, body) = setup.ask(sql, OUTREACH).await;
        assert_eq!(status, StatusCode::OK, "{sql}: {body}");
        let listing = body["rows"].to_string();
        for name in expected {
            assert!(
                listing.contains(&format!("\"{name}\"")),
                "{sql} lists no {name}: {listing}"
            );
        }
        let leaked = revealed(&listing, sql, &hidden_from_care());
        assert!(leaked.is_empty(), "{sql} shows {leaked:?}");
    }
    // Listed is not readable: the parcels are granted for care, not outreach. Not even a
    // query the optimiser answers without reading them, nor the plan of one.
    for sql in [
        "SELECT parcel_id FROM land_registry.parcels",
        "SELECT count(*) AS n FROM land_registry.parcels WHERE false",
        "EXPLAIN SELECT * FROM land_registry.parcels",
    ] {
        let (status, body) = setup.ask(sql, OUTREACH).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{sql}: {body}");
        assert!(body.get("rows").is_none(), "{sql}: {body}");
    }
}

/// Grants count only for their purposes, while in force, and for their subject: another
/// purpose, an expired or future grant, another client's, department's or role's grant,
/// and membership of the owning department without the publisher role give nothing.
#[tokio::test]
async fn grants_count_only_for_their_purpose_period_and_subject() {
    let setup = Setup::start().await;
    let hub = &setup.hub;
    let raw = |subject: Value, purpose: &str| {
        json!({
            "subject": subject,
            "dataset": RESIDENTS_TABLE,
            "unmasked": ["id_number", "name", "phone", "address", "birth_date"],
            "purposes": [purpose],
        })
    };
    let mut expired = raw(json!({"client": ANALYST}), "old-survey");
    expired["valid_from"] = json!("2020-01-01T00:00:00Z");
    expired["expires_at"] = json!("2021-01-01T00:00:00Z");
    let mut future = raw(json!({"client": ANALYST}), "future-study");
    future["valid_from"] = json!("2099-01-01T00:00:00Z");
    for grant in [
        expired,
        future,
        raw(json!({"client": "other-analyst"}), "audit-review"),
        raw(json!({"department": "tax"}), "tax-check"),
        raw(
            json!({"department": "town_office", "role": "publisher"}),
            "publishing-check",
        ),
    ] {
        hub.grant(grant).await;
    }
    let no_grant = |name, purpose: &'static str, dataset: &str| {
        attempt(
            name,
            purpose,
            &format!("SELECT name FROM {dataset}"),
            Expect::Error(
                StatusCode::FORBIDDEN,
                "access_denied",
                format!("no grant lets you read {dataset} for the purpose '{purpose}'"),
            ),
        )
    };
    let attempts = vec![
        no_grant("a purpose without a grant", "marketing", R),
        no_grant("an expired grant", "old-survey", R),
        no_grant("a grant not yet in force", "future-study", R),
        no_grant("another client's grant", "audit-review", R),
        no_grant("another department's grant", "tax-check", R),
        no_grant(
            "a grant for publishers of the analyst's department",
            "publishing-check",
            R,
        ),
        no_grant("the admin's purpose", "testing", R),
        attempt(
            "a join with a dataset not granted for the purpose",
            OUTREACH,
            "SELECT r.name FROM civil_affairs.residents r JOIN land_registry.parcels p ON p.owner_id_number = r.id_number",
            Expect::Error(
                StatusCode::FORBIDDEN,
                "access_denied",
                "no grant lets you read land_registry.parcels for the purpose 'phone-outreach'".into(),
            ),
        ),
        attempt(
            "a subquery on a dataset not granted for the purpose",
            OUTREACH,
            "SELECT name FROM civil_affairs.residents WHERE EXISTS (SELECT 1 FROM land_registry.parcels)",
            Expect::Error(
                StatusCode::FORBIDDEN,
                "access_denied",
                "no grant lets you read land_registry.parcels for the purpose 'phone-outreach'".into(),
            ),
        ),
        attempt(
            "an empty purpose",
            "",
            "SELECT name FROM civil_affairs.residents",
            Expect::Error(
                StatusCode::BAD_REQUEST,
                "missing_purpose",
                "every query must state its purpose".into(),
            ),
        ),
    ];
    run_attempts(&setup, attempts, &hidden_from_care()).await;

    // The owning department's analysts (not publishers) have no implicit grant.
    let insider = client(hub, "register-clerk", "civil_affairs", json!({})).await;
    for purpose in [CARE, "testing", "anything"] {
        let (status, body) = ask(hub, &insider, &format!("SELECT name FROM {R}"), purpose).await;
        assert_eq!(
            (status, &body["error"]["code"]),
            (StatusCode::FORBIDDEN, &json!("access_denied")),
            "[an analyst of the owning department, purpose {purpose}] {body}"
        );
    }
    // The same purpose name in other letters is another purpose.
    let (status, body) = setup.ask(&format!("SELECT name FROM {R}"), "Grid-Care").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "[purpose in capitals] {body}");
}

/// A revoked grant stops counting at the very next query.
#[tokio::test]
async fn a_revoked_grant_stops_at_the_next_query() {
    let setup = Setup::start().await;
    let grant = setup
        .hub
        .grant(json!({
            "subject": {"client": ANALYST},
            "dataset": RESIDENTS_TABLE,
            "columns": ["name", "grid_id"],
            "unmasked": ["name"],
            "row_filter": "grid_id = principal.grid_id",
            "purposes": ["census"],
        }))
        .await;
    let id = grant["id"].as_str().expect("grant id").to_owned();
    let sql = format!("SELECT name FROM {R} ORDER BY name");
    let (status, body) = setup.ask(&sql, "census").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["rows"],
        json!([{"name": "张伟"}, {"name": "李娜"}, {"name": "赵磊"}])
    );

    // The analyst cannot revoke grants (nor keep one alive by trying).
    let response = setup
        .analyst
        .delete(format!("{}/v1/grants/{id}", setup.hub.url))
        .send()
        .await
        .expect("revoke");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    assert_eq!(
        setup.hub.delete(&format!("/v1/grants/{id}")).await,
        StatusCode::NO_CONTENT
    );
    let (status, body) = setup.ask(&sql, "census").await;
    assert_eq!(
        (status, &body["error"]["code"], &body["error"]["message"]),
        (
            StatusCode::FORBIDDEN,
            &json!("access_denied"),
            &json!("no grant lets you read civil_affairs.residents for the purpose 'census'")
        ),
        "the query right after the revocation: {body}"
    );
    let (status, body) = setup.ask(&format!("EXPLAIN {sql}"), "census").await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "EXPLAIN after the revocation: {body}"
    );
    let (_, explained) = get(
        &setup.hub,
        &setup.analyst,
        "/v1/access/explain?dataset=civil_affairs.residents&purpose=census",
    )
    .await;
    assert_eq!(explained["allowed"], false, "{explained}");
}

/// Attribute values crafted to inject SQL stay literals: each crafted grid sees only the
/// rows whose grid is that very string.
#[tokio::test]
async fn crafted_attribute_values_stay_literals() {
    let setup = Setup::start().await;
    let hub = &setup.hub;
    // The same register in SQLite, whose provider sends filters to the database as SQL.
    let connection = rusqlite::Connection::open(hub.dir().join("register.db")).expect("sqlite");
    connection
        .execute("CREATE TABLE people (name TEXT, grid_id TEXT)", [])
        .expect("table");
    for resident in &RESIDENTS {
        connection
            .execute(
                "INSERT INTO people VALUES (?1, ?2)",
                [resident.name, resident.grid_id],
            )
            .expect("row");
    }
    drop(connection);
    hub.publish_ok(
        r#"
contract:
  department: civil_affairs
  name: register_db
  title: Register in SQLite
  owner: { name: Register desk, email: register@example.gov }
  fields:
    - { name: name, type: string, classification: pii.name }
    - { name: grid_id, type: string, classification: public }
source: { kind: sqlite, path: register.db, table: people }
"#,
    )
    .await;
    for dataset in [RESIDENTS_TABLE, "civil_affairs.register_db"] {
        hub.grant(json!({
            "subject": {"department": "probe"},
            "dataset": dataset,
            "columns": ["name", "grid_id"],
            "row_filter": "grid_id = principal.grid_id",
            "purposes": ["probe"],
        }))
        .await;
    }
    let cases: Vec<(&str, Value, Value)> = vec![
        (
            "a plain grid (the control)",
            json!("GC-001"),
            json!([
                {"name": "张****", "grid_id": "GC-001"},
                {"name": "李****", "grid_id": "GC-001"},
                {"name": "赵****", "grid_id": "GC-001"},
            ]),
        ),
        (
            "quote OR '1'='1",
            json!(INJECTION_GRID),
            json!([{"name": "黄****", "grid_id": INJECTION_GRID}]),
        ),
        ("closing parenthesis OR (1=1", json!("') OR (1=1"), json!([])),
        ("comment after the grid", json!("GC-001' --"), json!([])),
        ("backslash-escaped quote", json!("GC-001\\' OR 1=1 --"), json!([])),
        ("trailing backslash", json!("GC-001\\"), json!([])),
        ("double quotes", json!("GC-001\" OR \"1\"=\"1"), json!([])),
        (
            "UNION SELECT",
            json!("GC-001' UNION SELECT phone, grid_id FROM civil_affairs.residents --"),
            json!([]),
        ),
        ("LIKE wildcard", json!("%"), json!([])),
        ("statement separator", json!("GC-001'; SELECT 1; --"), json!([])),
        (
            "a list where one value is expected",
            json!(["GC-001", "x' OR 1=1 --"]),
            json!([]),
        ),
        ("empty string", json!(""), json!([])),
    ];
    let mut failures = Vec::new();
    for (index, (name, grid, expected)) in cases.iter().enumerate() {
        let id = format!("probe-{index}");
        let probe = client(hub, &id, "probe", json!({ "grid_id": grid })).await;
        for dataset in [RESIDENTS_TABLE, "civil_affairs.register_db"] {
            let sql = format!("SELECT name, grid_id FROM {dataset} ORDER BY name");
            let (status, body) = ask(hub, &probe, &sql, "probe").await;
            if status != StatusCode::OK || body["rows"] != *expected {
                failures.push(format!(
                    "[{name}, {dataset}] grid {grid}: expected {expected}, got {status} {body}"
                ));
            }
        }
    }
    let nobody = client(hub, "probe-without-grid", "probe", json!({})).await;
    for dataset in [RESIDENTS_TABLE, "civil_affairs.register_db"] {
        let sql = format!("SELECT count(*) AS n FROM {dataset}");
        let (status, body) = ask(hub, &nobody, &sql, "probe").await;
        if status != StatusCode::OK || body["rows"] != json!([{"n": 0}]) {
            failures.push(format!(
                "[no grid attribute, {dataset}] expected no rows, got {status} {body}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Keyed pseudonyms join across datasets, yet are neither the raw value nor a plain
/// digest of it.
#[tokio::test]
async fn pseudonyms_join_across_datasets_but_are_no_plain_digest() {
    let setup = Setup::start().await;
    let (status, body) = setup
        .ask(
            &format!(
                "SELECT p.parcel_id, r.id_number, p.owner_id_number, r.name FROM land_registry.parcels p \
                 JOIN {R} r ON r.id_number = p.owner_id_number ORDER BY p.parcel_id"
            ),
            CARE,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let zhang = setup.pseudonym(RESIDENTS[0].id_number);
    let li = setup.pseudonym(RESIDENTS[1].id_number);
    assert_eq!(
        body["rows"],
        json!([
            {"parcel_id": "P-1", "id_number": zhang, "owner_id_number": zhang, "name": "张****"},
            {"parcel_id": "P-5", "id_number": li, "owner_id_number": li, "name": "李****"},
        ])
    );

    let id = RESIDENTS[0].id_number;
    let mut failures = Vec::new();
    for (kind, digest) in local_digests(id).await {
        if zhang == digest || digest.starts_with(&zhang) {
            failures.push(format!("[plain digest] the pseudonym is a {kind} of the ID"));
        }
    }
    if zhang == id || zhang.len() != 32 || zhang.contains("123X") || zhang.contains("4406") {
        failures.push(format!("[opaque] the pseudonym {zhang} shows the ID"));
    }

    // Nor does the hub compute pseudonyms for whoever asks: only the mask applies the key.
    let (status, body) = setup
        .ask(&format!("SELECT causeway_pseudonym('{id}') AS p"), CARE)
        .await;
    if !status.is_client_error() || body.to_string().contains(&zhang) {
        failures.push(format!(
            "[the pseudonym function called on a guessed ID] expected a refusal, got {status} {body}"
        ));
    }
    // Or else a guess of the ID from what the masks show (the district's region code, the
    // year of birth, the last four characters) is confirmed by joining on the pseudonym.
    let guesses = format!(
        "SELECT c.guess, r.name FROM \
         (SELECT '440604' || to_char(to_timestamp_seconds(631152000 + g * 86400), '%Y%m%d') || '123X' AS guess \
          FROM generate_series(0, 364) t(g)) c \
         JOIN {R} r ON r.id_number = causeway_pseudonym(c.guess)"
    );
    let (status, body) = setup.ask(&guesses, CARE).await;
    if body.to_string().contains(id) {
        failures.push(format!(
            "[the ID brute-forced through the pseudonym function] got {status} {body}"
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `value`'s digest of `kind` in hex, computed here with DataFusion.
async fn digest(value: &str, kind: &str) -> String {
    let context = datafusion::prelude::SessionContext::new();
    let frame = context
        .sql(&format!("SELECT encode(digest('{value}', '{kind}'), 'hex') AS d"))
        .await
        .expect("digest sql");
    let batches = frame.collect().await.expect("digest");
    let column = cast(batches[0].column(0), &DataType::Utf8).expect("text");
    column
        .as_any()
        .downcast_ref::<StringArray>()
        .expect("strings")
        .value(0)
        .to_owned()
}

/// Plain digests of `value` in hex, lower and upper case.
async fn local_digests(value: &str) -> Vec<(String, String)> {
    let mut digests = Vec::new();
    for kind in ["md5", "sha224", "sha256", "sha512"] {
        let text = digest(value, kind).await;
        digests.push((kind.to_owned(), text.to_uppercase()));
        digests.push((kind.to_owned(), text));
    }
    let sha1 = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, value.as_bytes());
    digests.push(("sha1".into(), hex(sha1.as_ref())));
    digests
}

/// Two hubs give different pseudonyms for the same value: each has its own key.
#[tokio::test]
async fn pseudonyms_differ_from_hub_to_hub() {
    let mut pseudonyms = Vec::new();
    for _ in 0..2 {
        let hub = Hub::start("").await;
        write_residents(hub.dir());
        hub.publish_ok(RESIDENTS_SPEC).await;
        hub.grant(json!({
            "subject": {"client": ADMIN},
            "dataset": RESIDENTS_TABLE,
            "columns": ["id_number"],
            "masks": {"id_number": {"kind": "hash"}},
            "purposes": ["hash-check"],
        }))
        .await;
        let sql =
            format!("SELECT id_number FROM {R} WHERE grid_id IS NULL OR true ORDER BY id_number LIMIT 1");
        let (status, body) = ask(&hub, &hub.http, &sql, "hash-check").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let sql = format!("SELECT id_number FROM {R}");
        let (_, all) = ask(&hub, &hub.http, &sql, "hash-check").await;
        let expected = pseudonym(&hub, RESIDENTS[0].id_number);
        let shown: Vec<&str> = all["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .filter_map(|row| row["id_number"].as_str())
            .collect();
        assert!(shown.contains(&expected.as_str()), "{all}");
        pseudonyms.push(expected);
    }
    assert_ne!(pseudonyms[0], pseudonyms[1], "the same ID on two hubs");
}

/// The catalog and a dataset's description show contracts, never rows; the access
/// explanation tells the analyst which columns are denied or masked, and the analyst sees
/// only the grants made for them.
#[tokio::test]
async fn catalog_and_explanations_show_contracts_not_rows() {
    let setup = Setup::start().await;
    let hub = &setup.hub;
    hub.grant(json!({
        "subject": {"client": "other-analyst"},
        "dataset": RESIDENTS_TABLE,
        "unmasked": ["phone"],
        "row_filter": "grid_id = 'JJ-001'",
        "purposes": ["audit-review"],
    }))
    .await;
    let hidden = hidden_from_care();
    for path in [
        "/v1/catalog",
        "/v1/datasets/civil_affairs/residents",
        "/v1/datasets/land_registry/parcels",
        "/v1/grants",
        "/v1/access/explain?dataset=civil_affairs.residents&purpose=grid-care",
        "/v1/access/explain?dataset=civil_affairs.residents&purpose=audit-review",
    ] {
        let (status, body) = get(hub, &setup.analyst, path).await;
        assert_eq!(status, StatusCode::OK, "[{path}] {body}");
        let leaked = revealed(&body.to_string(), path, &hidden);
        assert!(leaked.is_empty(), "[{path}] shows {leaked:?}: {body}");
    }

    let (_, catalog) = get(hub, &setup.analyst, "/v1/catalog").await;
    let residents = catalog["departments"]
        .as_array()
        .expect("departments")
        .iter()
        .flat_map(|department| department["datasets"].as_array().cloned().unwrap_or_default())
        .find(|dataset| dataset["table"] == RESIDENTS_TABLE)
        .expect("residents in the catalog");
    let phone = residents["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .find(|field| field["name"] == "phone")
        .expect("phone field");
    assert_eq!(phone["classification"], "pii.phone");

    let (_, grants) = get(hub, &setup.analyst, "/v1/grants").await;
    let grants = grants.as_array().expect("grants");
    assert_eq!(grants.len(), 5, "only the analyst's own grants: {grants:?}");
    assert!(
        !serde_json::to_string(grants)
            .expect("json")
            .contains("other-analyst"),
        "{grants:?}"
    );

    let (_, explained) = get(
        hub,
        &setup.analyst,
        "/v1/access/explain?dataset=civil_affairs.residents&purpose=grid-care",
    )
    .await;
    assert_eq!(explained["allowed"], true, "{explained}");
    let decision = &explained["decision"];
    assert_eq!(
        decision["grants"][0]["row_filter"], "grid_id = principal.grid_id",
        "{explained}"
    );
    let access = |column: &str| -> Value {
        decision["columns"]
            .as_array()
            .expect("columns")
            .iter()
            .find(|entry| entry["name"] == column)
            .cloned()
            .unwrap_or_else(|| panic!("{column} in {explained}"))
    };
    for column in ["phone", "subsidy"] {
        assert_eq!(access(column)["access"], "denied", "{column}: {explained}");
    }
    let mask = |column: &str| access(column)["through"][0]["mask"].clone();
    assert_eq!(mask("id_number"), json!({"kind": "hash"}));
    assert_eq!(mask("name"), json!({"kind": "partial", "first": 1, "last": 0}));
    assert_eq!(mask("address"), json!({"kind": "prefix", "before": ","}));
    assert_eq!(mask("birth_date"), json!({"kind": "year_only"}));
    assert_eq!(mask("income"), json!({"kind": "bucket", "width": 10000.0}));
    assert_eq!(mask("town"), Value::Null);

    let (_, other) = get(
        hub,
        &setup.analyst,
        "/v1/access/explain?dataset=civil_affairs.residents&purpose=audit-review",
    )
    .await;
    assert_eq!(
        (&other["allowed"], &other["reason"]),
        (
            &json!(false),
            &json!("no grant lets you read civil_affairs.residents for the purpose 'audit-review'")
        ),
        "{other}"
    );
}
