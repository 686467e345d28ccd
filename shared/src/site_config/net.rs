//! Small value checks: networks in CIDR notation, host names, E.164
//! numbers, identifiers and dial strings.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// An IP network in CIDR notation (`192.0.2.0/24`, `2001:db8::/32`). A bare
/// address means a single host (`/32` or `/128`). Host bits must be zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    addr: IpAddr,
    prefix_len: u8,
}

/// Why a CIDR string was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    /// The address part is not an IP address.
    #[error("not an IP address")]
    BadAddress,
    /// The prefix length is not a number or too long for the family.
    #[error("bad prefix length")]
    BadPrefix,
    /// Bits beyond the prefix are set (`192.0.2.1/24`).
    #[error("host bits set")]
    HostBitsSet,
}

impl Cidr {
    /// The network address.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length in bits.
    pub fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    /// Whether `ip` lies in this network (families must match).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = mask_u32(self.prefix_len);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = mask_u128(self.prefix_len);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

fn mask_u32(len: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0)
}

fn mask_u128(len: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0)
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, len) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| CidrError::BadAddress)?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix_len = match len {
            None => max,
            Some(l) if !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()) => {
                l.parse::<u8>().map_err(|_| CidrError::BadPrefix)?
            }
            Some(_) => return Err(CidrError::BadPrefix),
        };
        if prefix_len > max {
            return Err(CidrError::BadPrefix);
        }
        let cidr = Self { addr, prefix_len };
        let host_bits_clear = match addr {
            IpAddr::V4(a) => u32::from(a) & !mask_u32(prefix_len) == 0,
            IpAddr::V6(a) => u128::from(a) & !mask_u128(prefix_len) == 0,
        };
        if host_bits_clear {
            Ok(cidr)
        } else {
            Err(CidrError::HostBitsSet)
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

/// Whether `host` is an IP address or a DNS name (letters, digits, hyphens,
/// dots; labels of 1 to 63 characters not starting or ending with a hyphen;
/// at most 253 characters). No port, no brackets.
pub fn is_valid_host(host: &str) -> bool {
    if host.parse::<IpAddr>().is_ok() {
        return true;
    }
    let name = host.strip_suffix('.').unwrap_or(host);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        // A name made of digits and dots only is a mistyped IPv4 address.
        && !name.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

/// Whether `number` is E.164: `+`, a non-zero digit, and 8 to 15 digits in
/// total.
pub fn is_e164(number: &str) -> bool {
    let Some(digits) = number.strip_prefix('+') else {
        return false;
    };
    (8..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

/// Whether `name` is an identifier: 1 to 64 of `a-z`, `0-9`, `-`, `_`,
/// starting with a letter or digit. Identifiers appear in MQTT topics,
/// metrics labels and TOML table names of the secrets file.
pub fn is_valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// Whether `s` consists of 1 to `max` characters `0-9`, `*`, `#`.
pub fn is_dial_string(s: &str, max: usize) -> bool {
    (1..=max).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_digit() || b == b'*' || b == b'#')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_parsing_table() {
        let table: &[(&str, Result<&str, CidrError>)] = &[
            ("192.0.2.0/24", Ok("192.0.2.0/24")),
            ("192.0.2.7", Ok("192.0.2.7/32")),
            ("0.0.0.0/0", Ok("0.0.0.0/0")),
            ("2001:db8::/32", Ok("2001:db8::/32")),
            ("192.0.2.1/24", Err(CidrError::HostBitsSet)),
            ("192.0.2.0/33", Err(CidrError::BadPrefix)),
            ("192.0.2.0/", Err(CidrError::BadPrefix)),
            ("192.0.2.0/+8", Err(CidrError::BadPrefix)),
            ("192.0.2/24", Err(CidrError::BadAddress)),
            ("sip.example.nl/24", Err(CidrError::BadAddress)),
        ];
        for (input, expected) in table {
            let got = input.parse::<Cidr>().map(|c| c.to_string());
            assert_eq!(got, expected.map(str::to_owned), "{input}");
        }
    }

    #[test]
    fn cidr_contains() {
        let net: Cidr = "192.0.2.0/24".parse().unwrap();
        assert!(net.contains("192.0.2.200".parse().unwrap()));
        assert!(!net.contains("192.0.3.1".parse().unwrap()));
        assert!(!net.contains("2001:db8::1".parse().unwrap()));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("203.0.113.9".parse().unwrap()));
    }

    #[test]
    fn host_table() {
        for ok in [
            "sip.example.nl",
            "192.0.2.10",
            "2001:db8::1",
            "voip-1.provider.nl.",
        ] {
            assert!(is_valid_host(ok), "{ok}");
        }
        for bad in [
            "",
            "sip.example.nl:5060",
            "-a.nl",
            "a..nl",
            "192.0.2",
            "a b",
            "[::1]",
        ] {
            assert!(!is_valid_host(bad), "{bad}");
        }
    }

    #[test]
    fn e164_table() {
        for ok in ["+31201234567", "+4420794600", "+12025550123"] {
            assert!(is_e164(ok), "{ok}");
        }
        for bad in [
            "0201234567",
            "+0201234567",
            "+31 20 1234567",
            "+3120",
            "+3120123456789012",
        ] {
            assert!(!is_e164(bad), "{bad}");
        }
    }

    #[test]
    fn names_and_dial_strings() {
        assert!(is_valid_name("kpn-trunk_1"));
        assert!(!is_valid_name("KPN"));
        assert!(!is_valid_name("-kpn"));
        assert!(!is_valid_name("a/b"));
        assert!(is_dial_string("*1", 4));
        assert!(!is_dial_string("*1a", 4));
        assert!(!is_dial_string("", 4));
    }
}
