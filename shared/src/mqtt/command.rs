//! `cmd` and `cmd/result`: commands from the cloud and their outcome.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::SchemaVersion;

/// Payload of `cmd` (cloud to appliance, never retained).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Command {
    /// Schema version of this payload.
    pub schema: SchemaVersion,
    /// Unique id chosen by the cloud; echoed in the result. The appliance
    /// remembers recent ids and does not run a redelivered command twice.
    pub cmd_id: String,
    /// When the cloud issued the command.
    #[serde(with = "time::serde::rfc3339")]
    pub issued_at: OffsetDateTime,
    /// After this instant the appliance refuses the command; `null` = never.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub expires_at: Option<OffsetDateTime>,
    /// What to do.
    pub command: CommandKind,
}

impl Command {
    /// Whether the command has expired at `now`.
    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        self.expires_at.is_some_and(|t| now >= t)
    }
}

/// The command itself, tagged by its `type` field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CommandKind {
    /// Click-to-call: ring the extension, then call the number.
    Originate(Originate),
    /// End a call.
    Hangup(CallTarget),
    /// Reload the stored site configuration.
    ReloadConfig,
    /// Install a signed software update.
    Update(Update),
    /// Start recording a call.
    StartRecording(CallTarget),
    /// Stop recording a call.
    StopRecording(CallTarget),
    /// A command type added in a later minor version; the appliance answers
    /// it with an error result (`cmd.unsupported`). Never sent.
    #[serde(other)]
    Unknown,
}

/// Body of `originate`.
///
/// `to_number` is personal data: the `Debug` output redacts it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Originate {
    /// The extension that rings first.
    pub from_extension: String,
    /// The number to call once it answers (E.164 or an extension).
    pub to_number: String,
    /// Click-to-call session id of the cloud's `VoipService` API.
    pub session_id: String,
}

impl fmt::Debug for Originate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Originate")
            .field("from_extension", &self.from_extension)
            .field("to_number", &"<redacted>")
            .field("session_id", &self.session_id)
            .finish()
    }
}

/// Body of the commands that act on one call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallTarget {
    /// The call to act on.
    pub call_id: String,
}

/// Body of `update`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Update {
    /// Software version to install.
    pub version: String,
    /// Where to download the image (HTTPS).
    pub url: String,
    /// SHA-256 of the image, lowercase hex.
    pub sha256: String,
    /// Signature over the image digest, base64.
    pub signature: String,
}

/// Why a command failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandError {
    /// Stable dotted code, e.g. `cmd.expired`, `cmd.unsupported`, `call.not_found`.
    pub code: String,
    /// English developer-facing explanation; never personal data.
    pub message: String,
}

/// Payload of `cmd/result` (appliance to cloud).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandResult {
    /// Schema version of this payload.
    pub schema: SchemaVersion,
    /// The command's id.
    pub cmd_id: String,
    /// Whether the command succeeded.
    pub ok: bool,
    /// Why it failed; `null` when `ok`.
    pub error: Option<CommandError>,
    /// Command-specific result data (e.g. the new call's id); `null` if none.
    pub detail: Option<serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn command(expires_at: Option<OffsetDateTime>) -> Command {
        Command {
            schema: SchemaVersion::CURRENT,
            cmd_id: "x".into(),
            issued_at: datetime!(2026-11-21 10:00 UTC),
            expires_at,
            command: CommandKind::ReloadConfig,
        }
    }

    #[test]
    fn expiry_is_inclusive_and_absent_means_never() {
        let at = datetime!(2026-11-21 10:01 UTC);
        let c = command(Some(at));
        assert!(!c.is_expired(datetime!(2026-11-21 10:00:59 UTC)));
        assert!(c.is_expired(at));
        assert!(!command(None).is_expired(datetime!(2100-01-01 0:00 UTC)));
    }

    #[test]
    fn originate_debug_redacts_number() {
        let o = Originate {
            from_extension: "201".into(),
            to_number: "+31612345678".into(),
            session_id: "s".into(),
        };
        assert!(!format!("{o:?}").contains("612345678"));
    }
}
