//! Bytes of a file, shown safely in a message.
//!
//! An error that quotes a file's first bytes ("it starts with `...`") must not send them to
//! the terminal raw: a file can begin with escape sequences that clear the screen, retitle the
//! window or recolour what follows, and binary formats hold NUL bytes. [`escape_bytes`] keeps
//! printable text as it is and writes everything else as a Rust-style escape.

/// `bytes` as printable text: printable characters of valid UTF-8 as they are; control
/// characters (ESC, NUL, BEL, CR, ...), Unicode format characters (bidirectional overrides,
/// zero-width joiners) and the backslash as `\e`-free Rust escapes (`\u{1b}`, `\0`, `\\`,
/// `\n`, `\u{202e}`); bytes that are not UTF-8 as `\xNN`. At most `max_chars` characters of
/// the input are shown, then `...`.
///
/// ```
/// use sesr_model::display::escape_bytes;
/// assert_eq!(escape_bytes(b"\x1b[2Jhi\0\xff", 40), r"\u{1b}[2Jhi\0\xff");
/// assert_eq!(escape_bytes(b"YUV4MPEG2 W64", 5), "YUV4M...");
/// ```
pub fn escape_bytes(bytes: &[u8], max_chars: usize) -> String {
    let mut out = String::new();
    let mut shown = 0usize;
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if shown == max_chars {
                out.push_str("...");
                return out;
            }
            shown += 1;
            if c.is_control() || c == '\\' {
                out.extend(c.escape_debug());
            } else if is_invisible_format(c) {
                out.extend(c.escape_unicode());
            } else {
                out.push(c);
            }
        }
        for &b in chunk.invalid() {
            if shown == max_chars {
                out.push_str("...");
                return out;
            }
            shown += 1;
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// Unicode's invisible format characters, which reorder or hide what follows (bidirectional
/// overrides, zero-width spaces and joiners, the byte-order mark).
fn is_invisible_format(c: char) -> bool {
    matches!(c,
            '\u{00ad}' | '\u{061c}' | '\u{180e}' | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{206f}' | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_foreign_bytes_are_escaped_text_is_kept() {
        assert_eq!(escape_bytes(b"YUV4MPEG2 W64 H48", 100), "YUV4MPEG2 W64 H48");
        assert_eq!(
            escape_bytes("caf\u{e9} `x`".as_bytes(), 100),
            "caf\u{e9} `x`"
        );
        assert_eq!(
            escape_bytes(b"\x1b]0;title\x07\r\n\t", 100),
            r"\u{1b}]0;title\u{7}\r\n\t"
        );
        assert_eq!(escape_bytes(b"\0\0\0 ftypisom", 100), r"\0\0\0 ftypisom");
        assert_eq!(escape_bytes(b"a\\b", 100), r"a\\b");
        assert_eq!(
            escape_bytes(b"\x89PNG\r\n\x1a\n", 100),
            r"\x89PNG\r\n\u{1a}\n"
        );
        assert_eq!(
            escape_bytes("a\u{202e}b\u{200b}c".as_bytes(), 100),
            r"a\u{202e}b\u{200b}c"
        );
        // Nothing a terminal acts on survives.
        let all: Vec<u8> = (0..=255).collect();
        let shown = escape_bytes(&all, 1000);
        assert!(shown.chars().all(|c| !c.is_control()), "{shown}");
    }

    #[test]
    fn long_input_is_cut_by_characters() {
        assert_eq!(escape_bytes(b"abcdef", 3), "abc...");
        assert_eq!(escape_bytes(b"abc", 3), "abc");
        assert_eq!(escape_bytes(b"\xff\xfe\xfd", 2), r"\xff\xfe...");
        assert_eq!(escape_bytes(b"", 3), "");
    }
}
