//! Normalising the called number of inbound trunk calls.

use voip_shared::number::{DialPlanContext, E164, classify};

/// The E.164 form of a called number as a provider sends it in the To or
/// Request-URI user part, or `None` when it has none.
///
/// Accepts `+31301234567`, `0031301234567`, national `0301234567` (through
/// [`classify`] with the default numbering plan), and the international
/// form without `+` that many providers send (`31301234567`). URI user
/// parameters after `;` are ignored. Numbers the numbering plan does not know
/// (test ranges) are still accepted in the `+`, `00` and bare international
/// forms, as long as they are well-formed E.164, so that any DID the site
/// configuration accepts can match.
pub fn normalise_did(raw: &str) -> Option<E164> {
    let user = raw.split(';').next().unwrap_or_default().trim();
    if let Some(e164) = classify(user, &DialPlanContext::default()).e164 {
        return Some(e164);
    }
    let compact: String = user
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')' | '/'))
        .collect();
    let candidate = if compact.starts_with('+') {
        compact
    } else if let Some(rest) = compact.strip_prefix("00") {
        format!("+{rest}")
    } else if compact.starts_with('0') {
        return None;
    } else {
        format!("+{compact}")
    };
    E164::new(candidate).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_forms_normalise_to_the_same_e164() {
        let table: &[(&str, Option<&str>)] = &[
            ("+31301234567", Some("+31301234567")),
            ("0031301234567", Some("+31301234567")),
            ("31301234567", Some("+31301234567")),
            ("0301234567", Some("+31301234567")),
            ("+31301234567;npdi", Some("+31301234567")),
            ("+31 30 123 4567", Some("+31301234567")),
            // Unknown to the numbering plan but well-formed E.164.
            ("+999123456789", Some("+999123456789")),
            ("0030", None),
            ("abc", None),
            ("", None),
            ("0123", None),
        ];
        for (raw, expected) in table {
            assert_eq!(
                normalise_did(raw).as_ref().map(E164::as_str),
                *expected,
                "{raw:?}"
            );
        }
    }
}
