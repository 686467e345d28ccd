//! `name-addr` / `addr-spec` values: To, From, Contact (RFC 3261 20.10, 20.20, 20.39).

use std::fmt;

use super::scan::{Scanner, is_wsp};
use super::{HeaderError, TypedHeader, parse_params, write_params};
use crate::message::HeaderName;
use crate::uri::{Param, Uri, find_param};

/// An address: optional display name, URI, header parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameAddr {
    /// Display name, unquoted and unescaped (token sequences joined by one space).
    pub display_name: Option<String>,
    /// The URI.
    pub uri: Uri,
    /// Header parameters (`;tag=`, `;expires=`, `;q=`, ...) as written; these are
    /// never uri-parameters (RFC 4475 3.3.12).
    pub params: Vec<Param>,
}

impl NameAddr {
    /// Parses `[display-name] <URI> *(;param)` or a bare `addr-spec *(;param)`.
    /// A bare addr-spec may not contain `?` or `,` (they require `<>`).
    pub fn parse(value: &str, header: &'static str) -> Result<NameAddr, HeaderError> {
        let err = HeaderError::Syntax { header };
        let mut sc = Scanner::new(value);
        sc.skip_ws();
        let mut display_name = None;
        let angle = if sc.peek() == Some(b'"') {
            display_name = Some(sc.quoted_string().ok_or(err)?);
            sc.skip_ws();
            true
        } else if sc.peek() == Some(b'<') {
            true
        } else {
            // Either a token sequence followed by '<' or a bare addr-spec.
            let save = sc.pos();
            let mut words: Vec<&str> = Vec::new();
            while let Some(t) = sc.token() {
                words.push(t);
                sc.skip_ws();
            }
            if !words.is_empty() && sc.peek() == Some(b'<') {
                display_name = Some(words.join(" "));
                true
            } else {
                sc.set_pos(save);
                false
            }
        };
        let uri_text = if angle {
            if !sc.eat(b'<') {
                return Err(err);
            }
            let t = sc.take_while(|b| b != b'>');
            if !sc.eat(b'>') {
                return Err(err);
            }
            t
        } else {
            let t = sc.take_while(|b| !is_wsp(b) && b != b';' && b != b',');
            if t.contains('?') {
                return Err(err);
            }
            t
        };
        let uri = Uri::parse(uri_text).map_err(|source| HeaderError::Uri { header, source })?;
        let params = parse_params(&mut sc, header)?;
        sc.skip_ws();
        if !sc.at_end() {
            return Err(err);
        }
        Ok(NameAddr {
            display_name,
            uri,
            params,
        })
    }

    /// A header parameter by case-insensitive name.
    pub fn param(&self, name: &str) -> Option<&Param> {
        find_param(&self.params, name)
    }

    /// The `tag` parameter.
    pub fn tag(&self) -> Option<&str> {
        self.param("tag").and_then(|p| p.value.as_deref())
    }

    /// The `expires` parameter (saturating at 2^32-1; `None` if absent or not digits).
    pub fn expires(&self) -> Option<u32> {
        let v = self.param("expires")?.value.as_deref()?;
        super::scan::parse_digits_saturating(v, u64::from(u32::MAX)).map(|v| v as u32)
    }

    /// The `q` parameter in thousandths (0..=1000), `None` if absent or invalid.
    pub fn q(&self) -> Option<u16> {
        let v = self.param("q")?.value.as_deref()?;
        let (int, frac) = v.split_once('.').unwrap_or((v, ""));
        if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let int: u16 = match int {
            "0" => 0,
            "1" => 1,
            _ => return None,
        };
        let mut thousandths = 0u16;
        for (i, b) in frac.bytes().enumerate() {
            thousandths += u16::from(b - b'0') * [100, 10, 1][i];
        }
        let q = int * 1000 + thousandths;
        (q <= 1000).then_some(q)
    }
}

impl fmt::Display for NameAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(d) = &self.display_name {
            f.write_str("\"")?;
            for c in d.chars() {
                if c == '"' || c == '\\' {
                    f.write_str("\\")?;
                }
                write!(f, "{c}")?;
            }
            f.write_str("\" ")?;
        }
        write!(f, "<{}>", self.uri)?;
        write_params(f, &self.params)
    }
}

macro_rules! name_addr_header {
    ($ty:ident, $konst:ident, $name:literal) => {
        #[doc = concat!("`", $name, "`: a single name-addr.")]
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub struct $ty(pub NameAddr);

        impl TypedHeader for $ty {
            const NAME: HeaderName = HeaderName::$konst;
            const NAME_STR: &'static str = $name;
            fn parse(value: &str) -> Result<Self, HeaderError> {
                NameAddr::parse(value, $name).map($ty)
            }
        }

        impl std::ops::Deref for $ty {
            type Target = NameAddr;
            fn deref(&self) -> &NameAddr {
                &self.0
            }
        }
    };
}

name_addr_header!(To, TO, "To");
name_addr_header!(From, FROM, "From");

/// One Contact value: `*` or an address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Contact {
    /// `Contact: *` (REGISTER removal of all bindings).
    Wildcard,
    /// An address with contact-params.
    Address(NameAddr),
}

impl TypedHeader for Contact {
    const NAME: HeaderName = HeaderName::CONTACT;
    const NAME_STR: &'static str = "Contact";
    fn parse(value: &str) -> Result<Self, HeaderError> {
        if value.trim() == "*" {
            Ok(Contact::Wildcard)
        } else {
            NameAddr::parse(value, Self::NAME_STR).map(Contact::Address)
        }
    }
}

impl fmt::Display for Contact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Contact::Wildcard => f.write_str("*"),
            Contact::Address(a) => a.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_display_names_unescape() {
        let f =
            From::parse(r#""J Rosenberg \\\""       <sip:jdrosen@example.com> ; tag = 98asjd8"#)
                .unwrap();
        assert_eq!(f.display_name.as_deref(), Some(r#"J Rosenberg \""#));
        assert_eq!(f.tag(), Some("98asjd8"));
    }

    #[test]
    fn token_display_names_and_no_lws_before_angle() {
        let f = From::parse("caller<sip:caller@example.com>;tag=323").unwrap();
        assert_eq!(f.display_name.as_deref(), Some("caller"));
        let f =
            From::parse("token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;tag=x").unwrap();
        assert_eq!(
            f.display_name.as_deref(),
            Some("token1~` token2'+_ token3*%!.-")
        );
    }

    #[test]
    fn bare_addr_spec_params_belong_to_the_header() {
        let c = Contact::parse("sip:+19725552222@gw1.example.net;unknownparam").unwrap();
        let Contact::Address(a) = c else { panic!() };
        assert!(a.param("unknownparam").is_some());
        assert!(a.uri.as_sip().unwrap().params.is_empty());
        let Contact::Address(a) =
            Contact::parse("<sip:+19725552222@gw1.example.net;unknownparam>").unwrap()
        else {
            panic!()
        };
        assert!(a.params.is_empty());
        assert!(a.uri.as_sip().unwrap().param("unknownparam").is_some());
    }

    #[test]
    fn malformed_addresses_are_rejected() {
        for bad in [
            r#""Mr. J. User <sip:j.user@example.com>"#,
            r#""Watson, Thomas" < sip:t.watson@example.org >"#,
            "Bell, Alexander <sip:a.g.bell@example.com>;tag=43",
            "sip:user@example.com?Route=%3Csip:sip.example.com%3E",
            r#""Joe" <sip:joe@example.org>;;;;"#,
            "",
        ] {
            assert!(NameAddr::parse(bad, "To").is_err(), "{bad}");
        }
    }

    #[test]
    fn contact_wildcard_expires_and_q() {
        assert_eq!(Contact::parse("*").unwrap(), Contact::Wildcard);
        let Contact::Address(a) =
            Contact::parse("<sip:a@b>;expires=280297596632815;q=0.33").unwrap()
        else {
            panic!()
        };
        assert_eq!(a.expires(), Some(u32::MAX));
        assert_eq!(a.q(), Some(330));
    }

    #[test]
    fn display_round_trips() {
        let a = NameAddr::parse(r#""A \"B\"" <sip:a@b;lr>;tag=1;q=0.5"#, "To").unwrap();
        assert_eq!(NameAddr::parse(&a.to_string(), "To").unwrap(), a);
    }
}
