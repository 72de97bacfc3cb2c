//! Which characters KDL allows where, and the byte-level look-ahead the parser reads them with.

use super::Parser;

/// ASCII bytes that may appear in an identifier string.
pub(super) static IDENT_ASCII: [bool; 128] = {
    let mut t = [false; 128];
    let mut i = 0x21;
    while i < 0x7F {
        t[i] = true;
        i += 1;
    }
    let bad = b"\\/(){};[]\"#=";
    let mut j = 0;
    while j < bad.len() {
        t[bad[j] as usize] = false;
        j += 1;
    }
    t
};

/// Whether `s` can be written as an identifier string (without quotes) and read back as itself:
/// identifier characters only, not starting like a number, not a KDL 1 keyword or a number word.
pub fn is_bare_identifier(s: &str) -> bool {
    let b = s.as_bytes();
    let digit_at = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let number_like = match b.first() {
        None => return false,
        Some(b'0'..=b'9') => true,
        Some(b'+' | b'-') => digit_at(1) || (b.get(1) == Some(&b'.') && digit_at(2)),
        Some(b'.') => digit_at(1),
        Some(_) => false,
    };
    !number_like && !matches!(s, "true" | "false" | "null" | "inf" | "-inf" | "nan") && s.chars().all(is_ident_char)
}

pub(crate) fn is_unicode_space(c: char) -> bool {
    matches!(c, '\t' | ' ' | '\u{A0}' | '\u{1680}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}')
}

pub(crate) fn is_newline_char(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{0B}' | '\u{0C}' | '\u{2028}' | '\u{2029}')
}

/// Code points that may not appear literally anywhere (the BOM is allowed only at offset 0, and
/// skipped before parsing starts).
pub(super) fn is_disallowed(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{8}'
        | '\u{E}'..='\u{1F}'
        | '\u{7F}'
        | '\u{200E}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2066}'..='\u{2069}'
        | '\u{FEFF}')
}

pub(super) fn is_ident_char(c: char) -> bool {
    if c.is_ascii() {
        IDENT_ASCII[c as usize]
    } else {
        !is_unicode_space(c) && !is_newline_char(c) && !is_disallowed(c)
    }
}

impl Parser<'_> {
    #[inline]
    pub(super) fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    #[inline]
    pub(super) fn peek_at(&self, at: usize) -> Option<u8> {
        self.b.get(at).copied()
    }

    #[inline]
    pub(super) fn starts_with(&self, at: usize, s: &[u8]) -> bool {
        self.b.get(at..at + s.len()) == Some(s)
    }

    /// The character at `at` (which must be a char boundary and in range).
    #[inline]
    pub(super) fn char_at(&self, at: usize) -> char {
        // Positions only ever advance by whole characters, so `at` is a boundary.
        self.src[at..].chars().next().unwrap_or('\0')
    }

    /// Byte length of a newline at `at`, or 0.
    #[inline]
    pub(super) fn newline_len(&self, at: usize) -> usize {
        match self.peek_at(at) {
            Some(b'\n' | 0x0B | 0x0C) => 1,
            Some(b'\r') => {
                if self.peek_at(at + 1) == Some(b'\n') {
                    2
                } else {
                    1
                }
            }
            Some(c) if c >= 0x80 => {
                let ch = self.char_at(at);
                if is_newline_char(ch) { ch.len_utf8() } else { 0 }
            }
            _ => 0,
        }
    }

    /// Byte length of a unicode-space at `at`, or 0.
    #[inline]
    pub(super) fn space_len(&self, at: usize) -> usize {
        match self.peek_at(at) {
            Some(b' ' | b'\t') => 1,
            Some(c) if c >= 0x80 => {
                let ch = self.char_at(at);
                if is_unicode_space(ch) { ch.len_utf8() } else { 0 }
            }
            _ => 0,
        }
    }

    /// One literal character at `at`: its length. A disallowed code point is recorded as an error
    /// and skipped, so the string or comment around it still parses.
    #[inline]
    pub(super) fn literal_char(&mut self, at: usize) -> usize {
        let c = self.b[at];
        if c < 0x80 {
            if (c < 0x20 && !matches!(c, b'\t' | b'\n' | b'\r' | 0x0B | 0x0C)) || c == 0x7F {
                let e = self.disallowed_at(at).expect("a disallowed ASCII character");
                self.soft(e);
            }
            1
        } else {
            let ch = self.char_at(at);
            if is_disallowed(ch) {
                let e = self.disallowed_at(at).expect("a disallowed character");
                self.soft(e);
            }
            ch.len_utf8()
        }
    }
}
