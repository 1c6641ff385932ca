//! The operator's announcements: the list the server gives at login, new ones, withdrawn
//! ones, and which banners to show (standing, not dismissed).

use natter_protocol::Announcement;
use natter_protocol::ipc::Preferences;

use super::UiState;

impl UiState {
    pub(super) fn replace_announcements(&mut self, list: Vec<Announcement>) {
        self.announcements = list;
    }

    pub(super) fn add_announcement(&mut self, a: Announcement) {
        if !self.announcements.iter().any(|x| x.id == a.id) {
            self.announcements.push(a);
        }
    }

    pub(super) fn withdraw_announcement(&mut self, id: u64) {
        self.announcements.retain(|a| a.id != id);
    }

    /// The banners to show at `now_ms`, oldest first: standing and not dismissed.
    pub fn banners(&self, now_ms: i64, prefs: &Preferences) -> Vec<Announcement> {
        self.announcements
            .iter()
            .filter(|a| prefs.shows(a, now_ms))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use natter_protocol::ipc::AppEvent;

    use super::super::fixtures::logged_in;
    use super::*;

    fn a(id: u64, until: Option<i64>) -> Announcement {
        Announcement {
            id,
            text: format!("notice {id}"),
            ts: 0,
            until,
        }
    }

    #[test]
    fn banners_stand_until_expired_withdrawn_or_dismissed() {
        let mut s = logged_in();
        s.apply(AppEvent::Announcements {
            announcements: vec![a(1, None), a(2, Some(100))],
        });
        s.apply(AppEvent::Announcement {
            announcement: a(3, None),
        });
        s.apply(AppEvent::Announcement {
            announcement: a(3, None),
        });
        let ids = |v: Vec<Announcement>| v.into_iter().map(|a| a.id).collect::<Vec<_>>();
        let none = Preferences::default();
        assert_eq!(ids(s.banners(50, &none)), [1, 2, 3], "once each");
        assert_eq!(ids(s.banners(100, &none)), [1, 3], "2 expired");
        let dismissed = Preferences {
            dismissed_announcements: [1].into(),
            ..Preferences::default()
        };
        assert_eq!(ids(s.banners(50, &dismissed)), [2, 3], "1 dismissed");
        s.apply(AppEvent::AnnouncementWithdrawn { id: 3 });
        assert_eq!(ids(s.banners(50, &none)), [1, 2]);
        // A new login's list is the server's.
        s.apply(AppEvent::Announcements {
            announcements: vec![a(4, None)],
        });
        assert_eq!(ids(s.banners(50, &none)), [4]);
    }
}
