//! Lexical layer shared by challenges and credentials: an auth-scheme token
//! followed by comma-separated `name=value` auth-params (RFC 3261 §25.1
//! `challenge` / `credentials`, RFC 7235 §2.1).
//!
//! The parser works on bytes and only ever splits the input at ASCII
//! delimiters, so it cannot cut a multi-byte UTF-8 sequence in half.

use thiserror::Error;

/// Why a `WWW-Authenticate`, `Proxy-Authenticate`, `Authorization` or
/// `Proxy-Authorization` header value could not be parsed.
///
/// Offsets are byte offsets into the header value as passed in.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AuthParseError {
    /// The header value is empty or only whitespace.
    #[error("empty authentication header value")]
    Empty,
    /// The value does not start with an auth-scheme token.
    #[error("missing or invalid auth-scheme")]
    InvalidScheme,
    /// A parameter name (token) was expected at this offset.
    #[error("expected an auth-param name at byte {offset}")]
    ExpectedParamName {
        /// Byte offset of the offending character.
        offset: usize,
    },
    /// A `=` was expected after a parameter name.
    #[error("expected '=' after auth-param name at byte {offset}")]
    ExpectedEquals {
        /// Byte offset of the offending character.
        offset: usize,
    },
    /// A parameter value (token or quoted string) was expected.
    #[error("expected a token or quoted string at byte {offset}")]
    ExpectedValue {
        /// Byte offset of the offending character.
        offset: usize,
    },
    /// A quoted string was not closed, or contains a forbidden character.
    #[error("unterminated or invalid quoted string starting at byte {offset}")]
    InvalidQuotedString {
        /// Byte offset of the opening quote.
        offset: usize,
    },
    /// Something other than `,` or the end followed a parameter.
    #[error("expected ',' between auth-params at byte {offset}")]
    ExpectedComma {
        /// Byte offset of the offending character.
        offset: usize,
    },
    /// The same parameter appeared twice (names compare case-insensitively).
    #[error("duplicate auth-param `{name}`")]
    DuplicateParam {
        /// The parameter name, lower-cased.
        name: String,
    },
    /// A parameter the scheme requires is absent.
    #[error("missing required auth-param `{name}`")]
    MissingParam {
        /// The parameter name.
        name: &'static str,
    },
    /// A parameter has a value outside its grammar (e.g. `nc` not 8 hex digits).
    #[error("invalid value for auth-param `{name}`")]
    InvalidParamValue {
        /// The parameter name.
        name: &'static str,
    },
}

/// One parsed auth-param. Names are lower-cased; values are unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Param {
    pub(crate) name: String,
    pub(crate) value: String,
}

/// A header value split into its scheme and the unparsed remainder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SchemeAndRest<'a> {
    pub(crate) scheme: &'a str,
    pub(crate) rest: &'a str,
    /// Byte offset of `rest` within the original value.
    pub(crate) rest_offset: usize,
}

/// RFC 3261 `token` characters.
pub(crate) const fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
        )
}

const fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Splits `value` into the auth-scheme and what follows it.
pub(crate) fn split_scheme(value: &str) -> Result<SchemeAndRest<'_>, AuthParseError> {
    let bytes = value.as_bytes();
    let mut i = 0;
    while i < bytes.len() && is_ws(bytes[i]) {
        i += 1;
    }
    if i == bytes.len() {
        return Err(AuthParseError::Empty);
    }
    let start = i;
    while i < bytes.len() && is_token_char(bytes[i]) {
        i += 1;
    }
    if i == start {
        return Err(AuthParseError::InvalidScheme);
    }
    let scheme = &value[start..i];
    // The scheme must be followed by whitespace or the end of the value.
    if i < bytes.len() && !is_ws(bytes[i]) {
        return Err(AuthParseError::InvalidScheme);
    }
    Ok(SchemeAndRest {
        scheme,
        rest: &value[i..],
        rest_offset: i,
    })
}

/// Parses `auth-param *(COMMA auth-param)`, rejecting duplicates.
///
/// An empty list is accepted (the caller then reports the missing params).
pub(crate) fn parse_params(rest: &str, base: usize) -> Result<Vec<Param>, AuthParseError> {
    let bytes = rest.as_bytes();
    let mut params: Vec<Param> = Vec::new();
    let mut i = skip_ws(bytes, 0);
    if i == bytes.len() {
        return Ok(params);
    }
    loop {
        // name
        let name_start = i;
        while i < bytes.len() && is_token_char(bytes[i]) {
            i += 1;
        }
        if i == name_start {
            return Err(AuthParseError::ExpectedParamName { offset: base + i });
        }
        let name = rest[name_start..i].to_ascii_lowercase();
        i = skip_ws(bytes, i);
        if bytes.get(i) != Some(&b'=') {
            return Err(AuthParseError::ExpectedEquals { offset: base + i });
        }
        i = skip_ws(bytes, i + 1);
        // value
        let value = match bytes.get(i) {
            Some(b'"') => {
                let (value, next) = parse_quoted(rest, i)
                    .ok_or(AuthParseError::InvalidQuotedString { offset: base + i })?;
                i = next;
                value
            }
            Some(&b) if is_token_char(b) => {
                let start = i;
                while i < bytes.len() && is_token_char(bytes[i]) {
                    i += 1;
                }
                rest[start..i].to_owned()
            }
            _ => return Err(AuthParseError::ExpectedValue { offset: base + i }),
        };
        if params.iter().any(|p| p.name == name) {
            return Err(AuthParseError::DuplicateParam { name });
        }
        params.push(Param { name, value });
        i = skip_ws(bytes, i);
        match bytes.get(i) {
            None => return Ok(params),
            Some(b',') => i = skip_ws(bytes, i + 1),
            Some(_) => return Err(AuthParseError::ExpectedComma { offset: base + i }),
        }
    }
}

fn skip_ws(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && is_ws(bytes[i]) {
        i += 1;
    }
    i
}

/// Parses a quoted string whose opening quote is at `start`; returns the
/// unescaped content and the index just past the closing quote.
///
/// `qdtext` per RFC 3261 §25.1: whitespace, `%x21 / %x23-5B / %x5D-7E` and
/// non-ASCII UTF-8; `quoted-pair` is a backslash followed by any ASCII byte
/// except CR and LF.
fn parse_quoted(s: &str, start: usize) -> Option<(String, usize)> {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = start + 1;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'"' => {
                // Only ASCII bytes were dropped (the escaping backslashes), so
                // the result is still valid UTF-8.
                return String::from_utf8(out).ok().map(|v| (v, i + 1));
            }
            b'\\' => {
                let next = *bytes.get(i + 1)?;
                if next > 0x7f || next == b'\r' || next == b'\n' {
                    return None;
                }
                out.push(next);
                i += 2;
            }
            b'\t' | b' ' | 0x21 | 0x23..=0x5b | 0x5d..=0x7e | 0x80..=0xff => {
                out.push(b);
                i += 1;
            }
            _ => return None,
        }
    }
    None
}

/// Appends `value` as a quoted string, escaping `"` and `\`.
pub(crate) fn push_quoted(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

/// Looks up a parameter by lower-case name.
pub(crate) fn find<'a>(params: &'a [Param], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|p| p.name == name)
        .map(|p| p.value.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(s: &str) -> Result<Vec<(String, String)>, AuthParseError> {
        let sr = split_scheme(s)?;
        parse_params(sr.rest, sr.rest_offset)
            .map(|v| v.into_iter().map(|p| (p.name, p.value)).collect())
    }

    #[test]
    fn names_are_case_insensitive_and_values_unescaped() {
        let got = params(r#"Digest REALM="a\"b\\c", Nonce=xyz ,qop = "auth""#).unwrap();
        assert_eq!(
            got,
            vec![
                ("realm".into(), r#"a"b\c"#.into()),
                ("nonce".into(), "xyz".into()),
                ("qop".into(), "auth".into()),
            ]
        );
    }

    #[test]
    fn duplicate_params_are_rejected_case_insensitively() {
        assert_eq!(
            params(r#"Digest realm="a", Realm="b""#),
            Err(AuthParseError::DuplicateParam {
                name: "realm".into()
            })
        );
    }

    #[test]
    fn malformed_lists_are_rejected() {
        let cases = [
            ("", AuthParseError::Empty),
            ("   ", AuthParseError::Empty),
            ("=x", AuthParseError::InvalidScheme),
            ("Digest\"x\"", AuthParseError::InvalidScheme),
            (
                "Digest realm",
                AuthParseError::ExpectedEquals { offset: 12 },
            ),
            (
                "Digest realm=",
                AuthParseError::ExpectedValue { offset: 13 },
            ),
            (
                "Digest realm=\"abc",
                AuthParseError::InvalidQuotedString { offset: 13 },
            ),
            (
                "Digest a=b c=d",
                AuthParseError::ExpectedComma { offset: 11 },
            ),
            (
                "Digest a=b,,c=d",
                AuthParseError::ExpectedParamName { offset: 11 },
            ),
            (
                "Digest a=b,",
                AuthParseError::ExpectedParamName { offset: 11 },
            ),
            (
                "Digest a=\"x\ny\"",
                AuthParseError::InvalidQuotedString { offset: 9 },
            ),
        ];
        for (input, want) in cases {
            assert_eq!(params(input), Err(want), "input {input:?}");
        }
    }

    #[test]
    fn non_ascii_inside_quotes_is_kept() {
        let got = params("Digest username=\"Jürgen\"").unwrap();
        assert_eq!(got[0].1, "Jürgen");
    }

    #[test]
    fn push_quoted_round_trips_through_the_parser() {
        let mut s = String::from("Digest realm=");
        push_quoted(&mut s, r#"we"ird\realm"#);
        assert_eq!(params(&s).unwrap()[0].1, r#"we"ird\realm"#);
    }
}
