//! `planrun::sql-index-without-concurrently`: a plain `CREATE INDEX` blocks writes to the table
//! while it builds, and a plain `DROP INDEX` takes an exclusive lock on it; with CONCURRENTLY
//! traffic goes on. A table created earlier in the same file has no traffic yet.

use super::{Checked, Context, Finding, relation_name};
use crate::diagnostic::problem::SqlProblem;
use crate::sql::NodeEnum;
use crate::sql::protobuf::ObjectType;

/// Flags `CREATE INDEX` on an existing table and `DROP INDEX` of an existing index without
/// `CONCURRENTLY`.
pub(super) fn check(s: &Checked<'_>, cx: &Context, out: &mut Vec<Finding>) {
    match s.node {
        NodeEnum::IndexStmt(i) if !i.concurrent && !cx.is_new(i.relation.as_ref()) => out.push(Finding::new(
            SqlProblem::CreateIndexWithoutConcurrently { table: relation_name(i.relation.as_ref()) },
            s.words(&["index"], 0),
        )),
        NodeEnum::DropStmt(d) if d.remove_type == ObjectType::ObjectIndex as i32 && !d.concurrent => {
            let names = dropped_names(d);
            if names.iter().all(|n| cx.created_indexes.contains(n)) && !names.is_empty() {
                return;
            }
            out.push(Finding::new(SqlProblem::DropIndexWithoutConcurrently, s.words(&["index"], 0)))
        }
        _ => {}
    }
}

/// The last part of each name a `DROP` names.
fn dropped_names(d: &crate::sql::protobuf::DropStmt) -> Vec<String> {
    d.objects
        .iter()
        .filter_map(|o| match &o.node {
            Some(NodeEnum::List(l)) => l.items.last().and_then(|n| match &n.node {
                Some(NodeEnum::String(s)) => Some(s.sval.clone()),
                _ => None,
            }),
            _ => None,
        })
        .collect()
}
