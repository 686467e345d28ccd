//! The transaction table: matching (RFC 3261 17.1.3, 17.2.3), creation of
//! server transactions, stateless answers, and one timer queue over all
//! transactions.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::fmt::Write as _;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Instant;

use super::key::{ClientKey, KeyError, ServerKey, TransactionKey};
use super::{
    ClientEvent, ClientInvite, ClientNonInvite, Destination, Reliability, ServerEvent,
    ServerInvite, ServerNonInvite, TimerConfig, TransactionError, Transmit, response_to,
};
use crate::message::{HeaderName, Method, Request, Response, SipMessage, StatusCode};

/// Handle of a transaction in a [`TransactionLayer`]. Never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransactionId(u64);

/// Configuration of a [`TransactionLayer`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerConfig {
    /// Timer base values for every machine.
    pub timers: TimerConfig,
    /// Cap on live transactions. A new request beyond it is answered
    /// `503 Service Unavailable` (with `Retry-After`) statelessly; a new
    /// client transaction beyond it fails with [`StartError::Overloaded`].
    pub max_transactions: usize,
    /// Seconds advertised in `Retry-After` of the overload 503.
    pub overload_retry_after: u32,
}

impl Default for LayerConfig {
    fn default() -> Self {
        LayerConfig {
            timers: TimerConfig::default(),
            max_transactions: 4096,
            overload_retry_after: 5,
        }
    }
}

/// One of the four machines.
#[derive(Debug)]
pub enum Transaction {
    /// Client INVITE.
    ClientInvite(ClientInvite),
    /// Client non-INVITE.
    ClientNonInvite(ClientNonInvite),
    /// Server INVITE.
    ServerInvite(ServerInvite),
    /// Server non-INVITE.
    ServerNonInvite(ServerNonInvite),
}

impl Transaction {
    fn handle_timeout(&mut self, now: Instant) {
        match self {
            Transaction::ClientInvite(t) => t.handle_timeout(now),
            Transaction::ClientNonInvite(t) => t.handle_timeout(now),
            Transaction::ServerInvite(t) => t.handle_timeout(now),
            Transaction::ServerNonInvite(t) => t.handle_timeout(now),
        }
    }

    fn handle_transport_error(&mut self, now: Instant) {
        match self {
            Transaction::ClientInvite(t) => t.handle_transport_error(now),
            Transaction::ClientNonInvite(t) => t.handle_transport_error(now),
            Transaction::ServerInvite(t) => t.handle_transport_error(now),
            Transaction::ServerNonInvite(t) => t.handle_transport_error(now),
        }
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        match self {
            Transaction::ClientInvite(t) => t.poll_transmit(),
            Transaction::ClientNonInvite(t) => t.poll_transmit(),
            Transaction::ServerInvite(t) => t.poll_transmit(),
            Transaction::ServerNonInvite(t) => t.poll_transmit(),
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Transaction::ClientInvite(t) => t.poll_timeout(),
            Transaction::ClientNonInvite(t) => t.poll_timeout(),
            Transaction::ServerInvite(t) => t.poll_timeout(),
            Transaction::ServerNonInvite(t) => t.poll_timeout(),
        }
    }

    /// Whether the machine reached Terminated.
    pub fn is_terminated(&self) -> bool {
        match self {
            Transaction::ClientInvite(t) => t.is_terminated(),
            Transaction::ClientNonInvite(t) => t.is_terminated(),
            Transaction::ServerInvite(t) => t.is_terminated(),
            Transaction::ServerNonInvite(t) => t.is_terminated(),
        }
    }

    /// The request that started the transaction (sent or received).
    pub fn request(&self) -> &Request {
        match self {
            Transaction::ClientInvite(t) => t.request(),
            Transaction::ClientNonInvite(t) => t.request(),
            Transaction::ServerInvite(t) => t.request(),
            Transaction::ServerNonInvite(t) => t.request(),
        }
    }

    fn drain_events(&mut self, id: TransactionId, out: &mut VecDeque<TransactionEvent>) {
        match self {
            Transaction::ClientInvite(t) => {
                while let Some(event) = t.poll_event() {
                    out.push_back(TransactionEvent::Client { id, event });
                }
            }
            Transaction::ClientNonInvite(t) => {
                while let Some(event) = t.poll_event() {
                    out.push_back(TransactionEvent::Client { id, event });
                }
            }
            Transaction::ServerInvite(t) => {
                while let Some(event) = t.poll_event() {
                    out.push_back(TransactionEvent::Server { id, event });
                }
            }
            Transaction::ServerNonInvite(t) => {
                while let Some(event) = t.poll_event() {
                    out.push_back(TransactionEvent::Server { id, event });
                }
            }
        }
    }
}

/// What the layer reports to the TU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransactionEvent {
    /// A new request created server transaction `id`; the TU must answer it
    /// with [`TransactionLayer::send_response`].
    RequestReceived {
        /// The new server transaction.
        id: TransactionId,
        /// The request.
        request: Request,
        /// Where it came from (responses go there).
        source: Destination,
        /// For a CANCEL: the live server INVITE transaction it refers to
        /// (RFC 3261 9.2), if any. The CANCEL has its own transaction `id`.
        cancels: Option<TransactionId>,
    },
    /// An ACK that matched no server transaction: the ACK for a 2xx, which
    /// belongs to the dialog layer (RFC 3261 17.2.3, 13.3.1.4).
    AckWithoutTransaction {
        /// The ACK.
        request: Request,
        /// Where it came from.
        source: Destination,
    },
    /// An event of client transaction `id`.
    Client {
        /// The transaction.
        id: TransactionId,
        /// What happened.
        event: ClientEvent,
    },
    /// An event of server transaction `id`.
    Server {
        /// The transaction.
        id: TransactionId,
        /// What happened.
        event: ServerEvent,
    },
}

/// What [`TransactionLayer::handle_request`] did with a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestOutcome {
    /// A new server transaction was created; see
    /// [`TransactionEvent::RequestReceived`].
    NewTransaction(TransactionId),
    /// The request (a retransmission or an ACK) matched a transaction.
    Matched(TransactionId),
    /// An ACK matched nothing and went to the TU
    /// ([`TransactionEvent::AckWithoutTransaction`]).
    AckWithoutTransaction,
    /// Answered statelessly with this status (400 for an RFC 2543 request
    /// without the fallback key's From or Call-ID, or a missing `CSeq`;
    /// 503 when over the cap).
    RejectedStatelessly(StatusCode),
    /// Dropped: no usable top Via, so no response can be routed.
    Dropped,
}

/// What [`TransactionLayer::handle_response`] did with a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseOutcome {
    /// Delivered to client transaction `id`.
    Matched(TransactionId),
    /// No client transaction matches: dropped (RFC 3261 18.1.2). The TU of a
    /// UAC never sees stray responses; a stray 2xx retransmission is handled
    /// by the dialog layer only while the client INVITE is in Accepted.
    Stray,
}

/// Why a client transaction could not be started.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StartError {
    /// The request has no usable key (top Via with an RFC 3261 branch).
    #[error("request has no transaction key: {0}")]
    Key(#[from] KeyError),
    /// ACK is never sent in a client transaction (RFC 3261 17.1).
    #[error("ACK does not start a client transaction")]
    Ack,
    /// A live client transaction already uses this branch and method.
    #[error("a client transaction with this branch and method exists")]
    Duplicate,
    /// The transaction cap is reached.
    #[error("transaction cap reached")]
    Overloaded,
}

/// A TU command the layer refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LayerError {
    /// No live transaction has this id (it may have terminated).
    #[error("unknown transaction {0:?}")]
    UnknownTransaction(TransactionId),
    /// Responses can only be sent on server transactions.
    #[error("transaction {0:?} is not a server transaction")]
    NotAServerTransaction(TransactionId),
    /// The machine refused the command.
    #[error(transparent)]
    Transaction(#[from] TransactionError),
}

#[derive(Debug)]
struct Entry {
    key: TransactionKey,
    transaction: Transaction,
    /// The deadline this entry is queued with in the timer heap.
    scheduled: Option<Instant>,
}

/// All transactions of one SIP endpoint, sans-IO.
///
/// Drive it like every core: feed `handle_*` with `now`, then drain
/// [`TransactionLayer::poll_transmit`] and [`TransactionLayer::poll_event`],
/// and call [`TransactionLayer::handle_timeout`] at
/// [`TransactionLayer::poll_timeout`]. Timers of all transactions sit in one
/// binary heap (O(log n) per re-arm; stale heap entries are skipped lazily).
/// Terminated transactions are removed as soon as they terminate.
#[derive(Debug)]
pub struct TransactionLayer {
    config: LayerConfig,
    entries: HashMap<TransactionId, Entry>,
    by_key: HashMap<TransactionKey, TransactionId>,
    heap: BinaryHeap<Reverse<(Instant, TransactionId)>>,
    next_id: u64,
    transmits: VecDeque<Transmit>,
    events: VecDeque<TransactionEvent>,
}

impl TransactionLayer {
    /// An empty layer.
    pub fn new(config: LayerConfig) -> Self {
        TransactionLayer {
            config,
            entries: HashMap::new(),
            by_key: HashMap::new(),
            heap: BinaryHeap::new(),
            next_id: 0,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &LayerConfig {
        &self.config
    }

    /// Number of live transactions.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No live transactions.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// A live transaction.
    pub fn get(&self, id: TransactionId) -> Option<&Transaction> {
        self.entries.get(&id).map(|e| &e.transaction)
    }

    /// Starts a client transaction for `request` (INVITE or any non-ACK
    /// method). The request must carry a top Via with an RFC 3261 branch
    /// (see [`super::generate_branch`]).
    pub fn start_client(
        &mut self,
        now: Instant,
        request: Request,
        destination: Destination,
        reliability: Reliability,
    ) -> Result<TransactionId, StartError> {
        if request.method == Method::ACK {
            return Err(StartError::Ack);
        }
        let key = TransactionKey::Client(ClientKey::from_request(&request)?);
        if self.by_key.contains_key(&key) {
            return Err(StartError::Duplicate);
        }
        if self.entries.len() >= self.config.max_transactions {
            return Err(StartError::Overloaded);
        }
        let timers = self.config.timers;
        let transaction = if request.method == Method::INVITE {
            Transaction::ClientInvite(ClientInvite::new(
                now,
                request,
                destination,
                reliability,
                timers,
            ))
        } else {
            Transaction::ClientNonInvite(ClientNonInvite::new(
                now,
                request,
                destination,
                reliability,
                timers,
            ))
        };
        Ok(self.insert(key, transaction))
    }

    fn insert(&mut self, key: TransactionKey, transaction: Transaction) -> TransactionId {
        let id = TransactionId(self.next_id);
        self.next_id += 1;
        self.by_key.insert(key.clone(), id);
        self.entries.insert(
            id,
            Entry {
                key,
                transaction,
                scheduled: None,
            },
        );
        self.settle(id);
        id
    }

    /// A response arrived from the network.
    pub fn handle_response(&mut self, now: Instant, response: Response) -> ResponseOutcome {
        let Ok(key) = ClientKey::from_response(&response) else {
            return ResponseOutcome::Stray;
        };
        let Some(&id) = self.by_key.get(&TransactionKey::Client(key)) else {
            return ResponseOutcome::Stray;
        };
        if let Some(entry) = self.entries.get_mut(&id) {
            match &mut entry.transaction {
                Transaction::ClientInvite(t) => t.handle_response(now, response),
                Transaction::ClientNonInvite(t) => t.handle_response(now, response),
                Transaction::ServerInvite(_) | Transaction::ServerNonInvite(_) => {}
            }
        }
        self.settle(id);
        ResponseOutcome::Matched(id)
    }

    /// A request arrived from `source` over a transport of `reliability`.
    pub fn handle_request(
        &mut self,
        now: Instant,
        request: Request,
        source: Destination,
        reliability: Reliability,
    ) -> RequestOutcome {
        let is_ack = request.method == Method::ACK;
        let key = match ServerKey::from_request(&request) {
            Ok(k) => k,
            Err(_) if is_ack => return self.ack_without_transaction(request, source),
            Err(KeyError::BadVia) => return RequestOutcome::Dropped,
            Err(KeyError::NoMagicCookie | KeyError::BadCSeq) => {
                return self.reject(&request, source, StatusCode::BAD_REQUEST);
            }
        };
        let cancels = (request.method == Method::CANCEL)
            .then(|| {
                self.by_key
                    .get(&TransactionKey::Server(key.cancelled_invite()))
                    .copied()
            })
            .flatten();
        let key = TransactionKey::Server(key);
        if let Some(&id) = self.by_key.get(&key) {
            if let Some(entry) = self.entries.get_mut(&id) {
                match &mut entry.transaction {
                    Transaction::ServerInvite(t) => t.handle_request(now, request),
                    Transaction::ServerNonInvite(t) if !is_ack => t.handle_request(now, request),
                    _ => {}
                }
            }
            self.settle(id);
            return RequestOutcome::Matched(id);
        }
        if is_ack {
            return self.ack_without_transaction(request, source);
        }
        if self.entries.len() >= self.config.max_transactions {
            return self.reject(&request, source, StatusCode::SERVICE_UNAVAILABLE);
        }
        let timers = self.config.timers;
        let transaction = if request.method == Method::INVITE {
            Transaction::ServerInvite(ServerInvite::new(
                now,
                request.clone(),
                source,
                reliability,
                timers,
            ))
        } else {
            Transaction::ServerNonInvite(ServerNonInvite::new(
                now,
                request.clone(),
                source,
                reliability,
                timers,
            ))
        };
        let id = self.insert(key, transaction);
        self.events.push_back(TransactionEvent::RequestReceived {
            id,
            request,
            source,
            cancels,
        });
        RequestOutcome::NewTransaction(id)
    }

    fn ack_without_transaction(&mut self, request: Request, source: Destination) -> RequestOutcome {
        self.events
            .push_back(TransactionEvent::AckWithoutTransaction { request, source });
        RequestOutcome::AckWithoutTransaction
    }

    fn reject(
        &mut self,
        request: &Request,
        source: Destination,
        status: StatusCode,
    ) -> RequestOutcome {
        let tag = stateless_tag(request);
        let mut response = response_to(request, status, Some(&tag));
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers.push(
                HeaderName::RETRY_AFTER,
                self.config.overload_retry_after.to_string(),
            );
        }
        self.transmits.push_back(Transmit {
            destination: source,
            message: SipMessage::Response(response),
        });
        RequestOutcome::RejectedStatelessly(status)
    }

    /// The TU answers server transaction `id`.
    pub fn send_response(
        &mut self,
        now: Instant,
        id: TransactionId,
        response: Response,
    ) -> Result<(), LayerError> {
        let entry = self
            .entries
            .get_mut(&id)
            .ok_or(LayerError::UnknownTransaction(id))?;
        let result = match &mut entry.transaction {
            Transaction::ServerInvite(t) => t.send_response(now, response),
            Transaction::ServerNonInvite(t) => t.send_response(now, response),
            Transaction::ClientInvite(_) | Transaction::ClientNonInvite(_) => {
                return Err(LayerError::NotAServerTransaction(id));
            }
        };
        self.settle(id);
        result.map_err(LayerError::from)
    }

    /// Queues a message outside any transaction (the ACK for a 2xx, a 2xx
    /// retransmission of the dialog layer). It comes out of
    /// [`TransactionLayer::poll_transmit`] with the others.
    pub fn send_stateless(&mut self, destination: Destination, message: SipMessage) {
        self.transmits.push_back(Transmit {
            destination,
            message,
        });
    }

    /// The transport failed to deliver a message of transaction `id`.
    pub fn handle_transport_error(&mut self, now: Instant, id: TransactionId) {
        if let Some(entry) = self.entries.get_mut(&id) {
            entry.transaction.handle_transport_error(now);
            self.settle(id);
        }
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&Reverse((at, id))) = self.heap.peek() {
            if at > now {
                break;
            }
            self.heap.pop();
            let Some(entry) = self.entries.get_mut(&id) else {
                continue;
            };
            if entry.scheduled != Some(at) {
                continue;
            }
            entry.scheduled = None;
            entry.transaction.handle_timeout(now);
            self.settle(id);
        }
    }

    /// The earliest instant at which [`TransactionLayer::handle_timeout`]
    /// must be called.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        while let Some(&Reverse((at, id))) = self.heap.peek() {
            let live = self
                .entries
                .get(&id)
                .is_some_and(|e| e.scheduled == Some(at));
            if live {
                return Some(at);
            }
            self.heap.pop();
        }
        None
    }

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event for the TU.
    pub fn poll_event(&mut self) -> Option<TransactionEvent> {
        self.events.pop_front()
    }

    /// Moves a machine's outputs into the layer's queues, re-queues its timer
    /// and removes it once terminated.
    fn settle(&mut self, id: TransactionId) {
        let Some(entry) = self.entries.get_mut(&id) else {
            return;
        };
        while let Some(t) = entry.transaction.poll_transmit() {
            self.transmits.push_back(t);
        }
        entry.transaction.drain_events(id, &mut self.events);
        if entry.transaction.is_terminated() {
            if let Some(entry) = self.entries.remove(&id) {
                self.by_key.remove(&entry.key);
            }
            return;
        }
        let next = entry.transaction.poll_timeout();
        if next != entry.scheduled {
            entry.scheduled = next;
            if let Some(at) = next {
                self.heap.push(Reverse((at, id)));
            }
        }
    }
}

/// A deterministic To tag for stateless responses: a hash of the request's
/// Call-ID, `CSeq` and top Via, so a retransmitted request gets the same tag.
fn stateless_tag(request: &Request) -> String {
    let mut h = DefaultHasher::new();
    for name in [HeaderName::CALL_ID, HeaderName::CSEQ, HeaderName::VIA] {
        request.headers.get(&name).hash(&mut h);
    }
    let mut tag = String::with_capacity(17);
    tag.push('s');
    let _ = write!(tag, "{:016x}", h.finish());
    tag
}
