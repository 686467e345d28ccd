//! The transcoding bridge: one call's media between leg A and leg B when the
//! two legs negotiated different codecs.
//!
//! Per direction (A→B and B→A): RTP of the sending leg (its codec and
//! payload type) → [`JitterBuffer`] → decode, or recover from the next
//! packet's FEC (Opus legs get one frame of jitter-buffer look-ahead for
//! this), or conceal → resample to the other leg's codec rate →
//! encode → RTP with the bridge's own SSRC, sequence and timestamp at the
//! receiving leg's clock (marker on the first packet of a talkspurt).
//! RFC 4733 telephone events are translated to the other leg's payload type
//! and clock rate and sent at once; audio towards that leg is held back
//! while an event plays. Digits from SIP INFO are injected with
//! [`Bridge::send_dtmf`].
//!
//! Run loop contract (as the relay's): feed datagrams with
//! [`Bridge::handle_packet`], call [`Bridge::handle_timeout`] when
//! [`Bridge::poll_timeout`] is due (a 20 ms tick drives the encoders), drain
//! [`Bridge::poll_transmit`], [`Bridge::poll_event`] and, with the tap on,
//! [`Bridge::poll_tap`]. The bridge never reads the clock.
//!
//! Latching and media timeout follow the relay exactly (the same
//! [`LegLatch`] per leg; see [`crate::latch`]). Direction: audio is sent to a
//! leg only while its endpoint receives (`sendrecv` or `recvonly`); a held
//! leg gets nothing, and the media timer is suspended as in the relay.
//! RTCP from the legs is admitted and counted but not forwarded: each side
//! is a separate RTP session ending at the bridge.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::codec::{AudioDecoder, AudioEncoder, CodecError, CodecKind, OpusSettings};
use crate::dtmf::{DtmfError, DtmfEvent, DtmfLeg, DtmfTranslator, EventPacket, EventSender};
use crate::jitter::{JitterBuffer, JitterConfig, JitterStats, Playout};
use crate::latch::{Admission, LatchConfig, Leg, LegConfig, LegLatch, Port};
use crate::relay::{Event, MediaDirection, Transmit};
use crate::resample::{ResampleError, Resampler};
use crate::rtp::{PayloadType, RtpHeader, RtpPacket, Ssrc};
use crate::seq::SeqNo;

/// The bridge's tick: one encoded frame per leg per tick.
pub const TICK: Duration = Duration::from_millis(20);

/// A late shell does not get a burst of more ticks than this at once.
const MAX_CATCH_UP: u32 = 10;

/// Audio towards a leg stays muted this long after the last telephone event
/// packet from the other leg.
const EVENT_MUTE: Duration = Duration::from_millis(60);

/// What one leg negotiated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LegMedia {
    /// The audio codec.
    pub codec: CodecKind,
    /// Its payload type on this leg.
    pub payload_type: PayloadType,
    /// The `telephone-event` payload type at the codec's RTP clock rate, if
    /// negotiated.
    pub telephone_event: Option<PayloadType>,
    /// The addresses the leg's SDP signalled.
    pub remote: LegConfig,
    /// The SSRC the bridge sends with on this leg (the caller picks it at
    /// random); the first sequence number and timestamp derive from it.
    pub local_ssrc: Ssrc,
}

/// Bridge configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BridgeConfig {
    /// Latching policy for both legs (as the relay's).
    pub latch: LatchConfig,
    /// Silence on a `sendrecv` leg after which [`Event::MediaTimeout`] fires.
    pub media_timeout: Duration,
    /// Jitter buffer settings; the clock rate is set per leg from its codec.
    pub jitter: JitterConfig,
    /// Opus encoder settings for legs that use Opus.
    pub opus: OpusSettings,
    /// RMS level (linear, of 32768) below which a decoded frame is quiet, so
    /// the jitter buffer may drop the next one to shed delay.
    pub quiet_rms: f64,
}

impl Default for BridgeConfig {
    fn default() -> Self {
        BridgeConfig {
            latch: LatchConfig::default(),
            media_timeout: Duration::from_secs(30),
            jitter: JitterConfig::default(),
            opus: OpusSettings::default(),
            // −40 dBFS.
            quiet_rms: 328.0,
        }
    }
}

/// Why a bridge cannot be built or a command cannot be carried out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BridgeError {
    /// A codec could not be created.
    #[error("codec: {0}")]
    Codec(#[from] CodecError),
    /// A resampler could not be created.
    #[error("resampler: {0}")]
    Resample(#[from] ResampleError),
    /// Telephone-event setup failed.
    #[error("telephone-event: {0}")]
    Dtmf(#[from] DtmfError),
    /// The leg negotiated no `telephone-event`, so a digit cannot be sent.
    #[error("leg {leg:?} negotiated no telephone-event")]
    NoTelephoneEvent {
        /// The leg.
        leg: Leg,
    },
}

/// PCM of one direction, as the bridge encodes it for the other leg: for
/// recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapFrame {
    /// The leg whose endpoint spoke this audio.
    pub from: Leg,
    /// The tick that produced it.
    pub at: Instant,
    /// Sample rate of `pcm` (what the receiving leg's encoder takes: its
    /// codec rate, or for Opus towards a narrower codec that codec's rate).
    pub sample_rate: u32,
    /// 20 ms of mono PCM.
    pub pcm: Vec<i16>,
}

/// Per-leg counters. "In" counts accepted packets from the leg's endpoint;
/// "out" counts packets the bridge sent to it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BridgeCounters {
    /// Accepted packets (RTP and RTCP) received from the leg.
    pub packets_in: u64,
    /// Bytes of those packets.
    pub bytes_in: u64,
    /// Packets sent to the leg.
    pub packets_out: u64,
    /// Bytes sent to the leg.
    pub bytes_out: u64,
    /// Packets from a source other than the latched one (RTP bleed).
    pub rejected_foreign: u64,
    /// Packets that are not valid RTP/RTCP for their port.
    pub malformed: u64,
    /// RTP with a payload type the leg did not negotiate.
    pub unknown_payload_type: u64,
    /// Payloads the decoder rejected (concealed instead).
    pub decode_errors: u64,
    /// Frames from this leg concealed (loss, late, underrun, decode error).
    pub concealed: u64,
    /// Frames from this leg recovered from the next packet's FEC.
    pub recovered: u64,
    /// Telephone-event packets received from the leg.
    pub events_in: u64,
    /// Telephone-event packets sent to the leg.
    pub events_out: u64,
    /// Frames for this leg the encoder rejected.
    pub encode_errors: u64,
}

/// Receiving side of one leg and the path to the other leg's encoder.
#[derive(Debug)]
struct Inbound {
    jitter: JitterBuffer,
    decoder: Box<dyn AudioDecoder>,
    resampler: Resampler,
    /// PCM at the other leg's codec rate waiting for the encoder.
    fifo: Vec<i16>,
    decoded: Vec<i16>,
    resampled: Vec<i16>,
    dtmf: Option<DtmfTranslator>,
    event_until: Option<Instant>,
}

/// Sending side towards one leg.
#[derive(Debug)]
struct Outbound {
    encoder: Box<dyn AudioEncoder>,
    ssrc: Ssrc,
    seq: SeqNo,
    timestamp: u32,
    talking: bool,
    injector: Option<EventSender>,
    payload: Vec<u8>,
    /// An announcement being played to this leg (PCM at the encoder's
    /// rate): while it lasts it replaces the other leg's audio.
    announcement: std::collections::VecDeque<i16>,
}

#[derive(Debug)]
struct LegState {
    media: LegMedia,
    latch: LegLatch,
    direction: MediaDirection,
    silence_since: Instant,
    timed_out: bool,
    counters: BridgeCounters,
    inbound: Inbound,
    outbound: Outbound,
}

impl LegState {
    fn deadline(&self, timeout: Duration) -> Option<Instant> {
        (self.direction == MediaDirection::SendRecv && !self.timed_out)
            .then(|| self.silence_since + timeout)
    }

    fn receives(&self) -> bool {
        matches!(
            self.direction,
            MediaDirection::SendRecv | MediaDirection::RecvOnly
        )
    }
}

/// The transcoding bridge of one call. See the module documentation.
#[derive(Debug)]
pub struct Bridge {
    config: BridgeConfig,
    legs: [LegState; 2],
    next_tick: Instant,
    tap: bool,
    taps: VecDeque<TapFrame>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
}

fn dtmf_leg(media: &LegMedia) -> Option<DtmfLeg> {
    media.telephone_event.map(|pt| DtmfLeg {
        payload_type: pt.0,
        clock_rate: media.codec.rtp_clock_rate(),
    })
}

fn new_leg(
    now: Instant,
    config: &BridgeConfig,
    media: LegMedia,
    other: &LegMedia,
) -> Result<LegState, BridgeError> {
    // Opus can rebuild a lost frame from the next packet's FEC, but only if
    // that packet is already buffered when the lost one is due.
    let lookahead = if media.codec == CodecKind::Opus {
        config.jitter.lookahead.max(TICK)
    } else {
        config.jitter.lookahead
    };
    let jitter = JitterBuffer::new(JitterConfig {
        clock_rate: media.codec.rtp_clock_rate(),
        lookahead,
        ..config.jitter
    });
    let dtmf = match (dtmf_leg(&media), dtmf_leg(other)) {
        (Some(from), Some(to)) => Some(DtmfTranslator::new(from, to)?),
        _ => None,
    };
    let injector = dtmf_leg(&media)
        .map(|leg| EventSender::new(leg, TICK.as_millis() as u32))
        .transpose()?;
    let ssrc = media.local_ssrc;
    // Opus runs at the other leg's rate (8 kHz towards G.711), so
    // Opus↔G.711 needs no resampler; see `CodecKind::pcm_rate_towards`.
    let rate = media.codec.pcm_rate_towards(other.codec);
    let other_rate = other.codec.pcm_rate_towards(media.codec);
    Ok(LegState {
        media,
        latch: LegLatch::new(now, media.remote),
        direction: MediaDirection::SendRecv,
        silence_since: now,
        timed_out: false,
        counters: BridgeCounters::default(),
        inbound: Inbound {
            jitter,
            decoder: crate::codec::new_decoder_at(media.codec, rate)?,
            resampler: Resampler::new(rate, other_rate)?,
            fifo: Vec::new(),
            decoded: Vec::new(),
            resampled: Vec::new(),
            dtmf,
            event_until: None,
        },
        outbound: Outbound {
            encoder: crate::codec::new_encoder_at(media.codec, &config.opus, rate)?,
            ssrc,
            seq: SeqNo((ssrc.0 >> 16) as u16 ^ ssrc.0 as u16),
            timestamp: ssrc.0.rotate_left(13),
            talking: false,
            injector,
            announcement: std::collections::VecDeque::new(),
            payload: Vec::new(),
        },
    })
}

fn rms(pcm: &[i16]) -> f64 {
    if pcm.is_empty() {
        return 0.0;
    }
    let sum: f64 = pcm.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    (sum / pcm.len() as f64).sqrt()
}

impl Bridge {
    /// A bridge started at `now` between legs `a` and `b`. The first tick is
    /// at `now + TICK`.
    pub fn new(
        now: Instant,
        config: BridgeConfig,
        a: LegMedia,
        b: LegMedia,
    ) -> Result<Self, BridgeError> {
        Ok(Bridge {
            legs: [new_leg(now, &config, a, &b)?, new_leg(now, &config, b, &a)?],
            config,
            next_tick: now + TICK,
            tap: false,
            taps: VecDeque::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        })
    }

    fn leg(&self, leg: Leg) -> &LegState {
        &self.legs[leg.index()]
    }

    fn leg_mut(&mut self, leg: Leg) -> &mut LegState {
        &mut self.legs[leg.index()]
    }

    /// Handles one datagram received on `leg`'s local `port` from `source`.
    pub fn handle_packet(
        &mut self,
        now: Instant,
        leg: Leg,
        port: Port,
        source: SocketAddr,
        bytes: &[u8],
    ) {
        let Some(is_rtcp) = crate::latch::is_rtcp_on(bytes, port, self.leg(leg).latch.is_muxed())
        else {
            self.leg_mut(leg).counters.malformed += 1;
            return;
        };
        if is_rtcp {
            if crate::rtcp::RtcpPacket::parse_compound(bytes).any(|p| p.is_err()) {
                self.leg_mut(leg).counters.malformed += 1;
                return;
            }
            if self.admit(now, leg, port, source) {
                let c = &mut self.leg_mut(leg).counters;
                c.packets_in += 1;
                c.bytes_in += bytes.len() as u64;
            }
            return;
        }
        let Ok(packet) = RtpPacket::parse(bytes) else {
            self.leg_mut(leg).counters.malformed += 1;
            return;
        };
        if !self.admit(now, leg, Port::Rtp, source) {
            return;
        }
        let state = self.leg_mut(leg);
        state.counters.packets_in += 1;
        state.counters.bytes_in += bytes.len() as u64;
        state.silence_since = now;
        state.timed_out = false;
        let pt = packet.payload_type();
        if pt == state.media.payload_type {
            state.inbound.jitter.push(now, &packet);
        } else if Some(pt) == state.media.telephone_event {
            state.counters.events_in += 1;
            self.forward_event(now, leg, &packet);
        } else {
            state.counters.unknown_payload_type += 1;
        }
    }

    fn admit(&mut self, now: Instant, leg: Leg, port: Port, source: SocketAddr) -> bool {
        let cfg = self.config.latch;
        let state = self.leg_mut(leg);
        match state.latch.admit(now, port, source, &cfg) {
            Admission::Rejected => {
                state.counters.rejected_foreign += 1;
                false
            }
            Admission::Accepted => true,
            Admission::Latched(port) => {
                self.events.push_back(Event::Latched { leg, port, source });
                true
            }
        }
    }

    /// Translates a telephone-event packet from `from` and sends it to the
    /// other leg now.
    fn forward_event(&mut self, now: Instant, from: Leg, packet: &RtpPacket<'_>) {
        let to = from.other();
        let out_ts = self.leg(to).outbound.timestamp;
        let inbound = &mut self.leg_mut(from).inbound;
        let Some(translator) = inbound.dtmf.as_mut() else {
            return;
        };
        let Ok(event) = translator.translate(
            packet.payload_type().0,
            packet.timestamp(),
            packet.payload(),
            out_ts,
        ) else {
            self.leg_mut(from).counters.malformed += 1;
            return;
        };
        inbound.event_until = Some(now + EVENT_MUTE);
        if self.leg(to).receives() {
            self.send_event(to, &event);
        }
    }

    fn send_event(&mut self, to: Leg, event: &EventPacket) {
        let state = self.leg_mut(to);
        let out = &mut state.outbound;
        let mut header = RtpHeader::new(
            PayloadType(event.payload_type),
            out.seq,
            event.timestamp,
            out.ssrc,
        );
        header.marker = event.marker;
        out.seq = out.seq.next();
        let Ok(bytes) = header.to_packet(&event.payload(), 0) else {
            return;
        };
        state.counters.events_out += 1;
        self.transmit(to, bytes);
    }

    fn transmit(&mut self, to: Leg, bytes: Vec<u8>) {
        let state = self.leg_mut(to);
        let (port, destination) = state.latch.destination(Port::Rtp);
        state.counters.packets_out += 1;
        state.counters.bytes_out += bytes.len() as u64;
        self.transmits.push_back(Transmit {
            leg: to,
            port,
            destination,
            bytes,
        });
    }

    /// The next instant [`Bridge::handle_timeout`] has work: the next tick
    /// or a media-timeout deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let timeout = self.config.media_timeout;
        self.legs
            .iter()
            .filter_map(|l| l.deadline(timeout))
            .chain(std::iter::once(self.next_tick))
            .min()
    }

    /// Runs due ticks (decode, encode, send) and fires media timeouts.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut ran = 0;
        while self.next_tick <= now {
            if ran == MAX_CATCH_UP {
                // The shell fell far behind: skip, do not burst.
                self.next_tick = now + TICK;
                break;
            }
            let at = self.next_tick;
            self.tick(at);
            self.next_tick += TICK;
            ran += 1;
        }
        let timeout = self.config.media_timeout;
        for leg in [Leg::A, Leg::B] {
            let state = self.leg_mut(leg);
            if state.deadline(timeout).is_some_and(|d| d <= now) {
                state.timed_out = true;
                self.events.push_back(Event::MediaTimeout { leg });
            }
        }
    }

    fn tick(&mut self, now: Instant) {
        for from in [Leg::A, Leg::B] {
            self.tick_direction(now, from);
        }
    }

    /// One 20 ms frame from `from`'s endpoint to the other leg.
    fn tick_direction(&mut self, now: Instant, from: Leg) {
        let to = from.other();
        let out_codec = self.leg(to).media.codec;
        let out_rate = self.leg(to).outbound.encoder.sample_rate();
        let frame_len = (out_rate / 50) as usize;
        let quiet_rms = self.config.quiet_rms;
        let pcm = {
            let state = self.leg_mut(from);
            let media = state.media;
            let inbound = &mut state.inbound;
            let counters = &mut state.counters;
            let mut silent = false;
            while inbound.fifo.len() < frame_len {
                inbound.decoded.clear();
                match inbound.jitter.pop(now) {
                    Playout::Frame(f) => {
                        if inbound
                            .decoder
                            .decode(&f.payload, &mut inbound.decoded)
                            .is_err()
                        {
                            counters.decode_errors += 1;
                            counters.concealed += 1;
                            inbound.decoded.clear();
                            let n = samples_for(&*inbound.decoder, media.codec, f.duration);
                            let _ = inbound.decoder.conceal(n, &mut inbound.decoded);
                        }
                        inbound.jitter.set_quiet(rms(&inbound.decoded) < quiet_rms);
                    }
                    Playout::Lost { duration, next } => {
                        let n = samples_for(&*inbound.decoder, media.codec, duration);
                        let recovered = next.as_deref().map_or(0, |p| {
                            inbound
                                .decoder
                                .recover(p, n, &mut inbound.decoded)
                                .unwrap_or(0)
                        });
                        if recovered > 0 {
                            counters.recovered += 1;
                        } else {
                            inbound.decoded.clear();
                            counters.concealed += 1;
                            let _ = inbound.decoder.conceal(n, &mut inbound.decoded);
                        }
                    }
                    Playout::Silence { .. } | Playout::Empty => {
                        silent = true;
                        break;
                    }
                }
                if inbound.decoded.is_empty() {
                    // A codec that produced nothing: avoid spinning.
                    silent = true;
                    break;
                }
                inbound.resampled.clear();
                inbound
                    .resampler
                    .process(&inbound.decoded, &mut inbound.resampled);
                inbound.fifo.extend_from_slice(&inbound.resampled);
            }
            if inbound.fifo.len() >= frame_len {
                Some(inbound.fifo.drain(..frame_len).collect::<Vec<i16>>())
            } else if silent && !inbound.fifo.is_empty() {
                let mut tail = std::mem::take(&mut inbound.fifo);
                tail.resize(frame_len, 0);
                Some(tail)
            } else {
                None
            }
        };
        let muted = self
            .leg(from)
            .inbound
            .event_until
            .is_some_and(|until| now < until);
        let out_ticks = out_codec.rtp_ticks_per_20ms();
        // A digit injected towards `to` takes the place of audio.
        let injected = {
            let out = &mut self.leg_mut(to).outbound;
            let ts = out.timestamp;
            out.injector
                .as_mut()
                .filter(|i| i.is_active())
                .and_then(|i| i.poll_packet(ts))
        };
        let receives = self.leg(to).receives();
        let announced = {
            let out = &mut self.leg_mut(to).outbound;
            (!out.announcement.is_empty()).then(|| {
                let n = frame_len.min(out.announcement.len());
                let mut frame: Vec<i16> = out.announcement.drain(..n).collect();
                frame.resize(frame_len, 0);
                frame
            })
        };
        if let Some(frame) = announced {
            // The other party's audio is dropped (not forwarded, not tapped)
            // while an announcement plays to this leg.
            if receives {
                self.send_audio(to, &frame);
            } else {
                self.leg_mut(to).outbound.talking = false;
            }
        } else if let Some(event) = injected {
            if receives {
                self.send_event(to, &event);
            }
            self.leg_mut(to).outbound.talking = false;
        } else if let Some(pcm) = pcm.filter(|_| !muted) {
            if self.tap {
                self.taps.push_back(TapFrame {
                    from,
                    at: now,
                    sample_rate: out_rate,
                    pcm: pcm.clone(),
                });
            }
            if receives {
                self.send_audio(to, &pcm);
            } else {
                self.leg_mut(to).outbound.talking = false;
            }
        } else {
            self.leg_mut(to).outbound.talking = false;
        }
        let out = &mut self.leg_mut(to).outbound;
        out.timestamp = out.timestamp.wrapping_add(out_ticks);
    }

    fn send_audio(&mut self, to: Leg, pcm: &[i16]) {
        let state = self.leg_mut(to);
        let pt = state.media.payload_type;
        let out = &mut state.outbound;
        out.payload.clear();
        if out.encoder.encode(pcm, &mut out.payload).is_err() {
            state.counters.encode_errors += 1;
            return;
        }
        let mut header = RtpHeader::new(pt, out.seq, out.timestamp, out.ssrc);
        header.marker = !out.talking;
        out.talking = true;
        out.seq = out.seq.next();
        let Ok(bytes) = header.to_packet(&out.payload, 0) else {
            return;
        };
        self.transmit(to, bytes);
    }

    /// Plays `pcm` (mono, at [`Bridge::pcm_rate`] of `to`) to `to` in
    /// place of the other leg's audio, from the next tick on; the other
    /// party's audio towards `to` is dropped meanwhile (consent
    /// announcements before two parties are connected).
    pub fn play(&mut self, to: Leg, pcm: &[i16]) {
        self.leg_mut(to)
            .outbound
            .announcement
            .extend(pcm.iter().copied());
    }

    /// Whether an announcement is still playing to either leg.
    pub fn is_playing(&self) -> bool {
        [Leg::A, Leg::B]
            .iter()
            .any(|&leg| !self.leg(leg).outbound.announcement.is_empty())
    }

    /// The PCM rate of `leg`'s encoder (what [`Bridge::play`] takes).
    pub fn pcm_rate(&self, leg: Leg) -> u32 {
        self.leg(leg).outbound.encoder.sample_rate()
    }

    /// Next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// Next event for the call layer.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Next PCM frame of the tap (only while [`Bridge::set_tap`] is on).
    pub fn poll_tap(&mut self) -> Option<TapFrame> {
        self.taps.pop_front()
    }

    /// Turns the PCM tap for recording on or off (off drops queued frames).
    pub fn set_tap(&mut self, on: bool) {
        self.tap = on;
        if !on {
            self.taps.clear();
        }
    }

    /// Sends a digit (from SIP INFO) to `to` as RFC 4733 events, starting
    /// at the next tick; audio towards `to` pauses meanwhile.
    pub fn send_dtmf(
        &mut self,
        to: Leg,
        event: DtmfEvent,
        duration_ms: u32,
    ) -> Result<(), BridgeError> {
        let injector = self
            .leg_mut(to)
            .outbound
            .injector
            .as_mut()
            .ok_or(BridgeError::NoTelephoneEvent { leg: to })?;
        injector.queue(event, duration_ms);
        Ok(())
    }

    /// A leg's SDP direction changed (hold/resume). Audio is sent to a leg
    /// only while it receives; going back to `SendRecv` restarts its media
    /// timer from `now`.
    pub fn set_direction(&mut self, now: Instant, leg: Leg, direction: MediaDirection) {
        let state = self.leg_mut(leg);
        if direction == MediaDirection::SendRecv && state.direction != MediaDirection::SendRecv {
            state.silence_since = now;
            state.timed_out = false;
        }
        state.direction = direction;
    }

    /// New signalled addresses for a leg (re-INVITE): drops its latches,
    /// reopens the latch window and restarts its media timer.
    pub fn set_remote(&mut self, now: Instant, leg: Leg, remote: LegConfig) {
        let state = self.leg_mut(leg);
        state.media.remote = remote;
        state.latch.set_remote(now, remote);
        state.silence_since = now;
        state.timed_out = false;
    }

    /// Counters of a leg.
    pub fn counters(&self, leg: Leg) -> BridgeCounters {
        self.leg(leg).counters
    }

    /// Jitter buffer statistics of what a leg's endpoint sends.
    pub fn jitter_stats(&self, leg: Leg) -> JitterStats {
        self.leg(leg).inbound.jitter.stats()
    }

    /// Current jitter-buffer delay of what a leg's endpoint sends.
    pub fn jitter_delay(&self, now: Instant, leg: Leg) -> Duration {
        self.leg(leg).inbound.jitter.current_delay(now)
    }

    /// Source a leg's port latched to, if any.
    pub fn latched(&self, leg: Leg, port: Port) -> Option<SocketAddr> {
        self.leg(leg).latch.latched(port)
    }

    /// Current direction of a leg.
    pub fn direction(&self, leg: Leg) -> MediaDirection {
        self.leg(leg).direction
    }

    /// What a leg negotiated.
    pub fn media(&self, leg: Leg) -> LegMedia {
        self.leg(leg).media
    }
}

/// PCM samples at the decoder's rate for `duration` RTP clock units.
fn samples_for(decoder: &dyn AudioDecoder, codec: CodecKind, duration: u32) -> usize {
    (u64::from(duration) * u64::from(decoder.sample_rate()) / u64::from(codec.rtp_clock_rate()))
        as usize
}
