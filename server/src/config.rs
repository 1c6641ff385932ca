//! Command-line and environment configuration, parsed once into a typed struct.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

/// Natter's LAN server: private messaging for everyone on the network.
#[derive(Debug, Clone, Parser)]
#[command(name = "natter-server", version, about, long_about = None)]
pub struct Config {
    /// Address and port to listen on. Port 0 picks a free port (printed at start).
    #[arg(long, env = "NATTER_LISTEN", default_value = "0.0.0.0:3000")]
    pub listen: SocketAddr,

    /// Where the database lives [default: the platform's data dir for natter-server].
    #[arg(long, env = "NATTER_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    /// Browser origins allowed to connect (repeat, or comma-separate; `*` allows any). The
    /// desktop app and localhost pages are allowed by default.
    #[arg(
        long = "cors-origin",
        env = "NATTER_CORS_ORIGINS",
        value_delimiter = ','
    )]
    pub cors_origins: Vec<String>,

    /// Largest message content accepted, in bytes.
    #[arg(long, env = "NATTER_MAX_MESSAGE_BYTES", default_value_t = 16 * 1024)]
    pub max_message_bytes: usize,

    /// Run as one node of several sharing this Redis (≥ 7), e.g. `redis://10.0.0.5:6379`.
    /// Without it, everything stays in the embedded SQLite file.
    #[arg(long, env = "NATTER_REDIS")]
    pub redis: Option<String>,

    /// Messages per conversation sent at login; older ones come with `fetch messages`.
    #[arg(long, env = "NATTER_HISTORY_PER_CHAT", default_value_t = 100)]
    pub history_per_chat: u32,
}

impl Config {
    /// The data dir to use: the flag, or the platform's data dir (e.g.
    /// `~/.local/share/natter-server` on Linux), or `./natter-data` as a last resort.
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir.clone().unwrap_or_else(|| {
            directories::ProjectDirs::from("", "", "natter-server")
                .map(|d| d.data_dir().to_path_buf())
                .unwrap_or_else(|| PathBuf::from("natter-data"))
        })
    }

    /// Most messages one `fetch messages` may ask for.
    pub fn max_page(&self) -> u32 {
        self.history_per_chat.max(500)
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
        ])
        .unwrap();
        assert_eq!(c.listen.port(), 0);
        assert_eq!(c.cors_origins, ["http://a.lan", "http://b.lan"]);
        assert_eq!(c.history_per_chat, 5);
    }
}
