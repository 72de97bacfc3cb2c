//! A plan file's name and text, with the line index every diagnostic position comes from.
//!
//! Lines end at `\n` (a `\r\n` pair ends one line); columns count characters, so a tab or an
//! `é` is one column, as editors and GitHub count them. The index is built once per file, on the
//! first position asked for, so a valid plan never pays for it and a plan with ten thousand
//! diagnostics pays for it once (a binary search per position, not a scan from the start).

use std::sync::OnceLock;

use miette::{MietteError, MietteSpanContents, SourceCode, SourceSpan, SpanContents};

/// A plan file's name and text.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The name shown in diagnostics (the path as the user gave it).
    pub name: String,
    /// The text.
    pub text: String,
    line_starts: OnceLock<Vec<usize>>,
}

impl SourceFile {
    /// A file named `name` holding `text`.
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        SourceFile { name: name.into(), text: text.into(), line_starts: OnceLock::new() }
    }

    /// Byte offsets at which lines start; the first is 0.
    fn line_starts(&self) -> &[usize] {
        self.line_starts.get_or_init(|| {
            let mut starts = Vec::with_capacity(self.text.len() / 32 + 1);
            starts.push(0);
            starts.extend(self.text.bytes().enumerate().filter(|&(_, b)| b == b'\n').map(|(i, _)| i + 1));
            starts
        })
    }

    /// The zero-based line holding byte `offset` (clamped to the text).
    fn line_of(&self, offset: usize) -> usize {
        self.line_starts().partition_point(|&s| s <= offset) - 1
    }

    /// One-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = floor_char_boundary(&self.text, offset.min(self.text.len()));
        let line = self.line_of(offset);
        let start = self.line_starts()[line];
        (line + 1, self.text[start..offset].chars().count() + 1)
    }

    /// Where the line after zero-based `line` starts, or the end of the text.
    fn line_end(&self, line: usize) -> usize {
        self.line_starts().get(line + 1).copied().unwrap_or(self.text.len())
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// miette's own `SourceCode` for strings scans from the start of the file for every label and
/// reports byte columns; this one uses the line index and reports characters.
impl SourceCode for SourceFile {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let (offset, len) = (span.offset(), span.len());
        if offset + len > self.text.len() {
            return Err(MietteError::OutOfBounds);
        }
        let first_line = self.line_of(offset);
        let last_line = self.line_of((offset + len).saturating_sub(1).max(offset));
        let starts = self.line_starts();
        let from_line = first_line.saturating_sub(context_lines_before);
        let to_line = (last_line + context_lines_after).min(starts.len() - 1);
        // Like miette: without context lines before, the contents start at the span itself.
        let (start, column) =
            if context_lines_before == 0 { (offset, self.line_col(offset).1 - 1) } else { (starts[from_line], 0) };
        let end = self.line_end(to_line).max(start);
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.clone(),
            &self.text.as_bytes()[start..end],
            SourceSpan::new(start.into(), end - start),
            from_line,
            column,
            // The number of lines shown (miette merges two snippets whose lines touch).
            to_line - from_line + 1,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_character_columns() {
        let f = SourceFile::new("f", "ab\r\n\té x\n\nlast");
        assert_eq!(f.line_col(0), (1, 1));
        assert_eq!(f.line_col(2), (1, 3));
        assert_eq!(f.line_col(4), (2, 1));
        assert_eq!(f.line_col(5), (2, 2));
        assert_eq!(f.line_col(8), (2, 4), "é is one column");
        assert_eq!(f.line_col(10), (3, 1));
        assert_eq!(f.line_col(11), (4, 1));
        assert_eq!(f.line_col(99), (4, 5), "clamped to the end");
        assert_eq!(f.line_col(6), (2, 2), "inside a character: its start");
    }

    #[test]
    fn spans_read_with_context() {
        let f = SourceFile::new("f", "one\ntwo\nthree\nfour\n");
        let c = f.read_span(&SourceSpan::new(8.into(), 5), 1, 1).unwrap();
        assert_eq!(std::str::from_utf8(c.data()).unwrap(), "two\nthree\nfour\n");
        assert_eq!((c.line(), c.column(), c.line_count()), (1, 0, 3));
        let c = f.read_span(&SourceSpan::new(10.into(), 1), 0, 0).unwrap();
        assert_eq!(std::str::from_utf8(c.data()).unwrap(), "ree\n");
        assert_eq!((c.line(), c.column()), (2, 2));
        assert!(f.read_span(&SourceSpan::new(19.into(), 5), 0, 0).is_err());
    }
}
