//! The KDL 2.0 grammar as a byte-level recursive-descent parser.
//!
//! Works on the UTF-8 bytes with a position; only non-ASCII bytes are decoded to `char`s. Strings
//! without escapes are copied from the source in one go. No backtracking beyond one token of
//! look-ahead (a string followed by `=` is a property key).

use std::fmt;

use super::ast::{Document, Entry, Ident, Node, Value};
use crate::span::Span;

/// The first syntax error in a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Where: usually the offending token (possibly empty at the end of the text).
    pub span: Span,
    /// What is wrong, e.g. "unterminated string".
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.message, self.span.offset)
    }
}

impl std::error::Error for ParseError {}

type R<T> = Result<T, ParseError>;

/// Parses a KDL 2.0 document.
pub fn parse(text: &str) -> Result<Document, ParseError> {
    let mut p = Parser { src: text, b: text.as_bytes(), pos: 0, node_stack: Vec::new(), entry_stack: Vec::new() };
    if p.b.starts_with("\u{FEFF}".as_bytes()) {
        p.pos = 3;
    }
    let nodes = p.nodes(None)?;
    debug_assert_eq!(p.pos, p.b.len());
    Ok(Document { nodes, span: Span::new(0, text.len()) })
}

/// ASCII bytes that may appear in an identifier string.
static IDENT_ASCII: [bool; 128] = {
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

fn is_unicode_space(c: char) -> bool {
    matches!(c, '\t' | ' ' | '\u{A0}' | '\u{1680}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}')
}

fn is_newline_char(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{0B}' | '\u{0C}' | '\u{2028}' | '\u{2029}')
}

/// Code points that may not appear literally anywhere (the BOM is allowed only at offset 0, and
/// skipped before parsing starts).
fn is_disallowed(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{8}'
        | '\u{E}'..='\u{1F}'
        | '\u{7F}'
        | '\u{200E}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2066}'..='\u{2069}'
        | '\u{FEFF}')
}

fn is_ident_char(c: char) -> bool {
    if c.is_ascii() {
        IDENT_ASCII[c as usize]
    } else {
        !is_unicode_space(c) && !is_newline_char(c) && !is_disallowed(c)
    }
}

struct Parser<'a> {
    src: &'a str,
    b: &'a [u8],
    pos: usize,
    /// Nodes and entries being collected, shared by all nesting levels, so that each finished list
    /// is one exactly-sized allocation instead of a chain of reallocations.
    node_stack: Vec<Node>,
    entry_stack: Vec<Entry>,
}

impl<'a> Parser<'a> {
    // ---------------------------------------------------------------- errors and low-level helpers

    fn err<T>(&self, at: usize, len: usize, message: impl Into<String>) -> R<T> {
        Err(ParseError { span: Span::new(at, len), message: message.into() })
    }

    /// An error about whatever is at `at` (one character, or nothing at the end).
    /// A disallowed code point there is reported as such, whatever was expected.
    fn err_here<T>(&self, at: usize, message: impl Into<String>) -> R<T> {
        let ch = self.src.get(at..).and_then(|s| s.chars().next());
        if let Some(ch) = ch.filter(|&c| is_disallowed(c)) {
            return self.err(at, ch.len_utf8(), format!("disallowed code point U+{:04X}", ch as u32));
        }
        self.err(at, ch.map_or(0, char::len_utf8), message)
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    #[inline]
    fn peek_at(&self, at: usize) -> Option<u8> {
        self.b.get(at).copied()
    }

    #[inline]
    fn starts_with(&self, at: usize, s: &[u8]) -> bool {
        self.b.get(at..at + s.len()) == Some(s)
    }

    /// The character at `at` (which must be a char boundary and in range).
    #[inline]
    fn char_at(&self, at: usize) -> char {
        // Positions only ever advance by whole characters, so `at` is a boundary.
        self.src[at..].chars().next().unwrap_or('\0')
    }

    /// Byte length of a newline at `at`, or 0.
    #[inline]
    fn newline_len(&self, at: usize) -> usize {
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
    fn space_len(&self, at: usize) -> usize {
        match self.peek_at(at) {
            Some(b' ' | b'\t') => 1,
            Some(c) if c >= 0x80 => {
                let ch = self.char_at(at);
                if is_unicode_space(ch) { ch.len_utf8() } else { 0 }
            }
            _ => 0,
        }
    }

    /// Checks one literal character at `at` for being a disallowed code point; returns its length.
    #[inline]
    fn literal_char(&self, at: usize) -> R<usize> {
        let c = self.b[at];
        if c < 0x80 {
            if (c < 0x20 && !matches!(c, b'\t' | b'\n' | b'\r' | 0x0B | 0x0C)) || c == 0x7F {
                return self.err(at, 1, format!("disallowed code point U+{c:04X}"));
            }
            Ok(1)
        } else {
            let ch = self.char_at(at);
            if is_disallowed(ch) {
                return self.err(at, ch.len_utf8(), format!("disallowed code point U+{:04X}", ch as u32));
            }
            Ok(ch.len_utf8())
        }
    }

    // ---------------------------------------------------------------- whitespace and comments

    /// `ws*`: unicode spaces and (nested) block comments.
    #[inline]
    fn skip_ws(&mut self) -> R<()> {
        loop {
            match self.peek() {
                Some(b' ' | b'\t') => self.pos += 1,
                Some(b'/') if self.peek_at(self.pos + 1) == Some(b'*') => self.block_comment()?,
                Some(c) if c >= 0x80 => {
                    let n = self.space_len(self.pos);
                    if n == 0 {
                        return Ok(());
                    }
                    self.pos += n;
                }
                _ => return Ok(()),
            }
        }
    }

    /// `node-space*`: `ws*` and line continuations.
    #[inline]
    fn skip_node_space(&mut self) -> R<()> {
        loop {
            self.skip_ws()?;
            if self.peek() == Some(b'\\') {
                self.escline()?;
            } else {
                return Ok(());
            }
        }
    }

    /// `line-space*`: node space, newlines and line comments.
    fn skip_line_space(&mut self) -> R<()> {
        loop {
            self.skip_node_space()?;
            let n = self.newline_len(self.pos);
            if n > 0 {
                self.pos += n;
            } else if self.starts_with(self.pos, b"//") {
                self.line_comment()?;
            } else {
                return Ok(());
            }
        }
    }

    /// `escline := '\' ws* (single-line-comment | newline | eof)`, at the `\`.
    fn escline(&mut self) -> R<()> {
        let start = self.pos;
        self.pos += 1;
        self.skip_ws()?;
        if self.pos == self.b.len() {
            return Ok(());
        }
        if self.starts_with(self.pos, b"//") {
            return self.line_comment();
        }
        let n = self.newline_len(self.pos);
        if n == 0 {
            return self.err(start, 1, "a line continuation `\\` must be followed by a newline or a comment");
        }
        self.pos += n;
        Ok(())
    }

    /// `// ...` through the newline (or the end), at the `//`.
    fn line_comment(&mut self) -> R<()> {
        self.pos += 2;
        while self.pos < self.b.len() {
            let c = self.b[self.pos];
            if (0x20..0x7F).contains(&c) || c == b'\t' {
                self.pos += 1;
                continue;
            }
            let n = self.newline_len(self.pos);
            if n > 0 {
                self.pos += n;
                return Ok(());
            }
            self.pos += self.literal_char(self.pos)?;
        }
        Ok(())
    }

    /// `/* ... */`, nested, at the `/*`.
    fn block_comment(&mut self) -> R<()> {
        let start = self.pos;
        self.pos += 2;
        let mut depth = 1usize;
        while self.pos < self.b.len() {
            match self.b[self.pos] {
                b'*' if self.peek_at(self.pos + 1) == Some(b'/') => {
                    self.pos += 2;
                    depth -= 1;
                    if depth == 0 {
                        return Ok(());
                    }
                }
                b'/' if self.peek_at(self.pos + 1) == Some(b'*') => {
                    self.pos += 2;
                    depth += 1;
                }
                c if (0x20..0x7F).contains(&c) || c == b'\t' || c == b'\n' || c == b'\r' => self.pos += 1,
                _ => self.pos += self.literal_char(self.pos)?,
            }
        }
        self.err(start, 2, "unterminated block comment")
    }

    // ---------------------------------------------------------------- nodes

    /// `nodes`, up to the end of the text (`open` is `None`) or the `}` closing the block opened
    /// at `open` (not consumed).
    fn nodes(&mut self, open: Option<usize>) -> R<Vec<Node>> {
        let base = self.node_stack.len();
        let r = self.nodes_onto_stack(open);
        let nodes = self.node_stack.drain(base..).collect();
        r.map(|()| nodes)
    }

    fn nodes_onto_stack(&mut self, open: Option<usize>) -> R<()> {
        loop {
            self.skip_line_space()?;
            match self.peek() {
                None => match open {
                    None => return Ok(()),
                    Some(at) => return self.err(at, 1, "no closing `}` for this children block"),
                },
                Some(b'}') => {
                    if open.is_some() {
                        return Ok(());
                    }
                    return self.err(self.pos, 1, "unexpected `}` outside a children block");
                }
                _ => {}
            }
            let slashdashed = self.starts_with(self.pos, b"/-");
            if slashdashed {
                self.pos += 2;
                self.skip_line_space()?;
                if matches!(self.peek(), None | Some(b'}')) {
                    return self.err_here(self.pos, "expected a node after `/-`");
                }
            }
            let node = self.node()?;
            // node-terminator (the node has consumed its trailing node-space).
            match self.peek() {
                None => {}
                Some(b';') => self.pos += 1,
                Some(b'}') if open.is_some() => {}
                Some(b'/') if self.peek_at(self.pos + 1) == Some(b'/') => self.line_comment()?,
                _ => {
                    let n = self.newline_len(self.pos);
                    if n == 0 {
                        return self.err_here(self.pos, "expected a newline, `;` or the end of the node here");
                    }
                    self.pos += n;
                }
            }
            if !slashdashed {
                self.node_stack.push(node);
            }
        }
    }

    /// `base-node` without its slashdash, including trailing node-space.
    fn node(&mut self) -> R<Node> {
        let start = self.pos;
        if self.peek() == Some(b'{') {
            return self.err(self.pos, 1, "found a children block instead of a node name");
        }
        let ty = if self.peek() == Some(b'(') {
            let t = self.type_annotation()?;
            self.skip_node_space()?;
            Some(t)
        } else {
            None
        };
        let name = self.ident("a node name")?;
        let base = self.entry_stack.len();
        let r = self.node_rest(name.span.end());
        let entries: Vec<Entry> = self.entry_stack.drain(base..).collect();
        let (end, children) = r?;
        Ok(Node { ty, name, entries, children, span: Span::new(start, end - start) })
    }

    /// Entries and children of a node (entries go on the entry stack); returns the end of the node
    /// and the children.
    fn node_rest(&mut self, mut end: usize) -> R<(usize, Option<Document>)> {
        let mut children: Option<Document> = None;
        // 0: entries allowed; 1: after a slashdashed children block; 2: after the children block.
        let mut state = 0u8;
        let mut after_children = usize::MAX;
        loop {
            let before = self.pos;
            self.skip_node_space()?;
            let had_space = self.pos > before;
            let Some(c) = self.peek() else { break };
            match c {
                b';' | b'}' | b'\n' | b'\r' | 0x0B | 0x0C => break,
                b'/' if self.peek_at(self.pos + 1) == Some(b'/') => break,
                b'{' => {
                    if state == 2 {
                        return self.err(self.pos, 1, "a node can have only one children block");
                    }
                    let doc = self.children_block()?;
                    end = doc.span.end();
                    children = Some(doc);
                    state = 2;
                    after_children = self.pos;
                }
                b'/' if self.peek_at(self.pos + 1) == Some(b'-') => {
                    let at = self.pos;
                    if !had_space && at != after_children {
                        return self.err(at, 2, "expected whitespace before `/-`");
                    }
                    self.pos += 2;
                    self.skip_line_space()?;
                    match self.peek() {
                        Some(b'{') => {
                            self.children_block()?;
                            if state == 0 {
                                state = 1;
                            }
                        }
                        None | Some(b'}' | b';') => {
                            return self.err_here(self.pos, "expected an entry or a block after `/-`");
                        }
                        Some(_) => {
                            if state != 0 {
                                return self.err(at, 2, "arguments and properties must come before children blocks");
                            }
                            self.entry()?;
                        }
                    }
                }
                _ => {
                    if c >= 0x80 && self.newline_len(self.pos) > 0 {
                        break;
                    }
                    if state != 0 {
                        return self.err_here(self.pos, "arguments and properties must come before children blocks");
                    }
                    if !had_space {
                        return self.err_here(self.pos, "expected whitespace before this entry");
                    }
                    let e = self.entry()?;
                    end = e.span.end();
                    self.entry_stack.push(e);
                }
            }
        }
        Ok((end, children))
    }

    /// `{ nodes }`, at the `{`; consumes the `}`.
    fn children_block(&mut self) -> R<Document> {
        let open = self.pos;
        self.pos += 1;
        let nodes = self.nodes(Some(open))?;
        self.pos += 1; // the `}`
        Ok(Document { nodes, span: Span::new(open, self.pos - open) })
    }

    /// `(type)`, at the `(`.
    fn type_annotation(&mut self) -> R<Ident> {
        self.pos += 1;
        self.skip_node_space()?;
        let ident = self.ident("a type name")?;
        self.skip_node_space()?;
        if self.peek() != Some(b')') {
            return self.err_here(self.pos, "expected `)` to close the type annotation");
        }
        self.pos += 1;
        Ok(ident)
    }

    /// A property or an argument.
    fn entry(&mut self) -> R<Entry> {
        let start = self.pos;
        if self.peek() == Some(b'(') {
            let ty = Some(self.type_annotation()?);
            self.skip_node_space()?;
            let (value, value_span) = self.value()?;
            return Ok(Entry { ty, name: None, value, value_span, span: Span::new(start, value_span.end() - start) });
        }
        if self.is_string_start() {
            let (s, sspan) = self.string()?;
            let after = self.pos;
            self.skip_node_space()?;
            if self.peek() == Some(b'=') {
                self.pos += 1;
                self.skip_node_space()?;
                let ty = if self.peek() == Some(b'(') {
                    let t = self.type_annotation()?;
                    self.skip_node_space()?;
                    Some(t)
                } else {
                    None
                };
                let (value, value_span) = self.value()?;
                return Ok(Entry {
                    ty,
                    name: Some(Ident { value: s, span: sspan }),
                    value,
                    value_span,
                    span: Span::new(start, value_span.end() - start),
                });
            }
            self.pos = after;
            return Ok(Entry { ty: None, name: None, value: Value::String(s), span: sspan, value_span: sspan });
        }
        let (value, value_span) = self.value()?;
        Ok(Entry { ty: None, name: None, value, value_span, span: value_span })
    }

    // ---------------------------------------------------------------- values

    /// Whether a string (not a number or keyword) starts here.
    fn is_string_start(&self) -> bool {
        match self.peek() {
            None => false,
            Some(b'"') => true,
            Some(b'#') => matches!(self.peek_at(self.pos + 1), Some(b'#' | b'"')),
            Some(b'0'..=b'9') => false,
            Some(b'+' | b'-') => !matches!(self.peek_at(self.pos + 1), Some(b'0'..=b'9')),
            Some(c) if c < 0x80 => IDENT_ASCII[c as usize],
            Some(_) => is_ident_char(self.char_at(self.pos)),
        }
    }

    /// A string used as a name, with its span.
    fn ident(&mut self, what: &str) -> R<Ident> {
        if !self.is_string_start() {
            return self.err_here(self.pos, format!("expected {what} (a string)"));
        }
        let (value, span) = self.string()?;
        Ok(Ident { value, span })
    }

    /// A value without type annotation: string, number or keyword.
    fn value(&mut self) -> R<(Value, Span)> {
        let start = self.pos;
        let v = match self.peek() {
            Some(b'#') if !matches!(self.peek_at(self.pos + 1), Some(b'#' | b'"')) => self.keyword()?,
            Some(b'0'..=b'9') => self.number()?,
            Some(b'+' | b'-') if matches!(self.peek_at(self.pos + 1), Some(b'0'..=b'9')) => self.number()?,
            _ if self.is_string_start() => return self.string().map(|(s, sp)| (Value::String(s), sp)),
            _ => return self.err_here(self.pos, "expected a value"),
        };
        Ok((v, Span::new(start, self.pos - start)))
    }

    /// Whether the character here may follow a value: whitespace, a newline, a comment, `\`, `;`,
    /// `=`, `)`, `{`, `}`, or the end.
    fn at_value_end(&self) -> bool {
        match self.peek() {
            None => true,
            Some(b'=' | b')' | b'{' | b'}' | b';' | b'\\' | b' ' | b'\t' | b'\n' | b'\r' | 0x0B | 0x0C) => true,
            Some(b'/') => matches!(self.peek_at(self.pos + 1), Some(b'/' | b'*')),
            Some(c) if c >= 0x80 => {
                let ch = self.char_at(self.pos);
                is_unicode_space(ch) || is_newline_char(ch)
            }
            Some(_) => false,
        }
    }

    fn check_value_end(&self, start: usize) -> R<()> {
        if self.at_value_end() {
            return Ok(());
        }
        if self.src[self.pos..].chars().next().is_some_and(is_disallowed) {
            return self.err_here(self.pos, "");
        }
        self.err(start, self.pos - start, "a value must be followed by whitespace, a newline, `;`, `{` or `}`")
    }

    /// `#true`, `#false`, `#null`, `#inf`, `#-inf`, `#nan`, at the `#`.
    fn keyword(&mut self) -> R<Value> {
        let start = self.pos;
        let rest = &self.b[self.pos + 1..];
        let (v, n) = if rest.starts_with(b"true") {
            (Value::Bool(true), 4)
        } else if rest.starts_with(b"false") {
            (Value::Bool(false), 5)
        } else if rest.starts_with(b"null") {
            (Value::Null, 4)
        } else if rest.starts_with(b"nan") {
            (Value::Float(f64::NAN), 3)
        } else if rest.starts_with(b"inf") {
            (Value::Float(f64::INFINITY), 3)
        } else if rest.starts_with(b"-inf") {
            (Value::Float(f64::NEG_INFINITY), 4)
        } else {
            return self.err(start, 1, "unknown keyword: use #true, #false, #null, #inf, #-inf or #nan");
        };
        self.pos += 1 + n;
        self.check_value_end(start)?;
        Ok(v)
    }

    /// A number, at its sign or first digit.
    fn number(&mut self) -> R<Value> {
        let start = self.pos;
        let neg = match self.b[self.pos] {
            b'-' => {
                self.pos += 1;
                true
            }
            b'+' => {
                self.pos += 1;
                false
            }
            _ => false,
        };
        if self.b[self.pos] == b'0' {
            let radix = match self.peek_at(self.pos + 1) {
                Some(b'x') => 16,
                Some(b'o') => 8,
                Some(b'b') => 2,
                _ => 0,
            };
            if radix != 0 {
                self.pos += 2;
                let digit = |c: u8| (c as char).to_digit(radix);
                if self.peek().and_then(digit).is_none() {
                    return self.err_here(self.pos, "expected a digit after the radix prefix");
                }
                let mut v: u128 = 0;
                let mut overflow = false;
                while let Some(c) = self.peek() {
                    if c == b'_' {
                    } else if let Some(d) = digit(c) {
                        match v.checked_mul(radix as u128).and_then(|v| v.checked_add(d as u128)) {
                            Some(n) => v = n,
                            None => overflow = true,
                        }
                    } else {
                        break;
                    }
                    self.pos += 1;
                }
                self.check_value_end(start)?;
                return self.integer(start, neg, v, overflow);
            }
        }
        let int_start = self.pos;
        self.digits();
        let int_end = self.pos;
        let mut float = false;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return self.err_here(self.pos, "expected a digit after the decimal point");
            }
            self.digits();
            float = true;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return self.err_here(self.pos, "expected a digit in the exponent");
            }
            self.digits();
            float = true;
        }
        self.check_value_end(start)?;
        if float {
            let text = &self.src[start..self.pos];
            let parsed = if text.contains('_') { text.replace('_', "").parse::<f64>() } else { text.parse::<f64>() };
            return match parsed {
                Ok(f) => Ok(Value::Float(f)),
                Err(_) => self.err(start, self.pos - start, "invalid number"),
            };
        }
        let mut v: u128 = 0;
        let mut overflow = false;
        for &c in &self.b[int_start..int_end] {
            if c != b'_' {
                match v.checked_mul(10).and_then(|v| v.checked_add((c - b'0') as u128)) {
                    Some(n) => v = n,
                    None => overflow = true,
                }
            }
        }
        self.integer(start, neg, v, overflow)
    }

    /// `digit (digit | '_')*`, at a digit.
    #[inline]
    fn digits(&mut self) {
        while let Some(b'0'..=b'9' | b'_') = self.peek() {
            self.pos += 1;
        }
    }

    fn integer(&self, start: usize, neg: bool, v: u128, overflow: bool) -> R<Value> {
        let limit = if neg { i128::MAX as u128 + 1 } else { i128::MAX as u128 };
        if overflow || v > limit {
            return self.err(start, self.pos - start, "integer too large (the limit is 128 bits)");
        }
        Ok(Value::Integer(if neg { (v as i128).wrapping_neg() } else { v as i128 }))
    }

    // ---------------------------------------------------------------- strings

    /// Any string form (the caller checked [`Parser::is_string_start`]); checks what follows.
    fn string(&mut self) -> R<(String, Span)> {
        let start = self.pos;
        let s = match self.b[self.pos] {
            b'"' => {
                if self.starts_with(self.pos, b"\"\"\"") {
                    self.multiline_string()?
                } else {
                    self.quoted_string()?
                }
            }
            b'#' => self.raw_string()?,
            _ => self.identifier_string()?,
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
            return self.err(start, self.pos - start, "an identifier cannot look like a number; quote it");
        }
        if matches!(s, "true" | "false" | "null" | "inf" | "-inf" | "nan") {
            return self.err(
                start,
                self.pos - start,
                format!("`{s}` cannot be a bare string: write `#{s}` for the keyword or quote it"),
            );
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
                return self.err(open, 1, "unterminated string");
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
                return self.err(open, 1, "unterminated string");
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
            return self.err(open, self.pos - open, "unterminated string (use `\"\"\"` for multi-line strings)");
        }
        self.pos += self.literal_char(self.pos)?;
        Ok(())
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
                    return self.err(at, 2, "invalid unicode escape: write `\\u{...}`");
                }
                let hex_start = at + 3;
                let mut i = hex_start;
                while i < self.b.len() && i - hex_start < 6 && self.b[i].is_ascii_hexdigit() {
                    i += 1;
                }
                if i == hex_start || self.peek_at(i) != Some(b'}') {
                    return self.err(at, i - at, "invalid unicode escape: 1 to 6 hex digits in `\\u{...}`");
                }
                let v = u32::from_str_radix(&self.src[hex_start..i], 16).unwrap_or(u32::MAX);
                let Some(ch) = char::from_u32(v) else {
                    return self.err(at, i + 1 - at, "invalid unicode escape: not a Unicode scalar value");
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
                    return self.err_here(at, "invalid escape");
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
            return self.err(
                open,
                3,
                "`\"\"\"` must be followed by a newline (multi-line strings start on the next line)",
            );
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
                return self.err(
                    self.pos,
                    line_end - self.pos,
                    "every line of a multi-line string must start with the whitespace before its closing `\"\"\"`",
                );
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
                return self.err(open, 3, "unterminated multi-line string");
            };
            let n = self.newline_len(self.pos);
            if n > 0 {
                self.pos += n;
                return Ok(());
            }
            if c == b'"' && self.starts_with(self.pos, close) {
                return self.err(
                    self.pos,
                    close.len(),
                    "the closing `\"\"\"` of a multi-line string must be on its own line",
                );
            }
            if c == b'\\' && !raw {
                self.escape(out.as_deref_mut())?;
                continue;
            }
            let at = self.pos;
            self.pos += self.literal_char(at)?;
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
            return self.err(open, hashes, "expected `\"` after `#` in a raw string");
        }
        if self.starts_with(self.pos, b"\"\"\"") && self.newline_len(self.pos + 3) > 0 {
            return self.multiline(hashes);
        }
        self.pos += 1;
        let start = self.pos;
        loop {
            let Some(c) = self.peek() else {
                return self.err(open, start - open, "unterminated raw string");
            };
            if c == b'"' && self.b[self.pos + 1..].iter().take(hashes).filter(|&&h| h == b'#').count() == hashes {
                break;
            }
            if self.newline_len(self.pos) > 0 {
                return self.err(
                    open,
                    self.pos - open,
                    "unterminated raw string (use `#\"\"\"` for multi-line raw strings)",
                );
            }
            self.pos += self.literal_char(self.pos)?;
        }
        let body = &self.src[start..self.pos];
        self.pos += 1 + hashes;
        if body.starts_with('"') && (body.len() == 1 || body.as_bytes()[1] == b'"') {
            return self.err(
                open,
                self.pos - open,
                "a single-line raw string cannot start with `\"\"` (multi-line raw strings need a newline after `\"\"\"`)",
            );
        }
        Ok(body.to_owned())
    }
}
