//! Autonomy levels: how much an agent may do when no rule speaks (ARCHITECTURE §4).

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The default treatment of actions no rule matched, from most to least supervised.
///
/// Serialised as its name (`"executor"`); read from a name or its level number
/// (`2`, `"2"`), since users write both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Autonomy {
    /// 0: reads allowed; everything else denied.
    #[default]
    Observer,
    /// 1: reads allowed; everything else asks.
    Assistant,
    /// 2: reads and workspace writes allowed; irreversible or outward actions ask.
    Executor,
    /// 3: allowed unless a rule or the threat classifier says otherwise.
    Delegated,
    /// 4: allowed unless a deny rule matches.
    Autonomous,
}

impl Autonomy {
    /// All levels, lowest first.
    pub const ALL: [Autonomy; 5] = [
        Autonomy::Observer,
        Autonomy::Assistant,
        Autonomy::Executor,
        Autonomy::Delegated,
        Autonomy::Autonomous,
    ];

    /// The level number, 0 to 4.
    pub fn level(self) -> u8 {
        self as u8
    }

    /// The lowercase name used in JSON and policy files.
    pub fn name(self) -> &'static str {
        match self {
            Autonomy::Observer => "observer",
            Autonomy::Assistant => "assistant",
            Autonomy::Executor => "executor",
            Autonomy::Delegated => "delegated",
            Autonomy::Autonomous => "autonomous",
        }
    }
}

impl fmt::Display for Autonomy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An autonomy level that is neither a known name nor a number from 0 to 4.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutonomyParseError(pub String);

impl fmt::Display for AutonomyParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown autonomy level {:?}: expected observer, assistant, executor, delegated, autonomous or 0-4",
            self.0
        )
    }
}

impl std::error::Error for AutonomyParseError {}

impl FromStr for Autonomy {
    type Err = AutonomyParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_lowercase();
        Autonomy::ALL
            .into_iter()
            .find(|a| a.name() == t || a.level().to_string() == t)
            .ok_or_else(|| AutonomyParseError(s.to_string()))
    }
}

impl Serialize for Autonomy {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Autonomy {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Num(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Num(n) => Autonomy::ALL
                .into_iter()
                .find(|a| u64::from(a.level()) == n)
                .ok_or_else(|| serde::de::Error::custom(AutonomyParseError(n.to_string()))),
            Raw::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

impl JsonSchema for Autonomy {
    fn schema_name() -> Cow<'static, str> {
        "Autonomy".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Autonomy level: a name, or its number 0-4.",
            "oneOf": [
                {"type": "string", "enum": ["observer", "assistant", "executor", "delegated", "autonomous"]},
                {"type": "integer", "minimum": 0, "maximum": 4}
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_names_and_numbers() {
        for a in Autonomy::ALL {
            assert_eq!(a.name().parse::<Autonomy>(), Ok(a));
            let from_num: Autonomy = serde_json::from_str(&a.level().to_string()).unwrap();
            assert_eq!(from_num, a);
            assert_eq!(
                serde_json::to_string(&a).unwrap(),
                format!("\"{}\"", a.name())
            );
        }
        assert!(serde_json::from_str::<Autonomy>("5").is_err());
        assert!("root".parse::<Autonomy>().is_err());
    }
}
