//! Registrar side of digest authentication: stateless nonces and verification.

use super::credentials::{Credentials, DigestCredentials};
use super::digest::{self, Algorithm, ResponseInput};
use super::params::AuthParseError;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::Sha256;
use std::fmt;
use std::time::Duration;
use subtle::ConstantTimeEq as _;

/// Domain separator mixed into every nonce MAC, so the secret can safely be
/// shared with other HMAC uses.
const NONCE_MAC_LABEL: &[u8] = b"voip-sip digest nonce v1\0";
/// Timestamp (8 bytes) plus HMAC-SHA256 (32 bytes).
const NONCE_RAW_LEN: usize = 40;

/// Settings of a [`DigestServer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestServerConfig {
    /// How long a nonce stays fresh. After that, a correct response earns
    /// [`Verdict::Stale`]. Default 300 s.
    pub nonce_lifetime: Duration,
    /// Algorithms offered, one challenge each, in preference order (RFC 8760
    /// §2.4: SHA-256 first, then MD5 for older phones). Only these are accepted.
    /// Default `[Sha256, Md5]`.
    pub algorithms: Vec<Algorithm>,
    /// Accept RFC 2069 responses without `qop` (very old phones). Challenges
    /// always offer `qop="auth"`. Default `false`.
    pub allow_no_qop: bool,
}

impl Default for DigestServerConfig {
    fn default() -> Self {
        Self {
            nonce_lifetime: Duration::from_mins(5),
            algorithms: vec![Algorithm::Sha256, Algorithm::Md5],
            allow_no_qop: false,
        }
    }
}

/// What the registrar knows about a user, as returned by the lookup callback
/// of [`DigestServer::verify`].
///
/// Storing [`StoredCredential::Ha1`] instead of the password means a leaked
/// database does not reveal passwords usable elsewhere; it is still enough to
/// authenticate to this realm, and it must be recomputed when the realm
/// changes. `Debug` redacts everything.
#[derive(Clone, PartialEq, Eq)]
pub enum StoredCredential {
    /// The plain password.
    Password(String),
    /// Precomputed `H(username:realm:password)` per algorithm, lower- or
    /// upper-case hex. A request using an algorithm whose HA1 is absent is
    /// rejected.
    Ha1 {
        /// MD5 HA1 (32 hex digits), also used for `MD5-sess`.
        md5: Option<String>,
        /// SHA-256 HA1 (64 hex digits), also used for `SHA-256-sess`.
        sha256: Option<String>,
    },
}

impl StoredCredential {
    /// Computes both HA1 values from a password, for storage.
    pub fn ha1_from_password(username: &str, realm: &str, password: &str) -> Self {
        Self::Ha1 {
            md5: Some(digest::ha1(Algorithm::Md5, username, realm, password)),
            sha256: Some(digest::ha1(Algorithm::Sha256, username, realm, password)),
        }
    }
}

impl fmt::Debug for StoredCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Password(_) => f.write_str("Password(<redacted>)"),
            Self::Ha1 { .. } => f.write_str("Ha1(<redacted>)"),
        }
    }
}

/// Outcome of [`DigestServer::verify`].
///
/// How a registrar maps it onto the wire and onto the
/// [`BanTracker`](super::ban::BanTracker) is described in the
/// [module documentation](super).
#[derive(Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The response is correct and the nonce fresh.
    Authenticated {
        /// The authenticated username (personal data; `Debug` redacts it).
        username: String,
        /// The algorithm the client used.
        algorithm: Algorithm,
        /// The `uri` auth-param, for an optional comparison with the
        /// Request-URI by the caller.
        uri: String,
    },
    /// The response is correct for a nonce we issued, but the nonce expired:
    /// answer 401/407 with [`DigestServer::challenge`]`(now, true)`. Not a
    /// failed attempt.
    Stale,
    /// Wrong password, unknown user, wrong realm, forged or foreign nonce,
    /// algorithm or qop not offered: answer 401/407 with a fresh challenge and
    /// count a failure. Deliberately carries no reason.
    Rejected,
    /// The header value is not valid Digest credentials: answer 400 (or 401)
    /// and count a failure.
    Malformed(AuthParseError),
    /// Credentials of another scheme (RFC 4475 regaut01): answer 401/407 with
    /// a Digest challenge, as if no credentials had been sent.
    OtherScheme,
}

impl fmt::Debug for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Authenticated { algorithm, .. } => f
                .debug_struct("Authenticated")
                .field("username", &"<redacted>")
                .field("algorithm", algorithm)
                .finish_non_exhaustive(),
            Self::Stale => f.write_str("Stale"),
            Self::Rejected => f.write_str("Rejected"),
            Self::Malformed(e) => f.debug_tuple("Malformed").field(e).finish(),
            Self::OtherScheme => f.write_str("OtherScheme"),
        }
    }
}

/// Stateless digest authentication for one realm.
///
/// **Time**: every `now` is the time since the Unix epoch
/// (`SystemTime::now().duration_since(UNIX_EPOCH)` in the shell), so nonces
/// issued before a restart still verify when the secret is kept. Whole
/// seconds are used.
///
/// **Nonces** are `base64url(ts || HMAC-SHA256(secret, label || ts || realm))`
/// with `ts` the issue time in seconds (u64, big-endian): no per-client state.
/// Consequences, by design: two challenges in the same second carry the same
/// nonce, and the nonce count is **not** tracked, so a captured request can be
/// replayed while its nonce is fresh (at most `nonce_lifetime`). Use TLS for
/// SIP where replay matters; for REGISTER a replay only refreshes a binding
/// the attacker cannot change.
pub struct DigestServer {
    realm: String,
    /// The secret zero-padded to the SHA-256 block size; HMAC pads shorter
    /// keys the same way, so this equals HMAC keyed with the 32-byte secret.
    key: [u8; 64],
    config: DigestServerConfig,
}

impl fmt::Debug for DigestServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigestServer")
            .field("realm", &self.realm)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl DigestServer {
    /// A server for `realm`. `secret` must come from a CSPRNG and be kept
    /// across restarts (e.g. in the data directory) for nonces to survive one.
    pub fn new(realm: impl Into<String>, secret: [u8; 32], config: DigestServerConfig) -> Self {
        let mut key = [0u8; 64];
        key[..32].copy_from_slice(&secret);
        Self {
            realm: realm.into(),
            key,
            config,
        }
    }

    /// The realm.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// The configuration.
    pub fn config(&self) -> &DigestServerConfig {
        &self.config
    }

    /// Replaces the algorithms offered and accepted (a configuration
    /// reload); nonces already issued stay valid.
    pub fn set_algorithms(&mut self, algorithms: Vec<Algorithm>) {
        self.config.algorithms = algorithms;
    }

    /// Challenge header values (`WWW-Authenticate` for a registrar with 401,
    /// `Proxy-Authenticate` with 407), one per configured algorithm in
    /// preference order. `stale` adds `stale=true` (after [`Verdict::Stale`]).
    pub fn challenge(&self, now: Duration, stale: bool) -> Vec<String> {
        let nonce = self.make_nonce(now.as_secs());
        self.config
            .algorithms
            .iter()
            .map(|alg| {
                super::challenge::DigestChallenge {
                    realm: self.realm.clone(),
                    nonce: nonce.clone(),
                    opaque: None,
                    stale,
                    algorithm: Some(alg.as_str().to_owned()),
                    qop: vec!["auth".to_owned()],
                    domain: None,
                }
                .to_header_value()
            })
            .collect()
    }

    /// Verifies one `Authorization` / `Proxy-Authorization` header value for
    /// a request with `method`.
    ///
    /// `lookup` is called at most once, with the username, and only for
    /// credentials that name this realm and carry one of our nonces. An
    /// unknown user (`None`) costs the same hashing as a known one and yields
    /// the same [`Verdict::Rejected`] as a wrong password.
    pub fn verify(
        &self,
        now: Duration,
        method: &str,
        credentials: &str,
        lookup: impl FnOnce(&str) -> Option<StoredCredential>,
    ) -> Verdict {
        let creds = match Credentials::parse(credentials) {
            Ok(Credentials::Digest(c)) => c,
            Ok(Credentials::Other { .. }) => return Verdict::OtherScheme,
            Err(e) => return Verdict::Malformed(e),
        };
        let Some(algorithm) = creds.algorithm() else {
            return Verdict::Rejected;
        };
        if creds.realm != self.realm
            || creds.userhash
            || !self.config.algorithms.contains(&algorithm)
        {
            return Verdict::Rejected;
        }
        match creds.qop.as_deref() {
            Some("auth") => {}
            None if self.config.allow_no_qop && !algorithm.is_session() => {}
            _ => return Verdict::Rejected,
        }
        let Some(issued) = self.check_nonce(&creds.nonce) else {
            return Verdict::Rejected;
        };
        let stored = lookup(&creds.username);
        if !response_matches(&creds, method, algorithm, stored.as_ref()) {
            return Verdict::Rejected;
        }
        let lifetime = self.config.nonce_lifetime.as_secs();
        let now = now.as_secs();
        // A nonce "from the future" can only be ours after a clock step back;
        // accept it within the same lifetime.
        if now.abs_diff(issued) > lifetime {
            return Verdict::Stale;
        }
        Verdict::Authenticated {
            username: creds.username,
            algorithm,
            uri: creds.uri,
        }
    }

    fn mac(&self, ts: [u8; 8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new(&self.key.into());
        mac.update(NONCE_MAC_LABEL);
        mac.update(&ts);
        mac.update(self.realm.as_bytes());
        mac
    }

    fn make_nonce(&self, ts: u64) -> String {
        let ts = ts.to_be_bytes();
        let tag = self.mac(ts).finalize().into_bytes();
        let mut raw = [0u8; NONCE_RAW_LEN];
        raw[..8].copy_from_slice(&ts);
        raw[8..].copy_from_slice(&tag);
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// The issue time of an authentic nonce, or `None`.
    fn check_nonce(&self, nonce: &str) -> Option<u64> {
        // Bound the work before decoding attacker input.
        if nonce.len() > 64 {
            return None;
        }
        let raw = URL_SAFE_NO_PAD.decode(nonce).ok()?;
        if raw.len() != NONCE_RAW_LEN {
            return None;
        }
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&raw[..8]);
        self.mac(ts).verify_slice(&raw[8..]).ok()?;
        Some(u64::from_be_bytes(ts))
    }
}

/// Computes the expected response and compares it in constant time. For an
/// unknown user, or a stored HA1 missing for the algorithm, a dummy HA1 is
/// hashed so the work matches the password case.
fn response_matches(
    creds: &DigestCredentials,
    method: &str,
    algorithm: Algorithm,
    stored: Option<&StoredCredential>,
) -> bool {
    const DUMMY_PASSWORD: &str = "\u{0}voip-sip-dummy-password";
    let dummy = || digest::ha1(algorithm, &creds.username, &creds.realm, DUMMY_PASSWORD);
    let (ha1, known) = match stored {
        Some(StoredCredential::Password(p)) => (
            digest::ha1(algorithm, &creds.username, &creds.realm, p),
            true,
        ),
        Some(StoredCredential::Ha1 { md5, sha256 }) => {
            let stored_ha1 = match algorithm {
                Algorithm::Md5 | Algorithm::Md5Sess => md5,
                Algorithm::Sha256 | Algorithm::Sha256Sess => sha256,
            };
            // Hash anyway so timing does not tell HA1 storage from unknown users.
            let d = std::hint::black_box(dummy());
            match stored_ha1 {
                Some(h) if h.len() == algorithm.hex_len() => (h.to_ascii_lowercase(), true),
                _ => (d, false),
            }
        }
        None => (dummy(), false),
    };
    let qop = creds
        .qop
        .as_deref()
        .zip(creds.nc.as_deref())
        .zip(creds.cnonce.as_deref())
        .map(|((q, nc), c)| (q, nc, c));
    let Some(expected) = digest::compute_response(&ResponseInput {
        algorithm,
        ha1: &ha1,
        nonce: &creds.nonce,
        method,
        uri: &creds.uri,
        qop,
        cnonce: creds.cnonce.as_deref(),
    }) else {
        return false;
    };
    let given = creds.response.to_ascii_lowercase();
    let equal: bool = expected.as_bytes().ct_eq(given.as_bytes()).into();
    equal && known
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2617_example_verifies_against_password_and_ha1() {
        // Nonce authenticity is checked separately; here only the response.
        let value = r#"Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629FAE49393A05397450978507C4EF1", opaque="5ccc069c403ebaf9f0171e9517f40e41""#;
        let Ok(Credentials::Digest(c)) = Credentials::parse(value) else {
            panic!()
        };
        let pw = StoredCredential::Password("Circle Of Life".into());
        let ha1 =
            StoredCredential::ha1_from_password("Mufasa", "testrealm@host.com", "Circle Of Life");
        let wrong = StoredCredential::Password("Circle of Life".into());
        assert!(response_matches(&c, "GET", Algorithm::Md5, Some(&pw)));
        assert!(response_matches(&c, "GET", Algorithm::Md5, Some(&ha1)));
        assert!(!response_matches(&c, "GET", Algorithm::Md5, Some(&wrong)));
        assert!(!response_matches(&c, "POST", Algorithm::Md5, Some(&pw)));
        assert!(!response_matches(&c, "GET", Algorithm::Md5, None));
        // Upper-case stored HA1 is accepted; a missing one for the algorithm is not.
        let StoredCredential::Ha1 { md5, .. } = ha1 else {
            panic!()
        };
        let upper = StoredCredential::Ha1 {
            md5: md5.map(|h| h.to_ascii_uppercase()),
            sha256: None,
        };
        assert!(response_matches(&c, "GET", Algorithm::Md5, Some(&upper)));
        let sha_only = StoredCredential::Ha1 {
            md5: None,
            sha256: Some(digest::ha1(
                Algorithm::Sha256,
                "Mufasa",
                "testrealm@host.com",
                "Circle Of Life",
            )),
        };
        assert!(!response_matches(
            &c,
            "GET",
            Algorithm::Md5,
            Some(&sha_only)
        ));
    }

    #[test]
    fn nonce_is_bound_to_secret_and_realm() {
        let a = DigestServer::new("a", [1; 32], DigestServerConfig::default());
        let b = DigestServer::new("b", [1; 32], DigestServerConfig::default());
        let c = DigestServer::new("a", [2; 32], DigestServerConfig::default());
        let nonce = a.make_nonce(1_000);
        assert_eq!(a.check_nonce(&nonce), Some(1_000));
        assert_eq!(b.check_nonce(&nonce), None);
        assert_eq!(c.check_nonce(&nonce), None);
        assert_eq!(a.check_nonce(""), None);
        assert_eq!(a.check_nonce("not base64 !"), None);
    }

    #[test]
    fn debug_redacts_secrets() {
        let s = format!("{:?}", StoredCredential::Password("hunter2".into()));
        assert!(!s.contains("hunter2"));
        let v = Verdict::Authenticated {
            username: "201".into(),
            algorithm: Algorithm::Md5,
            uri: "sip:x".into(),
        };
        assert!(!format!("{v:?}").contains("201"));
    }
}
