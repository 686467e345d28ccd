//! The TLS listener's rustls configuration, from PEM files, with the `ring`
//! crypto provider chosen explicitly (no process-wide default needed).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};

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
