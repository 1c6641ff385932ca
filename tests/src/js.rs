//! Scripts in `tests/js` run with Node and the official socket.io client (`npm ci` in
//! tests/js installs it; the test setup does).

use std::path::PathBuf;

use crate::TestServer;

/// Runs `tests/js/<script>` with `args`; panics with its output and the server's log unless
/// it exits 0; returns what it printed.
pub async fn run(script: &str, args: &[&str], server: &TestServer) -> String {
    let js = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("js");
    assert!(
        js.join("node_modules/socket.io-client").exists(),
        "socket.io-client is not installed: run `npm ci --prefix tests/js`"
    );
    let out = tokio::process::Command::new("node")
        .arg(js.join(script))
        .args(args)
        .kill_on_drop(true)
        .output()
        .await
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{script} failed:\n{stdout}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        server.log()
    );
    stdout
}

/// Panics unless the script's output has a `"step":"<step>"` line for each step.
pub fn assert_steps(stdout: &str, steps: &[&str]) {
    for step in steps {
        assert!(
            stdout.contains(&format!("\"step\":\"{step}\"")),
            "missing {step}: {stdout}"
        );
    }
}
