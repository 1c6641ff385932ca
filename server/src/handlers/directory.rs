//! A new session signed in by the office directory (`--ldap-url`): the directory login name
//! and password, checked by the directory; the identity of that login name (made on first
//! sign-in, or a name of its own taken over, same userID and history) gets the session.

use std::net::IpAddr;

use natter_protocol::{PASSWORD_MAX_BYTES, Refusal, normalize_username};

use super::session::{AuthError, Identity};
use crate::ServerState;
use crate::directory::{Directory, Person, SignIn};
use crate::ids;
use crate::store::NewUser;

pub(super) async fn sign_in(
    app: &ServerState,
    directory: &Directory,
    raw_username: &str,
    password: Option<String>,
    addr: IpAddr,
) -> Result<Identity, AuthError> {
    let username = normalize_username(raw_username).map_err(|_| Refusal::InvalidUsername)?;
    // Before any bind: a DN with an empty password is an "unauthenticated bind", which most
    // directories accept.
    let password = password
        .filter(|p| !p.is_empty())
        .ok_or(Refusal::PasswordRequired)?;
    if password.len() > PASSWORD_MAX_BYTES {
        return Err(Refusal::WrongPassword.into());
    }
    let signed_in = directory.sign_in(username, &password).await;
    drop(password);
    let person = match signed_in {
        Ok(SignIn::Allowed(person)) => person,
        Ok(SignIn::WrongPassword) => {
            app.throttle.failed(addr).await;
            return Err(Refusal::WrongPassword.into());
        }
        Ok(SignIn::NotAllowed) => return Err(Refusal::NotAllowed.into()),
        Ok(SignIn::Unknown) => {
            app.throttle.failed(addr).await;
            // A name of this server's own, which the directory does not know.
            let local = app.store.accounts_named(username).await?;
            return Err(if local.iter().any(|a| !a.directory) {
                Refusal::DirectoryRequired
            } else {
                Refusal::WrongPassword
            }
            .into());
        }
        Err(e) => {
            tracing::warn!(error = %e, "a directory sign-in could not be checked");
            return Err(Refusal::Unavailable.into());
        }
    };
    session_for(app, person).await
}

/// A new session for the identity of `person`'s login name.
async fn session_for(app: &ServerState, person: Person) -> Result<Identity, AuthError> {
    let login = normalize_username(&person.login)
        .map_err(|_| Refusal::InvalidUsername)?
        .to_owned();
    let session_id = ids::new_session_id()?;
    // Twice at most: another node may make the identity between our look and our create.
    for _ in 0..2 {
        if let Some(account) = app.store.accounts_named(&login).await?.into_iter().next() {
            if !account.directory || account.display_name != person.display_name {
                if !account.directory {
                    tracing::info!(user = %account.user_id, name = %account.username,
                        "a name of this server's own is taken over by the directory person of that login name");
                }
                app.store
                    .set_directory_identity(&account.user_id, person.display_name.as_deref())
                    .await?;
            }
            app.store.add_session(&session_id, &account.user_id).await?;
            return Ok(Identity::new(session_id, account.user_id, account.username)
                .named(person.display_name)
                .new_session("directory"));
        }
        let user_id = ids::new_user_id()?;
        let created = app
            .store
            .create_user(NewUser {
                session_id: session_id.clone(),
                user_id: user_id.clone(),
                username: login.clone(),
                password_hash: None,
                directory: true,
                display_name: person.display_name.clone(),
            })
            .await?;
        if created.is_ok() {
            return Ok(Identity::new(session_id, user_id, login)
                .named(person.display_name)
                .new_session("directory"));
        }
    }
    Err(Refusal::Unavailable.into())
}
