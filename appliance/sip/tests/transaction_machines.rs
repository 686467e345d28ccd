//! The four transaction machines in virtual time: exact retransmission
//! schedules, timeouts and state transitions (RFC 3261 17, RFC 6026).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a failure should panic the test"
)]

mod transaction_util;

use std::time::Instant;

use transaction_util::{dest, invite, ms, offsets, req, resp};
use voip_sip::message::{Method, SipMessage};
use voip_sip::transaction::{
    ClientEvent, ClientInvite, ClientInviteState, ClientNonInvite, ClientNonInviteState,
    Reliability, ServerEvent, ServerInvite, ServerInviteState, ServerNonInvite,
    ServerNonInviteState, TimerConfig, TransactionError, Transmit,
};

const BRANCH: &str = "z9hG4bK74bf9";

/// What the tests need from every machine to run it in virtual time.
trait Machine {
    type Event;
    fn timeout(&self) -> Option<Instant>;
    fn fire(&mut self, now: Instant);
    fn transmit(&mut self) -> Option<Transmit>;
    fn event(&mut self) -> Option<Self::Event>;
}

macro_rules! machine {
    ($ty:ty, $ev:ty) => {
        impl Machine for $ty {
            type Event = $ev;
            fn timeout(&self) -> Option<Instant> {
                self.poll_timeout()
            }
            fn fire(&mut self, now: Instant) {
                self.handle_timeout(now)
            }
            fn transmit(&mut self) -> Option<Transmit> {
                self.poll_transmit()
            }
            fn event(&mut self) -> Option<$ev> {
                self.poll_event()
            }
        }
    };
}
machine!(ClientInvite, ClientEvent);
machine!(ClientNonInvite, ClientEvent);
machine!(ServerInvite, ServerEvent);
machine!(ServerNonInvite, ServerEvent);

/// Everything a machine put out, with the virtual instant it did so.
struct Log<E> {
    sent: Vec<(Instant, SipMessage)>,
    events: Vec<(Instant, E)>,
}

impl<E> Log<E> {
    fn new() -> Self {
        Log {
            sent: Vec::new(),
            events: Vec::new(),
        }
    }
    fn sent_at(&self, t0: Instant) -> Vec<u64> {
        offsets(t0, &self.sent.iter().map(|s| s.0).collect::<Vec<_>>())
    }
}

fn drain<M: Machine>(m: &mut M, now: Instant, log: &mut Log<M::Event>) {
    while let Some(t) = m.transmit() {
        log.sent.push((now, t.message));
    }
    while let Some(e) = m.event() {
        log.events.push((now, e));
    }
}

/// Drains at `now`, then fires timers in order while they are due before `until`.
fn run<M: Machine>(m: &mut M, now: Instant, until: Instant, log: &mut Log<M::Event>) {
    drain(m, now, log);
    while let Some(at) = m.timeout().filter(|&at| at <= until) {
        m.fire(at);
        drain(m, at, log);
    }
}

fn client_invite(t0: Instant, reliability: Reliability) -> ClientInvite {
    ClientInvite::new(
        t0,
        invite(BRANCH),
        dest(5060),
        reliability,
        TimerConfig::default(),
    )
}

#[test]
fn timer_a_doubles_and_timer_b_fires_at_64_t1_over_udp() {
    let t0 = Instant::now();
    let mut m = client_invite(t0, Reliability::Unreliable);
    let mut log = Log::new();
    run(&mut m, t0, t0 + ms(100_000), &mut log);
    assert_eq!(
        log.sent_at(t0),
        [0, 500, 1_500, 3_500, 7_500, 15_500, 31_500]
    );
    assert!(
        log.sent
            .iter()
            .all(|(_, msg)| *msg == SipMessage::Request(invite(BRANCH)))
    );
    let events: Vec<_> = log
        .events
        .iter()
        .map(|(t, e)| ((*t - t0).as_millis(), e.clone()))
        .collect();
    assert_eq!(
        events,
        [
            (32_000, ClientEvent::Timeout),
            (32_000, ClientEvent::Terminated)
        ]
    );
    assert_eq!(m.state(), ClientInviteState::Terminated);
    assert_eq!(m.poll_timeout(), None);
}

#[test]
fn timer_b_fires_without_retransmissions_over_reliable_transport() {
    let t0 = Instant::now();
    let mut m = client_invite(t0, Reliability::Reliable);
    let mut log = Log::new();
    run(&mut m, t0, t0 + ms(100_000), &mut log);
    assert_eq!(log.sent_at(t0), [0]);
    assert_eq!(log.events[0], (t0 + ms(32_000), ClientEvent::Timeout));
}

#[test]
fn timer_b_follows_a_configured_t1() {
    let t0 = Instant::now();
    let config = TimerConfig {
        t1: ms(100),
        ..TimerConfig::default()
    };
    let mut m = ClientInvite::new(
        t0,
        invite(BRANCH),
        dest(5060),
        Reliability::Unreliable,
        config,
    );
    let mut log = Log::new();
    run(&mut m, t0, t0 + ms(100_000), &mut log);
    assert_eq!(log.sent_at(t0), [0, 100, 300, 700, 1_500, 3_100, 6_300]);
    assert_eq!(log.events[0], (t0 + ms(6_400), ClientEvent::Timeout));
}

#[test]
fn provisional_response_stops_retransmission_and_timer_b() {
    let t0 = Instant::now();
    let mut m = client_invite(t0, Reliability::Unreliable);
    let mut log = Log::new();
    run(&mut m, t0, t0 + ms(1_000), &mut log);
    m.handle_response(t0 + ms(1_000), resp(&invite(BRANCH), 180, "b1"));
    run(&mut m, t0 + ms(1_000), t0 + ms(200_000), &mut log);
    assert_eq!(log.sent_at(t0), [0, 500]);
    assert_eq!(m.state(), ClientInviteState::Proceeding);
    assert!(
        matches!(&log.events[..], [(_, ClientEvent::ResponseReceived(r))] if r.status.as_u16() == 180)
    );
}

#[test]
fn client_invite_2xx_enters_accepted_forwards_retransmitted_2xx_and_ends_after_m() {
    let t0 = Instant::now();
    let mut m = client_invite(t0, Reliability::Unreliable);
    let mut log = Log::new();
    let ok = resp(&invite(BRANCH), 200, "b1");
    run(&mut m, t0, t0 + ms(1_000), &mut log);
    m.handle_response(t0 + ms(1_000), ok.clone());
    assert_eq!(m.state(), ClientInviteState::Accepted);
    run(&mut m, t0 + ms(1_000), t0 + ms(2_000), &mut log);
    m.handle_response(t0 + ms(2_000), ok.clone());
    // A non-2xx in Accepted is not for the TU.
    m.handle_response(t0 + ms(2_500), resp(&invite(BRANCH), 486, "b2"));
    run(&mut m, t0 + ms(2_000), t0 + ms(100_000), &mut log);
    // Only the INVITE and its retransmission at 0.5 s: no ACK from the transaction.
    assert_eq!(log.sent_at(t0), [0, 500]);
    let events: Vec<_> = log
        .events
        .iter()
        .map(|(t, e)| ((*t - t0).as_millis(), e.clone()))
        .collect();
    assert_eq!(
        events,
        [
            (1_000, ClientEvent::ResponseReceived(ok.clone())),
            (2_000, ClientEvent::ResponseReceived(ok)),
            (33_000, ClientEvent::Terminated),
        ]
    );
}

#[test]
fn client_invite_acks_non_2xx_absorbs_retransmissions_and_ends_after_d() {
    let t0 = Instant::now();
    let mut m = client_invite(t0, Reliability::Unreliable);
    let mut log = Log::new();
    let busy = resp(&invite(BRANCH), 486, "b1");
    m.handle_response(t0, busy.clone());
    assert_eq!(m.state(), ClientInviteState::Completed);
    m.handle_response(t0 + ms(700), busy.clone());
    run(&mut m, t0, t0 + ms(100_000), &mut log);
    assert_eq!(
        log.sent.len(),
        3,
        "INVITE, ACK, ACK again for the retransmission"
    );
    let SipMessage::Request(ack) = &log.sent[1].1 else {
        panic!()
    };
    assert_eq!(ack.method, Method::ACK);
    assert_eq!(
        ack.headers.get(&voip_sip::message::HeaderName::CSEQ),
        Some("314159 ACK")
    );
    assert!(
        ack.headers
            .get(&voip_sip::message::HeaderName::TO)
            .unwrap()
            .ends_with(";tag=b1")
    );
    assert!(
        ack.headers
            .get(&voip_sip::message::HeaderName::VIA)
            .unwrap()
            .contains(BRANCH)
    );
    assert_eq!(log.sent[2].1, log.sent[1].1);
    let events: Vec<_> = log
        .events
        .iter()
        .map(|(t, e)| ((*t - t0).as_millis(), e.clone()))
        .collect();
    assert_eq!(
        events,
        [
            (0, ClientEvent::ResponseReceived(busy)),
            (32_000, ClientEvent::Terminated)
        ]
    );
}

#[test]
fn client_invite_over_reliable_transport_terminates_at_once_after_non_2xx() {
    let t0 = Instant::now();
    let mut m = client_invite(t0, Reliability::Reliable);
    m.handle_response(t0, resp(&invite(BRANCH), 603, "b1"));
    assert_eq!(m.state(), ClientInviteState::Terminated);
}

#[test]
fn timer_e_doubles_up_to_t2_and_timer_f_times_out() {
    let t0 = Instant::now();
    let mut m = ClientNonInvite::new(
        t0,
        req("OPTIONS", BRANCH, 1),
        dest(5060),
        Reliability::Unreliable,
        TimerConfig::default(),
    );
    let mut log = Log::new();
    run(&mut m, t0, t0 + ms(100_000), &mut log);
    let sent = log.sent_at(t0);
    assert_eq!(
        sent,
        [
            0, 500, 1_500, 3_500, 7_500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500
        ]
    );
    let gaps: Vec<u64> = sent.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(gaps.iter().max(), Some(&4_000), "capped at T2");
    let events: Vec<_> = log
        .events
        .iter()
        .map(|(t, e)| ((*t - t0).as_millis(), e.clone()))
        .collect();
    assert_eq!(
        events,
        [
            (32_000, ClientEvent::Timeout),
            (32_000, ClientEvent::Terminated)
        ]
    );
}

#[test]
fn timer_e_uses_t2_in_proceeding_and_k_ends_completed() {
    let t0 = Instant::now();
    let request = req("BYE", BRANCH, 2);
    let mut m = ClientNonInvite::new(
        t0,
        request.clone(),
        dest(5060),
        Reliability::Unreliable,
        TimerConfig::default(),
    );
    let mut log = Log::new();
    run(&mut m, t0, t0 + ms(600), &mut log);
    m.handle_response(t0 + ms(600), resp(&request, 100, "b1"));
    assert_eq!(m.state(), ClientNonInviteState::Proceeding);
    run(&mut m, t0 + ms(600), t0 + ms(10_000), &mut log);
    m.handle_response(t0 + ms(10_000), resp(&request, 200, "b1"));
    assert_eq!(m.state(), ClientNonInviteState::Completed);
    m.handle_response(t0 + ms(10_100), resp(&request, 200, "b1"));
    run(&mut m, t0 + ms(10_000), t0 + ms(100_000), &mut log);
    assert_eq!(log.sent_at(t0), [0, 500, 1_500, 5_500, 9_500]);
    let times: Vec<_> = log
        .events
        .iter()
        .map(|(t, _)| (*t - t0).as_millis())
        .collect();
    assert_eq!(
        times,
        [600, 10_000, 15_000],
        "100, one 200 (retransmission absorbed), K = T4"
    );
    assert!(matches!(log.events[2].1, ClientEvent::Terminated));
}

#[test]
fn transport_error_terminates_a_client_transaction() {
    let t0 = Instant::now();
    let mut m = ClientNonInvite::new(
        t0,
        req("OPTIONS", BRANCH, 1),
        dest(5060),
        Reliability::Reliable,
        TimerConfig::default(),
    );
    m.handle_transport_error(t0);
    let mut log = Log::new();
    drain(&mut m, t0, &mut log);
    let events: Vec<_> = log.events.into_iter().map(|e| e.1).collect();
    assert_eq!(
        events,
        [ClientEvent::TransportError, ClientEvent::Terminated]
    );
}

fn server_invite(t0: Instant, reliability: Reliability) -> ServerInvite {
    ServerInvite::new(
        t0,
        invite(BRANCH),
        dest(5070),
        reliability,
        TimerConfig::default(),
    )
}

fn ack() -> voip_sip::message::Request {
    req("ACK", BRANCH, 314_159)
}

#[test]
fn server_invite_sends_100_trying_after_200_ms_unless_the_tu_answered() {
    let t0 = Instant::now();
    let mut quiet = server_invite(t0, Reliability::Unreliable);
    let mut log = Log::new();
    run(&mut quiet, t0, t0 + ms(1_000), &mut log);
    assert_eq!(log.sent_at(t0), [200]);
    let SipMessage::Response(trying) = &log.sent[0].1 else {
        panic!()
    };
    assert_eq!(trying.status.as_u16(), 100);
    // A retransmitted INVITE gets the 100 again.
    quiet.handle_request(t0 + ms(1_000), invite(BRANCH));
    assert!(quiet.poll_transmit().is_some());

    let mut busy_tu = server_invite(t0, Reliability::Unreliable);
    busy_tu
        .send_response(t0 + ms(50), resp(&invite(BRANCH), 180, "s1"))
        .unwrap();
    let mut log = Log::new();
    run(&mut busy_tu, t0 + ms(50), t0 + ms(1_000), &mut log);
    assert_eq!(log.sent.len(), 1, "only the 180");
}

#[test]
fn server_invite_486_retransmits_per_g_until_ack_then_confirmed_then_i() {
    let t0 = Instant::now();
    let mut m = server_invite(t0, Reliability::Unreliable);
    let busy = resp(&invite(BRANCH), 486, "s1");
    m.send_response(t0, busy.clone()).unwrap();
    assert_eq!(m.state(), ServerInviteState::Completed);
    let mut log = Log::new();
    run(&mut m, t0, t0 + ms(4_000), &mut log);
    // A retransmitted INVITE in Completed gets the final response again.
    m.handle_request(t0 + ms(4_000), invite(BRANCH));
    drain(&mut m, t0 + ms(4_000), &mut log);
    m.handle_request(t0 + ms(4_100), ack());
    assert_eq!(m.state(), ServerInviteState::Confirmed);
    m.handle_request(t0 + ms(4_200), ack());
    run(&mut m, t0 + ms(4_100), t0 + ms(100_000), &mut log);
    assert_eq!(log.sent_at(t0), [0, 500, 1_500, 3_500, 4_000]);
    assert!(
        log.sent
            .iter()
            .all(|(_, msg)| *msg == SipMessage::Response(busy.clone()))
    );
    let events: Vec<_> = log
        .events
        .iter()
        .map(|(t, e)| ((*t - t0).as_millis(), e.clone()))
        .collect();
    assert_eq!(
        events,
        [(9_100, ServerEvent::Terminated)],
        "I = T4 after the ACK, ACKs absorbed"
    );
    assert_eq!(m.state(), ServerInviteState::Terminated);
}

#[test]
fn server_invite_timer_h_fires_without_ack_and_g_caps_at_t2() {
    let t0 = Instant::now();
    let mut m = server_invite(t0, Reliability::Unreliable);
    m.send_response(t0, resp(&invite(BRANCH), 486, "s1"))
        .unwrap();
    let mut log = Log::new();
    run(&mut m, t0, t0 + ms(100_000), &mut log);
    assert_eq!(
        log.sent_at(t0),
        [
            0, 500, 1_500, 3_500, 7_500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500
        ]
    );
    let events: Vec<_> = log
        .events
        .iter()
        .map(|(t, e)| ((*t - t0).as_millis(), e.clone()))
        .collect();
    assert_eq!(
        events,
        [
            (32_000, ServerEvent::Timeout),
            (32_000, ServerEvent::Terminated)
        ]
    );
}

#[test]
fn server_invite_over_reliable_transport_has_no_g_and_ends_on_ack() {
    let t0 = Instant::now();
    let mut m = server_invite(t0, Reliability::Reliable);
    m.send_response(t0, resp(&invite(BRANCH), 486, "s1"))
        .unwrap();
    let mut log = Log::new();
    run(&mut m, t0, t0 + ms(10_000), &mut log);
    assert_eq!(log.sent_at(t0), [0]);
    m.handle_request(t0 + ms(10_000), ack());
    assert_eq!(m.state(), ServerInviteState::Terminated, "Timer I is zero");
}

#[test]
fn server_invite_2xx_enters_accepted_absorbs_invites_and_ends_after_l() {
    let t0 = Instant::now();
    let mut m = server_invite(t0, Reliability::Unreliable);
    let ok = resp(&invite(BRANCH), 200, "s1");
    m.send_response(t0 + ms(100), ok.clone()).unwrap();
    assert_eq!(m.state(), ServerInviteState::Accepted);
    let mut log = Log::new();
    run(&mut m, t0 + ms(100), t0 + ms(1_000), &mut log);
    m.handle_request(t0 + ms(1_000), invite(BRANCH));
    drain(&mut m, t0 + ms(1_000), &mut log);
    assert_eq!(
        log.sent_at(t0),
        [100],
        "the retransmitted INVITE is absorbed, nothing re-sent"
    );
    assert!(log.events.is_empty(), "and not passed to the TU");
    // The TU (dialog layer) retransmits the 2xx through the transaction.
    m.send_response(t0 + ms(600), ok.clone()).unwrap();
    assert_eq!(
        m.send_response(t0 + ms(700), resp(&invite(BRANCH), 486, "s1")),
        Err(TransactionError::ResponseNotAllowed { state: "Accepted" })
    );
    m.handle_request(t0 + ms(1_200), ack());
    run(&mut m, t0 + ms(1_200), t0 + ms(100_000), &mut log);
    let events: Vec<_> = log
        .events
        .iter()
        .map(|(t, e)| ((*t - t0).as_millis(), e.clone()))
        .collect();
    assert_eq!(
        events,
        [
            (1_200, ServerEvent::AckReceived(Box::new(ack()))),
            (32_100, ServerEvent::Terminated)
        ]
    );
}

#[test]
fn server_non_invite_repeats_its_final_response_and_ends_after_j() {
    let t0 = Instant::now();
    let request = req("OPTIONS", BRANCH, 7);
    let mut m = ServerNonInvite::new(
        t0,
        request.clone(),
        dest(5070),
        Reliability::Unreliable,
        TimerConfig::default(),
    );
    m.handle_request(t0 + ms(100), request.clone());
    assert!(
        m.poll_transmit().is_none(),
        "Trying absorbs retransmissions"
    );
    m.send_response(t0 + ms(200), resp(&request, 200, "s1"))
        .unwrap();
    assert_eq!(m.state(), ServerNonInviteState::Completed);
    m.handle_request(t0 + ms(700), request.clone());
    let mut log = Log::new();
    run(&mut m, t0 + ms(700), t0 + ms(100_000), &mut log);
    assert_eq!(log.sent.len(), 2, "the 200 and its repetition");
    assert_eq!(log.events, [(t0 + ms(32_200), ServerEvent::Terminated)]);
    assert!(m.send_response(t0, resp(&request, 500, "s1")).is_err());

    let mut reliable = ServerNonInvite::new(
        t0,
        request.clone(),
        dest(5070),
        Reliability::Reliable,
        TimerConfig::default(),
    );
    reliable
        .send_response(t0, resp(&request, 200, "s1"))
        .unwrap();
    assert_eq!(
        reliable.state(),
        ServerNonInviteState::Terminated,
        "Timer J is zero"
    );
}

/// The non-INVITE machines are distinct types whose state enums have no
/// `Confirmed` or `Accepted`: this exhaustive match would stop compiling if one
/// were added, and no value of `ServerNonInvite` can be in such a state.
#[test]
fn non_invite_machines_have_no_confirmed_or_accepted_state() {
    let names = |s: ServerNonInviteState| match s {
        ServerNonInviteState::Trying => "Trying",
        ServerNonInviteState::Proceeding => "Proceeding",
        ServerNonInviteState::Completed => "Completed",
        ServerNonInviteState::Terminated => "Terminated",
    };
    let client = |s: ClientNonInviteState| match s {
        ClientNonInviteState::Trying
        | ClientNonInviteState::Proceeding
        | ClientNonInviteState::Completed
        | ClientNonInviteState::Terminated => (),
    };
    client(ClientNonInviteState::Trying);
    let t0 = Instant::now();
    let m = ServerNonInvite::new(
        t0,
        req("OPTIONS", BRANCH, 1),
        dest(1),
        Reliability::Unreliable,
        TimerConfig::default(),
    );
    assert_eq!(names(m.state()), "Trying");
}
