//! `natter-server admin export USER FILE`: everything of one person, for a request for their
//! data: their profile, every conversation they are part of with all its messages, their
//! groups, and the files they sent, in one tar archive of JSON files and the files themselves.
//!
//! Layout: `profile.json`, `groups.json`, `conversations/<userID or groupID>.json` (`{with,
//! name, messages}`, oldest first), `files/<fileID>/<name>`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use natter_protocol::Message;
use serde_json::json;

use crate::ServerState;
use crate::store::{Account, Conversation, GroupRecord, StoreError};

/// Messages read per page.
const PAGE: u32 = 500;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("writing {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// What an export holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Exported {
    pub conversations: usize,
    pub messages: usize,
    pub files: usize,
}

/// Every message of a conversation, oldest first.
async fn whole(
    app: &ServerState,
    conversation: Conversation<'_>,
) -> Result<Vec<Message>, StoreError> {
    let mut all = Vec::new();
    let mut before = None;
    loop {
        let (page, more) = app.store.page(conversation, before, PAGE).await?;
        before = page.first().map(|m| m.id);
        all.splice(0..0, page);
        if !more || before.is_none() {
            return Ok(all);
        }
    }
}

/// Writes `account`'s export to `out` (private: it holds their conversations).
pub async fn export(
    app: &ServerState,
    account: &Account,
    out: &Path,
) -> Result<Exported, ExportError> {
    let me = account.user_id.as_str();
    let names: BTreeMap<String, String> = app
        .store
        .users()
        .await?
        .into_iter()
        .map(|u| {
            let shown = u.display_name.as_deref().unwrap_or(&u.username).to_owned();
            (u.user_id.to_string(), shown)
        })
        .collect();
    let mut parts: Vec<(String, Vec<u8>)> = Vec::new();
    let profile = json!({
        "userID": me,
        "username": account.username,
        "displayName": account.display_name,
        "directory": account.directory,
        "hasPassword": account.password_hash.is_some(),
        "exportedTs": natter_protocol::now_ms(),
    });
    parts.push((
        "profile.json".into(),
        serde_json::to_vec_pretty(&profile).unwrap_or_default(),
    ));

    let mut summary = Exported::default();
    let mut sent_files: BTreeSet<(String, String)> = BTreeSet::new();
    let mut add_conversation = |with: &str, name: &str, messages: Vec<Message>| {
        for m in &messages {
            if m.from == me
                && let Some(a) = &m.attachment
            {
                sent_files.insert((a.file_id.clone(), a.name.clone()));
            }
        }
        summary.conversations += 1;
        summary.messages += messages.len();
        let exported = natter_protocol::ExportedConversation {
            with: with.to_owned(),
            name: name.to_owned(),
            messages,
        };
        let bytes = serde_json::to_vec_pretty(&exported).unwrap_or_default();
        (format!("conversations/{with}.json"), bytes)
    };
    let peers = app.store.recent_conversations(me, 1).await?;
    for (peer, _) in peers {
        let messages = whole(app, Conversation::Private(me, &peer)).await?;
        let name = names.get(&peer).cloned().unwrap_or_default();
        parts.push(add_conversation(&peer, &name, messages));
    }
    let groups = app.store.groups_of(me).await?;
    for g in &groups {
        let messages = whole(app, Conversation::Group(&g.group_id)).await?;
        parts.push(add_conversation(&g.group_id, &g.name, messages));
    }
    let groups: Vec<natter_protocol::Group> = groups.iter().map(GroupRecord::wire).collect();
    let groups_json = serde_json::to_vec_pretty(&groups).unwrap_or_default();
    parts.push(("groups.json".into(), groups_json));
    for (file_id, name) in &sent_files {
        let path = app.files.file(file_id);
        match tokio::fs::read(&path).await {
            Ok(bytes) => {
                let safe = name.replace(['/', '\\'], "_");
                parts.push((format!("files/{file_id}/{safe}"), bytes));
                summary.files += 1;
            }
            Err(e) => {
                tracing::warn!(file = %file_id, error = %e, "an exported file could not be read")
            }
        }
    }

    let out = out.to_owned();
    tokio::task::spawn_blocking(move || write(&out, &parts))
        .await
        .map_err(|e| ExportError::Write {
            path: "the export".into(),
            source: std::io::Error::other(e),
        })??;
    Ok(summary)
}

fn write(out: &Path, parts: &[(String, Vec<u8>)]) -> Result<(), ExportError> {
    let err = |source| ExportError::Write {
        path: out.display().to_string(),
        source,
    };
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)
        .map_err(err)?;
    let mut tar = tar::Builder::new(file);
    for (path, bytes) in parts {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o600);
        header.set_cksum();
        tar.append_data(&mut header, path, bytes.as_slice())
            .map_err(err)?;
    }
    let mut file = tar.into_inner().map_err(err)?;
    file.flush().map_err(err)?;
    file.sync_all().map_err(err)
}
