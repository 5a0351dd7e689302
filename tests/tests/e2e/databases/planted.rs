//! Errors carry no values: rows whose values hold every kind of quote, backslashes, line
//! breaks and a driver's own words are planted in each kind of source, every class of
//! error the hub has is triggered over them (values a source cannot read, casts, parses,
//! divisions by zero, regular expressions, contracts that do not match, a source gone),
//! and no planted value appears in any response, in the hub's log or in the audit log.

use super::*;

/// Every planted value holds this token; nothing a caller, the log or the audit log sees
/// may hold it.
const TOKEN: &str = "pl4nted";

/// Values wrapped in each kind of quote and escape that a redaction by pattern would pair
/// wrongly, with the words of drivers' messages around them.
fn planted() -> Vec<String> {
    [
        "O'Brien {t}",
        "\"{t}\" said",
        "`{t}`",
        "’{t}’s",
        "“{t}”",
        "「{t}」",
        "back\\slash {t}\\",
        "line\nbreak {t}",
        "Couldn't parse {t}: invalid digit",
        "'; {t} '",
    ]
    .iter()
    .map(|pattern| pattern.replace("{t}", TOKEN))
    .collect()
}

/// `text` as a PostgreSQL or SQLite string literal: quotes doubled, nothing else escaped.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A CSV field, quoted as RFC 4180 says.
fn csv_field(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

#[tokio::test]
async fn no_error_of_any_class_carries_a_planted_value() {
    let Some(Database::Postgres(pg)) = Database::postgres().await else {
        return;
    };
    let Some(Database::Mysql(my)) = Database::mysql().await else {
        pg.cleanup().await;
        return;
    };
    let values = planted();

    // PostgreSQL: notes, and a date column holding 'infinity', which no contract date holds.
    let rows: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(index, value)| format!("({index}, {}, 'infinity')", literal(value)))
        .collect();
    pg.execute(&format!(
        "CREATE TABLE notes (id bigint, note text, due date); INSERT INTO notes VALUES {};",
        rows.join(", ")
    ))
    .await;
    // MariaDB: notes, and a date no calendar has (written under a lax sql_mode).
    {
        let mut connection = my.pool.get_conn().await.expect("mysql connection");
        connection
            .query_drop(format!(
                "SET SESSION sql_mode = ''; CREATE TABLE {db}.notes (id bigint, note text, due date);",
                db = my.database
            ))
            .await
            .expect("mysql table");
        for (index, value) in values.iter().enumerate() {
            connection
                .exec_drop(
                    format!("INSERT INTO {}.notes VALUES (?, ?, '2025-01-00')", my.database),
                    (index as i64, value.as_str()),
                )
                .await
                .expect("mysql row");
        }
    }
    let config = format!(
        "{}{}",
        postgres_connection("pgnotes", &pg.schema),
        mysql_connection("mynotes")
    );
    let hub = Hub::start(&config).await;

    // SQLite: an INTEGER column that holds the planted text.
    {
        let connection = rusqlite::Connection::open(hub.dir().join("notes.db")).expect("sqlite");
        connection
            .execute_batch("CREATE TABLE notes (id INTEGER, note TEXT, amount INTEGER);")
            .expect("sqlite table");
        for (index, value) in values.iter().enumerate() {
            connection
                .execute(
                    "INSERT INTO notes VALUES (?1, ?2, ?2)",
                    rusqlite::params![index as i64, value],
                )
                .expect("sqlite row");
        }
    }
    // CSV: a bigint column, and NDJSON: a number column, holding the planted text after
    // rows that read well (so that the types are guessed right and the read fails later).
    let mut csv = String::from("id,note,amount\n");
    let mut ndjson = String::new();
    for index in 0..1200 {
        csv.push_str(&format!("{index},fine,{index}\n"));
        ndjson.push_str(&format!(
            "{{\"id\":{index},\"note\":\"fine\",\"amount\":{index}}}\n"
        ));
    }
    for (index, value) in values.iter().enumerate() {
        csv.push_str(&format!(
            "{},{},{}\n",
            2000 + index,
            csv_field(value),
            csv_field(value)
        ));
        let json = serde_json::to_string(value).expect("json string");
        ndjson.push_str(&format!(
            "{{\"id\":{},\"note\":{json},\"amount\":{json}}}\n",
            2000 + index
        ));
    }
    std::fs::write(hub.dir().join("notes.csv"), csv).expect("csv");
    std::fs::write(hub.dir().join("notes.ndjson"), ndjson).expect("ndjson");

    let publish = |name: &str, source: String, fields: &[(&str, &str)]| {
        let fields: String = fields
            .iter()
            .map(|(field, data_type)| format!("    - {{ name: {field}, type: \"{data_type}\" }}\n"))
            .collect();
        format!(
            "contract:\n  department: records\n  name: {name}\n  title: {name}\n\
             \x20 owner: {{ name: Desk, email: desk@example.gov }}\n  fields:\n{fields}source: {source}\n"
        )
    };
    let specs = [
        publish(
            "pg_notes",
            format!(
                "{{ kind: postgres, connection: pgnotes, table: {}.notes }}",
                pg.schema
            ),
            &[("id", "bigint"), ("note", "string"), ("due", "date")],
        ),
        publish(
            "my_notes",
            format!(
                "{{ kind: mysql, connection: mynotes, table: {}.notes }}",
                my.database
            ),
            &[("id", "bigint"), ("note", "string"), ("due", "date")],
        ),
        publish(
            "lite_notes",
            "{ kind: sqlite, path: notes.db, table: notes }".to_owned(),
            &[("id", "bigint"), ("note", "string"), ("amount", "bigint")],
        ),
        publish(
            "csv_notes",
            "{ kind: csv, path: notes.csv }".to_owned(),
            &[("id", "bigint"), ("note", "string"), ("amount", "bigint")],
        ),
        publish(
            "json_notes",
            "{ kind: ndjson, path: notes.ndjson }".to_owned(),
            &[("id", "bigint"), ("note", "string"), ("amount", "bigint")],
        ),
    ];
    for spec in &specs {
        hub.publish_ok(spec).await;
    }

    let mut seen = Vec::new();
    let mut failed = 0;
    let mut query = async |sql: String| {
        let (status, body) = hub.query(&sql).await;
        if status != StatusCode::OK {
            failed += 1;
        }
        seen.push(format!("{sql} -> {status} {body}"));
    };
    // A source that cannot read its own values.
    query("SELECT due FROM records.pg_notes".into()).await;
    query("SELECT due FROM records.my_notes".into()).await;
    query("SELECT amount FROM records.lite_notes".into()).await;
    query("SELECT sum(amount) FROM records.csv_notes".into()).await;
    query("SELECT sum(amount) FROM records.json_notes".into()).await;
    // What the hub computes over the planted values, in every source.
    for table in ["pg_notes", "my_notes", "lite_notes", "csv_notes", "json_notes"] {
        for expression in [
            "CAST(note AS INT)",
            "arrow_cast(note, 'Date32')",
            "to_timestamp(note)",
            "CAST(note AS DECIMAL(10, 2))",
            "regexp_replace('x', note, '')",
            "regexp_replace('x', note || '(', '')",
            "decode(note, 'hex')",
            "chr(length(note) * 1000000)",
            "1 / (length(note) - length(note))",
            "CAST(note AS BOOLEAN)",
            "to_date(note)",
        ] {
            query(format!(
                "SELECT id, {expression} FROM records.{table} WHERE note <> 'fine' AND id >= 0"
            ))
            .await;
        }
    }
    // A contract that no longer matches, and a source that is gone.
    pg.execute("ALTER TABLE notes RENAME COLUMN note TO remark;")
        .await;
    query("SELECT note FROM records.pg_notes".into()).await;
    pg.execute("DROP TABLE notes;").await;
    query("SELECT id FROM records.pg_notes".into()).await;
    std::fs::remove_file(hub.dir().join("notes.csv")).expect("remove csv");
    query("SELECT id FROM records.csv_notes".into()).await;
    let (status, body) = hub.get("/v1/catalog").await;
    seen.push(format!("catalog -> {status} {body}"));
    let (status, body) = hub.get("/v1/health").await;
    seen.push(format!("health -> {status} {body}"));

    assert!(failed >= 40, "most attempts fail: {failed}\n{}", seen.join("\n"));
    let leaks: Vec<&String> = seen.iter().filter(|answer| answer.contains(TOKEN)).collect();
    assert!(leaks.is_empty(), "planted values in answers:\n{leaks:#?}");
    assert!(!hub.log().contains(TOKEN), "a planted value in the hub's log");
    let audit = audit_text(&hub.dir().join("audit"));
    assert!(!audit.is_empty(), "the audit log was written");
    assert!(!audit.contains(TOKEN), "a planted value in the audit log");
    drop(hub);
    pg.cleanup().await;
    my.cleanup().await;
}

/// Every file of the audit log, as text.
fn audit_text(dir: &std::path::Path) -> String {
    let mut text = String::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            text.push_str(&audit_text(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            text.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    text
}
