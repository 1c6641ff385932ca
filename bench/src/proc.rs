//! Figures about processes, read from /proc, and starting the servers under test.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Resident memory of a process, in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// CPU time (user + system) a process has used so far, in seconds; `"self"` for this one.
pub fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; the fields after its ')' are plain.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // Linux reports in USER_HZ, 100 on every architecture Natter runs on.
    Some(ticks as f64 / 100.0)
}

/// Bytes a process has caused to be written to storage so far (`/proc/PID/io`, what its
/// writes and fsyncs sent to the disk, not what went to sockets).
pub fn write_bytes(pid: &str) -> Option<u64> {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).ok()?;
    io.lines()
        .find_map(|l| l.strip_prefix("write_bytes:"))?
        .trim()
        .parse()
        .ok()
}

/// natter-server's flags for a measurement on `data`: plain websockets, as the baseline serves
/// (TLS costs are measured apart), and no per-address caps (thousands of clients come from one
/// address).
pub fn natter_args(data: &Path) -> Vec<String> {
    [
        "--no-tls",
        "--no-limits",
        "--no-discovery",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([data.display().to_string()])
    .collect()
}

/// A server under test, pinned to one core, stopped when dropped.
pub struct ServerProcess {
    pub child: Child,
    pub addr: SocketAddr,
    pub pid: u32,
}

impl ServerProcess {
    /// Starts `program args…` on `core` (with taskset when available) and waits for its
    /// `listening on http://ADDR` line.
    pub async fn start(
        core: Option<usize>,
        program: &Path,
        args: &[String],
        env: &[(&str, String)],
    ) -> ServerProcess {
        let mut cmd = match core {
            Some(c) => {
                let mut cmd = Command::new("taskset");
                cmd.args(["-c", &c.to_string()]).arg(program);
                cmd
            }
            None => Command::new(program),
        };
        cmd.args(args)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", program.display()));
        let pid = child.id().expect("server pid");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let addr = loop {
            let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
                .await
                .expect("server start timed out")
                .expect("server stdout")
                .expect("server exited");
            if let Some((_, url)) = line.split_once("listening on http://") {
                break url.trim().parse().expect("address");
            }
        };
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        ServerProcess { child, addr, pid }
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_is_read_and_grows_with_work() {
        let before = cpu_seconds("self").expect("own CPU time");
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while start.elapsed() < Duration::from_millis(300) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        let used = cpu_seconds("self").expect("own CPU time") - before;
        assert!(
            (0.1..1.0).contains(&used),
            "{used} s of CPU for 0.3 s of spinning"
        );
        assert_eq!(cpu_seconds("0"), None, "no such process");
    }
}
