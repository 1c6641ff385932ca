//! A real OpenLDAP directory for the directory sign-in tests: Debian's `slapd` run as a plain
//! process from a temp dir (its own configuration, database, CA and certificate; never the
//! system service or `/etc/ldap`), on free loopback ports for `ldap://` (StartTLS) and
//! `ldaps://`, loaded with people and a group through `ldapadd`.
//!
//! People: alice (Alice Liddell), bob (Bob Builder), dave, erin and frank are in the
//! `natter` group; carol is not. Each one's password is `<name>-password`. Only a bound
//! client may search (the service account `cn=natter,dc=natter,dc=test`, password
//! [`Slapd::SERVICE_PASSWORD`]); anonymous clients may only bind.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

pub const BASE_DN: &str = "dc=natter,dc=test";
pub const PEOPLE_DN: &str = "ou=people,dc=natter,dc=test";
pub const GROUP_DN: &str = "cn=natter,ou=groups,dc=natter,dc=test";
pub const SERVICE_DN: &str = "cn=natter,dc=natter,dc=test";
const ADMIN_DN: &str = "cn=admin,dc=natter,dc=test";
const ADMIN_PASSWORD: &str = "admin-secret";

/// Who is in the directory: login, display name, in the group.
pub const PEOPLE: &[(&str, Option<&str>, bool)] = &[
    ("alice", Some("Alice Liddell"), true),
    ("bob", Some("Bob Builder"), true),
    ("carol", None, false),
    ("dave", None, true),
    ("erin", None, true),
    ("frank", None, true),
];

/// `name`'s directory password.
pub fn password(name: &str) -> String {
    format!("{name}-password")
}

/// The DN of person `name`.
pub fn dn(name: &str) -> String {
    format!("uid={name},{PEOPLE_DN}")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

pub struct Slapd {
    dir: tempfile::TempDir,
    child: Option<Child>,
    ldap_port: u16,
    ldaps_port: u16,
}

impl Slapd {
    pub const SERVICE_PASSWORD: &str = "service-secret";

    /// Makes the CA and certificate, the configuration and the database, starts slapd and
    /// loads the people.
    pub async fn start() -> Slapd {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join("db")).expect("db dir");
        make_certificates(dir.path()).await;
        let mut slapd = Slapd {
            ldap_port: free_port(),
            ldaps_port: free_port(),
            dir,
            child: None,
        };
        std::fs::write(slapd.path("slapd.conf"), slapd.config()).expect("slapd.conf");
        std::fs::write(
            slapd.path("service-password"),
            format!("{}\n", Self::SERVICE_PASSWORD),
        )
        .expect("service password file");
        slapd.run().await;
        slapd.ldapadd(&people_ldif()).await;
        slapd
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `ldaps://127.0.0.1:PORT`.
    pub fn ldaps_url(&self) -> String {
        format!("ldaps://127.0.0.1:{}", self.ldaps_port)
    }

    /// `ldap://127.0.0.1:PORT` (StartTLS, or plain with `--ldap-insecure`).
    pub fn ldap_url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.ldap_port)
    }

    /// The directory's CA certificate (PEM).
    pub fn ca_file(&self) -> PathBuf {
        self.path("ca.pem")
    }

    /// The service account's password file.
    pub fn service_password_file(&self) -> PathBuf {
        self.path("service-password")
    }

    /// The natter-server flags for this directory over ldaps, searching as the service
    /// account, members of the group only.
    pub fn server_args(&self) -> Vec<String> {
        vec![
            "--ldap-url".into(),
            self.ldaps_url(),
            "--ldap-ca-file".into(),
            self.ca_file().display().to_string(),
            "--ldap-bind-dn".into(),
            SERVICE_DN.into(),
            "--ldap-bind-password-file".into(),
            self.service_password_file().display().to_string(),
            "--ldap-base-dn".into(),
            PEOPLE_DN.into(),
            "--ldap-group-dn".into(),
            GROUP_DN.into(),
        ]
    }

    fn config(&self) -> String {
        let d = self.dir.path().display();
        format!(
            "include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
moduleload ppolicy
pidfile {d}/slapd.pid
argsfile {d}/slapd.args
TLSCACertificateFile {d}/ca.pem
TLSCertificateFile {d}/cert.pem
TLSCertificateKeyFile {d}/key.pem
database mdb
maxsize 10485760
suffix \"{BASE_DN}\"
rootdn \"{ADMIN_DN}\"
rootpw {ADMIN_PASSWORD}
directory {d}/db
overlay memberof
overlay ppolicy
access to attrs=userPassword by self write by anonymous auth by * none
access to * by users read by anonymous auth
"
        )
    }

    async fn run(&mut self) {
        let urls = format!("{} {}", self.ldap_url(), self.ldaps_url());
        let child = Command::new("/usr/sbin/slapd")
            .args(["-h", &urls, "-f"])
            .arg(self.path("slapd.conf"))
            // In the foreground; -d also sends its log to stderr.
            .args(["-d", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("slapd (Debian's slapd package; scripts/setup.sh installs it)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        for port in [self.ldap_port, self.ldaps_port] {
            while tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_err()
            {
                assert!(Instant::now() < deadline, "slapd did not start");
                if let Some(status) = self
                    .child
                    .as_mut()
                    .and_then(|c| c.try_wait().ok().flatten())
                {
                    panic!("slapd exited: {status}");
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    /// Stops the directory (SIGKILL: as a crashed or unplugged one).
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
        // Refused from now on.
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", self.ldaps_port))
            .await
            .is_ok()
        {
            assert!(Instant::now() < deadline, "slapd did not stop");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Starts it again on the same ports and database.
    pub async fn restart(&mut self) {
        self.run().await;
    }

    async fn admin_tool(&self, tool: &str, input: &str) {
        use tokio::io::AsyncWriteExt;
        let mut child = Command::new(tool)
            .args([
                "-x",
                "-H",
                &self.ldap_url(),
                "-D",
                ADMIN_DN,
                "-w",
                ADMIN_PASSWORD,
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{tool} (ldap-utils): {e}"));
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(input.as_bytes()).await.expect("write");
        drop(stdin);
        let out = child.wait_with_output().await.expect(tool);
        assert!(
            out.status.success(),
            "{tool} failed: {}\n{input}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    async fn ldapadd(&self, ldif: &str) {
        self.admin_tool("ldapadd", ldif).await;
    }

    /// Applies an LDIF change as the directory's administrator (`ldapmodify`).
    pub async fn modify(&self, ldif: &str) {
        self.admin_tool("ldapmodify", ldif).await;
    }

    /// Removes person `name` from the directory.
    pub async fn remove_person(&self, name: &str) {
        self.admin_tool("ldapdelete", &format!("{}\n", dn(name)))
            .await;
    }

    /// Locks person `name`'s account, as OpenLDAP's password policy does.
    pub async fn lock(&self, name: &str) {
        self.modify(&format!(
            "dn: {}\nchangetype: modify\nadd: pwdAccountLockedTime\npwdAccountLockedTime: 000001010000Z\n",
            dn(name)
        ))
        .await;
    }

    /// Takes person `name` out of the server's group.
    pub async fn leave_group(&self, name: &str) {
        self.modify(&format!(
            "dn: {GROUP_DN}\nchangetype: modify\ndelete: member\nmember: {}\n",
            dn(name)
        ))
        .await;
    }
}

fn people_ldif() -> String {
    let mut ldif = format!(
        "dn: {BASE_DN}\nobjectClass: dcObject\nobjectClass: organization\no: Natter test\ndc: natter\n\n\
         dn: {PEOPLE_DN}\nobjectClass: organizationalUnit\nou: people\n\n\
         dn: ou=groups,{BASE_DN}\nobjectClass: organizationalUnit\nou: groups\n\n\
         dn: {SERVICE_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n\
         cn: natter\nuserPassword: {}\n\n",
        Slapd::SERVICE_PASSWORD
    );
    for (name, display, _) in PEOPLE {
        ldif.push_str(&format!(
            "dn: {}\nobjectClass: inetOrgPerson\nuid: {name}\ncn: {name}\nsn: {name}\nuserPassword: {}\n",
            dn(name),
            password(name)
        ));
        if let Some(display) = display {
            ldif.push_str(&format!("displayName: {display}\n"));
        }
        ldif.push('\n');
    }
    ldif.push_str(&format!(
        "dn: {GROUP_DN}\nobjectClass: groupOfNames\ncn: natter\n"
    ));
    for (name, _, member) in PEOPLE {
        if *member {
            ldif.push_str(&format!("member: {}\n", dn(name)));
        }
    }
    ldif
}

/// Runs `openssl ARGS` in `dir`.
async fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .await
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A new CA (EC key) in `dir`, as `ca.pem` and `ca.key`, named `name`; its certificate's path.
pub async fn new_ca(dir: &Path, name: &str) -> PathBuf {
    let subject = format!("/CN={name}");
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            &subject,
        ],
    )
    .await;
    dir.join("ca.pem")
}

/// A CA and a certificate it signed for 127.0.0.1 and localhost.
async fn make_certificates(dir: &Path) {
    new_ca(dir, "Natter test directory CA").await;
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "key.pem",
            "-out",
            "cert.csr",
            "-subj",
            "/CN=localhost",
        ],
    )
    .await;
    std::fs::write(
        dir.join("cert.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .expect("extensions");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "cert.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "cert.pem",
            "-days",
            "2",
            "-extfile",
            "cert.ext",
        ],
    )
    .await;
}
