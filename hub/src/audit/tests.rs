//! The log as its writer leaves it, and what verification finds when it is tampered with.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde_json::json;

use super::chain::{self, GENESIS};
use super::*;
use crate::identity::{KeyRing, public_keys};

struct TestLog {
    dir: tempfile::TempDir,
}

impl TestLog {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn audit_dir(&self) -> PathBuf {
        self.dir.path().join("audit")
    }

    fn keys_dir(&self) -> PathBuf {
        self.dir.path().join("keys")
    }

    /// Opens the log; `segment_mb: 0` starts a new segment after every write.
    fn open(&self, segment_mb: u64) -> AuditLog {
        let settings = AuditConfig {
            enabled: true,
            segment_mb,
            checkpoint_every: 5,
            checkpoint_interval: Duration::from_secs(3600),
            node: Some("test-node".into()),
            chains_root: None,
            retention: Default::default(),
        };
        let keys = Arc::new(KeyRing::open(&self.keys_dir()).unwrap());
        AuditLog::open(&self.audit_dir(), &settings, keys).unwrap()
    }

    fn verify(&self) -> Verification {
        self.verify_with(&VerifyOptions::offline())
    }

    fn verify_with(&self, options: &VerifyOptions) -> Verification {
        verify(
            &self.audit_dir(),
            &public_keys(&self.keys_dir()).unwrap(),
            options,
        )
        .unwrap()
    }

    /// Writes `count` query events, one flush each, and closes the log.
    async fn write(&self, segment_mb: u64, count: usize) {
        let log = self.open(segment_mb);
        for n in 0..count {
            log.record(query(n)).await.unwrap();
        }
        log.close().await;
    }

    fn segments(&self) -> Vec<PathBuf> {
        segments::list(&self.audit_dir()).unwrap()
    }

    fn lines(&self, segment: &Path) -> Vec<String> {
        std::fs::read_to_string(segment)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn rewrite(&self, segment: &Path, lines: &[String]) {
        let text: String = lines.iter().map(|line| format!("{line}\n")).collect();
        std::fs::write(segment, text).unwrap();
    }

    /// The segment holding record `seq`, and the record's index in it.
    fn find(&self, seq: u64) -> (PathBuf, usize) {
        for segment in self.segments() {
            if let Some(index) = self
                .lines(&segment)
                .iter()
                .position(|line| line.starts_with(&format!("{{\"seq\":{seq},")))
            {
                return (segment, index);
            }
        }
        panic!("no record {seq}");
    }
}

fn query(n: usize) -> Event {
    let mut event = Event::new(Action::QueryStarted, Outcome::Ok);
    event.principal = Some("analyst".into());
    event.sql = Some(format!("SELECT {n}"));
    event.datasets = vec!["civil_affairs.residents".into()];
    event
}

fn broken_record(report: &Verification) -> &verify::BrokenRecord {
    assert!(!report.valid, "{report:?}");
    report.broken.as_ref().unwrap()
}

#[tokio::test]
async fn concurrent_events_are_all_on_disk_in_one_chain_with_signed_checkpoints() {
    let log = TestLog::new();
    let audit = log.open(64);
    let tasks: Vec<_> = (0..40)
        .map(|n| {
            let audit = audit.clone();
            tokio::spawn(async move { audit.record(query(n)).await.unwrap() })
        })
        .collect();
    let mut seqs = Vec::new();
    for task in tasks {
        seqs.push(task.await.unwrap());
    }
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs.len(), 40, "every event has its own place");
    audit.close().await;

    let report = log.verify();
    assert!(report.valid, "{report:?}");
    assert_eq!(report.first_seq, Some(1));
    assert!(
        report.checkpoints >= 8,
        "a checkpoint at least every 5 records: {report:?}"
    );
    assert_eq!(report.unsigned_records, 0, "closing signs the tail");
    let text = std::fs::read_to_string(&log.segments()[0]).unwrap();
    assert_eq!(text.matches("\"action\":\"query.started\"").count(), 40);
    assert!(text.starts_with("{\"seq\":1,"));
    assert!(text.contains("\"action\":\"audit.opened\""));
}

#[tokio::test]
async fn a_reopened_log_continues_the_chain_across_segments() {
    let log = TestLog::new();
    log.write(0, 6).await;
    let before = log.verify();
    log.write(0, 6).await;
    let after = log.verify();
    assert!(after.valid, "{after:?}");
    assert!(after.segments > 6, "a segment per write: {after:?}");
    assert!(after.last_seq > before.last_seq);
    assert_eq!(after.records, after.last_seq.unwrap());
}

#[tokio::test]
async fn a_torn_last_line_is_cut_and_the_cut_recorded() {
    let log = TestLog::new();
    log.write(64, 3).await;
    let segment = log.segments().pop().unwrap();
    let mut text = std::fs::read_to_string(&segment).unwrap();
    text.push_str("{\"seq\":99,\"time\":\"2026-");
    std::fs::write(&segment, &text).unwrap();
    assert!(broken_record(&log.verify()).reason.contains("middle of a record"));

    log.write(64, 1).await;
    let report = log.verify();
    assert!(report.valid, "{report:?}");
    let text = std::fs::read_to_string(&segment).unwrap();
    assert!(text.contains("\"action\":\"audit.recovered\""));
    assert!(text.contains("\\\"cut_bytes\\\":23"), "{text}");
}

#[tokio::test]
async fn an_edited_record_is_found() {
    let log = TestLog::new();
    log.write(64, 10).await;
    let segment = log.segments().pop().unwrap();
    let mut lines = log.lines(&segment);
    let index = lines.iter().position(|line| line.contains("SELECT 5")).unwrap();
    let seq = chain::open(&lines[index]).unwrap().seq;
    lines[index] = lines[index].replace("\"principal\":\"analyst\"", "\"principal\":\"someone\"");
    log.rewrite(&segment, &lines);
    let report = log.verify();
    let broken = broken_record(&report);
    assert_eq!(broken.seq, Some(seq));
    assert_eq!(broken.line, index + 1);
    assert!(broken.reason.contains("changed"), "{broken:?}");
}

#[tokio::test]
async fn a_deleted_record_is_found() {
    let log = TestLog::new();
    log.write(64, 10).await;
    let (segment, index) = log.find(6);
    let mut lines = log.lines(&segment);
    lines.remove(index);
    log.rewrite(&segment, &lines);
    let broken = broken_record(&log.verify()).clone();
    assert_eq!(broken.seq, Some(7));
    assert!(broken.reason.contains("record 7 follows record 5"), "{broken:?}");
}

#[tokio::test]
async fn reordered_records_are_found() {
    let log = TestLog::new();
    log.write(64, 10).await;
    let (segment, index) = log.find(6);
    let mut lines = log.lines(&segment);
    lines.swap(index, index + 1);
    log.rewrite(&segment, &lines);
    let broken = broken_record(&log.verify()).clone();
    assert_eq!(broken.line, index + 1);
    assert!(broken.reason.contains("record 7 follows record 5"), "{broken:?}");
}

#[tokio::test]
async fn a_truncated_segment_is_found() {
    let log = TestLog::new();
    log.write(0, 8).await;
    let segments = log.segments();
    // Cut the last record of a segment in the middle of the log at a line boundary: the
    // next segment no longer links.
    let middle = &segments[segments.len() / 2];
    let mut lines = log.lines(middle);
    let cut = chain::open(&lines.pop().unwrap()).unwrap().seq;
    log.rewrite(middle, &lines);
    let broken = broken_record(&log.verify()).clone();
    assert_eq!(broken.seq, Some(cut + 1), "{broken:?}");
    assert!(
        broken.reason.contains(&format!("follows record {}", cut - 1)),
        "{broken:?}"
    );

    // Cut in the middle of a line.
    let log = TestLog::new();
    log.write(64, 8).await;
    let segment = log.segments().pop().unwrap();
    let bytes = std::fs::read(&segment).unwrap();
    std::fs::write(&segment, &bytes[..bytes.len() / 2]).unwrap();
    assert!(broken_record(&log.verify()).reason.contains("middle of a record"));
}

#[tokio::test]
async fn a_chain_rewritten_without_the_hubs_key_fails_at_its_checkpoint() {
    let log = TestLog::new();
    log.write(64, 10).await;
    let segment = log.segments().pop().unwrap();
    let lines = log.lines(&segment);
    // Change record 3 and reseal it and every record after it, as someone could who can
    // compute hashes but does not hold the hub's signing key.
    let mut prev = GENESIS.to_owned();
    let mut forged = Vec::new();
    for line in &lines {
        let link = chain::open(line).unwrap();
        if link.seq < 3 {
            prev = link.hash;
            forged.push(line.clone());
            continue;
        }
        let mut record = link.record.clone();
        record.remove("seq");
        record.remove("time");
        if link.seq == 3 {
            record.insert("principal".into(), "someone".into());
        }
        let event: Event = serde_json::from_value(record.into()).unwrap();
        let sealed = chain::seal(link.seq, Utc::now(), &event, &prev).unwrap();
        prev = sealed.hash;
        forged.push(sealed.line.trim_end().to_owned());
    }
    log.rewrite(&segment, &forged);
    let report = log.verify();
    let broken = broken_record(&report);
    assert!(broken.reason.contains("signature does not verify"), "{broken:?}");
}

#[tokio::test]
async fn records_removed_from_the_end_are_found_against_the_running_hub() {
    let log = TestLog::new();
    let audit = log.open(64);
    for n in 0..4 {
        audit.record(query(n)).await.unwrap();
    }
    let written = audit.status().unwrap().last_seq;
    let segment = log.segments().pop().unwrap();
    let mut lines = log.lines(&segment);
    lines.pop();
    log.rewrite(&segment, &lines);
    let keys = public_keys(&log.keys_dir()).unwrap();
    let options = VerifyOptions {
        until: Some(written),
        live: true,
        ..VerifyOptions::offline()
    };
    let report = verify(&log.audit_dir(), &keys, &options).unwrap();
    assert!(
        broken_record(&report).reason.contains("removed from its end"),
        "{report:?}"
    );
}

/// Reseals every record from `from` on, as someone could who can compute hashes but does
/// not hold the hub's key, changing record `from`'s principal and keeping only the records
/// `keep` lets through.
fn forge(lines: &[String], from: u64, keep: impl Fn(&chain::Link) -> bool) -> Vec<String> {
    let mut prev = GENESIS.to_owned();
    let mut seq = 0;
    let mut forged = Vec::new();
    for line in lines {
        let link = chain::open(line).unwrap();
        if link.seq < from {
            prev = link.hash;
            seq = link.seq;
            forged.push(line.clone());
            continue;
        }
        if !keep(&link) {
            continue;
        }
        let mut record = link.record.clone();
        record.remove("seq");
        record.remove("time");
        if link.seq == from {
            record.insert("principal".into(), "someone".into());
        }
        let event: Event = serde_json::from_value(record.into()).unwrap();
        seq += 1;
        let sealed = chain::seal(seq, Utc::now(), &event, &prev).unwrap();
        prev = sealed.hash;
        forged.push(sealed.line.trim_end().to_owned());
    }
    forged
}

fn is_checkpoint(link: &chain::Link) -> bool {
    link.record.get("action").and_then(|action| action.as_str()) == Some("audit.checkpoint")
}

#[tokio::test]
async fn a_new_chain_begins_with_a_signed_genesis_naming_its_node() {
    let log = TestLog::new();
    log.write(64, 3).await;
    let report = log.verify();
    assert!(report.valid, "{report:?}");
    assert_eq!(report.node.as_deref(), Some("test-node"));
    assert!(report.chain.is_some());
    let first = log.lines(&log.segments()[0]).remove(0);
    assert!(first.contains("\"action\":\"audit.genesis\""), "{first}");

    // A genesis whose rules were changed no longer verifies.
    let segment = log.segments()[0].clone();
    let lines = log.lines(&segment);
    let relaxed = forge(&lines, 1, |_| true)
        .into_iter()
        .map(|line| line.replace("checkpoint_every\\\":5", "checkpoint_every\\\":500"))
        .collect::<Vec<_>>();
    log.rewrite(&segment, &relaxed);
    assert!(!log.verify().valid);
}

#[tokio::test]
async fn a_chain_rewritten_with_its_checkpoints_dropped_is_found() {
    let log = TestLog::new();
    log.write(64, 12).await;
    let segment = log.segments().pop().unwrap();
    let forged = forge(&log.lines(&segment), 3, |link| !is_checkpoint(link));
    log.rewrite(&segment, &forged);
    let report = log.verify();
    let broken = broken_record(&report);
    assert!(broken.reason.contains("checkpoints were removed"), "{broken:?}");
}

#[tokio::test]
async fn a_short_chain_rewritten_without_checkpoints_is_an_unsealed_tail() {
    let log = TestLog::new();
    log.write(64, 2).await;
    let segment = log.segments().pop().unwrap();
    let forged = forge(&log.lines(&segment), 2, |link| !is_checkpoint(link));
    log.rewrite(&segment, &forged);
    let broken = broken_record(&log.verify()).clone();
    assert!(broken.reason.contains("unsealed tail"), "{broken:?}");
}

#[tokio::test]
async fn a_cut_tail_is_found_offline() {
    let log = TestLog::new();
    log.write(64, 7).await;
    let segment = log.segments().pop().unwrap();
    let mut lines = log.lines(&segment);
    // The last records, the closing checkpoint with them.
    lines.truncate(lines.len() - 2);
    log.rewrite(&segment, &lines);
    let broken = broken_record(&log.verify()).clone();
    assert!(broken.reason.contains("unsealed tail"), "{broken:?}");
}

#[tokio::test]
async fn a_removed_head_is_found_and_an_archived_one_is_not() {
    let log = TestLog::new();
    log.write(0, 8).await;
    let segments = log.segments();
    assert!(segments.len() > 3);
    // Removed: the first segments deleted and the rest left as they are.
    let removed = TestLog::new();
    copy_dir(&log.audit_dir(), &removed.audit_dir());
    copy_dir(&log.keys_dir(), &removed.keys_dir());
    for segment in segments.iter().take(2) {
        std::fs::remove_file(removed.audit_dir().join(segment.file_name().unwrap())).unwrap();
    }
    let broken = broken_record(&removed.verify()).clone();
    assert!(broken.reason.contains("are missing"), "{broken:?}");

    // Archived: an audit.archived record says so first, signed.
    let second_first = segments::first_seq(&segments[2]).unwrap();
    let plan = archive::plan(&log.audit_dir(), second_first - 1)
        .unwrap()
        .unwrap();
    assert_eq!(plan.segments.len(), 2);
    let rules = archive::rules(&log.audit_dir()).unwrap();
    let keys = KeyRing::open(&log.keys_dir()).unwrap();
    let to = log.dir.path().join("archive");
    let detail = archive::signed_detail(&plan, &rules, &keys, &to).unwrap();
    let audit = log.open(64);
    audit
        .record(Event::new(Action::AuditArchived, Outcome::Ok).with_detail(detail))
        .await
        .unwrap();
    audit.close().await;
    archive::move_segments(&plan, &to).unwrap();
    let report = log.verify();
    assert!(report.valid, "{report:?}");
    assert_eq!(report.first_seq, Some(second_first));
    assert!(
        report.notices.iter().any(|notice| notice.contains("archived")),
        "{report:?}"
    );
    assert_eq!(
        report.node.as_deref(),
        Some("test-node"),
        "the rules come from the archive record"
    );
}

#[tokio::test]
async fn a_tail_left_by_a_crash_is_reported_then_sealed_when_the_log_reopens() {
    let log = TestLog::new();
    let audit = log.open(64);
    for n in 0..3 {
        audit.record(query(n)).await.unwrap();
    }
    // The hub dies: nothing seals the tail. The writer thread still holds the lock, so
    // the log is copied as a crash would leave it.
    let crashed = TestLog::new();
    copy_dir(&log.audit_dir(), &crashed.audit_dir());
    copy_dir(&log.keys_dir(), &crashed.keys_dir());
    std::fs::remove_file(crashed.audit_dir().join(".lock")).ok();
    let broken = broken_record(&crashed.verify()).clone();
    assert!(broken.reason.contains("unsealed tail"), "{broken:?}");
    assert!(
        broken.reason.contains("last 4 records"),
        "audit.opened and 3 queries: {broken:?}"
    );

    crashed.write(64, 1).await;
    let report = crashed.verify();
    assert!(report.valid, "{report:?}");
    assert!(
        report.notices.iter().any(|notice| notice
            .contains("records 2 to 5 were sealed only when the log was next opened")
            && notice.contains("(4 records)")),
        "{report:?}"
    );
    audit.close().await;
}

#[tokio::test]
async fn a_log_without_genesis_verifies_only_as_legacy() {
    let log = TestLog::new();
    log.write(64, 3).await;
    // As written before genesis records: an ordinary first record, and (for this test)
    // no checkpoints, which only the hub's key could make.
    let segment = log.segments()[0].clone();
    let mut prev = GENESIS.to_owned();
    let mut relinked = Vec::new();
    for line in log.lines(&segment).iter().skip(1) {
        let link = chain::open(line).unwrap();
        if is_checkpoint(&link) {
            continue;
        }
        let mut record = link.record.clone();
        record.remove("seq");
        record.remove("time");
        let event: Event = serde_json::from_value(record.into()).unwrap();
        let sealed = chain::seal(relinked.len() as u64 + 1, Utc::now(), &event, &prev).unwrap();
        prev = sealed.hash;
        relinked.push(sealed.line.trim_end().to_owned());
    }
    log.rewrite(&segment, &relinked);
    let broken = broken_record(&log.verify()).clone();
    assert_eq!(broken.seq, Some(1));
    assert!(broken.reason.contains("no signed genesis"), "{broken:?}");
    let accepted = log.verify_with(&VerifyOptions {
        accept_legacy: true,
        ..VerifyOptions::offline()
    });
    assert!(accepted.valid && accepted.legacy, "{accepted:?}");
    assert!(accepted.notices[0].contains("cannot be told"), "{accepted:?}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// Every start names the record format it writes; records of a later format stop a
/// verification with the reason, rather than being misread.
#[tokio::test]
async fn records_of_a_later_format_stop_verification_naming_it() {
    let log = TestLog::new();
    log.write(64, 3).await;
    let segment = log.segments().pop().unwrap();
    let mut lines = log.lines(&segment);
    let formats: Vec<serde_json::Value> = lines
        .iter()
        .map(|line| chain::open(line).unwrap())
        .filter(|link| {
            matches!(
                link.record.get("action").and_then(|action| action.as_str()),
                Some("audit.opened" | "audit.genesis")
            )
        })
        .map(|link| {
            let detail: serde_json::Value =
                serde_json::from_str(link.record["detail"].as_str().unwrap()).unwrap();
            detail["record_format"].clone()
        })
        .collect();
    assert_eq!(
        formats,
        [json!(chain::RECORD_FORMAT), json!(chain::RECORD_FORMAT)]
    );
    assert!(log.verify().valid);

    let last = chain::open(lines.last().unwrap()).unwrap();
    let later = Event::new(Action::AuditOpened, Outcome::Ok).with_detail(json!({
        "version": "99.0.0",
        "record_format": chain::RECORD_FORMAT + 1,
    }));
    let sealed = chain::seal(last.seq + 1, Utc::now(), &later, &last.hash).unwrap();
    lines.push(sealed.line.trim_end().to_owned());
    log.rewrite(&segment, &lines);
    let report = log.verify();
    let broken = broken_record(&report);
    assert_eq!(broken.seq, Some(last.seq + 1));
    assert!(
        broken
            .reason
            .contains(&format!("record format {}", chain::RECORD_FORMAT + 1)),
        "{}",
        broken.reason
    );
}
