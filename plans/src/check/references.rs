//! Names: duplicate steps and gates, `after` and `gates` naming something that does not exist.
//!
//! Works on the outline, so a step or gate that failed to decode still counts as declared (naming
//! it is not also "unknown"), and the references of a step with errors are still checked.

use std::collections::HashSet;

use rustc_hash::FxHashMap as HashMap;

use crate::diagnostic::Diagnostic;
use crate::diagnostic::problem::ReferenceProblem;
use crate::fix::{Edit, kdl_string};
use crate::outline::{Declared, Outline};
use crate::span::Span;
use crate::suggest;

/// Name comparisons spent on "did you mean" for unknown steps, and again for unknown gates.
const COMPARISONS: usize = 5_000;

/// Reports duplicate and unknown names; returns the gates that steps use, counting a misspelt
/// gate name as a use of the gate it probably means (so that gate is not also "never used").
pub(super) fn check<'o>(outline: &'o Outline, out: &mut Vec<Diagnostic>) -> HashSet<&'o str> {
    let steps = declared(&outline.steps, out, |name, first| ReferenceProblem::DuplicateStep { name, first });
    let gates = declared(&outline.gates, out, |name, first| ReferenceProblem::DuplicateGate { name, first });
    // A name given by `defaults` is read by every step: report each place once.
    let mut reported: HashSet<Span> = HashSet::new();
    // Suggestions are computed only for misses, so a large valid plan pays nothing for them. Each
    // compares against every name, so misses get one while the comparisons stay within
    // `COMPARISONS` (a hundred misses in a plan of fifty steps, five in one of a thousand, and
    // always the first): a plan with thousands of misspellings stays linear.
    let mut steps_suggested = 0;
    let steps_budget = (COMPARISONS / steps.len().max(1)).max(1);
    let mut names_by_keyword: Option<HashMap<Span, &str>> = None;
    for r in &outline.after {
        if steps.contains_key(r.name.value.as_str()) || !reported.insert(r.name.span) {
            continue;
        }
        let by_keyword = names_by_keyword
            .get_or_insert_with(|| outline.steps.iter().map(|s| (s.keyword_span, s.name.value.as_str())).collect());
        let from = by_keyword.get(&r.from).copied();
        steps_suggested += 1;
        let best = (steps_suggested <= steps_budget)
            .then(|| suggest::did_you_mean(&r.name.value, steps.keys().copied()))
            .flatten();
        let problem = ReferenceProblem::UnknownStep { name: &r.name.value, from, best };
        let mut d = Diagnostic::new(problem, r.name.span);
        if let Some(best) = best {
            d = d.with_fix(Edit::new(r.name.span, kdl_string(best)));
        }
        out.push(d);
    }
    let mut used = HashSet::new();
    let mut gates_suggested = 0;
    let gates_budget = (COMPARISONS / gates.len().max(1)).max(1);
    for g in &outline.gate_uses {
        if let Some((name, _)) = gates.get_key_value(g.value.as_str()) {
            used.insert(*name);
            continue;
        }
        gates_suggested += 1;
        let best =
            (gates_suggested <= gates_budget).then(|| suggest::did_you_mean(&g.value, gates.keys().copied())).flatten();
        used.extend(best);
        if !reported.insert(g.span) {
            continue;
        }
        let mut d = Diagnostic::new(ReferenceProblem::UnknownGate { name: &g.value, best }, g.span);
        if let Some(best) = best {
            d = d.with_fix(Edit::new(g.span, kdl_string(best)));
        }
        out.push(d);
    }
    used
}

/// The names declared, first place of each; reports the second and later places.
fn declared<'o>(
    all: &'o [Declared],
    out: &mut Vec<Diagnostic>,
    problem: impl for<'a> Fn(&'a str, Span) -> ReferenceProblem<'a>,
) -> HashMap<&'o str, Span> {
    let mut first: HashMap<&str, Span> = HashMap::with_capacity_and_hasher(all.len(), Default::default());
    for item in all {
        let name = item.name.value.as_str();
        match first.get(name) {
            Some(&at) => out.push(Diagnostic::new(problem(name, at), item.name.span)),
            None => {
                first.insert(name, item.name.span);
            }
        }
    }
    first
}
