//! Syntax errors: `ParseError`, and how the parser words what it found where it expected something.

use std::fmt;

use super::Parser;
use super::cursor::is_disallowed;
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
pub(super) type R<T> = Result<T, Box<ParseError>>;

impl Parser<'_> {
    pub(super) fn err<T>(&self, at: usize, len: usize, message: impl Into<String>, label: impl Into<String>) -> R<T> {
        Err(Box::new(ParseError::new(Span::new(at, len), message, label)))
    }

    /// The span of the character at `at` (empty at the end of the text).
    pub(super) fn char_span(&self, at: usize) -> Span {
        let ch = self.src.get(at..).and_then(|s| s.chars().next());
        Span::new(at, ch.map_or(0, char::len_utf8))
    }

    /// How the character at `at` is named in messages.
    pub(super) fn describe(&self, at: usize) -> String {
        match self.src.get(at..).and_then(|s| s.chars().next()) {
            None => "the end of the file".into(),
            Some('\n' | '\r') => "the end of the line".into(),
            Some(c) if is_disallowed(c) => format!("U+{:04X}", c as u32),
            Some(c) => format!("`{c}`"),
        }
    }

    /// An error about whatever is at `at` (one character, or nothing at the end). A disallowed
    /// code point there is reported as such, whatever was expected.
    pub(super) fn err_here<T>(&self, at: usize, message: impl Into<String>, help: impl Into<String>) -> R<T> {
        Err(Box::new(self.here(at, message, help)))
    }

    /// The error of [`Parser::err_here`], as a value.
    pub(super) fn here(&self, at: usize, message: impl Into<String>, help: impl Into<String>) -> ParseError {
        if let Some(e) = self.disallowed_at(at) {
            return e;
        }
        let found = self.describe(at);
        ParseError::new(self.char_span(at), message, format!("found {found}")).help(help)
    }

    /// The error for a disallowed code point at `at`, if there is one.
    pub(super) fn disallowed_at(&self, at: usize) -> Option<ParseError> {
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
    pub(super) fn soft(&mut self, e: ParseError) {
        self.errors.push(e);
    }
}
