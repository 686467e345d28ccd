//! MQTT contract v1 between appliance and cloud.
//!
//! Topics are `voip/v1/{tenant}/{appliance}/{kind}` ([`Topic`], [`TopicKind`]);
//! every payload is a JSON object with a `schema` version ([`SchemaVersion`]).
//! [`decode`] turns a payload received on a topic kind into a [`Message`],
//! [`encode`] does the reverse. The full contract, including the delivery
//! guarantee, is documented in `docs/mqtt.md`.
//!
//! Decoding rules:
//! - the schema version is checked first: any minor of major 1 is accepted
//!   and unknown fields are ignored; another major is
//!   [`DecodeError::UnsupportedMajor`];
//! - a payload that is valid but belongs to another topic kind is
//!   [`DecodeError::WrongKind`];
//! - nothing panics on untrusted bytes.

mod ack;
mod command;
mod config;
mod event;
mod schema;
mod status;
mod telemetry;
mod topic;
mod wire;

pub use ack::Ack;
pub use command::{
    CallTarget, Command, CommandError, CommandKind, CommandResult, Originate, Update,
};
pub use config::{ConfigIssue, ConfigPush, ConfigResult};
pub use event::{
    Alarm, AlarmState, CallRecord, CdrLeg, Decision, DeletionReason, Disposition, EndpointKind,
    Event, EventKind, LegDirection, PermissionDecision, RecordingDeleted, Registration, Severity,
    TrunkState, TrunkStatus,
};
pub use schema::{SchemaVersion, SchemaVersionError};
pub use status::{ApplianceState, Status};
pub use telemetry::{Codec, Gauges, Leg, LegSample, PeerXr, Telemetry};
pub use topic::{
    ApplianceId, Direction, INGEST_SHARE_GROUP, IdError, IngestMode, MAX_ID_LEN, Qos, Subscription,
    TOPIC_ROOT, TOPIC_VERSION, TenantId, Topic, TopicError, TopicKind, appliance_subscriptions,
    cloud_subscriptions, fleet_filter, shared_fleet_filter,
};

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::error::Category;

/// Any v1 payload.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// `status`.
    Status(Status),
    /// `telemetry`.
    Telemetry(Telemetry),
    /// `events`.
    Event(Event),
    /// `ack`.
    Ack(Ack),
    /// `config`.
    ConfigPush(ConfigPush),
    /// `config/result`.
    ConfigResult(ConfigResult),
    /// `cmd`.
    Command(Command),
    /// `cmd/result`.
    CommandResult(CommandResult),
}

impl Message {
    /// The topic kind this message is published on.
    pub fn kind(&self) -> TopicKind {
        match self {
            Message::Status(_) => TopicKind::Status,
            Message::Telemetry(_) => TopicKind::Telemetry,
            Message::Event(_) => TopicKind::Events,
            Message::Ack(_) => TopicKind::Ack,
            Message::ConfigPush(_) => TopicKind::Config,
            Message::ConfigResult(_) => TopicKind::ConfigResult,
            Message::Command(_) => TopicKind::Cmd,
            Message::CommandResult(_) => TopicKind::CmdResult,
        }
    }

    /// The payload's schema version.
    pub fn schema(&self) -> SchemaVersion {
        match self {
            Message::Status(m) => m.schema,
            Message::Telemetry(m) => m.schema,
            Message::Event(m) => m.schema,
            Message::Ack(m) => m.schema,
            Message::ConfigPush(m) => m.schema,
            Message::ConfigResult(m) => m.schema,
            Message::Command(m) => m.schema,
            Message::CommandResult(m) => m.schema,
        }
    }

    /// The appliance id carried in the payload, for the kinds that carry one
    /// (`status`, `telemetry`, `events`).
    pub fn appliance_id(&self) -> Option<&ApplianceId> {
        match self {
            Message::Status(m) => Some(&m.appliance_id),
            Message::Telemetry(m) => Some(&m.appliance_id),
            Message::Event(m) => Some(&m.appliance_id),
            _ => None,
        }
    }

    /// The record sequence number, for records (`telemetry`, `events`).
    pub fn seq(&self) -> Option<u64> {
        match self {
            Message::Telemetry(m) => Some(m.seq),
            Message::Event(m) => Some(m.seq),
            _ => None,
        }
    }
}

macro_rules! message_from {
    ($($variant:ident),*) => {$(
        impl From<$variant> for Message {
            fn from(m: $variant) -> Self {
                Message::$variant(m)
            }
        }
    )*};
}
message_from!(
    Status,
    Telemetry,
    Event,
    Ack,
    ConfigPush,
    ConfigResult,
    Command,
    CommandResult
);

/// Why a payload could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The payload is empty (on a retained topic this is how a retained
    /// message is cleared).
    #[error("payload is empty")]
    EmptyPayload,
    /// The payload is not a JSON object.
    #[error("payload is not a JSON object")]
    NotAnObject,
    /// The JSON ends before the object is complete.
    #[error("payload is truncated: {message}")]
    Truncated {
        /// The JSON parser's message, with line and column.
        message: String,
    },
    /// The JSON is malformed or does not match the message's schema.
    #[error("invalid payload: {message}")]
    Json {
        /// The JSON parser's message, with line and column.
        message: String,
    },
    /// The object has no `schema` field.
    #[error("payload has no `schema` field")]
    MissingSchema,
    /// The `schema` field is not a `"major.minor"` string.
    #[error("payload `schema` {found} is not a \"major.minor\" string")]
    InvalidSchema {
        /// The field's JSON text.
        found: String,
    },
    /// The payload's major version is not the one this build reads.
    #[error("payload schema {found} is not supported; this build reads major version {supported}")]
    UnsupportedMajor {
        /// The payload's version.
        found: SchemaVersion,
        /// The major version this build reads.
        supported: u16,
    },
    /// The payload is a valid message of another kind than its topic's.
    #[error("a `{payload}` payload arrived on a `{topic}` topic")]
    WrongKind {
        /// The topic's kind.
        topic: TopicKind,
        /// The kind the payload decodes as.
        payload: TopicKind,
    },
    /// The payload's `appliance_id` differs from the topic's appliance.
    #[error("payload appliance_id `{payload}` does not match topic appliance `{topic}`")]
    ApplianceMismatch {
        /// Appliance segment of the topic.
        topic: ApplianceId,
        /// `appliance_id` of the payload.
        payload: ApplianceId,
    },
}

impl DecodeError {
    /// Maps a parser error on `payload`. The parser reports a number cut
    /// after its `.`, `e` or sign as a syntax error rather than an early
    /// end; at the very end of the input that counts as truncation too.
    fn from_json(e: &serde_json::Error, payload: &[u8]) -> Self {
        let message = e.to_string();
        let end_line = payload.split(|&b| b == b'\n').count();
        let end_column = payload
            .rsplit(|&b| b == b'\n')
            .next()
            .map_or(0, <[u8]>::len);
        // serde_json's `ErrorCode::InvalidNumber`; its Display text is the only
        // way to tell it apart from other syntax errors.
        let cut_number = message.starts_with("invalid number");
        let at_end = cut_number && e.line() == end_line && e.column() >= end_column;
        match e.classify() {
            Category::Eof => DecodeError::Truncated { message },
            Category::Syntax if at_end => DecodeError::Truncated { message },
            _ => DecodeError::Json { message },
        }
    }
}

/// Why a message could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// A value has no wire representation: a NaN or infinite number, or a
    /// timestamp outside RFC 3339's range (years 0000 to 9999, whole-minute
    /// offsets).
    #[error("message cannot be encoded: {message}")]
    Unrepresentable {
        /// The serialiser's message.
        message: String,
    },
}

/// The fields read before the full decode.
#[derive(Deserialize)]
struct Probe {
    #[serde(default)]
    schema: Option<serde_json::Value>,
    #[serde(default)]
    seq: Option<serde_json::Value>,
}

fn probe(payload: &[u8]) -> Result<Probe, DecodeError> {
    match payload.iter().find(|b| !b.is_ascii_whitespace()) {
        None if payload.is_empty() => return Err(DecodeError::EmptyPayload),
        // Only whitespace: let the parser report the early end.
        None | Some(b'{') => {}
        Some(_) => {
            // Report syntax errors as such; well-formed non-objects as NotAnObject.
            return match serde_json::from_slice::<serde::de::IgnoredAny>(payload) {
                Ok(_) => Err(DecodeError::NotAnObject),
                Err(e) => Err(DecodeError::from_json(&e, payload)),
            };
        }
    }
    serde_json::from_slice(payload).map_err(|e| DecodeError::from_json(&e, payload))
}

fn check_schema(schema: Option<serde_json::Value>) -> Result<SchemaVersion, DecodeError> {
    let value = schema.ok_or(DecodeError::MissingSchema)?;
    let version = value
        .as_str()
        .and_then(|s| s.parse::<SchemaVersion>().ok())
        .ok_or_else(|| DecodeError::InvalidSchema {
            found: value.to_string(),
        })?;
    if version.is_supported() {
        Ok(version)
    } else {
        Err(DecodeError::UnsupportedMajor {
            found: version,
            supported: SchemaVersion::SUPPORTED_MAJOR,
        })
    }
}

fn parse_as(kind: TopicKind, payload: &[u8]) -> Result<Message, serde_json::Error> {
    fn p<T: DeserializeOwned>(payload: &[u8]) -> Result<T, serde_json::Error> {
        serde_json::from_slice(payload)
    }
    Ok(match kind {
        TopicKind::Status => Message::Status(p(payload)?),
        TopicKind::Telemetry => Message::Telemetry(p(payload)?),
        TopicKind::Events => Message::Event(p(payload)?),
        TopicKind::Ack => Message::Ack(p(payload)?),
        TopicKind::Config => Message::ConfigPush(p(payload)?),
        TopicKind::ConfigResult => Message::ConfigResult(p(payload)?),
        TopicKind::Cmd => Message::Command(p(payload)?),
        TopicKind::CmdResult => Message::CommandResult(p(payload)?),
    })
}

/// Decodes a payload received on a topic of `kind`.
pub fn decode(kind: TopicKind, payload: &[u8]) -> Result<Message, DecodeError> {
    let probe = probe(payload)?;
    check_schema(probe.schema)?;
    match parse_as(kind, payload) {
        Ok(message) => Ok(message),
        Err(e) => {
            // Only on the error path: name the kind the payload really is.
            if let Some(other) = TopicKind::ALL
                .into_iter()
                .filter(|&k| k != kind)
                .find(|&k| parse_as(k, payload).is_ok())
            {
                return Err(DecodeError::WrongKind {
                    topic: kind,
                    payload: other,
                });
            }
            Err(DecodeError::from_json(&e, payload))
        }
    }
}

/// Decodes a payload received on `topic`, and checks that a payload which
/// names its appliance names the topic's appliance.
pub fn decode_topic(topic: &Topic, payload: &[u8]) -> Result<Message, DecodeError> {
    let message = decode(topic.kind, payload)?;
    if let Some(id) = message.appliance_id()
        && *id != topic.appliance
    {
        return Err(DecodeError::ApplianceMismatch {
            topic: topic.appliance.clone(),
            payload: id.clone(),
        });
    }
    Ok(message)
}

/// The `seq` of a record payload that may not decode (a newer event type
/// with a malformed body, say), so the cloud can quarantine it and still
/// acknowledge its sequence number. `None` if the payload is not a JSON
/// object with an unsigned integer `seq`.
pub fn record_seq(payload: &[u8]) -> Option<u64> {
    probe(payload).ok()?.seq?.as_u64()
}

/// Encodes a message as compact JSON.
pub fn encode(message: &Message) -> Result<Vec<u8>, EncodeError> {
    let result = match message {
        Message::Status(m) => serde_json::to_vec(m),
        Message::Telemetry(m) => serde_json::to_vec(m),
        Message::Event(m) => serde_json::to_vec(m),
        Message::Ack(m) => serde_json::to_vec(m),
        Message::ConfigPush(m) => serde_json::to_vec(m),
        Message::ConfigResult(m) => serde_json::to_vec(m),
        Message::Command(m) => serde_json::to_vec(m),
        Message::CommandResult(m) => serde_json::to_vec(m),
    };
    result.map_err(|e| EncodeError::Unrepresentable {
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_at_the_last_byte_is_not_mistaken_for_truncation() {
        for (payload, truncated) in [
            (&b"{\"a\":3."[..], true),
            (b"{\"a\":tru", true),
            (b"{\"a\":\"x", true),
            (b"{\"a\":1,x", false),
            (b"{\"a\":1}}", false),
            (b"{\"a\":1,\n\"b\":x", false),
            (b"{\"a\":1e", true),
            (b"{\"a\":-", true),
            (b"{\"a\":1,-", false),
        ] {
            let err = decode(TopicKind::Ack, payload).unwrap_err();
            assert_eq!(
                matches!(err, DecodeError::Truncated { .. }),
                truncated,
                "{:?}: {err:?}",
                String::from_utf8_lossy(payload)
            );
        }
    }
}
