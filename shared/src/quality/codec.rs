//! Codecs the product negotiates and their impairment values in narrowband
//! E-model terms. The table lives in [`Codec::impairment`] and nowhere else.

use serde::{Deserialize, Serialize};

/// A speech codec of a call leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "snake_case")]
pub enum Codec {
    /// G.711 µ-law.
    Pcmu,
    /// G.711 A-law.
    Pcma,
    /// G.722 (64 kbit/s wideband).
    G722,
    /// Opus at the given (average) bitrate in bit/s.
    Opus {
        /// Target bitrate in bit/s.
        bitrate: u32,
    },
}

/// The codec-specific E-model inputs: equipment impairment factor `Ie` and
/// packet-loss robustness factor `Bpl` (narrowband scale of G.107).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CodecImpairment {
    /// Equipment impairment factor Ie (0 = transparent).
    pub ie: f64,
    /// Packet-loss robustness factor Bpl (higher = more robust).
    pub bpl: f64,
}

/// Bpl of G.711 with the packet loss concealment of G.711 Appendix I
/// (ITU-T G.113 Appendix I, Table I.3). The appliance always conceals lost
/// packets, so G.711 legs use this value rather than 4.3 (no concealment).
pub const G711_PLC_BPL: f64 = 25.1;

/// Bpl of G.711 without packet loss concealment (G.113 Appendix I); also
/// the G.107 default. Kept for reference and for legs known not to conceal.
pub const G711_NO_PLC_BPL: f64 = 4.3;

impl Codec {
    /// `Ie` and `Bpl` of this codec in narrowband E-model terms.
    ///
    /// Sources, per row:
    /// - **G.711 (PCMU, PCMA)**: ITU-T G.113 Appendix I: Ie = 0; Bpl = 25.1
    ///   with G.711 Appendix I concealment, which the appliance applies.
    /// - **G.722**: the narrowband tables of G.113 do not list it (its
    ///   Ie,wb = 13 belongs to the wideband model of G.107.1, on another
    ///   scale). Decision: rate it like concealed G.711 (Ie = 0, Bpl = 25.1).
    ///   This deliberately ignores the wideband advantage, so a G.722 leg
    ///   never scores better than a G.711 leg in the same network: a
    ///   conservative choice for alerting, and one scale for every leg.
    /// - **Opus**: no ITU-T value exists. Engineering estimate, placing Opus
    ///   no worse than the G.113 narrowband codecs of similar bitrate:
    ///   below 12 kbit/s like G.729A (Ie = 11), 12 to 20 kbit/s like
    ///   GSM-EFR / AMR-NB 12.2 (Ie = 5), from 20 kbit/s transparent in narrowband
    ///   terms (Ie = 0; listening tests put Opus wideband at these rates at
    ///   or above G.711). Bpl = 20 at every rate: Opus PLC alone, without
    ///   relying on in-band FEC being negotiated; below the 25.1 of G.711
    ///   PLC, so again on the conservative side.
    pub fn impairment(self) -> CodecImpairment {
        match self {
            Codec::Pcmu | Codec::Pcma | Codec::G722 => CodecImpairment {
                ie: 0.0,
                bpl: G711_PLC_BPL,
            },
            Codec::Opus { bitrate } => CodecImpairment {
                ie: match bitrate {
                    0..12_000 => 11.0,
                    12_000..20_000 => 5.0,
                    _ => 0.0,
                },
                bpl: 20.0,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g711_is_transparent_with_plc_robustness() {
        for codec in [Codec::Pcmu, Codec::Pcma] {
            assert_eq!(codec.impairment(), CodecImpairment { ie: 0.0, bpl: 25.1 });
        }
    }

    #[test]
    fn g722_is_rated_like_concealed_g711() {
        assert_eq!(Codec::G722.impairment(), Codec::Pcma.impairment());
    }

    #[test]
    fn opus_impairment_never_grows_with_bitrate() {
        let table = [
            (6_000, 11.0),
            (11_999, 11.0),
            (12_000, 5.0),
            (19_999, 5.0),
            (20_000, 0.0),
            (32_000, 0.0),
            (510_000, 0.0),
        ];
        for (bitrate, ie) in table {
            let got = Codec::Opus { bitrate }.impairment();
            assert!(
                (got.ie - ie).abs() < f64::EPSILON,
                "Opus {bitrate}: Ie {}",
                got.ie
            );
            assert!((got.bpl - 20.0).abs() < f64::EPSILON);
        }
    }

    #[test]
    fn codec_serialises_with_a_name_tag() {
        let json = serde_json::to_string(&Codec::Opus { bitrate: 24_000 }).unwrap();
        assert_eq!(json, r#"{"name":"opus","bitrate":24000}"#);
        assert_eq!(
            serde_json::to_string(&Codec::Pcma).unwrap(),
            r#"{"name":"pcma"}"#
        );
        let back: Codec = serde_json::from_str(&json).unwrap();
        assert_eq!(back, Codec::Opus { bitrate: 24_000 });
    }
}
