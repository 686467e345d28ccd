//! Digest algorithms and the RFC 7616 §3.4.1 response computation.

use md5::Md5;
use sha2::{Digest, Sha256};
use std::fmt;

/// A digest algorithm (RFC 7616 §3.3 / RFC 8760 §2).
///
/// `SHA-512-256` is not implemented: no SIP equipment we target offers it. A
/// challenge naming it, or any other unknown algorithm, is skipped by the
/// client and refused by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `MD5` (RFC 2617). Still the only algorithm most phones implement.
    Md5,
    /// `MD5-sess`: HA1 additionally covers the nonce and cnonce.
    Md5Sess,
    /// `SHA-256` (RFC 8760). Preferred.
    Sha256,
    /// `SHA-256-sess`.
    Sha256Sess,
}

impl Algorithm {
    /// Parses the `algorithm` auth-param value, case-insensitively.
    pub fn from_token(token: &str) -> Option<Self> {
        [Self::Md5, Self::Md5Sess, Self::Sha256, Self::Sha256Sess]
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(token))
    }

    /// The canonical token for the `algorithm` auth-param.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::Md5Sess => "MD5-sess",
            Self::Sha256 => "SHA-256",
            Self::Sha256Sess => "SHA-256-sess",
        }
    }

    /// Whether this is a `-sess` variant.
    pub const fn is_session(self) -> bool {
        matches!(self, Self::Md5Sess | Self::Sha256Sess)
    }

    /// Relative strength used by the client to pick among offers (higher is
    /// stronger); `-sess` variants rank with their hash.
    pub(crate) const fn strength(self) -> u8 {
        match self {
            Self::Md5 | Self::Md5Sess => 1,
            Self::Sha256 | Self::Sha256Sess => 2,
        }
    }

    /// Length in hex characters of this algorithm's digests.
    pub(crate) const fn hex_len(self) -> usize {
        match self {
            Self::Md5 | Self::Md5Sess => 32,
            Self::Sha256 | Self::Sha256Sess => 64,
        }
    }

    /// `H(p0 ":" p1 ":" ...)` as lower-case hex.
    pub(crate) fn hash_hex(self, parts: &[&[u8]]) -> String {
        match self {
            Self::Md5 | Self::Md5Sess => hash_parts::<Md5>(parts),
            Self::Sha256 | Self::Sha256Sess => hash_parts::<Sha256>(parts),
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn hash_parts<D: Digest>(parts: &[&[u8]]) -> String {
    let mut hasher = D::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            hasher.update(b":");
        }
        hasher.update(part);
    }
    to_hex(&hasher.finalize())
}

/// Lower-case hex encoding.
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    s
}

/// `HA1 = H(username ":" realm ":" password)` for the base (non-`-sess`)
/// algorithm, lower-case hex. This is what an appliance may store instead of
/// the password.
pub fn ha1(algorithm: Algorithm, username: &str, realm: &str, password: &str) -> String {
    algorithm.hash_hex(&[username.as_bytes(), realm.as_bytes(), password.as_bytes()])
}

/// The inputs of one response computation (RFC 7616 §3.4.1, RFC 2069 when
/// `qop` is `None`).
#[derive(Clone, Copy)]
pub(crate) struct ResponseInput<'a> {
    pub(crate) algorithm: Algorithm,
    /// Lower-case hex of `H(username:realm:password)` (never the `-sess` form).
    pub(crate) ha1: &'a str,
    pub(crate) nonce: &'a str,
    pub(crate) method: &'a str,
    pub(crate) uri: &'a str,
    /// `Some((qop, nc, cnonce))` with `qop=auth`; `None` for RFC 2069.
    pub(crate) qop: Option<(&'a str, &'a str, &'a str)>,
    /// The cnonce for `-sess` HA1 (equals the one in `qop` when present).
    pub(crate) cnonce: Option<&'a str>,
}

/// Computes the `response` auth-param value (lower-case hex). Returns `None`
/// for a `-sess` algorithm without a cnonce, which has no defined response.
pub(crate) fn compute_response(input: &ResponseInput<'_>) -> Option<String> {
    let alg = input.algorithm;
    let session_ha1;
    let ha1 = if alg.is_session() {
        let cnonce = input.cnonce?;
        session_ha1 = alg.hash_hex(&[
            input.ha1.as_bytes(),
            input.nonce.as_bytes(),
            cnonce.as_bytes(),
        ]);
        session_ha1.as_str()
    } else {
        input.ha1
    };
    let ha2 = alg.hash_hex(&[input.method.as_bytes(), input.uri.as_bytes()]);
    Some(match input.qop {
        Some((qop, nc, cnonce)) => alg.hash_hex(&[
            ha1.as_bytes(),
            input.nonce.as_bytes(),
            nc.as_bytes(),
            cnonce.as_bytes(),
            qop.as_bytes(),
            ha2.as_bytes(),
        ]),
        None => alg.hash_hex(&[ha1.as_bytes(), input.nonce.as_bytes(), ha2.as_bytes()]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rfc_response(
        alg: Algorithm,
        realm: &str,
        password: &str,
        nonce: &str,
        cnonce: &str,
    ) -> String {
        let ha1 = ha1(alg, "Mufasa", realm, password);
        compute_response(&ResponseInput {
            algorithm: alg,
            ha1: &ha1,
            nonce,
            method: "GET",
            uri: "/dir/index.html",
            qop: Some(("auth", "00000001", cnonce)),
            cnonce: Some(cnonce),
        })
        .unwrap()
    }

    #[test]
    fn rfc2617_section_3_5_md5_example() {
        assert_eq!(
            rfc_response(
                Algorithm::Md5,
                "testrealm@host.com",
                "Circle Of Life",
                "dcd98b7102dd2f0e8b11d0f600bfb0c093",
                "0a4f113b"
            ),
            "6629fae49393a05397450978507c4ef1"
        );
    }

    #[test]
    fn rfc7616_section_3_9_1_examples() {
        let nonce = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
        let cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
        let realm = "http-auth@example.org";
        assert_eq!(
            rfc_response(Algorithm::Md5, realm, "Circle of Life", nonce, cnonce),
            "8ca523f5e9506fed4657c9700eebdbec"
        );
        assert_eq!(
            rfc_response(Algorithm::Sha256, realm, "Circle of Life", nonce, cnonce),
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
    }

    #[test]
    fn rfc2069_response_omits_nc_cnonce_and_qop() {
        // RFC 2069 §2.4 style: H(HA1:nonce:HA2), checked against a direct
        // computation so the qop branch cannot leak into it.
        let ha1 = ha1(
            Algorithm::Md5,
            "Mufasa",
            "testrealm@host.com",
            "CircleOfLife",
        );
        let got = compute_response(&ResponseInput {
            algorithm: Algorithm::Md5,
            ha1: &ha1,
            nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            method: "GET",
            uri: "/dir/index.html",
            qop: None,
            cnonce: None,
        })
        .unwrap();
        let ha2 = Algorithm::Md5.hash_hex(&[b"GET", b"/dir/index.html"]);
        let want = Algorithm::Md5.hash_hex(&[
            ha1.as_bytes(),
            b"dcd98b7102dd2f0e8b11d0f600bfb0c093",
            ha2.as_bytes(),
        ]);
        assert_eq!(got, want);
        // RFC 2069 §2.4 example as corrected by its erratum (the printed
        // e966c932a9242554e42c8ee200cec7f6 is wrong).
        assert_eq!(got, "1949323746fe6a43ef61f9606e7febea");
    }

    #[test]
    fn sess_variant_differs_and_needs_a_cnonce() {
        let ha1 = ha1(Algorithm::Sha256, "u", "r", "p");
        let mut input = ResponseInput {
            algorithm: Algorithm::Sha256Sess,
            ha1: &ha1,
            nonce: "n",
            method: "REGISTER",
            uri: "sip:r",
            qop: Some(("auth", "00000001", "c")),
            cnonce: Some("c"),
        };
        let sess = compute_response(&input).unwrap();
        input.algorithm = Algorithm::Sha256;
        assert_ne!(compute_response(&input).unwrap(), sess);
        input.algorithm = Algorithm::Sha256Sess;
        input.cnonce = None;
        assert_eq!(compute_response(&input), None);
    }

    #[test]
    fn algorithm_tokens_round_trip_case_insensitively() {
        for alg in [
            Algorithm::Md5,
            Algorithm::Md5Sess,
            Algorithm::Sha256,
            Algorithm::Sha256Sess,
        ] {
            assert_eq!(
                Algorithm::from_token(&alg.as_str().to_ascii_lowercase()),
                Some(alg)
            );
        }
        assert_eq!(Algorithm::from_token("SHA-512-256"), None);
    }
}
