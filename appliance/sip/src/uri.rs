//! URIs: `sip:`/`sips:` (RFC 3261 19.1), `tel:` (RFC 3966) and any other
//! absolute URI kept opaque so that it parses and can be answered with 416.
//!
//! Raw (escaped) text is kept for every component so that serialisation
//! reproduces what was received; `%HH`-decoded forms are available for comparison.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::header::scan::{is_unreserved, unescape, valid_escaped};

/// A parsed URI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Uri {
    /// `sip:` or `sips:`.
    Sip(SipUri),
    /// `tel:`.
    Tel(TelUri),
    /// Any other absolute URI (`scheme:rest`), kept verbatim.
    Other {
        /// Scheme as written.
        scheme: String,
        /// Everything after the first colon.
        rest: String,
    },
}

/// Why a URI did not parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    /// No `scheme:` prefix, or invalid scheme characters.
    #[error("missing or invalid URI scheme")]
    BadScheme,
    /// Invalid characters or escapes in user or password.
    #[error("invalid userinfo")]
    BadUserinfo,
    /// Missing or invalid host.
    #[error("invalid host")]
    BadHost,
    /// Port not a number in 0..=65535.
    #[error("invalid port")]
    BadPort,
    /// Invalid URI parameter.
    #[error("invalid URI parameter")]
    BadParam,
    /// Invalid `?headers` component.
    #[error("invalid URI headers")]
    BadHeaders,
    /// Characters not allowed in a URI (whitespace, `<`, `>`, `"`, controls).
    #[error("invalid characters in URI")]
    BadChars,
}

/// The host part of a SIP URI or Via sent-by.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Host {
    /// A domain name (as written; compare case-insensitively).
    Domain(String),
    /// An IPv4 address.
    Ipv4(Ipv4Addr),
    /// An IPv6 reference (written in `[]`).
    Ipv6(Ipv6Addr),
}

impl Host {
    /// Parses a host: `[IPv6]`, dotted IPv4, or a hostname (alphanumerics, `-`, `.`, `_`).
    pub fn parse(s: &str) -> Result<Host, UriError> {
        if let Some(inner) = s.strip_prefix('[') {
            let inner = inner.strip_suffix(']').ok_or(UriError::BadHost)?;
            return inner.parse().map(Host::Ipv6).map_err(|_| UriError::BadHost);
        }
        if s.is_empty()
            || !s
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
        {
            return Err(UriError::BadHost);
        }
        if s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return s.parse().map(Host::Ipv4).map_err(|_| UriError::BadHost);
        }
        Ok(Host::Domain(s.to_owned()))
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Domain(d) => f.write_str(d),
            Host::Ipv4(a) => write!(f, "{a}"),
            Host::Ipv6(a) => write!(f, "[{a}]"),
        }
    }
}

/// A `name[=value]` parameter as written (escapes kept).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    /// Name.
    pub name: String,
    /// Value, `None` for a flag parameter such as `lr`.
    pub value: Option<String>,
}

/// Finds a parameter by case-insensitive name.
pub(crate) fn find_param<'a>(params: &'a [Param], name: &str) -> Option<&'a Param> {
    params.iter().find(|p| p.name.eq_ignore_ascii_case(name))
}

/// A `sip:` or `sips:` URI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SipUri {
    /// `sips:`.
    pub secure: bool,
    /// User part, raw (escapes kept).
    pub user: Option<String>,
    /// Password, raw.
    pub password: Option<String>,
    /// Host.
    pub host: Host,
    /// Port.
    pub port: Option<u16>,
    /// `;name[=value]` uri-parameters in order.
    pub params: Vec<Param>,
    /// `?name=value&...` headers, raw.
    pub headers: Vec<(String, String)>,
}

impl SipUri {
    /// The user part with `%HH` escapes decoded (bytes: `%00` is a valid user octet).
    pub fn user_unescaped(&self) -> Option<Vec<u8>> {
        self.user.as_deref().map(unescape)
    }

    /// A uri-parameter by case-insensitive name.
    pub fn param(&self, name: &str) -> Option<&Param> {
        find_param(&self.params, name)
    }

    fn parse(secure: bool, s: &str) -> Result<SipUri, UriError> {
        let b = s.as_bytes();
        // userinfo: everything before the first '@' if it only contains user/password characters.
        let (user, password, rest) = match memchr::memchr(b'@', b) {
            Some(at) if is_userinfo(&s[..at]) => {
                let ui = &s[..at];
                let (u, p) = match ui.split_once(':') {
                    Some((u, p)) => (u, Some(p.to_owned())),
                    None => (ui, None),
                };
                if u.is_empty() {
                    return Err(UriError::BadUserinfo);
                }
                (Some(u.to_owned()), p, &s[at + 1..])
            }
            _ => (None, None, s),
        };
        let (hostport, after) = match rest.find([';', '?']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let (host, port) = split_hostport(hostport)?;
        let (params_s, headers_s) = match after.find('?') {
            Some(i) => (&after[..i], Some(&after[i + 1..])),
            None => (after, None),
        };
        let mut params = Vec::new();
        if !params_s.is_empty() {
            for p in params_s[1..].split(';') {
                let (n, v) = match p.split_once('=') {
                    Some((n, v)) => (n, Some(v)),
                    None => (p, None),
                };
                if n.is_empty() || !valid_escaped(n.as_bytes(), is_param_char) {
                    return Err(UriError::BadParam);
                }
                if let Some(v) = v {
                    if v.is_empty() || !valid_escaped(v.as_bytes(), is_param_char) {
                        return Err(UriError::BadParam);
                    }
                }
                params.push(Param {
                    name: n.to_owned(),
                    value: v.map(str::to_owned),
                });
            }
        }
        let mut headers = Vec::new();
        if let Some(h) = headers_s {
            for hv in h.split('&') {
                let (n, v) = hv.split_once('=').ok_or(UriError::BadHeaders)?;
                if n.is_empty()
                    || !valid_escaped(n.as_bytes(), is_header_char)
                    || !valid_escaped(v.as_bytes(), is_header_char)
                {
                    return Err(UriError::BadHeaders);
                }
                headers.push((n.to_owned(), v.to_owned()));
            }
        }
        Ok(SipUri {
            secure,
            user,
            password,
            host,
            port,
            params,
            headers,
        })
    }
}

fn is_userinfo(s: &str) -> bool {
    let (u, p) = match s.split_once(':') {
        Some((u, p)) => (u, Some(p)),
        None => (s, None),
    };
    valid_escaped(u.as_bytes(), |b| {
        is_unreserved(b) || matches!(b, b'&' | b'=' | b'+' | b'$' | b',' | b';' | b'?' | b'/')
    }) && p.is_none_or(|p| {
        valid_escaped(p.as_bytes(), |b| {
            is_unreserved(b) || matches!(b, b'&' | b'=' | b'+' | b'$' | b',')
        })
    })
}

fn is_param_char(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'[' | b']' | b'/' | b':' | b'&' | b'+' | b'$')
}

fn is_header_char(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'[' | b']' | b'/' | b'?' | b':' | b'+' | b'$')
}

/// Splits `host[:port]` (IPv6 references in brackets).
pub(crate) fn split_hostport(s: &str) -> Result<(Host, Option<u16>), UriError> {
    let (h, p) = if s.starts_with('[') {
        let end = s.find(']').ok_or(UriError::BadHost)?;
        let rest = &s[end + 1..];
        let p = if rest.is_empty() {
            None
        } else {
            Some(rest.strip_prefix(':').ok_or(UriError::BadHost)?)
        };
        (&s[..=end], p)
    } else {
        match s.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    let host = Host::parse(h)?;
    let port = match p {
        None => None,
        Some(p) => {
            let v = crate::header::scan::parse_digits_u64(p).ok_or(UriError::BadPort)?;
            Some(u16::try_from(v).map_err(|_| UriError::BadPort)?)
        }
    };
    Ok((host, port))
}

/// A `tel:` URI (RFC 3966), kept mostly raw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TelUri {
    /// The number (global `+...` or local digits), as written.
    pub number: String,
    /// Parameters (`;phone-context=...`), as written.
    pub params: Vec<Param>,
}

impl Uri {
    /// Parses an absolute URI. Scheme comparison is case-insensitive.
    pub fn parse(s: &str) -> Result<Uri, UriError> {
        if s.bytes()
            .any(|b| b <= b' ' || b == 0x7f || matches!(b, b'<' | b'>' | b'"'))
        {
            return Err(UriError::BadChars);
        }
        let (scheme, rest) = s.split_once(':').ok_or(UriError::BadScheme)?;
        let sb = scheme.as_bytes();
        if sb.is_empty()
            || !sb[0].is_ascii_alphabetic()
            || !sb
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        {
            return Err(UriError::BadScheme);
        }
        if scheme.eq_ignore_ascii_case("sip") {
            SipUri::parse(false, rest).map(Uri::Sip)
        } else if scheme.eq_ignore_ascii_case("sips") {
            SipUri::parse(true, rest).map(Uri::Sip)
        } else if scheme.eq_ignore_ascii_case("tel") {
            let mut parts = rest.split(';');
            let number = parts.next().unwrap_or("");
            if number.is_empty()
                || !valid_escaped(number.as_bytes(), |b| {
                    b.is_ascii_alphanumeric()
                        || matches!(b, b'+' | b'-' | b'.' | b'(' | b')' | b'*' | b'#')
                })
            {
                return Err(UriError::BadUserinfo);
            }
            let mut params = Vec::new();
            for p in parts {
                let (n, v) = match p.split_once('=') {
                    Some((n, v)) => (n, Some(v.to_owned())),
                    None => (p, None),
                };
                if n.is_empty() || !valid_escaped(n.as_bytes(), is_param_char) {
                    return Err(UriError::BadParam);
                }
                params.push(Param {
                    name: n.to_owned(),
                    value: v,
                });
            }
            Ok(Uri::Tel(TelUri {
                number: number.to_owned(),
                params,
            }))
        } else if rest.is_empty() {
            Err(UriError::BadChars)
        } else {
            Ok(Uri::Other {
                scheme: scheme.to_owned(),
                rest: rest.to_owned(),
            })
        }
    }

    /// The scheme in lower case for sip/sips/tel, as written otherwise.
    pub fn scheme(&self) -> &str {
        match self {
            Uri::Sip(u) if u.secure => "sips",
            Uri::Sip(_) => "sip",
            Uri::Tel(_) => "tel",
            Uri::Other { scheme, .. } => scheme,
        }
    }

    /// The SIP URI, if this is one.
    pub fn as_sip(&self) -> Option<&SipUri> {
        match self {
            Uri::Sip(u) => Some(u),
            _ => None,
        }
    }
}

fn write_params(f: &mut fmt::Formatter<'_>, params: &[Param]) -> fmt::Result {
    for p in params {
        match &p.value {
            Some(v) => write!(f, ";{}={}", p.name, v)?,
            None => write!(f, ";{}", p.name)?,
        }
    }
    Ok(())
}

impl fmt::Display for SipUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.secure { "sips:" } else { "sip:" })?;
        if let Some(u) = &self.user {
            f.write_str(u)?;
            if let Some(p) = &self.password {
                write!(f, ":{p}")?;
            }
            f.write_str("@")?;
        }
        write!(f, "{}", self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write_params(f, &self.params)?;
        for (i, (n, v)) in self.headers.iter().enumerate() {
            write!(f, "{}{n}={v}", if i == 0 { '?' } else { '&' })?;
        }
        Ok(())
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Uri::Sip(u) => u.fmt(f),
            Uri::Tel(t) => {
                write!(f, "tel:{}", t.number)?;
                write_params(f, &t.params)
            }
            Uri::Other { scheme, rest } => write!(f, "{scheme}:{rest}"),
        }
    }
}

impl std::str::FromStr for Uri {
    type Err = UriError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uri::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sip(s: &str) -> SipUri {
        match Uri::parse(s).unwrap() {
            Uri::Sip(u) => u,
            other => panic!("not sip: {other:?}"),
        }
    }

    #[test]
    fn user_escapes_are_decoded_for_comparison_but_kept_raw() {
        let u = sip("sip:sips%3Auser%40example.com@example.net");
        assert_eq!(u.user.as_deref(), Some("sips%3Auser%40example.com"));
        assert_eq!(u.user_unescaped().unwrap(), b"sips:user@example.com");
        assert_eq!(sip("sip:%00@h").user_unescaped().unwrap(), vec![0]);
        assert_ne!(
            sip("sip:%00@h").user_unescaped(),
            sip("sip:%00%00@h").user_unescaped()
        );
    }

    #[test]
    fn user_may_contain_semicolons_and_password_odd_chars() {
        let u = sip("sip:user;par=u%40example.net@example.com");
        assert_eq!(u.user.as_deref(), Some("user;par=u%40example.net"));
        assert_eq!(u.host, Host::Domain("example.com".into()));
        let u = sip(
            "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com",
        );
        assert_eq!(
            u.user.as_deref(),
            Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
        );
        assert_eq!(
            u.password.as_deref(),
            Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
        );
    }

    #[test]
    fn hosts_ports_params_and_headers() {
        let u = sip("sips:[2001:db8::1]:5061;transport=tls;lr?Route=%3Csip:example.com%3E");
        assert!(u.secure);
        assert_eq!(u.host, Host::Ipv6("2001:db8::1".parse().unwrap()));
        assert_eq!(u.port, Some(5061));
        assert_eq!(u.param("TRANSPORT").unwrap().value.as_deref(), Some("tls"));
        assert!(u.param("lr").unwrap().value.is_none());
        assert_eq!(
            u.headers,
            vec![("Route".into(), "%3Csip:example.com%3E".into())]
        );
        assert_eq!(
            sip("sip:192.0.2.1:5060").host,
            Host::Ipv4(Ipv4Addr::new(192, 0, 2, 1))
        );
        assert_eq!(Uri::parse("sip:h:70000"), Err(UriError::BadPort));
        assert_eq!(Uri::parse("sip:h;%zz"), Err(UriError::BadParam));
    }

    #[test]
    fn other_schemes_are_opaque_and_tel_is_typed() {
        assert_eq!(
            Uri::parse("nobodyKnowsThisScheme:totallyopaquecontent").unwrap(),
            Uri::Other {
                scheme: "nobodyKnowsThisScheme".into(),
                rest: "totallyopaquecontent".into()
            }
        );
        assert_eq!(
            Uri::parse("soap.beep://192.0.2.103:3002").unwrap().scheme(),
            "soap.beep"
        );
        let Uri::Tel(t) = Uri::parse("tel:+31-20-1234567;phone-context=example.nl").unwrap() else {
            panic!()
        };
        assert_eq!(t.number, "+31-20-1234567");
        assert_eq!(Uri::parse("<sip:a@b>"), Err(UriError::BadChars));
        assert_eq!(Uri::parse("sip:a@b c"), Err(UriError::BadChars));
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "sip:alice@example.com",
            "sips:a:pw@[2001:db8::1]:5061;transport=tls;lr?h=v&x=y",
            "sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31",
            "tel:+31201234567;phone-context=example.nl",
            "isbn:2983792873",
        ] {
            assert_eq!(Uri::parse(s).unwrap().to_string(), s);
        }
    }
}
