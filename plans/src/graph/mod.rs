//! The dependency graph of a plan's steps (petgraph), with explicit and implicit edges.
//!
//! Edges point from a step to a step that waits for it. Two kinds exist:
//! - explicit: `after NAME` in the later step;
//! - implicit: steps that change the same service or database never run at once. They run in
//!   the order explicit edges give, and in file order where those leave it open.

pub mod render;

use rustc_hash::FxHashMap as HashMap;

use petgraph::algo::{has_path_connecting, tarjan_scc, toposort};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;

use crate::model::Plan;
use crate::span::Span;
use crate::steps::Resource;

/// Why one step waits for another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edge {
    /// `after` in the later step, written at this span.
    After(Span),
    /// Both steps change this resource.
    Shared(Resource),
}

/// The steps of a plan as a DAG: node weights are indices into `plan.steps`.
#[derive(Debug, Clone)]
pub struct PlanGraph {
    /// The graph; a node's weight is its step's index in the plan.
    pub graph: DiGraph<usize, Edge>,
    /// Node of each step, by step index.
    pub nodes: Vec<NodeIndex>,
}

/// A cycle among steps: step indices in order, each waiting for the next, and the edges between them.
#[derive(Debug, Clone)]
pub struct Cycle {
    /// Step indices; the last waits for the first.
    pub steps: Vec<usize>,
    /// `edges[i]` makes `steps[i]` wait for `steps[i + 1]` (wrapping).
    pub edges: Vec<Edge>,
}

impl PlanGraph {
    /// Builds the graph. Names in `after` that match no step are skipped (the checker reports them);
    /// when explicit edges form cycles, those are returned and no implicit edges are added.
    pub fn build(plan: &Plan) -> Result<PlanGraph, Vec<Cycle>> {
        let mut graph = DiGraph::with_capacity(plan.steps.len(), plan.steps.len());
        let nodes: Vec<NodeIndex> = (0..plan.steps.len()).map(|i| graph.add_node(i)).collect();
        let mut by_name: HashMap<&str, usize> = HashMap::with_capacity_and_hasher(plan.steps.len(), Default::default());
        for (i, step) in plan.steps.iter().enumerate() {
            by_name.entry(step.name.value.as_str()).or_insert(i);
        }
        for (i, step) in plan.steps.iter().enumerate() {
            for dep in &step.after {
                if let Some(&j) = by_name.get(dep.value.as_str()) {
                    graph.add_edge(nodes[j], nodes[i], Edge::After(dep.span));
                }
            }
        }
        let mut g = PlanGraph { graph, nodes };
        let cycles = g.cycles();
        if !cycles.is_empty() {
            return Err(cycles);
        }
        g.add_implicit_edges(plan);
        Ok(g)
    }

    fn add_implicit_edges(&mut self, plan: &Plan) {
        // Position of each step in a topological order that keeps file order where it can.
        let order = self.stable_topo_order();
        let mut rank = vec![0; order.len()];
        for (r, &i) in order.iter().enumerate() {
            rank[i] = r;
        }
        let mut users: HashMap<Resource, Vec<usize>> = HashMap::default();
        for (i, step) in plan.steps.iter().enumerate() {
            for r in step.kind.resources() {
                users.entry(r).or_default().push(i);
            }
        }
        for (resource, mut steps) in users {
            steps.sort_by_key(|&i| rank[i]);
            for pair in steps.windows(2) {
                let (a, b) = (self.nodes[pair[0]], self.nodes[pair[1]]);
                if !self.graph.contains_edge(a, b) {
                    self.graph.add_edge(a, b, Edge::Shared(resource.clone()));
                }
            }
        }
    }

    /// Step indices in dependency order, ties broken by file order (Kahn's algorithm on a heap).
    pub fn stable_topo_order(&self) -> Vec<usize> {
        use std::cmp::Reverse;
        use std::collections::BinaryHeap;
        let n = self.nodes.len();
        let mut indegree = vec![0usize; n];
        for e in self.graph.edge_references() {
            indegree[self.graph[e.target()]] += 1;
        }
        let mut ready: BinaryHeap<Reverse<usize>> = (0..n).filter(|&i| indegree[i] == 0).map(Reverse).collect();
        let mut out = Vec::with_capacity(n);
        while let Some(Reverse(i)) = ready.pop() {
            out.push(i);
            for next in self.graph.neighbors(self.nodes[i]) {
                let j = self.graph[next];
                indegree[j] -= 1;
                if indegree[j] == 0 {
                    ready.push(Reverse(j));
                }
            }
        }
        out
    }

    /// Every cycle, one per strongly connected component, as a path through it.
    fn cycles(&self) -> Vec<Cycle> {
        if toposort(&self.graph, None).is_ok() {
            return Vec::new();
        }
        let mut out = Vec::new();
        for scc in tarjan_scc(&self.graph) {
            let self_loop = scc.len() == 1 && self.graph.contains_edge(scc[0], scc[0]);
            if scc.len() < 2 && !self_loop {
                continue;
            }
            out.push(self.cycle_in(&scc));
        }
        out.sort_by_key(|c| c.steps[0]);
        out
    }

    /// A cycle through the first-written step of a strongly connected component.
    fn cycle_in(&self, scc: &[NodeIndex]) -> Cycle {
        let start = *scc.iter().min_by_key(|n| self.graph[**n]).expect("non-empty component");
        let inside: std::collections::HashSet<NodeIndex> = scc.iter().copied().collect();
        // Breadth-first from start along "waits for" (reverse edges), back to start: the shortest cycle.
        let mut prev: HashMap<NodeIndex, (NodeIndex, Edge)> = HashMap::default();
        let mut queue = std::collections::VecDeque::from([start]);
        'search: while let Some(n) = queue.pop_front() {
            let mut incoming: Vec<_> = self.graph.edges_directed(n, petgraph::Direction::Incoming).collect();
            incoming.sort_by_key(|e| self.graph[e.source()]);
            for e in incoming {
                let m = e.source();
                if !inside.contains(&m) || prev.contains_key(&m) {
                    continue;
                }
                prev.insert(m, (n, e.weight().clone()));
                if m == start {
                    break 'search;
                }
                queue.push_back(m);
            }
        }
        // Walk back from start: start waits for x, x waits for y, ...
        let mut steps = Vec::new();
        let mut edges = Vec::new();
        let mut cur = start;
        loop {
            let (waiter, edge) = prev[&cur].clone();
            steps.push(self.graph[waiter]);
            edges.push(edge);
            cur = waiter;
            if cur == start {
                break;
            }
        }
        steps.reverse();
        edges.reverse();
        // Make it read start -> ... : steps[i] waits for steps[i+1].
        let first = steps.iter().position(|&s| s == self.graph[start]).unwrap_or(0);
        steps.rotate_left(first);
        edges.rotate_left(first);
        Cycle { steps, edges }
    }

    /// Whether each step runs after step `a` (depends on it, directly or not), by step index:
    /// one walk of the graph, where [`PlanGraph::runs_before`] walks it for every pair.
    pub fn runs_after(&self, a: usize) -> Vec<bool> {
        let mut after = vec![false; self.nodes.len()];
        let mut walk = petgraph::visit::Dfs::new(&self.graph, self.nodes[a]);
        while let Some(node) = walk.next(&self.graph) {
            after[self.graph[node]] = true;
        }
        after[a] = false;
        after
    }

    /// Whether step `a` must finish before step `b` starts.
    pub fn runs_before(&self, a: usize, b: usize) -> bool {
        a != b && has_path_connecting(&self.graph, self.nodes[a], self.nodes[b], None)
    }

    /// The steps that step `i` waits for directly.
    pub fn dependencies(&self, i: usize) -> Vec<usize> {
        let mut out: Vec<usize> = self
            .graph
            .neighbors_directed(self.nodes[i], petgraph::Direction::Incoming)
            .map(|n| self.graph[n])
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Layers: every step in a layer depends only on steps in earlier layers.
    pub fn layers(&self) -> Vec<Vec<usize>> {
        let mut depth = vec![0usize; self.nodes.len()];
        for i in self.stable_topo_order() {
            for next in self.graph.neighbors(self.nodes[i]) {
                let j = self.graph[next];
                depth[j] = depth[j].max(depth[i] + 1);
            }
        }
        let mut layers: Vec<Vec<usize>> = Vec::new();
        for (i, &d) in depth.iter().enumerate() {
            if layers.len() <= d {
                layers.resize(d + 1, Vec::new());
            }
            layers[d].push(i);
        }
        layers
    }
}
