//! Serde helpers shared by the message types.

use serde::Serializer;
use serde::ser::Error as _;

/// Serialises an `f64`, refusing NaN and infinities: `serde_json` would
/// write them as `null`, which the reader then rejects for a required number
/// (a poison record that would block the outbox).
#[allow(clippy::trivially_copy_pass_by_ref)] // serde's `serialize_with` passes `&T`.
pub(super) fn finite<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    if value.is_finite() {
        serializer.serialize_f64(*value)
    } else {
        Err(S::Error::custom(format_args!(
            "non-finite number {value} cannot be encoded"
        )))
    }
}

/// [`finite`] for optional numbers; `None` is written as `null`.
#[allow(clippy::ref_option)] // serde's `serialize_with` passes `&Option<T>`.
pub(super) fn finite_opt<S: Serializer>(
    value: &Option<f64>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(v) => finite(v, serializer),
        None => serializer.serialize_none(),
    }
}
