//! Spell checking in the composer, in the desktop's languages. WebKitGTK keeps it off until the
//! app turns it on and names the languages; it checks through enchant with the system's
//! hunspell dictionaries (the .deb depends on one), and right-click offers suggestions.

/// The spelling languages for the desktop's locale settings (`LANGUAGE`, a colon-separated
/// list of preferences, then `LC_ALL`, `LC_MESSAGES`, `LANG`): `de_DE.UTF-8` → `de_DE`, in
/// order, once each; American English when none is set or all are `C`/`POSIX`.
pub fn languages(var: impl Fn(&str) -> Option<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let listed = var("LANGUAGE").unwrap_or_default();
    let locale = ["LC_ALL", "LC_MESSAGES", "LANG"]
        .into_iter()
        .find_map(|v| var(v).filter(|s| !s.is_empty()))
        .unwrap_or_default();
    for raw in listed.split(':').chain(std::iter::once(locale.as_str())) {
        let lang = raw.split(['.', '@']).next().unwrap_or_default().trim();
        if lang.is_empty() || lang == "C" || lang == "POSIX" || out.iter().any(|l| l == lang) {
            continue;
        }
        out.push(lang.to_owned());
    }
    if out.is_empty() {
        out.push("en_US".into());
    }
    out
}

/// Turns spell checking on for the window's web view.
pub fn enable<R: tauri::Runtime>(window: &tauri::WebviewWindow<R>) {
    let langs = languages(|v| std::env::var(v).ok());
    tracing::info!(?langs, "spell checking");
    #[cfg(target_os = "linux")]
    {
        let result = window.with_webview(move |webview| {
            use webkit2gtk::{WebContextExt, WebViewExt};
            let Some(context) = webview.inner().context() else {
                return;
            };
            context.set_spell_checking_enabled(true);
            let refs: Vec<&str> = langs.iter().map(String::as_str).collect();
            context.set_spell_checking_languages(&refs);
        });
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not turn spell checking on");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (window, langs);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn the_desktops_languages_in_order() {
        assert_eq!(languages(env(&[("LANG", "de_DE.UTF-8")])), ["de_DE"]);
        assert_eq!(
            languages(env(&[("LANGUAGE", "fr_FR:en_GB"), ("LANG", "fr_FR.UTF-8")])),
            ["fr_FR", "en_GB"]
        );
        assert_eq!(
            languages(env(&[("LC_ALL", "pt_BR.UTF-8@euro"), ("LANG", "C")])),
            ["pt_BR"]
        );
        assert_eq!(languages(env(&[("LANG", "C.UTF-8")])), ["en_US"]);
        assert_eq!(languages(env(&[])), ["en_US"]);
    }
}
