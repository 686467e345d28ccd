//! G.711 µ-law and A-law (ITU-T G.711), bit-exact with the ITU-T G.191
//! software tools library (`g711.c`: `ulaw_compress`, `ulaw_expand`,
//! `alaw_compress`, `alaw_expand`) on 16-bit linear samples.
//!
//! Decoding goes through 256-entry tables computed at compile time; encoding
//! is the G.191 segment search (a handful of integer operations per sample).

use super::plc::Concealer;
use super::{AudioDecoder, AudioEncoder, CodecError, CodecKind};

/// Encodes one 16-bit linear sample to µ-law (G.191 `ulaw_compress`).
pub fn linear_to_ulaw(sample: i16) -> u8 {
    let x = i32::from(sample);
    // 14-bit magnitude plus the µ-law bias of 33; negative values use the
    // one's complement, as G.191 does.
    let magnitude = if x < 0 { (!x) >> 2 } else { x >> 2 };
    let absno = (magnitude + 33).min(0x1FFF);
    // Segment: position of the highest set bit above bit 5.
    let segno = 33 - (absno >> 6).leading_zeros().cast_signed();
    let high = 8 - segno;
    let low = 0x0F - ((absno >> segno) & 0x0F);
    let code = (high << 4) | low;
    if x >= 0 {
        (code | 0x80) as u8
    } else {
        code as u8
    }
}

/// Decodes one µ-law code to 16-bit linear (G.191 `ulaw_expand`).
pub fn ulaw_to_linear(code: u8) -> i16 {
    ULAW_TABLE[usize::from(code)]
}

/// Encodes one 16-bit linear sample to A-law (G.191 `alaw_compress`).
pub fn linear_to_alaw(sample: i16) -> u8 {
    let x = i32::from(sample);
    let mut ix = if x < 0 { (!x) >> 4 } else { x >> 4 };
    if ix > 15 {
        let mut exponent = 1;
        while ix > 16 + 15 {
            ix >>= 1;
            exponent += 1;
        }
        ix -= 16;
        ix += exponent << 4;
    }
    if x >= 0 {
        ix |= 0x80;
    }
    (ix ^ 0x55) as u8
}

/// Decodes one A-law code to 16-bit linear (G.191 `alaw_expand`).
pub fn alaw_to_linear(code: u8) -> i16 {
    ALAW_TABLE[usize::from(code)]
}

const fn ulaw_expand(code: u8) -> i16 {
    let mantissa = !(code as i32);
    let exponent = (mantissa >> 4) & 0x07;
    let segment = exponent + 1;
    let mantissa = mantissa & 0x0F;
    let step = 4 << segment;
    let magnitude = (0x80 << exponent) + step * mantissa + step / 2 - 4 * 33;
    if code < 0x80 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

const fn alaw_expand(code: u8) -> i16 {
    let ix = ((code ^ 0x55) & 0x7F) as i32;
    let exponent = ix >> 4;
    let mut mantissa = ix & 0x0F;
    if exponent > 0 {
        mantissa += 16;
    }
    mantissa = (mantissa << 4) + 0x08;
    if exponent > 1 {
        mantissa <<= exponent - 1;
    }
    if code > 127 {
        mantissa as i16
    } else {
        -mantissa as i16
    }
}

const fn build_table(ulaw: bool) -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = if ulaw {
            ulaw_expand(i as u8)
        } else {
            alaw_expand(i as u8)
        };
        i += 1;
    }
    table
}

static ULAW_TABLE: [i16; 256] = build_table(true);
static ALAW_TABLE: [i16; 256] = build_table(false);

macro_rules! g711_codec {
    ($enc:ident, $dec:ident, $kind:expr, $to_code:path, $from_code:path, $law:literal) => {
        #[doc = concat!("G.711 ", $law, " encoder (stateless; any frame length).")]
        #[derive(Debug, Clone, Default)]
        pub struct $enc;

        impl $enc {
            #[doc = concat!("A ", $law, " encoder.")]
            pub fn new() -> Self {
                Self
            }
        }

        impl AudioEncoder for $enc {
            fn kind(&self) -> CodecKind {
                $kind
            }

            fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> Result<usize, CodecError> {
                if pcm.is_empty() {
                    return Err(CodecError::FrameLength {
                        kind: $kind,
                        expected: $kind.samples_per_20ms(),
                        got: 0,
                    });
                }
                out.extend(pcm.iter().map(|&s| $to_code(s)));
                Ok(pcm.len())
            }
        }

        #[doc = concat!("G.711 ", $law, " decoder with pitch-repetition concealment.")]
        #[derive(Debug, Clone)]
        pub struct $dec {
            plc: Concealer,
        }

        impl Default for $dec {
            fn default() -> Self {
                Self::new()
            }
        }

        impl $dec {
            #[doc = concat!("A ", $law, " decoder.")]
            pub fn new() -> Self {
                Self {
                    plc: Concealer::new(8000),
                }
            }
        }

        impl AudioDecoder for $dec {
            fn kind(&self) -> CodecKind {
                $kind
            }

            fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<usize, CodecError> {
                if payload.is_empty() {
                    return Err(CodecError::MalformedPayload {
                        kind: $kind,
                        len: 0,
                    });
                }
                let start = out.len();
                out.extend(payload.iter().map(|&c| $from_code(c)));
                self.plc.good(&mut out[start..]);
                Ok(payload.len())
            }

            fn conceal(&mut self, samples: usize, out: &mut Vec<i16>) -> Result<usize, CodecError> {
                self.plc.conceal(samples, out);
                Ok(samples)
            }

            fn recover(
                &mut self,
                _next_payload: &[u8],
                _samples: usize,
                _out: &mut Vec<i16>,
            ) -> Result<usize, CodecError> {
                Ok(0)
            }
        }
    };
}

g711_codec!(
    UlawEncoder,
    UlawDecoder,
    CodecKind::Pcmu,
    linear_to_ulaw,
    ulaw_to_linear,
    "µ-law"
);
g711_codec!(
    AlawEncoder,
    AlawDecoder,
    CodecKind::Pcma,
    linear_to_alaw,
    alaw_to_linear,
    "A-law"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulaw_known_values_match_g191() {
        // Values computed by hand from the G.191 algorithm and the G.711
        // tables: 0 → 0xFF, full scale → 0x80/0x00, −1 → 0x7F.
        assert_eq!(linear_to_ulaw(0), 0xFF);
        assert_eq!(linear_to_ulaw(-1), 0x7F);
        assert_eq!(linear_to_ulaw(i16::MAX), 0x80);
        assert_eq!(linear_to_ulaw(i16::MIN), 0x00);
        assert_eq!(ulaw_to_linear(0xFF), 0);
        assert_eq!(ulaw_to_linear(0x7F), 0);
        assert_eq!(ulaw_to_linear(0x80), 32_124);
        assert_eq!(ulaw_to_linear(0x00), -32_124);
        // Segment 0 step is 8 in 16-bit units: code 0xFE decodes to 8.
        assert_eq!(ulaw_to_linear(0xFE), 8);
        assert_eq!(ulaw_to_linear(0xF0), 120);
        assert_eq!(ulaw_to_linear(0xEF), 132);
        assert_eq!(ulaw_to_linear(0xE0), 372);
        assert_eq!(ulaw_to_linear(0xDF), 396);
    }

    #[test]
    fn alaw_known_values_match_g191() {
        assert_eq!(linear_to_alaw(0), 0xD5);
        assert_eq!(linear_to_alaw(-1), 0x55);
        assert_eq!(linear_to_alaw(i16::MAX), 0xAA);
        assert_eq!(linear_to_alaw(i16::MIN), 0x2A);
        assert_eq!(alaw_to_linear(0xD5), 8);
        assert_eq!(alaw_to_linear(0x55), -8);
        assert_eq!(alaw_to_linear(0xAA), 32_256);
        assert_eq!(alaw_to_linear(0x2A), -32_256);
        assert_eq!(alaw_to_linear(0xD4), 24);
    }

    #[test]
    fn every_code_round_trips_through_linear() {
        for code in 0..=255u8 {
            let u = ulaw_to_linear(code);
            // µ-law has two zeros (0x7F and 0xFF); both encode back to +0.
            let back = linear_to_ulaw(u);
            if u == 0 {
                assert_eq!(back, 0xFF);
            } else {
                assert_eq!(back, code, "µ-law code {code:#04x} ({u})");
            }
            let a = alaw_to_linear(code);
            assert_eq!(linear_to_alaw(a), code, "A-law code {code:#04x} ({a})");
        }
    }

    #[test]
    fn quantisation_error_stays_within_half_a_step() {
        for x in i16::MIN..=i16::MAX {
            let u = i32::from(ulaw_to_linear(linear_to_ulaw(x)));
            let a = i32::from(alaw_to_linear(linear_to_alaw(x)));
            let xi = i32::from(x);
            // Half a quantisation step: at most 1/32 of the magnitude plus
            // half the smallest step; beyond full scale the overload adds.
            let bound = 8 + xi.abs() / 16;
            let overload_u = (xi.abs() - 32_124).max(0);
            let overload_a = (xi.abs() - 32_256).max(0);
            assert!((u - xi).abs() <= bound + overload_u, "µ {x} → {u}");
            assert!((a - xi).abs() <= bound + overload_a, "A {x} → {a}");
        }
    }

    #[test]
    fn encoder_and_decoder_handle_a_frame() {
        let pcm: Vec<i16> = (0..160).map(|i| (i * 100 - 8000) as i16).collect();
        let mut enc = UlawEncoder::new();
        let mut payload = Vec::new();
        assert_eq!(enc.encode(&pcm, &mut payload).ok(), Some(160));
        let mut dec = UlawDecoder::new();
        let mut out = Vec::new();
        assert_eq!(dec.decode(&payload, &mut out).ok(), Some(160));
        assert_eq!(out.len(), 160);
        assert!(dec.decode(&[], &mut out).is_err());
        assert!(enc.encode(&[], &mut payload).is_err());
        assert_eq!(dec.recover(&payload, 160, &mut out).ok(), Some(0));
    }
}
