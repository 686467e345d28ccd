//! A full INVITE / 200 / ACK / BYE exchange between two transaction layers
//! over an in-memory UDP link that loses 20 % of datagrams (seeded), in
//! virtual time.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a failure should panic the test"
)]

mod transaction_util;

use std::time::{Duration, Instant};

use transaction_util::{dest, invite, ms};
use voip_sip::dialog::{Dialog, SuccessRetransmitter};
use voip_sip::header::{TypedHeader, Via};
use voip_sip::message::{HeaderName, Method, SipMessage, StatusCode};
use voip_sip::transaction::{
    ClientEvent, Destination, LayerConfig, Reliability, TimerConfig, TransactionEvent,
    TransactionId, TransactionLayer, generate_branch, response_to,
};
use voip_sip::uri::Uri;

const UDP: Reliability = Reliability::Unreliable;

/// A lossy, delaying datagram link with a seeded xorshift generator.
struct Link {
    state: u64,
    loss_percent: u64,
    delay: Duration,
    in_flight: Vec<(Instant, Destination, Vec<u8>)>,
    sent: usize,
    lost: usize,
}

impl Link {
    fn next(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state = x;
        x
    }

    fn send(&mut self, now: Instant, to: Destination, message: &SipMessage) {
        self.sent += 1;
        if self.next() % 100 < self.loss_percent {
            self.lost += 1;
            return;
        }
        // Serialise and re-parse: the wire form is what crosses the link.
        self.in_flight
            .push((now + self.delay, to, message.to_bytes()));
    }

    fn next_delivery(&self) -> Option<Instant> {
        self.in_flight.iter().map(|f| f.0).min()
    }

    fn take_due(&mut self, now: Instant) -> Vec<(Destination, SipMessage)> {
        let (due, rest): (Vec<_>, Vec<_>) = self.in_flight.drain(..).partition(|f| f.0 <= now);
        self.in_flight = rest;
        due.into_iter()
            .map(|(_, to, bytes)| (to, SipMessage::parse(&bytes).unwrap()))
            .collect()
    }
}

const ALICE: u16 = 5060;
const BOB: u16 = 5070;

struct Alice {
    layer: TransactionLayer,
    branch_seed: u8,
    invite_id: Option<TransactionId>,
    dialog: Option<Dialog>,
    bye_id: Option<TransactionId>,
    bye_answered: bool,
    acks_sent: usize,
}

impl Alice {
    fn branch(&mut self) -> String {
        self.branch_seed += 1;
        generate_branch(&[self.branch_seed; 16])
    }

    fn via(&mut self) -> Via {
        Via::parse(&format!(
            "SIP/2.0/UDP 192.0.2.1:{ALICE};branch={}",
            self.branch()
        ))
        .unwrap()
    }

    fn on_event(&mut self, now: Instant, event: TransactionEvent) {
        let TransactionEvent::Client { id, event } = event else {
            panic!("Alice only runs client transactions: {event:?}");
        };
        match event {
            ClientEvent::ResponseReceived(r)
                if Some(id) == self.invite_id && r.status.is_success() =>
            {
                if self.dialog.is_none() {
                    let invite = self.layer.get(id).unwrap().request().clone();
                    let contact = Uri::parse("sip:alice@192.0.2.1").unwrap();
                    self.dialog = Some(Dialog::uac(&invite, &r, contact).unwrap());
                }
                // Every 2xx (first or retransmitted) gets an ACK.
                let via = self.via();
                let ack = self.dialog.as_ref().unwrap().create_ack(&via).unwrap();
                self.layer
                    .send_stateless(dest(BOB), SipMessage::Request(ack));
                self.acks_sent += 1;
                if self.bye_id.is_none() {
                    let via = self.via();
                    let bye = self
                        .dialog
                        .as_mut()
                        .unwrap()
                        .create_request(Method::BYE, &via)
                        .unwrap();
                    self.bye_id = Some(self.layer.start_client(now, bye, dest(BOB), UDP).unwrap());
                }
            }
            ClientEvent::ResponseReceived(r) if Some(id) == self.bye_id && r.status.is_final() => {
                assert_eq!(r.status, StatusCode::OK);
                self.bye_answered = true;
            }
            ClientEvent::Timeout | ClientEvent::TransportError => {
                panic!("Alice: {event:?} on {id:?}")
            }
            _ => {}
        }
    }
}

#[derive(Default)]
struct Bob {
    dialog: Option<Dialog>,
    retransmitter: Option<SuccessRetransmitter>,
    ack_seen: bool,
    bye_seen: bool,
}

impl Bob {
    fn on_event(&mut self, now: Instant, layer: &mut TransactionLayer, event: TransactionEvent) {
        match event {
            TransactionEvent::RequestReceived {
                id,
                request,
                source,
                ..
            } if request.method == Method::INVITE => {
                let ringing = response_to(&request, StatusCode::RINGING, Some("bob-tag"));
                layer.send_response(now, id, ringing).unwrap();
                let mut ok = response_to(&request, StatusCode::OK, Some("bob-tag"));
                ok.headers
                    .push(HeaderName::CONTACT, "<sip:bob@192.0.2.2:5070>");
                layer.send_response(now, id, ok.clone()).unwrap();
                let contact = Uri::parse("sip:bob@192.0.2.2:5070").unwrap();
                self.dialog =
                    Some(Dialog::uas(&request, StatusCode::OK, "bob-tag", contact).unwrap());
                self.retransmitter = Some(SuccessRetransmitter::new(
                    now,
                    ok,
                    source,
                    UDP,
                    TimerConfig::default(),
                ));
            }
            TransactionEvent::AckWithoutTransaction { request, .. } => {
                self.dialog
                    .as_mut()
                    .unwrap()
                    .handle_remote_request(&request)
                    .unwrap();
                if let Some(r) = &mut self.retransmitter {
                    r.handle_ack(now);
                }
                self.ack_seen = true;
            }
            TransactionEvent::RequestReceived { id, request, .. }
                if request.method == Method::BYE =>
            {
                self.dialog
                    .as_mut()
                    .unwrap()
                    .handle_remote_request(&request)
                    .unwrap();
                // A BYE in the dialog proves Alice has the 2xx: stop retransmitting it.
                if let Some(r) = &mut self.retransmitter {
                    r.handle_ack(now);
                }
                layer
                    .send_response(now, id, response_to(&request, StatusCode::OK, None))
                    .unwrap();
                self.bye_seen = true;
            }
            TransactionEvent::Server {
                event: voip_sip::transaction::ServerEvent::Timeout,
                ..
            } => {
                panic!("Bob: server timeout")
            }
            _ => {}
        }
    }
}

struct Outcome {
    finished_at: Duration,
    sent: usize,
    lost: usize,
    acks_sent: usize,
}

fn run_call(seed: u64, loss_percent: u64) -> Outcome {
    let t0 = Instant::now();
    let mut link = Link {
        state: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
        loss_percent,
        delay: ms(20),
        in_flight: Vec::new(),
        sent: 0,
        lost: 0,
    };
    let mut bob_layer = TransactionLayer::new(LayerConfig::default());
    let mut bob = Bob::default();
    let mut alice = Alice {
        layer: TransactionLayer::new(LayerConfig::default()),
        branch_seed: 0,
        invite_id: None,
        dialog: None,
        bye_id: None,
        bye_answered: false,
        acks_sent: 0,
    };
    let branch = alice.branch();
    let mut inv = invite(&branch);
    inv.headers.set(
        HeaderName::VIA,
        format!("SIP/2.0/UDP 192.0.2.1:{ALICE};branch={branch}"),
    );
    alice.invite_id = Some(alice.layer.start_client(t0, inv, dest(BOB), UDP).unwrap());

    let mut now = t0;
    loop {
        // Outputs.
        while let Some(t) = alice.layer.poll_transmit() {
            link.send(now, t.destination, &t.message);
        }
        while let Some(t) = bob_layer.poll_transmit() {
            link.send(now, t.destination, &t.message);
        }
        if let Some(r) = &mut bob.retransmitter {
            while let Some(t) = r.poll_transmit() {
                link.send(now, t.destination, &t.message);
            }
            while r.poll_event().is_some() {}
        }
        let done = alice.bye_answered
            && alice.layer.is_empty()
            && bob_layer.is_empty()
            && bob
                .retransmitter
                .as_ref()
                .is_none_or(SuccessRetransmitter::is_done);
        if done {
            break;
        }
        // Next instant.
        let next = [
            link.next_delivery(),
            alice.layer.poll_timeout(),
            bob_layer.poll_timeout(),
            bob.retransmitter
                .as_ref()
                .and_then(SuccessRetransmitter::poll_timeout),
        ]
        .into_iter()
        .flatten()
        .min()
        .expect("nothing left to do but the call did not finish");
        assert!(
            next - t0 < Duration::from_mins(5),
            "seed {seed}: call did not finish"
        );
        now = next;
        // Inputs.
        for (to, msg) in link.take_due(now) {
            let (layer, src) = if to.addr.port() == BOB {
                (&mut bob_layer, dest(ALICE))
            } else {
                (&mut alice.layer, dest(BOB))
            };
            match msg {
                SipMessage::Request(r) => {
                    layer.handle_request(now, r, src, UDP);
                }
                SipMessage::Response(r) => {
                    layer.handle_response(now, r);
                }
            }
        }
        alice.layer.handle_timeout(now);
        bob_layer.handle_timeout(now);
        if let Some(r) = &mut bob.retransmitter {
            r.handle_timeout(now);
        }
        while let Some(e) = alice.layer.poll_event() {
            alice.on_event(now, e);
        }
        while let Some(e) = bob_layer.poll_event() {
            bob.on_event(now, &mut bob_layer, e);
        }
    }
    assert!(bob.bye_seen, "seed {seed}");
    assert!(alice.dialog.is_some());
    Outcome {
        finished_at: now - t0,
        sent: link.sent,
        lost: link.lost,
        acks_sent: alice.acks_sent,
    }
}

#[test]
fn invite_ok_ack_bye_completes_over_udp_with_20_percent_loss() {
    let mut lost = 0;
    let mut sent = 0;
    let mut extra_acks = 0;
    for seed in 1..=256 {
        let o = run_call(seed, 20);
        sent += o.sent;
        lost += o.lost;
        extra_acks += o.acks_sent - 1;
        // Transactions linger for their absorb timers (L, M, J, K), never for B/F.
        assert!(
            o.finished_at < Duration::from_secs(70),
            "seed {seed}: {:?}",
            o.finished_at
        );
    }
    // The link really lost datagrams and the machines really retransmitted.
    assert!(lost * 100 / sent >= 15, "lost {lost} of {sent}");
    assert!(sent > 6 * 256, "retransmissions happened");
    assert!(extra_acks > 0, "some 2xx retransmission was ACKed again");
}

#[test]
fn lossless_call_needs_no_retransmission() {
    let o = run_call(7, 0);
    // INVITE, 180, 200, ACK, BYE, 200.
    assert_eq!(o.sent, 6);
    assert_eq!(o.acks_sent, 1);
}
