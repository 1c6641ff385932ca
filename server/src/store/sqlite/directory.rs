//! The in-memory directory: every user (with their ready-made `users` entry), sessions,
//! names, who talks with whom, read markers, receipts and groups. Small, read on every login,
//! updated only after the writer committed; loaded from the database at start.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use natter_protocol::{Status, StatusState};
use rusqlite::{Connection, OptionalExtension, params};

use crate::accounts::name_key;
use crate::store::{Account, GroupRecord, ListedUser, StoreResult, UserRecord};

#[derive(Default)]
pub(super) struct Directory {
    /// Every user, in the order they were created, so `users` lists are stable. A login
    /// copies the whole list: a contiguous walk, not a lookup per user.
    pub(super) entries: Vec<DirectoryEntry>,
    /// userID → position in `entries`.
    pub(super) by_user: HashMap<String, usize>,
    /// Session hash → userID.
    pub(super) by_session: HashMap<String, String>,
    /// Name key → the userIDs holding that name (one, except in databases from before).
    pub(super) by_name: HashMap<String, Vec<String>>,
    /// Name keys being created right now, so two concurrent logins cannot both take one.
    pub(super) reserved: HashSet<String>,
    /// Each user's conversation peers, so a login reads only its own conversations. Keys and
    /// entries share the directory's id strings: a server that has seen 500k conversations
    /// keeps 1M entries.
    pub(super) peers: HashMap<Arc<str>, HashSet<Arc<str>>>,
    /// reader → peer → the last message id the reader has read in that conversation.
    pub(super) read_markers: HashMap<String, HashMap<String, u64>>,
    /// Users who keep their read markers to their own devices.
    pub(super) receipts_off: HashSet<String>,
    /// Every group, with its members.
    pub(super) groups: HashMap<String, GroupRecord>,
    /// userID → the groups they are a member of, oldest first.
    pub(super) member_of: HashMap<String, Vec<String>>,
}

pub(super) struct DirectoryEntry {
    /// The user's id, name and presence, with their ready-made `users` entry.
    pub(super) listed: ListedUser,
    pub(super) password_hash: Option<String>,
    /// The office directory signs them in.
    pub(super) directory: bool,
}

impl DirectoryEntry {
    pub(super) fn user_id(&self) -> &str {
        &self.listed.user_id
    }

    pub(super) fn username(&self) -> &str {
        &self.listed.username
    }

    pub(super) fn record(&self) -> UserRecord {
        UserRecord {
            user_id: self.user_id().to_owned(),
            username: self.username().to_owned(),
            display_name: self.display_name(),
            connected: self.listed.connected,
        }
    }

    pub(super) fn listed(&self) -> ListedUser {
        self.listed.clone()
    }

    fn display_name(&self) -> Option<String> {
        self.listed.display_name.as_deref().map(str::to_owned)
    }

    /// A change to what the list shows of them: the entry is made again (its JSON with it).
    fn remake(&mut self, change: impl FnOnce(&mut ListedUser)) {
        let mut l = self.listed.clone();
        change(&mut l);
        self.listed = ListedUser::new(l.user_id, l.username, l.display_name, l.connected, l.status);
    }

    /// A new name or presence.
    pub(super) fn relist(&mut self, username: Option<&str>, connected: bool) {
        self.remake(|l| {
            if let Some(name) = username {
                l.username = Arc::from(name);
            }
            l.connected = connected;
        });
    }

    /// A new status.
    pub(super) fn restatus(&mut self, status: Status) {
        self.remake(|l| l.status = status);
    }

    /// The directory signs them in from now on, under this name.
    pub(super) fn make_directory(&mut self, display_name: Option<&str>) {
        self.directory = true;
        self.password_hash = None;
        self.remake(|l| l.display_name = display_name.map(Arc::from));
    }

    pub(super) fn account(&self) -> Account {
        Account {
            user_id: self.user_id().to_owned(),
            username: self.username().to_owned(),
            password_hash: self.password_hash.clone(),
            directory: self.directory,
            display_name: self.display_name(),
        }
    }
}

impl Directory {
    pub(super) fn entry(&self, user_id: &str) -> Option<&DirectoryEntry> {
        self.by_user.get(user_id).map(|&i| &self.entries[i])
    }

    pub(super) fn entry_mut(&mut self, user_id: &str) -> Option<&mut DirectoryEntry> {
        self.by_user.get(user_id).map(|&i| &mut self.entries[i])
    }

    pub(super) fn name_free(&self, key: &str) -> bool {
        !self.by_name.contains_key(key) && !self.reserved.contains(key)
    }

    pub(super) fn add(&mut self, user: LoadedUser) {
        let i = self.entries.len();
        self.by_user.insert(user.user_id.clone(), i);
        self.by_name
            .entry(name_key(&user.username))
            .or_default()
            .push(user.user_id.clone());
        self.entries.push(DirectoryEntry {
            listed: ListedUser::new(
                user.user_id.into(),
                user.username.into(),
                user.display_name.map(Arc::from),
                false,
                user.status,
            ),
            password_hash: user.password_hash,
            directory: user.directory,
        });
    }

    pub(super) fn forget_name(&mut self, user_id: &str, username: &str) {
        let key = name_key(username);
        if let Some(ids) = self.by_name.get_mut(&key) {
            ids.retain(|id| id != user_id);
            if ids.is_empty() {
                self.by_name.remove(&key);
            }
        }
    }

    pub(super) fn remove(&mut self, user_id: &str) {
        let Some(i) = self.by_user.remove(user_id) else {
            return;
        };
        let entry = self.entries.remove(i);
        self.forget_name(user_id, entry.username());
        self.by_session.retain(|_, uid| uid != user_id);
        // Positions after it moved down by one.
        for (pos, e) in self.entries.iter().enumerate().skip(i) {
            self.by_user.insert(e.user_id().to_owned(), pos);
        }
        if let Some(peers) = self.peers.remove(user_id) {
            for p in peers {
                if let Some(set) = self.peers.get_mut(&p) {
                    set.remove(user_id);
                }
                if let Some(markers) = self.read_markers.get_mut(&*p) {
                    markers.remove(user_id);
                }
            }
        }
        self.read_markers.remove(user_id);
        self.receipts_off.remove(user_id);
        for gid in self.member_of.remove(user_id).unwrap_or_default() {
            if let Some(g) = self.groups.get_mut(&gid) {
                g.members.retain(|m| m != user_id);
            }
        }
    }

    pub(super) fn join_group(&mut self, group_id: &str, user_id: &str) {
        let Some(g) = self.groups.get_mut(group_id) else {
            return;
        };
        if !g.has_member(user_id) {
            g.members.push(user_id.to_owned());
            self.member_of
                .entry(user_id.to_owned())
                .or_default()
                .push(group_id.to_owned());
        }
    }

    pub(super) fn leave_group(&mut self, group_id: &str, user_id: &str) {
        if let Some(g) = self.groups.get_mut(group_id) {
            g.members.retain(|m| m != user_id);
        }
        if let Some(groups) = self.member_of.get_mut(user_id) {
            groups.retain(|g| g != group_id);
        }
    }

    pub(super) fn groups_of(&self, user_id: &str) -> Vec<String> {
        self.member_of.get(user_id).cloned().unwrap_or_default()
    }

    pub(super) fn read_marker(&self, reader: &str, peer: &str) -> u64 {
        self.read_markers
            .get(reader)
            .and_then(|m| m.get(peer))
            .copied()
            .unwrap_or(0)
    }

    pub(super) fn has_conversation(&self, a: &str, b: &str) -> bool {
        self.peers.get(a).is_some_and(|p| p.contains(b))
    }

    pub(super) fn add_conversation(&mut self, a: &str, b: &str) {
        let (a, b) = (self.peer_key(a), self.peer_key(b));
        self.peers.entry(a.clone()).or_default().insert(b.clone());
        self.peers.entry(b).or_default().insert(a);
    }

    /// The directory's shared id string for `user_id` (a new one for an id it does not know).
    pub(super) fn peer_key(&self, user_id: &str) -> Arc<str> {
        self.entry(user_id)
            .map_or_else(|| Arc::from(user_id), |e| e.listed.user_id.clone())
    }
}

/// A user as the directory takes them in: from the database at start, or just created.
pub(super) struct LoadedUser {
    pub(super) user_id: String,
    pub(super) username: String,
    pub(super) password_hash: Option<String>,
    pub(super) status: Status,
    pub(super) directory: bool,
    pub(super) display_name: Option<String>,
}

pub(super) fn load_directory(conn: &Connection) -> StoreResult<Directory> {
    let mut dir = Directory::default();
    let mut stmt = conn.prepare(
        "SELECT user_id, username, password_hash, status, status_text, directory, display_name \
         FROM users ORDER BY created_at, user_id",
    )?;
    let rows = stmt.query_map([], |r| {
        let state: Option<String> = r.get(3)?;
        Ok(LoadedUser {
            user_id: r.get(0)?,
            username: r.get(1)?,
            password_hash: r.get(2)?,
            status: Status {
                state: state
                    .as_deref()
                    .and_then(StatusState::parse)
                    .unwrap_or_default(),
                text: r.get(4)?,
            },
            directory: r.get(5)?,
            display_name: r.get(6)?,
        })
    })?;
    for row in rows {
        dir.add(row?);
    }
    let mut stmt = conn.prepare("SELECT session_hash, user_id FROM sessions")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    for row in rows {
        let (hash, user_id): (String, String) = row?;
        dir.by_session.insert(hash, user_id);
    }
    let shared: Vec<&String> = dir
        .by_name
        .iter()
        .filter(|(_, ids)| ids.len() > 1)
        .map(|(key, _)| key)
        .collect();
    if !shared.is_empty() {
        // From before names were compared normalised: each identity keeps working, nobody new
        // can take the name, and none of them can protect it with a password until an operator
        // renames all but one (`natter-server admin list` marks them).
        tracing::warn!(
            names = shared.len(),
            "some identities share a name; rename them with `natter-server admin rename`"
        );
    }
    load_conversations(conn, &mut dir)?;
    let mut stmt = conn.prepare("SELECT reader, peer, up_to FROM read_markers")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    for row in rows {
        let (reader, peer, up_to) = row?;
        dir.read_markers
            .entry(reader)
            .or_default()
            .insert(peer, up_to.max(0) as u64);
    }
    let mut stmt = conn.prepare("SELECT user_id FROM users WHERE receipts = 0")?;
    for row in stmt.query_map([], |r| r.get::<_, String>(0))? {
        dir.receipts_off.insert(row?);
    }
    let mut stmt = conn
        .prepare("SELECT group_id, name, created_by FROM groups ORDER BY created_at, group_id")?;
    let rows = stmt.query_map([], |r| {
        Ok(GroupRecord {
            group_id: r.get(0)?,
            name: r.get(1)?,
            created_by: r.get(2)?,
            members: Vec::new(),
        })
    })?;
    let mut order = Vec::new();
    for row in rows {
        let g = row?;
        order.push(g.group_id.clone());
        dir.groups.insert(g.group_id.clone(), g);
    }
    let mut stmt = conn.prepare("SELECT group_id, user_id FROM group_members ORDER BY seq")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut members = Vec::new();
    for row in rows {
        members.push(row?);
    }
    // Each person's groups in creation order, each group's members in joining order.
    for gid in &order {
        for (g, u) in members.iter().filter(|(g, _)| g == gid) {
            dir.join_group(g, u);
        }
    }
    Ok(dir)
}

/// Every distinct conversation, found by seeking from one to the next in the conversation
/// index (all merged at start): one lookup per conversation rather than a scan of every
/// message.
fn load_conversations(conn: &Connection, dir: &mut Directory) -> StoreResult<()> {
    let mut next = conn.prepare(
        "SELECT user_lo, user_hi FROM conversation_index WHERE (user_lo, user_hi) > (?1, ?2) \
         ORDER BY user_lo, user_hi LIMIT 1",
    )?;
    let (mut lo, mut hi) = (String::new(), String::new());
    while let Some((l, h)) = next
        .query_row(params![lo, hi], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })
        .optional()?
    {
        dir.add_conversation(&l, &h);
        (lo, hi) = (l, h);
    }
    Ok(())
}
