//! `planrun plan` for people: on a terminal (`human`, Terraform's symbols, colour when asked)
//! and as a pull-request comment (`markdown`, collapsible sections, cut to fit a comment).

use std::fmt::Write;

use crate::clock::span;
use crate::plan::report::{PlanReport, StepPlan};

/// GitHub refuses comments over 65,536 characters; this leaves room for a bot's own header.
pub const COMMENT_LIMIT: usize = 65_000;

struct Paint(bool);

impl Paint {
    fn code(&self, code: &str, text: &str) -> String {
        if self.0 { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_owned() }
    }
    fn action(&self, action: &str, text: &str) -> String {
        match action {
            "+" => self.code("32", text),
            "-" => self.code("31", text),
            _ => self.code("33", text),
        }
    }
    fn bold(&self, text: &str) -> String {
        self.code("1", text)
    }
}

fn or_unset(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("(unset)")
}

fn summary_line(r: &PlanReport) -> String {
    let s = &r.summary;
    let mut line = format!("{} to create, {} to change, {} to remove", s.create, s.change, s.remove);
    if s.unchanged_steps > 0 {
        let _ = write!(
            line,
            "; {} step{} change nothing",
            s.unchanged_steps,
            if s.unchanged_steps == 1 { "" } else { "s" }
        );
    }
    line
}

fn live_lines(r: &PlanReport) -> Vec<String> {
    let l = &r.live;
    let mut out = Vec::new();
    match (&l.mode[..], &l.offline_because) {
        ("offline", Some(why)) => out.push(format!("offline ({why}): from the plan alone; nothing live was read")),
        _ => out.push(format!("live: read from the swarm at {}", l.read_at.as_deref().unwrap_or("?"))),
    }
    if l.mode == "live" {
        out.push(match &l.lock {
            Some(h) => format!("deploy lock HELD by {h}: apply would be refused until it is released"),
            None => "deploy lock: free".into(),
        });
        if let Some(w) = &l.waiting {
            out.push(format!("waiting for approval: {w}"));
        }
        for c in &l.colours {
            out.push(match (&c.live, &c.unknown_because) {
                (Some(live), _) => format!("step `{}`: live colour {live}", c.step),
                (None, Some(why)) => format!("step `{}`: live colour unknown ({why})", c.step),
                (None, None) => format!("step `{}`: live colour unknown", c.step),
            });
        }
        for c in &l.canaries {
            out.push(format!("canary left behind: {c}"));
        }
        for b in &l.busy {
            out.push(format!("Swarm is busy with {b}: apply would be refused until it finishes"));
        }
    }
    out
}

fn step_header(s: &StepPlan) -> String {
    let mark = if s.refused.is_some() {
        "!"
    } else if s.unchanged {
        "="
    } else if s.changes.iter().any(|c| c.action == "~") {
        "~"
    } else if s.changes.iter().any(|c| c.action == "+") {
        "+"
    } else if s.changes.iter().any(|c| c.action == "-") {
        "-"
    } else {
        "·"
    };
    let after = if s.after.is_empty() { String::new() } else { format!(" after {}", s.after.join(", ")) };
    format!("{mark} {} `{}`{after}", s.kind, s.step)
}

/// The report for a terminal.
pub fn human(r: &PlanReport, colour: bool) -> String {
    let p = Paint(colour);
    let mut o = String::new();
    let _ = writeln!(o, "{}", p.bold(&format!("planrun plan: `{}` on stack `{}` ({})", r.plan, r.stack, r.file)));
    for line in live_lines(r) {
        let _ = writeln!(o, "  {line}");
    }
    let _ = writeln!(o, "\n{}", p.bold("Changes"));
    for s in &r.steps {
        let header = step_header(s);
        let mark = &header[..header.find(' ').unwrap_or(0)];
        let _ = write!(o, "  {}", p.action(mark, &header));
        if s.unchanged {
            let _ = write!(o, ": no changes");
        }
        let _ = writeln!(o);
        if let Some(why) = &s.refused {
            let _ = writeln!(o, "      {}", p.action("-", &format!("apply refuses this step: {why}")));
            let _ = writeln!(o, "      what it would change if allowed:");
        }
        for c in &s.changes {
            let _ = writeln!(o, "      {}", p.action(&c.action, &format!("{} {}", c.action, c.service)));
            for f in &c.fields {
                let _ = writeln!(o, "          {}: {} -> {}", f.field, or_unset(&f.before), or_unset(&f.after));
            }
        }
        for a in &s.actions {
            let _ = writeln!(o, "      {a}");
        }
        if !s.gates.is_empty() {
            let _ = writeln!(o, "      gates decide: {}", s.gates.join(", "));
        }
    }
    let _ = writeln!(o, "\n{}", p.bold(&format!("Plan: {}.", summary_line(r))));
    let _ = writeln!(o, "\n{}", p.bold("Order"));
    for (i, wave) in r.order.iter().enumerate() {
        let together = if wave.len() > 1 { " (together)" } else { "" };
        let _ = writeln!(o, "  {}. {}{together}", i + 1, wave.join(", "));
    }
    let _ = writeln!(o, "\n{}", p.bold("Rollback (if a step fails, what is undone, in this order)"));
    for s in &r.steps {
        let _ = writeln!(o, "  `{}` fails: {}", s.step, undone(r, s));
    }
    if !r.rollback.is_empty() {
        let _ = writeln!(o, "  undo records, newest first:");
        for u in &r.rollback {
            let _ = writeln!(o, "    `{}`: {}", u.step, u.undo);
        }
    }
    let _ = writeln!(o, "\n{}", p.bold("Timeline (simulated by the executor on a virtual clock)"));
    let width = r.steps.iter().map(|s| s.step.len()).max().unwrap_or(0);
    let total = r.timeline.best_ms.max(1);
    for s in &r.steps {
        let from = (s.start_ms * 40 / total) as usize;
        let to = ((s.end_ms * 40).div_ceil(total) as usize).max(from + 1).min(40);
        let bar = format!("{}{}", " ".repeat(from), "█".repeat(to.saturating_sub(from)));
        let _ = writeln!(o, "  {:width$}  {:>8} → {:<8} {bar}", s.step, span(s.start_ms), span(s.end_ms));
    }
    match &r.timeline.best_failure {
        None => {
            let _ = writeln!(o, "  best case: {} (every gate passes the first time)", span(r.timeline.best_ms));
        }
        Some(why) => {
            let _ = writeln!(
                o,
                "  {}",
                p.action(
                    "-",
                    &format!("even with every gate passing, the release ends {}: {why}", r.timeline.best_outcome)
                )
            );
        }
    }
    match &r.timeline.worst_failing {
        Some(what) => {
            let _ = writeln!(
                o,
                "  worst case: {} ({what} uses its whole allowance and fails, then {} of rollback)",
                span(r.timeline.worst_ms),
                span(r.timeline.worst_rollback_ms)
            );
            if let Some(why) = &r.timeline.worst_reason {
                let _ = writeln!(
                    o,
                    "  {}",
                    p.action("-", &format!("and then the run ends {}: {why}", r.timeline.worst_outcome))
                );
            }
        }
        None => {
            let _ = writeln!(o, "  worst case: {} (nothing in the plan can fail it)", span(r.timeline.worst_ms));
        }
    }
    if let Some(d) = &r.drill {
        let _ = writeln!(o, "\n{}", p.bold(&format!("Drill: {} fails", d.failing)));
        for m in &d.story {
            let _ = writeln!(o, "  {:>8}  {}", span(m.at_ms), m.what);
        }
        let _ =
            writeln!(o, "  ends {} after {}; rollback order: {}", d.outcome, span(d.total_ms), list(&d.rollback_order));
        let _ = writeln!(o, "  then:");
        for f in &d.final_state {
            let _ = writeln!(o, "    {}: {}", f.name, f.state);
        }
    }
    if !r.notifications.is_empty() {
        let _ = writeln!(o, "\n{}", p.bold("Notifications (apply sends them; plan sends none)"));
        for n in &r.notifications {
            let _ = writeln!(o, "  {n}");
        }
    }
    let _ = writeln!(o, "\n{}", p.bold("Assumptions"));
    for a in &r.assumptions {
        let _ = writeln!(o, "  {a}");
    }
    o
}

/// What is undone if step `s` fails: the last `on_failure_undoes` records of the rollback, by
/// step, in order (eight at most, then a count).
fn undone(r: &PlanReport, s: &StepPlan) -> String {
    let n = s.on_failure_undoes.min(r.rollback.len());
    let records = &r.rollback[r.rollback.len() - n..];
    if records.is_empty() {
        return "nothing to undo".into();
    }
    let mut names: Vec<String> = records.iter().take(8).map(|u| format!("`{}`", u.step)).collect();
    if records.len() > 8 {
        names.push(format!("{} more", records.len() - 8));
    }
    format!("undo {}", names.join(", then "))
}

fn list(names: &[String]) -> String {
    if names.is_empty() { "nothing undone".into() } else { names.join(", ") }
}

/// Escapes text for a markdown table cell or line.
fn md(text: &str) -> String {
    text.replace('|', "\\|").replace('<', "&lt;").replace('>', "&gt;")
}

/// Sections, each cut to fit: blocks are added while they fit in `budget`; the rest is
/// counted in a note.
fn section(title: &str, blocks: &[String], budget: usize, what: &str) -> String {
    let mut body = String::new();
    let mut kept = 0;
    for b in blocks {
        if body.len() + b.len() > budget {
            break;
        }
        body.push_str(b);
        kept += 1;
    }
    if kept < blocks.len() {
        let _ = writeln!(
            body,
            "\n_{} more {what} left out to keep this comment under GitHub's limit; run `planrun plan` for all of them._",
            blocks.len() - kept
        );
    }
    format!("<details><summary>{title}</summary>\n\n{body}\n</details>\n\n")
}

/// The report as a pull-request comment, at most `limit` characters whatever the plan's size.
pub fn markdown(r: &PlanReport, limit: usize) -> String {
    let mut head = String::new();
    let _ = writeln!(head, "### planrun plan: `{}` → stack `{}`\n", md(&r.plan), md(&r.stack));
    let _ = writeln!(
        head,
        "**{}** · best case {} · worst case {}\n",
        summary_line(r),
        span(r.timeline.best_ms),
        span(r.timeline.worst_ms)
    );
    if let Some(why) = &r.timeline.worst_reason {
        let _ = writeln!(
            head,
            "> [!CAUTION]\n> In the worst case the run ends **{}**: {}\n",
            r.timeline.worst_outcome,
            md(why)
        );
    }
    if let Some(why) = &r.timeline.best_failure {
        let _ = writeln!(
            head,
            "> [!WARNING]\n> Even with every gate passing, the simulated release ends **{}**: {}\n",
            r.timeline.best_outcome,
            md(why)
        );
    }
    for line in live_lines(r) {
        let _ = writeln!(head, "- {}", md(&line));
    }
    head.push('\n');

    let changes: Vec<String> = r
        .steps
        .iter()
        .map(|s| {
            let mut b = format!("**{}**", md(&step_header(s)));
            if s.unchanged {
                b.push_str(": no changes");
            }
            b.push('\n');
            if let Some(why) = &s.refused {
                let _ = writeln!(
                    b,
                    "\n> [!CAUTION]\n> apply refuses this step: {}\n\nWhat it would change if allowed:",
                    md(why)
                );
            }
            if !s.changes.is_empty() {
                b.push_str("```diff\n");
                for c in &s.changes {
                    let _ = writeln!(b, "{} {}", if c.action == "~" { "!" } else { &c.action }, c.service);
                    for f in &c.fields {
                        if let Some(before) = &f.before {
                            let _ = writeln!(b, "-   {}: {before}", f.field);
                        }
                        if let Some(after) = &f.after {
                            let _ = writeln!(b, "+   {}: {after}", f.field);
                        }
                    }
                }
                b.push_str("```\n");
            }
            for a in &s.actions {
                let _ = writeln!(b, "- {}", md(a));
            }
            if !s.gates.is_empty() {
                let _ = writeln!(b, "- gates decide: {}", md(&s.gates.join(", ")));
            }
            b.push('\n');
            b
        })
        .collect();
    let mut order = vec!["| step | waits for | start | end | if it fails, undo |\n|---|---|---|---|---|\n".to_owned()];
    order.extend(r.steps.iter().map(|s| {
        format!(
            "| `{}` | {} | {} | {} | {} |\n",
            md(&s.step),
            md(&s.after.join(", ")),
            span(s.start_ms),
            span(s.end_ms),
            md(&undone(r, s))
        )
    }));
    let mut drill = Vec::new();
    if let Some(d) = &r.drill {
        drill.push(format!(
            "Ends **{}** after {}; rollback order: {}\n\n",
            d.outcome,
            span(d.total_ms),
            md(&list(&d.rollback_order))
        ));
        drill.extend(d.story.iter().map(|m| format!("- {} {}\n", span(m.at_ms), md(&m.what))));
        drill.push("\nThen:\n\n".into());
        drill.extend(d.final_state.iter().map(|f| format!("- {}: {}\n", md(&f.name), md(&f.state))));
    }
    let assumptions: Vec<String> = r.assumptions.iter().map(|a| format!("- {}\n", md(a))).collect();
    let notifications: Vec<String> = r.notifications.iter().map(|n| format!("- {}\n", md(n))).collect();

    // The header and the section frames always fit; what is left is shared, changes first.
    let frames = 600;
    let mut left = limit.saturating_sub(head.len() + frames);
    let mut out = head;
    let changes_text = section("Changes", &changes, left * 6 / 10, "steps");
    left = left.saturating_sub(changes_text.len());
    out.push_str(&changes_text);
    let order_text = section("Order, timeline and rollback", &order, left * 6 / 10, "steps");
    left = left.saturating_sub(order_text.len());
    out.push_str(&order_text);
    if let Some(d) = &r.drill {
        let t = section(&format!("Drill: {} fails", md(&d.failing)), &drill, left * 8 / 10, "lines");
        left = left.saturating_sub(t.len());
        out.push_str(&t);
    }
    if !notifications.is_empty() {
        let t = section("Notifications (apply sends them)", &notifications, left / 2, "notifications");
        left = left.saturating_sub(t.len());
        out.push_str(&t);
    }
    out.push_str(&section("Assumptions", &assumptions, left, "assumptions"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::report::{LiveView, Summary, Timeline};

    fn report() -> PlanReport {
        PlanReport {
            format: crate::plan::report::FORMAT.into(),
            plan: "p".into(),
            stack: "s".into(),
            file: "plan.kdl".into(),
            live: LiveView {
                mode: "offline".into(),
                offline_because: Some("--offline".into()),
                read_at: None,
                lock: None,
                waiting: None,
                colours: Vec::new(),
                canaries: Vec::new(),
                busy: Vec::new(),
            },
            steps: Vec::new(),
            summary: Summary { create: 0, change: 0, remove: 0, unchanged_steps: 0, changes_present: false },
            order: Vec::new(),
            rollback: Vec::new(),
            timeline: Timeline {
                best_outcome: "succeeded".into(),
                best_failure: None,
                best_ms: 1000,
                worst_ms: 1000,
                worst_failing: None,
                worst_rollback_ms: 0,
                worst_outcome: "succeeded".into(),
                worst_reason: None,
            },
            drill: None,
            assumptions: Vec::new(),
            notifications: Vec::new(),
        }
    }

    #[test]
    fn notifications_are_listed_only_when_the_plan_has_some() {
        assert!(!human(&report(), false).contains("Notifications"));
        assert!(!markdown(&report(), 60_000).contains("Notifications"));
        let mut r = report();
        r.notifications = vec!["notify `team`: slack, its URL from url-env `SLACK_URL`; on started, failed".into()];
        let text = human(&r, false);
        assert!(
            text.contains(
                "Notifications (apply sends them; plan sends none)\n  notify `team`: slack, its URL from url-env `SLACK_URL`; on started, failed\n"
            ),
            "{text}"
        );
        let md = markdown(&r, 60_000);
        assert!(md.contains("Notifications (apply sends them)"), "{md}");
        assert!(md.contains("- notify `team`: slack"), "{md}");
    }

    #[test]
    fn colour_is_escape_codes_only_when_asked() {
        assert!(human(&report(), true).contains("\x1b[1m"));
        assert!(!human(&report(), false).contains('\x1b'));
    }
}
