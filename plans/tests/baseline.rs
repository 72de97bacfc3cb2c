//! `prometheus` gates that compare with a baseline (`baseline before`, `baseline-query`,
//! `margin`, `better`) as the checker reads them, and every mistake it reports, at its place.

use plans::gates::{Against, Baseline, Better, GateKind};
use plans::percentage::Percentage;
use plans::{Checked, Inputs, SourceFile};

/// A plan with `settings` inside a prometheus gate's node, used by a check step.
fn check(settings: &str) -> Checked {
    let text = format!(
        "plan p {{\n    stack s\n    gate g {{\n        prometheus \"http://prom:9090\" {{\n            query \"up\"\n{settings}        }}\n    }}\n    check c {{ gates g; }}\n}}\n"
    );
    plans::check(SourceFile::new("plan.kdl", text), &Inputs::default())
}

fn baseline(settings: &str) -> Option<Baseline> {
    let checked = check(settings);
    let plan = checked.plan.unwrap_or_else(|| panic!("{:#?}", checked.diagnostics));
    match &plan.gates[0].kind {
        GateKind::Prometheus(p) => {
            assert_eq!((p.pass, p.fail), (None, None));
            p.baseline.clone()
        }
        GateKind::Http(_) | GateKind::Swarm(_) | GateKind::Command(_) => panic!("not a prometheus gate"),
    }
}

/// Each diagnostic: `code: message`, the line of its first label and its labels' texts, and
/// the help; and the text of the plan each fix makes.
fn said(settings: &str) -> Vec<String> {
    let checked = check(settings);
    assert!(checked.plan.is_none());
    let text = format!(
        "plan p {{\n    stack s\n    gate g {{\n        prometheus \"http://prom:9090\" {{\n            query \"up\"\n{settings}        }}\n    }}\n    check c {{ gates g; }}\n}}\n"
    );
    let file = SourceFile::new("plan.kdl", text.clone());
    checked
        .diagnostics
        .iter()
        .map(|d| {
            let labels: Vec<String> =
                d.labels.iter().map(|l| format!("{}@{}", l.text, file.line_col(l.span.offset).0)).collect();
            let mut out = format!(
                "{}: {} [{}] help: {}",
                d.code,
                d.message,
                labels.join(", "),
                d.help.clone().unwrap_or_default()
            );
            for edit in &d.fix {
                let mut fixed = text.clone();
                fixed.replace_range(edit.span.offset..edit.span.offset + edit.span.len, &edit.replacement);
                out.push_str(&format!(
                    " fix: {}",
                    fixed.lines().nth(file.line_col(edit.span.offset).0 - 1).unwrap().trim()
                ));
            }
            out
        })
        .collect()
}

#[test]
fn a_baseline_before_reads_with_its_margin_and_direction() {
    assert_eq!(
        baseline("            baseline before\n            margin \"10%\"\n            better lower\n"),
        Some(Baseline {
            against: Against::Before,
            margin: Percentage::parse("10%").unwrap(),
            better: Better::Lower,
            significance: 0.05,
            min_samples: 8
        })
    );
    // Without a margin the new release may not be worse at all.
    assert_eq!(
        baseline("            baseline-query \"sum(rate(x{track=\\\"stable\\\"}[1m]))\"\n            better higher\n"),
        Some(Baseline {
            against: Against::Query("sum(rate(x{track=\"stable\"}[1m]))".into()),
            margin: Percentage::parse("0%").unwrap(),
            better: Better::Higher,
            significance: 0.05,
            min_samples: 8
        })
    );
    // The test's level and its sample minimum can be set.
    assert_eq!(
        baseline(
            "            baseline before
            better lower
            significance 0.01
            min-samples 12
"
        ),
        Some(Baseline {
            against: Against::Before,
            margin: Percentage::parse("0%").unwrap(),
            better: Better::Lower,
            significance: 0.01,
            min_samples: 12
        })
    );
}

#[test]
fn a_significance_or_sample_minimum_a_test_cannot_use_is_an_error_with_the_fix() {
    assert_eq!(
        said(
            "            baseline before
            better lower
            significance 0.5
            min-samples 2
"
        ),
        [
            "planrun::bad-value: a significance of 0.5 is not a level a test can use [not between 0 and 0.5@8] \
             help: write the p-value under which the new release counts as worse, such as `significance 0.05` (the \
             default) or `0.01` for fewer false alarms",
            "planrun::bad-value: 2 samples on each side are too few for a Mann-Whitney test [under 3@9] help: write \
             at least 3 (with 3 and 3, p cannot go under 0.05); the default, 8, can tell a worse release at p = 0.0001"
        ]
    );
}

#[test]
fn a_baseline_needs_a_direction() {
    assert_eq!(
        said("            baseline before\n"),
        ["planrun::missing-field: a gate that compares with a baseline must say which way is better [no `better`@6] \
          help: add `better lower` (latency, error rate) or `better higher` (throughput, success ratio)"]
    );
}

#[test]
fn a_threshold_and_a_baseline_are_refused_together() {
    assert_eq!(
        said("            pass \"result < 0.5\"\n            baseline before\n            better lower\n"),
        ["planrun::duplicate-field: a prometheus gate judges against a threshold or against a baseline, not both \
          [threshold@6, baseline@7] help: declare two gates, one with the threshold and one with the baseline, and \
          list both where they are used"]
    );
}

#[test]
fn two_baselines_are_refused() {
    assert_eq!(
        said("            baseline before\n            baseline-query \"up\"\n            better lower\n"),
        ["planrun::duplicate-field: a gate compares with `baseline before` or with a `baseline-query`, not both \
          [second baseline@7, first baseline@6] help: `baseline before` compares with the same query before the \
          run; `baseline-query \"PROMQL\"` with another series (the stable service beside a canary) at the same \
          instants: keep one"]
    );
}

#[test]
fn margin_and_better_without_a_baseline_are_refused() {
    assert_eq!(
        said("            pass \"result < 1\"\n            margin \"10%\"\n            better lower\n"),
        [
            "planrun::bad-value: `margin` only means something on a gate that compares with a baseline \
             [no baseline to compare with@7] help: add `baseline before` (or `baseline-query \"PROMQL\"`), or remove it",
            "planrun::bad-value: `better` only means something on a gate that compares with a baseline \
             [no baseline to compare with@8] help: add `baseline before` (or `baseline-query \"PROMQL\"`), or remove it",
        ]
    );
}

#[test]
fn misspelt_words_get_a_did_you_mean_and_its_fix() {
    let said = said("            baseline befor\n            margin \"10\"\n            better lowr\n");
    assert_eq!(said.len(), 3, "{said:#?}");
    assert!(said[0].starts_with("planrun::bad-value: "), "{}", said[0]);
    assert!(said[0].contains("@6]"), "{}", said[0]);
    assert!(said[0].ends_with("fix: baseline before"), "{}", said[0]);
    assert!(said[1].contains("@7]") && said[1].contains("10"), "{}", said[1]);
    assert!(said[2].ends_with("fix: better lower"), "{}", said[2]);
    // A setting of another name is unknown, with the one meant as the suggestion.
    let unknown = self::said("            baselines before\n            better lower\n");
    assert!(unknown[0].contains("did you mean `baseline`?"), "{unknown:?}");
}

#[test]
fn a_gate_without_threshold_or_baseline_says_both_ways() {
    let checked = check("");
    let d = &checked.diagnostics[0];
    assert_eq!(d.message, "this prometheus gate has no condition");
    assert_eq!(d.labels[0].text, "no `pass`, `fail` or `baseline`");
    assert_eq!(
        d.help.as_deref(),
        Some(
            "add `pass \"result < 0.001\"` (and optionally `fail \"result > 0.01\"`), or compare with the old \
             release: `baseline before` and `better lower`"
        )
    );
}
