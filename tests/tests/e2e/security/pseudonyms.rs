//! Keyed pseudonyms: they join across datasets, are no plain digest, and differ between hubs.

use super::*;

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
