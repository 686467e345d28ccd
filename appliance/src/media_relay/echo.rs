//! Sans-IO echo for the echo-test extension: every RTP packet from the
//! latched source goes straight back to it from the port it came in on.
//!
//! A relay with both legs pointing at the same phone would work only with
//! two extra local sockets and would send the echo from a port the SDP never
//! announced; this single-leg core is simpler and cheaper.
//!
//! - Latching follows the relay's policy ([`LatchConfig`]): the first packet
//!   within the latch window (or any packet from the signalled address)
//!   latches; other sources are then dropped and counted as
//!   [`LegCounters::rejected_foreign`]. Re-latching after silence is honoured.
//! - The echoed packet is byte for byte the received one except the SSRC,
//!   which is replaced by [`EchoConfig::ssrc`] when set: a phone that sees its
//!   own SSRC coming back may take it for an SSRC collision (RFC 3550 §8.2)
//!   and pick a new one.
//! - RTCP is accepted and counted but not echoed (an echoed SR would carry the
//!   phone's own SSRC and NTP time). The echo terminates RTP, so it reports
//!   itself: a [`LegMonitor`] measures the phone's stream and, with
//!   [`Echo::with_reporting`], sends our own SR/RR + SDES CNAME (RFC 3550) to
//!   the phone's RTCP address. The phone's report blocks answering our SRs
//!   give the RTT. Destination of our RTCP: the source the phone's RTCP came
//!   from, else the latched RTP source (port + 1 unless rtcp-mux), else the
//!   signalled RTCP address.
//! - Media timeout and hold behave as in the relay, on [`Leg::A`].

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use voip_media::quality::{LegMonitor, MonitorConfig, QualitySample, Reporting};
use voip_media::{
    Event, LatchConfig, Leg, LegConfig, LegCounters, MediaDirection, PacketKind, Port, RtcpPacket,
    RtpPacket, Ssrc, Transmit, classify,
};

/// SSRC the echo sends with by default (ASCII "ECHO").
pub const ECHO_SSRC: Ssrc = Ssrc(0x4543_484f);

/// Echo configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EchoConfig {
    /// Latching policy.
    pub latch: LatchConfig,
    /// Silence after which [`Event::MediaTimeout`] fires.
    pub media_timeout: Duration,
    /// SSRC written into echoed packets; `None` leaves them unchanged.
    pub ssrc: Option<Ssrc>,
    /// Period of quality samples; `None`: only the last one at
    /// [`Echo::finish`].
    pub quality_interval: Option<Duration>,
}

impl Default for EchoConfig {
    fn default() -> Self {
        EchoConfig {
            latch: LatchConfig::default(),
            media_timeout: Duration::from_secs(30),
            ssrc: Some(ECHO_SSRC),
            quality_interval: None,
        }
    }
}

/// The echo core. Same run-loop contract as [`voip_media::Relay`].
#[derive(Debug)]
pub struct Echo {
    config: EchoConfig,
    remote: LegConfig,
    latched: Option<(SocketAddr, Instant)>,
    packets_seen: u32,
    window_start: Instant,
    direction: MediaDirection,
    silence_since: Instant,
    timed_out: bool,
    counters: LegCounters,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    monitor: LegMonitor,
    /// Where the phone's RTCP came from (accepted from the latched IP only).
    rtcp_source: Option<SocketAddr>,
}

impl Echo {
    /// An echo started at `now` for a phone that signalled `remote`.
    pub fn new(now: Instant, config: EchoConfig, remote: LegConfig) -> Self {
        Echo::with_reporting(now, config, remote, None)
    }

    /// An echo that also sends its own RTCP reports (see the module
    /// documentation); `reporting.ssrc` should equal [`EchoConfig::ssrc`].
    pub fn with_reporting(
        now: Instant,
        config: EchoConfig,
        remote: LegConfig,
        reporting: Option<Reporting>,
    ) -> Self {
        let monitor = LegMonitor::new(
            now,
            MonitorConfig {
                sample_interval: config.quality_interval,
                reporting,
                ..MonitorConfig::relay(Leg::A)
            },
        );
        Echo {
            monitor,
            rtcp_source: None,
            config,
            remote,
            latched: None,
            packets_seen: 0,
            window_start: now,
            direction: MediaDirection::SendRecv,
            silence_since: now,
            timed_out: false,
            counters: LegCounters::default(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// Handles one datagram received on local `port` from `source`.
    pub fn handle_packet(&mut self, now: Instant, port: Port, source: SocketAddr, bytes: &[u8]) {
        let muxed = self.remote.rtcp.is_none();
        match (classify(bytes), port) {
            (PacketKind::Rtp, Port::Rtp) => {}
            (PacketKind::Rtcp, Port::Rtcp) => {
                self.handle_rtcp(now, source, bytes);
                return;
            }
            (PacketKind::Rtcp, Port::Rtp) if muxed => {
                self.handle_rtcp(now, source, bytes);
                return;
            }
            _ => {
                self.counters.malformed += 1;
                return;
            }
        }
        let Ok(packet) = RtpPacket::parse(bytes) else {
            self.counters.malformed += 1;
            return;
        };
        if !self.admit(now, source) {
            self.counters.rejected_foreign += 1;
            return;
        }
        self.counters.packets_in += 1;
        self.counters.bytes_in += bytes.len() as u64;
        self.silence_since = now;
        self.timed_out = false;
        self.monitor.handle_rtp(now, &packet);
        self.monitor
            .handle_rtp_sent(now, packet.timestamp(), packet.payload().len());
        let mut out = bytes.to_vec();
        if let Some(ssrc) = self.config.ssrc {
            // A parsed RTP packet has at least the 12-byte fixed header.
            out[8..12].copy_from_slice(&ssrc.0.to_be_bytes());
        }
        self.counters.packets_out += 1;
        self.counters.bytes_out += out.len() as u64;
        self.transmits.push_back(Transmit {
            leg: Leg::A,
            port: Port::Rtp,
            destination: source,
            bytes: out,
        });
    }

    fn handle_rtcp(&mut self, now: Instant, source: SocketAddr, bytes: &[u8]) {
        let packets: Result<Vec<RtcpPacket<'_>>, _> = RtcpPacket::parse_compound(bytes).collect();
        let Ok(packets) = packets else {
            self.counters.malformed += 1;
            return;
        };
        // Only the latched phone's address may report (its RTCP port may
        // differ from RTP + 1 behind NAT).
        if self.latched().is_none_or(|l| l.ip() != source.ip()) {
            self.counters.rejected_foreign += 1;
            return;
        }
        self.counters.packets_in += 1;
        self.counters.bytes_in += bytes.len() as u64;
        self.rtcp_source = Some(source);
        self.monitor.handle_rtcp(now, &packets);
    }

    /// Where our RTCP goes (see the module documentation).
    fn rtcp_destination(&self) -> (Port, SocketAddr) {
        let muxed = self.remote.rtcp.is_none();
        let port = if muxed { Port::Rtp } else { Port::Rtcp };
        if let Some(source) = self.rtcp_source {
            return (port, source);
        }
        if let Some(rtp) = self.latched() {
            if muxed {
                return (port, rtp);
            }
            if let Some(p) = rtp.port().checked_add(1) {
                return (port, SocketAddr::new(rtp.ip(), p));
            }
        }
        (port, self.remote.rtcp.unwrap_or(self.remote.rtp))
    }

    fn admit(&mut self, now: Instant, source: SocketAddr) -> bool {
        let cfg = self.config.latch;
        let signalled = self.remote.rtp;
        let same_family = source.is_ipv4() == signalled.is_ipv4();
        match &mut self.latched {
            Some((s, last_seen)) if *s == source => {
                *last_seen = now;
                return true;
            }
            Some((_, last_seen)) => {
                let silent_long_enough = cfg
                    .relatch_after_silence
                    .is_some_and(|d| now.saturating_duration_since(*last_seen) >= d);
                if !(same_family && silent_long_enough) {
                    return false;
                }
            }
            None => {
                self.packets_seen = self.packets_seen.saturating_add(1);
                let in_window = now.saturating_duration_since(self.window_start) < cfg.window;
                let allowed = same_family
                    && ((in_window && self.packets_seen <= cfg.max_packets) || source == signalled);
                if !allowed {
                    return false;
                }
            }
        }
        self.latched = Some((source, now));
        self.events.push_back(Event::Latched {
            leg: Leg::A,
            port: Port::Rtp,
            source,
        });
        true
    }

    /// The next instant at which [`Echo::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let media = (self.direction == MediaDirection::SendRecv && !self.timed_out)
            .then(|| self.silence_since + self.config.media_timeout);
        match (media, self.monitor.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Emits [`Event::MediaTimeout`] once the silence lasted long enough;
    /// sends due RTCP reports and queues due quality samples.
    pub fn handle_timeout(&mut self, now: Instant) {
        let media_due = (self.direction == MediaDirection::SendRecv && !self.timed_out)
            .then(|| self.silence_since + self.config.media_timeout)
            .is_some_and(|d| d <= now);
        if media_due {
            self.timed_out = true;
            self.events.push_back(Event::MediaTimeout { leg: Leg::A });
        }
        self.monitor.handle_timeout(now);
        while let Some(bytes) = self.monitor.poll_rtcp() {
            let (port, destination) = self.rtcp_destination();
            self.counters.packets_out += 1;
            self.counters.bytes_out += bytes.len() as u64;
            self.transmits.push_back(Transmit {
                leg: Leg::A,
                port,
                destination,
                bytes,
            });
        }
    }

    /// Next quality sample.
    pub fn poll_sample(&mut self) -> Option<QualitySample> {
        self.monitor.poll_sample()
    }

    /// The call ended: queues the last quality sample.
    pub fn finish(&mut self, now: Instant) {
        self.monitor.finish(now);
    }

    /// Latest RTT to the phone (our SR answered by its report block).
    pub fn rtt(&self) -> Option<Duration> {
        self.monitor.rtt()
    }

    /// The quality monitor (statistics of the phone's stream).
    pub fn monitor(&self) -> &LegMonitor {
        &self.monitor
    }

    /// Next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// Next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Hold/resume; back to `SendRecv` restarts the media timer from `now`.
    pub fn set_direction(&mut self, now: Instant, direction: MediaDirection) {
        if direction == MediaDirection::SendRecv && self.direction != MediaDirection::SendRecv {
            self.silence_since = now;
            self.timed_out = false;
        }
        self.direction = direction;
    }

    /// New signalled address: drops the latch, reopens the window, restarts
    /// the media timer.
    pub fn set_remote(&mut self, now: Instant, remote: LegConfig) {
        self.remote = remote;
        self.latched = None;
        self.packets_seen = 0;
        self.window_start = now;
        self.silence_since = now;
        self.timed_out = false;
    }

    /// Counters.
    pub fn counters(&self) -> LegCounters {
        self.counters
    }

    /// The latched source, if any.
    pub fn latched(&self) -> Option<SocketAddr> {
        self.latched.map(|(s, _)| s)
    }

    /// Current direction.
    pub fn direction(&self) -> MediaDirection {
        self.direction
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use voip_media::{PayloadType, RtpHeader, SeqNo};

    fn rtp(seq: u16, ssrc: u32) -> Vec<u8> {
        RtpHeader::new(
            PayloadType::PCMU,
            SeqNo(seq),
            u32::from(seq) * 160,
            Ssrc(ssrc),
        )
        .to_packet(&[0x55; 160], 0)
        .unwrap()
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn rtp_goes_back_to_its_source_with_the_echo_ssrc() {
        let t0 = Instant::now();
        let phone = addr("192.0.2.1:4000");
        let mut echo = Echo::new(
            t0,
            EchoConfig::default(),
            LegConfig::with_rtcp_port_plus_one(phone),
        );
        let p = rtp(7, 1234);
        echo.handle_packet(t0, Port::Rtp, phone, &p);
        let t = echo.poll_transmit().unwrap();
        assert_eq!((t.leg, t.port, t.destination), (Leg::A, Port::Rtp, phone));
        assert_eq!(t.bytes[..8], p[..8]);
        assert_eq!(t.bytes[8..12], ECHO_SSRC.0.to_be_bytes());
        assert_eq!(t.bytes[12..], p[12..]);
        assert_eq!(
            echo.poll_event(),
            Some(Event::Latched {
                leg: Leg::A,
                port: Port::Rtp,
                source: phone
            })
        );
    }

    #[test]
    fn without_an_echo_ssrc_packets_come_back_unchanged() {
        let t0 = Instant::now();
        let phone = addr("192.0.2.1:4000");
        let config = EchoConfig {
            ssrc: None,
            ..EchoConfig::default()
        };
        let mut echo = Echo::new(t0, config, LegConfig::muxed(phone));
        let p = rtp(1, 99);
        echo.handle_packet(t0, Port::Rtp, phone, &p);
        assert_eq!(echo.poll_transmit().unwrap().bytes, p);
    }

    #[test]
    fn foreign_sources_after_latching_get_no_echo() {
        let t0 = Instant::now();
        let phone = addr("192.0.2.1:4000");
        let mut echo = Echo::new(t0, EchoConfig::default(), LegConfig::muxed(phone));
        echo.handle_packet(t0, Port::Rtp, phone, &rtp(1, 1));
        assert!(echo.poll_transmit().is_some());
        echo.handle_packet(t0, Port::Rtp, addr("198.51.100.9:5000"), &rtp(2, 2));
        assert_eq!(echo.poll_transmit(), None);
        assert_eq!(echo.counters().rejected_foreign, 1);
    }

    #[test]
    fn media_timeout_fires_once_and_is_suspended_on_hold() {
        let t0 = Instant::now();
        let timeout = Duration::from_secs(10);
        let config = EchoConfig {
            media_timeout: timeout,
            ..EchoConfig::default()
        };
        let mut echo = Echo::new(t0, config, LegConfig::muxed(addr("192.0.2.1:4000")));
        assert_eq!(echo.poll_timeout(), Some(t0 + timeout));
        echo.handle_timeout(t0 + timeout);
        assert_eq!(echo.poll_event(), Some(Event::MediaTimeout { leg: Leg::A }));
        echo.handle_timeout(t0 + 2 * timeout);
        assert_eq!(echo.poll_event(), None);

        echo.set_direction(t0, MediaDirection::Inactive);
        echo.set_direction(t0 + 3 * timeout, MediaDirection::SendRecv);
        assert_eq!(echo.poll_timeout(), Some(t0 + 4 * timeout));
        echo.set_direction(t0 + 3 * timeout, MediaDirection::RecvOnly);
        assert_eq!(echo.poll_timeout(), None);
    }

    #[test]
    fn rtcp_is_counted_but_not_echoed() {
        let t0 = Instant::now();
        let phone = addr("192.0.2.1:4000");
        let mut echo = Echo::new(
            t0,
            EchoConfig::default(),
            LegConfig::with_rtcp_port_plus_one(phone),
        );
        // Minimal RR: V=2, PT=201, length 1, SSRC.
        let rr = [0x80, 201, 0, 1, 0, 0, 0, 1];
        // Before anything latched, nobody may report.
        echo.handle_packet(t0, Port::Rtcp, addr("192.0.2.1:4001"), &rr);
        assert_eq!(echo.counters().rejected_foreign, 1);
        echo.handle_packet(t0, Port::Rtp, phone, &rtp(1, 1));
        assert!(echo.poll_transmit().is_some());
        echo.handle_packet(t0, Port::Rtcp, addr("192.0.2.1:4001"), &rr);
        assert_eq!(echo.poll_transmit(), None);
        assert_eq!(echo.counters().packets_in, 2);
        echo.handle_packet(t0, Port::Rtcp, phone, &rtp(1, 1));
        assert_eq!(echo.counters().malformed, 1);
    }

    #[test]
    fn reporting_echo_sends_sr_to_the_phones_rtcp_source_and_measures_rtt() {
        use voip_media::ntp::duration_to_short;
        use voip_media::rtcp::{ReceiverReport, ReportBlock, build_compound};
        use voip_media::{NtpClock, NtpTime};

        let t0 = Instant::now();
        let phone = addr("192.0.2.1:4000");
        let config = EchoConfig {
            quality_interval: Some(Duration::from_secs(5)),
            ..EchoConfig::default()
        };
        let reporting = Reporting {
            ssrc: ECHO_SSRC,
            cname: "echo@test".into(),
            ntp: NtpClock::new(t0, NtpTime(0xe000_0000_0000_0000)),
            seed: 3,
        };
        let mut echo = Echo::with_reporting(
            t0,
            config,
            LegConfig::with_rtcp_port_plus_one(phone),
            Some(reporting),
        );
        let mut sr = None;
        let mut check = |echo: &mut Echo, sent: Instant| {
            while let Some(t) = echo.poll_transmit() {
                if t.port == Port::Rtcp && sr.is_none() {
                    // Before the phone sent RTCP: the latched source, port + 1.
                    assert_eq!(t.destination, addr("192.0.2.1:4001"));
                    let Some(Ok(RtcpPacket::SenderReport(report))) =
                        RtcpPacket::parse_compound(&t.bytes).next()
                    else {
                        panic!("not an SR first")
                    };
                    assert_eq!(report.ssrc, ECHO_SSRC);
                    sr = Some((sent, report.ntp_time));
                }
            }
        };
        for i in 0..300u16 {
            let at = t0 + Duration::from_millis(20) * u32::from(i);
            while let Some(due) = echo.poll_timeout().filter(|d| *d <= at) {
                echo.handle_timeout(due);
                check(&mut echo, due);
            }
            echo.handle_packet(at, Port::Rtp, phone, &rtp(i, 1));
            check(&mut echo, at);
        }
        let (sent_at, ntp) = sr.expect("an SR within 6 s");
        // The phone answers from another port (NAT) after 100 ms + 70 ms RTT.
        let answer = build_compound(&[RtcpPacket::ReceiverReport(ReceiverReport {
            ssrc: Ssrc(1),
            reports: vec![ReportBlock {
                ssrc: ECHO_SSRC,
                fraction_lost: 0,
                cumulative_lost: 0,
                extended_highest_seq: 0,
                jitter: 0,
                last_sr: ntp.short(),
                delay_since_last_sr: duration_to_short(Duration::from_millis(100)),
            }],
        })])
        .unwrap();
        let nat = addr("192.0.2.1:4999");
        echo.handle_packet(
            sent_at + Duration::from_millis(170),
            Port::Rtcp,
            nat,
            &answer,
        );
        let rtt = echo.rtt().unwrap();
        assert!(rtt.abs_diff(Duration::from_millis(70)) < Duration::from_micros(100));
        // Later reports go where the phone's RTCP came from.
        let later = t0 + Duration::from_secs(20);
        while let Some(due) = echo.poll_timeout().filter(|d| *d <= later) {
            echo.handle_timeout(due);
        }
        let rtcp: Vec<Transmit> = std::iter::from_fn(|| echo.poll_transmit()).collect();
        assert!(!rtcp.is_empty() && rtcp.iter().all(|t| t.destination == nat));
        echo.finish(later);
        let samples: Vec<QualitySample> = std::iter::from_fn(|| echo.poll_sample()).collect();
        let last = samples.last().unwrap();
        assert!(last.last);
        let first = &samples[0];
        assert_eq!(first.loss_fraction, Some(0.0));
        assert!(
            samples
                .iter()
                .any(|s| s.rtt_ms.is_some() && s.mos.is_some())
        );
    }
}
