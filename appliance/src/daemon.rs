//! The thin tokio shell of `voip-appliance run`: loads the bootstrap and site
//! configuration, opens the store, serves the local HTTP endpoints (health and
//! Prometheus metrics) and shuts down cleanly on SIGTERM/SIGINT.
//!
//! It also starts the SIP transports ([`crate::sip_transport`]) from the
//! bootstrap's `[sip]` listeners and stops them on shutdown; until the
//! transaction layer exists their validated messages go to the temporary
//! fallback UAS. The media relay is wired in here by later work; everything
//! with protocol logic lives in the sans-IO cores.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use voip_shared::site_config::{InvalidConfig, SiteConfig};

use crate::config::{self, BootstrapConfig};
use crate::sip_transport::{self, SipTransport, TransportConfig, TransportError, TransportMetrics};
use crate::store::{Store, StoreConfig, StoreError};

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
    store: Mutex<Store>,
    sip: Arc<TransportMetrics>,
}

#[derive(Debug, Serialize)]
struct Health {
    status: &'static str,
    version: &'static str,
    appliance_id: String,
    site_revision: u64,
    trunks: usize,
    extensions: usize,
}

async fn healthz(State(shared): State<Arc<Shared>>) -> Json<Health> {
    Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
        appliance_id: shared.appliance_id.clone(),
        site_revision: shared.site.revision,
        trunks: shared.site.trunks.len(),
        extensions: shared.site.extensions.len(),
    })
}

async fn metrics(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    let backlog = shared
        .store
        .lock()
        .map_err(|_| ())
        .and_then(|store| store.backlog().map_err(|_| ()));
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP voip_up Whether the appliance daemon is serving."
    );
    let _ = writeln!(out, "# TYPE voip_up gauge");
    let _ = writeln!(out, "voip_up 1");
    let _ = writeln!(
        out,
        "# HELP voip_site_config_revision Revision of the site configuration in force."
    );
    let _ = writeln!(out, "# TYPE voip_site_config_revision gauge");
    let _ = writeln!(out, "voip_site_config_revision {}", shared.site.revision);
    if let Ok(b) = backlog {
        let _ = writeln!(
            out,
            "# HELP voip_outbox_records Records waiting for the cloud's acknowledgement."
        );
        let _ = writeln!(out, "# TYPE voip_outbox_records gauge");
        let _ = writeln!(out, "voip_outbox_records {}", b.records);
        let _ = writeln!(
            out,
            "# HELP voip_outbox_bytes Payload bytes waiting in the outbox."
        );
        let _ = writeln!(out, "# TYPE voip_outbox_bytes gauge");
        let _ = writeln!(out, "voip_outbox_bytes {}", b.bytes);
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
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(shared)
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
    let store = Store::open(
        bootstrap.data_dir.join("appliance.db"),
        StoreConfig::new(appliance_id),
    )?;
    tracing::info!(
        appliance = %bootstrap.appliance_id,
        site_revision = site.revision,
        site_file = %site_path.display(),
        trunks = site.trunks.len(),
        extensions = site.extensions.len(),
        "site configuration loaded"
    );
    let listener = tokio::net::TcpListener::bind(bootstrap.http_listen)
        .await
        .map_err(|source| StartError::Listen {
            addr: bootstrap.http_listen,
            source,
        })?;
    sip_transport::install_default_provider();
    let transport_config = TransportConfig::from_listen(&bootstrap.sip);
    let caps = transport_config.capabilities.clone();
    let (transport, inbound) = SipTransport::start(transport_config).await?;
    // TEMPORARY: the fallback UAS answers until the transaction layer consumes `inbound`.
    let fallback = sip_transport::spawn_fallback_uas(inbound, transport.outbound(), caps);
    // Logged last: "listening" is the readiness line (SIP is bound by now).
    tracing::info!(listen = %bootstrap.http_listen, "local HTTP (health, metrics) listening");
    let shared = Arc::new(Shared {
        appliance_id: bootstrap.appliance_id.clone(),
        site,
        store: Mutex::new(store),
        sip: transport.metrics(),
    });
    let served = axum::serve(listener, router(shared))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(StartError::Http);
    transport.shutdown(std::time::Duration::from_secs(5)).await;
    fallback.abort();
    served?;
    tracing::info!("appliance stopped");
    Ok(())
}
