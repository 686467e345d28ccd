//! One call: the A-leg, its B-legs and the logic between them.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::ctx::{Ctx, TxPurpose, set_sdp};
use super::media::{anchored, codec_name, direction, remote_rtp, sdp_of};
use super::session_timer::{
    self, DEFAULT_SE, LegTimer, MIN_SE, Refresher, SessionExpires, allows_update,
};
use super::types::{
    CallRef, CallSummary, ClientTx, Disposition, EndReason, Entropy, Event, LegCodec, LegSummary,
    MediaInstruction, MediaPorts, RouteDecision, Side, Target,
};
use crate::auth::DigestClient;
use crate::dialog::{Dialog, RetransmitEvent, SuccessRetransmitter, UacDialogs};
use crate::header::{CSeq, To};
use crate::message::{HeaderName, Method, Request, Response, SipMessage, StatusCode, Version};
use crate::sdp::{
    Codec, CodecPref, DirectionPolicy, LocalMedia, Session, answer as sdp_answer, audio_codecs,
    offer as sdp_offer, restrict_offer, telephone_event_pt,
};
use crate::transaction::{Destination, Reliability, TransactionId, cancel_for, response_to};

/// Statuses that end the call instead of failing over to the next group.
const TERMINAL: [u16; 4] = [486, 404, 603, 600];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LegState {
    /// INVITE sent, no provisional yet.
    Calling,
    /// A provisional arrived.
    Proceeding,
    /// Answered (the winner, or a late 2xx we acknowledged and hung up).
    Answered,
    /// A final non-2xx (or timeout) arrived.
    Failed,
}

pub(crate) struct BLeg {
    pub(crate) tx: ClientTx,
    pub(crate) group: usize,
    pub(crate) target: Target,
    pub(crate) invite: Request,
    pub(crate) call_id: String,
    pub(crate) dialogs: UacDialogs,
    pub(crate) dialog: Option<Dialog>,
    pub(crate) state: LegState,
    pub(crate) cancel_wanted: bool,
    pub(crate) auth_tried: bool,
    pub(crate) status: Option<u16>,
    pub(crate) codec: Option<String>,
    /// The `Session-Expires` we asked for (seconds).
    pub(crate) session_expires: u32,
    /// Whether the INVITE was already retried after a 422.
    pub(crate) se_retried: bool,
    /// Set when this leg was offered its own codecs because the caller's
    /// offer had none of them: what we answer A with if it wins.
    pub(crate) transcode: Option<TranscodeOffer>,
}

/// Our side of a transcoded call toward A, prepared when B is offered.
pub(crate) struct TranscodeOffer {
    /// A's codec as our answer to its offer chose it.
    pub(crate) a: LegCodec,
    /// Our SDP answer to A.
    pub(crate) a_answer: Vec<u8>,
}

/// How a B-leg gets its offer.
enum LegOffer {
    /// The caller's offer (restricted to the target's codecs), anchored.
    Relay(Box<Session>),
    /// Our own offer (A's INVITE had no SDP: late offer), with the target's
    /// codecs; A answers in its ACK.
    Late(Vec<u8>),
    /// Our own offer with the target's codecs; the call transcodes.
    Transcode(Vec<u8>, TranscodeOffer),
    /// No codec in common and no transcoding: 488.
    Refused,
}

pub(crate) struct ALeg {
    pub(crate) tx: TransactionId,
    pub(crate) invite: Request,
    pub(crate) source: Destination,
    pub(crate) reliability: Reliability,
    pub(crate) tag: String,
    pub(crate) call_id: String,
    /// A's offer; `None` for a late offer (INVITE without SDP).
    pub(crate) offer: Option<Session>,
    pub(crate) dialog: Option<Dialog>,
    pub(crate) session_expires: Option<SessionExpires>,
    pub(crate) timer_supported: bool,
    pub(crate) allows_update: bool,
    pub(crate) min_se: Option<u32>,
}

pub(crate) struct Call {
    pub(crate) id: CallRef,
    pub(crate) a: ALeg,
    pub(crate) legs: Vec<BLeg>,
    pub(crate) groups: VecDeque<Vec<Target>>,
    pub(crate) group_no: usize,
    pub(crate) decision: Option<RouteDecision>,
    pub(crate) routed: bool,
    pub(crate) ports: Option<MediaPorts>,
    pub(crate) winner: Option<usize>,
    pub(crate) best: Option<u16>,
    pub(crate) caller: String,
    pub(crate) callee: String,
    pub(crate) started: Instant,
    pub(crate) answered: Option<Instant>,
    pub(crate) ended: Option<Instant>,
    pub(crate) max_duration: Option<Duration>,
    pub(crate) max_end: Option<Instant>,
    /// RFC 4028 session timers, indexed by [`slot`].
    pub(crate) timers: [Option<LegTimer>; 2],
    /// The last SDP we sent on each side (a re-INVITE refresh repeats it).
    pub(crate) last_sdp: [Vec<u8>; 2],
    pub(crate) emergency: bool,
    pub(crate) reject_code: Option<String>,
    pub(crate) a_codec: Option<String>,
    /// The caller's configured codecs (from the route decision).
    pub(crate) caller_codecs: Vec<Codec>,
    /// The winning leg transcodes: both legs' codecs.
    pub(crate) transcoding: Option<(LegCodec, LegCodec)>,
    pub(crate) a_remote: Option<SocketAddr>,
    pub(crate) b_remote: Option<SocketAddr>,
    pub(crate) retx: Vec<(Side, SuccessRetransmitter)>,
    pub(crate) forwarding_invite: bool,
    pub(crate) live_txs: usize,
    /// Late offer: our 2xx to A carried the offer; A's answer is due in the
    /// ACK. `Some(port)` for the echo test (its local port), `Some(0)` for a
    /// relayed call.
    pub(crate) answer_due_in_ack: Option<u16>,
}

/// The index of `side` in per-side arrays.
fn slot(side: Side) -> usize {
    match side {
        Side::A => 0,
        Side::B => 1,
    }
}

fn header_u32(value: Option<&str>) -> Option<u32> {
    let v = value?;
    let digits: String = v.trim().chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Rank of a final status for the "best response" choice (lower is better):
/// 6xx first, then the lowest class, preferring specific answers over
/// 408/503, then the lowest code.
fn rank(code: u16) -> (u16, u16, u16) {
    let class = if code >= 600 { 0 } else { code / 100 };
    (class, u16::from(code == 408 || code == 503), code)
}

fn disposition_for(code: u16) -> Disposition {
    match code {
        486 | 600 => Disposition::Busy,
        408 | 480 | 487 => Disposition::NoAnswer,
        _ => Disposition::Failed,
    }
}

fn codec_prefs() -> Vec<CodecPref> {
    [Codec::pcmu(), Codec::pcma(), Codec::g722(), Codec::opus()]
        .into_iter()
        .map(CodecPref::new)
        .collect()
}

impl Call {
    pub(crate) fn new(id: CallRef, now: Instant, a: ALeg, caller: String, dialled: String) -> Call {
        Call {
            id,
            a_remote: a.offer.as_ref().and_then(remote_rtp),
            a,
            legs: Vec::new(),
            groups: VecDeque::new(),
            group_no: 0,
            decision: None,
            routed: false,
            ports: None,
            winner: None,
            best: None,
            caller,
            callee: dialled,
            started: now,
            answered: None,
            ended: None,
            max_duration: None,
            max_end: None,
            timers: [None, None],
            last_sdp: [Vec::new(), Vec::new()],
            emergency: false,
            reject_code: None,
            a_codec: None,
            caller_codecs: Vec::new(),
            transcoding: None,
            b_remote: None,
            retx: Vec::new(),
            forwarding_invite: false,
            live_txs: 0,
            answer_due_in_ack: None,
        }
    }

    pub(crate) fn is_ended(&self) -> bool {
        self.ended.is_some()
    }

    /// Whether the call can be dropped: ended and nothing outstanding.
    pub(crate) fn is_finished(&self) -> bool {
        self.ended.is_some() && self.live_txs == 0
    }

    fn start<R: Entropy>(
        &mut self,
        ctx: &mut Ctx<R>,
        purpose: TxPurpose,
        request: Request,
        destination: Destination,
    ) -> ClientTx {
        self.live_txs += 1;
        ctx.start(self.id, purpose, request, destination)
    }

    fn port(&self, side: Side) -> u16 {
        self.ports.map_or(0, |p| match side {
            Side::A => p.a_port,
            Side::B => p.b_port,
        })
    }

    // ---------------------------------------------------------------- routing

    /// Acts on the route decision once the media ports are known too.
    pub(crate) fn progress<R: Entropy>(&mut self, now: Instant, ctx: &mut Ctx<R>) {
        if self.routed || self.is_ended() {
            return;
        }
        let Some(decision) = self.decision.clone() else {
            return;
        };
        if let RouteDecision::Reject { status, code } = decision {
            self.routed = true;
            self.reject_code = Some(code);
            let status = if (300..700).contains(&status) {
                status
            } else {
                500
            };
            self.final_to_a(ctx, status);
            self.end(
                now,
                ctx,
                Disposition::Rejected,
                EndReason::NotAnswered,
                status,
            );
            return;
        }
        if self.ports.is_none() {
            return;
        }
        self.routed = true;
        match decision {
            RouteDecision::EchoTest => self.echo(now, ctx),
            RouteDecision::Targets {
                groups,
                max_duration,
                emergency,
                caller_codecs,
            } => {
                self.caller_codecs = caller_codecs;
                self.groups = groups.into();
                self.max_duration = max_duration;
                self.emergency = emergency;
                self.next_group(now, ctx);
            }
            RouteDecision::Reject { .. } => {}
        }
    }

    fn echo<R: Entropy>(&mut self, now: Instant, ctx: &mut Ctx<R>) {
        let local = LocalMedia {
            address: ctx.config.media_address,
            port: self.port(Side::A),
            codec_preferences: codec_prefs(),
            telephone_event: true,
            direction_policy: DirectionPolicy::Mirror,
            rtcp_mux: false,
            ptime: None,
            session_id: u64::from_be_bytes(ctx.random16()[..8].try_into().unwrap_or([0; 8])) >> 1,
            session_version: 1,
        };
        let Some(a_offer) = self.a.offer.clone() else {
            // Late offer: we offer in the 2xx, the answer comes in the ACK.
            let session = crate::sdp::offer(&local);
            self.answer_due_in_ack = Some(local.port);
            self.answer_a(now, ctx, session.to_string().into_bytes());
            return;
        };
        match sdp_answer(&a_offer, &local) {
            Ok((session, negotiated)) => {
                self.a_codec = Some(negotiated.codec.name.clone());
                self.answer_a(now, ctx, session.to_string().into_bytes());
                ctx.media.push_back(MediaInstruction::EchoLoop {
                    call: self.id,
                    local_port: local.port,
                    remote: negotiated.remote_rtp,
                });
            }
            Err(e) => {
                let status = e.sip_status();
                self.final_to_a(ctx, status);
                self.end(
                    now,
                    ctx,
                    Disposition::Failed,
                    EndReason::NotAnswered,
                    status,
                );
            }
        }
    }

    /// Our own media description for an offer on `side` (late offer).
    fn late_offer_media<R: Entropy>(
        &self,
        ctx: &mut Ctx<R>,
        side: Side,
        codecs: &[Codec],
    ) -> LocalMedia {
        let codec_preferences = if codecs.is_empty() {
            codec_prefs()
        } else {
            codecs.iter().cloned().map(CodecPref::new).collect()
        };
        LocalMedia {
            address: ctx.config.media_address,
            port: self.port(side),
            codec_preferences,
            telephone_event: true,
            direction_policy: DirectionPolicy::Mirror,
            rtcp_mux: false,
            ptime: None,
            session_id: u64::from_be_bytes(ctx.random16()[..8].try_into().unwrap_or([0; 8])) >> 1,
            session_version: 1,
        }
    }

    fn next_group<R: Entropy>(&mut self, now: Instant, ctx: &mut Ctx<R>) {
        loop {
            let Some(group) = self.groups.pop_front() else {
                let status = self.best.unwrap_or(503);
                self.final_to_a(ctx, status);
                let disposition = if self.best.is_none() {
                    Disposition::NoAnswer
                } else {
                    disposition_for(status)
                };
                self.end(now, ctx, disposition, EndReason::NotAnswered, status);
                return;
            };
            // RFC 3263: another address of the same server only after the
            // server was unavailable (503) or silent (408, timeout,
            // transport error: both reported as 408/503 here).
            if group.iter().all(|t| t.address_failover) {
                let previous = self.group_no;
                let server_unavailable = self
                    .legs
                    .iter()
                    .filter(|l| l.group == previous)
                    .all(|l| matches!(l.status, Some(503 | 408)));
                if !server_unavailable {
                    continue;
                }
            }
            self.group_no += 1;
            let mut started = false;
            for target in group {
                started |= self.start_leg(ctx, target);
            }
            if started {
                return;
            }
        }
    }

    /// The offer for a B-leg to `target`: the caller's offer restricted to
    /// and ordered by the target's codecs (relay), or, without a codec in
    /// common, the target's own codecs (transcode).
    fn leg_offer<R: Entropy>(&self, ctx: &mut Ctx<R>, target: &Target) -> LegOffer {
        let Some(a_offer) = &self.a.offer else {
            let local = self.late_offer_media(ctx, Side::B, &target.codecs);
            return LegOffer::Late(crate::sdp::offer(&local).to_string().into_bytes());
        };
        if target.codecs.is_empty() {
            return LegOffer::Relay(Box::new(a_offer.clone()));
        }
        if let Some(restricted) = restrict_offer(a_offer, &target.codecs) {
            return LegOffer::Relay(Box::new(restricted));
        }
        if !ctx.config.transcoding {
            return LegOffer::Refused;
        }
        let prefs = |codecs: &[Codec]| -> Vec<CodecPref> {
            codecs
                .iter()
                .filter(|c| !c.is_telephone_event())
                .cloned()
                .map(CodecPref::new)
                .collect()
        };
        let caller = if self.caller_codecs.is_empty() {
            codec_prefs()
        } else {
            prefs(&self.caller_codecs)
        };
        let session_id = u64::from_be_bytes(ctx.random16()[..8].try_into().unwrap_or([0; 8])) >> 1;
        let toward_a = LocalMedia {
            address: ctx.config.media_address,
            port: self.port(Side::A),
            codec_preferences: caller,
            telephone_event: true,
            direction_policy: DirectionPolicy::Mirror,
            rtcp_mux: false,
            ptime: None,
            session_id,
            session_version: 1,
        };
        let Ok((a_answer, negotiated)) = sdp_answer(a_offer, &toward_a) else {
            return LegOffer::Refused;
        };
        let toward_b = LocalMedia {
            port: self.port(Side::B),
            codec_preferences: prefs(&target.codecs),
            session_id: session_id ^ 1,
            ..toward_a
        };
        LegOffer::Transcode(
            sdp_offer(&toward_b).to_string().into_bytes(),
            TranscodeOffer {
                a: LegCodec {
                    codec: negotiated.codec,
                    payload_type: negotiated.pt,
                    telephone_event: negotiated.telephone_event_pt,
                },
                a_answer: a_answer.to_string().into_bytes(),
            },
        )
    }

    /// Starts a B-leg; `false` when it cannot be offered (no codec in
    /// common and no transcoding: counted as a 488).
    fn start_leg<R: Entropy>(&mut self, ctx: &mut Ctx<R>, target: Target) -> bool {
        let (sdp, transcode) = match self.leg_offer(ctx, &target) {
            LegOffer::Relay(session) => (
                anchored(&session, ctx.config.media_address, self.port(Side::B)),
                None,
            ),
            LegOffer::Late(offer) => (offer, None),
            LegOffer::Transcode(offer, plan) => (offer, Some(plan)),
            LegOffer::Refused => {
                if self.best.is_none_or(|b| rank(488) < rank(b)) {
                    self.best = Some(488);
                }
                return false;
            }
        };
        let call_id = format!("{}@{}", ctx.hex(12), ctx.config.local_host);
        let tag = ctx.hex(6);
        let via = ctx.via();
        let user = target
            .from_user
            .clone()
            .unwrap_or_else(|| self.caller.clone());
        let max_forwards = header_u32(self.a.invite.headers.get(&HeaderName::MAX_FORWARDS))
            .map_or(70, |m| m.saturating_sub(1));
        let mut headers = crate::message::Headers::new();
        headers.push(HeaderName::VIA, via.to_string());
        headers.push(HeaderName::MAX_FORWARDS, max_forwards.to_string());
        headers.push(
            HeaderName::FROM,
            format!("<sip:{user}@{}>;tag={tag}", ctx.config.local_host),
        );
        headers.push(HeaderName::TO, format!("<{}>", target.request_uri));
        headers.push(HeaderName::CALL_ID, call_id.clone());
        headers.push(HeaderName::CSEQ, "1 INVITE");
        headers.push(HeaderName::CONTACT, ctx.contact_value());
        headers.push(HeaderName::ALLOW, crate::validate::ALLOW);
        let min_se = self.a.min_se.unwrap_or(MIN_SE).max(MIN_SE);
        let session_expires = self
            .a
            .session_expires
            .map_or(DEFAULT_SE, |se| se.interval)
            .max(min_se);
        headers.push(HeaderName::SUPPORTED, "timer");
        headers.push(HeaderName::SESSION_EXPIRES, session_expires.to_string());
        headers.push(HeaderName::MIN_SE, min_se.to_string());
        let mut body = Vec::new();
        self.last_sdp[slot(Side::B)].clone_from(&sdp);
        set_sdp(&mut headers, &mut body, sdp);
        let invite = Request {
            method: Method::INVITE,
            uri: target.request_uri.clone(),
            version: Version::SIP_2_0,
            headers,
            body,
        };
        let index = self.legs.len();
        let destination = target.destination;
        let tx = self.start(ctx, TxPurpose::Invite(index), invite.clone(), destination);
        ctx.call_ids.insert(call_id.clone(), (self.id, Side::B));
        self.legs.push(BLeg {
            tx,
            group: self.group_no,
            target,
            dialogs: UacDialogs::new(invite.clone(), ctx.contact_uri()),
            invite,
            call_id,
            dialog: None,
            state: LegState::Calling,
            cancel_wanted: false,
            auth_tried: false,
            status: None,
            codec: None,
            session_expires,
            se_retried: false,
            transcode,
        });
        true
    }

    // ------------------------------------------------------------ B-leg INVITE

    pub(crate) fn leg_response<R: Entropy>(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<R>,
        index: usize,
        response: &Response,
    ) {
        let code = response.status.as_u16();
        if index >= self.legs.len() || code == 100 {
            return;
        }
        if code < 200 {
            self.leg_provisional(ctx, index, response);
        } else if code < 300 {
            self.leg_success(now, ctx, index, response);
        } else {
            self.leg_failure(now, ctx, index, code, Some(response));
        }
    }

    fn leg_provisional<R: Entropy>(&mut self, ctx: &mut Ctx<R>, index: usize, response: &Response) {
        let call_id = self.id;
        let leg = &mut self.legs[index];
        let _ = leg.dialogs.handle_response(response);
        if leg.state == LegState::Calling {
            leg.state = LegState::Proceeding;
        }
        if leg.cancel_wanted {
            leg.cancel_wanted = false;
            let cancel = cancel_for(&leg.invite);
            let destination = leg.target.destination;
            self.start(ctx, TxPurpose::Fire, cancel, destination);
            return;
        }
        if self.is_ended() || self.answered.is_some() || self.legs[index].group != self.group_no {
            return;
        }
        let mut relay = response_to(&self.a.invite, response.status, Some(&self.a.tag));
        relay.reason.clone_from(&response.reason);
        relay.headers.push(HeaderName::CONTACT, ctx.contact_value());
        // A transcoding leg's early SDP is not A's to see: A gets our
        // answer with the 2xx.
        if let Some(sdp) = sdp_of(&response.headers, &response.body)
            .filter(|_| self.legs[index].transcode.is_none())
        {
            self.b_remote = remote_rtp(&sdp);
            self.legs[index].codec = codec_name(&sdp);
            // Late offer: B's early answer cannot be A's offer in an
            // unreliable provisional; A gets it in the 2xx.
            if self.a.offer.is_some() {
                set_sdp(
                    &mut relay.headers,
                    &mut relay.body,
                    anchored(&sdp, ctx.config.media_address, self.port(Side::A)),
                );
                self.emit_relay(ctx);
            }
        }
        let _ = call_id;
        ctx.respond(self.a.tx, relay);
    }

    fn ack_and_bye<R: Entropy>(
        &mut self,
        ctx: &mut Ctx<R>,
        dialog: &mut Dialog,
        destination: Destination,
    ) {
        let via = ctx.via();
        if let Ok(ack) = dialog.create_ack(&via) {
            ctx.stateless(destination, SipMessage::Request(ack));
        }
        let via = ctx.via();
        if let Ok(bye) = dialog.create_request(Method::BYE, &via) {
            self.start(ctx, TxPurpose::Fire, bye, destination);
        }
    }

    fn leg_success<R: Entropy>(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<R>,
        index: usize,
        response: &Response,
    ) {
        let destination = self.legs[index].target.destination;
        let remote_tag = response
            .headers
            .typed::<To>()
            .and_then(Result::ok)
            .and_then(|t| t.tag().map(str::to_owned));
        // A retransmitted 2xx of the winning dialog: ACK again.
        if let Some(dialog) = &self.legs[index].dialog
            && remote_tag.as_deref() == Some(dialog.id().remote_tag.as_str())
        {
            {
                let via = ctx.via();
                if let Ok(ack) = dialog.create_ack(&via) {
                    ctx.stateless(destination, SipMessage::Request(ack));
                }
                return;
            }
        }
        let leg = &mut self.legs[index];
        let Ok(Some(id)) = leg.dialogs.handle_response(response) else {
            return;
        };
        let Some(mut dialog) = leg.dialogs.remove(&id.remote_tag) else {
            return;
        };
        leg.status = Some(response.status.as_u16());
        let won = self.winner.is_none() && self.ended.is_none() && leg.group == self.group_no;
        if !won {
            // Lost the race (another fork answered, or A gave up): ACK + BYE.
            if leg.dialog.is_none() {
                leg.state = LegState::Answered;
            }
            self.ack_and_bye(ctx, &mut dialog, destination);
            return;
        }
        leg.state = LegState::Answered;
        let via = ctx.via();
        if let Ok(ack) = dialog.create_ack(&via) {
            ctx.stateless(destination, SipMessage::Request(ack));
        }
        leg.dialog = Some(dialog);
        self.winner = Some(index);
        // RFC 4028 7.2: B's 2xx settles the B-leg's timer (none without
        // Session-Expires); without a refresher parameter we refresh.
        if let Some(se) = session_timer::session_expires(&response.headers) {
            let we_refresh = se.refresher != Some(Refresher::Uas);
            self.timers[slot(Side::B)] = Some(LegTimer::new(
                now,
                se.interval.max(MIN_SE),
                we_refresh,
                allows_update(&response.headers),
                true,
            ));
        }
        let mut body = Vec::new();
        let sdp = sdp_of(&response.headers, &response.body);
        if let Some(plan) = self.legs[index].transcode.take() {
            // B answered our own offer: A gets our prepared answer, and the
            // media engine both legs' codecs.
            if let Some(sdp) = &sdp {
                self.b_remote = remote_rtp(sdp);
                self.legs[index].codec = codec_name(sdp);
                if let Some((pt, codec)) = audio_codecs(sdp).into_iter().next() {
                    let telephone_event = telephone_event_pt(sdp, codec.clock_rate);
                    self.transcoding = Some((
                        plan.a.clone(),
                        LegCodec {
                            codec,
                            payload_type: pt,
                            telephone_event,
                        },
                    ));
                }
            }
            self.a_codec = Some(plan.a.codec.name.clone());
            body = plan.a_answer;
        } else if let Some(sdp) = sdp {
            self.b_remote = remote_rtp(&sdp);
            self.legs[index].codec = codec_name(&sdp);
            self.a_codec.clone_from(&self.legs[index].codec);
            body = anchored(&sdp, ctx.config.media_address, self.port(Side::A));
        }
        for other in 0..self.legs.len() {
            if other != index {
                self.cancel_leg(ctx, other);
            }
        }
        if self.a.offer.is_none() {
            // Late offer: B's answer is A's offer; A answers in the ACK.
            self.answer_due_in_ack = Some(0);
        }
        self.answer_a(now, ctx, body);
        self.emit_relay(ctx);
    }

    /// Sends the 2xx to A, creates the A dialog and the retransmitter.
    fn answer_a<R: Entropy>(&mut self, now: Instant, ctx: &mut Ctx<R>, sdp: Vec<u8>) {
        let mut ok = response_to(&self.a.invite, StatusCode::OK, Some(&self.a.tag));
        ok.headers.push(HeaderName::CONTACT, ctx.contact_value());
        ok.headers.push(HeaderName::ALLOW, crate::validate::ALLOW);
        ok.headers.push(HeaderName::SUPPORTED, "timer");
        if let Some(se) = self.a.session_expires {
            // RFC 4028 9: A's refresher; without one, A refreshes when it
            // supports timers, else we must.
            let refresher = se.refresher.unwrap_or(if self.a.timer_supported {
                Refresher::Uac
            } else {
                Refresher::Uas
            });
            let timer = LegTimer::new(
                now,
                se.interval,
                refresher == Refresher::Uas,
                self.a.allows_update,
                self.a.timer_supported,
            );
            ok.headers
                .push(HeaderName::SESSION_EXPIRES, timer.header_value(false));
            if self.a.timer_supported {
                ok.headers.push(HeaderName::REQUIRE, "timer");
            }
            self.timers[slot(Side::A)] = Some(timer);
        }
        if !sdp.is_empty() {
            self.last_sdp[slot(Side::A)].clone_from(&sdp);
            set_sdp(&mut ok.headers, &mut ok.body, sdp);
        }
        self.a.dialog = Dialog::uas(
            &self.a.invite,
            StatusCode::OK,
            &self.a.tag,
            ctx.contact_uri(),
        )
        .ok();
        self.retx.push((
            Side::A,
            SuccessRetransmitter::new(
                now,
                ok.clone(),
                self.a.source,
                self.a.reliability,
                ctx.config.timers,
            ),
        ));
        ctx.respond(self.a.tx, ok);
        self.answered = Some(now);
        self.max_end = self.max_duration.map(|d| now + d);
        ctx.events.push_back(Event::CallAnswered {
            call_id_ref: self.id,
        });
    }

    fn emit_relay<R: Entropy>(&self, ctx: &mut Ctx<R>) {
        if let (Some(a_remote), Some(b_remote), Some(p)) =
            (self.a_remote, self.b_remote, self.ports)
        {
            if let Some((a, b)) = &self.transcoding {
                ctx.media.push_back(MediaInstruction::Transcode {
                    call: self.id,
                    a_local_port: p.a_port,
                    a_remote,
                    a: a.clone(),
                    b_local_port: p.b_port,
                    b_remote,
                    b: b.clone(),
                });
                return;
            }
            ctx.media.push_back(MediaInstruction::Relay {
                call: self.id,
                a_local_port: p.a_port,
                a_remote,
                b_local_port: p.b_port,
                b_remote,
                payloads: relay_payloads(&self.last_sdp),
            });
        }
    }

    pub(crate) fn cancel_leg<R: Entropy>(&mut self, ctx: &mut Ctx<R>, index: usize) {
        let leg = &mut self.legs[index];
        match leg.state {
            LegState::Calling => leg.cancel_wanted = true,
            LegState::Proceeding => {
                let cancel = cancel_for(&leg.invite);
                let destination = leg.target.destination;
                self.start(ctx, TxPurpose::Fire, cancel, destination);
            }
            LegState::Answered | LegState::Failed => {}
        }
    }

    /// RFC 4028 7.3: B answered 422 (our interval is below its Min-SE):
    /// retry once with the interval raised to its Min-SE.
    fn retry_with_interval<R: Entropy>(
        &mut self,
        ctx: &mut Ctx<R>,
        index: usize,
        response: &Response,
    ) -> bool {
        let leg = &self.legs[index];
        if response.status.as_u16() != 422 || leg.se_retried {
            return false;
        }
        let Some(their_min) = session_timer::min_se(&response.headers) else {
            return false;
        };
        let interval = their_min.max(leg.session_expires).max(MIN_SE);
        let mut invite = leg.invite.clone();
        let seq = invite
            .headers
            .typed::<CSeq>()
            .and_then(Result::ok)
            .map_or(1, |c| c.seq.saturating_add(1));
        invite.headers.set(HeaderName::VIA, ctx.via().to_string());
        invite
            .headers
            .set(HeaderName::CSEQ, format!("{seq} INVITE"));
        invite
            .headers
            .set(HeaderName::SESSION_EXPIRES, interval.to_string());
        invite
            .headers
            .set(HeaderName::MIN_SE, their_min.max(MIN_SE).to_string());
        let destination = leg.target.destination;
        let tx = self.start(ctx, TxPurpose::Invite(index), invite.clone(), destination);
        let contact = ctx.contact_uri();
        let leg = &mut self.legs[index];
        leg.tx = tx;
        leg.se_retried = true;
        leg.session_expires = interval;
        leg.state = LegState::Calling;
        leg.dialogs = UacDialogs::new(invite.clone(), contact);
        leg.invite = invite;
        true
    }

    fn retry_with_auth<R: Entropy>(
        &mut self,
        ctx: &mut Ctx<R>,
        index: usize,
        response: &Response,
    ) -> bool {
        let leg = &self.legs[index];
        let code = response.status.as_u16();
        let Some(creds) = leg.target.credentials.clone() else {
            return false;
        };
        if leg.auth_tried || !(code == 401 || code == 407) {
            return false;
        }
        let (challenge_name, auth_name) = if code == 401 {
            (HeaderName::WWW_AUTHENTICATE, HeaderName::AUTHORIZATION)
        } else {
            (
                HeaderName::PROXY_AUTHENTICATE,
                HeaderName::PROXY_AUTHORIZATION,
            )
        };
        let challenges: Vec<&str> = response.headers.get_all(&challenge_name).collect();
        let uri = leg.invite.uri.to_string();
        let cnonce = ctx.random16();
        let Ok(value) = DigestClient::default().respond(
            &challenges,
            "INVITE",
            &uri,
            &creds.username,
            &creds.password,
            cnonce,
            1,
        ) else {
            return false;
        };
        let mut invite = leg.invite.clone();
        let seq = invite
            .headers
            .typed::<CSeq>()
            .and_then(Result::ok)
            .map_or(1, |c| c.seq.saturating_add(1));
        invite.headers.set(HeaderName::VIA, ctx.via().to_string());
        invite
            .headers
            .set(HeaderName::CSEQ, format!("{seq} INVITE"));
        invite.headers.set(auth_name, value.into_string());
        let destination = leg.target.destination;
        let tx = self.start(ctx, TxPurpose::Invite(index), invite.clone(), destination);
        let contact = ctx.contact_uri();
        let leg = &mut self.legs[index];
        leg.tx = tx;
        leg.auth_tried = true;
        leg.state = LegState::Calling;
        leg.dialogs = UacDialogs::new(invite.clone(), contact);
        leg.invite = invite;
        true
    }

    pub(crate) fn leg_failure<R: Entropy>(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<R>,
        index: usize,
        code: u16,
        response: Option<&Response>,
    ) {
        if index >= self.legs.len()
            || matches!(
                self.legs[index].state,
                LegState::Answered | LegState::Failed
            )
        {
            return;
        }
        if let Some(r) = response
            && !self.is_ended()
            && (self.retry_with_interval(ctx, index, r) || self.retry_with_auth(ctx, index, r))
        {
            return;
        }
        let leg = &mut self.legs[index];
        leg.state = LegState::Failed;
        leg.cancel_wanted = false;
        leg.status = Some(code);
        // Timer B timeouts (no response) do not count as a response.
        if response.is_some() && self.best.is_none_or(|b| rank(code) < rank(b)) {
            self.best = Some(code);
        }
        if self.is_ended() || self.winner.is_some() || self.legs[index].group != self.group_no {
            return;
        }
        if code >= 600 {
            for other in 0..self.legs.len() {
                self.cancel_leg(ctx, other);
            }
        }
        let group = self.group_no;
        let pending = self.legs.iter().any(|l| {
            l.group == group
                && matches!(l.state, LegState::Calling | LegState::Proceeding)
                && code < 600
        });
        if pending {
            return;
        }
        let terminal = self
            .legs
            .iter()
            .filter(|l| l.group == group)
            .filter_map(|l| l.status)
            .filter(|s| TERMINAL.contains(s))
            .min_by_key(|s| rank(*s));
        if let Some(status) = terminal {
            self.final_to_a(ctx, status);
            self.end(
                now,
                ctx,
                disposition_for(status),
                EndReason::NotAnswered,
                status,
            );
        } else {
            self.next_group(now, ctx);
        }
    }

    fn final_to_a<R: Entropy>(&mut self, ctx: &mut Ctx<R>, status: u16) {
        let tag = self.a.tag.clone();
        ctx.reply(self.a.tx, &self.a.invite, status, Some(&tag));
        self.a.session_expires = None;
    }

    // ---------------------------------------------------------------- CANCEL

    pub(crate) fn cancel_from_a<R: Entropy>(&mut self, now: Instant, ctx: &mut Ctx<R>) {
        if self.answered.is_some() || self.is_ended() {
            return;
        }
        self.final_to_a(ctx, 487);
        for i in 0..self.legs.len() {
            self.cancel_leg(ctx, i);
        }
        self.end(now, ctx, Disposition::Cancelled, EndReason::Cancelled, 487);
    }

    // ------------------------------------------------------------- in-dialog

    fn dialog_mut(&mut self, side: Side) -> Option<&mut Dialog> {
        match side {
            Side::A => self.a.dialog.as_mut(),
            Side::B => self.winner.and_then(|w| self.legs[w].dialog.as_mut()),
        }
    }

    fn destination(&self, side: Side) -> Option<Destination> {
        match side {
            Side::A => Some(self.a.source),
            Side::B => self.winner.map(|w| self.legs[w].target.destination),
        }
    }

    /// Sends BYE on `side` if it has a dialog.
    fn bye<R: Entropy>(&mut self, ctx: &mut Ctx<R>, side: Side) {
        let via = ctx.via();
        let Some(destination) = self.destination(side) else {
            return;
        };
        let Some(bye) = self
            .dialog_mut(side)
            .and_then(|d| d.create_request(Method::BYE, &via).ok())
        else {
            return;
        };
        self.start(ctx, TxPurpose::Fire, bye, destination);
    }

    /// BYE to both sides and end the answered call.
    pub(crate) fn hangup_both<R: Entropy>(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<R>,
        reason: EndReason,
    ) {
        if self.is_ended() {
            return;
        }
        self.bye(ctx, Side::A);
        self.bye(ctx, Side::B);
        for i in 0..self.legs.len() {
            self.cancel_leg(ctx, i);
        }
        self.end(now, ctx, Disposition::Answered, reason, 200);
    }

    /// An in-dialog request (not ACK, not CANCEL) from `side`.
    pub(crate) fn in_dialog<R: Entropy>(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<R>,
        side: Side,
        tx: TransactionId,
        request: Request,
    ) {
        if self.is_ended() {
            ctx.reply(tx, &request, 481, None);
            return;
        }
        let Some(dialog) = self.dialog_mut(side) else {
            ctx.reply(tx, &request, 481, None);
            return;
        };
        if let Err(e) = dialog.handle_remote_request(&request) {
            ctx.reply(tx, &request, e.status().as_u16(), None);
            return;
        }
        if request.method == Method::BYE {
            ctx.reply(tx, &request, 200, None);
            self.bye(ctx, side.other());
            let reason = match side {
                Side::A => EndReason::CallerHangup,
                Side::B => EndReason::CalleeHangup,
            };
            self.end(now, ctx, Disposition::Answered, reason, 200);
            return;
        }
        if request.method == Method::INFO && self.transcoding.is_some() {
            self.dtmf_info(ctx, side, tx, request);
            return;
        }
        let is_invite = request.method == Method::INVITE;
        if is_invite && (self.forwarding_invite || self.retx.iter().any(|(_, r)| !r.is_done())) {
            ctx.reply(tx, &request, 491, None);
            return;
        }
        let to = side.other();
        let (Some(destination), via) = (self.destination(to), ctx.via()) else {
            ctx.reply(tx, &request, 481, None);
            return;
        };
        let port = self.port(to);
        let media_address = ctx.config.media_address;
        let Some(mut out) = self
            .dialog_mut(to)
            .and_then(|d| d.create_request(request.method.clone(), &via).ok())
        else {
            ctx.reply(tx, &request, 500, None);
            return;
        };
        if let Some(timer) = &self.timers[slot(to)]
            && (is_invite || request.method == Method::UPDATE)
        {
            out.headers
                .push(HeaderName::SESSION_EXPIRES, timer.header_value(true));
            out.headers.push(HeaderName::SUPPORTED, "timer");
        }
        if let Some(sdp) = sdp_of(&request.headers, &request.body) {
            self.learn_sdp(ctx, side, &sdp);
            let body = anchored(&sdp, media_address, port);
            self.last_sdp[slot(to)].clone_from(&body);
            set_sdp(&mut out.headers, &mut out.body, body);
        } else if !request.body.is_empty() {
            if let Some(ct) = request.headers.get(&HeaderName::CONTENT_TYPE) {
                out.headers.push(HeaderName::CONTENT_TYPE, ct);
            }
            out.body.clone_from(&request.body);
        }
        if is_invite {
            self.forwarding_invite = true;
        }
        self.start(
            ctx,
            TxPurpose::Forward {
                from: side,
                server_tx: tx,
                original: Box::new(request),
            },
            out,
            destination,
        );
    }

    /// INFO on a transcoded call: the media engine terminates RTP, so a
    /// `application/dtmf-relay` digit becomes RFC 4733 events towards the
    /// other leg (the caller parses the body, see [`Event::DtmfInfo`]);
    /// other bodies are answered 415 with `Accept: application/dtmf-relay`.
    fn dtmf_info<R: Entropy>(
        &mut self,
        ctx: &mut Ctx<R>,
        side: Side,
        tx: TransactionId,
        request: Request,
    ) {
        let is_dtmf_relay = request
            .headers
            .get(&HeaderName::CONTENT_TYPE)
            .and_then(|ct| ct.split(';').next())
            .is_some_and(|ct| ct.trim().eq_ignore_ascii_case("application/dtmf-relay"));
        if !is_dtmf_relay {
            let mut response = response_to(
                &request,
                StatusCode::new(415).unwrap_or(StatusCode::SERVER_INTERNAL_ERROR),
                None,
            );
            response
                .headers
                .push(HeaderName::ACCEPT, "application/dtmf-relay");
            ctx.respond(tx, response);
            return;
        }
        ctx.events.push_back(Event::DtmfInfo {
            call_id_ref: self.id,
            from: side,
            tx,
            body: request.body.clone(),
        });
        ctx.infos.insert(tx, request);
    }

    /// Records a remote SDP of `side`: its RTP address and direction.
    fn learn_sdp<R: Entropy>(&mut self, ctx: &mut Ctx<R>, side: Side, sdp: &Session) {
        let remote = remote_rtp(sdp);
        let slot = match side {
            Side::A => &mut self.a_remote,
            Side::B => &mut self.b_remote,
        };
        let changed = remote.is_some() && *slot != remote;
        if changed {
            *slot = remote;
        }
        ctx.media.push_back(MediaInstruction::Direction {
            call: self.id,
            side,
            direction: direction(sdp),
        });
        if changed {
            self.emit_relay(ctx);
        }
    }

    /// The final answer to a forwarded in-dialog request.
    pub(crate) fn forward_response<R: Entropy>(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<R>,
        from: Side,
        server_tx: TransactionId,
        original: &Request,
        response: Option<&Response>,
    ) {
        let is_invite = original.method == Method::INVITE;
        let Some(response) = response else {
            if is_invite {
                self.forwarding_invite = false;
            }
            ctx.reply(server_tx, original, 408, None);
            return;
        };
        if !response.status.is_final() {
            return;
        }
        if is_invite {
            self.forwarding_invite = false;
        }
        let to = from.other();
        let mut relay = response_to(original, response.status, None);
        relay.reason.clone_from(&response.reason);
        if response.status.is_success() {
            if let Some(d) = self.dialog_mut(to) {
                let _ = d.handle_response(&original.method, response);
            }
            if let Some(sdp) = sdp_of(&response.headers, &response.body) {
                self.learn_sdp(ctx, to, &sdp);
                let body = anchored(&sdp, ctx.config.media_address, self.port(from));
                self.last_sdp[slot(from)].clone_from(&body);
                set_sdp(&mut relay.headers, &mut relay.body, body);
            }
            if is_invite || original.method == Method::UPDATE {
                // A successful re-INVITE/UPDATE refreshes both legs.
                for timer in self.timers.iter_mut().flatten() {
                    timer.restart(now);
                }
                if let Some(timer) = &self.timers[slot(from)] {
                    relay
                        .headers
                        .push(HeaderName::SESSION_EXPIRES, timer.header_value(false));
                    if timer.peer_supports {
                        relay.headers.push(HeaderName::REQUIRE, "timer");
                    }
                }
            }
            if is_invite {
                relay.headers.push(HeaderName::CONTACT, ctx.contact_value());
                let via = ctx.via();
                if let (Some(ack), Some(destination)) = (
                    self.dialog_mut(to).and_then(|d| d.create_ack(&via).ok()),
                    self.destination(to),
                ) {
                    ctx.stateless(destination, SipMessage::Request(ack));
                }
                if let Some(destination) = self.destination(from) {
                    let reliability = if from == Side::A {
                        self.a.reliability
                    } else {
                        Reliability::Unreliable
                    };
                    self.retx.push((
                        from,
                        SuccessRetransmitter::new(
                            now,
                            relay.clone(),
                            destination,
                            reliability,
                            ctx.config.timers,
                        ),
                    ));
                }
            }
        }
        ctx.respond(server_tx, relay);
    }

    /// An ACK for one of our 2xx from `side`.
    pub(crate) fn ack<R: Entropy>(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<R>,
        side: Side,
        request: &Request,
    ) {
        for (s, r) in &mut self.retx {
            if *s == side && !r.is_done() {
                r.handle_ack(now);
            }
        }
        self.drain_retx(now, ctx);
        if side == Side::A
            && !self.is_ended()
            && let Some(echo_port) = self.answer_due_in_ack.take()
        {
            self.answer_from_ack(now, ctx, echo_port, request);
        }
    }

    /// Late offer: A's answer to the offer in our 2xx, from its ACK.
    fn answer_from_ack<R: Entropy>(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<R>,
        echo_port: u16,
        request: &Request,
    ) {
        let answer = sdp_of(&request.headers, &request.body);
        let remote = answer.as_ref().and_then(remote_rtp);
        let (Some(answer), Some(remote)) = (answer, remote) else {
            self.hangup_both(now, ctx, EndReason::NoAnswerInAck);
            return;
        };
        if echo_port != 0 {
            self.a_codec = codec_name(&answer);
            ctx.media.push_back(MediaInstruction::EchoLoop {
                call: self.id,
                local_port: echo_port,
                remote,
            });
            return;
        }
        self.learn_sdp(ctx, Side::A, &answer);
    }

    // ------------------------------------------------------------------ time

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        let mut next = self.retx.iter().filter_map(|(_, r)| r.poll_timeout()).min();
        if !self.is_ended() {
            let timers = self.timers.iter().flatten().map(LegTimer::next);
            for t in self.max_end.into_iter().chain(timers) {
                next = Some(next.map_or(t, |n: Instant| n.min(t)));
            }
        }
        next
    }

    pub(crate) fn handle_timeout<R: Entropy>(&mut self, now: Instant, ctx: &mut Ctx<R>) {
        for (_, r) in &mut self.retx {
            r.handle_timeout(now);
        }
        self.drain_retx(now, ctx);
        if self.max_end.is_some_and(|t| t <= now) {
            self.hangup_both(now, ctx, EndReason::MaxDuration);
        }
        if self.is_ended() {
            return;
        }
        if self.timers.iter().flatten().any(|t| t.expire_at <= now) {
            self.hangup_both(now, ctx, EndReason::SessionExpired);
            return;
        }
        for side in [Side::A, Side::B] {
            let due = self.timers[slot(side)].as_ref().is_some_and(|t| {
                t.we_refresh && !t.refreshing && t.refresh_at.is_some_and(|r| r <= now)
            });
            if due {
                self.send_refresh(now, ctx, side);
            }
        }
    }

    /// Our RFC 4028 refresh on `side`: UPDATE when the peer allows it, else
    /// a re-INVITE repeating our last SDP (RFC 3264 8: unchanged version).
    fn send_refresh<R: Entropy>(&mut self, now: Instant, ctx: &mut Ctx<R>, side: Side) {
        let i = slot(side);
        let Some((use_update, header)) = self.timers[i]
            .as_ref()
            .map(|t| (t.use_update, t.header_value(true)))
        else {
            return;
        };
        let invite_busy = self.forwarding_invite || self.retx.iter().any(|(_, r)| !r.is_done());
        let destination = self.destination(side);
        let via = ctx.via();
        let method = if use_update {
            Method::UPDATE
        } else {
            Method::INVITE
        };
        let request = if !use_update && invite_busy {
            None
        } else {
            self.dialog_mut(side)
                .and_then(|d| d.create_request(method, &via).ok())
        };
        let (Some(mut request), Some(destination)) = (request, destination) else {
            // An INVITE transaction is under way (or no dialog yet): try
            // again shortly; the expiry still bounds the session.
            if let Some(t) = self.timers[i].as_mut() {
                t.refresh_at = Some(now + Duration::from_secs(2));
            }
            return;
        };
        request.headers.push(HeaderName::SESSION_EXPIRES, header);
        request.headers.push(HeaderName::SUPPORTED, "timer");
        if !use_update {
            if !self.last_sdp[i].is_empty() {
                set_sdp(
                    &mut request.headers,
                    &mut request.body,
                    self.last_sdp[i].clone(),
                );
            }
            self.forwarding_invite = true;
        }
        if let Some(t) = self.timers[i].as_mut() {
            t.refreshing = true;
        }
        self.start(
            ctx,
            TxPurpose::Refresh {
                side,
                invite: !use_update,
            },
            request,
            destination,
        );
    }

    /// The answer to our refresh on `side` (`None`: timeout or transport
    /// error).
    pub(crate) fn refresh_response<R: Entropy>(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<R>,
        side: Side,
        invite: bool,
        response: Option<&Response>,
    ) {
        if response.is_some_and(|r| !r.status.is_final()) {
            return;
        }
        if invite {
            self.forwarding_invite = false;
        }
        if self.is_ended() {
            return;
        }
        let i = slot(side);
        if let Some(t) = self.timers[i].as_mut() {
            t.refreshing = false;
        }
        let Some(response) = response else {
            // RFC 4028 10: no answer to a refresh ends the session.
            self.hangup_both(now, ctx, EndReason::SessionExpired);
            return;
        };
        let code = response.status.as_u16();
        if response.status.is_success() {
            let method = if invite {
                Method::INVITE
            } else {
                Method::UPDATE
            };
            if let Some(d) = self.dialog_mut(side) {
                let _ = d.handle_response(&method, response);
            }
            if invite {
                let via = ctx.via();
                if let (Some(ack), Some(destination)) = (
                    self.dialog_mut(side).and_then(|d| d.create_ack(&via).ok()),
                    self.destination(side),
                ) {
                    ctx.stateless(destination, SipMessage::Request(ack));
                }
            }
            if let Some(sdp) = sdp_of(&response.headers, &response.body) {
                self.learn_sdp(ctx, side, &sdp);
            }
            if let Some(t) = self.timers[i].as_mut() {
                t.restart(now);
            }
        } else if code == 408 || code == 481 {
            self.hangup_both(now, ctx, EndReason::SessionExpired);
        }
        // Any other failure: the session stands until its expiry.
    }

    fn drain_retx<R: Entropy>(&mut self, now: Instant, ctx: &mut Ctx<R>) {
        let mut timed_out = false;
        for (_, r) in &mut self.retx {
            while let Some(t) = r.poll_transmit() {
                ctx.stateless(t.destination, t.message);
            }
            while let Some(e) = r.poll_event() {
                timed_out |= e == RetransmitEvent::AckTimedOut;
            }
        }
        self.retx.retain(|(_, r)| !r.is_done());
        if timed_out {
            self.hangup_both(now, ctx, EndReason::AckTimeout);
        }
    }

    // ------------------------------------------------------------------- end

    pub(crate) fn end<R: Entropy>(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<R>,
        disposition: Disposition,
        reason: EndReason,
        final_status: u16,
    ) {
        if self.is_ended() {
            return;
        }
        self.ended = Some(now);
        self.max_end = None;
        self.timers = [None, None];
        self.retx.clear();
        let mut legs = vec![LegSummary {
            side: Side::A,
            call_id: self.a.call_id.clone(),
            remote: self.a.source.addr,
            trunk_id: None,
            codec: self.a_codec.clone(),
            status: Some(final_status),
        }];
        legs.extend(self.legs.iter().map(|l| LegSummary {
            side: Side::B,
            call_id: l.call_id.clone(),
            remote: l.target.destination.addr,
            trunk_id: l.target.trunk_id.clone(),
            codec: l.codec.clone(),
            status: l.status,
        }));
        let summary = CallSummary {
            call: self.id,
            call_id: self.a.call_id.clone(),
            legs,
            caller: self.caller.clone(),
            callee: self.callee.clone(),
            started: self.started,
            answered: self.answered,
            ended: now,
            disposition,
            reason,
            final_status,
            reject_code: self.reject_code.clone(),
            emergency: self.emergency,
            transcoded: self.transcoding.is_some(),
        };
        ctx.events.push_back(Event::CallEnded(Box::new(summary)));
        if self.ports.is_some() {
            ctx.media
                .push_back(MediaInstruction::Release { call: self.id });
        }
    }
}

/// The payload types of a relayed call: those of the SDP we last sent A
/// (B's answer or offer, anchored), then those only in the one we last sent
/// B. The relay forwards packets unchanged, so one table serves both legs.
fn relay_payloads(last_sdp: &[Vec<u8>; 2]) -> Vec<(crate::sdp::PayloadType, Codec)> {
    let mut out: Vec<(crate::sdp::PayloadType, Codec)> = Vec::new();
    for body in last_sdp {
        let Ok(session) = Session::parse_bytes(body) else {
            continue;
        };
        let Some(m) = session
            .media
            .iter()
            .find(|m| m.media == crate::sdp::MediaType::Audio && m.port != 0)
        else {
            continue;
        };
        for (pt, codec) in m.codecs() {
            if !out.iter().any(|(p, _)| *p == pt) {
                out.push((pt, codec));
            }
        }
    }
    out
}
