//! The web console in a real browser: Playwright (console/tests/) driving Debian's Chromium
//! against a hub started here, signed in as a person through the hub's own provider. With
//! `CI=true`, a missing browser or Playwright is a failure; otherwise the test is skipped.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::Hub;

/// Wang Fang alone in grid GC-001 (the analyst's row filter), Li Lei in Dali, and two
/// households of grid GC-002 (the grid worker's).
const RESIDENTS_CSV: &str = "id_number,name,phone,town,grid_id,household_id,address\n\
    110101199001010011,Wang Fang,13800000001,Guicheng,GC-001,GC001-0001,\"Guicheng, 1 Guicheng Road\"\n\
    110101198502020022,Li Lei,13800000002,Dali,DL-004,DL004-0007,\"Dali, 7 Dali Street\"\n\
    440605198003030033,Chen Jun,13800000003,Guicheng,GC-002,GC002-0012,\"Guicheng, 12 Nanhai Avenue\"\n\
    440605198204040044,Huang Mei,13800000004,Guicheng,GC-002,GC002-0012,\"Guicheng, 12 Nanhai Avenue\"\n\
    440605201005050055,Chen Xiaoming,13800000005,Guicheng,GC-002,GC002-0012,\"Guicheng, 12 Nanhai Avenue\"\n\
    440605197506060066,Liang Qiang,13800000006,Guicheng,GC-002,GC002-0031,\"Guicheng, 31 Nanhai Avenue\"\n";

/// A register whose rows are about the person of `id_number`: it offers verify-only grants.
const REGISTER_SPEC: &str = "
contract:
  department: civil_affairs
  name: register
  title: Identity register
  owner: { name: Desk, email: desk@example.gov }
  primary_key: [id_number]
  subject_key: [id_number]
  fields:
    - { name: id_number, type: string, nullable: false, classification: pii.national_id }
    - { name: name, type: string, classification: pii.name }
source: { kind: csv, path: register.csv }
access:
  auto_approve:
    - { kind: verify, departments: [benefits], purposes: [benefit-eligibility], columns: [id_number, name], max_days: 30 }
";

fn console_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../console")
}

/// Playwright and the browser, when both are installed.
fn browser_tools() -> Option<(PathBuf, PathBuf)> {
    let playwright = console_dir().join("node_modules/.bin/playwright");
    let chromium = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    if playwright.is_file() && chromium.is_file() {
        return Some((playwright, chromium));
    }
    let required = std::env::var("CI").is_ok_and(|value| value == "true" || value == "1");
    assert!(
        !required,
        "the browser tests need Playwright (cd console && npm ci) and Chromium (apt-get install chromium); .ci/run installs both"
    );
    eprintln!("skipped: no Playwright or Chromium (cd console && npm ci; apt-get install chromium)");
    None
}

/// Runs the Playwright spec `spec` against the hub at `url` with `env` (CAUSEWAY_*
/// variables) and Chromium at `chromium`; its output, and whether it passed.
fn run_spec(
    playwright: &Path,
    chromium: &Path,
    spec: &str,
    url: &str,
    env: &[(&str, &str)],
) -> (bool, String) {
    let output = Command::new(playwright)
        .args(["test", spec, "--output"])
        .arg(format!("test-results/{}", spec.trim_end_matches(".spec.ts")))
        .current_dir(console_dir())
        .env("CAUSEWAY_URL", url)
        .env("CHROMIUM", chromium)
        .envs(env.iter().copied())
        .output()
        .expect("run playwright");
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    println!("{report}");
    (output.status.success(), report)
}

#[tokio::test]
async fn people_sign_in_to_the_console_browse_the_catalogue_and_decide_access() {
    let Some((playwright, chromium)) = browser_tools() else {
        return;
    };
    let hub = Hub::start("").await;
    hub.publish_residents(RESIDENTS_CSV, "").await;
    // A second version of the contract, which describes the grid column: what the dataset
    // page shows as changed.
    let header = RESIDENTS_CSV.lines().next().unwrap_or_default();
    let mut contract =
        serde_norway::from_str::<serde_json::Value>(&crate::support::residents_spec(header, ""))
            .expect("the residents' spec")["contract"]
            .clone();
    contract["fields"][4]["description"] = "Grid of the grid-management system".into();
    let (status, body) = hub
        .put_contract("civil_affairs.residents", &contract.to_string(), false)
        .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    crate::files::publish_holdings_csv(&hub).await;
    std::fs::write(
        hub.dir().join("register.csv"),
        "id_number,name\n110101199001010011,Wang Fang\n",
    )
    .expect("register");
    hub.publish_ok(REGISTER_SPEC).await;
    let password = "console test password";
    hub.add_person("wang.fang", "civil_affairs", "analyst", "Wang Fang", password);
    // The residents' publisher and a security officer, who decide access requests.
    hub.add_person("li.na", "civil_affairs", "publisher", "Li Na", password);
    hub.add_person("zhao.lei", "security", "security_admin", "Zhao Lei", password);
    // A system administrator, who makes accounts for people.
    hub.add_person("sun.li", "it", "system_admin", "Sun Li", password);
    // A grid worker of grid GC-002, whose grant shows the residents of their own grid.
    hub.add_person_with(
        "zhou.min",
        "civil_affairs",
        "analyst",
        "Zhou Min",
        password,
        &["grid_id=GC-002"],
    );
    hub.grant(serde_json::json!({
        "subject": {"client": "zhou.min"}, "dataset": "civil_affairs.residents",
        "columns": ["name", "id_number", "address", "household_id", "grid_id"],
        "unmasked": ["name", "address"], "row_filter": "grid_id = principal.grid_id",
        "purposes": ["grid-management"]}))
        .await;
    let screenshots = console_dir().join("screenshots");
    let (passed, report) = run_spec(
        &playwright,
        &chromium,
        "console.spec.ts",
        &hub.url,
        &[
            ("CAUSEWAY_USER", "wang.fang"),
            ("CAUSEWAY_PASSWORD", password),
            ("CAUSEWAY_PERSON_NAME", "Wang Fang"),
            ("CAUSEWAY_PUBLISHER", "li.na"),
            ("CAUSEWAY_OFFICER", "zhao.lei"),
            ("CAUSEWAY_GRID_WORKER", "zhou.min"),
            ("CAUSEWAY_SYSTEM_ADMIN", "sun.li"),
            ("CAUSEWAY_SCREENSHOTS", &screenshots.to_string_lossy()),
        ],
    );
    assert!(passed, "the browser tests failed:\n{report}");
    for page in [
        "catalogue-1280x800.png",
        "supervision-1280x800.png",
        "grid-390x844.png",
        "accounts-1280x800.png",
    ] {
        assert!(screenshots.join(page).is_file(), "{page}");
    }
}

/// One hub's console signs people in at an external OpenID Connect provider, here a second
/// hub at which the console is registered (redirect URI on loopback, any port: RFC 8252
/// §7.3): the provider's sign-in page, its tokens accepted by the first hub, its refresh
/// token revoked at sign-out, its token endpoint called across origins (CORS).
#[tokio::test]
async fn a_hubs_console_signs_people_in_at_an_external_provider() {
    let Some((playwright, chromium)) = browser_tools() else {
        return;
    };
    let provider = Hub::start(
        "[[auth.applications]]\nclient_id = \"district-console\"\n\
         redirect_uris = [\"http://127.0.0.1/console/callback\"]\n",
    )
    .await;
    let password = "provider test password";
    provider.add_person("sun.li", "civil_affairs", "analyst", "Sun Li", password);
    let hub = Hub::start(&format!(
        "[[auth.issuers]]\nissuer = \"{url}\"\nalgorithms = [\"EdDSA\"]\n\
         [auth.console]\nprovider = \"{url}\"\nclient_id = \"district-console\"\n",
        url = provider.url
    ))
    .await;
    hub.publish_residents(RESIDENTS_CSV, "").await;
    hub.grant(serde_json::json!({
        "subject": {"client": "sun.li"}, "dataset": "civil_affairs.residents",
        "columns": ["name"], "unmasked": ["name"], "purposes": ["elderly-care"]}))
        .await;

    // The provider's token endpoint answers the console's origin, and no other.
    let origin = hub.url.trim_end_matches('/').to_owned();
    for (from, allowed) in [(origin.as_str(), true), ("https://elsewhere.example", false)] {
        let answer = provider
            .anonymous()
            .post(format!("{}/oauth/token", provider.url))
            .header("origin", from)
            .form(&[
                ("grant_type", "refresh_token"),
                ("client_id", "district-console"),
                ("refresh_token", "x"),
            ])
            .send()
            .await
            .expect("token endpoint");
        let named = answer
            .headers()
            .get("access-control-allow-origin")
            .map(|value| value.to_str().unwrap_or_default().to_owned());
        assert_eq!(named.is_some_and(|named| named == from), allowed, "{from}");
    }

    let (passed, report) = run_spec(
        &playwright,
        &chromium,
        "external.spec.ts",
        &hub.url,
        &[
            ("CAUSEWAY_PROVIDER_URL", provider.url.trim_end_matches('/')),
            ("CAUSEWAY_USER", "sun.li"),
            ("CAUSEWAY_PASSWORD", password),
        ],
    );
    assert!(passed, "the browser test failed:\n{report}\n{}", hub.log());
    let signed_in = provider
        .audit_rows("SELECT principal FROM audit.events WHERE action = 'sign_in.succeeded'")
        .await;
    assert!(
        signed_in.iter().any(|row| row["principal"] == "sun.li"),
        "{signed_in:?}"
    );
}

/// Every route the console calls that needs a role refuses a token without it (403): the
/// console's buttons are conveniences, the hub decides. Reading routes that answer everyone
/// with what concerns them (catalogue, requests, grants, deny rules) are not listed.
#[tokio::test]
async fn the_consoles_routes_refuse_a_token_of_the_wrong_role() {
    use reqwest::StatusCode;
    use serde_json::json;

    let hub = Hub::start("").await;
    hub.publish_residents(RESIDENTS_CSV, "").await;
    let analyst = hub.caller_as("grid-analyst", "town_office", &["analyst"]).await;
    let (status, filed) = analyst
        .post(
            "/v1/access-requests",
            json!({"dataset": "civil_affairs.residents", "columns": ["town"], "purpose": "care",
                   "justification": "visits", "days": 5}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{filed}");
    let request = filed["id"].as_str().expect("id").to_owned();
    let (status, grant) = hub
        .security()
        .await
        .post(
            "/v1/grants",
            json!({"subject": {"client": "grid-analyst"}, "dataset": "civil_affairs.residents",
                   "columns": ["town"], "purposes": ["care"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{grant}");
    let grant = grant["id"].as_str().expect("id").to_owned();
    let auditor = hub.auditor().await;
    let system = hub.system().await;
    let officer = hub.security().await;
    let other_publisher = hub.publisher("land_registry").await;

    let decision = format!("/v1/access-requests/{request}/decision");
    let dry_run = format!("/v1/access-requests/{request}/dry-run");
    let withdraw = format!("/v1/access-requests/{request}/withdraw");
    let query = json!({"sql": "SELECT town FROM civil_affairs.residents", "purpose": "care"});
    let ask = json!({"dataset": "civil_affairs.residents", "columns": ["town"], "purpose": "care",
                     "justification": "visits", "days": 5});
    for (who, caller, path, body) in [
        (
            "the requester deciding",
            &analyst,
            decision.as_str(),
            json!({"approve": true}),
        ),
        ("the requester trying", &analyst, dry_run.as_str(), json!({})),
        (
            "an auditor deciding",
            &auditor,
            decision.as_str(),
            json!({"approve": true}),
        ),
        ("an auditor trying", &auditor, dry_run.as_str(), json!({})),
        ("an officer withdrawing", &officer, withdraw.as_str(), json!({})),
        ("an auditor withdrawing", &auditor, withdraw.as_str(), json!({})),
        (
            "a system administrator querying",
            &system,
            "/v1/query",
            query.clone(),
        ),
        ("an auditor querying data", &auditor, "/v1/query", query.clone()),
        (
            "a security officer asking for access",
            &officer,
            "/v1/access-requests",
            ask.clone(),
        ),
        (
            "a system administrator asking for access",
            &system,
            "/v1/access-requests",
            ask.clone(),
        ),
    ] {
        let (status, body) = caller.post(path, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{who}: {body}");
    }
    for (who, caller) in [
        ("the grantee", &analyst),
        ("an auditor", &auditor),
        ("another department's publisher", &other_publisher),
    ] {
        let status = caller.delete(&format!("/v1/grants/{grant}")).await;
        assert!(
            matches!(status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
            "{who} revoking: {status}"
        );
    }
    // The supervision page's readings: the log (live or counted) for officers, auditors and
    // publishers; alerts for officers and auditors; verification for auditors only.
    for (who, caller, path) in [
        ("the analyst streaming the log", &analyst, "/v1/audit/stream"),
        ("the analyst counting activity", &analyst, "/v1/audit/activity"),
        (
            "a system administrator streaming the log",
            &system,
            "/v1/audit/stream",
        ),
        ("the analyst listing alerts", &analyst, "/v1/alerts?open=true"),
        (
            "a publisher listing alerts",
            &other_publisher,
            "/v1/alerts?open=true",
        ),
        ("the officer verifying the log", &officer, "/v1/audit/verify"),
        (
            "a publisher verifying the log",
            &other_publisher,
            "/v1/audit/verify",
        ),
    ] {
        let (status, body) = caller.get(path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{who}: {body}");
    }
    for (who, caller) in [("the analyst", &analyst), ("an auditor", &auditor)] {
        let (status, body) = caller.post("/v1/alerts/alert-1/clear", json!({})).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{who} clearing an alert: {body}");
    }
    // The accounts page: the system administrator makes and changes accounts of a
    // department's work, the security officer approves them, the auditor reads them.
    let account = json!({"id": "newcomer", "department": "civil_affairs", "roles": ["analyst"],
                         "person_name": "New Comer"});
    let approval = json!({"department": "town_office", "roles": ["analyst"]});
    for (who, caller, path, body) in [
        (
            "the analyst making an account",
            &analyst,
            "/v1/clients",
            account.clone(),
        ),
        (
            "the officer making an account",
            &officer,
            "/v1/clients",
            account.clone(),
        ),
        (
            "an auditor making an account",
            &auditor,
            "/v1/clients",
            account.clone(),
        ),
        (
            "the officer disabling an account",
            &officer,
            "/v1/clients/grid-analyst/disable",
            json!({}),
        ),
        (
            "an auditor giving a new secret",
            &auditor,
            "/v1/clients/grid-analyst/rotate-secret",
            json!({}),
        ),
        (
            "the system administrator approving",
            &system,
            "/v1/clients/grid-analyst/approve",
            approval.clone(),
        ),
        (
            "the analyst approving",
            &analyst,
            "/v1/clients/grid-analyst/approve",
            approval.clone(),
        ),
    ] {
        let (status, body) = caller.post(path, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{who}: {body}");
    }
    for (who, caller) in [("the analyst", &analyst), ("a publisher", &other_publisher)] {
        let (status, body) = caller.get("/v1/clients").await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{who} listing accounts: {body}");
    }
    let status = officer
        .http
        .put(format!("{}/v1/clients/grid-analyst/roles", hub.url))
        .json(&json!({"roles": ["analyst", "publisher"]}))
        .send()
        .await
        .expect("request")
        .status();
    assert_eq!(status, StatusCode::FORBIDDEN, "the officer changing roles");
    let (status, rows) = analyst
        .query("SELECT town FROM civil_affairs.residents", "care")
        .await;
    assert_eq!(status, StatusCode::OK, "the grant still stands: {rows}");
}
