//! A fast, strict, hand-written KDL 2.0 parser producing a small owned AST.
//!
//! [`parse`] accepts exactly the documents the KDL 2.0 grammar (its current revision) accepts and
//! builds the same data the `kdl` crate would (names, type annotations, entries, values,
//! children), with byte spans. On invalid input it reports every syntax error, each at its own
//! token, in planrun's words, recovering after each one (see `parser/mod.rs`).
//!
//! `tests/kdl_spec.rs` runs the official KDL test suite; where the `kdl` crate (6.7.1) disagrees
//! with the specification this parser follows the specification (`tests/kdl_conformance.rs`).

pub mod ast;
pub mod parser;

pub use ast::{Comment, CommentKind, Document, Entry, Ident, Node, Value};
pub use parser::{ParseError, is_bare_identifier, parse, parse_with_comments};
