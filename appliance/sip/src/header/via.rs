//! `Via` (RFC 3261 20.42).

use std::fmt;

use super::scan::{Scanner, is_token};
use super::{HeaderError, TypedHeader, parse_params, write_params};
use crate::message::HeaderName;
use crate::uri::{Host, Param, find_param, split_hostport};

/// The transport of a Via value. Unknown transports are legal (RFC 4475 3.1.1.10).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    /// UDP.
    Udp,
    /// TCP.
    Tcp,
    /// TLS.
    Tls,
    /// SCTP.
    Sctp,
    /// WebSocket (RFC 7118).
    Ws,
    /// Secure WebSocket (RFC 7118).
    Wss,
    /// Any other token, upper-cased.
    Other(String),
}

impl Transport {
    /// Maps a token (case-insensitive) to a transport.
    pub fn from_token(t: &str) -> Transport {
        match t.to_ascii_uppercase().as_str() {
            "UDP" => Transport::Udp,
            "TCP" => Transport::Tcp,
            "TLS" => Transport::Tls,
            "SCTP" => Transport::Sctp,
            "WS" => Transport::Ws,
            "WSS" => Transport::Wss,
            other => Transport::Other(other.to_owned()),
        }
    }

    /// The canonical token.
    pub fn as_str(&self) -> &str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
            Transport::Sctp => "SCTP",
            Transport::Ws => "WS",
            Transport::Wss => "WSS",
            Transport::Other(s) => s,
        }
    }
}

/// One Via value: `SIP/2.0/UDP host:port;branch=...;received=...;rport`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Via {
    /// Protocol name (`SIP`).
    pub protocol: String,
    /// Protocol version (`2.0`).
    pub version: String,
    /// Transport.
    pub transport: Transport,
    /// sent-by host.
    pub host: Host,
    /// sent-by port.
    pub port: Option<u16>,
    /// Parameters in order.
    pub params: Vec<Param>,
}

impl Via {
    /// A parameter by case-insensitive name.
    pub fn param(&self, name: &str) -> Option<&Param> {
        find_param(&self.params, name)
    }

    /// The `branch` parameter.
    pub fn branch(&self) -> Option<&str> {
        self.param("branch").and_then(|p| p.value.as_deref())
    }

    /// Whether the branch carries the RFC 3261 magic cookie `z9hG4bK`.
    pub fn has_rfc3261_branch(&self) -> bool {
        self.branch().is_some_and(|b| b.starts_with("z9hG4bK"))
    }

    /// The `received` parameter.
    pub fn received(&self) -> Option<&str> {
        self.param("received").and_then(|p| p.value.as_deref())
    }

    /// `rport`: `None` if absent, `Some(None)` if present without value,
    /// `Some(Some(port))` with a value. An unparseable value counts as absent.
    pub fn rport(&self) -> Option<Option<u16>> {
        let p = self.param("rport")?;
        match &p.value {
            None => Some(None),
            Some(v) => v.parse().ok().map(Some),
        }
    }
}

impl TypedHeader for Via {
    const NAME: HeaderName = HeaderName::VIA;
    const NAME_STR: &'static str = "Via";

    fn parse(value: &str) -> Result<Self, HeaderError> {
        let header = Self::NAME_STR;
        let err = HeaderError::Syntax { header };
        let mut sc = Scanner::new(value);
        let protocol = sc.token().ok_or(err)?.to_owned();
        if !sc.eat_sep(b'/') {
            return Err(err);
        }
        let version = sc.token().ok_or(err)?.to_owned();
        if !sc.eat_sep(b'/') {
            return Err(err);
        }
        let transport = Transport::from_token(sc.token().ok_or(err)?);
        if !sc.skip_ws() {
            return Err(err);
        }
        let host_start = sc.pos();
        if sc.peek() == Some(b'[') {
            sc.take_while(|b| b != b']');
            if !sc.eat(b']') {
                return Err(err);
            }
        } else {
            sc.take_while(|b| is_token(b) && b != b'!');
        }
        let host_text = sc.since(host_start).to_owned();
        let mut hostport = host_text;
        if sc.eat_sep(b':') {
            let port = sc.take_while(|b| b.is_ascii_digit());
            hostport.push(':');
            hostport.push_str(port);
        }
        let (host, port) =
            split_hostport(&hostport).map_err(|source| HeaderError::Uri { header, source })?;
        let params = parse_params(&mut sc, header)?;
        sc.skip_ws();
        if !sc.at_end() {
            return Err(err);
        }
        Ok(Via {
            protocol,
            version,
            transport,
            host,
            port,
            params,
        })
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{} {}",
            self.protocol,
            self.version,
            self.transport.as_str(),
            self.host
        )?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write_params(f, &self.params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn via_with_lws_everywhere_parses() {
        let v =
            Via::parse("SIP  / 2.0  / TCP     spindle.example.com   ; branch  =   z9hG4bK9ikj8")
                .unwrap();
        assert_eq!(v.transport, Transport::Tcp);
        assert_eq!(v.host, Host::Domain("spindle.example.com".into()));
        assert_eq!(v.branch(), Some("z9hG4bK9ikj8"));
        assert!(v.has_rfc3261_branch());
    }

    #[test]
    fn via_params_ipv6_unknown_transport_and_rport() {
        let v = Via::parse(
            "SIP/2.0/UNKNOWN [2001:db8::9]:5070;rport;received=[2001:db8::1];branch=z9hG4bKx",
        )
        .unwrap();
        assert_eq!(v.transport, Transport::Other("UNKNOWN".into()));
        assert_eq!(v.port, Some(5070));
        assert_eq!(v.rport(), Some(None));
        assert_eq!(v.received(), Some("[2001:db8::1]"));
        let v = Via::parse("SIP/2.0/UDP 192.0.2.1:5060;rport=1234").unwrap();
        assert_eq!(v.rport(), Some(Some(1234)));
        assert_eq!(v.to_string(), "SIP/2.0/UDP 192.0.2.1:5060;rport=1234");
    }

    #[test]
    fn via_with_empty_params_is_rejected() {
        assert!(Via::parse("SIP/2.0/UDP 192.0.2.15;;").is_err());
        assert!(Via::parse("").is_err());
        assert!(Via::parse("SIP/2.0/UDP").is_err());
        assert!(Via::parse("SIP/2.0/UDP host:99999").is_err());
    }
}
