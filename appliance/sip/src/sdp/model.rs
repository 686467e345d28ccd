//! The SDP session model.

use std::fmt;
use std::net::IpAddr;

use super::attribute::{Attribute, Crypto, Direction, Fmtp, Rtcp, Rtpmap};
use super::codec::{Codec, PayloadType};

/// A string that must not appear in `Debug` output: SDES keys, ICE
/// passwords, `k=` keys, e-mail addresses and phone numbers.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Redacted(String);

impl Redacted {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Redacted(value.into())
    }

    /// The wrapped value. Only the serialiser and code that really needs the
    /// secret (an SRTP context, an ICE agent) should call this.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Redacted(..)")
    }
}

/// `o=`: who created the session and which version of it this is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// `<username>`, `-` when unused.
    pub username: String,
    /// `<sess-id>`, a numeric string kept as text (some stacks exceed 64 bits).
    pub session_id: String,
    /// `<sess-version>`, bumped on every change (RFC 3264 section 8).
    pub session_version: u64,
    /// `<nettype>`, normally `IN`.
    pub net_type: String,
    /// `<addrtype>`, `IP4` or `IP6`.
    pub addr_type: String,
    /// `<unicast-address>` (address or FQDN).
    pub address: String,
}

/// `c=` (and the address part of `a=rtcp`): `IN IP4 192.0.2.1[/ttl[/count]]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection {
    /// `<nettype>`, normally `IN`.
    pub net_type: String,
    /// `<addrtype>`, `IP4` or `IP6`.
    pub addr_type: String,
    /// The address or FQDN, without the multicast suffix.
    pub address: String,
    /// IPv4 multicast TTL.
    pub ttl: Option<u8>,
    /// Number of multicast addresses.
    pub count: Option<u32>,
}

impl Connection {
    /// A unicast `IN IP4`/`IN IP6` connection for `ip`.
    pub fn from_ip(ip: IpAddr) -> Self {
        Connection {
            net_type: "IN".to_owned(),
            addr_type: if ip.is_ipv4() { "IP4" } else { "IP6" }.to_owned(),
            address: ip.to_string(),
            ttl: None,
            count: None,
        }
    }

    /// The address as an IP address, `None` for an FQDN or a non-`IN` network.
    pub fn ip(&self) -> Option<IpAddr> {
        if !self.net_type.eq_ignore_ascii_case("IN") {
            return None;
        }
        self.address.parse().ok()
    }

    /// RFC 2543 style hold: the address is `0.0.0.0` (or `::`).
    pub fn is_null_address(&self) -> bool {
        self.ip().is_some_and(|ip| ip.is_unspecified())
    }
}

/// `b=<bwtype>:<bandwidth>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bandwidth {
    /// `CT`, `AS`, `TIAS`, `RR`, `RS`, ...
    pub kind: String,
    /// The value, in the unit the type defines (kbit/s for `AS`/`CT`).
    pub value: u64,
}

/// A time description: one `t=` line and the `r=` lines that follow it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timing {
    /// Start time (NTP seconds), 0 for unbounded.
    pub start: u64,
    /// Stop time (NTP seconds), 0 for unbounded.
    pub stop: u64,
    /// `r=` lines, verbatim.
    pub repeats: Vec<String>,
}

impl Timing {
    /// `t=0 0`: unbounded, as telephony uses.
    pub fn unbounded() -> Self {
        Timing {
            start: 0,
            stop: 0,
            repeats: Vec::new(),
        }
    }
}

/// The `<media>` field of an `m=` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MediaType {
    /// `audio`.
    Audio,
    /// `video`.
    Video,
    /// `text`.
    Text,
    /// `application`.
    Application,
    /// `message`.
    Message,
    /// `image` (T.38).
    Image,
    /// Anything else, verbatim.
    Other(String),
}

impl MediaType {
    pub(crate) fn from_token(s: &str) -> Self {
        match s {
            "audio" => MediaType::Audio,
            "video" => MediaType::Video,
            "text" => MediaType::Text,
            "application" => MediaType::Application,
            "message" => MediaType::Message,
            "image" => MediaType::Image,
            other => MediaType::Other(other.to_owned()),
        }
    }

    /// The token as written in SDP.
    pub fn as_str(&self) -> &str {
        match self {
            MediaType::Audio => "audio",
            MediaType::Video => "video",
            MediaType::Text => "text",
            MediaType::Application => "application",
            MediaType::Message => "message",
            MediaType::Image => "image",
            MediaType::Other(s) => s,
        }
    }
}

/// The `<proto>` field of an `m=` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Proto {
    /// `RTP/AVP` (RFC 3551).
    RtpAvp,
    /// `RTP/AVPF` (RFC 4585).
    RtpAvpf,
    /// `RTP/SAVP` (RFC 3711).
    RtpSavp,
    /// `RTP/SAVPF` (RFC 5124).
    RtpSavpf,
    /// `UDP/TLS/RTP/SAVPF` (RFC 5764, WebRTC).
    UdpTlsRtpSavpf,
    /// Anything else, verbatim.
    Other(String),
}

impl Proto {
    pub(crate) fn from_token(s: &str) -> Self {
        match s {
            "RTP/AVP" => Proto::RtpAvp,
            "RTP/AVPF" => Proto::RtpAvpf,
            "RTP/SAVP" => Proto::RtpSavp,
            "RTP/SAVPF" => Proto::RtpSavpf,
            "UDP/TLS/RTP/SAVPF" => Proto::UdpTlsRtpSavpf,
            other => Proto::Other(other.to_owned()),
        }
    }

    /// The token as written in SDP.
    pub fn as_str(&self) -> &str {
        match self {
            Proto::RtpAvp => "RTP/AVP",
            Proto::RtpAvpf => "RTP/AVPF",
            Proto::RtpSavp => "RTP/SAVP",
            Proto::RtpSavpf => "RTP/SAVPF",
            Proto::UdpTlsRtpSavpf => "UDP/TLS/RTP/SAVPF",
            Proto::Other(s) => s,
        }
    }

    /// Whether the formats are RTP payload types (any profile carrying `RTP/`).
    pub fn is_rtp(&self) -> bool {
        match self {
            Proto::Other(s) => s.contains("RTP/"),
            _ => true,
        }
    }

    /// Plain, unencrypted RTP (`RTP/AVP` or `RTP/AVPF`).
    pub fn is_plain_rtp(&self) -> bool {
        matches!(self, Proto::RtpAvp | Proto::RtpAvpf)
    }
}

/// One media description: an `m=` line and the lines up to the next one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaDescription {
    /// `<media>`.
    pub media: MediaType,
    /// `<port>`; 0 means the stream is rejected or disabled.
    pub port: u16,
    /// The `/<number of ports>` suffix.
    pub port_count: Option<u16>,
    /// `<proto>`.
    pub proto: Proto,
    /// `<fmt>` list, verbatim (payload type numbers for RTP profiles, checked
    /// at parse time to be 0..=127).
    pub formats: Vec<String>,
    /// `i=`.
    pub information: Option<String>,
    /// `c=` lines (several only for multicast layers).
    pub connections: Vec<Connection>,
    /// `b=` lines.
    pub bandwidths: Vec<Bandwidth>,
    /// `k=` (obsolete), redacted.
    pub key: Option<Redacted>,
    /// `a=` lines in order.
    pub attributes: Vec<Attribute>,
}

impl MediaDescription {
    /// A media description with no attributes or connection lines.
    pub fn new(media: MediaType, port: u16, proto: Proto, formats: Vec<String>) -> Self {
        MediaDescription {
            media,
            port,
            port_count: None,
            proto,
            formats,
            information: None,
            connections: Vec::new(),
            bandwidths: Vec::new(),
            key: None,
            attributes: Vec::new(),
        }
    }

    /// The formats that are valid RTP payload types, in offer order.
    pub fn payload_types(&self) -> impl Iterator<Item = PayloadType> + '_ {
        self.formats
            .iter()
            .filter_map(|f| super::attribute::num::<u8>(f).and_then(PayloadType::new))
    }

    /// The media-level direction attribute, if any.
    pub fn direction(&self) -> Option<Direction> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::Direction(d) => Some(*d),
            _ => None,
        })
    }

    /// The direction in force: media level, else session level, else
    /// `sendrecv` (RFC 8866 section 6.7).
    pub fn effective_direction(&self, session: &Session) -> Direction {
        self.direction()
            .or_else(|| session.direction())
            .unwrap_or(Direction::SendRecv)
    }

    /// The connection in force: the first media-level `c=`, else the
    /// session-level one.
    pub fn connection<'a>(&'a self, session: &'a Session) -> Option<&'a Connection> {
        self.connections.first().or(session.connection.as_ref())
    }

    /// `a=rtpmap` for a payload type.
    pub fn rtpmap(&self, pt: PayloadType) -> Option<&Rtpmap> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::Rtpmap(r) if r.payload_type == pt => Some(r),
            _ => None,
        })
    }

    /// `a=fmtp` for a payload type.
    pub fn fmtp(&self, pt: PayloadType) -> Option<&Fmtp> {
        let want = pt.get().to_string();
        self.attributes.iter().find_map(|a| match a {
            Attribute::Fmtp(f) if f.format == want => Some(f),
            _ => None,
        })
    }

    /// `a=ptime` in milliseconds.
    pub fn ptime(&self) -> Option<u32> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::Ptime(p) => Some(*p),
            _ => None,
        })
    }

    /// `a=maxptime` in milliseconds.
    pub fn maxptime(&self) -> Option<u32> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::MaxPtime(p) => Some(*p),
            _ => None,
        })
    }

    /// `a=rtcp` (RFC 3605).
    pub fn rtcp(&self) -> Option<&Rtcp> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::Rtcp(r) => Some(r),
            _ => None,
        })
    }

    /// Whether `a=rtcp-mux` is present.
    pub fn rtcp_mux(&self) -> bool {
        self.attributes
            .iter()
            .any(|a| matches!(a, Attribute::RtcpMux))
    }

    /// `a=crypto` lines (RFC 4568) in order.
    pub fn crypto(&self) -> impl Iterator<Item = &Crypto> + '_ {
        self.attributes.iter().filter_map(|a| match a {
            Attribute::Crypto(c) => Some(c),
            _ => None,
        })
    }

    /// The first attribute with this name (typed or not).
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name() == name)
    }

    /// The codecs on offer, in format order: from `a=rtpmap` where present,
    /// else from the RFC 3551 static table. Formats that are neither (a
    /// dynamic type without rtpmap) are skipped. `fmtp` is attached.
    pub fn codecs(&self) -> Vec<(PayloadType, Codec)> {
        self.payload_types()
            .filter_map(|pt| {
                let codec = match self.rtpmap(pt) {
                    Some(r) => Some(r.codec()),
                    None => Codec::from_static(pt),
                }?;
                let fmtp = self.fmtp(pt).map(|f| f.params.clone());
                Some((pt, Codec { fmtp, ..codec }))
            })
            .collect()
    }
}

/// A whole session description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// `o=`.
    pub origin: Origin,
    /// `s=` (`-` when unused).
    pub name: String,
    /// `i=`.
    pub information: Option<String>,
    /// `u=`.
    pub uri: Option<String>,
    /// `e=` lines (personal data, redacted in `Debug`).
    pub emails: Vec<Redacted>,
    /// `p=` lines (personal data, redacted in `Debug`).
    pub phones: Vec<Redacted>,
    /// Session-level `c=`.
    pub connection: Option<Connection>,
    /// Session-level `b=` lines.
    pub bandwidths: Vec<Bandwidth>,
    /// Time descriptions (at least one).
    pub timing: Vec<Timing>,
    /// `z=`, verbatim.
    pub time_zones: Option<String>,
    /// `k=` (obsolete), redacted.
    pub key: Option<Redacted>,
    /// Session-level `a=` lines in order.
    pub attributes: Vec<Attribute>,
    /// Media descriptions in order.
    pub media: Vec<MediaDescription>,
}

impl Session {
    /// The session-level direction attribute, if any.
    pub fn direction(&self) -> Option<Direction> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::Direction(d) => Some(*d),
            _ => None,
        })
    }

    /// The first session-level attribute with this name.
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name() == name)
    }
}
