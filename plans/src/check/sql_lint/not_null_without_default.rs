//! `planrun::sql-not-null-without-default`: `ADD COLUMN ... NOT NULL` fails on a table with rows
//! unless there is a default, and a volatile default (`random()`, `gen_random_uuid()`,
//! `clock_timestamp()`, `nextval(...)`) rewrites the whole table under an exclusive lock.

use super::{Checked, Context, Finding, relation_name};
use crate::diagnostic::problem::SqlProblem;
use crate::sql::protobuf::{AlterTableType, ConstrType, FuncCall, Node};
use crate::sql::{NodeEnum, NodeRef};

/// Functions whose value differs per row: a default calling one is computed for every row.
const VOLATILE: &[&str] =
    &["random", "gen_random_uuid", "uuid_generate_v1", "uuid_generate_v4", "clock_timestamp", "timeofday", "nextval"];

/// Flags a new NOT NULL column of an existing table without a constant or stable default.
pub(super) fn check(s: &Checked<'_>, cx: &Context, out: &mut Vec<Finding>) {
    let NodeEnum::AlterTableStmt(a) = s.node else { return };
    if cx.is_new(a.relation.as_ref()) {
        return;
    }
    for (i, cmd) in a.cmds.iter().enumerate() {
        let Some(NodeEnum::AlterTableCmd(c)) = &cmd.node else { continue };
        if c.subtype != AlterTableType::AtAddColumn as i32 {
            continue;
        }
        let Some(NodeEnum::ColumnDef(col)) = c.def.as_ref().and_then(|d| d.node.as_ref()) else { continue };
        let constraints: Vec<_> = col
            .constraints
            .iter()
            .filter_map(|n| match &n.node {
                Some(NodeEnum::Constraint(c)) => Some(c),
                _ => None,
            })
            .collect();
        let has = |t: ConstrType| constraints.iter().any(|c| c.contype == t as i32);
        let not_null = col.is_not_null || has(ConstrType::ConstrNotnull) || has(ConstrType::ConstrPrimary);
        if !not_null || has(ConstrType::ConstrIdentity) || has(ConstrType::ConstrGenerated) {
            continue;
        }
        let default = constraints.iter().find(|c| c.contype == ConstrType::ConstrDefault as i32);
        let nth = Checked::nth_of_kind(&a.cmds, i, c.subtype);
        let table = relation_name(a.relation.as_ref());
        let column = col.colname.clone();
        let problem = match default.and_then(|d| d.raw_expr.as_deref()) {
            None => SqlProblem::NotNullWithoutDefault { column, table },
            Some(expr) if calls_volatile(expr) => SqlProblem::NotNullVolatileDefault { column, table },
            Some(_) => continue,
        };
        out.push(Finding::new(problem, s.words(&["add"], nth)));
    }
}

/// Whether an expression calls a volatile function anywhere.
fn calls_volatile(expr: &Node) -> bool {
    let volatile = |f: &FuncCall| {
        f.funcname
            .last()
            .is_some_and(|name| matches!(&name.node, Some(NodeEnum::String(s)) if VOLATILE.contains(&s.sval.as_str())))
    };
    let Some(node) = &expr.node else { return false };
    matches!(node, NodeEnum::FuncCall(f) if volatile(f))
        || node.nodes().into_iter().any(|(n, ..)| matches!(n, NodeRef::FuncCall(f) if volatile(f)))
}
