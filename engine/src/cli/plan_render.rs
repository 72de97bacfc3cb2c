//! `planrun plan` for people: on a terminal (`human`, Terraform's symbols, colour when asked)
//! and as a pull-request comment (`markdown`, collapsible sections, cut to fit a comment).

use std::fmt::Write;

use anstyle::{AnsiColor, Style};

use crate::cli::columns;
use crate::clock::span;
use crate::plan::diff::FieldChange;
use crate::plan::report::{CanaryPlan, PlanReport, StepPlan, SwitchPlan, UNKNOWN};

/// GitHub refuses comments over 65,536 characters; this leaves room for a bot's own header.
pub const COMMENT_LIMIT: usize = 65_000;

/// Colours a text with anstyle's styles, or leaves it plain.
struct Paint(bool);

impl Paint {
    fn style(&self, style: Style, text: &str) -> String {
        if self.0 { format!("{style}{text}{style:#}") } else { text.to_owned() }
    }
    fn action(&self, action: &str, text: &str) -> String {
        match action {
            "+" => self.style(AnsiColor::Green.on_default(), text),
            "-" => self.style(AnsiColor::Red.on_default(), text),
            _ => self.style(AnsiColor::Yellow.on_default(), text),
        }
    }
    fn bold(&self, text: &str) -> String {
        self.style(Style::new().bold(), text)
    }
}

/// A field's value before, in words: unset, or unknown (offline).
fn before(f: &FieldChange) -> &str {
    if f.before_unknown { UNKNOWN } else { f.before.as_deref().unwrap_or("(unset)") }
}

fn after(f: &FieldChange) -> &str {
    f.after.as_deref().unwrap_or("(unset)")
}

/// The symbol of a service change: `+` create, `~` update, `-` remove.
fn symbol(action: &str) -> &'static str {
    match action {
        "create" => "+",
        "remove" => "-",
        _ => "~",
    }
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

/// The plan file, its stack and environment, in one line.
fn where_line(r: &PlanReport) -> String {
    match &r.environment {
        Some(env) => format!("{}, environment `{env}` of planrun.toml", r.file),
        None => format!("{}, no planrun.toml environment", r.file),
    }
}

fn live_lines(r: &PlanReport) -> Vec<String> {
    let l = &r.live;
    let mut out = Vec::new();
    match (&l.mode[..], &l.offline_because) {
        ("offline", Some(why)) => out.push(format!(
            "offline ({why}): from the plan alone; nothing live was read, so what runs now is {UNKNOWN}"
        )),
        _ => out.push(format!("live: read from the swarm at {}", l.read_at.as_deref().unwrap_or(UNKNOWN))),
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
    } else if s.changes.iter().any(|c| c.action == "update") {
        "~"
    } else if s.changes.iter().any(|c| c.action == "create") {
        "+"
    } else if s.changes.iter().any(|c| c.action == "remove") {
        "-"
    } else {
        "·"
    };
    let after = if s.after.is_empty() { String::new() } else { format!(" after {}", s.after.join(", ")) };
    format!("{mark} {} `{}`{after}", s.kind, s.step)
}

/// A canary's stages and promotion, a line each.
fn canary_lines(c: &CanaryPlan) -> Vec<String> {
    let mut out = Vec::new();
    for (i, stage) in c.stages.iter().enumerate() {
        let mut line = format!("stage {}: canary `{}` takes {}", i + 1, c.canary, stage.share);
        match stage.pause.as_deref() {
            Some("manual") => line.push_str(" until a person approves"),
            Some(p) => {
                let _ = write!(line, " for {p}");
            }
            None => {}
        }
        // A stage's gates judge the canary from its start, all through the pause.
        match (stage.gates.is_empty(), stage.pause.is_some()) {
            (true, _) => {}
            (false, true) => {
                let _ = write!(line, ", gates {} judging it all the while", stage.gates.join(", "));
            }
            (false, false) => {
                let _ = write!(line, ", gates {}", stage.gates.join(", "));
            }
        }
        out.push(line);
    }
    out.push(match c.promote.as_str() {
        "manual" => "then promoted to every replica when a person approves".into(),
        _ => "then promoted to every replica when the last stage passes".into(),
    });
    out
}

/// A blue-green switch, in a line.
fn switch_line(s: &SwitchPlan) -> String {
    let colours = match (&s.from, &s.to) {
        (Some(from), Some(to)) => format!("traffic moves from `{from}` to `{to}`"),
        _ => format!("traffic moves from the live colour {UNKNOWN} to the other one"),
    };
    format!("{colours} by {}; the old colour keeps running {} after the switch", s.how, s.keep_old)
}

/// What happens if step `s` fails, from its drill.
fn if_it_fails(s: &StepPlan) -> String {
    let f = &s.on_failure;
    let Some(outcome) = &f.outcome else {
        // Its first clause: the rest is advice for `--fail`.
        let why = f.not_drilled.as_deref().unwrap_or("not drilled");
        return if why.starts_with("not drilled") { why.to_owned() } else { first_clause(why).to_owned() };
    };
    let mut parts = Vec::new();
    if !f.stopped.is_empty() {
        parts.push(format!("stops {}", names(&f.stopped)));
    }
    if !f.undone.is_empty() {
        parts.push(format!("undo {}", turns(&f.undone_turns, "`")));
    } else if outcome != "paused" {
        parts.push("nothing to undo".into());
    }
    parts.push(format!("ends {}", outcome.replace('-', " ")));
    let mut text = parts.join("; ");
    if let Some(why) = &f.reason {
        let _ = write!(text, ": {}", first_line(why));
    }
    text
}

/// Step names in backticks, joined with "then" (eight at most, then a count).
fn names(steps: &[String]) -> String {
    let mut shown: Vec<String> = steps.iter().take(8).map(|n| format!("`{n}`")).collect();
    if steps.len() > 8 {
        shown.push(format!("{} more", steps.len() - 8));
    }
    shown.join(", then ")
}

fn first_clause(text: &str) -> &str {
    text.split(';').next().unwrap_or(text)
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

/// The worst case, in a sentence.
fn worst_line(r: &PlanReport) -> String {
    let t = &r.timeline;
    match &t.worst_failing {
        Some(what) => format!(
            "worst case: {} ({what} fails{}, {})",
            span(t.worst_ms),
            if what.starts_with("gate") { " after using its whole allowance" } else { "" },
            if t.worst_outcome == "paused" {
                "and the run pauses for a person".to_owned()
            } else {
                format!("then {} of rollback", span(t.worst_rollback_ms))
            }
        ),
        None if r.steps.iter().any(|s| s.on_failure.outcome.is_some()) => {
            format!("worst case: {} (as the best: every failure drilled ends the run sooner)", span(t.worst_ms))
        }
        None => format!("worst case: {} (nothing in the plan can fail it)", span(t.worst_ms)),
    }
}

/// The report for a terminal.
pub fn human(r: &PlanReport, colour: bool) -> String {
    let p = Paint(colour);
    let mut o = String::new();
    let _ = writeln!(o, "{}", p.bold(&format!("planrun plan: `{}` on stack `{}`", r.plan, r.stack)));
    let _ = writeln!(o, "  {}", where_line(r));
    for line in live_lines(r) {
        let _ = writeln!(o, "  {line}");
    }
    if !r.irreversible.is_empty() {
        let _ = writeln!(o, "\n{}", p.bold("Irreversible (a rollback cannot undo these)"));
        for i in &r.irreversible {
            let _ = writeln!(o, "  {}", p.action("-", &format!("`{}`: {}", i.step, i.why)));
        }
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
            let sym = symbol(&c.action);
            let _ = writeln!(o, "      {}", p.action(sym, &format!("{sym} {}", c.service)));
            for f in &c.fields {
                let _ = writeln!(o, "          {}: {} -> {}", f.field, before(f), after(f));
            }
        }
        if let Some(c) = &s.canary {
            for line in canary_lines(c) {
                let _ = writeln!(o, "      {line}");
            }
        }
        if let Some(sw) = &s.switch {
            let _ = writeln!(o, "      {}", switch_line(sw));
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
    let _ = writeln!(o, "\n{}", p.bold("Rollback (each step's drill: what happens if it fails)"));
    for s in &r.steps {
        let _ = writeln!(o, "  `{}` fails: {}", s.step, if_it_fails(s));
    }
    if !r.rollback.is_empty() {
        let _ = writeln!(o, "  undo records, newest first:");
        for u in &r.rollback {
            let _ = writeln!(o, "    `{}`: {}", u.step, u.undo);
        }
    }
    let _ = writeln!(o, "\n{}", p.bold("Timeline (simulated by the executor on a virtual clock)"));
    let total = r.timeline.best_ms.max(1);
    // Start times right-aligned in their cell (tabwriter aligns every column left).
    let mut rows = String::new();
    for s in &r.steps {
        let from = ((s.start_ms * 40 / total) as usize).min(39);
        let to = ((s.end_ms * 40).div_ceil(total) as usize).max(from + 1).min(40);
        let bar = format!("{}{}", " ".repeat(from), "█".repeat(to.saturating_sub(from)));
        let _ = writeln!(rows, "  {}\t{:>8} → {}\t{bar}", s.step, span(s.start_ms), span(s.end_ms));
    }
    o.push_str(&columns::aligned(&rows));
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
    let _ = writeln!(o, "  {}", worst_line(r));
    if let Some(why) = &r.timeline.worst_reason {
        let _ =
            writeln!(o, "  {}", p.action("-", &format!("and then the run ends {}: {why}", r.timeline.worst_outcome)));
    }
    if let Some(d) = &r.drill {
        let _ = writeln!(o, "\n{}", p.bold(&format!("Drill: {} fails", d.failing)));
        for m in &d.story {
            let _ = writeln!(o, "  {:>8}  {}", span(m.at_ms), m.what);
        }
        let _ =
            writeln!(o, "  ends {} after {}; rollback order: {}", d.outcome, span(d.total_ms), list(&d.rollback_turns));
        let _ = writeln!(o, "  then:");
        for f in &d.final_state {
            let _ = writeln!(o, "    {}: {}", f.name, f.state);
        }
    }
    if let Some(watch) = &r.watch {
        let _ = writeln!(o, "\n{}", p.bold("After the release"));
        let _ = writeln!(o, "  {watch}");
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

fn list(names: &[Vec<String>]) -> String {
    if names.is_empty() { "nothing undone".into() } else { turns(names, "") }
}

/// Undo turns in words: "`a`, then `b` and `c` at once, then `d`" (eight names at most, then
/// a count), each name between `quote`s.
fn turns(turns: &[Vec<String>], quote: &str) -> String {
    let mut shown = Vec::new();
    let mut left = 8usize;
    let total: usize = turns.iter().map(Vec::len).sum();
    for turn in turns {
        if left == 0 {
            break;
        }
        let names: Vec<String> = turn.iter().take(left).map(|n| format!("{quote}{n}{quote}")).collect();
        left -= names.len();
        shown.push(match names.as_slice() {
            [one] => one.clone(),
            [rest @ .., last] => format!("{} and {last} at once", rest.join(", ")),
            [] => continue,
        });
    }
    if total > 8 {
        shown.push(format!("{} more", total - 8));
    }
    shown.join(", then ")
}

/// Escapes text for a markdown line: no HTML, and on one line.
fn md(text: &str) -> String {
    text.replace('<', "&lt;").replace('>', "&gt;").replace('\n', " ")
}

/// Escapes text for a markdown table cell.
fn md_cell(text: &str) -> String {
    md(text).replace('|', "\\|")
}

/// Text that may span lines, as a list item: its first line, and the rest in a fenced block
/// under it (a fence longer than any run of backticks in it), so nothing in it is read as
/// markdown.
fn md_item(prefix: &str, text: &str) -> String {
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("");
    let rest: Vec<&str> = lines.collect();
    let mut out = format!("- {prefix}{}\n", md(first));
    if !rest.iter().all(|l| l.trim().is_empty()) {
        let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
        let fence = "`".repeat(longest.max(2) + 1);
        let _ = writeln!(out, "\n  {fence}text");
        for l in rest {
            let _ = writeln!(out, "  {l}");
        }
        let _ = writeln!(out, "  {fence}\n");
    }
    out
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

/// Plans of more steps than this get no picture: mermaid draws at most 500 edges, and a
/// picture of hundreds of steps shows nothing.
const PICTURE_LIMIT: usize = 60;

/// A name as a mermaid label: no quotes, colons, semicolons or hashes.
fn mermaid_text(text: &str) -> String {
    text.chars().map(|c| if matches!(c, '"' | ':' | ';' | '#' | '`' | '<' | '>') { '-' } else { c }).collect()
}

/// The graph of steps and the best case's timeline, as mermaid (GitHub draws it).
fn pictures(r: &PlanReport) -> Vec<String> {
    if r.steps.len() > PICTURE_LIMIT {
        return vec![format!(
            "_{} steps are more than a picture can show; `planrun graph` draws the graph._\n",
            r.steps.len()
        )];
    }
    let id: std::collections::BTreeMap<&str, usize> =
        r.steps.iter().enumerate().map(|(i, s)| (s.step.as_str(), i)).collect();
    let mut graph = String::from("```mermaid\ngraph LR\n");
    for (i, s) in r.steps.iter().enumerate() {
        let _ = writeln!(graph, "  s{i}[\"{} {}\"]", mermaid_text(&s.kind), mermaid_text(&s.step));
    }
    for (i, s) in r.steps.iter().enumerate() {
        for a in &s.after {
            if let Some(j) = id.get(a.as_str()) {
                let _ = writeln!(graph, "  s{j} --> s{i}");
            }
        }
    }
    graph.push_str("```\n\n");
    let mut gantt = String::from(
        "```mermaid\ngantt\n  title Best case, simulated\n  dateFormat x\n  axisFormat %M:%S\n  section steps\n",
    );
    for (i, s) in r.steps.iter().enumerate() {
        let _ = writeln!(gantt, "  {} :s{i}, {}, {}", mermaid_text(&s.step), s.start_ms, s.end_ms.max(s.start_ms + 1));
    }
    gantt.push_str("```\n\n");
    vec![graph, gantt]
}

/// The report as a pull-request comment, at most `limit` characters whatever the plan's size.
pub fn markdown(r: &PlanReport, limit: usize) -> String {
    let mut head = String::new();
    let _ = writeln!(head, "### planrun plan: `{}` → stack `{}`\n", md(&r.plan), md(&r.stack));
    let _ =
        writeln!(head, "**{}** · best case {} · {}\n", summary_line(r), span(r.timeline.best_ms), md(&worst_line(r)));
    if !r.irreversible.is_empty() {
        head.push_str("> [!WARNING]\n> A rollback cannot undo these steps:\n");
        for i in &r.irreversible {
            let _ = writeln!(head, "> - `{}`: {}", md(&i.step), md(&i.why));
        }
        head.push('\n');
    }
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
    let _ = writeln!(head, "- {}", md(&where_line(r)));
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
            b.push_str("\n\n");
            if let Some(why) = &s.refused {
                let _ = writeln!(
                    b,
                    "> [!CAUTION]\n> apply refuses this step: {}\n\nWhat it would change if allowed:\n",
                    md(why)
                );
            }
            if !s.changes.is_empty() {
                b.push_str("```diff\n");
                for c in &s.changes {
                    let _ = writeln!(b, "{} {}", if c.action == "update" { "!" } else { symbol(&c.action) }, c.service);
                    for f in &c.fields {
                        if f.before_unknown {
                            let _ = writeln!(b, "-   {}: {UNKNOWN}", f.field);
                        } else if let Some(before) = &f.before {
                            let _ = writeln!(b, "-   {}: {}", f.field, first_line(before));
                        }
                        if let Some(after) = &f.after {
                            let _ = writeln!(b, "+   {}: {}", f.field, first_line(after));
                        }
                    }
                }
                b.push_str("```\n\n");
            }
            if let Some(c) = &s.canary {
                for line in canary_lines(c) {
                    b.push_str(&md_item("", &line));
                }
            }
            if let Some(sw) = &s.switch {
                b.push_str(&md_item("", &switch_line(sw)));
            }
            for a in &s.actions {
                b.push_str(&md_item("", a));
            }
            if !s.gates.is_empty() {
                let _ = writeln!(b, "- gates decide: {}", md(&s.gates.join(", ")));
            }
            b.push('\n');
            b
        })
        .collect();
    let mut order =
        vec!["| step | waits for | start | end | if it fails (its drill) |\n|---|---|---|---|---|\n".to_owned()];
    order.extend(r.steps.iter().map(|s| {
        format!(
            "| `{}` | {} | {} | {} | {} |\n",
            md_cell(&s.step),
            md_cell(&s.after.join(", ")),
            span(s.start_ms),
            span(s.end_ms),
            md_cell(&if_it_fails(s))
        )
    }));
    if !r.rollback.is_empty() {
        order.push("\nUndo records, newest first (as recorded when all goes well):\n\n".into());
        order.extend(r.rollback.iter().map(|u| md_item(&format!("`{}`: ", md(&u.step)), &u.undo)));
    }
    let mut drill = Vec::new();
    if let Some(d) = &r.drill {
        drill.push(format!(
            "Ends **{}** after {}; rollback order: {}\n\n",
            d.outcome,
            span(d.total_ms),
            md(&list(&d.rollback_turns))
        ));
        drill.extend(d.story.iter().map(|m| md_item(&format!("{} ", span(m.at_ms)), &m.what)));
        drill.push("\nThen:\n\n".into());
        drill.extend(d.final_state.iter().map(|f| md_item(&format!("{}: ", md(&f.name)), &f.state)));
    }
    let assumptions: Vec<String> = r.assumptions.iter().map(|a| md_item("", a)).collect();
    let notifications: Vec<String> = r.notifications.iter().map(|n| md_item("", n)).collect();

    // The header and the section frames always fit; what is left is shared, changes first.
    let frames = 800;
    let mut left = limit.saturating_sub(head.len() + frames);
    let mut out = head;
    let changes_text = section("Changes", &changes, left * 6 / 10, "steps");
    left = left.saturating_sub(changes_text.len());
    out.push_str(&changes_text);
    let order_text = section("Order, timeline and rollback", &order, left * 6 / 10, "rows");
    left = left.saturating_sub(order_text.len());
    out.push_str(&order_text);
    let pictures_text = section("Graph and timeline", &pictures(r), left * 5 / 10, "pictures");
    left = left.saturating_sub(pictures_text.len());
    out.push_str(&pictures_text);
    if let Some(d) = &r.drill {
        let t = section(&format!("Drill: {} fails", md(&d.failing)), &drill, left * 8 / 10, "lines");
        left = left.saturating_sub(t.len());
        out.push_str(&t);
    }
    if let Some(watch) = &r.watch {
        let t = section("After the release", &[md_item("", watch)], left / 2, "lines");
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

    #[test]
    fn undo_turns_read_as_at_once_and_then() {
        let t = |turns: &[&[&str]]| turns.iter().map(|t| t.iter().map(|s| s.to_string()).collect()).collect::<Vec<_>>();
        assert_eq!(turns(&t(&[&["a"]]), "`"), "`a`");
        assert_eq!(turns(&t(&[&["a", "b"], &["c"]]), "`"), "`a` and `b` at once, then `c`");
        assert_eq!(turns(&t(&[&["a"], &["b", "c", "d"]]), ""), "a, then b, c and d at once");
        let many: Vec<String> = (0..10).map(|i| format!("s{i}")).collect();
        let one_each: Vec<Vec<String>> = many.iter().map(|s| vec![s.clone()]).collect();
        assert!(turns(&one_each, "").ends_with("then s7, then 2 more"), "{}", turns(&one_each, ""));
        assert_eq!(list(&[]), "nothing undone");
    }

    fn report() -> PlanReport {
        PlanReport {
            format: crate::plan::report::FORMAT.into(),
            plan: "p".into(),
            stack: "s".into(),
            file: "plan.kdl".into(),
            environment: None,
            irreversible: Vec::new(),
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
            watch: None,
        }
    }

    #[test]
    fn text_of_several_lines_is_a_list_item_with_the_rest_fenced_longer_than_its_backticks() {
        assert_eq!(md_item("0s ", "one <line> | x"), "- 0s one &lt;line&gt; | x\n");
        let item = md_item("", "failed: `a`\n ╭─[f.sql]\n ``` │ x");
        assert_eq!(item, "- failed: `a`\n\n  ````text\n   ╭─[f.sql]\n   ``` │ x\n  ````\n\n");
        assert_eq!(md_cell("a | b\nc"), "a \\| b c");
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
    fn the_watch_after_the_release_is_said_only_when_the_plan_has_one() {
        assert!(!human(&report(), false).contains("After the release"));
        let mut r = report();
        r.watch = Some("after a successful apply, the service planrun-watch-s judges `health`".into());
        let text = human(&r, false);
        assert!(
            text.contains(
                "After the release\n  after a successful apply, the service planrun-watch-s judges `health`\n"
            ),
            "{text}"
        );
        let md = markdown(&r, 60_000);
        assert!(md.contains("After the release"), "{md}");
        assert!(md.contains("- after a successful apply, the service planrun-watch-s"), "{md}");
    }

    #[test]
    fn colour_is_escape_codes_only_when_asked() {
        assert!(human(&report(), true).contains("\x1b[1m"));
        assert!(!human(&report(), false).contains('\x1b'));
    }
}
