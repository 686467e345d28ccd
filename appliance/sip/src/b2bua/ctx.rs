//! Output queues, handle allocation and message-building helpers shared by
//! every call.

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;

use super::types::{
    B2buaConfig, CallRef, ClientTx, Command, Entropy, Event, MediaInstruction, Side,
};
use crate::header::{TypedHeader, Via};
use crate::message::{HeaderName, Request, Response, SipMessage, StatusCode};
use crate::transaction::{Destination, TransactionId, generate_branch, response_to};
use crate::uri::Uri;

/// What a client transaction we started is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum TxPurpose {
    /// The INVITE of B-leg `leg`.
    Invite(usize),
    /// A CANCEL or BYE whose answer does not matter.
    Fire,
    /// Our RFC 4028 session refresh on `side` (re-INVITE when `invite`,
    /// else UPDATE).
    Refresh { side: Side, invite: bool },
    /// An in-dialog request forwarded from `from` (received on server
    /// transaction `server_tx` as `original`).
    Forward {
        from: Side,
        server_tx: TransactionId,
        original: Box<Request>,
    },
}

pub(crate) struct Ctx<R> {
    pub(crate) config: B2buaConfig,
    pub(crate) rng: R,
    next_tx: u64,
    pub(crate) txs: HashMap<ClientTx, (CallRef, TxPurpose)>,
    /// Call-ID of every live leg → its call and side.
    pub(crate) call_ids: HashMap<String, (CallRef, Side)>,
    pub(crate) commands: VecDeque<Command>,
    pub(crate) events: VecDeque<Event>,
    pub(crate) media: VecDeque<MediaInstruction>,
    /// INFO requests handed out as [`Event::DtmfInfo`], awaiting their answer.
    pub(crate) infos: HashMap<TransactionId, Request>,
}

impl<R: Entropy> Ctx<R> {
    pub(crate) fn new(config: B2buaConfig, rng: R) -> Self {
        Ctx {
            config,
            rng,
            next_tx: 0,
            txs: HashMap::new(),
            call_ids: HashMap::new(),
            commands: VecDeque::new(),
            events: VecDeque::new(),
            media: VecDeque::new(),
            infos: HashMap::new(),
        }
    }

    pub(crate) fn random16(&mut self) -> [u8; 16] {
        let mut b = [0u8; 16];
        self.rng.fill(&mut b);
        b
    }

    /// `n` random bytes as hex.
    pub(crate) fn hex(&mut self, n: usize) -> String {
        let mut b = vec![0u8; n];
        self.rng.fill(&mut b);
        let mut s = String::with_capacity(2 * n);
        for x in b {
            let _ = write!(s, "{x:02x}");
        }
        s
    }

    /// A fresh top Via of ours.
    pub(crate) fn via(&mut self) -> Via {
        let branch = generate_branch(&self.random16());
        let text = format!(
            "SIP/2.0/{} {};branch={branch};rport",
            self.config.via_transport, self.config.via_sent_by
        );
        // Fallback keeps working with a misconfigured sent-by.
        Via::parse(&text).unwrap_or_else(|_| Via {
            protocol: "SIP".into(),
            version: "2.0".into(),
            transport: crate::header::Transport::from_token("UDP"),
            host: crate::uri::Host::Domain("invalid".into()),
            port: None,
            params: vec![crate::uri::Param {
                name: "branch".into(),
                value: Some(branch),
            }],
        })
    }

    /// Our Contact URI.
    pub(crate) fn contact_uri(&self) -> Uri {
        Uri::parse(&format!("sip:b2bua@{}", self.config.local_host)).unwrap_or_else(|_| {
            Uri::Other {
                scheme: "sip".into(),
                rest: "b2bua@invalid".into(),
            }
        })
    }

    pub(crate) fn contact_value(&self) -> String {
        format!("<{}>", self.contact_uri())
    }

    pub(crate) fn start(
        &mut self,
        call: CallRef,
        purpose: TxPurpose,
        request: Request,
        destination: Destination,
    ) -> ClientTx {
        let tx = ClientTx(self.next_tx);
        self.next_tx += 1;
        self.txs.insert(tx, (call, purpose));
        self.commands.push_back(Command::StartClient {
            tx,
            request,
            destination,
        });
        tx
    }

    pub(crate) fn respond(&mut self, tx: TransactionId, response: Response) {
        self.commands
            .push_back(Command::SendResponse { tx, response });
    }

    /// A bare response to `request` with status `code` and our To tag (if given).
    pub(crate) fn reply(
        &mut self,
        tx: TransactionId,
        request: &Request,
        code: u16,
        tag: Option<&str>,
    ) {
        let status = StatusCode::new(code).unwrap_or(StatusCode::SERVER_INTERNAL_ERROR);
        self.respond(tx, response_to(request, status, tag));
    }

    pub(crate) fn stateless(&mut self, destination: Destination, message: SipMessage) {
        self.commands.push_back(Command::SendStateless {
            destination,
            message,
        });
    }
}

/// Sets a body and its Content-Type (SDP) on headers.
pub(crate) fn set_sdp(headers: &mut crate::message::Headers, body: &mut Vec<u8>, sdp: Vec<u8>) {
    headers.set(HeaderName::CONTENT_TYPE, "application/sdp");
    *body = sdp;
}
