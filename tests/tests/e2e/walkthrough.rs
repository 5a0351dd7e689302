//! The docs as a newcomer follows them: the demo is started as the README says, every block of
//! the README's walk-through (```` ```sh walkthrough ````) is run as written, with the built
//! binary as `causeway`, and then every command the demo printed is pasted as printed. The
//! README cannot drift from the product without this failing.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::causeway_binary;

/// The demo, serving, killed when dropped.
struct Demo {
    child: Child,
    /// Whether it has its database sources.
    databases: bool,
    url: String,
    /// What it printed up to its last instruction.
    printed: String,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether the demo's database sources can be loaded: PostgreSQL and MariaDB answer on their
/// ports, as they must in CI.
fn databases_running() -> bool {
    let open = |port: u16| std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
    let required = std::env::var("CI").is_ok_and(|value| value == "true" || value == "1");
    let running = open(5432) && open(3306);
    assert!(
        running || !required,
        "PostgreSQL and MariaDB are required (CI=true)"
    );
    running
}

/// Starts `causeway demo` in `dir/causeway-demo` (with the database sources when they run)
/// and reads what it prints until it serves.
fn start_demo(dir: &Path) -> Demo {
    let mut args = vec![
        "demo",
        "--scale",
        "1",
        "--dir",
        "causeway-demo",
        "--listen",
        "127.0.0.1:0",
        "--postgres-listen",
        "127.0.0.1:0",
        "--flight-listen",
        "127.0.0.1:0",
    ];
    let databases = databases_running();
    if databases {
        args.push("--with-databases");
    } else {
        eprintln!("the demo runs without its database sources: PostgreSQL or MariaDB is not running");
    }
    let mut child = Command::new(causeway_binary())
        .args(&args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the demo");
    let stdout = child.stdout.take().expect("the demo's output");
    let (lines, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut printed = String::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match received.recv_timeout(left) {
            Ok(line) => {
                let done = line.contains("Stop with Ctrl-C.");
                printed.push_str(&line);
                printed.push('\n');
                if done {
                    break;
                }
            }
            Err(_) => {
                let _ = child.kill();
                panic!("the demo did not start serving:\n{printed}");
            }
        }
    }
    let url = printed
        .lines()
        .find_map(|line| line.strip_prefix("Causeway is serving at "))
        .map(|url| url.trim().to_owned())
        .unwrap_or_else(|| panic!("the demo says where it serves:\n{printed}"));
    Demo {
        child,
        databases,
        url,
        printed,
    }
}

/// Runs `script` with bash, stopping at the first failing command, with the built binary as
/// `causeway` and a sign-in of its own; answers what it printed.
fn run_script(dir: &Path, script: &str, hub: &str) -> String {
    let binary = causeway_binary();
    let bin_dir = binary.parent().expect("the binary's folder");
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let config = dir.join("cli-config");
    std::fs::create_dir_all(&config).expect("config dir");
    let output = Command::new("bash")
        .args(["-euo", "pipefail", "-x", "-c", script])
        .current_dir(dir)
        .env("PATH", path)
        .env("CAUSEWAY_HUB", hub)
        .env("CAUSEWAY_CONFIG_DIR", &config)
        .env_remove("CAUSEWAY_TOKEN")
        .env_remove("CAUSEWAY_CLIENT_SECRET")
        .output()
        .expect("run bash");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "a command failed as written:\n--- output\n{stdout}\n--- commands and errors\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The README's walk-through blocks, in order, as one script.
fn readme_walkthrough() -> String {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
        .expect("the README");
    let mut script = String::new();
    let mut inside = false;
    for line in readme.lines() {
        if inside {
            if line.trim_start().starts_with("```") {
                inside = false;
            } else {
                script.push_str(line);
                script.push('\n');
            }
        } else if line.trim() == "```sh walkthrough" {
            inside = true;
        }
    }
    script
}

/// The commands the demo printed, one per line, as a user would paste them.
fn printed_commands(printed: &str) -> String {
    let binary = causeway_binary().display().to_string();
    printed
        .lines()
        .map(str::trim)
        .filter(|line| {
            line.starts_with(&binary)
                || line.starts_with("CAUSEWAY_CLIENT_SECRET=")
                || line.starts_with("export TOKEN=")
                || line.starts_with("curl ")
        })
        .map(|line| format!("{line}\n"))
        .collect()
}

#[test]
fn the_demo_stories_and_the_readme_walkthrough_run_as_printed() {
    let dir = tempfile::Builder::new()
        .prefix("causeway-walkthrough")
        .tempdir()
        .expect("tempdir");
    let demo = start_demo(dir.path());

    let script = readme_walkthrough();
    assert!(
        script.lines().count() > 20 && script.contains("causeway access decide"),
        "the README has its walk-through:\n{script}"
    );
    let output = run_script(dir.path(), &script, &demo.url);

    // What the steps did, as their people would check it.
    assert!(
        output.contains("land_registry.parcels is now at version 2"),
        "{output}"
    );
    assert!(
        output.contains("title Land parcels and owners -> Registered land parcels and their owners"),
        "the diff names the change: {output}"
    );
    assert!(!output.contains("BREAKING"), "{output}");
    assert!(
        output.contains("request") && output.contains("is approved"),
        "{output}"
    );
    // The officer's row filter holds: only active enrolments reach the planner.
    assert!(output.contains("\nactive,"), "{output}");
    for status in ["suspended,", "ended,"] {
        assert!(!output.contains(&format!("\n{status}")), "{status} in {output}");
    }
    let parquet = std::fs::File::open(dir.path().join("coverage.parquet")).expect("the Parquet file");
    let rows: usize =
        datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(parquet)
            .expect("a Parquet file")
            .build()
            .expect("its reader")
            .map(|batch| batch.expect("a batch").num_rows())
            .sum();
    assert!(rows > 0, "the planner's join found enrolled residents");
    assert!(
        !dir.path().join("coverage.parquet.partial").exists(),
        "no partial file is left"
    );

    // Then every story the demo prints, the pending request's decisions included (after the
    // walk-through: that request's grant has no row filter, and would widen the planner's view).
    let commands = printed_commands(&demo.printed);
    assert!(
        commands.matches("access decide").count() == 2 && commands.contains("curl "),
        "the demo prints its stories:\n{}",
        demo.printed
    );
    assert_eq!(
        commands.contains("social_security.benefit_payments")
            && commands.contains("market_supervision.inspections"),
        demo.databases,
        "the database sources' stories are printed when they are loaded:\n{}",
        demo.printed
    );
    let output = run_script(dir.path(), &commands, &demo.url);
    assert!(output.contains("is approved"), "{output}");

    drop(demo);
}
