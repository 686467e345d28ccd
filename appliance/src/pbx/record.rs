//! The call record (CDR) of an ended call, from the B2BUA's summary and the
//! routing outcome.
//!
//! - `call_id`: our random call id (not the SIP Call-ID, which may carry a
//!   phone's IP address).
//! - `caller`: the authenticated extension, or for trunk calls the From user
//!   in E.164 when it normalises to one (else as sent).
//! - `callee`: the extension the call rang, the number sent to the trunk,
//!   the echo test number, or for refused calls the dialled digits.
//! - `legs`: the A-leg plus the B-leg that answered (else the last one
//!   tried); none for the echo test and refused calls.
//! - `trunk`: the trunk of that B-leg, else the trunk the call came in on.
//! - `permission`: the routing decision's; a call that never reached
//!   routing is recorded as denied with `routing.unknown_caller`.

use std::borrow::Cow;
use std::time::Instant;

use time::OffsetDateTime;
use voip_shared::mqtt::{
    CallRecord, CdrLeg, Codec, Decision, Disposition, EndpointKind, Leg, LegDirection,
    PermissionDecision,
};
use voip_sip::b2bua::{CallSummary, Disposition as B2bDisposition, LegSummary, Side};

use super::{CallInfo, CallerOrigin};
use crate::routing::normalise_did;

fn disposition(d: B2bDisposition) -> Disposition {
    match d {
        B2bDisposition::Answered => Disposition::Answered,
        B2bDisposition::NoAnswer => Disposition::NoAnswer,
        B2bDisposition::Busy => Disposition::Busy,
        B2bDisposition::Failed => Disposition::Failed,
        B2bDisposition::Cancelled => Disposition::Cancelled,
        B2bDisposition::Rejected => Disposition::Rejected,
    }
}

fn codec(leg: &LegSummary) -> Option<Codec> {
    leg.codec
        .as_ref()
        .map(|c| Codec(Cow::Owned(c.to_ascii_lowercase())))
}

/// Builds the record; `wall` converts the summary's instants.
pub(super) fn build(
    summary: &CallSummary,
    info: &CallInfo,
    wall: impl Fn(Instant) -> OffsetDateTime,
) -> CallRecord {
    let a_leg = summary.legs.iter().find(|l| l.side == Side::A);
    let b_legs: Vec<&LegSummary> = summary.legs.iter().filter(|l| l.side == Side::B).collect();
    let b_leg = b_legs
        .iter()
        .find(|l| l.status.is_some_and(|s| (200..300).contains(&s)))
        .or_else(|| b_legs.last())
        .copied();
    let (a_endpoint, origin_trunk, caller) = match &info.origin {
        CallerOrigin::Extension(n) => (EndpointKind::Extension, None, n.clone()),
        CallerOrigin::Trunk { trunk_id, .. } => (
            EndpointKind::Trunk,
            Some(trunk_id.clone()),
            normalise_did(&summary.caller)
                .map_or_else(|| summary.caller.clone(), |e| e.as_str().to_owned()),
        ),
    };
    let mut legs = vec![CdrLeg {
        leg: Leg::A,
        direction: LegDirection::Inbound,
        endpoint: a_endpoint,
        codec: a_leg.and_then(codec),
    }];
    if let Some(b) = b_leg {
        legs.push(CdrLeg {
            leg: Leg::B,
            direction: LegDirection::Outbound,
            endpoint: if b.trunk_id.is_some() {
                EndpointKind::Trunk
            } else {
                EndpointKind::Extension
            },
            codec: codec(b),
        });
    }
    let started_at = wall(summary.started);
    let ended_at = wall(summary.ended);
    let permission = info.outcome.as_ref().map_or_else(
        || PermissionDecision {
            decision: Decision::Denied,
            reason: "routing.unknown_caller".to_owned(),
        },
        |o| o.permission.to_event(),
    );
    CallRecord {
        call_id: info.call_id.clone(),
        legs,
        caller,
        callee: info.callee.clone(),
        trunk: b_leg.and_then(|b| b.trunk_id.clone()).or(origin_trunk),
        started_at,
        answered_at: summary.answered.map(&wall),
        ended_at,
        duration_s: summary
            .ended
            .saturating_duration_since(summary.started)
            .as_secs(),
        billable_s: summary.talk_time().as_secs(),
        disposition: disposition(summary.disposition),
        sip_cause: summary.final_status,
        permission,
    }
}
