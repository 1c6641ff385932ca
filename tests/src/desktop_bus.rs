//! The stand-in desktop services (`tests/desktop_bus.py`) on the session bus of a window test
//! run: notifications, the tray, the session's idle time; and what the app asked of them.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::process::{Child, Command};

use crate::window::{ThenNone, eventually};

const NOTIFICATIONS: &str = "org.freedesktop.Notifications";
const SCREENSAVER: &str = "org.freedesktop.ScreenSaver";

/// The stand-in desktop services (`tests/desktop_bus.py`) on the session bus of the test run
/// (`dbus-run-session`), and what the app asked of them.
pub struct DesktopBus {
    child: Child,
    log: PathBuf,
}

impl DesktopBus {
    pub async fn start(dir: &Path) -> DesktopBus {
        assert!(
            std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
            "no session bus: run under dbus-run-session (scripts/test.sh does)"
        );
        let log = dir.join("bus.jsonl");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("desktop_bus.py");
        // Debian's own Python: python3-dbus and python3-gi are installed for it.
        let child = Command::new("/usr/bin/python3")
            .arg(script)
            .arg(&log)
            .kill_on_drop(true)
            .spawn()
            .expect("python3");
        let bus = DesktopBus { child, log };
        eventually("desktop bus ready", || async {
            bus.calls("ready").is_empty().then_none()
        })
        .await;
        bus
    }

    /// Every recorded call named `call`, oldest first.
    pub fn calls(&self, call: &str) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["call"] == call)
            .collect()
    }

    /// The labels of the tray's menu, as the desktop's tray shows them.
    pub async fn tray_labels(&self) -> Vec<String> {
        let out = Command::new("dbus-send")
            .args([
                "--session",
                "--print-reply=literal",
                &format!("--dest={NOTIFICATIONS}"),
                "/org/freedesktop/Notifications",
                "lan.natter.Test.TrayLabels",
            ])
            .output()
            .await
            .expect("dbus-send");
        assert!(out.status.success(), "the tray menu could not be read");
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).expect("a JSON list")
    }

    /// Calls the stand-in's test method `method` (of `lan.natter.Test`) on the object that
    /// bus name `service` owns, with dbus-send's typed `args`; whether it answered.
    async fn control(service: &str, method: &str, args: &[String]) -> bool {
        let path = format!("/{}", service.replace('.', "/"));
        Command::new("dbus-send")
            .args([
                "--session",
                "--print-reply",
                &format!("--dest={service}"),
                &path,
                &format!("lan.natter.Test.{method}"),
            ])
            .args(args)
            .stdout(Stdio::null())
            .status()
            .await
            .expect("dbus-send")
            .success()
    }

    /// Clicks the tray menu item `label`, as the desktop's tray would.
    pub async fn click_tray(&self, label: &str) {
        let clicked = Self::control(NOTIFICATIONS, "ClickTray", &[format!("string:{label}")]).await;
        assert!(clicked, "the tray item could not be clicked");
        assert!(
            self.calls("ClickTray").iter().any(|c| c["label"] == label),
            "no tray item `{label}`"
        );
    }

    /// Clicks notification `id` as the daemon reports a click.
    pub async fn invoke(&self, id: u64, action: &str) {
        let args = [format!("uint32:{id}"), format!("string:{action}")];
        let taken = Self::control(NOTIFICATIONS, "Invoke", &args).await;
        assert!(taken, "the stand-in daemon did not take the click");
    }

    /// Makes the desktop session report `seconds` without input (org.freedesktop.ScreenSaver's
    /// `GetSessionIdleTime`), as if the person had left the computer that long ago.
    pub async fn set_idle(&self, seconds: u32) {
        let taken = Self::control(SCREENSAVER, "SetIdle", &[format!("uint32:{seconds}")]).await;
        assert!(
            taken,
            "the stand-in screen saver did not take the idle time"
        );
    }
}

impl Drop for DesktopBus {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}
