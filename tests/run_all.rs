//! tests/env/failed-tests, which tests/run-all uses to run again exactly the tests that failed
//! while dockerd was restarting: fed cargo's own output shapes.

use std::process::Command;

/// failed-tests' output for `log`; `name` keeps the tests' files apart (they run in parallel).
fn failed_tests(name: &str, log: &str) -> String {
    let dir = std::env::temp_dir().join(format!("planrun-failed-tests-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("cargo-test.log");
    std::fs::write(&path, log).unwrap();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("env/failed-tests");
    let out = Command::new(script).arg(&path).output().expect("failed-tests runs");
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn every_failed_target_is_named_with_exactly_its_failed_tests() {
    let log = "\
     Running apply.rs (target/debug/deps/apply-7181ca0e2263cc80)

running 3 tests
test a_passing_test ... ok
test rollback_after_x ... FAILED

failures:

---- rollback_after_x stdout ----
planrun apply ... -> exit 1
    indented_output_that_looks_like_a_name

failures:
    rollback_after_x

test result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 173.41s

error: test failed, to rerun pass `-p planrun-tests --test apply`
     Running strategies.rs (target/debug/deps/strategies-8daf4b591170a2e8)

failures:

---- canary_one stdout ----
x

failures:
    canary_one
    blue_green_two

test result: FAILED. 7 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 90.00s

error: test failed, to rerun pass `-p planrun-tests --test strategies`
     Running unittests src/lib.rs (target/debug/deps/planrun_engine-0123456789abcdef)
error: test failed, to rerun pass `-p planrun-engine --lib`
error: 3 targets failed:
    `-p planrun-tests --test apply`
    `-p planrun-tests --test strategies`
    `-p planrun-engine --lib`
";
    assert_eq!(
        failed_tests("shapes", log),
        "-p planrun-tests --test apply -- --exact rollback_after_x\n\
         -p planrun-tests --test strategies -- --exact canary_one blue_green_two\n\
         -p planrun-engine --lib\n"
    );
}

#[test]
fn a_log_without_failed_targets_names_nothing() {
    let passed = "     Running apply.rs (target/debug/deps/apply-7181)\n\ntest result: ok. 13 passed; 0 failed\n";
    assert_eq!(failed_tests("passed", passed), "");
    let build_error = "error[E0425]: cannot find value `x` in this scope\nerror: could not compile `planrun-engine`\n";
    assert_eq!(failed_tests("build", build_error), "");
}
