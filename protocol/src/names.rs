//! The rules for names (people and groups) and for the characters of message content.

/// The longest username, in characters, after trimming.
pub const USERNAME_MAX_CHARS: usize = 32;

/// Why a name (a person's or a group's) is refused. A username refused for any of these is
/// the guide's [`crate::INVALID_USERNAME`] to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameError {
    Empty,
    /// Longer than `max` characters after trimming.
    TooLong {
        max: usize,
    },
    ControlCharacter,
    /// An invisible or direction-changing character (Unicode Cf, line/paragraph separators):
    /// it would let a name look like someone else's.
    InvisibleCharacter,
}

impl std::fmt::Display for NameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NameError::Empty => f.write_str("the name is empty"),
            NameError::TooLong { max } => write!(f, "the name is longer than {max} characters"),
            NameError::ControlCharacter => f.write_str("the name contains a control character"),
            NameError::InvisibleCharacter => {
                f.write_str("the name contains an invisible or direction-changing character")
            }
        }
    }
}

impl std::error::Error for NameError {}

/// Unicode's format characters (general category Cf, Unicode 15.1), which render as nothing
/// or reorder the text around them (zero-width spaces and joiners, bidi embeddings, overrides
/// and isolates, the BOM, tags).
const FORMAT_CHARACTERS: &[(u32, u32)] = &[
    (0x00AD, 0x00AD),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x180E, 0x180E),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
];

/// Whether `c` is invisible or changes the direction of text: Unicode Cf, or the line and
/// paragraph separators (U+2028, U+2029).
pub fn is_invisible_or_bidi(c: char) -> bool {
    let c = c as u32;
    c == 0x2028
        || c == 0x2029
        || FORMAT_CHARACTERS
            .iter()
            .any(|&(lo, hi)| (lo..=hi).contains(&c))
}

/// Whether message content may hold `c`: no C0 or C1 control characters but newline and tab
/// (they would ring bells or move the cursor in terminals and logs). Bidi controls are kept:
/// clients render each message isolated so they cannot reorder what is around it.
pub fn allowed_in_content(c: char) -> bool {
    c == '\n' || c == '\t' || !c.is_control()
}

/// Trims a username and checks it: 1–[`USERNAME_MAX_CHARS`] characters, no control, format or
/// bidi characters. The UI uses the same rule to say what is wrong before the server refuses
/// it; the server also compares names after NFKC and case folding.
pub fn normalize_username(raw: &str) -> Result<&str, NameError> {
    check_name(raw, USERNAME_MAX_CHARS)
}

pub(crate) fn check_name(raw: &str, max_chars: usize) -> Result<&str, NameError> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.chars().count() > max_chars {
        return Err(NameError::TooLong { max: max_chars });
    }
    if name.chars().any(char::is_control) {
        return Err(NameError::ControlCharacter);
    }
    if name.chars().any(is_invisible_or_bidi) {
        return Err(NameError::InvisibleCharacter);
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_trimmed_and_checked() {
        assert_eq!(normalize_username("  alice "), Ok("alice"));
        assert_eq!(normalize_username("   "), Err(NameError::Empty));
        assert_eq!(
            normalize_username("a\u{7}b"),
            Err(NameError::ControlCharacter)
        );
        assert_eq!(
            normalize_username(&"é".repeat(32)),
            Ok("é".repeat(32).as_str())
        );
        assert_eq!(
            normalize_username(&"é".repeat(33)),
            Err(NameError::TooLong { max: 32 })
        );
    }

    #[test]
    fn invisible_and_bidi_characters_are_refused_in_names() {
        let named = [
            0x200B, 0x200C, 0x200D, 0x200E, 0x200F, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066,
            0x2067, 0x2068, 0x2069, 0x2028, 0x2029, 0xFEFF, 0x00AD, 0xE0041,
        ];
        for c in named {
            let c = char::from_u32(c).unwrap();
            assert_eq!(
                normalize_username(&format!("al{c}ice")),
                Err(NameError::InvisibleCharacter),
                "U+{:04X}",
                c as u32
            );
        }
        assert_eq!(
            normalize_username("a\u{85}b"),
            Err(NameError::ControlCharacter)
        );
        for ok in ["Zoë", "李雷", "مريم", "O'Brien-Smith", "a b"] {
            assert_eq!(normalize_username(ok), Ok(ok));
        }
    }
}
