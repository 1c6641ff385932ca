//! How a server signs people in, asked before the login form is sent: a server that signs
//! people in with the office directory gets "Sign in with your network account".
//!
//! Asked with any certificate accepted: nothing secret is sent and the answer only changes the
//! form's words. The password itself goes only over the connection pinned to the certificate
//! the person trusted.

use std::time::Duration;

use natter_protocol::{AUTH_INFO_PATH, AuthInfo};

use crate::error::AppError;
use crate::server_url;

/// How long the form waits for the answer.
const TIMEOUT: Duration = Duration::from_secs(3);

/// `GET /auth-info` from the first server of what the person typed. A server too old to
/// answer (404) signs people in by name.
pub async fn fetch(typed: &str) -> Result<AuthInfo, AppError> {
    let list = server_url::normalize_list(typed)?;
    let first = server_url::split(&list)
        .into_iter()
        .next()
        .ok_or_else(|| AppError::InvalidServerUrl(typed.to_owned()))?;
    let unreachable = |e: reqwest::Error| AppError::Local(format!("{first}: {e}"));
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .danger_accept_invalid_hostnames(true)
        .timeout(TIMEOUT)
        .build()
        .map_err(unreachable)?;
    let response = client
        .get(format!("{first}{AUTH_INFO_PATH}"))
        .send()
        .await
        .map_err(unreachable)?;
    if response.status() == reqwest::StatusCode::NOT_FOUND {
        return Ok(AuthInfo::default());
    }
    response
        .error_for_status()
        .map_err(unreachable)?
        .json::<AuthInfo>()
        .await
        .map_err(unreachable)
}
