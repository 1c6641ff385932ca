//! A small HTTP/1.1 client over the test server's (pinned TLS) connection, for the file
//! routes: requests with streamed bodies, responses read whole.

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::TestServer;

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// Reads a response: status line, headers, then the body (by `Content-Length`, else to the end
/// of the connection).
pub async fn read_response(conn: &mut (impl tokio::io::AsyncRead + Unpin)) -> Response {
    let mut reader = BufReader::new(conn);
    let mut line = String::new();
    reader.read_line(&mut line).await.expect("status line");
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {line:?}"));
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).await.expect("header line");
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((n, v)) = l.split_once(':') {
            headers.push((n.trim().to_owned(), v.trim().to_owned()));
        }
    }
    let length = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok());
    let mut body = Vec::new();
    match length {
        Some(n) => {
            body.resize(n, 0);
            reader.read_exact(&mut body).await.expect("body");
        }
        None => {
            let _ = reader.read_to_end(&mut body).await;
        }
    }
    Response {
        status,
        headers,
        body,
    }
}

/// Sends `method path` with `headers` and the body given as chunks (`Content-Length` set from
/// their total unless `headers` has one), then reads the answer.
pub async fn request(
    server: &TestServer,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    chunks: impl IntoIterator<Item = Vec<u8>>,
    total: Option<u64>,
) -> Response {
    let mut conn = server.connect().await;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    if let Some(total) = total {
        head.push_str(&format!("Content-Length: {total}\r\n"));
    }
    head.push_str("\r\n");
    conn.write_all(head.as_bytes()).await.expect("request head");
    for chunk in chunks {
        // The server may answer (and close) before the whole body is sent: stop sending then.
        if conn.write_all(&chunk).await.is_err() {
            break;
        }
    }
    let _ = conn.flush().await;
    read_response(&mut conn).await
}

/// `GET path` with a bearer session and extra headers.
pub async fn get(
    server: &TestServer,
    path: &str,
    session: Option<&str>,
    extra: &[(&str, &str)],
) -> Response {
    let auth = session.map(|s| format!("Bearer {s}"));
    let mut headers: Vec<(&str, &str)> = extra.to_vec();
    if let Some(a) = &auth {
        headers.push(("Authorization", a));
    }
    request(server, "GET", path, &headers, Vec::new(), None).await
}

/// `POST /files` of `bytes` as `name` and `media_type`.
pub async fn upload(
    server: &TestServer,
    session: &str,
    name: &str,
    media_type: &str,
    bytes: Vec<u8>,
) -> Response {
    let auth = format!("Bearer {session}");
    let encoded = natter_protocol::files::encode_name(name);
    let total = bytes.len() as u64;
    request(
        server,
        "POST",
        natter_protocol::files::PATH,
        &[
            ("Authorization", &auth),
            ("Content-Type", media_type),
            (natter_protocol::files::FILE_NAME_HEADER, &encoded),
        ],
        [bytes],
        Some(total),
    )
    .await
}

/// `GET /files/{fileID}` (or its preview, with `preview`) as the holder of `session`.
pub async fn file(server: &TestServer, file_id: &str, preview: bool, session: &str) -> Response {
    let path = if preview {
        format!("{}/{file_id}/preview", natter_protocol::files::PATH)
    } else {
        format!("{}/{file_id}", natter_protocol::files::PATH)
    };
    get(server, &path, Some(session), &[]).await
}
