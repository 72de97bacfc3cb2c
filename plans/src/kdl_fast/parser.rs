//! The KDL 2.0 grammar as a byte-level recursive-descent parser that recovers from errors.
//!
//! Works on the UTF-8 bytes with a position; only non-ASCII bytes are decoded to `char`s. Strings
//! without escapes are copied from the source in one go. No backtracking beyond one token of
//! look-ahead (a string followed by `=` is a property key).
//!
//! Recovery: a node with an error is skipped to its end (a newline or `;` outside strings and
//! blocks; a `{ }` block inside it is still parsed, so braces stay balanced), and parsing goes on
//! with the next node. Problems that do not derail the parse (a disallowed code point, an unknown
//! escape) are recorded where they are and parsing continues in place. So every syntax error is
//! reported once, at its own token, in one pass; the valid path pays nothing for this.

use std::fmt;

use super::ast::{Comment, CommentKind, Document, Entry, Ident, Node, Value};
use crate::fix::Edit;
use crate::span::Span;

/// One syntax error, in planrun's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Where: the offending token (possibly empty at the end of the text).
    pub span: Span,
    /// What is wrong, e.g. "this string is never closed".
    pub message: String,
    /// The text shown at the span.
    pub label: String,
    /// How to fix it.
    pub help: Option<String>,
    /// Other places that explain the error (where a block opened, where the file ends).
    pub related: Vec<(Span, String)>,
    /// Edits that fix it, when the fix is certain.
    pub fix: Vec<Edit>,
    /// The construct is KDL 1 that KDL 2 spells differently.
    pub kdl_v1: bool,
}

impl ParseError {
    /// An error at `span` saying `message`, labelled `label`.
    pub fn new(span: Span, message: impl Into<String>, label: impl Into<String>) -> Self {
        ParseError {
            span,
            message: message.into(),
            label: label.into(),
            help: None,
            related: Vec::new(),
            fix: Vec::new(),
            kdl_v1: false,
        }
    }

    /// Sets the help text.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds a secondary place.
    pub fn related(mut self, span: Span, text: impl Into<String>) -> Self {
        self.related.push((span, text.into()));
        self
    }

    /// Adds an edit that fixes the error.
    pub fn fix(mut self, edit: Edit) -> Self {
        self.fix.push(edit);
        self
    }

    /// Marks the error as a KDL 1 construct.
    pub fn kdl_v1(mut self) -> Self {
        self.kdl_v1 = true;
        self
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.message, self.span.offset)
    }
}

impl std::error::Error for ParseError {}

/// Boxed: the error is rare and large, the `Ok` side is the hot path.
type R<T> = Result<T, Box<ParseError>>;

/// Parses a KDL 2.0 document; on failure, every syntax error found, in file order.
pub fn parse(text: &str) -> Result<Document, Vec<ParseError>> {
    parse_with_comments(text).map(|(doc, _)| doc)
}

/// Parses a KDL 2.0 document and also returns its comments (`//`, `/* */` and `/-` ones, in the
/// order they end; a comment inside a slashdashed part is listed as well as that part).
pub fn parse_with_comments(text: &str) -> Result<(Document, Vec<Comment>), Vec<ParseError>> {
    let mut p = Parser {
        src: text,
        b: text.as_bytes(),
        pos: 0,
        node_stack: Vec::new(),
        entry_stack: Vec::new(),
        errors: Vec::new(),
        unclosed: Vec::new(),
        misindented: None,
        comments: Vec::new(),
    };
    if p.b.starts_with("\u{FEFF}".as_bytes()) {
        p.pos = 3;
    }
    let nodes = p.nodes(None);
    debug_assert_eq!(p.pos, p.b.len());
    if !p.unclosed.is_empty() {
        let e = p.unclosed_error();
        p.errors.push(e);
    }
    if p.errors.is_empty() {
        return Ok((Document { nodes, span: Span::new(0, text.len()) }, p.comments));
    }
    let mut errors = p.errors;
    errors.sort_by_key(|e| (e.span.offset, e.span.len));
    errors.dedup_by(|a, b| a.span.offset == b.span.offset);
    Err(errors)
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
    /// Every error so far.
    errors: Vec<ParseError>,
    /// `{` of blocks still open at the end of the text, innermost first.
    unclosed: Vec<usize>,
    /// The first block whose `}` is indented differently from the line of its `{`: with an
    /// unclosed block, the likely place of the missing `}`.
    misindented: Option<(usize, usize)>,
    /// Every comment so far (for the formatter; cheap: files have few comments).
    comments: Vec<Comment>,
}

impl<'a> Parser<'a> {
    // ---------------------------------------------------------------- errors and low-level helpers

    fn err<T>(&self, at: usize, len: usize, message: impl Into<String>, label: impl Into<String>) -> R<T> {
        Err(Box::new(ParseError::new(Span::new(at, len), message, label)))
    }

    /// The span of the character at `at` (empty at the end of the text).
    fn char_span(&self, at: usize) -> Span {
        let ch = self.src.get(at..).and_then(|s| s.chars().next());
        Span::new(at, ch.map_or(0, char::len_utf8))
    }

    /// How the character at `at` is named in messages.
    fn describe(&self, at: usize) -> String {
        match self.src.get(at..).and_then(|s| s.chars().next()) {
            None => "the end of the file".into(),
            Some('\n' | '\r') => "the end of the line".into(),
            Some(c) if is_disallowed(c) => format!("U+{:04X}", c as u32),
            Some(c) => format!("`{c}`"),
        }
    }

    /// An error about whatever is at `at` (one character, or nothing at the end). A disallowed
    /// code point there is reported as such, whatever was expected.
    fn err_here<T>(&self, at: usize, message: impl Into<String>, help: impl Into<String>) -> R<T> {
        Err(Box::new(self.here(at, message, help)))
    }

    /// The error of [`Parser::err_here`], as a value.
    fn here(&self, at: usize, message: impl Into<String>, help: impl Into<String>) -> ParseError {
        if let Some(e) = self.disallowed_at(at) {
            return e;
        }
        let found = self.describe(at);
        ParseError::new(self.char_span(at), message, format!("found {found}")).help(help)
    }

    /// The error for a disallowed code point at `at`, if there is one.
    fn disallowed_at(&self, at: usize) -> Option<ParseError> {
        let ch = self.src.get(at..).and_then(|s| s.chars().next()).filter(|&c| is_disallowed(c))?;
        let what = if ch == '\u{FEFF}' {
            "a byte order mark (U+FEFF) is allowed only at the start of a file"
        } else {
            "KDL does not allow this control or direction character"
        };
        Some(
            ParseError::new(
                Span::new(at, ch.len_utf8()),
                format!("invisible character U+{:04X} in the file", ch as u32),
                "here",
            )
            .help(format!("{what}: delete it (in a string, write it as `\\u{{{:x}}}`)", ch as u32))
            .fix(Edit::new(Span::new(at, ch.len_utf8()), "")),
        )
    }

    /// Records an error that does not stop parsing.
    fn soft(&mut self, e: ParseError) {
        self.errors.push(e);
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

    /// One literal character at `at`: its length. A disallowed code point is recorded as an error
    /// and skipped, so the string or comment around it still parses.
    #[inline]
    fn literal_char(&mut self, at: usize) -> usize {
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

    // ---------------------------------------------------------------- whitespace and comments

    /// `ws*`: unicode spaces and (nested) block comments.
    #[inline]
    fn skip_ws(&mut self) {
        loop {
            match self.peek() {
                Some(b' ' | b'\t') => self.pos += 1,
                Some(b'/') if self.peek_at(self.pos + 1) == Some(b'*') => self.block_comment(),
                Some(c) if c >= 0x80 => {
                    let n = self.space_len(self.pos);
                    if n == 0 {
                        return;
                    }
                    self.pos += n;
                }
                _ => return,
            }
        }
    }

    /// `node-space*`: `ws*` and line continuations.
    #[inline]
    fn skip_node_space(&mut self) {
        loop {
            self.skip_ws();
            if self.peek() == Some(b'\\') {
                self.escline();
            } else {
                return;
            }
        }
    }

    /// `line-space*`: node space, newlines and line comments.
    fn skip_line_space(&mut self) {
        loop {
            self.skip_node_space();
            let n = self.newline_len(self.pos);
            if n > 0 {
                self.pos += n;
            } else if self.starts_with(self.pos, b"//") {
                self.line_comment();
            } else {
                return;
            }
        }
    }

    /// `escline := '\' ws* (single-line-comment | newline | eof)`, at the `\`.
    fn escline(&mut self) {
        let start = self.pos;
        self.pos += 1;
        self.skip_ws();
        if self.pos == self.b.len() {
            return;
        }
        if self.starts_with(self.pos, b"//") {
            return self.line_comment();
        }
        let n = self.newline_len(self.pos);
        if n == 0 {
            // Recorded; what follows is read as if the `\` were not there.
            self.soft(
                ParseError::new(Span::new(start, 1), "`\\` outside a string must end its line", "line continuation")
                    .help("`\\` continues a node on the next line, so only a comment may follow it; in a value, quote the text: `\"a\\\\b\"`"),
            );
            return;
        }
        self.pos += n;
    }

    /// `// ...` through the newline (or the end), at the `//`.
    fn line_comment(&mut self) {
        let start = self.pos;
        self.pos += 2;
        while self.pos < self.b.len() {
            let c = self.b[self.pos];
            if (0x20..0x7F).contains(&c) || c == b'\t' {
                self.pos += 1;
                continue;
            }
            let n = self.newline_len(self.pos);
            if n > 0 {
                self.comment(CommentKind::Line, start, self.pos, start);
                self.pos += n;
                return;
            }
            self.pos += self.literal_char(self.pos);
        }
        self.comment(CommentKind::Line, start, self.pos, start);
    }

    /// Records a comment from `start` to `end` whose commented-out part starts at `target`.
    fn comment(&mut self, kind: CommentKind, start: usize, end: usize, target: usize) {
        let target = Span::new(target, end - target);
        self.comments.push(Comment { kind, span: Span::new(start, end - start), target });
    }

    /// The end of a slashdashed node or entry that ends before `self.pos`: without the spaces,
    /// newlines and line continuations it consumed after itself.
    fn trimmed_end(&self, start: usize) -> usize {
        let mut text = &self.src[start..self.pos];
        loop {
            let t = text.trim_end_matches(|c: char| is_unicode_space(c) || is_newline_char(c));
            match t.strip_suffix('\\') {
                Some(t) => text = t,
                None => return start + t.len(),
            }
        }
    }

    /// `/* ... */`, nested, at the `/*`.
    fn block_comment(&mut self) {
        let start = self.pos;
        self.pos += 2;
        let mut depth = 1usize;
        while self.pos < self.b.len() {
            match self.b[self.pos] {
                b'*' if self.peek_at(self.pos + 1) == Some(b'/') => {
                    self.pos += 2;
                    depth -= 1;
                    if depth == 0 {
                        self.comment(CommentKind::Block, start, self.pos, start);
                        return;
                    }
                }
                b'/' if self.peek_at(self.pos + 1) == Some(b'*') => {
                    self.pos += 2;
                    depth += 1;
                }
                c if (0x20..0x7F).contains(&c) || c == b'\t' || c == b'\n' || c == b'\r' => self.pos += 1,
                _ => self.pos += self.literal_char(self.pos),
            }
        }
        let e = ParseError::new(Span::new(start, 2), "this `/*` comment is never closed", "comment starts here")
            .related(self.end_span(), "the file ends inside the comment")
            .help("close it with `*/` (comments nest: every `/*` inside needs its own `*/`)");
        self.soft(e);
    }

    /// The last character of the text (where "the file ends" is shown), or an empty span.
    fn end_span(&self) -> Span {
        let trimmed = self.src.trim_end();
        match trimmed.chars().next_back() {
            Some(c) => Span::new(trimmed.len() - c.len_utf8(), c.len_utf8()),
            None => Span::new(self.src.len(), 0),
        }
    }

    // ---------------------------------------------------------------- nodes

    /// `nodes`, up to the end of the text (`open` is `None`) or the `}` closing the block opened
    /// at `open` (not consumed). Errors are recorded; nodes with errors are left out.
    fn nodes(&mut self, open: Option<usize>) -> Vec<Node> {
        let base = self.node_stack.len();
        self.nodes_onto_stack(open);
        self.node_stack.drain(base..).collect()
    }

    fn nodes_onto_stack(&mut self, open: Option<usize>) {
        loop {
            self.skip_line_space();
            match self.peek() {
                None => {
                    if let Some(at) = open {
                        self.unclosed.push(at);
                    }
                    return;
                }
                Some(b'}') => {
                    if open.is_some() {
                        return;
                    }
                    self.soft(
                        ParseError::new(
                            Span::new(self.pos, 1),
                            "unexpected `}`: no block is open here",
                            "nothing to close",
                        )
                        .help("remove it, or look above for a block whose `{` is missing")
                        .fix(Edit::new(Span::new(self.pos, 1), "")),
                    );
                    self.pos += 1;
                    continue;
                }
                _ => {}
            }
            let slashdashed = self.starts_with(self.pos, b"/-");
            let at = self.pos;
            if slashdashed {
                self.pos += 2;
                self.skip_line_space();
                if matches!(self.peek(), None | Some(b'}')) {
                    self.soft(
                        ParseError::new(Span::new(at, 2), "`/-` comments out nothing here", "nothing follows it")
                            .help("`/-` comments out the node after it: remove it")
                            .fix(Edit::new(Span::new(at, 2), "")),
                    );
                    continue;
                }
            }
            let node_start = self.pos;
            match self.node() {
                Ok(node) => {
                    if slashdashed {
                        let end = self.trimmed_end(node_start);
                        self.comment(CommentKind::SlashdashNode, at, end, node_start);
                    }
                    if self.node_terminator(open) && !slashdashed {
                        self.node_stack.push(node);
                    }
                }
                Err(e) => {
                    self.soft(*e);
                    self.skip_rest_of_node();
                    if self.peek() != Some(b'}') {
                        self.node_terminator(open);
                    }
                }
            }
        }
    }

    /// `node-terminator` (the node has consumed its trailing node-space); on anything else,
    /// records an error, skips the rest of the node and returns false.
    fn node_terminator(&mut self, open: Option<usize>) -> bool {
        match self.peek() {
            None => {}
            Some(b';') => self.pos += 1,
            Some(b'}') if open.is_some() => {}
            Some(b'/') if self.peek_at(self.pos + 1) == Some(b'/') => self.line_comment(),
            _ => {
                let n = self.newline_len(self.pos);
                if n == 0 {
                    let e = self.here(
                        self.pos,
                        "expected the end of the node",
                        "a node ends at a newline or `;`; what follows a node's `{ }` block goes on a new line",
                    );
                    self.soft(e);
                    self.skip_rest_of_node();
                    // A `}` at the top level is the caller's to report.
                    if self.peek() != Some(b'}') {
                        self.node_terminator(open);
                    }
                    return false;
                }
                self.pos += n;
            }
        }
        true
    }

    /// After an error inside a node: skips to its end (a newline, `;` or `}` outside strings and
    /// comments, not consumed). A `{ }` block on the way is parsed as usual, so its own nodes are
    /// checked and braces stay balanced. Errors in the skipped text are not reported: they are
    /// likely to follow from the first.
    fn skip_rest_of_node(&mut self) {
        loop {
            let Some(c) = self.peek() else { return };
            match c {
                b';' | b'}' | b'\n' | b'\r' | 0x0B | 0x0C => return,
                b'/' if self.peek_at(self.pos + 1) == Some(b'/') => return,
                b'{' => {
                    let _ = self.children_block();
                }
                b'\\' => {
                    let recorded = self.errors.len();
                    self.escline();
                    self.errors.truncate(recorded);
                }
                b'"' | b'#' | b'/' => {
                    let (at, recorded) = (self.pos, self.errors.len());
                    if c == b'/' {
                        if self.peek_at(at + 1) == Some(b'*') {
                            self.block_comment();
                        } else {
                            self.pos += 1;
                        }
                    } else if self.is_string_start() {
                        if self.string().is_err() {
                            self.pos = self.string_resume(at);
                        }
                    } else {
                        self.pos += 1;
                    }
                    self.errors.truncate(recorded);
                }
                _ if c < 0x80 => self.pos += 1,
                _ => {
                    if self.newline_len(self.pos) > 0 {
                        return;
                    }
                    self.pos += self.char_at(self.pos).len_utf8();
                }
            }
        }
    }

    /// `base-node` without its slashdash, including trailing node-space.
    fn node(&mut self) -> R<Node> {
        let start = self.pos;
        if self.peek() == Some(b'{') {
            return self
                .err(self.pos, 1, "a `{ }` block needs a node name before it", "block without a name")
                .map_err(|e| Box::new(e.help("write `NAME { ... }`")));
        }
        let ty = if self.peek() == Some(b'(') {
            let t = self.type_annotation()?;
            self.skip_node_space();
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
        let mut block_at = 0;
        loop {
            let before = self.pos;
            self.skip_node_space();
            let had_space = self.pos > before;
            let Some(c) = self.peek() else { break };
            match c {
                b';' | b'}' | b'\n' | b'\r' | 0x0B | 0x0C => break,
                b'/' if self.peek_at(self.pos + 1) == Some(b'/') => break,
                b'{' => {
                    if state == 2 {
                        let at = self.pos;
                        // Parse it anyway, so its own errors are found and braces stay balanced.
                        let _ = self.children_block();
                        return Err(Box::new(
                            ParseError::new(Span::new(at, 1), "a node has only one `{ }` block", "second block")
                                .related(Span::new(block_at, 1), "first block")
                                .help("merge the two blocks into one"),
                        ));
                    }
                    block_at = self.pos;
                    let doc = self.children_block();
                    end = doc.span.end();
                    children = Some(doc);
                    state = 2;
                }
                // Since the 2025 revision of KDL 2 (kdl-org/kdl#499), no space is needed before `/-`.
                b'/' if self.peek_at(self.pos + 1) == Some(b'-') => {
                    let at = self.pos;
                    self.pos += 2;
                    self.skip_line_space();
                    match self.peek() {
                        Some(b'{') => {
                            let block = self.children_block();
                            self.comment(CommentKind::SlashdashBlock, at, block.span.end(), block.span.offset);
                            if state == 0 {
                                state = 1;
                            }
                        }
                        None | Some(b'}' | b';') => {
                            return Err(Box::new(
                                ParseError::new(
                                    Span::new(at, 2),
                                    "`/-` comments out nothing here",
                                    "nothing follows it",
                                )
                                .help("`/-` comments out the argument, property or block after it: remove it")
                                .fix(Edit::new(Span::new(at, 2), "")),
                            ));
                        }
                        Some(_) => {
                            if state != 0 {
                                return Err(Box::new(self.after_block(self.pos)));
                            }
                            let e = self.entry()?;
                            self.comment(CommentKind::SlashdashEntry, at, e.span.end(), e.span.offset);
                        }
                    }
                }
                _ => {
                    if c >= 0x80 && self.newline_len(self.pos) > 0 {
                        break;
                    }
                    if state != 0 {
                        return Err(Box::new(self.after_block(self.pos)));
                    }
                    if !had_space {
                        return self.err_here(
                            self.pos,
                            "expected a space before this",
                            "separate arguments and properties with a space",
                        );
                    }
                    let e = self.entry()?;
                    end = e.span.end();
                    self.entry_stack.push(e);
                }
            }
        }
        Ok((end, children))
    }

    /// The error for an argument or property after a node's `{ }` block.
    fn after_block(&self, at: usize) -> ParseError {
        if let Some(e) = self.disallowed_at(at) {
            return e;
        }
        ParseError::new(
            self.char_span(at),
            "arguments and properties go before a node's `{ }` block",
            "after the block",
        )
        .help(
            "move it before the `{`, or inside the block on a line of its own, or start a new line if it is a new node",
        )
    }

    /// `{ nodes }`, at the `{`; consumes the `}` (an unclosed block ends at the end of the text).
    fn children_block(&mut self) -> Document {
        let open = self.pos;
        self.pos += 1;
        let nodes = self.nodes(Some(open));
        if self.pos < self.b.len() {
            if self.misindented.is_none()
                && self.indent_of(self.pos).is_some_and(|close| close != self.indent_of_line(open))
            {
                self.misindented = Some((open, self.pos));
            }
            self.pos += 1; // the `}`
        }
        Document { nodes, span: Span::new(open, self.pos - open) }
    }

    /// The indentation of the line holding `at`, when only whitespace comes before `at` on it.
    fn indent_of(&self, at: usize) -> Option<&str> {
        let line_start = self.src[..at].rfind('\n').map_or(0, |i| i + 1);
        let before = &self.src[line_start..at];
        before.chars().all(|c| c == ' ' || c == '\t').then_some(before)
    }

    /// The indentation of the line holding `at`.
    fn indent_of_line(&self, at: usize) -> &str {
        let line_start = self.src[..at].rfind('\n').map_or(0, |i| i + 1);
        let line = &self.src[line_start..at];
        &line[..line.len() - line.trim_start_matches([' ', '\t']).len()]
    }

    /// One error for every block still open at the end of the text.
    fn unclosed_error(&self) -> ParseError {
        let inner = self.unclosed[0];
        let n = self.unclosed.len();
        let mut e = ParseError::new(
            Span::new(inner, 1),
            if n == 1 { "this `{` is never closed".to_string() } else { format!("{n} blocks are never closed") },
            "this `{` has no `}`",
        );
        for &outer in &self.unclosed[1..] {
            e = e.related(Span::new(outer, 1), "nor has this one");
        }
        let end = self.end_span();
        let misplaced_close = self.misindented.map(|(_, close)| close);
        if end.offset > inner && Some(end.offset) != misplaced_close {
            e = e.related(end, "the file ends here");
        }
        let closing: String = self.unclosed.iter().map(|&at| format!("{}}}\n", self.indent_of_line(at))).collect();
        let at_end = if self.src.ends_with('\n') || self.src.is_empty() { closing } else { format!("\n{closing}") };
        match self.misindented {
            Some((open, close)) => e
                .related(Span::new(open, 1), "perhaps this `{` is the one missing its `}`")
                .related(Span::new(close, 1), "because this `}`, which closes it, is indented differently")
                .help("add the missing `}` where the block ends"),
            None => e
                .help(if n == 1 {
                    "add `}` where the block ends (at the end of the file, if it is the last one)".to_string()
                } else {
                    format!("add {n} `}}` where the blocks end")
                })
                .fix(Edit::insert(self.src.len(), at_end)),
        }
    }

    /// `(type)`, at the `(`.
    fn type_annotation(&mut self) -> R<Ident> {
        let open = self.pos;
        self.pos += 1;
        self.skip_node_space();
        let ident = self.ident("a type name")?;
        self.skip_node_space();
        if self.peek() != Some(b')') {
            let e = self.here(self.pos, "this `(` type annotation is never closed", "close it: `(type)`");
            return Err(Box::new(e.related(Span::new(open, 1), "opened here")));
        }
        self.pos += 1;
        Ok(ident)
    }

    /// A property or an argument.
    fn entry(&mut self) -> R<Entry> {
        let start = self.pos;
        if self.peek() == Some(b'(') {
            let ty = Some(self.type_annotation()?);
            self.skip_node_space();
            let (value, value_span) = self.value()?;
            return Ok(Entry { ty, name: None, value, value_span, span: Span::new(start, value_span.end() - start) });
        }
        if self.is_string_start() {
            let (s, sspan) = self.string()?;
            let (after, comments) = (self.pos, self.comments.len());
            self.skip_node_space();
            if self.peek() == Some(b'=') {
                let eq = self.pos;
                self.pos += 1;
                self.skip_node_space();
                let ty = if self.peek() == Some(b'(') {
                    let t = self.type_annotation()?;
                    self.skip_node_space();
                    Some(t)
                } else {
                    None
                };
                if self.at_entry_end() {
                    let key = &self.src[sspan.offset..sspan.end()];
                    return Err(Box::new(
                        ParseError::new(
                            Span::new(start, eq + 1 - start),
                            format!("`{key}=` has no value"),
                            "value missing",
                        )
                        .help(format!("write the value right after `=` (`{key}=VALUE`), or remove `{key}=`")),
                    ));
                }
                let (value, value_span) = self.value()?;
                return Ok(Entry {
                    ty,
                    name: Some(Ident { value: s, span: sspan }),
                    value,
                    value_span,
                    span: Span::new(start, value_span.end() - start),
                });
            }
            // Not a property: what was skipped looking for `=` is read again (comments too).
            self.pos = after;
            self.comments.truncate(comments);
            return Ok(Entry { ty: None, name: None, value: Value::String(s), span: sspan, value_span: sspan });
        }
        let (value, value_span) = self.value()?;
        Ok(Entry { ty: None, name: None, value, value_span, span: value_span })
    }

    /// Whether the node ends here (where a value was expected).
    fn at_entry_end(&self) -> bool {
        match self.peek() {
            None | Some(b';' | b'}' | b'{') => true,
            Some(b'/') => self.peek_at(self.pos + 1) == Some(b'/'),
            _ => self.newline_len(self.pos) > 0,
        }
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
            let help = match self.peek() {
                Some(b'0'..=b'9' | b'+' | b'-') => "a name cannot start like a number: quote it (`\"1st\"`)",
                _ => "a name is a word like `rolling` or a quoted string",
            };
            return self.err_here(self.pos, format!("expected {what}"), help);
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
            _ => {
                return self.err_here(
                    self.pos,
                    "expected a value",
                    "a value is a string (`web`, `\"a b\"`), a number, or #true, #false, #null",
                );
            }
        };
        Ok((v, Span::new(start, self.pos - start)))
    }

    /// Whether the character here may follow a value: whitespace, a newline, a comment, `\`, `;`,
    /// `=`, `)`, `{`, `}`, or the end.
    fn at_value_end(&self) -> bool {
        match self.peek() {
            None => true,
            Some(b'=' | b')' | b'{' | b'}' | b';' | b'\\' | b' ' | b'\t' | b'\n' | b'\r' | 0x0B | 0x0C) => true,
            // `/-` too: since the 2025 revision of KDL 2, no space is needed before a slashdash.
            Some(b'/') => matches!(self.peek_at(self.pos + 1), Some(b'/' | b'*' | b'-')),
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
        if let Some(e) = self.disallowed_at(self.pos) {
            return Err(Box::new(e));
        }
        let written = &self.src[start..self.pos];
        // KDL 1 raw strings: r"..." and r#"..."#.
        if written == "r" && matches!(self.peek(), Some(b'"' | b'#')) {
            let end = self.string_resume(self.pos);
            let raw = &self.src[self.pos..end];
            let fixed = if raw.starts_with('#') { raw.to_owned() } else { format!("#{raw}#") };
            let span = Span::new(start, end - start);
            return Err(Box::new(
                ParseError::new(span, "`r\"...\"` is a KDL 1 raw string", "KDL 1")
                    .help(format!("KDL 2 writes raw strings with `#`: `{fixed}`"))
                    .fix(Edit::new(span, fixed))
                    .kdl_v1(),
            ));
        }
        let next = self.describe(self.pos);
        Err(Box::new(
            ParseError::new(
                self.char_span(self.pos),
                format!("expected a space between `{written}` and {next}"),
                "no space before this",
            )
            .related(Span::new(start, self.pos - start), "this value")
            .help("separate values with a space; to keep it one string, quote it all"),
        ))
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
            let word_end =
                self.src[start + 1..].find(|c: char| !is_ident_char(c)).map_or(self.src.len(), |i| start + 1 + i);
            let word = &self.src[start..word_end];
            return Err(Box::new(
                ParseError::new(
                    Span::new(start, word_end - start),
                    format!("unknown keyword `{word}`"),
                    "not a keyword",
                )
                .help(format!(
                    "keywords are #true, #false, #null, #inf, #-inf and #nan; for text, quote it: `\"{word}\"`"
                )),
            ));
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
                    let prefix = &self.src[start..self.pos];
                    return self.err_here(
                        self.pos,
                        format!("`{prefix}` needs a digit after it"),
                        "write a number such as `0x1f`, `0o17` or `0b101`",
                    );
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
                return self.err_here(
                    self.pos,
                    "expected a digit after the decimal point",
                    "write `1.0`, not `1.`; or quote the text",
                );
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
                return self.err_here(
                    self.pos,
                    "expected a digit in the exponent",
                    "write `1e3` or `1.5e-3`; or quote the text",
                );
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
                Err(_) => self.err(start, self.pos - start, "this number cannot be read", "not a number"),
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
            return self.err(start, self.pos - start, "this integer is too large (the limit is 128 bits)", "too large");
        }
        Ok(Value::Integer(if neg { (v as i128).wrapping_neg() } else { v as i128 }))
    }

    // ---------------------------------------------------------------- strings

    /// Any string form (the caller checked [`Parser::is_string_start`]); checks what follows.
    fn string(&mut self) -> R<(String, Span)> {
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
                    b'"' if e.kdl_v1 => {
                        let line_end = self.src[start..].find('\n').map_or(self.src.len(), |i| start + i);
                        self.src[line_end..].find('"').map_or(self.src.len(), |i| line_end + i + 1)
                    }
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
        if matches!(s, "true" | "false" | "null") {
            return Err(Box::new(
                ParseError::new(Span::new(start, self.pos - start), format!("`{s}` is KDL 1 spelling"), "KDL 1")
                    .help(format!("KDL 2 writes `#{s}` (for the text, quote it: `\"{s}\"`)"))
                    .fix(Edit::insert(start, "#"))
                    .kdl_v1(),
            ));
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
        // KDL 1 allowed a newline inside "...": if the string closes on a later line, say so.
        let closes_later = self.src[line_end..].find('"').is_some_and(|i| {
            let rest = &self.src[line_end + i + 1..];
            let next_line = rest.find('\n').map_or(rest, |j| &rest[..j]);
            !next_line.contains('"')
        });
        if closes_later && line_end < self.src.len() {
            return e.help("a `\"` string ends on its line; for text over several lines, KDL 2 uses `\"\"\"` on lines of their own (KDL 1 allowed newlines in `\"...\"`)").kdl_v1();
        }
        e.help("add the closing `\"` before the end of the line")
    }

    /// Where to go on after a string that does not parse: past its end, or the end of its line.
    fn string_resume(&self, open: usize) -> usize {
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
                    let e = if next == Some('/') {
                        // `\/` was an escape in KDL 1.
                        ParseError::new(span, "`\\/` is a KDL 1 escape", "KDL 1")
                            .help("KDL 2 writes `/` as it is")
                            .fix(Edit::new(span, "/"))
                            .kdl_v1()
                    } else {
                        let written = &self.src[at..at + len];
                        ParseError::new(span, format!("unknown escape `{written}`"), "not an escape")
                            .help("escapes are \\n \\r \\t \\\\ \\\" \\b \\f \\s and \\u{...}; write `\\\\` for a backslash")
                            .fix(Edit::insert(at, "\\"))
                    };
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
