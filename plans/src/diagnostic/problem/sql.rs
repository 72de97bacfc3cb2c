//! Problems in a migration's SQL file (`check/sql_lint/`): what PostgreSQL's parser refuses, and
//! what each lint rule finds. A rule's help ends with how to allow it in the file.

use super::Words;
use crate::diagnostic::Code;

/// A problem in a SQL file. `table` is a relation as written (`schema.table`), when the
/// statement names one; `phase` the step's phase keyword (`expand`).
#[derive(Debug, Clone, PartialEq)]
pub enum SqlProblem {
    /// A statement PostgreSQL's parser refuses, in its words.
    Syntax { message: String },
    /// A column type change that rewrites the table unless it widens a varchar.
    ColumnTypeMayWiden { column: String, table: Option<String> },
    /// A column type change that rewrites the table.
    ColumnTypeRewrite { column: String, table: Option<String> },
    /// CONCURRENTLY in a step that runs its file in one transaction.
    ConcurrentlyInTransaction,
    /// A CHECK or FOREIGN KEY constraint (`kind`) added without NOT VALID.
    ConstraintWithoutNotValid { kind: &'static str, name: Option<String>, table: Option<String> },
    /// `DROP TABLE` outside the contract phase.
    DropTable { phase: &'static str },
    /// `DROP COLUMN` outside the contract phase.
    DropColumn { column: String, table: Option<String>, phase: &'static str },
    /// `CREATE INDEX` on an existing table without CONCURRENTLY.
    CreateIndexWithoutConcurrently { table: Option<String> },
    /// `DROP INDEX` of an existing index without CONCURRENTLY.
    DropIndexWithoutConcurrently,
    /// A `SET` or `RESET` that turns off planrun's lock_timeout.
    LockTimeoutDisabled,
    /// `ADD COLUMN ... NOT NULL` without a default.
    NotNullWithoutDefault { column: String, table: Option<String> },
    /// `ADD COLUMN ... NOT NULL` with a volatile default.
    NotNullVolatileDefault { column: String, table: Option<String> },
    /// A column renamed outside the contract phase.
    RenameColumn { column: String, table: Option<String>, phase: &'static str },
    /// A table renamed outside the contract phase.
    RenameTable { table: Option<String>, phase: &'static str },
    /// `SET NOT NULL` in an expand step.
    SetNotNullInExpand { column: String, table: Option<String> },
    /// An `UPDATE` or `DELETE` (`verb`) of a whole existing table.
    UnbatchedWrite { verb: &'static str, table: Option<String> },
}

const DROP_HELP: &str = "move the drop to a `phase contract` step that runs after every deployment of the services";
const INDEX_HELP: &str = "write CONCURRENTLY, and run the step outside a transaction (`transactional #false`)";
const TYPE_HELP: &str = "add a new column of the new type in expand, write both and backfill in batches, switch reads, \
                         and drop the old column in contract";

impl SqlProblem {
    /// What a diagnostic of this problem says.
    pub fn words(&self) -> Words {
        use SqlProblem::*;
        let rule = match self {
            Syntax { message } => {
                return Words::error(Code::SqlSyntax, format!("SQL syntax: {message}"), "here").help(
                    "PostgreSQL would refuse this file; fix the SQL (planrun reads it with PostgreSQL's own parser)",
                );
            }
            ColumnTypeMayWiden { column, table } => Words::warning(
                Code::SqlColumnTypeChange,
                format!(
                    "changing the type of `{column}` of {}: without a rewrite only when it widens varchar(n) to a \
                     longer varchar or to text",
                    the(table)
                ),
                "rewrites the table unless it widens",
            )
            .help(format!("if it does widen, allow it in this file; otherwise {TYPE_HELP}")),
            ColumnTypeRewrite { column, table } => Words::error(
                Code::SqlColumnTypeChange,
                format!("changing the type of `{column}` rewrites {} under an exclusive lock", the(table)),
                "rewrites the table",
            )
            .help(TYPE_HELP),
            ConcurrentlyInTransaction => Words::error(
                Code::SqlConcurrentlyInTransaction,
                "CONCURRENTLY cannot run inside a transaction, and this step runs its file in one",
                "inside a transaction",
            )
            .help("set `transactional #false` on the migrate step (planrun then runs the statements one at a time)"),
            ConstraintWithoutNotValid { kind, name, table } => {
                let shown = name.as_ref().map_or_else(|| "the constraint".to_owned(), |n| format!("`{n}`"));
                Words::error(
                    Code::SqlConstraintWithoutNotValid,
                    format!("adding {kind} {shown} scans {} while blocking writes to it", the(table)),
                    "validated at once",
                )
                .help(format!(
                    "add it with NOT VALID (new rows are checked at once), then `ALTER TABLE {} VALIDATE CONSTRAINT {}` \
                     in a later statement or step",
                    the(table),
                    name.as_deref().unwrap_or("NAME")
                ))
            }
            DropTable { phase } => Words::error(
                Code::SqlDropOutsideContract,
                format!("`DROP TABLE` in a `phase {phase}` step: the running release may still use the table"),
                "drops a table",
            )
            .help(DROP_HELP),
            DropColumn { column, table, phase } => Words::error(
                Code::SqlDropOutsideContract,
                format!(
                    "`DROP COLUMN {column}` of {} in a `phase {phase}` step: the running release may still use it",
                    the(table)
                ),
                "drops a column",
            )
            .help(DROP_HELP),
            CreateIndexWithoutConcurrently { table } => Words::error(
                Code::SqlIndexWithoutConcurrently,
                format!("`CREATE INDEX` without CONCURRENTLY blocks writes to {} while it builds", the(table)),
                "not CONCURRENTLY",
            )
            .help(INDEX_HELP),
            DropIndexWithoutConcurrently => Words::error(
                Code::SqlIndexWithoutConcurrently,
                "`DROP INDEX` without CONCURRENTLY locks the table against reads and writes until it is done",
                "not CONCURRENTLY",
            )
            .help(INDEX_HELP),
            LockTimeoutDisabled => Words::error(
                Code::SqlLockTimeoutDisabled,
                "this turns off the lock_timeout planrun sets: a blocked statement would queue all traffic behind it",
                "lock_timeout off",
            )
            .help("remove it; to give a slow lock more time, set `lock-timeout` on the migrate step"),
            NotNullWithoutDefault { column, table } => Words::error(
                Code::SqlNotNullWithoutDefault,
                format!(
                    "new column `{column}` of {} is NOT NULL without a default: existing rows have no value",
                    the(table)
                ),
                "NOT NULL, no default",
            )
            .help(
                "add it nullable (or with a constant DEFAULT), backfill it in batches, then in contract add \
                 `CHECK (... IS NOT NULL) NOT VALID`, VALIDATE it and SET NOT NULL",
            ),
            NotNullVolatileDefault { column, table } => Words::error(
                Code::SqlNotNullWithoutDefault,
                format!(
                    "new column `{column}` of {} is NOT NULL with a volatile default: the whole table is rewritten \
                     under an exclusive lock",
                    the(table)
                ),
                "volatile default",
            )
            .help(
                "add it nullable with no default (or a constant one), fill it in batches, and set NOT NULL in contract",
            ),
            RenameColumn { column, table, phase } => rename(format!("column `{column}` of {}", the(table)), phase),
            RenameTable { table, phase } => rename(format!("table {}", the(table)), phase),
            SetNotNullInExpand { column, table } => Words::error(
                Code::SqlSetNotNullInExpand,
                format!(
                    "`SET NOT NULL` on `{column}` of {} in `phase expand`: the old release's writes may leave it empty",
                    the(table)
                ),
                "in expand",
            )
            .help("add `CHECK (... IS NOT NULL) NOT VALID` in expand; in contract VALIDATE it, then SET NOT NULL"),
            UnbatchedWrite { verb, table } => Words::warning(
                Code::SqlUnbatchedWrite,
                format!("`{verb}` without WHERE changes every row of {} in one transaction", the(table)),
                "the whole table",
            )
            .help(
                "batch it: `... WHERE id IN (SELECT id FROM ... WHERE <not done yet> LIMIT 5000)`, repeated until no \
                 row changes, each batch committed on its own (`transactional #false`)",
            ),
        };
        let help = format!(
            "{}; or allow it in this file with `-- planrun: allow {}`",
            rule.help.as_deref().unwrap_or_default(),
            rule.code.name()
        );
        rule.help(help)
    }
}

/// A relation as written, or "the table" when the statement names none.
fn the(table: &Option<String>) -> &str {
    table.as_deref().unwrap_or("the table")
}

fn rename(what: String, phase: &str) -> Words {
    Words::error(
        Code::SqlRenameOutsideContract,
        format!("renaming the {what} in a `phase {phase}` step breaks the release that uses the old name"),
        "renames",
    )
    .help(
        "add the new column or table in expand (writing both), move the data, and drop the old one in a \
         `phase contract` step",
    )
}
