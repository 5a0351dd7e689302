//! The API document as client authors use it: valid OpenAPI to the standard validator
//! (`openapi-spec-validator`), and a client generated from it (`openapi-python-client`) that
//! works against the hub. The tools come from the virtual environment `.ci/python-tools`
//! makes (`CAUSEWAY_PYTHON`); with `CI=true` their absence is a failure.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::python::{python, run};
use crate::support::{ADMIN, Hub};

#[tokio::test]
async fn the_api_document_is_valid_openapi_and_a_generated_client_works() {
    let Some(python) = python() else { return };
    let bin = python.parent().expect("the venv's bin folder").to_path_buf();
    let hub = Hub::start("").await;
    let document: Value = reqwest::get(format!("{}/v1/openapi.json", hub.url))
        .await
        .expect("the document")
        .json()
        .await
        .expect("JSON");
    assert!(
        document["openapi"]
            .as_str()
            .is_some_and(|version| version.starts_with("3.1")),
        "{}",
        document["openapi"]
    );
    let file = hub.dir().join("openapi.json");
    std::fs::write(&file, document.to_string()).expect("write the document");

    let validated = run(Command::new(bin.join("openapi-spec-validator")).arg(&file));
    assert!(validated.contains("OK"), "{validated}");

    let generated = hub.dir().join("generated");
    run(Command::new(bin.join("openapi-python-client"))
        .args(["generate", "--meta", "none", "--path"])
        .arg(&file)
        .arg("--output-path")
        .arg(&generated)
        .env(
            "PATH",
            format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default()),
        ));
    assert!(
        generated.join("client.py").is_file(),
        "a client package is generated"
    );

    let token = hub.token(ADMIN, &hub.admin_secret).await;
    let answer = run(Command::new(&python)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("python/generated_client.py"))
        .arg(&generated)
        .arg(&hub.url)
        .arg(&token));
    let answer: Value = serde_json::from_str(answer.trim()).expect("the script's JSON");
    assert_eq!(answer["health"], 200, "{answer}");
    assert_eq!(answer["catalog"], 200, "{answer}");
    assert!(answer["departments"].is_array(), "{answer}");
    assert_eq!(answer["catalog_without_token"], 401, "{answer}");
}
