//! RFC 3264 offer/answer for a B2BUA that anchors one audio stream.

use std::net::{IpAddr, SocketAddr};

use super::attribute::{Attribute, Direction, Fmtp, Rtpmap};
use super::codec::{Codec, PayloadType};
use super::model::{Connection, MediaDescription, MediaType, Origin, Proto, Session, Timing};

/// One entry of our codec preference list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodecPref {
    /// The codec; its `fmtp`, when set, is what we write in our SDP.
    pub codec: Codec,
    /// Payload type to use in our own offers for a dynamic codec; `None`
    /// picks the static type or the next free dynamic one.
    pub payload_type: Option<PayloadType>,
}

impl CodecPref {
    /// A preference with an automatically chosen payload type.
    pub fn new(codec: Codec) -> Self {
        CodecPref {
            codec,
            payload_type: None,
        }
    }
}

/// How we choose our direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DirectionPolicy {
    /// Answer with the mirror of the offer (`sendonly` → `recvonly`,
    /// `inactive` → `inactive`); offer `sendrecv`.
    Mirror,
    /// Never exceed this direction (ours): answers are the mirror of the
    /// offer intersected with it, offers use it as is. `AtMost(SendOnly)`
    /// puts the peer on hold.
    AtMost(Direction),
}

impl DirectionPolicy {
    fn cap(self) -> Direction {
        match self {
            DirectionPolicy::Mirror => Direction::SendRecv,
            DirectionPolicy::AtMost(d) => d,
        }
    }
}

/// Our side of the media: where the relay listens and what it accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalMedia {
    /// Relay address written in `c=` and `o=`.
    pub address: IpAddr,
    /// Relay RTP port (RTCP on `port + 1` unless rtcp-mux is negotiated).
    pub port: u16,
    /// Codecs in our order of preference (telephone-event excluded).
    pub codec_preferences: Vec<CodecPref>,
    /// Whether we accept/offer RFC 4733 telephone-event.
    pub telephone_event: bool,
    /// Direction policy.
    pub direction_policy: DirectionPolicy,
    /// Whether we accept/offer `a=rtcp-mux`.
    pub rtcp_mux: bool,
    /// `a=ptime` to write, if any.
    pub ptime: Option<u32>,
    /// `o=` session id (stable for the dialog).
    pub session_id: u64,
    /// `o=` session version (bump on every new SDP that changes).
    pub session_version: u64,
}

/// What the offer/answer exchange settled for the anchored audio stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Negotiated {
    /// Index of the audio `m=` line we accepted.
    pub media_index: usize,
    /// The codec, as the offerer described it (its fmtp included).
    pub codec: Codec,
    /// Its payload type (the offerer's number).
    pub pt: PayloadType,
    /// telephone-event payload type, when both sides do it at the codec's clock rate.
    pub telephone_event_pt: Option<PayloadType>,
    /// Where to send RTP (`0.0.0.0` for RFC 2543 hold).
    pub remote_rtp: SocketAddr,
    /// Where to send RTCP: the RTP address with rtcp-mux, `a=rtcp`, else
    /// RTP port + 1 (`None` when that would overflow).
    pub remote_rtcp: Option<SocketAddr>,
    /// Our direction (what the answer says).
    pub direction: Direction,
    /// The offerer put us on hold (it does not want to receive:
    /// `sendonly`/`inactive` or `c=0.0.0.0`).
    pub held: bool,
    /// The offerer's `a=ptime` (how it wants to receive), ms.
    pub ptime: Option<u32>,
    /// rtcp-mux is in force.
    pub rtcp_mux: bool,
}

/// Why an offer cannot be answered. Every case maps to SIP 488.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NegotiationError {
    /// Audio was offered, but none of our codecs.
    #[error("no codec in common")]
    NoCommonCodec,
    /// No active plain-RTP audio stream was offered.
    #[error("no usable audio stream offered")]
    NoUsableAudio,
    /// The audio stream's connection address is not an IP address (FQDN, or
    /// not `IN`); resolving names is not this layer's job.
    #[error("media description {media_index} has no IP connection address")]
    ConnectionNotIp {
        /// Zero-based index of the media description.
        media_index: usize,
    },
}

impl NegotiationError {
    /// The SIP status to answer the INVITE with.
    pub fn sip_status(self) -> u16 {
        488
    }
}

fn origin(local: &LocalMedia) -> Origin {
    let c = Connection::from_ip(local.address);
    Origin {
        username: "-".to_owned(),
        session_id: local.session_id.to_string(),
        session_version: local.session_version,
        net_type: c.net_type,
        addr_type: c.addr_type,
        address: c.address,
    }
}

fn rtpmap_attr(pt: PayloadType, codec: &Codec) -> Attribute {
    Attribute::Rtpmap(Rtpmap {
        payload_type: pt,
        encoding: codec.name.clone(),
        clock_rate: codec.clock_rate,
        channels: (codec.channels != 1).then_some(codec.channels),
    })
}

fn fmtp_attr(pt: PayloadType, params: &str) -> Attribute {
    Attribute::Fmtp(Fmtp {
        format: pt.to_string(),
        params: params.to_owned(),
    })
}

const TELEPHONE_EVENT_FMTP: &str = "0-16";

/// A rejected copy of an offered stream (port 0, same formats).
fn rejected(m: &MediaDescription) -> MediaDescription {
    let mut r = MediaDescription::new(m.media.clone(), 0, m.proto.clone(), m.formats.clone());
    if let Some(mid) = m.attribute("mid") {
        r.attributes.push(mid.clone());
    }
    r
}

/// Answers `offer` for a B2BUA anchoring media at `local`.
///
/// The first active plain-RTP audio stream with a codec in common is
/// accepted; every other `m=` line is rejected with port 0, so the answer
/// has as many `m=` lines as the offer, in the same order. The codec is the
/// first of *our* preferences the offer contains, with the offerer's payload
/// type. telephone-event is answered (offerer's PT) when offered at the
/// chosen codec's clock rate.
pub fn answer(
    offer: &Session,
    local: &LocalMedia,
) -> Result<(Session, Negotiated), NegotiationError> {
    let mut negotiated: Option<Negotiated> = None;
    let mut saw_audio = false;
    let mut media = Vec::with_capacity(offer.media.len());
    for (idx, m) in offer.media.iter().enumerate() {
        let candidate = m.media == MediaType::Audio && m.port != 0 && m.proto.is_plain_rtp();
        if negotiated.is_none() && candidate {
            saw_audio = true;
            if let Some((line, n)) = accept_stream(offer, idx, m, local)? {
                media.push(line);
                negotiated = Some(n);
                continue;
            }
        }
        media.push(rejected(m));
    }
    let Some(negotiated) = negotiated else {
        return Err(if saw_audio {
            NegotiationError::NoCommonCodec
        } else {
            NegotiationError::NoUsableAudio
        });
    };
    let session = Session {
        origin: origin(local),
        name: "-".to_owned(),
        information: None,
        uri: None,
        emails: Vec::new(),
        phones: Vec::new(),
        connection: Some(Connection::from_ip(local.address)),
        bandwidths: Vec::new(),
        // RFC 3264 section 6: the answer's t= equals the offer's.
        timing: offer.timing.clone(),
        time_zones: None,
        key: None,
        attributes: Vec::new(),
        media,
    };
    Ok((session, negotiated))
}

fn accept_stream(
    offer: &Session,
    media_index: usize,
    m: &MediaDescription,
    local: &LocalMedia,
) -> Result<Option<(MediaDescription, Negotiated)>, NegotiationError> {
    let offered = m.codecs();
    let chosen = local.codec_preferences.iter().find_map(|pref| {
        offered
            .iter()
            .find(|(_, c)| !c.is_telephone_event() && c.matches(&pref.codec))
            .map(|(pt, c)| (*pt, c.clone(), pref))
    });
    let Some((pt, codec, pref)) = chosen else {
        return Ok(None);
    };
    let telephone_event = if local.telephone_event {
        offered
            .iter()
            .find(|(_, c)| c.is_telephone_event() && c.clock_rate == codec.clock_rate)
            .map(|(pt, c)| (*pt, c.clone()))
    } else {
        None
    };

    let ip = m
        .connection(offer)
        .and_then(Connection::ip)
        .ok_or(NegotiationError::ConnectionNotIp { media_index })?;
    let media_addr = SocketAddr::new(ip, m.port);
    let rtcp_mux = local.rtcp_mux && m.rtcp_mux();
    let control_addr = if rtcp_mux {
        Some(media_addr)
    } else if let Some(r) = m.rtcp() {
        let rip = r.connection.as_ref().and_then(Connection::ip).unwrap_or(ip);
        Some(SocketAddr::new(rip, r.port))
    } else {
        m.port.checked_add(1).map(|p| SocketAddr::new(ip, p))
    };

    // RFC 2543 hold: c=0.0.0.0 means "do not send to me".
    let offered_dir = m.effective_direction(offer);
    let offered_dir = if ip.is_unspecified() {
        Direction::from_flags(offered_dir.sends(), false)
    } else {
        offered_dir
    };
    let direction = offered_dir
        .reversed()
        .intersect(local.direction_policy.cap());

    let mut formats = vec![pt.to_string()];
    let mut attributes = vec![rtpmap_attr(pt, &codec)];
    if let Some(f) = pref.codec.fmtp.as_deref().or(codec.fmtp.as_deref()) {
        attributes.push(fmtp_attr(pt, f));
    }
    if let Some((te_pt, te)) = &telephone_event {
        formats.push(te_pt.to_string());
        attributes.push(rtpmap_attr(*te_pt, te));
        attributes.push(fmtp_attr(*te_pt, TELEPHONE_EVENT_FMTP));
    }
    if let Some(p) = local.ptime {
        attributes.push(Attribute::Ptime(p));
    }
    if rtcp_mux {
        attributes.push(Attribute::RtcpMux);
    }
    if let Some(mid) = m.attribute("mid") {
        attributes.push(mid.clone());
    }
    attributes.push(Attribute::Direction(direction));
    let mut line = MediaDescription::new(MediaType::Audio, local.port, m.proto.clone(), formats);
    line.attributes = attributes;

    let negotiated = Negotiated {
        media_index,
        codec,
        pt,
        telephone_event_pt: telephone_event.map(|(p, _)| p),
        remote_rtp: media_addr,
        remote_rtcp: control_addr,
        direction,
        held: !offered_dir.receives(),
        ptime: m.ptime(),
        rtcp_mux,
    };
    Ok(Some((line, negotiated)))
}

/// Builds our offer: one `RTP/AVP` audio stream with our codecs in
/// preference order, plus telephone-event at each distinct clock rate when
/// enabled. Static codecs use their static payload type; dynamic ones the
/// preference's PT or the next free number from 96.
pub fn offer(local: &LocalMedia) -> Session {
    let mut used: Vec<PayloadType> = local
        .codec_preferences
        .iter()
        .filter_map(|p| p.payload_type.or_else(|| p.codec.static_payload_type()))
        .collect();
    let mut next_dynamic = PayloadType::DYNAMIC_START;
    let mut allocate = |used: &mut Vec<PayloadType>| -> Option<PayloadType> {
        while let Some(pt) = PayloadType::new(next_dynamic) {
            next_dynamic = next_dynamic.saturating_add(1);
            if !used.contains(&pt) {
                used.push(pt);
                return Some(pt);
            }
        }
        None
    };

    let mut formats = Vec::new();
    let mut attributes = Vec::new();
    let mut rates: Vec<u32> = Vec::new();
    for pref in &local.codec_preferences {
        let pt = match pref
            .payload_type
            .or_else(|| pref.codec.static_payload_type())
        {
            Some(pt) => pt,
            None => match allocate(&mut used) {
                Some(pt) => pt,
                None => continue,
            },
        };
        formats.push(pt.to_string());
        attributes.push(rtpmap_attr(pt, &pref.codec));
        if let Some(f) = &pref.codec.fmtp {
            attributes.push(fmtp_attr(pt, f));
        }
        if !rates.contains(&pref.codec.clock_rate) {
            rates.push(pref.codec.clock_rate);
        }
    }
    if local.telephone_event {
        for rate in rates {
            if let Some(pt) = allocate(&mut used) {
                formats.push(pt.to_string());
                attributes.push(rtpmap_attr(pt, &Codec::telephone_event(rate)));
                attributes.push(fmtp_attr(pt, TELEPHONE_EVENT_FMTP));
            }
        }
    }
    if let Some(p) = local.ptime {
        attributes.push(Attribute::Ptime(p));
    }
    if local.rtcp_mux {
        attributes.push(Attribute::RtcpMux);
    }
    attributes.push(Attribute::Direction(local.direction_policy.cap()));
    let mut m = MediaDescription::new(MediaType::Audio, local.port, Proto::RtpAvp, formats);
    m.attributes = attributes;
    Session {
        origin: origin(local),
        name: "-".to_owned(),
        information: None,
        uri: None,
        emails: Vec::new(),
        phones: Vec::new(),
        connection: Some(Connection::from_ip(local.address)),
        bandwidths: Vec::new(),
        timing: vec![Timing::unbounded()],
        time_zones: None,
        key: None,
        attributes: Vec::new(),
        media: vec![m],
    }
}

/// Points a session's media at our relay: every `c=` becomes `addr`, the
/// first active audio `m=` line gets `port`, and on that line the
/// address-bearing attributes that would bypass the relay (`a=rtcp`, ICE
/// candidates) are dropped. The `o=` address (and address type) becomes
/// `addr` too, so the author's own (often private) address does not travel
/// on. Everything else is kept. The author's session id stays and the `o=`
/// version is the author's plus one when anything changed (RFC 3264
/// section 8): a changed re-offer from the author (higher version) gives a
/// higher version here, an unchanged one the same SDP again.
pub fn rewrite_connection(session: &Session, addr: IpAddr, port: u16) -> Session {
    let mut out = session.clone();
    let relay = Connection::from_ip(addr);
    out.origin.net_type.clone_from(&relay.net_type);
    out.origin.addr_type.clone_from(&relay.addr_type);
    out.origin.address.clone_from(&relay.address);
    if let Some(c) = &mut out.connection {
        *c = relay.clone();
    }
    for m in &mut out.media {
        for c in &mut m.connections {
            *c = relay.clone();
        }
    }
    if let Some(m) = out
        .media
        .iter_mut()
        .find(|m| m.media == MediaType::Audio && m.port != 0)
    {
        m.port = port;
        m.attributes.retain(|a| {
            !matches!(a, Attribute::Rtcp(_) | Attribute::Candidate(_))
                && !matches!(
                    a.name(),
                    "candidate" | "remote-candidates" | "end-of-candidates"
                )
        });
    }
    if out != *session {
        out.origin.session_version = out.origin.session_version.wrapping_add(1);
    }
    out
}

/// The audio codecs (telephone-event excluded) of the first active
/// plain-RTP audio stream of `session`, in its order.
pub fn audio_codecs(session: &Session) -> Vec<(PayloadType, Codec)> {
    session
        .media
        .iter()
        .find(|m| m.media == MediaType::Audio && m.port != 0 && m.proto.is_plain_rtp())
        .map(|m| {
            m.codecs()
                .into_iter()
                .filter(|(_, c)| !c.is_telephone_event())
                .collect()
        })
        .unwrap_or_default()
}

/// The telephone-event payload type of the first active audio stream at
/// `clock_rate`, if offered.
pub fn telephone_event_pt(session: &Session, clock_rate: u32) -> Option<PayloadType> {
    session
        .media
        .iter()
        .find(|m| m.media == MediaType::Audio && m.port != 0 && m.proto.is_plain_rtp())?
        .codecs()
        .into_iter()
        .find(|(_, c)| c.is_telephone_event() && c.clock_rate == clock_rate)
        .map(|(pt, _)| pt)
}

/// `offer` with its first active audio stream restricted to the codecs in
/// `preferences` and reordered by them (the answering side's configured
/// list), so an answerer that takes the first codec it supports picks by
/// that list. telephone-event is kept at the clock rates of the kept codecs;
/// payload type numbers, fmtp and every other line stay as offered. `None`
/// when the offer has no codec of the list (the call then needs
/// transcoding).
pub fn restrict_offer(offer: &Session, preferences: &[Codec]) -> Option<Session> {
    let mut out = offer.clone();
    let m = out
        .media
        .iter_mut()
        .find(|m| m.media == MediaType::Audio && m.port != 0 && m.proto.is_plain_rtp())?;
    let offered = m.codecs();
    let mut keep: Vec<PayloadType> = Vec::new();
    let mut rates: Vec<u32> = Vec::new();
    for pref in preferences.iter().filter(|p| !p.is_telephone_event()) {
        for (pt, codec) in &offered {
            if !codec.is_telephone_event() && codec.matches(pref) && !keep.contains(pt) {
                keep.push(*pt);
                if !rates.contains(&codec.clock_rate) {
                    rates.push(codec.clock_rate);
                }
            }
        }
    }
    if keep.is_empty() {
        return None;
    }
    for (pt, codec) in &offered {
        if codec.is_telephone_event() && rates.contains(&codec.clock_rate) {
            keep.push(*pt);
        }
    }
    m.formats = keep.iter().map(ToString::to_string).collect();
    m.attributes.retain(|a| match a {
        Attribute::Rtpmap(r) => keep.contains(&r.payload_type),
        Attribute::Fmtp(f) => keep.iter().any(|pt| pt.to_string() == f.format),
        _ => true,
    });
    Some(out)
}
