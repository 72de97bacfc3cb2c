//! The top of a plan file: the `plan` node, its header, defaults, variables, gates and steps.

use rustc_hash::FxHashMap as HashMap;

use crate::kdl_fast::{Document, Node};

use crate::decoder::Decoder;
use crate::diagnostic::Diagnostic;
use crate::diagnostic::problem::{NotifyProblem, PlanProblem};
use crate::gates;
use crate::model::{OnFailure, Plan};
use crate::notify;
use crate::outline::{AfterSite, Declared, StepLayout};
use crate::span::Span;
use crate::spanned::Spanned;
use crate::stack_name;
use crate::steps::{self, StepKeyword};
use crate::variables::{self, Inputs};
use crate::watch;

const HEADER: &[&str] = &["stack", "on-failure", "log", "var", "defaults", "gate", "notify", "watch"];
/// What `defaults` may set: the step kinds that say so, and gates.
fn defaults_keywords() -> Vec<&'static str> {
    StepKeyword::ALL.iter().filter(|k| k.takes_defaults()).map(|k| k.keyword()).chain(["gate"]).collect()
}

/// Decodes the document's one `plan` node into a model; diagnostics go to `d`.
pub fn decode(d: &mut Decoder<'_>, doc: &Document, inputs: &Inputs) -> Option<Plan> {
    let mut plan_node: Option<&Node> = None;
    for node in doc.nodes() {
        let span = node.name().span();
        match (node.name().value(), plan_node) {
            ("plan", None) => plan_node = Some(node),
            ("plan", Some(first)) => {
                d.push(Diagnostic::new(PlanProblem::SecondPlan { first: first.name().span() }, span))
            }
            (other, _) => d.push(Diagnostic::new(PlanProblem::UnknownTopLevel { node: other }, span)),
        }
    }
    let Some(node) = plan_node else {
        d.push(Diagnostic::new(PlanProblem::NoPlan, Span::new(0, 0)));
        return None;
    };
    let probe = d.fields(node, "plan");
    let name = d.name_arg(node, "plan");
    d.no_more_args(&probe, 1);
    for entry in node.entries().iter().filter(|e| e.name().is_some()) {
        let span = entry.name().map(|n| n.span()).unwrap_or(entry.span());
        d.push(Diagnostic::new(PlanProblem::PlanProperty, span));
    }
    let children: Vec<&Node> = node.children().map(|c| c.nodes().iter().collect()).unwrap_or_default();

    let var_nodes: Vec<&Node> = children.iter().copied().filter(|n| n.name().value() == "var").collect();
    let (variables, values) = variables::resolve(d, &var_nodes, inputs, node.name().span());
    d.vars = values;

    let mut header: HashMap<&str, &Node> = HashMap::default();
    let mut defaults: HashMap<&str, &Node> = HashMap::default();
    let mut gate_nodes = Vec::new();
    let mut step_nodes = Vec::new();
    let mut notify_nodes = Vec::new();
    for child in &children {
        let keyword = child.name().value();
        let span = child.name().span();
        match keyword {
            "var" => {}
            "gate" => gate_nodes.push(*child),
            "notify" => notify_nodes.push(*child),
            "defaults" => decode_defaults(d, child, &mut defaults),
            "stack" | "on-failure" | "log" | "watch" => {
                if let Some(first) = header.insert(keyword, child) {
                    d.push(Diagnostic::new(PlanProblem::HeaderTwice { keyword, first: first.name().span() }, span));
                }
            }
            k if let Some(kind) = StepKeyword::from_keyword(k) => step_nodes.push((kind, *child)),
            other => {
                let known: Vec<&str> = HEADER.iter().chain(steps::KEYWORDS).copied().collect();
                d.push(Diagnostic::new(PlanProblem::UnknownInPlan { node: other, known: &known }, span));
            }
        }
    }

    let stack = header.get("stack").and_then(|n| single_string(d, n));
    if let Some(stack) = &stack
        && let Err(why) = stack_name::check(&stack.value)
    {
        let problem = PlanProblem::BadStackName { name: &stack.value, fault: &why.fault(), rule: stack_name::RULE };
        d.push(Diagnostic::new(problem, stack.span));
    }
    let on_failure = header.get("on-failure").and_then(|n| {
        let f = d.fields(n, "`on-failure`");
        d.no_more_args(&f, 1);
        let args = d.args(n);
        d.finish(f);
        let options = [("rollback", OnFailure::Rollback), ("pause", OnFailure::Pause)];
        args.first().and_then(|v| d.as_choice("on-failure", *v, &options))
    });
    let on_failure = on_failure.map(|w| w.value).unwrap_or_default();
    let log = header.get("log").and_then(|n| single_string(d, n));

    let mut gates = Vec::with_capacity(gate_nodes.len());
    for n in &gate_nodes {
        let before = d.error_count();
        let gate = gates::decode(d, n, defaults.get("gate").copied());
        let declared = declared(d, n, gate.as_ref().map(|g| &g.name), before, false);
        d.outline.gates.extend(declared);
        gates.extend(gate);
    }
    let mut steps = Vec::with_capacity(step_nodes.len());
    for (kind, n) in &step_nodes {
        let before = d.error_count();
        let step = steps::decode(d, *kind, n, defaults.get(kind.keyword()).copied());
        // Only a contract migration's warning offers to extend `after`.
        let with_layout = *kind == StepKeyword::Migrate;
        let declared = declared(d, n, step.as_ref().map(|s| &s.name), before, with_layout);
        d.outline.steps.extend(declared);
        steps.extend(step);
    }

    let notify = decode_notify(d, &notify_nodes);
    let watch = header.get("watch").and_then(|n| watch::decode(d, n, gate_nodes.len()));

    let name = name?;
    let stack = match stack {
        Some(s) => s,
        None if !header.contains_key("stack") => {
            d.push(Diagnostic::new(PlanProblem::NoStack { plan: &name.value }, node.name().span()));
            return None;
        }
        None => return None,
    };
    Some(Plan { name, stack, on_failure, log, variables, gates, steps, notify, watch })
}

/// A step or gate as the outline records it: its decoded name, or the name as written when it did
/// not decode; with whether decoding it reported errors since `errors_before`.
fn declared(
    d: &Decoder<'_>,
    node: &Node,
    decoded: Option<&Spanned<String>>,
    errors_before: usize,
    with_layout: bool,
) -> Option<Declared> {
    let name = decoded.cloned().or_else(|| {
        let e = node.entries().iter().find(|e| e.name().is_none())?;
        Some(Spanned::new(e.value().as_string()?.to_owned(), e.value_span()))
    })?;
    let layout = with_layout.then(|| layout(d, node, &name));
    Some(Declared { name, keyword_span: node.name().span(), has_errors: d.error_count() > errors_before, layout })
}

/// Where a fix can add to a step's `after` (see [`StepLayout`]).
fn layout(d: &Decoder<'_>, node: &Node, name: &Spanned<String>) -> StepLayout {
    let property = node.entries().iter().find(|e| e.name().is_some_and(|k| k.value() == "after"));
    let child = node.children().and_then(|c| c.nodes().iter().find(|n| n.name().value() == "after"));
    let after = match (property, child) {
        (Some(p), _) => {
            // Take the space before `after=x` too, so removing it leaves no gap.
            let mut start = p.span().offset;
            while start > 0 && matches!(d.text(Span::new(start - 1, 1)), " " | "\t") {
                start -= 1;
            }
            let span = Span::new(start, p.span().end() - start);
            Some(AfterSite::Property { span, name: d.text(p.value_span()).to_owned() })
        }
        (None, Some(c)) => Some(AfterSite::Child { end: c.span().end() }),
        (None, None) => None,
    };
    let child_line = node.children().map(|block| {
        let open = block.span().offset + 1;
        let rest = d.text(Span::new(open, block.span().end().saturating_sub(open)));
        let line_rest = rest.split('\n').next().unwrap_or("");
        match block.nodes().first() {
            // A block whose nodes start on the next line: a line indented like the first one.
            Some(first) if line_rest.trim().is_empty() && rest.contains('\n') => {
                let line_start = d.text(Span::new(0, first.span().offset)).rfind('\n').map_or(0, |i| i + 1);
                let indent = d.text(Span::new(line_start, first.span().offset - line_start)).to_owned();
                (open + line_rest.len(), format!("\n{indent}"), String::new())
            }
            _ => (open, " ".to_owned(), ";".to_owned()),
        }
    });
    StepLayout { after, child_line, name_end: name.span.end(), node_end: node.span().end() }
}

/// Every `notify`, each name once.
fn decode_notify(d: &mut Decoder<'_>, nodes: &[&Node]) -> Vec<notify::Notify> {
    let mut out: Vec<notify::Notify> = Vec::new();
    for n in nodes {
        let Some(decoded) = notify::decode(d, n) else { continue };
        if let Some(first) = out.iter().find(|o| o.name.value == decoded.name.value) {
            let problem = NotifyProblem::Duplicate { name: &decoded.name.value, first: first.name.span };
            d.push(Diagnostic::new(problem, decoded.name.span));
            continue;
        }
        out.push(decoded);
    }
    out
}

fn single_string(d: &mut Decoder<'_>, node: &Node) -> Option<Spanned<String>> {
    let key = node.name().value().to_owned();
    let f = d.fields(node, format!("`{key}`"));
    d.no_more_args(&f, 1);
    let args = d.args(node);
    d.finish(f);
    match args.first() {
        Some(v) => d.as_string(&key, *v),
        None => {
            d.push(Diagnostic::new(PlanProblem::HeaderWithoutValue { keyword: &key }, node.name().span()));
            None
        }
    }
}

fn decode_defaults<'n>(d: &mut Decoder<'_>, node: &'n Node, out: &mut HashMap<&'n str, &'n Node>) {
    let f = d.fields(node, "`defaults`");
    d.no_more_args(&f, 0);
    for entry in node.entries().iter().filter(|e| e.name().is_some()) {
        let span = entry.name().map(|n| n.span()).unwrap_or(entry.span());
        d.push(Diagnostic::new(PlanProblem::DefaultsProperty, span));
    }
    for child in node.children().map(|c| c.nodes()).unwrap_or_default() {
        let keyword = child.name().value();
        let span = child.name().span();
        let allowed = defaults_keywords();
        if !allowed.contains(&keyword) {
            d.push(Diagnostic::new(PlanProblem::NoDefaultsFor { keyword, allowed: &allowed }, span));
            continue;
        }
        if let Some(first) = out.insert(keyword, child) {
            d.push(Diagnostic::new(PlanProblem::DefaultsTwice { keyword, first: first.name().span() }, span));
        }
        if keyword == "gate" {
            let mut f = d.fields(child, "the defaults for gates");
            f.is_defaults = true;
            d.no_more_args(&f, 0);
            gates::analysis::decode_analysis(d, &mut f, None);
            d.finish(f);
        } else if let Some(kind) = StepKeyword::from_keyword(keyword) {
            steps::decode_defaults(d, kind, child);
        }
    }
}
