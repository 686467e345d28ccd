//! Settings of one trunk and the redacting password wrapper.

use std::fmt::{self, Write as _};
use std::time::Duration;

use crate::uri::{Host, SipUri, Uri};

/// A secret (the trunk password). `Debug` never shows it and there is no
/// `Display`; [`Secret::expose`] is the only way to read it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself, for computing a digest response. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

/// The transport towards the registrar. The shell has already resolved the
/// registrar's address (RFC 3263 is the shell's job); the core only needs the
/// transport to write the Request-URI and `Via`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TrunkTransport {
    /// UDP (default).
    #[default]
    Udp,
    /// TCP (`;transport=tcp` in the Request-URI).
    Tcp,
    /// TLS (`sips:` Request-URI).
    Tls,
}

impl TrunkTransport {
    /// The `Via` transport token.
    pub fn via_token(self) -> &'static str {
        match self {
            Self::Udp => "UDP",
            Self::Tcp => "TCP",
            Self::Tls => "TLS",
        }
    }

    /// The port used when none is configured (5060, or 5061 for TLS).
    pub fn default_port(self) -> u16 {
        match self {
            Self::Udp | Self::Tcp => 5060,
            Self::Tls => 5061,
        }
    }
}

/// Settings of one trunk registration. Build it with [`TrunkConfig::new`]
/// (which fills in the defaults listed on each field) and adjust fields.
///
/// `Debug` redacts the user names, the password and the contact URI
/// (personal data, see the project style guide).
#[derive(Clone, PartialEq, Eq)]
pub struct TrunkConfig {
    /// Registrar host name or IP literal, used in the Request-URI.
    pub registrar_host: String,
    /// Registrar port; `None` writes no port (5060/5061 implied).
    pub registrar_port: Option<u16>,
    /// Transport towards the registrar. Default UDP.
    pub transport: TrunkTransport,
    /// Domain of the address of record; `None` uses [`Self::registrar_host`].
    pub domain: Option<String>,
    /// User part of the address of record (often the trunk's phone number).
    pub aor_user: String,
    /// Digest user name (often equal to [`Self::aor_user`]).
    pub auth_username: String,
    /// Digest password.
    pub password: Secret,
    /// Pin the digest realm: challenges for any other realm are not answered
    /// (reported as [`FailureReason::AuthFailed`](super::FailureReason::AuthFailed)),
    /// so the credentials are never sent to a realm they were not meant for.
    /// `None` answers any realm.
    pub realm: Option<String>,
    /// Expiry requested in `Expires`. Default 600 s. Raised for the rest of
    /// the core's life when the registrar answers 423 with `Min-Expires`.
    pub expiry: Duration,
    /// Refresh at this percentage of the granted expiry … Default 85.
    pub refresh_percent: u8,
    /// … or this long before the binding expires, whichever comes earlier.
    /// Default 30 s. See [`TrunkConfig::refresh_delay`].
    pub refresh_lead: Duration,
    /// Interval between OPTIONS keep-alives; zero disables them. Default 30 s.
    pub keepalive_interval: Duration,
    /// Consecutive failed keep-alives before the trunk counts as down.
    /// Default 3.
    pub keepalive_failures: u32,
    /// First retry delay after a transient failure. Default 1 s; doubles per
    /// consecutive failure.
    pub backoff_initial: Duration,
    /// Cap of the retry delay. Default 300 s.
    pub backoff_max: Duration,
    /// Up to this percentage of each backoff delay is removed at random
    /// (0 = exact delays, 100 = "full jitter"). Default 20.
    pub backoff_jitter_percent: u8,
    /// Retry interval after an authentication failure or a rejection that a
    /// retry will not fix soon (403, 404, other 4xx, 3xx). Default 600 s.
    pub slow_retry: Duration,
    /// If a request sent has neither a final response nor a reported
    /// transaction timeout after this long, it counts as timed out (guards
    /// against a lost report). Default 40 s (Timer F is 32 s).
    pub transaction_guard: Duration,
    /// Our Contact URI (where the provider sends calls).
    pub contact: SipUri,
    /// `+sip.instance` value (RFC 5626 §4.1), e.g. `<urn:uuid:…>`; written as
    /// a quoted Contact parameter. Also used to find our binding in a 200.
    pub instance_id: Option<String>,
    /// `sent-by` of our `Via` (`host[:port]`); `None` uses the contact's
    /// host and port. The transport layer may rewrite it.
    pub via_sent_by: Option<String>,
    /// `User-Agent` value; `None` (default) sends none. Must not reveal a
    /// software version.
    pub user_agent: Option<String>,
    /// Register at all. `false`: only the OPTIONS keep-alive decides whether
    /// the trunk is up (IP-authenticated trunks).
    pub register: bool,
}

impl TrunkConfig {
    /// A configuration with every optional setting at its default.
    pub fn new(
        registrar_host: impl Into<String>,
        aor_user: impl Into<String>,
        password: Secret,
        contact: SipUri,
    ) -> Self {
        let aor_user = aor_user.into();
        Self {
            registrar_host: registrar_host.into(),
            registrar_port: None,
            transport: TrunkTransport::Udp,
            domain: None,
            auth_username: aor_user.clone(),
            aor_user,
            password,
            realm: None,
            expiry: Duration::from_mins(10),
            refresh_percent: 85,
            refresh_lead: Duration::from_secs(30),
            keepalive_interval: Duration::from_secs(30),
            keepalive_failures: 3,
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_mins(5),
            backoff_jitter_percent: 20,
            slow_retry: Duration::from_mins(10),
            transaction_guard: Duration::from_secs(40),
            contact,
            instance_id: None,
            via_sent_by: None,
            user_agent: None,
            register: true,
        }
    }

    /// How long after a 200 granting `granted` the binding is refreshed:
    /// `min(granted × refresh_percent %, granted − refresh_lead)`, but never
    /// earlier than half the granted time (so very short grants do not turn
    /// into a REGISTER storm) and never earlier than 1 s.
    ///
    /// With the defaults: 600 s → 510 s, 120 s → 90 s, 60 s → 30 s, 20 s → 10 s.
    pub fn refresh_delay(&self, granted: Duration) -> Duration {
        let by_percent = granted * u32::from(self.refresh_percent.min(100)) / 100;
        let by_lead = granted.saturating_sub(self.refresh_lead);
        by_percent
            .min(by_lead)
            .max(granted / 2)
            .max(Duration::from_secs(1))
    }

    /// The address-of-record domain.
    pub fn aor_domain(&self) -> &str {
        self.domain.as_deref().unwrap_or(&self.registrar_host)
    }

    /// Checks the settings and builds the URIs used on the wire.
    pub(crate) fn uris(&self) -> Result<(Uri, Uri), TrunkConfigError> {
        Host::parse(&self.registrar_host).map_err(|_| TrunkConfigError::RegistrarHost)?;
        let mut request_uri = match self.transport {
            TrunkTransport::Udp | TrunkTransport::Tcp => format!("sip:{}", self.registrar_host),
            TrunkTransport::Tls => format!("sips:{}", self.registrar_host),
        };
        if let Some(port) = self.registrar_port {
            let _ = write!(request_uri, ":{port}");
        }
        if self.transport == TrunkTransport::Tcp {
            request_uri.push_str(";transport=tcp");
        }
        let request_uri = Uri::parse(&request_uri).map_err(|_| TrunkConfigError::RegistrarHost)?;
        if self.aor_user.is_empty() {
            return Err(TrunkConfigError::AorUser);
        }
        Host::parse(self.aor_domain()).map_err(|_| TrunkConfigError::Domain)?;
        let aor = Uri::parse(&format!("sip:{}@{}", self.aor_user, self.aor_domain()))
            .map_err(|_| TrunkConfigError::AorUser)?;
        match &aor {
            // The user must survive the round trip (no `;`/`?` smuggling).
            Uri::Sip(u) if u.user.as_deref() == Some(self.aor_user.as_str()) => {}
            _ => return Err(TrunkConfigError::AorUser),
        }
        if self.auth_username.is_empty() || self.auth_username.contains(['"', '\\', '\r', '\n']) {
            return Err(TrunkConfigError::AuthUsername);
        }
        if self.expiry.as_secs() == 0 || self.expiry.as_secs() > u64::from(MAX_EXPIRY) {
            return Err(TrunkConfigError::Expiry);
        }
        let token_ok = |s: &str| !s.is_empty() && !s.contains(['\r', '\n', '"']);
        if self.instance_id.as_deref().is_some_and(|s| !token_ok(s))
            || self.via_sent_by.as_deref().is_some_and(|s| !token_ok(s))
            || self
                .user_agent
                .as_deref()
                .is_some_and(|s| !token_ok(s) || s.bytes().any(|b| b.is_ascii_digit()))
        {
            return Err(TrunkConfigError::HeaderValue);
        }
        if self.backoff_initial.is_zero() || self.backoff_max < self.backoff_initial {
            return Err(TrunkConfigError::Backoff);
        }
        if self.slow_retry.is_zero() || self.transaction_guard.is_zero() {
            return Err(TrunkConfigError::Backoff);
        }
        Ok((request_uri, aor))
    }
}

/// Largest expiry requested or accepted from `Min-Expires` (one day).
pub(crate) const MAX_EXPIRY: u32 = 86_400;

impl fmt::Debug for TrunkConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrunkConfig")
            .field("registrar_host", &self.registrar_host)
            .field("registrar_port", &self.registrar_port)
            .field("transport", &self.transport)
            .field("domain", &self.domain)
            .field("aor_user", &"<redacted>")
            .field("auth_username", &"<redacted>")
            .field("password", &self.password)
            .field("realm", &self.realm)
            .field("expiry", &self.expiry)
            .field("refresh_percent", &self.refresh_percent)
            .field("refresh_lead", &self.refresh_lead)
            .field("keepalive_interval", &self.keepalive_interval)
            .field("keepalive_failures", &self.keepalive_failures)
            .field("backoff_initial", &self.backoff_initial)
            .field("backoff_max", &self.backoff_max)
            .field("backoff_jitter_percent", &self.backoff_jitter_percent)
            .field("slow_retry", &self.slow_retry)
            .field("transaction_guard", &self.transaction_guard)
            .field("contact", &"<redacted>")
            .field("instance_id", &self.instance_id.as_ref().map(|_| "<set>"))
            .field("user_agent", &self.user_agent)
            .field("register", &self.register)
            .finish_non_exhaustive()
    }
}

/// A setting of [`TrunkConfig`] that cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TrunkConfigError {
    /// The registrar host is not a host name or IP literal.
    #[error("invalid registrar host")]
    RegistrarHost,
    /// The address-of-record domain is not a host name or IP literal.
    #[error("invalid address-of-record domain")]
    Domain,
    /// The address-of-record user is empty or not a valid SIP user part.
    #[error("invalid address-of-record user")]
    AorUser,
    /// The digest user name is empty or contains quotes or line breaks.
    #[error("invalid authentication user name")]
    AuthUsername,
    /// The expiry is zero or above one day.
    #[error("expiry must be between 1 s and 86400 s")]
    Expiry,
    /// The instance id, Via sent-by or User-Agent is empty, contains quotes
    /// or line breaks, or (User-Agent) contains a digit, which would reveal
    /// a version.
    #[error("invalid header value in trunk settings")]
    HeaderValue,
    /// A retry interval is zero, or the backoff cap is below its start.
    #[error("invalid retry intervals")]
    Backoff,
}
