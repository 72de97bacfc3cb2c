//! Splitting a SQL file into statements at the `;`s PostgreSQL would split it at.
//!
//! The scanner knows every place a `;` does not end a statement: string literals (`'...'` with
//! `''`, `E'...'` with backslash escapes), quoted identifiers, dollar-quoted bodies (`$$...$$`,
//! `$tag$...$tag$`), `--` and nested `/* */` comments, and a SQL-standard function body
//! (`CREATE FUNCTION ... BEGIN ATOMIC ...; ...; END`), as psql does.

use std::ops::Range;

/// One statement of a SQL file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// Byte range in the file: from the statement's first token (comments and whitespace before
    /// it are left out) to its last one, without the `;` that ends it.
    pub span: Range<usize>,
    /// The statement's text, `file[span]`: what the engine sends to the server.
    pub text: String,
    /// The 1-based line of its first byte.
    pub line: usize,
}

/// Text that cannot be split into statements: a string, quoted identifier, dollar-quoted body or
/// comment that never ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlSyntaxError {
    /// What is wrong, in a sentence.
    pub message: String,
    /// Byte offset in the file where the unfinished element starts.
    pub offset: usize,
}

/// A comment found while scanning: its byte range, including `--` or `/*`.
pub(crate) type Comment = Range<usize>;

/// Splits `text` into statements; empty statements (`;;`, a file of comments) are left out.
pub fn statements(text: &str) -> Result<Vec<Statement>, SqlSyntaxError> {
    scan(text).map(|(statements, _)| statements)
}

/// Where a server error's `position` (1-based, in characters of the statement as sent) is in
/// the file, as a byte offset; a position past the statement's end gives its end.
pub fn position_to_offset(statement: &Statement, server_position: usize) -> usize {
    let chars = server_position.saturating_sub(1);
    let within = statement.text.char_indices().nth(chars).map_or(statement.text.len(), |(at, _)| at);
    statement.span.start + within
}

/// What a token of SQL text is, as far as splitting and finding keywords need to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenKind {
    /// Spaces, tabs, newlines.
    Space,
    /// `-- ...` or `/* ... */`.
    Comment,
    /// A keyword or an unquoted identifier.
    Word,
    /// `"..."`.
    QuotedIdentifier,
    /// `'...'`, `E'...'` or a dollar-quoted body.
    String,
    /// `;`.
    Semicolon,
    /// Anything else: punctuation, operators, numbers, parameters, one character at a time.
    Other,
}

/// One token: its kind and byte range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    pub span: Range<usize>,
}

/// Every token of `text`, in order.
pub(crate) fn tokens(text: &str) -> Result<Vec<Token>, SqlSyntaxError> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < text.len() {
        let (kind, end) = next_token(text, i)?;
        out.push(Token { kind, span: i..end });
        i = end;
    }
    Ok(out)
}

/// The token starting at byte `i` of `text` (which is not at its end).
fn next_token(text: &str, i: usize) -> Result<(TokenKind, usize), SqlSyntaxError> {
    let bytes = text.as_bytes();
    let b = bytes[i];
    Ok(match b {
        b if b.is_ascii_whitespace() => {
            (TokenKind::Space, i + bytes[i..].iter().position(|c| !c.is_ascii_whitespace()).unwrap_or(bytes.len() - i))
        }
        b'-' if bytes.get(i + 1) == Some(&b'-') => (TokenKind::Comment, memchr(b'\n', bytes, i).unwrap_or(bytes.len())),
        b'/' if bytes.get(i + 1) == Some(&b'*') => (
            TokenKind::Comment,
            block_comment_end(bytes, i).ok_or_else(|| error("this `/*` comment never ends: `*/` is missing", i))?,
        ),
        b';' => (TokenKind::Semicolon, i + 1),
        b'\'' => (TokenKind::String, quoted_end(bytes, i, b'\'', false).ok_or_else(|| unterminated_string(i))?),
        b'e' | b'E' if bytes.get(i + 1) == Some(&b'\'') => {
            (TokenKind::String, quoted_end(bytes, i + 1, b'\'', true).ok_or_else(|| unterminated_string(i))?)
        }
        b'"' => (
            TokenKind::QuotedIdentifier,
            quoted_end(bytes, i, b'"', false)
                .ok_or_else(|| error("this quoted identifier never ends: the closing `\"` is missing", i))?,
        ),
        b'$' => match dollar_tag(bytes, i) {
            Some(tag_end) => {
                let tag = &bytes[i..tag_end];
                let end = find(bytes, tag, tag_end).map(|at| at + tag.len()).ok_or_else(|| {
                    error(
                        format!(
                            "this dollar-quoted body never ends: the closing `{}` is missing",
                            String::from_utf8_lossy(tag)
                        ),
                        i,
                    )
                })?;
                (TokenKind::String, end)
            }
            None => (TokenKind::Other, i + 1 + bytes[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count()),
        },
        b if is_ident_start(b) => {
            (TokenKind::Word, i + bytes[i..].iter().position(|&c| !is_ident_char(c)).unwrap_or(bytes.len() - i))
        }
        _ => (TokenKind::Other, i + text[i..].chars().next().map_or(1, char::len_utf8)),
    })
}

/// The statements and every comment of `text`.
pub(crate) fn scan(text: &str) -> Result<(Vec<Statement>, Vec<Comment>), SqlSyntaxError> {
    let bytes = text.as_bytes();
    let mut statements = Vec::new();
    let mut comments = Vec::new();
    let mut i = 0;
    let mut line = 1;
    // The current statement: where its first token starts and on which line; where its last
    // token ends.
    let mut current: Option<(usize, usize)> = None;
    let mut end = 0;
    let mut body = BodyDepth::default();
    while i < bytes.len() {
        let (kind, next) = next_token(text, i)?;
        match kind {
            TokenKind::Space => {}
            TokenKind::Comment => comments.push(i..next),
            TokenKind::Semicolon if body.depth == 0 => {
                if let Some((first, first_line)) = current.take() {
                    statements.push(statement(text, first..end, first_line));
                }
                body = BodyDepth::default();
            }
            _ => {
                let first = *current.get_or_insert((i, line));
                if kind == TokenKind::Word {
                    body.word(&text[i..next], &text[first.0..i]);
                }
                end = next;
            }
        }
        line += count_newlines(&bytes[i..next]);
        i = next;
    }
    if let Some((first, first_line)) = current {
        statements.push(statement(text, first..end, first_line));
    }
    Ok((statements, comments))
}

fn statement(text: &str, span: Range<usize>, line: usize) -> Statement {
    Statement { text: text[span.clone()].to_owned(), span, line }
}

fn error(message: impl Into<String>, offset: usize) -> SqlSyntaxError {
    SqlSyntaxError { message: message.into(), offset }
}

fn unterminated_string(offset: usize) -> SqlSyntaxError {
    error("this string never ends: the closing `'` is missing", offset)
}

/// psql's rule for SQL-standard function bodies: inside `CREATE [OR REPLACE] FUNCTION` or
/// `PROCEDURE`, `BEGIN` opens a block (and `CASE` inside one), `END` closes one, and a `;`
/// inside a block does not end the statement.
#[derive(Default)]
struct BodyDepth {
    depth: usize,
    /// Whether the statement is a function or procedure definition (decided at its third word).
    routine: Option<bool>,
}

impl BodyDepth {
    fn word(&mut self, word: &str, before: &str) {
        if self.routine.is_none() {
            let before: Vec<String> = before.split_ascii_whitespace().map(str::to_ascii_lowercase).collect();
            let word = word.to_ascii_lowercase();
            match (before.iter().map(String::as_str).collect::<Vec<_>>().as_slice(), word.as_str()) {
                ([], "create") | (["create"], "or") | (["create", "or"], "replace") => {}
                ([], _) => self.routine = Some(false),
                (_, kind) => self.routine = Some(kind == "function" || kind == "procedure"),
            }
            return;
        }
        if self.routine != Some(true) {
            return;
        }
        if word.eq_ignore_ascii_case("begin") || (self.depth > 0 && word.eq_ignore_ascii_case("case")) {
            self.depth += 1;
        } else if word.eq_ignore_ascii_case("end") && self.depth > 0 {
            self.depth -= 1;
        }
    }
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

fn is_ident_char(b: u8) -> bool {
    is_ident_start(b) || b.is_ascii_digit() || b == b'$'
}

/// The end of a `'...'` or `"..."` starting at `open`: a doubled quote is one quote; with
/// `backslashes` (an `E'...'` string) a backslash escapes the next byte.
fn quoted_end(bytes: &[u8], open: usize, quote: u8, backslashes: bool) -> Option<usize> {
    let mut i = open + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if backslashes => i += 2,
            q if q == quote => {
                if bytes.get(i + 1) == Some(&quote) {
                    i += 2;
                } else {
                    return Some(i + 1);
                }
            }
            _ => i += 1,
        }
    }
    None
}

/// The end of a dollar-quote tag (`$$`, `$body$`) starting at `i`, or `None` for a `$` that
/// does not start one (`$1`, a lone `$`).
fn dollar_tag(bytes: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    if bytes.get(j).is_some_and(|b| b.is_ascii_digit()) {
        return None;
    }
    while j < bytes.len() && is_ident_char(bytes[j]) && bytes[j] != b'$' {
        j += 1;
    }
    (bytes.get(j) == Some(&b'$')).then_some(j + 1)
}

/// The end of a `/* */` comment starting at `i`; they nest, as in PostgreSQL.
fn block_comment_end(bytes: &[u8], mut i: usize) -> Option<usize> {
    let mut depth = 0;
    while i + 1 < bytes.len() {
        match (bytes[i], bytes[i + 1]) {
            (b'/', b'*') => {
                depth += 1;
                i += 2;
            }
            (b'*', b'/') => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => i += 1,
        }
    }
    None
}

fn memchr(needle: u8, bytes: &[u8], from: usize) -> Option<usize> {
    bytes[from..].iter().position(|&b| b == needle).map(|p| from + p)
}

fn find(bytes: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    bytes[from..].windows(needle.len()).position(|w| w == needle).map(|p| from + p)
}

fn count_newlines(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == b'\n').count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(sql: &str) -> Vec<String> {
        statements(sql).unwrap().into_iter().map(|s| s.text).collect()
    }

    #[test]
    fn splits_at_semicolons_and_keeps_spans_lines_and_text() {
        let sql = "-- header\nCREATE TABLE a (id int);\n\n  ALTER TABLE a ADD COLUMN b int ;\nSELECT 1";
        let s = statements(sql).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].text, "CREATE TABLE a (id int)");
        assert_eq!(s[0].line, 2);
        assert_eq!(&sql[s[1].span.clone()], "ALTER TABLE a ADD COLUMN b int");
        assert_eq!(s[1].line, 4);
        assert_eq!((s[2].text.as_str(), s[2].line), ("SELECT 1", 5));
    }

    #[test]
    fn semicolons_inside_strings_comments_and_identifiers_do_not_split() {
        let sql =
            "INSERT INTO t VALUES ('a;b', 'it''s;'); -- x; y\n/* a; /* nested; */ b; */ SELECT \"we;ird\" FROM t;";
        assert_eq!(texts(sql), ["INSERT INTO t VALUES ('a;b', 'it''s;')", "SELECT \"we;ird\" FROM t"]);
    }

    #[test]
    fn escape_strings_take_backslashes() {
        assert_eq!(
            texts(r"SELECT E'it\'s; fine'; SELECT e'\\'; SELECT 1"),
            [r"SELECT E'it\'s; fine'", r"SELECT e'\\'", "SELECT 1"]
        );
        // Without the E, a backslash is an ordinary character.
        assert_eq!(texts(r"SELECT 'a\'; SELECT 2"), [r"SELECT 'a\'", "SELECT 2"]);
    }

    #[test]
    fn dollar_quoted_bodies_keep_their_semicolons() {
        let sql = "DO $$ BEGIN PERFORM 1; PERFORM 2; END $$;\nCREATE FUNCTION f() RETURNS int AS $fn$ SELECT 1; $$ not the end; $fn$ LANGUAGE sql;\nSELECT $1, a$b FROM t;";
        let s = texts(sql);
        assert_eq!(s.len(), 3, "{s:#?}");
        assert!(s[1].ends_with("$fn$ LANGUAGE sql"));
        assert_eq!(s[2], "SELECT $1, a$b FROM t");
    }

    #[test]
    fn sql_standard_function_bodies_are_one_statement() {
        let sql = "CREATE OR REPLACE FUNCTION f(x int) RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT CASE WHEN x > 0 THEN 1 ELSE 0 END;\n  SELECT 2;\nEND;\nBEGIN;\nSELECT 3;\nCOMMIT;";
        let s = texts(sql);
        assert_eq!(s.len(), 4, "{s:#?}");
        assert!(s[0].ends_with("SELECT 2;\nEND"));
        assert_eq!(&s[1..], ["BEGIN", "SELECT 3", "COMMIT"]);
    }

    #[test]
    fn empty_statements_and_comment_only_files_give_nothing() {
        assert!(texts(";; -- only a comment\n/* and another */ ;").is_empty());
        assert!(texts("").is_empty());
    }

    #[test]
    fn unfinished_elements_are_errors_at_their_start() {
        for (sql, offset, what) in [
            ("SELECT 1;\nSELECT 'abc", 17, "string"),
            ("SELECT E'abc\\'", 7, "string"),
            ("DO $body$ BEGIN END $$;", 3, "`$body$`"),
            ("SELECT 1; /* /* */", 10, "`*/`"),
            ("SELECT \"abc", 7, "identifier"),
        ] {
            let e = statements(sql).unwrap_err();
            assert_eq!(e.offset, offset, "{sql}");
            assert!(e.message.contains(what), "{sql}: {}", e.message);
        }
    }

    #[test]
    fn server_positions_are_characters_of_the_statement() {
        let sql = "-- é\nUPDATE t SET name = 'é' WHERE idd = 1;";
        let s = &statements(sql).unwrap()[0];
        // PostgreSQL reports `idd` at character 31 (1-based) of the statement text.
        let at = position_to_offset(s, 31);
        assert_eq!(&sql[at..at + 3], "idd");
        assert_eq!(position_to_offset(s, 1), s.span.start);
        assert_eq!(position_to_offset(s, 0), s.span.start);
        assert_eq!(position_to_offset(s, 999), s.span.end);
    }
}
