//! `planrun::sql-rename-outside-contract`: renaming a column or table breaks the release that
//! still uses the old name; add the new one in expand and drop the old one in contract.

use super::drop_outside_contract::phase;
use super::{Checked, Context, Finding, relation_name};
use crate::diagnostic::Code;
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
    let what = if r.rename_type == ObjectType::ObjectColumn as i32 {
        format!("column `{}` of {}", r.subname, relation_name(r.relation.as_ref()))
    } else if r.rename_type == ObjectType::ObjectTable as i32 {
        format!("table {}", relation_name(r.relation.as_ref()))
    } else {
        return;
    };
    out.push(Finding::error(
        Code::SqlRenameOutsideContract,
        format!("renaming the {what} in a {} step breaks the release that uses the old name", phase(cx)),
        s.words(&["rename"], 0),
        "renames",
        "add the new column or table in expand (writing both), move the data, and drop the old one in a \
         `phase contract` step",
    ));
}
