//! Header fields: an ordered list of (name, unfolded raw value) with
//! case-insensitive lookup, compact forms and comma-list splitting.

use std::fmt;

use crate::header::{HeaderError, TypedHeader};

macro_rules! known_headers {
    ($($konst:ident $name:literal $compact:expr, $list:literal;)*) => {
        #[allow(non_camel_case_types, clippy::upper_case_acronyms)]
        #[derive(Clone, Copy, PartialEq, Eq, Debug)]
        enum Known { $($konst,)* }

        /// (canonical name, compact form, comma-separated list?)
        const TABLE: &[(&str, Option<u8>, bool)] = &[$(($name, $compact, $list),)*];

        impl HeaderName {
            $(
                #[doc = concat!("`", $name, "`.")]
                pub const $konst: HeaderName = HeaderName(Repr::Known(Known::$konst));
            )*
        }

        impl Known {
            const ALL: &'static [Known] = &[$(Known::$konst,)*];
        }
    };
}

// Canonical name, compact form (RFC 3261 7.3.3 and the IANA registry), and whether
// the value is a comma-separated list that `Headers::values` may split. Headers whose
// values contain commas but are not lists (Date, *-Authenticate, Authorization, ...)
// are marked `false`.
known_headers! {
    VIA "Via" Some(b'v'), true;
    FROM "From" Some(b'f'), false;
    TO "To" Some(b't'), false;
    CALL_ID "Call-ID" Some(b'i'), false;
    CSEQ "CSeq" None, false;
    MAX_FORWARDS "Max-Forwards" None, false;
    CONTACT "Contact" Some(b'm'), true;
    CONTENT_LENGTH "Content-Length" Some(b'l'), false;
    CONTENT_TYPE "Content-Type" Some(b'c'), false;
    CONTENT_ENCODING "Content-Encoding" Some(b'e'), true;
    CONTENT_DISPOSITION "Content-Disposition" None, false;
    CONTENT_LANGUAGE "Content-Language" None, true;
    ROUTE "Route" None, true;
    RECORD_ROUTE "Record-Route" None, true;
    REQUIRE "Require" None, true;
    PROXY_REQUIRE "Proxy-Require" None, true;
    SUPPORTED "Supported" Some(b'k'), true;
    UNSUPPORTED "Unsupported" None, true;
    ALLOW "Allow" None, true;
    ACCEPT "Accept" None, true;
    ACCEPT_ENCODING "Accept-Encoding" None, true;
    ACCEPT_LANGUAGE "Accept-Language" None, true;
    EXPIRES "Expires" None, false;
    MIN_EXPIRES "Min-Expires" None, false;
    SUBJECT "Subject" Some(b's'), false;
    EVENT "Event" Some(b'o'), false;
    ALLOW_EVENTS "Allow-Events" Some(b'u'), true;
    REFER_TO "Refer-To" Some(b'r'), false;
    REFERRED_BY "Referred-By" Some(b'b'), false;
    SESSION_EXPIRES "Session-Expires" Some(b'x'), false;
    MIN_SE "Min-SE" None, false;
    ACCEPT_CONTACT "Accept-Contact" Some(b'a'), true;
    REJECT_CONTACT "Reject-Contact" Some(b'j'), true;
    REQUEST_DISPOSITION "Request-Disposition" Some(b'd'), true;
    IDENTITY "Identity" Some(b'y'), false;
    IDENTITY_INFO "Identity-Info" Some(b'n'), false;
    AUTHORIZATION "Authorization" None, false;
    PROXY_AUTHORIZATION "Proxy-Authorization" None, false;
    WWW_AUTHENTICATE "WWW-Authenticate" None, false;
    PROXY_AUTHENTICATE "Proxy-Authenticate" None, false;
    AUTHENTICATION_INFO "Authentication-Info" None, false;
    DATE "Date" None, false;
    RETRY_AFTER "Retry-After" None, false;
    WARNING "Warning" None, true;
    USER_AGENT "User-Agent" None, false;
    SERVER "Server" None, false;
    TIMESTAMP "Timestamp" None, false;
    PATH "Path" None, true;
    SERVICE_ROUTE "Service-Route" None, true;
    REASON "Reason" None, true;
    RSEQ "RSeq" None, false;
    RACK "RAck" None, false;
    SUBSCRIPTION_STATE "Subscription-State" None, false;
    P_ASSERTED_IDENTITY "P-Asserted-Identity" None, true;
    PRIVACY "Privacy" None, true;
    ORGANIZATION "Organization" None, false;
    PRIORITY "Priority" None, false;
    MIME_VERSION "MIME-Version" None, false;
}

#[derive(Clone)]
enum Repr {
    Known(Known),
    Other(Box<str>),
}

/// A header field name. Known names (and their compact forms) are canonicalised
/// when parsed, so `v`, `VIA` and `Via` are all [`HeaderName::VIA`]; other names
/// keep their spelling and compare case-insensitively.
#[derive(Clone)]
pub struct HeaderName(Repr);

/// The text is not a valid header name token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid header name")]
pub struct InvalidHeaderName;

impl HeaderName {
    /// Parses a header name (token), mapping compact forms and known names to their canonical form.
    pub fn new(name: &str) -> Result<HeaderName, InvalidHeaderName> {
        if name.is_empty() || !name.bytes().all(crate::header::scan::is_token) {
            return Err(InvalidHeaderName);
        }
        Ok(Self::lookup(name))
    }

    fn lookup(name: &str) -> HeaderName {
        let b = name.as_bytes();
        if let [c] = b {
            let c = c.to_ascii_lowercase();
            for (i, (_, compact, _)) in TABLE.iter().enumerate() {
                if *compact == Some(c) {
                    return HeaderName(Repr::Known(Known::ALL[i]));
                }
            }
        } else {
            for (i, (canon, _, _)) in TABLE.iter().enumerate() {
                if canon.len() == b.len() && canon.as_bytes().eq_ignore_ascii_case(b) {
                    return HeaderName(Repr::Known(Known::ALL[i]));
                }
            }
        }
        HeaderName(Repr::Other(name.into()))
    }

    /// The canonical (long) name for known headers, else the name as written.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Known(k) => TABLE[*k as usize].0,
            Repr::Other(s) => s,
        }
    }

    /// Whether the value is a comma-separated list that may be split into elements.
    pub fn is_list(&self) -> bool {
        match &self.0 {
            Repr::Known(k) => TABLE[*k as usize].2,
            Repr::Other(_) => false,
        }
    }
}

impl PartialEq for HeaderName {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (Repr::Known(a), Repr::Known(b)) => a == b,
            (Repr::Other(a), Repr::Other(b)) => a.eq_ignore_ascii_case(b),
            _ => false,
        }
    }
}

impl Eq for HeaderName {}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HeaderName({})", self.as_str())
    }
}

/// One header field line (after unfolding): its name and its raw value with
/// leading and trailing whitespace removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Field name.
    pub name: HeaderName,
    /// Raw value; line folds were replaced by a single space.
    pub value: String,
}

/// The header section of a message, in wire order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers {
    entries: Vec<Header>,
}

impl Headers {
    /// An empty header section.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a field line.
    pub fn push(&mut self, name: HeaderName, value: impl Into<String>) {
        self.entries.push(Header {
            name,
            value: value.into(),
        });
    }

    /// Replaces the first field named `name` (removing any others) or appends one.
    pub fn set(&mut self, name: HeaderName, value: impl Into<String>) {
        let value = value.into();
        if let Some(i) = self.entries.iter().position(|h| h.name == name) {
            self.entries[i].value = value;
            let mut seen = 0usize;
            self.entries.retain(|h| {
                if h.name == name {
                    seen += 1;
                    seen == 1
                } else {
                    true
                }
            });
        } else {
            self.push(name, value);
        }
    }

    /// Removes every field named `name`; returns how many were removed.
    pub fn remove(&mut self, name: &HeaderName) -> usize {
        let before = self.entries.len();
        self.entries.retain(|h| h.name != *name);
        before - self.entries.len()
    }

    /// All field lines in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Header> {
        self.entries.iter()
    }

    /// Number of field lines.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No field lines.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The raw value of the first field line named `name`.
    pub fn get(&self, name: &HeaderName) -> Option<&str> {
        self.entries
            .iter()
            .find(|h| h.name == *name)
            .map(|h| h.value.as_str())
    }

    /// The raw values of every field line named `name`.
    pub fn get_all<'a>(&'a self, name: &HeaderName) -> impl Iterator<Item = &'a str> + use<'a> {
        let name = name.clone();
        self.entries
            .iter()
            .filter(move |h| h.name == name)
            .map(|h| h.value.as_str())
    }

    /// Number of field lines named `name`.
    pub fn count(&self, name: &HeaderName) -> usize {
        self.entries.iter().filter(|h| h.name == *name).count()
    }

    /// Whether any field line is named `name`.
    pub fn contains(&self, name: &HeaderName) -> bool {
        self.entries.iter().any(|h| h.name == *name)
    }

    /// The values of `name`: list headers ([`HeaderName::is_list`]) are split at
    /// top-level commas (outside quotes and `<>`); other headers yield each line whole.
    pub fn values<'a>(&'a self, name: &HeaderName) -> impl Iterator<Item = &'a str> + use<'a> {
        let list = name.is_list();
        self.get_all(name).flat_map(move |v| {
            let parts: Box<dyn Iterator<Item = &'a str>> = if list {
                Box::new(split_list(v))
            } else {
                Box::new(std::iter::once(v))
            };
            parts
        })
    }

    /// Parses the first value of `T`'s header, if present.
    pub fn typed<T: TypedHeader>(&self) -> Option<Result<T, HeaderError>> {
        self.values(&T::NAME).next().map(T::parse)
    }

    /// Parses every value of `T`'s header (list headers split first).
    pub fn typed_all<T: TypedHeader>(
        &self,
    ) -> impl Iterator<Item = Result<T, HeaderError>> + use<'_, T> {
        self.values(&T::NAME).map(T::parse)
    }
}

impl<'a> IntoIterator for &'a Headers {
    type Item = &'a Header;
    type IntoIter = std::slice::Iter<'a, Header>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter()
    }
}

/// Splits a list value at commas that are outside quoted strings and `<...>`,
/// trimming whitespace around each element. Empty elements are yielded (as `""`)
/// so that typed parsing can reject them.
pub fn split_list(value: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(value);
    std::iter::from_fn(move || {
        let s = rest?;
        let b = s.as_bytes();
        let mut in_quote = false;
        let mut in_angle = false;
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'\\' if in_quote => i += 1,
                b'"' => in_quote = !in_quote,
                b'<' if !in_quote => in_angle = true,
                b'>' if !in_quote => in_angle = false,
                b',' if !in_quote && !in_angle => {
                    rest = s.get(i + 1..);
                    return s.get(..i).map(str::trim);
                }
                _ => {}
            }
            i += 1;
        }
        rest = None;
        Some(s.trim())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_and_odd_case_names_canonicalise() {
        for (raw, want) in [
            ("v", HeaderName::VIA),
            ("ViA", HeaderName::VIA),
            ("i", HeaderName::CALL_ID),
            ("I", HeaderName::CALL_ID),
            ("l", HeaderName::CONTENT_LENGTH),
            ("m", HeaderName::CONTACT),
            ("n", HeaderName::IDENTITY_INFO),
            ("y", HeaderName::IDENTITY),
            ("MaX-fOrWaRdS", HeaderName::MAX_FORWARDS),
        ] {
            assert_eq!(HeaderName::new(raw).unwrap(), want, "{raw}");
        }
        assert_eq!(
            HeaderName::new("X-Foo").unwrap(),
            HeaderName::new("x-foo").unwrap()
        );
        assert_eq!(HeaderName::new("C%6Fntact").unwrap().as_str(), "C%6Fntact");
        assert_ne!(HeaderName::new("C%6Fntact").unwrap(), HeaderName::CONTACT);
    }

    #[test]
    fn list_split_respects_quotes_and_angle_brackets() {
        let v = r#""Doe, John" <sip:a@b;x=1,2>;q=1, <sip:c@d>, *"#;
        let parts: Vec<_> = split_list(v).collect();
        assert_eq!(
            parts,
            vec![r#""Doe, John" <sip:a@b;x=1,2>;q=1"#, "<sip:c@d>", "*"]
        );
        let esc: Vec<_> = split_list(r#""a\",b", c"#).collect();
        assert_eq!(esc, vec![r#""a\",b""#, "c"]);
    }

    #[test]
    fn non_list_headers_are_not_split() {
        let mut h = Headers::new();
        h.push(
            HeaderName::WWW_AUTHENTICATE,
            r#"Digest realm="a", nonce="b""#,
        );
        h.push(HeaderName::DATE, "Sat, 15 Oct 2005 04:44:56 GMT");
        h.push(HeaderName::VIA, "SIP/2.0/UDP a, SIP/2.0/UDP b");
        assert_eq!(h.values(&HeaderName::WWW_AUTHENTICATE).count(), 1);
        assert_eq!(h.values(&HeaderName::DATE).count(), 1);
        assert_eq!(h.values(&HeaderName::VIA).count(), 2);
    }

    #[test]
    fn set_replaces_all_lines_of_a_name() {
        let mut h = Headers::new();
        h.push(HeaderName::CONTENT_LENGTH, "1");
        h.push(HeaderName::TO, "x");
        h.push(HeaderName::CONTENT_LENGTH, "2");
        h.set(HeaderName::CONTENT_LENGTH, "3");
        assert_eq!(
            h.get_all(&HeaderName::CONTENT_LENGTH).collect::<Vec<_>>(),
            vec!["3"]
        );
        assert_eq!(h.iter().next().unwrap().name, HeaderName::CONTENT_LENGTH);
    }
}
