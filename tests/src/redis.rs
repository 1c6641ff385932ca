//! A real `redis-server` for a test, on a free loopback port; in memory, or persisted in a
//! directory so it can be stopped and started again with its data.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    /// With it, an append-only file keeps the data across restarts.
    dir: Option<PathBuf>,
    pub url: String,
}

impl RedisServer {
    /// An in-memory Redis.
    pub async fn start() -> RedisServer {
        Self::launch(free_port(), None).await
    }

    /// A Redis that keeps its data in `dir` (append-only file), so [`RedisServer::restart`]
    /// brings it back as it was.
    pub async fn start_persistent(dir: &Path) -> RedisServer {
        Self::launch(free_port(), Some(dir.to_owned())).await
    }

    async fn launch(port: u16, dir: Option<PathBuf>) -> RedisServer {
        let mut cmd = Command::new("redis-server");
        cmd.args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ]);
        match &dir {
            Some(d) => {
                cmd.arg("--dir")
                    .arg(d)
                    .args(["--appendonly", "yes", "--appendfsync", "always"]);
            }
            None => {
                cmd.args(["--appendonly", "no"]);
            }
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server (scripts/setup.sh installs it)");
        let deadline = Instant::now() + crate::WAIT;
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "redis-server did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        RedisServer {
            child: Some(child),
            port,
            dir,
            url: format!("redis://127.0.0.1:{port}/?protocol=resp3"),
        }
    }

    /// SIGTERM (a clean shutdown that writes its data), then waits for the exit.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Some(pid) = child.id() {
                let _ = std::process::Command::new("kill")
                    .args(["-TERM", &pid.to_string()])
                    .status();
            }
            let _ = tokio::time::timeout(crate::WAIT, child.wait()).await;
        }
    }

    /// Starts it again, after [`RedisServer::stop`], on the same port (and data, when
    /// persistent).
    pub async fn start_again(&mut self) {
        self.stop().await;
        *self = Self::launch(self.port, self.dir.take()).await;
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}
