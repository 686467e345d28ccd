//! Client side of digest authentication (trunk registration, outbound calls).

use super::challenge::{Challenge, DigestChallenge};
use super::credentials::DigestCredentials;
use super::digest::{self, Algorithm, ResponseInput};
use std::fmt;
use thiserror::Error;

/// Why no credentials could be produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ClientError {
    /// None of the challenge values is a parseable Digest challenge with a
    /// supported algorithm and an acceptable qop.
    #[error("no usable digest challenge among {offered} offered")]
    NoUsableChallenge {
        /// How many header values were offered.
        offered: usize,
    },
    /// The nonce count would overflow; a fresh challenge is needed.
    #[error("nonce count exhausted")]
    NonceCountExhausted,
}

/// An `Authorization` / `Proxy-Authorization` header value produced by the
/// client. `Debug` redacts it (it contains the username).
#[derive(Clone, PartialEq, Eq)]
pub struct AuthorizationValue(String);

impl AuthorizationValue {
    /// The header value.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The header value, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Debug for AuthorizationValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthorizationValue(<redacted>)")
    }
}

/// Stateless digest responder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigestClient {
    /// Answer challenges without `qop` the RFC 2069 way (no cnonce/nc).
    /// Default `true`: some old PBXs and trunks still send such challenges.
    pub allow_no_qop: bool,
}

impl Default for DigestClient {
    fn default() -> Self {
        Self { allow_no_qop: true }
    }
}

impl DigestClient {
    /// Picks the strongest usable challenge: SHA-256 over MD5, ties go to the
    /// first offered. Unparseable values and other schemes are skipped. A
    /// challenge offering `qop` is usable only with `auth`; one without `qop`
    /// only when [`Self::allow_no_qop`] is set and the algorithm is not `-sess`.
    pub fn choose(&self, challenges: &[&str]) -> Result<(DigestChallenge, Algorithm), ClientError> {
        let mut best: Option<(DigestChallenge, Algorithm)> = None;
        for value in challenges {
            let Ok(Challenge::Digest(c)) = Challenge::parse(value) else {
                continue;
            };
            let Some(alg) = c.algorithm() else { continue };
            let usable = if c.qop.is_empty() {
                self.allow_no_qop && !alg.is_session()
            } else {
                c.offers_qop_auth()
            };
            if usable
                && best
                    .as_ref()
                    .is_none_or(|(_, b)| alg.strength() > b.strength())
            {
                best = Some((c, alg));
            }
        }
        best.ok_or(ClientError::NoUsableChallenge {
            offered: challenges.len(),
        })
    }

    /// Answers the best of `challenges` (all `WWW-Authenticate` values of a
    /// 401, or all `Proxy-Authenticate` values of a 407).
    ///
    /// `uri` is the Request-URI of the request being authorised;
    /// `cnonce_random` must come from a CSPRNG (it becomes the hex cnonce);
    /// `nc` is the nonce count, 1 for the first use of a nonce.
    #[allow(clippy::too_many_arguments)]
    pub fn respond(
        &self,
        challenges: &[&str],
        method: &str,
        uri: &str,
        username: &str,
        password: &str,
        cnonce_random: [u8; 16],
        nc: u32,
    ) -> Result<AuthorizationValue, ClientError> {
        let (challenge, algorithm) = self.choose(challenges)?;
        Ok(answer(
            &challenge,
            algorithm,
            method,
            uri,
            username,
            password,
            cnonce_random,
            nc,
        ))
    }
}

#[allow(clippy::too_many_arguments)]
fn answer(
    challenge: &DigestChallenge,
    algorithm: Algorithm,
    method: &str,
    uri: &str,
    username: &str,
    password: &str,
    cnonce_random: [u8; 16],
    nc: u32,
) -> AuthorizationValue {
    let ha1 = digest::ha1(algorithm, username, &challenge.realm, password);
    let use_qop = challenge.offers_qop_auth();
    let cnonce = digest::to_hex(&cnonce_random);
    let nc = format!("{nc:08x}");
    let response = digest::compute_response(&ResponseInput {
        algorithm,
        ha1: &ha1,
        nonce: &challenge.nonce,
        method,
        uri,
        qop: use_qop.then_some(("auth", nc.as_str(), cnonce.as_str())),
        cnonce: use_qop.then_some(cnonce.as_str()),
    })
    // `choose` never selects a -sess challenge without qop, the only case
    // without a defined response.
    .unwrap_or_default();
    let creds = DigestCredentials {
        username: username.to_owned(),
        realm: challenge.realm.clone(),
        nonce: challenge.nonce.clone(),
        uri: uri.to_owned(),
        response,
        algorithm: Some(algorithm.as_str().to_owned()),
        cnonce: use_qop.then_some(cnonce),
        opaque: challenge.opaque.clone(),
        qop: use_qop.then(|| "auth".to_owned()),
        nc: use_qop.then_some(nc),
        userhash: false,
    };
    AuthorizationValue(creds.to_header_value())
}

/// Remembers the last challenge so refreshes can be pre-authorised with an
/// incremented nonce count instead of taking a 401 round trip each time.
#[derive(Debug, Clone, Default)]
pub struct ClientSession {
    client: DigestClient,
    current: Option<Remembered>,
}

#[derive(Debug, Clone)]
struct Remembered {
    challenge: DigestChallenge,
    algorithm: Algorithm,
    /// The last nonce count used.
    nc: u32,
}

impl ClientSession {
    /// A session using `client`'s policy.
    pub fn new(client: DigestClient) -> Self {
        Self {
            client,
            current: None,
        }
    }

    /// Answers a 401/407 and remembers the chosen challenge. The nonce count
    /// restarts at 1 for a new nonce and continues for a repeated one.
    #[allow(clippy::too_many_arguments)]
    pub fn handle_challenge(
        &mut self,
        challenges: &[&str],
        method: &str,
        uri: &str,
        username: &str,
        password: &str,
        cnonce_random: [u8; 16],
    ) -> Result<AuthorizationValue, ClientError> {
        let (challenge, algorithm) = self.client.choose(challenges)?;
        let nc = match &self.current {
            Some(r)
                if r.challenge.nonce == challenge.nonce && r.challenge.realm == challenge.realm =>
            {
                r.nc.checked_add(1)
                    .ok_or(ClientError::NonceCountExhausted)?
            }
            _ => 1,
        };
        let value = answer(
            &challenge,
            algorithm,
            method,
            uri,
            username,
            password,
            cnonce_random,
            nc,
        );
        self.current = Some(Remembered {
            challenge,
            algorithm,
            nc,
        });
        Ok(value)
    }

    /// Credentials for the next request on the remembered nonce (e.g. a
    /// REGISTER refresh, `nc=00000002`), or `None` without a remembered
    /// challenge or when the count is exhausted. If the server answers 401
    /// with `stale=true`, call [`Self::handle_challenge`] again.
    pub fn preauthorize(
        &mut self,
        method: &str,
        uri: &str,
        username: &str,
        password: &str,
        cnonce_random: [u8; 16],
    ) -> Option<AuthorizationValue> {
        let r = self.current.as_mut()?;
        r.nc = r.nc.checked_add(1)?;
        Some(answer(
            &r.challenge,
            r.algorithm,
            method,
            uri,
            username,
            password,
            cnonce_random,
            r.nc,
        ))
    }

    /// Whether the remembered challenge carried `stale=true`: a retry with the
    /// new nonce is expected, not a credential problem.
    pub fn last_challenge_stale(&self) -> bool {
        self.current.as_ref().is_some_and(|r| r.challenge.stale)
    }

    /// The realm of the remembered challenge.
    pub fn realm(&self) -> Option<&str> {
        self.current.as_ref().map(|r| r.challenge.realm.as_str())
    }

    /// Forgets the remembered challenge (e.g. after a credential change).
    pub fn clear(&mut self) {
        self.current = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::credentials::Credentials;

    fn creds(v: &AuthorizationValue) -> DigestCredentials {
        match Credentials::parse(v.as_str()).unwrap() {
            Credentials::Digest(c) => c,
            Credentials::Other { .. } => panic!("not digest"),
        }
    }

    const MD5: &str = r#"Digest realm="r", nonce="n1", algorithm=MD5, qop="auth""#;
    const SHA: &str = r#"Digest realm="r", nonce="n1", algorithm=SHA-256, qop="auth""#;

    #[test]
    fn sha256_is_preferred_whatever_the_order() {
        let client = DigestClient::default();
        for offers in [[MD5, SHA], [SHA, MD5]] {
            let v = client
                .respond(&offers, "REGISTER", "sip:r", "u", "p", [0; 16], 1)
                .unwrap();
            assert_eq!(creds(&v).algorithm(), Some(Algorithm::Sha256));
        }
    }

    #[test]
    fn unusable_challenges_are_skipped() {
        let client = DigestClient::default();
        let offers = [
            "Basic realm=\"r\"",
            "Digest realm=\"r\", nonce=\"x\", algorithm=SHA-512-256, qop=\"auth\"",
            "Digest realm=\"r\", nonce=\"x\", qop=\"auth-int\"",
            "Digest garbage",
            MD5,
        ];
        let v = client
            .respond(&offers, "REGISTER", "sip:r", "u", "p", [0; 16], 1)
            .unwrap();
        assert_eq!(creds(&v).algorithm(), Some(Algorithm::Md5));
        assert_eq!(
            client.respond(&offers[..4], "REGISTER", "sip:r", "u", "p", [0; 16], 1),
            Err(ClientError::NoUsableChallenge { offered: 4 })
        );
    }

    #[test]
    fn no_qop_challenge_gets_rfc2069_answer_unless_disabled() {
        let offer = [r#"Digest realm="r", nonce="n", opaque="o""#];
        let v = DigestClient::default()
            .respond(&offer, "REGISTER", "sip:r", "u", "p", [0; 16], 1)
            .unwrap();
        let c = creds(&v);
        assert_eq!((c.qop, c.nc, c.cnonce), (None, None, None));
        assert_eq!(c.opaque.as_deref(), Some("o"));
        let strict = DigestClient {
            allow_no_qop: false,
        };
        assert!(
            strict
                .respond(&offer, "REGISTER", "sip:r", "u", "p", [0; 16], 1)
                .is_err()
        );
    }

    #[test]
    fn qop_answer_carries_hex_cnonce_and_nc() {
        let v = DigestClient::default()
            .respond(&[SHA], "REGISTER", "sip:r", "u", "p", [0xab; 16], 0x1a)
            .unwrap();
        let c = creds(&v);
        assert_eq!(
            c.cnonce.as_deref(),
            Some("abababababababababababababababab")
        );
        assert_eq!(c.nc.as_deref(), Some("0000001a"));
        assert_eq!(c.qop.as_deref(), Some("auth"));
        assert_eq!(c.response.len(), 64);
    }

    #[test]
    fn session_counts_nonce_uses() {
        let mut s = ClientSession::default();
        assert!(
            s.preauthorize("REGISTER", "sip:r", "u", "p", [0; 16])
                .is_none()
        );
        let first = s
            .handle_challenge(&[SHA], "REGISTER", "sip:r", "u", "p", [0; 16])
            .unwrap();
        assert_eq!(creds(&first).nc.as_deref(), Some("00000001"));
        let second = s
            .preauthorize("REGISTER", "sip:r", "u", "p", [1; 16])
            .unwrap();
        assert_eq!(creds(&second).nc.as_deref(), Some("00000002"));
        // Same nonce challenged again: count continues.
        let third = s
            .handle_challenge(&[SHA], "REGISTER", "sip:r", "u", "p", [2; 16])
            .unwrap();
        assert_eq!(creds(&third).nc.as_deref(), Some("00000003"));
        // New nonce: count restarts; stale flag exposed.
        let stale = r#"Digest realm="r", nonce="n2", algorithm=SHA-256, qop="auth", stale=true"#;
        let fourth = s
            .handle_challenge(&[stale], "REGISTER", "sip:r", "u", "p", [3; 16])
            .unwrap();
        assert_eq!(creds(&fourth).nc.as_deref(), Some("00000001"));
        assert!(s.last_challenge_stale());
        assert_eq!(s.realm(), Some("r"));
        s.clear();
        assert!(
            s.preauthorize("REGISTER", "sip:r", "u", "p", [0; 16])
                .is_none()
        );
    }

    #[test]
    fn debug_redacts_authorization_value() {
        let v = DigestClient::default()
            .respond(&[MD5], "REGISTER", "sip:r", "secret-user", "p", [0; 16], 1)
            .unwrap();
        assert!(!format!("{v:?}").contains("secret-user"));
    }
}
