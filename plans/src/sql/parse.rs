//! Parsing one statement with PostgreSQL's own parser (libpg_query, through `pg_query`).

use std::ffi::{CStr, CString, c_char, c_int};

pub use pg_query::protobuf;
pub use pg_query::{NodeEnum, NodeRef};

use super::split::{SqlSyntaxError, Statement, position_to_offset};

/// The parse tree of one statement (`None` for a statement PostgreSQL reads as nothing).
pub fn parse(statement: &Statement) -> Result<Option<NodeEnum>, SqlSyntaxError> {
    match pg_query::parse(&statement.text, pg_query::ParserOptions::default()) {
        Ok(result) => Ok(result.protobuf.stmts.into_iter().next().and_then(|s| s.stmt).and_then(|n| n.node)),
        Err(e) => {
            let (message, position) = error_position(&statement.text).unwrap_or((e.to_string(), 0));
            Err(SqlSyntaxError { message, offset: position_to_offset(statement, position) })
        }
    }
}

// `pg_query` keeps the position of a syntax error to itself; libpg_query's C interface, which
// it links, has it.
#[repr(C)]
struct PgQueryError {
    message: *mut c_char,
    funcname: *mut c_char,
    filename: *mut c_char,
    lineno: c_int,
    /// 1-based character position in the input, 0 when unknown.
    cursorpos: c_int,
    context: *mut c_char,
}

#[repr(C)]
struct PgQueryParseResult {
    parse_tree: *mut c_char,
    stderr_buffer: *mut c_char,
    error: *mut PgQueryError,
}

unsafe extern "C" {
    fn pg_query_parse(input: *const c_char) -> PgQueryParseResult;
    fn pg_query_free_parse_result(result: PgQueryParseResult);
}

/// The server's message and 1-based character position of the syntax error in `text`.
fn error_position(text: &str) -> Option<(String, usize)> {
    let input = CString::new(text).ok()?;
    // SAFETY: `input` is a valid C string for the call; the result is read before it is freed,
    // and freed once, by the library that allocated it.
    unsafe {
        let result = pg_query_parse(input.as_ptr());
        let found = (!result.error.is_null()).then(|| {
            let e = &*result.error;
            (CStr::from_ptr(e.message).to_string_lossy().into_owned(), usize::try_from(e.cursorpos).unwrap_or(0))
        });
        pg_query_free_parse_result(result);
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::statements;

    #[test]
    fn syntax_errors_point_at_the_token_in_the_file() {
        let sql = "SELECT 1;\n-- é\nUPDATE t SET a = 'é' WHERE b = = 1;";
        let s = &statements(sql).unwrap()[1];
        let e = parse(s).unwrap_err();
        assert!(e.message.contains("syntax error"), "{}", e.message);
        assert_eq!(&sql[e.offset..], "= 1;", "the second `=`, counted in characters");
    }

    #[test]
    fn statements_the_lint_reads_parse() {
        let s = &statements("DROP INDEX CONCURRENTLY IF EXISTS i").unwrap()[0];
        assert!(matches!(parse(s), Ok(Some(NodeEnum::DropStmt(d))) if d.concurrent));
    }
}
