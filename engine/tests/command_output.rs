//! A command printing gigabytes costs planrun a bounded tail of it. Alone in its own test
//! binary, so the process's peak memory is this test's.

use engine::commands::{Command, Commands, KEPT, LocalCommands};

/// This process's peak resident memory (VmHWM), in KiB.
fn peak_memory_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_command_printing_two_gibibytes_costs_a_bounded_tail() {
    let argv = ["sh", "-c", "head -c 2147483648 /dev/zero; echo; echo the end"];
    let command =
        Command { argv: argv.iter().map(|a| a.to_string()).collect(), timeout: std::time::Duration::from_secs(120) };
    let before = peak_memory_kib();
    let finished = LocalCommands.run(&command).await.unwrap();
    let grew = peak_memory_kib().saturating_sub(before);
    assert!(finished.success());
    assert_eq!(finished.stdout.len(), KEPT, "only the tail is kept");
    assert!(finished.stdout.ends_with(b"\nthe end\n"));
    assert!(finished.output_tail().contains("the end"), "the last line shows");
    eprintln!("2 GiB of output: peak memory grew by {grew} KiB (before: {before} KiB)");
    assert!(grew < 16 * 1024, "peak memory grew by {grew} KiB");
}
