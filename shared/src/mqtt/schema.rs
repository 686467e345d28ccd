//! The schema version every MQTT payload carries, serialised as `"major.minor"`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Version of a payload's schema, written on the wire as a string such as `"1.0"`.
///
/// Readers accept every minor version of the major they support (newer minors
/// only add optional fields or new event/command types, and unknown fields are
/// ignored). A different major is a breaking change and is rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SchemaVersion {
    /// Breaking-change counter; equals the `v1` in the topic tree.
    pub major: u16,
    /// Additive-change counter.
    pub minor: u16,
}

impl SchemaVersion {
    /// The version this crate writes.
    pub const CURRENT: SchemaVersion = SchemaVersion { major: 1, minor: 1 };
    /// The only major version this crate reads.
    pub const SUPPORTED_MAJOR: u16 = 1;

    /// A version from its two parts.
    pub const fn new(major: u16, minor: u16) -> Self {
        Self { major, minor }
    }

    /// Whether a reader built from this crate accepts payloads of this version.
    pub fn is_supported(self) -> bool {
        self.major == Self::SUPPORTED_MAJOR
    }
}

impl Default for SchemaVersion {
    fn default() -> Self {
        Self::CURRENT
    }
}

impl fmt::Display for SchemaVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// A schema version string that is not `"<major>.<minor>"` with decimal parts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("schema version `{found}` is not of the form \"<major>.<minor>\" (e.g. \"1.0\")")]
pub struct SchemaVersionError {
    /// The rejected text.
    pub found: String,
}

impl FromStr for SchemaVersion {
    type Err = SchemaVersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || SchemaVersionError {
            found: s.to_owned(),
        };
        let (major, minor) = s.split_once('.').ok_or_else(err)?;
        let part = |p: &str| -> Result<u16, SchemaVersionError> {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err());
            }
            p.parse().map_err(|_| err())
        };
        Ok(Self {
            major: part(major)?,
            minor: part(minor)?,
        })
    }
}

impl Serialize for SchemaVersion {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SchemaVersion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_major_dot_minor() {
        for (text, major, minor) in [
            ("1.0", 1, 0),
            ("1.7", 1, 7),
            ("2.0", 2, 0),
            ("10.12", 10, 12),
        ] {
            let v: SchemaVersion = text.parse().unwrap();
            assert_eq!(v, SchemaVersion::new(major, minor));
            assert_eq!(v.to_string(), text);
        }
    }

    #[test]
    fn rejects_malformed_versions() {
        for text in [
            "", "1", "1.", ".1", "1.0.0", "v1.0", "1.a", "+1.0", "1.-0", "99999.0", " 1.0",
        ] {
            assert!(text.parse::<SchemaVersion>().is_err(), "{text:?} accepted");
        }
    }

    #[test]
    fn only_major_one_is_supported() {
        assert!(SchemaVersion::new(1, 0).is_supported());
        assert!(SchemaVersion::new(1, 9).is_supported());
        assert!(!SchemaVersion::new(2, 0).is_supported());
        assert!(!SchemaVersion::new(0, 9).is_supported());
    }
}
