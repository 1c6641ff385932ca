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
    /// `https://127.0.0.1:PORT`, or `http://…` with `--no-tls`.
    pub url: String,
    pub data_dir: PathBuf,
    /// The fingerprint the banner printed (`AB:CD:…`); `None` without TLS.
    pub fingerprint: Option<String>,
}

impl TestServer {
    /// Starts a server on 127.0.0.1 with a free port, on `data_dir`, with extra flags.
    pub async fn start(data_dir: &Path, args: &[&str]) -> TestServer {
        Self::start_at(data_dir, "127.0.0.1:0", args).await
    }

    /// Starts a server listening on `listen` (e.g. the address of a server that was stopped,
    /// to bring it back where its clients expect it).
    pub async fn start_at(data_dir: &Path, listen: &str, args: &[&str]) -> TestServer {
        std::fs::create_dir_all(data_dir).expect("data dir");
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
            // Only the discovery test announces anything, inside its own network namespace.
            .env("NATTER_NO_DISCOVERY", "1")
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
            .trim_start_matches("https://")
            .parse()
            .expect("address in banner");
        // The banner then says whether traffic is encrypted, and with which certificate.
        let mut fingerprint = None;
        while let Ok(Ok(Some(line))) = tokio::time::timeout(crate::WAIT, lines.next_line()).await {
            if line.starts_with("TLS is off") {
                break;
            }
            if line.starts_with("TLS certificate fingerprint") {
                let fp = tokio::time::timeout(crate::WAIT, lines.next_line())
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .flatten()
                    .expect("the fingerprint line");
                fingerprint = Some(fp.trim().to_owned());
                break;
            }
        }
        if url.starts_with("https://") {
            // The operator's certificate, or the self-signed one the server made.
            let cert = args
                .iter()
                .position(|a| *a == "--tls-cert")
                .and_then(|i| args.get(i + 1))
                .map(PathBuf::from)
                .unwrap_or_else(|| data_dir.join("cert.pem"));
            let pem = std::fs::read(&cert).expect("the server's certificate");
            crate::tls::pin(&url, pem);
        }
        // Keep draining stdout so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        TestServer {
            child,
            addr,
            url,
            data_dir: data_dir.to_owned(),
            fingerprint,
        }
    }

    /// A cluster node on `redis_url`. Nodes share one certificate, as an operator's do: the
    /// first makes it, the others serve the one `first` made.
    pub async fn start_node(
        data_dir: &Path,
        redis_url: &str,
        first: Option<&TestServer>,
    ) -> TestServer {
        Self::start_node_with(data_dir, redis_url, first, &[]).await
    }

    /// [`TestServer::start_node`] with extra flags.
    pub async fn start_node_with(
        data_dir: &Path,
        redis_url: &str,
        first: Option<&TestServer>,
        extra: &[&str],
    ) -> TestServer {
        let mut args = vec!["--redis".to_owned(), redis_url.to_owned()];
        if let Some(first) = first {
            for (flag, file) in [("--tls-cert", "cert.pem"), ("--tls-key", "key.pem")] {
                args.push(flag.into());
                args.push(first.data_dir.join(file).to_string_lossy().into_owned());
            }
        }
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Self::start(data_dir, &args).await
    }

    pub fn is_tls(&self) -> bool {
        self.url.starts_with("https://")
    }

    /// A connection to the server, over TLS (pinned) when it serves TLS.
    pub async fn connect(&self) -> Box<dyn crate::tls::Io> {
        let connector = self
            .is_tls()
            .then(|| crate::tls::pinned_connector(&crate::tls::pinned(&self.url)));
        crate::tls::connect(self.addr, None, connector)
            .await
            .expect("connect to the server")
    }

    /// Sends a raw HTTP/1.0 request; returns the status line, the headers and the body.
    pub async fn http(&self, request: &str) -> (String, String, String) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut conn = self.connect().await;
        conn.write_all(request.as_bytes()).await.expect("request");
        let mut response = Vec::new();
        let _ = conn.read_to_end(&mut response).await;
        let response = String::from_utf8_lossy(&response).into_owned();
        let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
        let (status, headers) = head.split_once("\r\n").unwrap_or((head, ""));
        (status.to_owned(), headers.to_owned(), body.to_owned())
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
        let (status, _, body) = self
            .http("GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n")
            .await;
        (
            status,
            serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
        )
    }

    /// Runs `natter-server admin ARGS` against this server's data dir, with `stdin` as its
    /// input; returns whether it succeeded, and its output and errors.
    pub async fn admin(&self, args: &[&str], stdin: &str) -> (bool, String, String) {
        use tokio::io::AsyncWriteExt;
        let mut child = Command::new(server_bin())
            .arg("admin")
            .args(args)
            .env("NATTER_DATA_DIR", &self.data_dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn natter-server admin");
        let mut input = child.stdin.take().expect("admin stdin");
        input
            .write_all(stdin.as_bytes())
            .await
            .expect("write stdin");
        drop(input);
        let out = tokio::time::timeout(crate::WAIT, child.wait_with_output())
            .await
            .expect("admin command did not finish")
            .expect("admin output");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
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
