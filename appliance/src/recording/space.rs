//! Free space of the file system that holds the recordings.

use std::io;
use std::path::Path;

/// Bytes available to unprivileged users on the file system of `path`
/// (`statvfs(2)`: `f_bavail * f_frsize`; root's reserved blocks do not
/// count, so the floor also protects the rest of the system).
pub fn free_bytes(path: &Path) -> io::Result<u64> {
    let st = rustix::fs::statvfs(path)?;
    Ok(st.f_bavail.saturating_mul(st.f_frsize))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn reports_free_space_of_an_existing_directory_and_fails_for_a_missing_one() {
        let free = free_bytes(&std::env::temp_dir()).unwrap();
        assert!(free > 0);
        assert!(free_bytes(Path::new("/nonexistent/voip-recordings")).is_err());
    }
}
