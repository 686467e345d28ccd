//! `WWW-Authenticate` / `Proxy-Authenticate` values (RFC 3261 §20.44, §20.27;
//! RFC 7616 §3.3).

use super::digest::Algorithm;
use super::params::{self, AuthParseError, Param};

/// A parsed challenge header value.
///
/// SIP forbids folding several challenges into one header value (RFC 3261
/// §7.3.1), so one value holds exactly one challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// A `Digest` challenge.
    Digest(DigestChallenge),
    /// Any other scheme; its parameters are not interpreted.
    Other {
        /// The scheme token as it appeared.
        scheme: String,
    },
}

impl Challenge {
    /// Parses one header value.
    pub fn parse(value: &str) -> Result<Self, AuthParseError> {
        let split = params::split_scheme(value)?;
        if !split.scheme.eq_ignore_ascii_case("digest") {
            return Ok(Self::Other {
                scheme: split.scheme.to_owned(),
            });
        }
        let params = params::parse_params(split.rest, split.rest_offset)?;
        DigestChallenge::from_params(&params).map(Self::Digest)
    }
}

/// A `Digest` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestChallenge {
    /// `realm` (required).
    pub realm: String,
    /// `nonce` (required).
    pub nonce: String,
    /// `opaque`, echoed back unchanged by the client.
    pub opaque: Option<String>,
    /// `stale=true`: the previous credentials were right but the nonce had
    /// expired, so the client retries without asking the user again.
    pub stale: bool,
    /// `algorithm` token as sent; absent means MD5. See [`Self::algorithm`].
    pub algorithm: Option<String>,
    /// `qop` options, lower-cased (e.g. `["auth"]`); empty for RFC 2069.
    pub qop: Vec<String>,
    /// `domain`, unparsed.
    pub domain: Option<String>,
}

impl DigestChallenge {
    fn from_params(params: &[Param]) -> Result<Self, AuthParseError> {
        let required = |name: &'static str| {
            params::find(params, name)
                .map(str::to_owned)
                .ok_or(AuthParseError::MissingParam { name })
        };
        let optional = |name: &str| params::find(params, name).map(str::to_owned);
        Ok(Self {
            realm: required("realm")?,
            nonce: required("nonce")?,
            opaque: optional("opaque"),
            // RFC 7616 §3.3: anything but "true" is treated as false.
            stale: params::find(params, "stale").is_some_and(|v| v.eq_ignore_ascii_case("true")),
            algorithm: optional("algorithm"),
            qop: params::find(params, "qop")
                .map(|v| {
                    v.split(',')
                        .map(|o| o.trim().to_ascii_lowercase())
                        .filter(|o| !o.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            domain: optional("domain"),
        })
    }

    /// The algorithm, or `None` when it is one this module does not implement.
    /// An absent `algorithm` parameter means MD5 (RFC 7616 §3.3).
    pub fn algorithm(&self) -> Option<Algorithm> {
        match &self.algorithm {
            None => Some(Algorithm::Md5),
            Some(token) => Algorithm::from_token(token),
        }
    }

    /// Whether `qop=auth` is among the offered options.
    pub fn offers_qop_auth(&self) -> bool {
        self.qop.iter().any(|q| q == "auth")
    }

    /// Serialises the challenge as a header value.
    pub fn to_header_value(&self) -> String {
        let mut out = String::from("Digest realm=");
        params::push_quoted(&mut out, &self.realm);
        out.push_str(", nonce=");
        params::push_quoted(&mut out, &self.nonce);
        if let Some(opaque) = &self.opaque {
            out.push_str(", opaque=");
            params::push_quoted(&mut out, opaque);
        }
        if let Some(domain) = &self.domain {
            out.push_str(", domain=");
            params::push_quoted(&mut out, domain);
        }
        if let Some(alg) = &self.algorithm {
            out.push_str(", algorithm=");
            out.push_str(alg);
        }
        if !self.qop.is_empty() {
            out.push_str(", qop=");
            params::push_quoted(&mut out, &self.qop.join(","));
        }
        if self.stale {
            out.push_str(", stale=true");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7616_sha256_challenge_parses() {
        let value = r#"Digest
 realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256,
 nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
 opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#
            .replace('\n', "");
        let Challenge::Digest(c) = Challenge::parse(&value).unwrap() else {
            panic!("not digest")
        };
        assert_eq!(c.realm, "http-auth@example.org");
        assert_eq!(c.nonce, "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v");
        assert_eq!(c.qop, vec!["auth", "auth-int"]);
        assert_eq!(c.algorithm(), Some(Algorithm::Sha256));
        assert!(c.offers_qop_auth());
        assert!(!c.stale);
        assert_eq!(
            c.opaque.as_deref(),
            Some("FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS")
        );
    }

    #[test]
    fn absent_algorithm_means_md5_and_unknown_is_unsupported() {
        let c = |v: &str| match Challenge::parse(v).unwrap() {
            Challenge::Digest(c) => c,
            Challenge::Other { .. } => panic!("not digest"),
        };
        assert_eq!(
            c(r#"Digest realm="r", nonce="n""#).algorithm(),
            Some(Algorithm::Md5)
        );
        assert_eq!(
            c(r#"Digest realm="r", nonce="n", algorithm=SHA-512-256"#).algorithm(),
            None
        );
        assert!(c(r#"Digest realm="r", nonce="n", stale=TRUE"#).stale);
        assert!(!c(r#"Digest realm="r", nonce="n", stale=maybe"#).stale);
    }

    #[test]
    fn unknown_scheme_is_other_not_an_error() {
        // RFC 4475 §3.1.2.x regaut01 uses this scheme in an Authorization header;
        // challenges with unknown schemes must not break parsing either.
        assert_eq!(
            Challenge::parse("NoOneKnowsThisScheme opaque-data=here").unwrap(),
            Challenge::Other {
                scheme: "NoOneKnowsThisScheme".into()
            }
        );
    }

    #[test]
    fn missing_nonce_is_an_error() {
        assert_eq!(
            Challenge::parse(r#"Digest realm="r""#),
            Err(AuthParseError::MissingParam { name: "nonce" })
        );
    }

    #[test]
    fn serialised_challenge_parses_back_to_itself() {
        let c = DigestChallenge {
            realm: "kantoor \"A\"".into(),
            nonce: "abc".into(),
            opaque: Some("o".into()),
            stale: true,
            algorithm: Some("SHA-256".into()),
            qop: vec!["auth".into()],
            domain: None,
        };
        assert_eq!(
            Challenge::parse(&c.to_header_value()).unwrap(),
            Challenge::Digest(c)
        );
    }
}
