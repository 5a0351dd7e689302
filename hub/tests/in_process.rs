//! A hub started in this process, as another front door or a test would: on port 0, until
//! its shutdown future resolves.

use std::time::Duration;

use causeway_hub::config::Config;
use causeway_hub::startup::Hub;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_serves_in_process_on_port_0_until_its_shutdown_future_resolves() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("causeway.toml");
    std::fs::write(
        &path,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[storage]\ndata_dir = \"{}\"\n",
            dir.path().join("data").display()
        ),
    )
    .expect("config");
    let hub = Hub::build(Config::load(Some(&path)).expect("config loads"))
        .await
        .expect("the hub builds");
    let listener = hub.bind().await.expect("bind");
    let address = listener.http.local_addr().expect("address");
    assert_ne!(address.port(), 0);
    let identity = hub.identity(&listener).expect("identity");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(hub.serve_until(listener, identity, async {
        let _ = stopped.await;
    }));

    let health = reqwest::get(format!("http://{address}/v1/health"))
        .await
        .expect("health answers");
    assert_eq!(health.status(), reqwest::StatusCode::OK);
    let body: serde_json::Value = health.json().await.expect("json");
    assert_eq!(body["status"], "ok", "{body}");

    stop.send(()).expect("still serving");
    let ended = tokio::time::timeout(Duration::from_secs(10), serving)
        .await
        .expect("it stops within 10 s")
        .expect("the task ends cleanly");
    assert!(ended.is_ok(), "{ended:?}");
    assert!(
        tokio::net::TcpStream::connect(address).await.is_err(),
        "nothing listens once it stopped"
    );
    // The audit log was closed with a checkpoint: it verifies offline, tail sealed.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_causeway"))
        .args(["audit", "verify", "--config"])
        .arg(&path)
        .output()
        .expect("audit verify");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
}
