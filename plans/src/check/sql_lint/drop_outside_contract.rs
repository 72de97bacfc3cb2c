//! `planrun::sql-drop-outside-contract`: dropping a column or table the running release still
//! uses breaks it; only the contract phase, after every deployment, may.

use super::{Checked, Context, Finding, relation_name};
use crate::diagnostic::problem::SqlProblem;
use crate::sql::NodeEnum;
use crate::sql::protobuf::{AlterTableType, ObjectType};
use crate::steps::migrate::Phase;

/// Flags `DROP TABLE` and `ALTER TABLE ... DROP COLUMN` outside contract (not in `down` files).
pub(super) fn check(s: &Checked<'_>, cx: &Context, out: &mut Vec<Finding>) {
    if cx.phase == Phase::Contract || cx.down {
        return;
    }
    match s.node {
        NodeEnum::DropStmt(d) if d.remove_type == ObjectType::ObjectTable as i32 => {
            out.push(Finding::new(SqlProblem::DropTable { phase: phase(cx) }, s.words(&["drop", "table"], 0)))
        }
        NodeEnum::AlterTableStmt(a) => {
            for (i, cmd) in a.cmds.iter().enumerate() {
                let Some(NodeEnum::AlterTableCmd(c)) = &cmd.node else { continue };
                if c.subtype != AlterTableType::AtDropColumn as i32 {
                    continue;
                }
                let nth = Checked::nth_of_kind(&a.cmds, i, c.subtype);
                let problem = SqlProblem::DropColumn {
                    column: c.name.clone(),
                    table: relation_name(a.relation.as_ref()),
                    phase: phase(cx),
                };
                out.push(Finding::new(problem, s.words(&["drop"], nth)));
            }
        }
        _ => {}
    }
}

/// The phase as written in the plan.
pub(super) fn phase(cx: &Context) -> &'static str {
    match cx.phase {
        Phase::Expand => "expand",
        Phase::Migrate => "migrate",
        Phase::Contract => "contract",
    }
}
