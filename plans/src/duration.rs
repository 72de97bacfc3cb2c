//! Durations as users write them: `"500ms"`, `"30s"`, `"5m"`, `"1h30m"`.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A length of time, written as a string of number-unit pairs (`ms`, `s`, `m`, `h`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration {
    millis: u64,
}

impl Duration {
    /// Zero.
    pub const ZERO: Duration = Duration { millis: 0 };

    /// From milliseconds.
    pub const fn from_millis(millis: u64) -> Self {
        Duration { millis }
    }

    /// From seconds.
    pub const fn from_secs(secs: u64) -> Self {
        Duration { millis: secs * 1000 }
    }

    /// In milliseconds.
    pub fn as_millis(self) -> u64 {
        self.millis
    }

    /// As a std duration.
    pub fn to_std(self) -> std::time::Duration {
        std::time::Duration::from_millis(self.millis)
    }

    /// Parses `"1m30s"`; the error says what is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("a duration cannot be empty".into());
        }
        let mut millis: u64 = 0;
        let mut rest = text;
        while !rest.is_empty() {
            let digits = rest.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(rest.len());
            if digits == 0 {
                return Err(format!("expected a number at `{rest}`"));
            }
            let (number, tail) = rest.split_at(digits);
            let unit_len = tail.find(|c: char| c.is_ascii_digit()).unwrap_or(tail.len());
            let (unit, tail) = tail.split_at(unit_len);
            let scale: f64 = match unit {
                "ms" => 1.0,
                "s" => 1_000.0,
                "m" => 60_000.0,
                "h" => 3_600_000.0,
                "" => return Err(format!("`{number}` has no unit")),
                other => return Err(format!("unknown unit `{other}`")),
            };
            let value: f64 = number.parse().map_err(|_| format!("`{number}` is not a number"))?;
            let part = value * scale;
            if part.fract() != 0.0 {
                return Err(format!("`{number}{unit}` is not a whole number of milliseconds"));
            }
            millis = millis
                .checked_add(part as u64)
                .filter(|m| *m <= u64::MAX / 2)
                .ok_or_else(|| "the duration is too long".to_string())?;
            rest = tail;
        }
        Ok(Duration { millis })
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ms = self.millis;
        if ms == 0 {
            return f.write_str("0s");
        }
        for (unit, size) in [("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)] {
            if ms >= size {
                write!(f, "{}{unit}", ms / size)?;
                ms %= size;
            }
        }
        Ok(())
    }
}

impl Serialize for Duration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Duration::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Duration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A duration: number-unit pairs with units ms, s, m, h (\"30s\", \"1m30s\").",
            "pattern": "^([0-9]+(ms|s|m|h))+$"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        for (text, ms, shown) in [
            ("500ms", 500, "500ms"),
            ("30s", 30_000, "30s"),
            ("1m30s", 90_000, "1m30s"),
            ("1.5s", 1_500, "1s500ms"),
            ("2h", 7_200_000, "2h"),
            ("0s", 0, "0s"),
        ] {
            let d = Duration::parse(text).unwrap();
            assert_eq!(d.as_millis(), ms, "{text}");
            assert_eq!(d.to_string(), shown);
        }
    }

    #[test]
    fn rejects_with_reason() {
        assert_eq!(Duration::parse("30").unwrap_err(), "`30` has no unit");
        assert_eq!(Duration::parse("30 sec").unwrap_err(), "unknown unit ` sec`");
        assert_eq!(Duration::parse("").unwrap_err(), "a duration cannot be empty");
        assert_eq!(Duration::parse("s").unwrap_err(), "expected a number at `s`");
        assert!(Duration::parse("0.0001s").is_err());
    }
}
