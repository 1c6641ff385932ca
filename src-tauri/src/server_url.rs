//! What a person types as the server address, made into a URL the client can use.

use url::Url;

use crate::error::AppError;

/// The port natter-server listens on by default.
pub const DEFAULT_PORT: u16 = 3000;

/// `192.168.1.20` → `https://192.168.1.20:3000` (natter-server speaks TLS by default);
/// `http://chat.lan` stays plain on port 80 (typed on purpose, e.g. behind a proxy);
/// `ws://`/`wss://` become `http://`/`https://`. Paths are not allowed.
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
        format!("https://{raw}")
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

/// Several addresses (nodes of one cluster), separated by commas or spaces, normalised and
/// joined as `https://a:3000, https://b:3000`: the app moves to the next when one fails.
pub fn normalize_list(input: &str) -> Result<String, AppError> {
    let mut urls: Vec<String> = Vec::new();
    for part in input
        .split([',', ' ', '\n', '\t'])
        .filter(|p| !p.trim().is_empty())
    {
        let url = normalize(part)?;
        if !urls.contains(&url) {
            urls.push(url);
        }
    }
    if urls.is_empty() {
        return Err(AppError::InvalidServerUrl(input.trim().to_owned()));
    }
    Ok(urls.join(", "))
}

/// The addresses of a list made by [`normalize_list`].
pub fn split(list: &str) -> Vec<String> {
    list.split(", ")
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{normalize, normalize_list, split};

    #[test]
    fn several_nodes() {
        let list = normalize_list(" 10.0.0.1, 10.0.0.2:4000 https://10.0.0.1:3000 ").unwrap();
        assert_eq!(list, "https://10.0.0.1:3000, https://10.0.0.2:4000");
        assert_eq!(
            split(&list),
            ["https://10.0.0.1:3000", "https://10.0.0.2:4000"]
        );
        assert!(normalize_list(" , ").is_err());
        assert!(normalize_list("10.0.0.1, ftp://x").is_err());
    }

    #[test]
    fn what_people_type() {
        for (typed, url) in [
            ("192.168.1.20", "https://192.168.1.20:3000"),
            (" 192.168.1.20:4000 ", "https://192.168.1.20:4000"),
            ("natter.lan", "https://natter.lan:3000"),
            ("http://natter.lan", "http://natter.lan"),
            ("https://natter.lan/", "https://natter.lan"),
            ("ws://127.0.0.1:3000", "http://127.0.0.1:3000"),
            ("[::1]:3000", "https://[::1]:3000"),
            ("http://192.168.1.20:3000", "http://192.168.1.20:3000"),
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
