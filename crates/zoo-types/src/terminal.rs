use std::fmt::{self, Write};

/// Characters that must never reach a terminal raw: C0 and C1 controls (escape
/// sequences start with ESC or CSI), DEL, the bidirectional overrides, isolates
/// and marks that make text display in another order than it reads, and the
/// Unicode line and paragraph separators that break a line where none shows.
pub fn is_unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{061c}'
                | '\u{2028}'
                | '\u{2029}'
        )
}

/// Displays text from outside with every unsafe character escaped (`\n`,
/// `\u{1b}`, ...), optionally shortened to a number of characters. Use it for
/// anything a server, card or data set sent that is printed as it is.
#[derive(Debug, Clone, Copy)]
pub struct TerminalSafe<'a> {
    text: &'a str,
    max_chars: Option<usize>,
}

impl<'a> TerminalSafe<'a> {
    pub fn new(text: &'a str) -> TerminalSafe<'a> {
        TerminalSafe {
            text,
            max_chars: None,
        }
    }

    /// At most `max_chars` characters of the text, then `...`.
    pub fn shortened(text: &'a str, max_chars: usize) -> TerminalSafe<'a> {
        TerminalSafe {
            text,
            max_chars: Some(max_chars),
        }
    }

    /// Whether the text would be printed unchanged.
    pub fn is_clean(text: &str) -> bool {
        !text.chars().any(is_unsafe_char)
    }
}

impl fmt::Display for TerminalSafe<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let limit = self.max_chars.unwrap_or(usize::MAX);
        for (i, c) in self.text.chars().enumerate() {
            if i == limit {
                return f.write_str("...");
            }
            if is_unsafe_char(c) {
                for e in c.escape_default() {
                    f.write_char(e)?;
                }
            } else {
                f.write_char(c)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_controls_and_overrides() {
        let shown = TerminalSafe::new("ok\u{1b}[2J\n\u{9b}31m\u{202e}x").to_string();
        assert_eq!(shown, "ok\\u{1b}[2J\\n\\u{9b}31m\\u{202e}x");
        assert!(!shown.chars().any(is_unsafe_char));
        assert_eq!(TerminalSafe::new("café – ok").to_string(), "café – ok");
        assert_eq!(TerminalSafe::shortened("abcdef", 3).to_string(), "abc...");
        assert!(TerminalSafe::is_clean("plain"));
        assert!(!TerminalSafe::is_clean("bell\u{7}"));
        for hidden in [
            '\u{2028}', '\u{2029}', '\u{200e}', '\u{200f}', '\u{061c}', '\u{2067}',
        ] {
            assert!(is_unsafe_char(hidden), "{hidden:?}");
        }
    }
}
