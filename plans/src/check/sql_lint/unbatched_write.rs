//! `planrun::sql-unbatched-write` (warning): an `UPDATE` or `DELETE` of every row of an
//! existing table holds its row locks until it ends and makes one huge transaction for replicas
//! and vacuum to catch up with.

use super::{Checked, Context, Finding, relation_name};
use crate::diagnostic::problem::SqlProblem;
use crate::sql::NodeEnum;

/// Flags `UPDATE` and `DELETE` without `WHERE` on a table not created in this file.
pub(super) fn check(s: &Checked<'_>, cx: &Context, out: &mut Vec<Finding>) {
    let (verb, relation, whole) = match s.node {
        NodeEnum::UpdateStmt(u) => ("UPDATE", u.relation.as_ref(), u.where_clause.is_none()),
        NodeEnum::DeleteStmt(d) => ("DELETE", d.relation.as_ref(), d.where_clause.is_none()),
        _ => return,
    };
    if !whole || cx.is_new(relation) {
        return;
    }
    out.push(Finding::new(SqlProblem::UnbatchedWrite { verb, table: relation_name(relation) }, s.first_word()));
}
