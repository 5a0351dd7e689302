//! DuckDB through its Python package: the script `bench/duckdb_runner.py` (compiled into
//! the binary) run by a Python that has `duckdb`: `--python`, or a virtual environment the
//! harness makes in the user's cache directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use super::stats::{Latencies, Measured, Spread};

const RUNNER: &str = include_str!("../duckdb_runner.py");

/// A Python with `duckdb`, and the runner script written out for it.
pub struct DuckDb {
    python: PathBuf,
    script: PathBuf,
}

/// One run of the script: load the tables (as views over the files, or into memory), run
/// the join, then look residents up one at a time.
#[derive(Debug, Serialize)]
pub struct Job {
    pub tables: BTreeMap<String, String>,
    pub memory: bool,
    pub join_sql: String,
    pub warmup: usize,
    pub runs: usize,
    /// The lookup query with `{id}` where the ID number goes.
    pub lookup_sql: String,
    pub ids: Vec<String>,
    pub lookup_warmup: usize,
    pub lookup_seconds: f64,
}

#[derive(Debug, Deserialize)]
struct Timings {
    join_seconds: Vec<f64>,
    lookup_seconds: Vec<f64>,
    lookup_elapsed: f64,
}

/// What DuckDB measured.
pub struct DuckDbResults {
    pub join: Measured<Spread>,
    pub lookups: Measured<Latencies>,
}

impl DuckDb {
    /// Finds or makes a Python with `duckdb`, or says why there is none.
    pub async fn prepare(dir: &Path, python: Option<&Path>) -> Result<Self, String> {
        let script = dir.join("duckdb_runner.py");
        std::fs::write(&script, RUNNER)
            .map_err(|error| format!("cannot write {}: {error}", script.display()))?;
        let python = match python {
            Some(python) => python.to_path_buf(),
            None => virtual_environment().await?,
        };
        if !has_duckdb(&python).await {
            return Err(format!("{} cannot import duckdb", python.display()));
        }
        Ok(Self { python, script })
    }

    pub async fn run(&self, job: &Job) -> DuckDbResults {
        match self.timings(job).await {
            Ok(timings) => DuckDbResults {
                join: Spread::of(&seconds(&timings.join_seconds)).ok_or_else(|| "no join runs".to_owned()),
                lookups: Latencies::of(
                    1,
                    seconds(&timings.lookup_seconds),
                    Duration::from_secs_f64(timings.lookup_elapsed),
                )
                .ok_or_else(|| "no lookups".to_owned()),
            },
            Err(error) => DuckDbResults {
                join: Err(error.clone()),
                lookups: Err(error),
            },
        }
    }

    async fn timings(&self, job: &Job) -> Result<Timings, String> {
        let failed = |error: &dyn std::fmt::Display| format!("the DuckDB runner failed: {error}");
        let mut child = Command::new(&self.python)
            .arg(&self.script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| failed(&e))?;
        let job = serde_json::to_vec(job).map_err(|e| failed(&e))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(&job).await.map_err(|e| failed(&e))?;
        }
        let output = child.wait_with_output().await.map_err(|e| failed(&e))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let last = stderr.lines().last().unwrap_or("no message");
            return Err(failed(&last));
        }
        serde_json::from_slice(&output.stdout).map_err(|e| failed(&e))
    }
}

fn seconds(values: &[f64]) -> Vec<Duration> {
    values
        .iter()
        .map(|value| Duration::from_secs_f64(*value))
        .collect()
}

async fn has_duckdb(python: &Path) -> bool {
    Command::new(python)
        .args(["-c", "import duckdb"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .is_ok_and(|status| status.success())
}

/// `~/.cache/causeway/bench-venv` with `duckdb` installed: made once, reused by later runs.
async fn virtual_environment() -> Result<PathBuf, String> {
    let venv = dirs::cache_dir()
        .ok_or("no cache directory to make a Python virtual environment in")?
        .join("causeway")
        .join("bench-venv");
    let python = venv.join("bin").join("python");
    if has_duckdb(&python).await {
        return Ok(python);
    }
    let progress =
        causeway_hub::cli::terminal::spinner("installing duckdb into a Python virtual environment");
    let made = step(Command::new("python3").arg("-m").arg("venv").arg(&venv)).await;
    let installed = match made {
        Ok(()) => step(Command::new(&python).args(["-m", "pip", "install", "--quiet", "duckdb"])).await,
        Err(error) => Err(error),
    };
    progress.finish_and_clear();
    installed.map(|()| python)
}

async fn step(command: &mut Command) -> Result<(), String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|error| format!("cannot run {:?}: {error}", command.as_std().get_program()))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    Err(format!(
        "{:?} failed: {}",
        command.as_std().get_program(),
        stderr.lines().last().unwrap_or("no message")
    ))
}
