//! Read markers and receipts in Redis: `read:<reader>` hashes moved forward by a Lua script;
//! unread counts from the inbox sets.

use std::collections::HashMap;

use async_trait::async_trait;

use super::{RedisStore, keys};
use crate::store::{
    Awareness, Conversation, MAX_UNREAD_COUNTED, Marked, NotInConversation, ReadState, StoreError,
    StoreResult,
};

#[async_trait]
impl Awareness for RedisStore {
    async fn mark_read(&self, reader: &str, peer: &str, up_to: u64) -> StoreResult<Marked> {
        let mut conn = self.conn.clone();
        let in_conversation: u64 = redis::cmd("ZCOUNT")
            .arg(keys::conversation(Conversation::between(reader, peer)))
            .arg(up_to)
            .arg(up_to)
            .query_async(&mut conn)
            .await?;
        if in_conversation == 0 {
            return Ok(Err(NotInConversation));
        }
        let (marker, moved): (u64, u8) = self
            .mark_read
            .key(keys::read(reader))
            .arg(peer)
            .arg(up_to)
            .invoke_async(&mut conn)
            .await?;
        Ok(Ok((moved == 1).then_some(marker)))
    }

    async fn read_states(&self, user_id: &str) -> StoreResult<HashMap<String, ReadState>> {
        let mut conn = self.conn.clone();
        let peers = self.peers(user_id).await?;
        if peers.is_empty() {
            return Ok(HashMap::new());
        }
        let mine: HashMap<String, u64> = redis::cmd("HGETALL")
            .arg(keys::read(user_id))
            .query_async(&mut conn)
            .await?;
        let mut pipe = redis::pipe();
        for p in &peers {
            let after = mine.get(p).copied().unwrap_or(0);
            pipe.cmd("ZCOUNT")
                .arg(keys::inbox(user_id, p))
                .arg(format!("({after}"))
                .arg("+inf");
            pipe.hget(keys::read(p), user_id);
            pipe.sismember(keys::RECEIPTS_OFF, p);
        }
        let answers: Vec<redis::Value> = pipe.query_async(&mut conn).await?;
        let mut out = HashMap::with_capacity(peers.len());
        let mut answers = answers.into_iter();
        for peer in peers {
            let (Some(unread), Some(theirs), Some(private)) =
                (answers.next(), answers.next(), answers.next())
            else {
                return Err(StoreError::Redis("short pipeline answer".into()));
            };
            let unread: u64 = redis::from_redis_value(unread)?;
            let theirs: Option<u64> = redis::from_redis_value(theirs)?;
            let private: bool = redis::from_redis_value(private)?;
            out.insert(
                peer,
                ReadState {
                    unread: unread.min(MAX_UNREAD_COUNTED),
                    read_up_to: if private { 0 } else { theirs.unwrap_or(0) },
                },
            );
        }
        Ok(out)
    }

    async fn set_receipts(&self, user_id: &str, send: bool) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        let cmd = if send { "SREM" } else { "SADD" };
        redis::cmd(cmd)
            .arg(keys::RECEIPTS_OFF)
            .arg(user_id)
            .query_async::<()>(&mut conn)
            .await?;
        Ok(())
    }

    async fn sends_receipts(&self, user_id: &str) -> StoreResult<bool> {
        let mut conn = self.conn.clone();
        let off: bool = redis::cmd("SISMEMBER")
            .arg(keys::RECEIPTS_OFF)
            .arg(user_id)
            .query_async(&mut conn)
            .await?;
        Ok(!off)
    }
}
