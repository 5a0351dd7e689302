//! Starting the real `causeway` binary and talking to it as a client would.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use datafusion::arrow::record_batch::RecordBatch;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tempfile::TempDir;

mod accounts;
mod caller;
mod databases;
mod process;
pub mod python;
pub use caller::Caller;
pub use databases::{MYSQL_URL, Mysql, POSTGRES_URL, Postgres};
use process::spawn;

/// The binary under test: `CAUSEWAY_BIN`, or `causeway` beside the test binary's folder
/// (`target/debug/deps/..` -> `target/debug/causeway`).
pub fn causeway_binary() -> PathBuf {
    if let Ok(path) = std::env::var("CAUSEWAY_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("the test binary has a path");
    let path = exe
        .parent()
        .and_then(Path::parent)
        .map(|dir| dir.join("causeway"))
        .expect("the test binary lives in target/<profile>/deps");
    assert!(
        path.is_file(),
        "{} is missing: build it first with `cargo build --bin causeway`",
        path.display()
    );
    path
}

/// A hub running in its own data directory, stopped when dropped. Its `http` client
/// carries the token of the test's reader (`ADMIN`, an analyst granted every dataset it
/// publishes); the three administrators, each an account of its own as separation of
/// duties asks, are `system()`, `security()` and `auditor()`; datasets are published by
/// a publisher of their own department, made when first needed.
pub struct Hub {
    child: Child,
    pub url: String,
    dir: TempDir,
    log: Arc<Mutex<Vec<String>>>,
    pub http: reqwest::Client,
    pub admin_secret: String,
    /// The administrators' secrets, by client id, made before the hub started.
    administrators: Vec<(&'static str, String)>,
    /// Tokens of this run of the hub, by client id; a restart forgets them.
    tokens: Mutex<std::collections::HashMap<String, String>>,
    /// The publishers made so far, by department: their secrets.
    publishers: Mutex<std::collections::HashMap<String, String>>,
    tls: Option<TestTls>,
}

/// How test clients reach a hub that speaks TLS: the CA to trust, and a client
/// certificate and key for mutual TLS.
#[derive(Debug, Clone)]
pub struct TestTls {
    pub ca: PathBuf,
    pub client: Option<(PathBuf, PathBuf)>,
}

/// The reader every test hub starts with: an analyst of department `local`.
pub const ADMIN: &str = "e2e-admin";
/// The system administrator every test hub starts with.
pub const SYSTEM_ADMIN: &str = "e2e-system";
/// The security administrator every test hub starts with.
pub const SECURITY_ADMIN: &str = "e2e-security";
/// The auditor every test hub starts with.
pub const AUDITOR: &str = "e2e-auditor";

/// Polls `check` every 50 ms until it gives `Some`, and returns what it gave; panics naming
/// `what` when `deadline` passes first. Tests wait with this for what the hub does after a
/// response (audit records, alerts, files removed, a backend gone), never with a fixed sleep.
pub async fn eventually<T>(what: &str, deadline: Duration, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let until = Instant::now() + deadline;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < until, "{what}: not within {deadline:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The residents register of civil affairs as a CSV file: the contract of `residents.csv`
/// whose header is `header` (columns of `RESIDENT_FIELDS`), followed by `access` (the
/// dataset's published access conditions, or nothing).
pub fn residents_spec(header: &str, access: &str) -> String {
    let fields: String = header
        .split(',')
        .map(|column| {
            let (_, classification) = RESIDENT_FIELDS
                .iter()
                .find(|(name, _)| *name == column)
                .unwrap_or_else(|| panic!("no resident field {column}"));
            format!("    - {{ name: {column}, type: string, classification: {classification} }}\n")
        })
        .collect();
    format!(
        "contract:\n  department: civil_affairs\n  name: residents\n  title: Residents\n  \
         owner: {{ name: Desk, email: desk@example.gov }}\n  fields:\n{fields}\
         source: {{ kind: csv, path: residents.csv }}\n{access}\n"
    )
}

/// The columns a residents CSV may have, with their classifications.
pub const RESIDENT_FIELDS: [(&str, &str); 7] = [
    ("id_number", "pii.national_id"),
    ("name", "pii.name"),
    ("phone", "pii.phone"),
    ("town", "public"),
    ("grid_id", "public"),
    ("household_id", "public"),
    ("address", "pii.address"),
];

impl Hub {
    /// Starts a hub whose data directory (and only file root) is a new temporary folder.
    /// `extra` is appended to its configuration, e.g. `[limits]` or connections.
    pub async fn start(extra: &str) -> Hub {
        let dir = tempfile::Builder::new()
            .prefix("causeway-e2e")
            .tempdir()
            .expect("tempdir");
        Self::start_in(dir, extra).await
    }

    /// Starts a hub with the whole configuration `config` writes for its data directory.
    pub async fn start_with(config: impl FnOnce(&Path) -> String) -> Hub {
        let dir = tempfile::Builder::new()
            .prefix("causeway-e2e")
            .tempdir()
            .expect("tempdir");
        std::fs::write(dir.path().join("causeway.toml"), config(dir.path())).expect("write config");
        Self::serve_existing(dir).await
    }

    pub async fn start_in(dir: TempDir, extra: &str) -> Hub {
        let config = format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[storage]\ndata_dir = \"{}\"\n{extra}\n",
            dir.path().display()
        );
        std::fs::write(dir.path().join("causeway.toml"), &config).expect("write config");
        Self::serve_existing(dir).await
    }

    /// Serves the `causeway.toml` that is already in `dir`, after adding the reader and the
    /// three administrators.
    pub async fn serve_existing(dir: TempDir) -> Hub {
        Self::serve_existing_with(dir, None).await
    }

    /// Like `serve_existing`, for a hub whose configuration sets up TLS.
    pub async fn serve_existing_with(dir: TempDir, tls: Option<TestTls>) -> Hub {
        let config = dir.path().join("causeway.toml");
        let add = |id: &str, department: &str, roles: &str| {
            let output = causeway(&[
                "client",
                "add",
                "--config",
                &config.to_string_lossy(),
                "--id",
                id,
                "--dept",
                department,
                "--roles",
                roles,
            ]);
            assert!(
                output.status.success(),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
            String::from_utf8_lossy(&output.stdout).trim().to_owned()
        };
        let admin_secret = add(ADMIN, "local", "analyst");
        let administrators = vec![
            (SYSTEM_ADMIN, add(SYSTEM_ADMIN, "it", "system_admin")),
            (SECURITY_ADMIN, add(SECURITY_ADMIN, "security", "security_admin")),
            (AUDITOR, add(AUDITOR, "audit", "auditor")),
        ];
        let (child, url, log) = spawn(&config);
        let mut hub = Hub {
            child,
            url,
            dir,
            log,
            http: client_builder(tls.as_ref()).build().expect("client"),
            admin_secret,
            administrators,
            tokens: Mutex::default(),
            publishers: Mutex::default(),
            tls,
        };
        let token = hub.token(ADMIN, &hub.admin_secret.clone()).await;
        hub.http = hub.authorized(&token);
        hub
    }

    /// An HTTP client of this hub without a token.
    pub fn anonymous(&self) -> reqwest::Client {
        client_builder(self.tls.as_ref()).build().expect("client")
    }

    /// An HTTP client of this hub that sends `token` with every request.
    pub fn authorized(&self, token: &str) -> reqwest::Client {
        let mut headers = reqwest::header::HeaderMap::new();
        let value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}")).expect("header value");
        headers.insert(reqwest::header::AUTHORIZATION, value);
        client_builder(self.tls.as_ref())
            .default_headers(headers)
            .build()
            .expect("client")
    }

    /// A token for a client, from the hub's token endpoint.
    pub async fn token(&self, client_id: &str, secret: &str) -> String {
        let response = self
            .anonymous()
            .post(format!("{}/oauth/token", self.url))
            .basic_auth(client_id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .expect("token request");
        let (status, body) = json_of(response).await;
        assert_eq!(status, StatusCode::OK, "token for {client_id}: {body}");
        body["access_token"].as_str().expect("access_token").to_owned()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The hub's log so far, for failure messages.
    pub fn log(&self) -> String {
        self.log.lock().map(|lines| lines.join("\n")).unwrap_or_default()
    }

    /// The most memory the hub process has had resident, from the kernel's high-water mark.
    pub fn peak_rss_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("proc status");
        let line = status
            .lines()
            .find(|line| line.starts_with("VmHWM:"))
            .expect("VmHWM");
        let kib: u64 = line
            .split_whitespace()
            .nth(1)
            .and_then(|n| n.parse().ok())
            .expect("VmHWM value");
        kib * 1024
    }

    /// A GET as the test's reader.
    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.caller(&self.http).get(path).await
    }

    /// Revokes a grant, as the security administrator.
    pub async fn revoke(&self, grant_id: &str) -> StatusCode {
        let response = self
            .security()
            .await
            .http
            .delete(format!("{}/v1/grants/{grant_id}", self.url))
            .send()
            .await
            .expect("request");
        response.status()
    }

    /// Writes `csv` (a header line of `RESIDENT_FIELDS` columns, then rows) as the residents
    /// register in the data directory and publishes it with `access` conditions.
    pub async fn publish_residents(&self, csv: &str, access: &str) -> Value {
        std::fs::write(self.dir().join("residents.csv"), csv).expect("residents.csv");
        let header = csv.lines().next().expect("a header line");
        self.publish_ok(&residents_spec(header, access)).await
    }

    /// Publishes a dataset spec written in YAML, as a publisher of its department.
    pub async fn publish(&self, spec: &str) -> (StatusCode, Value) {
        let department = spec
            .lines()
            .find_map(|line| line.trim().strip_prefix("department:"))
            .map(|department| department.trim().trim_matches(['"', '\'']).to_owned())
            // A spec without one is refused for that, whoever sends it.
            .unwrap_or_else(|| "local".to_owned());
        // So is a spec whose department is no identifier; its publisher is of the nearest
        // department that is one.
        let department: String = department
            .to_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let response = self
            .publisher(&department)
            .await
            .http
            .post(format!("{}/v1/datasets", self.url))
            .header("content-type", "application/yaml")
            .body(spec.to_owned())
            .send()
            .await
            .expect("request");
        json_of(response).await
    }

    /// Publishes and insists it worked; the reader is then granted every column raw
    /// for the purpose `testing`, so tests about other things can query.
    pub async fn publish_ok(&self, spec: &str) -> Value {
        let (status, body) = self.publish(spec).await;
        assert_eq!(
            status,
            StatusCode::CREATED,
            "publish failed: {body}\n{}",
            self.log()
        );
        let fields: Vec<Value> = body["fields"]
            .as_array()
            .expect("fields")
            .iter()
            .map(|field| field["name"].clone())
            .collect();
        self.grant(json!({
            "subject": {"client": ADMIN},
            "dataset": body["table"],
            "unmasked": fields,
            "purposes": ["testing"],
        }))
        .await;
        body
    }

    /// Grants `subject` every column of `table` raw for the purpose `testing`.
    pub async fn grant_everything(&self, table: &str, subject: Value) -> Value {
        let (department, name) = table.split_once('.').expect("department.name");
        let (status, detail) = self.get(&format!("/v1/datasets/{department}/{name}")).await;
        assert_eq!(status, StatusCode::OK, "{detail}");
        let fields: Vec<Value> = detail["fields"]
            .as_array()
            .expect("fields")
            .iter()
            .map(|field| field["name"].clone())
            .collect();
        self.grant(json!({"subject": subject, "dataset": table, "unmasked": fields, "purposes": ["testing"]}))
            .await
    }

    /// Makes a grant as the security administrator and returns it.
    pub async fn grant(&self, grant: Value) -> Value {
        let response = self
            .security()
            .await
            .http
            .post(format!("{}/v1/grants", self.url))
            .json(&grant)
            .send()
            .await
            .expect("grant");
        let (status, body) = json_of(response).await;
        assert_eq!(status, StatusCode::CREATED, "grant failed: {body}");
        body
    }

    pub async fn put_contract(&self, table: &str, contract: &str, force: bool) -> (StatusCode, Value) {
        let (department, name) = table.split_once('.').expect("department.name");
        let response = self
            .publisher(department)
            .await
            .http
            .put(format!(
                "{}/v1/datasets/{department}/{name}/contract?force={force}",
                self.url
            ))
            .header("content-type", "application/yaml")
            .body(contract.to_owned())
            .send()
            .await
            .expect("request");
        json_of(response).await
    }

    /// Sends a query, answered in the format `accept` names.
    pub async fn query_raw(&self, sql: &str, accept: &str) -> reqwest::Response {
        self.http
            .post(format!("{}/v1/query", self.url))
            .header("accept", accept)
            .json(&json!({ "sql": sql, "purpose": "testing" }))
            .send()
            .await
            .expect("request")
    }

    /// A query answered as JSON.
    pub async fn query(&self, sql: &str) -> (StatusCode, Value) {
        json_of(self.query_raw(sql, "application/json").await).await
    }

    /// The rows of a query that must succeed.
    pub async fn rows(&self, sql: &str) -> Vec<Value> {
        let (status, body) = self.query(sql).await;
        assert_eq!(status, StatusCode::OK, "{sql}: {body}\n{}", self.log());
        body["rows"].as_array().cloned().unwrap_or_default()
    }

    /// The rows of a query of the audit log (`audit.events`) that must succeed, as the auditor.
    pub async fn audit_rows(&self, sql: &str) -> Vec<Value> {
        let (status, body) = self.auditor().await.query(sql, "audit").await;
        assert_eq!(status, StatusCode::OK, "{sql}: {body}\n{}", self.log());
        body["rows"].as_array().cloned().unwrap_or_default()
    }

    /// The text of an EXPLAIN's physical plan.
    pub async fn physical_plan(&self, sql: &str) -> String {
        let (status, body) = self.query(&format!("EXPLAIN {sql}")).await;
        assert_eq!(status, StatusCode::OK, "{sql}: {body}\n{}", self.log());
        physical_plan_of(&body)
    }
}

/// The line of `plan` (a physical plan's text) that reads the source: its pushed predicate.
pub fn source_scan(plan: &str) -> &str {
    plan.lines()
        .find(|line| line.contains("DataSourceExec"))
        .unwrap_or_default()
}

/// The text of the physical plan in an EXPLAIN's JSON answer.
pub fn physical_plan_of(explained: &Value) -> String {
    explained["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|row| row["plan_type"] == "physical_plan")
        .and_then(|row| row["plan"].as_str())
        .unwrap_or_default()
        .to_owned()
}

impl Drop for Hub {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A client builder for test hubs: rustls with the ring provider (the one the hub uses),
/// trusting the test CA and presenting a client certificate when `tls` says so.
pub fn client_builder(tls: Option<&TestTls>) -> reqwest::ClientBuilder {
    static PROVIDER: std::sync::Once = std::sync::Once::new();
    PROVIDER.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    let Some(tls) = tls else {
        return reqwest::Client::builder();
    };
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let mut roots = rustls::RootCertStore::empty();
    for certificate in CertificateDer::pem_file_iter(&tls.ca).expect("ca file") {
        roots.add(certificate.expect("ca certificate")).expect("add ca");
    }
    let builder = rustls::ClientConfig::builder().with_root_certificates(roots);
    let config = match &tls.client {
        Some((cert, key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .expect("client cert")
                .collect::<Result<Vec<_>, _>>()
                .expect("client cert");
            let key = PrivateKeyDer::from_pem_file(key).expect("client key");
            builder.with_client_auth_cert(chain, key).expect("client auth")
        }
        None => builder.with_no_client_auth(),
    };
    reqwest::Client::builder().tls_backend_preconfigured(config)
}

/// Runs a `causeway` command to its end.
pub fn causeway(args: &[&str]) -> std::process::Output {
    causeway_with(args, &[])
}

/// Runs a `causeway` command with extra environment variables.
pub fn causeway_with(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    Command::new(causeway_binary())
        .args(args)
        .env_remove("CAUSEWAY_TOKEN")
        .envs(env.iter().copied())
        .output()
        .expect("run causeway")
}

impl Hub {
    /// Runs `causeway ARGS --hub URL` with `token`, as a person at a terminal would; answers
    /// whether it succeeded, its stdout and its stderr.
    pub fn cli(&self, token: &str, args: &[&str]) -> (bool, String, String) {
        let mut args = args.to_vec();
        args.extend(["--hub", self.url.as_str()]);
        let output = causeway_with(&args, &[("CAUSEWAY_TOKEN", token)]);
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// Like [`Self::cli`], insisting that the command works; answers its stdout.
    pub fn cli_ok(&self, token: &str, args: &[&str]) -> String {
        let (ok, stdout, stderr) = self.cli(token, args);
        assert!(ok, "causeway {args:?} failed:\n{stdout}\n{stderr}");
        stdout
    }
}

pub async fn json_of(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.expect("body");
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value)
}

/// HMAC-SHA256 of `value` with the hub's pseudonym key, first 16 bytes in hex: what the
/// hash mask shows, computed here from the key in the hub's data directory.
pub fn pseudonym(hub: &Hub, value: &str) -> String {
    let key = std::fs::read(hub.dir().join("pseudonym.key")).expect("pseudonym key");
    let tag = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key),
        value.as_bytes(),
    );
    hex(&tag.as_ref()[..16])
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Writes a Parquet file.
pub fn write_parquet(path: &Path, batches: &[RecordBatch]) {
    let file = std::fs::File::create(path).expect("create parquet");
    let mut writer =
        datafusion::parquet::arrow::ArrowWriter::try_new(file, batches[0].schema(), None).expect("writer");
    for batch in batches {
        writer.write(batch).expect("write batch");
    }
    writer.close().expect("close parquet");
}
