//! Dialogs (RFC 3261 section 12), sans-IO.
//!
//! - [`Dialog`]: one dialog, created by a UAC from a 1xx-with-tag or 2xx
//!   ([`Dialog::uac`]) or by a UAS from the request and the response it sends
//!   ([`Dialog::uas`]). It owns the `CSeq` rules, the route set and the remote
//!   target, and builds in-dialog requests ([`Dialog::create_request`]) and the
//!   ACK for a 2xx ([`Dialog::create_ack`]).
//! - [`UacDialogs`]: the dialogs one INVITE created when it forked, kept apart
//!   by remote tag.
//! - [`SuccessRetransmitter`]: the UAS core's 2xx retransmission until the ACK
//!   (RFC 3261 13.3.1.4); in RFC 6026 terms the server INVITE transaction is in
//!   Accepted and leaves this to the TU.
//!
//! Routing: loose routing (`lr`) is the normal case. Strict routing (a first
//! route without `lr`, RFC 3261 12.2.1.1) is supported in its simple form:
//! the first route becomes the Request-URI as written (its parameters are not
//! filtered) and the remote target is appended as the last Route.

mod retransmit;
mod uac;

use crate::header::{CSeq, CallId, Contact, From, HeaderError, NameAddr, To, TypedHeader, Via};
use crate::message::{HeaderName, Headers, Method, Request, Response, StatusCode, Version};
use crate::uri::{Param, Uri};

pub use retransmit::{RetransmitEvent, SuccessRetransmitter};
pub use uac::UacDialogs;

/// A dialog's identity (RFC 3261 12): Call-ID, local tag and remote tag.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DialogId {
    /// Call-ID, byte-exact.
    pub call_id: String,
    /// Our tag (From of our requests).
    pub local_tag: String,
    /// The peer's tag (To of our requests).
    pub remote_tag: String,
}

/// Early (created by a provisional response) or confirmed (by a 2xx).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DialogState {
    /// Created by a 101–199 response with a To tag.
    Early,
    /// Created or confirmed by a 2xx.
    Confirmed,
}

/// Which side of the dialog-creating request we were.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// We sent the request.
    Uac,
    /// We received it.
    Uas,
}

/// Why a dialog operation failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DialogError {
    /// A header needed for the dialog is absent.
    #[error("missing {header}")]
    MissingHeader {
        /// Canonical header name.
        header: &'static str,
    },
    /// A header needed for the dialog does not parse.
    #[error(transparent)]
    Header(#[from] HeaderError),
    /// From or To lacks the tag the dialog needs.
    #[error("missing {header} tag")]
    MissingTag {
        /// `From` or `To`.
        header: &'static str,
    },
    /// The response does not create a dialog (100, or 3xx–6xx).
    #[error("status {status:?} does not create a dialog")]
    NotDialogCreating {
        /// The status received.
        status: StatusCode,
    },
    /// The message belongs to another dialog.
    #[error("message does not belong to this dialog")]
    WrongDialog,
    /// A remote request's `CSeq` is lower than the last one (RFC 3261
    /// 12.2.2): answer [`DialogError::status`] = 500.
    #[error("remote CSeq {received} is lower than {last}")]
    CSeqOutOfOrder {
        /// `CSeq` number received.
        received: u32,
        /// Highest `CSeq` number seen so far.
        last: u32,
    },
    /// An ACK for a 2xx was requested but no INVITE was sent in this dialog.
    #[error("no INVITE to acknowledge")]
    NoInvite,
    /// The local `CSeq` would pass 2^31 (RFC 3261 8.1.1.5).
    #[error("local CSeq exhausted")]
    CSeqExhausted,
}

impl DialogError {
    /// The status a UAS answers a failing in-dialog request with.
    pub fn status(&self) -> StatusCode {
        match self {
            DialogError::CSeqOutOfOrder { .. } | DialogError::CSeqExhausted => {
                StatusCode::SERVER_INTERNAL_ERROR
            }
            DialogError::WrongDialog => StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// One dialog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dialog {
    id: DialogId,
    state: DialogState,
    role: Role,
    local_seq: Option<u32>,
    remote_seq: Option<u32>,
    /// `CSeq` number of the last INVITE we sent (for the 2xx ACK).
    invite_seq: Option<u32>,
    local_uri: NameAddr,
    remote_uri: NameAddr,
    local_contact: Uri,
    remote_target: Uri,
    route_set: Vec<NameAddr>,
}

fn required<T: TypedHeader>(headers: &Headers) -> Result<T, DialogError> {
    headers
        .typed::<T>()
        .ok_or(DialogError::MissingHeader {
            header: T::NAME_STR,
        })?
        .map_err(DialogError::from)
}

fn contact_uri(headers: &Headers) -> Result<Option<Uri>, DialogError> {
    match headers.typed::<Contact>() {
        None => Ok(None),
        Some(Ok(Contact::Address(a))) => Ok(Some(a.uri)),
        Some(Ok(Contact::Wildcard)) => Err(DialogError::Header(HeaderError::Syntax {
            header: "Contact",
        })),
        Some(Err(e)) => Err(e.into()),
    }
}

fn record_routes(headers: &Headers) -> Result<Vec<NameAddr>, DialogError> {
    headers
        .values(&HeaderName::RECORD_ROUTE)
        .map(|v| NameAddr::parse(v, "Record-Route").map_err(DialogError::from))
        .collect()
}

fn tag_of(addr: &NameAddr, header: &'static str) -> Result<String, DialogError> {
    addr.tag()
        .map(str::to_owned)
        .ok_or(DialogError::MissingTag { header })
}

fn with_tag(mut addr: NameAddr, tag: &str) -> NameAddr {
    if addr.tag().is_none() {
        addr.params.push(Param {
            name: "tag".into(),
            value: Some(tag.to_owned()),
        });
    }
    addr
}

fn is_target_refresh(method: &Method) -> bool {
    *method == Method::INVITE || *method == Method::UPDATE
}

impl Dialog {
    /// UAC side: `response` (101–299 with a To tag) to our `request` creates
    /// the dialog. Route set = the response's Record-Route reversed; remote
    /// target = its Contact; local `CSeq` = the request's.
    pub fn uac(
        request: &Request,
        response: &Response,
        local_contact: Uri,
    ) -> Result<Dialog, DialogError> {
        let status = response.status;
        let state = match status.as_u16() {
            101..=199 => DialogState::Early,
            200..=299 => DialogState::Confirmed,
            _ => return Err(DialogError::NotDialogCreating { status }),
        };
        let call_id: CallId = required(&request.headers)?;
        let from: From = required(&request.headers)?;
        let to: To = required(&response.headers)?;
        let cseq: CSeq = required(&request.headers)?;
        let remote_target = contact_uri(&response.headers)?
            .ok_or(DialogError::MissingHeader { header: "Contact" })?;
        let mut route_set = record_routes(&response.headers)?;
        route_set.reverse();
        Ok(Dialog {
            id: DialogId {
                call_id: call_id.0,
                local_tag: tag_of(&from, "From")?,
                remote_tag: tag_of(&to, "To")?,
            },
            state,
            role: Role::Uac,
            local_seq: Some(cseq.seq),
            remote_seq: None,
            invite_seq: (request.method == Method::INVITE).then_some(cseq.seq),
            local_uri: from.0,
            remote_uri: to.0,
            local_contact,
            remote_target,
            route_set,
        })
    }

    /// UAS side: we answer `request` with a 101–299 response carrying our To
    /// tag `local_tag`. Route set = the request's Record-Route in order;
    /// remote target = its Contact; remote `CSeq` = the request's; the local
    /// `CSeq` starts empty (our first request uses 1).
    pub fn uas(
        request: &Request,
        status: StatusCode,
        local_tag: &str,
        local_contact: Uri,
    ) -> Result<Dialog, DialogError> {
        let state = match status.as_u16() {
            101..=199 => DialogState::Early,
            200..=299 => DialogState::Confirmed,
            _ => return Err(DialogError::NotDialogCreating { status }),
        };
        let call_id: CallId = required(&request.headers)?;
        let from: From = required(&request.headers)?;
        let to: To = required(&request.headers)?;
        let cseq: CSeq = required(&request.headers)?;
        let remote_target = contact_uri(&request.headers)?
            .ok_or(DialogError::MissingHeader { header: "Contact" })?;
        Ok(Dialog {
            id: DialogId {
                call_id: call_id.0,
                local_tag: local_tag.to_owned(),
                remote_tag: tag_of(&from, "From")?,
            },
            state,
            role: Role::Uas,
            local_seq: None,
            remote_seq: Some(cseq.seq),
            invite_seq: None,
            local_uri: with_tag(to.0, local_tag),
            remote_uri: from.0,
            local_contact,
            remote_target,
            route_set: record_routes(&request.headers)?,
        })
    }

    /// The dialog id.
    pub fn id(&self) -> &DialogId {
        &self.id
    }

    /// Early or confirmed.
    pub fn state(&self) -> DialogState {
        self.state
    }

    /// UAC or UAS.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Local `CSeq` number (last used), if any.
    pub fn local_seq(&self) -> Option<u32> {
        self.local_seq
    }

    /// Remote `CSeq` number (highest seen), if any.
    pub fn remote_seq(&self) -> Option<u32> {
        self.remote_seq
    }

    /// Where in-dialog requests go (the peer's Contact).
    pub fn remote_target(&self) -> &Uri {
        &self.remote_target
    }

    /// The route set, in the order Route headers are written.
    pub fn route_set(&self) -> &[NameAddr] {
        &self.route_set
    }

    /// Confirms this UAS dialog when we send the 2xx after an early 1xx.
    pub fn confirm(&mut self) {
        self.state = DialogState::Confirmed;
    }

    /// UAC side: a response to a request we sent in this dialog (or to the
    /// dialog-creating INVITE, for a further 1xx or the 2xx). A 2xx confirms
    /// an early dialog and recomputes the route set (RFC 3261 12.1.2); a 1xx
    /// or 2xx to INVITE/UPDATE with a Contact refreshes the remote target.
    pub fn handle_response(
        &mut self,
        method: &Method,
        response: &Response,
    ) -> Result<(), DialogError> {
        let to: To = required(&response.headers)?;
        if to.tag() != Some(self.id.remote_tag.as_str()) {
            return Err(DialogError::WrongDialog);
        }
        let status = response.status;
        if status.is_success() && self.state == DialogState::Early && *method == Method::INVITE {
            self.state = DialogState::Confirmed;
            let mut routes = record_routes(&response.headers)?;
            routes.reverse();
            self.route_set = routes;
        }
        if status.as_u16() > 100
            && status.as_u16() < 300
            && is_target_refresh(method)
            && let Some(uri) = contact_uri(&response.headers)?
        {
            self.remote_target = uri;
        }
        Ok(())
    }

    /// UAS side: a request arrived in this dialog. Enforces the remote `CSeq`
    /// rule of RFC 3261 12.2.2 (lower than the last → 500; ACK and CANCEL are
    /// exempt since they reuse the number) and applies target refreshes.
    pub fn handle_remote_request(&mut self, request: &Request) -> Result<(), DialogError> {
        let cseq: CSeq = required(&request.headers)?;
        if request.method != Method::ACK && request.method != Method::CANCEL {
            if let Some(last) = self.remote_seq
                && cseq.seq < last
            {
                return Err(DialogError::CSeqOutOfOrder {
                    received: cseq.seq,
                    last,
                });
            }
            self.remote_seq = Some(cseq.seq);
        }
        if is_target_refresh(&request.method)
            && let Some(uri) = contact_uri(&request.headers)?
        {
            self.remote_target = uri;
        }
        Ok(())
    }

    /// Builds a request within the dialog (BYE, re-INVITE, INFO, UPDATE, ...)
    /// with the next local `CSeq`. `via` is the top Via, with a fresh branch.
    /// For ACK use [`Dialog::create_ack`]; CANCEL belongs to the transaction
    /// layer ([`crate::transaction::cancel_for`]).
    pub fn create_request(&mut self, method: Method, via: &Via) -> Result<Request, DialogError> {
        let seq = match self.local_seq {
            None => 1,
            Some(s) if s >= (1 << 31) - 1 => return Err(DialogError::CSeqExhausted),
            Some(s) => s + 1,
        };
        self.local_seq = Some(seq);
        if method == Method::INVITE {
            self.invite_seq = Some(seq);
        }
        Ok(self.build(method, seq, via))
    }

    /// The ACK for a 2xx to our last INVITE (RFC 3261 13.2.2.4): same `CSeq`
    /// number as that INVITE, method ACK, routed like any in-dialog request.
    pub fn create_ack(&self, via: &Via) -> Result<Request, DialogError> {
        let seq = self.invite_seq.ok_or(DialogError::NoInvite)?;
        Ok(self.build(Method::ACK, seq, via))
    }

    fn build(&self, method: Method, seq: u32, via: &Via) -> Request {
        let mut headers = Headers::new();
        headers.push(HeaderName::VIA, via.to_string());
        headers.push(HeaderName::MAX_FORWARDS, "70");
        headers.push(HeaderName::FROM, self.local_uri.to_string());
        headers.push(HeaderName::TO, self.remote_uri.to_string());
        headers.push(HeaderName::CALL_ID, self.id.call_id.clone());
        headers.push(HeaderName::CSEQ, format!("{seq} {method}"));
        let loose = |r: &NameAddr| r.uri.as_sip().is_some_and(|u| u.param("lr").is_some());
        let uri = match self.route_set.first() {
            Some(first) if !loose(first) => {
                // Strict routing: first route is the Request-URI, the remote
                // target goes last.
                for r in &self.route_set[1..] {
                    headers.push(HeaderName::ROUTE, r.to_string());
                }
                headers.push(HeaderName::ROUTE, format!("<{}>", self.remote_target));
                first.uri.clone()
            }
            _ => {
                for r in &self.route_set {
                    headers.push(HeaderName::ROUTE, r.to_string());
                }
                self.remote_target.clone()
            }
        };
        if method != Method::ACK && method != Method::BYE {
            headers.push(HeaderName::CONTACT, format!("<{}>", self.local_contact));
        }
        Request {
            method,
            uri,
            version: Version::SIP_2_0,
            headers,
            body: Vec::new(),
        }
    }
}
