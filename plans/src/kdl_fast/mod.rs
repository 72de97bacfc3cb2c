//! A fast, strict, hand-written KDL 2.0 parser producing a small owned AST.
//!
//! [`parse`] accepts exactly the documents the KDL 2.0 grammar accepts and builds the same data
//! the `kdl` crate would (names, type annotations, entries, values, children), with byte spans.
//! It stops at the first error: callers that want rich diagnostics re-parse with `kdl`.
//!
//! Where the `kdl` crate (6.7.1) disagrees with the specification this parser follows the
//! specification; the differences are listed in `tests/kdl_conformance.rs`.

pub mod ast;
pub mod parser;

pub use ast::{Document, Entry, Ident, Node, Value};
pub use parser::{ParseError, parse};
