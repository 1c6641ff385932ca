//! What a person types as the server address, made into a URL the client can use.

use url::Url;

use crate::error::AppError;

/// The port natter-server listens on by default.
pub const DEFAULT_PORT: u16 = 3000;

/// `192.168.1.20` → `http://192.168.1.20:3000`; `http://chat.lan` stays on port 80 (a reverse
/// proxy); `ws://`/`wss://` become `http://`/`https://`. Paths are not allowed.
pub fn normalize(input: &str) -> Result<String, AppError> {
    let raw = input.trim();
    let invalid = || AppError::InvalidServerUrl(input.trim().to_owned());
    if raw.is_empty() {
        return Err(invalid());
    }
    let has_scheme = raw.contains("://");
    let mut url = Url::parse(&if has_scheme {
        raw.to_owned()
    } else {
        format!("http://{raw}")
    })
    .map_err(|_| invalid())?;
    let scheme = match url.scheme() {
        "http" | "ws" => "http",
        "https" | "wss" => "https",
        _ => return Err(invalid()),
    };
    if url.host_str().is_none_or(str::is_empty)
        || !matches!(url.path(), "" | "/")
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
    {
        return Err(invalid());
    }
    let port = url.port();
    let host = url.host_str().ok_or_else(invalid)?.to_owned();
    url = Url::parse(&format!("{scheme}://{host}")).map_err(|_| invalid())?;
    let port = match (port, has_scheme) {
        (Some(p), _) => Some(p),
        (None, false) => Some(DEFAULT_PORT),
        (None, true) => None,
    };
    url.set_port(port).map_err(|_| invalid())?;
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn what_people_type() {
        for (typed, url) in [
            ("192.168.1.20", "http://192.168.1.20:3000"),
            (" 192.168.1.20:4000 ", "http://192.168.1.20:4000"),
            ("natter.lan", "http://natter.lan:3000"),
            ("http://natter.lan", "http://natter.lan"),
            ("https://natter.lan/", "https://natter.lan"),
            ("ws://127.0.0.1:3000", "http://127.0.0.1:3000"),
            ("[::1]:3000", "http://[::1]:3000"),
            ("HTTP://Host:3000", "http://host:3000"),
        ] {
            assert_eq!(normalize(typed).unwrap(), url, "{typed}");
        }
        for bad in [
            "",
            "  ",
            "ftp://x",
            "http://",
            "host/path",
            "http://h/socket.io",
            "http://u@h",
            "h:99999",
        ] {
            assert!(normalize(bad).is_err(), "{bad}");
        }
    }
}
