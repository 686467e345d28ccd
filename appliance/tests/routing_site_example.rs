//! Routing and permission decisions over the documented example site
//! (`docs/examples/site.toml`): every rule of `voip_appliance::routing`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers outside #[test] fns load fixed, known-good fixtures"
)]

use std::time::Duration;

use time::Date;
use time::macros::date;
use voip_appliance::routing::{
    CallAccount, CallRequest, Origin, PermissionReason, RouteDecision, RouteOutcome, RoutingState,
    dry_run,
};
use voip_shared::error::ErrorCode;
use voip_shared::number::NumberClass;
use voip_shared::site_config::SiteConfig;

const SITE_TOML: &str = include_str!("../../docs/examples/site.toml");
const TODAY: Date = date!(2026 - 11 - 21);

/// The example site, plus a profile that allows only internal calls with
/// tight limits, used by extension 205.
const RESTRICTED: &str = r#"
[[permission_profiles]]
name = "alleen-intern"
allowed_classes = ["internal"]
max_concurrent_calls = 1
max_call_duration_s = 600
daily_minutes = 1

[[extensions]]
number = "205"
display_name = "Kantine"
credentials = "ext-205"
permission_profile = "alleen-intern"
"#;

fn site() -> SiteConfig {
    SiteConfig::from_toml_str(SITE_TOML).unwrap()
}

fn site_with(extra: &str) -> SiteConfig {
    SiteConfig::from_toml_str(&format!("{SITE_TOML}\n{extra}")).unwrap()
}

fn ext(number: &str) -> Origin {
    Origin::Extension {
        number: number.to_owned(),
    }
}

fn trunk(id: &str, did: &str) -> Origin {
    Origin::Trunk {
        trunk_id: id.to_owned(),
        did: did.to_owned(),
    }
}

fn request(origin: Origin, dialled: &str, today: Date) -> CallRequest {
    CallRequest {
        origin,
        dialled: dialled.to_owned(),
        today,
    }
}

fn route(state: &RoutingState, site: &SiteConfig, origin: Origin, dialled: &str) -> RouteOutcome {
    state.route(site, &request(origin, dialled, TODAY))
}

fn trunks(ids: &[&str], dial: &str, emergency: bool) -> RouteDecision {
    RouteDecision::Trunks {
        trunk_ids: ids.iter().map(|s| (*s).to_owned()).collect(),
        dial: dial.to_owned(),
        emergency,
    }
}

fn reject(status: u16, code: ErrorCode) -> RouteDecision {
    RouteDecision::Reject { status, code }
}

fn extension(number: &str) -> RouteDecision {
    RouteDecision::Extension {
        number: number.to_owned(),
    }
}

/// Books a call that `outcome` allowed.
fn start(state: &mut RoutingState, call_ref: &str, outcome: &RouteOutcome) {
    let account = outcome.account.clone().expect("the call was allowed");
    state.call_started(call_ref, account);
}

struct Case {
    caller: &'static str,
    dialled: &'static str,
    decision: RouteDecision,
    reason: PermissionReason,
    class: Option<NumberClass>,
    rule: Option<&'static str>,
}

fn extension_cases() -> Vec<Case> {
    use NumberClass::{Emergency, Internal, International, Invalid, Mobile, NationalFixed};
    use PermissionReason as R;
    let both = ["kpn", "backup"];
    let c = |caller, dialled, decision, reason, class, rule| Case {
        caller,
        dialled,
        decision,
        reason,
        class,
        rule,
    };
    vec![
        // Emergency: all trunks by priority, dials 112, whatever was typed.
        c(
            "202",
            "112",
            trunks(&both, "112", true),
            R::Emergency,
            Some(Emergency),
            None,
        ),
        c(
            "202",
            "911",
            trunks(&both, "112", true),
            R::Emergency,
            Some(Emergency),
            None,
        ),
        c(
            "202",
            "0112",
            trunks(&both, "112", true),
            R::Emergency,
            Some(Emergency),
            None,
        ),
        // Echo test before the dial plan.
        c(
            "202",
            "*43",
            RouteDecision::EchoTest,
            R::EchoTest,
            Some(Internal),
            None,
        ),
        // Internal.
        c(
            "202",
            "201",
            extension("201"),
            R::ClassAllowed,
            Some(Internal),
            Some("intern"),
        ),
        c(
            "202",
            "9",
            extension("200"),
            R::ClassAllowed,
            Some(Internal),
            Some("receptie"),
        ),
        c(
            "202",
            "299",
            reject(404, ErrorCode::NumberInvalid),
            R::UnknownExtension,
            Some(Internal),
            Some("intern"),
        ),
        // National and mobile for the default profile; dialled as E.164.
        c(
            "202",
            "0201234567",
            trunks(&both, "+31201234567", false),
            R::ClassAllowed,
            Some(NationalFixed),
            Some("nationaal"),
        ),
        c(
            "202",
            "0612345678",
            trunks(&both, "+31612345678", false),
            R::ClassAllowed,
            Some(Mobile),
            Some("mobiel"),
        ),
        c(
            "202",
            "08001234",
            trunks(&both, "+318001234", false),
            R::ClassAllowed,
            Some(NumberClass::Service),
            Some("servicenummers"),
        ),
        // Premium blocked for the default profile, allowed for the full one.
        c(
            "202",
            "09001234567",
            reject(403, ErrorCode::PermissionDenied),
            R::ClassDenied(NumberClass::Premium),
            Some(NumberClass::Premium),
            Some("servicenummers"),
        ),
        c(
            "201",
            "09001234567",
            trunks(&both, "+319001234567", false),
            R::ClassAllowed,
            Some(NumberClass::Premium),
            Some("servicenummers"),
        ),
        // International: denied by default, allowed for the manager, only
        // through the rule's trunk group.
        c(
            "202",
            "00442079460000",
            reject(403, ErrorCode::PermissionDenied),
            R::ClassDenied(International),
            Some(International),
            Some("internationaal"),
        ),
        c(
            "201",
            "00442079460000",
            trunks(&["kpn"], "+442079460000", false),
            R::ClassAllowed,
            Some(International),
            Some("internationaal"),
        ),
        // A rule matches but the rewrite is no valid number: 484.
        c(
            "202",
            "0800123",
            reject(484, ErrorCode::NumberInvalid),
            R::NumberInvalid,
            Some(Invalid),
            Some("servicenummers"),
        ),
        // No rule: 484.
        c(
            "202",
            "12345",
            reject(484, ErrorCode::NumberInvalid),
            R::NoRule,
            Some(Internal),
            None,
        ),
        c(
            "202",
            "0001234567",
            reject(484, ErrorCode::NumberInvalid),
            R::NoRule,
            Some(Invalid),
            None,
        ),
        // A caller the site does not know gets nothing but emergency.
        c(
            "299",
            "0201234567",
            reject(403, ErrorCode::PermissionDenied),
            R::UnknownCaller,
            Some(NationalFixed),
            None,
        ),
        c(
            "299",
            "112",
            trunks(&both, "112", true),
            R::Emergency,
            Some(Emergency),
            None,
        ),
    ]
}

#[test]
fn extension_calls_follow_emergency_echo_dial_plan_and_profile_rules() {
    let site = site();
    let state = RoutingState::new();
    let mut failures = Vec::new();
    for case in extension_cases() {
        let got = route(&state, &site, ext(case.caller), case.dialled);
        let expected = (
            &case.decision,
            case.reason,
            case.reason.allows(),
            case.class,
            case.rule,
        );
        let actual = (
            &got.decision,
            got.permission.reason,
            got.permission.allowed,
            got.number_class,
            got.rule_name.as_deref(),
        );
        if actual != expected {
            failures.push(format!(
                "{} dials {}: expected {expected:?}, got {actual:?}",
                case.caller, case.dialled
            ));
        }
        assert_eq!(got.is_reject(), got.account.is_none(), "{}", case.dialled);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn dry_run_matches_routing_with_fresh_state() {
    let site = site();
    let state = RoutingState::new();
    for case in extension_cases() {
        assert_eq!(
            dry_run(&site, &ext(case.caller), case.dialled),
            route(&state, &site, ext(case.caller), case.dialled),
            "{}",
            case.dialled
        );
    }
}

#[test]
fn dry_run_ignores_live_limits_and_trunk_states() {
    let site = site();
    let mut state = RoutingState::new();
    state.set_trunk_up("kpn", false);
    state.set_trunk_up("backup", false);
    let live = route(&state, &site, ext("202"), "0201234567");
    assert_eq!(live.decision, reject(503, ErrorCode::TrunkUnavailable));
    let explained = dry_run(&site, &ext("202"), "0201234567");
    assert_eq!(
        explained.decision,
        trunks(&["kpn", "backup"], "+31201234567", false)
    );
}

#[test]
fn emergency_overrides_class_concurrency_and_daily_limits() {
    let site = site_with(RESTRICTED);
    let mut state = RoutingState::new();
    // One call active (the limit) and the daily minute used up.
    let first = route(&state, &site, ext("205"), "201");
    assert_eq!(first.decision, extension("201"));
    state.call_started(
        "c1",
        CallAccount {
            caller_extension: Some("205".into()),
            metered: true,
        },
    );
    assert!(state.call_ended("c1", Duration::from_mins(1), TODAY));
    start(&mut state, "c2", &first);
    assert_eq!(state.active_calls("205"), 1);
    assert_eq!(state.used_on("205", TODAY), Duration::from_mins(1));

    let national = route(&state, &site, ext("205"), "0201234567");
    assert_eq!(national.decision, reject(403, ErrorCode::PermissionDenied));
    assert_eq!(
        national.permission.reason.as_str(),
        "permission.national_fixed_denied"
    );

    for dialled in ["112", "911", "999", "+31 112"] {
        let got = route(&state, &site, ext("205"), dialled);
        assert_eq!(
            got.decision,
            trunks(&["kpn", "backup"], "112", true),
            "{dialled}"
        );
        assert!(got.permission.allowed);
        assert_eq!(got.permission.reason, PermissionReason::Emergency);
        assert_eq!(got.max_duration, None, "emergency calls are never cut off");
        let account = got.account.unwrap();
        assert!(!account.metered, "emergency minutes are not charged");
    }
}

#[test]
fn emergency_prefers_trunks_that_are_up_and_tries_all_when_none_is() {
    let site = site();
    let mut state = RoutingState::new();
    state.set_trunk_up("kpn", false);
    assert_eq!(
        route(&state, &site, ext("202"), "112").decision,
        trunks(&["backup"], "112", true)
    );
    state.set_trunk_up("backup", false);
    assert_eq!(
        route(&state, &site, ext("202"), "112").decision,
        trunks(&["kpn", "backup"], "112", true)
    );
    state.set_trunk_up("kpn", true);
    assert_eq!(
        route(&state, &site, ext("202"), "112").decision,
        trunks(&["kpn"], "112", true)
    );
}

#[test]
fn emergency_without_any_trunk_is_refused_with_the_critical_code() {
    let site = SiteConfig::from_toml_str(
        r#"
        version = 1
        site_name = "Zonder trunk"
        tenant = "leeg"

        [[permission_profiles]]
        name = "intern"
        allowed_classes = ["internal"]

        [[extensions]]
        number = "201"
        display_name = "Receptie"
        credentials = "ext-201"
        permission_profile = "intern"
        "#,
    )
    .unwrap();
    let got = route(&RoutingState::new(), &site, ext("201"), "112");
    assert_eq!(got.decision, reject(503, ErrorCode::EmergencyNoTrunk));
    assert_eq!(got.permission.reason, PermissionReason::Emergency);
    assert!(got.permission.allowed);
}

#[test]
fn failover_order_follows_priority_not_document_order() {
    // Make the backup trunk the preferred one.
    let swapped = SITE_TOML.replace("priority = 10", "priority = 30");
    let site = SiteConfig::from_toml_str(&swapped).unwrap();
    let state = RoutingState::new();
    let table = [
        (
            "0201234567",
            trunks(&["backup", "kpn"], "+31201234567", false),
        ),
        (
            "0612345678",
            trunks(&["backup", "kpn"], "+31612345678", false),
        ),
        ("112", trunks(&["backup", "kpn"], "112", true)),
    ];
    for (dialled, expected) in table {
        assert_eq!(
            route(&state, &site, ext("202"), dialled).decision,
            expected,
            "{dialled}"
        );
    }
}

#[test]
fn trunks_that_are_down_are_skipped_and_none_left_is_503() {
    let site = site();
    let mut state = RoutingState::new();
    state.set_trunk_up("kpn", false);
    assert!(!state.is_trunk_up("kpn"));
    assert!(state.is_trunk_up("backup"), "never reported counts as up");
    assert_eq!(
        route(&state, &site, ext("202"), "0201234567").decision,
        trunks(&["backup"], "+31201234567", false)
    );
    // International goes only through kpn.
    let got = route(&state, &site, ext("201"), "00442079460000");
    assert_eq!(got.decision, reject(503, ErrorCode::TrunkUnavailable));
    assert!(
        got.permission.allowed,
        "permitted, only no trunk to carry it"
    );
    assert_eq!(got.permission.reason, PermissionReason::ClassAllowed);
    assert!(got.account.is_none());
    state.set_trunk_up("kpn", true);
    assert_eq!(
        route(&state, &site, ext("201"), "00442079460000").decision,
        trunks(&["kpn"], "+442079460000", false)
    );
}

#[test]
fn inbound_calls_ring_the_extension_of_the_trunks_did() {
    let site = site();
    let state = RoutingState::new();
    let table: &[(&str, &str, &str, RouteDecision, PermissionReason)] = &[
        (
            "kpn",
            "+31301234567",
            "x",
            extension("200"),
            PermissionReason::Inbound,
        ),
        (
            "kpn",
            "+31301234568",
            "x",
            extension("201"),
            PermissionReason::Inbound,
        ),
        (
            "kpn",
            "0301234568",
            "x",
            extension("201"),
            PermissionReason::Inbound,
        ),
        (
            "kpn",
            "0031301234568",
            "x",
            extension("201"),
            PermissionReason::Inbound,
        ),
        (
            "kpn",
            "31301234568",
            "x",
            extension("201"),
            PermissionReason::Inbound,
        ),
        (
            "backup",
            "+31858881234",
            "x",
            extension("200"),
            PermissionReason::Inbound,
        ),
        // The DID in the Request-URI when the To user is the account name.
        (
            "backup",
            "korenaar",
            "+31858881234",
            extension("200"),
            PermissionReason::Inbound,
        ),
        // Another trunk's DID, an unknown number, garbage: 404.
        (
            "kpn",
            "+31858881234",
            "x",
            reject(404, ErrorCode::NumberInvalid),
            PermissionReason::UnknownDid,
        ),
        (
            "kpn",
            "+31301234569",
            "x",
            reject(404, ErrorCode::NumberInvalid),
            PermissionReason::UnknownDid,
        ),
        (
            "kpn",
            "",
            "",
            reject(404, ErrorCode::NumberInvalid),
            PermissionReason::UnknownDid,
        ),
        // Inbound calls never reach a trunk or the echo test.
        (
            "kpn",
            "112",
            "*43",
            reject(404, ErrorCode::NumberInvalid),
            PermissionReason::UnknownDid,
        ),
        (
            "onbekend",
            "+31301234567",
            "x",
            reject(403, ErrorCode::PermissionDenied),
            PermissionReason::UnknownCaller,
        ),
    ];
    for (trunk_id, did, dialled, decision, reason) in table {
        let got = route(&state, &site, trunk(trunk_id, did), dialled);
        assert_eq!(&got.decision, decision, "{trunk_id} {did} {dialled}");
        assert_eq!(got.permission.reason, *reason, "{trunk_id} {did}");
        assert_eq!(got.permission.allowed, reason.allows());
        assert_eq!(got.number_class, None);
        assert_eq!(got.max_duration, None);
    }
}

#[test]
fn inbound_calls_are_not_limited_by_the_callees_profile_but_count_in_the_total() {
    let site = site();
    let mut state = RoutingState::new();
    // Receptie (200, max 2 concurrent) receives three calls at once.
    for n in 0..3 {
        let got = route(&state, &site, trunk("kpn", "+31301234567"), "x");
        assert_eq!(got.decision, extension("200"));
        assert_eq!(got.account.as_ref().unwrap().caller_extension, None);
        start(&mut state, &format!("in-{n}"), &got);
    }
    assert_eq!(state.active_total(), 3);
    assert_eq!(state.active_calls("200"), 0);
    // And can still call out.
    assert_eq!(
        route(&state, &site, ext("200"), "0201234567").decision,
        trunks(&["kpn", "backup"], "+31201234567", false)
    );
}

#[test]
fn echo_test_number_answers_with_the_echo_test() {
    let site = site();
    let state = RoutingState::new();
    let got = route(&state, &site, ext("203"), "*43");
    assert_eq!(got.decision, RouteDecision::EchoTest);
    assert!(got.permission.allowed);
    assert_eq!(got.rule_name, None, "answered before the dial plan");
    assert!(!got.account.unwrap().metered);
    // A different echo test number moves the echo test.
    let moved = SITE_TOML.replace("echo_test_number = \"*43\"", "echo_test_number = \"*99\"");
    let site = SiteConfig::from_toml_str(&moved).unwrap();
    assert_eq!(
        route(&state, &site, ext("203"), "*99").decision,
        RouteDecision::EchoTest
    );
    // `*43` is still reachable through the dial plan rule `echotest`.
    let via_plan = route(&state, &site, ext("203"), "*43");
    assert_eq!(via_plan.decision, RouteDecision::EchoTest);
    assert_eq!(via_plan.rule_name.as_deref(), Some("echotest"));
}

#[test]
fn concurrency_limit_counts_active_calls_across_start_and_end() {
    let site = site();
    let mut state = RoutingState::new();
    // 202 has the default profile: 2 simultaneous calls.
    let out = route(&state, &site, ext("202"), "0201234567");
    start(&mut state, "a", &out);
    let internal = route(&state, &site, ext("202"), "201");
    start(&mut state, "b", &internal);
    assert_eq!(state.active_calls("202"), 2);
    assert_eq!(state.active_total(), 2);

    let third = route(&state, &site, ext("202"), "0612345678");
    assert_eq!(third.decision, reject(503, ErrorCode::MaxConcurrentCalls));
    assert_eq!(
        third.permission.reason.as_str(),
        "permission.concurrent_limit"
    );
    assert!(!third.permission.allowed);
    // Others are not affected; internal and emergency calls still go.
    assert!(!route(&state, &site, ext("203"), "0612345678").is_reject());
    assert_eq!(
        route(&state, &site, ext("202"), "203").decision,
        extension("203")
    );
    assert!(!route(&state, &site, ext("202"), "112").is_reject());

    // Starting the same reference twice does not count twice.
    start(&mut state, "b", &internal);
    assert_eq!(state.active_calls("202"), 2);

    assert!(state.call_ended("b", Duration::from_secs(5), TODAY));
    assert!(!state.call_ended("b", Duration::from_secs(5), TODAY));
    assert!(!state.call_ended("never", Duration::from_secs(5), TODAY));
    assert_eq!(state.active_calls("202"), 1);
    assert_eq!(
        route(&state, &site, ext("202"), "0612345678").decision,
        trunks(&["kpn", "backup"], "+31612345678", false)
    );
}

#[test]
fn daily_minutes_run_out_and_reset_on_a_new_date() {
    let site = site();
    let mut state = RoutingState::new();
    // 201 has the full profile: 600 minutes a day, calls of at most 4 hours.
    let first = route(&state, &site, ext("201"), "0201234567");
    assert_eq!(first.max_duration, Some(Duration::from_hours(4)));
    assert!(first.account.as_ref().unwrap().metered);
    start(&mut state, "long", &first);
    state.call_ended("long", Duration::from_mins(599), TODAY);
    assert_eq!(state.used_on("201", TODAY), Duration::from_mins(599));

    // One minute left: the call may last that long.
    let nearly = route(&state, &site, ext("201"), "0201234567");
    assert_eq!(nearly.max_duration, Some(Duration::from_mins(1)));
    start(&mut state, "last", &nearly);
    state.call_ended("last", Duration::from_mins(1), TODAY);

    let refused = route(&state, &site, ext("201"), "0201234567");
    assert_eq!(refused.decision, reject(403, ErrorCode::DailyLimitReached));
    assert_eq!(refused.permission.reason, PermissionReason::DailyLimit);
    // Internal calls and emergency calls are not metered or refused.
    assert_eq!(
        route(&state, &site, ext("201"), "202").decision,
        extension("202")
    );
    assert!(!route(&state, &site, ext("201"), "112").is_reject());

    // Local midnight: a new date, a new allowance.
    let tomorrow = TODAY.next_day().unwrap();
    assert_eq!(state.used_on("201", tomorrow), Duration::ZERO);
    let next_day = state.route(&site, &request(ext("201"), "0201234567", tomorrow));
    assert_eq!(
        next_day.decision,
        trunks(&["kpn", "backup"], "+31201234567", false)
    );
    assert_eq!(next_day.max_duration, Some(Duration::from_hours(4)));

    // A call ending tomorrow is charged to tomorrow and clears yesterday.
    start(&mut state, "t", &next_day);
    state.call_ended("t", Duration::from_secs(90), tomorrow);
    assert_eq!(state.used_on("201", tomorrow), Duration::from_secs(90));
    assert_eq!(state.used_on("201", TODAY), Duration::ZERO);
}

#[test]
fn unmetered_calls_do_not_use_daily_minutes() {
    let site = site();
    let mut state = RoutingState::new();
    for (n, dialled) in ["112", "202", "*43"].into_iter().enumerate() {
        let got = route(&state, &site, ext("201"), dialled);
        let call_ref = format!("c{n}");
        start(&mut state, &call_ref, &got);
        state.call_ended(&call_ref, Duration::from_hours(1), TODAY);
    }
    assert_eq!(state.used_on("201", TODAY), Duration::ZERO);
}

#[test]
fn profiles_max_call_duration_is_returned() {
    let site = site();
    let state = RoutingState::new();
    let table = [
        ("202", "0201234567", Some(7200)),
        ("202", "201", Some(7200)),
        ("201", "0201234567", Some(14_400)),
        ("202", "112", None),
        ("202", "09001234567", None),
    ];
    for (caller, dialled, secs) in table {
        assert_eq!(
            route(&state, &site, ext(caller), dialled).max_duration,
            secs.map(Duration::from_secs),
            "{caller} {dialled}"
        );
    }
}

#[test]
fn permission_decision_has_the_call_record_shape() {
    let site = site();
    let state = RoutingState::new();
    let allowed = route(&state, &site, ext("202"), "0201234567").permission;
    assert_eq!(
        serde_json::to_value(allowed.to_event()).unwrap(),
        serde_json::json!({ "decision": "allowed", "reason": "permission.class_allowed" })
    );
    let denied = route(&state, &site, ext("202"), "09001234567").permission;
    assert_eq!(
        serde_json::to_value(denied.to_event()).unwrap(),
        serde_json::json!({ "decision": "denied", "reason": "permission.premium_denied" })
    );
}

#[test]
fn reject_statuses_are_the_catalogue_statuses_except_404() {
    let site = site();
    let state = RoutingState::new();
    for case in extension_cases() {
        if let RouteDecision::Reject { status, code } =
            route(&state, &site, ext(case.caller), case.dialled).decision
            && status != 404
        {
            assert_eq!(Some(status), code.sip_status(), "{}", case.dialled);
        }
    }
}
