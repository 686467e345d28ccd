//! RTCP (RFC 3550 §6): compound packet iterator, sender and receiver reports,
//! source description, goodbye, and extended reports (RFC 3611) with the `VoIP`
//! metrics block; RTP/RTCP demultiplexing for rtcp-mux (RFC 5761).

mod bye;
mod report;
mod sdes;
mod xr;

pub use bye::Bye;
pub use report::{ReceiverReport, ReportBlock, SenderReport};
pub use sdes::{Sdes, SdesChunk, SdesItem, SdesType};
pub use xr::{ExtendedReport, VoipMetrics};

/// Packet type: sender report.
pub const PT_SR: u8 = 200;
/// Packet type: receiver report.
pub const PT_RR: u8 = 201;
/// Packet type: source description.
pub const PT_SDES: u8 = 202;
/// Packet type: goodbye.
pub const PT_BYE: u8 = 203;
/// Packet type: application-defined.
pub const PT_APP: u8 = 204;
/// Packet type: extended report (RFC 3611).
pub const PT_XR: u8 = 207;

/// What a datagram received on an RTP port carries (RFC 5761 §4, RFC 7983).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketKind {
    /// RTP: first byte 128..=191, second byte not 192..=223.
    Rtp,
    /// RTCP: first byte 128..=191, second byte 192..=223 (PT 64–95 with the
    /// marker bit set, read as RTP).
    Rtcp,
    /// Anything else (STUN, DTLS, garbage, empty).
    Other,
}

/// Classifies a datagram by its first two bytes without parsing it.
pub fn classify(buf: &[u8]) -> PacketKind {
    match buf {
        [b0, b1, ..] if (128..=191).contains(b0) => {
            if (192..=223).contains(b1) {
                PacketKind::Rtcp
            } else {
                PacketKind::Rtp
            }
        }
        _ => PacketKind::Other,
    }
}

/// Why bytes are not a well-formed RTCP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RtcpError {
    /// Fewer than the 4 bytes of a common header remain.
    #[error("{len} bytes left, an RTCP header needs 4")]
    TooShort {
        /// Bytes left.
        len: usize,
    },
    /// Version field is not 2.
    #[error("RTCP version {version}, expected 2")]
    BadVersion {
        /// Version found.
        version: u8,
    },
    /// The length field points past the end of the datagram.
    #[error("RTCP length says {declared} bytes, {available} available")]
    LengthPastEnd {
        /// Bytes the length field declares.
        declared: usize,
        /// Bytes left in the datagram.
        available: usize,
    },
    /// Padding count is zero or longer than the packet body.
    #[error("RTCP padding of {padding} bytes in a {available}-byte body")]
    BadPadding {
        /// Padding count from the last byte.
        padding: u8,
        /// Body bytes.
        available: usize,
    },
    /// The body is too short for what the header's count declares.
    #[error("RTCP packet type {packet_type} needs {needed} bytes, body has {len}")]
    Truncated {
        /// Packet type.
        packet_type: u8,
        /// Bytes needed.
        needed: usize,
        /// Body bytes.
        len: usize,
    },
}

/// Why an RTCP packet cannot be serialised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RtcpBuildError {
    /// More than 31 report blocks, chunks or SSRCs in one packet.
    #[error("{count} entries, an RTCP count field holds at most 31")]
    TooManyEntries {
        /// Entries given.
        count: usize,
    },
    /// An SDES item or BYE reason longer than 255 bytes.
    #[error("text of {len} bytes, at most 255 fit")]
    TextTooLong {
        /// Bytes given.
        len: usize,
    },
}

/// One packet of a compound RTCP datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RtcpPacket<'a> {
    /// Sender report (PT 200).
    SenderReport(SenderReport),
    /// Receiver report (PT 201).
    ReceiverReport(ReceiverReport),
    /// Source description (PT 202).
    SourceDescription(Sdes<'a>),
    /// Goodbye (PT 203).
    Goodbye(Bye<'a>),
    /// Extended report (PT 207, RFC 3611).
    ExtendedReport(ExtendedReport),
    /// A packet this crate does not interpret (APP, feedback, unknown):
    /// skipped but kept so a relay can still see it.
    Other {
        /// Packet type.
        packet_type: u8,
        /// The 5-bit count/subtype field.
        count: u8,
        /// Body after the 4-byte header, without padding.
        body: &'a [u8],
    },
}

impl<'a> RtcpPacket<'a> {
    /// Iterates the packets of a compound RTCP datagram. The iterator yields
    /// an error once and then stops; it never panics.
    pub fn parse_compound(buf: &'a [u8]) -> Compound<'a> {
        Compound { rest: buf }
    }

    /// Parses one packet from its packet type, count field and body.
    fn parse_body(packet_type: u8, count: u8, body: &'a [u8]) -> Result<Self, RtcpError> {
        Ok(match packet_type {
            PT_SR => RtcpPacket::SenderReport(SenderReport::parse(count, body)?),
            PT_RR => RtcpPacket::ReceiverReport(ReceiverReport::parse(count, body)?),
            PT_SDES => RtcpPacket::SourceDescription(Sdes::parse(count, body)?),
            PT_BYE => RtcpPacket::Goodbye(Bye::parse(count, body)?),
            PT_XR => RtcpPacket::ExtendedReport(ExtendedReport::parse(body)?),
            _ => RtcpPacket::Other {
                packet_type,
                count,
                body,
            },
        })
    }

    /// Appends this packet to `out` (no padding). `Other` is written back
    /// with its header and body.
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), RtcpBuildError> {
        match self {
            RtcpPacket::SenderReport(p) => p.write(out),
            RtcpPacket::ReceiverReport(p) => p.write(out),
            RtcpPacket::SourceDescription(p) => p.write(out),
            RtcpPacket::Goodbye(p) => p.write(out),
            RtcpPacket::ExtendedReport(p) => {
                p.write(out);
                Ok(())
            }
            RtcpPacket::Other {
                packet_type,
                count,
                body,
            } => {
                let start = begin_packet(out, *count, *packet_type);
                out.extend_from_slice(body);
                pad_to_word(out);
                finish_packet(out, start);
                Ok(())
            }
        }
    }
}

/// Builds a compound datagram from packets, in order.
pub fn build_compound(packets: &[RtcpPacket<'_>]) -> Result<Vec<u8>, RtcpBuildError> {
    let mut out = Vec::new();
    for p in packets {
        p.write(&mut out)?;
    }
    Ok(out)
}

/// Iterator over the packets of one compound RTCP datagram.
#[derive(Debug, Clone)]
pub struct Compound<'a> {
    rest: &'a [u8],
}

impl<'a> Compound<'a> {
    fn next_packet(&mut self) -> Result<RtcpPacket<'a>, RtcpError> {
        let buf = self.rest;
        let [b0, packet_type, l0, l1, ..] = *buf else {
            return Err(RtcpError::TooShort { len: buf.len() });
        };
        let version = b0 >> 6;
        if version != 2 {
            return Err(RtcpError::BadVersion { version });
        }
        let declared = 4 * (usize::from(u16::from_be_bytes([l0, l1])) + 1);
        if declared > buf.len() {
            return Err(RtcpError::LengthPastEnd {
                declared,
                available: buf.len(),
            });
        }
        let packet = &buf[..declared];
        let mut body = &packet[4..];
        if b0 & 0x20 != 0 {
            let padding = packet[declared - 1];
            if padding == 0 || usize::from(padding) > body.len() {
                return Err(RtcpError::BadPadding {
                    padding,
                    available: body.len(),
                });
            }
            body = &body[..body.len() - usize::from(padding)];
        }
        self.rest = &buf[declared..];
        RtcpPacket::parse_body(packet_type, b0 & 0x1f, body)
    }
}

impl<'a> Iterator for Compound<'a> {
    type Item = Result<RtcpPacket<'a>, RtcpError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let item = self.next_packet();
        if item.is_err() {
            self.rest = &[];
        }
        Some(item)
    }
}

/// Reads a big-endian u32 at `at`; callers check the length first.
pub(crate) fn be_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Reads a big-endian u16 at `at`; callers check the length first.
pub(crate) fn be_u16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// Fails with [`RtcpError::Truncated`] unless `body` holds `needed` bytes.
pub(crate) fn need(packet_type: u8, body: &[u8], needed: usize) -> Result<(), RtcpError> {
    if body.len() < needed {
        Err(RtcpError::Truncated {
            packet_type,
            needed,
            len: body.len(),
        })
    } else {
        Ok(())
    }
}

/// Writes a header with a placeholder length; returns the packet's start.
pub(crate) fn begin_packet(out: &mut Vec<u8>, count: u8, packet_type: u8) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0x80 | (count & 0x1f), packet_type, 0, 0]);
    start
}

/// Zero-pads the body to a 32-bit boundary (SDES and BYE need it).
pub(crate) fn pad_to_word(out: &mut Vec<u8>) {
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

/// Fills in the length field of the packet starting at `start`.
pub(crate) fn finish_packet(out: &mut [u8], start: usize) {
    let words = ((out.len() - start) / 4 - 1) as u16;
    out[start + 2..start + 4].copy_from_slice(&words.to_be_bytes());
}

/// Checks a count fits the 5-bit field.
pub(crate) fn count_field(count: usize) -> Result<u8, RtcpBuildError> {
    if count > 31 {
        Err(RtcpBuildError::TooManyEntries { count })
    } else {
        Ok(count as u8)
    }
}

#[cfg(test)]
mod tests;
