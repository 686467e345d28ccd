//! Phone numbers of contacts (address book, CRM integrations) and how to
//! dial them.
//!
//! The JSON field names are part of the contract with the integrations and
//! are spelled exactly as the struct fields. Unknown fields are ignored so
//! that an integration may send more than we read.
//!
//! A [`ContactPhoneNumber`] holds personal data: its `Debug` output shows the
//! number and label in clear. Wrap it (or the number) in `crate::pii::Pii`
//! before it goes anywhere near a log.

use serde::{Deserialize, Serialize};

use crate::number::{Classified, DialPlanContext, classify};

/// One phone number of a contact, as stored or received from an integration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactPhoneNumber {
    /// The number as entered, in any notation [`classify`] accepts
    /// (`020-123 45 67`, `+31 6 1234 5678`, an extension).
    pub number: String,
    /// Free label shown next to the number ("Mobiel", "Kantoor").
    pub label: String,
    /// What the telephony system this contact came from says about the number.
    /// Absent (or `null`) when the contact source has no telephony integration.
    pub voip_integration_details: Option<VoipIntegrationDetails>,
}

/// How a contact's number relates to a telephony system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoipIntegrationDetails {
    /// Name of the telephony system (shown to the user).
    pub system_name: String,
    /// Whether that system can place calls to this number.
    pub can_dial_via_system: bool,
}

impl ContactPhoneNumber {
    /// Classifies [`Self::number`] for dialling: its class, E.164 form and
    /// what to dial. Does not look at
    /// [`VoipIntegrationDetails::can_dial_via_system`]; deciding which system
    /// places the call is the caller's business.
    pub fn dialable(&self, ctx: &DialPlanContext) -> Classified {
        classify(&self.number, ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::number::{E164, NumberClass};

    const WITH_DETAILS: &str = r#"{"number":"06-12345678","label":"Mobiel","voip_integration_details":{"system_name":"Kantoorcentrale","can_dial_via_system":true}}"#;
    const WITHOUT_DETAILS: &str =
        r#"{"number":"020 123 4567","label":"Kantoor","voip_integration_details":null}"#;

    fn with_details() -> ContactPhoneNumber {
        ContactPhoneNumber {
            number: "06-12345678".to_owned(),
            label: "Mobiel".to_owned(),
            voip_integration_details: Some(VoipIntegrationDetails {
                system_name: "Kantoorcentrale".to_owned(),
                can_dial_via_system: true,
            }),
        }
    }

    #[test]
    fn serialises_with_exact_field_names() {
        assert_eq!(
            serde_json::to_string(&with_details()).unwrap(),
            WITH_DETAILS
        );
        let without = ContactPhoneNumber {
            number: "020 123 4567".to_owned(),
            label: "Kantoor".to_owned(),
            voip_integration_details: None,
        };
        assert_eq!(serde_json::to_string(&without).unwrap(), WITHOUT_DETAILS);
    }

    #[test]
    fn golden_json_round_trips() {
        for json in [WITH_DETAILS, WITHOUT_DETAILS] {
            let parsed: ContactPhoneNumber = serde_json::from_str(json).unwrap();
            assert_eq!(serde_json::to_string(&parsed).unwrap(), json);
        }
        assert_eq!(
            serde_json::from_str::<ContactPhoneNumber>(WITH_DETAILS).unwrap(),
            with_details()
        );
    }

    #[test]
    fn missing_details_and_unknown_fields_are_accepted() {
        let json = r#"{"number":"201","label":"Receptie","extra":1}"#;
        let parsed: ContactPhoneNumber = serde_json::from_str(json).unwrap();
        assert_eq!(parsed.voip_integration_details, None);
        assert_eq!(parsed.number, "201");
    }

    #[test]
    fn missing_required_fields_are_rejected() {
        for json in [
            r#"{"label":"Mobiel","voip_integration_details":null}"#,
            r#"{"number":"201","voip_integration_details":null}"#,
            r#"{"number":"201","label":"x","voip_integration_details":{"system_name":"A"}}"#,
            r#"{"number":"201","label":"x","voip_integration_details":{"can_dial_via_system":true}}"#,
        ] {
            assert!(
                serde_json::from_str::<ContactPhoneNumber>(json).is_err(),
                "accepted {json}"
            );
        }
    }

    #[test]
    fn dialable_classifies_the_number() {
        let ctx = DialPlanContext::default();
        let mobile = with_details().dialable(&ctx);
        assert_eq!(mobile.class, NumberClass::Mobile);
        assert_eq!(mobile.e164, Some(E164::new("+31612345678").unwrap()));
        assert_eq!(mobile.dial, "+31612345678");

        let mut extension = with_details();
        extension.number = "201".to_owned();
        assert_eq!(extension.dialable(&ctx).class, NumberClass::Internal);

        let mut junk = with_details();
        junk.number = "onbekend".to_owned();
        assert!(!junk.dialable(&ctx).is_dialable());
    }
}
