//! The built-in issuer's signing keys: Ed25519 key pairs in `DATA_DIR/keys`, created at
//! first start. `causeway keys rotate` adds a key; the newest signs, and every key stays in
//! the JWKS so tokens signed before a rotation verify until they expire. The directory is
//! re-read when it changes, so a running hub picks up a rotation at once.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm, OctetKeyPairParameters,
    OctetKeyPairType, PublicKeyUse,
};
use jsonwebtoken::{DecodingKey, EncodingKey};
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot use the signing keys in {path}: {message}")]
    Io { path: String, message: String },
    #[error("the signing key {path} is damaged")]
    Damaged { path: String },
}

/// One signing key: its id, what signs and what verifies.
#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    pub encoding: EncodingKey,
    pub decoding: DecodingKey,
    public: Vec<u8>,
    pair: Arc<Ed25519KeyPair>,
}

impl SigningKey {
    /// An Ed25519 signature of `message`.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.pair.sign(message).as_ref().to_vec()
    }

    fn jwk(&self) -> Jwk {
        Jwk {
            common: CommonParameters {
                public_key_use: Some(PublicKeyUse::Signature),
                key_algorithm: Some(KeyAlgorithm::EdDSA),
                key_id: Some(self.kid.clone()),
                ..Default::default()
            },
            algorithm: AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
                key_type: OctetKeyPairType::OctetKeyPair,
                curve: EllipticCurve::Ed25519,
                x: URL_SAFE_NO_PAD.encode(&self.public),
            }),
        }
    }
}

/// The keys of `DATA_DIR/keys`, oldest first.
pub struct KeyRing {
    dir: PathBuf,
    loaded: RwLock<Loaded>,
}

struct Loaded {
    keys: Arc<Vec<SigningKey>>,
    modified: Option<SystemTime>,
}

impl KeyRing {
    /// Opens the key directory, creating it and a first key when there is none.
    pub fn open(dir: &Path) -> Result<Self, KeyError> {
        create_private_dir(dir)?;
        if read_keys(dir)?.is_empty() {
            add_key(dir)?;
        }
        let keys = read_keys(dir)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            loaded: RwLock::new(Loaded {
                keys: Arc::new(keys),
                modified: modified(dir),
            }),
        })
    }

    /// Adds a new key, which signs from now on; returns its id.
    pub fn rotate(dir: &Path) -> Result<String, KeyError> {
        create_private_dir(dir)?;
        add_key(dir)
    }

    /// The keys, re-read if the directory changed since the last look.
    pub fn keys(&self) -> Arc<Vec<SigningKey>> {
        let now = modified(&self.dir);
        {
            let loaded = self
                .loaded
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if loaded.modified == now {
                return Arc::clone(&loaded.keys);
            }
        }
        match read_keys(&self.dir) {
            Ok(keys) if !keys.is_empty() => {
                let keys = Arc::new(keys);
                *self
                    .loaded
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Loaded {
                    keys: Arc::clone(&keys),
                    modified: now,
                };
                keys
            }
            result => {
                if let Err(error) = result {
                    tracing::error!(%error, "keeping the signing keys already loaded");
                }
                let loaded = self
                    .loaded
                    .read()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                Arc::clone(&loaded.keys)
            }
        }
    }

    /// The key that signs: the newest.
    pub fn current(&self) -> Option<SigningKey> {
        self.keys().last().cloned()
    }

    pub fn find(&self, kid: &str) -> Option<SigningKey> {
        self.keys().iter().find(|key| key.kid == kid).cloned()
    }

    pub fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: self.keys().iter().map(SigningKey::jwk).collect(),
        }
    }
}

/// The public keys of the key directory by id, read without creating anything: what
/// checks a signature made by any key the hub ever had.
pub fn public_keys(dir: &Path) -> Result<std::collections::HashMap<String, Vec<u8>>, KeyError> {
    Ok(read_keys(dir)?
        .into_iter()
        .map(|key| (key.kid, key.public))
        .collect())
}

/// Whether `signature` is the Ed25519 signature of `message` by the key `public`.
pub fn verify_signature(public: &[u8], message: &[u8], signature: &[u8]) -> bool {
    ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, public)
        .verify(message, signature)
        .is_ok()
}

fn modified(dir: &Path) -> Option<SystemTime> {
    std::fs::metadata(dir)
        .and_then(|metadata| metadata.modified())
        .ok()
}

fn io_error(path: &Path, error: impl std::fmt::Display) -> KeyError {
    KeyError::Io {
        path: path.display().to_string(),
        message: error.to_string(),
    }
}

fn create_private_dir(dir: &Path) -> Result<(), KeyError> {
    std::fs::create_dir_all(dir).map_err(|error| io_error(dir, error))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // A folder already closed to others is left as it is: it may be a read-only mount
        // (a secret whose keys are rotated by replacing it).
        let mode = std::fs::metadata(dir)
            .map_err(|error| io_error(dir, error))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            match std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)) {
                Ok(()) => {}
                // A read-only mount's own modes stand (a Kubernetes secret's files are
                // the secret's `defaultMode`); the keys are files the hub only reads there.
                Err(error)
                    if matches!(
                        error.kind(),
                        std::io::ErrorKind::ReadOnlyFilesystem | std::io::ErrorKind::PermissionDenied
                    ) =>
                {
                    tracing::warn!(folder = %dir.display(), %error, "the keys folder is read-only; its modes are left as mounted");
                }
                Err(error) => return Err(io_error(dir, error)),
            }
        }
    }
    Ok(())
}

/// Keys are files named `<milliseconds since 1970>-<kid>.key` holding a PKCS #8 document,
/// so that sorting the names sorts the keys by age.
fn read_keys(dir: &Path) -> Result<Vec<SigningKey>, KeyError> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|error| io_error(dir, error))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|extension| extension == "key"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| {
            let pkcs8 = std::fs::read(path).map_err(|error| io_error(path, error))?;
            let pair = Ed25519KeyPair::from_pkcs8(&pkcs8).map_err(|_| KeyError::Damaged {
                path: path.display().to_string(),
            })?;
            let public = pair.public_key().as_ref().to_vec();
            Ok(SigningKey {
                kid: key_id(&public),
                encoding: EncodingKey::from_ed_der(&pkcs8),
                decoding: DecodingKey::from_ed_der(&public),
                public,
                pair: Arc::new(pair),
            })
        })
        .collect()
}

/// A key's id: the start of the SHA-256 of its public key, so it never changes.
fn key_id(public: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, public);
    URL_SAFE_NO_PAD.encode(&digest.as_ref()[..12])
}

fn add_key(dir: &Path) -> Result<String, KeyError> {
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|error| io_error(dir, error))?;
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|error| io_error(dir, error))?;
    let kid = key_id(pair.public_key().as_ref());
    let millis = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis())
        .unwrap_or_default();
    let path = dir.join(format!("{millis:015}-{kid}.key"));
    // Written aside, then renamed into place: hubs sharing the folder read whole keys only.
    crate::private_files::replace(&path, pkcs8.as_ref()).map_err(|error| io_error(&path, error))?;
    Ok(kid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_first_key_is_created_and_rotation_adds_the_signing_key() {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys");
        let ring = KeyRing::open(&keys).unwrap();
        let first = ring.current().unwrap().kid;
        assert_eq!(ring.jwks().keys.len(), 1);

        std::thread::sleep(std::time::Duration::from_millis(5));
        let second = KeyRing::rotate(&keys).unwrap();
        assert_ne!(first, second);
        assert_eq!(
            ring.current().unwrap().kid,
            second,
            "the running ring sees the new key"
        );
        assert!(ring.find(&first).is_some(), "the old key still verifies");
        assert_eq!(ring.jwks().keys.len(), 2);

        let reopened = KeyRing::open(&keys).unwrap();
        assert_eq!(reopened.current().unwrap().kid, second);
    }

    #[cfg(unix)]
    #[test]
    fn key_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys");
        KeyRing::open(&keys).unwrap();
        for entry in std::fs::read_dir(&keys).unwrap() {
            let mode = entry.unwrap().metadata().unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "group and others have no access");
        }
    }
}
