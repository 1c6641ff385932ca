//! A bare engine.io v4 websocket: lets a test send frames in orders and shapes that real client
//! libraries never produce (an event in the same burst as CONNECT, a close mid-handshake).

use std::net::IpAddr;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{WebSocketStream, client_async};

use crate::WAIT;
use crate::server::TestServer;
use crate::tls::Io;

pub struct RawSocket {
    ws: WebSocketStream<Box<dyn Io>>,
}

/// How a raw socket presents itself.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The client address (127.0.0.x) to connect from.
    pub local: Option<IpAddr>,
    /// An `Origin` header, as a web page's WebSocket would send.
    pub origin: Option<String>,
}

impl RawSocket {
    /// Opens the engine.io session and consumes its OPEN packet.
    pub async fn open(server: &TestServer) -> RawSocket {
        Self::open_with(server, Options::default())
            .await
            .expect("websocket handshake")
    }

    /// Like [`RawSocket::open`]; `Err` carries the server's refusal of the upgrade.
    pub async fn open_with(server: &TestServer, options: Options) -> Result<RawSocket, String> {
        let connector = server
            .is_tls()
            .then(|| crate::tls::pinned_connector(&crate::tls::pinned(&server.url)));
        let stream = crate::tls::connect(server.addr, options.local, connector)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let scheme = if server.is_tls() { "wss" } else { "ws" };
        let mut request = format!(
            "{scheme}://{}/socket.io/?EIO=4&transport=websocket",
            server.addr
        )
        .into_client_request()
        .map_err(|e| e.to_string())?;
        if let Some(origin) = &options.origin {
            request
                .headers_mut()
                .insert("origin", origin.parse().map_err(|_| "bad origin")?);
        }
        let (ws, _) = client_async(request, stream)
            .await
            .map_err(|e| e.to_string())?;
        let mut s = RawSocket { ws };
        let open = s.recv().await.ok_or("no engine.io open packet")?;
        if !open.starts_with('0') {
            return Err(format!("expected OPEN, got {open}"));
        }
        Ok(s)
    }

    /// Sends one engine.io text packet, e.g. `40{"username":"x"}` or `42["event",{}]`.
    pub async fn send(&mut self, packet: &str) {
        self.try_send(packet).await.expect("send packet");
    }

    /// Like [`RawSocket::send`], for packets the server may refuse by closing the connection.
    pub async fn try_send(&mut self, packet: &str) -> Result<(), String> {
        self.ws
            .send(Message::text(packet.to_owned()))
            .await
            .map_err(|e| e.to_string())
    }

    /// The next text packet, answering pings; `None` once the server closed the connection.
    pub async fn recv(&mut self) -> Option<String> {
        loop {
            let msg = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .ok()??
                .ok()?;
            match msg {
                Message::Text(t) if t.as_str() == "2" => self.send("3").await,
                Message::Text(t) => return Some(t.as_str().to_owned()),
                Message::Close(_) => return None,
                _ => {}
            }
        }
    }

    /// Waits for the first packet starting with `prefix`.
    pub async fn recv_starting(&mut self, prefix: &str) -> Option<String> {
        loop {
            let p = self.recv().await?;
            if p.starts_with(prefix) {
                return Some(p);
            }
        }
    }

    /// Drops the TCP connection without any goodbye.
    pub fn drop_connection(self) {
        drop(self.ws);
    }
}
