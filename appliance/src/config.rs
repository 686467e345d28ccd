//! Bootstrap configuration of the appliance
//! (`/etc/voip-appliance/appliance.toml`): who the appliance is, how it
//! reaches the cloud, where it keeps its data and secrets, and what it
//! listens on. Everything about trunks, extensions and permissions is in the
//! site configuration ([`voip_shared::site_config`]).
//!
//! Same pattern as the site configuration: raw structs with
//! `deny_unknown_fields`, then validation that reports every problem at once
//! with its key path and Dutch and English text from the catalogue.
//! [`BootstrapConfig::from_toml_str`] is pure; [`load`] only adds reading
//! the file.

use std::fs;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use voip_shared::site_config::{
    InvalidConfig, ProblemCode, Problems, check_version, deserialize_collecting, is_valid_host,
    is_valid_name, toml_to_value,
};

/// Where the bootstrap file lives by default.
pub const DEFAULT_PATH: &str = "/etc/voip-appliance/appliance.toml";
/// Default data directory.
pub const DEFAULT_DATA_DIR: &str = "/var/lib/voip-appliance";
/// Default secrets file.
pub const DEFAULT_SECRETS_FILE: &str = "/etc/voip-appliance/secrets.toml";
/// Default SIP listen address for UDP and TCP.
pub const DEFAULT_SIP_LISTEN: &str = "0.0.0.0:5060";
/// Default HTTP listen address (local web page and `/metrics`).
pub const DEFAULT_HTTP_LISTEN: &str = "0.0.0.0:8443";
/// Default MQTT over TLS port.
pub const DEFAULT_MQTT_PORT: u16 = 8883;
/// The bootstrap schema version this build reads.
pub const SCHEMA_VERSION: u64 = 1;

/// The bootstrap file as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBootstrap {
    /// Schema version; must be 1.
    pub version: u32,
    /// Appliance id (`a-z0-9-_`), also its MQTT client id and topic level.
    pub appliance_id: String,
    /// Tenant id (`a-z0-9-_`).
    pub tenant: String,
    /// Cloud connection; absent for a standalone appliance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud: Option<RawCloud>,
    /// Data directory; default `/var/lib/voip-appliance`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<String>,
    /// Secrets file; default `/etc/voip-appliance/secrets.toml`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets_file: Option<String>,
    /// Site configuration file: required when standalone, else the
    /// last-good cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site_config_file: Option<String>,
    /// SIP listeners.
    #[serde(default)]
    pub sip: RawSip,
    /// HTTP listener.
    #[serde(default)]
    pub http: RawHttp,
    /// Media (RTP) sockets.
    #[serde(default)]
    pub media: RawMedia,
    /// Log level; default `info`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_level: Option<LogLevel>,
    /// Call recording storage.
    #[serde(default)]
    pub recording: RawRecording,
}

/// `[recording]`: where and how call recordings are stored (the site
/// configuration's recording policies say which calls are recorded).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRecording {
    /// Directory of the recording files; default `<data_dir>/recordings`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<String>,
    /// Bytes all recordings together may use; default 4 GiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota_bytes: Option<i64>,
    /// Free bytes recordings must leave on the file system; default 1 GiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_free_bytes: Option<i64>,
    /// Seconds between writes (batches) of a recording; default 5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flush_interval_s: Option<i64>,
    /// Encrypt recordings at rest with `[recording] key` of the secrets
    /// file; default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypt: Option<bool>,
}

/// `[cloud]`: the MQTT connection with mutual TLS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCloud {
    /// `mqtts://host[:port]`; port defaults to 8883.
    pub mqtt_url: String,
    /// CA certificate(s) the broker's certificate must chain to (PEM).
    pub ca_file: String,
    /// The appliance's client certificate (PEM).
    pub cert_file: String,
    /// The appliance's private key (PEM).
    pub key_file: String,
}

/// `[sip]`: listen addresses per transport.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSip {
    /// UDP listen addresses; default `["0.0.0.0:5060"]`; `[]` disables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub udp: Option<Vec<String>>,
    /// TCP listen addresses; default `["0.0.0.0:5060"]`; `[]` disables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<Vec<String>>,
    /// TLS listen addresses (usually `0.0.0.0:5061`); default none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<Vec<String>>,
    /// Certificate of the TLS listener (PEM); required with `tls`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<String>,
    /// Private key of the TLS listener (PEM); required with `tls`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<String>,
    /// Extra CA certificate(s) (PEM) outbound TLS trunks may chain to,
    /// besides the operating system's trust store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_ca_file: Option<String>,
    /// The IP address written into `Via`, `Contact` and SDP instead of the
    /// bound one (behind NAT, or bound to `0.0.0.0`/`::`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advertise: Option<String>,
}

/// `[http]`: local web page and `/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHttp {
    /// Listen address; default `0.0.0.0:8443`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
}

/// `[media]`: where RTP sockets bind and which address the SDP announces.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMedia {
    /// IP address the RTP/RTCP sockets bind to; default `0.0.0.0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind_ip: Option<String>,
    /// IP address written into SDP `c=` lines; default: the SIP address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advertise_ip: Option<String>,
}

/// Log verbosity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    /// Errors only.
    Error,
    /// Errors and warnings.
    Warn,
    /// Lifecycle events (the default).
    Info,
    /// Debugging detail.
    Debug,
    /// Everything.
    Trace,
}

impl LogLevel {
    /// The name `tracing`'s filter syntax uses.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
}

/// The validated bootstrap configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BootstrapConfig {
    /// Appliance id.
    pub appliance_id: String,
    /// Tenant id.
    pub tenant: String,
    /// Cloud connection; `None` when standalone.
    pub cloud: Option<CloudConfig>,
    /// Data directory (absolute).
    pub data_dir: PathBuf,
    /// Secrets file (absolute).
    pub secrets_file: PathBuf,
    /// Site configuration file (absolute); always set when standalone.
    pub site_config_file: Option<PathBuf>,
    /// SIP listeners.
    pub sip: SipListen,
    /// HTTP listen address.
    pub http_listen: SocketAddr,
    /// Media sockets.
    pub media: MediaAddrs,
    /// Log level.
    pub log_level: LogLevel,
    /// Call recording storage.
    pub recording: RecordingStorage,
}

/// The validated `[media]` addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct MediaAddrs {
    /// Bind address of RTP/RTCP sockets; `None`: `0.0.0.0`.
    pub bind_ip: Option<IpAddr>,
    /// Address announced in SDP; `None`: the first SIP listener's address.
    pub advertise_ip: Option<IpAddr>,
}

/// The validated `[recording]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordingStorage {
    /// Directory of the recording files (absolute).
    pub dir: PathBuf,
    /// Bytes all recordings together may use.
    pub quota_bytes: u64,
    /// Free bytes recordings must leave on the file system.
    pub min_free_bytes: u64,
    /// Time between writes of a recording.
    pub flush_interval: std::time::Duration,
    /// Whether recordings are encrypted at rest.
    pub encrypt: bool,
}

/// Default recording quota: 4 GiB.
pub const DEFAULT_RECORDING_QUOTA_BYTES: u64 = 4 * 1024 * 1024 * 1024;
/// Default free-space floor: 1 GiB.
pub const DEFAULT_RECORDING_MIN_FREE_BYTES: u64 = 1024 * 1024 * 1024;
/// Default flush interval of recordings, in seconds.
pub const DEFAULT_RECORDING_FLUSH_S: u64 = 5;

/// The validated cloud connection.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CloudConfig {
    /// Broker host name or IP address.
    pub mqtt_host: String,
    /// Broker port.
    pub mqtt_port: u16,
    /// CA file (absolute).
    pub ca_file: PathBuf,
    /// Client certificate (absolute).
    pub cert_file: PathBuf,
    /// Client key (absolute).
    pub key_file: PathBuf,
}

/// The validated SIP listeners.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SipListen {
    /// UDP addresses.
    pub udp: Vec<SocketAddr>,
    /// TCP addresses.
    pub tcp: Vec<SocketAddr>,
    /// TLS addresses.
    pub tls: Vec<SocketAddr>,
    /// TLS certificate (absolute); set when `tls` is not empty.
    pub tls_cert: Option<PathBuf>,
    /// TLS key (absolute); set when `tls` is not empty.
    pub tls_key: Option<PathBuf>,
    /// Extra CA file (absolute) for outbound TLS trunks.
    pub tls_ca_file: Option<PathBuf>,
    /// The address advertised in `Via`, `Contact` and SDP instead of the
    /// bound one; a unicast address (not unspecified, not multicast).
    pub advertise: Option<IpAddr>,
}

/// Why [`load`] failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The file was read but is not a valid bootstrap configuration.
    #[error("{path}: {source}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Every problem found.
        source: InvalidConfig,
    },
}

/// Reads and validates the bootstrap file at `path`.
pub fn load(path: &Path) -> Result<BootstrapConfig, LoadError> {
    let text = fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.to_owned(),
        source,
    })?;
    BootstrapConfig::from_toml_str(&text).map_err(|source| LoadError::Invalid {
        path: path.to_owned(),
        source,
    })
}

impl BootstrapConfig {
    /// Parses and validates the bootstrap file's text, reporting every
    /// problem at once. Pure: no file is opened.
    pub fn from_toml_str(text: &str) -> Result<BootstrapConfig, InvalidConfig> {
        let mut problems = Problems::new();
        let value = match toml_to_value(text) {
            Ok(v) => v,
            Err(problem) => {
                return Err(InvalidConfig {
                    problems: vec![problem],
                });
            }
        };
        if let Some(doc) = value.as_object()
            && !check_version(doc, SCHEMA_VERSION, &mut problems)
        {
            return Err(InvalidConfig {
                problems: problems.into_vec(),
            });
        }
        let raw = deserialize_collecting::<RawBootstrap>(value, "", &mut problems);
        match raw {
            Some(raw) => raw.validate_into(problems),
            None => Err(InvalidConfig {
                problems: problems.into_vec(),
            }),
        }
    }
}

impl RawBootstrap {
    /// Validates this raw bootstrap configuration.
    pub fn validate(self) -> Result<BootstrapConfig, InvalidConfig> {
        let mut problems = Problems::new();
        if u64::from(self.version) != SCHEMA_VERSION {
            problems.push(
                "version",
                ProblemCode::VersionUnsupported,
                &[
                    ("version", &self.version.to_string()),
                    ("supported", &SCHEMA_VERSION.to_string()),
                ],
            );
            return Err(InvalidConfig {
                problems: problems.into_vec(),
            });
        }
        self.validate_into(problems)
    }

    fn validate_into(self, mut problems: Problems) -> Result<BootstrapConfig, InvalidConfig> {
        let p = &mut problems;
        // Both ids become MQTT topic levels, so they must satisfy the topic
        // id rules as well as the general name rules.
        let ids_ok = [
            voip_shared::mqtt::ApplianceId::new(self.appliance_id.as_str()).is_ok(),
            voip_shared::mqtt::TenantId::new(self.tenant.as_str()).is_ok(),
        ];
        for ((key, value), topic_ok) in [
            ("appliance_id", &self.appliance_id),
            ("tenant", &self.tenant),
        ]
        .into_iter()
        .zip(ids_ok)
        {
            if !is_valid_name(value) || !topic_ok {
                p.push(key, ProblemCode::InvalidName, &[("value", value)]);
            }
        }
        let cloud = self.cloud.as_ref().map(|c| CloudConfig {
            mqtt_host: String::new(),
            mqtt_port: DEFAULT_MQTT_PORT,
            ca_file: absolute(&c.ca_file, "cloud.ca_file", p),
            cert_file: absolute(&c.cert_file, "cloud.cert_file", p),
            key_file: absolute(&c.key_file, "cloud.key_file", p),
        });
        let cloud = match (cloud, &self.cloud) {
            (Some(mut cloud), Some(raw)) => {
                if let Some((host, port)) = mqtt_url(&raw.mqtt_url, "cloud.mqtt_url", p) {
                    cloud.mqtt_host = host;
                    cloud.mqtt_port = port;
                }
                Some(cloud)
            }
            _ => None,
        };
        let data_dir = absolute(
            self.data_dir.as_deref().unwrap_or(DEFAULT_DATA_DIR),
            "data_dir",
            p,
        );
        let secrets_file = absolute(
            self.secrets_file.as_deref().unwrap_or(DEFAULT_SECRETS_FILE),
            "secrets_file",
            p,
        );
        let site_config_file = self
            .site_config_file
            .as_deref()
            .map(|f| absolute(f, "site_config_file", p));
        if cloud.is_none() && site_config_file.is_none() {
            // Standalone: the site configuration can only come from a file.
            p.push(
                "site_config_file",
                ProblemCode::MissingKey,
                &[("key", "site_config_file")],
            );
        }
        let default_sip = || vec![DEFAULT_SIP_LISTEN.to_owned()];
        let udp = addresses(
            &self.sip.udp.clone().unwrap_or_else(default_sip),
            "sip.udp",
            p,
        );
        let tcp = addresses(
            &self.sip.tcp.clone().unwrap_or_else(default_sip),
            "sip.tcp",
            p,
        );
        let tls = addresses(&self.sip.tls.clone().unwrap_or_default(), "sip.tls", p);
        let tls_cert = self
            .sip
            .tls_cert
            .as_deref()
            .map(|f| absolute(f, "sip.tls_cert", p));
        let tls_key = self
            .sip
            .tls_key
            .as_deref()
            .map(|f| absolute(f, "sip.tls_key", p));
        let tls_ca_file = self
            .sip
            .tls_ca_file
            .as_deref()
            .map(|f| absolute(f, "sip.tls_ca_file", p));
        let advertise = self
            .sip
            .advertise
            .as_deref()
            .and_then(|a| advertise_ip(a, "sip.advertise", p));
        if self.sip.tls.as_ref().is_some_and(|t| !t.is_empty())
            && (tls_cert.is_none() || tls_key.is_none())
        {
            p.push("sip.tls", ProblemCode::TlsListenNeedsCertificate, &[]);
        }
        let http_listen = socket_addr(
            self.http.listen.as_deref().unwrap_or(DEFAULT_HTTP_LISTEN),
            "http.listen",
            p,
        )
        .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 8443)));
        let mut ip = |value: &Option<String>, path: &str| {
            value.as_deref().and_then(|v| {
                let parsed = v.parse::<IpAddr>().ok();
                if parsed.is_none() {
                    p.push(path, ProblemCode::IpInvalid, &[("value", v)]);
                }
                parsed
            })
        };
        let media = MediaAddrs {
            bind_ip: ip(&self.media.bind_ip, "media.bind_ip"),
            advertise_ip: ip(&self.media.advertise_ip, "media.advertise_ip"),
        };
        let recording = recording_storage(&self.recording, &data_dir, p);
        let config = BootstrapConfig {
            appliance_id: self.appliance_id,
            tenant: self.tenant,
            cloud,
            data_dir,
            secrets_file,
            site_config_file,
            sip: SipListen {
                udp,
                tcp,
                tls,
                tls_cert,
                tls_key,
                tls_ca_file,
                advertise,
            },
            http_listen,
            media,
            log_level: self.log_level.unwrap_or(LogLevel::Info),
            recording,
        };
        problems.finish(config)
    }
}

/// Validates `[recording]`; `data_dir` gives the default directory.
fn recording_storage(raw: &RawRecording, data_dir: &Path, p: &mut Problems) -> RecordingStorage {
    let dir = raw.dir.as_deref().map_or_else(
        || data_dir.join("recordings"),
        |d| absolute(d, "recording.dir", p),
    );
    let mut bounded = |value: Option<i64>, default: u64, min: i64, max: i64, key: &str| {
        let Some(v) = value else { return default };
        if (min..=max).contains(&v) {
            v.cast_unsigned()
        } else {
            p.push(
                key,
                ProblemCode::OutOfRange,
                &[
                    ("value", &v.to_string()),
                    ("min", &min.to_string()),
                    ("max", &max.to_string()),
                ],
            );
            default
        }
    };
    let quota_bytes = bounded(
        raw.quota_bytes,
        DEFAULT_RECORDING_QUOTA_BYTES,
        1024 * 1024,
        i64::MAX,
        "recording.quota_bytes",
    );
    let min_free_bytes = bounded(
        raw.min_free_bytes,
        DEFAULT_RECORDING_MIN_FREE_BYTES,
        0,
        i64::MAX,
        "recording.min_free_bytes",
    );
    let flush_s = bounded(
        raw.flush_interval_s,
        DEFAULT_RECORDING_FLUSH_S,
        1,
        60,
        "recording.flush_interval_s",
    );
    RecordingStorage {
        dir,
        quota_bytes,
        min_free_bytes,
        flush_interval: std::time::Duration::from_secs(flush_s),
        encrypt: raw.encrypt.unwrap_or(false),
    }
}

fn absolute(value: &str, path: &str, p: &mut Problems) -> PathBuf {
    let buf = PathBuf::from(value);
    if !buf.is_absolute() {
        p.push(path, ProblemCode::PathNotAbsolute, &[("value", value)]);
    }
    buf
}

fn socket_addr(value: &str, path: &str, p: &mut Problems) -> Option<SocketAddr> {
    let parsed = value.parse::<SocketAddr>().ok().filter(|a| a.port() != 0);
    if parsed.is_none() {
        p.push(path, ProblemCode::SocketAddrInvalid, &[("value", value)]);
    }
    parsed
}

/// An address to advertise: a unicast IP address (no port, not
/// `0.0.0.0`/`::`, not multicast or broadcast).
fn advertise_ip(value: &str, path: &str, p: &mut Problems) -> Option<IpAddr> {
    let parsed = value.parse::<IpAddr>().ok().filter(|ip| {
        !ip.is_unspecified()
            && !ip.is_multicast()
            && *ip != IpAddr::V4(std::net::Ipv4Addr::BROADCAST)
    });
    if parsed.is_none() {
        p.push(path, ProblemCode::AdvertiseInvalid, &[("value", value)]);
    }
    parsed
}

fn addresses(values: &[String], path: &str, p: &mut Problems) -> Vec<SocketAddr> {
    values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| socket_addr(v, &format!("{path}[{i}]"), p))
        .collect()
}

/// Parses `mqtts://host[:port][/]`; records problems at `path`.
fn mqtt_url(url: &str, path: &str, p: &mut Problems) -> Option<(String, u16)> {
    let Some((scheme, rest)) = url.split_once("://") else {
        p.push(path, ProblemCode::UrlInvalid, &[("value", url)]);
        return None;
    };
    if scheme != "mqtts" {
        p.push(
            path,
            ProblemCode::UrlScheme,
            &[("scheme", scheme), ("expected", "mqtts://")],
        );
        return None;
    }
    let invalid = |p: &mut Problems| {
        p.push(path, ProblemCode::UrlInvalid, &[("value", url)]);
        None
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    let (host, port_text) = if let Some(v6) = authority.strip_prefix('[') {
        // [2001:db8::1]:8883
        let Some((host, after)) = v6.split_once(']') else {
            return invalid(p);
        };
        if after.is_empty() {
            (host, None)
        } else if let Some(port) = after.strip_prefix(':') {
            (host, Some(port))
        } else {
            return invalid(p);
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port_text {
        None => Some(DEFAULT_MQTT_PORT),
        Some(text) => text.parse::<u16>().ok().filter(|p| *p != 0),
    };
    match port {
        Some(port) if is_valid_host(host) => Some((host.to_owned(), port)),
        _ => invalid(p),
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
version = 1
appliance_id = "korenaar-01"
tenant = "korenaar"

[cloud]
mqtt_url = "mqtts://mqtt.example.nl"
ca_file = "/etc/voip-appliance/tls/ca.pem"
cert_file = "/etc/voip-appliance/tls/appliance.pem"
key_file = "/etc/voip-appliance/tls/appliance.key"
"#;

    fn problems_of(text: &str) -> Vec<(String, &'static str)> {
        match BootstrapConfig::from_toml_str(text) {
            Ok(c) => panic!("expected problems, got {c:?}"),
            Err(e) => e
                .problems
                .into_iter()
                .map(|p| (p.path, p.code.id()))
                .collect(),
        }
    }

    #[test]
    fn minimal_file_gets_documented_defaults() {
        let c = BootstrapConfig::from_toml_str(MINIMAL).unwrap();
        let cloud = c.cloud.as_ref().unwrap();
        assert_eq!(
            (cloud.mqtt_host.as_str(), cloud.mqtt_port),
            ("mqtt.example.nl", 8883)
        );
        assert_eq!(c.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
        assert_eq!(c.secrets_file, PathBuf::from(DEFAULT_SECRETS_FILE));
        assert_eq!(c.site_config_file, None);
        assert_eq!(
            c.sip.udp,
            vec!["0.0.0.0:5060".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(c.sip.tcp, c.sip.udp);
        assert!(c.sip.tls.is_empty());
        assert_eq!(c.http_listen, "0.0.0.0:8443".parse::<SocketAddr>().unwrap());
        assert_eq!(c.log_level, LogLevel::Info);
        assert_eq!(c.sip.advertise, None);
        assert_eq!(c.sip.tls_ca_file, None);
        assert_eq!(
            c.recording,
            RecordingStorage {
                dir: PathBuf::from("/var/lib/voip-appliance/recordings"),
                quota_bytes: 4 * 1024 * 1024 * 1024,
                min_free_bytes: 1024 * 1024 * 1024,
                flush_interval: std::time::Duration::from_secs(5),
                encrypt: false,
            }
        );
    }

    #[test]
    fn advertise_and_tls_ca_file_are_read() {
        let text = format!(
            "{MINIMAL}\n[sip]\nadvertise = \"203.0.113.7\"\ntls_ca_file = \"/etc/voip-appliance/tls/trunk-ca.pem\"\n"
        );
        let c = BootstrapConfig::from_toml_str(&text).unwrap();
        assert_eq!(c.sip.advertise, Some("203.0.113.7".parse().unwrap()));
        assert_eq!(
            c.sip.tls_ca_file,
            Some(PathBuf::from("/etc/voip-appliance/tls/trunk-ca.pem"))
        );
        let v6 = format!("{MINIMAL}\n[sip]\nadvertise = \"2001:db8::7\"\n");
        let c = BootstrapConfig::from_toml_str(&v6).unwrap();
        assert_eq!(c.sip.advertise, Some("2001:db8::7".parse().unwrap()));
    }

    #[test]
    fn advertise_must_be_a_unicast_ip_and_ca_file_absolute() {
        for bad in [
            "0.0.0.0",
            "::",
            "224.0.0.1",
            "255.255.255.255",
            "203.0.113.7:5060",
            "pbx.example.nl",
            "",
        ] {
            let text = format!("{MINIMAL}\n[sip]\nadvertise = \"{bad}\"\n");
            assert_eq!(
                problems_of(&text),
                vec![("sip.advertise".to_owned(), "config-advertise-invalid")],
                "{bad}"
            );
        }
        let text = format!("{MINIMAL}\n[sip]\ntls_ca_file = \"ca.pem\"\n");
        assert_eq!(
            problems_of(&text),
            vec![("sip.tls_ca_file".to_owned(), "config-path-not-absolute")]
        );
    }

    #[test]
    fn recording_keys_are_read_and_checked() {
        let ok = format!(
            "{MINIMAL}\n[recording]\ndir = \"/srv/rec\"\nquota_bytes = 2000000000\n\
             min_free_bytes = 0\nflush_interval_s = 10\nencrypt = true\n"
        );
        let c = BootstrapConfig::from_toml_str(&ok).unwrap();
        assert_eq!(c.recording.dir, PathBuf::from("/srv/rec"));
        assert_eq!(c.recording.quota_bytes, 2_000_000_000);
        assert_eq!(c.recording.min_free_bytes, 0);
        assert_eq!(
            c.recording.flush_interval,
            std::time::Duration::from_secs(10)
        );
        assert!(c.recording.encrypt);
        let bad = format!(
            "{MINIMAL}\n[recording]\ndir = \"rec\"\nquota_bytes = 5\n\
             min_free_bytes = -1\nflush_interval_s = 0\nencrypted = true\n"
        );
        let mut got = problems_of(&bad);
        got.sort();
        assert_eq!(
            got,
            [
                ("recording.dir".to_owned(), "config-path-not-absolute"),
                ("recording.encrypted".to_owned(), "config-unknown-key"),
                (
                    "recording.flush_interval_s".to_owned(),
                    "config-value-out-of-range"
                ),
                (
                    "recording.min_free_bytes".to_owned(),
                    "config-value-out-of-range"
                ),
                (
                    "recording.quota_bytes".to_owned(),
                    "config-value-out-of-range"
                ),
            ]
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let text = r#"
version = 1
appliance_id = "Korenaar 01"
tenant = "korenaar"
data_dir = "var/lib/voip"
log_level = "verbose"
colud = 1

[cloud]
mqtt_url = "mqtt://mqtt.example.nl:1883"
ca_file = "/etc/ca.pem"
cert_file = "cert.pem"
key_file = "/etc/key.pem"

[sip]
udp = ["0.0.0.0:5060", "0.0.0.0"]
tls = ["0.0.0.0:5061"]

[http]
listen = "localhost:8443"
"#;
        let mut got = problems_of(text);
        got.sort();
        let mut expected: Vec<(String, &str)> = [
            ("colud", "config-unknown-key"),
            ("log_level", "config-invalid-choice"),
            ("appliance_id", "config-invalid-name"),
            ("cloud.cert_file", "config-path-not-absolute"),
            ("cloud.mqtt_url", "config-url-scheme"),
            ("data_dir", "config-path-not-absolute"),
            ("sip.udp[1]", "config-socket-addr-invalid"),
            ("sip.tls", "config-tls-listen-needs-cert"),
            ("http.listen", "config-socket-addr-invalid"),
        ]
        .into_iter()
        .map(|(p, c)| (p.to_owned(), c))
        .collect();
        expected.sort();
        assert_eq!(got, expected);
    }

    #[test]
    fn media_addresses_are_optional_ip_addresses() {
        let base =
            "version = 1\nappliance_id = \"a\"\ntenant = \"t\"\nsite_config_file = \"/s.toml\"\n";
        let c = BootstrapConfig::from_toml_str(base).unwrap();
        assert_eq!(c.media, MediaAddrs::default());
        let ok =
            format!("{base}[media]\nbind_ip = \"127.0.0.1\"\nadvertise_ip = \"2001:db8::5\"\n");
        let c = BootstrapConfig::from_toml_str(&ok).unwrap();
        assert_eq!(c.media.bind_ip, Some("127.0.0.1".parse().unwrap()));
        assert_eq!(c.media.advertise_ip, Some("2001:db8::5".parse().unwrap()));
        let bad =
            format!("{base}[media]\nbind_ip = \"127.0.0.1:4000\"\nadvertise_ip = \"pbx.local\"\n");
        assert_eq!(
            problems_of(&bad),
            vec![
                ("media.bind_ip".to_owned(), "config-ip-invalid"),
                ("media.advertise_ip".to_owned(), "config-ip-invalid")
            ]
        );
    }

    #[test]
    fn standalone_needs_a_site_config_file() {
        let text = "version = 1\nappliance_id = \"a\"\ntenant = \"t\"\n";
        assert_eq!(
            problems_of(text),
            vec![("site_config_file".to_owned(), "config-missing-key")]
        );
        let ok = format!("{text}site_config_file = \"/etc/voip-appliance/site.toml\"\n");
        let c = BootstrapConfig::from_toml_str(&ok).unwrap();
        assert!(c.cloud.is_none());
    }

    #[test]
    fn mqtt_urls() {
        let table: &[(&str, Option<(&str, u16)>)] = &[
            (
                "mqtts://mqtt.example.nl:8883",
                Some(("mqtt.example.nl", 8883)),
            ),
            ("mqtts://mqtt.example.nl/", Some(("mqtt.example.nl", 8883))),
            ("mqtts://192.0.2.5:9883", Some(("192.0.2.5", 9883))),
            ("mqtts://[2001:db8::5]:8883", Some(("2001:db8::5", 8883))),
            ("mqtts://[2001:db8::5]", Some(("2001:db8::5", 8883))),
            ("mqtts://[2001:db8::5]x", None),
            ("mqtts://mqtt.example.nl:0", None),
            ("mqtts://mqtt.example.nl:99999", None),
            ("mqtts://", None),
            ("mqtt.example.nl:8883", None),
            ("https://mqtt.example.nl", None),
        ];
        for (url, expected) in table {
            let mut p = Problems::new();
            let got = mqtt_url(url, "u", &mut p);
            assert_eq!(got, expected.map(|(h, port)| (h.to_owned(), port)), "{url}");
            assert_eq!(p.is_empty(), expected.is_some(), "{url}");
        }
    }

    #[test]
    fn version_is_checked_first() {
        assert_eq!(
            problems_of("version = 3\nfoo = 1\n"),
            vec![("version".to_owned(), "config-version-unsupported")]
        );
    }

    #[test]
    fn load_reports_a_missing_file() {
        let err = load(Path::new("/nonexistent/voip-appliance/appliance.toml")).unwrap_err();
        assert!(matches!(err, LoadError::Read { .. }));
    }
}
