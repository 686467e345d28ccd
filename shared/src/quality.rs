//! Call quality model: the narrowband E-model of ITU-T G.107 (06/2015),
//! giving a transmission rating R and a MOS per call leg.
//!
//! The appliance feeds it RTP/RTCP measurements per leg; the cloud uses the
//! same functions for rollups and alerting, so both sides rate alike.
//!
//! - [`EModel`] holds every G.107 parameter (defaults of G.107 Table 1,
//!   R = 93.2) and computes R from them.
//! - [`Inputs`] is what a VoIP leg varies: delay, jitter buffer, codec,
//!   packet loss and burstiness; [`Inputs::score`] rates it.
//! - [`estimate`] rates a leg from measurements that may be missing, under
//!   the rule *unknown, never a default*: without a loss figure there is no
//!   score; a missing delay or burst ratio leaves its impairment out and the
//!   [`Estimate`] says so.
//! - [`mos_from_r`], [`r_from_mos`] and [`QualityBand`] map ratings to MOS
//!   (G.107 Annex B) and to the bands shown to users.
//!
//! Every function here is pure, cheap and allocation-free.

// Reason: the docs quote G.107 symbols (BurstR, Ppl, Ie-eff) as prose, the
// way the Recommendation writes them; backticks would suggest Rust items.
#![allow(clippy::doc_markdown)]

mod codec;
mod emodel;
mod loss;
mod mos;

pub use codec::{Codec, CodecImpairment, G711_NO_PLC_BPL, G711_PLC_BPL};
pub use emodel::{Breakdown, EModel};
pub use loss::{LossPattern, burst_ratio_from_gilbert, burst_ratio_from_mean_burst};
pub use mos::{QualityBand, R_AT_MOS_FLOOR, mos_from_r, r_from_mos};

use serde::{Deserialize, Serialize};

/// An input value outside its domain.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum InputError {
    /// A delay that is negative, NaN or infinite.
    #[error("{field} must be a finite number of milliseconds >= 0, got {value}")]
    Delay {
        /// Which delay: `mouth_to_ear_delay_ms` or `jitter_buffer_ms`.
        field: &'static str,
        /// The rejected value.
        value: f64,
    },
    /// A loss percentage outside [0, 100] or NaN.
    #[error("packet loss must be a percentage in [0, 100], got {value}")]
    PacketLoss {
        /// The rejected value.
        value: f64,
    },
    /// A burst ratio that is not a finite number above 0.
    #[error("burst ratio must be a finite number > 0, got {value}")]
    BurstRatio {
        /// The rejected value.
        value: f64,
    },
}

/// What one call leg contributes to the E-model. Everything else keeps the
/// G.107 defaults (standard handsets, quiet rooms, no extra advantage).
///
/// Delay: the absolute delay is Ta = `mouth_to_ear_delay_ms` +
/// `jitter_buffer_ms`. Jitter enters the model only this way, as the delay
/// the de-jitter buffer adds (packets arriving too late for the buffer
/// count as lost, in `packet_loss_pct`). The echo delays follow the G.107
/// practice for IP connections without echo problems: T = Ta and
/// Tr = 2·Ta; the default TELR = 65 dB and WEPL = 110 dB stand for working
/// echo control. To model other echo paths, adjust the fields of
/// [`Inputs::to_emodel`]'s result.
///
/// R never rises with delay from 2 ms on. Below about 4 ms the G.107 talker
/// echo term is slightly negative (at most 0.11 R), so R peaks near 1 ms;
/// real VoIP delays (20 ms packetisation alone) never get there.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Inputs {
    /// One-way mouth-to-ear delay without the jitter buffer (ms): network
    /// transit (e.g. RTT / 2), packetisation, codec look-ahead and
    /// processing, as far as the caller accounts for them.
    pub mouth_to_ear_delay_ms: f64,
    /// Delay added by the de-jitter buffer (ms); 0 when
    /// `mouth_to_ear_delay_ms` already includes it.
    pub jitter_buffer_ms: f64,
    /// The leg's codec, which sets Ie and Bpl (see [`Codec::impairment`]).
    pub codec: Codec,
    /// Packet loss Ppl in percent, 0 to 100, counting late discards.
    pub packet_loss_pct: f64,
    /// BurstR: 1 for random loss, above 1 for bursty loss (see
    /// [`LossPattern`], [`burst_ratio_from_gilbert`]).
    pub burst_ratio: f64,
}

impl Inputs {
    /// Checks every value against its domain.
    pub fn validate(&self) -> Result<(), InputError> {
        for (field, value) in [
            ("mouth_to_ear_delay_ms", self.mouth_to_ear_delay_ms),
            ("jitter_buffer_ms", self.jitter_buffer_ms),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(InputError::Delay { field, value });
            }
        }
        if !(0.0..=100.0).contains(&self.packet_loss_pct) {
            return Err(InputError::PacketLoss {
                value: self.packet_loss_pct,
            });
        }
        if !(self.burst_ratio.is_finite() && self.burst_ratio > 0.0) {
            return Err(InputError::BurstRatio {
                value: self.burst_ratio,
            });
        }
        Ok(())
    }

    /// The G.107 parameter set for this leg: defaults, with Ta, T, Tr, Ie,
    /// Bpl, Ppl and BurstR taken from the inputs. Does not validate.
    pub fn to_emodel(&self) -> EModel {
        let ta = self.mouth_to_ear_delay_ms + self.jitter_buffer_ms;
        let CodecImpairment { ie, bpl } = self.codec.impairment();
        EModel {
            Ta: ta,
            T: ta,
            Tr: 2.0 * ta,
            Ie: ie,
            Bpl: bpl,
            Ppl: self.packet_loss_pct,
            BurstR: self.burst_ratio,
            ..EModel::default()
        }
    }

    /// Rates the leg.
    pub fn score(&self) -> Result<Score, InputError> {
        self.validate()?;
        Ok(Score::from_r(self.to_emodel().r()))
    }
}

/// A rating: the E-model's R and the MOS it maps to.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// Transmission rating factor R (about 0 to 100; 93.2 for a perfect
    /// narrowband leg).
    pub r: f64,
    /// MOS per G.107 Annex B, in [1, 4.5].
    pub mos: f64,
}

impl Score {
    /// The score of a rating R.
    pub fn from_r(r: f64) -> Self {
        Self {
            r,
            mos: mos_from_r(r),
        }
    }

    /// The quality band of this score's MOS.
    pub fn band(&self) -> QualityBand {
        QualityBand::from_mos(self.mos)
    }
}

/// Measurements of one leg as the appliance or the cloud has them: any of
/// them may be unknown (no RTCP yet, no RTT measured, no per-packet view).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Measurements {
    /// The leg's codec.
    pub codec: Codec,
    /// Packet loss in percent, if measured.
    pub packet_loss_pct: Option<f64>,
    /// Burst ratio, if the loss pattern was observed (e.g. [`LossPattern`]).
    pub burst_ratio: Option<f64>,
    /// One-way mouth-to-ear delay without the jitter buffer (ms), if known
    /// (e.g. RTT / 2 plus packetisation).
    pub mouth_to_ear_delay_ms: Option<f64>,
    /// De-jitter buffer delay (ms), if known.
    pub jitter_buffer_ms: Option<f64>,
}

/// A score from [`estimate`], with which impairments it includes. When a
/// flag is false the score leaves that impairment out and is therefore an
/// upper bound (optimistic), never a guess.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// The rating.
    pub score: Score,
    /// Whether the delay impairments (Idd, echo) are included: false when
    /// the mouth-to-ear delay was unknown.
    pub delay_included: bool,
    /// Whether loss burstiness is included: false when the burst ratio was
    /// unknown and loss was rated as random (BurstR = 1, the least harmful
    /// pattern short of unusually smooth loss).
    pub burstiness_included: bool,
}

/// Rates a leg from possibly incomplete measurements. The rule is *unknown,
/// never a default*:
///
/// - unknown packet loss: no score (`Ok(None)`); loss dominates the rating
///   and nothing can stand in for it;
/// - unknown delay: the delay impairments are left out (Ta = T = Tr = 0, the
///   jitter buffer is ignored too) and `delay_included` is false;
/// - unknown burst ratio: loss is rated as random (BurstR = 1) and
///   `burstiness_included` is false;
/// - unknown jitter buffer with a known delay: the delay is taken as given
///   (it may already include the buffer) and `delay_included` stays true.
///
/// Known values outside their domain are an error, not unknown.
pub fn estimate(m: &Measurements) -> Result<Option<Estimate>, InputError> {
    let Some(packet_loss_pct) = m.packet_loss_pct else {
        return Ok(None);
    };
    let (mouth_to_ear_delay_ms, jitter_buffer_ms) = match m.mouth_to_ear_delay_ms {
        Some(delay) => (delay, m.jitter_buffer_ms.unwrap_or(0.0)),
        None => (0.0, 0.0),
    };
    let inputs = Inputs {
        mouth_to_ear_delay_ms,
        jitter_buffer_ms,
        codec: m.codec,
        packet_loss_pct,
        burst_ratio: m.burst_ratio.unwrap_or(1.0),
    };
    // A jitter buffer that is known but unused above must still be valid.
    if let Some(value) = m.jitter_buffer_ms
        && !(value.is_finite() && value >= 0.0)
    {
        return Err(InputError::Delay {
            field: "jitter_buffer_ms",
            value,
        });
    }
    Ok(Some(Estimate {
        score: inputs.score()?,
        delay_included: m.mouth_to_ear_delay_ms.is_some(),
        burstiness_included: m.burst_ratio.is_some(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn leg(delay: f64, loss: f64, burst: f64) -> Inputs {
        Inputs {
            mouth_to_ear_delay_ms: delay,
            jitter_buffer_ms: 0.0,
            codec: Codec::Pcma,
            packet_loss_pct: loss,
            burst_ratio: burst,
        }
    }

    #[test]
    fn g107_defaults_rate_93_2_and_mos_4_41() {
        let score = Score::from_r(EModel::default().r());
        assert!((score.r - 93.2).abs() < 0.01, "R = {}", score.r);
        assert!((score.mos - 4.41).abs() < 0.01, "MOS = {}", score.mos);
        assert!((score.mos - 4.409).abs() < 0.001, "MOS = {}", score.mos);
        assert_eq!(score.band(), QualityBand::Excellent);
    }

    #[test]
    fn g711_without_loss_at_low_delay_rates_like_the_defaults() {
        let s = leg(0.0, 0.0, 1.0).score().unwrap();
        assert!((s.r - 93.2).abs() < 0.01, "R = {}", s.r);
        // Echo terms (T = Ta, Tr = 2 Ta) cost about 1.4 R by 50 ms.
        for delay in [5.0, 20.0, 50.0] {
            let s = leg(delay, 0.0, 1.0).score().unwrap();
            assert!(s.r > 91.5 && s.r < 93.2, "{delay} ms: R = {}", s.r);
        }
        // Still "users very satisfied" at the G.114 planning limit of 150 ms.
        let s = leg(150.0, 0.0, 1.0).score().unwrap();
        assert_eq!(s.band(), QualityBand::Excellent, "R = {}", s.r);
    }

    #[test]
    fn talker_echo_formula_dips_below_zero_under_4_ms() {
        // A property of the G.107 Idte formula, not a bug here: with the
        // default TELR, Idte is slightly negative for 0 < T < ~4 ms, so R
        // peaks near 1 ms. VoIP delays are never that short; the dip is
        // bounded and documented, and R falls monotonically beyond it.
        let b = leg(1.0, 0.0, 1.0).to_emodel().breakdown();
        assert!(b.idte < 0.0 && b.idte > -0.12, "Idte = {}", b.idte);
        let r0 = leg(0.0, 0.0, 1.0).score().unwrap().r;
        assert!(b.r - r0 < 0.06);
    }

    #[test]
    fn reference_points_from_the_formulas() {
        // G.711 with PLC at 1 % random loss: Ie-eff = 95 / (1 + 25.1) = 3.64.
        let s = leg(0.0, 1.0, 1.0).score().unwrap();
        let expected = EModel::default().r() - 95.0 / 26.1;
        assert!((s.r - expected).abs() < 1e-9, "R = {}", s.r);
        // 400 ms one way is well into "many users dissatisfied" territory.
        let far = leg(400.0, 0.0, 1.0).score().unwrap();
        assert!(far.r < 75.0 && far.r > 50.0, "R = {}", far.r);
    }

    #[test]
    fn jitter_buffer_counts_as_delay() {
        let split = Inputs {
            jitter_buffer_ms: 120.0,
            ..leg(100.0, 0.0, 1.0)
        };
        let whole = leg(220.0, 0.0, 1.0);
        assert_eq!(split.to_emodel(), whole.to_emodel());
        assert!(split.score().unwrap().r < leg(100.0, 0.0, 1.0).score().unwrap().r);
    }

    #[test]
    fn echo_delays_follow_ta() {
        let m = leg(80.0, 0.0, 1.0).to_emodel();
        assert_eq!((m.Ta, m.T, m.Tr), (80.0, 80.0, 160.0));
    }

    #[test]
    fn codec_sets_ie_and_bpl() {
        let m = Inputs {
            codec: Codec::Opus { bitrate: 8_000 },
            ..leg(0.0, 2.0, 1.5)
        }
        .to_emodel();
        assert_eq!((m.Ie, m.Bpl, m.Ppl, m.BurstR), (11.0, 20.0, 2.0, 1.5));
    }

    #[test]
    fn invalid_inputs_are_rejected_with_the_field() {
        let table = [
            (
                leg(-1.0, 0.0, 1.0),
                InputError::Delay {
                    field: "mouth_to_ear_delay_ms",
                    value: -1.0,
                },
            ),
            (
                Inputs {
                    jitter_buffer_ms: f64::INFINITY,
                    ..leg(0.0, 0.0, 1.0)
                },
                InputError::Delay {
                    field: "jitter_buffer_ms",
                    value: f64::INFINITY,
                },
            ),
            (
                leg(0.0, 100.5, 1.0),
                InputError::PacketLoss { value: 100.5 },
            ),
            (leg(0.0, 1.0, 0.0), InputError::BurstRatio { value: 0.0 }),
        ];
        for (inputs, error) in table {
            assert_eq!(inputs.score(), Err(error));
        }
        assert!(matches!(
            leg(0.0, f64::NAN, 1.0).score(),
            Err(InputError::PacketLoss { .. })
        ));
    }

    fn measured() -> Measurements {
        Measurements {
            codec: Codec::Pcmu,
            packet_loss_pct: Some(3.0),
            burst_ratio: Some(2.0),
            mouth_to_ear_delay_ms: Some(150.0),
            jitter_buffer_ms: Some(60.0),
        }
    }

    #[test]
    fn estimate_without_loss_is_none() {
        let m = Measurements {
            packet_loss_pct: None,
            ..measured()
        };
        assert_eq!(estimate(&m), Ok(None));
    }

    #[test]
    fn estimate_with_everything_known_equals_the_model() {
        let e = estimate(&measured()).unwrap().unwrap();
        let direct = Inputs {
            mouth_to_ear_delay_ms: 150.0,
            jitter_buffer_ms: 60.0,
            codec: Codec::Pcmu,
            packet_loss_pct: 3.0,
            burst_ratio: 2.0,
        }
        .score()
        .unwrap();
        assert_eq!(e.score, direct);
        assert!(e.delay_included && e.burstiness_included);
    }

    #[test]
    fn estimate_leaves_unknown_impairments_out_and_says_so() {
        let full = estimate(&measured()).unwrap().unwrap();

        let no_delay = estimate(&Measurements {
            mouth_to_ear_delay_ms: None,
            ..measured()
        })
        .unwrap()
        .unwrap();
        assert!(!no_delay.delay_included && no_delay.burstiness_included);
        assert!(no_delay.score.r > full.score.r, "must be an upper bound");

        let no_burst = estimate(&Measurements {
            burst_ratio: None,
            ..measured()
        })
        .unwrap()
        .unwrap();
        assert!(no_burst.delay_included && !no_burst.burstiness_included);
        assert!(no_burst.score.r > full.score.r, "must be an upper bound");
    }

    #[test]
    fn estimate_rejects_known_but_invalid_values() {
        let bad_jb = Measurements {
            mouth_to_ear_delay_ms: None,
            jitter_buffer_ms: Some(-5.0),
            ..measured()
        };
        assert_eq!(
            estimate(&bad_jb),
            Err(InputError::Delay {
                field: "jitter_buffer_ms",
                value: -5.0
            })
        );
        let bad_loss = Measurements {
            packet_loss_pct: Some(-1.0),
            ..measured()
        };
        assert_eq!(
            estimate(&bad_loss),
            Err(InputError::PacketLoss { value: -1.0 })
        );
    }

    #[test]
    fn score_serialises_as_plain_numbers() {
        let s = Score { r: 80.0, mos: 4.0 };
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            r#"{"r":80.0,"mos":4.0}"#
        );
    }

    fn codec_strategy() -> impl Strategy<Value = Codec> {
        prop_oneof![
            Just(Codec::Pcmu),
            Just(Codec::Pcma),
            Just(Codec::G722),
            (6_000u32..128_000).prop_map(|bitrate| Codec::Opus { bitrate }),
        ]
    }

    proptest! {
        #[test]
        fn r_never_rises_with_delay(
            codec in codec_strategy(),
            a in 2.0f64..1000.0,
            b in 2.0f64..1000.0,
            loss in 0.0f64..100.0,
            burst in 1.0f64..10.0,
        ) {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            let r = |d| Inputs { codec, ..leg(d, loss, burst) }.score().unwrap().r;
            prop_assert!(r(hi) <= r(lo) + 1e-9, "R({hi}) = {} > R({lo}) = {}", r(hi), r(lo));
        }

        #[test]
        fn r_falls_with_loss(
            codec in codec_strategy(),
            delay in 0.0f64..600.0,
            a in 0.0f64..100.0,
            b in 0.0f64..100.0,
            burst in 0.5f64..10.0,
        ) {
            prop_assume!((a - b).abs() > 1e-3);
            let (lo, hi) = if a < b { (a, b) } else { (b, a) };
            let r = |l| Inputs { codec, ..leg(delay, l, burst) }.score().unwrap().r;
            prop_assert!(r(hi) < r(lo));
        }

        #[test]
        fn r_falls_with_burstiness_at_fixed_loss(
            codec in codec_strategy(),
            delay in 0.0f64..600.0,
            loss in 0.01f64..100.0,
            a in 1.0f64..20.0,
            b in 1.0f64..20.0,
        ) {
            prop_assume!((a - b).abs() > 1e-3);
            let (lo, hi) = if a < b { (a, b) } else { (b, a) };
            let r = |burst| Inputs { codec, ..leg(delay, loss, burst) }.score().unwrap().r;
            prop_assert!(r(hi) < r(lo));
        }

        #[test]
        fn mos_stays_on_scale_and_never_falls_with_r(a in -50.0f64..150.0, b in -50.0f64..150.0) {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            for r in [lo, hi] {
                prop_assert!((1.0..=4.5).contains(&mos_from_r(r)));
            }
            prop_assert!(mos_from_r(hi) >= mos_from_r(lo));
        }

        #[test]
        fn mos_strictly_rises_above_the_floor(a in R_AT_MOS_FLOOR..100.0, b in R_AT_MOS_FLOOR..100.0) {
            prop_assume!((a - b).abs() > 1e-3);
            let (lo, hi) = if a < b { (a, b) } else { (b, a) };
            prop_assert!(mos_from_r(hi) > mos_from_r(lo));
        }

        #[test]
        fn every_valid_leg_scores_on_scale(
            codec in codec_strategy(),
            delay in 0.0f64..2000.0,
            jb in 0.0f64..500.0,
            loss in 0.0f64..=100.0,
            burst in 0.1f64..50.0,
        ) {
            let s = Inputs { codec, jitter_buffer_ms: jb, ..leg(delay, loss, burst) }.score().unwrap();
            prop_assert!(s.r.is_finite() && s.r <= 93.3);
            prop_assert!((1.0..=4.5).contains(&s.mos));
        }

        #[test]
        fn r_from_mos_round_trips(mos in 1.0f64..=4.5) {
            let r = r_from_mos(mos).unwrap();
            prop_assert!((mos_from_r(r) - mos).abs() < 1e-9);
        }
    }
}
