//! `planrun status STACK`, `planrun history STACK` and `planrun finish STACK`.

use std::process::ExitCode;

use crate::cli::args::{AnswerArgs, OutputFormat, StatusArgs};
use crate::cli::{EXIT_USAGE, columns, fail, run_async, swarm_of};
use crate::run_state;
use crate::status::{self, Status};
use crate::steps::blue_green;

/// Runs `planrun status`.
pub fn status(a: StatusArgs) -> ExitCode {
    run_async(async move {
        let cluster = match swarm_of(a.env.as_deref(), a.project.as_deref()).await {
            Ok(c) => c,
            Err(code) => return code,
        };
        let found = match status::of(cluster.as_ref(), &a.stack).await {
            Ok(s) => s,
            Err(e) => return fail(EXIT_USAGE, format!("cannot read the status of `{}`: {e}", a.stack)),
        };
        match a.output {
            OutputFormat::Json => match serde_json::to_string(&found) {
                Ok(json) => println!("{}", crate::redact::text(&json)),
                Err(e) => return fail(EXIT_USAGE, e),
            },
            // Reasons come from the swarm as a step worded them: redacted as events are.
            OutputFormat::Auto | OutputFormat::Plain => print!("{}", crate::redact::text(&render(&found))),
        }
        ExitCode::SUCCESS
    })
}

/// The status for people.
pub fn render(s: &Status) -> String {
    let mut out = format!("stack {}\n", s.stack);
    match &s.lock {
        Some(h) => out.push_str(&format!("  lock: held by {}\n", h.describe(std::time::SystemTime::now()))),
        None => out.push_str("  lock: free\n"),
    }
    if let Some(w) = &s.waiting {
        out.push_str(&format!(
            "  waiting: run {} at step `{}`: {} (planrun promote {} / planrun abort {})\n",
            w.run_id, w.step, w.question, s.stack, s.stack
        ));
    }
    match &s.last_run {
        Some(r) => {
            let how = match (&r.outcome, &r.finished) {
                (Some(o), Some(at)) => format!("{o} at {at}"),
                _ => "started, no outcome recorded (running, or it died)".into(),
            };
            out.push_str(&format!(
                "  last run: {} of plan `{}` by {}, started {}: {how}\n",
                r.run_id, r.plan, r.by, r.started
            ));
            if let Some(reason) = &r.reason {
                out.push_str(&format!("    cause: {reason}\n"));
            }
        }
        None => out.push_str("  last run: none recorded\n"),
    }
    if let Some(w) = &s.watch {
        out.push_str(&format!(
            "  watch: run {} until {}, gates {}, on regression {} (planrun watch {} --stop)\n",
            w.run_id,
            w.until,
            w.gates.join(" "),
            w.on_regression,
            s.stack
        ));
        match &w.last {
            Some(last) => out.push_str(&format!(
                "    last verdict: {} at {} after {} rounds: {}\n",
                last.verdict, last.at, last.rounds, last.summary
            )),
            None => out.push_str("    last verdict: none yet\n"),
        }
    }
    if s.services.is_empty() {
        out.push_str("  services: none found\n");
    } else {
        out.push_str("  services:\n");
        let mut rows = String::new();
        for v in &s.services {
            let update = v.update.as_deref().map(|u| format!("  update {u}")).unwrap_or_default();
            let role = v.role.as_deref().map(|r| format!("  ({r})")).unwrap_or_default();
            rows.push_str(&format!("    {}\t{}\t{}/{} running{update}{role}\n", v.name, v.image, v.running, v.desired));
        }
        out.push_str(&columns::aligned(&rows));
    }
    out
}

/// Runs `planrun history`.
pub fn history(a: StatusArgs) -> ExitCode {
    run_async(async move {
        let cluster = match swarm_of(a.env.as_deref(), a.project.as_deref()).await {
            Ok(c) => c,
            Err(code) => return code,
        };
        let runs = match run_state::runs(cluster.as_ref(), &a.stack).await {
            Ok(runs) => runs,
            Err(e) => return fail(EXIT_USAGE, format!("cannot read the runs of `{}`: {e}", a.stack)),
        };
        let rows: Vec<HistoryRow> = runs.iter().map(HistoryRow::of).collect();
        match a.output {
            OutputFormat::Json => match serde_json::to_string(&rows) {
                Ok(json) => println!("{}", crate::redact::text(&json)),
                Err(e) => return fail(EXIT_USAGE, e),
            },
            OutputFormat::Auto | OutputFormat::Plain => {
                print!("{}", crate::redact::text(&render_history(&a.stack, &rows)))
            }
        }
        ExitCode::SUCCESS
    })
}

/// One run in `planrun history`.
#[derive(Debug, serde::Serialize)]
pub struct HistoryRow {
    /// The run.
    pub run_id: String,
    /// The plan, who ran it and when, if the swarm still has its start.
    pub plan: Option<String>,
    /// `user@host`.
    pub by: Option<String>,
    /// When it started.
    pub started: Option<String>,
    /// How it (or the last rollback of it) ended; none while it runs or if it died.
    pub outcome: Option<crate::events::RunOutcome>,
    /// When.
    pub finished: Option<String>,
    /// Why, when it did not succeed.
    pub reason: Option<String>,
    /// What is left to undo, newest first: `step: what undoing does`.
    pub left: Vec<String>,
    /// The watch after the release, if the plan had one: `until TIME`, or how it ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub watch: Option<String>,
}

impl HistoryRow {
    fn of(run: &run_state::StoredRun) -> HistoryRow {
        let summary = run.summary.as_ref();
        HistoryRow {
            run_id: run.run_id.clone(),
            plan: summary.map(|s| s.plan.clone()),
            by: summary.map(|s| s.by.clone()),
            started: summary.map(|s| s.started.clone()),
            outcome: run.finished.as_ref().map(|f| f.0),
            finished: run.finished.as_ref().map(|f| f.2.clone()),
            reason: run.finished.as_ref().and_then(|f| f.1.clone()),
            left: run.pending().iter().map(|(step, undo)| format!("{step}: {}", undo.describe())).collect(),
            watch: watch_of(run),
        }
    }
}

/// How the run's watch went, from its entries: `until TIME` while none ended it.
fn watch_of(run: &run_state::StoredRun) -> Option<String> {
    let ended = run.entries.iter().rev().find_map(|e| match e {
        run_state::Entry::Watched { end, reason, at, .. } => {
            Some(format!("{} at {at}{}", end.as_str(), reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default()))
        }
        _ => None,
    });
    ended.or_else(|| {
        run.entries.iter().rev().find_map(|e| match e {
            run_state::Entry::Watching { until, .. } => Some(format!("until {until} (or ended without a record)")),
            _ => None,
        })
    })
}

/// The history for people, newest run first.
pub fn render_history(stack: &str, rows: &[HistoryRow]) -> String {
    if rows.is_empty() {
        return format!("stack {stack}: the swarm keeps no runs of it\n");
    }
    let mut out = format!("stack {stack}: {} run(s), newest first\n", rows.len());
    for row in rows {
        let how = match (&row.outcome, &row.finished) {
            (Some(o), Some(at)) => format!("{o} at {at}"),
            _ => "no outcome recorded (running, or it died)".into(),
        };
        let who = match (&row.plan, &row.by, &row.started) {
            (Some(plan), Some(by), Some(started)) => format!(" plan `{plan}` by {by}, started {started}:"),
            _ => String::new(),
        };
        out.push_str(&format!("  {}{who} {how}\n", row.run_id));
        if let Some(reason) = &row.reason {
            out.push_str(&format!("    cause: {reason}\n"));
        }
        if let Some(watch) = &row.watch {
            out.push_str(&format!("    watch: {watch}\n"));
        }
        for left in &row.left {
            out.push_str(&format!("    to undo: {left}\n"));
        }
    }
    out
}

/// Runs `planrun finish`.
pub fn finish(a: AnswerArgs) -> ExitCode {
    run_async(async move {
        let cluster = match swarm_of(a.env.as_deref(), a.project.as_deref()).await {
            Ok(c) => c,
            Err(code) => return code,
        };
        match blue_green::retire_due(cluster.as_ref(), &a.stack, std::time::SystemTime::now()).await {
            Ok(retired) if retired.is_empty() => eprintln!("nothing to finish on `{}`", a.stack),
            Ok(retired) => eprintln!("scaled to 0 (keep-old passed): {}", retired.join(", ")),
            Err(e) => return fail(EXIT_USAGE, e),
        }
        ExitCode::SUCCESS
    })
}
