//! systemd's notification protocol (`sd_notify(3)`), without libsystemd:
//! `READY=1` once the daemon serves, `WATCHDOG=1` pings at half the
//! `WatchdogSec=` interval, `STOPPING=1` at shutdown. Outside systemd
//! (`NOTIFY_SOCKET` unset) every call is a no-op.
//!
//! The watchdog task runs on the same runtime as the engine, so a wedged
//! runtime stops the pings and systemd restarts the service.

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::time::Duration;

/// Where notifications go: a datagram socket path or a Linux abstract
/// socket (`@name`).
#[derive(Debug, Clone)]
pub struct Notifier {
    target: Option<Target>,
}

#[derive(Debug, Clone)]
enum Target {
    Path(PathBuf),
    Abstract(Vec<u8>),
}

impl Notifier {
    /// The notifier of this process, from `NOTIFY_SOCKET`.
    pub fn from_env() -> Self {
        Self::from_value(
            std::env::var_os("NOTIFY_SOCKET").map(|v| v.to_string_lossy().into_owned()),
        )
    }

    /// The notifier for a `NOTIFY_SOCKET` value (`None`: not under systemd).
    pub fn from_value(value: Option<String>) -> Self {
        let target = value
            .filter(|v| !v.is_empty())
            .map(|v| match v.strip_prefix('@') {
                Some(name) => Target::Abstract(name.as_bytes().to_vec()),
                None => Target::Path(PathBuf::from(v)),
            });
        Notifier { target }
    }

    /// Whether notifications are sent anywhere.
    pub fn is_enabled(&self) -> bool {
        self.target.is_some()
    }

    /// Sends `state` (e.g. `READY=1`); errors are logged, never fatal.
    pub fn notify(&self, state: &str) {
        let Some(target) = &self.target else {
            return;
        };
        let result = UnixDatagram::unbound().and_then(|socket| match target {
            Target::Path(path) => socket.send_to(state.as_bytes(), path).map(|_| ()),
            Target::Abstract(name) => {
                use std::os::linux::net::SocketAddrExt as _;
                let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
                socket.send_to_addr(state.as_bytes(), &addr).map(|_| ())
            }
        });
        if let Err(error) = result {
            tracing::warn!(%error, "sd_notify failed");
        }
    }
}

/// The watchdog ping interval: half of `WATCHDOG_USEC` when it is set for
/// this process (`WATCHDOG_PID` absent or ours), else `None`.
pub fn watchdog_interval(usec: Option<&str>, pid: Option<&str>) -> Option<Duration> {
    if let Some(pid) = pid
        && pid.parse::<u32>().ok() != Some(std::process::id())
    {
        return None;
    }
    let usec: u64 = usec?.parse().ok().filter(|u| *u > 0)?;
    Some(Duration::from_micros(usec / 2))
}

/// Spawns the watchdog pinger when systemd asked for one.
pub fn spawn_watchdog(notifier: &Notifier) -> Option<tokio::task::JoinHandle<()>> {
    if !notifier.is_enabled() {
        return None;
    }
    let usec = std::env::var("WATCHDOG_USEC").ok();
    let pid = std::env::var("WATCHDOG_PID").ok();
    let interval = watchdog_interval(usec.as_deref(), pid.as_deref())?;
    let notifier = notifier.clone();
    Some(tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        loop {
            ticker.tick().await;
            notifier.notify("WATCHDOG=1");
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_reach_the_socket_named_by_notify_socket() {
        let dir = std::env::temp_dir().join(format!("voip-sdnotify-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify.sock");
        let listener = UnixDatagram::bind(&path).unwrap();
        let notifier = Notifier::from_value(Some(path.display().to_string()));
        assert!(notifier.is_enabled());
        notifier.notify("READY=1");
        let mut buf = [0u8; 64];
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn without_notify_socket_nothing_is_sent() {
        assert!(!Notifier::from_value(None).is_enabled());
        assert!(!Notifier::from_value(Some(String::new())).is_enabled());
        Notifier::from_value(None).notify("READY=1");
    }

    #[test]
    fn watchdog_pings_at_half_the_interval_for_this_process_only() {
        let me = std::process::id().to_string();
        assert_eq!(
            watchdog_interval(Some("30000000"), Some(&me)),
            Some(Duration::from_secs(15))
        );
        assert_eq!(
            watchdog_interval(Some("30000000"), None),
            Some(Duration::from_secs(15))
        );
        assert_eq!(watchdog_interval(Some("30000000"), Some("1")), None);
        assert_eq!(watchdog_interval(None, None), None);
        assert_eq!(watchdog_interval(Some("0"), None), None);
        assert_eq!(watchdog_interval(Some("junk"), None), None);
    }
}
