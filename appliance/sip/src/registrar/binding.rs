//! Bindings, flows and the RFC 3261 §19.1.4 contact comparison.

use std::fmt;
use std::net::SocketAddr;
use std::time::Instant;

use crate::header::NameAddr;
use crate::header::scan::unescape;
use crate::uri::{Host, Param, SipUri, Uri};

/// The transport a request arrived on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TransportKind {
    /// UDP (connectionless: reach the phone at [`Flow::remote`]).
    Udp,
    /// TCP.
    Tcp,
    /// TLS over TCP.
    Tls,
}

impl TransportKind {
    /// Whether requests to the phone must reuse the connection it opened.
    pub fn is_connection_oriented(self) -> bool {
        !matches!(self, Self::Udp)
    }
}

/// Identifies one TCP/TLS connection in the transport shell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(pub u64);

/// Where a request came from, as seen by the transport (after NAT): the
/// "flow" (RFC 5626 §3) a phone behind NAT can be reached through.
///
/// The call layer sends requests for a binding to [`Flow::remote`] over
/// [`Flow::transport`] (over the connection [`Flow::connection`] for TCP/TLS)
/// instead of the private address in the Contact URI. `Debug` is derived: an
/// IP address can be personal data, log it only where the security log needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Flow {
    /// The transport.
    pub transport: TransportKind,
    /// The source address and port of the packet (the NAT's public side).
    pub remote: SocketAddr,
    /// The connection for TCP/TLS; `None` for UDP.
    pub connection: Option<ConnectionId>,
}

impl Flow {
    /// A UDP flow from `remote`.
    pub fn udp(remote: SocketAddr) -> Self {
        Self {
            transport: TransportKind::Udp,
            remote,
            connection: None,
        }
    }

    /// A TCP flow from `remote` over `connection`.
    pub fn tcp(remote: SocketAddr, connection: ConnectionId) -> Self {
        Self {
            transport: TransportKind::Tcp,
            remote,
            connection: Some(connection),
        }
    }

    /// A TLS flow from `remote` over `connection`.
    pub fn tls(remote: SocketAddr, connection: ConnectionId) -> Self {
        Self {
            transport: TransportKind::Tls,
            remote,
            connection: Some(connection),
        }
    }
}

/// One registered contact of an address-of-record.
///
/// `Debug` redacts the contact and path (personal data).
#[derive(Clone, PartialEq, Eq)]
pub struct Binding {
    /// The Contact as registered, with its `expires` parameter removed. URI
    /// parameters and escaped URI headers are kept as received (RFC 4475
    /// cparam02, regescrt); contact parameters too (cparam01).
    pub contact: NameAddr,
    /// `q` in thousandths (0..=1000); 1000 when the Contact had none.
    pub q: u16,
    /// When the binding expires (removed at exactly this instant).
    pub expires_at: Instant,
    /// When the binding was last added or refreshed.
    pub updated: Instant,
    /// Call-ID of the REGISTER that last updated it.
    pub call_id: String,
    /// `CSeq` number of the REGISTER that last updated it.
    pub cseq: u32,
    /// Where that REGISTER came from (NAT traversal, see [`Flow`]).
    pub flow: Flow,
    /// `Path` header values of that REGISTER (RFC 3327), top first. The call
    /// layer puts them in a `Route` set when reaching this contact.
    pub path: Vec<String>,
    /// The `+sip.instance` contact parameter (RFC 5626), as written.
    pub instance: Option<String>,
    /// The `reg-id` contact parameter (RFC 5626), as written.
    pub reg_id: Option<String>,
    /// Update order across the registrar: larger is more recent.
    pub(super) seq: u64,
}

impl fmt::Debug for Binding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Binding")
            .field("contact", &"<redacted>")
            .field("q", &self.q)
            .field("expires_at", &self.expires_at)
            .field("updated", &self.updated)
            .field("cseq", &self.cseq)
            .field("flow", &self.flow.transport)
            .field("paths", &self.path.len())
            .finish_non_exhaustive()
    }
}

impl Binding {
    /// The Contact URI.
    pub fn uri(&self) -> &Uri {
        &self.contact.uri
    }

    /// Seconds left at `now` (0 once expired).
    pub fn remaining_secs(&self, now: Instant) -> u64 {
        self.expires_at.saturating_duration_since(now).as_secs()
    }

    /// The Contact header value for a 200 response: the stored contact with
    /// `;expires=` the remaining lifetime.
    pub fn contact_value(&self, now: Instant) -> String {
        format!("{};expires={}", self.contact, self.remaining_secs(now))
    }

    /// Whether a newly registered `contact` (with its instance/reg-id) denotes
    /// this binding: equal URIs per RFC 3261 §19.1.4, or the same
    /// `+sip.instance` and `reg-id` (RFC 5626 §6: a rebooted phone behind NAT
    /// whose Contact changed replaces its old binding).
    pub(super) fn matches(&self, uri: &Uri, instance: Option<&str>, reg_id: Option<&str>) -> bool {
        if uri_equal(&self.contact.uri, uri) {
            return true;
        }
        matches!((self.instance.as_deref(), instance), (Some(a), Some(b)) if a == b)
            && self.reg_id.as_deref() == reg_id
    }
}

/// A parameter by case-insensitive name.
fn param<'a>(params: &'a [Param], name: &str) -> Option<&'a Param> {
    params.iter().find(|p| p.name.eq_ignore_ascii_case(name))
}

fn unescaped_ci(v: Option<&str>) -> Option<Vec<u8>> {
    v.map(|v| unescape(v).to_ascii_lowercase())
}

fn host_equal(a: &Host, b: &Host) -> bool {
    match (a, b) {
        (Host::Domain(x), Host::Domain(y)) => x.eq_ignore_ascii_case(y),
        _ => a == b,
    }
}

/// RFC 3261 §19.1.4 comparison of SIP/SIPS URIs; other schemes compare by
/// their text, case-insensitively.
pub(super) fn uri_equal(a: &Uri, b: &Uri) -> bool {
    match (a, b) {
        (Uri::Sip(x), Uri::Sip(y)) => sip_uri_equal(x, y),
        (Uri::Sip(_), _) | (_, Uri::Sip(_)) => false,
        _ => a.to_string().eq_ignore_ascii_case(&b.to_string()),
    }
}

fn sip_uri_equal(a: &SipUri, b: &SipUri) -> bool {
    const MUST_MATCH: [&str; 5] = ["user", "ttl", "method", "maddr", "transport"];
    if a.secure != b.secure
        || a.user.as_deref().map(unescape) != b.user.as_deref().map(unescape)
        || a.password.as_deref().map(unescape) != b.password.as_deref().map(unescape)
        || !host_equal(&a.host, &b.host)
        || a.port != b.port
    {
        return false;
    }
    // Parameters named in MUST_MATCH must agree (absent in both, or equal);
    // any other parameter is compared only when present in both.
    for p in &a.params {
        let other = param(&b.params, &p.name);
        let must = MUST_MATCH.iter().any(|n| p.name.eq_ignore_ascii_case(n));
        match other {
            Some(o) if unescaped_ci(p.value.as_deref()) != unescaped_ci(o.value.as_deref()) => {
                return false;
            }
            None if must => return false,
            _ => {}
        }
    }
    for p in &b.params {
        let must = MUST_MATCH.iter().any(|n| p.name.eq_ignore_ascii_case(n));
        if must && param(&a.params, &p.name).is_none() {
            return false;
        }
    }
    // Headers: the same set, names case-insensitive, values unescaped.
    let norm = |h: &[(String, String)]| {
        let mut v: Vec<(Vec<u8>, Vec<u8>)> = h
            .iter()
            .map(|(n, v)| (unescape(n).to_ascii_lowercase(), unescape(v)))
            .collect();
        v.sort();
        v
    };
    norm(&a.headers) == norm(&b.headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Uri {
        Uri::parse(s).unwrap()
    }

    #[test]
    fn rfc3261_equivalent_uris_compare_equal() {
        for (a, b) in [
            (
                "sip:%61lice@atlanta.com;transport=TCP",
                "sip:alice@AtLanTa.CoM;Transport=tcp",
            ),
            ("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"),
            (
                "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
                "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com",
            ),
            (
                "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
                "sip:alice@atlanta.com?priority=urgent&subject=project%20x",
            ),
        ] {
            assert!(uri_equal(&u(a), &u(b)), "{a} vs {b}");
        }
    }

    #[test]
    fn rfc3261_different_uris_compare_unequal() {
        for (a, b) in [
            (
                "SIP:ALICE@AtLanTa.CoM;Transport=udp",
                "sip:alice@AtLanTa.CoM;Transport=UDP",
            ),
            ("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"),
            ("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"),
            ("sip:bob@biloxi.com", "sips:bob@biloxi.com"),
            (
                "sip:carol@chicago.com;security=on",
                "sip:carol@chicago.com;security=off",
            ),
            ("sip:%00@host5.example.com", "sip:%00%00@host5.example.com"),
            ("sip:a@h?Route=%3Csip:x%3E", "sip:a@h"),
        ] {
            assert!(!uri_equal(&u(a), &u(b)), "{a} vs {b}");
        }
    }
}
