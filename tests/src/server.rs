//! A real `natter-server` process for a test.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The server binary: `$NATTER_SERVER_BIN`, else `natter-server` built (once per test binary,
/// a no-op when fresh) into the same target dir and profile as the running test.
pub fn server_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("NATTER_SERVER_BIN") {
            return p.into();
        }
        let exe = std::env::current_exe().expect("test executable path");
        // target/<profile>/deps/<test> → target/<profile>
        let profile_dir = exe.parent().and_then(Path::parent).expect("profile dir");
        let target_dir = profile_dir.parent().expect("target dir");
        let release = profile_dir.file_name().is_some_and(|n| n == "release");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut build = std::process::Command::new(cargo);
        build
            .args([
                "build",
                "--quiet",
                "-p",
                "natter-server",
                "--bin",
                "natter-server",
            ])
            .arg("--target-dir")
            .arg(target_dir);
        if release {
            build.arg("--release");
        }
        let status = build.status().expect("run cargo build for natter-server");
        assert!(status.success(), "building natter-server failed");
        profile_dir.join("natter-server")
    })
    .clone()
}

pub struct TestServer {
    child: Child,
    pub addr: SocketAddr,
    pub url: String,
    pub data_dir: PathBuf,
}

impl TestServer {
    /// Starts a server on 127.0.0.1 with a free port, on `data_dir`, with extra flags.
    pub async fn start(data_dir: &Path, args: &[&str]) -> TestServer {
        Self::start_at(data_dir, "127.0.0.1:0", args).await
    }

    /// Starts a server listening on `listen` (e.g. the address of a server that was stopped,
    /// to bring it back where its clients expect it).
    pub async fn start_at(data_dir: &Path, listen: &str, args: &[&str]) -> TestServer {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data_dir.join("server.log"))
            .expect("server log file");
        let mut child = Command::new(server_bin())
            .args(["--listen", listen])
            .args(args)
            // The data dir goes through the environment, so NATTER_* variables are exercised.
            .env("NATTER_DATA_DIR", data_dir)
            .env("RUST_LOG", "natter_server=debug")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("spawn natter-server");
        let stdout = child.stdout.take().expect("server stdout");
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(crate::WAIT, lines.next_line())
            .await
            .expect("server printed nothing in time")
            .expect("reading server stdout")
            .expect("server exited before listening");
        let url = first
            .split_once("listening on ")
            .map(|(_, url)| url.trim().to_owned())
            .unwrap_or_else(|| panic!("unexpected first line: {first}"));
        let addr: SocketAddr = url
            .trim_start_matches("http://")
            .parse()
            .expect("address in banner");
        // Keep draining stdout so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        TestServer {
            child,
            addr,
            url,
            data_dir: data_dir.to_owned(),
        }
    }

    /// SIGKILL: no shutdown code runs, exactly like a crash or a power cut of the process.
    pub async fn kill(&mut self) {
        self.child.kill().await.expect("kill server");
    }

    /// SIGTERM, then wait for a clean exit; returns the exit status.
    pub async fn stop(&mut self) -> std::process::ExitStatus {
        if let Some(pid) = self.child.id() {
            // The `kill` command keeps this crate free of libc bindings.
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        tokio::time::timeout(crate::WAIT, self.child.wait())
            .await
            .expect("server did not stop on SIGTERM")
            .expect("wait for server")
    }

    /// `GET /healthz`: the HTTP status line and the JSON body.
    pub async fn healthz(&self) -> (String, serde_json::Value) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut tcp = tokio::net::TcpStream::connect(self.addr)
            .await
            .expect("connect");
        tcp.write_all(b"GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n")
            .await
            .expect("request");
        let mut response = String::new();
        tcp.read_to_string(&mut response).await.expect("response");
        let (head, body) = response
            .split_once("\r\n\r\n")
            .unwrap_or((&response, "null"));
        let status = head.lines().next().unwrap_or_default().to_owned();
        (
            status,
            serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
        )
    }

    /// The process id, to send signals to.
    pub fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }

    /// The server's log so far (stderr), for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("server.log")).unwrap_or_default()
    }
}
