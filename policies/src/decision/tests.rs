//! The authorizer's decisions on small datasets and grants.

use super::*;
use crate::model::{DenyRule, Subject};
use crate::principal::Role;

pub(crate) fn residents() -> DatasetInfo {
    let column = |name: &str, tag: &str| ColumnInfo {
        name: name.into(),
        data_type: DataType::Utf8,
        classification: Classification::new(tag).unwrap(),
    };
    DatasetInfo {
        id: DatasetId::new("civil_affairs", "residents"),
        columns: vec![
            column("id_number", "pii.national_id"),
            column("name", "pii.name"),
            column("phone", "pii.phone"),
            column("town", "public"),
        ],
        recertification_days: 180,
        subject_key: vec!["id_number".into()],
    }
}

fn grant(id: &str, yaml: &str) -> Grant {
    let text = format!(
        "id: {id}\nsubject: {{department: land_registry}}\ndataset: civil_affairs.residents\npurposes: [review]\n{yaml}"
    );
    serde_norway::from_str(&text).unwrap()
}

fn analyst() -> Principal {
    Principal::new("a", "land_registry").with_role(Role::Analyst)
}

fn now() -> DateTime<Utc> {
    "2026-06-01T00:00:00Z".parse().unwrap()
}

fn accesses(decision: &Decision) -> Vec<String> {
    decision
        .columns
        .iter()
        .map(|column| match &column.access {
            ColumnAccess::Visible { through } => format!(
                "{}: {}",
                column.name,
                through
                    .iter()
                    .map(|source| format!(
                        "{}={}",
                        source.grant_id,
                        source.mask.as_ref().map_or("raw".into(), ToString::to_string)
                    ))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            ColumnAccess::Denied { .. } => format!("{}: denied", column.name),
        })
        .collect()
}

#[test]
fn the_quota_is_the_most_generous_grants() {
    let decide = |grants: Vec<Grant>| {
        let policies = PolicySet {
            grants,
            denies: vec![],
        };
        authorize(&analyst(), "review", &residents(), &policies, now())
            .unwrap()
            .row_quota()
    };
    let limited = grant("g1", "max_rows_per_query: 100\nmax_rows_per_day: 1000");
    let wider = grant("g2", "max_rows_per_query: 500");
    assert_eq!(
        decide(vec![limited.clone()]),
        RowQuota {
            per_query: Some(100),
            per_day: Some(1000)
        }
    );
    assert_eq!(
        decide(vec![limited, wider]),
        RowQuota {
            per_query: Some(500),
            per_day: None
        },
        "the second grant sets no daily quota"
    );
}

#[test]
fn a_grants_default_masks_are_those_its_columns_classifications_leave() {
    let listed = grant(
        "g1",
        "columns: [id_number, name, town]\nunmasked: [name]\nmasks: {town: {kind: 'null'}}",
    );
    let masks = default_masks(&listed, &residents());
    assert_eq!(
        masks
            .iter()
            .map(|(column, mask)| format!("{column}={mask}"))
            .collect::<Vec<_>>(),
        ["id_number=partial (first 0, last 4)"]
    );
    // `*` covers every column, the phone among them.
    let every = grant("g2", "columns: ['*']");
    assert_eq!(
        default_masks(&every, &residents())
            .into_keys()
            .collect::<Vec<_>>(),
        ["id_number", "name", "phone"]
    );
}

#[test]
fn default_masks_apply_unless_lifted_by_name() {
    let policies = PolicySet {
        grants: vec![grant("g1", "columns: [id_number, name, town]\nunmasked: [name]")],
        denies: vec![],
    };
    let decision = authorize(&analyst(), "review", &residents(), &policies, now()).unwrap();
    assert_eq!(
        accesses(&decision),
        [
            "id_number: g1=partial (first 0, last 4)",
            "name: g1=raw",
            "phone: denied",
            "town: g1=raw"
        ]
    );
}

#[test]
fn without_a_grant_for_the_purpose_in_force_the_dataset_is_closed() {
    let policies = PolicySet {
        grants: vec![grant("g1", "expires_at: 2026-01-01T00:00:00Z"), grant("g2", "")],
        denies: vec![],
    };
    assert!(authorize(&analyst(), "review", &residents(), &policies, now()).is_ok());
    let error = authorize(&analyst(), "curiosity", &residents(), &policies, now()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "no grant lets you read civil_affairs.residents for the purpose 'curiosity'"
    );
    let only_expired = PolicySet {
        grants: vec![grant("g1", "expires_at: 2026-01-01T00:00:00Z")],
        denies: vec![],
    };
    assert!(authorize(&analyst(), "review", &residents(), &only_expired, now()).is_err());
    let other = Principal::new("b", "tax").with_role(Role::Analyst);
    assert!(authorize(&other, "review", &residents(), &policies, now()).is_err());
}

#[test]
fn the_owning_departments_publishers_read_their_data_raw() {
    let steward = Principal::new("s", "civil_affairs").with_role(Role::Publisher);
    let decision = authorize(&steward, "anything", &residents(), &PolicySet::default(), now()).unwrap();
    assert_eq!(decision.grants[0].id, "owner:civil_affairs");
    assert!(
        accesses(&decision).iter().all(|access| access.ends_with("=raw")),
        "{:?}",
        accesses(&decision)
    );
    let analyst = Principal::new("a", "civil_affairs").with_role(Role::Analyst);
    assert!(authorize(&analyst, "anything", &residents(), &PolicySet::default(), now()).is_err());
}

#[test]
fn administrative_accounts_read_nothing_whatever_a_grant_says() {
    let policies = PolicySet {
        grants: vec![grant("g1", "")],
        denies: vec![],
    };
    assert!(authorize(&analyst(), "review", &residents(), &policies, now()).is_ok());
    for role in Role::ADMINISTRATIVE {
        // Of the granted department, and (were it allowed) also a publisher of the owner.
        let admin = Principal::new("root", "land_registry").with_role(role);
        let error = authorize(&admin, "review", &residents(), &policies, now()).unwrap_err();
        assert!(matches!(error, AccessDenied::Administrative { .. }), "{error}");
        let owner = Principal::new("root", "civil_affairs")
            .with_role(role)
            .with_role(Role::Publisher);
        assert!(authorize(&owner, "review", &residents(), &policies, now()).is_err());
    }
}

#[test]
fn only_callers_who_read_every_row_may_count_them() {
    let id = residents().id;
    let with = |grants: Vec<Grant>, denies: Vec<DenyRule>| PolicySet { grants, denies };
    let filtered = with(vec![grant("g1", "row_filter: \"grid_id = 'GC-001'\"")], vec![]);
    assert!(!may_read_all_rows(&analyst(), &id, &filtered, now()));
    let whole = with(vec![grant("g2", "columns: [name]")], vec![]);
    assert!(may_read_all_rows(&analyst(), &id, &whole, now()));
    let expired = with(vec![grant("g3", "expires_at: 2026-01-01T00:00:00Z")], vec![]);
    assert!(!may_read_all_rows(&analyst(), &id, &expired, now()));
    let steward = Principal::new("s", "civil_affairs").with_role(Role::Publisher);
    assert!(may_read_all_rows(&steward, &id, &PolicySet::default(), now()));
    let closed: DenyRule =
        serde_norway::from_str("id: d1\ndatasets: civil_affairs.residents\nreason: sealed").unwrap();
    assert!(!may_read_all_rows(
        &steward,
        &id,
        &with(vec![], vec![closed.clone()]),
        now()
    ));
    assert!(!may_read_all_rows(
        &analyst(),
        &id,
        &with(whole.grants.clone(), vec![closed]),
        now()
    ));
}

#[test]
fn deny_rules_win_over_any_grant() {
    let deny = |yaml: &str| -> DenyRule { serde_norway::from_str(yaml).unwrap() };
    let policies = PolicySet {
        grants: vec![grant("g1", "unmasked: [id_number, phone]")],
        denies: vec![deny(
            "id: d1\ndatasets: civil_affairs.*\ncolumns: [phone]\nreason: phones stay home",
        )],
    };
    let decision = authorize(&analyst(), "review", &residents(), &policies, now()).unwrap();
    assert_eq!(accesses(&decision)[2], "phone: denied");
    assert_eq!(accesses(&decision)[0], "id_number: g1=raw");

    let closed = PolicySet {
        grants: policies.grants.clone(),
        denies: vec![DenyRule {
            subject: Some(Subject::Department {
                department: "land_registry".into(),
            }),
            ..deny("id: d2\ndatasets: '*'\nreason: under investigation")
        }],
    };
    let error = authorize(&analyst(), "review", &residents(), &closed, now()).unwrap_err();
    assert!(error.to_string().contains("under investigation"), "{error}");
}

#[test]
fn several_grants_offer_the_least_masked_value_first() {
    let policies = PolicySet {
        grants: vec![
            grant(
                "g1",
                "columns: [id_number, town]\nmasks: {id_number: {kind: hash}}",
            ),
            grant(
                "g2",
                "columns: [id_number]\nunmasked: [id_number]\nrow_filter: town = principal.town",
            ),
        ],
        denies: vec![],
    };
    let decision = authorize(&analyst(), "review", &residents(), &policies, now()).unwrap();
    assert_eq!(accesses(&decision)[0], "id_number: g2=raw g1=keyed hash");
    assert_eq!(accesses(&decision)[3], "town: g1=raw");
}
