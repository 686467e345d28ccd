//! `ack`: the cloud's end-to-end acknowledgement of stored records.

use serde::{Deserialize, Serialize};

use super::SchemaVersion;

/// Payload of `ack` (cloud to appliance).
///
/// `up_to_seq` is the highest `seq` such that every record with a `seq` up to
/// and including it is durably stored by the cloud. The appliance deletes
/// those records from its outbox; acks are cumulative, so a lost or
/// out-of-order ack is harmless (a lower `up_to_seq` than already seen is
/// ignored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// Schema version of this payload.
    pub schema: SchemaVersion,
    /// Highest contiguous `seq` durably stored.
    pub up_to_seq: u64,
}
