//! Every label's line and column, as diagnostics print them (JSON, GitHub and the human header),
//! equal the ones computed independently from the text: lines end at `\n` (CRLF counts once),
//! columns count characters (a tab, an `é` or a `😀` is one column).

use miette::{SourceCode, SourceSpan};
use plans::{Inputs, SourceFile};
use proptest::prelude::*;

/// Line and column of a byte offset, the slow and obvious way.
fn expected(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, text[line_start..offset].chars().count() + 1)
}

/// A plan with mistakes in it, padded with tabs, multibyte comments and the chosen line ending.
fn plan() -> impl Strategy<Value = String> {
    let pad = prop::sample::select(&["", "\t", "  ", " /* é */ ", " /* 😀 日本 */ "][..]);
    let comment = prop::sample::select(&["", " // déployé ✓", " // 😀", "\t// tab"][..]);
    let setting = prop::sample::select(
        &[
            "delay 30",
            "delay \"30 parsecs\"",
            "order sideways",
            "replicas \"two\"",
            "imgae \"x\"",
            "gates nope",
            "service \"svc-é\"",
            "image \"app:v2\"",
            "parallelism 1",
        ][..],
    );
    let step = (prop::collection::vec((pad.clone(), setting, comment.clone()), 1..5), pad.clone());
    (prop::collection::vec(step, 1..5), prop::bool::ANY, comment).prop_map(|(steps, crlf, top)| {
        let nl = if crlf { "\r\n" } else { "\n" };
        let mut s = format!("plan p {{{top}{nl}\tstack s{nl}");
        for (i, (lines, pad)) in steps.iter().enumerate() {
            s.push_str(&format!("{pad}rolling r{i} after=r{} {{{nl}", i + 7));
            for (pad, setting, comment) in lines {
                s.push_str(&format!("{pad}{setting}{comment}{nl}"));
            }
            s.push_str(&format!("}}{nl}"));
        }
        s.push_str(&format!("}}{nl}"));
        s
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x706f73),
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_label_is_where_it_says(text in plan()) {
        let checked = plans::check(SourceFile::new("p.kdl", text.clone()), &Inputs::default());
        prop_assert!(!checked.diagnostics.is_empty());
        for d in &checked.diagnostics {
            for l in &d.labels {
                let want = expected(&text, l.span.offset);
                prop_assert_eq!(checked.file.line_col(l.span.offset), want, "{:?} in {:?}", l, text);
                // The human header reads the same position through miette.
                let contents = checked.file.read_span(&SourceSpan::new(l.span.offset.into(), l.span.len), 0, 0).unwrap();
                prop_assert_eq!((contents.line() + 1, contents.column() + 1), want);
                let end = expected(&text, l.span.end());
                prop_assert_eq!(checked.file.line_col(l.span.end()), end);
            }
        }
    }
}
