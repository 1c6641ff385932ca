//! Natter's interface (Leptos, client-side rendered, inside the Tauri window).
//!
//! - [`state`]: the state and its transitions, plain Rust with native tests.
//! - [`shell`]: calls into the desktop shell (Tauri commands and events).
//! - [`app`]: thin components that render the state and send intents to the shell.

pub mod app;
pub mod shell;
pub mod state;
