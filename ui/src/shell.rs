//! The desktop shell as seen from the webview: Tauri's `invoke` and `listen`, typed with the
//! shared IPC models. Values cross as JSON text, so numbers (message ids) keep their meaning.

use natter_protocol::ipc::{
    AddMembersArgs, AppEvent, AttentionArgs, AuthInfoArgs, CreateGroupArgs, EVENT, EditArgs,
    ExportArgs, FetchOlderArgs, FileArgs, GroupArgs, LoginArgs, MarkReadArgs, MessageArgs,
    PickFileArgs, Preferences, SearchArgs, SendArgs, SendFileArgs, SendOutcome, SetPasswordArgs,
    SetPreferencesArgs, SetReceiptsArgs, TrustArgs, TypingArgs, UrlArgs, ViewingArgs, command,
};
use natter_protocol::{Edited, Group, MessagePage, React, Reacted, SearchResults, Status};
use serde::Serialize;
use serde::de::DeserializeOwned;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = ["window", "__TAURI__", "core"], js_name = invoke, catch)]
    async fn tauri_invoke(cmd: &str, args: JsValue) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(js_namespace = ["window", "__TAURI__", "event"], js_name = listen, catch)]
    async fn tauri_listen(
        event: &str,
        handler: &Closure<dyn FnMut(JsValue)>,
    ) -> Result<JsValue, JsValue>;
}

fn to_js<T: Serialize>(value: &T) -> JsValue {
    serde_json::to_string(value)
        .ok()
        .and_then(|s| js_sys::JSON::parse(&s).ok())
        .unwrap_or(JsValue::UNDEFINED)
}

fn from_js<T: DeserializeOwned>(value: &JsValue) -> Result<T, String> {
    let text: String = js_sys::JSON::stringify(value)
        .map_err(|_| "unreadable value".to_owned())?
        .into();
    serde_json::from_str(&text).map_err(|e| e.to_string())
}

/// Calls a command; its error (a string from the shell) comes back as `Err`.
async fn invoke<A: Serialize, T: DeserializeOwned>(cmd: &str, args: &A) -> Result<T, String> {
    match tauri_invoke(cmd, to_js(args)).await {
        Ok(v) if v.is_undefined() || v.is_null() => from_js(&JsValue::NULL),
        Ok(v) => from_js(&v),
        Err(e) => Err(e.as_string().unwrap_or_else(|| format!("{e:?}"))),
    }
}

/// Calls `f` with every [`AppEvent`] from the shell, for the life of the page.
pub async fn on_event(mut f: impl FnMut(AppEvent) + 'static) -> Result<(), String> {
    let handler = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
        let payload = js_sys::Reflect::get(&e, &JsValue::from_str("payload")).unwrap_or(e);
        match from_js::<AppEvent>(&payload) {
            Ok(ev) => f(ev),
            Err(err) => web_sys::console::warn_1(&format!("bad event: {err}").into()),
        }
    });
    tauri_listen(EVENT, &handler)
        .await
        .map_err(|e| format!("{e:?}"))?;
    // The page lives as long as the window: the listener must too.
    handler.forget();
    Ok(())
}

#[derive(Serialize)]
struct NoArgs {}

pub async fn start() -> Result<(), String> {
    invoke(command::START, &NoArgs {}).await
}

pub async fn login(args: LoginArgs) -> Result<(), String> {
    invoke(command::LOGIN, &args).await
}

pub async fn trust(fingerprint: String) -> Result<(), String> {
    invoke(command::TRUST, &TrustArgs { fingerprint }).await
}

pub async fn set_password(args: SetPasswordArgs) -> Result<(), String> {
    invoke(command::SET_PASSWORD, &args).await
}

pub async fn send(args: SendArgs) -> Result<SendOutcome, String> {
    invoke(command::SEND, &args).await
}

pub async fn edit_message(id: u64, content: String) -> Result<Edited, String> {
    invoke(command::EDIT_MESSAGE, &EditArgs { id, content }).await
}

pub async fn delete_message(id: u64) -> Result<(), String> {
    invoke(command::DELETE_MESSAGE, &MessageArgs { id }).await
}

pub async fn react(id: u64, emoji: String, on: bool) -> Result<Reacted, String> {
    invoke(command::REACT, &React { id, emoji, on }).await
}

pub async fn set_status(status: Status) -> Result<(), String> {
    invoke(command::SET_STATUS, &status).await
}

pub async fn open_url(url: String) -> Result<(), String> {
    invoke(command::OPEN_URL, &UrlArgs { url }).await
}

pub async fn activity() -> Result<(), String> {
    invoke(command::ACTIVITY, &NoArgs {}).await
}

pub async fn fetch_older(with: String, before: Option<u64>) -> Result<MessagePage, String> {
    invoke(command::FETCH_OLDER, &FetchOlderArgs { with, before }).await
}

pub async fn mark_read(with: String, up_to: u64) -> Result<(), String> {
    invoke(command::MARK_READ, &MarkReadArgs { with, up_to }).await
}

pub async fn set_receipts(send: bool) -> Result<(), String> {
    invoke(command::SET_RECEIPTS, &SetReceiptsArgs { send }).await
}

pub async fn typing(to: String) -> Result<(), String> {
    invoke(command::TYPING, &TypingArgs { to }).await
}

pub async fn viewing(with: Option<String>) -> Result<(), String> {
    invoke(command::VIEWING, &ViewingArgs { with }).await
}

pub async fn attention(unread: u32) -> Result<(), String> {
    invoke(command::ATTENTION, &AttentionArgs { unread }).await
}

pub async fn preferences() -> Result<Preferences, String> {
    invoke(command::PREFERENCES, &NoArgs {}).await
}

pub async fn set_preferences(preferences: Preferences) -> Result<(), String> {
    invoke(
        command::SET_PREFERENCES,
        &SetPreferencesArgs { preferences },
    )
    .await
}

pub async fn deployed() -> Result<natter_protocol::Deployed, String> {
    invoke(command::DEPLOYED, &NoArgs {}).await
}

pub async fn discovered() -> Result<(), String> {
    invoke(command::DISCOVERED, &NoArgs {}).await
}

pub async fn logout() -> Result<(), String> {
    invoke(command::LOGOUT, &NoArgs {}).await
}

pub async fn create_group(name: String, members: Vec<String>) -> Result<Group, String> {
    invoke(command::CREATE_GROUP, &CreateGroupArgs { name, members }).await
}

pub async fn add_members(group_id: String, members: Vec<String>) -> Result<Group, String> {
    invoke(command::ADD_MEMBERS, &AddMembersArgs { group_id, members }).await
}

pub async fn leave_group(group_id: String) -> Result<(), String> {
    invoke(command::LEAVE_GROUP, &GroupArgs { group_id }).await
}

/// The conversation saved as a web page and JSON (the save dialog asks where unless `path`);
/// where it went, `None` when the person cancelled.
pub async fn export_conversation(
    with: String,
    title: String,
    path: Option<String>,
) -> Result<Option<String>, String> {
    invoke(
        command::EXPORT_CONVERSATION,
        &ExportArgs { with, title, path },
    )
    .await
}

/// How the server at `server` (as typed) signs people in.
pub async fn auth_info(server: String) -> Result<natter_protocol::AuthInfo, String> {
    invoke(command::AUTH_INFO, &AuthInfoArgs { server }).await
}

pub async fn search(q: String, with: Option<String>) -> Result<SearchResults, String> {
    invoke(command::SEARCH, &SearchArgs { q, with }).await
}

pub async fn send_file(to: String, path: String) -> Result<(), String> {
    invoke(command::SEND_FILE, &SendFileArgs { to, path }).await
}

pub async fn pick_file(to: String) -> Result<(), String> {
    invoke(command::PICK_FILE, &PickFileArgs { to }).await
}

pub async fn save_file(file_id: String, name: String) -> Result<String, String> {
    invoke(command::SAVE_FILE, &FileArgs { file_id, name }).await
}

pub async fn preview(file_id: String, name: String) -> Result<String, String> {
    invoke(command::PREVIEW, &FileArgs { file_id, name }).await
}
