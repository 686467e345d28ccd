//! R to MOS (ITU-T G.107 Annex B), its inverse, and the quality bands shown
//! to users.

use serde::{Deserialize, Serialize};

/// The R below which the Annex B cubic falls under MOS 1 (it dips to 0.989
/// near R = 3.2): the smaller root of R² − 160R + 1000 = 0, 80 − √5400.
/// [`mos_from_r`] reports MOS 1 up to this point.
pub const R_AT_MOS_FLOOR: f64 = 6.515_307_716_504_65;

/// MOS (conversational quality, MOS-CQE) for a rating R, per G.107 Annex B:
/// 1 for R < 0, 4.5 for R > 100, otherwise
/// 1 + 0.035R + R(R − 60)(100 − R)·7·10⁻⁶.
///
/// The cubic dips slightly below 1 for 0 < R < 6.5; the result is clamped to
/// 1 there, so the MOS always lies in [1, 4.5] and never decreases with R.
/// A NaN rating yields NaN.
pub fn mos_from_r(r: f64) -> f64 {
    if r < 0.0 {
        1.0
    } else if r > 100.0 {
        4.5
    } else {
        (1.0 + 0.035 * r + r * (r - 60.0) * (100.0 - r) * 7e-6).max(1.0)
    }
}

/// The rating R that [`mos_from_r`] maps to `mos`, found by bisection on
/// [[`R_AT_MOS_FLOOR`], 100], where the mapping is strictly increasing.
///
/// MOS 1 maps to [`R_AT_MOS_FLOOR`] (every lower R rates MOS 1 as well) and
/// MOS 4.5 to 100. `None` for NaN or a value outside [1, 4.5].
pub fn r_from_mos(mos: f64) -> Option<f64> {
    if !(1.0..=4.5).contains(&mos) {
        return None;
    }
    let (mut lo, mut hi) = (R_AT_MOS_FLOOR, 100.0);
    // 50 halvings of a width below 100 reach 1e-13: far below any meaning.
    for _ in 0..50 {
        let mid = 0.5 * (lo + hi);
        if mos_from_r(mid) < mos {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some(0.5 * (lo + hi))
}

/// A coarse rating for dashboards and alerts. The MOS thresholds 4.3, 4.0,
/// 3.6 and 3.1 are the Annex B images of the G.107 user-satisfaction
/// boundaries R = 90, 80, 70 and 60 (MOS 4.34, 4.04, 3.60, 3.10) rounded to
/// one decimal, so the band edges sit within about one R point of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QualityBand {
    /// MOS below 3.1 (about R below 60): nearly all users dissatisfied.
    Bad,
    /// MOS 3.1 to 3.6 (about R 60 to 70): many users dissatisfied.
    Poor,
    /// MOS 3.6 to 4.0 (about R 70 to 80): some users dissatisfied.
    Fair,
    /// MOS 4.0 to 4.3 (about R 80 to 90): users satisfied.
    Good,
    /// MOS 4.3 and above (about R 90 and above): users very satisfied.
    Excellent,
}

impl QualityBand {
    /// Every band, worst first.
    pub const ALL: [QualityBand; 5] = [
        QualityBand::Bad,
        QualityBand::Poor,
        QualityBand::Fair,
        QualityBand::Good,
        QualityBand::Excellent,
    ];

    /// The band of a MOS value. NaN falls in [`QualityBand::Bad`].
    pub fn from_mos(mos: f64) -> Self {
        if mos >= 4.3 {
            QualityBand::Excellent
        } else if mos >= 4.0 {
            QualityBand::Good
        } else if mos >= 3.6 {
            QualityBand::Fair
        } else if mos >= 3.1 {
            QualityBand::Poor
        } else {
            QualityBand::Bad
        }
    }

    /// Id of the band's label in the message catalogue (`quality.ftl`).
    pub fn message_id(self) -> &'static str {
        match self {
            QualityBand::Bad => "quality-band-bad",
            QualityBand::Poor => "quality-band-poor",
            QualityBand::Fair => "quality-band-fair",
            QualityBand::Good => "quality-band-good",
            QualityBand::Excellent => "quality-band-excellent",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::{Locale, catalogue, tr};

    #[test]
    fn annex_b_reference_points() {
        let table = [
            (-10.0, 1.0),
            (0.0, 1.0),
            (50.0, 1.0 + 1.75 + 50.0 * -10.0 * 50.0 * 7e-6),
            (60.0, 3.1),
            (80.0, 1.0 + 2.8 + 80.0 * 20.0 * 20.0 * 7e-6),
            (93.2, 4.409_285_824),
            (100.0, 4.5),
            (120.0, 4.5),
        ];
        for (r, mos) in table {
            assert!(
                (mos_from_r(r) - mos).abs() < 1e-6,
                "MOS({r}) = {}",
                mos_from_r(r)
            );
        }
    }

    #[test]
    fn cubic_dip_below_one_is_clamped() {
        let root = 80.0 - 5_400f64.sqrt();
        assert!((R_AT_MOS_FLOOR - root).abs() < 1e-12);
        assert!(
            (1.0 + 0.035 * root + root * (root - 60.0) * (100.0 - root) * 7e-6 - 1.0).abs() < 1e-12
        );
        for r in [0.5, 3.2, 6.0, 6.5] {
            assert!((mos_from_r(r) - 1.0).abs() < f64::EPSILON, "MOS({r})");
        }
        assert!(mos_from_r(7.0) > 1.0);
    }

    #[test]
    fn r_from_mos_inverts_mos_from_r() {
        for r in [R_AT_MOS_FLOOR, 10.0, 40.0, 60.0, 75.5, 93.2, 100.0] {
            let back = r_from_mos(mos_from_r(r)).unwrap();
            assert!((back - r).abs() < 1e-9, "R {r} -> {back}");
        }
    }

    #[test]
    fn r_from_mos_rejects_values_off_the_scale() {
        for mos in [f64::NAN, 0.99, 4.51, f64::INFINITY] {
            assert_eq!(r_from_mos(mos), None, "{mos}");
        }
    }

    #[test]
    fn bands_follow_the_thresholds() {
        let table = [
            (4.5, QualityBand::Excellent),
            (4.3, QualityBand::Excellent),
            (4.29, QualityBand::Good),
            (4.0, QualityBand::Good),
            (3.99, QualityBand::Fair),
            (3.6, QualityBand::Fair),
            (3.59, QualityBand::Poor),
            (3.1, QualityBand::Poor),
            (3.09, QualityBand::Bad),
            (1.0, QualityBand::Bad),
            (f64::NAN, QualityBand::Bad),
        ];
        for (mos, band) in table {
            assert_eq!(QualityBand::from_mos(mos), band, "MOS {mos}");
        }
    }

    #[test]
    fn ratings_inside_each_satisfaction_class_get_its_band() {
        let table = [
            (92.0, QualityBand::Excellent),
            (85.0, QualityBand::Good),
            (75.0, QualityBand::Fair),
            (65.0, QualityBand::Poor),
            (55.0, QualityBand::Bad),
        ];
        for (r, band) in table {
            assert_eq!(QualityBand::from_mos(mos_from_r(r)), band, "R {r}");
        }
    }

    #[test]
    fn every_band_has_a_label_in_both_locales() {
        for locale in [Locale::NlNl, Locale::En] {
            for band in QualityBand::ALL {
                assert!(
                    catalogue(locale).has(band.message_id()),
                    "{} lacks {}",
                    locale.tag(),
                    band.message_id()
                );
            }
        }
        assert_eq!(
            tr(Locale::NlNl, QualityBand::Excellent.message_id(), &[]),
            "Uitstekend"
        );
    }
}
