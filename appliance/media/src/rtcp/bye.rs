//! Goodbye (RFC 3550 §6.6).

use super::{
    PT_BYE, RtcpBuildError, RtcpError, be_u32, begin_packet, count_field, finish_packet, need,
    pad_to_word,
};
use crate::rtp::Ssrc;

/// Goodbye packet (PT 203).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bye<'a> {
    /// Sources leaving.
    pub sources: Vec<Ssrc>,
    /// Optional reason text.
    pub reason: Option<&'a [u8]>,
}

impl<'a> Bye<'a> {
    pub(super) fn parse(count: u8, body: &'a [u8]) -> Result<Self, RtcpError> {
        let list = 4 * usize::from(count);
        need(PT_BYE, body, list)?;
        let sources = body[..list]
            .chunks_exact(4)
            .map(|c| Ssrc(be_u32(c, 0)))
            .collect();
        let reason = if body.len() > list {
            let len = usize::from(body[list]);
            need(PT_BYE, body, list + 1 + len)?;
            Some(&body[list + 1..list + 1 + len])
        } else {
            None
        };
        Ok(Bye { sources, reason })
    }

    /// Appends the packet to `out`.
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), RtcpBuildError> {
        let start = begin_packet(out, count_field(self.sources.len())?, PT_BYE);
        for s in &self.sources {
            out.extend_from_slice(&s.0.to_be_bytes());
        }
        if let Some(reason) = self.reason {
            let len = u8::try_from(reason.len())
                .map_err(|_| RtcpBuildError::TextTooLong { len: reason.len() })?;
            out.push(len);
            out.extend_from_slice(reason);
            pad_to_word(out);
        }
        finish_packet(out, start);
        Ok(())
    }
}
