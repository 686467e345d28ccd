//! Codecs and RTP payload types.

use std::fmt;

/// An RTP payload type, 0..=127.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PayloadType(u8);

impl PayloadType {
    /// First dynamic payload type (RFC 3551 section 3).
    pub const DYNAMIC_START: u8 = 96;

    /// `None` above 127.
    pub const fn new(pt: u8) -> Option<Self> {
        if pt <= 127 {
            Some(PayloadType(pt))
        } else {
            None
        }
    }

    /// The number.
    pub const fn get(self) -> u8 {
        self.0
    }

    /// Whether the type is in the dynamic range 96..=127.
    pub const fn is_dynamic(self) -> bool {
        self.0 >= Self::DYNAMIC_START
    }
}

impl fmt::Display for PayloadType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// RFC 3551 static payload types: (pt, name, RTP clock rate, channels).
const STATIC: &[(u8, &str, u32, u16)] = &[
    (0, "PCMU", 8000, 1),
    (3, "GSM", 8000, 1),
    (4, "G723", 8000, 1),
    (5, "DVI4", 8000, 1),
    (6, "DVI4", 16000, 1),
    (7, "LPC", 8000, 1),
    (8, "PCMA", 8000, 1),
    // G.722 samples at 16 kHz but its RTP clock is 8000 (RFC 3551 section 4.5.2).
    (9, "G722", 8000, 1),
    (10, "L16", 44100, 2),
    (11, "L16", 44100, 1),
    (12, "QCELP", 8000, 1),
    (13, "CN", 8000, 1),
    (14, "MPA", 90000, 1),
    (15, "G728", 8000, 1),
    (16, "DVI4", 11025, 1),
    (17, "DVI4", 22050, 1),
    (18, "G729", 8000, 1),
    (25, "CelB", 90000, 1),
    (26, "JPEG", 90000, 1),
    (28, "nv", 90000, 1),
    (31, "H261", 90000, 1),
    (32, "MPV", 90000, 1),
    (33, "MP2T", 90000, 1),
    (34, "H263", 90000, 1),
];

/// A codec as SDP identifies it: encoding name and RTP clock rate (plus
/// channels and format parameters). Identity for matching is name
/// (case-insensitive) and clock rate; dynamic payload type numbers are
/// per-session labels and never identify a codec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Codec {
    /// Encoding name (`PCMU`, `opus`, `telephone-event`).
    pub name: String,
    /// RTP clock rate in Hz (8000 for G.722, 48000 for Opus).
    pub clock_rate: u32,
    /// Channel count (1 unless written).
    pub channels: u16,
    /// `a=fmtp` parameters.
    pub fmtp: Option<String>,
}

impl Codec {
    /// A mono codec without fmtp.
    pub fn new(name: impl Into<String>, clock_rate: u32) -> Self {
        Codec {
            name: name.into(),
            clock_rate,
            channels: 1,
            fmtp: None,
        }
    }

    /// With a channel count.
    #[must_use]
    pub fn with_channels(mut self, channels: u16) -> Self {
        self.channels = channels;
        self
    }

    /// With fmtp parameters.
    #[must_use]
    pub fn with_fmtp(mut self, fmtp: impl Into<String>) -> Self {
        self.fmtp = Some(fmtp.into());
        self
    }

    /// G.711 µ-law, static PT 0.
    pub fn pcmu() -> Self {
        Codec::new("PCMU", 8000)
    }

    /// G.711 A-law, static PT 8.
    pub fn pcma() -> Self {
        Codec::new("PCMA", 8000)
    }

    /// G.722, static PT 9, RTP clock 8000 although it samples at 16 kHz.
    pub fn g722() -> Self {
        Codec::new("G722", 8000)
    }

    /// Opus, dynamic, always `opus/48000/2` in SDP (RFC 7587).
    pub fn opus() -> Self {
        Codec::new("opus", 48000).with_channels(2)
    }

    /// RFC 4733 DTMF events at the given clock rate (8000 or 48000), which
    /// must equal the audio codec's.
    pub fn telephone_event(clock_rate: u32) -> Self {
        Codec::new("telephone-event", clock_rate)
    }

    /// The codec a static payload type stands for without `a=rtpmap`.
    pub fn from_static(pt: PayloadType) -> Option<Self> {
        STATIC
            .iter()
            .find(|(n, ..)| *n == pt.get())
            .map(|&(_, name, rate, ch)| Codec::new(name, rate).with_channels(ch))
    }

    /// The static payload type of this codec, if it has one.
    pub fn static_payload_type(&self) -> Option<PayloadType> {
        STATIC
            .iter()
            .find(|(_, name, rate, ch)| {
                name.eq_ignore_ascii_case(&self.name)
                    && *rate == self.clock_rate
                    && *ch == self.channels
            })
            .and_then(|(pt, ..)| PayloadType::new(*pt))
    }

    /// Same codec: name (case-insensitive) and clock rate.
    pub fn matches(&self, other: &Codec) -> bool {
        self.name.eq_ignore_ascii_case(&other.name) && self.clock_rate == other.clock_rate
    }

    /// Whether this is RFC 4733 `telephone-event`.
    pub fn is_telephone_event(&self) -> bool {
        self.name.eq_ignore_ascii_case("telephone-event")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pt(n: u8) -> PayloadType {
        PayloadType::new(n).unwrap()
    }

    #[test]
    fn static_payload_types_map_to_the_rfc_3551_codecs() {
        let cases = [
            (0, "PCMU", 8000),
            (8, "PCMA", 8000),
            (9, "G722", 8000),
            (18, "G729", 8000),
            (13, "CN", 8000),
        ];
        for (n, name, rate) in cases {
            let c = Codec::from_static(pt(n)).unwrap();
            assert_eq!((c.name.as_str(), c.clock_rate), (name, rate), "pt {n}");
            assert_eq!(c.static_payload_type(), Some(pt(n)));
        }
    }

    #[test]
    fn dynamic_range_has_no_static_codec() {
        for n in 96..=127 {
            assert!(Codec::from_static(pt(n)).is_none());
            assert!(pt(n).is_dynamic());
        }
        assert!(Codec::opus().static_payload_type().is_none());
        assert!(Codec::telephone_event(8000).static_payload_type().is_none());
    }

    #[test]
    fn g722_uses_the_8000_rtp_clock() {
        assert_eq!(Codec::g722().clock_rate, 8000);
        assert!(!Codec::g722().matches(&Codec::new("G722", 16000)));
    }

    #[test]
    fn matching_is_by_name_case_insensitive_and_clock_rate() {
        assert!(Codec::opus().matches(&Codec::new("OPUS", 48000)));
        assert!(Codec::pcmu().matches(&Codec::new("pcmu", 8000).with_fmtp("x=1")));
        assert!(!Codec::telephone_event(8000).matches(&Codec::telephone_event(48000)));
        assert!(!Codec::pcmu().matches(&Codec::pcma()));
    }

    #[test]
    fn payload_types_above_127_are_rejected() {
        assert!(PayloadType::new(128).is_none());
        assert_eq!(PayloadType::new(127).map(PayloadType::get), Some(127));
    }
}
