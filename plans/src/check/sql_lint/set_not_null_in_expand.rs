//! `planrun::sql-set-not-null-in-expand`: in expand the old release still runs, and it does not
//! write the new column; `SET NOT NULL` would make its inserts fail (and scans the table under an
//! exclusive lock unless a validated CHECK proves it).

use super::{Checked, Context, Finding, relation_name};
use crate::diagnostic::problem::SqlProblem;
use crate::sql::NodeEnum;
use crate::sql::protobuf::AlterTableType;
use crate::steps::migrate::Phase;

/// Flags `ALTER COLUMN ... SET NOT NULL` in an expand step on a table not created in this file.
pub(super) fn check(s: &Checked<'_>, cx: &Context, out: &mut Vec<Finding>) {
    let NodeEnum::AlterTableStmt(a) = s.node else { return };
    if cx.phase != Phase::Expand || cx.is_new(a.relation.as_ref()) {
        return;
    }
    for (i, cmd) in a.cmds.iter().enumerate() {
        let Some(NodeEnum::AlterTableCmd(c)) = &cmd.node else { continue };
        if c.subtype != AlterTableType::AtSetNotNull as i32 {
            continue;
        }
        let problem =
            SqlProblem::SetNotNullInExpand { column: c.name.clone(), table: relation_name(a.relation.as_ref()) };
        out.push(Finding::new(problem, s.words(&["set", "not", "null"], Checked::nth_of_kind(&a.cmds, i, c.subtype))));
    }
}
