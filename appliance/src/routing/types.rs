//! The inputs and outputs of routing.

use std::time::Duration;

use time::Date;
use voip_shared::error::ErrorCode;
use voip_shared::mqtt::{Decision, PermissionDecision as EventPermission};
use voip_shared::number::NumberClass;

/// Who places a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A registered desk phone or browser user of this appliance.
    Extension {
        /// The caller's extension number.
        number: String,
    },
    /// A call coming in on a trunk.
    Trunk {
        /// Id of the trunk the call came in on.
        trunk_id: String,
        /// The called number as the provider sent it (the To user or the
        /// Request-URI user), in any common form: `+31301234567`,
        /// `0031301234567`, `31301234567`, `0301234567`. Personal data.
        did: String,
    },
}

/// One call to route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRequest {
    /// Who calls.
    pub origin: Origin,
    /// The Request-URI user part as received. For trunk calls it is a second
    /// candidate for the DID when [`Origin::Trunk::did`] matches none
    /// (providers that send the INVITE to the registered contact). Personal
    /// data.
    pub dialled: String,
    /// The appliance's local date now; daily minutes count per local date.
    pub today: Date,
}

/// Where a call goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteDecision {
    /// Ring an extension of this appliance (the shell looks up its
    /// registered contacts).
    Extension {
        /// The extension number.
        number: String,
    },
    /// Out through these trunks, in this order. The B2BUA fails over to the
    /// next trunk on a timeout, 408 or a 5xx/6xx-class provider failure, not
    /// on 486, 404 or 603.
    Trunks {
        /// Trunk ids, most preferred first.
        trunk_ids: Vec<String>,
        /// The number to send to the trunk: E.164 with `+` for external
        /// numbers, the digits as typed for national-only numbers, `112` for
        /// emergency calls (see the [module docs](super)). Personal data.
        dial: String,
        /// Whether this is an emergency call.
        emergency: bool,
    },
    /// Answer with the echo test.
    EchoTest,
    /// Refuse the call.
    Reject {
        /// The SIP status to answer with.
        status: u16,
        /// The catalogue code (for the CDR and the caller's display).
        code: ErrorCode,
    },
}

/// Why a call was allowed or denied: a stable dotted reason code for the
/// call record's `permission.reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PermissionReason {
    /// The caller's profile allows the number's class
    /// (`permission.class_allowed`).
    ClassAllowed,
    /// An emergency call, always allowed (`permission.emergency`).
    Emergency,
    /// The echo test, always allowed (`permission.echo_test`).
    EchoTest,
    /// An inbound trunk call to a DID; no profile applies
    /// (`permission.inbound`).
    Inbound,
    /// The caller's profile does not allow the class
    /// (`permission.<class>_denied`, e.g. `permission.premium_denied`).
    ClassDenied(NumberClass),
    /// The caller has as many active calls as the profile allows
    /// (`permission.concurrent_limit`).
    ConcurrentLimit,
    /// The caller used up the profile's daily minutes
    /// (`permission.daily_limit`).
    DailyLimit,
    /// No dial plan rule matches (`routing.no_rule`).
    NoRule,
    /// The (rewritten) number is not a valid number (`routing.number_invalid`).
    NumberInvalid,
    /// The dial plan points to an extension that does not exist
    /// (`routing.unknown_extension`).
    UnknownExtension,
    /// The DID is not one of the trunk's (`routing.unknown_did`).
    UnknownDid,
    /// The calling extension or trunk, or the caller's permission profile,
    /// is not in the site configuration (`routing.unknown_caller`).
    UnknownCaller,
}

impl PermissionReason {
    /// The stable dotted reason code.
    pub const fn as_str(self) -> &'static str {
        match self {
            PermissionReason::ClassAllowed => "permission.class_allowed",
            PermissionReason::Emergency => "permission.emergency",
            PermissionReason::EchoTest => "permission.echo_test",
            PermissionReason::Inbound => "permission.inbound",
            PermissionReason::ClassDenied(class) => match class {
                NumberClass::Internal => "permission.internal_denied",
                NumberClass::Emergency => "permission.emergency_denied",
                NumberClass::NationalFixed => "permission.national_fixed_denied",
                NumberClass::Mobile => "permission.mobile_denied",
                NumberClass::Service => "permission.service_denied",
                NumberClass::Premium => "permission.premium_denied",
                NumberClass::International => "permission.international_denied",
                NumberClass::Invalid => "routing.number_invalid",
            },
            PermissionReason::ConcurrentLimit => "permission.concurrent_limit",
            PermissionReason::DailyLimit => "permission.daily_limit",
            PermissionReason::NoRule => "routing.no_rule",
            PermissionReason::NumberInvalid => "routing.number_invalid",
            PermissionReason::UnknownExtension => "routing.unknown_extension",
            PermissionReason::UnknownDid => "routing.unknown_did",
            PermissionReason::UnknownCaller => "routing.unknown_caller",
        }
    }

    /// Whether the reason allows the call.
    pub const fn allows(self) -> bool {
        matches!(
            self,
            PermissionReason::ClassAllowed
                | PermissionReason::Emergency
                | PermissionReason::EchoTest
                | PermissionReason::Inbound
        )
    }
}

impl std::fmt::Display for PermissionReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The permission decision for the call record.
///
/// `allowed` says whether the caller may make this call; a call that is
/// allowed can still be refused for want of a trunk (the
/// [`RouteDecision`] says so). Refusals by the dial plan (no rule, invalid
/// number, unknown DID) are `allowed: false` with a `routing.*` reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PermissionDecision {
    /// Whether the call is allowed.
    pub allowed: bool,
    /// Why.
    pub reason: PermissionReason,
}

impl PermissionDecision {
    /// The decision `reason` implies.
    pub const fn from_reason(reason: PermissionReason) -> Self {
        Self {
            allowed: reason.allows(),
            reason,
        }
    }

    /// The form the `call_record` event carries.
    pub fn to_event(self) -> EventPermission {
        EventPermission {
            decision: if self.allowed {
                Decision::Allowed
            } else {
                Decision::Denied
            },
            reason: self.reason.as_str().to_owned(),
        }
    }
}

/// What [`RoutingState::call_started`](super::RoutingState::call_started) needs to book a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallAccount {
    /// The extension that placed the call; `None` for inbound trunk calls.
    pub caller_extension: Option<String>,
    /// Whether the call's duration counts toward the caller's daily minutes
    /// (outbound, non-emergency trunk calls).
    pub metered: bool,
}

/// The full answer of routing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteOutcome {
    /// Where the call goes.
    pub decision: RouteDecision,
    /// The permission decision for the call record.
    pub permission: PermissionDecision,
    /// Class of the number the call goes to (after the dial plan rewrite);
    /// `None` for inbound trunk calls.
    pub number_class: Option<NumberClass>,
    /// Name of the dial plan rule that matched; `None` when the dial plan
    /// was not consulted (emergency, echo test number, inbound) or no rule
    /// matched.
    pub rule_name: Option<String>,
    /// The longest the call may last; the B2BUA hangs up then. `None`: no
    /// limit (emergency and inbound calls).
    pub max_duration: Option<Duration>,
    /// How to book the call when it starts; `None` for rejected calls.
    pub account: Option<CallAccount>,
}

impl RouteOutcome {
    /// Whether the call is refused.
    pub fn is_reject(&self) -> bool {
        matches!(self.decision, RouteDecision::Reject { .. })
    }
}

/// The answer of [`dry_run`](super::dry_run): the same fields as a
/// [`RouteOutcome`], computed without live state (every trunk counts as up,
/// no call is active, no minute is used).
pub type Explanation = RouteOutcome;
