//! RTP fixed header (RFC 3550 §5.1): a zero-copy view over received bytes and
//! an owned header for building packets.

use std::fmt;

use crate::seq::SeqNo;

/// Synchronisation source identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ssrc(pub u32);

impl fmt::Display for Ssrc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}", self.0)
    }
}

/// RTP payload type (7 bits on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PayloadType(pub u8);

impl PayloadType {
    /// G.711 µ-law (RFC 3551).
    pub const PCMU: PayloadType = PayloadType(0);
    /// G.711 A-law (RFC 3551).
    pub const PCMA: PayloadType = PayloadType(8);
    /// G.722 (RFC 3551).
    pub const G722: PayloadType = PayloadType(9);
}

impl fmt::Display for PayloadType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The only RTP version in use.
pub const RTP_VERSION: u8 = 2;
/// Length of the fixed RTP header without CSRCs or extension.
pub const FIXED_HEADER_LEN: usize = 12;

/// Why bytes are not a well-formed RTP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RtpError {
    /// Shorter than the 12-byte fixed header.
    #[error("RTP packet of {len} bytes is shorter than the fixed header")]
    TooShort {
        /// Bytes received.
        len: usize,
    },
    /// Version field is not 2.
    #[error("RTP version {version}, expected 2")]
    BadVersion {
        /// Version found.
        version: u8,
    },
    /// The CSRC list runs past the end of the packet.
    #[error("CSRC count {count} needs {needed} bytes, packet has {len}")]
    CsrcPastEnd {
        /// CSRC count from the header.
        count: u8,
        /// Bytes needed for the fixed header and CSRC list.
        needed: usize,
        /// Bytes received.
        len: usize,
    },
    /// The header extension runs past the end of the packet.
    #[error("header extension needs {needed} bytes, packet has {len}")]
    ExtensionPastEnd {
        /// Bytes needed up to the end of the extension.
        needed: usize,
        /// Bytes received.
        len: usize,
    },
    /// Padding count is zero or longer than the payload area.
    #[error("padding of {padding} bytes but only {available} bytes follow the header")]
    BadPadding {
        /// Padding count from the last byte.
        padding: u8,
        /// Bytes after the header (payload plus padding).
        available: usize,
    },
}

/// A header extension (RFC 3550 §5.3.1): profile-defined 16 bits and data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpExtension<'a> {
    /// The "defined by profile" field (0xBEDE for RFC 8285 one-byte headers).
    pub profile: u16,
    /// Extension data (a multiple of 4 bytes).
    pub data: &'a [u8],
}

/// A validated zero-copy view over one RTP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    buf: &'a [u8],
    header_len: usize,
    payload_end: usize,
}

impl<'a> RtpPacket<'a> {
    /// Validates `buf` as an RTP packet. Never panics on any input.
    pub fn parse(buf: &'a [u8]) -> Result<Self, RtpError> {
        let len = buf.len();
        if len < FIXED_HEADER_LEN {
            return Err(RtpError::TooShort { len });
        }
        let version = buf[0] >> 6;
        if version != RTP_VERSION {
            return Err(RtpError::BadVersion { version });
        }
        let count = buf[0] & 0x0f;
        let mut header_len = FIXED_HEADER_LEN + 4 * usize::from(count);
        if header_len > len {
            return Err(RtpError::CsrcPastEnd {
                count,
                needed: header_len,
                len,
            });
        }
        if buf[0] & 0x10 != 0 {
            if header_len + 4 > len {
                return Err(RtpError::ExtensionPastEnd {
                    needed: header_len + 4,
                    len,
                });
            }
            let words = u16::from_be_bytes([buf[header_len + 2], buf[header_len + 3]]);
            let needed = header_len + 4 + 4 * usize::from(words);
            if needed > len {
                return Err(RtpError::ExtensionPastEnd { needed, len });
            }
            header_len = needed;
        }
        let mut payload_end = len;
        if buf[0] & 0x20 != 0 {
            let padding = buf[len - 1];
            let available = len - header_len;
            if padding == 0 || usize::from(padding) > available {
                return Err(RtpError::BadPadding { padding, available });
            }
            payload_end = len - usize::from(padding);
        }
        Ok(RtpPacket {
            buf,
            header_len,
            payload_end,
        })
    }

    /// Padding bit.
    pub fn has_padding(&self) -> bool {
        self.buf[0] & 0x20 != 0
    }

    /// Marker bit.
    pub fn marker(&self) -> bool {
        self.buf[1] & 0x80 != 0
    }

    /// Payload type.
    pub fn payload_type(&self) -> PayloadType {
        PayloadType(self.buf[1] & 0x7f)
    }

    /// Sequence number.
    pub fn sequence_number(&self) -> SeqNo {
        SeqNo(u16::from_be_bytes([self.buf[2], self.buf[3]]))
    }

    /// RTP timestamp.
    pub fn timestamp(&self) -> u32 {
        u32::from_be_bytes([self.buf[4], self.buf[5], self.buf[6], self.buf[7]])
    }

    /// Synchronisation source.
    pub fn ssrc(&self) -> Ssrc {
        Ssrc(u32::from_be_bytes([
            self.buf[8],
            self.buf[9],
            self.buf[10],
            self.buf[11],
        ]))
    }

    /// Contributing sources.
    pub fn csrcs(&self) -> impl ExactSizeIterator<Item = Ssrc> + 'a {
        let count = usize::from(self.buf[0] & 0x0f);
        self.buf[FIXED_HEADER_LEN..FIXED_HEADER_LEN + 4 * count]
            .chunks_exact(4)
            .map(|c| Ssrc(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
    }

    /// Header extension, if the X bit is set.
    pub fn extension(&self) -> Option<RtpExtension<'a>> {
        if self.buf[0] & 0x10 == 0 {
            return None;
        }
        let start = FIXED_HEADER_LEN + 4 * usize::from(self.buf[0] & 0x0f);
        Some(RtpExtension {
            profile: u16::from_be_bytes([self.buf[start], self.buf[start + 1]]),
            data: &self.buf[start + 4..self.header_len],
        })
    }

    /// Header length including CSRCs and extension.
    pub fn header_len(&self) -> usize {
        self.header_len
    }

    /// Payload without padding.
    pub fn payload(&self) -> &'a [u8] {
        &self.buf[self.header_len..self.payload_end]
    }

    /// Number of padding bytes (0 without the P bit).
    pub fn padding_len(&self) -> usize {
        self.buf.len() - self.payload_end
    }

    /// The whole packet as received.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }

    /// Copies the header into an owned [`RtpHeader`].
    pub fn to_header(&self) -> RtpHeader {
        RtpHeader {
            marker: self.marker(),
            payload_type: self.payload_type(),
            sequence_number: self.sequence_number(),
            timestamp: self.timestamp(),
            ssrc: self.ssrc(),
            csrcs: self.csrcs().collect(),
            extension: self.extension().map(|e| (e.profile, e.data.to_vec())),
        }
    }
}

/// Why an [`RtpHeader`] cannot be serialised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RtpBuildError {
    /// More than 15 CSRCs.
    #[error("{count} CSRCs, at most 15 fit")]
    TooManyCsrcs {
        /// CSRCs given.
        count: usize,
    },
    /// Extension data not a multiple of 4 bytes or longer than 65535 words.
    #[error("extension of {len} bytes is not a whole number of 32-bit words below 2^16")]
    BadExtensionLength {
        /// Extension bytes given.
        len: usize,
    },
    /// Payload type above 127.
    #[error("payload type {pt} does not fit in 7 bits")]
    BadPayloadType {
        /// Payload type given.
        pt: u8,
    },
}

/// An owned RTP header, for building packets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpHeader {
    /// Marker bit.
    pub marker: bool,
    /// Payload type (0..=127).
    pub payload_type: PayloadType,
    /// Sequence number.
    pub sequence_number: SeqNo,
    /// RTP timestamp.
    pub timestamp: u32,
    /// Synchronisation source.
    pub ssrc: Ssrc,
    /// Contributing sources (at most 15).
    pub csrcs: Vec<Ssrc>,
    /// Header extension: profile field and data (multiple of 4 bytes).
    pub extension: Option<(u16, Vec<u8>)>,
}

impl RtpHeader {
    /// A header without CSRCs or extension.
    pub fn new(
        payload_type: PayloadType,
        sequence_number: SeqNo,
        timestamp: u32,
        ssrc: Ssrc,
    ) -> Self {
        RtpHeader {
            marker: false,
            payload_type,
            sequence_number,
            timestamp,
            ssrc,
            csrcs: Vec::new(),
            extension: None,
        }
    }

    /// Appends header, `payload` and `padding` bytes of padding (0 for none;
    /// the last padding byte holds the count, as RFC 3550 requires) to `out`.
    pub fn write_packet(
        &self,
        payload: &[u8],
        padding: u8,
        out: &mut Vec<u8>,
    ) -> Result<(), RtpBuildError> {
        if self.csrcs.len() > 15 {
            return Err(RtpBuildError::TooManyCsrcs {
                count: self.csrcs.len(),
            });
        }
        if self.payload_type.0 > 0x7f {
            return Err(RtpBuildError::BadPayloadType {
                pt: self.payload_type.0,
            });
        }
        if let Some((_, data)) = &self.extension
            && (data.len() % 4 != 0 || data.len() / 4 > usize::from(u16::MAX))
        {
            return Err(RtpBuildError::BadExtensionLength { len: data.len() });
        }
        let mut b0 = RTP_VERSION << 6 | self.csrcs.len() as u8;
        if padding > 0 {
            b0 |= 0x20;
        }
        if self.extension.is_some() {
            b0 |= 0x10;
        }
        out.push(b0);
        out.push(u8::from(self.marker) << 7 | self.payload_type.0);
        out.extend_from_slice(&self.sequence_number.0.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.ssrc.0.to_be_bytes());
        for c in &self.csrcs {
            out.extend_from_slice(&c.0.to_be_bytes());
        }
        if let Some((profile, data)) = &self.extension {
            out.extend_from_slice(&profile.to_be_bytes());
            out.extend_from_slice(&((data.len() / 4) as u16).to_be_bytes());
            out.extend_from_slice(data);
        }
        out.extend_from_slice(payload);
        if padding > 0 {
            out.extend(std::iter::repeat_n(0, usize::from(padding) - 1));
            out.push(padding);
        }
        Ok(())
    }

    /// Builds a whole packet into a new buffer.
    pub fn to_packet(&self, payload: &[u8], padding: u8) -> Result<Vec<u8>, RtpBuildError> {
        let mut out = Vec::with_capacity(FIXED_HEADER_LEN + 4 * self.csrcs.len() + payload.len());
        self.write_packet(payload, padding, &mut out)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full_header() -> RtpHeader {
        RtpHeader {
            marker: true,
            payload_type: PayloadType(101),
            sequence_number: SeqNo(0xfffe),
            timestamp: 0xdead_beef,
            ssrc: Ssrc(0x1234_5678),
            csrcs: vec![Ssrc(1), Ssrc(2), Ssrc(3)],
            extension: Some((0xbede, vec![0x10, 0xaa, 0, 0])),
        }
    }

    #[test]
    fn header_round_trips_with_csrcs_extension_and_padding() {
        let header = full_header();
        let bytes = header.to_packet(b"hello", 3).unwrap();
        assert_eq!(bytes.len(), 12 + 12 + 8 + 5 + 3);
        let p = RtpPacket::parse(&bytes).unwrap();
        assert_eq!(p.to_header(), header);
        assert_eq!(p.payload(), b"hello");
        assert_eq!(p.padding_len(), 3);
        assert!(p.has_padding());
        assert_eq!(p.header_len(), 32);
        assert_eq!(p.extension().unwrap().profile, 0xbede);
        assert_eq!(p.csrcs().len(), 3);
    }

    #[test]
    fn minimal_header_round_trips() {
        let header = RtpHeader::new(PayloadType::PCMA, SeqNo(7), 160, Ssrc(9));
        let bytes = header.to_packet(&[0xd5; 160], 0).unwrap();
        assert_eq!(&bytes[..12], &[0x80, 8, 0, 7, 0, 0, 0, 160, 0, 0, 0, 9]);
        let p = RtpPacket::parse(&bytes).unwrap();
        assert_eq!(p.to_header(), header);
        assert!(!p.marker());
        assert!(p.extension().is_none());
        assert_eq!(p.payload().len(), 160);
    }

    #[test]
    fn malformed_packets_are_errors() {
        let good = full_header().to_packet(b"xy", 2).unwrap();
        let mut bad_version = good.clone();
        bad_version[0] = (bad_version[0] & 0x3f) | 0x40;
        let mut csrc_past_end = vec![0x8f, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
        csrc_past_end.extend_from_slice(&[0; 8]);
        let ext_past_end = vec![
            0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xbe, 0xde, 0, 2, 0, 0,
        ];
        let ext_header_missing = vec![0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xbe];
        let mut padding_too_long = vec![0xa0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2];
        padding_too_long.push(9);
        let zero_padding = vec![0xa0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0];
        let cases: Vec<(&str, Vec<u8>, RtpError)> = vec![
            ("empty", vec![], RtpError::TooShort { len: 0 }),
            (
                "truncated",
                good[..11].to_vec(),
                RtpError::TooShort { len: 11 },
            ),
            (
                "bad version",
                bad_version,
                RtpError::BadVersion { version: 1 },
            ),
            (
                "csrc past end",
                csrc_past_end,
                RtpError::CsrcPastEnd {
                    count: 15,
                    needed: 72,
                    len: 20,
                },
            ),
            (
                "ext past end",
                ext_past_end,
                RtpError::ExtensionPastEnd {
                    needed: 24,
                    len: 18,
                },
            ),
            (
                "ext header missing",
                ext_header_missing,
                RtpError::ExtensionPastEnd {
                    needed: 16,
                    len: 13,
                },
            ),
            (
                "padding longer than packet",
                padding_too_long,
                RtpError::BadPadding {
                    padding: 9,
                    available: 3,
                },
            ),
            (
                "zero padding",
                zero_padding,
                RtpError::BadPadding {
                    padding: 0,
                    available: 2,
                },
            ),
        ];
        for (name, bytes, want) in cases {
            assert_eq!(RtpPacket::parse(&bytes), Err(want), "{name}");
        }
    }

    #[test]
    fn parse_never_panics_on_any_prefix_or_bit_flip() {
        let good = full_header().to_packet(b"payload!", 4).unwrap();
        for end in 0..=good.len() {
            let _ = RtpPacket::parse(&good[..end]);
        }
        for i in 0..good.len() {
            for bit in 0..8 {
                let mut b = good.clone();
                b[i] ^= 1 << bit;
                if let Ok(p) = RtpPacket::parse(&b) {
                    let _ = (p.payload(), p.extension(), p.csrcs().count());
                }
            }
        }
    }

    #[test]
    fn build_rejects_unrepresentable_headers() {
        let mut h = RtpHeader::new(PayloadType(128), SeqNo(0), 0, Ssrc(0));
        assert_eq!(
            h.to_packet(&[], 0),
            Err(RtpBuildError::BadPayloadType { pt: 128 })
        );
        h.payload_type = PayloadType(0);
        h.csrcs = vec![Ssrc(0); 16];
        assert_eq!(
            h.to_packet(&[], 0),
            Err(RtpBuildError::TooManyCsrcs { count: 16 })
        );
        h.csrcs.clear();
        h.extension = Some((0, vec![0; 3]));
        assert_eq!(
            h.to_packet(&[], 0),
            Err(RtpBuildError::BadExtensionLength { len: 3 })
        );
    }
}
