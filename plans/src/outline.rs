//! What a plan file declares and refers to, gathered while decoding, whether or not each element
//! decoded: the names of every step and gate, every `after` and every gate a step names.
//!
//! References are checked against this, not against the model, so a step with a bad setting
//! still has its `after` and `gates` checked in the same run, and a gate that failed to decode
//! is still known (naming it is not also "unknown").

use std::collections::HashSet;

use crate::span::Span;
use crate::spanned::Spanned;

/// The declarations and references of one plan file.
#[derive(Debug, Clone, Default)]
pub struct Outline {
    /// Every step node with a name, in file order.
    pub steps: Vec<Declared>,
    /// Every gate node with a name, in file order.
    pub gates: Vec<Declared>,
    /// Every name in an `after`.
    pub after: Vec<Reference>,
    /// Every gate a step or stage names.
    pub gate_uses: Vec<Spanned<String>>,
    /// Variables declared without a value (reported as missing, not also as unknown).
    pub valueless_variables: HashSet<String>,
}

/// A name in a step's `after`.
#[derive(Debug, Clone)]
pub struct Reference {
    /// The keyword span of the step that waits (its name is looked up only for a message).
    pub from: Span,
    /// The step it waits for.
    pub name: Spanned<String>,
}

/// A named step or gate as written.
#[derive(Debug, Clone)]
pub struct Declared {
    /// Its name.
    pub name: Spanned<String>,
    /// The span of its keyword (`rolling`, `gate`): identifies the node.
    pub keyword_span: Span,
    /// Whether decoding it reported an error: its warnings would be guesses, so none are given.
    pub has_errors: bool,
    /// For a migrate step: where a fix that adds to its `after` goes.
    pub layout: Option<StepLayout>,
}

/// Where text can be added to a step node, so a help that says "add `after x`" can come with an
/// edit that does exactly that.
#[derive(Debug, Clone)]
pub struct StepLayout {
    /// How the step's `after` is written, if it is.
    pub after: Option<AfterSite>,
    /// How to add a line to the step's `{ }` block: at this offset, `before` + the line + `after`
    /// (a newline and indentation, or a space and `;` in a one-line block). `None` without a block.
    pub child_line: Option<(usize, String, String)>,
    /// The end of the step's name argument, where ` after=x` can go.
    pub name_end: usize,
    /// The end of the node, where a block can be added.
    pub node_end: usize,
}

/// How a step's `after` is written.
#[derive(Debug, Clone)]
pub enum AfterSite {
    /// `after=x`: the whole entry, including the space before it, and its one name as written.
    Property {
        /// ` after=x`
        span: Span,
        /// `x`, as written
        name: String,
    },
    /// `after x y` on a line of its own: the end of its last name.
    Child {
        /// Where one more name goes.
        end: usize,
    },
}

impl Outline {
    /// Whether any step has an error (then the dependency graph is incomplete).
    pub fn any_step_has_errors(&self) -> bool {
        self.steps.iter().any(|s| s.has_errors)
    }
}
