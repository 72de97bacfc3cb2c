//! `planrun::sql-concurrently-in-transaction`: PostgreSQL refuses `CREATE INDEX CONCURRENTLY`,
//! `DROP INDEX CONCURRENTLY`, `REINDEX ... CONCURRENTLY` and `DETACH PARTITION ... CONCURRENTLY`
//! inside a transaction block, and a transactional step runs its file in one.

use super::{Checked, Context, Finding};
use crate::diagnostic::problem::SqlProblem;
use crate::sql::NodeEnum;
use crate::sql::protobuf::AlterTableType;

/// Flags CONCURRENTLY in a step that runs its file in one transaction.
pub(super) fn check(s: &Checked<'_>, cx: &Context, out: &mut Vec<Finding>) {
    if !cx.transactional {
        return;
    }
    let concurrent = match s.node {
        NodeEnum::IndexStmt(i) => i.concurrent,
        NodeEnum::DropStmt(d) => d.concurrent,
        NodeEnum::ReindexStmt(r) => r
            .params
            .iter()
            .any(|p| matches!(&p.node, Some(NodeEnum::DefElem(d)) if d.defname.eq_ignore_ascii_case("concurrently"))),
        NodeEnum::AlterTableStmt(a) => a.cmds.iter().any(|c| {
            matches!(&c.node, Some(NodeEnum::AlterTableCmd(c))
                if c.subtype == AlterTableType::AtDetachPartition as i32
                    && s.statement.text.to_ascii_lowercase().contains("concurrently"))
        }),
        _ => false,
    };
    if concurrent {
        out.push(Finding::new(SqlProblem::ConcurrentlyInTransaction, s.words(&["concurrently"], 0)));
    }
}
