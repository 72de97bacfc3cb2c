//! `planrun::sql-rename-outside-contract`: renaming a column or table breaks the release that
//! still uses the old name; add the new one in expand and drop the old one in contract.

use super::drop_outside_contract::phase;
use super::{Checked, Context, Finding, relation_name};
use crate::diagnostic::problem::SqlProblem;
use crate::sql::NodeEnum;
use crate::sql::protobuf::ObjectType;
use crate::steps::migrate::Phase;

/// Flags `ALTER TABLE ... RENAME [COLUMN] ... TO` and `ALTER TABLE ... RENAME TO` outside
/// contract (not in `down` files).
pub(super) fn check(s: &Checked<'_>, cx: &Context, out: &mut Vec<Finding>) {
    if cx.phase == Phase::Contract || cx.down {
        return;
    }
    let NodeEnum::RenameStmt(r) = s.node else { return };
    let (table, phase) = (relation_name(r.relation.as_ref()), phase(cx));
    let problem = if r.rename_type == ObjectType::ObjectColumn as i32 {
        SqlProblem::RenameColumn { column: r.subname.clone(), table, phase }
    } else if r.rename_type == ObjectType::ObjectTable as i32 {
        SqlProblem::RenameTable { table, phase }
    } else {
        return;
    };
    out.push(Finding::new(problem, s.words(&["rename"], 0)));
}
