//! What the engine must know of a statement to run it safely one at a time: whether
//! PostgreSQL refuses it inside a transaction block (then it runs alone, and its ledger write
//! cannot share its transaction), and which index a `CREATE INDEX CONCURRENTLY` builds (a
//! crash in the middle of one leaves that index INVALID, to be dropped before it runs again).

use super::NodeEnum;
use super::protobuf::AlterTableType;

fn parsed(text: &str) -> Option<NodeEnum> {
    let result = pg_query::parse(text, pg_query::ParserOptions::default()).ok()?;
    result.protobuf.stmts.into_iter().next().and_then(|s| s.stmt).and_then(|n| n.node)
}

/// Whether PostgreSQL refuses `text` inside a transaction block: the `CONCURRENTLY` forms,
/// `VACUUM`, `CREATE`/`DROP DATABASE`, `CREATE`/`DROP TABLESPACE`, `ALTER SYSTEM`, and a `DO`
/// block or `CALL` (either may `COMMIT` itself, as a batched backfill does, which fails inside
/// a transaction block). A statement that does not parse is taken as one that may run in one
/// (the server says what is wrong with it).
pub fn refuses_transaction_block(text: &str) -> bool {
    match parsed(text) {
        Some(NodeEnum::IndexStmt(i)) => i.concurrent,
        Some(NodeEnum::DropStmt(d)) => d.concurrent,
        Some(NodeEnum::ReindexStmt(r)) => r
            .params
            .iter()
            .any(|p| matches!(&p.node, Some(NodeEnum::DefElem(d)) if d.defname.eq_ignore_ascii_case("concurrently"))),
        Some(NodeEnum::AlterTableStmt(a)) => a.cmds.iter().any(|c| {
            matches!(&c.node, Some(NodeEnum::AlterTableCmd(c))
                if c.subtype == AlterTableType::AtDetachPartition as i32
                    && text.to_ascii_lowercase().contains("concurrently"))
        }),
        Some(
            NodeEnum::VacuumStmt(_)
            | NodeEnum::CreatedbStmt(_)
            | NodeEnum::DropdbStmt(_)
            | NodeEnum::CreateTableSpaceStmt(_)
            | NodeEnum::DropTableSpaceStmt(_)
            | NodeEnum::AlterSystemStmt(_)
            | NodeEnum::DoStmt(_)
            | NodeEnum::CallStmt(_),
        ) => true,
        _ => false,
    }
}

/// Whether `text` begins, ends or marks a transaction itself (`BEGIN`, `COMMIT`, `SAVEPOINT`,
/// ...): a file that has one manages its own transactions, so planrun must not wrap its
/// statements in transactions of its own.
pub fn controls_transaction(text: &str) -> bool {
    matches!(parsed(text), Some(NodeEnum::TransactionStmt(_)))
}

/// The index a `CREATE INDEX CONCURRENTLY` statement names, schema-qualified when the table
/// is (an index lives in its table's schema); `None` for any other statement, or one that lets
/// the server choose the name.
pub fn concurrent_index(text: &str) -> Option<String> {
    let Some(NodeEnum::IndexStmt(i)) = parsed(text) else { return None };
    if !i.concurrent || i.idxname.is_empty() {
        return None;
    }
    let schema = i.relation.as_ref().map(|r| r.schemaname.as_str()).filter(|s| !s.is_empty());
    Some(match schema {
        Some(schema) => format!("{}.{}", quote(schema), quote(&i.idxname)),
        None => quote(&i.idxname),
    })
}

/// An identifier as SQL spells it.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_statements_postgresql_runs_only_outside_a_transaction_block() {
        for alone in [
            "CREATE INDEX CONCURRENTLY i ON t (x)",
            "DROP INDEX CONCURRENTLY IF EXISTS i",
            "REINDEX (CONCURRENTLY) INDEX i",
            "ALTER TABLE p DETACH PARTITION c CONCURRENTLY",
            "VACUUM t",
            "CREATE DATABASE d",
            "ALTER SYSTEM SET work_mem = '8MB'",
            "DO $$ BEGIN COMMIT; END $$",
            "CALL backfill()",
        ] {
            assert!(refuses_transaction_block(alone), "{alone}");
        }
        for together in ["CREATE INDEX i ON t (x)", "ALTER TABLE t ADD COLUMN y int", "not sql at all"] {
            assert!(!refuses_transaction_block(together), "{together}");
        }
        assert!(controls_transaction("BEGIN") && controls_transaction("commit") && !controls_transaction("SELECT 1"));
    }

    #[test]
    fn a_concurrent_index_is_named_as_sql_spells_it() {
        assert_eq!(concurrent_index("CREATE INDEX CONCURRENTLY i ON t (x)").as_deref(), Some("\"i\""));
        assert_eq!(
            concurrent_index("create unique index concurrently if not exists \"My\" on app.t (x)").as_deref(),
            Some("\"app\".\"My\"")
        );
        assert_eq!(concurrent_index("CREATE INDEX CONCURRENTLY ON t (x)"), None);
        assert_eq!(concurrent_index("CREATE INDEX i ON t (x)"), None);
    }
}
