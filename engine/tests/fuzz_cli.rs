//! `planrun validate` on mutated plans: whatever the bytes, it ends in exit 0 (valid) or 1
//! (diagnostics printed), never a panic or another code.

use std::path::Path;
use std::process::Command;

/// A small deterministic generator, so a failure names a reproducible case.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() as usize) % n.max(1)
    }
}

const TOKENS: &[&str] = &[
    "{", "}", "\"", "=", "after", "rolling", "#true", "${x}", "\"30s\"", "7", "é", "😀", "\u{0}", "\n", ";", "/-", "//",
];

fn mutate(text: &str, rng: &mut Lcg) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(bytes.len() + 1);
        match rng.below(4) {
            0 => {
                let end = (at + rng.below(40)).min(bytes.len());
                bytes.drain(at..end);
            }
            1 => {
                let token = TOKENS[rng.below(TOKENS.len())];
                bytes.splice(at..at, token.bytes());
            }
            2 => bytes.truncate(at),
            _ => {
                if at < bytes.len() {
                    bytes[at] = rng.next() as u8;
                }
            }
        }
    }
    bytes
}

#[test]
fn validate_ends_in_exit_0_or_1_with_diagnostics() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let sources: Vec<String> = ["quickstart.kdl", "rolling.kdl", "canary.kdl", "prodstack/plan.kdl"]
        .iter()
        .map(|f| std::fs::read_to_string(examples.join(f)).expect("example exists"))
        .collect();
    let dir = std::env::temp_dir().join(format!("planrun-fuzz-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut rng = Lcg(0x5eed);
    let (mut valid, mut invalid) = (0, 0);
    for case in 0..48 {
        let source = &sources[case % sources.len()];
        let path = dir.join(format!("case{case}.kdl"));
        std::fs::write(&path, mutate(source, &mut rng)).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_planrun"))
            .args(["validate", "--message-format", "json"])
            .arg(&path)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        match out.status.code() {
            Some(0) => valid += 1,
            Some(1) => {
                invalid += 1;
                let errors = stdout
                    .lines()
                    .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                    .filter(|d| {
                        d["severity"] == "error" && d["code"].as_str().is_some_and(|c| c.starts_with("planrun::"))
                    })
                    .count();
                assert!(errors > 0, "case {case}: exit 1 without an error diagnostic: {stdout}");
            }
            other => {
                panic!("case {case} ({}): exit {other:?}: {}", path.display(), String::from_utf8_lossy(&out.stderr))
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!("{valid} valid, {invalid} invalid");
    assert!(invalid > 0, "the mutations must break some plans");
}
