//! Percentages as users write them: `"50%"`.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A share between 0% and 100%, written `"25%"` or `"12.5%"`.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Percentage(f64);

impl Percentage {
    /// The share as a number between 0 and 100.
    pub fn value(self) -> f64 {
        self.0
    }

    /// Parses `"50%"`; the error says what is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let number = text.trim().strip_suffix('%').ok_or_else(|| format!("`{text}` does not end in `%`"))?;
        let value: f64 = number.trim().parse().map_err(|_| format!("`{number}` is not a number"))?;
        if !(0.0..=100.0).contains(&value) || value.is_nan() {
            return Err(format!("{value}% is not between 0% and 100%"));
        }
        Ok(Percentage(value))
    }
}

impl fmt::Display for Percentage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.0)
    }
}

impl Serialize for Percentage {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Percentage {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Percentage::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Percentage {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Percentage".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A percentage between 0% and 100% (\"50%\").",
            "pattern": "^[0-9]+(\\.[0-9]+)?%$"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        assert_eq!(Percentage::parse("50%").unwrap().value(), 50.0);
        assert_eq!(Percentage::parse("12.5%").unwrap().value(), 12.5);
        assert_eq!(Percentage::parse("50").unwrap_err(), "`50` does not end in `%`");
        assert_eq!(Percentage::parse("150%").unwrap_err(), "150% is not between 0% and 100%");
        assert_eq!(Percentage::parse("x%").unwrap_err(), "`x` is not a number");
    }
}
