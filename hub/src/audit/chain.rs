//! How an event becomes a link of the chain, and how a link is read back.
//!
//! A record is one line of JSON: the event's fields, its sequence number, its time and the
//! hash of the record before it (`prev`), then `hash`, the SHA-256 of the line's bytes up to
//! `hash` (closed with `}`). The hash covers the previous hash, so changing, removing or
//! moving any record breaks every link after it; the bytes hashed are exactly the bytes
//! written, so there is no second encoding to disagree with.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use super::event::Event;

/// The `prev` of the first record a hub ever writes.
/// The version of the records' layout (their fields and what each means, the hash over the
/// line, the signed messages). Each start of a hub says which it writes, in the `record_format`
/// of its `audit.opened` record (and of a new chain's `audit.genesis`), so a reader knows the
/// format of the records that follow; a record without one is of format 1. A release that
/// changes the layout raises it, and a reader that meets a format above its own stops there
/// rather than misread the records.
pub const RECORD_FORMAT: u64 = 1;

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

const HASH_FIELD: &str = ",\"hash\":\"";

#[derive(Serialize)]
struct Unsealed<'a> {
    seq: u64,
    time: String,
    #[serde(flatten)]
    event: &'a Event,
    prev: &'a str,
}

/// A record ready to be written.
#[derive(Debug)]
pub struct Sealed {
    pub seq: u64,
    pub hash: String,
    /// The line, with its newline.
    pub line: String,
}

/// Gives `event` its place after the record whose hash is `prev`.
pub fn seal(seq: u64, time: DateTime<Utc>, event: &Event, prev: &str) -> Result<Sealed, serde_json::Error> {
    let body = serde_json::to_string(&Unsealed {
        seq,
        time: time.to_rfc3339_opts(SecondsFormat::Micros, true),
        event,
        prev,
    })?;
    let hash = sha256_hex(body.as_bytes());
    let open = body.strip_suffix('}').unwrap_or(&body);
    let line = format!("{open}{HASH_FIELD}{hash}\"}}\n");
    Ok(Sealed { seq, hash, line })
}

/// A record read back, its own hash checked.
#[derive(Debug)]
pub struct Link {
    pub seq: u64,
    pub prev: String,
    pub hash: String,
    /// The record's fields, `hash` excepted.
    pub record: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("the line is not an audit record")]
    NotARecord,
    #[error("the record's content does not match its hash: it was changed")]
    Altered,
}

/// Reads one line (without its newline) back into a link, checking that its bytes match
/// its hash.
pub fn open(line: &str) -> Result<Link, LinkError> {
    let at = line.rfind(HASH_FIELD).ok_or(LinkError::NotARecord)?;
    let hash = line[at + HASH_FIELD.len()..]
        .strip_suffix("\"}")
        .ok_or(LinkError::NotARecord)?;
    let body = format!("{}}}", &line[..at]);
    if sha256_hex(body.as_bytes()) != hash {
        return Err(LinkError::Altered);
    }
    let mut record: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&body).map_err(|_| LinkError::NotARecord)?;
    let seq = record
        .get("seq")
        .and_then(serde_json::Value::as_u64)
        .ok_or(LinkError::NotARecord)?;
    let prev = match record.remove("prev") {
        Some(serde_json::Value::String(prev)) => prev,
        _ => return Err(LinkError::NotARecord),
    };
    Ok(Link {
        seq,
        prev,
        hash: hash.to_owned(),
        record,
    })
}

/// What a chain's first record says of it, and its signature covers.
pub struct Genesis {
    pub node: String,
    /// A new id for each chain.
    pub chain: String,
    pub checkpoint_every: u64,
    pub checkpoint_interval_ms: u64,
}

impl Genesis {
    pub fn message(&self) -> Vec<u8> {
        format!(
            "causeway-audit-genesis:{}:{}:{}:{}",
            self.node, self.chain, self.checkpoint_every, self.checkpoint_interval_ms
        )
        .into_bytes()
    }
}

/// The checkpoint's statement: what its signature covers.
pub fn checkpoint_message(seq: u64, prev: &str) -> Vec<u8> {
    format!("causeway-audit-checkpoint:{seq}:{prev}").into_bytes()
}

fn sha256_hex(bytes: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    digest.as_ref().iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::event::{Action, Outcome};

    fn event() -> Event {
        let mut event = Event::new(Action::QueryStarted, Outcome::Ok);
        event.sql = Some("SELECT \"}\" AS brace, ',\"hash\":\"' AS trap".into());
        event.datasets = vec!["civil_affairs.residents".into()];
        event
    }

    #[test]
    fn a_sealed_record_opens_with_its_place_in_the_chain() {
        let sealed = seal(7, Utc::now(), &event(), GENESIS).unwrap();
        assert!(sealed.line.ends_with("\"}\n"));
        let link = open(sealed.line.trim_end_matches('\n')).unwrap();
        assert_eq!(link.seq, 7);
        assert_eq!(link.prev, GENESIS);
        assert_eq!(link.hash, sealed.hash);
        assert_eq!(link.record["action"], "query.started");
        assert_eq!(link.record["sql"], event().sql.unwrap());
    }

    #[test]
    fn any_change_to_a_record_is_found() {
        let line = seal(1, Utc::now(), &event(), GENESIS).unwrap().line;
        let line = line.trim_end_matches('\n');
        for (from, to) in [
            ("residents", "parcels"),
            ("\"seq\":1", "\"seq\":2"),
            (GENESIS, &"1".repeat(64)),
            ("\"outcome\":\"ok\"", "\"outcome\":\"ok\" "),
        ] {
            let changed = line.replacen(from, to, 1);
            assert_ne!(changed, line);
            assert_eq!(open(&changed).unwrap_err(), LinkError::Altered, "{from}");
        }
        assert_eq!(open(&line[..line.len() - 3]).unwrap_err(), LinkError::NotARecord);
        assert_eq!(open("{}").unwrap_err(), LinkError::NotARecord);
    }

    #[test]
    fn the_hash_covers_the_previous_hash() {
        let time = Utc::now();
        let first = seal(2, time, &event(), GENESIS).unwrap();
        let other = seal(2, time, &event(), &"1".repeat(64)).unwrap();
        assert_ne!(first.hash, other.hash);
    }
}
