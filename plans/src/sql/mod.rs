//! SQL files a plan names: split into statements (for the engine, which runs them one at a
//! time, and for the lint), and each parsed by PostgreSQL's own parser.

mod parse;
mod split;
mod transaction;

pub use parse::{NodeEnum, NodeRef, parse, protobuf};
pub use split::{SqlSyntaxError, Statement, position_to_offset, statements};
pub(crate) use split::{Token, TokenKind, scan, tokens};
pub use transaction::{concurrent_index, controls_transaction, refuses_transaction_block};
