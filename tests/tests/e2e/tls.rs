//! TLS and mutual TLS with the development certificates of `causeway certs dev`.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Hub, TestTls, causeway, client_builder};

/// Makes development certificates in `dir/certs`.
pub fn dev_certificates(dir: &std::path::Path) -> std::path::PathBuf {
    let certs = dir.join("certs");
    let output = causeway(&["certs", "dev", "--out", &certs.to_string_lossy()]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    certs
}

pub fn tls_config(certs: &std::path::Path, client_ca: bool) -> String {
    let mut config = format!(
        "[server.tls]\ncert = \"{}\"\nkey = \"{}\"\n",
        certs.join("server.pem").display(),
        certs.join("server-key.pem").display()
    );
    if client_ca {
        config.push_str(&format!("client_ca = \"{}\"\n", certs.join("ca.pem").display()));
    }
    config
}

/// A hub under `[server.tls]` with the development certificates (a client CA when
/// `client_ca`), `server_extra` added to its `[server]` section; its test client presents
/// the development client certificate when `with_client_certificate`.
pub async fn tls_hub(
    server_extra: &str,
    client_ca: bool,
    with_client_certificate: bool,
) -> (Hub, std::path::PathBuf) {
    let dir = tempfile::Builder::new()
        .prefix("causeway-tls")
        .tempdir()
        .expect("tempdir");
    let certs = dev_certificates(dir.path());
    let config = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n{server_extra}{}[storage]\ndata_dir = \"{}\"\n",
        tls_config(&certs, client_ca),
        dir.path().display()
    );
    std::fs::write(dir.path().join("causeway.toml"), config).expect("config");
    let client = with_client_certificate.then(|| (certs.join("client.pem"), certs.join("client-key.pem")));
    let tls = TestTls {
        ca: certs.join("ca.pem"),
        client,
    };
    (Hub::serve_existing_with(dir, Some(tls)).await, certs)
}

/// A client that trusts the development CA gets in over TLS; one that trusts only the
/// public roots, or speaks plain HTTP, does not.
#[tokio::test]
async fn clients_that_trust_the_ca_connect_and_others_do_not() {
    let (hub, _certs) = tls_hub("", false, false).await;
    assert!(hub.url.starts_with("https://127.0.0.1:"), "{}", hub.url);
    let (status, body) = hub.get("/v1/catalog").await;
    assert_eq!((status, body), (StatusCode::OK, json!({"departments": []})));

    let untrusting = client_builder(None).build().expect("client");
    let result = untrusting.get(format!("{}/v1/health", hub.url)).send().await;
    assert!(
        result.is_err(),
        "a client that does not trust the dev CA must fail"
    );

    let plain = hub.url.replacen("https://", "http://", 1);
    let result = client_builder(None)
        .build()
        .expect("client")
        .get(format!("{plain}/v1/health"))
        .send()
        .await;
    assert!(
        result
            .map(|response| !response.status().is_success())
            .unwrap_or(true)
    );
}

/// With a client CA, a client without a certificate is refused during the handshake; one
/// with a certificate gets in, and its subject is part of its principal.
#[tokio::test]
async fn mutual_tls_needs_a_client_certificate() {
    let (hub, certs) = tls_hub("", true, true).await;
    let (status, me) = hub.get("/v1/me").await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(
        me["certificate_subject"],
        "CN=causeway-dev-client, O=Causeway development"
    );

    let without = client_builder(Some(&TestTls {
        ca: certs.join("ca.pem"),
        client: None,
    }))
    .build()
    .expect("client");
    let result = without.get(format!("{}/v1/health", hub.url)).send().await;
    assert!(
        result.is_err(),
        "a client without a certificate must be refused: {result:?}"
    );

    // The CLI reaches it with the same files.
    let output = std::process::Command::new(crate::support::causeway_binary())
        .args([
            "query",
            "--hub",
            &hub.url,
            "--purpose",
            "testing",
            "--format",
            "csv",
            "--ca-cert",
            &certs.join("ca.pem").to_string_lossy(),
            "--client-cert",
            &certs.join("client.pem").to_string_lossy(),
            "--client-key",
            &certs.join("client-key.pem").to_string_lossy(),
            "SELECT 1 AS one",
        ])
        .env(
            "CAUSEWAY_TOKEN",
            hub.token(crate::support::ADMIN, &hub.admin_secret).await,
        )
        .output()
        .expect("run");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout), "one\n1\n");
}
