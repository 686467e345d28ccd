//! The thin tokio shell of `voip-appliance run`: loads the bootstrap and site
//! configuration and the secrets file, starts the store thread, the SIP
//! transports ([`crate::sip_transport`]), the media relay
//! ([`crate::media_relay`]) and the SIP/media engine ([`crate::engine`]),
//! serves the local HTTP endpoints (health and Prometheus metrics) and shuts
//! down cleanly on SIGTERM/SIGINT.
//!
//! # Start order
//!
//! configuration → secrets → store thread → SIP transport → relay manager
//! → DNS resolver → engine (trunk host resolution runs in the background and
//! never delays start-up) → HTTP listener. The log line
//! `local HTTP (health, metrics) listening` comes last, when everything is
//! bound: it is the readiness signal tests and scripts wait for.
//!
//! A missing secrets file is a warning (no extension can register and no
//! trunk authenticate until it exists and the daemon restarts); an unsafe or
//! invalid one stops the start.
//!
//! # Shutdown
//!
//! The HTTP server stops first, then the engine (trunks unregister within a
//! 2 s grace; calls in progress are dropped without BYE), then the SIP
//! transport, then the store thread after its queued writes.
//!
//! Everything with protocol logic lives in the sans-IO cores.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use voip_shared::site_config::{InvalidConfig, SiteConfig};

use crate::config::{self, BootstrapConfig};
use crate::engine::entropy::{self, KeyError};
use crate::engine::store_thread::{StoreSender, StoreThread};
use crate::engine::{Engine, EngineHandle, EngineParts, EntropyError, TrunkStatus};
use crate::media_relay::{InvalidPortRange, PortRange, RelayManager, RelayManagerConfig};
use crate::secrets::{self, Secrets, SecretsError};
use crate::sip_resolve::SipResolver;
use crate::sip_transport::{self, SipTransport, TransportConfig, TransportError, TransportMetrics};
use crate::store::{Store, StoreConfig, StoreError};

/// How long trunks get to unregister at shutdown.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Capacity of the relay event channel.
const RELAY_EVENTS: usize = 256;

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The bootstrap file is missing or invalid.
    #[error(transparent)]
    Bootstrap(#[from] config::LoadError),
    /// Neither `--site` nor `site_config_file` names a site configuration.
    #[error("no site configuration: pass --site or set site_config_file in the bootstrap file")]
    NoSiteConfig,
    /// The site configuration file could not be read.
    #[error("cannot read site configuration {path}: {source}")]
    SiteRead {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The site configuration is invalid.
    #[error("{path}: {source}")]
    SiteInvalid {
        /// The file.
        path: PathBuf,
        /// Every problem found.
        source: InvalidConfig,
    },
    /// The data directory could not be created.
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The store could not be opened.
    #[error("cannot open the store: {0}")]
    Store(#[from] StoreError),
    /// A listening socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: std::net::SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A SIP listener could not be started (bind failure, bad TLS certificate or key).
    #[error(transparent)]
    Sip(#[from] TransportError),
    /// The appliance id is not usable as an MQTT topic level (the bootstrap
    /// validation rejects such ids, so this is a defence in depth).
    #[error("appliance_id is not a valid id")]
    ApplianceId,
    /// The HTTP server failed.
    #[error("HTTP server failed: {0}")]
    Http(std::io::Error),
    /// The secrets file is unsafe or invalid.
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    /// The digest nonce key in the data directory is unusable.
    #[error(transparent)]
    NonceKey(#[from] KeyError),
    /// The OS random source does not work.
    #[error(transparent)]
    Entropy(#[from] EntropyError),
    /// The site's media port range is unusable.
    #[error("media port range: {0}")]
    MediaPorts(#[from] InvalidPortRange),
    /// The store thread could not be started.
    #[error("cannot start the store thread: {0}")]
    StoreThread(std::io::Error),
    /// `[recording] encrypt = true` but the secrets file has no usable
    /// `[recording] key`.
    #[error(
        "recording encryption is on but the secrets file has no valid [recording] key \
         (64 hexadecimal digits; make one with `openssl rand -hex 32`)"
    )]
    RecordingKey,
    /// The recording service could not start (directory, recovery).
    #[error("recording service: {0}")]
    Recording(#[from] crate::recording::service::ServiceError),
}

/// The recording service's settings from the bootstrap file and secrets.
pub fn recording_config(
    bootstrap: &config::BootstrapConfig,
    secrets: &Secrets,
) -> Result<crate::recording::ServiceConfig, StartError> {
    use crate::recording::{ServiceConfig, retention::Limits, seal::RecordingKey};
    let storage = &bootstrap.recording;
    let key = secrets
        .recording_key()
        .map(RecordingKey::from_hex)
        .transpose()
        .map_err(|_| StartError::RecordingKey)?;
    if storage.encrypt && key.is_none() {
        return Err(StartError::RecordingKey);
    }
    let mut config = ServiceConfig::new(storage.dir.clone());
    config.limits = Limits {
        quota_bytes: storage.quota_bytes,
        min_free_bytes: storage.min_free_bytes,
    };
    config.batch.interval = storage.flush_interval;
    // New recordings are encrypted only when asked; the key (if any) still
    // recovers encrypted recordings made earlier.
    config.key = if storage.encrypt { key } else { None };
    Ok(config)
}

/// Reads and validates a site configuration file.
pub fn load_site(path: &Path) -> Result<SiteConfig, StartError> {
    let text = std::fs::read_to_string(path).map_err(|source| StartError::SiteRead {
        path: path.to_owned(),
        source,
    })?;
    SiteConfig::from_toml_str(&text).map_err(|source| StartError::SiteInvalid {
        path: path.to_owned(),
        source,
    })
}

/// Everything the daemon has loaded before it starts serving.
#[derive(Debug)]
pub struct Loaded {
    /// The bootstrap configuration.
    pub bootstrap: BootstrapConfig,
    /// The site configuration in force.
    pub site: SiteConfig,
    /// Where it came from.
    pub site_path: PathBuf,
}

/// Loads the bootstrap file and the site configuration (`site` overrides the
/// bootstrap file's `site_config_file`).
pub fn load(config_path: &Path, site: Option<&Path>) -> Result<Loaded, StartError> {
    let bootstrap = config::load(config_path)?;
    let site_path = site
        .map(Path::to_path_buf)
        .or_else(|| bootstrap.site_config_file.clone())
        .ok_or(StartError::NoSiteConfig)?;
    let site = load_site(&site_path)?;
    Ok(Loaded {
        bootstrap,
        site,
        site_path,
    })
}

#[derive(Debug)]
struct Shared {
    appliance_id: String,
    site: SiteConfig,
    store: StoreSender,
    sip: Arc<TransportMetrics>,
    engine: EngineHandle,
}

#[derive(Debug, Serialize)]
struct Health {
    status: &'static str,
    version: &'static str,
    appliance_id: String,
    site_revision: u64,
    trunks: usize,
    extensions: usize,
    trunk_states: Vec<TrunkStatus>,
}

async fn healthz(State(shared): State<Arc<Shared>>) -> Json<Health> {
    let trunk_states = shared
        .engine
        .stats()
        .await
        .map(|s| s.trunks)
        .unwrap_or_default();
    Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
        appliance_id: shared.appliance_id.clone(),
        site_revision: shared.site.revision,
        trunks: shared.site.trunks.len(),
        extensions: shared.site.extensions.len(),
        trunk_states,
    })
}

fn gauge(out: &mut String, name: &str, help: &str, value: impl std::fmt::Display) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
    let _ = writeln!(out, "{name} {value}");
}

async fn metrics(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    let backlog = shared.store.backlog().await;
    let engine = shared.engine.stats().await;
    let mut out = String::new();
    gauge(
        &mut out,
        "voip_up",
        "Whether the appliance daemon is serving.",
        1,
    );
    gauge(
        &mut out,
        "voip_site_config_revision",
        "Revision of the site configuration in force.",
        shared.site.revision,
    );
    if let Some(b) = backlog {
        gauge(
            &mut out,
            "voip_outbox_records",
            "Records waiting for the cloud's acknowledgement.",
            b.records,
        );
        gauge(
            &mut out,
            "voip_outbox_bytes",
            "Payload bytes waiting in the outbox.",
            b.bytes,
        );
    }
    if let Some(e) = engine {
        gauge(
            &mut out,
            "voip_calls_active",
            "Calls holding media ports (ringing or talking).",
            e.calls,
        );
        gauge(
            &mut out,
            "voip_registered_extensions",
            "Extensions with at least one registered contact.",
            e.registered_extensions,
        );
        gauge(
            &mut out,
            "voip_trunks_up",
            "Trunks that routing may use.",
            e.trunks.iter().filter(|t| t.up).count(),
        );
        let _ = writeln!(
            out,
            "# HELP voip_trunk_up Whether a trunk may carry calls (1) or not (0)."
        );
        let _ = writeln!(out, "# TYPE voip_trunk_up gauge");
        for t in &e.trunks {
            let _ = writeln!(
                out,
                "voip_trunk_up{{trunk=\"{}\"}} {}",
                t.id,
                u8::from(t.up)
            );
        }
        gauge(
            &mut out,
            "voip_banned_sources",
            "Sources banned after repeated authentication failures.",
            e.bans,
        );
        gauge(
            &mut out,
            "voip_media_relays",
            "Media relays and echo tests running.",
            e.relays,
        );
        gauge(
            &mut out,
            "voip_media_ports_in_use",
            "Media port pairs reserved.",
            e.ports_in_use,
        );
        let _ = writeln!(
            out,
            "# HELP voip_media_relay_packets_total RTP and RTCP packets through media relays that have stopped, per leg (a: caller side, b: callee side) and direction."
        );
        let _ = writeln!(out, "# TYPE voip_media_relay_packets_total counter");
        let p = e.relay_packets;
        for (leg, direction, value) in [
            ("a", "in", p.a_in),
            ("a", "out", p.a_out),
            ("b", "in", p.b_in),
            ("b", "out", p.b_out),
        ] {
            let _ = writeln!(
                out,
                "voip_media_relay_packets_total{{leg=\"{leg}\",direction=\"{direction}\"}} {value}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP voip_media_rejected_foreign_total Packets dropped by media relays as coming from a foreign source (RTP bleed protection)."
        );
        let _ = writeln!(out, "# TYPE voip_media_rejected_foreign_total counter");
        let _ = writeln!(
            out,
            "voip_media_rejected_foreign_total {}",
            p.rejected_foreign
        );
        let _ = writeln!(
            out,
            "# HELP voip_sip_engine_send_failures_total SIP messages the engine could not hand to the transport."
        );
        let _ = writeln!(out, "# TYPE voip_sip_engine_send_failures_total counter");
        let _ = writeln!(
            out,
            "voip_sip_engine_send_failures_total{{cause=\"queue_full\"}} {}",
            e.transmit_dropped
        );
        let _ = writeln!(
            out,
            "voip_sip_engine_send_failures_total{{cause=\"no_connection\"}} {}",
            e.transmit_unroutable
        );
        e.quality.render_prometheus(&mut out);
    }
    shared.sip.render_prometheus(&mut out);
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
}

fn router(shared: Arc<Shared>) -> Router {
    let engine = shared.engine.clone();
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(shared)
        .merge(crate::recording::http::router(engine))
}

/// Reads the secrets file; a missing file is a warning (empty secrets).
fn load_secrets(path: &Path) -> Result<Secrets, StartError> {
    match secrets::load(path) {
        Ok(secrets) => Ok(secrets),
        Err(SecretsError::Read { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            tracing::warn!(
                path = %path.display(),
                "secrets file missing: no extension can register and no trunk can authenticate"
            );
            Ok(Secrets::default())
        }
        Err(error) => Err(error.into()),
    }
}

/// Runs the daemon until `shutdown` completes.
pub async fn run(
    loaded: Loaded,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let Loaded {
        bootstrap,
        site,
        site_path,
    } = loaded;
    std::fs::create_dir_all(&bootstrap.data_dir).map_err(|source| StartError::DataDir {
        path: bootstrap.data_dir.clone(),
        source,
    })?;
    let appliance_id = voip_shared::mqtt::ApplianceId::new(bootstrap.appliance_id.as_str())
        .map_err(|_| StartError::ApplianceId)?;
    tracing::info!(
        appliance = %bootstrap.appliance_id,
        site_revision = site.revision,
        site_file = %site_path.display(),
        trunks = site.trunks.len(),
        extensions = site.extensions.len(),
        "site configuration loaded"
    );
    let secrets = load_secrets(&bootstrap.secrets_file)?;
    let nonce_key = entropy::load_or_create_key(&bootstrap.data_dir.join("nonce.key"))?;
    let store = Store::open(
        bootstrap.data_dir.join("appliance.db"),
        StoreConfig::new(appliance_id.clone()),
    )?;
    let store = StoreThread::spawn(store).map_err(StartError::StoreThread)?;
    // The recording service has its own connection to the same database;
    // it recovers recordings a crash left unfinished before anything else.
    let recording = crate::recording::RecordingService::start(
        recording_config(&bootstrap, &secrets)?,
        Store::open(
            bootstrap.data_dir.join("appliance.db"),
            StoreConfig::new(appliance_id.clone()),
        )?,
    )?;
    let listener = tokio::net::TcpListener::bind(bootstrap.http_listen)
        .await
        .map_err(|source| StartError::Listen {
            addr: bootstrap.http_listen,
            source,
        })?;
    sip_transport::install_default_provider();
    let (transport, inbound) =
        SipTransport::start(TransportConfig::from_listen(&bootstrap.sip)).await?;
    let mut local =
        crate::engine::local_addrs_advertised(transport.local_addrs(), bootstrap.sip.advertise);
    // `[media] advertise_ip` overrides `[sip] advertise` for the SDP only.
    if let Some(ip) = bootstrap.media.advertise_ip {
        local.media_ip = ip;
    }
    let (relay_tx, relay_events) = tokio::sync::mpsc::channel(RELAY_EVENTS);
    let port_range = PortRange::from_settings(&site.media)?;
    // A call holds two port pairs (one per leg), so the port range, not an
    // arbitrary count, bounds the relays; running out of ports refuses new
    // calls with 503 (`media.ports_exhausted`).
    let defaults = RelayManagerConfig::default();
    let relay_config = RelayManagerConfig {
        max_relays: (port_range.pairs() / 2).max(1),
        bind_ip: bootstrap.media.bind_ip.unwrap_or(defaults.bind_ip),
        ..defaults
    };
    let relays = RelayManager::new(relay_config, port_range, relay_tx);
    let resolver = match SipResolver::system() {
        Ok(resolver) => Some(resolver),
        Err(error) => {
            tracing::warn!(%error, "no DNS resolver: trunks given by name stay unusable");
            None
        }
    };
    let engine = Engine::spawn(EngineParts {
        site: site.clone(),
        secrets,
        local,
        nonce_key,
        inbound,
        outbound: transport.sender(),
        relays,
        relay_events,
        store: store.sender(),
        resolver,
        recording: Some(recording.handle()),
    })?;
    let shared = Arc::new(Shared {
        appliance_id: bootstrap.appliance_id.clone(),
        site,
        store: store.sender(),
        sip: transport.metrics(),
        engine: engine.handle(),
    });
    // Logged last: "listening" is the readiness line (SIP and media are up by now).
    tracing::info!(listen = %bootstrap.http_listen, "local HTTP (health, metrics) listening");
    let notifier = crate::sd_notify::Notifier::from_env();
    notifier.notify("READY=1");
    let watchdog = crate::sd_notify::spawn_watchdog(&notifier);
    // The peer address lets the recording command refuse non-loopback
    // clients.
    let served = axum::serve(
        listener,
        router(shared).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .map_err(StartError::Http);
    notifier.notify("STOPPING=1");
    if let Some(watchdog) = watchdog {
        watchdog.abort();
    }
    engine.shutdown(SHUTDOWN_GRACE).await;
    transport.shutdown(Duration::from_secs(5)).await;
    if tokio::task::spawn_blocking(move || recording.shutdown())
        .await
        .is_err()
    {
        tracing::error!("the recording service did not stop cleanly");
    }
    store.stop().await;
    served?;
    tracing::info!("appliance stopped");
    Ok(())
}
