//! What people see of each other besides messages: read markers, receipts, typing.

use serde::{Deserialize, Serialize};

/// Extension `read`, from a client: it has read its conversation with `with` up to the
/// message `upTo` (an id of a message of that conversation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkRead {
    pub with: String,
    #[serde(rename = "upTo")]
    pub up_to: u64,
}

/// Extension `read`, from the server: `from` has read its conversation with `to` up to
/// `upTo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadMarker {
    pub from: String,
    pub to: String,
    #[serde(rename = "upTo")]
    pub up_to: u64,
}

/// Extension `typing`, from a client: it is typing to `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypingTo {
    pub to: String,
}

/// Extension `typing`, from the server: `from` is typing to the receiver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypingFrom {
    pub from: String,
}

/// How long a `typing` shows after the last one, in milliseconds: clients send one about every
/// [`TYPING_REPEAT_MS`] while a person types.
pub const TYPING_SHOWS_MS: u64 = 5_000;
/// How often a client repeats `typing` while its person keeps typing.
pub const TYPING_REPEAT_MS: u64 = 3_000;

/// Extension `set receipts`: whether others see how far this user has read (the user's own
/// devices always do).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetReceipts {
    pub send: bool,
}
