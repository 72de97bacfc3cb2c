//! SQL files a plan names: split into statements (for the engine, which runs them one at a
//! time, and for the lint), parsed with PostgreSQL's rules.

mod split;

pub use split::{SqlSyntaxError, Statement, position_to_offset, statements};
