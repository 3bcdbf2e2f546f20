//! Text from outside (file names, titles, lyrics, a server's error) made safe to print on a
//! terminal: a name holding `ESC ] 0 ; … BEL` would otherwise set the terminal's title, `ESC [ 2 J`
//! clear its screen.

use std::borrow::Cow;

/// `text` with every control character (C0, DEL, C1: escape, bell, carriage return, line breaks
/// too) written as a visible `\u{…}` escape; text without one is returned as it is.
pub fn printable(text: &str) -> Cow<'_, str> {
    escaped(text, char::is_control)
}

/// [`printable`] for a block of lines (a message, a table): line breaks and tabs kept, every
/// other control character escaped.
pub fn printable_lines(text: &str) -> Cow<'_, str> {
    escaped(text, |c| c.is_control() && c != '\n' && c != '\t')
}

/// `text` with the characters `escape` picks written as `\u{…}`.
fn escaped(text: &str, escape: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !text.chars().any(&escape) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(text.chars().map(|c| if escape(c) { c.escape_unicode().to_string() } else { c.to_string() }).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_become_visible_and_plain_text_is_untouched() {
        assert_eq!(printable("\u{1b}]0;PWNED\u{7}.mp4"), "\\u{1b}]0;PWNED\\u{7}.mp4");
        assert_eq!(printable("a\u{9b}2Jb\r\n"), "a\\u{9b}2Jb\\u{d}\\u{a}");
        assert!(matches!(printable("Vidéo — ü 日本"), Cow::Borrowed("Vidéo — ü 日本")));
        assert_eq!(printable_lines("one\n\u{1b}[2Jtwo\tx"), "one\n\\u{1b}[2Jtwo\tx");
    }
}
