//! G.722 sub-band ADPCM at 64 kbit/s (ITU-T G.722 mode 1), written from the
//! recommendation's block diagrams: a 24-tap QMF splits 16 kHz PCM into a
//! low and a high band at 8 kHz each; the low band is coded with 6 bits
//! (QUANTL/INVQAL/LOGSCL/SCALEL), the high band with 2 bits
//! (QUANTH/INVQAH/LOGSCH/SCALEH); both share the adaptive predictor of
//! block 4. One payload byte per two PCM samples: `ihigh << 6 | ilow`.
//!
//! Integer arithmetic with the recommendation's tables; verified against
//! ffmpeg's `g722` encoder and decoder (`tests/codec_peers.rs`).

use super::plc::Concealer;
use super::{AudioDecoder, AudioEncoder, CodecError, CodecKind};

/// QMF coefficients (G.722 table 11, one half of the symmetric filter).
const QMF: [i32; 12] = [3, -11, 12, 32, -210, 951, 3876, -805, 362, -156, 53, -11];
/// Low-band quantiser decision levels (table 14), scaled.
const Q6: [i32; 32] = [
    0, 35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650, 714, 786, 858, 940,
    1023, 1121, 1219, 1339, 1458, 1612, 1765, 1980, 2195, 2557, 2919, 0, 0,
];
/// Low-band codes for negative and positive differences.
const ILN: [i32; 32] = [
    0, 63, 62, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11,
    10, 9, 8, 7, 6, 5, 4, 0,
];
const ILP: [i32; 32] = [
    0, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40, 39,
    38, 37, 36, 35, 34, 33, 32, 0,
];
/// Low-band log scale factor multipliers (table 17).
const WL: [i32; 8] = [-60, -30, 58, 172, 334, 538, 1198, 3042];
const RL42: [i32; 16] = [0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0];
/// Inverse log table (table 18).
const ILB: [i32; 32] = [
    2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543, 2599, 2656, 2714, 2774, 2834,
    2896, 2960, 3025, 3091, 3158, 3228, 3298, 3371, 3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008,
];
/// 4-bit inverse quantiser outputs (feedback path, table 16).
const QM4: [i32; 16] = [
    0, -20456, -12896, -8968, -6288, -4240, -2584, -1200, 20456, 12896, 8968, 6288, 4240, 2584,
    1200, 0,
];
/// 6-bit inverse quantiser outputs (mode 1 decoder, table 15).
const QM6: [i32; 64] = [
    -136, -136, -136, -136, -24808, -21904, -19008, -16704, -14984, -13512, -12280, -11192, -10232,
    -9360, -8576, -7856, -7192, -6576, -6000, -5456, -4944, -4464, -4008, -3576, -3168, -2776,
    -2400, -2032, -1688, -1360, -1040, -728, 24808, 21904, 19008, 16704, 14984, 13512, 12280,
    11192, 10232, 9360, 8576, 7856, 7192, 6576, 6000, 5456, 4944, 4464, 4008, 3576, 3168, 2776,
    2400, 2032, 1688, 1360, 1040, 728, 432, 136, -432, -136,
];
/// High band: codes, inverse quantiser, log scale multipliers.
const IHN: [i32; 3] = [0, 1, 0];
const IHP: [i32; 3] = [0, 3, 2];
const QM2: [i32; 4] = [-7408, -1616, 7408, 1616];
const WH: [i32; 3] = [0, -214, 798];
const RH2: [i32; 4] = [2, 1, 2, 1];

fn sat16(x: i32) -> i32 {
    x.clamp(-32_768, 32_767)
}

/// State of one sub-band's ADPCM (predictor and scale factor).
#[derive(Debug, Clone, Default)]
struct Band {
    /// Predicted signal (SE/SH).
    s: i32,
    /// Pole and zero sections of the prediction.
    sp: i32,
    sz: i32,
    /// Reconstructed signal history.
    r: [i32; 3],
    /// Pole coefficients, and their update.
    a: [i32; 3],
    ap: [i32; 3],
    /// Partial reconstructed signal history.
    p: [i32; 3],
    /// Quantised difference history.
    d: [i32; 7],
    /// Zero coefficients, and their update.
    b: [i32; 7],
    bp: [i32; 7],
    /// Log scale factor (NBL/NBH) and scale factor (DETL/DETH).
    nb: i32,
    det: i32,
}

impl Band {
    fn new(det: i32) -> Self {
        Self {
            det,
            ..Self::default()
        }
    }

    /// SCALEL/SCALEH: scale factor from the log scale factor.
    fn scale(&mut self, shift_base: i32) {
        let wd1 = ((self.nb >> 6) & 31) as usize;
        let wd2 = shift_base - (self.nb >> 11);
        let wd3 = if wd2 < 0 {
            ILB[wd1] << -wd2
        } else {
            ILB[wd1] >> wd2
        };
        self.det = wd3 << 2;
    }

    /// Block 4: reconstruction, pole/zero predictor update, prediction.
    fn adapt(&mut self, d: i32) {
        // RECONS, PARREC
        self.d[0] = d;
        self.r[0] = sat16(self.s + d);
        self.p[0] = sat16(self.sz + d);

        // UPPOL2
        let sg0 = self.p[0] >> 15;
        let sg1 = self.p[1] >> 15;
        let sg2 = self.p[2] >> 15;
        let wd1 = sat16(self.a[1] << 2);
        let wd2 = if sg0 == sg1 { -wd1 } else { wd1 }.min(32_767);
        let mut wd3 = (wd2 >> 7) + if sg0 == sg2 { 128 } else { -128 };
        wd3 += (self.a[2] * 32_512) >> 15;
        self.ap[2] = wd3.clamp(-12_288, 12_288);

        // UPPOL1
        let wd1 = if sg0 == sg1 { 192 } else { -192 };
        let wd2 = (self.a[1] * 32_640) >> 15;
        let limit = sat16(15_360 - self.ap[2]);
        self.ap[1] = sat16(wd1 + wd2).clamp(-limit, limit);

        // UPZERO
        let step = if d == 0 { 0 } else { 128 };
        let sg_d = d >> 15;
        for i in 1..7 {
            let wd2 = if (self.d[i] >> 15) == sg_d {
                step
            } else {
                -step
            };
            let wd3 = (self.b[i] * 32_640) >> 15;
            self.bp[i] = sat16(wd2 + wd3);
        }

        // DELAYA
        for i in (1..7).rev() {
            self.d[i] = self.d[i - 1];
            self.b[i] = self.bp[i];
        }
        for i in (1..3).rev() {
            self.r[i] = self.r[i - 1];
            self.p[i] = self.p[i - 1];
            self.a[i] = self.ap[i];
        }

        // FILTEP
        let wd1 = (self.a[1] * sat16(self.r[1] + self.r[1])) >> 15;
        let wd2 = (self.a[2] * sat16(self.r[2] + self.r[2])) >> 15;
        self.sp = sat16(wd1 + wd2);

        // FILTEZ
        let mut sz = 0;
        for i in (1..7).rev() {
            sz += (self.b[i] * sat16(self.d[i] + self.d[i])) >> 15;
        }
        self.sz = sat16(sz);

        // PREDIC
        self.s = sat16(self.sp + self.sz);
    }

    /// LOGSCL: low-band log scale factor update from the 4-bit code.
    fn update_low(&mut self, ril: usize) {
        let wd = (self.nb * 127) >> 7;
        self.nb = (wd + WL[RL42[ril] as usize]).clamp(0, 18_432);
        self.scale(8);
    }

    /// LOGSCH: high-band log scale factor update from the 2-bit code.
    fn update_high(&mut self, ihigh: usize) {
        let wd = (self.nb * 127) >> 7;
        self.nb = (wd + WH[RH2[ihigh] as usize]).clamp(0, 22_528);
        self.scale(10);
    }
}

/// Both bands plus the QMF delay line.
#[derive(Debug, Clone)]
struct State {
    low: Band,
    high: Band,
    qmf: [i32; 24],
}

impl State {
    fn new() -> Self {
        Self {
            low: Band::new(32),
            high: Band::new(8),
            qmf: [0; 24],
        }
    }
}

/// G.722 64 kbit/s encoder; frames must have an even number of samples.
#[derive(Debug, Clone)]
pub struct G722Encoder {
    state: State,
}

impl Default for G722Encoder {
    fn default() -> Self {
        Self::new()
    }
}

impl G722Encoder {
    /// An encoder in the reset state.
    pub fn new() -> Self {
        Self {
            state: State::new(),
        }
    }

    /// Encodes two 16 kHz samples into one byte.
    fn encode_pair(&mut self, first: i16, second: i16) -> u8 {
        let st = &mut self.state;
        // Transmit QMF.
        st.qmf.copy_within(2.., 0);
        st.qmf[22] = i32::from(first);
        st.qmf[23] = i32::from(second);
        let (mut sum_odd, mut sum_even) = (0i32, 0i32);
        for i in 0..12 {
            sum_odd += st.qmf[2 * i] * QMF[i];
            sum_even += st.qmf[2 * i + 1] * QMF[11 - i];
        }
        let xlow = (sum_even + sum_odd) >> 14;
        let xhigh = (sum_even - sum_odd) >> 14;

        // Low band: SUBTRA, QUANTL.
        let el = sat16(xlow - st.low.s);
        let wd = if el >= 0 { el } else { -(el + 1) };
        let mut i = 1;
        while i < 30 {
            if wd < (Q6[i] * st.low.det) >> 12 {
                break;
            }
            i += 1;
        }
        let ilow = if el < 0 { ILN[i] } else { ILP[i] };
        // INVQAL, LOGSCL, SCALEL, block 4.
        let ril = (ilow >> 2) as usize;
        let dlow = (st.low.det * QM4[ril]) >> 15;
        st.low.update_low(ril);
        st.low.adapt(dlow);

        // High band: SUBTRA, QUANTH.
        let eh = sat16(xhigh - st.high.s);
        let wd = if eh >= 0 { eh } else { -(eh + 1) };
        let mih = if wd >= (564 * st.high.det) >> 12 {
            2
        } else {
            1
        };
        let ihigh = if eh < 0 { IHN[mih] } else { IHP[mih] };
        // INVQAH, LOGSCH, SCALEH, block 4.
        let dhigh = (st.high.det * QM2[ihigh as usize]) >> 15;
        st.high.update_high(ihigh as usize);
        st.high.adapt(dhigh);

        ((ihigh << 6) | ilow) as u8
    }
}

impl AudioEncoder for G722Encoder {
    fn kind(&self) -> CodecKind {
        CodecKind::G722
    }

    fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> Result<usize, CodecError> {
        if pcm.is_empty() || !pcm.len().is_multiple_of(2) {
            return Err(CodecError::FrameLength {
                kind: CodecKind::G722,
                expected: CodecKind::G722.samples_per_20ms(),
                got: pcm.len(),
            });
        }
        out.reserve(pcm.len() / 2);
        for pair in pcm.chunks_exact(2) {
            let byte = self.encode_pair(pair[0], pair[1]);
            out.push(byte);
        }
        Ok(pcm.len() / 2)
    }
}

/// G.722 64 kbit/s decoder with pitch-repetition concealment.
#[derive(Debug, Clone)]
pub struct G722Decoder {
    state: State,
    plc: Concealer,
}

impl Default for G722Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl G722Decoder {
    /// A decoder in the reset state.
    pub fn new() -> Self {
        Self {
            state: State::new(),
            plc: Concealer::new(16_000),
        }
    }

    /// Decodes one byte into two 16 kHz samples.
    fn decode_byte(&mut self, code: u8) -> [i16; 2] {
        let st = &mut self.state;
        let code = i32::from(code);
        let ilow = (code & 0x3F) as usize;
        let ihigh = ((code >> 6) & 0x03) as usize;

        // Low band: INVQBL, RECONS, LIMIT.
        let dq = (st.low.det * QM6[ilow]) >> 15;
        let rlow = (st.low.s + dq).clamp(-16_384, 16_383);
        // INVQAL (feedback path), LOGSCL, SCALEL, block 4.
        let ril = ilow >> 2;
        let dlowt = (st.low.det * QM4[ril]) >> 15;
        st.low.update_low(ril);
        st.low.adapt(dlowt);

        // High band: INVQAH, RECONS, LIMIT, LOGSCH, SCALEH, block 4.
        let dhigh = (st.high.det * QM2[ihigh]) >> 15;
        let rhigh = (dhigh + st.high.s).clamp(-16_384, 16_383);
        st.high.update_high(ihigh);
        st.high.adapt(dhigh);

        // Receive QMF.
        st.qmf.copy_within(2.., 0);
        st.qmf[22] = rlow + rhigh;
        st.qmf[23] = rlow - rhigh;
        let (mut xout1, mut xout2) = (0i32, 0i32);
        for i in 0..12 {
            xout2 += st.qmf[2 * i] * QMF[i];
            xout1 += st.qmf[2 * i + 1] * QMF[11 - i];
        }
        [sat16(xout1 >> 11) as i16, sat16(xout2 >> 11) as i16]
    }
}

impl AudioDecoder for G722Decoder {
    fn kind(&self) -> CodecKind {
        CodecKind::G722
    }

    fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<usize, CodecError> {
        if payload.is_empty() {
            return Err(CodecError::MalformedPayload {
                kind: CodecKind::G722,
                len: 0,
            });
        }
        let start = out.len();
        out.reserve(payload.len() * 2);
        for &byte in payload {
            out.extend_from_slice(&self.decode_byte(byte));
        }
        self.plc.good(&mut out[start..]);
        Ok(payload.len() * 2)
    }

    fn conceal(&mut self, samples: usize, out: &mut Vec<i16>) -> Result<usize, CodecError> {
        // The ADPCM state keeps its last values; it re-converges on the next
        // good packets (G.722 Appendix III/IV would also steer it).
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

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq: f64, len: usize, amp: f64) -> Vec<i16> {
        (0..len)
            .map(|n| (amp * (2.0 * std::f64::consts::PI * freq * n as f64 / 16_000.0).sin()) as i16)
            .collect()
    }

    /// SNR in dB of `got` against `want` delayed by `delay` samples.
    fn snr(want: &[i16], got: &[i16], delay: usize) -> f64 {
        let (mut sig, mut noise) = (0.0f64, 0.0f64);
        for (i, &w) in want
            .iter()
            .enumerate()
            .take(got.len().saturating_sub(delay))
        {
            let g = f64::from(got[i + delay]);
            sig += f64::from(w) * f64::from(w);
            noise += (g - f64::from(w)).powi(2);
        }
        10.0 * (sig / noise.max(1.0)).log10()
    }

    #[test]
    fn a_tone_survives_encode_and_decode() {
        for freq in [300.0, 1000.0, 3000.0, 6000.0] {
            let pcm = tone(freq, 16_000, 8000.0);
            let mut enc = G722Encoder::new();
            let mut dec = G722Decoder::new();
            let mut payload = Vec::new();
            let mut out = Vec::new();
            for frame in pcm.chunks(320) {
                payload.clear();
                enc.encode(frame, &mut payload).ok();
                assert_eq!(payload.len(), 160);
                dec.decode(&payload, &mut out).ok();
            }
            // The QMF pair delays by 22 samples.
            let s = snr(&pcm[1600..], &out[1600..], 22);
            assert!(s > 20.0, "{freq} Hz: SNR {s:.1} dB");
        }
    }

    #[test]
    fn odd_frames_and_empty_payloads_are_errors() {
        let mut enc = G722Encoder::new();
        let mut out = Vec::new();
        assert!(enc.encode(&[0; 3], &mut out).is_err());
        assert!(enc.encode(&[], &mut out).is_err());
        let mut dec = G722Decoder::new();
        let mut pcm = Vec::new();
        assert!(dec.decode(&[], &mut pcm).is_err());
    }
}
