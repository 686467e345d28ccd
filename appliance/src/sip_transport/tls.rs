//! The rustls configurations, with the `ring` crypto provider chosen
//! explicitly (no process-wide default needed): the TLS listener's (from PEM
//! files) and the client's for outbound connections (TLS 1.2 and 1.3,
//! certificates verified against the OS trust store plus an optional extra
//! CA file).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore, ServerConfig};

/// Why the TLS listener could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// `tls` listeners are configured without `tls_cert` or `tls_key`.
    #[error("SIP over TLS needs both tls_cert and tls_key")]
    MissingFiles,
    /// The certificate file is unreadable or holds no PEM certificate.
    #[error("cannot read a PEM certificate from {path}: {source}")]
    Cert {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: rustls::pki_types::pem::Error,
    },
    /// The key file is unreadable or holds no PEM private key.
    #[error("cannot read a PEM private key from {path}: {source}")]
    Key {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: rustls::pki_types::pem::Error,
    },
    /// The extra CA file for outbound TLS is unreadable or holds no usable
    /// PEM certificate.
    #[error("cannot read a PEM CA certificate from {path}: {source}")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: rustls::pki_types::pem::Error,
    },
    /// rustls refused the certificate/key pair.
    #[error("unusable TLS certificate or key: {0}")]
    Config(#[from] rustls::Error),
}

/// Installs `ring` as the process-wide rustls crypto provider if none is
/// installed yet, so that later `ClientConfig::builder()` calls (e.g. MQTT)
/// cannot panic on an ambiguous provider.
pub fn install_default_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

pub(super) fn acceptor(
    cert: Option<&Path>,
    key: Option<&Path>,
) -> Result<TlsAcceptor, TlsSetupError> {
    let (Some(cert), Some(key)) = (cert, key) else {
        return Err(TlsSetupError::MissingFiles);
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|source| TlsSetupError::Cert {
            path: cert.to_owned(),
            source,
        })?;
    if chain.is_empty() {
        return Err(TlsSetupError::Cert {
            path: cert.to_owned(),
            source: rustls::pki_types::pem::Error::NoItemsFound,
        });
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|source| TlsSetupError::Key {
        path: key.to_owned(),
        source,
    })?;
    let config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key_der)?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The client configuration for outbound connections: trust anchors from the
/// OS store (`rustls-native-certs`: `SSL_CERT_FILE`/`SSL_CERT_DIR` or the
/// distribution's bundle, i.e. Debian's `ca-certificates`) plus every
/// certificate in `extra_ca`. An unreadable OS store is a warning (only the
/// extra CAs are then trusted); an unreadable or empty `extra_ca` is an error.
pub(super) fn client_config(extra_ca: Option<&Path>) -> Result<Arc<ClientConfig>, TlsSetupError> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for error in &native.errors {
        tracing::warn!(%error, "cannot read (part of) the OS trust store for outbound TLS");
    }
    let (added, ignored) = roots.add_parsable_certificates(native.certs);
    if ignored > 0 {
        tracing::debug!(ignored, "unusable certificates in the OS trust store");
    }
    if let Some(path) = extra_ca {
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(Iterator::collect::<Result<Vec<_>, _>>)
            .map_err(|source| TlsSetupError::CaFile {
                path: path.to_owned(),
                source,
            })?;
        let (extra, _) = roots.add_parsable_certificates(certs);
        if extra == 0 {
            return Err(TlsSetupError::CaFile {
                path: path.to_owned(),
                source: rustls::pki_types::pem::Error::NoItemsFound,
            });
        }
    }
    if added == 0 && extra_ca.is_none() {
        tracing::warn!("no trust anchors for outbound TLS: TLS trunks will fail");
    }
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
    Ok(Arc::new(config))
}
