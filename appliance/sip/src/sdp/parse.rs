//! The SDP parser.

use super::attribute::{Attribute, is_token, num};
use super::error::ParseError;
use super::model::{
    Bandwidth, Connection, MediaDescription, MediaType, Origin, Proto, Redacted, Session, Timing,
};

/// Bounds that keep a hostile body from costing much memory or time. The
/// parser checks them before allocating per-line structures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Maximum body size in bytes.
    pub max_bytes: usize,
    /// Maximum number of lines (blank ones included).
    pub max_lines: usize,
    /// Maximum number of `m=` sections.
    pub max_media: usize,
}

impl Limits {
    /// 64 KiB, 4096 lines, 32 media sections: a large multi-stream WebRTC
    /// offer is about 20 KiB.
    pub const DEFAULT: Limits = Limits {
        max_bytes: 65_535,
        max_lines: 4096,
        max_media: 32,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

impl Session {
    /// Parses an SDP body with [`Limits::DEFAULT`].
    pub fn parse(text: &str) -> Result<Session, ParseError> {
        Session::parse_with_limits(text, &Limits::DEFAULT)
    }

    /// Parses raw body bytes. Bytes that are not UTF-8 (a Latin-1 `s=` from
    /// an old phone) are replaced with U+FFFD rather than refusing the call;
    /// SDP syntax itself is ASCII.
    pub fn parse_bytes(bytes: &[u8]) -> Result<Session, ParseError> {
        Session::parse_bytes_with_limits(bytes, &Limits::DEFAULT)
    }

    /// [`Session::parse_bytes`] with explicit limits.
    pub fn parse_bytes_with_limits(bytes: &[u8], limits: &Limits) -> Result<Session, ParseError> {
        if bytes.len() > limits.max_bytes {
            return Err(ParseError::TooLarge {
                size: bytes.len(),
                limit: limits.max_bytes,
            });
        }
        Session::parse_with_limits(&String::from_utf8_lossy(bytes), limits)
    }

    /// Parses an SDP body with explicit limits.
    pub fn parse_with_limits(text: &str, limits: &Limits) -> Result<Session, ParseError> {
        if text.len() > limits.max_bytes {
            return Err(ParseError::TooLarge {
                size: text.len(),
                limit: limits.max_bytes,
            });
        }
        if memchr::memchr_iter(b'\n', text.as_bytes()).count() >= limits.max_lines {
            return Err(ParseError::TooManyLines {
                limit: limits.max_lines,
            });
        }
        Parser::default().run(text, limits)
    }
}

/// Session-level fields collected before the mandatory ones are known.
#[derive(Default)]
struct Parser {
    origin: Option<Origin>,
    name: Option<String>,
    information: Option<String>,
    uri: Option<String>,
    emails: Vec<Redacted>,
    phones: Vec<Redacted>,
    connection: Option<Connection>,
    bandwidths: Vec<Bandwidth>,
    timing: Vec<Timing>,
    time_zones: Option<String>,
    key: Option<Redacted>,
    attributes: Vec<Attribute>,
    media: Vec<MediaDescription>,
}

fn set_once<T>(slot: &mut Option<T>, value: T, line: usize, kind: char) -> Result<(), ParseError> {
    if slot.is_some() {
        return Err(ParseError::Duplicate { line, kind });
    }
    *slot = Some(value);
    Ok(())
}

impl Parser {
    fn run(mut self, text: &str, limits: &Limits) -> Result<Session, ParseError> {
        let mut seen_version = false;
        for (idx, raw) in text.split('\n').enumerate() {
            let line = idx + 1;
            let raw = raw.trim_end_matches([' ', '\t', '\r']);
            if raw.is_empty() {
                continue;
            }
            let b = raw.as_bytes();
            if b.len() < 2 || b[1] != b'=' || !b[0].is_ascii_alphabetic() {
                return Err(ParseError::MalformedLine { line });
            }
            let kind = char::from(b[0]);
            let value = &raw[2..];
            if !seen_version {
                if kind != 'v' {
                    return Err(ParseError::MissingVersion);
                }
                if value != "0" {
                    return Err(ParseError::BadVersion { line });
                }
                seen_version = true;
                continue;
            }
            if self.media.is_empty() {
                self.session_line(kind, value, line, limits)?;
            } else {
                self.media_line(kind, value, line, limits)?;
            }
        }
        if !seen_version {
            return Err(ParseError::Empty);
        }
        self.finish()
    }

    fn session_line(
        &mut self,
        kind: char,
        value: &str,
        line: usize,
        limits: &Limits,
    ) -> Result<(), ParseError> {
        match kind {
            'v' => return Err(ParseError::Duplicate { line, kind }),
            'o' => set_once(&mut self.origin, parse_origin(value, line)?, line, kind)?,
            's' => set_once(&mut self.name, value.to_owned(), line, kind)?,
            'i' => set_once(&mut self.information, value.to_owned(), line, kind)?,
            'u' => set_once(&mut self.uri, value.to_owned(), line, kind)?,
            'e' => self.emails.push(Redacted::new(value)),
            'p' => self.phones.push(Redacted::new(value)),
            'c' => set_once(
                &mut self.connection,
                parse_connection(value, line)?,
                line,
                kind,
            )?,
            'b' => self.bandwidths.push(parse_bandwidth(value, line)?),
            't' => self.timing.push(parse_timing(value, line)?),
            'r' => match self.timing.last_mut() {
                Some(t) if !value.is_empty() => t.repeats.push(value.to_owned()),
                _ => return Err(ParseError::Misplaced { line, kind }),
            },
            'z' => set_once(&mut self.time_zones, value.to_owned(), line, kind)?,
            'k' => set_once(&mut self.key, Redacted::new(value), line, kind)?,
            'a' => self.attributes.push(parse_attribute(value, line)?),
            'm' => self.start_media(value, line, limits)?,
            _ => return Err(unknown(kind, line)),
        }
        Ok(())
    }

    fn media_line(
        &mut self,
        kind: char,
        value: &str,
        line: usize,
        limits: &Limits,
    ) -> Result<(), ParseError> {
        if kind == 'm' {
            return self.start_media(value, line, limits);
        }
        let Some(m) = self.media.last_mut() else {
            return Err(ParseError::Misplaced { line, kind });
        };
        match kind {
            'i' => set_once(&mut m.information, value.to_owned(), line, kind)?,
            'c' => m.connections.push(parse_connection(value, line)?),
            'b' => m.bandwidths.push(parse_bandwidth(value, line)?),
            'k' => set_once(&mut m.key, Redacted::new(value), line, kind)?,
            'a' => m.attributes.push(parse_attribute(value, line)?),
            'v' | 'o' | 's' | 'u' | 'e' | 'p' | 't' | 'r' | 'z' => {
                return Err(ParseError::Misplaced { line, kind });
            }
            _ => return Err(unknown(kind, line)),
        }
        Ok(())
    }

    fn start_media(&mut self, value: &str, line: usize, limits: &Limits) -> Result<(), ParseError> {
        if self.media.len() >= limits.max_media {
            return Err(ParseError::TooManyMedia {
                limit: limits.max_media,
            });
        }
        self.media.push(parse_media(value, line)?);
        Ok(())
    }

    fn finish(self) -> Result<Session, ParseError> {
        let origin = self.origin.ok_or(ParseError::MissingLine { kind: 'o' })?;
        let name = self.name.ok_or(ParseError::MissingLine { kind: 's' })?;
        if self.timing.is_empty() {
            return Err(ParseError::MissingLine { kind: 't' });
        }
        if self.connection.is_none()
            && let Some(media_index) = self
                .media
                .iter()
                .position(|m| m.port != 0 && m.connections.is_empty())
        {
            return Err(ParseError::MissingConnection { media_index });
        }
        Ok(Session {
            origin,
            name,
            information: self.information,
            uri: self.uri,
            emails: self.emails,
            phones: self.phones,
            connection: self.connection,
            bandwidths: self.bandwidths,
            timing: self.timing,
            time_zones: self.time_zones,
            key: self.key,
            attributes: self.attributes,
            media: self.media,
        })
    }
}

fn unknown(kind: char, line: usize) -> ParseError {
    if "vosiuepcbtrzkam".contains(kind) {
        ParseError::Misplaced { line, kind }
    } else {
        ParseError::UnknownLineType { line }
    }
}

fn fields<const N: usize>(value: &str) -> Option<[&str; N]> {
    let mut it = value.split_ascii_whitespace();
    let mut out = [""; N];
    for slot in &mut out {
        *slot = it.next()?;
    }
    it.next().is_none().then_some(out)
}

fn parse_origin(value: &str, line: usize) -> Result<Origin, ParseError> {
    let bad = ParseError::BadOrigin { line };
    let [username, session_id, version, net_type, addr_type, address] =
        fields::<6>(value).ok_or(bad)?;
    if !session_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad);
    }
    Ok(Origin {
        username: username.to_owned(),
        session_id: session_id.to_owned(),
        session_version: num(version).ok_or(bad)?,
        net_type: net_type.to_owned(),
        addr_type: addr_type.to_owned(),
        address: address.to_owned(),
    })
}

fn parse_connection(value: &str, line: usize) -> Result<Connection, ParseError> {
    let bad = ParseError::BadConnection { line };
    let [net_type, addr_type, full] = fields::<3>(value).ok_or(bad)?;
    let mut parts = full.split('/');
    let address = parts.next().filter(|a| !a.is_empty()).ok_or(bad)?;
    let first = parts.next();
    let second = parts.next();
    if parts.next().is_some() {
        return Err(bad);
    }
    let (ttl, count) = if addr_type.eq_ignore_ascii_case("IP6") {
        if second.is_some() {
            return Err(bad);
        }
        (None, first.map(|s| num::<u32>(s).ok_or(bad)).transpose()?)
    } else {
        (
            first.map(|s| num::<u8>(s).ok_or(bad)).transpose()?,
            second.map(|s| num::<u32>(s).ok_or(bad)).transpose()?,
        )
    };
    Ok(Connection {
        net_type: net_type.to_owned(),
        addr_type: addr_type.to_owned(),
        address: address.to_owned(),
        ttl,
        count,
    })
}

fn parse_bandwidth(value: &str, line: usize) -> Result<Bandwidth, ParseError> {
    let bad = ParseError::BadBandwidth { line };
    let (kind, v) = value.split_once(':').ok_or(bad)?;
    if !is_token(kind) {
        return Err(bad);
    }
    Ok(Bandwidth {
        kind: kind.to_owned(),
        value: num(v).ok_or(bad)?,
    })
}

fn parse_timing(value: &str, line: usize) -> Result<Timing, ParseError> {
    let bad = ParseError::BadTiming { line };
    let [start, stop] = fields::<2>(value).ok_or(bad)?;
    Ok(Timing {
        start: num(start).ok_or(bad)?,
        stop: num(stop).ok_or(bad)?,
        repeats: Vec::new(),
    })
}

fn parse_media(value: &str, line: usize) -> Result<MediaDescription, ParseError> {
    let bad = ParseError::BadMedia { line };
    let mut it = value.split_ascii_whitespace();
    let media = it.next().ok_or(bad)?;
    let port_field = it.next().ok_or(bad)?;
    let proto = Proto::from_token(it.next().ok_or(bad)?);
    let formats: Vec<String> = it.map(str::to_owned).collect();
    if formats.is_empty() {
        return Err(bad);
    }
    let bad_port = ParseError::BadPort { line };
    let (port, port_count) = match port_field.split_once('/') {
        Some((p, n)) => (p, Some(num::<u16>(n).ok_or(bad_port)?)),
        None => (port_field, None),
    };
    let port = num::<u16>(port).ok_or(bad_port)?;
    if proto.is_rtp()
        && !formats
            .iter()
            .all(|f| num::<u8>(f).is_some_and(|n| n <= 127))
    {
        return Err(ParseError::BadPayloadType { line });
    }
    let mut m = MediaDescription::new(MediaType::from_token(media), port, proto, formats);
    m.port_count = port_count;
    Ok(m)
}

fn parse_attribute(value: &str, line: usize) -> Result<Attribute, ParseError> {
    let (name, v) = match value.split_once(':') {
        Some((n, v)) => (n, Some(v)),
        None => (value, None),
    };
    if name.is_empty() {
        return Err(ParseError::BadAttribute { line });
    }
    Ok(Attribute::parse(name, v))
}
