//! `planrun::sql-drop-outside-contract`: dropping a column or table the running release still
//! uses breaks it; only the contract phase, after every deployment, may.

use super::{Checked, Context, Finding, relation_name};
use crate::diagnostic::Code;
use crate::sql::NodeEnum;
use crate::sql::protobuf::{AlterTableType, ObjectType};
use crate::steps::migrate::Phase;

/// Flags `DROP TABLE` and `ALTER TABLE ... DROP COLUMN` outside contract (not in `down` files).
pub(super) fn check(s: &Checked<'_>, cx: &Context, out: &mut Vec<Finding>) {
    if cx.phase == Phase::Contract || cx.down {
        return;
    }
    let help = "move the drop to a `phase contract` step that runs after every deployment of the services";
    match s.node {
        NodeEnum::DropStmt(d) if d.remove_type == ObjectType::ObjectTable as i32 => out.push(Finding::error(
            Code::SqlDropOutsideContract,
            format!("`DROP TABLE` in a {} step: the running release may still use the table", phase(cx)),
            s.words(&["drop", "table"], 0),
            "drops a table",
            help,
        )),
        NodeEnum::AlterTableStmt(a) => {
            for (i, cmd) in a.cmds.iter().enumerate() {
                let Some(NodeEnum::AlterTableCmd(c)) = &cmd.node else { continue };
                if c.subtype != AlterTableType::AtDropColumn as i32 {
                    continue;
                }
                let nth = Checked::nth_of_kind(&a.cmds, i, c.subtype);
                out.push(Finding::error(
                    Code::SqlDropOutsideContract,
                    format!(
                        "`DROP COLUMN {}` of {} in a {} step: the running release may still use it",
                        c.name,
                        relation_name(a.relation.as_ref()),
                        phase(cx)
                    ),
                    s.words(&["drop"], nth),
                    "drops a column",
                    help,
                ));
            }
        }
        _ => {}
    }
}

/// The phase as written in the plan.
pub(super) fn phase(cx: &Context) -> &'static str {
    match cx.phase {
        Phase::Expand => "`phase expand`",
        Phase::Migrate => "`phase migrate`",
        Phase::Contract => "`phase contract`",
    }
}
