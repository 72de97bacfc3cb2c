//! `planrun::sql-constraint-without-not-valid`: adding a CHECK or FOREIGN KEY constraint scans
//! the whole table (and, for a foreign key, the referenced one) while holding a lock that blocks
//! writes. `NOT VALID` enforces it for new rows at once; `VALIDATE CONSTRAINT` later scans
//! under a lock that lets traffic go on.

use super::{Checked, Context, Finding, relation_name};
use crate::diagnostic::problem::SqlProblem;
use crate::sql::NodeEnum;
use crate::sql::protobuf::{AlterTableType, ConstrType};

/// Flags `ADD CONSTRAINT ... CHECK` or `FOREIGN KEY` on an existing table without NOT VALID.
pub(super) fn check(s: &Checked<'_>, cx: &Context, out: &mut Vec<Finding>) {
    let NodeEnum::AlterTableStmt(a) = s.node else { return };
    if cx.is_new(a.relation.as_ref()) {
        return;
    }
    let mut seen = [0usize; 2];
    for cmd in &a.cmds {
        let Some(NodeEnum::AlterTableCmd(c)) = &cmd.node else { continue };
        if c.subtype != AlterTableType::AtAddConstraint as i32 {
            continue;
        }
        let Some(NodeEnum::Constraint(k)) = c.def.as_ref().and_then(|d| d.node.as_ref()) else { continue };
        let (kind, words, slot): (&str, &[&str], usize) = if k.contype == ConstrType::ConstrCheck as i32 {
            ("CHECK", &["check"], 0)
        } else if k.contype == ConstrType::ConstrForeign as i32 {
            ("FOREIGN KEY", &["foreign", "key"], 1)
        } else {
            continue;
        };
        let nth = seen[slot];
        seen[slot] += 1;
        if k.skip_validation {
            continue;
        }
        let name = (!k.conname.is_empty()).then(|| k.conname.clone());
        let table = relation_name(a.relation.as_ref());
        out.push(Finding::new(SqlProblem::ConstraintWithoutNotValid { kind, name, table }, s.words(words, nth)));
    }
}
