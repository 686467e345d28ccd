//! Ogg pages (RFC 3533) and the Ogg encapsulation of Opus (RFC 7845):
//! a page writer, the `OpusHead`/`OpusTags` header packets, and a page
//! scanner that finds where a torn file stops being valid.
//!
//! Pure code: bytes in, bytes out. Every packet this muxer writes fits on
//! one page (Opus packets are at most 1275 bytes, six lacing values), so no
//! packet ever continues on the next page and a file cut after any complete
//! page is a valid Ogg stream.

/// Header flag: the page continues a packet from the previous page.
pub const FLAG_CONTINUED: u8 = 0x01;
/// Header flag: first page of the logical stream.
pub const FLAG_BOS: u8 = 0x02;
/// Header flag: last page of the logical stream.
pub const FLAG_EOS: u8 = 0x04;
/// Size of the fixed part of a page header.
pub const HEADER_LEN: usize = 27;
/// Granule position meaning "no packet ends on this page".
pub const NO_GRANULE: u64 = u64::MAX;
/// The Opus granule clock (RFC 7845 §4): always 48 kHz.
pub const OPUS_GRANULE_RATE: u32 = 48_000;

/// CRC-32 as Ogg uses it: polynomial 0x04C11DB7, not reflected, initial
/// value 0, no final XOR.
pub fn crc32(data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = crc_table();
    data.iter().fold(0u32, |crc, &b| {
        (crc << 8) ^ TABLE[(((crc >> 24) as u8) ^ b) as usize]
    })
}

const fn crc_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut r = (i as u32) << 24;
        let mut bit = 0;
        while bit < 8 {
            r = if r & 0x8000_0000 != 0 {
                (r << 1) ^ 0x04C1_1DB7
            } else {
                r << 1
            };
            bit += 1;
        }
        table[i] = r;
        i += 1;
    }
    table
}

/// Lacing values of one packet: `len / 255` times 255, then `len % 255`.
fn lacing(len: usize) -> impl Iterator<Item = u8> {
    std::iter::repeat_n(255u8, len / 255).chain(std::iter::once((len % 255) as u8))
}

/// Builds Ogg pages of one logical stream.
#[derive(Debug, Clone)]
pub struct PageWriter {
    serial: u32,
    sequence: u32,
    segments: Vec<u8>,
    body: Vec<u8>,
    granule: u64,
    /// Granule of the last packet pushed, for an empty end-of-stream page.
    last_granule: u64,
    packets: usize,
    first: bool,
}

/// The packet does not fit into one Ogg page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a packet of {len} bytes does not fit into one Ogg page")]
pub struct PacketTooLarge {
    /// The packet's length.
    pub len: usize,
}

impl PageWriter {
    /// A writer for the stream with `serial`.
    pub fn new(serial: u32) -> Self {
        Self {
            serial,
            sequence: 0,
            segments: Vec::new(),
            body: Vec::new(),
            granule: NO_GRANULE,
            last_granule: 0,
            packets: 0,
            first: true,
        }
    }

    /// Packets on the open page.
    pub fn pending_packets(&self) -> usize {
        self.packets
    }

    /// Adds a packet that ends at `granule`. When the open page has no room
    /// for it, the open page is closed into `out` first.
    pub fn push_packet(
        &mut self,
        packet: &[u8],
        granule: u64,
        out: &mut Vec<u8>,
    ) -> Result<(), PacketTooLarge> {
        let needed = packet.len() / 255 + 1;
        if needed > 255 {
            return Err(PacketTooLarge { len: packet.len() });
        }
        if self.segments.len() + needed > 255 {
            self.close_page(false, out);
        }
        self.segments.extend(lacing(packet.len()));
        self.body.extend_from_slice(packet);
        self.granule = granule;
        self.last_granule = granule;
        self.packets += 1;
        Ok(())
    }

    /// Closes the open page into `out` (nothing when it is empty, unless
    /// `eos` asks for an end-of-stream page). `eos` marks the stream's last
    /// page; an empty one repeats the last packet's granule position, so
    /// players read the stream's length from it.
    pub fn close_page(&mut self, eos: bool, out: &mut Vec<u8>) {
        if self.packets == 0 && !eos {
            return;
        }
        let mut flags = 0;
        if self.first {
            flags |= FLAG_BOS;
        }
        if eos {
            flags |= FLAG_EOS;
        }
        if self.packets == 0 {
            self.granule = self.last_granule;
        }
        let start = out.len();
        out.extend_from_slice(b"OggS");
        out.push(0);
        out.push(flags);
        out.extend_from_slice(&self.granule.to_le_bytes());
        out.extend_from_slice(&self.serial.to_le_bytes());
        out.extend_from_slice(&self.sequence.to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        out.push(self.segments.len() as u8);
        out.extend_from_slice(&self.segments);
        out.extend_from_slice(&self.body);
        let crc = crc32(&out[start..]);
        out[start + 22..start + 26].copy_from_slice(&crc.to_le_bytes());
        self.sequence = self.sequence.wrapping_add(1);
        self.segments.clear();
        self.body.clear();
        self.packets = 0;
        self.granule = NO_GRANULE;
        self.first = false;
    }
}

/// The `OpusHead` identification header (RFC 7845 §5.1). Mapping family 0
/// for one or two coupled channels; with `uncoupled_streams` family 1 with
/// one mono stream per channel (channel `i` is stream `i`), which keeps the
/// channels fully separate.
pub fn opus_head(
    channels: u8,
    pre_skip: u16,
    input_sample_rate: u32,
    uncoupled_streams: bool,
) -> Vec<u8> {
    let mut head = Vec::with_capacity(21 + usize::from(channels));
    head.extend_from_slice(b"OpusHead");
    head.push(1);
    head.push(channels);
    head.extend_from_slice(&pre_skip.to_le_bytes());
    head.extend_from_slice(&input_sample_rate.to_le_bytes());
    head.extend_from_slice(&0i16.to_le_bytes());
    if uncoupled_streams {
        head.push(1);
        head.push(channels);
        head.push(0);
        head.extend(0..channels);
    } else {
        head.push(0);
    }
    head
}

/// The `OpusTags` comment header (RFC 7845 §5.2).
pub fn opus_tags(vendor: &str, comments: &[&str]) -> Vec<u8> {
    let mut tags = Vec::new();
    tags.extend_from_slice(b"OpusTags");
    tags.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
    tags.extend_from_slice(vendor.as_bytes());
    tags.extend_from_slice(&(comments.len() as u32).to_le_bytes());
    for comment in comments {
        tags.extend_from_slice(&(comment.len() as u32).to_le_bytes());
        tags.extend_from_slice(comment.as_bytes());
    }
    tags
}

/// The fields of an `OpusHead` packet that matter here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpusHead {
    /// Channels.
    pub channels: u8,
    /// Samples (at 48 kHz) to drop at the start.
    pub pre_skip: u16,
    /// The encoder's input rate (informational).
    pub input_sample_rate: u32,
}

/// Parses an `OpusHead` packet; `None` when it is not one.
pub fn parse_opus_head(packet: &[u8]) -> Option<OpusHead> {
    if packet.len() < 19 || !packet.starts_with(b"OpusHead") || packet[8] >> 4 != 0 {
        return None;
    }
    Some(OpusHead {
        channels: packet[9],
        pre_skip: u16::from_le_bytes([packet[10], packet[11]]),
        input_sample_rate: u32::from_le_bytes([packet[12], packet[13], packet[14], packet[15]]),
    })
}

/// One page found by [`scan`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageInfo {
    /// Offset of the page's first byte.
    pub offset: usize,
    /// Length of the page (header, segment table and body).
    pub len: usize,
    /// Header flags.
    pub flags: u8,
    /// Granule position ([`NO_GRANULE`] when no packet ends on the page).
    pub granule: u64,
    /// Page sequence number.
    pub sequence: u32,
}

/// What [`scan`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scan {
    /// Bytes from the start that form whole pages with valid checksums.
    pub valid_len: usize,
    /// The valid pages, in order.
    pub pages: Vec<PageInfo>,
    /// The first packet of the first page (the `OpusHead` of an Ogg/Opus
    /// file), when the first page is valid.
    pub first_packet: Option<Vec<u8>>,
}

impl Scan {
    /// Granule position of the last valid page that has one.
    pub fn last_granule(&self) -> Option<u64> {
        self.pages
            .iter()
            .rev()
            .map(|p| p.granule)
            .find(|g| *g != NO_GRANULE)
    }

    /// Whether the last valid page carries the end-of-stream flag.
    pub fn ends_with_eos(&self) -> bool {
        self.pages.last().is_some_and(|p| p.flags & FLAG_EOS != 0)
    }

    /// Playable length of an Ogg/Opus stream in milliseconds: the last
    /// granule minus the pre-skip, at 48 kHz. `None` when the file has no
    /// valid `OpusHead`.
    pub fn opus_duration_ms(&self) -> Option<u64> {
        let head = parse_opus_head(self.first_packet.as_deref()?)?;
        let granule = self.last_granule().unwrap_or(0);
        Some(granule.saturating_sub(u64::from(head.pre_skip)) * 1000 / u64::from(OPUS_GRANULE_RATE))
    }
}

/// Walks the pages of `data` from the start and stops at the first byte
/// that is not a complete page with a valid checksum (a torn write, a
/// zero-filled tail after a power cut, garbage).
pub fn scan(data: &[u8]) -> Scan {
    let mut result = Scan::default();
    let mut offset = 0;
    while let Some(page) = page_at(data, offset) {
        if result.pages.is_empty() {
            let body_start = offset + HEADER_LEN + data[offset + 26] as usize;
            let segments = &data[offset + HEADER_LEN..body_start];
            let first_len: usize = segments
                .iter()
                .take_while(|s| **s == 255)
                .map(|_| 255usize)
                .sum::<usize>()
                + segments
                    .iter()
                    .find(|s| **s != 255)
                    .map_or(0, |s| *s as usize);
            result.first_packet = data
                .get(body_start..body_start + first_len)
                .map(<[u8]>::to_vec);
        }
        offset += page.len;
        result.pages.push(page);
    }
    result.valid_len = offset;
    result
}

fn page_at(data: &[u8], offset: usize) -> Option<PageInfo> {
    let rest = data.get(offset..)?;
    if rest.len() < HEADER_LEN || !rest.starts_with(b"OggS") || rest[4] != 0 {
        return None;
    }
    let nseg = rest[26] as usize;
    let segments = rest.get(HEADER_LEN..HEADER_LEN + nseg)?;
    let body: usize = segments.iter().map(|s| *s as usize).sum();
    let len = HEADER_LEN + nseg + body;
    let page = rest.get(..len)?;
    let stored = u32::from_le_bytes([page[22], page[23], page[24], page[25]]);
    let mut copy = page.to_vec();
    copy[22..26].fill(0);
    if crc32(&copy) != stored {
        return None;
    }
    let mut granule = [0u8; 8];
    granule.copy_from_slice(&page[6..14]);
    Some(PageInfo {
        offset,
        len,
        flags: page[5],
        granule: u64::from_le_bytes(granule),
        sequence: u32::from_le_bytes([page[18], page[19], page[20], page[21]]),
    })
}

/// Sets the end-of-stream flag on the page at the start of `page` and
/// recomputes its checksum. `page` must be exactly one valid page.
pub fn mark_eos(page: &mut [u8]) {
    if page.len() < HEADER_LEN {
        return;
    }
    page[5] |= FLAG_EOS;
    page[22..26].fill(0);
    let crc = crc32(page);
    page[22..26].copy_from_slice(&crc.to_le_bytes());
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn crc_matches_the_ogg_reference_value() {
        // CRC-32/MPEG-2 without the initial 0xFFFFFFFF and final XOR
        // ("CRC-32/OGG"): check value for "123456789".
        assert_eq!(crc32(b"123456789"), 0x89A1_897F);
    }

    #[test]
    fn pages_round_trip_through_the_scanner() {
        let mut w = PageWriter::new(7);
        let mut out = Vec::new();
        w.push_packet(&opus_head(2, 312, 16_000, true), 0, &mut out)
            .unwrap();
        w.close_page(false, &mut out);
        w.push_packet(&opus_tags("t", &["A=b"]), 0, &mut out)
            .unwrap();
        w.close_page(false, &mut out);
        for i in 0..10u64 {
            w.push_packet(&[i as u8; 300], 312 + (i + 1) * 960, &mut out)
                .unwrap();
        }
        w.close_page(true, &mut out);
        let s = scan(&out);
        assert_eq!(s.valid_len, out.len());
        assert_eq!(s.pages.len(), 3);
        assert_eq!(s.pages[0].flags, FLAG_BOS);
        assert!(s.ends_with_eos());
        assert_eq!(s.last_granule(), Some(312 + 9600));
        assert_eq!(s.opus_duration_ms(), Some(200));
        assert_eq!(
            parse_opus_head(s.first_packet.as_deref().unwrap()),
            Some(OpusHead {
                channels: 2,
                pre_skip: 312,
                input_sample_rate: 16_000
            })
        );
    }

    #[test]
    fn scanner_stops_at_a_torn_or_corrupt_page() {
        let mut w = PageWriter::new(1);
        let mut out = Vec::new();
        for i in 0..3u64 {
            w.push_packet(&[1, 2, 3], i, &mut out).unwrap();
            w.close_page(false, &mut out);
        }
        let page = out.len() / 3;
        assert_eq!(scan(&out[..out.len() - 1]).valid_len, 2 * page);
        let mut bad = out.clone();
        bad[page + 30] ^= 0xff;
        assert_eq!(scan(&bad).valid_len, page);
        let mut zeros = out.clone();
        zeros.extend_from_slice(&[0; 4096]);
        assert_eq!(scan(&zeros).valid_len, out.len());
        assert_eq!(scan(b"garbage").valid_len, 0);
        assert_eq!(scan(&[]).valid_len, 0);
    }

    #[test]
    fn a_full_page_is_closed_before_the_next_packet() {
        let mut w = PageWriter::new(1);
        let mut out = Vec::new();
        // 100 packets of 600 bytes need 3 lacing values each: 85 fit.
        for i in 0..100u64 {
            w.push_packet(&[0; 600], i, &mut out).unwrap();
        }
        w.close_page(false, &mut out);
        let s = scan(&out);
        assert_eq!(s.pages.len(), 2);
        assert_eq!(s.pages[0].granule, 84);
        assert_eq!(s.pages[1].granule, 99);
        assert_eq!(
            w.push_packet(&vec![0; 255 * 255], 0, &mut out),
            Err(PacketTooLarge { len: 255 * 255 })
        );
    }

    #[test]
    fn mutated_files_never_panic_the_scanner() {
        let mut w = PageWriter::new(3);
        let mut out = Vec::new();
        w.push_packet(&opus_head(2, 312, 16_000, true), 0, &mut out)
            .unwrap();
        w.close_page(false, &mut out);
        for i in 0..20u64 {
            w.push_packet(&[i as u8; 90], 312 + i * 960, &mut out)
                .unwrap();
            if i % 5 == 4 {
                w.close_page(false, &mut out);
            }
        }
        for m in crate::recording::mutations(&out, 3000) {
            let s = scan(&m);
            assert!(s.valid_len <= m.len());
            let _ = s.opus_duration_ms();
            let _ = parse_opus_head(&m);
        }
    }

    #[test]
    fn mark_eos_keeps_the_page_valid() {
        let mut w = PageWriter::new(1);
        let mut out = Vec::new();
        w.push_packet(&[5; 10], 960, &mut out).unwrap();
        w.close_page(false, &mut out);
        assert!(!scan(&out).ends_with_eos());
        mark_eos(&mut out);
        let s = scan(&out);
        assert_eq!(s.valid_len, out.len());
        assert!(s.ends_with_eos());
    }
}
