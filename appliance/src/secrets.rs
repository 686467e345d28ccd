//! The secrets file (`/etc/voip-appliance/secrets.toml`): the passwords the
//! site configuration refers to by name.
//!
//! ```toml
//! [credentials.trunk-kpn]
//! username = "0301234567"   # optional: overrides the trunk's auth username
//! password = "..."
//!
//! [credentials.ext-201]
//! password = "..."
//!
//! [recording]
//! key = "<64 hexadecimal digits>"   # only with `[recording] encrypt = true`
//! ```
//!
//! A trunk's or extension's `credentials` key names a `[credentials.<name>]`
//! table (see `docs/configuration.md`). Unknown keys are rejected
//! (`deny_unknown_fields`), as everywhere else.
//!
//! [`Secrets::from_toml_str`] is pure; [`load`] adds reading the file and
//! refuses one that other users may access in any way or its group may
//! write (`mode & 0o027 != 0`): `0600` (owned by the service user) or `0640`
//! (owned by root, group = the service's group, as the packaged tmpfiles
//! rules create it) are accepted; see `docs/configuration.md`.
//!
//! Passwords are held in [`Secret`], whose `Debug` and `Display` print a
//! mask, and never appear in an error: a syntax error reports only the line
//! number, because the TOML parser's own message quotes the offending text.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use voip_shared::pii::Secret;

/// One `[credentials.<name>]` entry.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credential {
    /// Digest username overriding the trunk's `username` (trunks only;
    /// extensions always authenticate as their number).
    #[serde(default)]
    pub username: Option<String>,
    /// The password. Never log it.
    pub password: Secret,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("username", &self.username.as_ref().map(|_| "<redacted>"))
            .field("password", &self.password)
            .finish()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSecrets {
    #[serde(default)]
    credentials: BTreeMap<String, Credential>,
    #[serde(default)]
    recording: Option<RecordingSecrets>,
}

/// `[recording]`: the key that encrypts call recordings at rest.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordingSecrets {
    /// 32 bytes as 64 hexadecimal digits (`openssl rand -hex 32`).
    key: Secret,
}

/// The parsed secrets file: credentials by name.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secrets {
    credentials: BTreeMap<String, Credential>,
    recording_key: Option<Secret>,
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secrets")
            .field("credentials", &self.credentials.keys().collect::<Vec<_>>())
            .field("recording_key", &self.recording_key.as_ref().map(|_| "***"))
            .finish()
    }
}

/// Why the secrets file was refused. No variant carries a password or any
/// other text of the file.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// The file could not be read.
    #[error("cannot read the secrets file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Other users have some access to it, or its group may write it.
    #[error(
        "the secrets file {path} is accessible to other users or writable by its group \
         (mode {mode:04o}); run `chmod 640` (root-owned, service group) or `chmod 600` on it"
    )]
    TooOpen {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Not valid TOML, a key that is not allowed, or a value of the wrong
    /// type. Only the line is reported, since the text may hold a password.
    #[error(
        "the secrets file is not valid (line {line}); the details are not shown because they may contain a password"
    )]
    Invalid {
        /// 1-based line of the problem (0 when unknown).
        line: usize,
    },
}

impl Secrets {
    /// Parses the file's text.
    pub fn from_toml_str(text: &str) -> Result<Secrets, SecretsError> {
        let raw: RawSecrets = toml::from_str(text).map_err(|e| SecretsError::Invalid {
            line: e.span().map_or(0, |s| {
                text[..s.start.min(text.len())].matches('\n').count() + 1
            }),
        })?;
        Ok(Secrets {
            credentials: raw.credentials,
            recording_key: raw.recording.map(|r| r.key),
        })
    }

    /// Secrets built in code (tests, the cloud push path).
    pub fn from_entries(entries: impl IntoIterator<Item = (String, Credential)>) -> Secrets {
        Secrets {
            credentials: entries.into_iter().collect(),
            recording_key: None,
        }
    }

    /// The text of `[recording] key` (the recording encryption key), if
    /// set. Never log it.
    pub fn recording_key(&self) -> Option<&str> {
        self.recording_key.as_ref().map(|k| k.expose().as_str())
    }

    /// The entry called `name`.
    pub fn credential(&self, name: &str) -> Option<&Credential> {
        self.credentials.get(name)
    }

    /// The password of entry `name`.
    pub fn password(&self, name: &str) -> Option<&str> {
        self.credential(name).map(|c| c.password.expose().as_str())
    }

    /// Names of all entries.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.credentials.keys().map(String::as_str)
    }
}

/// Reads and parses the secrets file at `path`, refusing it when its mode
/// grants others any access or its group write access (`mode & 0o027 != 0`).
pub fn load(path: &Path) -> Result<Secrets, SecretsError> {
    use std::os::unix::fs::PermissionsExt as _;
    let read_err = |source| SecretsError::Read {
        path: path.to_owned(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(read_err)?;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o027 != 0 {
        return Err(SecretsError::TooOpen {
            path: path.to_owned(),
            mode,
        });
    }
    let text = std::fs::read_to_string(path).map_err(read_err)?;
    Secrets::from_toml_str(&text)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    const EXAMPLE: &str = r#"
[credentials.trunk-kpn]
username = "0301234567"
password = "geheim-trunk"

[credentials.ext-201]
password = "geheim-201"
"#;

    #[test]
    fn parses_entries_with_optional_username() {
        let s = Secrets::from_toml_str(EXAMPLE).unwrap();
        assert_eq!(s.password("ext-201"), Some("geheim-201"));
        assert_eq!(
            s.credential("trunk-kpn").unwrap().username.as_deref(),
            Some("0301234567")
        );
        assert_eq!(s.credential("ext-201").unwrap().username, None);
        assert_eq!(s.password("nope"), None);
        assert_eq!(s.names().collect::<Vec<_>>(), ["ext-201", "trunk-kpn"]);
    }

    #[test]
    fn debug_and_errors_never_show_passwords() {
        let s = Secrets::from_toml_str(EXAMPLE).unwrap();
        let debug = format!("{s:?} {:?}", s.credential("trunk-kpn").unwrap());
        assert!(!debug.contains("geheim"), "{debug}");
        assert!(!debug.contains("0301234567"), "{debug}");
        let bad = "[credentials.x]\npassword = \"geheim-x\"\npasword = \"geheim-y\"\n";
        let err = Secrets::from_toml_str(bad).unwrap_err();
        let text = err.to_string();
        assert!(!text.contains("geheim"), "{text}");
        assert!(matches!(err, SecretsError::Invalid { line: 3 }), "{err:?}");
    }

    #[test]
    fn unknown_keys_and_missing_password_are_refused() {
        for bad in [
            "[credentials.x]\nusername = \"u\"\n",
            "[credential.x]\npassword = \"p\"\n",
            "[credentials.x]\npassword = 5\n",
        ] {
            assert!(Secrets::from_toml_str(bad).is_err(), "{bad}");
        }
        assert_eq!(Secrets::from_toml_str("").unwrap(), Secrets::default());
    }

    #[test]
    fn recording_key_is_read_and_never_shown() {
        let text = format!("{EXAMPLE}\n[recording]\nkey = \"{}\"\n", "ab".repeat(32));
        let s = Secrets::from_toml_str(&text).unwrap();
        assert_eq!(s.recording_key(), Some("ab".repeat(32).as_str()));
        assert!(!format!("{s:?}").contains("abab"));
        assert_eq!(
            Secrets::from_toml_str(EXAMPLE).unwrap().recording_key(),
            None
        );
        assert!(Secrets::from_toml_str("[recording]\nkee = \"x\"\n").is_err());
    }

    #[test]
    fn load_refuses_files_open_to_others_or_writable_by_group() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = std::env::temp_dir().join(format!("voip-secrets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("secrets.toml");
        std::fs::write(&path, EXAMPLE).unwrap();
        for (mode, ok) in [
            (0o600, true),
            (0o400, true),
            (0o640, true),
            (0o660, false),
            (0o604, false),
        ] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let result = load(&path);
            assert_eq!(result.is_ok(), ok, "mode {mode:o}: {result:?}");
            if let Err(e) = result {
                assert!(matches!(e, SecretsError::TooOpen { .. }));
                assert!(e.to_string().contains("chmod 640"));
            }
        }
        let missing = load(&dir.join("missing.toml")).unwrap_err();
        assert!(matches!(missing, SecretsError::Read { .. }));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
