//! Time as the engine uses it: every wait is on tokio's clock (so a whole run can go in virtual
//! time), and every duration a person reads is written the same way.

use std::time::Duration;

/// A duration as people read it in messages: `30s`, `12.3s`, `0.4s`.
pub fn seconds(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) { format!("{}s", ms / 1000) } else { format!("{:.1}s", ms as f64 / 1000.0) }
}

/// Milliseconds as [`seconds`] writes them.
pub fn millis(ms: u64) -> String {
    seconds(Duration::from_millis(ms))
}

/// A longer span, as an estimate reads: `45s`, `2m 05s`, `1h 02m`.
pub fn span(ms: u64) -> String {
    let s = (ms + 500) / 1000;
    match s {
        0..120 => millis(ms),
        120..3600 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_seconds_have_no_fraction() {
        assert_eq!(seconds(Duration::from_secs(30)), "30s");
        assert_eq!(seconds(Duration::from_millis(30_006)), "30.0s");
        assert_eq!(seconds(Duration::from_millis(12_345)), "12.3s");
        assert_eq!(millis(400), "0.4s");
        assert_eq!(millis(0), "0s");
        assert_eq!(span(119_400), "119.4s");
        assert_eq!(span(125_000), "2m 05s");
        assert_eq!(span(3_725_000), "1h 02m");
    }
}
