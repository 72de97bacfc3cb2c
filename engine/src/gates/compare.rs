//! Comparing the new release's series with a baseline's (a `prometheus` gate with `baseline`):
//! with fewer than the gate's `min-samples` (default 8) on either side, their medians; with
//! enough, a one-sided Mann-Whitney U test, as Kayenta judges a canary against its baseline.
//!
//! The margin moves the baseline first (each baseline value `y` becomes `y + |y|·margin` when
//! lower is better, `y − |y|·margin` when higher is), so the test asks "is the new series worse
//! than the baseline by more than the margin?" and the gate fails only when the answer is yes
//! at the gate's `significance` (default 0.05). A release equal to the old one passes; one worse by more than the margin
//! fails once there are enough samples to tell it from noise.

use plans::gates::{Baseline, Better};

use super::{Conclusion, Verdict};
use crate::events::Comparison;

/// The exact distribution of U is used (no ties) up to this many samples in all; above it, the
/// normal approximation with tie and continuity corrections (as scipy's `asymptotic`).
const EXACT_UP_TO: usize = 60;

/// The median of `values` (not empty, no NaN).
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0 }
}

/// A one-sided Mann-Whitney U test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UTest {
    /// U of the first sample: the pairs in which its value is greater, ties counting one half.
    pub u: f64,
    /// The probability of a U at least this large if neither sample tends to be greater.
    pub p: f64,
    /// Whether `p` is exact (no ties, few samples) or the normal approximation's.
    pub exact: bool,
}

/// Tests whether `x` tends to be greater than `y` (scipy's `mannwhitneyu(x, y,
/// alternative="greater")`). Both must be non-empty and free of NaN.
pub fn greater(x: &[f64], y: &[f64]) -> UTest {
    let (n1, n2) = (x.len(), y.len());
    let mut all: Vec<(f64, bool)> = x.iter().map(|v| (*v, true)).chain(y.iter().map(|v| (*v, false))).collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Mid-ranks, and the tie term Σ(t³ − t) over groups of equal values.
    let (mut rank_sum, mut ties, mut i) = (0.0, 0.0, 0);
    while i < all.len() {
        let j = (i..all.len()).find(|&j| all[j].0 != all[i].0).unwrap_or(all.len());
        let rank = (i + j + 1) as f64 / 2.0;
        rank_sum += rank * all[i..j].iter().filter(|(_, first)| *first).count() as f64;
        let t = (j - i) as f64;
        ties += t * t * t - t;
        i = j;
    }
    let u = rank_sum - (n1 * (n1 + 1)) as f64 / 2.0;
    if ties == 0.0 && n1 + n2 <= EXACT_UP_TO {
        return UTest { u, p: exact_at_least(n1, n2, u.round() as usize), exact: true };
    }
    UTest { u, p: asymptotic_at_least(n1, n2, u, ties), exact: false }
}

/// P(U ≥ u) under the null hypothesis, from the count of arrangements of n1 + n2 distinct
/// values giving each U: the coefficients of the Gaussian binomial [n1+n2 choose n1](q).
fn exact_at_least(n1: usize, n2: usize, u: usize) -> f64 {
    let n = n1 + n2;
    let k = n1.min(n2);
    let mut counts: Vec<i128> = vec![0; n1 * n2 + 1];
    counts[0] = 1;
    // [n choose k] = Π_{i=1..k} (1 − q^(n−k+i)) / (1 − q^i); after step i the coefficients
    // are those of [n−k+i choose i], whole and non-negative.
    for i in 1..=k {
        let up = n - k + i;
        for j in (up..counts.len()).rev() {
            counts[j] -= counts[j - up];
        }
        for j in i..counts.len() {
            counts[j] += counts[j - i];
        }
    }
    let total: i128 = counts.iter().sum();
    let tail: i128 = counts.iter().skip(u).sum();
    tail as f64 / total as f64
}

/// P(U ≥ u) by the normal approximation, with the tie correction of the variance and a
/// continuity correction of one half.
fn asymptotic_at_least(n1: usize, n2: usize, u: f64, ties: f64) -> f64 {
    let (a, b) = (n1 as f64, n2 as f64);
    let n = a + b;
    let mean = a * b / 2.0;
    let variance = a * b / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0)));
    if variance <= 0.0 {
        // Every value is the same: nothing says either side is greater.
        return 1.0;
    }
    normal_sf((u - mean - 0.5) / variance.sqrt())
}

/// The standard normal distribution's upper tail, P(Z > z).
pub fn normal_sf(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// The complementary error function, with a relative error below 1.2e-7 everywhere
/// (Numerical Recipes' Chebyshev fit, `erfcc`).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98 + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// `y` moved by the margin towards worse: what the new release may reach and still pass.
fn allowed(y: f64, margin: f64, better: Better) -> f64 {
    match better {
        Better::Lower => y + y.abs() * margin,
        Better::Higher => y - y.abs() * margin,
    }
}

/// Judges the new series against the baseline series (`pairs` of new and baseline values,
/// measured together): the verdict, a one-line summary and the numbers for the journal.
pub fn conclude(pairs: &[(f64, f64)], baseline: &Baseline) -> Conclusion {
    let new: Vec<f64> = pairs.iter().map(|p| p.0).collect();
    let old: Vec<f64> = pairs.iter().map(|p| p.1).collect();
    let margin = baseline.margin.value() / 100.0;
    let better = baseline.better;
    let mut comparison = Comparison {
        method: "medians".into(),
        new: new.clone(),
        baseline: old.clone(),
        new_median: None,
        baseline_median: None,
        margin: baseline.margin.to_string(),
        better: better.word().into(),
        u: None,
        p_value: None,
        verdict: "error".into(),
    };
    if pairs.is_empty() {
        let summary = "no pair of new and baseline values to compare: every measurement was skipped".to_owned();
        return Conclusion { verdict: Verdict::Error, summary, comparison };
    }
    let (new_median, old_median) = (median(&new), median(&old));
    comparison.new_median = Some(new_median);
    comparison.baseline_median = Some(old_median);
    let change = if old_median == 0.0 {
        String::new()
    } else {
        format!("{:+.1}%, ", (new_median - old_median) / old_median.abs() * 100.0)
    };
    let medians = format!(
        "median {} against {} ({change}margin {}, {} is better)",
        number(new_median),
        number(old_median),
        baseline.margin,
        better.word()
    );
    let (significance, min_samples) = (baseline.significance, baseline.min_samples);
    let (worse, how) = if (pairs.len() as u64) < min_samples {
        let worse = match better {
            Better::Lower => new_median > allowed(old_median, margin, better),
            Better::Higher => new_median < allowed(old_median, margin, better),
        };
        let how = format!(
            "medians compared: {} samples on each side, fewer than the {min_samples} a Mann-Whitney test needs",
            pairs.len()
        );
        (worse, how)
    } else {
        let moved: Vec<f64> = old.iter().map(|y| allowed(*y, margin, better)).collect();
        let test = match better {
            Better::Lower => greater(&new, &moved),
            Better::Higher => greater(&moved, &new),
        };
        comparison.method = "mann-whitney".into();
        comparison.u = Some(test.u);
        comparison.p_value = Some(test.p);
        let how = format!(
            "Mann-Whitney U={}, p={} on {} and {} samples (worse when p < {significance})",
            number(test.u),
            p_value(test.p),
            new.len(),
            old.len()
        );
        (test.p < significance, how)
    };
    let (verdict, word) = if worse { (Verdict::Failed, "worse") } else { (Verdict::Passed, "no-worse") };
    comparison.verdict = word.into();
    let lead = if worse { "worse than the baseline by more than the margin" } else { "no worse than the baseline" };
    Conclusion { verdict, summary: format!("{lead}: {medians}; {how}"), comparison }
}

/// A value for people: at most 6 significant digits, no trailing zeros.
fn number(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return v.to_string();
    }
    let digits = (5 - v.abs().log10().floor() as i32).clamp(0, 12) as usize;
    let text = format!("{v:.digits$}");
    if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_owned() } else { text }
}

fn p_value(p: f64) -> String {
    if p < 0.0001 { format!("{p:.2e}") } else { format!("{p:.4}") }
}

#[cfg(test)]
mod tests {
    use plans::gates::Against;
    use plans::percentage::Percentage;

    use super::*;

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() <= tolerance * b.abs().max(1e-300)
    }

    #[test]
    fn the_normal_tail_matches_known_values() {
        // Φ(1.959963985) = 0.975; values of the upper tail from tables (and Python's math.erfc).
        assert!(close(normal_sf(1.959_963_985), 0.025, 1e-6), "{}", normal_sf(1.959_963_985));
        assert!(close(normal_sf(0.0), 0.5, 1e-7));
        assert!(close(normal_sf(1.0), 0.158_655_253_931_457_05, 1e-6));
        assert!(close(normal_sf(-1.0), 0.841_344_746_068_542_9, 1e-7));
        assert!(close(normal_sf(3.0), 0.001_349_898_031_630_094_6, 1e-6));
        assert!(close(normal_sf(6.0), 9.865_876_450_377e-10, 1e-5));
    }

    #[test]
    fn the_median_of_odd_and_even_series() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&[7.0]), 7.0);
    }

    // scipy's documentation example (Mann-Whitney's own data shape): males against females.
    const MALES: [f64; 5] = [19.0, 22.0, 16.0, 29.0, 24.0];
    const FEMALES: [f64; 4] = [20.0, 11.0, 17.0, 12.0];

    #[test]
    fn exact_p_values_match_scipy() {
        // scipy: mannwhitneyu(males, females, method="exact") gives U1 = 17, p = 0.1111 two-sided,
        // so P(U >= 17) = 7/126 one-sided (7 of the C(9,4) = 126 arrangements have U2 <= 3).
        let t = greater(&MALES, &FEMALES);
        assert_eq!(t.u, 17.0);
        assert!(t.exact);
        assert!(close(t.p, 7.0 / 126.0, 1e-12), "{}", t.p);
        // The other direction: U2 = 3, P(U >= 3) = 1 - P(U <= 2) = 1 - 4/126.
        let back = greater(&FEMALES, &MALES);
        assert_eq!(back.u, 3.0);
        assert!(close(back.p, 122.0 / 126.0, 1e-12), "{}", back.p);
    }

    #[test]
    fn exact_p_values_match_enumeration_for_eight_and_eight() {
        // Every new value above every baseline value: 1 arrangement of C(16,8) = 12870.
        let new: Vec<f64> = (10..18).map(f64::from).collect();
        let old: Vec<f64> = (0..8).map(f64::from).collect();
        let t = greater(&new, &old);
        assert_eq!((t.u, t.exact), (64.0, true));
        assert!(close(t.p, 1.0 / 12870.0, 1e-12), "{}", t.p);
        // Interleaved (new 1,3,5,...,15 against old 0,2,...,14): U = 36; P(U >= 36) = 4639/12870 by
        // counting the 12870 arrangements (Python: itertools.combinations over 16 ranks).
        let new: Vec<f64> = (0..8).map(|i| f64::from(2 * i + 1)).collect();
        let old: Vec<f64> = (0..8).map(|i| f64::from(2 * i)).collect();
        let t = greater(&new, &old);
        assert_eq!(t.u, 36.0);
        assert!(close(t.p, 4639.0 / 12870.0, 1e-12), "{}", t.p);
    }

    #[test]
    fn asymptotic_p_values_match_scipy() {
        // scipy: mannwhitneyu(males, females, method="asymptotic") gives p = 0.11134688653314041
        // two-sided, so half of it one-sided; forced here through the formula.
        let p = asymptotic_at_least(5, 4, 17.0, 0.0);
        assert!(close(p, 0.111_346_886_533_140_41 / 2.0, 1e-6), "{p}");
        // With ties the normal approximation is used: x = [1,2,2,3,3,3,4,4,5] against
        // y = [1,1,2,2,2,3,3,4,4]: U = 51, tie term Σ(t³ − t) = 324; z = (51 − 40.5 − 0.5)/σ
        // with σ² = 81/12·(19 − 324/306), p = 0.181753 (Python's math.erfc on the same formula).
        let x = [1.0, 2.0, 2.0, 3.0, 3.0, 3.0, 4.0, 4.0, 5.0];
        let y = [1.0, 1.0, 2.0, 2.0, 2.0, 3.0, 3.0, 4.0, 4.0];
        let t = greater(&x, &y);
        assert!(!t.exact);
        assert_eq!(t.u, 51.0);
        let sigma = (81.0_f64 / 12.0 * (19.0 - 324.0 / 306.0)).sqrt();
        assert!(close(t.p, normal_sf(10.0 / sigma), 1e-12));
        assert!(close(t.p, 0.181_753_077, 1e-6), "{}", t.p);
    }

    #[test]
    fn all_values_equal_says_nothing() {
        let t = greater(&[1.0; 10], &[1.0; 10]);
        assert_eq!((t.u, t.p), (50.0, 1.0));
    }

    fn baseline(margin: &str, better: Better) -> Baseline {
        Baseline {
            against: Against::Before,
            margin: Percentage::parse(margin).unwrap(),
            better,
            significance: plans::gates::baseline::SIGNIFICANCE,
            min_samples: plans::gates::baseline::MIN_SAMPLES,
        }
    }

    fn pairs(new: &[f64], old: &[f64]) -> Vec<(f64, f64)> {
        new.iter().copied().zip(old.iter().copied()).collect()
    }

    /// A p95 near 0.2 s with a little noise.
    fn series(scale: f64, n: usize) -> Vec<f64> {
        (0..n).map(|i| scale * (0.2 + 0.004 * ((i * 7 % 5) as f64 - 2.0))).collect()
    }

    #[test]
    fn an_equal_release_passes_and_one_twenty_percent_worse_fails_the_u_test() {
        let b = baseline("10%", Better::Lower);
        let equal = conclude(&pairs(&series(1.0, 12), &series(1.0, 12)), &b);
        assert_eq!(equal.verdict, Verdict::Passed, "{}", equal.summary);
        assert_eq!(equal.comparison.method, "mann-whitney");
        assert_eq!(equal.comparison.verdict, "no-worse");
        assert_eq!(
            equal.summary,
            "no worse than the baseline: median 0.2 against 0.2 (+0.0%, margin 10%, lower is better); \
             Mann-Whitney U=0, p=1.0000 on 12 and 12 samples (worse when p < 0.05)"
        );
        let worse = conclude(&pairs(&series(1.2, 12), &series(1.0, 12)), &b);
        assert_eq!(worse.verdict, Verdict::Failed, "{}", worse.summary);
        assert_eq!(worse.comparison.verdict, "worse");
        assert_eq!(worse.comparison.new_median, Some(0.24));
        assert_eq!(worse.comparison.u, Some(144.0));
        assert!(worse.comparison.p_value.unwrap() < 1e-4, "{:?}", worse.comparison.p_value);
        assert!(
            worse.summary.starts_with(
                "worse than the baseline by more than the margin: median 0.24 against 0.2 (+20.0%, margin 10%, \
                 lower is better); Mann-Whitney U=144, p="
            ),
            "{}",
            worse.summary
        );
        // Within the margin: 5% worse passes a 10% margin.
        assert_eq!(conclude(&pairs(&series(1.05, 12), &series(1.0, 12)), &b).verdict, Verdict::Passed);
    }

    #[test]
    fn higher_is_better_turns_the_test_around() {
        let b = baseline("10%", Better::Higher);
        assert_eq!(conclude(&pairs(&series(0.8, 10), &series(1.0, 10)), &b).verdict, Verdict::Failed);
        assert_eq!(conclude(&pairs(&series(1.2, 10), &series(1.0, 10)), &b).verdict, Verdict::Passed);
        assert_eq!(conclude(&pairs(&series(0.95, 10), &series(1.0, 10)), &b).verdict, Verdict::Passed);
    }

    #[test]
    fn few_samples_compare_the_medians() {
        let b = baseline("10%", Better::Lower);
        let worse = conclude(&pairs(&[0.24, 0.25, 0.23], &[0.2, 0.21, 0.19]), &b);
        assert_eq!(worse.verdict, Verdict::Failed);
        assert_eq!(worse.comparison.method, "medians");
        assert_eq!((worse.comparison.u, worse.comparison.p_value), (None, None));
        assert_eq!(
            worse.summary,
            "worse than the baseline by more than the margin: median 0.24 against 0.2 (+20.0%, margin 10%, \
             lower is better); medians compared: 3 samples on each side, fewer than the 8 a Mann-Whitney test needs"
        );
        assert_eq!(conclude(&pairs(&[0.21, 0.22, 0.2], &[0.2, 0.21, 0.19]), &b).verdict, Verdict::Passed);
        let higher = baseline("0%", Better::Higher);
        assert_eq!(conclude(&pairs(&[99.0], &[100.0]), &higher).verdict, Verdict::Failed);
        assert_eq!(conclude(&pairs(&[100.0], &[100.0]), &higher).verdict, Verdict::Passed);
    }

    #[test]
    fn the_gate_sets_the_tests_level_and_its_sample_minimum() {
        // Four worse values against four: U=16, p=1/70 (0.0143).
        let (new, old) = ([0.30, 0.31, 0.32, 0.33], [0.20, 0.21, 0.22, 0.23]);
        let loose = Baseline { min_samples: 4, ..baseline("0%", Better::Lower) };
        let judged = conclude(&pairs(&new, &old), &loose);
        assert_eq!((judged.verdict, judged.comparison.u), (Verdict::Failed, Some(16.0)), "{}", judged.summary);
        assert!(judged.summary.ends_with("on 4 and 4 samples (worse when p < 0.05)"), "{}", judged.summary);
        // The same at 0.01 is not enough to call it worse.
        let strict = Baseline { significance: 0.01, ..loose };
        let judged = conclude(&pairs(&new, &old), &strict);
        assert_eq!(judged.verdict, Verdict::Passed, "{}", judged.summary);
        assert!(judged.summary.ends_with("on 4 and 4 samples (worse when p < 0.01)"), "{}", judged.summary);
        // A minimum of 12 compares 10 pairs by their medians.
        let many = Baseline { min_samples: 12, ..baseline("0%", Better::Lower) };
        let judged = conclude(&pairs(&series(1.2, 10), &series(1.0, 10)), &many);
        assert_eq!(judged.comparison.method, "medians");
        assert!(judged.summary.ends_with("fewer than the 12 a Mann-Whitney test needs"), "{}", judged.summary);
    }

    #[test]
    fn nothing_to_compare_is_an_error() {
        let c = conclude(&[], &baseline("10%", Better::Lower));
        assert_eq!(c.verdict, Verdict::Error);
        assert_eq!(c.summary, "no pair of new and baseline values to compare: every measurement was skipped");
    }

    #[test]
    fn numbers_are_short() {
        assert_eq!(number(0.2), "0.2");
        assert_eq!(number(0.123_456_789), "0.123457");
        assert_eq!(number(144.0), "144");
        assert_eq!(number(1234.5678), "1234.57");
        assert_eq!(p_value(0.5), "0.5000");
        assert_eq!(p_value(7.77e-5), "7.77e-5");
    }

    // The measurement loop with a meter that compares, in virtual time.

    use std::sync::Arc;

    use plans::duration::Duration;
    use plans::gates::{GateKind, Outcome, PrometheusGate};
    use plans::model::{Analysis, Gate, Sampling};
    use plans::span::Span;
    use plans::spanned::Spanned;

    use crate::events::{Event, Events, Memory};
    use crate::gates::{Measurement, Meter, analysis};

    /// Pairs of (new, baseline) values in turn, each measured after `took`; `None` errors.
    struct Pairs {
        values: Vec<Option<(f64, f64)>>,
        measured: usize,
        taken: Vec<(f64, f64)>,
        baseline: Baseline,
    }

    #[async_trait::async_trait]
    impl Meter for Pairs {
        fn target(&self) -> String {
            "p95".into()
        }

        fn condition(&self) -> String {
            "no worse".into()
        }

        async fn measure(&mut self) -> Measurement {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            self.measured += 1;
            match self.values.get(self.measured - 1).copied().flatten() {
                Some(pair) => {
                    self.taken.push(pair);
                    Measurement {
                        outcome: Outcome::Pass,
                        target: "p95".into(),
                        value: Some(pair.0.to_string()),
                        condition: "no worse".into(),
                        detail: Some(format!("baseline {}", pair.1)),
                    }
                }
                None => Measurement::error("p95", "no worse", "Prometheus at http://127.0.0.1:1: connection refused"),
            }
        }

        fn conclude(&mut self) -> Option<Conclusion> {
            Some(conclude(&self.taken, &self.baseline))
        }
    }

    fn gate(count: u64) -> Gate {
        let kind = GateKind::Prometheus(PrometheusGate {
            server: None,
            query: "p95".into(),
            pass: None,
            fail: None,
            on_empty: Outcome::Error,
            on_nan: Outcome::Error,
            credentials: Default::default(),
            baseline: Some(baseline("10%", Better::Lower)),
        });
        let analysis = Analysis {
            initial_delay: Duration::from_secs(30),
            interval: Duration::from_secs(10),
            sampling: Sampling::Count(count),
            error_limit: 1,
            ..Analysis::default()
        };
        Gate { name: Spanned::new("p95".into(), Span::default()), kind, analysis }
    }

    async fn judged(values: Vec<Option<(f64, f64)>>) -> (crate::gates::GateReport, Vec<Event>, std::time::Duration) {
        let memory = Arc::new(Memory::default());
        let events = Events::new(vec![Box::new(memory.clone())]);
        let mut meter = Pairs { values, measured: 0, taken: Vec::new(), baseline: baseline("10%", Better::Lower) };
        let started = tokio::time::Instant::now();
        let g = gate(10);
        let report = analysis::run(&g, "canary", &events, &mut meter).await;
        (report, memory.events(), started.elapsed())
    }

    #[tokio::test(start_paused = true)]
    async fn a_comparing_gate_is_judged_on_its_whole_series_at_the_end() {
        let worse: Vec<Option<(f64, f64)>> = series(1.2, 10).into_iter().zip(series(1.0, 10)).map(Some).collect();
        let (report, events, took) = judged(worse).await;
        // 30 s of initial delay, then 10 measurements 10 s apart, the last taking 0.2 s.
        assert_eq!(took, std::time::Duration::from_millis(120_200));
        assert_eq!(report.verdict, Verdict::Failed, "{}", report.summary);
        assert!(report.summary.starts_with("worse than the baseline by more than the margin: median 0.24"));
        let measured = events.iter().filter(|e| matches!(e, Event::Measurement { verdict, .. } if verdict == "pass"));
        assert_eq!(measured.count(), 10, "every measurement is a pair taken, judged at the end");
        let Some(Event::GateFinished { verdict, summary, comparison: Some(c), .. }) = events.last() else {
            panic!("{events:#?}")
        };
        assert_eq!((verdict.as_str(), summary), ("failed", &report.summary));
        assert_eq!((c.method.as_str(), c.verdict.as_str(), c.u), ("mann-whitney", "worse", Some(100.0)));
        assert_eq!((c.new.len(), c.baseline.len()), (10, 10));
        assert_eq!((c.new_median, c.baseline_median), (Some(0.24), Some(0.2)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_comparing_gate_that_errors_is_not_compared() {
        let mut values: Vec<Option<(f64, f64)>> = vec![Some((0.2, 0.2)); 3];
        values.extend([None, None]);
        let (report, events, _) = judged(values).await;
        assert_eq!(report.verdict, Verdict::Error);
        assert_eq!(
            report.summary,
            "2 consecutive errors (limit 1): Prometheus at http://127.0.0.1:1: connection refused at #4, #5"
        );
        let Some(Event::GateFinished { comparison, .. }) = events.last() else { panic!("{events:#?}") };
        assert_eq!(comparison, &None);
    }

    #[tokio::test(start_paused = true)]
    async fn an_equal_series_passes_with_errors_within_the_limit_left_out() {
        let mut values: Vec<Option<(f64, f64)>> = vec![Some((0.2, 0.2)); 10];
        values[4] = None;
        let (report, events, _) = judged(values).await;
        assert_eq!(report.verdict, Verdict::Passed, "{}", report.summary);
        let Some(Event::GateFinished { comparison: Some(c), .. }) = events.last() else { panic!("{events:#?}") };
        assert_eq!((c.new.len(), c.verdict.as_str()), (9, "no-worse"));
        assert!(report.summary.ends_with("Mann-Whitney U=0, p=1.0000 on 9 and 9 samples (worse when p < 0.05)"));
    }
}
