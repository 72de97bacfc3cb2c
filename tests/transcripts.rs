//! The transcripts in the docs stay true (`support::transcript`). This file runs the quickstart
//! as `sudo examples/quickstart-run` does on its first run (the service `quickstart_web` at v1,
//! then `planrun apply examples/quickstart.kdl --var image=planrun-test/app:v2`, printing plain
//! lines as off a terminal) under a unique stack name, and compares what it printed with
//! docs/transcripts/quickstart.md and the README. prodstack's transcript is checked by
//! tests/prodstack.rs, from the release it runs anyway (about six minutes).

mod support;

use support::transcript::{check, renamed, shape};
use support::{LockGuard, Service, Workdir, planrun, repo, unique};

const COMMAND: &str = "planrun apply examples/quickstart.kdl --var image=planrun-test/app:v2";

#[test]
fn the_quickstart_prints_what_its_transcript_shows() {
    let stack = unique("quickstart");
    let _forget = LockGuard(stack.clone());
    let script = std::fs::read_to_string(repo().join("examples/quickstart-run")).unwrap();
    // The service as the script makes it: its flags are the tests' (support::HEALTH, dnsrr, the
    // test network), with the stack's label.
    for flag in
        ["--replicas 3", "--network planrun-test --endpoint-mode dnsrr", "--health-interval 1s", "planrun-test/app:v1"]
    {
        assert!(script.contains(flag), "examples/quickstart-run no longer says `{flag}`: make this test do as it does");
    }
    assert!(script.contains("exec target/release/planrun apply examples/quickstart.kdl --var \"image=$next\""));
    let label = format!("com.docker.stack.namespace={stack}");
    let service = Service::create_with(&format!("{stack}_web"), "planrun-test/app:v1", 3, &["--label", &label]);

    let work = Workdir::new("quickstart-transcript");
    std::fs::create_dir_all(work.dir.join("examples")).unwrap();
    let plan = std::fs::read_to_string(repo().join("examples/quickstart.kdl")).unwrap();
    let plan = plan.replace("stack quickstart", &format!("stack {stack}")).replace("quickstart_web", &service.name);
    std::fs::write(work.dir.join("examples/quickstart.kdl"), plan).unwrap();

    let argv: Vec<&str> = COMMAND.split(' ').skip(1).collect();
    let out = planrun().args(&argv).args(["--format", "plain"]).current_dir(&work.dir).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(out.stdout.is_empty(), "plain lines go to stderr: {}", String::from_utf8_lossy(&out.stdout));
    service.assert_converged("planrun-test/app:v2", 3);

    let transcript = renamed(&stderr, &[(&stack, "quickstart")]);
    assert!(!transcript.contains(&stack) && !transcript.contains("/tmp/"), "{transcript}");
    check("quickstart", COMMAND, &transcript).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn a_transcripts_shape_leaves_out_what_varies_between_runs() {
    let a = "16:23:22 +   3.0s web: gate answers #1: docker run x = 0; exit status 0 -> pass\n\
             16:23:31 +  12.6s web: succeeded in 12.6s\n\nSummary: run r-20261206T162319Z-31780 succeeded in 12.6s\n";
    let b = "09:01:02 +  65.0s web: gate answers #3: docker run x = 1; exit status 0 -> inconclusive\n\
             09:01:02 +  66.1s web: gate answers #2: docker run x = 1; exit status 0 -> pass\n\
             09:01:09 + 132.4s web: succeeded in 2m 12s\nSummary: run r-20270101T000000Z-4 succeeded in 2m 12s\n";
    assert_eq!(shape(a), shape(b));
    assert_eq!(
        shape(a).into_iter().collect::<Vec<_>>(),
        [
            "Summary: run RUN succeeded in Ns",
            "web: gate answers #N: docker run x = V; exit status N -> V",
            "web: succeeded in Ns",
        ]
    );
    // A word that changes is a change.
    assert_ne!(shape(a), shape(&a.replace("succeeded in 12.6s\n\n", "failed in 12.6s\n\n")));
    assert_eq!(
        shape("front: checking router-4b134e0b2256fbbd; SHA-256 1a7b7153d8d28ff0638a25541c0574ca,\n"),
        shape("front: checking router-0f9e8d7c6b5a4321; SHA-256 ffffffff0000aaaa1111bbbb22223333,\n"),
        "content hashes"
    );
    assert_eq!(
        shape("web: approved by root@build-7 (pid 12)\n"),
        shape("web: approved by ci@runner (pid 4)\n"),
        "who answered is a person, anywhere"
    );
}
