use super::*;
use crate::diagnostic::Code;

fn cx(phase: Phase, transactional: bool, down: bool) -> Context {
    Context { phase, transactional, down, created_tables: HashSet::new(), created_indexes: HashSet::new() }
}

/// The codes found in `sql` for a step of `phase`, with the text each points at.
fn found(sql: &str, phase: Phase, transactional: bool) -> Vec<(&'static str, String)> {
    lint(sql, cx(phase, transactional, false))
        .iter()
        .map(|d| {
            let s = d.primary_span();
            (d.code.name(), sql[s.offset..s.end()].to_owned())
        })
        .collect()
}

#[test]
fn each_rule_fires_on_its_statement_and_points_at_its_words() {
    use Phase::*;
    let cases: &[(&str, Phase, bool, &str, &str)] = &[
        ("ALTER TABLE t DROP COLUMN a", Expand, true, "sql-drop-outside-contract", "DROP"),
        ("DROP TABLE IF EXISTS t", Migrate, true, "sql-drop-outside-contract", "DROP TABLE"),
        ("ALTER TABLE t RENAME COLUMN a TO b", Expand, true, "sql-rename-outside-contract", "RENAME"),
        ("ALTER TABLE t RENAME TO u", Expand, true, "sql-rename-outside-contract", "RENAME"),
        ("ALTER TABLE t ADD COLUMN a int NOT NULL", Expand, true, "sql-not-null-without-default", "ADD"),
        (
            "ALTER TABLE t ADD COLUMN a uuid NOT NULL DEFAULT gen_random_uuid()",
            Expand,
            true,
            "sql-not-null-without-default",
            "ADD",
        ),
        ("CREATE INDEX i ON t (a)", Expand, false, "sql-index-without-concurrently", "INDEX"),
        ("DROP INDEX i", Contract, false, "sql-index-without-concurrently", "INDEX"),
        ("CREATE INDEX CONCURRENTLY i ON t (a)", Expand, true, "sql-concurrently-in-transaction", "CONCURRENTLY"),
        ("ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0)", Expand, true, "sql-constraint-without-not-valid", "CHECK"),
        (
            "ALTER TABLE t ADD FOREIGN KEY (a) REFERENCES u (id)",
            Expand,
            true,
            "sql-constraint-without-not-valid",
            "FOREIGN KEY",
        ),
        ("ALTER TABLE t ALTER COLUMN a TYPE bigint", Expand, true, "sql-column-type-change", "TYPE"),
        ("SET lock_timeout = 0", Expand, true, "sql-lock-timeout-disabled", "SET lock_timeout = 0"),
        (
            "SET LOCAL lock_timeout TO '0ms'",
            Expand,
            true,
            "sql-lock-timeout-disabled",
            "SET LOCAL lock_timeout TO '0ms'",
        ),
        ("UPDATE t SET a = 1", Migrate, true, "sql-unbatched-write", "UPDATE"),
        ("DELETE FROM t", Migrate, true, "sql-unbatched-write", "DELETE"),
        ("ALTER TABLE t ALTER COLUMN a SET NOT NULL", Expand, true, "sql-set-not-null-in-expand", "SET NOT NULL"),
        ("ALTER TABLE t ADD COLUMN; SELECT 1", Expand, true, "sql-syntax", ";"),
    ];
    for (sql, phase, transactional, code, at) in cases {
        assert_eq!(found(sql, *phase, *transactional), [(*code, at.to_string())], "{sql}");
    }
}

#[test]
fn zero_downtime_forms_pass() {
    for (sql, phase, transactional) in [
        ("ALTER TABLE t ADD COLUMN a boolean NOT NULL DEFAULT false", Phase::Expand, true),
        ("ALTER TABLE t ADD COLUMN a timestamptz NOT NULL DEFAULT now()", Phase::Expand, true),
        (
            "ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0) NOT VALID; ALTER TABLE t VALIDATE CONSTRAINT c",
            Phase::Expand,
            true,
        ),
        (
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a); DROP INDEX CONCURRENTLY IF EXISTS j",
            Phase::Expand,
            false,
        ),
        (
            "CREATE TABLE n (id int); CREATE INDEX ON n (id); ALTER TABLE n ADD CONSTRAINT c CHECK (id > 0); UPDATE n SET id = 1",
            Phase::Expand,
            true,
        ),
        ("SET lock_timeout = '2s'; SET statement_timeout = 0", Phase::Expand, true),
        ("UPDATE t SET a = 1 WHERE id IN (SELECT id FROM t WHERE a IS NULL LIMIT 1000)", Phase::Migrate, true),
        ("ALTER TABLE t DROP COLUMN a; DROP TABLE u; ALTER TABLE t ALTER COLUMN b SET NOT NULL", Phase::Contract, true),
        ("DO $$ BEGIN UPDATE t SET a = 1; END $$", Phase::Migrate, true),
    ] {
        assert_eq!(found(sql, phase, transactional), [], "{sql}");
    }
}

#[test]
fn a_widening_type_change_is_a_warning() {
    let d = lint("ALTER TABLE t ALTER COLUMN a TYPE varchar(200)", cx(Phase::Expand, true, false));
    assert_eq!(d.len(), 1);
    assert!(!d[0].is_error());
}

#[test]
fn down_files_may_drop_and_rename() {
    let sql = "ALTER TABLE t DROP COLUMN IF EXISTS a; ALTER TABLE t RENAME COLUMN b TO c; DROP INDEX i";
    let codes: Vec<_> = lint(sql, cx(Phase::Expand, true, true)).iter().map(|d| d.code.name()).collect();
    assert_eq!(codes, ["sql-index-without-concurrently"]);
}

#[test]
fn allow_comments_turn_a_rule_off_for_the_file() {
    let sql = "-- planrun: allow sql-drop-outside-contract, planrun::sql-unbatched-write\n\
               ALTER TABLE t DROP COLUMN a;\nDELETE FROM t;\nALTER TABLE t RENAME a TO b;\n\
               SELECT '-- planrun: allow sql-rename-outside-contract';";
    assert_eq!(found(sql, Phase::Expand, true), [("sql-rename-outside-contract", "RENAME".to_owned())]);
}

#[test]
fn unsplittable_files_are_one_syntax_error() {
    let d = lint("SELECT 1;\nSELECT 'oops", cx(Phase::Expand, true, false));
    assert_eq!(d.len(), 1);
    assert_eq!((d[0].code, d[0].primary_span().offset), (Code::SqlSyntax, 17));
}
