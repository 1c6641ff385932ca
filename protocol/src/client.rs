//! For Rust clients: what a socket.io client library hands over, made into protocol values.
//! Used by the desktop shell and by the test clients, so both read the server alike.

use serde_json::Value;

/// An event's payload is its argument list; the guide's events carry one argument.
pub fn event_value(mut args: Vec<Value>) -> Value {
    if args.is_empty() {
        Value::Null
    } else {
        args.swap_remove(0)
    }
}

/// rust_socketio hands an ack's arguments one level deeper than an event's
/// (`[[answer]]`); this is the answer.
pub fn ack_value(args: Vec<Value>) -> Value {
    match event_value(args) {
        Value::Array(inner) => event_value(inner),
        other => other,
    }
}

/// The server's connect-error message out of rust_socketio's error text, e.g.
/// `Received an ConnectError frame: {"message":"invalid username"}` → `invalid username`;
/// the whole text when there is none.
pub fn connect_error_message(text: &str) -> String {
    text.find('{')
        .and_then(|i| serde_json::from_str::<Value>(&text[i..]).ok())
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| text.to_owned())
}

/// An event's payload as rust_socketio hands it over (binary payloads are not ours).
#[cfg(feature = "rust-socketio")]
pub fn event_payload(payload: rust_socketio::Payload) -> Value {
    event_value(payload_args(payload))
}

/// An ack's answer as rust_socketio hands it over.
#[cfg(feature = "rust-socketio")]
pub fn ack_payload(payload: rust_socketio::Payload) -> Value {
    ack_value(payload_args(payload))
}

#[cfg(feature = "rust-socketio")]
fn payload_args(payload: rust_socketio::Payload) -> Vec<Value> {
    match payload {
        rust_socketio::Payload::Text(v) => v,
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_are_unwrapped() {
        assert_eq!(event_value(vec![json!(1), json!(2)]), json!(1));
        assert_eq!(event_value(vec![]), Value::Null);
        assert_eq!(ack_value(vec![json!([{"id": 1}])]), json!({"id": 1}));
        assert_eq!(
            connect_error_message(
                r#"Received an ConnectError frame: {"message":"invalid username"}"#
            ),
            "invalid username"
        );
        assert_eq!(connect_error_message("EngineIO Error"), "EngineIO Error");
    }

    #[cfg(feature = "rust-socketio")]
    #[test]
    fn rust_socketio_payloads_are_unwrapped() {
        use rust_socketio::Payload;
        assert_eq!(
            ack_payload(Payload::Text(vec![json!([{"id": 1}])])),
            json!({"id": 1})
        );
        assert_eq!(event_payload(Payload::Text(vec![json!("u1")])), json!("u1"));
    }
}
