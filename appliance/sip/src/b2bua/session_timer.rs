//! RFC 4028 session timers, per leg: header parsing, the negotiated
//! interval and refresher, and when to refresh or give up.

use std::time::{Duration, Instant};

use crate::header::Supported;
use crate::message::{HeaderName, Headers};

/// Our `Min-SE` (seconds): the RFC 4028 minimum. A request asking for less
/// is refused with 422.
pub(crate) const MIN_SE: u32 = 90;
/// The interval we ask for on a B-leg when A brought none (seconds).
pub(crate) const DEFAULT_SE: u32 = 1800;

/// Who refreshes, as written in the `refresher` parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refresher {
    Uac,
    Uas,
}

impl Refresher {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Refresher::Uac => "uac",
            Refresher::Uas => "uas",
        }
    }
}

/// A parsed `Session-Expires` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SessionExpires {
    pub(crate) interval: u32,
    pub(crate) refresher: Option<Refresher>,
}

/// `Session-Expires: 1800;refresher=uac` (compact `x`); `None` when absent
/// or malformed (a malformed value is treated as absent).
pub(crate) fn session_expires(headers: &Headers) -> Option<SessionExpires> {
    let value = headers.get(&HeaderName::SESSION_EXPIRES)?;
    let mut parts = value.split(';');
    let interval = parts
        .next()?
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|&v| v > 0)?;
    let refresher = parts.find_map(|p| {
        let (name, value) = p.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("refresher") {
            return None;
        }
        match value.trim().to_ascii_lowercase().as_str() {
            "uac" => Some(Refresher::Uac),
            "uas" => Some(Refresher::Uas),
            _ => None,
        }
    });
    Some(SessionExpires {
        interval,
        refresher,
    })
}

/// The `Min-SE` value, if present and numeric.
pub(crate) fn min_se(headers: &Headers) -> Option<u32> {
    headers
        .get(&HeaderName::MIN_SE)?
        .split(';')
        .next()?
        .trim()
        .parse()
        .ok()
}

/// Whether `Supported` lists `timer`.
pub(crate) fn supports_timer(headers: &Headers) -> bool {
    headers
        .typed_all::<Supported>()
        .flatten()
        .any(|s| s.0.eq_ignore_ascii_case("timer"))
}

/// Whether `Allow` lists `UPDATE`.
pub(crate) fn allows_update(headers: &Headers) -> bool {
    headers.get_all(&HeaderName::ALLOW).any(|v| {
        v.split(',')
            .any(|m| m.trim().eq_ignore_ascii_case("UPDATE"))
    })
}

/// The session timer of one leg.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "four independent facts of one leg, not a state machine"
)]
pub(crate) struct LegTimer {
    /// Negotiated interval (seconds).
    pub(crate) interval: u32,
    /// Whether we are the refresher on this leg.
    pub(crate) we_refresh: bool,
    /// Refresh with UPDATE (the peer allows it) rather than re-INVITE.
    pub(crate) use_update: bool,
    /// Whether the peer supports `timer` (then our 2xx to its refreshes
    /// carries `Require: timer`).
    pub(crate) peer_supports: bool,
    /// When we send the next refresh (we refresh: half the interval).
    pub(crate) refresh_at: Option<Instant>,
    /// When the session is over without a refresh: the interval when we
    /// refresh (our refresh failed silently), else the interval minus
    /// min(32 s, interval / 3) (RFC 4028 section 10).
    pub(crate) expire_at: Instant,
    /// Our refresh is under way.
    pub(crate) refreshing: bool,
}

impl LegTimer {
    pub(crate) fn new(
        now: Instant,
        interval: u32,
        we_refresh: bool,
        use_update: bool,
        peer_supports: bool,
    ) -> LegTimer {
        let mut t = LegTimer {
            interval,
            we_refresh,
            use_update,
            peer_supports,
            refresh_at: None,
            expire_at: now,
            refreshing: false,
        };
        t.restart(now);
        t
    }

    /// A refresh succeeded (ours or the peer's) at `now`.
    pub(crate) fn restart(&mut self, now: Instant) {
        let interval = Duration::from_secs(u64::from(self.interval));
        self.refreshing = false;
        if self.we_refresh {
            self.refresh_at = Some(now + interval / 2);
            self.expire_at = now + interval;
        } else {
            self.refresh_at = None;
            let guard = Duration::from_secs(u64::from((self.interval / 3).min(32)));
            self.expire_at = now + interval.saturating_sub(guard);
        }
    }

    /// The next instant this timer needs attention.
    pub(crate) fn next(&self) -> Instant {
        match self.refresh_at {
            Some(r) if !self.refreshing => r.min(self.expire_at),
            _ => self.expire_at,
        }
    }

    /// The `Session-Expires` value for a request we send on this leg
    /// (`as_uac`) or a response we send to the peer's request: the
    /// `refresher` names the transaction role of whoever refreshes.
    pub(crate) fn header_value(&self, as_uac: bool) -> String {
        let refresher = if self.we_refresh == as_uac {
            Refresher::Uac
        } else {
            Refresher::Uas
        };
        format!("{};refresher={}", self.interval, refresher.as_str())
    }
}
