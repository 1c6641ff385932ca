//! The connection's life: logging in and out, each attempt (certificate check, trust, a
//! fresh client), losing it and coming back with backoff, refusals, and `session`.

use natter_protocol::ipc::{AppEvent, ConnectionState};
use natter_protocol::{Auth, Refusal, Session};
use serde_json::json;

use super::client::{client_builder, disconnect_later};
use super::input::{Input, LinkEvent};
use super::manager::Manager;
use super::{Credentials, backoff};
use crate::error::AppError;
use crate::persist::SavedSession;
use crate::server_url;
use crate::tls::{self, Presented};

impl Manager {
    pub(super) fn start(&mut self) {
        tracing::info!("the UI is listening");
        self.emit_connection();
        self.emit_outbox();
        let Some(saved) = &self.saved else { return };
        // Who we are is known before the server answers: the UI can show the chat offline.
        self.emit(AppEvent::Session {
            session: saved.to_session(),
        });
        match self.state {
            // A reloaded UI needs `users` again: reconnect to have the server send it.
            ConnectionState::Connected | ConnectionState::LoggedOut => {
                self.set_state(ConnectionState::Connecting);
                self.begin_attempt();
            }
            _ => {}
        }
    }

    pub(super) fn login(&mut self, server_url: String, credentials: Credentials) {
        self.drop_client();
        self.fail_waiters();
        self.awaiting_trust = None;
        let same_session = self
            .saved
            .as_ref()
            .is_some_and(|s| s.server_url == server_url && s.username == credentials.username);
        let owner = (server_url.clone(), credentials.username.clone());
        if !same_session {
            self.saved = None;
            self.persist.save_session(None);
            if self.outbox_owner.as_ref() != Some(&owner) {
                // Another identity: the outbox was written by someone else, to another
                // server's users.
                self.outbox.clear();
                self.save_outbox();
            }
        }
        self.outbox_owner = Some(owner);
        self.server_url = Some(server_url);
        self.node = 0;
        self.login_failures = 0;
        self.pending_login = (!same_session).then_some(credentials);
        self.attempt = 0;
        self.set_state(ConnectionState::Connecting);
        self.begin_attempt();
    }

    pub(super) fn logout(&mut self) {
        self.drop_client();
        self.fail_waiters();
        self.saved = None;
        self.outbox_owner = None;
        self.awaiting_trust = None;
        self.pending_login = None;
        self.persist.save_session(None);
        self.outbox.clear();
        self.save_outbox();
        self.set_state(ConnectionState::LoggedOut);
    }

    /// Starts connection attempt `epoch + 1`: over https, first reads the certificate the
    /// server presents and checks it against the trusted one.
    pub(super) fn begin_attempt(&mut self) {
        self.drop_client();
        let epoch = self.epoch;
        let Some(list) = self.server_url.clone() else {
            return;
        };
        let nodes = server_url::split(&list);
        let Some(url) = nodes.get(self.node % nodes.len().max(1)).cloned() else {
            return;
        };
        self.node_url = Some(url.clone());
        if !url.starts_with("https://") {
            return self.connect(url, None);
        }
        let tx = self.tx.clone();
        tauri::async_runtime::spawn(async move {
            let result = tls::presented(&url).await;
            let _ = tx.send(Input::Link {
                epoch,
                event: LinkEvent::Presented { url, result },
            });
        });
        self.after(
            self.timing.session_timeout,
            Input::Link {
                epoch,
                event: LinkEvent::SessionTimeout,
            },
        );
    }

    /// The certificate `url` presented: connect if it is the trusted one, otherwise ask.
    pub(super) fn presented(&mut self, url: String, presented: Presented) {
        let fp = presented.fingerprint.clone();
        match self.pins.get(&url) {
            Some(pinned) if *pinned == fp => {}
            // The organisation vouches for it (a first contact, or a certificate it renewed).
            _ if self.deployed.trusts(&fp) => {
                tracing::info!(%url, fingerprint = %fp, "certificate deployed by the organisation");
                self.pins.insert(url.clone(), fp);
                self.persist.save_pins(&self.pins);
            }
            Some(_) => {
                tracing::warn!(%url, fingerprint = %fp, "the server's certificate changed");
                self.drop_client();
                self.awaiting_trust = Some((url, fp.clone()));
                self.set_state(ConnectionState::Untrusted {
                    fingerprint: fp,
                    changed: true,
                });
                return;
            }
            // The same server under another address (DHCP), or another node of a cluster
            // sharing one certificate.
            None if self.pins.values().any(|p| *p == fp) => {
                self.pins.insert(url.clone(), fp);
                self.persist.save_pins(&self.pins);
            }
            None => {
                self.drop_client();
                self.awaiting_trust = Some((url, fp.clone()));
                self.set_state(ConnectionState::Untrusted {
                    fingerprint: fp,
                    changed: false,
                });
                return;
            }
        }
        self.connect(url, Some(presented.der));
    }

    /// The person accepted the certificate they were shown.
    pub(super) fn trust(&mut self, fingerprint: String) -> Result<(), AppError> {
        let Some((url, shown)) = self.awaiting_trust.take() else {
            return Err(AppError::NothingToTrust);
        };
        if shown != fingerprint {
            self.awaiting_trust = Some((url, shown));
            return Err(AppError::NothingToTrust);
        }
        tracing::info!(%url, %fingerprint, "certificate trusted");
        self.pins.insert(url, fingerprint);
        self.persist.save_pins(&self.pins);
        self.set_state(if self.pending_login.is_some() {
            ConnectionState::Connecting
        } else {
            ConnectionState::Reconnecting {
                attempt: self.attempt.max(1),
            }
        });
        self.begin_attempt();
        Ok(())
    }

    /// Builds the socket.io client for `url`, pinned to `cert` over https.
    pub(super) fn connect(&mut self, url: String, cert: Option<Vec<u8>>) {
        let epoch = self.epoch;
        let auth = match (&self.pending_login, &self.saved) {
            (Some(credentials), _) => credentials.auth(),
            // The username lets the server start over if it lost our session (wiped data),
            // and say "session revoked" if it was revoked.
            (None, Some(s)) => Auth {
                session_id: Some(s.session_id.clone()),
                username: Some(s.username.clone()),
                ..Auth::default()
            },
            (None, None) => return,
        };
        // Presence batched: a login storm is a few events, not one per person.
        let auth = json!(Auth {
            batch_presence: true,
            ..auth
        });
        tracing::info!(%url, "connecting");
        let mut builder = client_builder(&url, auth, epoch, self.tx.clone());
        self.node_cert = cert.clone();
        if let Some(der) = cert {
            match tls::pinned_connector(&der) {
                Ok(connector) => builder = builder.tls_config(connector),
                Err(e) => return self.lost(format!("TLS: {e}")),
            }
        }
        let tx = self.tx.clone();
        tauri::async_runtime::spawn(async move {
            let result = builder.connect().await.map_err(|e| e.to_string());
            let _ = tx.send(Input::Link {
                epoch,
                event: LinkEvent::Built(result),
            });
        });
        if !url.starts_with("https://") {
            // Over https the timer started with the certificate check.
            self.after(
                self.timing.session_timeout,
                Input::Link {
                    epoch,
                    event: LinkEvent::SessionTimeout,
                },
            );
        }
    }

    /// Drops the current client (if any); whatever it still reports is ignored.
    pub(super) fn drop_client(&mut self) {
        self.epoch += 1;
        self.in_flight = None;
        if let Some(client) = self.client.take() {
            disconnect_later(client);
        }
    }

    /// The connection (or the attempt) is gone: retry with backoff if we have an identity.
    pub(super) fn lost(&mut self, reason: String) {
        tracing::info!(%reason, "connection lost");
        self.drop_client();
        self.fail_waiters();
        if self.pending_login.is_some() {
            // A first login tries each node of the list once before giving up.
            let nodes = self
                .server_url
                .as_deref()
                .map_or(0, |l| server_url::split(l).len());
            if self.login_failures + 1 < nodes {
                self.login_failures += 1;
                self.node = self.node.wrapping_add(1);
                self.begin_attempt();
                return;
            }
            self.pending_login = None;
            self.set_state(ConnectionState::Unreachable { reason });
            return;
        }
        if self.saved.is_none() {
            self.set_state(ConnectionState::LoggedOut);
            return;
        }
        // With several nodes, the next attempt goes to the next one: a dead node is left at
        // once, and its sessions resume elsewhere.
        self.node = self.node.wrapping_add(1);
        self.attempt += 1;
        let delay = backoff(self.attempt, &self.timing);
        self.set_state(ConnectionState::Offline {
            reason,
            retry_in_ms: delay.as_millis() as u64,
        });
        self.after(delay, Input::Retry { epoch: self.epoch });
    }

    /// The server refused the handshake. A refusal of the credentials (unknown or revoked
    /// session, wrong password) ends the session it refused, and nothing else: the outbox
    /// stays for the same person's next login. "Unavailable" or "too many attempts" only
    /// mean later: the session is kept and the connection retried.
    pub(super) fn refused(&mut self, reason: String) {
        if Refusal::from_message(&reason).is_some_and(|r| !r.is_credential()) {
            tracing::info!(%reason, "the server cannot take us now");
            if self.pending_login.is_some() {
                self.pending_login = None;
                self.drop_client();
                self.fail_waiters();
                self.set_state(ConnectionState::Refused { reason });
            } else {
                self.lost(reason);
            }
            return;
        }
        tracing::warn!(%reason, "the server refused the handshake");
        self.drop_client();
        self.fail_waiters();
        self.pending_login = None;
        if self.saved.take().is_some() {
            self.persist.save_session(None);
        }
        self.set_state(ConnectionState::Refused { reason });
    }

    pub(super) async fn connected(&mut self, session: Session) {
        let Some(server_url) = self.server_url.clone() else {
            return;
        };
        self.outbox_owner = Some((server_url.clone(), session.username.clone()));
        let saved = SavedSession {
            server_url,
            session_id: session.session_id.clone(),
            user_id: session.user_id.clone(),
            username: session.username.clone(),
            display_name: session.display_name.clone(),
        };
        if self.saved.as_ref() != Some(&saved) {
            self.persist.save_session(Some(&saved));
            self.saved = Some(saved);
        }
        self.pending_login = None;
        self.attempt = 0;
        self.emit(AppEvent::Session { session });
        self.set_state(ConnectionState::Connected);
        self.pump().await;
    }
}
