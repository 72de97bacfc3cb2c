//! The SQL lint: a migration's files read statement by statement, each parsed by PostgreSQL's
//! own parser and checked by the rules in this directory (one file per rule, named by its code),
//! knowing the step's phase and whether it runs in one transaction.
//!
//! Diagnostics point into the SQL file (`Diagnostic::in_named_file`) and name the place in the
//! plan that names the file. A rule is turned off for a whole file by a comment
//! `-- planrun: allow CODE [CODE...]` anywhere in it. A `down` file undoes an expand, so the
//! drop and rename rules do not apply to it; the others do. Bodies of `DO` blocks and functions
//! are PL/pgSQL and are not read.

mod column_type_change;
mod concurrently_in_transaction;
mod constraint_without_not_valid;
mod drop_outside_contract;
mod index_without_concurrently;
mod lock_timeout_disabled;
mod not_null_without_default;
mod rename_outside_contract;
mod set_not_null_in_expand;
mod unbatched_write;

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use crate::diagnostic::problem::{FileProblem, SqlProblem};
use crate::diagnostic::{Diagnostic, SourceFile};
use crate::span::Span;
use crate::sql::{self, NodeEnum, Statement, Token, TokenKind};
use crate::steps::migrate::{Migrate, Phase, Resolved, SqlFile};

/// What a rule knows about the file and the statements before this one.
pub(super) struct Context {
    /// The step's phase.
    pub phase: Phase,
    /// Whether the step runs the file in one transaction.
    pub transactional: bool,
    /// Whether this is the step's `down` file.
    pub down: bool,
    /// Tables created by earlier statements of the file (lower case, as PostgreSQL folds them).
    pub created_tables: HashSet<String>,
    /// Indexes created by earlier statements of the file.
    pub created_indexes: HashSet<String>,
}

impl Context {
    /// Whether `relation` was created earlier in this file: not an existing table, no traffic.
    pub fn is_new(&self, relation: Option<&sql::protobuf::RangeVar>) -> bool {
        relation.is_some_and(|r| self.created_tables.contains(&r.relname))
    }
}

/// One statement being checked: its parse tree and where its words are in the file.
pub(super) struct Checked<'a> {
    pub statement: &'a Statement,
    pub node: &'a NodeEnum,
    tokens: Vec<Token>,
}

impl Checked<'_> {
    /// The whole statement.
    pub fn span(&self) -> Span {
        Span::new(self.statement.span.start, self.statement.span.len())
    }

    /// The `nth` (0-based) occurrence of these consecutive words (case-insensitive, comments
    /// between them allowed), else the statement's first word.
    pub fn words(&self, words: &[&str], nth: usize) -> Span {
        let text = &self.statement.text;
        let found: Vec<&Token> =
            self.tokens.iter().filter(|t| !matches!(t.kind, TokenKind::Space | TokenKind::Comment)).collect();
        let mut seen = 0;
        for start in 0..found.len() {
            let window = found.get(start..start + words.len());
            let matches = window.is_some_and(|w| {
                w.iter()
                    .zip(words)
                    .all(|(t, word)| t.kind == TokenKind::Word && text[t.span.clone()].eq_ignore_ascii_case(word))
            });
            if matches {
                if seen == nth {
                    let (first, last) = (&found[start], &found[start + words.len() - 1]);
                    let base = self.statement.span.start;
                    return Span::new(base + first.span.start, last.span.end - first.span.start);
                }
                seen += 1;
            }
        }
        self.first_word()
    }

    /// The statement's first word.
    pub fn first_word(&self) -> Span {
        let first = self.tokens.iter().find(|t| !matches!(t.kind, TokenKind::Space | TokenKind::Comment));
        first.map_or(self.span(), |t| Span::new(self.statement.span.start + t.span.start, t.span.len()))
    }

    /// How many earlier commands of this `ALTER TABLE` have the same subtype: the occurrence of
    /// its words to point at.
    pub fn nth_of_kind(cmds: &[sql::protobuf::Node], index: usize, subtype: i32) -> usize {
        cmds[..index]
            .iter()
            .filter(|c| matches!(&c.node, Some(NodeEnum::AlterTableCmd(c)) if c.subtype == subtype))
            .count()
    }
}

/// A problem a rule found, and where.
pub(super) struct Finding {
    pub problem: SqlProblem,
    pub span: Span,
}

impl Finding {
    /// `problem` at `span`.
    pub fn new(problem: SqlProblem, span: Span) -> Self {
        Finding { problem, span }
    }
}

/// A rule: its code and what it checks in one statement.
type Rule = fn(&Checked<'_>, &Context, &mut Vec<Finding>);

/// Every rule.
const RULES: &[Rule] = &[
    drop_outside_contract::check,
    rename_outside_contract::check,
    not_null_without_default::check,
    index_without_concurrently::check,
    concurrently_in_transaction::check,
    constraint_without_not_valid::check,
    column_type_change::check,
    lock_timeout_disabled::check,
    unbatched_write::check,
    set_not_null_in_expand::check,
];

/// Lints the files of a migrate step, relative to `dir`. A file that cannot be read is an error
/// at the setting that names it. Returns the files read and split, when every one was.
pub fn check(step: &Migrate, dir: &Path, out: &mut Vec<Diagnostic>) -> Option<Resolved> {
    let mut read = Vec::new();
    let down = step.down.iter().map(|d| (d, true));
    for (named, is_down) in std::iter::once((&step.file, false)).chain(down) {
        let path = dir.join(&named.value);
        let shown = if dir == Path::new(".") { named.value.clone() } else { path.display().to_string() };
        match std::fs::read_to_string(&path) {
            Err(e) => out.push(Diagnostic::new(
                FileProblem::UnreadableSql { named: &named.value, path: &path, error: &e },
                named.span,
            )),
            Ok(text) => {
                let file = Arc::new(SourceFile::new(shown, text));
                let cx = Context {
                    phase: step.phase,
                    transactional: step.transactional,
                    down: is_down,
                    created_tables: HashSet::new(),
                    created_indexes: HashSet::new(),
                };
                for d in lint(&file.text, cx) {
                    out.push(d.in_named_file(file.clone(), named.span));
                }
                read.push(
                    sql::statements(&file.text).ok().map(|statements| SqlFile { text: file.text.clone(), statements }),
                );
            }
        }
    }
    // A file that could not be read pushed nothing: then the step is not resolved.
    let mut files = read.into_iter().collect::<Option<Vec<SqlFile>>>()?.into_iter();
    if files.len() != 1 + usize::from(step.down.is_some()) {
        return None;
    }
    let file = files.next()?;
    Some(Resolved { file, down: files.next() })
}

/// Lints SQL `text` as a file of a step like `cx` describes; spans are in `text`.
pub(super) fn lint(text: &str, mut cx: Context) -> Vec<Diagnostic> {
    let (statements, comments) = match sql::scan(text) {
        Ok(s) => s,
        Err(e) => return vec![syntax(text, &e)],
    };
    let allowed = allowed_codes(text, &comments);
    let mut out = Vec::new();
    let mut findings = Vec::new();
    for statement in &statements {
        let node = match sql::parse(statement) {
            Ok(Some(node)) => node,
            Ok(None) => continue,
            Err(e) => {
                out.push(syntax(text, &e));
                continue;
            }
        };
        let tokens = sql::tokens(&statement.text).unwrap_or_default();
        let checked = Checked { statement, node: &node, tokens };
        for rule in RULES {
            rule(&checked, &cx, &mut findings);
        }
        remember_created(&node, &mut cx);
    }
    for f in findings {
        let d = Diagnostic::new(f.problem, f.span);
        if !allowed.contains(d.code.name()) {
            out.push(d);
        }
    }
    out.sort_by_key(|d| d.primary_span().offset);
    out
}

/// Tables and indexes a statement creates: later statements of the file may change them freely.
fn remember_created(node: &NodeEnum, cx: &mut Context) {
    match node {
        NodeEnum::CreateStmt(c) => {
            cx.created_tables.extend(c.relation.as_ref().map(|r| r.relname.clone()));
        }
        NodeEnum::IndexStmt(i) if !i.idxname.is_empty() => {
            cx.created_indexes.insert(i.idxname.clone());
        }
        _ => {}
    }
}

fn syntax(text: &str, e: &sql::SqlSyntaxError) -> Diagnostic {
    let offset = e.offset.min(text.len());
    let len = text[offset..].chars().next().map_or(0, char::len_utf8);
    Diagnostic::new(SqlProblem::Syntax { message: e.message.clone() }, Span::new(offset, len))
}

/// The codes allowed in this file by `-- planrun: allow CODE ...` comments (with or without
/// `planrun::`, separated by spaces or commas).
fn allowed_codes(text: &str, comments: &[std::ops::Range<usize>]) -> HashSet<String> {
    let mut allowed = HashSet::new();
    for c in comments {
        let body = text[c.clone()].trim_start_matches("--").trim_start_matches("/*").trim_end_matches("*/").trim();
        let Some(rest) = body.strip_prefix("planrun:").map(str::trim_start) else { continue };
        let Some(codes) = rest.strip_prefix("allow") else { continue };
        for code in codes.split(|c: char| c.is_whitespace() || c == ',').filter(|c| !c.is_empty()) {
            allowed.insert(code.trim_start_matches("planrun::").to_owned());
        }
    }
    allowed
}

/// The name of a relation as written (`schema.table`), if the statement names one.
pub(super) fn relation_name(r: Option<&sql::protobuf::RangeVar>) -> Option<String> {
    match r {
        Some(r) if r.schemaname.is_empty() => Some(r.relname.clone()),
        Some(r) => Some(format!("{}.{}", r.schemaname, r.relname)),
        None => None,
    }
}

#[cfg(test)]
mod tests;
