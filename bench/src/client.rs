//! A minimal socket.io client (engine.io v4 over a websocket), light enough to run thousands of
//! connections from one core. It understands only what the benchmark needs: the handshake,
//! `session`, `users`, `private message` and pings.

use std::net::SocketAddr;
use std::time::Instant;

use futures_util::{SinkExt, StreamExt};
use natter_protocol::{Auth, SendMessage, Session, event};
use serde::de::DeserializeOwned;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::client_async_with_config;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// A byte stream, plain or TLS.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// TCP (Nagle off, as on the servers: with it, a small frame sent while the previous one is
/// unacknowledged waits for the peer's delayed ACK, up to 40 ms on Linux), wrapped in TLS when
/// asked. The benchmark accepts any certificate: it measures cost, not trust.
async fn connect(
    addr: SocketAddr,
    from: Option<std::net::IpAddr>,
    tls: bool,
) -> Result<Box<dyn Io>, String> {
    let tcp = match from {
        Some(ip) => {
            let socket = tokio::net::TcpSocket::new_v4().map_err(|e| e.to_string())?;
            socket
                .bind(SocketAddr::new(ip, 0))
                .map_err(|e| e.to_string())?;
            socket.connect(addr).await.map_err(|e| e.to_string())?
        }
        None => TcpStream::connect(addr).await.map_err(|e| e.to_string())?,
    };
    tcp.set_nodelay(true).map_err(|e| e.to_string())?;
    if !tls {
        return Ok(Box::new(tcp));
    }
    // One connector for every client: building one loads the system's CA bundle (~40 ms of
    // the generator's core each), which would measure OpenSSL's start-up, not TLS.
    static CONNECTOR: std::sync::OnceLock<Result<native_tls::TlsConnector, String>> =
        std::sync::OnceLock::new();
    let connector = CONNECTOR
        .get_or_init(|| {
            native_tls::TlsConnector::builder()
                .danger_accept_invalid_certs(true)
                .danger_accept_invalid_hostnames(true)
                .disable_built_in_roots(true)
                .build()
                .map_err(|e| e.to_string())
        })
        .clone()?;
    let stream = tokio_native_tls::TlsConnector::from(connector)
        .connect("natter", tcp)
        .await
        .map_err(|e| e.to_string())?;
    Ok(Box::new(stream))
}

/// A client's websocket read buffer: a delivered message is about 150 bytes, the `users` list
/// of 3,000 people about 270 KB. Measured at 40k msgs/s offered: 16 KiB cost the generator
/// less per delivered message than 4 KiB (more frames per read), 128 KiB far more (zeroing).
const READ_BUFFER_BYTES: usize = 16 * 1024;

/// What a client reports to the load generator.
#[derive(Debug)]
pub enum Report {
    /// `session` and `users` have both arrived.
    LoggedIn {
        index: usize,
        user_id: String,
        session_id: String,
        at: Instant,
    },
    /// A private or group message arrived; `sent_ns` is what the sender put in the content.
    Delivered {
        sent_ns: u64,
        received_ns: u64,
    },
    /// The answer to an event sent with ack id `ack_id` (`42<id>[…]`).
    Acked {
        ack_id: u64,
        received_ns: u64,
        payload: serde_json::Value,
    },
    Failed {
        index: usize,
        error: String,
    },
}

/// Connects with the handshake `auth`, then sends what arrives on the returned channel and
/// reports what it receives. `clock` is the load generator's time origin.
pub fn spawn(
    index: usize,
    addr: SocketAddr,
    from: Option<std::net::IpAddr>,
    tls: bool,
    auth: &Auth,
    clock: Instant,
    reports: mpsc::UnboundedSender<Report>,
) -> mpsc::UnboundedSender<String> {
    let auth = serde_json::to_string(auth).unwrap_or_default();
    let (tx, mut outgoing) = mpsc::unbounded_channel::<String>();
    tokio::spawn(async move {
        let scheme = if tls { "wss" } else { "ws" };
        let url = format!("{scheme}://{addr}/socket.io/?EIO=4&transport=websocket");
        let ws = match async {
            let stream = connect(addr, from, tls).await?;
            // tungstenite zero-fills its whole read buffer before each read (128 KiB by
            // default): that was a fifth of the generator's core. Frames here are small.
            let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER_BYTES);
            client_async_with_config(url, stream, Some(config))
                .await
                .map_err(|e| e.to_string())
        }
        .await
        {
            Ok((ws, _)) => ws,
            Err(e) => {
                let _ = reports.send(Report::Failed { index, error: e });
                return;
            }
        };
        let (mut sink, mut stream) = ws.split();
        if sink.send(Message::text(format!("40{auth}"))).await.is_err() {
            let _ = reports.send(Report::Failed {
                index,
                error: "send auth".into(),
            });
            return;
        }
        let prefixes = Prefixes::new();
        let (mut session, mut has_users, mut logged_in) = (None::<Session>, false, false);
        let mut refusal = None;
        loop {
            tokio::select! {
                frame = stream.next() => {
                    let Some(Ok(frame)) = frame else { break };
                    let Message::Text(text) = frame else { continue };
                    let text = text.as_str();
                    if text == "2" {
                        if sink.send(Message::text("3")).await.is_err() { break; }
                    } else if text.starts_with(&prefixes.message)
                        || text.starts_with(&prefixes.group_message)
                    {
                        if let Some(sent_ns) = sent_at(text) {
                            let received_ns = clock.elapsed().as_nanos() as u64;
                            let _ = reports.send(Report::Delivered { sent_ns, received_ns });
                        }
                    } else if text.starts_with(&prefixes.session) {
                        session = payload::<Session>(text);
                    } else if text.starts_with(&prefixes.users) {
                        has_users = true;
                    } else if let Some((ack_id, payload)) = ack(text) {
                        let received_ns = clock.elapsed().as_nanos() as u64;
                        let _ = reports.send(Report::Acked { ack_id, received_ns, payload });
                    } else if text.starts_with("44") {
                        refusal = Some(text.to_owned());
                        break;
                    }
                    if has_users && let Some(s) = session.take() {
                        logged_in = true;
                        let _ = reports.send(Report::LoggedIn {
                            index,
                            user_id: s.user_id,
                            session_id: s.session_id,
                            at: Instant::now(),
                        });
                    }
                }
                out = outgoing.recv() => {
                    let Some(out) = out else { break };
                    if sink.send(Message::text(out)).await.is_err() { break; }
                }
            }
        }
        if !logged_in {
            // Counted, not waited for until the generator's deadline.
            let _ = reports.send(Report::Failed {
                index,
                error: refusal.unwrap_or_else(|| "closed before logging in".into()),
            });
        }
    });
    tx
}

/// [`spawn`] over plain TCP from the default address: a natter-server started by the bench.
pub fn spawn_plain(
    index: usize,
    addr: SocketAddr,
    auth: &Auth,
    clock: Instant,
    reports: mpsc::UnboundedSender<Report>,
) -> mpsc::UnboundedSender<String> {
    spawn(index, addr, None, false, auth, clock, reports)
}

/// The start of an event frame (`42["name"`) for each event the benchmark reads.
struct Prefixes {
    message: String,
    group_message: String,
    session: String,
    users: String,
}

impl Prefixes {
    fn new() -> Self {
        let p = |name: &str| format!(r#"42["{name}""#);
        Self {
            message: p(event::PRIVATE_MESSAGE),
            group_message: p(event::GROUP_MESSAGE),
            session: p(event::SESSION),
            users: p(event::USERS),
        }
    }
}

/// The `private message` frame a client sends; the content is the send time.
pub fn message_frame(to: &str, sent_ns: u64) -> String {
    let message = SendMessage {
        content: sent_ns.to_string(),
        to: to.to_owned(),
        client_id: None,
        ..SendMessage::default()
    };
    format!(
        "42{}",
        serde_json::to_string(&(event::PRIVATE_MESSAGE, message)).unwrap_or_default()
    )
}

/// The `private message` frame Natter's app sends: with ack id `ack_id` and a random
/// `clientId` (`key`); the content is the send time.
pub fn app_message_frame(to: &str, sent_ns: u64, ack_id: u64, key: u64) -> String {
    let message = SendMessage {
        content: sent_ns.to_string(),
        to: to.to_owned(),
        client_id: Some(format!("{key:016x}")),
        ..SendMessage::default()
    };
    format!(
        "42{ack_id}{}",
        serde_json::to_string(&(event::PRIVATE_MESSAGE, message)).unwrap_or_default()
    )
}

/// An event frame with an ack id: `42<id>["name", payload]`.
pub fn event_with_ack(ack_id: u64, name: &str, payload: &serde_json::Value) -> String {
    format!(
        "42{ack_id}{}",
        serde_json::to_string(&(name, payload)).unwrap_or_default()
    )
}

/// A group message frame whose content is the send time.
pub fn group_message_frame(group_id: &str, sent_ns: u64) -> String {
    format!(
        "42{}",
        serde_json::to_string(&(
            event::GROUP_MESSAGE,
            serde_json::json!({"to": group_id, "content": sent_ns.to_string()})
        ))
        .unwrap_or_default()
    )
}

/// An ack frame `43<id>[payload]`: its id and payload.
fn ack(text: &str) -> Option<(u64, serde_json::Value)> {
    let rest = text.strip_prefix("43")?;
    let digits = rest.find('[')?;
    let id = rest[..digits].parse().ok()?;
    let mut args: Vec<serde_json::Value> = serde_json::from_str(&rest[digits..]).ok()?;
    Some((
        id,
        if args.is_empty() {
            serde_json::Value::Null
        } else {
            args.swap_remove(0)
        },
    ))
}

/// The payload of an event frame `42["name", payload]`.
fn payload<T: DeserializeOwned>(text: &str) -> Option<T> {
    let (_, payload): (String, T) = serde_json::from_str(text.strip_prefix("42")?).ok()?;
    Some(payload)
}

/// The send time a delivered `private message` carries. Read as the fields every server
/// sends (the baseline's messages have no `id` or `ts`).
fn sent_at(text: &str) -> Option<u64> {
    payload::<SendMessage>(text)?.content.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_read() {
        let f = r#"42["private message",{"id":3,"content":"12345","from":"a","to":"b","ts":1}]"#;
        assert_eq!(sent_at(f), Some(12345));
        let baseline = r#"42["private message",{"content":"12345","from":"a","to":"b"}]"#;
        assert_eq!(sent_at(baseline), Some(12345));
        let s = r#"42["session",{"sessionID":"s","userID":"u1"}]"#;
        assert_eq!(payload::<Session>(s).map(|s| s.user_id), Some("u1".into()));
        assert_eq!(
            message_frame("u", 7),
            r#"42["private message",{"content":"7","to":"u"}]"#
        );
        assert_eq!(sent_at(&message_frame("u", 7)), Some(7));
        assert_eq!(sent_at(&group_message_frame("g-1", 9)), Some(9));
        assert_eq!(
            ack(r#"4312[{"messages":[]}]"#),
            Some((12, serde_json::json!({"messages": []})))
        );
        assert_eq!(ack("42[\"x\"]"), None);
    }
}
