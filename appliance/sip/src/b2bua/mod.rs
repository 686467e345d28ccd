//! The sans-IO B2BUA call core (RFC 3261 back-to-back user agent).
//!
//! [`B2bua`] is the transaction user (TU) of a
//! [`crate::transaction::TransactionLayer`] for INVITE-related traffic. It
//! never touches the layer itself: the shell feeds it
//!
//! - new requests ([`B2bua::handle_request`]: INVITE, CANCEL, in-dialog BYE,
//!   re-INVITE, INFO, UPDATE, OPTIONS, ...) with their server transaction,
//! - ACKs for 2xx ([`B2bua::handle_ack`]),
//! - events of the client transactions it asked for
//!   ([`B2bua::handle_client_event`], keyed by our [`ClientTx`]),
//! - routing decisions ([`B2bua::handle_route`]), media port allocations
//!   ([`B2bua::handle_media_allocated`]), media timeouts
//!   ([`B2bua::handle_media_timeout`]) and timer expiry
//!   ([`B2bua::handle_timeout`] at [`B2bua::poll_timeout`]),
//!
//! and drains [`Command`]s ([`B2bua::poll_command`]), [`Event`]s
//! ([`B2bua::poll_event`]) and [`MediaInstruction`]s ([`B2bua::poll_media`]).
//!
//! # Call flow
//!
//! A new INVITE emits [`Event::CallStarted`], [`Event::RouteRequired`] and
//! [`Event::AllocateMedia`]; B-legs start once both the decision and the two
//! local port pairs ([`MediaPorts`]) are in (a `Reject` needs no ports). Each
//! B-leg gets a new Call-ID, our own From tag and A's offer rewritten to our
//! B-side port; answers and early media (183 with SDP) go to A rewritten to
//! our A-side port, so media is always anchored. All forks of one group share
//! the B-side port (only one wins). The `100 Trying` to A is left to the
//! transaction layer.
//!
//! # Decisions and simplifications
//!
//! - **Failover**: when every fork of a group has a final answer, the call
//!   ends if any fork answered 486, 404, 600 or 603 (the most preferred of
//!   those is relayed); otherwise the next group is tried. A 6xx cancels the
//!   rest of its group at once. With no group left A gets the best answer
//!   seen (6xx first, then the lowest class, specific codes before 408/503),
//!   or 503 if only Timer B timeouts happened (disposition `no_answer`).
//!   A group whose targets are marked [`Target::address_failover`] (the next
//!   RFC 3263 address of the previous group's server) is tried only when the
//!   previous group failed with 503, 408 or no response, else skipped.
//! - **CANCEL to B** is sent only after a provisional response (RFC 3261
//!   9.1); a fork still in Calling is cancelled when its first provisional
//!   arrives, and a 2xx that races the CANCEL is acknowledged and hung up.
//! - **Late offer** (INVITE without SDP): each B-leg gets our own offer
//!   (the relay's B-side port, the target's `offer_codecs` and
//!   telephone-event); the winning B answer, pointed at our A-side port,
//!   becomes the offer in the 2xx to A (so A can only pick codecs B accepted
//!   and the relay never transcodes); early media SDP is not relayed to A
//!   (an offer needs a reliable provisional); A's answer is taken from the
//!   ACK and starts the relay. An ACK without a usable answer ends the call
//!   with BYE on both sides ([`EndReason::NoAnswerInAck`]). The echo test
//!   offers its own codecs the same way. A request body that is not SDP is
//!   still answered 488.
//! - **Upstream forking** is collapsed: A sees one dialog (our To tag) no
//!   matter how many B dialogs send provisionals.
//! - **In-dialog requests** are sent to the B-leg's original
//!   [`crate::transaction::Destination`] (the shell already resolved it),
//!   not re-resolved from the remote target.
//! - **Re-INVITE** (either side) is forwarded with SDP rewritten; the 2xx
//!   is acknowledged on the far side by us at once and relayed with a
//!   [`crate::dialog::SuccessRetransmitter`]; a second re-INVITE while one is
//!   pending (or its 2xx is unacknowledged) gets 491. Directions declared in
//!   SDP are reported as [`MediaInstruction::Direction`].
//! - **Session timers** (RFC 4028), on each leg independently. A-leg: a
//!   `Session-Expires` below our `Min-SE` (90 s) is refused with 422 and
//!   `Min-SE: 90`; otherwise the 2xx carries the interval and the refresher
//!   (A's choice; without one, A refreshes when it supports `timer`, else
//!   we do), `Supported: timer`, and `Require: timer` when A supports it.
//!   B-leg: every INVITE carries `Supported: timer`, `Session-Expires` (A's
//!   interval, else 1800 s) and `Min-SE`; a 422 is retried once with the
//!   interval raised to B's `Min-SE`; B's 2xx settles interval and
//!   refresher (no `Session-Expires` in it: no timer on that leg). Where we
//!   are the refresher we refresh at half the interval, with UPDATE when
//!   the peer's `Allow` lists it, else a re-INVITE repeating our last SDP;
//!   where the peer refreshes, a missing refresh ends the call at the
//!   interval minus min(32 s, interval / 3). Any successful re-INVITE or
//!   UPDATE (forwarded or ours) restarts the timers. A refresh answered 408
//!   or 481, or not at all, ends the call too. Ending: BYE on both legs,
//!   [`EndReason::SessionExpired`] in the summary.
//! - **Retransmitted INVITEs** are absorbed by the transaction layer; an
//!   INVITE with a known Call-ID and no To tag on another transaction gets
//!   482 (merged request).
//! - A B-leg that answers 401/407 and has credentials is retried once with
//!   a digest `Authorization`/`Proxy-Authorization`.

mod call;
mod ctx;
mod media;
mod session_timer;
mod types;

pub use types::{
    B2buaConfig, CallRef, CallSummary, ClientTx, Command, Disposition, EndReason, Entropy, Event,
    LegCodec, LegSummary, MediaInstruction, MediaPorts, RouteDecision, Side, Target,
    TargetCredentials,
};

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use call::{ALeg, Call};
use ctx::{Ctx, TxPurpose};

use crate::header::{CallId, From, To};
use crate::message::{HeaderName, Method, Request, StatusCode};
use crate::transaction::{ClientEvent, Destination, Reliability, TransactionId, response_to};
use crate::uri::Uri;

/// The B2BUA call core. See the [module documentation](self).
pub struct B2bua<R> {
    ctx: Ctx<R>,
    calls: HashMap<CallRef, Call>,
    next_call: u64,
    /// Each call's next deadline ([`Call::poll_timeout`]) as last armed, and
    /// the same deadlines in order, so [`B2bua::poll_timeout`] and
    /// [`B2bua::handle_timeout`] never scan every call. Every handler that
    /// touches a call ends in [`B2bua::settle`], which re-arms it.
    armed: HashMap<CallRef, Instant>,
    timers: BTreeSet<(Instant, CallRef)>,
}

impl<R> std::fmt::Debug for B2bua<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("B2bua")
            .field("calls", &self.calls.len())
            .finish_non_exhaustive()
    }
}

/// The user part of a URI (SIP user or tel number), empty if none.
fn user_of(uri: &Uri) -> String {
    match uri {
        Uri::Sip(s) => s.user.clone().unwrap_or_default(),
        Uri::Tel(t) => t.number.clone(),
        Uri::Other { .. } => String::new(),
    }
}

fn has_to_tag(request: &Request) -> bool {
    request
        .headers
        .typed::<To>()
        .and_then(Result::ok)
        .is_some_and(|t| t.tag().is_some())
}

impl<R: Entropy> B2bua<R> {
    /// A B2BUA without calls.
    pub fn new(config: B2buaConfig, rng: R) -> Self {
        B2bua {
            ctx: Ctx::new(config, rng),
            calls: HashMap::new(),
            next_call: 0,
            armed: HashMap::new(),
            timers: BTreeSet::new(),
        }
    }

    /// Answers an INFO handed out as [`Event::DtmfInfo`] with `status`
    /// (200: the digit was taken; 400: the body was not a digit). Unknown
    /// transactions are ignored.
    pub fn answer_info(&mut self, tx: TransactionId, status: u16) {
        if let Some(request) = self.ctx.infos.remove(&tx) {
            self.ctx.reply(tx, &request, status, None);
        }
    }

    /// Number of calls held (including ended calls with transactions still
    /// outstanding).
    pub fn len(&self) -> usize {
        self.calls.len()
    }

    /// No calls held.
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// A new request on server transaction `tx` from `source`. ACKs go to
    /// [`B2bua::handle_ack`] instead.
    pub fn handle_request(
        &mut self,
        now: Instant,
        tx: TransactionId,
        request: Request,
        source: Destination,
        reliability: Reliability,
    ) {
        let call_id = request
            .headers
            .typed::<CallId>()
            .and_then(Result::ok)
            .map(|c| c.0);
        let known = call_id
            .as_ref()
            .and_then(|c| self.ctx.call_ids.get(c).copied());
        if request.method == Method::ACK {
            self.handle_ack(now, &request);
            return;
        }
        if request.method == Method::CANCEL {
            match known {
                Some((call, Side::A)) => {
                    self.ctx.reply(tx, &request, 200, None);
                    if let Some(c) = self.calls.get_mut(&call) {
                        c.cancel_from_a(now, &mut self.ctx);
                    }
                    self.settle(call);
                }
                _ => self.ctx.reply(tx, &request, 481, None),
            }
            return;
        }
        if has_to_tag(&request) {
            let Some((call, side)) = known else {
                self.ctx.reply(tx, &request, 481, None);
                return;
            };
            if let Some(c) = self.calls.get_mut(&call) {
                c.in_dialog(now, &mut self.ctx, side, tx, request);
            }
            self.settle(call);
            return;
        }
        if request.method != Method::INVITE {
            // Out-of-dialog non-INVITE requests are not ours (registrar, OPTIONS).
            self.ctx.reply(tx, &request, 481, None);
            return;
        }
        if known.is_some() {
            self.ctx.reply(tx, &request, 482, None);
            return;
        }
        self.new_call(now, tx, request, source, reliability, call_id);
    }

    fn new_call(
        &mut self,
        now: Instant,
        tx: TransactionId,
        request: Request,
        source: Destination,
        reliability: Reliability,
        call_id: Option<String>,
    ) {
        let from = request.headers.typed::<From>().and_then(Result::ok);
        let from_tagged = from.as_ref().is_some_and(|f| f.tag().is_some());
        let contact_ok = request.headers.contains(&HeaderName::CONTACT);
        let (Some(call_id), Some(from), true, true) = (call_id, from, from_tagged, contact_ok)
        else {
            self.ctx.reply(tx, &request, 400, None);
            return;
        };
        let tag = self.ctx.hex(6);
        if request
            .headers
            .get(&HeaderName::MAX_FORWARDS)
            .is_some_and(|v| v.trim() == "0")
        {
            self.ctx.reply(tx, &request, 483, Some(&tag));
            return;
        }
        let session_expires = session_timer::session_expires(&request.headers);
        if session_expires.is_some_and(|se| se.interval < session_timer::MIN_SE) {
            // RFC 4028 8.1 / 9: too small an interval.
            let status = StatusCode::new(422).unwrap_or(StatusCode::SERVER_INTERNAL_ERROR);
            let mut too_small = response_to(&request, status, Some(&tag));
            too_small
                .headers
                .push(HeaderName::MIN_SE, session_timer::MIN_SE.to_string());
            self.ctx.respond(tx, too_small);
            return;
        }
        // An empty body is a late offer; a body that is not usable SDP is
        // refused.
        let offer = media::sdp_of(&request.headers, &request.body);
        if offer.is_none() && !request.body.is_empty() {
            self.ctx.reply(tx, &request, 488, Some(&tag));
            return;
        }
        let timer_supported = session_timer::supports_timer(&request.headers);
        let allows_update = session_timer::allows_update(&request.headers);
        let min_se = session_timer::min_se(&request.headers);
        let caller = user_of(&from.uri);
        let dialled = user_of(&request.uri);
        let id = CallRef(self.next_call);
        self.next_call += 1;
        let a = ALeg {
            tx,
            invite: request,
            source,
            reliability,
            tag,
            call_id: call_id.clone(),
            offer,
            dialog: None,
            session_expires,
            timer_supported,
            allows_update,
            min_se,
        };
        self.ctx.call_ids.insert(call_id, (id, Side::A));
        self.calls
            .insert(id, Call::new(id, now, a, caller.clone(), dialled.clone()));
        self.settle(id);
        self.ctx
            .events
            .push_back(Event::CallStarted { call_id_ref: id });
        self.ctx.events.push_back(Event::RouteRequired {
            call_id_ref: id,
            caller,
            dialled,
            source,
        });
        self.ctx
            .events
            .push_back(Event::AllocateMedia { call_id_ref: id });
    }

    /// An ACK without a matching server transaction (the ACK for a 2xx), or
    /// one the layer reported as `ServerEvent::AckReceived`.
    pub fn handle_ack(&mut self, now: Instant, request: &Request) {
        let Some(call_id) = request.headers.typed::<CallId>().and_then(Result::ok) else {
            return;
        };
        let Some(&(call, side)) = self.ctx.call_ids.get(&call_id.0) else {
            return;
        };
        if let Some(c) = self.calls.get_mut(&call) {
            c.ack(now, &mut self.ctx, side, request);
        }
        self.settle(call);
    }

    /// The routing core's decision for `call`.
    pub fn handle_route(&mut self, now: Instant, call: CallRef, decision: RouteDecision) {
        if let Some(c) = self.calls.get_mut(&call)
            && c.decision.is_none()
        {
            c.decision = Some(decision);
            c.progress(now, &mut self.ctx);
        }
        self.settle(call);
    }

    /// The shell allocated the local ports of `call`. For a call that is
    /// gone or already over, [`MediaInstruction::Release`] follows at once.
    pub fn handle_media_allocated(&mut self, now: Instant, call: CallRef, ports: MediaPorts) {
        match self.calls.get_mut(&call) {
            Some(c) if !c.is_ended() && c.ports.is_none() => {
                c.ports = Some(ports);
                c.progress(now, &mut self.ctx);
            }
            _ => self.ctx.media.push_back(MediaInstruction::Release { call }),
        }
        self.settle(call);
    }

    /// The shell could not allocate the local ports of `call` (the port range
    /// or the relay limit is exhausted): the call is refused with 503 and
    /// `code` for the record, whether or not its route is known yet.
    pub fn handle_media_unavailable(&mut self, now: Instant, call: CallRef, code: &str) {
        if let Some(c) = self.calls.get_mut(&call)
            && !c.is_ended()
            && c.ports.is_none()
        {
            c.decision = Some(RouteDecision::Reject {
                status: 503,
                code: code.to_owned(),
            });
            c.progress(now, &mut self.ctx);
        }
        self.settle(call);
    }

    /// The relay saw no RTP for too long: BYE both sides.
    pub fn handle_media_timeout(&mut self, now: Instant, call: CallRef) {
        if let Some(c) = self.calls.get_mut(&call)
            && c.answered.is_some()
        {
            c.hangup_both(now, &mut self.ctx, EndReason::MediaTimeout);
        }
        self.settle(call);
    }

    /// An event of client transaction `tx` (one we asked for).
    pub fn handle_client_event(&mut self, now: Instant, tx: ClientTx, event: &ClientEvent) {
        let Some((call, purpose)) = self.ctx.txs.get(&tx).cloned() else {
            return;
        };
        if let Some(c) = self.calls.get_mut(&call) {
            match (&purpose, event) {
                (TxPurpose::Invite(i), ClientEvent::ResponseReceived(r))
                    if c.legs.get(*i).is_some_and(|l| l.tx == tx) =>
                {
                    c.leg_response(now, &mut self.ctx, *i, r);
                }
                (TxPurpose::Invite(i), ClientEvent::Timeout)
                    if c.legs.get(*i).is_some_and(|l| l.tx == tx) =>
                {
                    c.leg_failure(now, &mut self.ctx, *i, 408, None);
                }
                (TxPurpose::Invite(i), ClientEvent::TransportError)
                    if c.legs.get(*i).is_some_and(|l| l.tx == tx) =>
                {
                    c.leg_failure(now, &mut self.ctx, *i, 503, None);
                }
                (TxPurpose::Refresh { side, invite }, ClientEvent::ResponseReceived(r)) => {
                    c.refresh_response(now, &mut self.ctx, *side, *invite, Some(r));
                }
                (
                    TxPurpose::Refresh { side, invite },
                    ClientEvent::Timeout | ClientEvent::TransportError,
                ) => c.refresh_response(now, &mut self.ctx, *side, *invite, None),
                (
                    TxPurpose::Forward {
                        from,
                        server_tx,
                        original,
                    },
                    ClientEvent::ResponseReceived(r),
                ) => c.forward_response(now, &mut self.ctx, *from, *server_tx, original, Some(r)),
                (
                    TxPurpose::Forward {
                        from,
                        server_tx,
                        original,
                    },
                    ClientEvent::Timeout | ClientEvent::TransportError,
                ) => c.forward_response(now, &mut self.ctx, *from, *server_tx, original, None),
                _ => {}
            }
            if *event == ClientEvent::Terminated {
                self.ctx.txs.remove(&tx);
                c.live_txs = c.live_txs.saturating_sub(1);
            }
        } else if *event == ClientEvent::Terminated {
            self.ctx.txs.remove(&tx);
        }
        self.settle(call);
    }

    /// Fires the call timers due at `now` (2xx retransmission and ACK
    /// timeout, max duration, session expiry).
    pub fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<CallRef> = self
            .timers
            .iter()
            .take_while(|(at, _)| *at <= now)
            .map(|(_, id)| *id)
            .collect();
        for id in due {
            if let Some(c) = self.calls.get_mut(&id) {
                c.handle_timeout(now, &mut self.ctx);
            }
            self.settle(id);
        }
    }

    /// When [`B2bua::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.first().map(|(at, _)| *at)
    }

    /// The next transaction command.
    pub fn poll_command(&mut self) -> Option<Command> {
        self.ctx.commands.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.ctx.events.pop_front()
    }

    /// The next media instruction.
    pub fn poll_media(&mut self) -> Option<MediaInstruction> {
        self.ctx.media.pop_front()
    }

    /// After `call` was touched: drops it with its Call-ID index entries
    /// when it is finished, else re-arms its timer.
    fn settle(&mut self, call: CallRef) {
        let next = match self.calls.get(&call) {
            Some(c) if c.is_finished() => {
                if let Some(c) = self.calls.remove(&call) {
                    self.ctx.call_ids.remove(&c.a.call_id);
                    for leg in &c.legs {
                        self.ctx.call_ids.remove(&leg.call_id);
                    }
                }
                None
            }
            Some(c) => c.poll_timeout(),
            None => None,
        };
        let old = match next {
            Some(at) => self.armed.insert(call, at),
            None => self.armed.remove(&call),
        };
        if old != next {
            if let Some(old) = old {
                self.timers.remove(&(old, call));
            }
            if let Some(at) = next {
                self.timers.insert((at, call));
            }
        }
    }
}
