//! `planrun fmt`: the canonical layout of a plan file, text to text, keeping every comment.
//!
//! The rules (docs/language.md, "Canonical layout"):
//! - four spaces of indentation per block level, one node per line (`;` becomes a new line);
//!   `{` at the end of its node's line, `}` on a line of its own;
//! - one space between a node's name, arguments and properties; arguments first, in their order,
//!   then properties in their order (never sorted: when a key is repeated the last one counts, so
//!   properties keep their order relative to each other), with no spaces around `=`;
//! - a node name, property key or type written as a quoted plain word (ASCII letters, digits,
//!   `-`, `_` and `.`, readable bare) is written bare: `"service"` becomes `service`. Values
//!   (arguments and property values) keep their quotes or lack of them, as every number keeps its
//!   spelling: docs/language.md quotes some plain-word values on purpose (`command "sh" "-c"`,
//!   where a bare `-c` would read like a flag or a number, `body="ok"`), so the author decides;
//! - every comment is kept: a `//` or `/* */` comment on its own line stays on its own line, one
//!   after something on the same line stays after it; a comment between a node's entries travels
//!   with the entry after it; `/-` parts are laid out by the same rules;
//! - runs of blank lines become one blank line; no blank line after `{` or before `}`, none at
//!   the start or end of the file; no trailing spaces; the file ends with one newline.
//!
//! The result is checked before it is returned: it must parse to the same nodes, entries and
//! values as the input and hold the same comments. Otherwise formatting is refused
//! ([`FormatError::Unsafe`]) rather than changing what the plan means.

use std::collections::BTreeMap;

use crate::diagnostic::Diagnostic;
use crate::kdl_fast::parser::{is_newline_char, is_unicode_space};
use crate::kdl_fast::{self, Comment, CommentKind, Document, Entry, Ident, Node, Value, is_bare_identifier};
use crate::span::Span;

/// Why a text was not formatted.
#[derive(Debug)]
pub enum FormatError {
    /// The text is not valid KDL 2: every syntax error, as `planrun validate` reports them.
    Syntax(Vec<Diagnostic>),
    /// The layout would have changed what the text means or lost a comment (a bug in the
    /// formatter; the text is left as it is).
    Unsafe(String),
}

/// One level of indentation.
const INDENT: &str = "    ";

/// The canonical layout of `text`.
pub fn format(text: &str) -> Result<String, FormatError> {
    let (bom, body) = match text.strip_prefix('\u{FEFF}') {
        Some(rest) => ("\u{FEFF}", rest),
        None => ("", text),
    };
    crate::syntax::parse(text).map_err(FormatError::Syntax)?;
    Ok(format!("{bom}{}", layout(body, 0)?))
}

/// The canonical layout of a valid document, its top-level nodes `depth` levels deep.
fn layout(text: &str, depth: usize) -> Result<String, FormatError> {
    let (doc, comments) = kdl_fast::parse_with_comments(text)
        .map_err(|e| FormatError::Unsafe(format!("a part of the file does not parse on its own: {}", e[0])))?;
    let mut writer = Writer { text, comments: outermost(&comments), out: String::new() };
    writer.nodes(&doc.nodes, 0, text.len(), depth, false)?;
    let mut out = writer.out;
    let kept = out.trim_end_matches('\n').len();
    out.truncate(kept);
    if !out.is_empty() {
        out.push('\n');
    }
    same_meaning(text, &doc, &comments, &out)?;
    Ok(out)
}

/// The comments that are not inside a slashdashed part, by where they start.
fn outermost(comments: &[Comment]) -> BTreeMap<usize, Comment> {
    let mut sorted = comments.to_vec();
    sorted.sort_by_key(|c| (c.span.offset, std::cmp::Reverse(c.span.len)));
    let mut kept = BTreeMap::new();
    let mut covered_to = 0;
    for c in sorted {
        if c.span.offset >= covered_to {
            covered_to = c.span.end();
            kept.insert(c.span.offset, c);
        }
    }
    kept
}

/// Checks that `out` means what `text` meant: the same nodes and values, the same comments.
fn same_meaning(text: &str, doc: &Document, comments: &[Comment], out: &str) -> Result<(), FormatError> {
    let (after, after_comments) = kdl_fast::parse_with_comments(out)
        .map_err(|e| FormatError::Unsafe(format!("the formatted text does not parse: {}", e[0])))?;
    if !same_nodes(&doc.nodes, &after.nodes) {
        return Err(FormatError::Unsafe("the formatted text has different nodes or values".into()));
    }
    if comment_texts(text, comments) != comment_texts(out, &after_comments) {
        return Err(FormatError::Unsafe("the formatted text does not keep every comment".into()));
    }
    Ok(())
}

/// The `//` and `/* */` comments (trailing spaces aside) and how many `/-` of each kind, sorted.
fn comment_texts(text: &str, comments: &[Comment]) -> Vec<String> {
    let mut texts: Vec<String> = comments
        .iter()
        .map(|c| match c.kind {
            CommentKind::Line => text[c.span.offset..c.span.end()].trim_end().to_owned(),
            CommentKind::Block => text[c.span.offset..c.span.end()].to_owned(),
            kind => format!("{kind:?}"),
        })
        .collect();
    texts.sort();
    texts
}

/// Whether two lists of nodes are the same, spans aside. Arguments are compared in their order,
/// and properties in theirs: where properties stand among arguments means nothing in KDL.
pub fn same_nodes(a: &[Node], b: &[Node]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(a, b)| {
            same_ident(Some(&a.name), Some(&b.name))
                && same_ident(a.ty.as_ref(), b.ty.as_ref())
                && a.entries.len() == b.entries.len()
                && arguments_then_properties(a).iter().zip(arguments_then_properties(b)).all(|(x, y)| same_entry(x, y))
                && match (&a.children, &b.children) {
                    (None, None) => true,
                    (Some(x), Some(y)) => same_nodes(&x.nodes, &y.nodes),
                    _ => false,
                }
        })
}

fn arguments_then_properties(n: &Node) -> Vec<&Entry> {
    let (arguments, properties): (Vec<&Entry>, Vec<&Entry>) = n.entries.iter().partition(|e| e.name.is_none());
    arguments.into_iter().chain(properties).collect()
}

fn same_ident(a: Option<&Ident>, b: Option<&Ident>) -> bool {
    a.map(Ident::value) == b.map(Ident::value)
}

fn same_entry(a: &Entry, b: &Entry) -> bool {
    let same_value = match (&a.value, &b.value) {
        (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
        (x, y) => x == y,
    };
    same_value && same_ident(a.name.as_ref(), b.name.as_ref()) && same_ident(a.ty.as_ref(), b.ty.as_ref())
}

/// One piece of a node's line.
enum Piece<'n> {
    Entry(&'n Entry),
    /// A `/* */` comment or a `/-` entry or block, as it is to be written.
    Text(String),
    /// A `//` comment after a `\` line continuation: the node goes on on the next line.
    Continued(String),
}

struct Writer<'a> {
    text: &'a str,
    comments: BTreeMap<usize, Comment>,
    out: String,
}

impl Writer<'_> {
    /// The nodes of the text from `start` to `end` (a whole document, or the inside of a block when
    /// `in_block`: then a comment on the line of the `{` stays there), with the comments between
    /// them.
    fn nodes(
        &mut self,
        nodes: &[Node],
        start: usize,
        end: usize,
        depth: usize,
        in_block: bool,
    ) -> Result<(), FormatError> {
        let mut pos = start;
        let mut next = 0;
        let mut newlines = 0;
        let mut first = true;
        while pos < end {
            let n = self.space_len(pos).max(self.newline_len(pos));
            if n > 0 {
                newlines += usize::from(self.newline_len(pos) > 0);
                pos += n;
                continue;
            }
            let blank = newlines >= 2 && !first;
            if let Some(node) = nodes.get(next).filter(|n| n.span.offset == pos) {
                if blank {
                    self.out.push('\n');
                }
                pos = self.node(node, depth)?;
                next += 1;
            } else if let Some(&c) = self.comments.get(&pos) {
                let after_something = newlines == 0 && (!first || in_block);
                if after_something && c.kind != CommentKind::SlashdashNode {
                    let text = self.comment_text(c, depth)?;
                    self.append_to_last_line(&text);
                } else {
                    if blank {
                        self.out.push('\n');
                    }
                    let text = self.comment_text(c, depth)?;
                    self.line(depth, &text);
                }
                pos = c.span.end();
            } else if matches!(self.text.as_bytes()[pos], b';' | b'\\') {
                // `;` ends a node, which a newline does here; a `\` continues a line, which the
                // layout decides.
                pos += 1;
                continue;
            } else {
                return Err(self.unexpected(pos));
            }
            newlines = 0;
            first = false;
        }
        if next < nodes.len() {
            return Err(self.unexpected(nodes[next].span.offset));
        }
        Ok(())
    }

    /// Writes one node with its children; returns where it ends in the text (its `;`, newline or
    /// `}`, or the end of its trailing `//` comment).
    fn node(&mut self, node: &Node, depth: usize) -> Result<usize, FormatError> {
        let name_end = node.name.span.end();
        let head = if self.has_comment(node.span.offset, name_end) {
            self.text[node.span.offset..name_end].to_owned()
        } else {
            let ty = node.ty.as_ref().map(|t| format!("({})", self.string(t.span))).unwrap_or_default();
            format!("{ty}{}", self.string(node.name.span))
        };
        let mut before_block: Vec<Piece> = Vec::new();
        let mut after_block: Vec<String> = Vec::new();
        let mut trailing = None;
        let mut entries = node.entries.iter().peekable();
        let mut pos = name_end;
        let bytes = self.text.as_bytes();
        loop {
            let n = self.space_len(pos);
            if n > 0 {
                pos += n;
                continue;
            }
            if let Some(e) = entries.next_if(|e| e.span.offset == pos) {
                before_block.push(Piece::Entry(e));
                pos = e.span.end();
            } else if let Some(block) = node.children.as_ref().filter(|b| b.span.offset == pos) {
                pos = block.span.end();
            } else if let Some(&c) = self.comments.get(&pos) {
                pos = c.span.end();
                if c.kind == CommentKind::Line {
                    trailing = Some(self.comment_text(c, depth)?);
                    break;
                }
                let text = self.comment_text(c, depth)?;
                if node.children.as_ref().is_some_and(|b| b.span.offset < pos) {
                    after_block.push(text);
                } else {
                    before_block.push(Piece::Text(text));
                }
            } else if pos < bytes.len() && bytes[pos] == b'\\' {
                // A line continuation: spaces and `/* */` comments, then a `//` comment or a newline.
                pos += 1;
                loop {
                    let n = self.space_len(pos);
                    if n > 0 {
                        pos += n;
                    } else if let Some(&c) = self.comments.get(&pos).filter(|c| c.kind == CommentKind::Block) {
                        before_block.push(Piece::Text(self.comment_text(c, depth)?));
                        pos = c.span.end();
                    } else {
                        break;
                    }
                }
                if let Some(&c) = self.comments.get(&pos).filter(|c| c.kind == CommentKind::Line) {
                    before_block.push(Piece::Continued(self.comment_text(c, depth)?));
                    pos = c.span.end();
                }
                pos += self.newline_len(pos);
            } else if pos >= bytes.len() || matches!(bytes[pos], b';' | b'}') || self.newline_len(pos) > 0 {
                break;
            } else {
                return Err(self.unexpected(pos));
            }
        }
        if entries.next().is_some() {
            return Err(self.unexpected(pos));
        }
        let mut line = format!("{}{head}", INDENT.repeat(depth));
        let pieces = arguments_first(before_block);
        let last_continued = match pieces.last() {
            Some(Piece::Continued(_)) if node.children.is_none() && trailing.is_none() => pieces.len() - 1,
            _ => usize::MAX,
        };
        let mut line_start = false;
        for (i, piece) in pieces.iter().enumerate() {
            let text = match piece {
                Piece::Entry(e) => self.entry(e),
                Piece::Text(t) => t.clone(),
                Piece::Continued(c) if i == last_continued => c.clone(),
                Piece::Continued(c) => {
                    line.push_str(&format!(" \\ {c}\n{}", INDENT.repeat(depth + 1)));
                    line_start = true;
                    continue;
                }
            };
            if !line_start {
                line.push(' ');
            }
            line.push_str(&text);
            line_start = false;
        }
        if let Some(block) = &node.children {
            if !line_start {
                line.push(' ');
            }
            line.push('{');
            self.out.push_str(&line);
            self.out.push('\n');
            self.nodes(&block.nodes, block.span.offset + 1, block.span.end() - 1, depth + 1, true)?;
            line = format!("{}}}", INDENT.repeat(depth));
            for text in after_block {
                line.push(' ');
                line.push_str(&text);
            }
        }
        if let Some(comment) = trailing {
            line.push(' ');
            line.push_str(&comment);
        }
        self.out.push_str(&line);
        self.out.push('\n');
        Ok(pos)
    }

    /// An argument or property: `value`, `(type)value`, `key=value`, `key=(type)value`; as written
    /// when a comment is inside it.
    fn entry(&self, e: &Entry) -> String {
        if self.has_comment(e.span.offset, e.span.end()) {
            return self.text[e.span.offset..e.span.end()].to_owned();
        }
        let mut s = String::new();
        if let Some(key) = &e.name {
            s.push_str(&self.string(key.span));
            s.push('=');
        }
        if let Some(ty) = &e.ty {
            s.push_str(&format!("({})", self.string(ty.span)));
        }
        s.push_str(&self.text[e.value_span.offset..e.value_span.end()]);
        s
    }

    /// A name (of a node, property or type) as written, or bare when it is a quoted plain word.
    fn string(&self, span: Span) -> String {
        let written = &self.text[span.offset..span.end()];
        let inner = written.strip_prefix('"').and_then(|s| s.strip_suffix('"'));
        match inner {
            Some(inner) if !written.starts_with("\"\"\"") && is_plain_word(inner) => inner.to_owned(),
            _ => written.to_owned(),
        }
    }

    /// A comment as it is written at `depth`: `//` and `/* */` as they are (a `//` without
    /// trailing spaces), a `/-` part laid out like any other.
    fn comment_text(&self, c: Comment, depth: usize) -> Result<String, FormatError> {
        let written = &self.text[c.span.offset..c.span.end()];
        let target = &self.text[c.target.offset..c.target.end()];
        // Between a `/-` and what it comments out: only spaces, or comments to keep as written.
        let only_space = || {
            let between = &self.text[c.span.offset + 2..c.target.offset];
            between.chars().all(|ch| is_unicode_space(ch) || is_newline_char(ch))
        };
        Ok(match c.kind {
            CommentKind::Line => written.trim_end().to_owned(),
            CommentKind::Block => written.to_owned(),
            _ if !only_space() => written.to_owned(),
            CommentKind::SlashdashEntry => format!("/-{target}"),
            CommentKind::SlashdashNode => format!("/-{}", layout(target, depth)?.trim()),
            CommentKind::SlashdashBlock => {
                let inner = layout(&target[1..target.len() - 1], depth + 1)?;
                format!("/-{{\n{inner}{}}}", INDENT.repeat(depth))
            }
        })
    }

    /// Whether a comment starts between `start` and `end`.
    fn has_comment(&self, start: usize, end: usize) -> bool {
        self.comments.range(start..end).next().is_some()
    }

    fn line(&mut self, depth: usize, text: &str) {
        self.out.push_str(&INDENT.repeat(depth));
        self.out.push_str(text);
        self.out.push('\n');
    }

    /// Adds `text` at the end of the line written last.
    fn append_to_last_line(&mut self, text: &str) {
        self.out.pop();
        self.out.push(' ');
        self.out.push_str(text);
        self.out.push('\n');
    }

    fn space_len(&self, at: usize) -> usize {
        self.text[at..].chars().next().filter(|&c| is_unicode_space(c)).map_or(0, char::len_utf8)
    }

    fn newline_len(&self, at: usize) -> usize {
        if self.text[at..].starts_with("\r\n") {
            return 2;
        }
        self.text[at..].chars().next().filter(|&c| is_newline_char(c)).map_or(0, char::len_utf8)
    }

    fn unexpected(&self, at: usize) -> FormatError {
        FormatError::Unsafe(format!("unexpected text at byte {at}"))
    }
}

/// Whether `s` is a word that needs no quotes: ASCII letters, digits, `-`, `_` and `.` only, and
/// readable bare (not starting like a number, not `true`, `inf`, ...).
fn is_plain_word(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')) && is_bare_identifier(s)
}

/// The pieces of a node's line with the arguments first: each argument or property takes the
/// comments and line continuations before it along; those after the last one stay at the end.
fn arguments_first(pieces: Vec<Piece<'_>>) -> Vec<Piece<'_>> {
    let mut arguments = Vec::new();
    let mut properties = Vec::new();
    let mut pending = Vec::new();
    for piece in pieces {
        let is_property = match &piece {
            Piece::Entry(e) => Some(e.name.is_some()),
            _ => None,
        };
        pending.push(piece);
        match is_property {
            Some(false) => arguments.append(&mut pending),
            Some(true) => properties.append(&mut pending),
            None => {}
        }
    }
    arguments.append(&mut properties);
    arguments.append(&mut pending);
    arguments
}
