//! The server's .deb (`scripts/package-server.sh`): what it installs, and that its systemd
//! unit is locked down. `scripts/test.sh` builds the package and runs this with `--ignored`.

use std::path::PathBuf;
use std::process::Command;

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
#[ignore = "needs the package: scripts/test.sh builds it and runs this"]
fn the_server_package_installs_a_hardened_service() {
    let deb: PathBuf = std::env::var_os("NATTER_SERVER_DEB")
        .expect("NATTER_SERVER_DEB: the .deb from scripts/package-server.sh")
        .into();
    let info = run(Command::new("dpkg-deb").arg("--info").arg(&deb));
    assert!(info.contains("Package: natter-server"), "{info}");
    assert!(info.contains(&format!("Version: {}", env!("CARGO_PKG_VERSION"))));
    assert!(info.contains("postinst"), "creates its user: {info}");

    let root = tempfile::tempdir().unwrap();
    run(Command::new("dpkg-deb")
        .arg("-x")
        .arg(&deb)
        .arg(root.path()));
    let bin = root.path().join("usr/bin/natter-server");
    let version = run(Command::new(&bin).arg("--version"));
    assert_eq!(
        version.trim(),
        format!("natter-server {}", env!("CARGO_PKG_VERSION"))
    );

    let unit = root.path().join("lib/systemd/system/natter-server.service");
    let text = std::fs::read_to_string(&unit).unwrap();
    for line in [
        "User=natter",
        "ExecStart=/usr/bin/natter-server",
        "Environment=NATTER_DATA_DIR=/var/lib/natter-server",
        "StateDirectoryMode=0700",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
    }
    // systemd's own judgement of the sandbox: exposure at most 3.0 of 10 ("OK").
    let security = Command::new("systemd-analyze")
        .args(["security", "--offline=yes", "--threshold=30"])
        .arg(&unit)
        .output()
        .expect("systemd-analyze");
    assert!(
        security.status.success(),
        "{}",
        String::from_utf8_lossy(&security.stdout)
    );
    assert!(
        root.path().join("etc/default/natter-server").exists(),
        "the settings file"
    );
}
