//! Simple scalar and token-list headers.

use std::fmt;

use super::scan::{is_token, is_wsp, parse_digits_saturating, parse_digits_u64};
use super::{HeaderError, TypedHeader};
use crate::message::HeaderName;

/// `Max-Forwards`. Values above 255 are tolerated and saturate at 255
/// (RFC 4475 3.1.2.4 allows this); non-digits are an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaxForwards(pub u8);

impl TypedHeader for MaxForwards {
    const NAME: HeaderName = HeaderName::MAX_FORWARDS;
    const NAME_STR: &'static str = "Max-Forwards";
    fn parse(value: &str) -> Result<Self, HeaderError> {
        parse_digits_saturating(value, 255)
            .map(|v| MaxForwards(v as u8))
            .ok_or(HeaderError::Syntax {
                header: Self::NAME_STR,
            })
    }
}

/// `Content-Length`: a non-negative decimal that fits in `usize`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContentLength(pub usize);

impl TypedHeader for ContentLength {
    const NAME: HeaderName = HeaderName::CONTENT_LENGTH;
    const NAME_STR: &'static str = "Content-Length";
    fn parse(value: &str) -> Result<Self, HeaderError> {
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(HeaderError::Syntax {
                header: Self::NAME_STR,
            });
        }
        parse_digits_u64(value)
            .and_then(|v| usize::try_from(v).ok())
            .map(ContentLength)
            .ok_or(HeaderError::Overflow {
                header: Self::NAME_STR,
            })
    }
}

/// `Expires` (delta-seconds). Values above 2^32-1 saturate, as RFC 3261
/// requires for delta-seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expires(pub u32);

impl TypedHeader for Expires {
    const NAME: HeaderName = HeaderName::EXPIRES;
    const NAME_STR: &'static str = "Expires";
    fn parse(value: &str) -> Result<Self, HeaderError> {
        parse_digits_saturating(value, u64::from(u32::MAX))
            .map(|v| Expires(v as u32))
            .ok_or(HeaderError::Syntax {
                header: Self::NAME_STR,
            })
    }
}

/// `Call-ID`: `word ["@" word]`, kept verbatim (compare byte-exact).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CallId(pub String);

impl TypedHeader for CallId {
    const NAME: HeaderName = HeaderName::CALL_ID;
    const NAME_STR: &'static str = "Call-ID";
    fn parse(value: &str) -> Result<Self, HeaderError> {
        let word = |b: u8| {
            is_token(b)
                || matches!(
                    b,
                    b'(' | b')'
                        | b'<'
                        | b'>'
                        | b':'
                        | b'\\'
                        | b'"'
                        | b'/'
                        | b'['
                        | b']'
                        | b'?'
                        | b'{'
                        | b'}'
                )
        };
        let mut parts = value.splitn(2, '@');
        let ok = parts.all(|w| !w.is_empty() && w.bytes().all(word));
        if ok && !value.bytes().any(is_wsp) {
            Ok(CallId(value.to_owned()))
        } else {
            Err(HeaderError::Syntax {
                header: Self::NAME_STR,
            })
        }
    }
}

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn option_tag(value: &str, header: &'static str) -> Result<String, HeaderError> {
    if !value.is_empty() && value.bytes().all(is_token) {
        Ok(value.to_owned())
    } else {
        Err(HeaderError::Syntax { header })
    }
}

macro_rules! option_tag_header {
    ($ty:ident, $konst:ident, $name:literal) => {
        #[doc = concat!("One option-tag of `", $name, "` (list elements are parsed one by one).")]
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub struct $ty(pub String);

        impl TypedHeader for $ty {
            const NAME: HeaderName = HeaderName::$konst;
            const NAME_STR: &'static str = $name;
            fn parse(value: &str) -> Result<Self, HeaderError> {
                option_tag(value, $name).map($ty)
            }
        }
    };
}

option_tag_header!(Require, REQUIRE, "Require");
option_tag_header!(ProxyRequire, PROXY_REQUIRE, "Proxy-Require");
option_tag_header!(Supported, SUPPORTED, "Supported");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_parse_with_documented_overflow_policy() {
        assert_eq!(MaxForwards::parse("0068").unwrap(), MaxForwards(68));
        assert_eq!(MaxForwards::parse("300").unwrap(), MaxForwards(255));
        assert!(MaxForwards::parse("-1").is_err());
        assert_eq!(ContentLength::parse("150").unwrap(), ContentLength(150));
        assert!(ContentLength::parse("-999").is_err());
        assert!(ContentLength::parse("99999999999999999999999").is_err());
        assert_eq!(Expires::parse(&"1".repeat(100)).unwrap(), Expires(u32::MAX));
        assert!(CallId::parse("intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{").is_ok());
        assert!(CallId::parse("a b").is_err());
        assert!(Require::parse("").is_err());
    }
}
