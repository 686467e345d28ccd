//! `events`: call records (CDRs), registrations, trunk state, alarms and
//! recording deletions.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::telemetry::{Codec, Leg};
use super::{ApplianceId, SchemaVersion};

/// Payload of `events` (appliance to cloud).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Schema version of this payload.
    pub schema: SchemaVersion,
    /// The publishing appliance.
    pub appliance_id: ApplianceId,
    /// Record sequence number, shared with `telemetry`.
    pub seq: u64,
    /// When the event happened.
    #[serde(with = "time::serde::rfc3339")]
    pub ts: OffsetDateTime,
    /// What happened.
    pub event: EventKind,
}

/// The event itself, tagged by its `type` field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// A finished call.
    CallRecord(CallRecord),
    /// An extension's registration changed.
    Registration(Registration),
    /// A trunk's registration state changed.
    TrunkState(TrunkState),
    /// An alarm was raised or cleared.
    Alarm(Alarm),
    /// A recording was deleted by the retention policy.
    RecordingDeleted(RecordingDeleted),
    /// An event type added in a later minor version. The cloud must still
    /// store (quarantine) and acknowledge its `seq`, or the outbox stalls.
    /// Never sent.
    #[serde(other)]
    Unknown,
}

/// Direction of a call leg as seen from the appliance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LegDirection {
    /// The endpoint called the appliance.
    Inbound,
    /// The appliance called the endpoint.
    Outbound,
}

/// What kind of endpoint a leg connects to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndpointKind {
    /// A SIP phone registered as an extension.
    Extension,
    /// The provider's SIP trunk.
    Trunk,
    /// A browser (WebRTC softphone).
    Webrtc,
}

/// One leg of a recorded call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CdrLeg {
    /// Which leg.
    pub leg: Leg,
    /// Inbound or outbound from the appliance's point of view.
    pub direction: LegDirection,
    /// What the leg connects to.
    pub endpoint: EndpointKind,
    /// Codec negotiated on the leg (`null` if the leg never got media).
    pub codec: Option<Codec>,
}

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    /// Answered and later hung up.
    Answered,
    /// Rang without answer.
    NoAnswer,
    /// Callee busy.
    Busy,
    /// Failed (network, trunk, media or server error).
    Failed,
    /// The caller gave up before the answer.
    Cancelled,
    /// Refused before ringing (e.g. by the permission check).
    Rejected,
}

/// Outcome of the call permission check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// The call was allowed.
    Allowed,
    /// The call was denied.
    Denied,
}

/// The permission check's decision with its stable reason code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionDecision {
    /// Allowed or denied.
    pub decision: Decision,
    /// Stable dotted reason code, e.g. `permission.class_allowed`,
    /// `permission.emergency`, `permission.premium_denied`.
    pub reason: String,
}

/// A call detail record.
///
/// `caller` and `callee` are personal data (AVG/GDPR): the `Debug` output
/// redacts them, and they must never be logged in clear.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallRecord {
    /// The call's id (matches telemetry samples).
    pub call_id: String,
    /// The call's legs.
    pub legs: Vec<CdrLeg>,
    /// Calling party: E.164 (`+31...`), or the extension number for an
    /// internal party. Personal data.
    pub caller: String,
    /// Called party, normalised like `caller`. Personal data.
    pub callee: String,
    /// Trunk used, if the call went to or came from the PSTN.
    pub trunk: Option<String>,
    /// When the call was set up.
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// When it was answered; `null` if never.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub answered_at: Option<OffsetDateTime>,
    /// When it ended.
    #[serde(with = "time::serde::rfc3339")]
    pub ended_at: OffsetDateTime,
    /// `ended_at - started_at`, whole seconds.
    pub duration_s: u64,
    /// `ended_at - answered_at`, whole seconds; 0 if never answered.
    pub billable_s: u64,
    /// How the call ended.
    pub disposition: Disposition,
    /// Final SIP status code (or the Q.850-mapped cause), e.g. 200, 486.
    pub sip_cause: u16,
    /// The permission check's outcome.
    pub permission: PermissionDecision,
}

impl fmt::Debug for CallRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallRecord")
            .field("call_id", &self.call_id)
            .field("legs", &self.legs)
            .field("caller", &"<redacted>")
            .field("callee", &"<redacted>")
            .field("trunk", &self.trunk)
            .field("started_at", &self.started_at)
            .field("answered_at", &self.answered_at)
            .field("ended_at", &self.ended_at)
            .field("duration_s", &self.duration_s)
            .field("billable_s", &self.billable_s)
            .field("disposition", &self.disposition)
            .field("sip_cause", &self.sip_cause)
            .field("permission", &self.permission)
            .finish()
    }
}

/// An extension's registration changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    /// The extension number.
    pub extension: String,
    /// Number of contacts now bound.
    pub contacts: u32,
    /// Whether at least one contact is bound.
    pub registered: bool,
}

/// State of a trunk's registration with the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrunkStatus {
    /// Registered and usable.
    Up,
    /// Not registered (e.g. administratively disabled or re-registering).
    Down,
    /// The provider rejected the credentials.
    AuthFailed,
    /// The provider could not be reached.
    Unreachable,
}

/// A trunk's state changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrunkState {
    /// The trunk's id in the site configuration.
    pub trunk: String,
    /// The new state.
    pub state: TrunkStatus,
    /// Stable dotted code with the reason, e.g. `trunk.register.auth_failed`;
    /// `null` when there is nothing to add.
    pub detail: Option<String>,
}

/// How urgent an alarm is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// For information.
    Info,
    /// Needs attention soon.
    Warning,
    /// Service is affected.
    Critical,
}

/// Whether an alarm starts or ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlarmState {
    /// The condition started.
    Raised,
    /// The condition ended.
    Cleared,
}

/// An alarm was raised or cleared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alarm {
    /// Stable dotted code, e.g. `storage.disk_low`.
    pub code: String,
    /// How urgent.
    pub severity: Severity,
    /// Raised or cleared.
    pub state: AlarmState,
    /// English developer-facing detail; never personal data.
    pub detail: Option<String>,
}

/// Why the retention policy deleted a recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeletionReason {
    /// Older than the configured retention.
    Age,
    /// The recording quota was exceeded.
    Quota,
    /// Free disk space fell below the configured floor.
    DiskFloor,
}

/// A recording was deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingDeleted {
    /// The recording's id.
    pub recording_id: String,
    /// Why it was deleted.
    pub reason: DeletionReason,
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn call_record_debug_redacts_numbers() {
        let cdr = CallRecord {
            call_id: "c1".into(),
            legs: vec![],
            caller: "+31201234567".into(),
            callee: "+31612345678".into(),
            trunk: None,
            started_at: datetime!(2026-11-21 10:00 UTC),
            answered_at: None,
            ended_at: datetime!(2026-11-21 10:01 UTC),
            duration_s: 60,
            billable_s: 0,
            disposition: Disposition::NoAnswer,
            sip_cause: 480,
            permission: PermissionDecision {
                decision: Decision::Allowed,
                reason: "permission.class_allowed".into(),
            },
        };
        let debug = format!("{cdr:?}");
        assert!(!debug.contains("1234567"), "{debug}");
        assert!(!debug.contains("12345678"), "{debug}");
        assert!(debug.contains("<redacted>"));
    }
}
