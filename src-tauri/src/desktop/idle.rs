//! Away by itself: after ten minutes without input on the desktop the person's status goes to
//! away, and comes back to available on the next input, unless they chose a state by hand.
//!
//! The session's idle time comes from the desktop over D-Bus (GNOME's `IdleMonitor`, in
//! milliseconds; `org.freedesktop.ScreenSaver`'s `GetSessionIdleTime` on KDE, XFCE and others,
//! in seconds); where neither answers, from the last input in the window.

use std::time::{Duration, Instant};

use natter_protocol::ipc::{AppEvent, EVENT};
use natter_protocol::{Status, StatusChange, StatusState};
use tauri::{AppHandle, Emitter, Manager, Runtime};

use super::Desktop;
use crate::connection::Connection;

/// Idle this long, a person is away.
pub const AWAY_AFTER: Duration = Duration::from_secs(10 * 60);
/// How often the idle time is read.
const POLL: Duration = Duration::from_secs(5);

/// The status the app sets, given the status now, whether it was the app that set away, and
/// how long the desktop has been idle; `None`: leave it. A state the person chose stays.
pub fn next_status(current: StatusState, auto_away: bool, idle: Duration) -> Option<StatusState> {
    match current {
        StatusState::Available if idle >= AWAY_AFTER => Some(StatusState::Away),
        StatusState::Away if auto_away && idle < AWAY_AFTER => Some(StatusState::Available),
        _ => None,
    }
}

/// How long the desktop session has been without input, as the desktop says.
async fn session_idle(conn: &zbus::Connection) -> Option<Duration> {
    let gnome = conn
        .call_method(
            Some("org.gnome.Mutter.IdleMonitor"),
            "/org/gnome/Mutter/IdleMonitor/Core",
            Some("org.gnome.Mutter.IdleMonitor"),
            "GetIdletime",
            &(),
        )
        .await
        .ok()
        .and_then(|reply| reply.body().deserialize::<u64>().ok());
    if let Some(ms) = gnome {
        return Some(Duration::from_millis(ms));
    }
    conn.call_method(
        Some("org.freedesktop.ScreenSaver"),
        "/org/freedesktop/ScreenSaver",
        Some("org.freedesktop.ScreenSaver"),
        "GetSessionIdleTime",
        &(),
    )
    .await
    .ok()
    .and_then(|reply| reply.body().deserialize::<u32>().ok())
    .map(|s| Duration::from_secs(u64::from(s)))
}

/// Watches the idle time for the app's life and sets the status when [`next_status`] says.
pub(super) fn watch<R: Runtime>(app: AppHandle<R>) {
    tauri::async_runtime::spawn(async move {
        let bus = zbus::Connection::session()
            .await
            .inspect_err(
                |e| tracing::info!(error = %e, "no session bus: idle from the window only"),
            )
            .ok();
        loop {
            tokio::time::sleep(POLL).await;
            let Some(desktop) = app.try_state::<Desktop>() else {
                return;
            };
            let idle = match &bus {
                Some(bus) => session_idle(bus).await,
                None => None,
            };
            let idle = idle.unwrap_or_else(|| desktop.since_input());
            let (status, auto_away) = desktop.own_status();
            let Some(next) = next_status(status.state, auto_away, idle) else {
                continue;
            };
            let Some(conn) = app.try_state::<Connection>() else {
                return;
            };
            let wanted = Status {
                state: next,
                text: status.text.clone(),
            };
            match conn.set_status(&wanted).await {
                Ok(()) => {
                    tracing::info!(state = next.as_str(), ?idle, "status set by the idle watch");
                    desktop.set_own_status(&app, wanted.clone(), next == StatusState::Away);
                    // The server tells our other devices; this window hears it from us.
                    if let Some(me) = desktop.me() {
                        let change = StatusChange {
                            user_id: me,
                            state: wanted.state,
                            text: wanted.text,
                        };
                        if let Err(e) = app.emit(EVENT, &AppEvent::Status { change }) {
                            tracing::warn!(error = %e, "could not show the idle status");
                        }
                    }
                }
                // Offline: tried again at the next look.
                Err(e) => tracing::debug!(error = %e, "could not set the idle status"),
            }
        }
    });
}

impl Desktop {
    /// The person used the window.
    pub fn activity(&self) {
        *self.last_input.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
    }

    fn since_input(&self) -> Duration {
        self.last_input
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn away_after_ten_idle_minutes_and_back_unless_chosen_by_hand() {
        let (a, w, b) = (StatusState::Available, StatusState::Away, StatusState::Busy);
        let minutes = |m: u64| Duration::from_secs(60 * m);
        assert_eq!(next_status(a, false, minutes(9)), None);
        assert_eq!(next_status(a, false, minutes(10)), Some(w));
        assert_eq!(next_status(w, true, minutes(30)), None, "still away");
        assert_eq!(
            next_status(w, true, Duration::ZERO),
            Some(a),
            "back on input"
        );
        assert_eq!(
            next_status(w, false, Duration::ZERO),
            None,
            "an away chosen by hand stays"
        );
        assert_eq!(next_status(b, false, minutes(60)), None, "busy stays busy");
    }
}
