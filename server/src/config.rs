//! Command-line and environment configuration, parsed once into a typed struct.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::builder::BoolishValueParser;
use clap::{Parser, Subcommand};

/// Natter's LAN server: private messaging for everyone on the network.
#[derive(Debug, Clone, Parser)]
#[command(name = "natter-server", version, about, long_about = None)]
pub struct Config {
    /// Address and port to listen on. Port 0 picks a free port (printed at start).
    #[arg(long, env = "NATTER_LISTEN", default_value = "0.0.0.0:3000")]
    pub listen: SocketAddr,

    /// Where the database, the TLS certificate and the admin socket live [default: the
    /// platform's data dir for natter-server].
    #[arg(long, env = "NATTER_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,

    /// Browser origins allowed to connect (repeat, or comma-separate; `*` allows any). The
    /// desktop app and localhost pages are allowed by default; other origins are refused.
    #[arg(
        long = "cors-origin",
        env = "NATTER_CORS_ORIGINS",
        value_delimiter = ','
    )]
    pub cors_origins: Vec<String>,

    /// Largest message content accepted, in bytes.
    #[arg(long, env = "NATTER_MAX_MESSAGE_BYTES", default_value_t = 16 * 1024)]
    pub max_message_bytes: usize,

    /// Largest file accepted by `POST /files`, in bytes.
    #[arg(long, env = "NATTER_MAX_FILE_BYTES", default_value_t = natter_protocol::files::DEFAULT_MAX_FILE_BYTES)]
    pub max_file_bytes: u64,

    /// Where uploaded files are kept [default: `files` in the data dir]. Cluster nodes must all
    /// point at the same shared directory (an NFS or SMB mount).
    #[arg(long, env = "NATTER_FILES_DIR")]
    pub files_dir: Option<PathBuf>,

    /// Run as one node of several sharing this Redis (≥ 7), e.g. `redis://10.0.0.5:6379`.
    /// Without it, everything stays in the embedded SQLite file.
    #[arg(long, env = "NATTER_REDIS")]
    pub redis: Option<String>,

    /// Messages per conversation sent at login; older ones come with `fetch messages`.
    #[arg(long, env = "NATTER_HISTORY_PER_CHAT", default_value_t = 100)]
    pub history_per_chat: u32,

    /// Serve this certificate (PEM, the chain) instead of the self-signed one made in the data
    /// dir; needs --tls-key. Cluster nodes share one.
    #[arg(long, env = "NATTER_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The private key (PEM) of --tls-cert.
    #[arg(long, env = "NATTER_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Serve plain HTTP (for a TLS-terminating proxy in front, or a browser client): nothing
    /// is encrypted.
    #[arg(
        long,
        env = "NATTER_NO_TLS",
        value_parser = BoolishValueParser::new(),
        conflicts_with_all = ["tls_cert", "tls_key"]
    )]
    pub no_tls: bool,

    /// A file holding the join password (its first line): new sessions must give it.
    #[arg(long, env = "NATTER_JOIN_PASSWORD_FILE")]
    pub join_password_file: Option<PathBuf>,

    /// The join password itself (prefer the file: a flag shows in the process list).
    #[arg(
        long,
        env = "NATTER_JOIN_PASSWORD",
        hide_env_values = true,
        conflicts_with = "join_password_file"
    )]
    pub join_password: Option<String>,

    /// Open connections one client address may hold (a person's app holds one or two).
    #[arg(long, env = "NATTER_MAX_CONNECTIONS_PER_IP", default_value_t = 64)]
    pub max_connections_per_ip: usize,

    /// Private messages one user may send per second, sustained; bursts up to
    /// --message-burst (an outbox flushed after a reconnect) pass.
    #[arg(long, env = "NATTER_MESSAGES_PER_SECOND", default_value_t = 20)]
    pub messages_per_second: u32,

    /// Private messages one user may send at once before the rate applies.
    #[arg(long, env = "NATTER_MESSAGE_BURST", default_value_t = 200)]
    pub message_burst: u32,

    /// Bytes of history (`fetch messages` answers) one user may load per second, sustained:
    /// answers must not pile up for a client that asks and does not read.
    #[arg(long, env = "NATTER_FETCH_BYTES_PER_SECOND", default_value_t = 1 << 20)]
    pub fetch_bytes_per_second: u32,

    /// Bytes of history one user may load at once before that rate applies.
    #[arg(long, env = "NATTER_FETCH_BURST_BYTES", default_value_t = 8 << 20)]
    pub fetch_burst_bytes: u32,

    /// New names one client address may create per hour (also at once): a team sharing a
    /// machine never meets it, a script creating hundreds does.
    #[arg(long, env = "NATTER_NEW_NAMES_PER_HOUR", default_value_t = 20)]
    pub new_names_per_hour: u32,

    /// Connections one user may hold on one node (windows, devices).
    #[arg(long, env = "NATTER_MAX_SOCKETS_PER_USER", default_value_t = 32)]
    pub max_sockets_per_user: usize,

    /// Malformed events one connection may send before it is closed.
    #[arg(long, env = "NATTER_MAX_MALFORMED_EVENTS", default_value_t = 20)]
    pub max_malformed_events: u32,

    /// Lift the rate limits and per-address caps (benchmarks, trusted test rigs).
    #[arg(long, env = "NATTER_NO_LIMITS", value_parser = BoolishValueParser::new())]
    pub no_limits: bool,

    /// The name the server is announced by on the LAN [default: the host name].
    #[arg(long, env = "NATTER_NAME")]
    pub name: Option<String>,

    /// Do not announce the server on the LAN (mDNS, `_natter._tcp.local.`).
    #[arg(long, env = "NATTER_NO_DISCOVERY", value_parser = BoolishValueParser::new())]
    pub no_discovery: bool,

    /// New accounts must have a password.
    #[arg(long, env = "NATTER_REQUIRE_PASSWORD", value_parser = BoolishValueParser::new())]
    pub require_password: bool,

    /// Whether people may edit their messages (off: `not_allowed`, for offices that must keep
    /// records).
    #[arg(long, env = "NATTER_MESSAGE_EDITS", value_enum, default_value_t = OnOff::On)]
    pub message_edits: OnOff,

    /// Whether people may delete their messages.
    #[arg(long, env = "NATTER_MESSAGE_DELETES", value_enum, default_value_t = OnOff::On)]
    pub message_deletes: OnOff,

    /// Remove messages older than this many days for good (hourly, with their files) [default:
    /// keep forever]. Embedded store only.
    #[arg(long, env = "NATTER_RETENTION_DAYS", value_parser = clap::value_parser!(u32).range(1..))]
    pub retention_days: Option<u32>,

    /// What one person's uploads may add up to, in bytes [default: no quota].
    #[arg(long, env = "NATTER_FILES_QUOTA_BYTES")]
    pub files_quota_bytes: Option<u64>,

    /// The audit log (`audit.log` in the data dir) is rotated at this size.
    #[arg(long, env = "NATTER_AUDIT_MAX_BYTES", default_value_t = 10 << 20)]
    pub audit_max_bytes: u64,

    /// Rotated audit logs kept (`audit.log.1` …).
    #[arg(long, env = "NATTER_AUDIT_KEEP", default_value_t = 5)]
    pub audit_keep: usize,

    #[command(flatten)]
    pub ldap: crate::directory::LdapArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// A setting given as `on` or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

impl OnOff {
    pub fn is_on(self) -> bool {
        self == OnOff::On
    }
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Lists the Natter servers announced on the LAN, one JSON line per server found or gone.
    Discover {
        /// Listen on the interface holding this address only (127.0.0.1: loopback) [default:
        /// every interface but loopback].
        #[arg(long)]
        interface: Option<std::net::IpAddr>,
        /// How long to listen.
        #[arg(long, default_value_t = 5)]
        seconds: u64,
    },
    /// Restore a backup archive (`admin backup`) into the data dir, with no server running on
    /// it: every part is checked before anything is written.
    Restore {
        file: PathBuf,
        /// Replace what the data dir holds.
        #[arg(long)]
        force: bool,
    },
    /// Operator commands for the server running on this data dir (through its admin socket,
    /// which only the server's OS user can open).
    Admin {
        #[command(subcommand)]
        action: crate::admin::Action,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading the join password file {path}: {source}")]
    JoinPasswordFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the join password is empty")]
    EmptyJoinPassword,
    #[error(transparent)]
    Directory(#[from] crate::directory::config::DirectoryConfigError),
}

impl Config {
    /// The data dir to use: the flag, or the platform's data dir (e.g.
    /// `~/.local/share/natter-server` on Linux), or `./natter-data` as a last resort.
    /// Where uploaded files are kept.
    pub fn files_dir(&self) -> PathBuf {
        self.files_dir
            .clone()
            .unwrap_or_else(|| self.data_dir().join("files"))
    }

    pub fn data_dir(&self) -> PathBuf {
        self.data_dir.clone().unwrap_or_else(|| {
            directories::ProjectDirs::from("", "", "natter-server")
                .map(|d| d.data_dir().to_path_buf())
                .unwrap_or_else(|| PathBuf::from("natter-data"))
        })
    }

    /// The name the server goes by: on the LAN, and in `/auth-info`.
    pub fn server_name(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(natter_discovery::host_name)
    }

    /// The audit log's place and size.
    pub fn audit(&self) -> crate::audit::AuditConfig {
        crate::audit::AuditConfig {
            dir: self.data_dir(),
            max_bytes: self.audit_max_bytes,
            keep: self.audit_keep,
        }
    }

    /// Most messages one `fetch messages` may ask for.
    pub fn max_page(&self) -> u32 {
        self.history_per_chat.max(500)
    }

    /// The join password, from the file (first line) or the variable; `None` when unset.
    pub fn join_password(&self) -> Result<Option<String>, ConfigError> {
        let password = match (&self.join_password_file, &self.join_password) {
            (Some(path), _) => {
                let text = std::fs::read_to_string(path).map_err(|source| {
                    ConfigError::JoinPasswordFile {
                        path: path.clone(),
                        source,
                    }
                })?;
                text.lines().next().unwrap_or_default().to_owned()
            }
            (None, Some(p)) => p.clone(),
            (None, None) => return Ok(None),
        };
        if password.is_empty() {
            return Err(ConfigError::EmptyJoinPassword);
        }
        Ok(Some(password))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_those_documented() {
        let c = Config::try_parse_from(["natter-server"]).unwrap();
        assert_eq!(c.listen, "0.0.0.0:3000".parse().unwrap());
        assert_eq!(c.max_message_bytes, 16384);
        assert_eq!(c.history_per_chat, 100);
        assert!(c.cors_origins.is_empty());
        assert!(!c.no_tls, "TLS is on by default");
        assert!(!c.require_password);
        assert_eq!(c.join_password().unwrap(), None);
        assert!(c.message_edits.is_on() && c.message_deletes.is_on());
        let c = Config::try_parse_from(["natter-server", "--message-edits", "off"]).unwrap();
        assert!(!c.message_edits.is_on());
    }

    #[test]
    fn flags_parse() {
        let c = Config::try_parse_from([
            "natter-server",
            "--listen",
            "127.0.0.1:0",
            "--cors-origin",
            "http://a.lan,http://b.lan",
            "--history-per-chat",
            "5",
            "--no-tls",
        ])
        .unwrap();
        assert_eq!(c.listen.port(), 0);
        assert_eq!(c.cors_origins, ["http://a.lan", "http://b.lan"]);
        assert_eq!(c.history_per_chat, 5);
        assert!(c.no_tls);
        assert!(Config::try_parse_from(["natter-server", "--tls-cert", "c.pem"]).is_err());
        assert!(
            Config::try_parse_from([
                "natter-server",
                "--no-tls",
                "--tls-cert",
                "c",
                "--tls-key",
                "k"
            ])
            .is_err()
        );
    }

    #[test]
    fn the_join_password_file_gives_its_first_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("join");
        std::fs::write(&file, "open sesame\nignored\n").unwrap();
        let c = Config::try_parse_from([
            "natter-server",
            "--join-password-file",
            file.to_str().unwrap(),
        ])
        .unwrap();
        assert_eq!(c.join_password().unwrap().as_deref(), Some("open sesame"));
        std::fs::write(&file, "\n").unwrap();
        assert!(c.join_password().is_err());
    }
}
