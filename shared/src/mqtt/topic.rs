//! The MQTT topic tree `voip/v1/{tenant}/{appliance}/{kind}`, per-kind
//! delivery properties, and the subscription filters of both sides.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// First segment of every topic.
pub const TOPIC_ROOT: &str = "voip";
/// Version segment this crate speaks (matches [`super::SchemaVersion::SUPPORTED_MAJOR`]).
pub const TOPIC_VERSION: &str = "v1";
/// Shared-subscription group the cloud's ingest instances join.
pub const INGEST_SHARE_GROUP: &str = "ingest";
/// Maximum length of a tenant or appliance id.
pub const MAX_ID_LEN: usize = 64;

/// Why a tenant or appliance id is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The id is the empty string.
    #[error("id is empty")]
    Empty,
    /// The id is longer than [`MAX_ID_LEN`] characters.
    #[error("id is {len} characters long; at most {MAX_ID_LEN} are allowed")]
    TooLong {
        /// Length of the rejected id, in characters.
        len: usize,
    },
    /// The id contains a character outside `[a-z0-9-]` (this covers the
    /// MQTT wildcards `+` and `#` and the level separator `/`).
    #[error("id contains {ch:?} at position {index}; only a-z, 0-9 and '-' are allowed")]
    InvalidChar {
        /// The offending character.
        ch: char,
        /// Its character position.
        index: usize,
    },
}

fn validate_id(s: &str) -> Result<(), IdError> {
    if s.is_empty() {
        return Err(IdError::Empty);
    }
    if let Some((index, ch)) = s
        .chars()
        .enumerate()
        .find(|(_, c)| !matches!(c, 'a'..='z' | '0'..='9' | '-'))
    {
        return Err(IdError::InvalidChar { ch, index });
    }
    // All characters are ASCII here, so bytes == characters.
    if s.len() > MAX_ID_LEN {
        return Err(IdError::TooLong { len: s.len() });
    }
    Ok(())
}

macro_rules! topic_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validates `s`: 1 to 64 characters of `[a-z0-9-]`.
            pub fn new(s: impl Into<String>) -> Result<Self, IdError> {
                let s = s.into();
                validate_id(&s)?;
                Ok(Self(s))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::new(s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

topic_id!(
    /// A customer (tenant) id as used in topics: 1 to 64 characters of `[a-z0-9-]`.
    TenantId
);
topic_id!(
    /// An appliance id as used in topics and in records' `appliance_id`:
    /// 1 to 64 characters of `[a-z0-9-]`.
    ApplianceId
);

/// Who publishes on a topic kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// The appliance publishes, the cloud subscribes.
    ApplianceToCloud,
    /// The cloud publishes, the appliance subscribes.
    CloudToAppliance,
}

/// MQTT quality of service level (kept here so the contract does not depend
/// on an MQTT client crate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Qos {
    /// `QoS 0`.
    AtMostOnce = 0,
    /// `QoS 1`.
    AtLeastOnce = 1,
    /// `QoS 2`.
    ExactlyOnce = 2,
}

/// The last part of a topic: which message it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TopicKind {
    /// `status`: online/offline state; retained; also the last will.
    Status,
    /// `telemetry`: quality samples and gauges.
    Telemetry,
    /// `events`: CDRs, registrations, trunk state, alarms, recording deletions.
    Events,
    /// `ack`: highest contiguous `seq` the cloud has stored.
    Ack,
    /// `config`: the versioned site configuration; retained.
    Config,
    /// `config/result`: outcome of applying a `config`.
    ConfigResult,
    /// `cmd`: a command for the appliance.
    Cmd,
    /// `cmd/result`: outcome of a `cmd`.
    CmdResult,
}

impl TopicKind {
    /// Every kind, in topic-tree order.
    pub const ALL: [TopicKind; 8] = [
        TopicKind::Status,
        TopicKind::Telemetry,
        TopicKind::Events,
        TopicKind::Ack,
        TopicKind::Config,
        TopicKind::ConfigResult,
        TopicKind::Cmd,
        TopicKind::CmdResult,
    ];

    /// The topic suffix (may contain one `/`, e.g. `config/result`).
    pub fn as_str(self) -> &'static str {
        match self {
            TopicKind::Status => "status",
            TopicKind::Telemetry => "telemetry",
            TopicKind::Events => "events",
            TopicKind::Ack => "ack",
            TopicKind::Config => "config",
            TopicKind::ConfigResult => "config/result",
            TopicKind::Cmd => "cmd",
            TopicKind::CmdResult => "cmd/result",
        }
    }

    /// Who publishes on this kind.
    pub fn direction(self) -> Direction {
        match self {
            TopicKind::Status
            | TopicKind::Telemetry
            | TopicKind::Events
            | TopicKind::ConfigResult
            | TopicKind::CmdResult => Direction::ApplianceToCloud,
            TopicKind::Ack | TopicKind::Config | TopicKind::Cmd => Direction::CloudToAppliance,
        }
    }

    /// `QoS` to publish and subscribe with: 1 for every kind. End-to-end
    /// delivery rests on the `ack`/`seq` protocol and idempotent handling,
    /// not on `QoS 2`, which would cost an extra round trip and broker state.
    pub fn qos(self) -> Qos {
        Qos::AtLeastOnce
    }

    /// Whether messages are published with the retain flag: `status` (so the
    /// cloud sees the last state, including the last will) and `config` (so
    /// an appliance gets its configuration on every (re)connect). `cmd` is
    /// never retained: a stale command must not run after a reconnect.
    pub fn retained(self) -> bool {
        matches!(self, TopicKind::Status | TopicKind::Config)
    }
}

impl fmt::Display for TopicKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TopicKind {
    type Err = TopicError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TopicKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| TopicError::UnknownKind {
                found: s.to_owned(),
            })
    }
}

/// Why a topic string is not a valid v1 topic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    /// The topic does not start with `voip/`.
    #[error("topic does not start with `{TOPIC_ROOT}/`")]
    WrongPrefix,
    /// The version segment is not `v1`.
    #[error("topic version `{found}` is not supported; this build speaks `{TOPIC_VERSION}`")]
    UnsupportedVersion {
        /// The version segment found (e.g. `v2`).
        found: String,
    },
    /// Tenant, appliance or kind segment is missing.
    #[error("topic has too few levels; expected `voip/v1/{{tenant}}/{{appliance}}/{{kind}}`")]
    TooShort,
    /// The tenant segment is not a valid id.
    #[error("invalid tenant id in topic: {0}")]
    InvalidTenant(#[source] IdError),
    /// The appliance segment is not a valid id.
    #[error("invalid appliance id in topic: {0}")]
    InvalidAppliance(#[source] IdError),
    /// The kind suffix is not one of the v1 kinds.
    #[error("unknown topic kind `{found}`")]
    UnknownKind {
        /// The suffix found after the appliance id.
        found: String,
    },
}

/// A concrete v1 topic: `voip/v1/{tenant}/{appliance}/{kind}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Topic {
    /// The customer the appliance belongs to.
    pub tenant: TenantId,
    /// The appliance the topic is about.
    pub appliance: ApplianceId,
    /// Which message the topic carries.
    pub kind: TopicKind,
}

impl Topic {
    /// A topic from its parts.
    pub fn new(tenant: TenantId, appliance: ApplianceId, kind: TopicKind) -> Self {
        Self {
            tenant,
            appliance,
            kind,
        }
    }

    /// Parses a topic name (not a filter: wildcards are rejected).
    pub fn parse(s: &str) -> Result<Self, TopicError> {
        s.parse()
    }

    /// The same appliance's topic of another kind.
    #[must_use]
    pub fn with_kind(&self, kind: TopicKind) -> Self {
        Self {
            kind,
            ..self.clone()
        }
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{TOPIC_ROOT}/{TOPIC_VERSION}/{}/{}/{}",
            self.tenant, self.appliance, self.kind
        )
    }
}

impl FromStr for Topic {
    type Err = TopicError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let rest = s
            .strip_prefix(TOPIC_ROOT)
            .and_then(|r| r.strip_prefix('/'))
            .ok_or(TopicError::WrongPrefix)?;
        if rest.is_empty() {
            return Err(TopicError::TooShort);
        }
        let (version, rest) = rest.split_once('/').unwrap_or((rest, ""));
        if version != TOPIC_VERSION {
            return Err(TopicError::UnsupportedVersion {
                found: version.to_owned(),
            });
        }
        let mut parts = rest.splitn(3, '/');
        let (Some(tenant), Some(appliance), Some(kind)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(TopicError::TooShort);
        };
        let tenant = TenantId::new(tenant).map_err(TopicError::InvalidTenant)?;
        let appliance = ApplianceId::new(appliance).map_err(TopicError::InvalidAppliance)?;
        let kind = kind.parse()?;
        Ok(Self {
            tenant,
            appliance,
            kind,
        })
    }
}

/// One subscription to make: a topic filter and its `QoS`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Subscription {
    /// The MQTT topic filter (may contain `+` or a `$share/` prefix).
    pub filter: String,
    /// The `QoS` to subscribe with.
    pub qos: Qos,
}

/// How the cloud's ingest subscribes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IngestMode {
    /// One cloud instance receives everything (embedded broker, small fleets).
    Single,
    /// Several stateless instances split the load through the shared
    /// subscription group [`INGEST_SHARE_GROUP`].
    Shared,
}

/// Filter matching `kind` for every tenant and appliance: `voip/v1/+/+/{kind}`.
pub fn fleet_filter(kind: TopicKind) -> String {
    format!("{TOPIC_ROOT}/{TOPIC_VERSION}/+/+/{kind}")
}

/// The shared-subscription form of [`fleet_filter`]:
/// `$share/ingest/voip/v1/+/+/{kind}`.
pub fn shared_fleet_filter(kind: TopicKind) -> String {
    format!("$share/{INGEST_SHARE_GROUP}/{}", fleet_filter(kind))
}

/// What a cloud ingest instance subscribes to: every appliance-to-cloud kind
/// of every appliance.
///
/// In [`IngestMode::Shared`] every kind except `status` goes through the
/// `$share/ingest/` group. `status` stays a plain subscription on every
/// instance because brokers do not deliver retained messages to shared
/// subscriptions, and a restarted instance needs the retained state.
pub fn cloud_subscriptions(mode: IngestMode) -> Vec<Subscription> {
    TopicKind::ALL
        .into_iter()
        .filter(|k| k.direction() == Direction::ApplianceToCloud)
        .map(|kind| Subscription {
            filter: match mode {
                IngestMode::Shared if kind != TopicKind::Status => shared_fleet_filter(kind),
                _ => fleet_filter(kind),
            },
            qos: kind.qos(),
        })
        .collect()
}

/// What an appliance subscribes to: its own `config`, `cmd` and `ack` topics.
pub fn appliance_subscriptions(tenant: &TenantId, appliance: &ApplianceId) -> Vec<Subscription> {
    TopicKind::ALL
        .into_iter()
        .filter(|k| k.direction() == Direction::CloudToAppliance)
        .map(|kind| Subscription {
            filter: Topic::new(tenant.clone(), appliance.clone(), kind).to_string(),
            qos: kind.qos(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_length_boundaries() {
        assert!(ApplianceId::new("a".repeat(64)).is_ok());
        assert_eq!(
            ApplianceId::new("a".repeat(65)),
            Err(IdError::TooLong { len: 65 })
        );
        assert_eq!(TenantId::new(""), Err(IdError::Empty));
    }

    #[test]
    fn id_serde_validates() {
        let ok: ApplianceId = serde_json::from_str("\"pi-01\"").unwrap();
        assert_eq!(ok.as_str(), "pi-01");
        assert!(serde_json::from_str::<ApplianceId>("\"Pi-01\"").is_err());
        assert!(serde_json::from_str::<ApplianceId>("\"\"").is_err());
    }

    #[test]
    fn only_status_and_config_are_retained() {
        let retained: Vec<_> = TopicKind::ALL
            .into_iter()
            .filter(|k| k.retained())
            .collect();
        assert_eq!(retained, [TopicKind::Status, TopicKind::Config]);
    }
}
