//! Phone numbers: parsing, E.164 normalisation with the Dutch numbering plan,
//! and classification into the classes call permissions are expressed in.

use serde::{Deserialize, Serialize};

/// The class of a dialled number. Permission profiles allow or deny calls by
/// class; `Emergency` is always allowed whatever a profile says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NumberClass {
    /// An extension on the same appliance (short number, no leading 0 or +).
    Internal,
    /// 112 (and 911/999, which are redirected to 112).
    Emergency,
    /// A Dutch geographic or nationwide non-geographic number.
    NationalFixed,
    /// A Dutch mobile number (06...).
    Mobile,
    /// A free service number (0800).
    Service,
    /// A premium-rate number (0900, 0906, 0909).
    Premium,
    /// A number outside the Netherlands.
    International,
    /// Anything that is not a valid number.
    Invalid,
}

impl NumberClass {
    /// Every class, in declaration order.
    pub const ALL: [NumberClass; 8] = [
        NumberClass::Internal,
        NumberClass::Emergency,
        NumberClass::NationalFixed,
        NumberClass::Mobile,
        NumberClass::Service,
        NumberClass::Premium,
        NumberClass::International,
        NumberClass::Invalid,
    ];
}
