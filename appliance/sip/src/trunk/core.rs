//! The trunk registration and keep-alive state machine.

use std::collections::VecDeque;
use std::fmt::{self, Write as _};
use std::time::Duration;

use super::config::{MAX_EXPIRY, TrunkConfig, TrunkConfigError};
use super::random::{self, RandomSource};
use crate::auth::{AuthorizationValue, Challenge, ClientSession, DigestClient};
use crate::header::{CSeq, Contact, Expires, TypedHeader as _};
use crate::message::{HeaderName, Headers, Method, Request, Response, StatusCode, Version};
use crate::uri::{Host, SipUri, Uri};

/// How many `stale=true` challenges in a row are answered before giving up
/// with [`FailureReason::AuthFailed`] (a registrar that only ever says
/// "stale" would otherwise keep us in a tight loop).
const MAX_STALE_ANSWERS: u8 = 2;

/// `Max-Forwards` of every request.
const MAX_FORWARDS: &str = "70";

/// The registration state of the trunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrunkState {
    /// Not started, or started with [`TrunkConfig::register`] off.
    Idle,
    /// First REGISTER after [`TrunkCore::start`] under way.
    Registering,
    /// The registrar holds our binding until `expires_at` (same epoch as
    /// `now`). A refresh keeps this state: it only moves `expires_at`.
    Registered {
        /// When the binding lapses unless refreshed.
        expires_at: Duration,
    },
    /// The last attempt failed; a retry is scheduled (see
    /// [`FailureReason::is_transient`] for which cadence). Retries do not
    /// leave this state until one succeeds.
    Failed {
        /// Why the last attempt failed.
        reason: FailureReason,
    },
    /// [`TrunkCore::stop`] sent `Expires: 0`; waiting for the answer.
    Unregistering,
    /// Stopped; nothing is sent until [`TrunkCore::start`].
    Stopped,
}

/// Why a registration attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureReason {
    /// No answer (transaction timeout) or `408 Request Timeout`.
    Timeout,
    /// A final response other than 2xx, 401/407 (handled), 403, 408 and 423
    /// (handled). 5xx/6xx are retried with backoff, 3xx/4xx slowly.
    Rejected(StatusCode),
    /// Wrong credentials: 403, a repeated challenge after we answered, a
    /// challenge we cannot answer (algorithm, realm pin). Retried slowly.
    AuthFailed,
    /// The transport reported an error (connection refused, ICMP, TLS).
    Transport,
}

impl FailureReason {
    /// Whether the retry uses the exponential backoff (1 s, 2 s, 4 s, …,
    /// capped) rather than [`TrunkConfig::slow_retry`].
    pub fn is_transient(self) -> bool {
        match self {
            Self::Timeout | Self::Transport => true,
            Self::Rejected(s) => s.as_u16() >= 500,
            Self::AuthFailed => false,
        }
    }

    /// The stable operator error code of the shared catalogue
    /// (`voip_shared::error::ErrorCode`), e.g. `trunk.register.auth_failed`.
    pub fn error_code(self) -> &'static str {
        match self {
            Self::Timeout => "trunk.register.timeout",
            Self::Rejected(_) => "trunk.register.rejected",
            Self::AuthFailed => "trunk.register.auth_failed",
            Self::Transport => "trunk.unreachable",
        }
    }
}

/// Whether the OPTIONS keep-alive gets answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepaliveStatus {
    /// No answer yet since start (or keep-alives disabled).
    Unknown,
    /// The last keep-alive was answered, or fewer than
    /// [`TrunkConfig::keepalive_failures`] in a row failed.
    Alive,
    /// [`TrunkConfig::keepalive_failures`] keep-alives in a row failed.
    Lost,
}

/// Something the shell reports or acts on (failover, MQTT `events`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrunkEvent {
    /// The registration state changed. Not emitted when a refresh only moves
    /// `Registered { expires_at }`, nor when a retry fails for the same reason.
    TrunkStateChanged {
        /// Previous state.
        from: TrunkState,
        /// New state.
        to: TrunkState,
    },
    /// [`TrunkConfig::keepalive_failures`] keep-alives in a row failed: the
    /// trunk counts as down for outbound calls even while registered
    /// (operator code `trunk.options.timeout`, see [`KEEPALIVE_LOST_CODE`]).
    KeepaliveLost,
    /// A keep-alive was answered again after [`TrunkEvent::KeepaliveLost`].
    KeepaliveRestored,
}

/// Operator error code reported with [`TrunkEvent::KeepaliveLost`].
pub const KEEPALIVE_LOST_CODE: &str = "trunk.options.timeout";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Register,
    Unregister,
}

/// What the request carried in one of the two authorization headers.
#[derive(Debug, Clone, PartialEq, Eq)]
enum AuthUse {
    None,
    /// Pre-authorised from the remembered challenge (nc incremented).
    Preauth,
    /// Answer to the challenge with this nonce, just received.
    Fresh {
        nonce: String,
    },
}

#[derive(Debug)]
struct PendingRegister {
    cseq: u32,
    sent_at: Duration,
    purpose: Purpose,
    www: AuthUse,
    proxy: AuthUse,
}

#[derive(Debug, Default)]
struct AuthSlot {
    session: ClientSession,
    /// Answer to a challenge, to go into the next request, with its nonce.
    answer: Option<(AuthorizationValue, String)>,
}

impl AuthSlot {
    fn clear(&mut self) {
        self.session.clear();
        self.answer = None;
    }
}

#[derive(Debug)]
struct PendingOptions {
    cseq: u32,
    sent_at: Duration,
}

/// Sans-IO registration and OPTIONS keep-alive of one trunk.
///
/// Sits above the transaction layer: every [`Request`] from
/// [`Self::poll_request`] is sent in a new client transaction; its final
/// response goes to [`Self::handle_response`], its timeout to
/// [`Self::handle_transaction_timeout`]. After every input, drain
/// [`Self::poll_request`] and [`Self::poll_event`] and re-arm the timer at
/// [`Self::poll_timeout`]. `now` is a [`Duration`] since any fixed epoch.
///
/// See the [module documentation](super) for the rules.
pub struct TrunkCore<R> {
    cfg: TrunkConfig,
    rng: R,
    request_uri: Uri,
    request_uri_text: String,
    aor: Uri,
    state: TrunkState,
    running: bool,
    call_id: String,
    from_tag: String,
    cseq: u32,
    requested_expiry: u32,
    next_register: Option<Duration>,
    pending: Option<PendingRegister>,
    binding_expires: Option<Duration>,
    attempts: u32,
    last_failure: Option<FailureReason>,
    stale_answers: u8,
    www: AuthSlot,
    proxy: AuthSlot,
    ka_call_id: String,
    ka_from_tag: String,
    ka_cseq: u32,
    ka_next: Option<Duration>,
    ka_pending: Option<PendingOptions>,
    ka_failures: u32,
    ka_status: KeepaliveStatus,
    requests: VecDeque<Request>,
    events: VecDeque<TrunkEvent>,
}

impl<R> fmt::Debug for TrunkCore<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrunkCore")
            .field("cfg", &self.cfg)
            .field("state", &self.state)
            .field("running", &self.running)
            .field("cseq", &self.cseq)
            .field("requested_expiry", &self.requested_expiry)
            .field("next_register", &self.next_register)
            .field("pending", &self.pending)
            .field("attempts", &self.attempts)
            .field("keepalive", &self.ka_status)
            .field("keepalive_failures", &self.ka_failures)
            .finish_non_exhaustive()
    }
}

impl<R: RandomSource> TrunkCore<R> {
    /// A core in [`TrunkState::Idle`]; nothing is sent before [`Self::start`].
    pub fn new(config: TrunkConfig, rng: R) -> Result<Self, TrunkConfigError> {
        let (request_uri, aor) = config.uris()?;
        let requested_expiry = expiry_secs(&config);
        Ok(Self {
            request_uri_text: request_uri.to_string(),
            request_uri,
            aor,
            cfg: config,
            rng,
            state: TrunkState::Idle,
            running: false,
            call_id: String::new(),
            from_tag: String::new(),
            cseq: 0,
            requested_expiry,
            next_register: None,
            pending: None,
            binding_expires: None,
            attempts: 0,
            last_failure: None,
            stale_answers: 0,
            www: AuthSlot::default(),
            proxy: AuthSlot::default(),
            ka_call_id: String::new(),
            ka_from_tag: String::new(),
            ka_cseq: 0,
            ka_next: None,
            ka_pending: None,
            ka_failures: 0,
            ka_status: KeepaliveStatus::Unknown,
            requests: VecDeque::new(),
            events: VecDeque::new(),
        })
    }

    /// The settings.
    pub fn config(&self) -> &TrunkConfig {
        &self.cfg
    }

    /// The registration state.
    pub fn state(&self) -> TrunkState {
        self.state
    }

    /// The keep-alive status.
    pub fn keepalive_status(&self) -> KeepaliveStatus {
        self.ka_status
    }

    /// The expiry (seconds) the next REGISTER asks for; raised by a 423.
    pub fn requested_expiry(&self) -> u32 {
        self.requested_expiry
    }

    /// Whether the call layer may use this trunk (outbound calls, failover,
    /// and routing 112 to the highest-priority trunk that is up):
    ///
    /// - registering trunk: [`TrunkState::Registered`] and the keep-alive not
    ///   [`KeepaliveStatus::Lost`];
    /// - non-registering trunk with keep-alives: the last keep-alive verdict
    ///   is [`KeepaliveStatus::Alive`];
    /// - non-registering trunk without keep-alives: started (nothing can
    ///   tell otherwise).
    pub fn is_up(&self) -> bool {
        if !self.running {
            return false;
        }
        let keepalive_ok = if self.keepalive_enabled() {
            if self.cfg.register {
                self.ka_status != KeepaliveStatus::Lost
            } else {
                self.ka_status == KeepaliveStatus::Alive
            }
        } else {
            true
        };
        if self.cfg.register {
            matches!(self.state, TrunkState::Registered { .. }) && keepalive_ok
        } else {
            keepalive_ok
        }
    }

    /// Starts registering (and keep-alives) now. New Call-IDs and tags are
    /// drawn; the `CSeq` keeps increasing. No effect when already running;
    /// during [`TrunkState::Unregistering`] the unregistration is abandoned.
    pub fn start(&mut self, now: Duration) {
        if self.running {
            return;
        }
        self.running = true;
        self.pending = None;
        self.call_id = random::hex::<16>(&mut self.rng);
        self.from_tag = random::hex::<8>(&mut self.rng);
        self.ka_call_id = random::hex::<16>(&mut self.rng);
        self.ka_from_tag = random::hex::<8>(&mut self.rng);
        self.www.clear();
        self.proxy.clear();
        self.attempts = 0;
        self.stale_answers = 0;
        self.last_failure = None;
        self.requested_expiry = expiry_secs(&self.cfg);
        self.ka_status = KeepaliveStatus::Unknown;
        self.ka_failures = 0;
        self.ka_pending = None;
        self.ka_next = self.keepalive_enabled().then_some(now);
        if self.cfg.register {
            self.next_register = Some(now);
            self.set_state(TrunkState::Registering);
        } else {
            self.set_state(TrunkState::Idle);
        }
        self.drive(now);
    }

    /// Stops: keep-alives end at once; a binding that may exist (registered,
    /// or a REGISTER under way) is removed with `Expires: 0` (state
    /// [`TrunkState::Unregistering`], then [`TrunkState::Stopped`] on any
    /// final answer, timeout or transport error); otherwise straight to
    /// [`TrunkState::Stopped`].
    pub fn stop(&mut self, now: Duration) {
        if !self.running {
            if self.state == TrunkState::Idle {
                self.set_state(TrunkState::Stopped);
            }
            return;
        }
        self.running = false;
        self.next_register = None;
        self.ka_next = None;
        self.ka_pending = None;
        self.ka_status = KeepaliveStatus::Unknown;
        let binding_possible = self.cfg.register
            && (matches!(self.state, TrunkState::Registered { .. })
                || self
                    .pending
                    .as_ref()
                    .is_some_and(|p| p.purpose == Purpose::Register)
                || self.binding_expires.is_some_and(|e| e > now));
        self.pending = None;
        if binding_possible {
            self.set_state(TrunkState::Unregistering);
            self.send_register(now, Purpose::Unregister);
        } else {
            self.finish_stop();
        }
    }

    /// A final response to one of our requests. Provisional responses and
    /// responses that match no outstanding request (Call-ID, `CSeq`) are
    /// ignored.
    pub fn handle_response(&mut self, now: Duration, response: &Response) {
        if response.status.is_provisional() {
            return;
        }
        let Some(call_id) = response.headers.get(&HeaderName::CALL_ID) else {
            return;
        };
        let Some(Ok(cseq)) = response.headers.typed::<CSeq>() else {
            return;
        };
        if cseq.method == Method::REGISTER
            && call_id == self.call_id
            && self.pending.as_ref().is_some_and(|p| p.cseq == cseq.seq)
        {
            if let Some(pending) = self.pending.take() {
                self.on_register_response(now, &pending, response);
            }
        } else if cseq.method == Method::OPTIONS
            && call_id == self.ka_call_id
            && self.ka_pending.as_ref().is_some_and(|p| p.cseq == cseq.seq)
        {
            // Any answer shows the far end is there, except 408 (a proxy on
            // the way got no answer) and 503 (the provider says it cannot
            // take traffic now): those count as failed keep-alives.
            let status = response.status;
            let alive =
                status != StatusCode::REQUEST_TIMEOUT && status != StatusCode::SERVICE_UNAVAILABLE;
            self.on_options_result(now, alive);
        }
        self.drive(now);
    }

    /// The client transaction of the request with this `CSeq` timed out
    /// (Timer B/F). Unknown `CSeq`s are ignored.
    pub fn handle_transaction_timeout(&mut self, now: Duration, which: &CSeq) {
        if which.method == Method::REGISTER
            && self.pending.as_ref().is_some_and(|p| p.cseq == which.seq)
        {
            self.register_failed(now, FailureReason::Timeout);
        } else if which.method == Method::OPTIONS
            && self
                .ka_pending
                .as_ref()
                .is_some_and(|p| p.cseq == which.seq)
        {
            self.on_options_result(now, false);
        }
        self.drive(now);
    }

    /// The transport towards the registrar failed (connection refused or
    /// lost, ICMP unreachable, TLS failure). Outstanding requests fail; a
    /// registered trunk re-registers at once (a connection-oriented binding
    /// is gone with its connection).
    pub fn handle_transport_error(&mut self, now: Duration) {
        if self.pending.is_some() {
            self.register_failed(now, FailureReason::Transport);
        } else if self.running
            && self.cfg.register
            && matches!(self.state, TrunkState::Registered { .. })
        {
            self.next_register = Some(now);
        }
        if self.ka_pending.is_some() {
            self.on_options_result(now, false);
        }
        self.drive(now);
    }

    /// The timer armed at [`Self::poll_timeout`] fired (calling it early or
    /// late is harmless).
    pub fn handle_timeout(&mut self, now: Duration) {
        self.drive(now);
    }

    /// The next request to send, in a new client transaction.
    pub fn poll_request(&mut self) -> Option<Request> {
        self.requests.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<TrunkEvent> {
        self.events.pop_front()
    }

    /// When [`Self::handle_timeout`] must be called next, if at all.
    pub fn poll_timeout(&self) -> Option<Duration> {
        let guard = self.cfg.transaction_guard;
        let mut t: Option<Duration> = None;
        let mut consider = |x: Option<Duration>| {
            if let Some(x) = x {
                t = Some(t.map_or(x, |t| t.min(x)));
            }
        };
        consider(self.pending.as_ref().map(|p| p.sent_at + guard));
        consider(self.ka_pending.as_ref().map(|p| p.sent_at + guard));
        if self.running {
            if self.pending.is_none() {
                consider(self.next_register);
            }
            if self.ka_pending.is_none() {
                consider(self.ka_next);
            }
            if let TrunkState::Registered { expires_at } = self.state {
                consider(Some(expires_at));
            }
        }
        t
    }

    // ----- internals -------------------------------------------------------

    fn keepalive_enabled(&self) -> bool {
        !self.cfg.keepalive_interval.is_zero()
    }

    fn set_state(&mut self, to: TrunkState) {
        let from = self.state;
        self.state = to;
        let same = from == to
            || matches!(
                (from, to),
                (TrunkState::Registered { .. }, TrunkState::Registered { .. })
            );
        if !same {
            self.events
                .push_back(TrunkEvent::TrunkStateChanged { from, to });
        }
    }

    fn finish_stop(&mut self) {
        self.pending = None;
        self.binding_expires = None;
        self.set_state(TrunkState::Stopped);
    }

    /// Fires whatever is due.
    fn drive(&mut self, now: Duration) {
        let guard = self.cfg.transaction_guard;
        if self
            .pending
            .as_ref()
            .is_some_and(|p| now >= p.sent_at + guard)
        {
            self.register_failed(now, FailureReason::Timeout);
        }
        if self
            .ka_pending
            .as_ref()
            .is_some_and(|p| now >= p.sent_at + guard)
        {
            self.on_options_result(now, false);
        }
        if !self.running {
            return;
        }
        if let TrunkState::Registered { expires_at } = self.state
            && now >= expires_at
        {
            self.binding_expires = None;
            let reason = self.last_failure.unwrap_or(FailureReason::Timeout);
            self.set_state(TrunkState::Failed { reason });
        }
        if self.cfg.register
            && self.pending.is_none()
            && self.next_register.is_some_and(|t| t <= now)
        {
            self.next_register = None;
            self.send_register(now, Purpose::Register);
        }
        if self.keepalive_enabled()
            && self.ka_pending.is_none()
            && self.ka_next.is_some_and(|t| t <= now)
        {
            self.ka_next = None;
            self.send_options(now);
        }
    }

    fn on_register_response(&mut self, now: Duration, pending: &PendingRegister, resp: &Response) {
        let status = resp.status;
        if status.is_success() {
            match pending.purpose {
                Purpose::Unregister => self.finish_stop(),
                Purpose::Register => self.registered(now, resp),
            }
            return;
        }
        match status.as_u16() {
            401 => self.on_challenge(now, pending, resp, false),
            407 => self.on_challenge(now, pending, resp, true),
            _ if pending.purpose == Purpose::Unregister => self.finish_stop(),
            423 => self.on_interval_too_brief(now, resp),
            403 => self.fail(now, FailureReason::AuthFailed, None),
            408 => self.fail(now, FailureReason::Timeout, None),
            _ => self.fail(
                now,
                FailureReason::Rejected(status),
                retry_after(&resp.headers),
            ),
        }
    }

    fn registered(&mut self, now: Duration, resp: &Response) {
        let granted = self.granted_expiry(resp);
        if granted == 0 {
            // A 2xx that does not keep our binding: nothing is registered.
            self.fail(now, FailureReason::Rejected(resp.status), None);
            return;
        }
        let granted = Duration::from_secs(u64::from(granted));
        self.attempts = 0;
        self.stale_answers = 0;
        self.last_failure = None;
        let expires_at = now + granted;
        self.binding_expires = Some(expires_at);
        self.next_register = Some(now + self.cfg.refresh_delay(granted));
        self.set_state(TrunkState::Registered { expires_at });
    }

    /// Seconds granted: the `expires` parameter of our Contact in the 200,
    /// else the `Expires` header, else what we asked for.
    fn granted_expiry(&self, resp: &Response) -> u32 {
        let ours = resp
            .headers
            .typed_all::<Contact>()
            .filter_map(Result::ok)
            .find_map(|c| match c {
                Contact::Address(a) if self.is_our_contact(&a.uri, &a.params) => Some(a),
                _ => None,
            });
        if let Some(e) = ours.as_ref().and_then(crate::header::NameAddr::expires) {
            return e;
        }
        match resp.headers.typed::<Expires>() {
            Some(Ok(Expires(e))) => e,
            _ => self.requested_expiry,
        }
    }

    fn is_our_contact(&self, uri: &Uri, params: &[crate::uri::Param]) -> bool {
        if let Some(instance) = &self.cfg.instance_id {
            let theirs = params
                .iter()
                .find(|p| p.name.eq_ignore_ascii_case("+sip.instance"))
                .and_then(|p| p.value.as_deref())
                .map(|v| v.trim_matches('"'));
            if let Some(theirs) = theirs {
                return theirs == instance;
            }
        }
        uri.as_sip()
            .is_some_and(|u| same_contact(u, &self.cfg.contact, self.cfg.transport))
    }

    fn on_challenge(
        &mut self,
        now: Duration,
        pending: &PendingRegister,
        resp: &Response,
        proxy: bool,
    ) {
        let header = if proxy {
            HeaderName::PROXY_AUTHENTICATE
        } else {
            HeaderName::WWW_AUTHENTICATE
        };
        let pin = self.cfg.realm.as_deref();
        let offers: Vec<&str> = resp
            .headers
            .get_all(&header)
            .filter(|v| match (pin, Challenge::parse(v)) {
                (None, _) => true,
                (Some(pin), Ok(Challenge::Digest(c))) => c.realm == pin,
                (Some(_), _) => false,
            })
            .collect();
        let used = if proxy { &pending.proxy } else { &pending.www };
        let Ok((chosen, _)) = DigestClient::default().choose(&offers) else {
            self.auth_failed(now, pending.purpose);
            return;
        };
        let acceptable = match used {
            AuthUse::Fresh { nonce } => {
                chosen.stale && chosen.nonce != *nonce && self.stale_answers < MAX_STALE_ANSWERS
            }
            AuthUse::None | AuthUse::Preauth => true,
        };
        if !acceptable {
            self.auth_failed(now, pending.purpose);
            return;
        }
        if matches!(used, AuthUse::Fresh { .. }) {
            self.stale_answers += 1;
        }
        let cnonce = random::bytes::<16>(&mut self.rng);
        let slot = if proxy {
            &mut self.proxy
        } else {
            &mut self.www
        };
        match slot.session.handle_challenge(
            &offers,
            "REGISTER",
            &self.request_uri_text,
            &self.cfg.auth_username,
            self.cfg.password.expose(),
            cnonce,
        ) {
            Ok(value) => {
                slot.answer = Some((value, chosen.nonce));
                self.send_register(now, pending.purpose);
            }
            Err(_) => self.auth_failed(now, pending.purpose),
        }
    }

    fn auth_failed(&mut self, now: Duration, purpose: Purpose) {
        match purpose {
            Purpose::Unregister => self.finish_stop(),
            Purpose::Register => self.fail(now, FailureReason::AuthFailed, None),
        }
    }

    fn on_interval_too_brief(&mut self, now: Duration, resp: &Response) {
        let min = resp
            .headers
            .get(&HeaderName::MIN_EXPIRES)
            .and_then(|v| Expires::parse(v).ok())
            .map(|Expires(e)| e);
        match min {
            Some(min) if min > self.requested_expiry && min <= MAX_EXPIRY => {
                self.requested_expiry = min;
                self.send_register(now, Purpose::Register);
            }
            _ => self.fail(
                now,
                FailureReason::Rejected(StatusCode::INTERVAL_TOO_BRIEF),
                None,
            ),
        }
    }

    fn register_failed(&mut self, now: Duration, reason: FailureReason) {
        let Some(pending) = self.pending.take() else {
            return;
        };
        match pending.purpose {
            Purpose::Unregister => self.finish_stop(),
            Purpose::Register => self.fail(now, reason, None),
        }
    }

    /// Records a failed REGISTER and schedules the retry.
    fn fail(&mut self, now: Duration, reason: FailureReason, retry_after: Option<Duration>) {
        self.last_failure = Some(reason);
        self.stale_answers = 0;
        let delay = if reason.is_transient() {
            let d = self.backoff_delay();
            self.attempts = self.attempts.saturating_add(1);
            match retry_after {
                Some(ra) => d.max(ra.min(self.cfg.slow_retry)),
                None => d,
            }
        } else {
            // Start over without cached challenges: the next attempt gets a
            // fresh nonce, and a second rejection confirms the verdict.
            self.www.clear();
            self.proxy.clear();
            self.cfg.slow_retry
        };
        self.next_register = Some(now + delay);
        let still_bound =
            matches!(self.state, TrunkState::Registered { expires_at } if now < expires_at);
        if !(reason.is_transient() && still_bound) {
            self.set_state(TrunkState::Failed { reason });
        }
    }

    /// `min(initial × 2^attempts, max)` minus up to `jitter %` at random.
    fn backoff_delay(&mut self) -> Duration {
        let initial = self.cfg.backoff_initial.as_millis();
        let max = self.cfg.backoff_max.as_millis();
        let nominal = initial
            .checked_shl(self.attempts.min(64))
            .unwrap_or(max)
            .min(max);
        let pct = u128::from(self.cfg.backoff_jitter_percent.min(100));
        let jitter = if pct == 0 {
            0
        } else {
            (nominal * pct / 100 * u128::from(random::u32(&mut self.rng))) >> 32
        };
        Duration::from_millis(u64::try_from(nominal - jitter).unwrap_or(u64::MAX))
    }

    fn on_options_result(&mut self, now: Duration, alive: bool) {
        let Some(p) = self.ka_pending.take() else {
            return;
        };
        if self.running {
            self.ka_next = Some((p.sent_at + self.cfg.keepalive_interval).max(now));
        }
        if alive {
            self.ka_failures = 0;
            let was_lost = self.ka_status == KeepaliveStatus::Lost;
            self.ka_status = KeepaliveStatus::Alive;
            if was_lost {
                self.events.push_back(TrunkEvent::KeepaliveRestored);
                self.on_connectivity_restored(now);
            }
        } else {
            self.ka_failures = self.ka_failures.saturating_add(1);
            if self.ka_failures >= self.cfg.keepalive_failures.max(1)
                && self.ka_status != KeepaliveStatus::Lost
            {
                self.ka_status = KeepaliveStatus::Lost;
                self.events.push_back(TrunkEvent::KeepaliveLost);
            }
        }
    }

    /// The provider answers again: re-register now (a NAT binding or the
    /// provider's registration may be gone) unless a slow retry is waiting
    /// for fixed credentials.
    fn on_connectivity_restored(&mut self, now: Duration) {
        if !self.running || !self.cfg.register || self.pending.is_some() {
            return;
        }
        let hurry = match self.state {
            TrunkState::Registered { .. } | TrunkState::Registering => true,
            TrunkState::Failed { reason } => reason.is_transient(),
            _ => false,
        };
        if hurry {
            self.attempts = 0;
            self.next_register = Some(now);
        }
    }

    // ----- request construction -------------------------------------------

    fn base_headers(
        &mut self,
        call_id: &str,
        from_tag: &str,
        to: &str,
        cseq: u32,
        method: &Method,
    ) -> Headers {
        let branch = random::hex::<12>(&mut self.rng);
        let sent_by = match &self.cfg.via_sent_by {
            Some(s) => s.clone(),
            None => match self.cfg.contact.port {
                Some(p) => format!("{}:{p}", self.cfg.contact.host),
                None => self.cfg.contact.host.to_string(),
            },
        };
        let mut h = Headers::new();
        h.push(
            HeaderName::VIA,
            format!(
                "SIP/2.0/{} {sent_by};branch=z9hG4bK{branch};rport",
                self.cfg.transport.via_token()
            ),
        );
        h.push(HeaderName::MAX_FORWARDS, MAX_FORWARDS);
        h.push(HeaderName::FROM, format!("<{}>;tag={from_tag}", self.aor));
        h.push(HeaderName::TO, format!("<{to}>"));
        h.push(HeaderName::CALL_ID, call_id);
        h.push(HeaderName::CSEQ, format!("{cseq} {method}"));
        if let Some(ua) = &self.cfg.user_agent {
            h.push(HeaderName::USER_AGENT, ua.clone());
        }
        h
    }

    fn send_register(&mut self, now: Duration, purpose: Purpose) {
        // CSeq must stay below 2^31 (RFC 3261 §8.1.1.5); starting a new
        // Call-ID is the only correct way to wrap.
        if self.cseq >= (1 << 31) - 1 {
            self.call_id = random::hex::<16>(&mut self.rng);
            self.cseq = 0;
        }
        self.cseq += 1;
        let cseq = self.cseq;
        let call_id = self.call_id.clone();
        let from_tag = self.from_tag.clone();
        let aor = self.aor.to_string();
        let mut h = self.base_headers(&call_id, &from_tag, &aor, cseq, &Method::REGISTER);
        let mut contact = format!("<{}>", self.cfg.contact);
        if let Some(instance) = &self.cfg.instance_id {
            let _ = write!(contact, ";+sip.instance=\"{instance}\"");
        }
        h.push(HeaderName::CONTACT, contact);
        let expires = match purpose {
            Purpose::Register => self.requested_expiry,
            Purpose::Unregister => 0,
        };
        h.push(HeaderName::EXPIRES, expires.to_string());
        let www = self.authorization(false, &mut h);
        let proxy = self.authorization(true, &mut h);
        h.push(HeaderName::CONTENT_LENGTH, "0");
        self.pending = Some(PendingRegister {
            cseq,
            sent_at: now,
            purpose,
            www,
            proxy,
        });
        self.requests.push_back(Request {
            method: Method::REGISTER,
            uri: self.request_uri.clone(),
            version: Version::SIP_2_0,
            headers: h,
            body: Vec::new(),
        });
    }

    /// Adds `Authorization` (or `Proxy-Authorization`): the answer to a
    /// challenge just received, else a pre-authorisation on the remembered
    /// challenge, else nothing.
    fn authorization(&mut self, proxy: bool, h: &mut Headers) -> AuthUse {
        let cnonce = random::bytes::<16>(&mut self.rng);
        let (slot, name) = if proxy {
            (&mut self.proxy, HeaderName::PROXY_AUTHORIZATION)
        } else {
            (&mut self.www, HeaderName::AUTHORIZATION)
        };
        if let Some((value, nonce)) = slot.answer.take() {
            h.push(name, value.into_string());
            return AuthUse::Fresh { nonce };
        }
        if slot.session.realm().is_none() {
            return AuthUse::None;
        }
        match slot.session.preauthorize(
            "REGISTER",
            &self.request_uri_text,
            &self.cfg.auth_username,
            self.cfg.password.expose(),
            cnonce,
        ) {
            Some(value) => {
                h.push(name, value.into_string());
                AuthUse::Preauth
            }
            None => AuthUse::None,
        }
    }

    fn send_options(&mut self, now: Duration) {
        self.ka_cseq = if self.ka_cseq >= (1 << 31) - 1 {
            1
        } else {
            self.ka_cseq + 1
        };
        let cseq = self.ka_cseq;
        let call_id = self.ka_call_id.clone();
        let from_tag = self.ka_from_tag.clone();
        let to = self.request_uri_text.clone();
        let mut h = self.base_headers(&call_id, &from_tag, &to, cseq, &Method::OPTIONS);
        h.push(HeaderName::ACCEPT, "application/sdp");
        h.push(HeaderName::CONTENT_LENGTH, "0");
        self.ka_pending = Some(PendingOptions { cseq, sent_at: now });
        self.requests.push_back(Request {
            method: Method::OPTIONS,
            uri: self.request_uri.clone(),
            version: Version::SIP_2_0,
            headers: h,
            body: Vec::new(),
        });
    }
}

fn expiry_secs(cfg: &TrunkConfig) -> u32 {
    u32::try_from(cfg.expiry.as_secs())
        .unwrap_or(MAX_EXPIRY)
        .clamp(1, MAX_EXPIRY)
}

/// `Retry-After: 120 (maintenance);duration=…` → 120 s.
fn retry_after(h: &Headers) -> Option<Duration> {
    let v = h.get(&HeaderName::RETRY_AFTER)?;
    let digits: &str = &v[..v.bytes().take_while(u8::is_ascii_digit).count()];
    digits.parse::<u64>().ok().map(Duration::from_secs)
}

/// Same user, host and port (absent port = the transport's default).
fn same_contact(theirs: &SipUri, ours: &SipUri, transport: super::TrunkTransport) -> bool {
    let host_eq = match (&theirs.host, &ours.host) {
        (Host::Domain(a), Host::Domain(b)) => a.eq_ignore_ascii_case(b),
        (a, b) => a == b,
    };
    let port = transport.default_port();
    theirs.user == ours.user && host_eq && theirs.port.unwrap_or(port) == ours.port.unwrap_or(port)
}
