//! The graph as text (layered), DOT and Mermaid.

use std::fmt::Write;

use petgraph::visit::EdgeRef;

use crate::graph::{Edge, PlanGraph};
use crate::model::Plan;
use crate::steps::Resource;

fn edge_note(edge: &Edge) -> String {
    match edge {
        Edge::After(_) => String::new(),
        Edge::Shared(Resource::Service(s)) => format!("same service {s}"),
        Edge::Shared(Resource::Database(d)) => format!("same database {d}"),
    }
}

/// Layered text: one block per layer; steps in a layer may run at once.
pub fn text(plan: &Plan, g: &PlanGraph) -> String {
    let mut out = String::new();
    for (n, layer) in g.layers().iter().enumerate() {
        let _ = writeln!(out, "layer {}{}", n + 1, if layer.len() > 1 { " (concurrent)" } else { "" });
        for &i in layer {
            let step = &plan.steps[i];
            let mut incoming: Vec<_> = g.graph.edges_directed(g.nodes[i], petgraph::Direction::Incoming).collect();
            incoming.sort_by_key(|e| g.graph[e.source()]);
            let deps: Vec<String> = incoming
                .into_iter()
                .map(|e| {
                    let name = &plan.steps[g.graph[e.source()]].name.value;
                    match e.weight() {
                        Edge::After(_) => name.clone(),
                        other => format!("{name} ({})", edge_note(other)),
                    }
                })
                .collect();
            let _ = write!(out, "  {:<10} {}", step.kind.keyword(), step.name.value);
            if !deps.is_empty() {
                let _ = write!(out, "  after {}", deps.join(", "));
            }
            out.push('\n');
        }
    }
    out
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Graphviz DOT.
pub fn dot(plan: &Plan, g: &PlanGraph) -> String {
    let mut out = format!("digraph {} {{\n  rankdir=LR;\n  node [shape=box];\n", quote(&plan.name.value));
    for (i, step) in plan.steps.iter().enumerate() {
        let label = format!("{}\\n{}", step.name.value, step.kind.keyword());
        let _ = writeln!(out, "  n{i} [label=\"{}\"];", label.replace('"', "\\\""));
    }
    for e in g.graph.edge_references() {
        let (a, b) = (g.graph[e.source()], g.graph[e.target()]);
        match e.weight() {
            Edge::After(_) => {
                let _ = writeln!(out, "  n{a} -> n{b};");
            }
            other => {
                let _ = writeln!(out, "  n{a} -> n{b} [style=dashed, label={}];", quote(&edge_note(other)));
            }
        }
    }
    out.push_str("}\n");
    out
}

/// Mermaid flowchart.
pub fn mermaid(plan: &Plan, g: &PlanGraph) -> String {
    let mut out = String::from("flowchart LR\n");
    for (i, step) in plan.steps.iter().enumerate() {
        let label = format!("{}<br/>{}", step.name.value, step.kind.keyword()).replace('"', "#quot;");
        let _ = writeln!(out, "  n{i}[\"{label}\"]");
    }
    for e in g.graph.edge_references() {
        let (a, b) = (g.graph[e.source()], g.graph[e.target()]);
        match e.weight() {
            Edge::After(_) => {
                let _ = writeln!(out, "  n{a} --> n{b}");
            }
            other => {
                let _ = writeln!(out, "  n{a} -.->|\"{}\"| n{b}", edge_note(other).replace('"', "#quot;"));
            }
        }
    }
    out
}
