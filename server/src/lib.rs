//! natter-server: the socket.io "Private messaging" guide's server, on socketioxide + axum,
//! persisted in an embedded SQLite file.
//!
//! - [`config`]: the command line, parsed once.
//! - [`handlers`]: socket events (auth, connect, messages, disconnect, logout).
//! - [`accounts`]: name comparison, password hashes, the join password, the throttle.
//! - [`tls`]: the certificate (self-signed or the operator's) and its fingerprint.
//! - [`serve`]: the accept loop (TLS, timeouts, client addresses, graceful shutdown).
//! - [`datadir`]: the private, locked data dir.
//! - [`files`]: uploads, downloads and image previews over HTTP; [`file_dir`]: where their
//!   bytes live.
//! - [`admin`]: operator commands over a Unix socket in the data dir.
//! - [`endpoint`]: where people reach the server, and the desktop config that says so.
//! - [`export`]: everything of one person, for a request for their data.
//! - [`backup`]: backup archives of a running server, and restoring them.
//! - [`audit`]: the audit log (sign-ins, operator actions, revocations, …) in the data dir.
//! - [`limits`]: rate limits (token buckets).
//! - [`memory`]: freed memory handed back to the system after bursts.
//! - [`store`]: sessions, users, presence and messages behind one trait.
//! - [`retention`]: messages older than `--retention-days` removed for good, hourly.
//! - [`presence`]: ordering of one user's online/offline transitions, and announcing them
//!   (the guide's events, or batched `presence` events for clients that ask).
//! - [`http`]: the axum router (socket.io layer, `/healthz`, CORS) and serving.
//! - [`cluster`]: several nodes over Redis: heartbeats and presence repair.
//! - [`pubsub`]: the adapter's Redis pub/sub driver, reconnecting after a Redis restart.
//! - [`directory`]: signing people in with the office directory (LDAP), and rechecking them.

pub mod accounts;
pub mod admin;
pub mod audit;
pub mod backup;
pub mod cluster;
pub mod config;
pub mod datadir;
pub mod directory;
pub mod endpoint;
pub mod export;
pub mod file_dir;
pub mod files;
pub mod handlers;
pub mod http;
pub mod ids;
pub mod limits;
pub mod memory;
pub mod presence;
pub mod pubsub;
pub mod retention;
pub mod serve;
pub mod store;
pub mod tls;

use std::sync::Arc;

pub use config::Config;
pub use http::{ServeError, Server};

/// Limits taken from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_message_bytes: usize,
    pub history_per_chat: u32,
    pub max_page: u32,
    /// Messages per second and burst per user; `None` with `--no-limits`.
    pub message_rate: Option<(u32, u32)>,
    /// History bytes per second and burst per user; `None` with `--no-limits`.
    pub fetch_rate: Option<(u32, u32)>,
    /// New names per client address per hour (also the burst); `None` with `--no-limits`.
    pub new_names_per_hour: Option<u32>,
    /// Sockets one user may hold on one node; `None` with `--no-limits`.
    pub max_sockets_per_user: Option<usize>,
    /// Malformed events one socket may send before it is disconnected.
    pub max_malformed_events: u32,
}

impl From<&Config> for Limits {
    fn from(c: &Config) -> Self {
        Self {
            max_message_bytes: c.max_message_bytes,
            history_per_chat: c.history_per_chat,
            max_page: c.max_page(),
            message_rate: (!c.no_limits).then_some((c.messages_per_second, c.message_burst)),
            fetch_rate: (!c.no_limits).then_some((c.fetch_bytes_per_second, c.fetch_burst_bytes)),
            new_names_per_hour: (!c.no_limits).then_some(c.new_names_per_hour),
            max_sockets_per_user: (!c.no_limits).then_some(c.max_sockets_per_user),
            max_malformed_events: c.max_malformed_events,
        }
    }
}

/// Who may start a new session.
#[derive(Debug, Clone, Default)]
pub struct JoinPolicy {
    /// Needed in `joinPassword` for every new session when set.
    pub join_password: Option<String>,
    /// New accounts must have a password.
    pub require_password: bool,
}

/// What people may do to messages once sent, as the operator decided (offices that must keep
/// records turn edits or deletions off).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessagePolicy {
    pub message_edits: bool,
    pub message_deletes: bool,
}

impl Default for MessagePolicy {
    fn default() -> Self {
        Self {
            message_edits: true,
            message_deletes: true,
        }
    }
}

impl From<&Config> for MessagePolicy {
    fn from(c: &Config) -> Self {
        Self {
            message_edits: c.message_edits.is_on(),
            message_deletes: c.message_deletes.is_on(),
        }
    }
}

/// What every handler shares: the store, the limits, the join policy, the throttle on failed
/// attempts and the presence locks.
#[derive(Clone)]
pub struct ServerState(Arc<ServerInner>);

pub struct ServerInner {
    pub store: Arc<dyn store::Store>,
    pub limits: Limits,
    pub auth: JoinPolicy,
    pub policy: MessagePolicy,
    pub throttle: accounts::Throttle,
    /// Messages (and uploads) per user; `None` without limits.
    pub message_rate: Option<Arc<limits::Buckets>>,
    /// History bytes per user; `None` without limits.
    pub fetch_bytes: Option<limits::Buckets>,
    /// `typing` notices relayed per sender (always on: more carry no more information).
    pub typing_rate: limits::Buckets,
    /// New identities per client address; `None` without limits.
    pub new_identities: Option<limits::Buckets>,
    /// Refusals, logged as counted summaries.
    pub refusals: Arc<limits::Tally>,
    pub presence: presence::PresenceLocks,
    /// Presence changes on their way to the clients that take them batched.
    pub presence_batches: Arc<presence::Batches>,
    /// Where uploaded files' bytes are (a deleted message's file goes from there).
    pub files: file_dir::FileDir,
    /// The office directory, when new sessions are made only by it (`--ldap-url`).
    pub directory: Option<Arc<directory::Directory>>,
    pub audit: Arc<audit::Audit>,
    /// The data dir (backups are staged in it).
    pub data_dir: std::path::PathBuf,
}

/// What a [`ServerState`] is made of.
pub struct Parts {
    pub store: Arc<dyn store::Store>,
    pub limits: Limits,
    pub auth: JoinPolicy,
    pub policy: MessagePolicy,
    pub files: file_dir::FileDir,
    pub directory: Option<Arc<directory::Directory>>,
    pub audit: Arc<audit::Audit>,
    pub data_dir: std::path::PathBuf,
    /// Cluster mode: the limits every node shares, in Redis.
    pub shared_limits: Option<limits::SharedLimits>,
}

impl ServerState {
    pub fn new(parts: Parts) -> Self {
        let Parts {
            store,
            limits,
            auth,
            policy,
            files,
            directory,
            audit,
            data_dir,
            shared_limits,
        } = parts;
        let shared = shared_limits.as_ref();
        Self(Arc::new(ServerInner {
            store,
            message_rate: limits.message_rate.map(|(rate, burst)| {
                Arc::new(limits::Buckets::new(f64::from(rate), burst).shared(shared, "messages"))
            }),
            fetch_bytes: limits.fetch_rate.map(|(rate, burst)| {
                limits::Buckets::new(f64::from(rate), burst).shared(shared, "fetch")
            }),
            typing_rate: limits::Buckets::new(2.0, 5),
            new_identities: limits
                .new_names_per_hour
                .map(|n| limits::Buckets::new(f64::from(n) / 3600.0, n).shared(shared, "names")),
            refusals: Arc::new(limits::Tally::default()),
            throttle: if limits.message_rate.is_some() {
                accounts::Throttle::default().shared(shared)
            } else {
                accounts::Throttle::unlimited()
            },
            limits,
            auth,
            policy,
            presence: presence::PresenceLocks::default(),
            presence_batches: Arc::default(),
            files,
            directory,
            audit,
            data_dir,
        }))
    }
}

impl std::ops::Deref for ServerState {
    type Target = ServerInner;
    fn deref(&self) -> &ServerInner {
        &self.0
    }
}
