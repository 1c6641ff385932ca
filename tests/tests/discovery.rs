//! Finding the server on the LAN: a real natter-server announces itself over mDNS and
//! `natter-server discover` finds it, then sees it go when it stops. Both run inside a network
//! namespace made for the test (only its own loopback, multicast on), so nothing reaches the
//! machine's network.

use std::process::Command;

use natter_tests::server::server_bin;

#[test]
fn a_server_is_found_on_the_lan_and_seen_to_leave() {
    let dir = tempfile::tempdir().unwrap();
    let found = dir.path().join("found.jsonl");
    let banner = dir.path().join("banner.txt");
    let script = r#"
set -e
ip link set lo up
ip link set lo multicast on
"$BIN" --listen 127.0.0.1:3000 --name "Test office" > "$BANNER" 2> "$DIR/server.log" &
server=$!
"$BIN" discover --interface 127.0.0.1 --seconds 10 > "$FOUND" &
browser=$!
for _ in $(seq 100); do
  grep -q '"found"' "$FOUND" 2>/dev/null && break
  sleep 0.1
done
kill -TERM "$server"
wait "$server"
wait "$browser"
"#;
    let status = Command::new("unshare")
        .args(["--net", "sh", "-c", script])
        .env("BIN", server_bin())
        .env("DIR", dir.path())
        .env("FOUND", &found)
        .env("BANNER", &banner)
        .env("NATTER_DATA_DIR", dir.path().join("data"))
        .status()
        .expect("unshare (util-linux)");
    assert!(
        status.success(),
        "the namespace script failed (needs root): {}",
        std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default()
    );

    let events: Vec<serde_json::Value> = std::fs::read_to_string(&found)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let first = events.first().expect("the server was found");
    assert_eq!(first["event"], "found", "{events:?}");
    assert_eq!(first["name"], "Test office");
    assert_eq!(first["address"], "127.0.0.1:3000");
    assert!(first["version"].as_str().is_some_and(|v| !v.is_empty()));
    // The certificate's fingerprint, as the banner shows it: the app can tell it is the one
    // announced before trusting it.
    let fingerprint = first["fingerprint"].as_str().expect("TLS is on");
    assert!(
        std::fs::read_to_string(&banner)
            .unwrap()
            .contains(fingerprint),
        "announced fingerprint {fingerprint} is not the banner's"
    );
    let gone = events
        .iter()
        .find(|e| e["event"] == "gone")
        .unwrap_or_else(|| panic!("never seen to leave: {events:?}"));
    assert_eq!(gone["instance"], first["instance"]);
}
