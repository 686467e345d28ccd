//! The narrowband E-model of ITU-T G.107 (06/2015): every transmission
//! parameter, the default values of its Table 1, and the full computation of
//! the transmission rating factor R.
//!
//! The model is a pure function of its parameters: no allocation, no state.
//! Formulas follow the clause numbers of G.107 (clause 7.1 to 7.5).

/// All input parameters of the G.107 E-model, in the units of the
/// Recommendation. [`EModel::default`] holds the default values of G.107
/// Table 1 (which rate at R = 93.2).
///
/// Field names keep the Recommendation's symbols so that the code can be read
/// side by side with it.
#[derive(Debug, Clone, Copy, PartialEq)]
#[allow(non_snake_case)] // Reason: G.107 symbols (SLR, Ta, BurstR...) are the vocabulary of the domain.
pub struct EModel {
    /// Send loudness rating (dB). Default 8.
    pub SLR: f64,
    /// Receive loudness rating (dB). Default 2.
    pub RLR: f64,
    /// Sidetone masking rating (dB). Default 15.
    pub STMR: f64,
    /// Listener sidetone rating (dB). Default 18 (= STMR + Dr).
    pub LSTR: f64,
    /// D-value of the telephone, send side. Default 3.
    pub Ds: f64,
    /// D-value of the telephone, receive side. Default 3. G.107 uses it only
    /// through LSTR = STMR + Dr; it is kept here for completeness.
    pub Dr: f64,
    /// Talker echo loudness rating (dB). Default 65.
    pub TELR: f64,
    /// Weighted echo path loss (dB). Default 110.
    pub WEPL: f64,
    /// Mean one-way delay of the echo path (ms). Default 0.
    pub T: f64,
    /// Round-trip delay in a 4-wire loop (ms). Default 0.
    pub Tr: f64,
    /// Absolute one-way (mouth-to-ear) delay in echo-free connections (ms).
    /// Default 0.
    pub Ta: f64,
    /// Number of quantizing distortion units. Default 1.
    pub qdu: f64,
    /// Equipment impairment factor of the codec. Default 0.
    pub Ie: f64,
    /// Packet-loss robustness factor of the codec. Default 4.3.
    pub Bpl: f64,
    /// Packet-loss probability (%), 0 to 100. Default 0.
    pub Ppl: f64,
    /// Burst ratio: 1 for random loss, above 1 for bursty loss. Default 1.
    pub BurstR: f64,
    /// Circuit noise referred to the 0 dBr point (dBm0p). Default −70.
    pub Nc: f64,
    /// Noise floor at the receive side (dBmp). Default −64.
    pub Nfor: f64,
    /// Room noise at the send side (dB(A)). Default 35.
    pub Ps: f64,
    /// Room noise at the receive side (dB(A)). Default 35.
    pub Pr: f64,
    /// Advantage factor (expectation factor). Default 0.
    pub A: f64,
    /// Delay sensitivity (G.107 clause 7.4, 2014 and later). Default 1, the
    /// value G.107 requires for carrier- and enterprise-grade telephony.
    pub sT: f64,
    /// Minimum perceivable delay (ms) of the delay-sensitivity model.
    /// Default 100, required for carrier- and enterprise-grade telephony.
    pub mT: f64,
}

impl Default for EModel {
    /// The default values of G.107 Table 1.
    fn default() -> Self {
        Self {
            SLR: 8.0,
            RLR: 2.0,
            STMR: 15.0,
            LSTR: 18.0,
            Ds: 3.0,
            Dr: 3.0,
            TELR: 65.0,
            WEPL: 110.0,
            T: 0.0,
            Tr: 0.0,
            Ta: 0.0,
            qdu: 1.0,
            Ie: 0.0,
            Bpl: 4.3,
            Ppl: 0.0,
            BurstR: 1.0,
            Nc: -70.0,
            Nfor: -64.0,
            Ps: 35.0,
            Pr: 35.0,
            A: 0.0,
            sT: 1.0,
            mT: 100.0,
        }
    }
}

/// Every intermediate impairment of one E-model evaluation, for diagnostics
/// and tests. `r = ro - is - id - ie_eff + a`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Breakdown {
    /// Basic signal-to-noise ratio Ro (clause 7.2).
    pub ro: f64,
    /// Loudness impairment Iolr (clause 7.3).
    pub iolr: f64,
    /// Sidetone impairment Ist (clause 7.3).
    pub ist: f64,
    /// Quantizing distortion impairment Iq (clause 7.3).
    pub iq: f64,
    /// Simultaneous impairment factor Is = Iolr + Ist + Iq.
    pub is: f64,
    /// Talker echo impairment Idte (clause 7.4), or Idtes when STMR > 20.
    pub idte: f64,
    /// Listener echo impairment Idle (clause 7.4).
    pub idle: f64,
    /// Absolute delay impairment Idd (clause 7.4).
    pub idd: f64,
    /// Delay impairment factor Id = Idte + Idle + Idd.
    pub id: f64,
    /// Effective equipment impairment factor Ie-eff (clause 7.5).
    pub ie_eff: f64,
    /// Advantage factor A.
    pub a: f64,
    /// Transmission rating factor R.
    pub r: f64,
}

fn db_sum(levels: &[f64]) -> f64 {
    10.0 * levels
        .iter()
        .map(|l| 10f64.powf(l / 10.0))
        .sum::<f64>()
        .log10()
}

impl EModel {
    /// The transmission rating factor R = Ro − Is − Id − Ie-eff + A.
    pub fn r(&self) -> f64 {
        self.breakdown().r
    }

    /// Computes R and every intermediate term.
    #[allow(clippy::similar_names)] // Reason: Idte and Idle are the G.107 names.
    pub fn breakdown(&self) -> Breakdown {
        let no = self.total_noise();
        let ro = 15.0 - 1.5 * (self.SLR + no);
        let (iolr, ist, iq) = self.simultaneous(no, ro);
        let is = iolr + ist + iq;
        let idte = self.talker_echo(no, ist);
        // Clause 7.4: for STMR > 20 dB, Idte is replaced by Idtes.
        let idte = if self.STMR > 20.0 {
            (idte * idte + ist * ist).sqrt()
        } else {
            idte
        };
        let idle = self.listener_echo(ro);
        let idd = self.absolute_delay();
        let id = idte + idle + idd;
        let ie_eff = self.effective_equipment();
        Breakdown {
            ro,
            iolr,
            ist,
            iq,
            is,
            idte,
            idle,
            idd,
            id,
            ie_eff,
            a: self.A,
            r: ro - is - id - ie_eff + self.A,
        }
    }

    /// OLR = SLR + RLR.
    fn olr(&self) -> f64 {
        self.SLR + self.RLR
    }

    /// Total noise power No (dBm0p), clause 7.2: the power sum of circuit
    /// noise Nc, send room noise Nos, receive room noise Nor and the receive
    /// noise floor Nfo.
    fn total_noise(&self) -> f64 {
        let nos = self.Ps - self.SLR - self.Ds - 100.0
            + 0.004 * (self.Ps - self.olr() - self.Ds - 14.0).powi(2);
        let pre = self.Pr + 10.0 * (1.0 + 10f64.powf((10.0 - self.LSTR) / 10.0)).log10();
        let nor = self.RLR - 121.0 + pre + 0.008 * (pre - 35.0).powi(2);
        let nfo = self.Nfor + self.RLR;
        db_sum(&[self.Nc, nos, nor, nfo])
    }

    /// STMRo, the sidetone rating including talker echo at short delays.
    fn stmro(&self) -> f64 {
        -10.0
            * (10f64.powf(-self.STMR / 10.0)
                + (-self.T / 4.0).exp() * 10f64.powf(-self.TELR / 10.0))
            .log10()
    }

    /// (Iolr, Ist, Iq) of clause 7.3.
    #[allow(clippy::many_single_char_names)] // Reason: Q, G, Y, Z are the G.107 names.
    fn simultaneous(&self, no: f64, ro: f64) -> (f64, f64, f64) {
        let xolr = self.olr() + 0.2 * (64.0 + no - self.RLR);
        let iolr = 20.0 * ((1.0 + (xolr / 8.0).powi(8)).powf(1.0 / 8.0) - xolr / 8.0);

        let stmro = self.stmro();
        let ist = 12.0 * (1.0 + ((stmro - 13.0) / 6.0).powi(8)).powf(1.0 / 8.0)
            - 28.0 * (1.0 + ((stmro + 1.0) / 19.4).powi(35)).powf(1.0 / 35.0)
            - 13.0 * (1.0 + ((stmro - 3.0) / 33.0).powi(13)).powf(1.0 / 13.0)
            + 29.0;

        let q = 37.0 - 15.0 * self.qdu.log10();
        let g = 1.07 + 0.258 * q + 0.0602 * q * q;
        let y = (ro - 100.0) / 15.0 + 46.0 / 8.4 - g / 9.0;
        let z = 46.0 / 30.0 - g / 40.0;
        let iq = 15.0 * (1.0 + 10f64.powf(y) + 10f64.powf(z)).log10();
        (iolr, ist, iq)
    }

    /// Idte of clause 7.4 (talker echo), with the low-STMR correction of TERV
    /// (STMR < 9). The factor (1 − e^−T) makes it vanish as T goes to 0.
    fn talker_echo(&self, no: f64, ist: f64) -> f64 {
        let t = self.T;
        let roe = -1.5 * (no - self.RLR);
        let mut terv = self.TELR - 40.0 * ((1.0 + t / 10.0) / (1.0 + t / 150.0)).log10()
            + 6.0 * (-0.3 * t * t).exp();
        if self.STMR < 9.0 {
            terv += ist / 2.0;
        }
        let re = 80.0 + 2.5 * (terv - 14.0);
        let d = roe - re;
        (d / 2.0 + (d * d / 4.0 + 100.0).sqrt() - 1.0) * (1.0 - (-t).exp())
    }

    /// Idle of clause 7.4 (listener echo).
    fn listener_echo(&self, ro: f64) -> f64 {
        let rle = 10.5 * (self.WEPL + 7.0) * (self.Tr + 1.0).powf(-0.25);
        let d = ro - rle;
        d / 2.0 + (d * d / 4.0 + 169.0).sqrt()
    }

    /// Idd of clause 7.4 (absolute delay): zero up to mT (100 ms by
    /// default), then growing with X = log2(Ta / mT).
    fn absolute_delay(&self) -> f64 {
        if self.Ta <= self.mT {
            return 0.0;
        }
        let x = (self.Ta / self.mT).log10() / 2f64.log10();
        let k = 6.0 * self.sT;
        25.0 * ((1.0 + x.powf(k)).powf(1.0 / k) - 3.0 * (1.0 + (x / 3.0).powf(k)).powf(1.0 / k)
            + 2.0)
    }

    /// Ie-eff = Ie + (95 − Ie) · Ppl / (Ppl / BurstR + Bpl), clause 7.5.
    fn effective_equipment(&self) -> f64 {
        self.Ie + (95.0 - self.Ie) * self.Ppl / (self.Ppl / self.BurstR + self.Bpl)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_parameters_rate_93_2() {
        let b = EModel::default().breakdown();
        assert!((b.r - 93.2).abs() < 0.01, "R = {}", b.r);
    }

    #[test]
    fn default_breakdown_matches_the_g107_terms() {
        // G.107 states Ro = 94.77 and Is = 1.41 for the defaults; the
        // remaining impairments are tiny (Id ~ 0.15, Ie-eff = 0).
        let b = EModel::default().breakdown();
        assert!((b.ro - 94.77).abs() < 0.01, "Ro = {}", b.ro);
        assert!((b.is - 1.41).abs() < 0.01, "Is = {}", b.is);
        assert!(b.idte.abs() < 1e-12, "Idte = {} at T = 0", b.idte);
        assert!(b.idd.abs() < 1e-12);
        assert!(b.ie_eff.abs() < 1e-12);
        assert!((b.ro - b.is - b.id - b.ie_eff + b.a - b.r).abs() < 1e-9);
    }

    #[test]
    fn idd_is_zero_up_to_100_ms_and_grows_beyond() {
        let idd = |ta: f64| {
            EModel {
                Ta: ta,
                ..EModel::default()
            }
            .breakdown()
            .idd
        };
        for ta in [0.0, 50.0, 99.9, 100.0] {
            assert!(idd(ta).abs() < 1e-12, "Idd({ta}) = {}", idd(ta));
        }
        let mut last = 0.0;
        for ta in [101.0, 150.0, 200.0, 300.0, 400.0, 600.0, 1000.0] {
            let v = idd(ta);
            assert!(v > last, "Idd({ta}) = {v} not above {last}");
            last = v;
        }
        // At Ta = 200 ms, X = 1: Idd = 25 (2^(1/6) - 3 (1 + 3^-6)^(1/6) + 2).
        let expected =
            25.0 * (2f64.powf(1.0 / 6.0) - 3.0 * (1.0 + 3f64.powi(-6)).powf(1.0 / 6.0) + 2.0);
        assert!((idd(200.0) - expected).abs() < 1e-9);
    }

    #[test]
    fn high_stmr_uses_idtes_and_low_stmr_corrects_terv() {
        let base = EModel {
            T: 50.0,
            ..EModel::default()
        };
        let high_model = EModel { STMR: 21.0, ..base };
        let high = high_model.breakdown();
        let raw = high_model.talker_echo(high_model.total_noise(), high.ist);
        assert!((high.idte - (raw * raw + high.ist * high.ist).sqrt()).abs() < 1e-9);
        assert!(high.ist.abs() > 0.1, "Idtes must differ from Idte here");

        let low_model = EModel { STMR: 8.0, ..base };
        let low = low_model.breakdown();
        let uncorrected = EModel { STMR: 9.0, ..base };
        let terv_shift = low_model.talker_echo(low_model.total_noise(), low.ist)
            - uncorrected.talker_echo(low_model.total_noise(), low.ist);
        assert!(terv_shift.abs() > 1e-3, "TERV correction had no effect");
    }

    #[test]
    fn loss_raises_ie_eff_per_the_formula() {
        let m = EModel {
            Ie: 10.0,
            Bpl: 20.0,
            Ppl: 5.0,
            BurstR: 2.0,
            ..EModel::default()
        };
        let expected = 10.0 + 85.0 * 5.0 / (2.5 + 20.0);
        assert!((m.breakdown().ie_eff - expected).abs() < 1e-12);
    }

    #[test]
    fn advantage_factor_adds_to_r() {
        let base = EModel::default().r();
        let with_a = EModel {
            A: 5.0,
            ..EModel::default()
        }
        .r();
        assert!((with_a - base - 5.0).abs() < 1e-9);
    }
}
