//! What the components render, made by the state: a conversation, a timeline item, a row of
//! the sidebar, a search hit. Named fields: a component takes one of these as its props.

use natter_protocol::ipc::OutboxEntry;
use natter_protocol::{Message, Status, StatusState};

/// One conversation of the sidebar: a person, or a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationView {
    /// The userID, or the groupID.
    pub id: String,
    /// The person's name, or the group's.
    pub name: String,
    pub kind: ConversationKind,
    /// Oldest first, no duplicates (by id).
    pub messages: Vec<Message>,
    pub unread: u32,
    /// Of the unread, those that mention us (groups).
    pub mentions: u32,
    /// How far this person has read our messages (their read receipts).
    pub their_read_up_to: u64,
    /// The last read marker sent (or known sent) for this conversation from any of our devices.
    pub marker_sent: u64,
    /// They are typing to us until this time (ms since the epoch, the UI's clock).
    pub typing_until: Option<u64>,
    /// No older messages exist on the server than the first one here.
    pub history_complete: bool,
    pub loading_older: bool,
}

/// Whom a conversation is with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConversationKind {
    Person {
        connected: bool,
        is_self: bool,
        status: Status,
        /// Their login name (the conversation's `name` is what the directory calls them,
        /// where it does).
        username: String,
    },
    /// Its members (userIDs), in the order they joined.
    Group { members: Vec<String> },
}

impl ConversationView {
    pub fn is_group(&self) -> bool {
        matches!(self.kind, ConversationKind::Group { .. })
    }

    /// A person online (a group is always there).
    pub fn connected(&self) -> bool {
        match self.kind {
            ConversationKind::Person { connected, .. } => connected,
            ConversationKind::Group { .. } => true,
        }
    }

    /// A person's login name (a group's: its name).
    pub fn username(&self) -> &str {
        match &self.kind {
            ConversationKind::Person { username, .. } => username,
            ConversationKind::Group { .. } => &self.name,
        }
    }

    /// A person's status (a group's: available).
    pub fn status(&self) -> Status {
        match &self.kind {
            ConversationKind::Person { status, .. } => status.clone(),
            ConversationKind::Group { .. } => Status::default(),
        }
    }

    pub fn is_self(&self) -> bool {
        matches!(self.kind, ConversationKind::Person { is_self: true, .. })
    }

    /// A group's members; nobody for a person.
    pub fn members(&self) -> &[String] {
        match &self.kind {
            ConversationKind::Group { members } => members,
            ConversationKind::Person { .. } => &[],
        }
    }
}

/// What the message panel shows: stored messages, then ours still waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimelineItem {
    Stored {
        message: Message,
        from_self: bool,
        /// Ours only: the other person has read it.
        read: bool,
    },
    Pending {
        entry: OutboxEntry,
    },
}

/// Where a message of ours stands, as `data-status` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// In the outbox: not stored on the server yet.
    Pending,
    /// Stored (acked) by the server.
    Sent,
    /// The other person has read it.
    Read,
}

impl Delivery {
    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::Pending => "pending",
            Delivery::Sent => "sent",
            Delivery::Read => "read",
        }
    }
}

impl TimelineItem {
    pub fn delivery(&self) -> Delivery {
        match self {
            TimelineItem::Pending { .. } => Delivery::Pending,
            TimelineItem::Stored { read: true, .. } => Delivery::Read,
            TimelineItem::Stored { .. } => Delivery::Sent,
        }
    }

    /// A row is drawn again when its key changes: its status (✓ becomes ✓✓) and everything
    /// an edit, a deletion or a reaction changes are part of it.
    pub fn key(&self) -> String {
        use std::hash::{Hash, Hasher};
        match self {
            TimelineItem::Stored { message, read, .. } => {
                let mut h = std::hash::DefaultHasher::new();
                message.hash(&mut h);
                format!("m{}-{read}-{:x}", message.id, h.finish())
            }
            TimelineItem::Pending { entry } => format!("p{}", entry.client_id),
        }
    }
}

/// A person in the sidebar; a change of any field draws the row again.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PersonRow {
    pub id: String,
    /// What people see: the directory's name for them, else their username.
    pub name: String,
    pub username: String,
    pub connected: bool,
    pub status: StatusState,
    pub status_text: Option<String>,
    pub unread: u32,
    pub is_self: bool,
    pub selected: bool,
}

/// A group in the sidebar.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GroupRow {
    pub id: String,
    pub name: String,
    pub members: usize,
    pub unread: u32,
    /// Unread messages that mention us: the badge shows `@`.
    pub mentions: u32,
    pub selected: bool,
}

/// One search result as listed: the message, who sent it, and where (the conversation's name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchHit {
    pub message: Message,
    pub sender: String,
    pub place: String,
}

/// The open conversation's header: who it is with and how they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationHeader {
    pub name: String,
    pub connected: bool,
    pub status: Status,
    pub is_self: bool,
    /// A group's members' names, joined; `None` for a person.
    pub members: Option<String>,
}
