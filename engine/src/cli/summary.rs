//! The end-of-run summary for people: each step's outcome and time, what the failed tasks of a
//! failed step said (the failure report: errors, memory, health check, last log lines), what
//! the run changed and whether that was undone, and, when the run did not end cleanly, the
//! exact command to finish it.

use std::path::Path;

use plans::model::Plan;
use plans::steps::StepKind;

use crate::cli::columns;
use crate::clock;
use crate::events::{Event, Record, RunOutcome, UndoOutcome};
use crate::executor::Report;
use crate::services::failure_report::LOG_LINES;
use crate::undo::Undo;

/// The summary of a run.
pub fn render(plan: &Plan, records: &[Record], report: &Report, run_id: &str, journal: &Path) -> String {
    let mut out = String::new();
    let total = records.last().map(|r| r.elapsed_ms).unwrap_or(0);
    out.push_str(&format!("Summary: run {run_id} {} in {}\n", report.outcome, clock::span(total)));
    if let Some(reason) = &report.reason {
        out.push_str(&format!("  cause: {reason}\n"));
    }
    // Times right-aligned in their cell (tabwriter aligns every column left).
    let mut steps = String::new();
    for r in records {
        match &r.event {
            Event::StepFinished { step, outcome, took_ms, .. } => {
                steps.push_str(&format!("  {step}\t{outcome}\t{:>8}\n", clock::span(*took_ms)))
            }
            Event::StepUndone { step, outcome, took_ms, .. } => {
                steps.push_str(&format!("  {step}\tundo {outcome}\t{:>8}\n", clock::span(*took_ms)))
            }
            _ => {}
        }
    }
    out.push_str(&columns::aligned(&steps));
    out.push_str(&reports(records));
    out.push_str(&changes(plan, records));
    out.push_str(&format!("  journal: {}\n", journal.display()));
    out
}

/// What the failed tasks of each failed step said (`services::failure_report`), indented under
/// the step's name.
fn reports(records: &[Record]) -> String {
    let mut out = String::new();
    for r in records {
        let Event::StepFinished { step, report: Some(report), .. } = &r.event else { continue };
        out.push_str(&format!("  what the failed tasks of `{step}` said:\n"));
        for line in report.render(LOG_LINES).lines() {
            out.push_str(&format!("    {line}\n"));
        }
    }
    out
}

/// One line per thing a step changed, from the last record each step kept: `service: old image
/// -> new image`, a blue-green switch, a canary that was not promoted, a migration applied, a
/// compose stack's services; and whether that was undone.
fn changes(plan: &Plan, records: &[Record]) -> String {
    let mut last: Vec<(&str, &Undo)> = Vec::new();
    for r in records {
        let Event::StepRecorded { step, undo } = &r.event else { continue };
        match last.iter_mut().find(|(s, _)| *s == step.as_str()) {
            Some(entry) => entry.1 = undo,
            None => last.push((step, undo)),
        }
    }
    let mut out = String::new();
    for (step, undo) in last {
        let undone = records.iter().any(
            |u| matches!(&u.event, Event::StepUndone { step: s, outcome: UndoOutcome::Succeeded, .. } if s == step),
        );
        let state = if undone { " (rolled back)" } else { "" };
        let kind = plan.step(step).map(|s| &s.kind);
        let mut line = |what: String| out.push_str(&format!("  changed: {what}{state}\n"));
        // The image the step deployed, from the plan (a record from another plan shows none).
        let image = kind.and_then(StepKind::image);
        match undo {
            Undo::Rolling(undo) => {
                if let Some(image) = image {
                    line(moved(&undo.service_name, undo.previous_image(), image))
                }
            }
            Undo::Canary(undo) => match image {
                Some(image) if undo.promoted => {
                    line(moved(&undo.stable.service_name, undo.stable.previous_image(), image))
                }
                Some(image) => line(format!("{}: canary of {} on {image}", undo.canary_name, undo.stable.service_name)),
                None => {}
            },
            Undo::BlueGreen(undo) => {
                if let Some(image) = image {
                    line(moved(&undo.idle.service_name, undo.idle.previous_image(), image));
                    if undo.switched {
                        let via = undo.router.as_ref().map(|r| format!(" ({})", r.service_name)).unwrap_or_default();
                        line(format!("traffic{via}: {} -> {}", undo.live.service_name, undo.idle.service_name));
                    }
                }
            }
            Undo::Migrate(undo) => line(format!("{}: {} applied", undo.database_name, undo.file)),
            Undo::Compose(undo) => {
                for service in &undo.updated {
                    line(format!("{}: updated (was {})", service.service_name, service.previous_image()));
                }
                for service in &undo.created_services {
                    line(format!("{service}: created"));
                }
            }
            // A command with an undo command: what it changed is the command's own business.
            Undo::Run(_) => {}
        }
    }
    out
}

/// `service: old -> new`, or, when the image stays (a re-run whose spec changed elsewhere, such as
/// its labels or update config), `service: image (image unchanged, spec updated)`.
fn moved(service: &str, previous: &str, image: &str) -> String {
    let bare = |i: &str| i.split('@').next().unwrap_or(i).to_owned();
    if bare(previous) == bare(image) {
        format!("{service}: {} (image unchanged, spec updated)", bare(image))
    } else {
        format!("{service}: {previous} -> {image}")
    }
}

/// What to do next when a run did not end cleanly; `rollback` is the command that undoes it.
pub fn next_steps(report: &Report, stack: &str, rollback: &str, lost_lock: bool) -> Option<String> {
    let left =
        || -> String { report.left.iter().map(|(step, undo)| format!("  {step}: {}\n", undo.describe())).collect() };
    match report.outcome {
        RunOutcome::Succeeded | RunOutcome::RolledBack => None,
        RunOutcome::Paused => Some(format!(
            "paused: nothing was undone. To undo what this run changed:\n  {rollback}\n\
             To go on instead: fix the cause and run planrun apply again.\n"
        )),
        RunOutcome::RollbackFailed => Some(format!(
            "rollback failed: these changes may still be in place (newest first; each line says what undoing does):\n{}\
             The deploy lock on `{stack}` is kept, so nobody deploys over a half-undone stack. Fix the cause, then \
             run (it takes the lock over):\n  {rollback}\n{}\
             Or, once a person has put the stack right by hand: planrun unlock {stack} --force RUN \
             (`planrun status {stack}` names RUN)\n",
            left(),
            if report.reason.as_deref().is_some_and(|r| r.contains(crate::cluster::UNAVAILABLE)) {
                "The Docker daemon this run talks to stopped answering. If that manager is gone, run it where \
                 DOCKER_HOST reaches another manager of the swarm (it keeps what the rollback needs; an empty \
                 --state-dir will do).\n"
            } else {
                ""
            }
        )),
        RunOutcome::Stopped if lost_lock => Some(format!(
            "stopped at once: this run lost the deploy lock on `{stack}`, so the stack is someone else's now. \
             These changes are not undone (newest first; each line says what undoing does):\n{}Once nobody else \
             is deploying `{stack}`, undo them with:\n  {rollback}\n",
            left()
        )),
        RunOutcome::Stopped => Some(format!(
            "stopped at once by a second interrupt. The deploy lock on `{stack}` is kept, and these changes are \
             not undone (newest first; each line says what undoing does):\n{}To finish the rollback (it takes \
             the lock over):\n  {rollback}\n",
            left()
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bollard::models::{
        Limit, ServiceSpec, ServiceSpecMode, ServiceSpecModeReplicated, TaskSpec, TaskSpecContainerSpec,
        TaskSpecResources,
    };

    use super::*;
    use crate::cluster::fake::Behavior;
    use crate::cluster::post_mortem::ContainerEnd;
    use crate::events::{Event, Memory, StepOutcome};
    use crate::executor::{Executor, Interrupts};
    use crate::simulation::Simulation;

    #[test]
    fn a_rollback_that_failed_for_a_silent_daemon_says_to_reach_another_manager() {
        let report = |reason: &str| Report {
            outcome: RunOutcome::RollbackFailed,
            reason: Some(reason.to_owned()),
            left: Vec::new(),
        };
        let gone = crate::cluster::ClusterError::Unavailable("connection refused".into());
        let silent = next_steps(&report(&format!("undo of `web`: {gone}")), "shop", "planrun rollback shop", false);
        assert!(silent.unwrap().contains("where DOCKER_HOST reaches another manager"));
        let other = next_steps(&report("undo of `web`: changed since"), "shop", "planrun rollback shop", false);
        assert!(!other.unwrap().contains("DOCKER_HOST"));
    }

    #[test]
    fn an_image_move_shows_both_images_and_a_kept_image_says_so() {
        assert_eq!(moved("web", "app:v1", "app:v2"), "web: app:v1 -> app:v2");
        assert_eq!(moved("web", "app:v2@sha256:abc", "app:v2"), "web: app:v2 (image unchanged, spec updated)");
    }

    /// A plan rolling `shop_web` (2 replicas of app:v1, 64 MiB, a token in its env) to an image
    /// killed for memory, run to its end on the fake swarm.
    #[tokio::test(start_paused = true)]
    async fn a_release_killed_for_memory_is_named_with_its_limit_and_its_log_in_the_summary_and_the_event() {
        let sim = Simulation::new();
        sim.cluster.add_service(ServiceSpec {
            name: Some("shop_web".into()),
            mode: Some(ServiceSpecMode {
                replicated: Some(ServiceSpecModeReplicated { replicas: Some(2) }),
                ..Default::default()
            }),
            task_template: Some(TaskSpec {
                container_spec: Some(TaskSpecContainerSpec {
                    image: Some("app:v1".into()),
                    env: Some(vec!["API_TOKEN=tok-0123456789".into()]),
                    ..Default::default()
                }),
                resources: Some(TaskSpecResources {
                    limits: Some(Limit { memory_bytes: Some(64 << 20), ..Default::default() }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        });
        sim.cluster.behave("app:oom", Behavior::Crash(137));
        let end = ContainerEnd { oom_killed: true, exit_code: Some(137), health: None };
        sim.cluster.ends_as("app:oom", Some(end), &["loading cache with tok-0123456789", "allocating 80 MiB"]);
        let memory = Arc::new(Memory::default());
        let ctx = sim.context("shop", "r-oom", vec![Box::new(memory.clone())]);
        let executor = Executor { ctx, parallelism: 1, interrupts: Interrupts::default() };
        let (plan, graph) = Simulation::plan(
            "plan release {\n    stack shop\n    rolling web {\n        service shop_web\n        \
             image \"app:oom\"\n    }\n}\n",
        );

        let report = executor.run(&plan, &graph, &Arc::new(".".into())).await;

        assert_eq!(report.outcome, RunOutcome::RolledBack, "{report:?}");
        let records = memory.records();
        let failed = records
            .iter()
            .find_map(|r| match &r.event {
                Event::StepFinished { report: Some(report), .. } => Some(report.clone()),
                _ => None,
            })
            .expect("the failed step's event carries the report");
        assert_eq!(failed.tasks[0].oom, crate::services::failure_report::Oom::Killed);
        let text = render(&plan, &records, &report, "r-oom", Path::new("journal.jsonl"));
        assert!(
            text.contains(
                "  what the failed tasks of `web` said:\n    shop_web.1 on fake-node (task task0004, app:oom): out of \
                 memory: killed by the kernel at its 64 MiB memory limit (Docker: OOMKilled; exit 137)\n      \
                 error: task: non-zero exit (137)\n      last 2 log lines:\n        \
                 | loading cache with <redacted:"
            ),
            "{text}"
        );
        assert!(text.contains("        | allocating 80 MiB\n"), "{text}");
        assert!(!text.contains("tok-0123456789"), "{text}");
        let json = serde_json::to_string(&records).unwrap();
        assert!(json.contains("\"oom\":\"killed\"") && json.contains("\"memory_limit_bytes\":67108864"), "{json}");
        assert!(!json.contains("tok-0123456789"), "{json}");
    }

    /// A step name longer than the old fixed 24-character column still lines up its outcome and
    /// time with the other steps', undone ones included.
    #[test]
    fn a_long_step_name_keeps_the_columns_in_line() {
        let (plan, _) = Simulation::plan("plan release {\n    stack shop\n}\n");
        let long = "migrate-the-orders-table-to-v2";
        assert!(long.len() > 24);
        let record = |elapsed_ms, event| Record { at: String::new(), elapsed_ms, event };
        let finished = |step: &str, outcome, took_ms| Event::StepFinished {
            step: step.into(),
            outcome,
            reason: None,
            report: None,
            took_ms,
        };
        let records = vec![
            record(500, finished("db", StepOutcome::Succeeded, 500)),
            record(90_500, finished(long, StepOutcome::Succeeded, 90_000)),
            record(91_000, finished("web", StepOutcome::Failed, 500)),
            record(
                92_000,
                Event::StepUndone { step: long.into(), outcome: UndoOutcome::Succeeded, reason: None, took_ms: 1_000 },
            ),
        ];
        let report = Report { outcome: RunOutcome::RolledBack, reason: None, left: Vec::new() };

        let text = render(&plan, &records, &report, "r-1", Path::new("j.jsonl"));

        let rows: Vec<&str> = text.lines().filter(|l| l.contains("succeeded") || l.contains("failed")).collect();
        assert_eq!(rows.len(), 4, "{text}");
        // Where the outcome starts: after the step name (no spaces in it) and its padding.
        let outcome = |row: &str| {
            let name_end = 2 + row[2..].find(' ').unwrap();
            name_end + row[name_end..].find(|c| c != ' ').unwrap()
        };
        assert!(rows.iter().all(|r| outcome(r) == outcome(rows[0])), "outcomes in one column:\n{text}");
        assert!(rows.iter().all(|r| r.len() == rows[0].len()), "times end in one column:\n{text}");
        assert_eq!(
            rows,
            [
                "  db                              succeeded           0.5s",
                "  migrate-the-orders-table-to-v2  succeeded            90s",
                "  web                             failed              0.5s",
                "  migrate-the-orders-table-to-v2  undo succeeded        1s",
            ],
            "{text}"
        );
    }
}
