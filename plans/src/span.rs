//! Byte ranges into a plan file.

use miette::SourceSpan;

/// A byte range in the source text: where a diagnostic points.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct Span {
    /// Byte offset of the first byte.
    pub offset: usize,
    /// Length in bytes.
    pub len: usize,
}

impl Span {
    /// A span from `offset`, `len` bytes long.
    pub fn new(offset: usize, len: usize) -> Self {
        Span { offset, len }
    }

    /// The byte just past the end.
    pub fn end(self) -> usize {
        self.offset + self.len
    }
}

impl From<SourceSpan> for Span {
    fn from(s: SourceSpan) -> Self {
        Span::new(s.offset(), s.len())
    }
}

impl From<Span> for SourceSpan {
    fn from(s: Span) -> Self {
        SourceSpan::new(s.offset.into(), s.len)
    }
}
