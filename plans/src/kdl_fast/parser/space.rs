//! Whitespace, line continuations and comments (each comment recorded for the formatter).

use super::Parser;
use super::cursor::{is_newline_char, is_unicode_space};
use super::error::ParseError;
use crate::kdl_fast::ast::{Comment, CommentKind};
use crate::span::Span;

impl Parser<'_> {
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
    pub(super) fn skip_node_space(&mut self) {
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
    pub(super) fn skip_line_space(&mut self) {
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
    pub(super) fn escline(&mut self) {
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
    pub(super) fn line_comment(&mut self) {
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
    pub(super) fn comment(&mut self, kind: CommentKind, start: usize, end: usize, target: usize) {
        let target = Span::new(target, end - target);
        self.comments.push(Comment { kind, span: Span::new(start, end - start), target });
    }

    /// The end of a slashdashed node or entry that ends before `self.pos`: without the spaces,
    /// newlines and line continuations it consumed after itself.
    pub(super) fn trimmed_end(&self, start: usize) -> usize {
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
    pub(super) fn block_comment(&mut self) {
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
    pub(super) fn end_span(&self) -> Span {
        let trimmed = self.src.trim_end();
        match trimmed.chars().next_back() {
            Some(c) => Span::new(trimmed.len() - c.len_utf8(), c.len_utf8()),
            None => Span::new(self.src.len(), 0),
        }
    }
}
