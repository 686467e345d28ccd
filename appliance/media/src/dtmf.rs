//! DTMF: RFC 4733 telephone-event payloads, their translation between call
//! legs with different payload types and clock rates, SIP INFO
//! `application/dtmf-relay` bodies, and an RFC 4733 packet source for digits
//! that arrive by SIP INFO.
//!
//! RTP headers are not built here: the bridge owns SSRC, sequence numbers and
//! the outgoing timestamp line, and asks these types what to put in them.

use std::collections::VecDeque;
use std::fmt;

/// Length of one RFC 4733 event payload.
pub const EVENT_LEN: usize = 4;

/// An RFC 4733 event code (0–9 digits, 10 `*`, 11 `#`, 12–15 A–D, 16 flash).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DtmfEvent(pub u8);

impl DtmfEvent {
    /// Hook flash.
    pub const FLASH: DtmfEvent = DtmfEvent(16);

    /// The event for a keypad character (`0-9`, `*`, `#`, `A-D`, case-insensitive).
    pub fn from_digit(c: char) -> Option<Self> {
        let code = match c {
            '0'..='9' => c as u8 - b'0',
            '*' => 10,
            '#' => 11,
            'A'..='D' => c as u8 - b'A' + 12,
            'a'..='d' => c as u8 - b'a' + 12,
            _ => return None,
        };
        Some(Self(code))
    }

    /// The keypad character, for events 0–15.
    pub fn digit(self) -> Option<char> {
        match self.0 {
            0..=9 => Some(char::from(b'0' + self.0)),
            10 => Some('*'),
            11 => Some('#'),
            12..=15 => Some(char::from(b'A' + self.0 - 12)),
            _ => None,
        }
    }
}

impl fmt::Display for DtmfEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.digit() {
            Some(c) => write!(f, "{c}"),
            None => write!(f, "event {}", self.0),
        }
    }
}

/// Why DTMF input was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DtmfError {
    /// An RFC 4733 payload shorter than 4 bytes or not a multiple of 4.
    #[error("telephone-event payload of {len} bytes, expected 4")]
    BadLength {
        /// Payload length.
        len: usize,
    },
    /// A packet arrived with a payload type other than the leg's telephone-event type.
    #[error("payload type {got} is not the telephone-event type {expected}")]
    WrongPayloadType {
        /// Payload type received.
        got: u8,
        /// The leg's telephone-event payload type.
        expected: u8,
    },
    /// A clock rate of zero, or a payload type above 127.
    #[error("telephone-event leg with payload type {payload_type} at {clock_rate} Hz is invalid")]
    BadLeg {
        /// Payload type.
        payload_type: u8,
        /// Clock rate.
        clock_rate: u32,
    },
    /// A SIP INFO `application/dtmf-relay` body without a `Signal=` line.
    #[error("dtmf-relay body has no Signal")]
    MissingSignal,
    /// A `Signal=` value that is not a keypad key.
    #[error("dtmf-relay Signal {value:?} is not a DTMF key")]
    BadSignal {
        /// The value found (at most 16 characters kept).
        value: String,
    },
    /// A `Duration=` value that is not a whole number of milliseconds in 1..=60000.
    #[error("dtmf-relay Duration {value:?} is not a valid duration in ms")]
    BadDuration {
        /// The value found (at most 16 characters kept).
        value: String,
    },
    /// A line that is not `key=value`, or a key given twice.
    #[error("dtmf-relay body line {line} is malformed")]
    MalformedBody {
        /// 1-based line number.
        line: usize,
    },
}

/// One RFC 4733 §2.3 event payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// Event code.
    pub event: DtmfEvent,
    /// E bit: the last packet(s) of the event.
    pub end: bool,
    /// Power level in −dBm0 (0..=63).
    pub volume: u8,
    /// Duration so far, in RTP clock ticks of the leg.
    pub duration: u16,
}

impl TelephoneEvent {
    /// Parses a payload. RFC 2198-less payloads are exactly 4 bytes; some
    /// senders pack several events, so any multiple of 4 is accepted and the
    /// first event is returned.
    pub fn parse(payload: &[u8]) -> Result<Self, DtmfError> {
        if payload.len() < EVENT_LEN || !payload.len().is_multiple_of(EVENT_LEN) {
            return Err(DtmfError::BadLength { len: payload.len() });
        }
        Ok(Self {
            event: DtmfEvent(payload[0]),
            end: payload[1] & 0x80 != 0,
            volume: payload[1] & 0x3F,
            duration: u16::from_be_bytes([payload[2], payload[3]]),
        })
    }

    /// The 4-byte payload (the R bit is sent as zero).
    pub fn to_bytes(&self) -> [u8; EVENT_LEN] {
        let [d0, d1] = self.duration.to_be_bytes();
        [
            self.event.0,
            (u8::from(self.end) << 7) | (self.volume & 0x3F),
            d0,
            d1,
        ]
    }
}

/// One leg's telephone-event format: payload type and RTP clock rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfLeg {
    /// Negotiated `telephone-event` payload type.
    pub payload_type: u8,
    /// Its clock rate (8 000 or 48 000 in practice).
    pub clock_rate: u32,
}

impl DtmfLeg {
    fn check(self) -> Result<Self, DtmfError> {
        if self.clock_rate == 0 || self.payload_type > 127 {
            Err(DtmfError::BadLeg {
                payload_type: self.payload_type,
                clock_rate: self.clock_rate,
            })
        } else {
            Ok(self)
        }
    }
}

/// An RFC 4733 packet for a leg: what the bridge puts into the RTP header
/// and payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventPacket {
    /// Payload type.
    pub payload_type: u8,
    /// RTP timestamp: the event's start on the outgoing timeline.
    pub timestamp: u32,
    /// RTP marker: set on the first packet of an event.
    pub marker: bool,
    /// The event.
    pub event: TelephoneEvent,
}

impl EventPacket {
    /// The payload bytes.
    pub fn payload(&self) -> [u8; EVENT_LEN] {
        self.event.to_bytes()
    }
}

/// An event being translated: its timestamp on both timelines.
#[derive(Debug, Clone, Copy)]
struct Mapping {
    in_timestamp: u32,
    out_timestamp: u32,
}

/// Translates RFC 4733 packets from one leg to the other: payload type,
/// duration in the other clock rate, and the event start on the outgoing
/// timeline. Every packet is forwarded, the repeated end packets included.
#[derive(Debug, Clone)]
pub struct DtmfTranslator {
    from: DtmfLeg,
    to: DtmfLeg,
    current: Option<Mapping>,
    previous: Option<Mapping>,
}

impl DtmfTranslator {
    /// A translator from leg `from` to leg `to`.
    pub fn new(from: DtmfLeg, to: DtmfLeg) -> Result<Self, DtmfError> {
        Ok(Self {
            from: from.check()?,
            to: to.check()?,
            current: None,
            previous: None,
        })
    }

    /// Translates one received packet. `in_timestamp` is its RTP timestamp;
    /// `out_timestamp_now` is the outgoing leg's current RTP timestamp and
    /// becomes the start of a new event (one whose input timestamp is not the
    /// current or the previous event's). Durations are scaled by
    /// `to.clock_rate / from.clock_rate`, saturating at 65 535 ticks.
    pub fn translate(
        &mut self,
        payload_type: u8,
        in_timestamp: u32,
        payload: &[u8],
        out_timestamp_now: u32,
    ) -> Result<EventPacket, DtmfError> {
        if payload_type != self.from.payload_type {
            return Err(DtmfError::WrongPayloadType {
                got: payload_type,
                expected: self.from.payload_type,
            });
        }
        let mut event = TelephoneEvent::parse(payload)?;
        let (out_timestamp, marker) = match (self.current, self.previous) {
            (Some(cur), _) if cur.in_timestamp == in_timestamp => (cur.out_timestamp, false),
            (_, Some(prev)) if prev.in_timestamp == in_timestamp => (prev.out_timestamp, false),
            _ => {
                self.previous = self.current;
                self.current = Some(Mapping {
                    in_timestamp,
                    out_timestamp: out_timestamp_now,
                });
                (out_timestamp_now, true)
            }
        };
        let scaled = u64::from(event.duration) * u64::from(self.to.clock_rate)
            / u64::from(self.from.clock_rate);
        event.duration = u16::try_from(scaled).unwrap_or(u16::MAX);
        Ok(EventPacket {
            payload_type: self.to.payload_type,
            timestamp: out_timestamp,
            marker,
            event,
        })
    }
}

/// A digit from a SIP INFO `application/dtmf-relay` body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfRelay {
    /// The key pressed.
    pub event: DtmfEvent,
    /// How long, in milliseconds (250 when the body gives none).
    pub duration_ms: u32,
}

/// Duration assumed when a dtmf-relay body has no `Duration=` line.
pub const DEFAULT_RELAY_DURATION_MS: u32 = 250;

impl DtmfRelay {
    /// Parses `Signal=5\r\nDuration=160\r\n` (keys case-insensitive, blanks
    /// around `=` allowed, CRLF or LF, unknown keys ignored). `Signal` is a
    /// keypad character or an event number 0–16.
    pub fn parse(body: &str) -> Result<Self, DtmfError> {
        let mut signal: Option<DtmfEvent> = None;
        let mut duration: Option<u32> = None;
        for (index, raw) in body.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                return Err(DtmfError::MalformedBody { line: index + 1 });
            };
            let (key, value) = (key.trim(), value.trim());
            let clip = || value.chars().take(16).collect::<String>();
            if key.eq_ignore_ascii_case("signal") {
                if signal.is_some() {
                    return Err(DtmfError::MalformedBody { line: index + 1 });
                }
                let event =
                    parse_signal(value).ok_or_else(|| DtmfError::BadSignal { value: clip() })?;
                signal = Some(event);
            } else if key.eq_ignore_ascii_case("duration") {
                if duration.is_some() {
                    return Err(DtmfError::MalformedBody { line: index + 1 });
                }
                let ms = value
                    .parse::<u32>()
                    .ok()
                    .filter(|ms| (1..=60_000).contains(ms))
                    .ok_or_else(|| DtmfError::BadDuration { value: clip() })?;
                duration = Some(ms);
            }
        }
        Ok(Self {
            event: signal.ok_or(DtmfError::MissingSignal)?,
            duration_ms: duration.unwrap_or(DEFAULT_RELAY_DURATION_MS),
        })
    }
}

fn parse_signal(value: &str) -> Option<DtmfEvent> {
    let mut chars = value.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => DtmfEvent::from_digit(c),
        _ => value.parse::<u8>().ok().filter(|&n| n <= 16).map(DtmfEvent),
    }
}

/// An event queued or being sent by [`EventSender`].
#[derive(Debug, Clone, Copy)]
struct Sending {
    event: DtmfEvent,
    total: u16,
    sent: u16,
    timestamp: u32,
    ends_sent: u8,
    started: bool,
}

/// Produces RFC 4733 packets for digits that did not arrive as RFC 4733
/// (SIP INFO): one packet per packet interval with growing duration, the end
/// packet three times (RFC 4733 §2.5.1.4), digits queued in order.
#[derive(Debug, Clone)]
pub struct EventSender {
    leg: DtmfLeg,
    interval_ticks: u16,
    volume: u8,
    queue: VecDeque<Sending>,
}

impl EventSender {
    /// Times the end packet is sent.
    pub const END_REPEATS: u8 = 3;

    /// A sender for `leg` that is polled every `interval_ms` milliseconds
    /// (the leg's packet time, 20 ms usually).
    pub fn new(leg: DtmfLeg, interval_ms: u32) -> Result<Self, DtmfError> {
        let leg = leg.check()?;
        let ticks = u64::from(leg.clock_rate) * u64::from(interval_ms.max(1)) / 1000;
        Ok(Self {
            leg,
            interval_ticks: u16::try_from(ticks.max(1)).unwrap_or(u16::MAX),
            volume: 10,
            queue: VecDeque::new(),
        })
    }

    /// Queues a key press of `duration_ms` (at least one packet interval;
    /// at most 65 535 ticks, about 1.36 s at 48 kHz).
    pub fn queue(&mut self, event: DtmfEvent, duration_ms: u32) {
        let ticks = u64::from(self.leg.clock_rate) * u64::from(duration_ms) / 1000;
        let total = u16::try_from(ticks)
            .unwrap_or(u16::MAX)
            .max(self.interval_ticks);
        self.queue.push_back(Sending {
            event,
            total,
            sent: 0,
            timestamp: 0,
            ends_sent: 0,
            started: false,
        });
    }

    /// Whether a digit is being sent or waits (the bridge then holds back
    /// audio packets of the same timeline, as RFC 4733 §2.5.1.2 suggests).
    pub fn is_active(&self) -> bool {
        !self.queue.is_empty()
    }

    /// The packet for this interval, if any. `out_timestamp_now` is the leg's
    /// current RTP timestamp; it becomes the start of the next digit.
    pub fn poll_packet(&mut self, out_timestamp_now: u32) -> Option<EventPacket> {
        let interval = self.interval_ticks;
        let volume = self.volume;
        let payload_type = self.leg.payload_type;
        let cur = self.queue.front_mut()?;
        let marker = !cur.started;
        if !cur.started {
            cur.started = true;
            cur.timestamp = out_timestamp_now;
        }
        cur.sent = cur.sent.saturating_add(interval).min(cur.total);
        let end = cur.sent >= cur.total;
        if end {
            cur.ends_sent += 1;
        }
        let packet = EventPacket {
            payload_type,
            timestamp: cur.timestamp,
            marker,
            event: TelephoneEvent {
                event: cur.event,
                end,
                volume,
                duration: cur.sent,
            },
        };
        if cur.ends_sent >= Self::END_REPEATS {
            self.queue.pop_front();
        }
        Some(packet)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_payload_round_trips() {
        let bytes = [5, 0x8A, 0x03, 0x20];
        let ev = TelephoneEvent::parse(&bytes).expect("valid");
        assert_eq!(ev.event, DtmfEvent(5));
        assert!(ev.end);
        assert_eq!(ev.volume, 10);
        assert_eq!(ev.duration, 800);
        assert_eq!(ev.to_bytes(), bytes);
    }

    #[test]
    fn malformed_event_payloads_are_refused() {
        for len in [0, 1, 3, 5, 7] {
            assert_eq!(
                TelephoneEvent::parse(&vec![0; len]),
                Err(DtmfError::BadLength { len })
            );
        }
        assert!(TelephoneEvent::parse(&[1, 0, 0, 160, 2, 0, 0, 160]).is_ok());
    }

    #[test]
    fn digits_map_to_event_codes_and_back() {
        for (c, code) in [
            ('0', 0),
            ('9', 9),
            ('*', 10),
            ('#', 11),
            ('A', 12),
            ('d', 15),
        ] {
            let ev = DtmfEvent::from_digit(c).expect("key");
            assert_eq!(ev.0, code);
            assert_eq!(ev.digit(), Some(c.to_ascii_uppercase()));
        }
        assert_eq!(DtmfEvent::from_digit('E'), None);
        assert_eq!(DtmfEvent::FLASH.digit(), None);
    }

    fn leg(payload_type: u8, clock_rate: u32) -> DtmfLeg {
        DtmfLeg {
            payload_type,
            clock_rate,
        }
    }

    #[test]
    fn translation_maps_payload_type_duration_and_timestamp() {
        let mut t = DtmfTranslator::new(leg(101, 8000), leg(110, 48_000)).expect("legs");
        let ev = |end: bool, duration: u16| {
            TelephoneEvent {
                event: DtmfEvent(7),
                end,
                volume: 10,
                duration,
            }
            .to_bytes()
        };
        let first = t.translate(101, 1000, &ev(false, 160), 96_000).expect("ok");
        assert_eq!(first.payload_type, 110);
        assert_eq!(first.timestamp, 96_000);
        assert!(first.marker);
        assert_eq!(first.event.duration, 960);
        // Later packets of the same event keep its start, whatever the
        // outgoing timeline has reached.
        let mid = t.translate(101, 1000, &ev(false, 320), 97_920).expect("ok");
        assert_eq!(
            (mid.timestamp, mid.marker, mid.event.duration),
            (96_000, false, 1920)
        );
        // All three end packets are forwarded.
        for _ in 0..3 {
            let end = t.translate(101, 1000, &ev(true, 800), 100_000).expect("ok");
            assert!(end.event.end);
            assert_eq!((end.timestamp, end.event.duration), (96_000, 4800));
        }
        // A new event starts at the outgoing timeline's present.
        let next = t
            .translate(101, 3000, &ev(false, 160), 120_000)
            .expect("ok");
        assert_eq!((next.timestamp, next.marker), (120_000, true));
        // A late end retransmission of the previous event keeps its start.
        let late = t.translate(101, 1000, &ev(true, 800), 121_000).expect("ok");
        assert_eq!((late.timestamp, late.marker), (96_000, false));
    }

    #[test]
    fn translation_down_to_8khz_and_saturation() {
        let mut down = DtmfTranslator::new(leg(111, 48_000), leg(101, 8000)).expect("legs");
        let ev = TelephoneEvent {
            event: DtmfEvent(1),
            end: false,
            volume: 10,
            duration: 4800,
        };
        let p = down.translate(111, 5, &ev.to_bytes(), 0).expect("ok");
        assert_eq!(p.event.duration, 800);
        let mut up = DtmfTranslator::new(leg(101, 8000), leg(111, 48_000)).expect("legs");
        let long = TelephoneEvent {
            duration: 20_000,
            ..ev
        };
        let p = up.translate(101, 5, &long.to_bytes(), 0).expect("ok");
        assert_eq!(p.event.duration, u16::MAX);
        assert_eq!(
            up.translate(0, 5, &long.to_bytes(), 0),
            Err(DtmfError::WrongPayloadType {
                got: 0,
                expected: 101
            })
        );
        assert!(DtmfTranslator::new(leg(101, 0), leg(101, 8000)).is_err());
        assert!(DtmfTranslator::new(leg(128, 8000), leg(101, 8000)).is_err());
    }

    #[test]
    fn sip_info_dtmf_relay_bodies_parse() {
        let r = DtmfRelay::parse("Signal=5\r\nDuration=160\r\n").expect("valid");
        assert_eq!(
            r,
            DtmfRelay {
                event: DtmfEvent(5),
                duration_ms: 160
            }
        );
        let r = DtmfRelay::parse("signal = #\nduration= 250").expect("valid");
        assert_eq!(r.event, DtmfEvent(11));
        let r = DtmfRelay::parse("Signal=*").expect("valid");
        assert_eq!(
            r,
            DtmfRelay {
                event: DtmfEvent(10),
                duration_ms: 250
            }
        );
        assert_eq!(
            DtmfRelay::parse("Signal=11").expect("valid").event,
            DtmfEvent(11)
        );
        assert_eq!(
            DtmfRelay::parse("Signal=D").expect("valid").event,
            DtmfEvent(15)
        );
    }

    #[test]
    fn bad_sip_info_bodies_are_refused() {
        assert_eq!(DtmfRelay::parse(""), Err(DtmfError::MissingSignal));
        assert_eq!(
            DtmfRelay::parse("Duration=100"),
            Err(DtmfError::MissingSignal)
        );
        assert!(matches!(
            DtmfRelay::parse("Signal=E"),
            Err(DtmfError::BadSignal { .. })
        ));
        assert!(matches!(
            DtmfRelay::parse("Signal=17"),
            Err(DtmfError::BadSignal { .. })
        ));
        assert!(matches!(
            DtmfRelay::parse("Signal="),
            Err(DtmfError::BadSignal { .. })
        ));
        assert!(matches!(
            DtmfRelay::parse("Signal=1\r\nDuration=abc"),
            Err(DtmfError::BadDuration { .. })
        ));
        assert!(matches!(
            DtmfRelay::parse("Signal=1\r\nDuration=0"),
            Err(DtmfError::BadDuration { .. })
        ));
        assert_eq!(
            DtmfRelay::parse("Signal=1\r\nnonsense"),
            Err(DtmfError::MalformedBody { line: 2 })
        );
        assert_eq!(
            DtmfRelay::parse("Signal=1\r\nSignal=2"),
            Err(DtmfError::MalformedBody { line: 2 })
        );
    }

    #[test]
    fn a_relayed_digit_becomes_a_packet_train_with_three_ends() {
        let mut s = EventSender::new(leg(101, 8000), 20).expect("leg");
        s.queue(DtmfEvent(5), 100);
        s.queue(DtmfEvent(6), 40);
        let mut packets = Vec::new();
        let mut ts = 8000u32;
        while let Some(p) = s.poll_packet(ts) {
            packets.push(p);
            ts += 160;
        }
        assert!(!s.is_active());
        // Digit 5: 100 ms = 800 ticks in 160-tick steps: 4 updates, then 3 ends.
        let five: Vec<_> = packets
            .iter()
            .filter(|p| p.event.event == DtmfEvent(5))
            .collect();
        assert_eq!(five.len(), 7);
        assert!(five[0].marker && five[1..].iter().all(|p| !p.marker));
        assert!(
            five.iter()
                .all(|p| p.timestamp == 8000 && p.payload_type == 101)
        );
        let durations: Vec<u16> = five.iter().map(|p| p.event.duration).collect();
        assert_eq!(durations, vec![160, 320, 480, 640, 800, 800, 800]);
        assert_eq!(five.iter().filter(|p| p.event.end).count(), 3);
        // Digit 6 starts where the timeline is after digit 5.
        let six: Vec<_> = packets
            .iter()
            .filter(|p| p.event.event == DtmfEvent(6))
            .collect();
        assert_eq!(six[0].timestamp, 8000 + 7 * 160);
        assert!(six[0].marker);
        assert_eq!(six.len(), 4);
    }
}
