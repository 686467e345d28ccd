//! Which recording policy applies to a call, and when an on-demand
//! recording starts.
//!
//! Precedence: a policy set for the call itself (click-to-call API,
//! command) wins over the extensions' policies, which win over the trunk's.
//! Of the two extensions of an internal call the caller's policy is used,
//! else the callee's. In `on_demand` mode a participant starts the
//! recording by dialling the policy's DTMF code (digits within
//! [`DIGIT_TIMEOUT`] of each other) or the cloud sends `start_recording`;
//! `never` cannot be overridden by either.

use std::time::{Duration, Instant};

use voip_shared::site_config::{RecordingMode, RecordingPolicy};

/// Longest pause between two digits of the on-demand code.
pub const DIGIT_TIMEOUT: Duration = Duration::from_secs(3);

/// The policies that may apply to one call.
#[derive(Debug, Clone, Copy, Default)]
pub struct CallPolicies<'a> {
    /// Set for this call (API or command).
    pub call: Option<&'a RecordingPolicy>,
    /// The calling extension's.
    pub caller_extension: Option<&'a RecordingPolicy>,
    /// The called extension's.
    pub callee_extension: Option<&'a RecordingPolicy>,
    /// The trunk's.
    pub trunk: Option<&'a RecordingPolicy>,
}

/// The policy that applies: call > caller extension > callee extension >
/// trunk; `None` (no recording) when none is set.
pub fn resolve<'a>(policies: &CallPolicies<'a>) -> Option<&'a RecordingPolicy> {
    policies
        .call
        .or(policies.caller_extension)
        .or(policies.callee_extension)
        .or(policies.trunk)
}

/// What the call should do about recording right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Do not record (policy `never`, no policy, or on demand and not yet
    /// asked).
    Off,
    /// Record; play the consent announcement first when `consent`.
    Record {
        /// Play the announcement to both parties first.
        consent: bool,
    },
}

/// Why an on-demand start request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StartRefused {
    /// The policy is `never` (or there is none).
    #[error("recording is not allowed for this call")]
    NotAllowed,
    /// Already recording.
    #[error("the call is already being recorded")]
    AlreadyRecording,
}

/// Recording state of one call: start decision plus the on-demand DTMF
/// matcher. Sans-IO: DTMF digits and commands come in with `now`.
#[derive(Debug, Clone)]
pub struct CallRecording {
    mode: RecordingMode,
    consent: bool,
    code: Vec<char>,
    matched: usize,
    last_digit: Option<Instant>,
    recording: bool,
}

impl CallRecording {
    /// The state for a call under `policy` (`None`: never record).
    pub fn new(policy: Option<&RecordingPolicy>) -> Self {
        let (mode, consent, code) = policy.map_or((RecordingMode::Never, false, Vec::new()), |p| {
            (
                p.mode,
                p.consent_announcement,
                p.on_demand_dtmf
                    .chars()
                    .map(|c| c.to_ascii_uppercase())
                    .collect(),
            )
        });
        Self {
            mode,
            consent,
            code,
            matched: 0,
            last_digit: None,
            recording: false,
        }
    }

    /// Whether the call is being recorded.
    pub fn is_recording(&self) -> bool {
        self.recording
    }

    /// The decision when the call is about to be connected: `always`
    /// records from the start.
    pub fn on_connect(&mut self) -> Decision {
        if self.mode == RecordingMode::Always && !self.recording {
            self.recording = true;
            return Decision::Record {
                consent: self.consent,
            };
        }
        Decision::Off
    }

    /// A DTMF digit from either party. Returns the start decision when the
    /// digit completes the on-demand code.
    pub fn handle_dtmf(&mut self, now: Instant, digit: char) -> Decision {
        if self.mode != RecordingMode::OnDemand || self.recording || self.code.is_empty() {
            return Decision::Off;
        }
        if self
            .last_digit
            .is_some_and(|t| now.saturating_duration_since(t) > DIGIT_TIMEOUT)
        {
            self.matched = 0;
        }
        self.last_digit = Some(now);
        let digit = digit.to_ascii_uppercase();
        if self.code[self.matched] == digit {
            self.matched += 1;
        } else {
            // Restart; the digit may begin the code itself ("**1").
            self.matched = usize::from(self.code[0] == digit);
        }
        if self.matched == self.code.len() {
            self.matched = 0;
            self.recording = true;
            return Decision::Record {
                consent: self.consent,
            };
        }
        Decision::Off
    }

    /// The `start_recording` command.
    pub fn handle_start_command(&mut self) -> Result<Decision, StartRefused> {
        match self.mode {
            RecordingMode::Never => Err(StartRefused::NotAllowed),
            _ if self.recording => Err(StartRefused::AlreadyRecording),
            _ => {
                self.recording = true;
                Ok(Decision::Record {
                    consent: self.consent,
                })
            }
        }
    }

    /// The `stop_recording` command; returns whether a recording was
    /// running.
    pub fn handle_stop_command(&mut self) -> bool {
        std::mem::take(&mut self.recording)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use voip_shared::site_config::{RawRecordingPolicy, RecordingFormat};

    fn policy(name: &str, mode: RecordingMode, consent: bool) -> RecordingPolicy {
        // Built through the site configuration so the test uses validated
        // values (the struct is non-exhaustive).
        let raw = RawRecordingPolicy {
            name: name.to_owned(),
            mode,
            consent_announcement: Some(consent),
            format: Some(RecordingFormat::Wav),
            retention_days: None,
            on_demand_dtmf: Some("*1".to_owned()),
        };
        crate::recording::testing_policy(raw)
    }

    #[test]
    fn call_beats_extension_beats_trunk() {
        let call = policy("call", RecordingMode::Never, false);
        let ext_a = policy("caller", RecordingMode::Always, true);
        let ext_b = policy("callee", RecordingMode::OnDemand, true);
        let trunk = policy("trunk", RecordingMode::Always, false);
        let mut p = CallPolicies {
            call: Some(&call),
            caller_extension: Some(&ext_a),
            callee_extension: Some(&ext_b),
            trunk: Some(&trunk),
        };
        assert_eq!(resolve(&p).map(|p| p.name.as_str()), Some("call"));
        p.call = None;
        assert_eq!(resolve(&p).map(|p| p.name.as_str()), Some("caller"));
        p.caller_extension = None;
        assert_eq!(resolve(&p).map(|p| p.name.as_str()), Some("callee"));
        p.callee_extension = None;
        assert_eq!(resolve(&p).map(|p| p.name.as_str()), Some("trunk"));
        p.trunk = None;
        assert!(resolve(&p).is_none());
    }

    #[test]
    fn always_records_on_connect_with_consent() {
        let p = policy("p", RecordingMode::Always, true);
        let mut r = CallRecording::new(Some(&p));
        assert_eq!(r.on_connect(), Decision::Record { consent: true });
        assert!(r.is_recording());
        assert_eq!(r.on_connect(), Decision::Off);
        assert!(CallRecording::new(None).on_connect() == Decision::Off);
    }

    #[test]
    fn on_demand_starts_on_the_dtmf_code_within_the_digit_timeout() {
        let t0 = Instant::now();
        let p = policy("p", RecordingMode::OnDemand, false);
        let mut r = CallRecording::new(Some(&p));
        assert_eq!(r.on_connect(), Decision::Off);
        // "*", then "1" too late: no start.
        assert_eq!(r.handle_dtmf(t0, '*'), Decision::Off);
        assert_eq!(
            r.handle_dtmf(t0 + Duration::from_secs(4), '1'),
            Decision::Off
        );
        // "5 * * 1": the second "*" restarts the code, then "1" completes it.
        let t1 = t0 + Duration::from_secs(10);
        for d in ['5', '*', '*'] {
            assert_eq!(r.handle_dtmf(t1, d), Decision::Off);
        }
        assert_eq!(r.handle_dtmf(t1, '1'), Decision::Record { consent: false });
        assert!(r.is_recording());
        assert_eq!(
            r.handle_start_command(),
            Err(StartRefused::AlreadyRecording)
        );
        assert!(r.handle_stop_command());
        assert!(!r.is_recording());
    }

    #[test]
    fn never_refuses_dtmf_and_commands() {
        let p = policy("p", RecordingMode::Never, true);
        let mut r = CallRecording::new(Some(&p));
        let t0 = Instant::now();
        assert_eq!(r.handle_dtmf(t0, '*'), Decision::Off);
        assert_eq!(r.handle_dtmf(t0, '1'), Decision::Off);
        assert_eq!(r.handle_start_command(), Err(StartRefused::NotAllowed));
        assert_eq!(r.on_connect(), Decision::Off);
        let od = policy("od", RecordingMode::OnDemand, true);
        assert_eq!(
            CallRecording::new(Some(&od)).handle_start_command(),
            Ok(Decision::Record { consent: true })
        );
    }
}
