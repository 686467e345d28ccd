//! Turns the [`MediaCommand`](crate::pbx::MediaCommand)s of the PBX core
//! into [`RelayManager`] calls.
//!
//! Per call: `Allocate` reserves and binds two port pairs (A side, B side,
//! RTCP on port + 1 bound too) and keeps them until `Relay` (both legs) or
//! `EchoLoop` (the A leg; the B pair is released) starts the task. A later
//! `Relay` with other remote addresses (re-INVITE) becomes `set_remote` on
//! the changed legs; `Direction` becomes `set_direction`. Those commands go
//! through a small per-call control task that owns the [`RelayHandle`], so
//! the engine never waits for a relay. `Release` drops the call: the control
//! task stops the relay (ports to quarantine), pending port pairs are
//! released at once.
//!
//! `Transcode` (the legs have no codec in common) starts a transcoding task
//! instead of the relay on the same reserved ports: a
//! [`voip_media::bridge::Bridge`] with each leg's negotiated codec, payload
//! type and telephone-event type, a random SSRC per leg, and our own RTCP
//! and quality samples per leg (see `media_relay::Transcoder`). Later
//! `Transcode` commands with other remote addresses (re-INVITE) and
//! `Direction` (hold) go through the same control task as for a relay;
//! `dtmf` injects a SIP INFO digit into a transcoded call.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use voip_media::bridge::{BridgeConfig, LegMedia};
use voip_media::codec::{CodecKind, OpusSettings};
use voip_media::latch::LatchConfig;
use voip_media::{LegConfig, MediaDirection, RelayConfig};
use voip_shared::site_config::{OpusConfig, RecordingMode, RecordingPolicy};
use voip_sip::b2bua::{CallRef as SipCall, LegCodec, MediaPorts, Side};
use voip_sip::sdp::Direction;

use crate::media_relay::record_tap::{CommandRefused, RecordingCommand, RecordingSetup};
use crate::media_relay::{
    self, EchoConfig, Leg, LegSpec, LocalLeg, RelayError, RelayHandle, RelayManager,
};
use crate::recording::consent::Prompt;
use crate::recording::prompt::PromptSet;
use crate::recording::service::ServiceHandle;

/// Period of per-leg quality samples (issue 4: every 5 s and at call end).
const QUALITY_INTERVAL: Duration = Duration::from_secs(5);

/// Commands for a running relay.
#[derive(Debug)]
enum Op {
    SetRemote(Leg, LegConfig),
    SetDirection(Leg, MediaDirection),
    SendDtmf(Leg, voip_media::dtmf::DtmfEvent, u32),
    Recording(RecordingCommand, oneshot::Sender<RecordingAnswer>),
}

/// The answer to a recording command for a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordingAnswer {
    /// Started or stopped.
    Done,
    /// Refused (policy `never`, already recording, not recording, or a
    /// call without recording support such as the echo test).
    Refused(CommandRefused),
    /// No such call with media.
    NoSuchCall,
}

/// The media engine's codec for an SDP codec name.
fn codec_kind(codec: &voip_sip::sdp::Codec) -> Option<CodecKind> {
    match codec.name.to_ascii_lowercase().as_str() {
        "pcmu" => Some(CodecKind::Pcmu),
        "pcma" => Some(CodecKind::Pcma),
        "g722" => Some(CodecKind::G722),
        "opus" => Some(CodecKind::Opus),
        _ => None,
    }
}

/// A random SSRC for a leg we send on (RFC 3550 §8: random).
fn random_ssrc() -> voip_media::Ssrc {
    let mut b = [0u8; 4];
    // getrandom cannot fail on Linux once the pool is initialised (the
    // engine checked it at start); a zero SSRC would still work.
    let _ = getrandom::fill(&mut b);
    voip_media::Ssrc(u32::from_be_bytes(b))
}

/// The bridge's view of one negotiated leg (remote set when started).
fn leg_media(codec: &LegCodec, remote: SocketAddr) -> Option<LegMedia> {
    let kind = codec_kind(&codec.codec)?;
    Some(LegMedia {
        codec: kind,
        payload_type: voip_media::PayloadType(codec.payload_type.get()),
        telephone_event: codec
            .telephone_event
            .map(|pt| voip_media::PayloadType(pt.get())),
        remote: LegConfig::with_rtcp_port_plus_one(remote),
        local_ssrc: random_ssrc(),
    })
}

#[derive(Debug)]
struct CallMedia {
    media: media_relay::CallRef,
    /// Reserved ports until the relay or echo starts.
    pending: Option<(LocalLeg, LocalLeg)>,
    /// Remote addresses the running relay uses (A, B).
    remotes: Option<(SocketAddr, Option<SocketAddr>)>,
    control: Option<mpsc::Sender<Op>>,
    /// The CDR's call id (for quality samples).
    call_id: String,
}

/// The media side of the engine (see the module documentation).
#[derive(Debug)]
pub(crate) struct MediaBridge {
    manager: RelayManager,
    media_timeout: Duration,
    /// The site's Opus encoder settings for transcoders started from now on.
    opus: OpusSettings,
    calls: HashMap<SipCall, CallMedia>,
    by_media: HashMap<media_relay::CallRef, SipCall>,
    next: u64,
    totals: Arc<RelayTotals>,
    /// Call id and legs still to send their last quality sample, per
    /// running (or stopping) relay; outlives `release` until those arrive.
    sample_owners: HashMap<media_relay::CallRef, (String, u8)>,
    /// The recording service and the consent prompt; `None`: calls are
    /// not recorded.
    recording: Option<(ServiceHandle, Arc<PromptSet>)>,
}

/// The codec crate's Opus settings from the site's `media.opus_*`.
pub(crate) fn opus_settings(site: OpusConfig) -> OpusSettings {
    OpusSettings {
        complexity: site.complexity,
        bitrate_bps: site.bitrate_bps,
        fec: site.fec,
        dtx: site.dtx,
        expected_loss_pct: site.expected_loss_pct,
    }
}

/// The configuration of a transcoding bridge: the relay's latching, the
/// site's media timeout and Opus settings.
fn bridge_config(latch: LatchConfig, media_timeout: Duration, opus: OpusSettings) -> BridgeConfig {
    BridgeConfig {
        latch,
        media_timeout,
        opus,
        ..BridgeConfig::default()
    }
}

fn leg_of(side: Side) -> Leg {
    match side {
        Side::A => Leg::A,
        Side::B => Leg::B,
    }
}

fn media_direction(d: Direction) -> MediaDirection {
    match d {
        Direction::SendRecv => MediaDirection::SendRecv,
        Direction::SendOnly => MediaDirection::SendOnly,
        Direction::RecvOnly => MediaDirection::RecvOnly,
        Direction::Inactive => MediaDirection::Inactive,
    }
}

/// Packet counters of the relays that have stopped, summed per leg (A faces
/// the caller, B the callee). Updated by each relay's control task when it
/// stops, so a running call is counted when it ends.
#[derive(Debug, Default)]
pub(crate) struct RelayTotals {
    a_in: AtomicU64,
    a_out: AtomicU64,
    b_in: AtomicU64,
    b_out: AtomicU64,
    rejected_foreign: AtomicU64,
}

/// Packet counters of the media relays that have stopped, summed per leg.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayPacketTotals {
    /// Packets accepted from leg A's endpoint.
    pub a_in: u64,
    /// Packets sent to leg A's endpoint.
    pub a_out: u64,
    /// Packets accepted from leg B's endpoint.
    pub b_in: u64,
    /// Packets sent to leg B's endpoint.
    pub b_out: u64,
    /// Packets dropped as coming from a foreign source (RTP bleed).
    pub rejected_foreign: u64,
}

impl RelayTotals {
    fn add(&self, stats: &media_relay::RelayStats) {
        let a = &stats.a.counters;
        self.a_in.fetch_add(a.packets_in, Ordering::Relaxed);
        self.a_out.fetch_add(a.packets_out, Ordering::Relaxed);
        let mut foreign = a.rejected_foreign;
        if let Some(b) = &stats.b {
            self.b_in
                .fetch_add(b.counters.packets_in, Ordering::Relaxed);
            self.b_out
                .fetch_add(b.counters.packets_out, Ordering::Relaxed);
            foreign += b.counters.rejected_foreign;
        }
        self.rejected_foreign.fetch_add(foreign, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> RelayPacketTotals {
        RelayPacketTotals {
            a_in: self.a_in.load(Ordering::Relaxed),
            a_out: self.a_out.load(Ordering::Relaxed),
            b_in: self.b_in.load(Ordering::Relaxed),
            b_out: self.b_out.load(Ordering::Relaxed),
            rejected_foreign: self.rejected_foreign.load(Ordering::Relaxed),
        }
    }
}

/// Runs the commands of one relay until the engine drops the sender, then
/// stops it and adds its counters to `totals`.
fn spawn_control(handle: RelayHandle, totals: Arc<RelayTotals>) -> mpsc::Sender<Op> {
    let (tx, mut rx) = mpsc::channel::<Op>(8);
    tokio::spawn(async move {
        while let Some(op) = rx.recv().await {
            let result = match op {
                Op::SetRemote(leg, remote) => handle.set_remote(leg, remote).await,
                Op::SetDirection(leg, direction) => handle.set_direction(leg, direction).await,
                Op::SendDtmf(leg, event, ms) => handle.send_dtmf(leg, event, ms).await,
                Op::Recording(command, reply) => {
                    let answer = match handle.recording(command).await {
                        Ok(Ok(())) => RecordingAnswer::Done,
                        Ok(Err(refused)) => RecordingAnswer::Refused(refused),
                        Err(_) => RecordingAnswer::NoSuchCall,
                    };
                    let _ = reply.send(answer);
                    Ok(())
                }
            };
            match result {
                Ok(()) => {}
                Err(RelayError::Stopped) => break,
                Err(error) => {
                    tracing::debug!(call = %handle.call(), %error, "relay command refused");
                }
            }
        }
        let call = handle.call();
        if let Ok(stats) = handle.stop().await {
            totals.add(&stats);
            tracing::debug!(
                %call,
                a_packets_in = stats.a.counters.packets_in,
                b_packets_in = stats.b.as_ref().map_or(0, |b| b.counters.packets_in),
                "media relay stopped"
            );
        }
    });
    tx
}

impl MediaBridge {
    pub(crate) fn new(
        manager: RelayManager,
        media_timeout: Duration,
        recording: Option<ServiceHandle>,
    ) -> Self {
        // The prompt is resampled to every codec rate once, here.
        let recording = recording.and_then(|service| {
            let prompt = Prompt::consent_nl()
                .map_err(|e| e.to_string())
                .and_then(|p| PromptSet::new(p).map_err(|e| e.to_string()));
            match prompt {
                Ok(prompt) => Some((service, Arc::new(prompt))),
                Err(error) => {
                    tracing::error!(%error, "the consent prompt is unusable; calls are not recorded");
                    None
                }
            }
        });
        MediaBridge {
            recording,
            manager,
            media_timeout,
            opus: OpusSettings::default(),
            calls: HashMap::new(),
            by_media: HashMap::new(),
            next: 1,
            totals: Arc::default(),
            sample_owners: HashMap::new(),
        }
    }

    /// The media timeout for relays started from now on.
    pub(crate) fn set_media_timeout(&mut self, timeout: Duration) {
        self.media_timeout = timeout;
    }

    /// The site's Opus settings (`media.opus_*`) for transcoders started
    /// from now on.
    pub(crate) fn set_opus(&mut self, opus: OpusConfig) {
        self.opus = opus_settings(opus);
    }

    /// Calls holding ports or a relay.
    pub(crate) fn calls(&self) -> usize {
        self.calls.len()
    }

    /// Relays and echoes running.
    pub(crate) fn relays(&self) -> usize {
        self.manager.active()
    }

    /// Port pairs reserved.
    pub(crate) fn ports_in_use(&self) -> usize {
        self.manager.ports_in_use()
    }

    /// Packet counters of the relays stopped so far.
    pub(crate) fn packet_totals(&self) -> RelayPacketTotals {
        self.totals.snapshot()
    }

    /// The call id a quality sample of `media` belongs to; after the last
    /// sample of every leg (`last`) the relay is forgotten.
    pub(crate) fn sample_call_id(
        &mut self,
        media: media_relay::CallRef,
        last: bool,
    ) -> Option<String> {
        let (call_id, remaining) = self.sample_owners.get_mut(&media)?;
        let call_id = call_id.clone();
        if last {
            *remaining = remaining.saturating_sub(1);
            if *remaining == 0 {
                self.sample_owners.remove(&media);
            }
        }
        Some(call_id)
    }

    /// The PBX call of a relay's events.
    pub(crate) fn call_of(&self, media: media_relay::CallRef) -> Option<SipCall> {
        self.by_media.get(&media).copied()
    }

    /// Reserves the A and B port pairs of `call`.
    pub(crate) fn allocate(
        &mut self,
        call: SipCall,
        call_id: &str,
    ) -> Result<MediaPorts, RelayError> {
        let a = self.manager.allocate_leg(false)?;
        let b = self.manager.allocate_leg(false)?;
        let ports = MediaPorts {
            a_port: a.ports().rtp(),
            b_port: b.ports().rtp(),
        };
        let media = media_relay::CallRef(self.next);
        self.next += 1;
        self.by_media.insert(media, call);
        if let Some(old) = self.calls.insert(
            call,
            CallMedia {
                media,
                pending: Some((a, b)),
                remotes: None,
                control: None,
                call_id: call_id.to_owned(),
            },
        ) {
            self.by_media.remove(&old.media);
        }
        Ok(ports)
    }

    /// The call ids of the calls whose relay or echo runs.
    pub(crate) fn active_call_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .calls
            .values()
            .filter(|c| c.control.is_some())
            .map(|c| c.call_id.clone())
            .collect();
        ids.sort();
        ids
    }

    /// Starts or stops the recording of the call with id `call_id`; the
    /// answer comes on `reply`.
    pub(crate) fn recording_command(
        &self,
        call_id: &str,
        command: RecordingCommand,
        reply: oneshot::Sender<RecordingAnswer>,
    ) {
        let Some(control) = self
            .calls
            .values()
            .find(|c| c.call_id == call_id)
            .and_then(|c| c.control.as_ref())
        else {
            let _ = reply.send(RecordingAnswer::NoSuchCall);
            return;
        };
        if let Err(mpsc::error::TrySendError::Full(op) | mpsc::error::TrySendError::Closed(op)) =
            control.try_send(Op::Recording(command, reply))
            && let Op::Recording(_, reply) = op
        {
            let _ = reply.send(RecordingAnswer::NoSuchCall);
        }
    }

    /// What the relay of a call under `policy` needs to record it; `None`
    /// when it is never recorded or there is no recording service.
    fn recording_setup(
        &self,
        call_id: &str,
        payloads: &[(voip_sip::sdp::PayloadType, voip_sip::sdp::Codec)],
        policy: Option<&RecordingPolicy>,
    ) -> Option<RecordingSetup> {
        let policy = policy?;
        if policy.mode == RecordingMode::Never {
            return None;
        }
        let (service, prompt) = self.recording.as_ref()?;
        let mut audio = Vec::new();
        let mut telephone_events = Vec::new();
        for (pt, codec) in payloads {
            let name = codec.name.to_ascii_lowercase();
            let kind = match name.as_str() {
                "pcmu" => Some(CodecKind::Pcmu),
                "pcma" => Some(CodecKind::Pcma),
                "g722" => Some(CodecKind::G722),
                "opus" => Some(CodecKind::Opus),
                "telephone-event" => {
                    telephone_events.push(pt.get());
                    None
                }
                _ => None,
            };
            if let Some(kind) = kind {
                audio.push((pt.get(), kind));
            }
        }
        let mut seed = [0u8; 8];
        if getrandom::fill(&mut seed).is_err() {
            tracing::warn!("no entropy for the prompt's RTP identity");
        }
        Some(RecordingSetup {
            call_id: call_id.to_owned(),
            policy: policy.clone(),
            audio,
            telephone_events,
            service: service.clone(),
            prompt: Arc::clone(prompt),
            seed: u64::from_le_bytes(seed),
        })
    }

    /// Starts (or updates) the two-leg relay of `call`; a call under a
    /// recording policy gets the recording relay.
    #[allow(clippy::too_many_arguments, reason = "the relay command's fields")]
    pub(crate) fn relay(
        &mut self,
        call: SipCall,
        a_local_port: u16,
        a_remote: SocketAddr,
        b_local_port: u16,
        b_remote: SocketAddr,
        payloads: &[(voip_sip::sdp::PayloadType, voip_sip::sdp::Codec)],
        recording: Option<&RecordingPolicy>,
    ) {
        let setup = self
            .calls
            .get(&call)
            .filter(|s| s.pending.is_some())
            .and_then(|s| self.recording_setup(&s.call_id, payloads, recording));
        self.start_or_update(
            call,
            (a_local_port, a_remote),
            (b_local_port, b_remote),
            None,
            setup,
        );
    }

    /// Starts (or updates) the transcoding task of `call` (the legs have no
    /// codec in common).
    pub(crate) fn transcode(
        &mut self,
        call: SipCall,
        a: (u16, SocketAddr, &LegCodec),
        b: (u16, SocketAddr, &LegCodec),
        recording: Option<&RecordingPolicy>,
    ) {
        let (Some(ma), Some(mb)) = (leg_media(a.2, a.1), leg_media(b.2, b.1)) else {
            tracing::error!(
                a = %a.2.codec.name,
                b = %b.2.codec.name,
                "transcoding between codecs the media engine does not have"
            );
            return;
        };
        // The transcoder records from the bridge's PCM tap: the payload
        // list only matters to a relay's decoders.
        let setup = self
            .calls
            .get(&call)
            .filter(|s| s.pending.is_some())
            .and_then(|s| self.recording_setup(&s.call_id, &[], recording));
        self.start_or_update(call, (a.0, a.1), (b.0, b.1), Some((ma, mb)), setup);
    }

    /// Injects a digit (SIP INFO from `from`'s side) towards the other leg
    /// of a transcoded call; `false` when the call has no running task.
    pub(crate) fn dtmf(
        &mut self,
        call: SipCall,
        from: Side,
        event: voip_media::dtmf::DtmfEvent,
        duration_ms: u32,
    ) -> bool {
        let to = leg_of(from).other();
        self.calls
            .get(&call)
            .and_then(|c| c.control.as_ref())
            .is_some_and(|control| {
                control
                    .try_send(Op::SendDtmf(to, event, duration_ms))
                    .is_ok()
            })
    }

    fn start_or_update(
        &mut self,
        call: SipCall,
        (a_local_port, a_remote): (u16, SocketAddr),
        (b_local_port, b_remote): (u16, SocketAddr),
        transcode: Option<(LegMedia, LegMedia)>,
        recording: Option<RecordingSetup>,
    ) {
        let timeout = self.media_timeout;
        let opus = self.opus;
        let Some(state) = self.calls.get_mut(&call) else {
            tracing::warn!("relay requested for a call without ports");
            return;
        };
        if let Some((a, b)) = state.pending.take() {
            let (a, b) = if a.ports().rtp() == a_local_port || b.ports().rtp() != a_local_port {
                (a, b)
            } else {
                (b, a)
            };
            if a.ports().rtp() != a_local_port || b.ports().rtp() != b_local_port {
                tracing::warn!(
                    a_local_port,
                    b_local_port,
                    "relay ports differ from the allocated ones"
                );
            }
            let config = RelayConfig {
                media_timeout: timeout,
                quality_interval: Some(QUALITY_INTERVAL),
                ..RelayConfig::default()
            };
            let a = LegSpec {
                local: a,
                remote: LegConfig::with_rtcp_port_plus_one(a_remote),
            };
            let b = LegSpec {
                local: b,
                remote: LegConfig::with_rtcp_port_plus_one(b_remote),
            };
            let created = if let Some((media_a, media_b)) = transcode {
                let bridge = bridge_config(config.latch, timeout, opus);
                self.manager.create_transcoder(
                    state.media,
                    (a, media_a),
                    (b, media_b),
                    bridge,
                    Some(QUALITY_INTERVAL),
                    recording,
                )
            } else if let Some(setup) = recording {
                self.manager
                    .create_recorded_relay(state.media, a, b, config, setup)
            } else {
                self.manager.create_relay(state.media, a, b, config)
            };
            match created {
                Ok(handle) => {
                    self.sample_owners
                        .insert(state.media, (state.call_id.clone(), 2));
                    state.remotes = Some((a_remote, Some(b_remote)));
                    state.control = Some(spawn_control(handle, Arc::clone(&self.totals)));
                }
                Err(error) => {
                    tracing::error!(call = %state.media, %error, "cannot start the media relay");
                }
            }
            return;
        }
        let Some((old_a, old_b)) = state.remotes else {
            return;
        };
        let Some(control) = &state.control else {
            return;
        };
        if old_a != a_remote {
            let _ = control.try_send(Op::SetRemote(
                Leg::A,
                LegConfig::with_rtcp_port_plus_one(a_remote),
            ));
        }
        if old_b != Some(b_remote) {
            let _ = control.try_send(Op::SetRemote(
                Leg::B,
                LegConfig::with_rtcp_port_plus_one(b_remote),
            ));
        }
        state.remotes = Some((a_remote, Some(b_remote)));
    }

    /// Starts the echo of `call` on its A leg (the B pair is released).
    pub(crate) fn echo(&mut self, call: SipCall, local_port: u16, remote: SocketAddr) {
        let timeout = self.media_timeout;
        let Some(state) = self.calls.get_mut(&call) else {
            tracing::warn!("echo requested for a call without ports");
            return;
        };
        let Some((a, b)) = state.pending.take() else {
            if let (Some(control), Some((old, _))) = (&state.control, state.remotes)
                && old != remote
            {
                let _ = control.try_send(Op::SetRemote(
                    Leg::A,
                    LegConfig::with_rtcp_port_plus_one(remote),
                ));
                state.remotes = Some((remote, None));
            }
            return;
        };
        let leg = if b.ports().rtp() == local_port { b } else { a };
        let config = EchoConfig {
            media_timeout: timeout,
            quality_interval: Some(QUALITY_INTERVAL),
            ..EchoConfig::default()
        };
        let spec = LegSpec {
            local: leg,
            remote: LegConfig::with_rtcp_port_plus_one(remote),
        };
        match self.manager.create_echo(state.media, spec, config) {
            Ok(handle) => {
                self.sample_owners
                    .insert(state.media, (state.call_id.clone(), 1));
                state.remotes = Some((remote, None));
                state.control = Some(spawn_control(handle, Arc::clone(&self.totals)));
            }
            Err(error) => {
                tracing::error!(call = %state.media, %error, "cannot start the echo test");
            }
        }
    }

    /// A side of `call` declared a new SDP direction.
    pub(crate) fn direction(&mut self, call: SipCall, side: Side, direction: Direction) {
        if let Some(control) = self.calls.get(&call).and_then(|c| c.control.as_ref()) {
            let _ = control.try_send(Op::SetDirection(leg_of(side), media_direction(direction)));
        }
    }

    /// `call` is over: stop its relay and free its ports.
    pub(crate) fn release(&mut self, call: SipCall) {
        if let Some(state) = self.calls.remove(&call) {
            self.by_media.remove(&state.media);
        }
    }

    /// Drops every call (shutdown).
    pub(crate) fn release_all(&mut self) {
        self.calls.clear();
        self.by_media.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transcoding_bridge_gets_the_sites_opus_settings() {
        let toml = "version = 1\nsite_name = \"K\"\ntenant = \"t\"\n[media]\n\
                    opus_complexity = 9\nopus_bitrate = 24000\nopus_fec = false\n\
                    opus_dtx = true\nopus_expected_loss_pct = 20\n";
        let site = voip_shared::site_config::SiteConfig::from_toml_str(toml)
            .unwrap_or_else(|e| panic!("{e:?}"));
        let latch = LatchConfig {
            max_packets: 3,
            ..LatchConfig::default()
        };
        let config = bridge_config(
            latch,
            Duration::from_secs(7),
            opus_settings(site.media.opus),
        );
        assert_eq!(
            config.opus,
            OpusSettings {
                complexity: 9,
                bitrate_bps: 24_000,
                fec: false,
                dtx: true,
                expected_loss_pct: 20,
            }
        );
        assert_eq!(config.latch, latch);
        assert_eq!(config.media_timeout, Duration::from_secs(7));
        assert_eq!(config.opus.validate(), Ok(()));
        assert_eq!(
            opus_settings(OpusConfig::default()),
            OpusSettings::default(),
            "the site defaults are the codec defaults"
        );
    }
}
