//! `planrun::shell-injection`: a `${name}` pasted into the script a shell runs is a warning at
//! the `${name}`, wherever the language takes a command; shell references, positional arguments
//! after the script and commands without a shell are not.

use std::path::Path;

use plans::{Code, Inputs, Severity, SourceFile};

/// The text of every shell-injection warning in `text`, checked with `VERSION` set, as in CI.
fn warned(text: &str) -> Vec<String> {
    let inputs = Inputs { env: [("VERSION".to_owned(), "v2.1.0".to_owned())].into(), ..Inputs::default() };
    let checked = plans::check(SourceFile::new("plan.kdl", text), &inputs);
    let errors: Vec<&str> = checked.diagnostics.iter().filter(|d| d.is_error()).map(|d| d.message.as_str()).collect();
    assert!(errors.is_empty(), "{errors:?}\n{text}");
    checked
        .diagnostics
        .iter()
        .filter(|d| d.code == Code::ShellInjection)
        .map(|d| {
            assert_eq!(d.severity, Severity::Warning);
            let span = d.primary_span();
            text[span.offset..span.end()].to_owned()
        })
        .collect()
}

/// A plan whose `run` step has `line` (a `command` or `undo`).
fn in_run(line: &str) -> String {
    format!(
        "plan p {{\n    stack s\n    var version env=VERSION default=v2.0.0\n    var host default=db\n    \
         run r {{\n        {line}\n    }}\n}}\n"
    )
}

/// A plan whose `command` gate is `line`.
fn in_gate(line: &str) -> String {
    format!(
        "plan p {{\n    stack s\n    var version env=VERSION default=v2.0.0\n    var host default=db\n    \
         gate g {{\n        {line}\n    }}\n    check c {{ gates g }}\n}}\n"
    )
}

#[test]
fn the_old_migrations_example_warns_and_the_shipped_one_does_not() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/migrations.kdl");
    let shipped = std::fs::read_to_string(path).unwrap();
    assert_eq!(warned(&shipped), Vec::<String>::new(), "examples/migrations.kdl");
    let fixed = r#"command "sh" "-c" "echo billing \"$1\" released" "sh" "${version}""#;
    assert!(shipped.contains(fixed), "the example passes the version after the script");
    let old = shipped.replace(fixed, r#"command "sh" "-c" "echo billing ${version} released""#);
    assert_eq!(warned(&old), ["${version}"]);
}

#[test]
fn a_variable_in_a_shells_script_warns_at_the_variable() {
    let cases: &[(&str, &[&str])] = &[
        (r#"command "sh" "-c" "echo billing ${version} released""#, &["${version}"]),
        (r#"command "bash" "-c" "echo ${version}""#, &["${version}"]),
        (r#"command "dash" "-c" "echo ${version}""#, &["${version}"]),
        (r#"command "zsh" "-c" "echo ${version}""#, &["${version}"]),
        (r#"command "ash" "-c" "echo ${version}""#, &["${version}"]),
        (r#"command "ksh" "-c" "echo ${version}""#, &["${version}"]),
        (r#"command "/bin/sh" "-c" "echo ${version}""#, &["${version}"]),
        (r#"command "/usr/bin/bash" "-ec" "echo ${version}""#, &["${version}"]),
        (r#"command "sh" "-euc" "echo ${version}""#, &["${version}"]),
        (r#"command "bash" "-lc" "echo ${version}""#, &["${version}"]),
        (r#"command "bash" "-o" "pipefail" "-c" "echo ${version} | tee log""#, &["${version}"]),
        (r#"command "env" "sh" "-c" "echo ${version}""#, &["${version}"]),
        (r#"command "/usr/bin/env" "LANG=C" "bash" "-c" "echo ${version}""#, &["${version}"]),
        (r#"command "docker" "run" "--rm" "app:v1" "sh" "-c" "echo ${version}""#, &["${version}"]),
        (r#"command "sh" "-c" "deploy ${version} to ${host}""#, &["${version}", "${host}"]),
        (r#"command "sh" "-c" "echo ${version}; echo ${version}""#, &["${version}", "${version}"]),
        (r#"command "sh" "-c" "echo \"${version}\"""#, &["${version}"]),
        (r##"command "sh" "-c" #"echo "${version}""#"##, &["${version}"]),
        (r#"command "sh" "-c" "echo $${version} ${version}""#, &["${version}"]),
        (r#"command "sh" "-c" "echo ok" "sh" "${version}" ; undo "sh" "-c" "echo ${version}""#, &["${version}"]),
    ];
    for (line, expected) in cases {
        assert_eq!(warned(&in_run(line)), *expected, "run: {line}");
    }
    let gate = in_gate(r#"command "sh" "-c" "pg_isready -h ${host}""#);
    assert_eq!(warned(&gate), ["${host}"], "a command gate");
}

#[test]
fn the_warning_points_at_each_place_and_gives_the_fix() {
    let text = in_run(r#"command "sh" "-c" "echo ${version}; echo \"${version}\"""#);
    let inputs = Inputs::default();
    let checked = plans::check(SourceFile::new("plan.kdl", text.clone()), &inputs);
    let offsets: Vec<usize> = checked.diagnostics.iter().map(|d| d.primary_span().offset).collect();
    let first = text.find("${version}; echo").unwrap();
    let second = text.rfind("${version}").unwrap();
    assert_eq!(offsets, [first, second]);
    let d = &checked.diagnostics[0];
    assert_eq!(d.message, "`${version}` is pasted into the script `sh` runs");
    let help = d.help.as_deref().unwrap();
    assert!(help.contains(r#""sh" "-c" "... \"$1\" ..." "sh" "${version}""#), "{help}");
    assert!(help.contains(r#""env" "VERSION=${version}""#), "{help}");
    assert!(d.fix.is_empty(), "no automatic fix: the script's quoting decides where the value goes");
    assert!(checked.plan.is_some(), "a warning, not an error");
}

#[test]
fn data_outside_the_script_and_the_shells_own_references_do_not_warn() {
    for line in [
        r#"command "sh" "-c" "echo billing \"$1\" released" "sh" "${version}""#,
        r#"command "env" "VERSION=${version}" "sh" "-c" "echo billing \"$VERSION\" released""#,
        r#"command "sh" "-c" "echo $VERSION $1 $${VERSION} $$""#,
        r#"command "sh" "-c" "echo $${version}""#,
        r#"command "echo" "billing" "${version}" "released""#,
        r#"command "curl" "-c" "cookies" "https://${host}/release/${version}""#,
        r#"command "sh" "deploy.sh" "${version}""#,
        r#"command "sh" "deploy.sh" "-c" "${version}""#,
        r#"command "sh" "-c" "exec deploy \"$@\"" "sh" "-c" "${version}""#,
        r#"command "docker" "run" "--network" "${host}" "app:v1" "sh" "-c" "true""#,
        r#"command "fish" "-c" "echo ${version}""#,
    ] {
        assert_eq!(warned(&in_run(line)), Vec::<String>::new(), "{line}");
    }
}

#[test]
fn an_unknown_variable_is_only_an_error() {
    let text = in_run(r#"command "sh" "-c" "echo ${verison}""#);
    let checked = plans::check(SourceFile::new("plan.kdl", text), &Inputs::default());
    let codes: Vec<Code> = checked.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, [Code::UnknownVariable]);
}
