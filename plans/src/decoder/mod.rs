//! The hand-written decoder over the `kdl_fast` document tree: typed settings with exact spans,
//! collecting every error.
//!
//! A setting can be written as a property (`delay="30s"`) or as a child node (`delay "30s"`);
//! both read the same. Settings a decoder never asks for are reported as unknown, with the
//! names it did ask for as "did you mean" candidates.
//!
//! `Decoder`'s methods are split by what they read: `fields.rs` (a node's settings, taken once, the
//! unknown ones reported), `values.rs` (typed getters), `names.rs` (a node's name and arguments,
//! lists of names and words), `command.rs` (a command's program and arguments) and
//! `interpolate.rs` (`${name}`); this file holds the state and how diagnostics are recorded.

mod command;
mod fields;
mod interpolate;
mod names;
mod values;

use rustc_hash::FxHashMap as HashMap;

use crate::diagnostic::{Diagnostic, Severity};
use crate::fix::Edit;
use crate::kdl_fast::{Entry, Node, Value};
use crate::outline::Outline;
use crate::span::Span;

pub use values::type_name;

/// Shared state while decoding one file: the source, resolved variables and every diagnostic.
pub struct Decoder<'s> {
    src: &'s str,
    /// Resolved variable values, used by `${name}`.
    pub vars: HashMap<String, String>,
    /// Everything found so far.
    pub diagnostics: Vec<Diagnostic>,
    /// Every step and gate declared and every reference to them, decoded or not.
    pub outline: Outline,
    errors: usize,
    /// "Did you mean" for an unknown setting, by the setting and the names asked for: the same
    /// misspelling in every step is compared against the known names once.
    suggestions: HashMap<(String, Vec<&'static str>), Option<&'static str>>,
}

/// Where one setting was written.
#[derive(Clone, Copy)]
enum Source<'n> {
    Prop(&'n Entry),
    Child(&'n Node),
}

impl Source<'_> {
    /// The whole setting: `key=value`, or the child node.
    fn span(self) -> Span {
        match self {
            Source::Prop(entry) => entry.span(),
            Source::Child(node) => node.span(),
        }
    }
}

#[derive(Clone, Copy)]
struct Field<'n> {
    key: &'n str,
    key_span: Span,
    source: Source<'n>,
    from_defaults: bool,
}

/// The settings of one node (and of its `defaults` node, used where the node is silent).
pub struct Fields<'n> {
    node: &'n Node,
    what: String,
    fields: Vec<Field<'n>>,
    // A Vec, not a set: ~15 pushes per node are cheaper than ordered inserts; finish dedups.
    asked: Vec<&'static str>,
    taken: Vec<bool>,
    /// A defaults block: required settings may be absent and there is no name.
    pub is_defaults: bool,
}

/// One positional value with its span.
pub type Arg<'n> = (&'n Value, Span);

impl<'s> Decoder<'s> {
    /// A decoder over `src`; variables are set once resolved.
    pub fn new(src: &'s str) -> Self {
        Decoder {
            src,
            vars: HashMap::default(),
            diagnostics: Vec::new(),
            outline: Outline::default(),
            errors: 0,
            suggestions: HashMap::default(),
        }
    }

    /// Records a diagnostic.
    pub fn push(&mut self, d: Diagnostic) {
        if d.severity == Severity::Error {
            self.errors += 1;
        }
        self.diagnostics.push(d);
    }

    /// How many errors have been recorded: compare before and after decoding an element to know
    /// whether it has any.
    pub fn error_count(&self) -> usize {
        self.errors
    }

    /// The source text at a span.
    pub fn text(&self, span: Span) -> &'s str {
        self.src.get(span.offset..span.end()).unwrap_or("")
    }

    /// An edit removing what is at `span`: its whole line when nothing else is on it, else the
    /// span and the spaces before it.
    pub fn removal(&self, span: Span) -> Edit {
        let line_start = self.src[..span.offset].rfind('\n').map_or(0, |i| i + 1);
        let line_end = self.src[span.end()..].find('\n').map_or(self.src.len(), |i| span.end() + i + 1);
        let before = &self.src[line_start..span.offset];
        let after = &self.src[span.end()..line_end];
        if before.trim().is_empty() && after.trim().is_empty() {
            return Edit::new(Span::new(line_start, line_end - line_start), "");
        }
        let spaces = before.len() - before.trim_end().len();
        Edit::new(Span::new(span.offset - spaces, span.len + spaces), "")
    }
}
