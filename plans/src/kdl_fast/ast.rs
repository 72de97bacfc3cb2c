//! The document tree: the subset of the `kdl` crate's API that the decoder uses.

use crate::span::Span;

/// A list of nodes: the whole file, or the inside of a `{ }` children block.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Document {
    /// The nodes, in order (slashdashed nodes are dropped).
    pub nodes: Vec<Node>,
    /// The whole text for the top-level document; the braces and everything between them for a
    /// children block.
    pub span: Span,
}

impl Document {
    /// The nodes, in order.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// See [`Document::span`](struct.Document.html#structfield.span).
    pub fn span(&self) -> Span {
        self.span
    }
}

/// One node: `(type)name entries... { children }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The type annotation, if any.
    pub ty: Option<Ident>,
    /// The name.
    pub name: Ident,
    /// Arguments and properties, in order (slashdashed ones are dropped).
    pub entries: Vec<Entry>,
    /// The children block, if any (slashdashed blocks are dropped).
    pub children: Option<Document>,
    /// From the type annotation (or name) to the end of the last entry or the closing `}`;
    /// trailing whitespace, comments and slashdashed parts are not included.
    pub span: Span,
}

impl Node {
    /// The name.
    pub fn name(&self) -> &Ident {
        &self.name
    }

    /// The type annotation, if any.
    pub fn ty(&self) -> Option<&Ident> {
        self.ty.as_ref()
    }

    /// Arguments and properties, in order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The children block, if any.
    pub fn children(&self) -> Option<&Document> {
        self.children.as_ref()
    }

    /// See [`Node::span`](struct.Node.html#structfield.span).
    pub fn span(&self) -> Span {
        self.span
    }
}

/// A string used as a name: a node name, property key or type annotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident {
    /// The string's value (escapes resolved).
    pub value: String,
    /// The string as written, with quotes or `#`s.
    pub span: Span,
}

impl Ident {
    /// The string's value.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The string as written, with quotes or `#`s.
    pub fn span(&self) -> Span {
        self.span
    }
}

/// An argument (`value`) or a property (`key=value`).
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The value's type annotation, if any.
    pub ty: Option<Ident>,
    /// The key, for a property.
    pub name: Option<Ident>,
    /// The value.
    pub value: Value,
    /// The whole entry: for a property from the key through the value, for an argument from its
    /// type annotation (or value) through the value.
    pub span: Span,
    /// Just the value as written (e.g. `"30s"` with its quotes), without a type annotation.
    pub value_span: Span,
}

impl Entry {
    /// The key, for a property.
    pub fn name(&self) -> Option<&Ident> {
        self.name.as_ref()
    }

    /// The value's type annotation, if any.
    pub fn ty(&self) -> Option<&Ident> {
        self.ty.as_ref()
    }

    /// The value.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// See [`Entry::span`](struct.Entry.html#structfield.span).
    pub fn span(&self) -> Span {
        self.span
    }

    /// See [`Entry::value_span`](struct.Entry.html#structfield.value_span).
    pub fn value_span(&self) -> Span {
        self.value_span
    }
}

/// A value, like `kdl::KdlValue`.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Any string form: identifier, quoted, raw, multi-line.
    String(String),
    /// A decimal, hex, octal or binary integer.
    Integer(i128),
    /// A decimal with a fraction or exponent, or `#inf`, `#-inf`, `#nan`.
    Float(f64),
    /// `#true` or `#false`.
    Bool(bool),
    /// `#null`.
    Null,
}

impl Value {
    /// The string, if this is one.
    pub fn as_string(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is one.
    pub fn as_integer(&self) -> Option<i128> {
        match self {
            Value::Integer(i) => Some(*i),
            _ => None,
        }
    }

    /// The float, if this is one.
    pub fn as_float(&self) -> Option<f64> {
        match self {
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// Whether this is `#null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Whether this is a string.
    pub fn is_string(&self) -> bool {
        matches!(self, Value::String(_))
    }
}

/// A comment, kept for the formatter: the decoder never sees comments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Comment {
    /// What kind.
    pub kind: CommentKind,
    /// The whole comment: from `//` to the end of its line (not the newline), from `/*` through
    /// `*/`, or from `/-` through what it comments out.
    pub span: Span,
    /// For a slashdash, what it comments out (a node, an entry or a `{ }` block); otherwise the
    /// comment itself.
    pub target: Span,
}

/// The kinds of comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommentKind {
    /// `// ...`.
    Line,
    /// `/* ... */`, nested.
    Block,
    /// `/-` before a node.
    SlashdashNode,
    /// `/-` before an argument or property.
    SlashdashEntry,
    /// `/-` before a `{ }` block.
    SlashdashBlock,
}
