//! Notifications: which messages raise one (the rules, plain functions with tests), what it
//! says (plain text, never Markdown's marks), and showing them in order through the desktop's
//! daemon (notify-rust over D-Bus), a sender's next message replacing their notification, a
//! click opening the conversation, a deletion closing it.

use natter_protocol::ipc::{Notify, Preferences};
use natter_protocol::{Message, StatusState};
use tauri::{AppHandle, Manager, Runtime};
use tokio::sync::mpsc;

use super::Desktop;

/// How much of a message a notification shows.
const PREVIEW_CHARS: usize = 120;

/// What a message is to the person it reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival<'a> {
    /// The conversation it belongs to: the sender, or the group.
    pub conversation: &'a str,
    /// It mentions the person.
    pub mentions_me: bool,
}

/// Whether a message should raise a notification. Busy silences everything; a mention is
/// shown even in a muted group or under do-not-disturb; what is on screen in a focused window
/// is read right there.
pub fn should_notify(
    prefs: &Preferences,
    status: StatusState,
    arrival: Arrival<'_>,
    window_in_front: bool,
    viewing: Option<&str>,
) -> bool {
    if status == StatusState::Busy || (window_in_front && viewing == Some(arrival.conversation)) {
        return false;
    }
    if arrival.mentions_me {
        return true;
    }
    !prefs.do_not_disturb && prefs.notify(arrival.conversation) == Notify::All
}

/// A notification's title and text for `count` messages from `name`, the newest `content`
/// (Markdown, shown as its plain words).
pub fn notification_text(
    prefs: &Preferences,
    name: &str,
    count: u32,
    content: &str,
) -> (String, String) {
    let summary = if count > 1 {
        format!("{name} ({count} new messages)")
    } else {
        name.to_owned()
    };
    let body = if prefs.hide_text {
        "New message".to_owned()
    } else {
        let plain = natter_protocol::markdown::plain_text(content);
        let mut preview: String = plain.chars().take(PREVIEW_CHARS).collect();
        if plain.chars().count() > PREVIEW_CHARS {
            preview.push('…');
        }
        preview
    };
    (summary, body)
}

/// One conversation's notification: replaced by its next message, not stacked.
pub(super) struct Shown {
    pub id: u32,
    pub count: u32,
    /// The messages it stands for (a deletion of one closes it).
    pub messages: Vec<u64>,
}

/// A notification to show.
pub(super) struct Pending {
    pub conversation: String,
    pub message: u64,
    pub name: String,
    pub content: String,
    /// The operator's announcement: its text shows even with "hide message text".
    pub announcement: bool,
}

impl Pending {
    /// The notification `message` raises, named from what the desktop knows.
    pub fn of(desktop: &super::Inner, message: &Message, conversation: &str) -> Self {
        let group = natter_protocol::is_group_id(&message.to);
        let sender = desktop
            .names
            .get(&message.from)
            .cloned()
            .unwrap_or_else(|| "Someone".into());
        Pending {
            conversation: conversation.to_owned(),
            message: message.id,
            name: match desktop.names.get(&message.to).filter(|_| group) {
                Some(group_name) => format!("{sender} in {group_name}"),
                None => sender,
            },
            content: match (&message.attachment, message.content.trim().is_empty()) {
                (Some(a), true) => format!("File: {}", a.name),
                _ => message.content.clone(),
            },
            announcement: false,
        }
    }

    /// The notification an announcement raises (a click brings the window and its banner).
    pub fn announcement(a: &natter_protocol::Announcement) -> Self {
        Pending {
            conversation: format!("announcement:{}", a.id),
            message: 0,
            name: "Announcement".into(),
            content: a.text.clone(),
            announcement: true,
        }
    }
}

/// Shows notifications one after the other, so the next message of a conversation replaces
/// the notification of the previous one (whose id is known only once the daemon answered).
pub(super) async fn show_in_order<R: Runtime>(
    app: AppHandle<R>,
    mut rx: mpsc::UnboundedReceiver<Pending>,
) {
    listen_for_clicks(app.clone()).await;
    while let Some(p) = rx.recv().await {
        let Some(desktop) = app.try_state::<Desktop>() else {
            return;
        };
        let (replaces, count, prefs) = {
            let inner = desktop.lock();
            match inner.shown.get(&p.conversation) {
                Some(s) => (Some(s.id), s.count + 1, inner.prefs.clone()),
                None => (None, 1, inner.prefs.clone()),
            }
        };
        let (summary, body) = if p.announcement {
            let shown = Preferences {
                hide_text: false,
                ..prefs
            };
            notification_text(&shown, &p.name, 1, &p.content)
        } else {
            notification_text(&prefs, &p.name, count, &p.content)
        };
        let mut n = notify_rust::Notification::new();
        n.appname("Natter")
            .summary(&summary)
            .body(&body)
            .icon("mail-message-new")
            .action("default", "Open");
        if let Some(id) = replaces {
            n.id(id);
        }
        let handle = match n.show_async().await {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(error = %e, "could not show a notification");
                continue;
            }
        };
        let mut inner = desktop.lock();
        let shown = inner.shown.entry(p.conversation).or_insert(Shown {
            id: handle.id(),
            count: 0,
            messages: Vec::new(),
        });
        shown.id = handle.id();
        shown.count = count;
        shown.messages.push(p.message);
    }
}

/// Closes notification `id` on the desktop (its message was deleted).
pub(super) async fn close(id: u32) {
    let closed = async {
        let conn = zbus::Connection::session().await?;
        conn.call_method(
            Some("org.freedesktop.Notifications"),
            "/org/freedesktop/Notifications",
            Some("org.freedesktop.Notifications"),
            "CloseNotification",
            &(id,),
        )
        .await?;
        Ok::<_, zbus::Error>(())
    };
    if let Err(e) = closed.await {
        tracing::warn!(id, error = %e, "could not close a notification");
    }
}

/// Opens the conversation of a notification the person clicks, for the app's life. Subscribed
/// before the first notification is shown, so no click can come before it listens.
async fn listen_for_clicks<R: Runtime>(app: AppHandle<R>) -> Option<()> {
    let conn = zbus::Connection::session()
        .await
        .inspect_err(|e| tracing::warn!(error = %e, "no session bus: notifications cannot open"))
        .ok()?;
    let rule = zbus::MatchRule::builder()
        .msg_type(zbus::message::Type::Signal)
        .interface("org.freedesktop.Notifications")
        .member("ActionInvoked")
        .build()
        .ok()?;
    let mut clicks = zbus::MessageStream::for_match_rule(rule, &conn, None)
        .await
        .inspect_err(|e| tracing::warn!(error = %e, "cannot hear notification clicks"))
        .ok()?;
    tauri::async_runtime::spawn(async move {
        use futures_util::StreamExt;
        while let Some(Ok(msg)) = clicks.next().await {
            let Ok((id, action)) = msg.body().deserialize::<(u32, String)>() else {
                continue;
            };
            tracing::debug!(id, action, "notification clicked");
            if action != "default" {
                continue;
            }
            let Some(desktop) = app.try_state::<Desktop>() else {
                return;
            };
            let conversation = desktop
                .lock()
                .shown
                .iter()
                .find(|(_, s)| s.id == id)
                .map(|(c, _)| c.clone());
            if let Some(c) = conversation {
                super::open_conversation(&app, &c);
            }
        }
    });
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(conversation: &str) -> Arrival<'_> {
        Arrival {
            conversation,
            mentions_me: false,
        }
    }

    fn notifies(prefs: &Preferences, status: StatusState, a: Arrival<'_>) -> bool {
        should_notify(prefs, status, a, false, None)
    }

    #[test]
    fn a_message_notifies_unless_its_conversation_is_in_front() {
        let prefs = Preferences::default();
        let av = StatusState::Available;
        assert!(
            should_notify(&prefs, av, from("bob"), false, Some("bob")),
            "hidden window"
        );
        assert!(
            should_notify(&prefs, av, from("bob"), true, Some("carol")),
            "another conversation"
        );
        assert!(should_notify(&prefs, av, from("bob"), true, None));
        assert!(
            !should_notify(&prefs, av, from("bob"), true, Some("bob")),
            "read right there"
        );
    }

    #[test]
    fn mute_and_do_not_disturb_silence_notifications_but_not_mentions() {
        let av = StatusState::Available;
        let mut prefs = Preferences::default();
        prefs.set_notify("g-1", Notify::Nothing);
        prefs.set_notify("g-2", Notify::Mentions);
        let mention = |c| Arrival {
            conversation: c,
            mentions_me: true,
        };
        assert!(!notifies(&prefs, av, from("g-1")));
        assert!(!notifies(&prefs, av, from("g-2")), "mentions only");
        assert!(
            notifies(&prefs, av, mention("g-1")),
            "a mention in a muted group"
        );
        assert!(notifies(&prefs, av, mention("g-2")));
        assert!(notifies(&prefs, av, from("carol")));
        prefs.do_not_disturb = true;
        assert!(!notifies(&prefs, av, from("carol")));
        assert!(
            notifies(&prefs, av, mention("g-1")),
            "a mention under do-not-disturb"
        );
        assert!(
            notifies(&prefs, StatusState::Away, mention("g-1")),
            "away does not silence"
        );
        assert!(
            !notifies(&prefs, StatusState::Busy, mention("g-1")),
            "busy silences mentions too"
        );
        prefs.do_not_disturb = false;
        assert!(!notifies(&prefs, StatusState::Busy, from("carol")));
        prefs.set_notify("g-1", Notify::All);
        assert!(notifies(&prefs, av, from("g-1")));
    }

    #[test]
    fn a_notification_names_the_sender_and_shows_the_plain_start_of_the_text() {
        let mut prefs = Preferences::default();
        let long = "x".repeat(300);
        let (summary, body) = notification_text(&prefs, "Bob", 1, &long);
        assert_eq!(summary, "Bob");
        assert_eq!(
            body.chars().count(),
            PREVIEW_CHARS + 1,
            "cut, with an ellipsis"
        );
        let (summary, body) = notification_text(&prefs, "Bob", 3, "**lunch** at `12`?");
        assert_eq!(summary, "Bob (3 new messages)");
        assert_eq!(body, "lunch at 12?", "plain text, not Markdown");
        prefs.hide_text = true;
        let (_, body) = notification_text(&prefs, "Bob", 1, "secret plans");
        assert_eq!(body, "New message");
    }
}
