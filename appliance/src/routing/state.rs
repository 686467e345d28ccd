//! Live routing state: active calls, minutes used today, trunk up/down.

use std::collections::HashMap;
use std::time::Duration;

use time::Date;
use voip_shared::site_config::SiteConfig;

use super::decide::{Live, decide};
use super::types::{CallAccount, CallRequest, RouteOutcome};

/// The live state routing decisions depend on. Owned by the B2BUA shell; no
/// I/O, no clock: dates come in as arguments.
#[derive(Debug, Clone, Default)]
pub struct RoutingState {
    /// Reported trunk states; absent means never reported (counts as up).
    trunk_up: HashMap<String, bool>,
    /// Active calls by call reference.
    calls: HashMap<String, CallAccount>,
    /// The local date `used` belongs to.
    day: Option<Date>,
    /// Metered time used on `day`, per extension.
    used: HashMap<String, Duration>,
}

impl RoutingState {
    /// Empty state: no calls, no minutes used, every trunk up.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records whether a trunk is up (the trunk core's `is_up()`).
    pub fn set_trunk_up(&mut self, trunk_id: &str, up: bool) {
        self.trunk_up.insert(trunk_id.to_owned(), up);
    }

    /// Whether a trunk counts as up; a trunk never reported counts as up.
    pub fn is_trunk_up(&self, trunk_id: &str) -> bool {
        self.trunk_up.get(trunk_id).copied().unwrap_or(true)
    }

    /// Routes a call with the live state. See the [module docs](super) for
    /// the rules.
    pub fn route(&self, site: &SiteConfig, request: &CallRequest) -> RouteOutcome {
        decide(
            site,
            Some(Live {
                state: self,
                today: request.today,
            }),
            &request.origin,
            &request.dialled,
        )
    }

    /// Books a call that was set up after a non-rejecting decision, with
    /// that decision's [`RouteOutcome::account`]. Starting a reference that
    /// is already active replaces its account (no double counting).
    pub fn call_started(&mut self, call_ref: &str, account: CallAccount) {
        self.calls.insert(call_ref.to_owned(), account);
    }

    /// Ends a call: it no longer counts as active, and for a metered call
    /// `duration` is added to the caller's usage of `today` (the local date
    /// the call ended on). Returns `false` for an unknown reference, which
    /// changes nothing.
    pub fn call_ended(&mut self, call_ref: &str, duration: Duration, today: Date) -> bool {
        let Some(account) = self.calls.remove(call_ref) else {
            return false;
        };
        if let (true, Some(ext)) = (account.metered, account.caller_extension) {
            self.roll_day(today);
            let used = self.used.entry(ext).or_default();
            *used = used.saturating_add(duration);
        }
        true
    }

    /// Active calls placed by `extension`.
    pub fn active_calls(&self, extension: &str) -> usize {
        self.calls
            .values()
            .filter(|a| a.caller_extension.as_deref() == Some(extension))
            .count()
    }

    /// All active calls, inbound ones included.
    pub fn active_total(&self) -> usize {
        self.calls.len()
    }

    /// Metered time `extension` used on `today` (zero on any other date than
    /// the one last booked).
    pub fn used_on(&self, extension: &str, today: Date) -> Duration {
        if self.day != Some(today) {
            return Duration::ZERO;
        }
        self.used.get(extension).copied().unwrap_or_default()
    }

    /// Starts a new count when `today` is later than the date counted so
    /// far; a call reported with an earlier date (clock stepped back) is
    /// charged to the current count.
    fn roll_day(&mut self, today: Date) {
        if self.day.is_none_or(|day| today > day) {
            self.used.clear();
            self.day = Some(today);
        }
    }
}
