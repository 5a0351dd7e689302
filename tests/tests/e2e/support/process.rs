//! The hub as a process: started (alone or as a replica on another's store), signalled,
//! restarted and stopped, its log kept and its listening addresses read from it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{ADMIN, Hub, causeway_binary, client_builder};

impl Hub {
    /// Starts another hub on this one's metadata store (a replica), with the whole
    /// configuration `config` writes for its own data directory; the accounts are the ones
    /// this hub made, read from the store they share.
    pub async fn replica(&self, config: impl FnOnce(&Path) -> String) -> Hub {
        self.replica_prepared(config, |_| {}).await
    }

    /// Like [`Hub::replica`], with `prepare` run on the new hub's configuration file before
    /// it starts (a `causeway restore` into it, say).
    pub async fn replica_prepared(
        &self,
        config: impl FnOnce(&Path) -> String,
        prepare: impl FnOnce(&Path),
    ) -> Hub {
        let dir = tempfile::Builder::new()
            .prefix("causeway-e2e")
            .tempdir()
            .expect("tempdir");
        let path = dir.path().join("causeway.toml");
        std::fs::write(&path, config(dir.path())).expect("write config");
        prepare(&path);
        let (child, url, log) = spawn(&path);
        let mut hub = Hub {
            child,
            url,
            dir,
            log,
            http: client_builder(self.tls.as_ref()).build().expect("client"),
            admin_secret: self.admin_secret.clone(),
            administrators: self.administrators.clone(),
            tokens: Mutex::default(),
            publishers: Mutex::new(self.publishers.lock().expect("publishers").clone()),
            tls: self.tls.clone(),
        };
        let token = hub.token(ADMIN, &hub.admin_secret.clone()).await;
        hub.http = hub.authorized(&token);
        hub
    }

    /// Stops the hub and starts it again on the same data directory and configuration.
    /// It listens on a new port, so it is a new issuer: the admin gets a new token.
    pub async fn restart(&mut self) {
        self.stop();
        let (child, url, log) = spawn(&self.dir.path().join("causeway.toml"));
        self.child = child;
        self.url = url;
        self.log = log;
        self.tokens.lock().expect("tokens").clear();
        let token = self.token(ADMIN, &self.admin_secret.clone()).await;
        self.http = self.authorized(&token);
    }

    /// Sends the hub SIGHUP, which reads its policy files and alert rules again.
    pub fn hangup(&self) {
        let status = Command::new("kill")
            .args(["-HUP", &self.pid().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "SIGHUP to the hub");
    }

    /// Asks the hub to shut down (SIGTERM), as a service manager does, and waits for it: it
    /// lets its requests finish and seals its audit log.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let sent = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("kill");
        assert!(sent.success(), "SIGTERM to the hub");
        let deadline = std::time::Instant::now() + Duration::from_secs(45);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the hub") {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the hub did not stop after SIGTERM:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the hub, as an operator does before working on its files.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The address a listener logged as `FIELD=host:port` on the line containing `line`
    /// (e.g. `("Prometheus metrics", "metrics")`).
    pub fn logged_address(&self, line: &str, field: &str) -> String {
        let marker = format!("{field}=");
        self.log()
            .lines()
            .find(|text| text.contains(line))
            .and_then(|text| text.split(marker.as_str()).nth(1))
            .and_then(|rest| rest.split_whitespace().next())
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("the hub logs its {line} address:\n{}", self.log()))
    }
}

pub(super) fn spawn(config_path: &Path) -> (Child, String, Arc<Mutex<Vec<String>>>) {
    let mut child = Command::new(causeway_binary())
        .args(["serve", "--config"])
        .arg(config_path)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start causeway");
    let stderr = child.stderr.take().expect("stderr");
    let log = Arc::new(Mutex::new(Vec::new()));
    let (address_sender, address_receiver) = mpsc::channel();
    let lines = Arc::clone(&log);
    // Keeps draining the hub's log so it never blocks on a full pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            // "address=..." in text logs, "address":"..." in JSON ones.
            let address = line
                .split("address=")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .or_else(|| line.split("\"address\":\"").nth(1)?.split('"').next());
            if let Some(address) = address {
                let address = address.to_owned();
                let scheme = if line.contains("scheme=https") || line.contains("\"scheme\":\"https\"") {
                    "https"
                } else {
                    "http"
                };
                let _ = address_sender.send((address, scheme));
            }
            if let Ok(mut lines) = lines.lock() {
                lines.push(line);
            }
        }
    });
    let (address, scheme) = address_receiver
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| {
            let _ = child.kill();
            panic!(
                "the hub did not start:\n{}",
                log.lock().map(|l| l.join("\n")).unwrap_or_default()
            )
        });
    (child, format!("{scheme}://{address}"), log)
}
