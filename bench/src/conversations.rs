//! Groups and search at size: the latency of `search messages` over a million stored
//! messages, and what delivering to a 200-member group costs. Both through a real server
//! pinned to one core, measured from the other.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use natter_protocol::{Auth, event};
use natter_server::store::sqlite::SqliteStore;
use natter_server::store::{GroupRecord, Groups, Identities};
use serde_json::json;
use tokio::sync::mpsc;

use crate::client::{self, Report};
use crate::proc::{ServerProcess, cpu_seconds, natter_args};

pub struct Config {
    pub natter_bin: std::path::PathBuf,
    /// Messages stored before searching.
    pub messages: u64,
    pub members: usize,
}

const SESSION: &str = "bench-search-session-00000000000";
/// The measured person's own conversations: 10 people and 5 groups.
const PEERS: usize = 10;
const GROUPS: usize = 5;
/// Everyone else.
const OTHERS: usize = 990;
/// One message in this many is the measured person's (1 %).
const OWN_EVERY: u64 = 100;

/// Words of ordinary messages: made-up syllables, so the index sees a realistic spread of
/// trigrams.
fn word(n: u64) -> String {
    const SYL: [&str; 16] = [
        "ka", "lo", "mi", "ne", "tu", "ra", "si", "po", "de", "vu", "ga", "hi", "jo", "be", "fa",
        "zu",
    ];
    let mut w = String::new();
    let mut x = n % 4096;
    for _ in 0..3 {
        w.push_str(SYL[(x % 16) as usize]);
        x /= 16;
    }
    w
}

/// Message `n`'s text: eight ordinary words, and the words the queries look for at known
/// frequencies ("meeting" in 10 %, "pineapple" in 0.01 %, "zebra" in 1 % but never in the
/// measured person's conversations).
fn content(n: u64, own: bool) -> String {
    let mut x = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut words: Vec<String> = (0..8)
        .map(|_| {
            x ^= x >> 29;
            x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
            word(x >> 20)
        })
        .collect();
    // From a hash of `n`, so the measured person's messages (every 100th) get them too.
    let h = n
        .wrapping_add(0x632B_E59B_D9B4_E019)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let h = (h ^ (h >> 31)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    if h.is_multiple_of(10) {
        words.push("meeting".into());
    }
    if (h >> 8).is_multiple_of(10_000) {
        words.push("pineapple".into());
    }
    if !own && (h >> 24).is_multiple_of(100) {
        words.push("zebra".into());
    }
    words.join(" ")
}

/// Fills `dir`: the measured person "me", their peers and groups, everyone else, `total`
/// messages. Returns messages stored per second, and indexed per second once idle.
async fn seed(dir: &Path, total: u64) -> (f64, f64) {
    let store = Arc::new(SqliteStore::open(dir).expect("open store"));
    let user = |i: usize| format!("u{i}");
    store
        .create_user(crate::history::new_user(SESSION, "me"))
        .await
        .expect("store")
        .expect("free name");
    for i in 0..PEERS + OTHERS {
        store
            .create_user(crate::history::new_user(
                &format!("bench-session-{i:020}"),
                &user(i),
            ))
            .await
            .expect("store")
            .expect("free name");
    }
    let group = |g: usize| format!("g-bench{g}");
    for g in 0..GROUPS {
        store
            .create_group(GroupRecord {
                group_id: group(g),
                name: group(g),
                members: vec!["me".into(), user(g), user(g + 1)],
                created_by: "me".into(),
            })
            .await
            .expect("group");
    }
    let messages = (0..total).map(|n| {
        let own = n % OWN_EVERY == 0;
        let (from, to) = if own {
            match (n / OWN_EVERY) % 3 {
                0 => ("me".to_owned(), user((n as usize / 7) % PEERS)),
                1 => (user((n as usize / 7) % PEERS), "me".to_owned()),
                _ => (user(n as usize % PEERS), group((n as usize / 3) % GROUPS)),
            }
        } else {
            let a = PEERS + (n as usize * 7919) % OTHERS;
            let b = PEERS + (a + 1 + (n as usize * 104_729) % (OTHERS - 1) - PEERS) % OTHERS;
            (user(a), user(b))
        };
        (from, to, content(n, own))
    });
    let rate = crate::history::insert_all(&store, messages).await;
    // The writer indexes what it stored once it is idle: wait for it, as a server that ran
    // for a while would have.
    let idle = Instant::now();
    while store.unindexed() > 0 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let indexing = idle.elapsed().as_secs_f64();
    eprintln!("index caught up {indexing:.1} s after the last message");
    (rate, total as f64 / indexing.max(1e-9))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Logs in one client with `auth`; its user id and its outgoing channel.
async fn login(
    server: &ServerProcess,
    auth: &Auth,
    index: usize,
    clock: Instant,
    reports: mpsc::UnboundedSender<Report>,
    rx: &mut mpsc::UnboundedReceiver<Report>,
) -> (String, mpsc::UnboundedSender<String>) {
    let tx = client::spawn_plain(index, server.addr, auth, clock, reports);
    loop {
        match tokio::time::timeout(Duration::from_secs(60), rx.recv()).await {
            Ok(Some(Report::LoggedIn { user_id, .. })) => return (user_id, tx),
            Ok(Some(Report::Failed { error, .. })) => panic!("login failed: {error}"),
            Ok(Some(_)) => {}
            _ => panic!("login timed out"),
        }
    }
}

/// Sends `event` with an ack and waits for it; the answer and the round trip in ms.
async fn ask(
    tx: &mpsc::UnboundedSender<String>,
    rx: &mut mpsc::UnboundedReceiver<Report>,
    clock: Instant,
    ack_id: u64,
    name: &str,
    payload: serde_json::Value,
) -> (serde_json::Value, f64) {
    let sent = clock.elapsed().as_nanos() as u64;
    let _ = tx.send(client::event_with_ack(ack_id, name, &payload));
    loop {
        match tokio::time::timeout(Duration::from_secs(60), rx.recv()).await {
            Ok(Some(Report::Acked {
                ack_id: id,
                received_ns,
                payload,
            })) if id == ack_id => {
                return (payload, (received_ns - sent) as f64 / 1e6);
            }
            Ok(Some(_)) => {}
            _ => panic!("no answer to {name}"),
        }
    }
}

/// The search half: seeds, starts the server on the data, runs each query 100 times.
async fn search(cfg: &Config) -> String {
    let data = tempfile::tempdir().expect("temp dir");
    eprintln!("seeding {} messages…", cfg.messages);
    let (seed_rate, index_rate) = seed(data.path(), cfg.messages).await;
    let db_bytes = std::fs::metadata(data.path().join("natter.db"))
        .map(|m| m.len())
        .unwrap_or(0);
    let server =
        ServerProcess::start(Some(0), &cfg.natter_bin, &natter_args(data.path()), &[]).await;
    let clock = Instant::now();
    let (reports, mut rx) = mpsc::unbounded_channel();
    let auth = Auth {
        session_id: Some(SESSION.into()),
        ..Auth::default()
    };
    let (_, tx) = login(&server, &auth, 0, clock, reports, &mut rx).await;
    let queries: [(&str, serde_json::Value); 5] = [
        (
            "rare word (`pineapple`, 0.01 % of messages)",
            json!({"q": "pineapple"}),
        ),
        ("common word (`meeting`, 10 %)", json!({"q": "meeting"})),
        (
            "common word in one conversation",
            json!({"q": "meeting", "with": "u0"}),
        ),
        (
            "word only in others' conversations (`zebra`, 1 %)",
            json!({"q": "zebra"}),
        ),
        ("part of a word (`kalo`)", json!({"q": "kalo"})),
    ];
    let mut out = format!(
        "{} messages stored (committed at {:.0} msgs/s through the store; the writer then \
         indexed them for search in its idle time at {:.0} msgs/s), database {:.0} MiB; the \
         person searching has 1 % of them in 10 conversations and 5 groups. 100 searches \
         each, one at a time, over the wire (`search messages` → ack).\n\n\
         | query | results | p50 | p99 |\n|---|---:|---:|---:|\n",
        cfg.messages,
        seed_rate,
        index_rate,
        db_bytes as f64 / (1024.0 * 1024.0)
    );
    let mut ack_id = 0;
    for (label, q) in queries {
        let mut times = Vec::new();
        let mut results = 0;
        for _ in 0..100 {
            ack_id += 1;
            let (answer, ms) = ask(
                &tx,
                &mut rx,
                clock,
                ack_id,
                event::SEARCH_MESSAGES,
                q.clone(),
            )
            .await;
            results = answer["messages"].as_array().map_or(0, Vec::len);
            assert!(answer.get("code").is_none(), "search refused: {answer}");
            times.push(ms);
        }
        times.sort_by(f64::total_cmp);
        out.push_str(&format!(
            "| {label} | {results} | {:.2} ms | {:.2} ms |\n",
            percentile(&times, 0.5),
            percentile(&times, 0.99)
        ));
    }
    server.stop().await;
    out
}

/// The fan-out half: `members` clients in one group, one of them sending at a few rates.
async fn fan_out(cfg: &Config) -> String {
    let data = tempfile::tempdir().expect("temp dir");
    let server =
        ServerProcess::start(Some(0), &cfg.natter_bin, &natter_args(data.path()), &[]).await;
    let clock = Instant::now();
    let (reports, mut rx) = mpsc::unbounded_channel();
    let mut ids = Vec::new();
    let mut senders = Vec::new();
    for i in 0..cfg.members {
        let auth = Auth {
            username: Some(format!("member{i}")),
            ..Auth::default()
        };
        let (id, tx) = login(&server, &auth, i, clock, reports.clone(), &mut rx).await;
        ids.push(id);
        senders.push(tx);
    }
    let (group, _) = ask(
        &senders[0],
        &mut rx,
        clock,
        1,
        event::CREATE_GROUP,
        json!({"name": "all hands", "members": ids[1..]}),
    )
    .await;
    let group_id = group["groupID"].as_str().expect("a group").to_owned();
    let recipients = cfg.members as u64 - 1;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut out = format!(
        "One group of {} members, all online; one member sends for 10 s at each rate; every \
         other member's socket gets each message.\n\n\
         | messages/s | deliveries/s | delivered | p50 | p99 | server CPU | CPU per delivery |\n\
         |---:|---:|---:|---:|---:|---:|---:|\n",
        cfg.members
    );
    for rate in [10u64, 50, 100, 200] {
        while rx.try_recv().is_ok() {}
        let pid = server.pid.to_string();
        let cpu_before = cpu_seconds(&pid).unwrap_or(0.0);
        let started = Instant::now();
        let seconds = 10;
        let total = rate * seconds;
        let mut sent = 0u64;
        let mut latencies = Vec::new();
        let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
        while sent < total {
            tokio::select! {
                _ = tick.tick() => {
                    let now = clock.elapsed().as_nanos() as u64;
                    let _ = senders[0].send(client::group_message_frame(&group_id, now));
                    sent += 1;
                }
                Some(r) = rx.recv() => if let Report::Delivered { sent_ns, received_ns } = r {
                    latencies.push((received_ns - sent_ns) as f64 / 1e6);
                },
            }
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while (latencies.len() as u64) < total * recipients {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(Report::Delivered {
                    sent_ns,
                    received_ns,
                })) => latencies.push((received_ns - sent_ns) as f64 / 1e6),
                Ok(Some(_)) => {}
                _ => break,
            }
        }
        let elapsed = started.elapsed().as_secs_f64();
        let cpu = cpu_seconds(&pid).unwrap_or(0.0) - cpu_before;
        let delivered = latencies.len() as u64;
        latencies.sort_by(f64::total_cmp);
        out.push_str(&format!(
            "| {rate} | {:.0} | {:.2} % | {:.1} ms | {:.1} ms | {:.0} % | {:.1} µs |\n",
            delivered as f64 / elapsed,
            100.0 * delivered as f64 / (total * recipients) as f64,
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99),
            100.0 * cpu / elapsed,
            1e6 * cpu / delivered.max(1) as f64,
        ));
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    server.stop().await;
    out
}

/// Both halves, as Markdown for BENCHMARKS.md.
pub async fn run(cfg: &Config) -> String {
    let search = search(cfg).await;
    let fan_out = fan_out(cfg).await;
    format!("### Search\n\n{search}\n### Group fan-out\n\n{fan_out}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_words_appear_at_their_frequencies() {
        let n = 200_000;
        let count = |w: &str, own: bool| (0..n).filter(|&i| content(i, own).contains(w)).count();
        let near = |got: usize, want: usize| got.abs_diff(want) * 5 < want.max(5);
        assert!(
            near(count("meeting", false), 20_000),
            "{}",
            count("meeting", false)
        );
        // About 20; few enough to vary.
        assert!((10..40).contains(&count("pineapple", false)));
        assert!(
            near(count("zebra", false), 2_000),
            "{}",
            count("zebra", false)
        );
        assert_eq!(count("zebra", true), 0);
        let own_meetings = (0..n)
            .step_by(100)
            .filter(|&i| content(i, true).contains("meeting"));
        assert!(near(own_meetings.count(), 200));
    }
}
