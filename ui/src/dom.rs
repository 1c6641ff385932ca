//! Small helpers over the page: its clock, focus, local time, and the console.

use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;

/// Shows a failed call in the console: the page has nowhere better for background errors.
pub fn warn(what: &str, e: String) {
    web_sys::console::warn_1(&format!("{what}: {e}").into());
}

pub fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

/// A signal set to the time every `every_ms`, for what expires on its own (typing).
pub fn ticker(every_ms: i32) -> ReadSignal<u64> {
    let (now, set_now) = signal(now_ms());
    let tick = Closure::<dyn FnMut()>::new(move || set_now.set(now_ms()));
    if let Some(w) = web_sys::window() {
        let _ = w.set_interval_with_callback_and_timeout_and_arguments_0(
            tick.as_ref().unchecked_ref(),
            every_ms,
        );
    }
    // Lives as long as the page.
    tick.forget();
    now
}

/// Whether the window has the keyboard focus, kept current by its focus and blur events.
pub fn window_focus() -> ReadSignal<bool> {
    let window = web_sys::window();
    let initially = window
        .as_ref()
        .and_then(|w| w.document())
        .and_then(|d| d.has_focus().ok())
        .unwrap_or(true);
    let (focused, set_focused) = signal(initially);
    if let Some(w) = window {
        for (name, value) in [("focus", true), ("blur", false)] {
            let listener = Closure::<dyn FnMut()>::new(move || set_focused.set(value));
            let _ = w.add_event_listener_with_callback(name, listener.as_ref().unchecked_ref());
            listener.forget();
        }
    }
    focused
}

/// `HH:MM` in local time.
pub fn clock(ts_ms: i64) -> String {
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ts_ms as f64));
    format!("{:02}:{:02}", d.get_hours(), d.get_minutes())
}

pub fn initial(name: &str) -> String {
    name.chars()
        .next()
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_default()
}

/// Calls `f` on the person's input in the window (keys, the mouse), for the page's life.
pub fn on_input(f: impl Fn() + 'static) {
    let Some(w) = web_sys::window() else {
        return;
    };
    let f = std::rc::Rc::new(f);
    for name in ["keydown", "mousedown", "mousemove", "wheel"] {
        let f = f.clone();
        let listener = Closure::<dyn FnMut()>::new(move || f());
        let _ = w.add_event_listener_with_callback(name, listener.as_ref().unchecked_ref());
        listener.forget();
    }
}
