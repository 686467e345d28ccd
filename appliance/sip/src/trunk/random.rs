//! Caller-provided randomness: the core never reads OS randomness itself.

/// A source of random bytes, provided by the caller (the shell wraps a
/// CSPRNG; tests use a deterministic generator).
///
/// The bytes become Call-IDs, tags, `Via` branches, digest cnonces (these
/// must be unpredictable, so the shell must use a CSPRNG) and backoff jitter.
pub trait RandomSource {
    /// Fills `dest` with random bytes.
    fn fill_bytes(&mut self, dest: &mut [u8]);
}

impl<R: RandomSource + ?Sized> RandomSource for &mut R {
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        (**self).fill_bytes(dest);
    }
}

impl<R: RandomSource + ?Sized> RandomSource for Box<R> {
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        (**self).fill_bytes(dest);
    }
}

/// `N` random bytes.
pub(crate) fn bytes<const N: usize>(rng: &mut impl RandomSource) -> [u8; N] {
    let mut b = [0u8; N];
    rng.fill_bytes(&mut b);
    b
}

/// `N` random bytes as `2N` lower-case hex digits.
pub(crate) fn hex<const N: usize>(rng: &mut impl RandomSource) -> String {
    use std::fmt::Write as _;
    let b = bytes::<N>(rng);
    let mut s = String::with_capacity(2 * N);
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}

/// A uniformly distributed `u32`.
pub(crate) fn u32(rng: &mut impl RandomSource) -> u32 {
    u32::from_be_bytes(bytes::<4>(rng))
}
