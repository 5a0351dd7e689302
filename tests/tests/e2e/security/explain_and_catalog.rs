//! EXPLAIN, the Parquet scan's pruning, the catalog and the access explanations: plans and
//! contracts, never data.

use super::*;

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
    let plan = crate::support::physical_plan_of(&body);
    let scan = crate::support::source_scan(&plan);
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

/// How many rows a dataset holds is shown only to whoever may read all of them: the
/// analyst, whose grants on residents all filter rows, sees no count of residents but
/// sees the count of parcels, granted whole; the owning department's publisher sees both.
#[tokio::test]
async fn row_counts_are_shown_only_to_callers_who_read_every_row() {
    let setup = Setup::start().await;
    let (status, residents) = get(&setup.hub, &setup.analyst, "/v1/datasets/civil_affairs/residents").await;
    assert_eq!(status, StatusCode::OK, "{residents}");
    assert_eq!(residents["row_count_estimate"], Value::Null, "{residents}");
    let (_, parcels) = get(&setup.hub, &setup.analyst, "/v1/datasets/land_registry/parcels").await;
    assert!(parcels["row_count_estimate"].as_u64().is_some(), "{parcels}");
    let (_, owned) = setup.hub.get("/v1/datasets/civil_affairs/residents").await;
    assert_eq!(
        owned["row_count_estimate"].as_u64(),
        Some(RESIDENTS.len() as u64),
        "{owned}"
    );
}
