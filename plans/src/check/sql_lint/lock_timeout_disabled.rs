//! `planrun::sql-lock-timeout-disabled`: planrun sets `lock_timeout` for every migration (the
//! step's `lock-timeout`, 1s by default) so a statement waiting for a lock gives up instead of
//! queueing all traffic behind it. A file that sets it to 0, resets it or sets it to its default
//! turns that off.

use super::{Checked, Context, Finding};
use crate::diagnostic::problem::SqlProblem;
use crate::sql::NodeEnum;
use crate::sql::protobuf::VariableSetKind;
use crate::sql::protobuf::a_const::Val;

/// Flags `SET [LOCAL] lock_timeout` to 0, DEFAULT or `RESET lock_timeout`.
pub(super) fn check(s: &Checked<'_>, _cx: &Context, out: &mut Vec<Finding>) {
    let NodeEnum::VariableSetStmt(v) = s.node else { return };
    let disabled = if v.name.eq_ignore_ascii_case("lock_timeout") {
        v.kind == VariableSetKind::VarSetDefault as i32
            || v.kind == VariableSetKind::VarReset as i32
            || v.args.first().is_some_and(|a| match &a.node {
                Some(NodeEnum::AConst(c)) => match &c.val {
                    Some(Val::Ival(i)) => i.ival == 0,
                    Some(Val::Sval(s)) => is_zero(&s.sval),
                    Some(Val::Fval(f)) => is_zero(&f.fval),
                    _ => false,
                },
                _ => false,
            })
    } else {
        v.kind == VariableSetKind::VarResetAll as i32
    };
    if disabled {
        out.push(Finding::new(SqlProblem::LockTimeoutDisabled, s.span()));
    }
}

/// `0`, `'0'`, `'0ms'`, `'0s'`...
fn is_zero(value: &str) -> bool {
    let digits = value.trim().trim_end_matches(|c: char| c.is_ascii_alphabetic()).trim();
    !digits.is_empty() && digits.parse::<f64>().is_ok_and(|v| v == 0.0)
}
