//! What the demo prints: its clients and the stories to try, each a command that works as
//! pasted.

use std::path::Path;

use super::{DEMO_PURPOSE, DEMO_QUESTION, DemoClient};

/// This binary, as the printed commands run it.
fn causeway() -> String {
    std::env::current_exe()
        .map(|path| path.display().to_string())
        .unwrap_or_else(|_| "causeway".to_owned())
}

/// The command that signs in as demo client `id`, with its secret.
fn login(url: &str, clients: &[DemoClient], id: &str) -> String {
    let secret = clients
        .iter()
        .find(|client| client.id == id)
        .map(|client| client.secret.as_str())
        .unwrap_or_default();
    format!(
        "CAUSEWAY_CLIENT_SECRET={secret} {} login --hub {url} --client-id {id}",
        causeway()
    )
}

pub(super) fn print_instructions(
    url: &str,
    config: &Path,
    clients: &[DemoClient],
    token: &str,
    minutes: u64,
    request: &str,
) {
    let body = serde_json::json!({ "sql": DEMO_QUESTION, "purpose": DEMO_PURPOSE }).to_string();
    let causeway = causeway();
    let list = client_list(clients);
    let login = |id: &str| login(url, clients, id);
    let planner_join = "SELECT r.town, count(DISTINCT r.id_number) AS owners, sum(p.area_m2) AS area_m2 \
FROM civil_affairs.residents r JOIN land_registry.parcels p ON p.owner_id_number = r.id_number \
GROUP BY r.town ORDER BY r.town";
    println!(
        "\nCauseway is serving at {url}\n\n\
         Its OAuth2 clients (their secrets are also in {}, for the demo only):\n{}\n\n\
         Sign in as the housing subsidy reviewer and ask which residents of Guicheng own more than two parcels:\n\n  \
         {}\n  \
         {causeway} query --hub {url} --purpose {DEMO_PURPOSE} {}\n\n\
         or with curl, using this token of the reviewer (valid {minutes} minutes; more from {url}/oauth/token):\n\n  \
         export TOKEN={token}\n  \
         curl -s {url}/v1/query -H \"Authorization: Bearer $TOKEN\" -H 'content-type: application/json' -d {}\n\n\
         The policies at work (in {}):\n\n  \
         The grid worker sees the residents of grid GC-001 only:\n  \
         {}\n  \
         {causeway} query --hub {url} --purpose grid-management 'SELECT grid_id, count(*) AS residents FROM civil_affairs.residents GROUP BY grid_id'\n\n  \
         The urban planner joins residents and parcels on a pseudonym of the ID number, never seeing it:\n  \
         {}\n  \
         {causeway} query --hub {url} --purpose urban-planning {}\n\n  \
         The planner's request {request} for social insurance data waits for the owner's and a security administrator's decisions:\n  \
         {}\n  \
         {causeway} access requests --hub {url}\n  \
         {causeway} access decide {request} --hub {url}\n  \
         {}\n  \
         {causeway} access decide {request} --hub {url}\n\n  \
         Three administrators, none with another's powers: the system administrator manages clients and keys and reads\n  \
         no data, the security administrator grants and decides, the auditor reads and verifies the audit log:\n  \
         {}\n  \
         {causeway} query --hub {url} --purpose audit 'SELECT action, outcome, count(*) AS records FROM audit.events GROUP BY action, outcome ORDER BY records DESC'\n\n  \
         What a client may see, and why:\n  \
         {causeway} policy explain --config {} --client demo-planner --dataset civil_affairs.residents --purpose urban-planning",
        config
            .parent()
            .map(|dir| dir.join("secrets.env").display().to_string())
            .unwrap_or_default(),
        list.join("\n"),
        login("demo-analyst"),
        shell_quote(DEMO_QUESTION),
        shell_quote(&body),
        config
            .parent()
            .map(|dir| dir.join("policies").display().to_string())
            .unwrap_or_default(),
        login("demo-grid-worker"),
        login("demo-planner"),
        shell_quote(planner_join),
        login("demo-social-publisher"),
        login("demo-security"),
        login("demo-auditor"),
        config.display(),
    );
}

/// The last line the demo prints, after its stories.
pub(super) fn print_footer(url: &str, flight: std::net::SocketAddr, postgres: std::net::SocketAddr) {
    println!(
        "\nArrow Flight SQL (ADBC, pyarrow, JDBC; the README's Flight SQL section): grpc://{flight}\n\
         PostgreSQL wire protocol (psql, JDBC, BI tools; the README's PostgreSQL section): postgresql://CLIENT_ID@{postgres}/causeway\n\
         The web console: {url}/console/ (sign in with a person's password above: demo-reviewer asks for access, demo-grid-person finds the households of grid GC-001 under My area, demo-officer watches queries under Supervision, demo-inspector verifies the audit log there, demo-admin makes accounts under Accounts and demo-officer approves them)\n\
         The catalog: {url}/v1/catalog    The API: {url}/v1/openapi.json    Stop with Ctrl-C."
    );
}

/// One line per demo client: its id, who it is, its secret.
pub(super) fn client_list(clients: &[DemoClient]) -> Vec<String> {
    clients
        .iter()
        .map(|client| format!("  {:<22} {:<42} {}", client.id, client.about, client.secret))
        .collect()
}

/// The stories of the database sources: payments in PostgreSQL joined with residents, and
/// inspections in MySQL joined with enterprises, as the reviewer.
pub(super) fn print_database_stories(url: &str, clients: &[DemoClient]) {
    let causeway = causeway();
    let payments = "SELECT p.kind, count(*) AS payments, sum(p.amount) AS total \
FROM social_security.benefit_payments p JOIN civil_affairs.residents r ON r.id_number = p.id_number \
WHERE r.town = 'Guicheng' GROUP BY p.kind ORDER BY p.kind";
    let inspections = "SELECT e.town, count(*) AS fined, sum(i.fine) AS fines \
FROM market_supervision.inspections i JOIN market_supervision.enterprises e ON e.credit_code = i.credit_code \
WHERE i.result = 'fined' GROUP BY e.town ORDER BY e.town";
    println!(
        "\nThe database sources (policies in databases.yaml), as the housing subsidy reviewer: \
         benefit payments in PostgreSQL joined with the residents,\n\
         and inspections in MySQL joined with the enterprises:\n  \
         {}\n  \
         {causeway} query --hub {url} --purpose housing-subsidy-review {}\n  \
         {causeway} query --hub {url} --purpose credit-check {}",
        login(url, clients, "demo-analyst"),
        shell_quote(payments),
        shell_quote(inspections),
    );
}

/// `text` as one single-quoted shell word.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}
