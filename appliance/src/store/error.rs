//! Errors of the `SQLite` store.

use voip_shared::mqtt::EncodeError;

/// Why a store operation failed. A failed write leaves the database as it
/// was before the call (every write runs in one transaction).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// `SQLite` reported an error (I/O, full disk, locked database, ...).
    #[error("sqlite error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The database was written by a newer build (a higher schema version
    /// than this build knows). Nothing was changed; run the newer build or
    /// restore a backup.
    #[error(
        "database schema version {found} is newer than the newest this build supports ({supported}); refusing to open it"
    )]
    NewerSchema {
        /// `PRAGMA user_version` of the file.
        found: i64,
        /// The newest schema version this build knows.
        supported: i64,
    },
    /// The file system does not support WAL mode (e.g. a network file
    /// system); the durability guarantees depend on it.
    #[error("the database cannot use WAL mode (journal mode is `{mode}`)")]
    WalUnavailable {
        /// The journal mode `SQLite` reported instead.
        mode: String,
    },
    /// The record cannot be encoded as an MQTT payload (a non-finite number
    /// or an unrepresentable timestamp). Nothing was written.
    #[error("record cannot be encoded: {0}")]
    Encode(#[from] EncodeError),
    /// A value does not fit the column that stores it (a timestamp outside
    /// the years 1678 to 2261, or an integer above `i64::MAX`).
    #[error("value of `{field}` is out of the storable range")]
    OutOfRange {
        /// The field's name.
        field: &'static str,
    },
    /// An event of a type this build does not know cannot be sent
    /// ([`EventKind::Unknown`](voip_shared::mqtt::EventKind::Unknown)).
    #[error("an event of unknown type cannot be enqueued")]
    UnknownEvent,
    /// A stored value cannot be read back (the file was edited or damaged).
    #[error("stored value in {table}.{column} is invalid: {reason}")]
    Corrupt {
        /// Table name.
        table: &'static str,
        /// Column name.
        column: &'static str,
        /// What is wrong (never contains personal data).
        reason: String,
    },
    /// `PRAGMA integrity_check` found problems.
    #[error("database integrity check failed: {}", problems.join("; "))]
    IntegrityCheckFailed {
        /// The problems `SQLite` reported.
        problems: Vec<String>,
    },
}
