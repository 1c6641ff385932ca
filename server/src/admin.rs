//! Operator commands while the server runs: list users, revoke a user's sessions, reset a
//! password, rename or remove a user, recheck the directory's people.
//!
//! They travel over a Unix socket in the data dir (mode 0600 in a 0700 dir): only the server's
//! OS user (and root) can open it, so no password or network port is involved. One JSON line
//! in, one JSON line out. `natter-server admin …` is the client.

use std::path::Path;

use natter_protocol::{UserRenamed, event, normalize_username};
use serde::{Deserialize, Serialize};
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use crate::ServerState;
use crate::accounts::hash_password;
use crate::endpoint::Endpoint;
use crate::store::{Account, StoreError};

pub const SOCKET_FILE: &str = "admin.sock";

/// The longest request line read (a rename or a password is short).
const MAX_REQUEST_BYTES: u64 = 8 * 1024;

/// What the operator asks for. USER is a name (compared as logins compare it) or a userID.
#[derive(Debug, Clone, clap::Subcommand, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "kebab-case")]
pub enum Action {
    /// List every user: userID, name, sessions, online, password, signed in by the directory.
    List,
    /// Revoke every session of a user; their open windows are disconnected at once.
    Revoke { user: String },
    /// Set a user's password (read from the first line of standard input).
    ResetPassword {
        user: String,
        #[arg(skip)]
        #[serde(default)]
        password: String,
    },
    /// Give a user another name.
    Rename { user: String, new_name: String },
    /// Remove a user with their sessions, every message of their conversations and the files
    /// they uploaded.
    Remove { user: String },
    /// Check the people the directory signed in against it now: whoever left it, left the
    /// server's group or was disabled loses their sessions.
    Recheck,
    /// Announce TEXT to everyone: every open window now, everyone else at their next login,
    /// until it expires (`--until 2h`) or is withdrawn. `--list` shows them; `--withdraw ID`
    /// ends one.
    Announce {
        #[arg(required_unless_present_any = ["list", "withdraw"], conflicts_with_all = ["list", "withdraw"])]
        text: Option<String>,
        /// How long it stands (`90min`, `2h`, `3days`) [default: until withdrawn].
        #[arg(long, requires = "text")]
        until: Option<String>,
        #[arg(long, conflicts_with = "withdraw")]
        list: bool,
        #[arg(long)]
        withdraw: Option<u64>,
    },
    /// Export everything of USER (profile, conversations with their messages, groups, the
    /// files they sent) to FILE, a tar archive of JSON and the files.
    Export {
        user: String,
        file: std::path::PathBuf,
    },
    /// Print a desktop.json for the organisation to deploy to its desktops: this server's
    /// addresses (`--address`, repeatable: a host gets this server's port), its certificate's
    /// fingerprint (trusted without the first-contact prompt), the address locked.
    DesktopConfig {
        #[arg(long = "address", value_name = "HOST[:PORT]")]
        addresses: Vec<String>,
    },
    /// Write a backup archive of the running server to FILE (the database as of now, the
    /// certificate and key, the files); writes go on meanwhile.
    Backup { file: std::path::PathBuf },
    /// Print the audit log (JSON lines, oldest first), read from the data dir (the server
    /// may be stopped).
    Audit {
        /// Only from this time (`2026-12-01T09:00:00Z`) or this long ago (`24h`, `7days`).
        #[arg(long)]
        since: Option<String>,
        /// Only about this person (a name or a userID).
        #[arg(long)]
        user: Option<String>,
    },
}

/// One line of `list`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserLine {
    pub user_id: String,
    pub username: String,
    pub sessions: usize,
    pub online: bool,
    pub password: bool,
    /// Signed in by the office directory.
    #[serde(default)]
    pub directory: bool,
    /// What the directory calls them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Another identity has the same name (possible only in data from before names were
    /// compared normalised).
    pub shares_name: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Answer {
    pub ok: bool,
    pub message: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<UserLine>,
}

#[derive(Debug, thiserror::Error)]
enum AdminError {
    #[error("no user is named or has the userID {0:?}")]
    NoSuchUser(String),
    #[error("several identities are named {0:?}: give a userID (see `admin list`)")]
    Ambiguous(String),
    #[error("the name {0:?} is not allowed: {1}")]
    BadName(String, natter_protocol::NameError),
    #[error("the name {0:?} is taken")]
    NameTaken(String),
    #[error(
        "a password needs {} to {} characters",
        natter_protocol::PASSWORD_MIN_CHARS,
        natter_protocol::PASSWORD_MAX_BYTES
    )]
    BadPassword,
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("hashing the password: {0}")]
    Hash(#[from] crate::accounts::PasswordError),
    #[error("export: {0}")]
    Export(#[from] crate::export::ExportError),
    #[error("announce: {0}")]
    Announce(String),
    #[error("encoding the answer: {0}")]
    Json(#[from] serde_json::Error),
    #[error("backup: {0}")]
    Backup(#[from] crate::backup::BackupError),
    #[error("recheck: {0}")]
    Recheck(#[from] crate::directory::recheck::RecheckError),
    #[error("{0} is signed in by the directory: its password is the directory's")]
    DirectoryPassword(String),
}

/// Opens the admin socket and serves it for the process's life.
pub fn spawn<A: Adapter>(
    path: &Path,
    io: SocketIo<A>,
    app: ServerState,
    endpoint: Endpoint,
) -> std::io::Result<()> {
    let endpoint = std::sync::Arc::new(endpoint);
    // We hold the data dir's lock: a socket file left here is a dead server's.
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let listener = UnixListener::bind(path)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    tokio::spawn(serve_one(stream, io.clone(), app.clone(), endpoint.clone()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "admin socket accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
        }
    });
    Ok(())
}

async fn serve_one<A: Adapter>(
    stream: UnixStream,
    io: SocketIo<A>,
    app: ServerState,
    endpoint: std::sync::Arc<Endpoint>,
) {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let answer = match BufReader::new(read.take(MAX_REQUEST_BYTES))
        .read_line(&mut line)
        .await
    {
        Ok(_) => match serde_json::from_str::<Action>(&line) {
            Ok(action) => {
                let name = action_name(&action);
                let target = action.target().map(str::to_owned);
                let answer = perform(action, &io, &app, &endpoint)
                    .await
                    .unwrap_or_else(|e| Answer {
                        ok: false,
                        message: e.to_string(),
                        users: Vec::new(),
                    });
                tracing::info!(action = name, ok = answer.ok, message = %answer.message, "admin");
                app.audit.record(
                    "admin",
                    serde_json::json!({"command": name, "target": target, "ok": answer.ok,
                        "message": answer.message}),
                );
                answer
            }
            Err(e) => Answer {
                ok: false,
                message: format!("bad request: {e}"),
                users: Vec::new(),
            },
        },
        Err(e) => Answer {
            ok: false,
            message: format!("reading the request: {e}"),
            users: Vec::new(),
        },
    };
    let mut out = serde_json::to_vec(&answer).unwrap_or_default();
    out.push(b'\n');
    let _ = write.write_all(&out).await;
}

impl Action {
    /// The person it acts on, for the audit log.
    fn target(&self) -> Option<&str> {
        match self {
            Action::Revoke { user }
            | Action::Export { user, .. }
            | Action::ResetPassword { user, .. }
            | Action::Rename { user, .. }
            | Action::Remove { user } => Some(user),
            Action::List
            | Action::Recheck
            | Action::Audit { .. }
            | Action::Backup { .. }
            | Action::DesktopConfig { .. }
            | Action::Announce { .. } => None,
        }
    }
}

fn action_name(action: &Action) -> &'static str {
    match action {
        Action::List => "list",
        Action::Revoke { .. } => "revoke",
        Action::ResetPassword { .. } => "reset-password",
        Action::Rename { .. } => "rename",
        Action::Remove { .. } => "remove",
        Action::Recheck => "recheck",
        Action::Audit { .. } => "audit",
        Action::Backup { .. } => "backup",
        Action::DesktopConfig { .. } => "desktop-config",
        Action::Export { .. } => "export",
        Action::Announce { .. } => "announce",
    }
}

/// The identity USER names: a name (as logins compare it) or a userID.
async fn find(app: &ServerState, user: &str) -> Result<Account, AdminError> {
    let mut named = app.store.accounts_named(user).await?;
    match named.len() {
        1 => return Ok(named.remove(0)),
        0 => {}
        _ => return Err(AdminError::Ambiguous(user.to_owned())),
    }
    app.store
        .account(user)
        .await?
        .ok_or_else(|| AdminError::NoSuchUser(user.to_owned()))
}

fn done(message: String) -> Answer {
    Answer {
        ok: true,
        message,
        users: Vec::new(),
    }
}

/// Disconnects every socket of a user, on every node.
async fn disconnect_user<A: Adapter>(io: &SocketIo<A>, user_id: &str) {
    if let Err(e) = io.to(user_id.to_owned()).disconnect().await {
        tracing::warn!(user = user_id, error = ?e, "could not disconnect a user's sockets");
    }
}

async fn perform<A: Adapter>(
    action: Action,
    io: &SocketIo<A>,
    app: &ServerState,
    endpoint: &Endpoint,
) -> Result<Answer, AdminError> {
    match action {
        Action::DesktopConfig { addresses } => {
            let config = endpoint.desktop_config(&addresses);
            let json = serde_json::to_string_pretty(&config)?;
            Ok(done(json))
        }
        Action::List => {
            let counts = app.store.session_counts().await?;
            let users = app.store.users().await?;
            let mut keys = std::collections::HashMap::<String, usize>::new();
            for u in &users {
                *keys
                    .entry(crate::accounts::name_key(&u.username))
                    .or_default() += 1;
            }
            let mut lines = Vec::with_capacity(users.len());
            for u in users {
                let account = app.store.account(&u.user_id).await?;
                let password = account.as_ref().is_some_and(|a| a.password_hash.is_some());
                let directory = account.as_ref().is_some_and(|a| a.directory);
                lines.push(UserLine {
                    directory,
                    display_name: u.display_name.as_deref().map(str::to_owned),
                    sessions: counts.get(&*u.user_id).copied().unwrap_or(0),
                    shares_name: keys[&crate::accounts::name_key(&u.username)] > 1,
                    online: u.connected,
                    password,
                    user_id: u.user_id.to_string(),
                    username: u.username.to_string(),
                });
            }
            Ok(Answer {
                ok: true,
                message: format!("{} users", lines.len()),
                users: lines,
            })
        }
        Action::Revoke { user } => {
            let account = find(app, &user).await?;
            let n = app.store.revoke_user_sessions(&account.user_id).await?;
            disconnect_user(io, &account.user_id).await;
            Ok(done(format!(
                "revoked {n} session(s) of {} ({})",
                account.username, account.user_id
            )))
        }
        Action::ResetPassword { user, password } => {
            let account = find(app, &user).await?;
            if account.directory {
                return Err(AdminError::DirectoryPassword(account.username));
            }
            if password.chars().count() < natter_protocol::PASSWORD_MIN_CHARS
                || password.len() > natter_protocol::PASSWORD_MAX_BYTES
            {
                return Err(AdminError::BadPassword);
            }
            let hash = hash_password(password).await?;
            app.store.set_password(&account.user_id, Some(hash)).await?;
            Ok(done(format!(
                "new password set for {} ({}); their sessions stay (revoke them with `admin revoke`)",
                account.username, account.user_id
            )))
        }
        Action::Rename { user, new_name } => {
            let account = find(app, &user).await?;
            let name = normalize_username(&new_name)
                .map_err(|e| AdminError::BadName(new_name.clone(), e))?
                .to_owned();
            app.store
                .rename_user(&account.user_id, &name)
                .await?
                .map_err(|_| AdminError::NameTaken(name.clone()))?;
            let renamed = UserRenamed {
                user_id: account.user_id.clone(),
                username: name.clone(),
            };
            if let Err(e) = io.emit(event::USER_RENAMED, &renamed).await {
                tracing::warn!(error = ?e, "could not announce a rename");
            }
            Ok(done(format!("renamed {} to {name}", account.username)))
        }
        Action::Remove { user } => {
            let account = find(app, &user).await?;
            app.store.revoke_user_sessions(&account.user_id).await?;
            disconnect_user(io, &account.user_id).await;
            app.store.remove_user(&account.user_id).await?;
            // The files they uploaded: only they could send them, so nothing carries them now.
            let files = app.store.forget_files_of(&account.user_id).await?;
            for file in &files {
                app.files.remove(file).await;
            }
            if let Err(e) = io.emit(event::USER_REMOVED, &account.user_id).await {
                tracing::warn!(error = ?e, "could not announce a removal");
            }
            Ok(done(format!(
                "removed {} ({}), their conversations and the {} file(s) they uploaded",
                account.username,
                account.user_id,
                files.len()
            )))
        }
        Action::Recheck => {
            let summary = crate::directory::recheck::recheck(app, io).await?;
            Ok(done(summary.to_string()))
        }
        Action::Announce {
            text,
            until,
            list,
            withdraw,
        } => announce(io, app, text, until, list, withdraw).await,
        Action::Export { user, file } => {
            let account = find(app, &user).await?;
            let e = crate::export::export(app, &account, &file).await?;
            Ok(done(format!(
                "exported {} ({}) to {}: {} conversations, {} messages, {} files",
                account.username,
                account.user_id,
                file.display(),
                e.conversations,
                e.messages,
                e.files
            )))
        }
        Action::Backup { file } => {
            let sources = crate::backup::Sources {
                store: app.store.clone(),
                data_dir: app.data_dir.clone(),
                files_dir: app.files.path().to_owned(),
            };
            let manifest = crate::backup::create(sources, &file).await?;
            let c = manifest.counts;
            app.audit.record(
                "backup",
                serde_json::json!({"file": file.display().to_string(), "counts": c}),
            );
            Ok(done(format!(
                "wrote {}: {} users, {} sessions, {} messages, {} groups, {} files ({} parts)",
                file.display(),
                c.users,
                c.sessions,
                c.messages,
                c.groups,
                c.files,
                manifest.parts.len()
            )))
        }
        Action::Audit { .. } => Ok(Answer {
            ok: false,
            message: "the audit log is read from the data dir, not asked of the server".into(),
            users: Vec::new(),
        }),
    }
}

/// `announce`: a new one to everyone, the list, or one withdrawn.
async fn announce<A: Adapter>(
    io: &SocketIo<A>,
    app: &ServerState,
    text: Option<String>,
    until: Option<String>,
    list: bool,
    withdraw: Option<u64>,
) -> Result<Answer, AdminError> {
    if list {
        let now = natter_protocol::now_ms();
        let lines: Vec<String> = app
            .store
            .all_announcements()
            .await?
            .into_iter()
            .map(|r| {
                let a = r.announcement;
                let state = if r.withdrawn {
                    "withdrawn".to_owned()
                } else if !a.active_at(now) {
                    "expired".to_owned()
                } else {
                    match a.until {
                        Some(u) => format!("standing for {} more min", (u - now) / 60_000 + 1),
                        None => "standing".to_owned(),
                    }
                };
                format!("{:>4}  {state:<24} {}", a.id, a.text)
            })
            .collect();
        return Ok(done(if lines.is_empty() {
            "no announcements".into()
        } else {
            lines.join("\n")
        }));
    }
    if let Some(id) = withdraw {
        if !app.store.withdraw_announcement(id).await? {
            return Err(AdminError::Announce(format!(
                "no standing announcement {id}"
            )));
        }
        let gone = natter_protocol::AnnouncementWithdrawn { id };
        if let Err(e) = io.emit(event::ANNOUNCEMENT_WITHDRAWN, &gone).await {
            tracing::warn!(error = ?e, "could not tell of a withdrawn announcement");
        }
        app.audit
            .record("withdraw_announcement", serde_json::json!({"id": id}));
        return Ok(done(format!("withdrew announcement {id}")));
    }
    let text = text.unwrap_or_default().trim().to_owned();
    if text.is_empty() || text.chars().count() > natter_protocol::ANNOUNCEMENT_MAX_CHARS {
        return Err(AdminError::Announce(format!(
            "an announcement has 1 to {} characters",
            natter_protocol::ANNOUNCEMENT_MAX_CHARS
        )));
    }
    if !text.chars().all(natter_protocol::allowed_in_content) {
        return Err(AdminError::Announce(
            "control characters are not allowed".into(),
        ));
    }
    let until = match until {
        Some(d) => {
            let d = humantime::parse_duration(&d)
                .map_err(|e| AdminError::Announce(format!("--until {d:?}: {e}")))?;
            Some(natter_protocol::now_ms() + i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2))
        }
        None => None,
    };
    let a = app.store.announce(&text, until).await?;
    if let Err(e) = io.emit(event::ANNOUNCEMENT, &a).await {
        tracing::warn!(error = ?e, "could not send an announcement to the online sockets");
    }
    app.audit.record(
        "announce",
        serde_json::json!({"id": a.id, "text": a.text, "until": a.until}),
    );
    Ok(done(format!("announced {} to everyone", a.id)))
}

/// The client side: sends `action` to the server running on `data_dir` and returns its answer.
pub async fn request(data_dir: &Path, action: &Action) -> Result<Answer, String> {
    let path = data_dir.join(SOCKET_FILE);
    let stream = UnixStream::connect(&path).await.map_err(|e| {
        format!(
            "cannot reach a natter-server on {} ({}: {e}); is it running, and are you its OS user?",
            data_dir.display(),
            path.display()
        )
    })?;
    let (read, mut write) = stream.into_split();
    let mut line = serde_json::to_vec(action).map_err(|e| e.to_string())?;
    line.push(b'\n');
    write
        .write_all(&line)
        .await
        .map_err(|e| format!("sending: {e}"))?;
    let mut answer = String::new();
    BufReader::new(read)
        .read_line(&mut answer)
        .await
        .map_err(|e| format!("reading the answer: {e}"))?;
    serde_json::from_str(&answer).map_err(|e| format!("unexpected answer {answer:?}: {e}"))
}

/// Prints an answer for a person; `list` as a table.
pub fn print(answer: &Answer) {
    if !answer.users.is_empty() {
        println!(
            "{:<18} {:<32} {:>8} {:>7} {:>9} {:>9}",
            "USER ID", "NAME", "SESSIONS", "ONLINE", "PASSWORD", "DIRECTORY"
        );
        for u in &answer.users {
            let directory = match (&u.display_name, u.directory) {
                (_, false) => "no".to_owned(),
                (Some(name), true) => format!("yes ({name})"),
                (None, true) => "yes".to_owned(),
            };
            println!(
                "{:<18} {:<32} {:>8} {:>7} {:>9} {:>9}{}",
                u.user_id,
                u.username,
                u.sessions,
                if u.online { "yes" } else { "no" },
                if u.password { "yes" } else { "no" },
                directory,
                if u.shares_name {
                    "  (shares its name: rename one)"
                } else {
                    ""
                }
            );
        }
    }
    if answer.ok {
        println!("{}", answer.message);
    } else {
        eprintln!("error: {}", answer.message);
    }
}
