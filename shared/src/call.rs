//! The click-to-call model of the `VoipService`: a contact-management app starts
//! a call through an adapter (our appliance, Twilio, Asterisk AMI, 3CX, generic
//! SIP, WebRTC) and follows its state as a [`CallSession`].
//!
//! # Status transitions
//! [`CallStatus::can_transition_to`] is the whole table:
//!
//! | from         | to                                                                 |
//! |--------------|--------------------------------------------------------------------|
//! | `initiating` | `ringing`, `connected`, `failed`, `busy`, `unavailable`, `disconnected` |
//! | `ringing`    | `connected`, `failed`, `busy`, `unavailable`, `disconnected`       |
//! | `connected`  | `on_hold`, `disconnected`, `failed`                                |
//! | `on_hold`    | `connected`, `disconnected`, `failed`                              |
//! | final states (`disconnected`, `failed`, `busy`, `unavailable`) | nothing          |
//!
//! A status to itself is not a transition (`can_transition_to` is `false`).
//! [`CallSession::apply`] treats a repeated **non-final** status as an
//! idempotent no-op, because providers repeat events (a second "ringing"
//! webhook, a re-sent AMI event). A repeated **final** status is rejected like
//! any other event after the end, so the first end time stays and the caller
//! can see that the event was stale.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::VoipError;
use crate::i18n::{Locale, tr};
use crate::pii::Pii;

/// Maximum length of a [`SessionId`] in bytes.
pub const SESSION_ID_MAX_LEN: usize = 128;

/// Identifier of a call session: 1 to 128 printable ASCII characters without
/// spaces (`!` to `~`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SessionId(String);

/// Why a string is not a valid [`SessionId`]. The rejected value is not kept:
/// it came from outside and may be anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidSessionId {
    /// The id is empty.
    #[error("session id is empty")]
    Empty,
    /// The id is longer than [`SESSION_ID_MAX_LEN`] bytes.
    #[error("session id is {len} bytes long, at most {SESSION_ID_MAX_LEN} allowed")]
    TooLong {
        /// Length of the rejected id in bytes.
        len: usize,
    },
    /// The id contains a byte outside printable ASCII (`!` to `~`).
    #[error("session id has a character outside printable ASCII at byte {position}")]
    InvalidCharacter {
        /// Byte offset of the first offending character.
        position: usize,
    },
}

impl SessionId {
    /// Validates and wraps `id`.
    pub fn new(id: impl Into<String>) -> Result<Self, InvalidSessionId> {
        let id = id.into();
        if id.is_empty() {
            return Err(InvalidSessionId::Empty);
        }
        if id.len() > SESSION_ID_MAX_LEN {
            return Err(InvalidSessionId::TooLong { len: id.len() });
        }
        if let Some(position) = id.bytes().position(|b| !b.is_ascii_graphic()) {
            return Err(InvalidSessionId::InvalidCharacter { position });
        }
        Ok(Self(id))
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SessionId {
    type Error = InvalidSessionId;

    fn try_from(id: String) -> Result<Self, Self::Error> {
        Self::new(id)
    }
}

impl From<SessionId> for String {
    fn from(id: SessionId) -> Self {
        id.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The telephony system an adapter drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VoipSystem {
    /// Our own appliance, over MQTT.
    Appliance,
    /// Twilio's REST API.
    Twilio,
    /// Asterisk through the Asterisk Manager Interface.
    AsteriskAmi,
    /// 3CX's call control API.
    ThreeCx,
    /// Any SIP server, through a plain SIP user agent.
    GenericSip,
    /// A browser call over WebRTC.
    #[serde(rename = "webrtc")]
    WebRtc,
}

impl VoipSystem {
    /// Every system, in declaration order.
    pub const ALL: [VoipSystem; 6] = [
        VoipSystem::Appliance,
        VoipSystem::Twilio,
        VoipSystem::AsteriskAmi,
        VoipSystem::ThreeCx,
        VoipSystem::GenericSip,
        VoipSystem::WebRtc,
    ];

    /// The stable wire string, as serde writes it.
    pub const fn as_str(self) -> &'static str {
        match self {
            VoipSystem::Appliance => "appliance",
            VoipSystem::Twilio => "twilio",
            VoipSystem::AsteriskAmi => "asterisk_ami",
            VoipSystem::ThreeCx => "three_cx",
            VoipSystem::GenericSip => "generic_sip",
            VoipSystem::WebRtc => "webrtc",
        }
    }
}

impl fmt::Display for VoipSystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The state of a call session. See the [module docs](self) for the
/// transition table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallStatus {
    /// The call is being set up; nothing rings yet.
    Initiating,
    /// The callee's phone rings.
    Ringing,
    /// The call is answered; both sides talk.
    Connected,
    /// The call is on hold.
    OnHold,
    /// The call ended normally (final).
    Disconnected,
    /// The call failed; `CallSession::error` says why (final).
    Failed,
    /// The callee was busy (final).
    Busy,
    /// The callee could not be reached or did not answer (final).
    Unavailable,
}

impl CallStatus {
    /// Every status, in declaration order.
    pub const ALL: [CallStatus; 8] = [
        CallStatus::Initiating,
        CallStatus::Ringing,
        CallStatus::Connected,
        CallStatus::OnHold,
        CallStatus::Disconnected,
        CallStatus::Failed,
        CallStatus::Busy,
        CallStatus::Unavailable,
    ];

    /// Whether the call has ended: no transition leaves a final status.
    pub const fn is_final(self) -> bool {
        matches!(
            self,
            CallStatus::Disconnected
                | CallStatus::Failed
                | CallStatus::Busy
                | CallStatus::Unavailable
        )
    }

    /// Whether `self → next` is a legal transition. A status to itself is
    /// not a transition and gives `false`.
    pub const fn can_transition_to(self, next: CallStatus) -> bool {
        use CallStatus::{
            Busy, Connected, Disconnected, Failed, Initiating, OnHold, Ringing, Unavailable,
        };
        match self {
            Initiating => matches!(
                next,
                Ringing | Connected | Failed | Busy | Unavailable | Disconnected
            ),
            Ringing => matches!(next, Connected | Failed | Busy | Unavailable | Disconnected),
            Connected => matches!(next, OnHold | Disconnected | Failed),
            OnHold => matches!(next, Connected | Disconnected | Failed),
            Disconnected | Failed | Busy | Unavailable => false,
        }
    }

    /// The stable wire string, as serde writes it.
    pub const fn as_str(self) -> &'static str {
        match self {
            CallStatus::Initiating => "initiating",
            CallStatus::Ringing => "ringing",
            CallStatus::Connected => "connected",
            CallStatus::OnHold => "on_hold",
            CallStatus::Disconnected => "disconnected",
            CallStatus::Failed => "failed",
            CallStatus::Busy => "busy",
            CallStatus::Unavailable => "unavailable",
        }
    }

    /// Fluent message id of the status label, e.g. `call-status-on-hold`.
    pub const fn message_id(self) -> &'static str {
        match self {
            CallStatus::Initiating => "call-status-initiating",
            CallStatus::Ringing => "call-status-ringing",
            CallStatus::Connected => "call-status-connected",
            CallStatus::OnHold => "call-status-on-hold",
            CallStatus::Disconnected => "call-status-disconnected",
            CallStatus::Failed => "call-status-failed",
            CallStatus::Busy => "call-status-busy",
            CallStatus::Unavailable => "call-status-unavailable",
        }
    }

    /// The label shown to users, e.g. `Gaat over` in Dutch.
    pub fn label(self, locale: Locale) -> String {
        tr(locale, self.message_id(), &[])
    }
}

impl fmt::Display for CallStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status change that the transition table does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("call status cannot change from {from} to {to}")]
pub struct InvalidTransition {
    /// The status the session was in.
    pub from: CallStatus,
    /// The status that was refused.
    pub to: CallStatus,
}

/// One click-to-call session as the `VoipService` API reports it.
///
/// `from` and `to` are personal data and redact in `Debug`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallSession {
    /// Our id of the session.
    pub session_id: SessionId,
    /// Current status.
    pub status: CallStatus,
    /// When the session was created (RFC 3339 in JSON).
    #[serde(with = "time::serde::rfc3339")]
    pub start_time: OffsetDateTime,
    /// When the session reached a final status (RFC 3339 in JSON).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub end_time: Option<OffsetDateTime>,
    /// The system the call runs on.
    pub system: VoipSystem,
    /// The extension or user who calls.
    pub from: Pii<String>,
    /// The dialled number, E.164 where known.
    pub to: Pii<String>,
    /// The contact in the contact-management app, if the call was started
    /// from one.
    #[serde(default)]
    pub contact_id: Option<String>,
    /// The provider's own id of the call (Twilio call SID, AMI unique id...).
    #[serde(default)]
    pub provider_call_id: Option<String>,
    /// Why the call failed, when it did.
    #[serde(default)]
    pub error: Option<VoipError>,
}

impl CallSession {
    /// A new session in status `initiating`, started at `now`.
    pub fn new(
        now: OffsetDateTime,
        session_id: SessionId,
        system: VoipSystem,
        from: Pii<String>,
        to: Pii<String>,
    ) -> Self {
        Self {
            session_id,
            status: CallStatus::Initiating,
            start_time: now,
            end_time: None,
            system,
            from,
            to,
            contact_id: None,
            provider_call_id: None,
            error: None,
        }
    }

    /// Moves the session to `next` at `now`, setting `end_time` when `next`
    /// is final. A repeated non-final status is a no-op; see the
    /// [module docs](self).
    pub fn apply(
        &mut self,
        now: OffsetDateTime,
        next: CallStatus,
    ) -> Result<(), InvalidTransition> {
        if next == self.status && !next.is_final() {
            return Ok(());
        }
        if !self.status.can_transition_to(next) {
            return Err(InvalidTransition {
                from: self.status,
                to: next,
            });
        }
        self.status = next;
        if next.is_final() {
            self.end_time = Some(now);
        }
        Ok(())
    }

    /// Whether the session has ended.
    pub fn is_final(&self) -> bool {
        self.status.is_final()
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::error::ErrorCode;
    use crate::i18n::catalogue;

    /// The full transition table, row = from, column = to, in the order
    /// `initiating`, `ringing`, `connected`, `on_hold`, `disconnected`, `failed`, `busy`,
    /// `unavailable`.
    #[rustfmt::skip]
    const TABLE: [[bool; 8]; 8] = {
        const T: bool = true;
        const F: bool = false;
        [
            //               ini ring conn hold disc fail busy unav
            /* initiating */ [F,  T,   T,   F,   T,   T,   T,   T],
            /* ringing    */ [F,  F,   T,   F,   T,   T,   T,   T],
            /* connected  */ [F,  F,   F,   T,   T,   T,   F,   F],
            /* on_hold    */ [F,  F,   T,   F,   T,   T,   F,   F],
            /* disconn.   */ [F,  F,   F,   F,   F,   F,   F,   F],
            /* failed     */ [F,  F,   F,   F,   F,   F,   F,   F],
            /* busy       */ [F,  F,   F,   F,   F,   F,   F,   F],
            /* unavail.   */ [F,  F,   F,   F,   F,   F,   F,   F],
        ]
    };

    fn session() -> CallSession {
        CallSession::new(
            datetime!(2025-03-04 09:15:00 UTC),
            SessionId::new("cs_01HQ7Z").unwrap(),
            VoipSystem::Appliance,
            Pii::new("201".to_owned()),
            Pii::new("+31201234567".to_owned()),
        )
    }

    #[test]
    fn transition_table_is_exactly_the_design() {
        for (i, from) in CallStatus::ALL.into_iter().enumerate() {
            for (j, to) in CallStatus::ALL.into_iter().enumerate() {
                assert_eq!(from.can_transition_to(to), TABLE[i][j], "{from} -> {to}");
            }
        }
    }

    #[test]
    fn final_states_are_final() {
        let finals: Vec<_> = CallStatus::ALL
            .into_iter()
            .filter(|s| s.is_final())
            .collect();
        assert_eq!(
            finals,
            [
                CallStatus::Disconnected,
                CallStatus::Failed,
                CallStatus::Busy,
                CallStatus::Unavailable
            ]
        );
        for from in finals {
            for to in CallStatus::ALL {
                assert!(!from.can_transition_to(to), "{from} -> {to}");
                let mut s = session();
                s.status = from;
                let end = datetime!(2025-03-04 09:16:00 UTC);
                s.end_time = Some(end);
                assert_eq!(
                    s.apply(datetime!(2025-03-04 09:20:00 UTC), to),
                    Err(InvalidTransition { from, to })
                );
                assert_eq!((s.status, s.end_time), (from, Some(end)));
            }
        }
    }

    #[test]
    fn every_non_final_state_can_reach_an_end() {
        for s in CallStatus::ALL.into_iter().filter(|s| !s.is_final()) {
            assert!(s.can_transition_to(CallStatus::Disconnected), "{s}");
            assert!(s.can_transition_to(CallStatus::Failed), "{s}");
        }
    }

    #[test]
    fn apply_follows_a_call_and_sets_end_time_on_the_final_state() {
        let mut s = session();
        let t1 = datetime!(2025-03-04 09:15:02 UTC);
        let t2 = datetime!(2025-03-04 09:15:09 UTC);
        let t3 = datetime!(2025-03-04 09:17:40 UTC);
        s.apply(t1, CallStatus::Ringing).unwrap();
        s.apply(t2, CallStatus::Connected).unwrap();
        s.apply(t2, CallStatus::OnHold).unwrap();
        s.apply(t2, CallStatus::Connected).unwrap();
        assert_eq!(s.end_time, None);
        assert!(!s.is_final());
        s.apply(t3, CallStatus::Disconnected).unwrap();
        assert_eq!(s.status, CallStatus::Disconnected);
        assert_eq!(s.end_time, Some(t3));
        assert!(s.is_final());
    }

    #[test]
    fn illegal_transition_leaves_the_session_unchanged() {
        let mut s = session();
        s.apply(datetime!(2025-03-04 09:15:02 UTC), CallStatus::Ringing)
            .unwrap();
        let before = s.clone();
        let err = s
            .apply(datetime!(2025-03-04 09:15:03 UTC), CallStatus::OnHold)
            .unwrap_err();
        assert_eq!(
            err,
            InvalidTransition {
                from: CallStatus::Ringing,
                to: CallStatus::OnHold
            }
        );
        assert_eq!(
            err.to_string(),
            "call status cannot change from ringing to on_hold"
        );
        assert_eq!(s, before);
    }

    #[test]
    fn repeated_non_final_status_is_a_no_op() {
        for status in CallStatus::ALL.into_iter().filter(|s| !s.is_final()) {
            assert!(!status.can_transition_to(status), "{status}");
            let mut s = session();
            s.status = status;
            let before = s.clone();
            assert_eq!(s.apply(datetime!(2025-03-04 09:16:00 UTC), status), Ok(()));
            assert_eq!(s, before);
        }
    }

    #[test]
    fn session_id_validation() {
        assert_eq!(
            SessionId::new("CA1234abcd-_.:~!").unwrap().as_str(),
            "CA1234abcd-_.:~!"
        );
        assert!(SessionId::new("x".repeat(SESSION_ID_MAX_LEN)).is_ok());
        let cases: &[(&str, InvalidSessionId)] = &[
            ("", InvalidSessionId::Empty),
            (
                "has space",
                InvalidSessionId::InvalidCharacter { position: 3 },
            ),
            (
                "tab\there",
                InvalidSessionId::InvalidCharacter { position: 3 },
            ),
            ("nl\n", InvalidSessionId::InvalidCharacter { position: 2 }),
            ("café", InvalidSessionId::InvalidCharacter { position: 3 }),
            ("\u{7f}", InvalidSessionId::InvalidCharacter { position: 0 }),
        ];
        for (input, expected) in cases {
            assert_eq!(SessionId::new(*input), Err(*expected), "{input:?}");
        }
        assert_eq!(
            SessionId::new("x".repeat(SESSION_ID_MAX_LEN + 1)),
            Err(InvalidSessionId::TooLong {
                len: SESSION_ID_MAX_LEN + 1
            })
        );
    }

    #[test]
    fn session_id_is_validated_when_deserialized() {
        assert!(serde_json::from_str::<SessionId>(r#""ok-1""#).is_ok());
        assert!(serde_json::from_str::<SessionId>(r#""""#).is_err());
        assert!(serde_json::from_str::<SessionId>(r#""a b""#).is_err());
    }

    #[test]
    fn enums_use_snake_case_on_the_wire() {
        for system in VoipSystem::ALL {
            let json = serde_json::to_string(&system).unwrap();
            assert_eq!(json, format!("\"{}\"", system.as_str()));
            assert_eq!(serde_json::from_str::<VoipSystem>(&json).unwrap(), system);
        }
        assert_eq!(VoipSystem::ThreeCx.as_str(), "three_cx");
        assert_eq!(VoipSystem::WebRtc.as_str(), "webrtc");
        for status in CallStatus::ALL {
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
            assert_eq!(serde_json::from_str::<CallStatus>(&json).unwrap(), status);
        }
        assert_eq!(CallStatus::OnHold.as_str(), "on_hold");
    }

    #[test]
    fn call_session_json_matches_the_contract() {
        let mut s = session();
        s.contact_id = Some("contact-42".to_owned());
        s.provider_call_id = Some("CA9f1c".to_owned());
        s.apply(datetime!(2025-03-04 09:15:20.5 UTC), CallStatus::Busy)
            .unwrap();
        s.error = Some(VoipError::new(ErrorCode::Busy, Locale::NlNl));
        let value = serde_json::to_value(&s).unwrap();
        let expected = serde_json::json!({
            "session_id": "cs_01HQ7Z",
            "status": "busy",
            "start_time": "2025-03-04T09:15:00Z",
            "end_time": "2025-03-04T09:15:20.5Z",
            "system": "appliance",
            "from": "201",
            "to": "+31201234567",
            "contact_id": "contact-42",
            "provider_call_id": "CA9f1c",
            "error": {
                "error_code": "BUSY",
                "message": "De gebelde persoon is in gesprek."
            }
        });
        assert_eq!(value, expected);
        let back: CallSession = serde_json::from_value(value).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn call_session_accepts_missing_optional_fields_and_offsets() {
        let json = r#"{
            "session_id": "s1",
            "status": "ringing",
            "start_time": "2025-03-04T10:15:00+01:00",
            "end_time": null,
            "system": "twilio",
            "from": "sip:anna@example.nl",
            "to": "+31612345678"
        }"#;
        let s: CallSession = serde_json::from_str(json).unwrap();
        assert_eq!(s.start_time, datetime!(2025-03-04 09:15:00 UTC));
        assert_eq!(s.end_time, None);
        assert_eq!(s.system, VoipSystem::Twilio);
        assert_eq!(
            (s.contact_id, s.provider_call_id, s.error),
            (None, None, None)
        );
    }

    #[test]
    fn call_session_debug_redacts_numbers() {
        let s = session();
        let out = format!("{s:?}");
        assert!(!out.contains("+31201234567"), "{out}");
        assert!(out.contains("to: Pii(***67)"), "{out}");
        assert!(out.contains("from: Pii(***)"), "{out}");
    }

    #[test]
    fn every_status_has_a_dutch_and_english_label() {
        for status in CallStatus::ALL {
            for locale in [Locale::NlNl, Locale::En] {
                assert!(
                    catalogue(locale).has(status.message_id()),
                    "{status} {}",
                    locale.tag()
                );
            }
        }
        assert_eq!(CallStatus::Ringing.label(Locale::NlNl), "Gaat over");
        assert_eq!(CallStatus::OnHold.label(Locale::NlNl), "In de wacht");
        assert_eq!(CallStatus::Busy.label(Locale::En), "Busy");
    }
}
