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

use crate::support::{ADMIN, Hub, hex, pseudonym, write_parquet};

mod columns_and_masks;
mod explain_and_catalog;
mod grants_and_attributes;
mod pseudonyms;
mod rows_and_errors;

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
