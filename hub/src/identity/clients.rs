//! OAuth2 clients: created with a generated secret shown once, kept as an Argon2id hash,
//! authenticated in the same time whether or not the client exists.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use causeway_policies::{AttributeValue, Role, RolesConflict, check_separation};
use ring::rand::{SecureRandom, SystemRandom};

use crate::store::{AccountKind, ClientRecord, MetadataStore, NewClient, Refusal, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The id is kept for the caller but never printed: a pasted secret must not reach a
    /// record or a log.
    #[error(
        "invalid client id: use 1 to 64 lower-case letters, digits, '.', '-' or '_', starting with a letter or digit, not 'cws_'"
    )]
    InvalidId(String),
    #[error(
        "invalid department '{0}': use lower-case letters, digits and underscores, starting with a letter"
    )]
    InvalidDepartment(String),
    #[error("client {0} does not exist")]
    NotFound(String),
    #[error(transparent)]
    RolesConflict(#[from] RolesConflict),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot hash the secret: {0}")]
    Hash(String),
    #[error("a password has {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters")]
    Password,
    #[error("a person's name has 1 to 200 characters")]
    PersonName,
}

/// Who a new client acts as.
pub struct ClientSpec {
    pub id: String,
    pub department: String,
    pub roles: BTreeSet<Role>,
    pub attributes: BTreeMap<String, AttributeValue>,
    /// A person, who signs in with a password, rather than a service with a secret.
    pub person: Option<PersonSpec>,
}

/// A person's account: the name people see, and the password chosen for it (or none, for
/// one generated and shown once like a secret).
pub struct PersonSpec {
    pub name: String,
    pub password: Option<String>,
}

/// A client's new secret, shown once, and when it changed (its `secret_rotated_at`, which
/// the tokens issued from then on carry).
pub struct Rotated {
    pub secret: String,
    pub changed_at: String,
}

/// The fewest characters a person's password has (NIST SP 800-63B §3.1.1.2 asks for at
/// least 8 and allows more; a hub guards other departments' data).
pub const MIN_PASSWORD_CHARS: usize = 12;
const MAX_PASSWORD_CHARS: usize = 256;

#[derive(Clone)]
pub struct ClientService {
    store: MetadataStore,
}

impl ClientService {
    pub fn new(store: MetadataStore) -> Self {
        Self { store }
    }

    /// Checks a new client before it is recorded: a valid id and department, roles that one
    /// account may hold together, and no client of that id yet.
    pub async fn check_new(&self, spec: &ClientSpec) -> Result<(), ClientError> {
        check_id(&spec.id)?;
        if !is_identifier(&spec.department) {
            return Err(ClientError::InvalidDepartment(spec.department.clone()));
        }
        check_separation(&spec.roles)?;
        check_person(spec.person.as_ref())?;
        if self.store.client(&spec.id).await?.is_some() {
            return Err(ClientError::Store(StoreError::AlreadyExists(format!(
                "client {}",
                spec.id
            ))));
        }
        Ok(())
    }

    /// Whether client `id` exists, for the checks before a change to it is recorded.
    pub async fn check_exists(&self, id: &str) -> Result<ClientRecord, ClientError> {
        let client = if check_id(id).is_ok() {
            self.store.client(id).await?
        } else {
            None
        };
        client.ok_or_else(|| ClientError::NotFound(printable_client_id(id)))
    }

    /// Creates a client, approved by `approved_by` or (`None`) waiting for a security
    /// administrator's approval; returns it and its secret (a person's password), which is
    /// not kept anywhere.
    pub async fn create(
        &self,
        spec: ClientSpec,
        approved_by: Option<&str>,
    ) -> Result<(ClientRecord, String), ClientError> {
        check_id(&spec.id)?;
        if !is_identifier(&spec.department) {
            return Err(ClientError::InvalidDepartment(spec.department));
        }
        check_separation(&spec.roles)?;
        check_person(spec.person.as_ref())?;
        let secret = match spec.person.as_ref().and_then(|person| person.password.clone()) {
            Some(password) => password,
            None => new_secret()?,
        };
        let hash = hash(secret.clone()).await?;
        let record = self
            .store
            .insert_client(NewClient {
                id: &spec.id,
                kind: match spec.person {
                    Some(_) => AccountKind::Person,
                    None => AccountKind::Service,
                },
                name: spec.person.as_ref().map(|person| person.name.as_str()),
                department: &spec.department,
                roles: &spec.roles,
                attributes: &spec.attributes,
                secret_hash: &hash,
                approved_by,
            })
            .await?;
        Ok((record, secret))
    }

    /// Replaces a client's secret, approved by `approved_by` or (`None`) waiting for
    /// approval; returns the new one and when it changed. The old one stops working at once.
    pub async fn rotate_secret(&self, id: &str, approved_by: Option<&str>) -> Result<Rotated, ClientError> {
        let secret = new_secret()?;
        let hash = hash(secret.clone()).await?;
        let Some(changed_at) = self.store.set_client_secret(id, &hash, approved_by).await? else {
            return Err(ClientError::NotFound(printable_client_id(id)));
        };
        // A person's new password ends their sign-ins, as `set_password` does.
        self.store.revoke_sign_ins_of(id).await?;
        Ok(Rotated { secret, changed_at })
    }

    /// Sets a person's password, approved by `approved_by` or (`None`) waiting for approval;
    /// returns when it changed (the client's `secret_rotated_at`). Every sign-in made with
    /// the old one ends (whoever may have learnt it): their refresh tokens stop at once.
    pub async fn set_password(
        &self,
        id: &str,
        password: String,
        approved_by: Option<&str>,
    ) -> Result<String, ClientError> {
        check_password(&password)?;
        let person = self.check_exists(id).await?;
        if person.kind != AccountKind::Person {
            return Err(ClientError::NotFound(format!(
                "person {}",
                printable_client_id(id)
            )));
        }
        let hash = hash(password).await?;
        let Some(changed_at) = self.store.set_client_secret(id, &hash, approved_by).await? else {
            return Err(ClientError::NotFound(printable_client_id(id)));
        };
        self.store.revoke_sign_ins_of(id).await?;
        Ok(changed_at)
    }

    /// Gives a client new roles, which one account may hold together. Tokens it already has
    /// lose the roles taken away at their next request ([`super::Identity::admit`]); roles
    /// added come with its next token.
    pub async fn set_roles(
        &self,
        id: &str,
        roles: &BTreeSet<Role>,
        approved_by: Option<&str>,
    ) -> Result<(), ClientError> {
        check_separation(roles)?;
        if self.store.set_client_roles(id, roles, approved_by).await? {
            Ok(())
        } else {
            Err(ClientError::NotFound(printable_client_id(id)))
        }
    }

    /// Approves the secret and roles a client waits with; `NotFound` when none waits.
    pub async fn approve(&self, id: &str, by: &str) -> Result<(), ClientError> {
        if self.store.approve_client(id, by).await? {
            Ok(())
        } else {
            Err(ClientError::NotFound(format!("{id} waiting for approval")))
        }
    }

    /// Refuses what a client waits with, for `reason` (the security administrator `by`):
    /// roles added to approved ones are taken away again, and the account keeps its approved
    /// roles; any other account is disabled. Who refused and why are kept with it.
    /// `NotFound` when none waits.
    pub async fn refuse(&self, id: &str, by: &str, reason: &str) -> Result<Refusal, ClientError> {
        self.store
            .refuse_client(id, by, reason)
            .await?
            .ok_or_else(|| ClientError::NotFound(format!("{} waiting for approval", printable_client_id(id))))
    }

    pub async fn disable(&self, id: &str) -> Result<(), ClientError> {
        if self.store.disable_client(id).await? {
            Ok(())
        } else {
            Err(ClientError::NotFound(printable_client_id(id)))
        }
    }

    pub async fn list(&self) -> Result<Vec<ClientRecord>, ClientError> {
        Ok(self.store.list_clients().await?)
    }

    /// The client, if `secret` is its secret and it is enabled. Unknown clients cost the
    /// same hash computation as known ones, so timing does not tell them apart.
    pub async fn authenticate(&self, id: &str, secret: &str) -> Result<Option<ClientRecord>, ClientError> {
        let client = if check_id(id).is_ok() {
            self.store.client(id).await?
        } else {
            None
        };
        let stored_hash = client.as_ref().map_or_else(
            || unknown_client_hash().to_owned(),
            |client| client.secret_hash.clone(),
        );
        let secret = secret.to_owned();
        let matches = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&stored_hash)
                .map(|hash| {
                    Argon2::default()
                        .verify_password(secret.as_bytes(), &hash)
                        .is_ok()
                })
                .unwrap_or(false)
        })
        .await
        .map_err(|error| ClientError::Hash(error.to_string()))?;
        Ok(client.filter(|client| matches && !client.disabled))
    }
}

/// A hash no secret matches, checked for unknown clients.
fn unknown_client_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        Argon2::default()
            .hash_password(b"no client has this secret")
            .map(|hash| hash.to_string())
            .unwrap_or_default()
    })
}

fn check_person(person: Option<&PersonSpec>) -> Result<(), ClientError> {
    let Some(person) = person else {
        return Ok(());
    };
    let name = person.name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(ClientError::PersonName);
    }
    person.password.as_deref().map_or(Ok(()), check_password)
}

fn check_password(password: &str) -> Result<(), ClientError> {
    let length = password.chars().count();
    if (MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&length) {
        Ok(())
    } else {
        Err(ClientError::Password)
    }
}

/// What every secret starts with.
const SECRET_PREFIX: &str = "cws_";

/// 32 random bytes, prefixed so that secret scanners recognise a leaked one.
fn new_secret() -> Result<String, ClientError> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| ClientError::Hash("no randomness available".into()))?;
    Ok(format!("{SECRET_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

async fn hash(secret: String) -> Result<String, ClientError> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(secret.as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|error| ClientError::Hash(error.to_string()))
    })
    .await
    .map_err(|error| ClientError::Hash(error.to_string()))?
}

/// What records and logs may say of a client id someone sent: the id when it is one, else a
/// placeholder, since people paste secrets into id fields and a log must not keep them.
pub fn printable_client_id(id: &str) -> String {
    if check_id(id).is_ok() {
        id.to_owned()
    } else {
        "(not a client id)".to_owned()
    }
}

fn check_id(id: &str) -> Result<(), ClientError> {
    let mut chars = id.chars();
    // Never a secret's prefix, so that no secret can pass for an id in a record.
    let valid = !id.starts_with(SECRET_PREFIX)
        && id.len() <= 64
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '_'));
    if valid {
        Ok(())
    } else {
        Err(ClientError::InvalidId(id.to_owned()))
    }
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 63
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn service() -> (ClientService, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("m.db").display());
        (
            ClientService::new(MetadataStore::connect(&url).await.unwrap()),
            dir,
        )
    }

    fn spec(id: &str) -> ClientSpec {
        ClientSpec {
            id: id.into(),
            department: "land_registry".into(),
            roles: [Role::Analyst].into(),
            attributes: [("town".to_owned(), AttributeValue::One("Guicheng".into()))].into(),
            person: None,
        }
    }

    #[tokio::test]
    async fn secrets_are_shown_once_and_kept_only_as_hashes() {
        let (clients, _dir) = service().await;
        let (record, secret) = clients.create(spec("land-analyst"), Some("test")).await.unwrap();
        assert!(secret.starts_with("cws_") && secret.len() > 40);
        assert!(record.secret_hash.starts_with("$argon2id$"));
        assert!(!record.secret_hash.contains(&secret));
        let found = clients.authenticate("land-analyst", &secret).await.unwrap();
        assert_eq!(
            found.map(|client| client.department),
            Some("land_registry".into())
        );
        assert!(
            clients
                .authenticate("land-analyst", "cws_wrong")
                .await
                .unwrap()
                .is_none()
        );
        assert!(clients.authenticate("nobody", &secret).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn rotation_and_disabling_end_the_old_secret() {
        let (clients, _dir) = service().await;
        let (_, old) = clients.create(spec("land-analyst"), Some("test")).await.unwrap();
        let new = clients
            .rotate_secret("land-analyst", Some("test"))
            .await
            .unwrap()
            .secret;
        assert!(
            clients
                .authenticate("land-analyst", &old)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            clients
                .authenticate("land-analyst", &new)
                .await
                .unwrap()
                .is_some()
        );
        clients.disable("land-analyst").await.unwrap();
        assert!(
            clients
                .authenticate("land-analyst", &new)
                .await
                .unwrap()
                .is_none()
        );
        assert!(matches!(
            clients.disable("nobody").await,
            Err(ClientError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn ids_and_duplicates_are_checked() {
        let (clients, _dir) = service().await;
        assert!(matches!(
            clients.create(spec("Bad Id"), None).await,
            Err(ClientError::InvalidId(_))
        ));
        clients.create(spec("ok"), None).await.unwrap();
        assert!(matches!(
            clients.create(spec("ok"), None).await,
            Err(ClientError::Store(StoreError::AlreadyExists(_)))
        ));
    }
}
