//! Alert rules: office hours, and one open alert per rule, principal, dataset and control.

use super::*;

/// A distinct-person quota reached in one dataset raises its alert once while it is open,
/// and a quota reached in another dataset raises one of its own.
#[tokio::test]
async fn a_subject_quota_alert_is_per_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let keys = std::sync::Arc::new(crate::identity::KeyRing::open(&dir.path().join("keys")).unwrap());
    let audit = AuditLog::open(
        &dir.path().join("audit"),
        &crate::config::AuditConfig::default(),
        keys,
    )
    .unwrap();
    let store = MetadataStore::connect(&format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("metadata.db").display()
    ))
    .await
    .unwrap();
    let alerts = Alerts::open(&AlertsConfig::default(), store.clone(), audit)
        .await
        .unwrap();
    let now = Utc::now();
    for (dataset, control) in [
        ("land_registry.parcels", "max_subjects_per_day"),
        ("land_registry.parcels", "max_subjects_per_day"),
        ("civil_affairs.residents", "max_subjects_per_day"),
        ("civil_affairs.residents", "max_attempts_per_subject"),
    ] {
        let detail = serde_json::json!({"control": control, "dataset": dataset, "limit": 4});
        alerts.subject_quota_reached("grid-worker", detail, now).await;
    }
    let mut about: Vec<String> = store
        .list_open_alerts()
        .await
        .unwrap()
        .iter()
        .map(|alert| alert.detail["dataset"].as_str().unwrap_or_default().to_owned())
        .collect();
    about.sort();
    assert_eq!(
        about,
        [
            "civil_affairs.residents",
            "civil_affairs.residents",
            "land_registry.parcels"
        ]
    );
}

fn at(text: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(text).unwrap()
}

fn hours(text: &str) -> NaiveTime {
    text.parse().unwrap()
}

#[test]
fn office_hours_in_local_time_on_working_days() {
    let (start, end, days) = (hours("08:00:00"), hours("18:00:00"), working_days());
    // Wednesday 2026-11-25.
    assert!(in_office_hours(
        &at("2026-11-25T09:30:00+08:00"),
        start,
        end,
        &days
    ));
    assert!(!in_office_hours(
        &at("2026-11-25T18:00:00+08:00"),
        start,
        end,
        &days
    ));
    assert!(!in_office_hours(
        &at("2026-11-25T07:59:59+08:00"),
        start,
        end,
        &days
    ));
    assert!(
        !in_office_hours(&at("2026-11-28T10:00:00+08:00"), start, end, &days),
        "Saturday"
    );
    // 01:30 UTC is 09:30 in Beijing.
    let utc = at("2026-11-25T01:30:00Z");
    let beijing = utc.with_timezone(&"+08:00".parse::<FixedOffset>().unwrap());
    assert!(in_office_hours(&beijing, start, end, &days));
    assert!(!in_office_hours(&utc, start, end, &days));
}

#[test]
fn night_shifts_and_empty_hours() {
    let days = working_days();
    let (start, end) = (hours("22:00:00"), hours("06:00:00"));
    assert!(in_office_hours(&at("2026-11-25T23:00:00Z"), start, end, &days));
    assert!(in_office_hours(&at("2026-11-25T05:00:00Z"), start, end, &days));
    assert!(!in_office_hours(&at("2026-11-25T12:00:00Z"), start, end, &days));
    let midnight = hours("00:00:00");
    assert!(!in_office_hours(
        &at("2026-11-25T12:00:00Z"),
        midnight,
        midnight,
        &days
    ));
}
