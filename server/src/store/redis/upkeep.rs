//! Snapshots and retention in cluster mode: Redis keeps the data, so its own persistence is the
//! backup, and retention is not done here.

use std::path::Path;

use async_trait::async_trait;

use super::RedisStore;
use crate::store::{Counts, Expired, StoreError, StoreResult, Upkeep};

/// What an operator backs up in cluster mode instead.
pub const BACKUP_IN_CLUSTER_MODE: &str = "cluster mode keeps everything in Redis: back up \
     Redis itself (RDB snapshots or the append-only file, e.g. `redis-cli --rdb FILE`), the \
     shared files directory (--files-dir) and the nodes' certificate and key (--tls-cert, \
     --tls-key); `natter-server admin backup` makes archives of the embedded store only";

/// Why retention does not run on Redis.
pub const RETENTION_IN_CLUSTER_MODE: &str =
    "--retention-days needs the embedded store; cluster mode does not expire messages";

#[async_trait]
impl Upkeep for RedisStore {
    async fn snapshot(&self, _into: &Path) -> StoreResult<Counts> {
        Err(StoreError::Unsupported(BACKUP_IN_CLUSTER_MODE))
    }

    async fn expire(&self, _before_ms: i64) -> StoreResult<Expired> {
        Err(StoreError::Unsupported(RETENTION_IN_CLUSTER_MODE))
    }
}
