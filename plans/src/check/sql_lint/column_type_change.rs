//! `planrun::sql-column-type-change`: `ALTER COLUMN ... TYPE` rewrites the table (and its
//! indexes) under an exclusive lock, except for changes PostgreSQL knows need no rewrite, such
//! as widening `varchar(n)` to a longer `varchar` or to `text`. planrun cannot see the column's
//! current type, so a change to `varchar`/`text` without `USING` is a warning that says when it
//! is safe; any other change is an error.

use super::{Checked, Context, Finding, relation_name};
use crate::diagnostic::problem::SqlProblem;
use crate::sql::NodeEnum;
use crate::sql::protobuf::AlterTableType;

/// Flags a column type change of an existing table.
pub(super) fn check(s: &Checked<'_>, cx: &Context, out: &mut Vec<Finding>) {
    let NodeEnum::AlterTableStmt(a) = s.node else { return };
    if cx.is_new(a.relation.as_ref()) {
        return;
    }
    for (i, cmd) in a.cmds.iter().enumerate() {
        let Some(NodeEnum::AlterTableCmd(c)) = &cmd.node else { continue };
        if c.subtype != AlterTableType::AtAlterColumnType as i32 {
            continue;
        }
        let Some(NodeEnum::ColumnDef(col)) = c.def.as_ref().and_then(|d| d.node.as_ref()) else { continue };
        let type_name = col.type_name.as_ref().and_then(|t| t.names.last()).and_then(|n| match &n.node {
            Some(NodeEnum::String(s)) => Some(s.sval.as_str()),
            _ => None,
        });
        let widening = matches!(type_name, Some("varchar" | "text")) && col.raw_default.is_none();
        let span = s.words(&["type"], Checked::nth_of_kind(&a.cmds, i, c.subtype));
        let (column, table) = (c.name.clone(), relation_name(a.relation.as_ref()));
        let problem = if widening {
            SqlProblem::ColumnTypeMayWiden { column, table }
        } else {
            SqlProblem::ColumnTypeRewrite { column, table }
        };
        out.push(Finding::new(problem, span));
    }
}
