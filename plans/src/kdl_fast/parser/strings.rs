//! Strings: identifier strings, quoted strings and their escapes, raw strings, multi-line strings.

use super::Parser;
use super::cursor::{IDENT_ASCII, is_ident_char};
use super::error::{ParseError, R};
use super::kdl_v1::{kdl_v1_escape, kdl_v1_keyword};
use crate::fix::Edit;
use crate::span::Span;

impl Parser<'_> {
    /// Any string form (the caller checked [`Parser::is_string_start`]); checks what follows.
    pub(super) fn string(&mut self) -> R<(String, Span)> {
        let start = self.pos;
        let r = match self.b[self.pos] {
            b'"' => {
                if self.starts_with(self.pos, b"\"\"\"") {
                    self.multiline_string()
                } else {
                    self.quoted_string()
                }
            }
            b'#' => self.raw_string(),
            _ => self.identifier_string(),
        };
        let s = match r {
            Ok(s) => s,
            Err(e) => {
                // Go on after the string, so its text is not read as nodes.
                self.pos = match self.b[start] {
                    b'"' if e.kdl_v1 => self.kdl_v1_string_end(start),
                    b'"' | b'#' => self.string_resume(start),
                    _ => self.pos,
                };
                return Err(e);
            }
        };
        self.check_value_end(start)?;
        Ok((s, Span::new(start, self.pos - start)))
    }

    fn identifier_string(&mut self) -> R<String> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c < 0x80 {
                if !IDENT_ASCII[c as usize] {
                    break;
                }
                self.pos += 1;
            } else {
                let ch = self.char_at(self.pos);
                if !is_ident_char(ch) {
                    break;
                }
                self.pos += ch.len_utf8();
            }
        }
        let s = &self.src[start..self.pos];
        let b = s.as_bytes();
        let digit_at = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
        let bad = match b[0] {
            b'+' | b'-' => digit_at(1) || (b.get(1) == Some(&b'.') && digit_at(2)),
            b'.' => digit_at(1),
            _ => false,
        };
        if bad {
            let text = &self.src[start..self.pos];
            return Err(Box::new(
                ParseError::new(
                    Span::new(start, self.pos - start),
                    format!("`{text}` is not a number and cannot be a bare word"),
                    "starts like a number",
                )
                .help(format!("quote it: `\"{text}\"`"))
                .fix(Edit::new(Span::new(start, self.pos - start), format!("\"{text}\""))),
            ));
        }
        if let Some(e) = kdl_v1_keyword(start, s) {
            return Err(Box::new(e));
        }
        if matches!(s, "inf" | "-inf" | "nan") {
            return Err(Box::new(
                ParseError::new(
                    Span::new(start, self.pos - start),
                    format!("`{s}` cannot be a bare word"),
                    "a keyword",
                )
                .help(format!("write `#{s}` for the number, or quote it for the text: `\"{s}\"`")),
            ));
        }
        Ok(s.to_owned())
    }

    /// `"..."`, at the `"`.
    fn quoted_string(&mut self) -> R<String> {
        let open = self.pos;
        self.pos += 1;
        let start = self.pos;
        // Fast path: no escapes.
        loop {
            let Some(c) = self.peek() else {
                return Err(Box::new(self.unterminated(open)));
            };
            match c {
                b'"' => {
                    let s = self.src[start..self.pos].to_owned();
                    self.pos += 1;
                    return Ok(s);
                }
                b'\\' => break,
                0x20..=0x7E | b'\t' => self.pos += 1,
                _ => self.string_char(open)?,
            }
        }
        let mut out = String::with_capacity(self.pos - start + 16);
        out.push_str(&self.src[start..self.pos]);
        loop {
            let Some(c) = self.peek() else {
                return Err(Box::new(self.unterminated(open)));
            };
            match c {
                b'"' => {
                    self.pos += 1;
                    return Ok(out);
                }
                b'\\' => self.escape(Some(&mut out))?,
                0x20..=0x7E | b'\t' => {
                    out.push(c as char);
                    self.pos += 1;
                }
                _ => {
                    let at = self.pos;
                    self.string_char(open)?;
                    out.push_str(&self.src[at..self.pos]);
                }
            }
        }
    }

    /// A literal non-trivial character in a single-line quoted string: rejects newlines and
    /// disallowed code points.
    fn string_char(&mut self, open: usize) -> R<()> {
        if self.newline_len(self.pos) > 0 {
            return Err(Box::new(self.unterminated(open)));
        }
        self.pos += self.literal_char(self.pos);
        Ok(())
    }

    /// The error for a `"` string not closed on its line.
    fn unterminated(&self, open: usize) -> ParseError {
        let line_end = self.src[open..].find(['\n', '\r']).map_or(self.src.len(), |i| open + i);
        let e = ParseError::new(Span::new(open, 1), "this string is never closed", "string starts here")
            .related(Span::new(line_end, 0), "the line ends before a closing `\"`");
        if let Some(help) = self.kdl_v1_newline_in_string(line_end) {
            return e.help(help).kdl_v1();
        }
        e.help("add the closing `\"` before the end of the line")
    }

    /// Where to go on after a string that does not parse: past its end, or the end of its line.
    pub(super) fn string_resume(&self, open: usize) -> usize {
        let hashes = self.b[open..].iter().take_while(|&&b| b == b'#').count();
        let quote = open + hashes;
        let close: String = std::iter::once('"').chain(std::iter::repeat_n('#', hashes)).collect();
        if self.starts_with(quote, b"\"\"\"") {
            let close = format!("\"\"{close}");
            return self.src[quote + 3..].find(&close).map_or(self.src.len(), |i| quote + 3 + i + close.len());
        }
        let line_end = self.src[quote..].find(['\n', '\r']).map_or(self.src.len(), |i| quote + i);
        match self.src.get(quote + 1..line_end).and_then(|line| line.find(&close)) {
            Some(i) => quote + 1 + i + close.len(),
            None => line_end,
        }
    }

    /// An escape, at the `\`: appends its value to `out` (whitespace escapes append nothing).
    fn escape(&mut self, out: Option<&mut String>) -> R<()> {
        let at = self.pos;
        let c = match self.peek_at(at + 1) {
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'\\') => '\\',
            Some(b'"') => '"',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{C}',
            Some(b's') => ' ',
            Some(b'u') => {
                if self.peek_at(at + 2) != Some(b'{') {
                    self.soft(
                        ParseError::new(Span::new(at, 2), "`\\u` needs braces", "unicode escape")
                            .help("write `\\u{1F600}`: 1 to 6 hex digits in braces"),
                    );
                    self.pos = at + 2;
                    return Ok(());
                }
                let hex_start = at + 3;
                let mut i = hex_start;
                while i < self.b.len() && i - hex_start < 6 && self.b[i].is_ascii_hexdigit() {
                    i += 1;
                }
                if i == hex_start || self.peek_at(i) != Some(b'}') {
                    self.soft(
                        ParseError::new(Span::new(at, i - at), "this unicode escape cannot be read", "unicode escape")
                            .help("write `\\u{1F600}`: 1 to 6 hex digits in braces"),
                    );
                    self.pos = i;
                    return Ok(());
                }
                let v = u32::from_str_radix(&self.src[hex_start..i], 16).unwrap_or(u32::MAX);
                let Some(ch) = char::from_u32(v) else {
                    self.soft(
                        ParseError::new(
                            Span::new(at, i + 1 - at),
                            "this unicode escape is not a character",
                            "not a Unicode scalar value",
                        )
                        .help("surrogates (D800 to DFFF) and values above 10FFFF are not characters"),
                    );
                    self.pos = i + 1;
                    return Ok(());
                };
                self.pos = i + 1;
                if let Some(out) = out {
                    out.push(ch);
                }
                return Ok(());
            }
            _ => {
                // Whitespace escape: `\` followed by one or more spaces and newlines.
                let mut i = at + 1;
                loop {
                    let n = self.space_len(i).max(self.newline_len(i));
                    if n == 0 {
                        break;
                    }
                    i += n;
                }
                if i == at + 1 {
                    let next = self.src[at + 1..].chars().next();
                    let len = 1 + next.map_or(0, char::len_utf8);
                    let span = Span::new(at, len);
                    let e = kdl_v1_escape(span, next).unwrap_or_else(|| {
                        let written = &self.src[at..at + len];
                        ParseError::new(span, format!("unknown escape `{written}`"), "not an escape")
                            .help("escapes are \\n \\r \\t \\\\ \\\" \\b \\f \\s and \\u{...}; write `\\\\` for a backslash")
                            .fix(Edit::insert(at, "\\"))
                    });
                    self.soft(e);
                    self.pos = at + len;
                    return Ok(());
                }
                self.pos = i;
                return Ok(());
            }
        };
        self.pos = at + 2;
        if let Some(out) = out {
            out.push(c);
        }
        Ok(())
    }

    /// Whether a whitespace escape starts at `at`.
    fn ws_escape_at(&self, at: usize) -> bool {
        self.peek_at(at) == Some(b'\\') && (self.space_len(at + 1) > 0 || self.newline_len(at + 1) > 0)
    }

    /// Skips `(unicode-space | ws-escape)*` from `at` (if `escapes`), or `unicode-space*`;
    /// returns the end and appends the spaces (not the escapes) to `prefix`.
    fn ml_spaces(&self, mut at: usize, escapes: bool, mut prefix: Option<&mut Vec<u8>>) -> usize {
        loop {
            let n = self.space_len(at);
            if n > 0 {
                if let Some(p) = prefix.as_deref_mut() {
                    p.extend_from_slice(&self.b[at..at + n]);
                }
                at += n;
            } else if escapes && self.ws_escape_at(at) {
                at += 1;
                loop {
                    let n = self.space_len(at).max(self.newline_len(at));
                    if n == 0 {
                        break;
                    }
                    at += n;
                }
            } else {
                return at;
            }
        }
    }

    /// `"""` newline ... `"""`, at the first `"`.
    fn multiline_string(&mut self) -> R<String> {
        self.multiline(0)
    }

    /// The shared multi-line algorithm for quoted (`hashes == 0`) and raw strings, at the first `"`
    /// of the opening `"""`. The body's last line (only whitespace before the closing quotes) sets
    /// the prefix that every other non-blank line must start with; it is removed, blank lines
    /// become empty, newlines become `\n`, and the first and last newline are dropped.
    fn multiline(&mut self, hashes: usize) -> R<String> {
        let open = self.pos;
        let raw = hashes > 0;
        let mut close = Vec::with_capacity(3 + hashes);
        close.extend_from_slice(b"\"\"\"");
        close.resize(3 + hashes, b'#');
        self.pos += 3;
        let n = self.newline_len(self.pos);
        if n == 0 {
            return Err(Box::new(ParseError::new(Span::new(open, 3 + hashes), "a multi-line string starts on the line after `\"\"\"`", "text follows on this line")
                .help("for one line, write `\"...\"`; for several, start the text on the next line and put the closing `\"\"\"` on a line of its own")));
        }
        self.pos += n;
        let body = self.pos;
        // Pass 1: find the closing line and its whitespace prefix; validate every line.
        let mut prefix = Vec::new();
        loop {
            let e = self.ml_spaces(self.pos, !raw, None);
            if self.starts_with(e, &close) {
                self.ml_spaces(self.pos, !raw, Some(&mut prefix));
                break;
            }
            self.ml_line(open, &close, None)?;
        }
        // Pass 2: strip the prefix and build the value.
        self.pos = body;
        let mut out = String::new();
        loop {
            if self.starts_with(self.pos, &prefix) {
                let e = if raw {
                    self.ml_spaces(self.pos + prefix.len(), false, None)
                } else {
                    let mut e = self.pos + prefix.len();
                    while self.ws_escape_at(e) {
                        e = self.ml_spaces(e, true, None);
                        // ml_spaces with escapes also eats plain spaces; only escapes may follow
                        // the prefix on the closing line, but plain spaces there were part of
                        // the prefix in pass 1, so this cannot over-accept.
                    }
                    e
                };
                if self.starts_with(e, &close) {
                    self.pos = e + close.len();
                    if out.ends_with('\n') {
                        out.pop();
                    }
                    return Ok(out);
                }
            }
            let blank_end = self.ml_spaces(self.pos, !raw, None);
            let blank_nl = self.newline_len(blank_end);
            if self.starts_with(self.pos, &prefix) {
                self.pos += prefix.len();
            } else if blank_nl == 0 {
                let line_end = self.src[self.pos..].find(['\n', '\r']).map_or(self.b.len(), |i| self.pos + i);
                return Err(Box::new(ParseError::new(Span::new(self.pos, line_end - self.pos), "this line is indented less than the closing `\"\"\"`", "less indented")
                    .help("every line of a multi-line string starts with the whitespace before its closing `\"\"\"`: indent this line, or the closing `\"\"\"` less")));
            }
            let e = self.ml_spaces(self.pos, !raw, None);
            let n = self.newline_len(e);
            if n > 0 {
                self.pos = e + n;
                out.push('\n');
                continue;
            }
            self.ml_line(open, &close, Some(&mut out))?;
            out.push('\n');
        }
    }

    /// One line of a multi-line string body through its newline; escapes are resolved into `out`.
    fn ml_line(&mut self, open: usize, close: &[u8], mut out: Option<&mut String>) -> R<()> {
        let raw = close.len() > 3;
        loop {
            let Some(c) = self.peek() else {
                return Err(Box::new(
                    ParseError::new(Span::new(open, 3), "this multi-line string is never closed", "starts here")
                        .related(self.end_span(), "the file ends inside the string")
                        .help(format!("close it with `{}` on a line of its own", String::from_utf8_lossy(close))),
                ));
            };
            let n = self.newline_len(self.pos);
            if n > 0 {
                self.pos += n;
                return Ok(());
            }
            if c == b'"' && self.starts_with(self.pos, close) {
                return Err(Box::new(
                    ParseError::new(
                        Span::new(self.pos, close.len()),
                        "the closing `\"\"\"` of a multi-line string goes on a line of its own",
                        "after text",
                    )
                    .help("put a newline before it")
                    .fix(Edit::insert(self.pos, "\n")),
                ));
            }
            if c == b'\\' && !raw {
                self.escape(out.as_deref_mut())?;
                continue;
            }
            let at = self.pos;
            self.pos += self.literal_char(at);
            if let Some(o) = out.as_deref_mut() {
                o.push_str(&self.src[at..self.pos]);
            }
        }
    }

    /// `#"..."#`, `##"..."##`, `#"""` newline ... `"""#`, at the first `#`.
    fn raw_string(&mut self) -> R<String> {
        let open = self.pos;
        let mut hashes = 0;
        while self.peek() == Some(b'#') {
            hashes += 1;
            self.pos += 1;
        }
        if self.peek() != Some(b'"') {
            return Err(Box::new(self.here(
                self.pos,
                "expected `\"` after the `#`s of a raw string",
                "write a raw string as `#\"...\"#`",
            )));
        }
        if self.starts_with(self.pos, b"\"\"\"") && self.newline_len(self.pos + 3) > 0 {
            return self.multiline(hashes);
        }
        self.pos += 1;
        let start = self.pos;
        loop {
            let Some(c) = self.peek() else {
                return Err(Box::new(self.unterminated_raw(open, hashes)));
            };
            if c == b'"' && self.b[self.pos + 1..].iter().take(hashes).filter(|&&h| h == b'#').count() == hashes {
                break;
            }
            if self.newline_len(self.pos) > 0 {
                return Err(Box::new(self.unterminated_raw(open, hashes)));
            }
            self.pos += self.literal_char(self.pos);
        }
        let body = &self.src[start..self.pos];
        self.pos += 1 + hashes;
        if body.starts_with('"') && (body.len() == 1 || body.as_bytes()[1] == b'"') {
            return self.err(
                open,
                self.pos - open,
                "a one-line raw string cannot start with `\"\"`",
                "starts with `\"\"`",
            )
            .map_err(|e| Box::new(e.help("add a `#` on both sides (`##\"...\"##`), or put the text on the line after `#\"\"\"` for a multi-line raw string")));
        }
        Ok(body.to_owned())
    }

    /// The error for a raw string not closed on its line.
    fn unterminated_raw(&self, open: usize, hashes: usize) -> ParseError {
        let close: String = std::iter::once('"').chain(std::iter::repeat_n('#', hashes)).collect();
        ParseError::new(Span::new(open, hashes + 1), "this raw string is never closed", "starts here")
            .help(format!("close it on the same line with `{close}`; for text over several lines, write `#\"\"\"` and the text on the next line"))
    }
}
