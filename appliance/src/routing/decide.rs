//! The decision core: pure functions of the site configuration, the
//! (optional) live state and the request.

use std::time::Duration;

use time::Date;
use voip_shared::error::ErrorCode;
use voip_shared::number::{Classified, DialPlanContext, EMERGENCY_NUMBER, NumberClass, classify};
use voip_shared::site_config::{Destination, PermissionProfile, SiteConfig};

use super::did::normalise_did;
use super::state::RoutingState;
use super::types::{
    CallAccount, Explanation, Origin, PermissionDecision, PermissionReason, RouteDecision,
    RouteOutcome,
};

/// Live state and the local date, for decisions that check limits and
/// trunk states.
#[derive(Debug, Clone, Copy)]
pub(super) struct Live<'a> {
    pub(super) state: &'a RoutingState,
    pub(super) today: Date,
}

/// How `dialled` from `origin` would be routed, for the UI: which rule,
/// which class, allowed or why not. Pure: ignores live state (every trunk
/// counts as up, no limit is reached), so a call may still be refused for
/// a limit or a trunk outage that this does not show.
pub fn dry_run(site: &SiteConfig, origin: &Origin, dialled: &str) -> Explanation {
    decide(site, None, origin, dialled)
}

/// Routes `dialled` from `origin`. With `live == None` limits and trunk
/// states are not checked.
pub(super) fn decide(
    site: &SiteConfig,
    live: Option<Live<'_>>,
    origin: &Origin,
    dialled: &str,
) -> RouteOutcome {
    match origin {
        Origin::Extension { number } => from_extension(site, live, number, dialled),
        Origin::Trunk { trunk_id, did } => from_trunk(site, trunk_id, did, dialled),
    }
}

/// Partial outcome under construction: class and rule known so far.
struct Builder {
    number_class: Option<NumberClass>,
    rule_name: Option<String>,
    account: CallAccount,
}

impl Builder {
    fn reject(self, status: u16, code: ErrorCode, reason: PermissionReason) -> RouteOutcome {
        self.reject_with(status, code, PermissionDecision::from_reason(reason))
    }

    fn reject_with(
        self,
        status: u16,
        code: ErrorCode,
        permission: PermissionDecision,
    ) -> RouteOutcome {
        RouteOutcome {
            decision: RouteDecision::Reject { status, code },
            permission,
            number_class: self.number_class,
            rule_name: self.rule_name,
            max_duration: None,
            account: None,
        }
    }

    fn accept(
        self,
        decision: RouteDecision,
        reason: PermissionReason,
        max_duration: Option<Duration>,
    ) -> RouteOutcome {
        RouteOutcome {
            decision,
            permission: PermissionDecision::from_reason(reason),
            number_class: self.number_class,
            rule_name: self.rule_name,
            max_duration,
            account: Some(self.account),
        }
    }
}

/// The SIP status of a catalogue code, or `fallback` when it has none.
fn status_of(code: ErrorCode, fallback: u16) -> u16 {
    code.sip_status().unwrap_or(fallback)
}

fn trunk_up(live: Option<Live<'_>>, trunk_id: &str) -> bool {
    live.is_none_or(|l| l.state.is_trunk_up(trunk_id))
}

fn from_extension(
    site: &SiteConfig,
    live: Option<Live<'_>>,
    caller: &str,
    dialled: &str,
) -> RouteOutcome {
    let ctx = DialPlanContext::default();
    let dialled_class = classify(dialled, &ctx);
    let mut b = Builder {
        number_class: Some(dialled_class.class),
        rule_name: None,
        account: CallAccount {
            caller_extension: Some(caller.to_owned()),
            metered: false,
        },
    };
    // Emergency first: nothing about the caller may stand in its way, not
    // even an unknown caller or a missing profile.
    if dialled_class.class == NumberClass::Emergency {
        return emergency(site, live, b);
    }
    let Some(profile) = site
        .extension(caller)
        .and_then(|e| site.permission_profile(&e.permission_profile))
    else {
        return b.reject(
            status_of(ErrorCode::PermissionDenied, 403),
            ErrorCode::PermissionDenied,
            PermissionReason::UnknownCaller,
        );
    };
    if dialled == site.echo_test_number {
        return b.accept(
            RouteDecision::EchoTest,
            PermissionReason::EchoTest,
            Some(profile.max_call_duration),
        );
    }
    let Some(matched) = site.dial_plan.dry_run(dialled) else {
        return b.reject(
            status_of(ErrorCode::NumberInvalid, 484),
            ErrorCode::NumberInvalid,
            PermissionReason::NoRule,
        );
    };
    b.rule_name = Some(matched.rule_name.to_owned());
    match matched.destination {
        Destination::EchoTest => b.accept(
            RouteDecision::EchoTest,
            PermissionReason::EchoTest,
            Some(profile.max_call_duration),
        ),
        Destination::Extension => {
            b.number_class = Some(NumberClass::Internal);
            if site.extension(&matched.rewritten).is_none() {
                return b.reject(
                    404,
                    ErrorCode::NumberInvalid,
                    PermissionReason::UnknownExtension,
                );
            }
            if !profile.allows(NumberClass::Internal) {
                return deny_class(b, NumberClass::Internal);
            }
            b.accept(
                RouteDecision::Extension {
                    number: matched.rewritten,
                },
                PermissionReason::ClassAllowed,
                Some(profile.max_call_duration),
            )
        }
        Destination::TrunkGroup(group) => {
            let target = classify(&matched.rewritten, &ctx);
            b.number_class = Some(target.class);
            match target.class {
                NumberClass::Emergency => emergency(site, live, b),
                NumberClass::Invalid => b.reject(
                    status_of(ErrorCode::NumberInvalid, 484),
                    ErrorCode::NumberInvalid,
                    PermissionReason::NumberInvalid,
                ),
                class if !profile.allows(class) => deny_class(b, class),
                _ => outbound(site, live, profile, caller, group, &target, b),
            }
        }
    }
}

fn deny_class(b: Builder, class: NumberClass) -> RouteOutcome {
    b.reject(
        status_of(ErrorCode::PermissionDenied, 403),
        ErrorCode::PermissionDenied,
        PermissionReason::ClassDenied(class),
    )
}

/// A permitted, non-emergency trunk call: limits, then trunk states.
fn outbound(
    site: &SiteConfig,
    live: Option<Live<'_>>,
    profile: &PermissionProfile,
    caller: &str,
    group: &[String],
    target: &Classified,
    mut b: Builder,
) -> RouteOutcome {
    let mut max_duration = profile.max_call_duration;
    if let Some(live) = live {
        let limit = usize::try_from(profile.max_concurrent_calls).unwrap_or(usize::MAX);
        if live.state.active_calls(caller) >= limit {
            return b.reject(
                status_of(ErrorCode::MaxConcurrentCalls, 503),
                ErrorCode::MaxConcurrentCalls,
                PermissionReason::ConcurrentLimit,
            );
        }
        if let Some(minutes) = profile.daily_minutes {
            let allowance = Duration::from_secs(u64::from(minutes) * 60);
            let used = live.state.used_on(caller, live.today);
            if used >= allowance {
                return b.reject(
                    status_of(ErrorCode::DailyLimitReached, 403),
                    ErrorCode::DailyLimitReached,
                    PermissionReason::DailyLimit,
                );
            }
            max_duration = max_duration.min(allowance.saturating_sub(used));
        }
    }
    let mut trunks: Vec<(u32, &str)> = group
        .iter()
        .filter_map(|id| site.trunk(id))
        .filter(|t| trunk_up(live, &t.id))
        .map(|t| (t.priority, t.id.as_str()))
        .collect();
    trunks.sort_unstable();
    if trunks.is_empty() {
        // Permitted, but nothing can carry it.
        return b.reject_with(
            status_of(ErrorCode::TrunkUnavailable, 503),
            ErrorCode::TrunkUnavailable,
            PermissionDecision::from_reason(PermissionReason::ClassAllowed),
        );
    }
    b.account.metered = true;
    b.accept(
        RouteDecision::Trunks {
            trunk_ids: trunks.into_iter().map(|(_, id)| id.to_owned()).collect(),
            dial: target.dial.clone(),
            emergency: false,
        },
        PermissionReason::ClassAllowed,
        Some(max_duration),
    )
}

/// An emergency call: every trunk that is up by priority, else every trunk.
fn emergency(site: &SiteConfig, live: Option<Live<'_>>, mut b: Builder) -> RouteOutcome {
    b.number_class = Some(NumberClass::Emergency);
    let all: Vec<&str> = site
        .trunks_by_priority()
        .into_iter()
        .map(|t| t.id.as_str())
        .collect();
    if all.is_empty() {
        return b.reject_with(
            status_of(ErrorCode::EmergencyNoTrunk, 503),
            ErrorCode::EmergencyNoTrunk,
            PermissionDecision::from_reason(PermissionReason::Emergency),
        );
    }
    let up: Vec<&str> = all
        .iter()
        .copied()
        .filter(|id| trunk_up(live, id))
        .collect();
    let chosen = if up.is_empty() { all } else { up };
    b.account.metered = false;
    b.accept(
        RouteDecision::Trunks {
            trunk_ids: chosen.into_iter().map(str::to_owned).collect(),
            dial: EMERGENCY_NUMBER.to_owned(),
            emergency: true,
        },
        PermissionReason::Emergency,
        None,
    )
}

fn from_trunk(site: &SiteConfig, trunk_id: &str, did: &str, dialled: &str) -> RouteOutcome {
    let b = Builder {
        number_class: None,
        rule_name: None,
        account: CallAccount {
            caller_extension: None,
            metered: false,
        },
    };
    let Some(trunk) = site.trunk(trunk_id) else {
        return b.reject(
            status_of(ErrorCode::PermissionDenied, 403),
            ErrorCode::PermissionDenied,
            PermissionReason::UnknownCaller,
        );
    };
    // A provider that sends the DID exactly as configured (E.164) is
    // matched without the numbering-plan parse (the costly part of an
    // inbound call's routing); other forms are normalised first.
    let target = [did, dialled].into_iter().find_map(|raw| {
        let user = raw.split(';').next().unwrap_or_default().trim();
        trunk.dids.iter().find(|d| d.number == user).or_else(|| {
            normalise_did(raw)
                .and_then(|number| trunk.dids.iter().find(|d| d.number == number.as_str()))
        })
    });
    match target {
        Some(d) if site.extension(&d.extension).is_some() => b.accept(
            RouteDecision::Extension {
                number: d.extension.clone(),
            },
            PermissionReason::Inbound,
            None,
        ),
        Some(_) => b.reject(
            404,
            ErrorCode::NumberInvalid,
            PermissionReason::UnknownExtension,
        ),
        None => b.reject(404, ErrorCode::NumberInvalid, PermissionReason::UnknownDid),
    }
}
