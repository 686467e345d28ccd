//! `CSeq` (RFC 3261 20.16).

use std::fmt;

use super::scan::{Scanner, parse_digits_u64};
use super::{HeaderError, TypedHeader};
use crate::message::{HeaderName, Method};

/// `CSeq: <number> <method>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CSeq {
    /// Sequence number (must be below 2^31 when sent; up to 2^32-1 accepted).
    pub seq: u32,
    /// Method.
    pub method: Method,
}

impl TypedHeader for CSeq {
    const NAME: HeaderName = HeaderName::CSEQ;
    const NAME_STR: &'static str = "CSeq";

    fn parse(value: &str) -> Result<Self, HeaderError> {
        let err = HeaderError::Syntax {
            header: Self::NAME_STR,
        };
        let mut sc = Scanner::new(value);
        let digits = sc.take_while(|b| b.is_ascii_digit());
        if digits.is_empty() {
            return Err(err);
        }
        let seq = parse_digits_u64(digits)
            .and_then(|v| u32::try_from(v).ok())
            .ok_or(HeaderError::Overflow {
                header: Self::NAME_STR,
            })?;
        if !sc.skip_ws() {
            return Err(err);
        }
        let method = Method::new(sc.token().ok_or(err)?).map_err(|_| err)?;
        sc.skip_ws();
        if !sc.at_end() {
            return Err(err);
        }
        Ok(CSeq { seq, method })
    }
}

impl fmt::Display for CSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cseq_accepts_leading_zeros_and_rejects_overflow() {
        assert_eq!(
            CSeq::parse("0009 INVITE").unwrap(),
            CSeq {
                seq: 9,
                method: Method::INVITE
            }
        );
        assert_eq!(CSeq::parse("4294967295 ACK").unwrap().seq, u32::MAX);
        assert_eq!(
            CSeq::parse("4294967296 ACK"),
            Err(HeaderError::Overflow { header: "CSeq" })
        );
        assert_eq!(
            CSeq::parse("36893488147419103232 REGISTER"),
            Err(HeaderError::Overflow { header: "CSeq" })
        );
        assert!(CSeq::parse("1").is_err());
        assert!(CSeq::parse("1 INVITE x").is_err());
        assert!(CSeq::parse("-1 INVITE").is_err());
    }
}
