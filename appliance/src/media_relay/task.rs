//! The per-call task: owns the sockets and the sans-IO core and runs the
//! core's loop contract (feed packets and timeouts, drain transmits and
//! events, sleep until the next deadline).

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use tokio::net::UdpSocket;
use tokio::sync::{OwnedSemaphorePermit, mpsc, oneshot};
use voip_media::quality::QualitySample;
use voip_media::{Event, Leg, LegConfig, MediaDirection, Port, Relay, Transmit};

use super::bridge_task::Transcoder;
use super::echo::Echo;
use super::record_tap::{CommandRefused, RecordingCommand};
use super::{
    CallRef, IoCounters, LegStats, MAX_DATAGRAM, PortLease, RelayError, RelayEvent, RelayEventKind,
    RelayStats, ensure_rtcp, now,
};

/// Datagrams read from one socket per wake-up before the task looks at its
/// other sockets and commands again.
const RECV_BATCH: usize = 32;

/// Consecutive receive errors after which a socket is deemed broken.
const MAX_CONSECUTIVE_RECV_ERRORS: u32 = 64;

/// Commands from [`super::RelayHandle`].
#[derive(Debug)]
pub(crate) enum Command {
    SetRemote {
        leg: Leg,
        remote: LegConfig,
        reply: oneshot::Sender<Result<(), RelayError>>,
    },
    SetDirection {
        leg: Leg,
        direction: MediaDirection,
        reply: oneshot::Sender<Result<(), RelayError>>,
    },
    SendDtmf {
        to: Leg,
        event: voip_media::dtmf::DtmfEvent,
        duration_ms: u32,
        reply: oneshot::Sender<Result<(), RelayError>>,
    },
    Stats {
        reply: oneshot::Sender<RelayStats>,
    },
    Recording {
        command: RecordingCommand,
        reply: oneshot::Sender<Result<(), CommandRefused>>,
    },
    Stop {
        reply: oneshot::Sender<RelayStats>,
    },
}

/// One leg's sockets and port reservation.
#[derive(Debug)]
pub(crate) struct LegSockets {
    pub(crate) rtp: UdpSocket,
    pub(crate) rtcp: Option<UdpSocket>,
    // After the sockets: they close before the pair is released.
    pub(crate) lease: PortLease,
}

/// What the task needs of a sans-IO core ([`Relay`] or [`Echo`]).
pub(crate) trait Core: Send + 'static {
    fn handle_packet(&mut self, now: Instant, leg: Leg, port: Port, src: SocketAddr, b: &[u8]);
    fn handle_timeout(&mut self, now: Instant);
    fn poll_timeout(&self) -> Option<Instant>;
    fn poll_transmit(&mut self) -> Option<Transmit>;
    fn poll_event(&mut self) -> Option<Event>;
    fn set_direction(&mut self, now: Instant, leg: Leg, direction: MediaDirection);
    fn set_remote(&mut self, now: Instant, leg: Leg, remote: LegConfig);
    fn leg_stats(&self, leg: Leg) -> LegStats;
    fn poll_sample(&mut self) -> Option<QualitySample>;
    fn finish(&mut self, now: Instant);
    /// Sends a digit to `to` as RFC 4733 events (only a transcoding core
    /// terminates RTP and can inject; the others refuse).
    fn send_dtmf(
        &mut self,
        _to: Leg,
        _event: voip_media::dtmf::DtmfEvent,
        _duration_ms: u32,
    ) -> Result<(), RelayError> {
        Err(RelayError::NotTranscoding)
    }
    /// A recording command; only a relay with recording takes it.
    fn recording(
        &mut self,
        _now: Instant,
        _command: RecordingCommand,
    ) -> Result<(), CommandRefused> {
        Err(CommandRefused::NotSupported)
    }
}

impl Core for Transcoder {
    fn handle_packet(&mut self, now: Instant, leg: Leg, port: Port, src: SocketAddr, b: &[u8]) {
        Transcoder::handle_packet(self, now, leg, port, src, b);
    }
    fn handle_timeout(&mut self, now: Instant) {
        Transcoder::handle_timeout(self, now);
    }
    fn poll_timeout(&self) -> Option<Instant> {
        Transcoder::poll_timeout(self)
    }
    fn poll_transmit(&mut self) -> Option<Transmit> {
        Transcoder::poll_transmit(self)
    }
    fn poll_event(&mut self) -> Option<Event> {
        Transcoder::poll_event(self)
    }
    fn set_direction(&mut self, now: Instant, leg: Leg, direction: MediaDirection) {
        Transcoder::set_direction(self, now, leg, direction);
    }
    fn set_remote(&mut self, now: Instant, leg: Leg, remote: LegConfig) {
        Transcoder::set_remote(self, now, leg, remote);
    }
    fn leg_stats(&self, leg: Leg) -> LegStats {
        Transcoder::leg_stats(self, leg)
    }
    fn poll_sample(&mut self) -> Option<QualitySample> {
        Transcoder::poll_sample(self)
    }
    fn finish(&mut self, now: Instant) {
        Transcoder::finish(self, now);
    }
    fn send_dtmf(
        &mut self,
        to: Leg,
        event: voip_media::dtmf::DtmfEvent,
        duration_ms: u32,
    ) -> Result<(), RelayError> {
        Transcoder::send_dtmf(self, to, event, duration_ms)
            .map_err(|_| RelayError::NoTelephoneEvent { leg: to })
    }
    fn recording(
        &mut self,
        _now: Instant,
        command: RecordingCommand,
    ) -> Result<(), CommandRefused> {
        self.recording_command(command)
    }
}

impl Core for Relay {
    fn handle_packet(&mut self, now: Instant, leg: Leg, port: Port, src: SocketAddr, b: &[u8]) {
        Relay::handle_packet(self, now, leg, port, src, b);
    }
    fn handle_timeout(&mut self, now: Instant) {
        Relay::handle_timeout(self, now);
    }
    fn poll_timeout(&self) -> Option<Instant> {
        Relay::poll_timeout(self)
    }
    fn poll_transmit(&mut self) -> Option<Transmit> {
        Relay::poll_transmit(self)
    }
    fn poll_event(&mut self) -> Option<Event> {
        Relay::poll_event(self)
    }
    fn set_direction(&mut self, now: Instant, leg: Leg, direction: MediaDirection) {
        Relay::set_direction(self, now, leg, direction);
    }
    fn set_remote(&mut self, now: Instant, leg: Leg, remote: LegConfig) {
        Relay::set_remote(self, now, leg, remote);
    }
    fn leg_stats(&self, leg: Leg) -> LegStats {
        LegStats {
            counters: self.counters(leg),
            latched_rtp: self.latched(leg, Port::Rtp),
            latched_rtcp: self.latched(leg, Port::Rtcp),
            direction: self.direction(leg),
            rtt: self.rtt(leg),
            sources: self
                .sources(leg)
                .map(voip_media::ReceiverStats::snapshot)
                .collect(),
            report_blocks: self.last_report_blocks(leg).to_vec(),
            voip_metrics: self.last_voip_metrics(leg).copied(),
        }
    }
    fn poll_sample(&mut self) -> Option<QualitySample> {
        Relay::poll_sample(self)
    }
    fn finish(&mut self, now: Instant) {
        Relay::finish(self, now);
    }
}

impl Core for Echo {
    fn handle_packet(&mut self, now: Instant, _leg: Leg, port: Port, src: SocketAddr, b: &[u8]) {
        Echo::handle_packet(self, now, port, src, b);
    }
    fn handle_timeout(&mut self, now: Instant) {
        Echo::handle_timeout(self, now);
    }
    fn poll_timeout(&self) -> Option<Instant> {
        Echo::poll_timeout(self)
    }
    fn poll_transmit(&mut self) -> Option<Transmit> {
        Echo::poll_transmit(self)
    }
    fn poll_event(&mut self) -> Option<Event> {
        Echo::poll_event(self)
    }
    fn set_direction(&mut self, now: Instant, _leg: Leg, direction: MediaDirection) {
        Echo::set_direction(self, now, direction);
    }
    fn set_remote(&mut self, now: Instant, _leg: Leg, remote: LegConfig) {
        Echo::set_remote(self, now, remote);
    }
    fn leg_stats(&self, _leg: Leg) -> LegStats {
        LegStats {
            counters: self.counters(),
            latched_rtp: self.latched(),
            latched_rtcp: None,
            direction: self.direction(),
            rtt: self.rtt(),
            sources: self
                .monitor()
                .source()
                .map(voip_media::ReceiverStats::snapshot)
                .into_iter()
                .collect(),
            report_blocks: self.monitor().last_report_blocks().to_vec(),
            voip_metrics: self.monitor().voip_metrics().copied(),
        }
    }
    fn poll_sample(&mut self) -> Option<QualitySample> {
        Echo::poll_sample(self)
    }
    fn finish(&mut self, now: Instant) {
        Echo::finish(self, now);
    }
}

fn leg_index(leg: Leg) -> usize {
    match leg {
        Leg::A => 0,
        Leg::B => 1,
    }
}

/// What woke the task.
enum Wake {
    Command(Option<Command>),
    Timer,
    Readable(Leg, Port, io::Result<()>),
    /// A pending event went out (or the channel closed).
    EventSent,
}

enum Exit {
    Stop(oneshot::Sender<RelayStats>),
    HandleDropped,
    Failed {
        leg: Leg,
        port: Port,
        error: io::ErrorKind,
    },
}

async fn readable(socket: Option<&UdpSocket>) -> io::Result<()> {
    match socket {
        Some(s) => s.readable().await,
        None => std::future::pending().await,
    }
}

/// The task's state.
#[derive(Debug)]
pub(crate) struct Task<C> {
    pub(crate) call: CallRef,
    pub(crate) core: C,
    pub(crate) legs: Vec<LegSockets>,
    pub(crate) commands: mpsc::Receiver<Command>,
    pub(crate) events: mpsc::Sender<RelayEvent>,
    pub(crate) pending_capacity: usize,
    // Dropped when the task ends: frees the relay slot.
    pub(crate) _permit: OwnedSemaphorePermit,
}

/// Mutable loop state besides the core.
struct Io {
    counters: IoCounters,
    pending: VecDeque<RelayEvent>,
    consecutive_recv_errors: u32,
}

fn socket(legs: &[LegSockets], leg: Leg, port: Port) -> Option<&UdpSocket> {
    let sockets = legs.get(leg_index(leg))?;
    match port {
        Port::Rtp => Some(&sockets.rtp),
        Port::Rtcp => sockets.rtcp.as_ref(),
    }
}

impl<C: Core> Task<C> {
    fn stats(&self, io: &Io) -> RelayStats {
        RelayStats {
            a: self.core.leg_stats(Leg::A),
            b: (self.legs.len() > 1).then(|| self.core.leg_stats(Leg::B)),
            io: io.counters,
        }
    }

    /// Sends everything the core wants sent. Never waits: a full send
    /// buffer drops the packet.
    fn flush_transmits(&mut self, io: &mut Io) {
        while let Some(t) = self.core.poll_transmit() {
            let Some(socket) = socket(&self.legs, t.leg, t.port) else {
                // The core only targets sockets the leg has (rtcp: None
                // means muxed, so RTCP goes out of the RTP socket).
                io.counters.send_errors += 1;
                continue;
            };
            match socket.try_send_to(&t.bytes, t.destination) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => io.counters.send_dropped += 1,
                Err(e) => {
                    io.counters.send_errors += 1;
                    tracing::debug!(call = %self.call, error = %e, "media send failed");
                }
            }
        }
    }

    /// Moves the core's events to the channel, or to the bounded pending
    /// queue when the channel is full.
    fn flush_events(&mut self, io: &mut Io) {
        while let Some(sample) = self.core.poll_sample() {
            self.queue_event(io, RelayEventKind::Quality(Box::new(sample)));
        }
        while let Some(event) = self.core.poll_event() {
            let kind = match event {
                Event::Latched { leg, port, source } => {
                    tracing::debug!(call = %self.call, ?leg, ?port, "media latched");
                    RelayEventKind::Latched { leg, port, source }
                }
                Event::MediaTimeout { leg } => {
                    tracing::debug!(call = %self.call, ?leg, "media timeout");
                    RelayEventKind::MediaTimeout { leg }
                }
            };
            self.queue_event(io, kind);
        }
    }

    /// Sends an event now, or keeps it in the bounded pending queue.
    fn queue_event(&mut self, io: &mut Io, kind: RelayEventKind) {
        let event = RelayEvent {
            call: self.call,
            kind,
        };
        if io.pending.is_empty() {
            match self.events.try_send(event) {
                Ok(()) => return,
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    io.counters.events_dropped += 1;
                    return;
                }
                Err(mpsc::error::TrySendError::Full(e)) => {
                    io.pending.push_back(e);
                    return;
                }
            }
        }
        if io.pending.len() < self.pending_capacity {
            io.pending.push_back(event);
        } else {
            io.counters.events_dropped += 1;
        }
    }

    /// Reads up to [`RECV_BATCH`] datagrams from one socket.
    fn receive(&mut self, leg: Leg, port: Port, buf: &mut [u8], io: &mut Io) -> Option<Exit> {
        for _ in 0..RECV_BATCH {
            match socket(&self.legs, leg, port)?.try_recv_from(buf) {
                Ok((n, source)) => {
                    io.consecutive_recv_errors = 0;
                    self.core.handle_packet(now(), leg, port, source, &buf[..n]);
                    self.flush_transmits(io);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
                Err(e) => {
                    io.counters.recv_errors += 1;
                    io.consecutive_recv_errors += 1;
                    tracing::debug!(call = %self.call, error = %e, "media receive failed");
                    if io.consecutive_recv_errors >= MAX_CONSECUTIVE_RECV_ERRORS {
                        return Some(Exit::Failed {
                            leg,
                            port,
                            error: e.kind(),
                        });
                    }
                }
            }
        }
        None
    }

    fn command(&mut self, command: Command, io: &Io) -> Option<Exit> {
        let has_leg = |legs: &Vec<LegSockets>, leg| {
            if leg_index(leg) < legs.len() {
                Ok(())
            } else {
                Err(RelayError::NoSuchLeg { leg })
            }
        };
        match command {
            Command::SetRemote { leg, remote, reply } => {
                let result = has_leg(&self.legs, leg).and_then(|()| {
                    ensure_rtcp(&mut self.legs[leg_index(leg)], &remote)?;
                    self.core.set_remote(now(), leg, remote);
                    Ok(())
                });
                let _ = reply.send(result);
            }
            Command::SetDirection {
                leg,
                direction,
                reply,
            } => {
                let result = has_leg(&self.legs, leg).map(|()| {
                    self.core.set_direction(now(), leg, direction);
                });
                let _ = reply.send(result);
            }
            Command::SendDtmf {
                to,
                event,
                duration_ms,
                reply,
            } => {
                let result = has_leg(&self.legs, to)
                    .and_then(|()| self.core.send_dtmf(to, event, duration_ms));
                let _ = reply.send(result);
            }
            Command::Stats { reply } => {
                let _ = reply.send(self.stats(io));
            }
            Command::Recording { command, reply } => {
                let _ = reply.send(self.core.recording(now(), command));
            }
            Command::Stop { reply } => return Some(Exit::Stop(reply)),
        }
        None
    }

    /// Runs until stopped, the handle is dropped, or a socket fails.
    pub(crate) async fn run(mut self) {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let mut io = Io {
            counters: IoCounters::default(),
            pending: VecDeque::new(),
            consecutive_recv_errors: 0,
        };
        let sleep = tokio::time::sleep_until(tokio::time::Instant::now());
        tokio::pin!(sleep);
        // The instant the sleep is set to; `None`: no deadline. The sleep is
        // only moved earlier: a later deadline (the usual case, as every
        // packet pushes the media timeout back) is met by waking at the old
        // one, where `handle_timeout` finds nothing due and the timer is
        // re-armed. That saves a timer update per packet.
        let mut armed: Option<Instant> = None;
        let exit = loop {
            self.flush_transmits(&mut io);
            self.flush_events(&mut io);
            match (self.core.poll_timeout(), armed) {
                (None, _) => armed = None,
                (Some(deadline), Some(current)) if current <= deadline => {}
                (Some(deadline), _) => {
                    sleep
                        .as_mut()
                        .reset(tokio::time::Instant::from_std(deadline));
                    armed = Some(deadline);
                }
            }
            let wake = {
                let media_a = socket(&self.legs, Leg::A, Port::Rtp);
                let control_a = socket(&self.legs, Leg::A, Port::Rtcp);
                let media_b = socket(&self.legs, Leg::B, Port::Rtp);
                let control_b = socket(&self.legs, Leg::B, Port::Rtcp);
                tokio::select! {
                    biased;
                    c = self.commands.recv() => Wake::Command(c),
                    () = &mut sleep, if armed.is_some() => Wake::Timer,
                    r = readable(media_a) => Wake::Readable(Leg::A, Port::Rtp, r),
                    r = readable(media_b) => Wake::Readable(Leg::B, Port::Rtp, r),
                    r = readable(control_a) => Wake::Readable(Leg::A, Port::Rtcp, r),
                    r = readable(control_b) => Wake::Readable(Leg::B, Port::Rtcp, r),
                    p = self.events.reserve(), if !io.pending.is_empty() => {
                        if let Ok(permit) = p {
                            if let Some(e) = io.pending.pop_front() {
                                permit.send(e);
                            }
                        } else {
                            // The call layer's receiver is gone.
                            io.counters.events_dropped += io.pending.len() as u64;
                            io.pending.clear();
                        }
                        Wake::EventSent
                    }
                }
            };
            match wake {
                Wake::Command(None) => break Exit::HandleDropped,
                Wake::Command(Some(c)) => {
                    if let Some(exit) = self.command(c, &io) {
                        break exit;
                    }
                }
                Wake::Timer => {
                    armed = None;
                    self.core.handle_timeout(now());
                }
                Wake::Readable(leg, port, Err(e)) => {
                    break Exit::Failed {
                        leg,
                        port,
                        error: e.kind(),
                    };
                }
                Wake::Readable(leg, port, Ok(())) => {
                    if let Some(exit) = self.receive(leg, port, &mut buf, &mut io) {
                        break exit;
                    }
                }
                Wake::EventSent => {}
            }
        };
        self.finish(exit, io).await;
    }

    async fn finish(mut self, exit: Exit, mut io: Io) {
        // Each leg's last quality sample, and the events produced by the
        // last wake-up, still go out.
        self.core.finish(now());
        self.flush_events(&mut io);
        let stats = self.stats(&io);
        // Close the sockets and release the ports before answering, so a
        // caller of `stop` finds the ports in quarantine.
        self.legs.clear();
        let call = self.call;
        match exit {
            Exit::Stop(reply) => {
                tracing::debug!(%call, "media relay stopped");
                let _ = reply.send(stats);
            }
            Exit::HandleDropped => tracing::debug!(%call, "media relay handle dropped"),
            Exit::Failed { leg, port, error } => {
                tracing::warn!(%call, ?leg, ?port, ?error, "media socket failed, relay stopped");
                io.pending.push_back(RelayEvent {
                    call,
                    kind: RelayEventKind::Failed { leg, port, error },
                });
            }
        }
        // Remaining events are delivered with back-pressure: this task holds
        // no sockets or ports any more, only the events themselves.
        for event in io.pending.drain(..) {
            if self.events.send(event).await.is_err() {
                break;
            }
        }
    }
}
