//! The values people type into queries, kept out of the log's plain text.
//!
//! A query's SQL carries the literals its author typed (`WHERE id_number = '440101...'`),
//! and its bound parameters the values it asked about: kept as they are, the log would be a
//! second copy of the data, read by whoever reads the log. So the log keeps the SQL with
//! each such literal replaced by a keyed pseudonym (`'#p:3f9a0c17e2b4d851'`: the same value
//! always gives the same pseudonym, so an auditor can still see that two queries asked
//! about the same person, and no one without the hub's key can tell which person), and the
//! original text sealed (AES-256-GCM) in the record's `sealed` detail, which only a holder
//! of the hub's pseudonym key can open (`causeway audit reveal`). Replaced: every quoted
//! string, and every number of six digits or more (identity, phone and account numbers);
//! smaller numbers (`LIMIT 10`, `age > 65`) stay, as they tell what a query does.

use std::collections::HashSet;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

/// Numbers of at least this many digits are values about someone, not a query's shape.
const IDENTIFYING_DIGITS: usize = 6;

/// Replaced texts at least this long are replaced in error messages too.
const REDACTED_LENGTH: usize = 4;

/// Pseudonyms and sealing for the literals of logged queries, from the hub's pseudonym key.
pub struct AuditLiterals {
    pseudonyms: hmac::Key,
    sealing: LessSafeKey,
    /// The sealing keys of pseudonym keys a rotation replaced: they open what they sealed,
    /// and seal nothing new.
    retired: Vec<LessSafeKey>,
}

/// A query's SQL and parameters as the log keeps them.
#[derive(Debug, Clone, PartialEq)]
pub struct Protected {
    pub sql: String,
    pub parameters: Vec<String>,
    /// The original SQL and parameters, sealed; `None` when nothing was replaced.
    pub sealed: Option<String>,
    /// Each replaced text with its pseudonym, to keep them out of error messages too
    /// ([`crate::audit::event::Event::redactions`]).
    pub replaced: Vec<(String, String)>,
}

impl std::fmt::Debug for AuditLiterals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditLiterals")
    }
}

impl AuditLiterals {
    /// Keys derived from the hub's pseudonym key, one per use, so that a log pseudonym is
    /// not the pseudonym a `hash` mask shows for the same value.
    pub fn new(pseudonym_key: &[u8]) -> Self {
        let (pseudonyms, sealing) = Self::keys(pseudonym_key);
        Self {
            pseudonyms,
            sealing,
            retired: Vec::new(),
        }
    }

    /// The same, also opening what the `retired` pseudonym keys sealed.
    pub fn with_retired(mut self, retired: &[Vec<u8>]) -> Self {
        self.retired = retired.iter().map(|key| Self::keys(key).1).collect();
        self
    }

    fn keys(pseudonym_key: &[u8]) -> (hmac::Key, LessSafeKey) {
        let derive = |purpose: &str| {
            hmac::sign(
                &hmac::Key::new(hmac::HMAC_SHA256, pseudonym_key),
                purpose.as_bytes(),
            )
        };
        let pseudonyms = hmac::Key::new(hmac::HMAC_SHA256, derive("causeway-audit-pseudonyms").as_ref());
        let sealing = derive("causeway-audit-sealing");
        // A SHA-256 tag is exactly the 32 bytes AES-256 takes.
        let sealing = UnboundKey::new(&AES_256_GCM, sealing.as_ref())
            .map(LessSafeKey::new)
            .unwrap_or_else(|_| unreachable!("an HMAC-SHA256 tag is an AES-256 key"));
        (pseudonyms, sealing)
    }

    /// The pseudonym of `value` in the log.
    pub fn pseudonym(&self, value: &str) -> String {
        let tag = hmac::sign(&self.pseudonyms, value.as_bytes());
        let hex: String = tag.as_ref()[..8]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        format!("#p:{hex}")
    }

    /// `sql` and `parameters` with their identifying literals replaced, the originals
    /// sealed. SQL that does not tokenize is kept whole only sealed: the log shows that a
    /// query was made, not its text.
    pub fn protect(&self, sql: &str, parameters: &[String]) -> Protected {
        let mut replaced = Vec::new();
        let mut seen = HashSet::new();
        let mut any = false;
        let mut pseudonym_of = |text: &str| {
            any = true;
            let pseudonym = self.pseudonym(text);
            // Only texts long enough to be about someone are looked for in messages: a
            // one-letter literal would garble every message it is replaced in.
            if text.chars().count() >= REDACTED_LENGTH && seen.insert(text.to_owned()) {
                replaced.push((text.to_owned(), pseudonym.clone()));
            }
            pseudonym
        };
        let logged_sql = match Tokenizer::new(&GenericDialect {}, sql).tokenize() {
            Ok(tokens) => tokens
                .into_iter()
                .map(|token| match token {
                    Token::SingleQuotedString(text)
                    | Token::NationalStringLiteral(text)
                    | Token::EscapedStringLiteral(text)
                    | Token::SingleQuotedByteStringLiteral(text)
                    | Token::HexStringLiteral(text) => Token::SingleQuotedString(pseudonym_of(&text)),
                    Token::DollarQuotedString(quoted) => {
                        Token::SingleQuotedString(pseudonym_of(&quoted.value))
                    }
                    Token::Number(number, _) if identifying(&number) => {
                        Token::SingleQuotedString(pseudonym_of(&number))
                    }
                    other => other,
                })
                .map(|token| token.to_string())
                .collect(),
            Err(_) => format!("(SQL that does not tokenize: {})", pseudonym_of(sql)),
        };
        let logged_parameters = parameters
            .iter()
            .map(|value| {
                if value.chars().all(|c| c.is_ascii_digit() || c == '-' || c == '.') && !identifying(value) {
                    value.clone()
                } else {
                    pseudonym_of(value)
                }
            })
            .collect();
        let sealed = any
            .then(|| self.seal(&serde_json::json!({ "sql": sql, "parameters": parameters }).to_string()))
            .flatten();
        Protected {
            sql: logged_sql,
            parameters: logged_parameters,
            sealed,
            replaced,
        }
    }

    fn seal(&self, plain: &str) -> Option<String> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new().fill(&mut nonce).ok()?;
        let mut sealed = plain.as_bytes().to_vec();
        self.sealing
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut sealed)
            .ok()?;
        let mut out = nonce.to_vec();
        out.extend(sealed);
        Some(URL_SAFE_NO_PAD.encode(out))
    }

    /// The original SQL and parameters of a record's `sealed` detail.
    pub fn open(&self, sealed: &str) -> Option<serde_json::Value> {
        let bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        std::iter::once(&self.sealing)
            .chain(&self.retired)
            .find_map(|key| {
                let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
                let mut buffer = ciphertext.to_vec();
                let plain = key.open_in_place(nonce, Aad::empty(), &mut buffer).ok()?;
                serde_json::from_slice(plain).ok()
            })
    }
}

/// Whether a number is long enough to be about someone (digits counted, signs and points
/// not).
fn identifying(number: &str) -> bool {
    number.chars().filter(char::is_ascii_digit).count() >= IDENTIFYING_DIGITS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_become_stable_pseudonyms_and_only_the_key_opens_them() {
        let literals = AuditLiterals::new(&[7u8; 32]);
        let sql = "SELECT name FROM civil_affairs.residents WHERE id_number = '44010119900101123X' \
                   OR phone = 13800138000 AND age > 65 LIMIT 10";
        let protected = literals.protect(sql, &["44010119900101123X".into(), "3".into()]);
        for value in ["44010119900101123X", "13800138000"] {
            assert!(!protected.sql.contains(value), "{}", protected.sql);
            assert!(!protected.parameters.iter().any(|p| p.contains(value)));
        }
        assert!(protected.sql.contains("age > 65 LIMIT 10"), "{}", protected.sql);
        let pseudonym = literals.pseudonym("44010119900101123X");
        assert!(protected.sql.contains(&pseudonym), "{}", protected.sql);
        assert_eq!(protected.parameters, vec![pseudonym.clone(), "3".to_owned()]);
        let sealed = protected.sealed.clone().unwrap_or_default();
        assert!(!sealed.contains("4401"));
        let opened = literals.open(&sealed).unwrap_or_default();
        assert_eq!(opened["sql"], sql);
        assert!(
            AuditLiterals::new(&[8u8; 32]).open(&sealed).is_none(),
            "another key opens nothing"
        );
        assert!(
            protected
                .replaced
                .iter()
                .any(|(original, _)| original == "44010119900101123X")
        );
        // Nothing to hide: nothing sealed.
        assert_eq!(literals.protect("SELECT 1 LIMIT 5", &[]).sealed, None);
    }
}
