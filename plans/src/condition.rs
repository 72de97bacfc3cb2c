//! Gate conditions: `result < 0.001`, judged against a measured number.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Comparison {
    /// `<`
    #[serde(rename = "<")]
    Less,
    /// `<=`
    #[serde(rename = "<=")]
    LessOrEqual,
    /// `>`
    #[serde(rename = ">")]
    Greater,
    /// `>=`
    #[serde(rename = ">=")]
    GreaterOrEqual,
    /// `==`
    #[serde(rename = "==")]
    Equal,
    /// `!=`
    #[serde(rename = "!=")]
    NotEqual,
}

impl Comparison {
    /// The operator as written: `<`, `<=`, ...
    pub fn symbol(self) -> &'static str {
        match self {
            Comparison::Less => "<",
            Comparison::LessOrEqual => "<=",
            Comparison::Greater => ">",
            Comparison::GreaterOrEqual => ">=",
            Comparison::Equal => "==",
            Comparison::NotEqual => "!=",
        }
    }
}

/// `result <op> <number>`: a condition on one measured value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Condition {
    /// The comparison.
    pub op: Comparison,
    /// The number `result` is compared with.
    pub threshold: f64,
}

impl Condition {
    /// Parses `result < 0.001` (also `result<=5`, `result == 1`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let rest = text
            .trim()
            .strip_prefix("result")
            .ok_or_else(|| format!("`{}` does not start with `result`", text.trim()))?
            .trim_start();
        let op = [
            ("<=", Comparison::LessOrEqual),
            (">=", Comparison::GreaterOrEqual),
            ("==", Comparison::Equal),
            ("!=", Comparison::NotEqual),
            ("<", Comparison::Less),
            (">", Comparison::Greater),
        ]
        .into_iter()
        .find(|(s, _)| rest.starts_with(s));
        let Some((symbol, op)) = op else {
            return Err("expected one of <, <=, >, >=, ==, != after `result`".into());
        };
        let number = rest[symbol.len()..].trim();
        let threshold: f64 = number.parse().map_err(|_| format!("`{number}` is not a number"))?;
        if threshold.is_nan() {
            return Err("a threshold cannot be NaN".into());
        }
        Ok(Condition { op, threshold })
    }

    /// Whether `value` meets the condition. NaN never does.
    pub fn holds(self, value: f64) -> bool {
        match self.op {
            Comparison::Less => value < self.threshold,
            Comparison::LessOrEqual => value <= self.threshold,
            Comparison::Greater => value > self.threshold,
            Comparison::GreaterOrEqual => value >= self.threshold,
            Comparison::Equal => value == self.threshold,
            Comparison::NotEqual => value != self.threshold && !value.is_nan(),
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "result {} {}", self.op.symbol(), self.threshold)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_judges() {
        let c = Condition::parse("result < 0.001").unwrap();
        assert!(c.holds(0.0005));
        assert!(!c.holds(0.001));
        assert!(!c.holds(f64::NAN));
        assert_eq!(c.to_string(), "result < 0.001");
        assert!(Condition::parse("result>=5").unwrap().holds(5.0));
        assert!(!Condition::parse("result != 1").unwrap().holds(f64::NAN));
    }

    #[test]
    fn rejects_with_reason() {
        assert_eq!(Condition::parse("value < 1").unwrap_err(), "`value < 1` does not start with `result`");
        assert_eq!(Condition::parse("result ~ 1").unwrap_err(), "expected one of <, <=, >, >=, ==, != after `result`");
        assert_eq!(Condition::parse("result < x").unwrap_err(), "`x` is not a number");
    }
}
