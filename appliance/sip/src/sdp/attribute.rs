//! Typed `a=` attributes.
//!
//! A known attribute whose value does not parse is kept verbatim as
//! [`Attribute::Other`], so it is neither misread nor lost (RFC 4475's SDPs
//! carry `a=rtpmap:31 LPC` without a clock rate, for instance).

use std::fmt;

use super::codec::{Codec, PayloadType};
use super::model::{Connection, Redacted};

/// Media direction (RFC 8866 section 6.7, RFC 3264 section 5.1), seen from
/// the side that wrote the SDP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// `sendrecv` (the default).
    SendRecv,
    /// `sendonly`.
    SendOnly,
    /// `recvonly`.
    RecvOnly,
    /// `inactive`.
    Inactive,
}

impl Direction {
    /// From "do we send" and "do we receive".
    pub fn from_flags(send: bool, recv: bool) -> Self {
        match (send, recv) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }

    /// Whether the writer sends media.
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    /// Whether the writer receives media.
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    /// The same stream seen from the other side: `sendonly` becomes
    /// `recvonly` and vice versa; `sendrecv` and `inactive` stay.
    #[must_use]
    pub fn reversed(self) -> Self {
        Direction::from_flags(self.receives(), self.sends())
    }

    /// What both allow.
    #[must_use]
    pub fn intersect(self, other: Direction) -> Self {
        Direction::from_flags(
            self.sends() && other.sends(),
            self.receives() && other.receives(),
        )
    }

    /// The attribute name.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }
}

/// `a=rtpmap:<pt> <encoding>/<clock rate>[/<channels>]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rtpmap {
    /// Payload type.
    pub payload_type: PayloadType,
    /// Encoding name as written (`PCMU`, `opus`, ...).
    pub encoding: String,
    /// RTP clock rate in Hz.
    pub clock_rate: u32,
    /// Encoding parameters (channel count for audio), when written.
    pub channels: Option<u16>,
}

impl Rtpmap {
    /// The codec this maps to (without fmtp).
    pub fn codec(&self) -> Codec {
        Codec {
            name: self.encoding.clone(),
            clock_rate: self.clock_rate,
            channels: self.channels.unwrap_or(1),
            fmtp: None,
        }
    }

    fn parse(v: &str) -> Option<Self> {
        let (pt, rest) = v.split_once(' ')?;
        let payload_type = PayloadType::new(num(pt)?)?;
        let mut parts = rest.trim().split('/');
        let encoding = parts.next().filter(|s| is_token(s))?.to_owned();
        let clock_rate = num(parts.next()?)?;
        let channels = match parts.next() {
            Some(c) => Some(num(c)?),
            None => None,
        };
        if parts.next().is_some() {
            return None;
        }
        Some(Rtpmap {
            payload_type,
            encoding,
            clock_rate,
            channels,
        })
    }
}

/// `a=fmtp:<format> <parameters>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fmtp {
    /// The format (a payload type number for RTP).
    pub format: String,
    /// The parameters, verbatim.
    pub params: String,
}

impl Fmtp {
    /// `key=value` pairs split on `;` (a bare token yields an empty value).
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.params
            .split(';')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.trim(), v.trim())
            })
    }

    fn parse(v: &str) -> Option<Self> {
        let (format, params) = v.split_once(' ')?;
        let params = params.trim_start();
        if !is_token(format) || params.is_empty() {
            return None;
        }
        Some(Fmtp {
            format: format.to_owned(),
            params: params.to_owned(),
        })
    }
}

/// `a=rtcp:<port> [<nettype> <addrtype> <address>]` (RFC 3605).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rtcp {
    /// RTCP port.
    pub port: u16,
    /// RTCP address, when it differs from the media's.
    pub connection: Option<Connection>,
}

impl Rtcp {
    fn parse(v: &str) -> Option<Self> {
        let mut it = v.split_ascii_whitespace();
        let port = num(it.next()?)?;
        let connection = match (it.next(), it.next(), it.next()) {
            (None, _, _) => None,
            (Some(n), Some(a), Some(addr)) if is_token(n) && is_token(a) => Some(Connection {
                net_type: n.to_owned(),
                addr_type: a.to_owned(),
                address: addr.to_owned(),
                ttl: None,
                count: None,
            }),
            _ => return None,
        };
        if it.next().is_some() {
            return None;
        }
        Some(Rtcp { port, connection })
    }
}

/// `a=crypto:<tag> <suite> <key-params> [<session-params>]` (SDES-SRTP,
/// RFC 4568). The key parameters are [`Redacted`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Crypto {
    /// Tag, referenced by the answer.
    pub tag: u32,
    /// Crypto suite, e.g. `AES_CM_128_HMAC_SHA1_80`.
    pub suite: String,
    /// `inline:<key||salt>[|lifetime][|MKI:length]`, possibly several joined
    /// by `;`. Secret.
    pub key_params: Redacted,
    /// Session parameters (`KDR=1`, `UNENCRYPTED_SRTCP`, ...).
    pub session_params: Vec<String>,
}

impl Crypto {
    fn parse(v: &str) -> Option<Self> {
        let mut it = v.split_ascii_whitespace();
        let tag = num(it.next()?)?;
        let suite = it.next().filter(|s| is_token(s))?.to_owned();
        let key = it.next().filter(|k| k.contains(':'))?;
        Some(Crypto {
            tag,
            suite,
            key_params: Redacted::new(key),
            session_params: it.map(str::to_owned).collect(),
        })
    }
}

/// `a=candidate:` (RFC 8839).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// Foundation.
    pub foundation: String,
    /// Component id (1 = RTP, 2 = RTCP).
    pub component: u16,
    /// Transport (`udp`, `tcp`).
    pub transport: String,
    /// Priority.
    pub priority: u32,
    /// Connection address.
    pub address: String,
    /// Port.
    pub port: u16,
    /// Candidate type (`host`, `srflx`, `prflx`, `relay`).
    pub kind: String,
    /// `raddr`.
    pub related_address: Option<String>,
    /// `rport`.
    pub related_port: Option<u16>,
    /// Extension name/value pairs in order (`generation 0`, `tcptype active`).
    pub extensions: Vec<(String, String)>,
}

impl Candidate {
    fn parse(v: &str) -> Option<Self> {
        let mut it = v.split_ascii_whitespace();
        let foundation = it.next()?.to_owned();
        let component = num(it.next()?)?;
        let transport = it.next()?.to_owned();
        let priority = num(it.next()?)?;
        let address = it.next()?.to_owned();
        let port = num(it.next()?)?;
        if it.next()? != "typ" {
            return None;
        }
        let kind = it.next()?.to_owned();
        let mut c = Candidate {
            foundation,
            component,
            transport,
            priority,
            address,
            port,
            kind,
            related_address: None,
            related_port: None,
            extensions: Vec::new(),
        };
        while let Some(name) = it.next() {
            let value = it.next()?;
            match name {
                "raddr" if c.related_address.is_none() => c.related_address = Some(value.into()),
                "rport" if c.related_port.is_none() => c.related_port = Some(num(value)?),
                _ => c.extensions.push((name.to_owned(), value.to_owned())),
            }
        }
        Some(c)
    }
}

/// `a=fingerprint:<hash function> <fingerprint>` (RFC 8122).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fingerprint {
    /// Hash function (`sha-256`).
    pub hash_function: String,
    /// Colon-separated upper-case hex.
    pub fingerprint: String,
}

/// `a=setup:` (RFC 4145).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setup {
    /// `active`.
    Active,
    /// `passive`.
    Passive,
    /// `actpass`.
    ActPass,
    /// `holdconn`.
    HoldConn,
}

impl Setup {
    /// The token.
    pub fn as_str(self) -> &'static str {
        match self {
            Setup::Active => "active",
            Setup::Passive => "passive",
            Setup::ActPass => "actpass",
            Setup::HoldConn => "holdconn",
        }
    }
}

/// `a=ssrc:<ssrc> <attribute>[:<value>]` (RFC 5576).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ssrc {
    /// The SSRC.
    pub ssrc: u32,
    /// Source attribute name (`cname`, `msid`, ...).
    pub attribute: String,
    /// Its value.
    pub value: Option<String>,
}

/// One `a=` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attribute {
    /// `a=rtpmap`.
    Rtpmap(Rtpmap),
    /// `a=fmtp`.
    Fmtp(Fmtp),
    /// `a=ptime` (milliseconds).
    Ptime(u32),
    /// `a=maxptime` (milliseconds).
    MaxPtime(u32),
    /// `a=sendrecv`, `a=sendonly`, `a=recvonly`, `a=inactive`.
    Direction(Direction),
    /// `a=rtcp`.
    Rtcp(Rtcp),
    /// `a=rtcp-mux`.
    RtcpMux,
    /// `a=crypto`.
    Crypto(Crypto),
    /// `a=ice-ufrag`.
    IceUfrag(String),
    /// `a=ice-pwd` (secret).
    IcePwd(Redacted),
    /// `a=ice-options` tokens.
    IceOptions(Vec<String>),
    /// `a=ice-lite`.
    IceLite,
    /// `a=candidate`.
    Candidate(Candidate),
    /// `a=fingerprint`.
    Fingerprint(Fingerprint),
    /// `a=setup`.
    Setup(Setup),
    /// `a=mid`.
    Mid(String),
    /// `a=ssrc`.
    Ssrc(Ssrc),
    /// Anything else (or a known attribute with an unparsable value), verbatim.
    Other {
        /// The attribute name.
        name: String,
        /// Everything after the first `:`; `None` for a flag attribute.
        value: Option<String>,
    },
}

impl Attribute {
    /// Builds the typed attribute for `a=<name>[:<value>]`, falling back to
    /// [`Attribute::Other`].
    pub fn parse(name: &str, value: Option<&str>) -> Attribute {
        Self::typed(name, value).unwrap_or_else(|| Attribute::Other {
            name: name.to_owned(),
            value: value.map(str::to_owned),
        })
    }

    fn typed(name: &str, value: Option<&str>) -> Option<Attribute> {
        let Some(v) = value else {
            return match name {
                "sendrecv" => Some(Attribute::Direction(Direction::SendRecv)),
                "sendonly" => Some(Attribute::Direction(Direction::SendOnly)),
                "recvonly" => Some(Attribute::Direction(Direction::RecvOnly)),
                "inactive" => Some(Attribute::Direction(Direction::Inactive)),
                "rtcp-mux" => Some(Attribute::RtcpMux),
                "ice-lite" => Some(Attribute::IceLite),
                _ => None,
            };
        };
        let word = || {
            Some(v)
                .filter(|s| !s.is_empty() && is_token(s))
                .map(str::to_owned)
        };
        Some(match name {
            "rtpmap" => Attribute::Rtpmap(Rtpmap::parse(v)?),
            "fmtp" => Attribute::Fmtp(Fmtp::parse(v)?),
            "ptime" => Attribute::Ptime(num(v)?),
            "maxptime" => Attribute::MaxPtime(num(v)?),
            "rtcp" => Attribute::Rtcp(Rtcp::parse(v)?),
            "crypto" => Attribute::Crypto(Crypto::parse(v)?),
            "ice-ufrag" => Attribute::IceUfrag(word()?),
            "ice-pwd" => Attribute::IcePwd(Redacted::new(word()?)),
            "ice-options" => {
                let tokens: Vec<String> = v.split_ascii_whitespace().map(str::to_owned).collect();
                if tokens.is_empty() || tokens.join(" ") != v {
                    return None;
                }
                Attribute::IceOptions(tokens)
            }
            "candidate" => Attribute::Candidate(Candidate::parse(v)?),
            "fingerprint" => {
                let (h, fp) = v.split_once(' ')?;
                if !is_token(h) || !is_token(fp) {
                    return None;
                }
                Attribute::Fingerprint(Fingerprint {
                    hash_function: h.to_owned(),
                    fingerprint: fp.to_owned(),
                })
            }
            "setup" => Attribute::Setup(match v {
                "active" => Setup::Active,
                "passive" => Setup::Passive,
                "actpass" => Setup::ActPass,
                "holdconn" => Setup::HoldConn,
                _ => return None,
            }),
            "mid" => Attribute::Mid(word()?),
            "ssrc" => {
                let (id, rest) = v.split_once(' ')?;
                let ssrc = num(id)?;
                let (attribute, value) = match rest.split_once(':') {
                    Some((a, val)) => (a, Some(val.to_owned())),
                    None => (rest, None),
                };
                if !is_token(attribute) {
                    return None;
                }
                Attribute::Ssrc(Ssrc {
                    ssrc,
                    attribute: attribute.to_owned(),
                    value,
                })
            }
            _ => return None,
        })
    }

    /// The attribute name.
    pub fn name(&self) -> &str {
        match self {
            Attribute::Rtpmap(_) => "rtpmap",
            Attribute::Fmtp(_) => "fmtp",
            Attribute::Ptime(_) => "ptime",
            Attribute::MaxPtime(_) => "maxptime",
            Attribute::Direction(d) => d.as_str(),
            Attribute::Rtcp(_) => "rtcp",
            Attribute::RtcpMux => "rtcp-mux",
            Attribute::Crypto(_) => "crypto",
            Attribute::IceUfrag(_) => "ice-ufrag",
            Attribute::IcePwd(_) => "ice-pwd",
            Attribute::IceOptions(_) => "ice-options",
            Attribute::IceLite => "ice-lite",
            Attribute::Candidate(_) => "candidate",
            Attribute::Fingerprint(_) => "fingerprint",
            Attribute::Setup(_) => "setup",
            Attribute::Mid(_) => "mid",
            Attribute::Ssrc(_) => "ssrc",
            Attribute::Other { name, .. } => name,
        }
    }
}

/// Writes the attribute as it follows `a=`.
impl fmt::Display for Attribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())?;
        match self {
            Attribute::Rtpmap(r) => {
                write!(f, ":{} {}/{}", r.payload_type, r.encoding, r.clock_rate)?;
                if let Some(c) = r.channels {
                    write!(f, "/{c}")?;
                }
                Ok(())
            }
            Attribute::Fmtp(x) => write!(f, ":{} {}", x.format, x.params),
            Attribute::Ptime(p) | Attribute::MaxPtime(p) => write!(f, ":{p}"),
            Attribute::Direction(_)
            | Attribute::RtcpMux
            | Attribute::IceLite
            | Attribute::Other { value: None, .. } => Ok(()),
            Attribute::Rtcp(r) => {
                write!(f, ":{}", r.port)?;
                if let Some(c) = &r.connection {
                    write!(f, " {} {} {}", c.net_type, c.addr_type, c.address)?;
                }
                Ok(())
            }
            Attribute::Crypto(c) => {
                write!(f, ":{} {} {}", c.tag, c.suite, c.key_params.expose())?;
                for p in &c.session_params {
                    write!(f, " {p}")?;
                }
                Ok(())
            }
            Attribute::IceUfrag(s) | Attribute::Mid(s) => write!(f, ":{s}"),
            Attribute::IcePwd(p) => write!(f, ":{}", p.expose()),
            Attribute::IceOptions(o) => write!(f, ":{}", o.join(" ")),
            Attribute::Candidate(c) => {
                write!(
                    f,
                    ":{} {} {} {} {} {} typ {}",
                    c.foundation, c.component, c.transport, c.priority, c.address, c.port, c.kind
                )?;
                if let Some(a) = &c.related_address {
                    write!(f, " raddr {a}")?;
                }
                if let Some(p) = c.related_port {
                    write!(f, " rport {p}")?;
                }
                for (k, v) in &c.extensions {
                    write!(f, " {k} {v}")?;
                }
                Ok(())
            }
            Attribute::Fingerprint(x) => write!(f, ":{} {}", x.hash_function, x.fingerprint),
            Attribute::Setup(s) => write!(f, ":{}", s.as_str()),
            Attribute::Ssrc(s) => {
                write!(f, ":{} {}", s.ssrc, s.attribute)?;
                if let Some(v) = &s.value {
                    write!(f, ":{v}")?;
                }
                Ok(())
            }
            Attribute::Other { value: Some(v), .. } => write!(f, ":{v}"),
        }
    }
}

/// A decimal number made of ASCII digits only (no sign, unlike `str::parse`).
pub(crate) fn num<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Non-empty, no whitespace, no control characters.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic() || b >= 0x80)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_attributes_parse_to_their_typed_form_and_print_back() {
        let pt = |n| PayloadType::new(n).unwrap();
        let cases: Vec<(&str, Option<&str>, Attribute)> = vec![
            (
                "rtpmap",
                Some("0 PCMU/8000"),
                Attribute::Rtpmap(Rtpmap {
                    payload_type: pt(0),
                    encoding: "PCMU".into(),
                    clock_rate: 8000,
                    channels: None,
                }),
            ),
            (
                "rtpmap",
                Some("111 opus/48000/2"),
                Attribute::Rtpmap(Rtpmap {
                    payload_type: pt(111),
                    encoding: "opus".into(),
                    clock_rate: 48000,
                    channels: Some(2),
                }),
            ),
            (
                "fmtp",
                Some("101 0-16"),
                Attribute::Fmtp(Fmtp {
                    format: "101".into(),
                    params: "0-16".into(),
                }),
            ),
            ("ptime", Some("20"), Attribute::Ptime(20)),
            ("maxptime", Some("150"), Attribute::MaxPtime(150)),
            ("sendrecv", None, Attribute::Direction(Direction::SendRecv)),
            ("sendonly", None, Attribute::Direction(Direction::SendOnly)),
            ("recvonly", None, Attribute::Direction(Direction::RecvOnly)),
            ("inactive", None, Attribute::Direction(Direction::Inactive)),
            (
                "rtcp",
                Some("53020"),
                Attribute::Rtcp(Rtcp {
                    port: 53020,
                    connection: None,
                }),
            ),
            ("rtcp-mux", None, Attribute::RtcpMux),
            (
                "ice-ufrag",
                Some("EsAw"),
                Attribute::IceUfrag("EsAw".into()),
            ),
            (
                "ice-pwd",
                Some("secretsecret"),
                Attribute::IcePwd(Redacted::new("secretsecret")),
            ),
            (
                "ice-options",
                Some("trickle renomination"),
                Attribute::IceOptions(vec!["trickle".into(), "renomination".into()]),
            ),
            ("ice-lite", None, Attribute::IceLite),
            ("setup", Some("passive"), Attribute::Setup(Setup::Passive)),
            ("mid", Some("audio"), Attribute::Mid("audio".into())),
            (
                "ssrc",
                Some("42 cname:x@y"),
                Attribute::Ssrc(Ssrc {
                    ssrc: 42,
                    attribute: "cname".into(),
                    value: Some("x@y".into()),
                }),
            ),
            (
                "fingerprint",
                Some("sha-256 AB:CD"),
                Attribute::Fingerprint(Fingerprint {
                    hash_function: "sha-256".into(),
                    fingerprint: "AB:CD".into(),
                }),
            ),
            (
                "x-unknown",
                Some(" keep  this "),
                Attribute::Other {
                    name: "x-unknown".into(),
                    value: Some(" keep  this ".into()),
                },
            ),
            (
                "flag-only",
                None,
                Attribute::Other {
                    name: "flag-only".into(),
                    value: None,
                },
            ),
        ];
        for (name, value, want) in cases {
            let got = Attribute::parse(name, value);
            assert_eq!(got, want, "{name}");
            let text = match value {
                Some(v) => format!("{name}:{v}"),
                None => name.to_owned(),
            };
            assert_eq!(got.to_string(), text);
            assert_eq!(got.name(), name);
        }
    }

    #[test]
    fn direction_reversal_and_intersection_follow_rfc_3264() {
        use Direction::{Inactive, RecvOnly, SendOnly, SendRecv};
        for (d, rev) in [
            (SendRecv, SendRecv),
            (SendOnly, RecvOnly),
            (RecvOnly, SendOnly),
            (Inactive, Inactive),
        ] {
            assert_eq!(d.reversed(), rev);
            assert_eq!(d.intersect(SendRecv), d);
            assert_eq!(d.intersect(Inactive), Inactive);
        }
        assert_eq!(SendOnly.intersect(RecvOnly), Inactive);
    }

    #[test]
    fn numbers_with_signs_are_not_numbers() {
        assert_eq!(num::<u16>("+5"), None);
        assert_eq!(num::<u16>(""), None);
        assert_eq!(num::<u16>("65536"), None);
        assert_eq!(num::<u16>("0065535"), Some(65535));
    }
}
