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
//!
//! `Parser`'s methods are split by what they read: `cursor.rs` (which characters go where, byte
//! look-ahead), `space.rs` (whitespace and comments), `nodes.rs` (nodes, entries, blocks),
//! `values.rs` (keywords, numbers, where a value ends), `strings.rs` (every string form and its
//! escapes), `error.rs` (`ParseError` and the wording of what was found), `recovery.rs` (skipping
//! after an error, unclosed blocks) and `kdl_v1.rs` (KDL 1 constructs).

mod cursor;
mod error;
mod kdl_v1;
mod nodes;
mod recovery;
mod space;
mod strings;
mod values;

use super::ast::{Comment, Document, Entry, Node};
use crate::span::Span;

pub use cursor::is_bare_identifier;
pub(crate) use cursor::{is_newline_char, is_unicode_space};
pub use error::ParseError;

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
