//! Routing and permission decisions of the B2BUA, sans-IO.
//!
//! Given a [`CallRequest`] (who is calling, what was dialled, the local date),
//! the validated [`SiteConfig`](voip_shared::site_config::SiteConfig) and the
//! live [`RoutingState`] (active calls, minutes used today, trunk up/down),
//! [`RoutingState::route`] answers with a [`RouteOutcome`]: where the call
//! goes ([`RouteDecision`]), the permission decision for the call record
//! ([`PermissionDecision`]), the number class, the dial plan rule and the
//! longest the call may last. [`dry_run`] answers the same question for the
//! UI without live state. Nothing here does I/O or reads the clock.
//!
//! # Rules, in the order they are applied
//! 1. **Emergency.** An extension dialling a number that
//!    [`classify`](voip_shared::number::classify) calls
//!    [`NumberClass::Emergency`](voip_shared::number::NumberClass::Emergency)
//!    (`112`, `911`, `999`, `0112`, `+31 112`…), or whose dial plan rewrite
//!    is one, always goes out, whatever the profile, the daily minutes or the
//!    concurrency limit say: through every trunk of the site that is up, by
//!    ascending `priority` (most preferred first), and when none is up through
//!    every trunk by priority all the same (a trunk may be marked down
//!    wrongly). The trunks dial `112`. Only a site without any trunk refuses
//!    it (503 `emergency.no_trunk`). No duration limit applies.
//! 2. **Echo test.** The site's `echo_test_number` (default `*43`) answers
//!    with the echo test, before the dial plan. So does a dial plan rule with
//!    destination `echo_test`.
//! 3. **Extension callers** go through the dial plan (`DialPlan::dry_run`);
//!    the rewritten number is classified and the caller's permission profile
//!    must allow its class (else 403 `PERMISSION_DENIED`, reason
//!    `permission.<class>_denied`). For trunk destinations the profile's
//!    `max_concurrent_calls` (503 `MAX_CONCURRENT_CALLS`) and
//!    `daily_minutes` (403 `DAILY_LIMIT_REACHED`) are checked next, then the
//!    trunks of the rule that are down are skipped (none left: 503
//!    `TRUNK_UNAVAILABLE`). No matching rule, or a rewrite that is not a
//!    valid number: 484 `NUMBER_INVALID`. An extension destination that does
//!    not exist: 404 `NUMBER_INVALID`.
//! 4. **Trunk callers** ring the extension their DID maps to, looked up in
//!    the DIDs of the trunk the call came in on (unknown DID: 404
//!    `NUMBER_INVALID`). Inbound calls are not subject to any permission
//!    profile: neither the callee's limits nor its concurrency count refuse
//!    them (busy handling is the phone's business: it answers 486). They
//!    count toward [`RoutingState::active_total`] only. A trunk caller never
//!    reaches another trunk or the echo test (no toll fraud through the
//!    appliance).
//!
//! # What the trunk dials
//! No trunk option selects a number format (the site configuration has
//! none), so every trunk receives the rewritten number in the form
//! [`Classified::dial`](voip_shared::number::Classified::dial) gives it:
//! E.164 with a leading `+` (`+31201234567`) for every external number that
//! has one, the digits as typed for national-only numbers (municipal
//! `14020`), and `112` for emergency calls. The numbering plan is the
//! default [`DialPlanContext`](voip_shared::number::DialPlanContext)
//! (Netherlands, extensions of 2 to 6 digits).
//!
//! # Limits and bookkeeping
//! - The concurrency limit counts every call the extension placed that is
//!   still active (internal, outbound and emergency calls alike), but it is
//!   only enforced when the extension places a (non-emergency) trunk call.
//!   Internal calls cost nothing and are never refused by limits.
//! - Daily minutes count the seconds of outbound non-emergency trunk calls
//!   of the extension, per local date: the shell passes the local date
//!   (`today`) with every request and every [`RoutingState::call_ended`], and
//!   the count starts at zero on a new date. A call is charged to the date it
//!   ends on. The limit is reached once the used seconds reach
//!   `daily_minutes × 60`.
//! - [`RouteOutcome::max_duration`] is the caller profile's
//!   `max_call_duration`, shortened for metered calls to what is left of the
//!   daily minutes, so the B2BUA can hang up at the limit.
//! - Trunks whose state was never reported count as up: failover covers a
//!   trunk that is not, and a fresh boot does not refuse calls.
//! - After a non-rejecting decision, the shell calls
//!   [`RoutingState::call_started`] with [`RouteOutcome::account`] and later
//!   [`RoutingState::call_ended`] with the call's duration.
//!
//! Phone numbers in requests and outcomes are personal data: never log them
//! in clear (wrap them in `voip_shared::pii::Pii`).

mod decide;
mod did;
mod state;
mod types;

pub use decide::dry_run;
pub use did::normalise_did;
pub use state::RoutingState;
pub use types::{
    CallAccount, CallRequest, Explanation, Origin, PermissionDecision, PermissionReason,
    RouteDecision, RouteOutcome,
};
