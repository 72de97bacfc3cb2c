//! Hostile input, one table (issue 21): each case gives the real `planrun` binary something an
//! attacker or an accident could hand it (a stack name that is a path, a 1 GiB Prometheus
//! answer, a command printing 2 GiB, a journal planted with a command in it, a journal far too
//! large, a binary file as a plan, a plan file far too large). Each must end with a clear error
//! (or, for the command, a success that kept only the end of its output), run nothing the plan
//! did not say, and keep the process's peak resident memory (`ru_maxrss` from `wait4`, the
//! child's own) under the case's stated bound. The figures are printed
//! (`cargo test -p planrun-tests --test hostile -- --nocapture`) and stand in
//! docs/benchmarks.md, "Hostile input".

mod support;

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use support::{LockGuard, Workdir, planrun, unique};

/// What one case must end with.
struct Expect {
    /// Exit code.
    code: i32,
    /// Texts stderr must hold.
    says: &'static [&'static str],
    /// Peak resident memory allowed, in MiB.
    peak_mib: u64,
}

/// One finished invocation with its peak memory.
struct Measured {
    code: i32,
    stderr: String,
    peak_kib: u64,
    took: Duration,
}

/// Runs planrun with `args` and waits for it with `wait4`, which reports the child's own peak
/// resident memory.
#[allow(clippy::zombie_processes, reason = "the child is reaped by wait4, which std's Child does not know")]
fn measured(args: &[&str], dir: &Path, env: &[(&str, String)]) -> Measured {
    let started = Instant::now();
    let mut child = planrun()
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("planrun runs");
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain data, written by the kernel; the pid is our own child, not yet
    // waited for (std's Child is never waited, so it is reaped exactly once, here).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4: {}", std::io::Error::last_os_error());
    let code = if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { -libc::WTERMSIG(status) };
    Measured { code, stderr: reader.join().unwrap(), peak_kib: usage.ru_maxrss as u64, took: started.elapsed() }
}

/// A request's head (up to its blank line, at most 64 KiB), or `None` when the client left.
fn read_head(stream: &mut std::net::TcpStream) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 64 * 1024 {
        if stream.read(&mut byte).unwrap_or(0) == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    Some(head)
}

/// A loopback Prometheus: build information for the preflight, and for a query an answer that
/// starts like Prometheus's and never ends (1 GiB, generated as it goes).
fn endless_prometheus() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                let Some(head) = read_head(&mut stream) else { return };
                let head = String::from_utf8_lossy(&head);
                if head.contains("/api/v1/status/buildinfo") {
                    let body = r#"{"status":"success","data":{"version":"2.45.3"}}"#;
                    let _ = write!(
                        stream,
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    return;
                }
                let start = r#"{"status":"success","data":{"resultType":"vector","result":["#;
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{start}"
                );
                let chunk: Vec<u8> =
                    br#"{"metric":{"pod":"x"},"value":[1,"0.5"]},"#.iter().copied().cycle().take(64 * 1024).collect();
                let mut sent = 0u64;
                while sent < 1 << 30 {
                    if stream.write_all(&chunk).is_err() {
                        return;
                    }
                    sent += chunk.len() as u64;
                }
            });
        }
    });
    port
}

/// A loopback Docker daemon: its API version, then for anything else an answer that starts
/// like a JSON object and never ends (1 GiB, generated as it goes).
fn endless_docker() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                let Some(head) = read_head(&mut stream) else { return };
                if String::from_utf8_lossy(&head).starts_with("GET /version ") {
                    let body = r#"{"ApiVersion":"1.41","Version":"20.10.24"}"#;
                    let _ = write!(
                        stream,
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    return;
                }
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{{\"ID\":\""
                );
                let chunk = vec![b'x'; 64 * 1024];
                let mut sent = 0u64;
                while sent < 1 << 30 {
                    if stream.write_all(&chunk).is_err() {
                        return;
                    }
                    sent += chunk.len() as u64;
                }
            });
        }
    });
    port
}

/// A journal line as planrun writes one.
fn journal_line(event: serde_json::Value) -> String {
    let mut record = serde_json::json!({ "at": "2026-12-06T00:00:00.000Z", "elapsed_ms": 0 });
    record.as_object_mut().unwrap().extend(event.as_object().unwrap().clone());
    record.to_string()
}

/// Plants a journal for `stack` under `state` whose undo runs `touch witness`; returns its path.
fn planted_journal(state: &Path, stack: &str, witness: &Path, mode: u32) -> PathBuf {
    let runs = state.join("runs").join(stack);
    std::fs::create_dir_all(&runs).unwrap();
    let text = [
        journal_line(serde_json::json!({ "event": "run-started", "run_id": "r-20261206T000000Z-1", "plan": "p",
            "stack": stack, "file": "plan.kdl", "on_failure": "rollback" })),
        journal_line(serde_json::json!({ "event": "step-recorded", "step": "evil",
            "undo": { "kind": "run", "command": ["touch", witness.to_str().unwrap()], "timeout_ms": 5000 } })),
    ]
    .join("\n")
        + "\n";
    let journal = runs.join("r-20261206T000000Z-1.jsonl");
    std::fs::write(&journal, text).unwrap();
    std::fs::set_permissions(&journal, std::fs::Permissions::from_mode(mode)).unwrap();
    journal
}

#[test]
fn hostile_input_gets_a_clear_error_runs_nothing_unsaid_and_stays_within_its_memory_bound() {
    let work = Workdir::new("hostile");
    let dir = work.dir.clone();
    let state = dir.join("state");
    let witness = dir.join("ran");
    let stack = unique("hostile");
    let _lock = LockGuard(stack.clone());
    let prometheus = endless_prometheus();
    let docker = endless_docker();

    let gate_plan = work.plan(&format!(
        "plan hostile {{\n    stack {stack}\n    gate answer {{\n        prometheus \"http://127.0.0.1:{prometheus}\" {{\n            \
         query \"up\"\n            pass \"result > 0\"\n        }}\n        error-limit 0\n    }}\n    \
         check huge {{ gates answer }}\n}}\n"
    ));
    let loud = dir.join("loud.kdl");
    std::fs::write(
        &loud,
        format!(
            "plan loud {{\n    stack {stack}\n    run loud {{\n        \
             command \"sh\" \"-c\" \"head -c 2147483648 /dev/zero | tr '\\\\000' x; echo; echo last-line\"\n        \
             timeout \"5m\"\n    }}\n}}\n"
        ),
    )
    .unwrap();
    let evil = dir.join("evil.kdl");
    std::fs::write(&evil, "plan evil {\n    stack \"../evil\"\n    pause p \"1s\"\n}\n").unwrap();
    let binary = dir.join("binary.kdl");
    std::fs::write(&binary, (0..4096u32).map(|i| (i * 31 % 256) as u8).collect::<Vec<u8>>()).unwrap();
    // 256 MiB of one long line of nodes: far more than a plan, read to its end.
    let huge_plan = dir.join("huge.kdl");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&huge_plan).unwrap());
        f.write_all(b"plan huge {\n").unwrap();
        let line = "    pause p \"1s\"\n".repeat(4096);
        for _ in 0..(256 << 20) / line.len() {
            f.write_all(line.as_bytes()).unwrap();
        }
        f.write_all(b"}\n").unwrap();
    }
    let forged = dir.join("forged");
    let forged_stack = unique("forged");
    let forged_journal = planted_journal(&forged, &forged_stack, &witness, 0o666);
    let big_stack = unique("bigjournal");
    let big_journal = planted_journal(&state, &big_stack, &witness, 0o600);
    {
        let mut f = std::fs::OpenOptions::new().append(true).open(&big_journal).unwrap();
        let filler =
            format!("{}\n", journal_line(serde_json::json!({ "event": "progress", "message": "x".repeat(4000) })));
        for _ in 0..(65 << 20) / filler.len() + 1 {
            f.write_all(filler.as_bytes()).unwrap();
        }
    }

    let s = |p: &Path| p.to_str().unwrap().to_owned();
    let (gate_plan, loud, evil, binary, huge_plan) = (s(&gate_plan), s(&loud), s(&evil), s(&binary), s(&huge_plan));
    let (forged, state, forged_journal) = (s(&forged), s(&state), s(&forged_journal));
    let endless_daemon = [("DOCKER_HOST", format!("tcp://127.0.0.1:{docker}"))];
    let cases: Vec<(&str, Vec<&str>, Expect)> = vec![
        (
            "stack name that is a path",
            vec!["status", "../../etc"],
            Expect { code: 2, says: &["invalid value '../../etc' for '<STACK>': it holds '.'"], peak_mib: 64 },
        ),
        (
            "stack name that is a path, to rollback",
            vec!["rollback", "--stack", "../x", "--state-dir", &state],
            Expect { code: 2, says: &["invalid value '../x' for '--stack <STACK>': it holds '.'"], peak_mib: 64 },
        ),
        (
            "stack name that is a path, in a plan",
            vec!["validate", &evil],
            Expect { code: 1, says: &["`../evil` is not a stack name: it holds '.'", "evil.kdl:2:11"], peak_mib: 64 },
        ),
        (
            "1 GiB Prometheus answer",
            vec!["apply", &gate_plan, "--state-dir", &state],
            Expect {
                code: 1,
                says: &["answered more than 16 MiB, which is all planrun reads of an answer", "rolled-back"],
                peak_mib: 96,
            },
        ),
        (
            "1 GiB Docker answer",
            vec!["status", &stack],
            Expect {
                code: 2,
                says: &["GET /info: the daemon's answer is larger than 16 MiB, more than planrun reads"],
                peak_mib: 64,
            },
        ),
        (
            "command printing 2 GiB",
            vec!["apply", &loud, "--state-dir", &state],
            Expect { code: 0, says: &["succeeded"], peak_mib: 64 },
        ),
        (
            "journal others can write, with a command",
            vec!["rollback", "--stack", &forged_stack, "--state-dir", &forged],
            Expect {
                code: 2,
                says: &["is not trusted", "writable by everyone (mode 666)", "nothing was changed"],
                peak_mib: 64,
            },
        ),
        (
            "the same journal named explicitly",
            vec!["rollback", "--stack", &forged_stack, "--journal", &forged_journal],
            Expect { code: 2, says: &["is not trusted"], peak_mib: 64 },
        ),
        (
            "journal of 65 MiB",
            vec!["rollback", "--stack", &big_stack, "--state-dir", &state],
            Expect { code: 2, says: &["more than a journal planrun reads (64 MiB): not a run journal"], peak_mib: 64 },
        ),
        (
            "binary file as a plan",
            vec!["validate", &binary],
            Expect { code: 1, says: &["binary.kdl", "UTF-8"], peak_mib: 64 },
        ),
        (
            "256 MiB plan file",
            vec!["validate", &huge_plan],
            Expect {
                code: 2,
                says: &["huge.kdl is larger than 16 MiB, the most planrun reads of a plan or project file"],
                peak_mib: 64,
            },
        ),
    ];

    let mut table = Vec::new();
    let mut failures = Vec::new();
    for (name, args, expect) in &cases {
        let env = if *name == "1 GiB Docker answer" { &endless_daemon[..] } else { &[] };
        let m = measured(args, &dir, env);
        table.push(format!(
            "| {name} | {} | {:.1} MiB | {:.1} s |",
            m.code,
            m.peak_kib as f64 / 1024.0,
            m.took.as_secs_f64()
        ));
        if m.code != expect.code {
            failures.push(format!("{name}: exit {} (wanted {})\n{}", m.code, expect.code, m.stderr));
        }
        for text in expect.says {
            if !m.stderr.contains(text) {
                failures.push(format!("{name}: stderr lacks {text:?}\n{}", m.stderr));
            }
        }
        if m.peak_kib > expect.peak_mib * 1024 {
            failures.push(format!("{name}: peak {} KiB, over {} MiB", m.peak_kib, expect.peak_mib));
        }
        if witness.exists() {
            failures.push(format!("{name}: a planted journal's command ran"));
            let _ = std::fs::remove_file(&witness);
        }
    }
    eprintln!("| case | exit | peak memory | took |\n| --- | --- | --- | --- |\n{}", table.join("\n"));
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
