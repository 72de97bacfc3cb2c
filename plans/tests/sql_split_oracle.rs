//! planrun's SQL splitter against PostgreSQL's own parser (libpg_query's
//! `split_with_parser`): on every SQL file of the repository and on tricky text, both split
//! into the same statements (compared as PostgreSQL's deparser prints them back, which drops
//! comments and spacing). planrun keeps its own scanner because PostgreSQL's reports a string or comment
//! that never ends without where it starts (pg_query 18's `Error::Scan` carries the message
//! only), and planrun's diagnostics point at that place; this test holds the two to the same
//! answer on valid input.

use std::path::Path;

use plans::sql::statements;

/// Each statement parsed and printed back by PostgreSQL's deparser: the same text for the same
/// statement, whatever its comments and spacing.
fn deparsed<'a>(texts: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    texts
        .into_iter()
        .map(|t| {
            let parsed = pg_query::parse(t, pg_query::ParserOptions::default()).unwrap_or_else(|e| panic!("{e}: {t}"));
            pg_query::deparse(&parsed.protobuf, pg_query::DeparseOptions::default())
                .unwrap_or_else(|e| panic!("{e}: {t}"))
        })
        .collect()
}

fn agree(name: &str, sql: &str) {
    let ours: Vec<String> =
        statements(sql).unwrap_or_else(|e| panic!("{name}: {e:?}")).into_iter().map(|s| s.text).collect();
    let theirs = pg_query::split_with_parser(sql).unwrap_or_else(|e| panic!("{name}: {e}"));
    let theirs: Vec<&str> = theirs.into_iter().filter(|s| !s.trim().is_empty()).collect();
    assert_eq!(ours.len(), theirs.len(), "{name}: {ours:#?}\nagainst PostgreSQL's\n{theirs:#?}");
    assert_eq!(deparsed(ours.iter().map(String::as_str)), deparsed(theirs.iter().copied()), "{name}");
}

fn sql_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sql_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "sql") {
            out.push(path);
        }
    }
}

#[test]
fn every_sql_file_of_the_repository_splits_as_postgresql_splits_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut files = Vec::new();
    for dir in ["examples", "engine/tests/fixtures"] {
        sql_files(&root.join(dir), &mut files);
    }
    assert!(files.len() >= 20, "found {} SQL files", files.len());
    let mut checked = 0;
    for file in &files {
        let sql = std::fs::read_to_string(file).unwrap();
        // A fixture written to fail PostgreSQL's parser has nothing to compare.
        if pg_query::split_with_parser(&sql).is_err() || statements(&sql).is_err() {
            continue;
        }
        agree(&file.display().to_string(), &sql);
        checked += 1;
    }
    assert!(checked >= 18, "only {checked} of {} files compared", files.len());
}

#[test]
fn tricky_text_splits_as_postgresql_splits_it() {
    let cases = [
        "select 1; select 2",
        "select ';' as a; select \"x;y\" from t",
        "select E'a\\';b'; select 'it''s;'",
        "create function f() returns int language sql as $$ select 1; select 2 $$; select 3",
        "create function g() returns int language plpgsql as $body$ begin return 1; end $body$; select $1",
        "select 1 /* a ; /* nested ; */ still ; */; select 2 -- trailing ; comment\n;",
        "create function h() returns int language sql begin atomic select 1; select 2; end; select 4",
        "create procedure p() language sql begin atomic insert into t values (1); end; call p()",
        ";;select 1;;;select 2;",
        "select U&'d\\0061t\\+000061;' ; select B'1010'; select X'1F';",
        "select 1 as \"a\"\"b;\" ; select 2",
        "do $do$ begin perform 1; end $do$; select 1",
    ];
    for sql in cases {
        agree(sql, sql);
    }
    // The cases are worth the name: splitting at every `;` gets most of them wrong.
    let naive_wrong = cases
        .iter()
        .filter(|sql| {
            let naive = sql.split(';').filter(|s| !s.trim().is_empty()).count();
            naive != pg_query::split_with_parser(sql).unwrap().iter().filter(|s| !s.trim().is_empty()).count()
        })
        .count();
    assert!(naive_wrong >= 9, "only {naive_wrong} of {} cases need more than a split at `;`", cases.len());
}
