//! Source description (RFC 3550 §6.5).

use super::{
    PT_SDES, RtcpBuildError, RtcpError, be_u32, begin_packet, count_field, finish_packet, need,
};
use crate::rtp::Ssrc;

/// SDES item type (open newtype: unknown types are kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SdesType(pub u8);

impl SdesType {
    /// Canonical end-point identifier.
    pub const CNAME: SdesType = SdesType(1);
    /// User name.
    pub const NAME: SdesType = SdesType(2);
    /// Tool name and version.
    pub const TOOL: SdesType = SdesType(6);
}

/// One SDES item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdesItem<'a> {
    /// Item type.
    pub kind: SdesType,
    /// Item text (UTF-8 per RFC 3550, not checked here).
    pub value: &'a [u8],
}

/// The items describing one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdesChunk<'a> {
    /// Source described.
    pub ssrc: Ssrc,
    /// Items in wire order.
    pub items: Vec<SdesItem<'a>>,
}

impl<'a> SdesChunk<'a> {
    /// The CNAME item, if present.
    pub fn cname(&self) -> Option<&'a [u8]> {
        self.items
            .iter()
            .find(|i| i.kind == SdesType::CNAME)
            .map(|i| i.value)
    }
}

/// Source description packet (PT 202).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sdes<'a> {
    /// Chunks, one per source.
    pub chunks: Vec<SdesChunk<'a>>,
}

impl<'a> Sdes<'a> {
    pub(super) fn parse(count: u8, body: &'a [u8]) -> Result<Self, RtcpError> {
        let mut chunks = Vec::with_capacity(usize::from(count));
        let mut at = 0;
        for _ in 0..count {
            need(PT_SDES, body, at + 4)?;
            let ssrc = Ssrc(be_u32(body, at));
            at += 4;
            let mut items = Vec::new();
            loop {
                need(PT_SDES, body, at + 1)?;
                let kind = body[at];
                if kind == 0 {
                    // Null item ends the chunk; skip to the next word boundary.
                    at = (at + 4) & !3;
                    break;
                }
                need(PT_SDES, body, at + 2)?;
                let len = usize::from(body[at + 1]);
                need(PT_SDES, body, at + 2 + len)?;
                items.push(SdesItem {
                    kind: SdesType(kind),
                    value: &body[at + 2..at + 2 + len],
                });
                at += 2 + len;
            }
            chunks.push(SdesChunk { ssrc, items });
        }
        Ok(Sdes { chunks })
    }

    /// A packet with one chunk holding one CNAME.
    pub fn cname(ssrc: Ssrc, cname: &'a [u8]) -> Self {
        Sdes {
            chunks: vec![SdesChunk {
                ssrc,
                items: vec![SdesItem {
                    kind: SdesType::CNAME,
                    value: cname,
                }],
            }],
        }
    }

    /// Appends the packet to `out`.
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), RtcpBuildError> {
        let start = begin_packet(out, count_field(self.chunks.len())?, PT_SDES);
        for chunk in &self.chunks {
            out.extend_from_slice(&chunk.ssrc.0.to_be_bytes());
            for item in &chunk.items {
                let len =
                    u8::try_from(item.value.len()).map_err(|_| RtcpBuildError::TextTooLong {
                        len: item.value.len(),
                    })?;
                out.push(item.kind.0);
                out.push(len);
                out.extend_from_slice(item.value);
            }
            // At least one null byte, then pad to a word boundary.
            out.push(0);
            super::pad_to_word(out);
        }
        finish_packet(out, start);
        Ok(())
    }
}
