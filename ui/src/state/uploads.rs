//! Uploads in progress or failed, shown in the conversation they go to.

use natter_protocol::ipc::Upload;

use super::UiState;

impl UiState {
    /// An upload's progress: a finished one leaves (its message is in the outbox), a failed
    /// one stays to say why until [`Self::dismiss_upload`].
    pub(super) fn apply_upload(&mut self, upload: Upload) {
        self.uploads.retain(|u| u.id != upload.id);
        if upload.done != Some(Ok(())) {
            self.uploads.push(upload);
        }
    }

    pub fn dismiss_upload(&mut self, id: u64) {
        self.uploads.retain(|u| u.id != id);
    }

    /// The uploads of one conversation.
    pub fn uploads_to(&self, id: &str) -> Vec<Upload> {
        self.uploads
            .iter()
            .filter(|u| u.to == id)
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use natter_protocol::ipc::{AppEvent, Upload};

    use super::super::fixtures::*;

    #[test]
    fn finished_uploads_leave_and_failed_ones_stay() {
        let mut s = logged_in();
        let up = |done| Upload {
            id: 7,
            to: "bob".into(),
            name: "a.png".into(),
            sent: 5,
            total: 10,
            done,
        };
        s.apply(AppEvent::Upload { upload: up(None) });
        assert_eq!(s.uploads_to("bob").len(), 1);
        s.apply(AppEvent::Upload {
            upload: up(Some(Ok(()))),
        });
        assert!(s.uploads.is_empty());
        s.apply(AppEvent::Upload {
            upload: up(Some(Err("too large".into()))),
        });
        assert_eq!(s.uploads_to("bob")[0].done, Some(Err("too large".into())));
        s.dismiss_upload(7);
        assert!(s.uploads.is_empty());
    }
}
