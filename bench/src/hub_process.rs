//! The hub under test: the real `causeway serve`, started as a child process on free
//! loopback ports (HTTP, Flight SQL and the PostgreSQL wire protocol), and an HTTP client
//! for it.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::json;
use tokio::process::{Child, Command};

use super::BenchResult;
use super::stats::Measured;

/// How long a hub may take to answer its health check after starting (accelerated datasets
/// are loaded at start).
const START_TIMEOUT: Duration = Duration::from_secs(300);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
const ARROW_STREAM: &str = "application/vnd.apache.arrow.stream";

/// A running hub; killed if dropped without `stop`.
pub struct HubProcess {
    child: Child,
    pid: u32,
    pub endpoint: HubEndpoint,
}

/// What a query sent back.
#[derive(Debug, Clone, Copy)]
pub struct Received {
    pub rows: u64,
    pub bytes: u64,
}

/// Where a hub listens, and a connection pool to it. Cheap to clone.
#[derive(Clone)]
pub struct HubEndpoint {
    url: String,
    /// `host:port` of its Arrow Flight SQL service.
    pub flight: String,
    /// `host:port` of its PostgreSQL wire protocol.
    pub postgres: String,
    http: reqwest::Client,
}

/// The hub to measure: `CAUSEWAY_BIN`, or the `causeway` binary built beside this one.
fn causeway_binary() -> BenchResult<std::path::PathBuf> {
    if let Some(path) = std::env::var_os("CAUSEWAY_BIN") {
        return Ok(path.into());
    }
    let beside = std::env::current_exe()?
        .parent()
        .map(|dir| dir.join("causeway"))
        .filter(|path| path.is_file())
        .ok_or("no causeway binary beside causeway-bench: build it (cargo build --release --bin causeway) or set CAUSEWAY_BIN")?;
    Ok(beside)
}

impl HubProcess {
    /// Starts `causeway serve --config CONFIG`, its output going to `log`, and waits until
    /// its health check answers.
    pub async fn start(config: &Path, log: &Path) -> BenchResult<Self> {
        let port = free_port()?;
        let (flight, postgres) = (free_port()?, free_port()?);
        let output = std::fs::File::create(log)?;
        let mut child = Command::new(causeway_binary()?)
            .arg("serve")
            .arg("--config")
            .arg(config)
            .env("CAUSEWAY_SERVER__LISTEN", format!("127.0.0.1:{port}"))
            .env("CAUSEWAY_SERVER__FLIGHT_LISTEN", format!("127.0.0.1:{flight}"))
            .env(
                "CAUSEWAY_SERVER__POSTGRES_LISTEN",
                format!("127.0.0.1:{postgres}"),
            )
            .stdin(Stdio::null())
            .stdout(output.try_clone()?)
            .stderr(output)
            .kill_on_drop(true)
            .spawn()?;
        let pid = child.id().ok_or("the hub exited at once")?;
        let endpoint = HubEndpoint {
            url: format!("http://127.0.0.1:{port}"),
            flight: format!("127.0.0.1:{flight}"),
            postgres: format!("127.0.0.1:{postgres}"),
            http: reqwest::Client::builder().build()?,
        };
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait()? {
                return Err(format!("the hub exited ({status}); see {}", log.display()).into());
            }
            if endpoint.healthy().await {
                break;
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(format!("the hub did not become healthy; see {}", log.display()).into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(Self { child, pid, endpoint })
    }

    /// Forgets the hub's peak resident memory so far (Linux: `/proc/PID/clear_refs`).
    pub fn reset_peak_memory(&self) -> std::io::Result<()> {
        std::fs::write(format!("/proc/{}/clear_refs", self.pid), "5")
    }

    /// The hub's peak resident memory in bytes since start or the last reset.
    pub fn peak_memory(&self) -> Measured<u64> {
        self.memory("VmHWM:")
    }

    /// The hub's resident memory in bytes now.
    pub fn resident_memory(&self) -> Measured<u64> {
        self.memory("VmRSS:")
    }

    /// The part of the hub's resident memory that maps files (`RssFile`): the pages of its
    /// executable's code and read-only data that have run, and those of its libraries.
    pub fn file_memory(&self) -> Measured<u64> {
        self.memory("RssFile:")
    }

    /// The CPU time the hub has used so far, all its threads together.
    pub fn cpu_seconds(&self) -> Measured<f64> {
        cpu_seconds(&self.pid.to_string())
    }

    /// A memory figure of `/proc/PID/status` in bytes.
    fn memory(&self, field: &str) -> Measured<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .map_err(|error| format!("cannot read the hub's memory: {error}"))?;
        status
            .lines()
            .find_map(|line| line.strip_prefix(field))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kib| kib * 1024)
            .ok_or_else(|| format!("no {field} in /proc/PID/status"))
    }

    /// Asks the hub to stop (SIGTERM) and waits; kills it if it does not.
    pub async fn stop(mut self) -> BenchResult<()> {
        let asked = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status()
            .await
            .is_ok_and(|status| status.success());
        if !asked
            || tokio::time::timeout(STOP_TIMEOUT, self.child.wait())
                .await
                .is_err()
        {
            self.child.kill().await?;
        }
        Ok(())
    }
}

impl HubEndpoint {
    /// `host:port` of the hub.
    pub fn address(&self) -> String {
        self.url.trim_start_matches("http://").to_owned()
    }

    /// The health check, when it answers 200.
    pub async fn health(&self) -> Result<(), String> {
        if self.healthy().await {
            Ok(())
        } else {
            Err("unhealthy".into())
        }
    }

    async fn healthy(&self) -> bool {
        self.http
            .get(format!("{}/v1/health", self.url))
            .send()
            .await
            .is_ok_and(|response| response.status().is_success())
    }

    /// A token of the built-in issuer for a client (OAuth2 client credentials).
    pub async fn token(&self, client_id: &str, secret: &str) -> BenchResult<String> {
        let response = self
            .http
            .post(format!("{}/oauth/token", self.url))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
                ("client_secret", secret),
            ])
            .send()
            .await?;
        let body: serde_json::Value = checked(response).await?.json().await?;
        body["access_token"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| "the token response has no access_token".into())
    }

    /// Publishes a dataset spec (YAML).
    pub async fn publish(&self, token: &str, spec: String) -> Result<(), String> {
        let response = self
            .http
            .post(format!("{}/v1/datasets", self.url))
            .bearer_auth(token)
            .header(reqwest::header::CONTENT_TYPE, "application/yaml")
            .body(spec)
            .send()
            .await
            .map_err(|error| error.to_string())?;
        checked(response).await.map(drop)
    }

    /// Runs a query with Arrow IPC output, decoding every batch as it arrives.
    pub async fn query(&self, token: &str, sql: &str, purpose: &str) -> Result<Received, String> {
        let response = self
            .http
            .post(format!("{}/v1/query", self.url))
            .bearer_auth(token)
            .header(reqwest::header::ACCEPT, ARROW_STREAM)
            .json(&json!({ "sql": sql, "purpose": purpose }))
            .send()
            .await
            .map_err(|error| error.to_string())?;
        let response = checked(response).await?;
        let bytes = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counted = {
            let bytes = std::sync::Arc::clone(&bytes);
            response.bytes_stream().inspect(move |chunk| {
                if let Ok(chunk) = chunk {
                    bytes.fetch_add(chunk.len() as u64, std::sync::atomic::Ordering::Relaxed);
                }
            })
        };
        let mut batches = std::pin::pin!(causeway_hub::cli::client::decode_arrow(counted));
        let mut rows = 0;
        while let Some(batch) = batches.next().await {
            rows += batch.map_err(|error| error.to_string())?.num_rows() as u64;
        }
        Ok(Received {
            rows,
            bytes: bytes.load(std::sync::atomic::Ordering::Relaxed),
        })
    }

    /// Verifies `records` against `dataset`; the number of answers.
    pub async fn verify(
        &self,
        token: &str,
        dataset: &str,
        purpose: &str,
        records: &[serde_json::Value],
    ) -> Result<usize, String> {
        let response = self
            .http
            .post(format!("{}/v1/verify", self.url))
            .bearer_auth(token)
            .json(&json!({ "dataset": dataset, "purpose": purpose, "records": records }))
            .send()
            .await
            .map_err(|error| error.to_string())?;
        let answer: serde_json::Value = checked(response)
            .await?
            .json()
            .await
            .map_err(|error| error.to_string())?;
        answer["results"]
            .as_array()
            .map(Vec::len)
            .ok_or_else(|| format!("no results in {answer}"))
    }

    /// The bytes the hub holds in accelerated copies of datasets, from its catalog.
    pub async fn accelerated_bytes(&self, token: &str) -> Result<u64, String> {
        let response = self
            .http
            .get(format!("{}/v1/catalog", self.url))
            .bearer_auth(token)
            .send()
            .await
            .map_err(|error| error.to_string())?;
        let catalog: serde_json::Value = checked(response)
            .await?
            .json()
            .await
            .map_err(|error| error.to_string())?;
        let departments = catalog["departments"]
            .as_array()
            .ok_or("the catalog has no departments")?;
        Ok(departments
            .iter()
            .filter_map(|department| department["datasets"].as_array())
            .flatten()
            .filter_map(|dataset| dataset["acceleration"]["bytes"].as_u64())
            .sum())
    }

    /// Runs a query with JSON output (for small answers such as EXPLAIN).
    pub async fn query_json(
        &self,
        token: &str,
        sql: &str,
        purpose: &str,
    ) -> Result<serde_json::Value, String> {
        let response = self
            .http
            .post(format!("{}/v1/query", self.url))
            .bearer_auth(token)
            .json(&json!({ "sql": sql, "purpose": purpose }))
            .send()
            .await
            .map_err(|error| error.to_string())?;
        checked(response)
            .await?
            .json()
            .await
            .map_err(|error| error.to_string())
    }
}

/// The response, or the hub's error message.
async fn checked(response: reqwest::Response) -> Result<reqwest::Response, String> {
    if response.status().is_success() {
        return Ok(response);
    }
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    let message = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|body| body["error"]["message"].as_str().map(str::to_owned))
        .unwrap_or(body);
    Err(format!("HTTP {status}: {message}"))
}

/// A loopback port nobody listens on now: bound, read and released.
fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The CPU time, in seconds, process `pid` (or `self`) has used so far, all its threads
/// together: `utime` plus `stime` of `/proc/PID/stat` (proc(5)), in clock ticks of 1/100 s
/// (`USER_HZ`, which Linux fixes at 100 for what it reports to user space).
pub fn cpu_seconds(pid: &str) -> Measured<f64> {
    const USER_HZ: f64 = 100.0;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|error| format!("cannot read the CPU time of process {pid}: {error}"))?;
    // The command name, in parentheses, may hold spaces: the fields are counted after it.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // After the name, `state` is the first field: `utime` and `stime` are the 12th and 13th.
    let ticks = |index: usize| fields.get(index).and_then(|value| value.parse::<u64>().ok());
    match (ticks(11), ticks(12)) {
        (Some(user), Some(system)) => Ok((user + system) as f64 / USER_HZ),
        _ => Err(format!("no CPU time in /proc/{pid}/stat")),
    }
}
