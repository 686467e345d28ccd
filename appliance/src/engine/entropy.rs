//! OS entropy for the PBX core and its persistent digest nonce key.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use voip_sip::b2bua::Entropy;

/// Length of the digest nonce key.
pub const NONCE_KEY_LEN: usize = 32;

/// The operating system's CSPRNG (`getrandom(2)` on Linux) as the
/// [`Entropy`] of the [`Pbx`](crate::pbx::Pbx).
///
/// [`OsEntropy::new`] checks that the source works. Should it fail later
/// (it cannot on Linux ≥ 3.17 once the pool is initialised), the process
/// aborts after logging: predictable Call-IDs, tags or cnonces would be a
/// security defect, and there is no error path in [`Entropy::fill`].
#[derive(Debug, Clone, Copy)]
pub struct OsEntropy(());

/// The OS random source is unusable.
#[derive(Debug, thiserror::Error)]
#[error("the operating system's random source is unavailable: {source}")]
pub struct EntropyError {
    /// The error of `getrandom`.
    source: getrandom::Error,
}

impl OsEntropy {
    /// Checks that the OS source works.
    pub fn new() -> Result<Self, EntropyError> {
        let mut probe = [0u8; 16];
        getrandom::fill(&mut probe).map_err(|source| EntropyError { source })?;
        Ok(OsEntropy(()))
    }
}

impl Entropy for OsEntropy {
    fn fill(&mut self, dest: &mut [u8]) {
        if let Err(error) = getrandom::fill(dest) {
            tracing::error!(%error, "the OS random source failed; aborting rather than using predictable values");
            std::process::abort();
        }
    }
}

/// Why the nonce key file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Reading or creating the file failed.
    #[error("cannot read or create the nonce key {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file exists but does not hold exactly [`NONCE_KEY_LEN`] bytes.
    #[error(
        "the nonce key {path} holds {len} bytes, expected {NONCE_KEY_LEN}; delete it to create a new one"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Its length.
        len: usize,
    },
    /// No entropy to create a key.
    #[error(transparent)]
    Entropy(#[from] EntropyError),
}

/// Reads the digest nonce key from `path`, creating it (mode 0600, random
/// bytes, fsynced) if missing. The key survives restarts so nonces a phone
/// got before a restart stay valid for their lifetime.
pub fn load_or_create_key(path: &Path) -> Result<[u8; NONCE_KEY_LEN], KeyError> {
    let io = |source| KeyError::Io {
        path: path.to_owned(),
        source,
    };
    match std::fs::File::open(path) {
        Ok(file) => {
            let mut bytes = Vec::with_capacity(NONCE_KEY_LEN);
            file.take(NONCE_KEY_LEN as u64 + 1)
                .read_to_end(&mut bytes)
                .map_err(io)?;
            <[u8; NONCE_KEY_LEN]>::try_from(bytes.as_slice()).map_err(|_| KeyError::Corrupt {
                path: path.to_owned(),
                len: bytes.len(),
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = [0u8; NONCE_KEY_LEN];
            getrandom::fill(&mut key).map_err(|source| EntropyError { source })?;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt as _;
                options.mode(0o600);
            }
            let mut file = options.open(path).map_err(io)?;
            file.write_all(&key).map_err(io)?;
            file.sync_all().map_err(io)?;
            tracing::info!(path = %path.display(), "digest nonce key created");
            Ok(key)
        }
        Err(e) => Err(io(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_key_is_created_once_and_then_reread() {
        let dir = std::env::temp_dir().join(format!("voip-key-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("nonce.key");
        let first = load_or_create_key(&path).unwrap();
        let second = load_or_create_key(&path).unwrap();
        assert_eq!(first, second);
        assert_ne!(first, [0u8; NONCE_KEY_LEN]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, b"short").unwrap();
        assert!(matches!(
            load_or_create_key(&path),
            Err(KeyError::Corrupt { len: 5, .. })
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn os_entropy_fills_with_varying_bytes() {
        let mut rng = OsEntropy::new().unwrap();
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        rng.fill(&mut a);
        rng.fill(&mut b);
        assert_ne!(a, b);
    }
}
