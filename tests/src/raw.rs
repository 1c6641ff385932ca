//! A bare engine.io v4 websocket: lets a test send frames in orders and shapes that real client
//! libraries never produce (an event in the same burst as CONNECT, a close mid-handshake).

use std::net::SocketAddr;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

use crate::WAIT;

pub struct RawSocket {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl RawSocket {
    /// Opens the engine.io session and consumes its OPEN packet.
    pub async fn open(addr: SocketAddr) -> RawSocket {
        let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
        let (ws, _) = connect_async(url).await.expect("websocket handshake");
        let mut s = RawSocket { ws };
        let open = s.recv().await.expect("engine.io open packet");
        assert!(open.starts_with('0'), "expected OPEN, got {open}");
        s
    }

    /// Sends one engine.io text packet, e.g. `40{"username":"x"}` or `42["event",{}]`.
    pub async fn send(&mut self, packet: &str) {
        self.ws
            .send(Message::text(packet.to_owned()))
            .await
            .expect("send packet");
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
