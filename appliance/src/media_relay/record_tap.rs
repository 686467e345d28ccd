//! Call recording on a relayed call: a `Core` around the relay that
//!
//! - plays the consent announcement to both legs (each in its codec, own
//!   SSRC/sequence/timestamps) before the parties are connected: while it
//!   plays, the relay still sees every packet (latching, media timeout) but
//!   its forwarded RTP is dropped;
//! - decodes each leg's RTP payload (codec from the negotiated payload
//!   types) into the recording, party A (caller) left and B (callee) right,
//!   without touching the forwarded packets;
//! - watches RFC 4733 telephone-events in the relayed stream for the
//!   policy's on-demand code (`*1`): the code starts a recording (a second
//!   entry does not stop it; the `stop` command does);
//! - takes `start`/`stop` commands (local HTTP endpoint).
//!
//! The recording itself is written by the recording service thread; this
//! core only hands it PCM without blocking. Starting a recording waits for
//! the service (file created, index row written), so it runs on a blocking
//! thread and the core picks the handle up when it is ready, buffering the
//! PCM meanwhile.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use voip_media::codec::{self, AudioDecoder, CodecKind};
use voip_media::dtmf::TelephoneEvent;
use voip_media::quality::QualitySample;
use voip_media::resample::Resampler;
use voip_media::{Event, Leg, LegConfig, MediaDirection, Port, Relay, RtpPacket, Transmit};
use voip_shared::site_config::RecordingPolicy;

use super::LegStats;
use super::task::Core;
use crate::recording::policy::{CallRecording, Decision, StartRefused};
use crate::recording::prompt::{LegAudio, PromptLeg, PromptPlayer, PromptSet};
use crate::recording::service::{PcmFrame, ServiceError, ServiceHandle, StartRequest};
use crate::recording::{Party, RecorderHandle};

/// PCM kept while the recording service creates the file.
const MAX_BUFFERED_FRAMES: usize = 200;
/// How often a pending start is looked at.
const START_POLL: Duration = Duration::from_millis(20);

/// What the media path needs to record a relayed call.
#[derive(Debug, Clone)]
pub struct RecordingSetup {
    /// The call's id (index and CDR).
    pub call_id: String,
    /// The policy resolved when the call was routed.
    pub policy: RecordingPolicy,
    /// Payload types of the relayed stream: audio codecs we decode.
    pub audio: Vec<(u8, CodecKind)>,
    /// Payload types of telephone-event.
    pub telephone_events: Vec<u8>,
    /// The recording service.
    pub service: ServiceHandle,
    /// The consent announcement (the shipped Dutch prompt at every codec
    /// rate).
    pub prompt: Arc<PromptSet>,
    /// Seed of our SSRCs, sequence numbers and timestamps for the prompt.
    pub seed: u64,
}

/// A recording command for a running call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordingCommand {
    /// Start recording (on-demand or `always` policies; `never` refuses).
    Start,
    /// Stop the running recording.
    Stop,
}

/// Why a command was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CommandRefused {
    /// The policy does not allow it, or it is already recording.
    #[error(transparent)]
    Start(#[from] StartRefused),
    /// Nothing is being recorded.
    #[error("the call is not being recorded")]
    NotRecording,
    /// This media path cannot record (echo test, no policy).
    #[error("this call cannot be recorded")]
    NotSupported,
}

enum Recorder {
    Off,
    Starting {
        reply: oneshot::Receiver<Result<RecorderHandle, ServiceError>>,
        buffered: VecDeque<(Party, PcmFrame)>,
    },
    On(RecorderHandle),
}

/// Per-leg decoding state.
struct LegTap {
    decoder: Option<(CodecKind, Box<dyn AudioDecoder>)>,
    resampler: Option<(u32, Resampler)>,
    pcm: Vec<i16>,
    out: Vec<i16>,
}

impl LegTap {
    fn new() -> Self {
        Self {
            decoder: None,
            resampler: None,
            pcm: Vec::new(),
            out: Vec::new(),
        }
    }
}

/// The recording side shared by the relay with recording and the
/// transcoder: the policy state, the recorder being started or running,
/// the on-demand code matcher on RFC 4733 events.
pub(crate) struct Session {
    pub(crate) setup: RecordingSetup,
    pub(crate) state: CallRecording,
    /// Sample rate of the recording.
    pub(crate) rate: u32,
    recorder: Recorder,
    /// Per leg: RTP timestamp of the last telephone-event already counted.
    last_event: [Option<u32>; 2],
}

impl Session {
    /// A session recording at `rate`; the caller acts on
    /// [`CallRecording::on_connect`] through `state`.
    pub(crate) fn new(setup: RecordingSetup, rate: u32) -> Self {
        Self {
            state: CallRecording::new(Some(&setup.policy)),
            setup,
            rate,
            recorder: Recorder::Off,
            last_event: [None, None],
        }
    }

    /// Whether PCM is wanted (a recorder starting or running).
    pub(crate) fn active(&self) -> bool {
        matches!(self.recorder, Recorder::Starting { .. } | Recorder::On(_))
    }

    /// Whether the recorder is being started (poll it soon).
    pub(crate) fn starting(&self) -> bool {
        matches!(self.recorder, Recorder::Starting { .. })
    }

    /// Asks the service for a recording (on a blocking thread).
    pub(crate) fn start(&mut self) {
        if !matches!(self.recorder, Recorder::Off) {
            return;
        }
        let request = StartRequest {
            call_id: self.setup.call_id.clone(),
            format: self.setup.policy.format,
            sample_rate: self.rate,
            retention_days: self.setup.policy.retention_days,
        };
        let service = self.setup.service.clone();
        let (tx, rx) = oneshot::channel();
        // The service answers after creating the file and the index row.
        tokio::task::spawn_blocking(move || {
            let _ = tx.send(service.start_recording(request));
        });
        tracing::info!(call_id = %self.setup.call_id, "recording started");
        self.recorder = Recorder::Starting {
            reply: rx,
            buffered: VecDeque::new(),
        };
    }

    /// Finishes the recording (dropping the handle finishes the file
    /// without waiting).
    pub(crate) fn stop(&mut self) {
        if !matches!(
            std::mem::replace(&mut self.recorder, Recorder::Off),
            Recorder::Off
        ) {
            tracing::info!(call_id = %self.setup.call_id, "recording stopped");
        }
    }

    /// Picks up a started recorder and hands it the buffered PCM.
    pub(crate) fn poll(&mut self) {
        let Recorder::Starting { reply, buffered } = &mut self.recorder else {
            return;
        };
        match reply.try_recv() {
            Err(oneshot::error::TryRecvError::Empty) => {}
            Err(oneshot::error::TryRecvError::Closed) => {
                tracing::error!(call_id = %self.setup.call_id, "recording service did not answer");
                self.recorder = Recorder::Off;
                let _ = self.state.handle_stop_command();
            }
            Ok(Err(error)) => {
                tracing::warn!(call_id = %self.setup.call_id, %error, "recording not started");
                self.recorder = Recorder::Off;
                let _ = self.state.handle_stop_command();
            }
            Ok(Ok(handle)) => {
                for (party, frame) in buffered.drain(..) {
                    handle.push(party, frame);
                }
                tracing::debug!(call_id = %self.setup.call_id, id = handle.id(), "recording file open");
                self.recorder = Recorder::On(handle);
            }
        }
    }

    /// Hands PCM of `party` (at [`Session::rate`]) to the recording.
    pub(crate) fn push(&mut self, party: Party, frame: PcmFrame) {
        match &mut self.recorder {
            Recorder::Off => {}
            Recorder::Starting { buffered, .. } => {
                if buffered.len() < MAX_BUFFERED_FRAMES {
                    buffered.push_back((party, frame));
                }
            }
            Recorder::On(handle) => {
                handle.push(party, frame);
            }
        }
    }

    /// A telephone-event packet from `leg`: an event counts once, at its
    /// first end packet (sent three times); returns what the policy
    /// decides on the digit.
    pub(crate) fn telephone_event(
        &mut self,
        now: Instant,
        leg: Leg,
        rtp: &RtpPacket<'_>,
    ) -> Decision {
        let Ok(event) = TelephoneEvent::parse(rtp.payload()) else {
            return Decision::Off;
        };
        let last = &mut self.last_event[index(leg)];
        if !event.end || *last == Some(rtp.timestamp()) {
            return Decision::Off;
        }
        *last = Some(rtp.timestamp());
        let Some(digit) = event.event.digit() else {
            return Decision::Off;
        };
        let decision = self.state.handle_dtmf(now, digit);
        if decision != Decision::Off {
            tracing::info!(call_id = %self.setup.call_id, "on-demand recording code dialled");
        }
        decision
    }
}

/// The party of a leg: A (caller) left, B (callee) right.
pub(crate) fn party(leg: Leg) -> Party {
    match leg {
        Leg::A => Party::A,
        Leg::B => Party::B,
    }
}

/// The relay with recording. See the [module docs](self).
pub struct RecordedRelay {
    relay: Relay,
    /// The recording (its rate: the first audio codec's).
    session: Session,
    remotes: [LegConfig; 2],
    prompt: Option<PromptPlayer>,
    /// Start recording once the prompt is over.
    record_after_prompt: bool,
    prompt_out: VecDeque<Transmit>,
    legs: [LegTap; 2],
    prompts_played: u32,
}

impl std::fmt::Debug for RecordedRelay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordedRelay")
            .field("call_id", &self.session.setup.call_id)
            .field("recording", &self.session.state.is_recording())
            .field("prompt", &self.prompt.is_some())
            .finish_non_exhaustive()
    }
}

fn index(leg: Leg) -> usize {
    match leg {
        Leg::A => 0,
        Leg::B => 1,
    }
}

impl RecordedRelay {
    /// Wraps `relay` (started at `now` with remotes `a` and `b`); an
    /// `always` policy starts at once (after the prompt when it asks for
    /// consent).
    pub fn new(
        now: Instant,
        relay: Relay,
        a: LegConfig,
        b: LegConfig,
        setup: RecordingSetup,
    ) -> Self {
        let rate = setup
            .audio
            .first()
            .map_or(8000, |(_, kind)| kind.sample_rate());
        let mut session = Session::new(setup, rate);
        let decision = session.state.on_connect();
        let mut this = Self {
            relay,
            session,
            remotes: [a, b],
            prompt: None,
            record_after_prompt: false,
            prompt_out: VecDeque::new(),
            legs: [LegTap::new(), LegTap::new()],
            prompts_played: 0,
        };
        this.decide(now, decision);
        this
    }

    /// Whether a recording is running (or starting, or after the prompt).
    pub fn is_recording(&self) -> bool {
        self.session.state.is_recording()
    }

    /// Whether the consent prompt is playing (the parties are not
    /// connected).
    pub fn prompt_playing(&self) -> bool {
        self.prompt.is_some()
    }

    fn decide(&mut self, now: Instant, decision: Decision) {
        match decision {
            Decision::Off => {}
            Decision::Record { consent: false } => self.session.start(),
            Decision::Record { consent: true } => {
                if let Some(player) = self.player(now) {
                    tracing::debug!(call_id = %self.session.setup.call_id, "consent announcement");
                    self.prompt = Some(player);
                    self.record_after_prompt = true;
                } else {
                    // Without a playable prompt no consent can be asked:
                    // do not record.
                    tracing::warn!(
                        call_id = %self.session.setup.call_id,
                        "consent announcement cannot be played; call not recorded"
                    );
                    let _ = self.session.state.handle_stop_command();
                }
            }
        }
    }

    fn player(&mut self, now: Instant) -> Option<PromptPlayer> {
        let (pt, codec) = *self.session.setup.audio.first()?;
        let seed = self
            .session
            .setup
            .seed
            .wrapping_add(u64::from(self.prompts_played).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        self.prompts_played += 1;
        #[allow(clippy::cast_possible_truncation, reason = "bits of a seed")]
        let leg = |salt: u64| {
            let x = seed ^ salt.wrapping_mul(0xBF58_476D_1CE4_E5B9);
            LegAudio {
                codec,
                payload_type: pt,
                ssrc: (x >> 32) as u32,
                first_seq: (x >> 16) as u16,
                first_timestamp: x as u32,
            }
        };
        match PromptPlayer::new(now, &self.session.setup.prompt, Some(leg(1)), Some(leg(2))) {
            Ok(p) => Some(p),
            Err(error) => {
                tracing::warn!(%error, "consent prompt player");
                None
            }
        }
    }

    fn stop_recording(&mut self) {
        self.session.stop();
        self.prompt = None;
        self.record_after_prompt = false;
    }

    /// Decodes one RTP packet of `leg` into the recording; telephone-events
    /// feed the on-demand matcher.
    fn tap(&mut self, now: Instant, leg: Leg, bytes: &[u8]) {
        let Ok(rtp) = RtpPacket::parse(bytes) else {
            return;
        };
        let pt = rtp.payload_type().0;
        if self.session.setup.telephone_events.contains(&pt) {
            let decision = self.session.telephone_event(now, leg, &rtp);
            self.decide(now, decision);
            return;
        }
        if !self.session.active() {
            return;
        }
        let Some(kind) = self
            .session
            .setup
            .audio
            .iter()
            .find(|(p, _)| *p == pt)
            .map(|(_, k)| *k)
        else {
            return;
        };
        let rate = self.session.rate;
        let tap = &mut self.legs[index(leg)];
        if tap.decoder.as_ref().is_none_or(|(k, _)| *k != kind) {
            match codec::new_decoder(kind) {
                Ok(d) => tap.decoder = Some((kind, d)),
                Err(error) => {
                    tracing::debug!(%error, "no decoder for the recording");
                    return;
                }
            }
        }
        let Some((_, decoder)) = tap.decoder.as_mut() else {
            return;
        };
        tap.pcm.clear();
        if decoder.decode(rtp.payload(), &mut tap.pcm).is_err() || tap.pcm.is_empty() {
            return;
        }
        let samples = if kind.sample_rate() == rate {
            std::mem::take(&mut tap.pcm)
        } else {
            if tap
                .resampler
                .as_ref()
                .is_none_or(|(from, _)| *from != kind.sample_rate())
            {
                match Resampler::new(kind.sample_rate(), rate) {
                    Ok(r) => tap.resampler = Some((kind.sample_rate(), r)),
                    Err(_) => return,
                }
            }
            let Some((_, resampler)) = tap.resampler.as_mut() else {
                return;
            };
            tap.out.clear();
            resampler.process(&tap.pcm, &mut tap.out);
            std::mem::take(&mut tap.out)
        };
        self.session.push(party(leg), PcmFrame { at: now, samples });
    }

    fn drive_prompt(&mut self, now: Instant) {
        let Some(player) = self.prompt.as_mut() else {
            return;
        };
        while let Some((leg, bytes)) = player.poll_packet(now) {
            let leg = match leg {
                PromptLeg::A => Leg::A,
                PromptLeg::B => Leg::B,
            };
            let destination = self
                .relay
                .latched(leg, Port::Rtp)
                .unwrap_or(self.remotes[index(leg)].rtp);
            self.prompt_out.push_back(Transmit {
                leg,
                port: Port::Rtp,
                destination,
                bytes,
            });
        }
        if player.is_done() {
            self.prompt = None;
            tracing::debug!(call_id = %self.session.setup.call_id, "consent announcement over, connected");
            if std::mem::take(&mut self.record_after_prompt) {
                self.session.start();
            }
        }
    }

    /// A start or stop command.
    pub fn command(
        &mut self,
        now: Instant,
        command: RecordingCommand,
    ) -> Result<(), CommandRefused> {
        match command {
            RecordingCommand::Start => {
                let decision = self.session.state.handle_start_command()?;
                self.decide(now, decision);
                Ok(())
            }
            RecordingCommand::Stop => {
                if self.session.state.handle_stop_command() {
                    self.stop_recording();
                    Ok(())
                } else {
                    Err(CommandRefused::NotRecording)
                }
            }
        }
    }
}

impl Core for RecordedRelay {
    fn handle_packet(&mut self, now: Instant, leg: Leg, port: Port, src: SocketAddr, b: &[u8]) {
        self.relay.handle_packet(now, leg, port, src, b);
        if port == Port::Rtp {
            self.tap(now, leg, b);
        }
        self.session.poll();
        self.drive_prompt(now);
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.relay.handle_timeout(now);
        self.session.poll();
        self.drive_prompt(now);
    }
    fn poll_timeout(&self) -> Option<Instant> {
        let mut t = self.relay.poll_timeout();
        let mut earliest = |other: Option<Instant>| {
            if let Some(o) = other {
                t = Some(t.map_or(o, |x| x.min(o)));
            }
        };
        earliest(self.prompt.as_ref().and_then(PromptPlayer::poll_timeout));
        if self.session.starting() {
            earliest(Some(tokio::time::Instant::now().into_std() + START_POLL));
        }
        t
    }
    fn poll_transmit(&mut self) -> Option<Transmit> {
        if let Some(t) = self.prompt_out.pop_front() {
            return Some(t);
        }
        loop {
            let t = self.relay.poll_transmit()?;
            // During the announcement the parties are not connected.
            if self.prompt.is_some() && t.port == Port::Rtp {
                continue;
            }
            return Some(t);
        }
    }
    fn poll_event(&mut self) -> Option<Event> {
        self.relay.poll_event()
    }
    fn set_direction(&mut self, now: Instant, leg: Leg, direction: MediaDirection) {
        self.relay.set_direction(now, leg, direction);
    }
    fn set_remote(&mut self, now: Instant, leg: Leg, remote: LegConfig) {
        self.remotes[index(leg)] = remote;
        self.relay.set_remote(now, leg, remote);
    }
    fn leg_stats(&self, leg: Leg) -> LegStats {
        Core::leg_stats(&self.relay, leg)
    }
    fn poll_sample(&mut self) -> Option<QualitySample> {
        self.relay.poll_sample()
    }
    fn finish(&mut self, now: Instant) {
        self.relay.finish(now);
        self.session.poll();
        self.stop_recording();
    }
    fn recording(&mut self, now: Instant, command: RecordingCommand) -> Result<(), CommandRefused> {
        self.command(now, command)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

    use voip_media::{PayloadType as RtpPt, RelayConfig, RtpHeader, SeqNo, Ssrc};
    use voip_shared::site_config::{RawRecordingPolicy, RecordingFormat, RecordingMode};

    use super::*;
    use crate::recording::consent::{Prompt, TRAILING_PAUSE};
    use crate::recording::{RecordingService, ServiceConfig};
    use crate::store::{Store, StoreConfig};

    const A_SSRC: u32 = 0xAAAA_0001;

    fn a_packet(seq: u16) -> Vec<u8> {
        let mut out = Vec::new();
        RtpHeader::new(RtpPt(8), SeqNo(seq), u32::from(seq) * 160, Ssrc(A_SSRC))
            .write_packet(&[0xD5; 160], 0, &mut out)
            .unwrap();
        out
    }

    /// The consent phase in virtual time: while the prompt plays, each leg
    /// gets only the prompt (PCMA, our SSRC, one per 20 ms) and A's audio
    /// is not forwarded; after the prompt and its pause A's packets reach B
    /// unchanged.
    #[tokio::test]
    async fn consent_prompt_plays_to_both_legs_before_they_are_connected() {
        let dir = std::env::temp_dir().join(format!("wrec-tap-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::open(
            dir.join("appliance.db"),
            StoreConfig::new(voip_shared::mqtt::ApplianceId::new("tap-test").unwrap()),
        )
        .unwrap();
        let mut config = ServiceConfig::new(dir.join("recordings"));
        config.limits.min_free_bytes = 0;
        let service = RecordingService::start(config, store).unwrap();
        let policy = crate::recording::testing_policy(RawRecordingPolicy {
            name: "p".to_owned(),
            mode: RecordingMode::Always,
            consent_announcement: Some(true),
            format: Some(RecordingFormat::Wav),
            retention_days: None,
            on_demand_dtmf: None,
        });
        // A 100 ms prompt: five frames.
        let prompt = Prompt {
            sample_rate: 16_000,
            samples: vec![3000i16; 1600].into(),
        };
        let setup = RecordingSetup {
            call_id: "c1".to_owned(),
            policy,
            audio: vec![(8, CodecKind::Pcma)],
            telephone_events: vec![101],
            service: service.handle(),
            prompt: Arc::new(PromptSet::new(prompt).unwrap()),
            seed: 42,
        };
        let a_addr: SocketAddr = "192.0.2.1:4000".parse().unwrap();
        let b_addr: SocketAddr = "192.0.2.2:6000".parse().unwrap();
        let (a, b) = (
            LegConfig::with_rtcp_port_plus_one(a_addr),
            LegConfig::with_rtcp_port_plus_one(b_addr),
        );
        let t0 = tokio::time::Instant::now().into_std();
        let relay = Relay::new(t0, RelayConfig::default(), a, b);
        let mut core = RecordedRelay::new(t0, relay, a, b, setup);
        assert!(core.prompt_playing());

        let mut prompt_to = [0usize; 2];
        let mut forwarded = Vec::new();
        let connect = t0 + Duration::from_millis(100) + TRAILING_PAUSE;
        for k in 0..30u16 {
            let now = t0 + Duration::from_millis(20) * u32::from(k);
            core.handle_timeout(now);
            let packet = a_packet(k);
            core.handle_packet(now, Leg::A, Port::Rtp, a_addr, &packet);
            while let Some(t) = core.poll_transmit() {
                let rtp = RtpPacket::parse(&t.bytes).unwrap();
                if rtp.ssrc().0 == A_SSRC {
                    assert!(now >= connect, "A forwarded during the prompt at {k}");
                    assert_eq!(t.leg, Leg::B);
                    assert_eq!(t.bytes, packet, "forwarded bytes changed");
                    forwarded.push(k);
                } else {
                    assert!(now < connect, "prompt after the connect");
                    assert_eq!(rtp.payload_type().0, 8);
                    let leg = index(t.leg);
                    let expected = if leg == 0 { a_addr } else { b_addr };
                    assert_eq!(t.destination, expected);
                    prompt_to[leg] += 1;
                }
            }
        }
        assert_eq!(prompt_to, [5, 5]);
        assert!(!core.prompt_playing());
        // From the first packet at or after the connect (20 ms grid) on.
        let first = u16::try_from((connect - t0).as_millis().div_ceil(20)).unwrap();
        assert_eq!(forwarded, (first..30).collect::<Vec<_>>());
        assert!(core.is_recording());
        core.finish(t0 + Duration::from_secs(1));
        drop(core);
        let service_dir = dir.clone();
        tokio::task::spawn_blocking(move || service.shutdown())
            .await
            .unwrap();
        let _ = std::fs::remove_dir_all(service_dir);
    }
}
