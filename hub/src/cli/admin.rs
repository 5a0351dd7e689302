//! Commands an operator runs on the hub's own machine, against its configuration and
//! metadata store: the clients of the built-in authorization server and its signing keys.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use causeway_policies::{AttributeValue, Role};
use clap::{Args, Subcommand};
use serde_json::json;

use crate::audit::operator::OperatorLog;
use crate::audit::{Action, Event, Gate, Outcome};
use crate::config::Config;
use crate::identity::{ClientService, ClientSpec, KeyRing, MIN_PASSWORD_CHARS, PersonSpec};
use crate::store::MetadataStore;

/// The hub whose state a command changes.
#[derive(Debug, Args)]
pub struct LocalHub {
    /// The hub's configuration file.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
}

impl LocalHub {
    /// The hub's configuration. Without --config the defaults name ./causeway-data; a
    /// command refuses to change a hub there when there is none, rather than quietly make an
    /// empty one in whatever folder it was run from.
    pub fn load(&self) -> Result<Config, Box<dyn std::error::Error>> {
        let config = Config::load(self.config.as_deref())?;
        if self.config.is_none() && !config.metadata_exists() {
            return Err(format!(
                "no hub here: {} has no metadata store; name the hub's configuration with --config FILE",
                config.data_dir().display()
            )
            .into());
        }
        Ok(config)
    }
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Create a client and print its secret, once; with --person, a person's account, whose
    /// password is typed at the prompt (twice) or is the first line of standard input.
    Add {
        /// The client id, e.g. land-registry-etl: 1 to 64 lower-case letters, digits, `.`, `-` or `_`.
        #[arg(long)]
        id: String,
        /// The department it acts for.
        #[arg(long = "dept")]
        department: String,
        /// Comma-separated: publisher, analyst; or one of system_admin, security_admin,
        /// auditor, held alone (separation of duties). `admin` and `security_officer`,
        /// names of earlier releases, mean system_admin and security_admin.
        #[arg(long, value_delimiter = ',')]
        roles: Vec<Role>,
        /// An attribute, as key=value; repeat for more, or repeat a key for a list.
        #[arg(long = "attr", value_parser = parse_attribute)]
        attributes: Vec<(String, String)>,
        /// The account is a person's, of this name, who signs in to the console with a
        /// password, not a service's with a secret.
        #[arg(long = "person", value_name = "NAME")]
        person: Option<String>,
        #[command(flatten)]
        hub: LocalHub,
    },
    /// Set a person's password, typed at the prompt (twice) or the first line of standard
    /// input. Sign-ins made with the old one end: their tokens, refresh tokens and codes
    /// waiting to be redeemed are refused within a few seconds.
    SetPassword {
        /// The person's id.
        id: String,
        #[command(flatten)]
        hub: LocalHub,
    },
    /// List the clients.
    List {
        #[command(flatten)]
        hub: LocalHub,
    },
    /// Replace a client's roles: how an operator splits an account of an earlier release
    /// that holds roles separation of duties keeps apart. Roles taken away stop counting
    /// at once; roles added come with the client's next token.
    Roles {
        /// The client's id.
        id: String,
        /// The roles it holds from now on, comma-separated.
        #[arg(long = "set", value_delimiter = ',', required = true)]
        roles: Vec<Role>,
        #[command(flatten)]
        hub: LocalHub,
    },
    /// Disable a client: its secret stops working.
    Disable {
        /// The client's id.
        id: String,
        #[command(flatten)]
        hub: LocalHub,
    },
    /// Give a client a new secret, printed once; the old one stops working.
    RotateSecret {
        /// The client's id.
        id: String,
        #[command(flatten)]
        hub: LocalHub,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Add a signing key; new tokens carry it, earlier tokens stay valid until they expire.
    Rotate {
        #[command(flatten)]
        hub: LocalHub,
    },
    /// Replace the pseudonym key, keeping the old one beside it to open what it sealed in
    /// the audit log. Every pseudonym changes: stop every hub that shares the key first.
    RotatePseudonym {
        #[command(flatten)]
        hub: LocalHub,
    },
}

/// An `--attr` that is not `key=value`.
#[derive(Debug, thiserror::Error)]
#[error("'{0}' is not key=value")]
struct NotKeyValue(String);

fn parse_attribute(text: &str) -> Result<(String, String), NotKeyValue> {
    text.split_once('=')
        .filter(|(key, _)| !key.is_empty())
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .ok_or_else(|| NotKeyValue(text.to_owned()))
}

/// A person's new password: typed twice at the prompt, or the first line of standard input
/// when that is no terminal.
fn read_password(id: &str) -> Result<String, Box<dyn std::error::Error>> {
    if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        let password = rpassword::prompt_password(format!(
            "Password for {id} (at least {MIN_PASSWORD_CHARS} characters): "
        ))?;
        if rpassword::prompt_password("The same again: ")? != password {
            return Err("the two passwords differ".into());
        }
        return Ok(password);
    }
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        return Err("no password: type it at the prompt, or pipe it in".into());
    }
    Ok(password)
}

/// The hub's configuration and its clients.
async fn clients(hub: &LocalHub) -> Result<(Config, ClientService), Box<dyn std::error::Error>> {
    let config = hub.load()?;
    std::fs::create_dir_all(config.data_dir())?;
    let clients = ClientService::new(MetadataStore::connect(&config.metadata_url()).await?);
    Ok((config, clients))
}

/// The gate of a change made here, by the operator at this machine: its record goes into
/// the hub's audit log (through the running hub, or directly when none runs) before the
/// change is made.
pub fn operator_gate(config: &Config, action: Action, detail: serde_json::Value) -> Gate {
    let paths = config.data_paths();
    let log = OperatorLog::new(
        &paths.operator_socket(),
        &config.audit_dir(),
        &config.audit,
        &paths.keys(),
    );
    Gate::operator(log, Event::new(action, Outcome::Ok).with_detail(detail))
}

/// Who approves what an operator does on the hub's machine: `local:<user>`, as the audit
/// log names them.
fn operator_name() -> String {
    crate::audit::operator::own_uid().map_or_else(
        || "local:unknown".to_owned(),
        crate::audit::operator::local_principal,
    )
}

/// Makes `change` once its record is on disk, and records a failure after it.
pub async fn recorded<T>(
    mut gate: Gate,
    change: impl AsyncFnOnce() -> Result<T, Box<dyn std::error::Error>>,
) -> Result<T, Box<dyn std::error::Error>> {
    gate.pass().await?;
    let result = change().await;
    let error = result.as_ref().err().map(ToString::to_string);
    gate.close(
        error
            .as_deref()
            .map(|message| (Outcome::Error, "not_applied", message)),
    )
    .await?;
    result
}

pub async fn client(command: ClientCommand) -> Result<(), Box<dyn std::error::Error>> {
    match command {
        ClientCommand::Add {
            id,
            department,
            roles,
            attributes,
            person,
            hub,
        } => {
            let mut grouped: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for (key, value) in attributes {
                grouped.entry(key).or_default().push(value);
            }
            let attributes = grouped
                .into_iter()
                .map(|(key, mut values)| {
                    let value = if values.len() == 1 {
                        AttributeValue::One(values.remove(0))
                    } else {
                        AttributeValue::Many(values)
                    };
                    (key, value)
                })
                .collect();
            let (config, clients) = clients(&hub).await?;
            let person = match person {
                Some(name) => Some(PersonSpec {
                    name,
                    password: Some(read_password(&id)?),
                }),
                None => None,
            };
            let spec = ClientSpec {
                id,
                department,
                roles: roles.into_iter().collect::<BTreeSet<_>>(),
                attributes,
                person,
            };
            clients.check_new(&spec).await?;
            let is_person = spec.person.is_some();
            let gate = operator_gate(
                &config,
                Action::ClientCreated,
                json!({
                    "client": spec.id,
                    "department": spec.department,
                    "roles": spec.roles,
                    "attributes": spec.attributes,
                    "kind": if is_person { "person" } else { "service" },
                }),
            );
            let operator = operator_name();
            let (created, secret) =
                recorded(gate, async || Ok(clients.create(spec, Some(&operator)).await?)).await?;
            if is_person {
                println!(
                    "created person {} of {}; they sign in to the console with their password",
                    created.id, created.department
                );
            } else {
                eprintln!(
                    "created client {} of {}; its secret, shown only now:",
                    created.id, created.department
                );
                println!("{secret}");
            }
        }
        ClientCommand::SetPassword { id, hub } => {
            let (config, clients) = clients(&hub).await?;
            clients.check_exists(&id).await?;
            let password = read_password(&id)?;
            let gate = operator_gate(
                &config,
                Action::ClientSecretRotated,
                json!({ "client": id, "kind": "person" }),
            );
            let operator = operator_name();
            recorded(gate, async || {
                clients.set_password(&id, password, Some(&operator)).await?;
                Ok(())
            })
            .await?;
            println!("{id} has a new password");
        }
        ClientCommand::List { hub } => {
            println!(
                "{:<28} {:<8} {:<22} {:<40} STATE",
                "CLIENT", "KIND", "DEPARTMENT", "ROLES"
            );
            for client in clients(&hub).await?.1.list().await? {
                let roles = causeway_policies::role_names(&client.roles, ",");
                let state = match (&client.refused, &client.approved_roles) {
                    (Some(refused), _) if client.disabled => {
                        format!("refused by {}: {}", refused.by, refused.reason)
                    }
                    _ if client.disabled => "disabled".to_owned(),
                    _ if causeway_policies::check_separation(&client.roles).is_err() => {
                        "refused: roles to split (causeway client roles)".to_owned()
                    }
                    (_, Some(approved)) if client.approved_by.is_none() => format!(
                        "waiting for a security administrator's approval of roles added to {}",
                        causeway_policies::role_names(approved, ",")
                    ),
                    _ if client.approved_by.is_none() => {
                        "waiting for a security administrator's approval".to_owned()
                    }
                    (Some(refused), _) => format!(
                        "enabled (added roles refused by {}: {})",
                        refused.by, refused.reason
                    ),
                    (None, _) => "enabled".to_owned(),
                };
                let kind = match client.kind {
                    crate::store::AccountKind::Service => "service",
                    crate::store::AccountKind::Person => "person",
                };
                println!(
                    "{:<28} {kind:<8} {:<22} {:<40} {state}",
                    client.id, client.department, roles,
                );
            }
        }
        ClientCommand::Roles { id, roles, hub } => {
            let (config, clients) = clients(&hub).await?;
            let before = clients.check_exists(&id).await?.roles;
            let roles: BTreeSet<Role> = roles.into_iter().collect();
            causeway_policies::check_separation(&roles)?;
            let gate = operator_gate(
                &config,
                Action::ClientRolesChanged,
                json!({ "client": id, "roles": roles, "before": before }),
            );
            let operator = operator_name();
            recorded(gate, async || {
                Ok(clients.set_roles(&id, &roles, Some(&operator)).await?)
            })
            .await?;
            println!(
                "client {id} now holds {}",
                causeway_policies::role_names(&roles, ", ")
            );
        }
        ClientCommand::Disable { id, hub } => {
            let (config, clients) = clients(&hub).await?;
            clients.check_exists(&id).await?;
            let gate = operator_gate(&config, Action::ClientDisabled, json!({ "client": id }));
            recorded(gate, async || Ok(clients.disable(&id).await?)).await?;
            println!("client {id} is disabled; its tokens are refused from now on");
        }
        ClientCommand::RotateSecret { id, hub } => {
            let (config, clients) = clients(&hub).await?;
            clients.check_exists(&id).await?;
            let gate = operator_gate(&config, Action::ClientSecretRotated, json!({ "client": id }));
            let operator = operator_name();
            let secret = recorded(gate, async || {
                Ok(clients.rotate_secret(&id, Some(&operator)).await?.secret)
            })
            .await?;
            eprintln!("client {id} has a new secret, shown only now; the old one no longer works:");
            println!("{secret}");
        }
    }
    Ok(())
}

pub async fn keys(command: KeysCommand) -> Result<(), Box<dyn std::error::Error>> {
    match command {
        KeysCommand::Rotate { hub } => {
            let config = hub.load()?;
            let gate = operator_gate(&config, Action::KeysRotated, json!({}));
            let kid = recorded(gate, async || Ok(KeyRing::rotate(&config.data_paths().keys())?)).await?;
            println!("new signing key {kid}; tokens signed with earlier keys stay valid until they expire");
        }
        KeysCommand::RotatePseudonym { hub } => {
            let config = hub.load()?;
            if crate::audit::in_use(&config.audit_dir()) {
                return Err("the hub is running: stop it, and every replica sharing its pseudonym key, before replacing the key".into());
            }
            let path = config.data_paths().pseudonym_key();
            let gate = operator_gate(&config, Action::KeysRotated, json!({ "key": "pseudonym" }));
            recorded(gate, async || Ok(crate::access::pseudonym_key::rotate(&path)?)).await?;
            println!(
                "new pseudonym key in {}; the old one is kept in {} to open what it sealed in the audit log",
                path.display(),
                crate::access::pseudonym_key::retired_dir(&path).display()
            );
            println!(
                "every hash mask and audit pseudonym is another from now on: copy the new key to every hub that shares it before starting them"
            );
        }
    }
    Ok(())
}
