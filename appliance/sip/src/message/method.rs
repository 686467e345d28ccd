//! The request method: an open, case-sensitive token (RFC 3261 section 7.1).

use std::borrow::Cow;
use std::fmt;

use crate::header::scan::is_token;

/// A SIP request method. Any RFC 3261 `token` is representable, so extension
/// methods (and the torture tests' `!interesting-Method0123456789_*+`.%indeed'~`)
/// parse; comparison is case-sensitive as the RFC requires.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Method(Cow<'static, str>);

/// The text is not a valid method token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid SIP method token")]
pub struct InvalidMethod;

macro_rules! methods {
    ($($name:ident $rfc:literal;)*) => {
        impl Method {
            $(
                #[doc = concat!("`", stringify!($name), "` (", $rfc, ").")]
                pub const $name: Method = Method(Cow::Borrowed(stringify!($name)));
            )*

            /// Every method defined as a constant, in table order.
            pub const KNOWN: &'static [Method] = &[$(Method::$name),*];

            /// Parses a method token. Known methods borrow a static string.
            pub fn new(s: &str) -> Result<Method, InvalidMethod> {
                match s {
                    $(stringify!($name) => Ok(Method::$name),)*
                    _ if !s.is_empty() && s.bytes().all(is_token) => Ok(Method(Cow::Owned(s.to_owned()))),
                    _ => Err(InvalidMethod),
                }
            }
        }
    };
}

methods! {
    INVITE "RFC 3261";
    ACK "RFC 3261";
    BYE "RFC 3261";
    CANCEL "RFC 3261";
    OPTIONS "RFC 3261";
    REGISTER "RFC 3261";
    INFO "RFC 6086";
    PRACK "RFC 3262";
    UPDATE "RFC 3311";
    SUBSCRIBE "RFC 6665";
    NOTIFY "RFC 6665";
    REFER "RFC 3515";
    MESSAGE "RFC 3428";
    PUBLISH "RFC 3903";
}

impl Method {
    /// The method as written on the wire.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is one of the constants of this type.
    pub fn is_known(&self) -> bool {
        Self::KNOWN.contains(self)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Method({})", self.0)
    }
}

impl std::str::FromStr for Method {
    type Err = InvalidMethod;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Method::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_methods_borrow_and_compare_case_sensitively() {
        assert_eq!(Method::new("INVITE").unwrap(), Method::INVITE);
        assert_ne!(Method::new("invite").unwrap(), Method::INVITE);
        assert!(!Method::new("invite").unwrap().is_known());
    }

    #[test]
    fn extension_tokens_are_methods_but_escapes_are_not_decoded() {
        let m = Method::new("RE%47IST%45R").unwrap();
        assert_ne!(m, Method::REGISTER);
        assert!(Method::new("!interesting-Method0123456789_*+`.%indeed'~").is_ok());
        assert_eq!(Method::new("IN VITE"), Err(InvalidMethod));
        assert_eq!(Method::new(""), Err(InvalidMethod));
    }
}
