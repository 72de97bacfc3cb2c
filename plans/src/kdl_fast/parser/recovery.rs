//! Recovery after an error: skipping the rest of a node, and one error for the blocks never closed.

use super::Parser;
use super::error::ParseError;
use crate::fix::Edit;
use crate::span::Span;

impl Parser<'_> {
    /// After an error inside a node: skips to its end (a newline, `;` or `}` outside strings and
    /// comments, not consumed). A `{ }` block on the way is parsed as usual, so its own nodes are
    /// checked and braces stay balanced. Errors in the skipped text are not reported: they are
    /// likely to follow from the first.
    pub(super) fn skip_rest_of_node(&mut self) {
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

    /// The indentation of the line holding `at`, when only whitespace comes before `at` on it.
    pub(super) fn indent_of(&self, at: usize) -> Option<&str> {
        let line_start = self.src[..at].rfind('\n').map_or(0, |i| i + 1);
        let before = &self.src[line_start..at];
        before.chars().all(|c| c == ' ' || c == '\t').then_some(before)
    }

    /// The indentation of the line holding `at`.
    pub(super) fn indent_of_line(&self, at: usize) -> &str {
        let line_start = self.src[..at].rfind('\n').map_or(0, |i| i + 1);
        let line = &self.src[line_start..at];
        &line[..line.len() - line.trim_start_matches([' ', '\t']).len()]
    }

    /// One error for every block still open at the end of the text.
    pub(super) fn unclosed_error(&self) -> ParseError {
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
}
