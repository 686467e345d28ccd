//! `Authorization` / `Proxy-Authorization` values (RFC 3261 §20.7, §20.28;
//! RFC 7616 §3.4).

use super::digest::Algorithm;
use super::params::{self, AuthParseError, Param};
use std::fmt;

/// A parsed credentials header value.
// Reason: a short-lived parse result; boxing the common variant only adds an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// `Digest` credentials.
    Digest(DigestCredentials),
    /// Any other scheme (e.g. `NoOneKnowsThisScheme` in RFC 4475 regaut01);
    /// a registrar answers it with a fresh Digest challenge.
    Other {
        /// The scheme token as it appeared.
        scheme: String,
    },
}

impl Credentials {
    /// Parses one header value.
    pub fn parse(value: &str) -> Result<Self, AuthParseError> {
        let split = params::split_scheme(value)?;
        if !split.scheme.eq_ignore_ascii_case("digest") {
            return Ok(Self::Other {
                scheme: split.scheme.to_owned(),
            });
        }
        let params = params::parse_params(split.rest, split.rest_offset)?;
        DigestCredentials::from_params(&params).map(Self::Digest)
    }
}

/// `Digest` credentials. `Debug` redacts the username (personal data).
#[derive(Clone, PartialEq, Eq)]
pub struct DigestCredentials {
    /// `username` (required).
    pub username: String,
    /// `realm` (required).
    pub realm: String,
    /// `nonce` (required).
    pub nonce: String,
    /// `uri` (required): the digest-uri, normally the Request-URI.
    pub uri: String,
    /// `response` (required): the hex digest.
    pub response: String,
    /// `algorithm` token as sent; absent means MD5. See [`Self::algorithm`].
    pub algorithm: Option<String>,
    /// `cnonce` (required when `qop` is present).
    pub cnonce: Option<String>,
    /// `opaque`.
    pub opaque: Option<String>,
    /// `qop` as sent, lower-cased; `None` for RFC 2069 credentials.
    pub qop: Option<String>,
    /// `nc`: exactly eight hex digits as sent (required when `qop` is present).
    pub nc: Option<String>,
    /// `userhash=true` (RFC 7616 §3.4.4), not supported by the server.
    pub userhash: bool,
}

impl fmt::Debug for DigestCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigestCredentials")
            .field("username", &"<redacted>")
            .field("realm", &self.realm)
            .field("uri", &"<redacted>")
            .field("algorithm", &self.algorithm)
            .field("qop", &self.qop)
            .field("nc", &self.nc)
            .finish_non_exhaustive()
    }
}

impl DigestCredentials {
    fn from_params(params: &[Param]) -> Result<Self, AuthParseError> {
        let required = |name: &'static str| {
            params::find(params, name)
                .map(str::to_owned)
                .ok_or(AuthParseError::MissingParam { name })
        };
        let optional = |name: &str| params::find(params, name).map(str::to_owned);
        let qop = optional("qop").map(|q| q.to_ascii_lowercase());
        let nc = optional("nc");
        if let Some(nc) = &nc
            && (nc.len() != 8 || !nc.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Err(AuthParseError::InvalidParamValue { name: "nc" });
        }
        let cnonce = optional("cnonce");
        if qop.is_some() {
            // RFC 7616 §3.4: cnonce and nc MUST accompany qop.
            if cnonce.is_none() {
                return Err(AuthParseError::MissingParam { name: "cnonce" });
            }
            if nc.is_none() {
                return Err(AuthParseError::MissingParam { name: "nc" });
            }
        }
        Ok(Self {
            username: required("username")?,
            realm: required("realm")?,
            nonce: required("nonce")?,
            uri: required("uri")?,
            response: required("response")?,
            algorithm: optional("algorithm"),
            cnonce,
            opaque: optional("opaque"),
            qop,
            nc,
            userhash: params::find(params, "userhash")
                .is_some_and(|v| v.eq_ignore_ascii_case("true")),
        })
    }

    /// The algorithm, or `None` when unsupported. Absent means MD5.
    pub fn algorithm(&self) -> Option<Algorithm> {
        match &self.algorithm {
            None => Some(Algorithm::Md5),
            Some(token) => Algorithm::from_token(token),
        }
    }

    /// Serialises the credentials as a header value.
    pub fn to_header_value(&self) -> String {
        let mut out = String::from("Digest username=");
        params::push_quoted(&mut out, &self.username);
        for (name, value) in [
            ("realm", &self.realm),
            ("nonce", &self.nonce),
            ("uri", &self.uri),
            ("response", &self.response),
        ] {
            out.push_str(", ");
            out.push_str(name);
            out.push('=');
            params::push_quoted(&mut out, value);
        }
        if let Some(alg) = &self.algorithm {
            out.push_str(", algorithm=");
            out.push_str(alg);
        }
        if let Some(cnonce) = &self.cnonce {
            out.push_str(", cnonce=");
            params::push_quoted(&mut out, cnonce);
        }
        if let Some(opaque) = &self.opaque {
            out.push_str(", opaque=");
            params::push_quoted(&mut out, opaque);
        }
        if let Some(qop) = &self.qop {
            out.push_str(", qop=");
            out.push_str(qop);
        }
        if let Some(nc) = &self.nc {
            out.push_str(", nc=");
            out.push_str(nc);
        }
        if self.userhash {
            out.push_str(", userhash=true");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const RFC2617_AUTHORIZATION: &str = r#"Digest username="Mufasa",
                 realm="testrealm@host.com",
                 nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
                 uri="/dir/index.html",
                 qop=auth,
                 nc=00000001,
                 cnonce="0a4f113b",
                 response="6629fae49393a05397450978507c4ef1",
                 opaque="5ccc069c403ebaf9f0171e9517f40e41""#;

    fn unfold(s: &str) -> String {
        s.replace('\n', "")
    }

    #[test]
    fn rfc2617_authorization_parses() {
        let Credentials::Digest(c) = Credentials::parse(&unfold(RFC2617_AUTHORIZATION)).unwrap()
        else {
            panic!("not digest")
        };
        assert_eq!(c.username, "Mufasa");
        assert_eq!(c.realm, "testrealm@host.com");
        assert_eq!(c.uri, "/dir/index.html");
        assert_eq!(c.qop.as_deref(), Some("auth"));
        assert_eq!(c.nc.as_deref(), Some("00000001"));
        assert_eq!(c.cnonce.as_deref(), Some("0a4f113b"));
        assert_eq!(c.response, "6629fae49393a05397450978507c4ef1");
        assert_eq!(c.algorithm(), Some(Algorithm::Md5));
    }

    #[test]
    fn rfc4475_regaut01_unknown_scheme_is_other() {
        assert_eq!(
            Credentials::parse("NoOneKnowsThisScheme opaque-data=here").unwrap(),
            Credentials::Other {
                scheme: "NoOneKnowsThisScheme".into()
            }
        );
    }

    #[test]
    fn unknown_params_are_ignored() {
        let v = r#"Digest username="a", realm="r", nonce="n", uri="sip:r", response="00", x-vendor="1", foo=bar"#;
        assert!(matches!(Credentials::parse(v), Ok(Credentials::Digest(_))));
    }

    #[test]
    fn invalid_credentials_are_errors() {
        let base = r#"Digest username="a", realm="r", nonce="n", response="00""#;
        let cases = [
            (
                base.to_owned(),
                AuthParseError::MissingParam { name: "uri" },
            ),
            (
                format!("{base}, uri=\"u\", qop=auth, nc=00000001"),
                AuthParseError::MissingParam { name: "cnonce" },
            ),
            (
                format!("{base}, uri=\"u\", qop=auth, cnonce=\"c\""),
                AuthParseError::MissingParam { name: "nc" },
            ),
            (
                format!("{base}, uri=\"u\", qop=auth, cnonce=\"c\", nc=1"),
                AuthParseError::InvalidParamValue { name: "nc" },
            ),
            (
                format!("{base}, uri=\"u\", uri=\"v\""),
                AuthParseError::DuplicateParam { name: "uri".into() },
            ),
        ];
        for (input, want) in cases {
            assert_eq!(Credentials::parse(&input), Err(want), "{input}");
        }
    }

    #[test]
    fn debug_does_not_show_username() {
        let Credentials::Digest(c) = Credentials::parse(&unfold(RFC2617_AUTHORIZATION)).unwrap()
        else {
            panic!()
        };
        assert!(!format!("{c:?}").contains("Mufasa"));
    }

    #[test]
    fn serialised_credentials_parse_back_to_themselves() {
        let Credentials::Digest(c) = Credentials::parse(&unfold(RFC2617_AUTHORIZATION)).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            Credentials::parse(&c.to_header_value()).unwrap(),
            Credentials::Digest(c)
        );
    }
}
