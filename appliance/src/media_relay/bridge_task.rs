//! The transcoding call's core for the per-call task: a
//! [`voip_media::bridge::Bridge`] plus one [`LegMonitor`] per leg.
//!
//! Where the appliance transcodes it terminates RTP on both legs (each side
//! is its own RTP session ending at the bridge), so, unlike the relay, it
//! sends its own RTCP per leg: SR while it sends audio to the leg, else RR,
//! with SDES CNAME, from the bridge's SSRC of that leg (the same
//! [`Reporting`] the echo test uses). The monitor of a leg sees what that
//! leg's endpoint sends (admitted RTP and RTCP, after the bridge's latching)
//! and what the bridge sends to it (for the SR sender info), so transcoded
//! legs get the same quality samples as relay legs, with the negotiated
//! codec (Opus legs get a codec and a MOS too; E-model values in
//! `voip_shared::quality::Codec::impairment`).
//!
//! Destination of our RTCP for a leg: where its RTCP came from (latched),
//! else its latched RTP source (port + 1 unless rtcp-mux), else the
//! signalled RTCP address.
//!
//! Recording (under a recording policy, see [`Transcoder::with_recording`]):
//! the bridge's PCM tap (20 ms of decoded audio per direction, each at the
//! rate of the encoder it feeds) goes to the recording, party A (caller)
//! left and B (callee) right, both resampled to the narrower leg codec's
//! rate (what the other party hears anyway); RFC 4733 events from either
//! leg feed the on-demand code matcher; `start`/`stop` commands as on a
//! relayed call (the shared [`Session`]). When the policy asks consent,
//! the bridge plays the Dutch prompt to both legs first (in place of the
//! other party's audio, which is dropped meanwhile) and the recording
//! starts when both have heard it.
//!
//! Sans-IO like the bridge: the task (`task.rs`) feeds it.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use voip_media::bridge::{Bridge, BridgeCounters, LegMedia, TapFrame};
use voip_media::codec::CodecKind;
use voip_media::dtmf::DtmfEvent;
use voip_media::quality::{Codec as QualityCodec, LegMonitor, MonitorConfig, Reporting};
use voip_media::resample::Resampler;
use voip_media::{
    Event, Leg, LegConfig, LegCounters, MediaDirection, PacketKind, Port, QualitySample,
    RtcpPacket, RtpPacket, Transmit, classify,
};

use super::LegStats;
use super::record_tap::{CommandRefused, RecordingCommand, RecordingSetup, Session, party};
use crate::recording::policy::Decision;
use crate::recording::service::PcmFrame;

/// The E-model codec of a leg.
fn quality_codec(kind: CodecKind, opus_bitrate: u32) -> QualityCodec {
    match kind {
        CodecKind::Pcmu => QualityCodec::Pcmu,
        CodecKind::Pcma => QualityCodec::Pcma,
        CodecKind::G722 => QualityCodec::G722,
        CodecKind::Opus => QualityCodec::Opus {
            bitrate: opus_bitrate,
        },
    }
}

fn leg_counters(c: BridgeCounters) -> LegCounters {
    LegCounters {
        packets_in: c.packets_in,
        bytes_in: c.bytes_in,
        packets_out: c.packets_out,
        bytes_out: c.bytes_out,
        rejected_foreign: c.rejected_foreign,
        malformed: c.malformed,
    }
}

/// A transcoding bridge with per-leg quality monitoring and own RTCP.
#[derive(Debug)]
pub struct Transcoder {
    bridge: Bridge,
    monitors: [LegMonitor; 2],
    /// Where each leg's RTCP came from.
    rtcp_source: [Option<SocketAddr>; 2],
    transmits: VecDeque<Transmit>,
    recording: Option<Recording>,
}

/// The recording of a transcoded call.
struct Recording {
    session: Session,
    /// Per party: tap rate and its resampler to the recording's rate.
    resamplers: [Option<(u32, Resampler)>; 2],
    out: Vec<i16>,
    /// The consent prompt is playing; the recording starts after it.
    after_prompt: bool,
}

impl std::fmt::Debug for Recording {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recording")
            .field("call_id", &self.session.setup.call_id)
            .field("rate", &self.session.rate)
            .finish_non_exhaustive()
    }
}

impl Recording {
    /// One tap frame into the recording, resampled to its rate.
    fn frame(&mut self, frame: TapFrame) {
        if !self.session.active() {
            return;
        }
        let rate = self.session.rate;
        let samples = if frame.sample_rate == rate {
            frame.pcm
        } else {
            let slot = &mut self.resamplers[index(frame.from)];
            if slot
                .as_ref()
                .is_none_or(|(from, _)| *from != frame.sample_rate)
            {
                match Resampler::new(frame.sample_rate, rate) {
                    Ok(r) => *slot = Some((frame.sample_rate, r)),
                    Err(error) => {
                        tracing::debug!(%error, "tap frame not recorded");
                        return;
                    }
                }
            }
            let Some((_, resampler)) = slot.as_mut() else {
                return;
            };
            self.out.clear();
            resampler.process(&frame.pcm, &mut self.out);
            std::mem::take(&mut self.out)
        };
        self.session.push(
            party(frame.from),
            PcmFrame {
                at: frame.at,
                samples,
            },
        );
    }
}

fn index(leg: Leg) -> usize {
    match leg {
        Leg::A => 0,
        Leg::B => 1,
    }
}

impl Transcoder {
    /// Wraps `bridge`; `reporting` gives each leg's RTCP identity (its SSRC
    /// should be the bridge's SSRC on that leg), `None` sends no RTCP.
    pub fn new(
        now: Instant,
        bridge: Bridge,
        opus_bitrate: u32,
        sample_interval: Option<std::time::Duration>,
        reporting: [Option<Reporting>; 2],
    ) -> Self {
        let [ra, rb] = reporting;
        let monitor = |leg: Leg, reporting: Option<Reporting>| {
            let media: LegMedia = bridge.media(leg);
            LegMonitor::new(
                now,
                MonitorConfig {
                    leg,
                    clock_rate: media.codec.rtp_clock_rate(),
                    telephone_event: media.telephone_event,
                    codec: Some(quality_codec(media.codec, opus_bitrate)),
                    sample_interval,
                    reporting,
                },
            )
        };
        let monitors = [monitor(Leg::A, ra), monitor(Leg::B, rb)];
        Transcoder {
            bridge,
            monitors,
            rtcp_source: [None, None],
            transmits: VecDeque::new(),
            recording: None,
        }
    }

    /// Records the call under `setup`'s policy (an `always` policy starts
    /// at once). See the module documentation.
    #[must_use]
    pub fn with_recording(mut self, setup: RecordingSetup) -> Self {
        let rate = self
            .bridge
            .media(Leg::A)
            .codec
            .sample_rate()
            .min(self.bridge.media(Leg::B).codec.sample_rate());
        let mut session = Session::new(setup, rate);
        let decision = session.state.on_connect();
        self.recording = Some(Recording {
            session,
            resamplers: [None, None],
            out: Vec::new(),
            after_prompt: false,
        });
        self.decide(decision);
        self
    }

    /// Whether a recording is running (or starting).
    pub fn is_recording(&self) -> bool {
        self.recording
            .as_ref()
            .is_some_and(|r| r.session.state.is_recording())
    }

    fn decide(&mut self, decision: Decision) {
        let Some(recording) = self.recording.as_mut() else {
            return;
        };
        match decision {
            Decision::Off => {}
            Decision::Record { consent: true } => {
                let prompt = std::sync::Arc::clone(&recording.session.setup.prompt);
                let mut played = false;
                for leg in [Leg::A, Leg::B] {
                    if let Some(p) = prompt.at_rate(self.bridge.pcm_rate(leg)) {
                        self.bridge.play(leg, &p.samples);
                        played = true;
                    }
                }
                if played {
                    recording.after_prompt = true;
                } else {
                    // No codec rate for the prompt: never record without
                    // the announcement the policy asks for.
                    tracing::error!(
                        call_id = %recording.session.setup.call_id,
                        "consent prompt unavailable at the legs' rates; not recording"
                    );
                }
            }
            Decision::Record { consent: false } => recording.session.start(),
        }
        self.sync_tap();
    }

    /// The bridge's tap runs while the recording wants PCM.
    fn sync_tap(&mut self) {
        let on = self.recording.as_ref().is_some_and(|r| r.session.active());
        self.bridge.set_tap(on);
    }

    /// The recorder's progress and the tap's frames.
    fn drive_recording(&mut self) {
        let Some(recording) = self.recording.as_mut() else {
            return;
        };
        if recording.after_prompt && !self.bridge.is_playing() {
            recording.after_prompt = false;
            recording.session.start();
            self.bridge.set_tap(true);
        }
        let was = recording.session.active();
        recording.session.poll();
        while let Some(frame) = self.bridge.poll_tap() {
            recording.frame(frame);
        }
        if was != recording.session.active() {
            self.sync_tap();
        }
    }

    /// A recording command (only a call under a recording policy takes it).
    pub fn recording_command(&mut self, command: RecordingCommand) -> Result<(), CommandRefused> {
        let recording = self
            .recording
            .as_mut()
            .ok_or(CommandRefused::NotSupported)?;
        match command {
            RecordingCommand::Start => {
                let decision = recording.session.state.handle_start_command()?;
                self.decide(decision);
                Ok(())
            }
            RecordingCommand::Stop => {
                if recording.session.state.handle_stop_command() {
                    recording.session.stop();
                    self.sync_tap();
                    Ok(())
                } else {
                    Err(CommandRefused::NotRecording)
                }
            }
        }
    }

    /// The bridge.
    pub fn bridge(&self) -> &Bridge {
        &self.bridge
    }

    /// The quality monitor of `leg`.
    pub fn monitor(&self, leg: Leg) -> &LegMonitor {
        &self.monitors[index(leg)]
    }

    /// Handles one datagram received on `leg`'s local `port`.
    pub fn handle_packet(
        &mut self,
        now: Instant,
        leg: Leg,
        port: Port,
        source: SocketAddr,
        bytes: &[u8],
    ) {
        let before = self.bridge.counters(leg).packets_in;
        self.bridge.handle_packet(now, leg, port, source, bytes);
        if self.bridge.counters(leg).packets_in > before {
            // Admitted by the bridge (latched source, well-formed).
            let monitor = &mut self.monitors[index(leg)];
            match classify(bytes) {
                PacketKind::Rtp => {
                    if let Ok(packet) = RtpPacket::parse(bytes) {
                        monitor.handle_rtp(now, &packet);
                        if Some(packet.payload_type()) == self.bridge.media(leg).telephone_event
                            && let Some(recording) = self.recording.as_mut()
                        {
                            let decision = recording.session.telephone_event(now, leg, &packet);
                            self.decide(decision);
                        }
                    }
                }
                PacketKind::Rtcp => {
                    let packets: Result<Vec<RtcpPacket<'_>>, _> =
                        RtcpPacket::parse_compound(bytes).collect();
                    if let Ok(packets) = packets {
                        self.rtcp_source[index(leg)] = Some(source);
                        monitor.handle_rtcp(now, &packets);
                    }
                }
                PacketKind::Other => {}
            }
        }
        self.drain(now);
        self.drive_recording();
    }

    /// Moves the bridge's datagrams to our queue, telling each leg's
    /// monitor what RTP we sent it.
    fn drain(&mut self, now: Instant) {
        while let Some(t) = self.bridge.poll_transmit() {
            if t.port == Port::Rtp
                && classify(&t.bytes) == PacketKind::Rtp
                && let Ok(packet) = RtpPacket::parse(&t.bytes)
            {
                self.monitors[index(t.leg)].handle_rtp_sent(
                    now,
                    packet.timestamp(),
                    packet.payload().len(),
                );
            }
            self.transmits.push_back(t);
        }
    }

    /// Where our RTCP for `leg` goes (see the module documentation).
    fn rtcp_destination(&self, leg: Leg) -> (Port, SocketAddr) {
        let remote = self.bridge.media(leg).remote;
        let muxed = remote.rtcp.is_none();
        let port = if muxed { Port::Rtp } else { Port::Rtcp };
        if let Some(source) = self.rtcp_source[index(leg)] {
            return (port, source);
        }
        if let Some(rtp) = self.bridge.latched(leg, Port::Rtp) {
            if muxed {
                return (port, rtp);
            }
            if let Some(p) = rtp.port().checked_add(1) {
                return (port, SocketAddr::new(rtp.ip(), p));
            }
        }
        (port, remote.rtcp.unwrap_or(remote.rtp))
    }

    /// Runs the bridge's ticks and the monitors' reports and samples.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.bridge.handle_timeout(now);
        self.drain(now);
        self.drive_recording();
        for leg in [Leg::A, Leg::B] {
            self.monitors[index(leg)].handle_timeout(now);
            while let Some(bytes) = self.monitors[index(leg)].poll_rtcp() {
                let (port, destination) = self.rtcp_destination(leg);
                self.transmits.push_back(Transmit {
                    leg,
                    port,
                    destination,
                    bytes,
                });
            }
        }
    }

    /// The next instant [`Transcoder::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.monitors
            .iter()
            .filter_map(LegMonitor::poll_timeout)
            .chain(self.bridge.poll_timeout())
            .min()
    }

    /// Next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// Next event (latching, media timeout).
    pub fn poll_event(&mut self) -> Option<Event> {
        self.bridge.poll_event()
    }

    /// Next quality sample of either leg.
    pub fn poll_sample(&mut self) -> Option<QualitySample> {
        let [a, b] = &mut self.monitors;
        a.poll_sample().or_else(|| b.poll_sample())
    }

    /// Hold/resume of a leg.
    pub fn set_direction(&mut self, now: Instant, leg: Leg, direction: MediaDirection) {
        self.bridge.set_direction(now, leg, direction);
    }

    /// New signalled addresses of a leg (re-INVITE).
    pub fn set_remote(&mut self, now: Instant, leg: Leg, remote: LegConfig) {
        self.rtcp_source[index(leg)] = None;
        self.bridge.set_remote(now, leg, remote);
    }

    /// Sends a digit (SIP INFO) to `to` as RFC 4733 events.
    pub fn send_dtmf(
        &mut self,
        to: Leg,
        event: DtmfEvent,
        duration_ms: u32,
    ) -> Result<(), voip_media::bridge::BridgeError> {
        self.bridge.send_dtmf(to, event, duration_ms)
    }

    /// A leg's snapshot for [`super::RelayStats`].
    pub fn leg_stats(&self, leg: Leg) -> LegStats {
        let monitor = &self.monitors[index(leg)];
        LegStats {
            counters: leg_counters(self.bridge.counters(leg)),
            latched_rtp: self.bridge.latched(leg, Port::Rtp),
            latched_rtcp: self.bridge.latched(leg, Port::Rtcp),
            direction: self.bridge.direction(leg),
            rtt: monitor.rtt(),
            sources: monitor
                .source()
                .map(voip_media::ReceiverStats::snapshot)
                .into_iter()
                .collect(),
            report_blocks: monitor.last_report_blocks().to_vec(),
            voip_metrics: monitor.voip_metrics().copied(),
        }
    }

    /// The call ended: each leg's last quality sample.
    pub fn finish(&mut self, now: Instant) {
        for m in &mut self.monitors {
            m.finish(now);
        }
        self.drive_recording();
        if let Some(recording) = self.recording.as_mut() {
            recording.session.stop();
        }
        self.bridge.set_tap(false);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use voip_media::bridge::BridgeConfig;
    use voip_media::codec::{OpusSettings, new_encoder};
    use voip_media::ntp::duration_to_short;
    use voip_media::rtcp::{ReceiverReport, ReportBlock, build_compound};
    use voip_media::{NtpClock, NtpTime, PayloadType, RtpHeader, SeqNo, Ssrc};

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    const PHONE_A: &str = "192.0.2.1:4000";
    const PHONE_B: &str = "192.0.2.2:5000";

    fn transcoder(t0: Instant) -> Transcoder {
        let a = LegMedia {
            codec: CodecKind::Pcma,
            payload_type: PayloadType(8),
            telephone_event: Some(PayloadType(101)),
            remote: LegConfig::with_rtcp_port_plus_one(addr(PHONE_A)),
            local_ssrc: Ssrc(0xa1),
        };
        let b = LegMedia {
            codec: CodecKind::Opus,
            payload_type: PayloadType(96),
            telephone_event: Some(PayloadType(101)),
            remote: LegConfig::with_rtcp_port_plus_one(addr(PHONE_B)),
            local_ssrc: Ssrc(0xb2),
        };
        let bridge = Bridge::new(t0, BridgeConfig::default(), a, b).unwrap();
        let reporting = |ssrc: u32, seed: u64| Reporting {
            ssrc: Ssrc(ssrc),
            cname: format!("{ssrc}@test"),
            ntp: NtpClock::new(t0, NtpTime(0xe000_0000_0000_0000)),
            seed,
        };
        Transcoder::new(
            t0,
            bridge,
            32_000,
            Some(Duration::from_secs(5)),
            [Some(reporting(0xa1, 1)), Some(reporting(0xb2, 2))],
        )
    }

    fn tone(n: usize, rate: u32, offset: usize) -> Vec<i16> {
        (0..n)
            .map(|i| {
                let t = (offset + i) as f64 / f64::from(rate);
                (8000.0 * (2.0 * std::f64::consts::PI * 1000.0 * t).sin()) as i16
            })
            .collect()
    }

    /// Drives 10 s of two-way audio; returns every transmit with its time.
    fn run(x: &mut Transcoder, t0: Instant) -> Vec<(Instant, Transmit)> {
        let mut pcma = new_encoder(CodecKind::Pcma, &OpusSettings::default()).unwrap();
        let mut opus = new_encoder(CodecKind::Opus, &OpusSettings::default()).unwrap();
        let mut sent = Vec::new();
        for i in 0..500u16 {
            let at = t0 + Duration::from_millis(20) * u32::from(i);
            while let Some(due) = x.poll_timeout().filter(|d| *d <= at) {
                x.handle_timeout(due);
                while let Some(t) = x.poll_transmit() {
                    sent.push((due, t));
                }
            }
            let mut payload = Vec::new();
            pcma.encode(&tone(160, 8000, usize::from(i) * 160), &mut payload)
                .unwrap();
            let p = RtpHeader::new(PayloadType(8), SeqNo(i), u32::from(i) * 160, Ssrc(7))
                .to_packet(&payload, 0)
                .unwrap();
            x.handle_packet(at, Leg::A, Port::Rtp, addr(PHONE_A), &p);
            let mut payload = Vec::new();
            opus.encode(&tone(960, 48_000, usize::from(i) * 960), &mut payload)
                .unwrap();
            let p = RtpHeader::new(PayloadType(96), SeqNo(i), u32::from(i) * 960, Ssrc(9))
                .to_packet(&payload, 0)
                .unwrap();
            x.handle_packet(at, Leg::B, Port::Rtp, addr(PHONE_B), &p);
            while let Some(t) = x.poll_transmit() {
                sent.push((at, t));
            }
        }
        sent
    }

    #[test]
    fn each_leg_gets_transcoded_audio_and_our_own_sender_reports() {
        let t0 = Instant::now();
        let mut x = transcoder(t0);
        let sent = run(&mut x, t0);
        for (leg, pt, ssrc, rtcp_to) in [
            (Leg::A, 8, 0xa1, "192.0.2.1:4001"),
            (Leg::B, 96, 0xb2, "192.0.2.2:5001"),
        ] {
            let rtp: Vec<_> = sent
                .iter()
                .filter(|(_, t)| t.leg == leg && t.port == Port::Rtp)
                .collect();
            assert!(rtp.len() > 400, "{leg:?}: {} RTP packets", rtp.len());
            let p = RtpPacket::parse(&rtp[10].1.bytes).unwrap();
            assert_eq!((p.payload_type().0, p.ssrc().0), (pt, ssrc));
            let srs: Vec<_> = sent
                .iter()
                .filter(|(_, t)| t.leg == leg && t.port == Port::Rtcp)
                .collect();
            assert!(srs.len() >= 2, "{leg:?}: {} RTCP packets", srs.len());
            for (_, t) in &srs {
                assert_eq!(t.destination, addr(rtcp_to));
                let Some(Ok(RtcpPacket::SenderReport(sr))) =
                    RtcpPacket::parse_compound(&t.bytes).next()
                else {
                    panic!("{leg:?}: our RTCP is not an SR while we send audio");
                };
                assert_eq!(sr.ssrc.0, ssrc);
                assert!(sr.packet_count > 0);
                assert_eq!(sr.reports.len(), 1, "a report block about the endpoint");
            }
        }
    }

    #[test]
    fn samples_carry_the_negotiated_codec_and_a_mos_once_rtt_is_known() {
        let t0 = Instant::now();
        let mut x = transcoder(t0);
        let sent = run(&mut x, t0);
        // Leg B's endpoint answers our first SR 30 ms later with DLSR 10 ms.
        let (at, sr) = sent
            .iter()
            .find(|(_, t)| t.leg == Leg::B && t.port == Port::Rtcp)
            .unwrap();
        let Some(Ok(RtcpPacket::SenderReport(sr))) = RtcpPacket::parse_compound(&sr.bytes).next()
        else {
            panic!("not an SR")
        };
        let rr = build_compound(&[RtcpPacket::ReceiverReport(ReceiverReport {
            ssrc: Ssrc(9),
            reports: vec![ReportBlock {
                ssrc: Ssrc(0xb2),
                fraction_lost: 0,
                cumulative_lost: 0,
                extended_highest_seq: 0,
                jitter: 0,
                last_sr: sr.ntp_time.short(),
                delay_since_last_sr: duration_to_short(Duration::from_millis(10)),
            }],
        })])
        .unwrap();
        let later = *at + Duration::from_millis(30);
        x.handle_packet(later, Leg::B, Port::Rtcp, addr("192.0.2.2:5001"), &rr);
        let rtt = x.monitor(Leg::B).rtt().unwrap();
        assert!(rtt.abs_diff(Duration::from_millis(20)) < Duration::from_micros(100));
        x.finish(t0 + Duration::from_secs(11));
        let samples: Vec<QualitySample> = std::iter::from_fn(|| x.poll_sample()).collect();
        let b_last = samples.iter().rfind(|s| s.leg == Leg::B).unwrap();
        assert!(b_last.last);
        assert_eq!(b_last.codec, Some(QualityCodec::Opus { bitrate: 32_000 }));
        assert!(b_last.mos.is_some_and(|m| m > 4.0), "{b_last:?}");
        let a_last = samples.iter().rfind(|s| s.leg == Leg::A).unwrap();
        assert_eq!(a_last.codec, Some(QualityCodec::Pcma));
        assert_eq!(a_last.loss_fraction, Some(0.0));
        // No answered SR on A: RTT and so MOS unknown.
        assert_eq!(a_last.mos, None);
    }

    #[test]
    fn recording_commands_are_refused_without_a_recording_policy() {
        let t0 = Instant::now();
        let mut x = transcoder(t0);
        assert!(!x.is_recording());
        assert_eq!(
            x.recording_command(RecordingCommand::Start),
            Err(CommandRefused::NotSupported)
        );
        assert_eq!(
            x.recording_command(RecordingCommand::Stop),
            Err(CommandRefused::NotSupported)
        );
    }

    #[test]
    fn a_foreign_source_reaches_neither_bridge_nor_monitor() {
        let t0 = Instant::now();
        let mut x = transcoder(t0);
        let _ = run(&mut x, t0);
        let received = x.monitor(Leg::A).source().unwrap().snapshot().packets;
        let p = RtpHeader::new(PayloadType(8), SeqNo(900), 0, Ssrc(66))
            .to_packet(&[0xd5; 160], 0)
            .unwrap();
        let at = t0 + Duration::from_secs(10);
        x.handle_packet(at, Leg::A, Port::Rtp, addr("198.51.100.7:9"), &p);
        assert_eq!(
            x.monitor(Leg::A).source().unwrap().snapshot().packets,
            received
        );
        assert_eq!(x.leg_stats(Leg::A).counters.rejected_foreign, 1);
        // Garbage is counted, never a panic.
        x.handle_packet(at, Leg::A, Port::Rtcp, addr("192.0.2.1:4001"), &[0x80, 200]);
        assert_eq!(x.leg_stats(Leg::A).counters.malformed, 1);
    }
}
