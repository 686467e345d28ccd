//! The error catalogue: every stable error code of the product, in one table.
//!
//! Each row of the table gives a code its wire string, its [`Severity`], the
//! SIP status a SIP leg answers with when the error ends a request, and its
//! Fluent message id. Everything is generated from that one table, so the four
//! cannot drift apart; the tests check that every code has a Dutch and an
//! English text and that message ids follow from the codes.
//!
//! Two families of codes exist:
//! - `UPPER_SNAKE` codes from the `VoipService` design (click-to-call API and
//!   adapters), e.g. `BUSY`, `PERMISSION_DENIED`;
//! - dotted operator codes for appliance alarms and events, e.g.
//!   `trunk.register.auth_failed`.
//!
//! Codes are stable strings: never rename or reuse one; add new rows instead.
//!
//! # SIP status choices
//! `sip_status()` is `None` when no SIP answer follows from the error (it is an
//! alarm, or the request is dropped without an answer). Choices worth noting:
//! - `NO_ANSWER` → 480: RFC 3398 maps Q.850 cause 19 ("no answer from user,
//!   user alerted") to 480; 408 is a transaction timeout (see `TIMEOUT`).
//! - `MAX_CONCURRENT_CALLS` → 503: the limit is ours, not the callee's; 486
//!   would claim the callee is busy and trigger call-forward-on-busy.
//! - `RATE_LIMITED` → 503: SIP has no 429; 503 with `Retry-After` is the
//!   overload answer of RFC 3261 §21.5.4.
//! - `CALL_REJECTED` → 603 Decline: the callee refused the call.
//! - `NUMBER_INVALID` → 484 Address Incomplete: a number that does not
//!   normalise is almost always too short or cut off.
//! - `registrar.source.banned` → `None`: a banned source gets no answer at
//!   all, so a scanner learns nothing.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::i18n::{Locale, Value, tr};

/// How urgently an operator has to act on an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// A normal outcome worth recording (the callee was busy); no action.
    Info,
    /// Something degraded or unusual; look at it when convenient.
    Warning,
    /// Something failed and needs an operator's action.
    Error,
    /// Service is down or emergency calls are at risk; act now.
    Critical,
}

impl Severity {
    /// Every severity, from least to most urgent.
    pub const ALL: [Severity; 4] = [
        Severity::Info,
        Severity::Warning,
        Severity::Error,
        Severity::Critical,
    ];

    /// The stable wire string (`info`, `warning`, `error`, `critical`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
            Severity::Critical => "critical",
        }
    }

    /// Fluent message id of the severity's label, e.g. `severity-warning`.
    pub const fn message_id(self) -> &'static str {
        match self {
            Severity::Info => "severity-info",
            Severity::Warning => "severity-warning",
            Severity::Error => "severity-error",
            Severity::Critical => "severity-critical",
        }
    }

    /// The label shown to users, e.g. `Waarschuwing` in Dutch.
    pub fn label(self, locale: Locale) -> String {
        tr(locale, self.message_id(), &[])
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Generates [`ErrorCode`] and its lookups from one table.
///
/// Row: `Variant = "code", Severity, sip_status, "message-id";`
macro_rules! error_catalogue {
    ($(
        $(#[doc = $doc:literal])*
        $variant:ident = $code:literal, $severity:ident, $sip:expr, $message_id:literal;
    )*) => {
        /// A stable error code. See the [module docs](self) for the table's
        /// rules. New codes may be added in any release, so matches outside
        /// this crate need a wildcard arm.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $(
                $(#[doc = $doc])*
                #[doc = concat!("\n\nWire code: `", $code, "`.")]
                $variant,
            )*
        }

        impl ErrorCode {
            /// Every code, in table order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),*];

            /// The stable wire string, e.g. `BUSY` or `trunk.unreachable`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)*
                }
            }

            /// How urgently an operator has to act.
            pub const fn severity(self) -> Severity {
                match self {
                    $(ErrorCode::$variant => Severity::$severity,)*
                }
            }

            /// The SIP status a SIP leg answers with when this error ends a
            /// request, or `None` when no SIP answer follows from it.
            pub const fn sip_status(self) -> Option<u16> {
                match self {
                    $(ErrorCode::$variant => $sip,)*
                }
            }

            /// The Fluent message id: `err-` plus the code in lower case with
            /// `.` and `_` replaced by `-`.
            pub const fn message_id(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $message_id,)*
                }
            }
        }

        impl FromStr for ErrorCode {
            type Err = UnknownErrorCode;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($code => Ok(ErrorCode::$variant),)*
                    _ => Err(UnknownErrorCode { code: s.to_owned() }),
                }
            }
        }
    };
}

error_catalogue! {
    // --- VoipService design codes -----------------------------------------
    /// An adapter or the appliance is configured wrongly.
    ConfigurationError = "CONFIGURATION_ERROR", Error, None, "err-configuration-error";
    /// The network between us and the telephony system failed.
    NetworkError = "NETWORK_ERROR", Error, None, "err-network-error";
    /// The telephony provider reported a failure of its own (502 Bad Gateway).
    ProviderError = "PROVIDER_ERROR", Error, Some(502), "err-provider-error";
    /// The user may not call this destination (403).
    PermissionDenied = "PERMISSION_DENIED", Info, Some(403), "err-permission-denied";
    /// The dialled number is not a valid number (484 Address Incomplete).
    NumberInvalid = "NUMBER_INVALID", Info, Some(484), "err-number-invalid";
    /// The destination is on a block list (403).
    DestinationBlocked = "DESTINATION_BLOCKED", Info, Some(403), "err-destination-blocked";
    /// No trunk can carry the call (503).
    TrunkUnavailable = "TRUNK_UNAVAILABLE", Error, Some(503), "err-trunk-unavailable";
    /// The callee is busy (486 Busy Here).
    Busy = "BUSY", Info, Some(486), "err-busy";
    /// The callee's phone rang but nobody answered (480, RFC 3398 cause 19).
    NoAnswer = "NO_ANSWER", Info, Some(480), "err-no-answer";
    /// The callee declined the call (603 Decline).
    CallRejected = "CALL_REJECTED", Info, Some(603), "err-call-rejected";
    /// The site's limit of simultaneous calls is reached (503, not 486).
    MaxConcurrentCalls = "MAX_CONCURRENT_CALLS", Warning, Some(503), "err-max-concurrent-calls";
    /// The user's or site's daily call limit is reached (403: retrying today
    /// will not help).
    DailyLimitReached = "DAILY_LIMIT_REACHED", Warning, Some(403), "err-daily-limit-reached";
    /// The call session does not exist (481 Call/Transaction Does Not Exist).
    CallNotFound = "CALL_NOT_FOUND", Warning, Some(481), "err-call-not-found";
    /// The request does not fit the call's current state.
    InvalidState = "INVALID_STATE", Warning, None, "err-invalid-state";
    /// Our credentials were rejected, or a caller's were (403 after a
    /// failed challenge).
    AuthFailed = "AUTH_FAILED", Error, Some(403), "err-auth-failed";
    /// Too many requests; try again later (503 with `Retry-After`; SIP has no 429).
    RateLimited = "RATE_LIMITED", Warning, Some(503), "err-rate-limited";
    /// The operation is not supported by this system (501 Not Implemented).
    Unsupported = "UNSUPPORTED", Warning, Some(501), "err-unsupported";
    /// A bug or unexpected condition on our side (500).
    InternalError = "INTERNAL_ERROR", Error, Some(500), "err-internal-error";
    /// An operation did not complete in time (408 Request Timeout).
    Timeout = "TIMEOUT", Warning, Some(408), "err-timeout";

    // --- Operator codes (appliance alarms and events) ----------------------
    /// The provider rejected the trunk's registration credentials.
    TrunkRegisterAuthFailed = "trunk.register.auth_failed", Error, None, "err-trunk-register-auth-failed";
    /// The trunk's registration got no answer in time.
    TrunkRegisterTimeout = "trunk.register.timeout", Error, None, "err-trunk-register-timeout";
    /// The provider refused the trunk's registration for a reason other
    /// than credentials (a 4xx/5xx/6xx other than 401/407).
    TrunkRegisterRejected = "trunk.register.rejected", Error, None, "err-trunk-register-rejected";
    /// The trunk's server cannot be reached (DNS, routing, refused).
    TrunkUnreachable = "trunk.unreachable", Error, None, "err-trunk-unreachable";
    /// The trunk did not answer an OPTIONS keep-alive in time.
    TrunkOptionsTimeout = "trunk.options.timeout", Warning, None, "err-trunk-options-timeout";
    /// A phone failed digest authentication at our registrar (403).
    RegistrarAuthFailed = "registrar.auth.failed", Warning, Some(403), "err-registrar-auth-failed";
    /// A source address was banned after repeated failures; its requests are
    /// dropped without an answer.
    RegistrarSourceBanned = "registrar.source.banned", Warning, None, "err-registrar-source-banned";
    /// A SIP message could not be parsed (400 Bad Request).
    SipMessageMalformed = "sip.message.malformed", Warning, Some(400), "err-sip-message-malformed";
    /// A TLS handshake on a SIP transport failed.
    SipTransportTlsFailed = "sip.transport.tls_failed", Warning, None, "err-sip-transport-tls-failed";
    /// A call's media stopped arriving; the call was ended.
    MediaTimeout = "media.timeout", Warning, None, "err-media-timeout";
    /// The two sides share no codec (488 Not Acceptable Here).
    MediaNoCommonCodec = "media.no_common_codec", Warning, Some(488), "err-media-no-common-codec";
    MediaPortsExhausted = "media.ports_exhausted", Error, Some(503), "err-media-ports-exhausted";
    /// SRTP keying or packet authentication failed.
    MediaSrtpFailed = "media.srtp.failed", Error, None, "err-media-srtp-failed";
    /// A site configuration failed validation and was not applied.
    ConfigInvalid = "config.invalid", Error, None, "err-config-invalid";
    /// A valid site configuration could not be applied; the last good one
    /// stays active.
    ConfigApplyFailed = "config.apply_failed", Error, None, "err-config-apply-failed";
    /// The appliance lost its connection to the cloud; it keeps working.
    UplinkDisconnected = "uplink.disconnected", Warning, None, "err-uplink-disconnected";
    /// Events are piling up in the appliance's outbox faster than they are sent.
    UplinkBacklog = "uplink.backlog", Warning, None, "err-uplink-backlog";
    /// The appliance's disk is almost full.
    StorageDiskLow = "storage.disk_low", Warning, None, "err-storage-disk-low";
    /// The recording quota is used up; new calls are not recorded.
    RecordingQuotaExceeded = "recording.quota_exceeded", Warning, None, "err-recording-quota-exceeded";
    /// A call that should have been recorded was not (fully) recorded.
    RecordingFailed = "recording.failed", Error, None, "err-recording-failed";
    /// Call quality (MOS) fell below the threshold.
    QualityMosLow = "quality.mos_low", Warning, None, "err-quality-mos-low";
    /// An emergency call found no trunk to use (503).
    EmergencyNoTrunk = "emergency.no_trunk", Critical, Some(503), "err-emergency-no-trunk";
    /// A TLS certificate of the appliance expires soon.
    TlsCertificateExpiring = "tls.certificate.expiring", Warning, None, "err-tls-certificate-expiring";
}

impl ErrorCode {
    /// The message in `locale`, with Fluent arguments `args`. Catalogue
    /// messages need no arguments; extra arguments are ignored.
    pub fn message(self, locale: Locale, args: &[(&str, Value<'_>)]) -> String {
        tr(locale, self.message_id(), args)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A string that is not a code of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown error code `{code}`")]
pub struct UnknownErrorCode {
    /// The string that was parsed.
    pub code: String,
}

/// An error as the `VoipService` API and the MQTT events carry it.
///
/// `message` is filled from the catalogue in the locale of the receiver
/// (Dutch for users). `details` is free-form context for developers; it must
/// not hold personal data in clear.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[error("{error_code}: {message}")]
pub struct VoipError {
    /// The stable code.
    pub error_code: ErrorCode,
    /// Human-readable text from the catalogue.
    pub message: String,
    /// Optional structured context (provider status, trunk name, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

impl VoipError {
    /// An error with the catalogue text of `code` in `locale`.
    pub fn new(code: ErrorCode, locale: Locale) -> Self {
        Self {
            error_code: code,
            message: code.message(locale, &[]),
            details: None,
        }
    }

    /// Adds structured details.
    #[must_use]
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }

    /// Severity of the code.
    pub fn severity(&self) -> Severity {
        self.error_code.severity()
    }

    /// SIP status of the code, if one applies.
    pub fn sip_status(&self) -> Option<u16> {
        self.error_code.sip_status()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::i18n::catalogue;

    const NL_ERRORS: &str = include_str!("../locales/nl-NL/errors.ftl");
    const EN_ERRORS: &str = include_str!("../locales/en/errors.ftl");

    fn is_upper_code(s: &str) -> bool {
        // ^[A-Z_]+$
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
    }

    fn is_dotted_code(s: &str) -> bool {
        // ^[a-z]+(\.[a-z_]+)+$
        let mut parts = s.split('.');
        let first_ok = parts
            .next()
            .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()));
        let rest: Vec<&str> = parts.collect();
        first_ok
            && !rest.is_empty()
            && rest
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
    }

    fn expected_message_id(code: &str) -> String {
        let body: String = code
            .chars()
            .map(|c| match c {
                '.' | '_' => '-',
                c => c.to_ascii_lowercase(),
            })
            .collect();
        format!("err-{body}")
    }

    /// Message ids defined in an `.ftl` source (lines `id = ...`).
    fn defined_ids(source: &str) -> Vec<&str> {
        source
            .lines()
            .filter(|l| !l.starts_with('#') && !l.starts_with(' '))
            .filter_map(|l| l.split_once(" =").map(|(id, _)| id.trim()))
            .filter(|id| !id.is_empty())
            .collect()
    }

    #[test]
    fn code_patterns_hold() {
        for code in ErrorCode::ALL {
            let s = code.as_str();
            if s.contains('.') {
                assert!(
                    is_dotted_code(s),
                    "{s} does not match ^[a-z]+(\\.[a-z_]+)+$"
                );
            } else {
                assert!(is_upper_code(s), "{s} does not match ^[A-Z_]+$");
            }
        }
    }

    #[test]
    fn pattern_checks_reject_bad_codes() {
        for bad in [
            "", "busy", "Busy", "BUSY-1", "trunk", "trunk.", "Trunk.x", "a..b", "a.b-c",
        ] {
            assert!(
                !(is_upper_code(bad) || is_dotted_code(bad)),
                "{bad} accepted"
            );
        }
        assert!(is_dotted_code("media.no_common_codec"));
        assert!(is_upper_code("NO_ANSWER"));
    }

    #[test]
    fn codes_and_message_ids_are_unique() {
        let codes: HashSet<_> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(codes.len(), ErrorCode::ALL.len());
        let ids: HashSet<_> = ErrorCode::ALL.iter().map(|c| c.message_id()).collect();
        assert_eq!(ids.len(), ErrorCode::ALL.len());
    }

    #[test]
    fn message_ids_follow_from_codes() {
        for code in ErrorCode::ALL {
            assert_eq!(
                code.message_id(),
                expected_message_id(code.as_str()),
                "{code}"
            );
        }
    }

    #[test]
    fn codes_round_trip_through_from_str_and_serde() {
        for &code in ErrorCode::ALL {
            assert_eq!(code.as_str().parse::<ErrorCode>(), Ok(code));
            assert_eq!(code.to_string(), code.as_str());
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert_eq!(serde_json::from_str::<ErrorCode>(&json).unwrap(), code);
        }
    }

    #[test]
    fn unknown_codes_are_rejected() {
        assert_eq!(
            "busy".parse::<ErrorCode>(),
            Err(UnknownErrorCode {
                code: "busy".to_owned()
            })
        );
        assert!(serde_json::from_str::<ErrorCode>(r#""trunk.gone""#).is_err());
    }

    #[test]
    fn every_code_has_a_dutch_and_an_english_message() {
        for locale in [Locale::NlNl, Locale::En] {
            let cat = catalogue(locale);
            let missing: Vec<_> = ErrorCode::ALL
                .iter()
                .filter(|c| !cat.has(c.message_id()))
                .map(|c| c.message_id())
                .collect();
            assert!(missing.is_empty(), "{} lacks {missing:?}", locale.tag());
        }
    }

    #[test]
    fn messages_need_no_arguments() {
        for locale in [Locale::NlNl, Locale::En] {
            for code in ErrorCode::ALL {
                let text = code.message(locale, &[]);
                assert!(!text.is_empty() && !text.starts_with('['), "{code}: {text}");
                assert!(!text.contains('{'), "{code} in {}: {text}", locale.tag());
            }
        }
    }

    #[test]
    fn dutch_and_english_texts_differ() {
        for code in ErrorCode::ALL {
            assert_ne!(
                code.message(Locale::NlNl, &[]),
                code.message(Locale::En, &[]),
                "{code}: Dutch text looks untranslated"
            );
        }
    }

    #[test]
    fn catalogue_files_hold_no_orphan_error_messages() {
        let known: HashSet<&str> = ErrorCode::ALL.iter().map(|c| c.message_id()).collect();
        for (name, source) in [("nl-NL", NL_ERRORS), ("en", EN_ERRORS)] {
            for id in defined_ids(source) {
                if id.starts_with("err-") {
                    assert!(known.contains(id), "{name}/errors.ftl: {id} has no code");
                }
            }
        }
    }

    #[test]
    fn severities_have_labels_and_order() {
        for s in Severity::ALL {
            assert!(catalogue(Locale::NlNl).has(s.message_id()), "{s}");
            assert!(catalogue(Locale::En).has(s.message_id()), "{s}");
        }
        assert_eq!(Severity::Warning.label(Locale::NlNl), "Waarschuwing");
        assert!(Severity::Info < Severity::Warning);
        assert!(Severity::Error < Severity::Critical);
        assert_eq!(
            serde_json::to_string(&Severity::Critical).unwrap(),
            r#""critical""#
        );
    }

    #[test]
    fn selected_sip_statuses_and_severities() {
        let table: &[(ErrorCode, Option<u16>, Severity)] = &[
            (ErrorCode::Busy, Some(486), Severity::Info),
            (ErrorCode::NoAnswer, Some(480), Severity::Info),
            (ErrorCode::PermissionDenied, Some(403), Severity::Info),
            (ErrorCode::NumberInvalid, Some(484), Severity::Info),
            (ErrorCode::DestinationBlocked, Some(403), Severity::Info),
            (ErrorCode::TrunkUnavailable, Some(503), Severity::Error),
            (ErrorCode::MaxConcurrentCalls, Some(503), Severity::Warning),
            (ErrorCode::RateLimited, Some(503), Severity::Warning),
            (ErrorCode::Unsupported, Some(501), Severity::Warning),
            (ErrorCode::MediaNoCommonCodec, Some(488), Severity::Warning),
            (ErrorCode::RegistrarSourceBanned, None, Severity::Warning),
            (ErrorCode::EmergencyNoTrunk, Some(503), Severity::Critical),
            (ErrorCode::UplinkDisconnected, None, Severity::Warning),
        ];
        for (code, sip, severity) in table {
            assert_eq!(code.sip_status(), *sip, "{code}");
            assert_eq!(code.severity(), *severity, "{code}");
        }
        for code in ErrorCode::ALL {
            if let Some(status) = code.sip_status() {
                assert!(
                    (400..700).contains(&status),
                    "{code}: {status} is no failure"
                );
            }
        }
    }

    #[test]
    fn voip_error_json_has_exact_field_names() {
        let err = VoipError::new(ErrorCode::Busy, Locale::NlNl)
            .with_details(serde_json::json!({ "provider_status": 486 }));
        assert_eq!(err.message, "De gebelde persoon is in gesprek.");
        let value = serde_json::to_value(&err).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "error_code": "BUSY",
                "message": "De gebelde persoon is in gesprek.",
                "details": { "provider_status": 486 }
            })
        );
        let back: VoipError = serde_json::from_value(value).unwrap();
        assert_eq!(back, err);
    }

    #[test]
    fn voip_error_without_details_omits_and_accepts_missing_field() {
        let err = VoipError::new(ErrorCode::TrunkUnreachable, Locale::En);
        let json = serde_json::to_string(&err).unwrap();
        assert!(!json.contains("details"), "{json}");
        let back: VoipError =
            serde_json::from_str(r#"{"error_code":"trunk.unreachable","message":"x"}"#).unwrap();
        assert_eq!(back.error_code, ErrorCode::TrunkUnreachable);
        assert_eq!(back.details, None);
    }

    #[test]
    fn voip_error_displays_code_and_message() {
        let err = VoipError::new(ErrorCode::NoAnswer, Locale::NlNl);
        assert_eq!(err.to_string(), format!("NO_ANSWER: {}", err.message));
        let dyn_err: &dyn std::error::Error = &err;
        assert!(dyn_err.source().is_none());
        assert_eq!(err.severity(), Severity::Info);
        assert_eq!(err.sip_status(), Some(480));
    }
}
