//! The Python tools some end-to-end tests drive the hub with (the OpenAPI validator and
//! client generator, ADBC's Flight SQL driver), from the virtual environment
//! `.ci/python-tools` makes (`CAUSEWAY_PYTHON`); with `CI=true` their absence is a failure.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The virtual environment's python, if there is one.
pub fn python() -> Option<PathBuf> {
    let python = std::env::var_os("CAUSEWAY_PYTHON")
        .map(PathBuf::from)
        .or_else(|| {
            let home = std::env::var_os("HOME")?;
            Some(Path::new(&home).join(".cache/causeway/test-venv/bin/python"))
        })?;
    if python.is_file() {
        return Some(python);
    }
    let required = std::env::var("CI").is_ok_and(|value| value == "true" || value == "1");
    assert!(
        !required,
        "the Python tools are required (CI=true): export CAUSEWAY_PYTHON=\"$(bash .ci/python-tools)\""
    );
    eprintln!("skipped: no Python tools; export CAUSEWAY_PYTHON=\"$(bash .ci/python-tools)\"");
    None
}

/// Runs `command`, insisting that it works; answers its stdout.
pub fn run(command: &mut Command) -> String {
    let output = command.output().expect("run the tool");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{command:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}
