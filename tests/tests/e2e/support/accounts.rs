//! The accounts a test hub acts as: the three administrators made before it started, the
//! departments' publishers made when first needed, and any client a test asks for.

use std::io::Write;
use std::process::{Command, Stdio};

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{AUDITOR, Caller, Hub, SECURITY_ADMIN, SYSTEM_ADMIN, causeway, causeway_binary, json_of};

impl Hub {
    /// A caller acting as the client `id` of `secret`, with a token of this run of the hub.
    pub async fn caller_of(&self, id: &str, secret: &str) -> Caller {
        let token = self.token_of(id, secret).await;
        self.caller(&self.authorized(&token))
    }

    /// A token of this run of the hub for the client `id` of `secret`, asked for once.
    /// A caller of client `id` with a token taken now, not the one kept: after its secret
    /// changed, the tokens issued before are refused. The new token is kept.
    pub async fn renewed_caller_of(&self, id: &str, secret: &str) -> Caller {
        let token = self.token(id, secret).await;
        self.tokens
            .lock()
            .expect("tokens")
            .insert(id.to_owned(), token.clone());
        self.caller(&self.authorized(&token))
    }

    pub async fn token_of(&self, id: &str, secret: &str) -> String {
        let known = self.tokens.lock().expect("tokens").get(id).cloned();
        match known {
            Some(token) => token,
            None => {
                let token = self.token(id, secret).await;
                self.tokens
                    .lock()
                    .expect("tokens")
                    .insert(id.to_owned(), token.clone());
                token
            }
        }
    }

    fn administrator_secret(&self, id: &str) -> String {
        self.administrators
            .iter()
            .find(|(admin, _)| *admin == id)
            .map(|(_, secret)| secret.clone())
            .expect("an administrator of the test hub")
    }

    async fn administrator(&self, id: &str) -> Caller {
        self.caller_of(id, &self.administrator_secret(id)).await
    }

    /// The system administrator: clients, keys; reads no data and no audit record.
    pub async fn system(&self) -> Caller {
        self.administrator(SYSTEM_ADMIN).await
    }

    /// The security administrator: grants, deny rules, decisions, alerts.
    pub async fn security(&self) -> Caller {
        self.administrator(SECURITY_ADMIN).await
    }

    /// A token of the security administrator, for commands run as them.
    pub async fn security_token(&self) -> String {
        self.token_of(SECURITY_ADMIN, &self.administrator_secret(SECURITY_ADMIN))
            .await
    }

    /// The auditor: reads and verifies the audit log.
    pub async fn auditor(&self) -> Caller {
        self.administrator(AUDITOR).await
    }

    /// A publisher of `department`, made by the system administrator when first needed.
    pub async fn publisher(&self, department: &str) -> Caller {
        let token = self.publisher_token(department).await;
        self.caller(&self.authorized(&token))
    }

    /// A token of a publisher of `department`.
    pub async fn publisher_token(&self, department: &str) -> String {
        let id = format!("e2e-publisher-{department}");
        let known = self
            .publishers
            .lock()
            .expect("publishers")
            .get(department)
            .cloned();
        let secret = match known {
            Some(secret) => secret,
            None => {
                let secret = self.add_client(&id, department, &["publisher"], json!({})).await;
                self.publishers
                    .lock()
                    .expect("publishers")
                    .insert(department.to_owned(), secret.clone());
                secret
            }
        };
        self.token_of(&id, &secret).await
    }

    /// Creates a client and returns its secret: through the system administrator's API, then
    /// approved by the security administrator; or, for an administrative role (which the API
    /// never gives), with `causeway client add` on the hub's machine, as an operator does.
    pub async fn add_client(&self, id: &str, department: &str, roles: &[&str], attributes: Value) -> String {
        let administrative = [
            "system_admin",
            "security_admin",
            "auditor",
            "admin",
            "security_officer",
        ];
        if roles.iter().any(|role| administrative.contains(role)) {
            assert_eq!(
                attributes,
                json!({}),
                "administrators are made without attributes here"
            );
            let output = causeway(&[
                "client",
                "add",
                "--config",
                &self.dir().join("causeway.toml").to_string_lossy(),
                "--id",
                id,
                "--dept",
                department,
                "--roles",
                &roles.join(","),
            ]);
            assert!(
                output.status.success(),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
            return String::from_utf8_lossy(&output.stdout).trim().to_owned();
        }
        let response = self
            .system()
            .await
            .http
            .post(format!("{}/v1/clients", self.url))
            .json(&json!({ "id": id, "department": department, "roles": roles, "attributes": attributes }))
            .send()
            .await
            .expect("create client");
        let (status, body) = json_of(response).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (status, approval) = self
            .security()
            .await
            .post(
                &format!("/v1/clients/{id}/approve"),
                json!({"department": department, "roles": roles}),
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{approval}");
        body["client_secret"].as_str().expect("client_secret").to_owned()
    }

    /// An HTTP client acting as a new client of the given department and roles.
    pub async fn client_as(&self, id: &str, department: &str, roles: &[&str]) -> reqwest::Client {
        let secret = self.add_client(id, department, roles, json!({})).await;
        self.authorized(&self.token(id, &secret).await)
    }

    /// `http` (a client with its token) as a caller of this hub.
    pub fn caller(&self, http: &reqwest::Client) -> Caller {
        Caller {
            url: self.url.clone(),
            http: http.clone(),
        }
    }

    /// A caller acting as a new client of the given department and roles.
    pub async fn caller_as(&self, id: &str, department: &str, roles: &[&str]) -> Caller {
        let http = self.client_as(id, department, roles).await;
        self.caller(&http)
    }

    /// Adds a person with `causeway client add --person`, the password piped in.
    pub fn add_person(&self, id: &str, department: &str, roles: &str, name: &str, password: &str) {
        self.add_person_with(id, department, roles, name, password, &[]);
    }

    /// Adds a person with attributes (`name=value`, e.g. `grid_id=GC-002`).
    pub fn add_person_with(
        &self,
        id: &str,
        department: &str,
        roles: &str,
        name: &str,
        password: &str,
        attributes: &[&str],
    ) {
        let config = self.dir().join("causeway.toml");
        let mut child = Command::new(causeway_binary())
            .args(["client", "add", "--config"])
            .arg(&config)
            .args([
                "--id", id, "--dept", department, "--roles", roles, "--person", name,
            ])
            .args(attributes.iter().flat_map(|attribute| ["--attr", attribute]))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run causeway");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(format!("{password}\n").as_bytes())
            .expect("write the password");
        let output = child.wait_with_output().expect("causeway ends");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let said = String::from_utf8_lossy(&output.stdout);
        assert!(!said.contains(password), "the password is never printed: {said}");
    }
}
