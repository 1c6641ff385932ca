//! The components, one file per view. They read [`crate::state::UiState`] and turn clicks
//! into shell calls; every rule is in the state.

pub mod actions;
pub mod announcements;
pub mod chat;
pub mod composer;
pub mod content;
pub mod conversation;
pub mod groups;
pub mod login;
pub mod message;
pub mod mute;
pub mod search;
pub mod settings;
pub mod sidebar;
pub mod status_menu;
