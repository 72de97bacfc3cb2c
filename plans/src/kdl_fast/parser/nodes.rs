//! Nodes, their entries (arguments and properties), type annotations and `{ }` blocks.

use super::Parser;
use super::error::{ParseError, R};
use crate::fix::Edit;
use crate::kdl_fast::ast::{CommentKind, Document, Entry, Ident, Node, Value};
use crate::span::Span;

impl Parser<'_> {
    /// `nodes`, up to the end of the text (`open` is `None`) or the `}` closing the block opened
    /// at `open` (not consumed). Errors are recorded; nodes with errors are left out.
    pub(super) fn nodes(&mut self, open: Option<usize>) -> Vec<Node> {
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
    pub(super) fn children_block(&mut self) -> Document {
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
}
