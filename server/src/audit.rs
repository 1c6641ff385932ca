//! The audit log: who signed in (and who failed to, with the name and client address tried,
//! never a password), what operators did, revocations, backups, restores, retention runs and
//! announcements. `audit.log` in the data dir, one JSON object per line, private to the
//! server's OS user (0600), rotated by size (`audit.log.1` is the newest of the older ones),
//! and read back by `natter-server admin audit`.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::{Map, Value, json};

pub const FILE: &str = "audit.log";

/// Where the log goes and how much of it is kept.
#[derive(Debug, Clone)]
pub struct AuditConfig {
    pub dir: PathBuf,
    /// A file this large is rotated.
    pub max_bytes: u64,
    /// Rotated files kept besides the current one.
    pub keep: usize,
}

/// The audit log of this node.
pub struct Audit {
    config: AuditConfig,
    file: Mutex<Option<(File, u64)>>,
}

impl Audit {
    pub fn new(config: AuditConfig) -> Self {
        Self {
            config,
            file: Mutex::new(None),
        }
    }

    fn path(&self, n: usize) -> PathBuf {
        rotated(&self.config.dir, n)
    }

    /// Appends one record: `action` and `fields`, with the time. A failure to write is
    /// logged, never a reason to refuse what is being recorded.
    pub fn record(&self, action: &str, fields: Value) {
        let now = now_ms();
        let mut record = Map::new();
        record.insert("ts".into(), json!(now));
        record.insert(
            "time".into(),
            json!(
                humantime::format_rfc3339_millis(
                    std::time::UNIX_EPOCH + std::time::Duration::from_millis(now)
                )
                .to_string()
            ),
        );
        record.insert("action".into(), json!(action));
        if let Value::Object(f) = fields {
            record.extend(f);
        }
        let mut line = Value::Object(record).to_string();
        line.push('\n');
        if let Err(e) = self.append(line.as_bytes()) {
            tracing::error!(error = %e, action, "could not write the audit log");
        }
    }

    fn append(&self, line: &[u8]) -> std::io::Result<()> {
        let mut guard = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if guard
            .as_ref()
            .is_some_and(|(_, size)| *size + line.len() as u64 > self.config.max_bytes)
        {
            *guard = None;
            self.rotate()?;
        }
        if guard.is_none() {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(self.path(0))?;
            let size = file.metadata()?.len();
            *guard = Some((file, size));
        }
        let (file, size) = guard.as_mut().expect("opened above");
        file.write_all(line)?;
        *size += line.len() as u64;
        Ok(())
    }

    /// `audit.log` → `audit.log.1` → … → `audit.log.<keep>`, the oldest dropped.
    fn rotate(&self) -> std::io::Result<()> {
        let keep = self.config.keep;
        let oldest = self.path(keep);
        if keep == 0 || oldest.exists() {
            let _ = std::fs::remove_file(if keep == 0 { self.path(0) } else { oldest });
        }
        for n in (0..keep).rev() {
            let from = self.path(n);
            if from.exists() {
                std::fs::rename(&from, self.path(n + 1))?;
            }
        }
        Ok(())
    }
}

/// Now, in ms since the epoch.
fn now_ms() -> u64 {
    u64::try_from(natter_protocol::now_ms()).unwrap_or(0)
}

fn rotated(dir: &Path, n: usize) -> PathBuf {
    if n == 0 {
        dir.join(FILE)
    } else {
        dir.join(format!("{FILE}.{n}"))
    }
}

/// Which records `admin audit` prints.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only records at or after this (ms since the epoch).
    pub since_ms: Option<u64>,
    /// Only records about this person (a name or a userID, compared without case).
    pub user: Option<String>,
}

impl Filter {
    fn keeps(&self, record: &Value) -> bool {
        if let Some(since) = self.since_ms
            && record["ts"].as_u64().is_none_or(|ts| ts < since)
        {
            return false;
        }
        match &self.user {
            None => true,
            Some(user) => ["user", "user_id", "name", "target"]
                .iter()
                .filter_map(|k| record[*k].as_str())
                .any(|v| v.eq_ignore_ascii_case(user)),
        }
    }
}

/// The records in `dir`'s audit log (the rotated files too), oldest first.
pub fn read(dir: &Path, filter: &Filter) -> std::io::Result<Vec<Value>> {
    let mut files: Vec<(usize, PathBuf)> = std::fs::read_dir(dir)?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let n = if name == FILE {
                0
            } else {
                name.strip_prefix(&format!("{FILE}."))?.parse().ok()?
            };
            Some((n, e.path()))
        })
        .collect();
    // The highest number is the oldest.
    files.sort_by_key(|f| std::cmp::Reverse(f.0));
    let mut out = Vec::new();
    for (_, path) in files {
        for line in BufReader::new(File::open(path)?).lines() {
            let line = line?;
            if let Ok(record) = serde_json::from_str::<Value>(&line)
                && filter.keeps(&record)
            {
                out.push(record);
            }
        }
    }
    Ok(out)
}

/// `--since`: an RFC 3339 time (`2026-12-01T09:00:00Z`) or a duration back from now
/// (`24h`, `7days`).
pub fn parse_since(text: &str) -> Result<u64, String> {
    if let Ok(t) = humantime::parse_rfc3339_weak(text) {
        return t
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .map_err(|e| e.to_string());
    }
    let back = humantime::parse_duration(text).map_err(|_| {
        format!("{text:?} is neither a time (2026-12-01T09:00:00Z) nor a duration (24h)")
    })?;
    Ok(now_ms().saturating_sub(back.as_millis() as u64))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn records_are_private_rotated_and_read_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let audit = Audit::new(AuditConfig {
            dir: dir.path().into(),
            max_bytes: 400,
            keep: 2,
        });
        for i in 0..20 {
            audit.record("sign_in", json!({"user": format!("u{}", i % 3), "n": i}));
        }
        let mode = std::fs::metadata(dir.path().join(FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(dir.path().join("audit.log.2").exists());
        assert!(!dir.path().join("audit.log.3").exists(), "only two kept");
        let all = read(dir.path(), &Filter::default()).unwrap();
        let ns: Vec<u64> = all.iter().map(|r| r["n"].as_u64().unwrap()).collect();
        assert!(ns.windows(2).all(|w| w[0] + 1 == w[1]), "in order: {ns:?}");
        assert_eq!(*ns.last().unwrap(), 19);
        assert!(ns.len() < 20, "the oldest rotated away");
        let u1 = read(
            dir.path(),
            &Filter {
                user: Some("U1".into()),
                ..Filter::default()
            },
        )
        .unwrap();
        assert!(!u1.is_empty() && u1.iter().all(|r| r["user"] == "u1"));
        let none = read(
            dir.path(),
            &Filter {
                since_ms: Some(now_ms() + 60_000),
                ..Filter::default()
            },
        )
        .unwrap();
        assert!(none.is_empty());
        assert!(all[0]["time"].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn since_takes_a_time_or_a_duration() {
        assert_eq!(parse_since("1970-01-01T00:00:01Z").unwrap(), 1000);
        let day_ago = parse_since("24h").unwrap();
        let expected = now_ms() - 86_400_000;
        assert!(day_ago.abs_diff(expected) < 5_000);
        assert!(parse_since("yesterday-ish").is_err());
    }
}
