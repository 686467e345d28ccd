//! Phone numbers: parsing, E.164 normalisation with the Dutch numbering plan,
//! and classification into the classes call permissions are expressed in.
//!
//! [`classify`] turns whatever a user dialled (or a contact record holds)
//! into a [`Classified`]: its [`NumberClass`], its E.164 form when it has one,
//! and the string the appliance actually sends to the trunk or extension.
//!
//! The numbering-plan knowledge (which ranges are geographic, mobile, free,
//! premium, valid lengths, the national and international prefixes) comes
//! from the `phonenumber` crate's copy of libphonenumber's metadata; this
//! module only adds what that metadata cannot know: internal extensions and
//! feature codes of the appliance, and the emergency numbers.
//!
//! # What the `phonenumber` crate says about Dutch numbers
//! `phonenumber::PhoneNumber::number_type` returns, for `+31`:
//! - `FixedLine` for geographic numbers (010…, 020…, 070…);
//! - `Voip` for the nationwide 085 and 091 ranges, `Uan` for 084, 087 and 088
//!   and for the municipal `14 0xx(x)` numbers;
//! - `Mobile` for 06-1…5 and 06-8… and for the 0970 M2M range, `Pager` for
//!   066;
//! - `TollFree` for 0800 with 4 to 7 digits after the prefix;
//! - `PremiumRate` for 0900, 0906 and 0909 alike (it does not tell them
//!   apart, and neither does [`NumberClass`], so no extra prefix checks are
//!   needed);
//! - `Unknown` for anything else, including wrong lengths (`06123`,
//!   `0800 123`).
//!
//! # Decisions
//! - **Emergency.** `112`, `911` and `999` are [`NumberClass::Emergency`] and
//!   always dial `112`. So are `112` written with the own country code
//!   (`+31 112`, `0031 112`) and with the national prefix (`0112`, the habit
//!   of users of old PBXs with a `0` for an outside line): none of these is a
//!   valid number with another meaning, and refusing a call meant for 112 is
//!   worse than routing a mistyped one to it. Emergency takes precedence over
//!   internal extensions, so extensions `112`, `911` and `999` cannot exist.
//! - **Municipal numbers** (`14` followed by the area code without its `0`,
//!   e.g. `14020` for Amsterdam) are [`NumberClass::NationalFixed`]: they are
//!   charged as a normal national call. They cannot be dialled from abroad,
//!   so they have no E.164 form (`e164` is `None`) and are dialled as typed.
//!   They take precedence over internal extensions of the same length: a site
//!   must not number its extensions in the `140xx`/`140xxx` block. Dialled
//!   with a prefix (`014020`, `+31 14020`) they are invalid.
//! - **Nationwide non-geographic** ranges (085, 091, 084, 087, 088) are
//!   [`NumberClass::NationalFixed`]. Note that some operators charge 084/087
//!   above the national rate.
//! - **M2M** (0970…) and **pagers** (066…) are [`NumberClass::Mobile`]: they
//!   are mobile-network numbers and are charged like them.
//! - **Missing trunk prefix.** A Dutch number typed without its leading `0`
//!   (`612345678`) is invalid: that is not how numbers are dialled in the
//!   Netherlands, and guessing would turn mistyped extensions into calls.
//! - **Other short codes** (`116 000`, `1888`, `0900 8844`…) are not special:
//!   a short code within `internal_lengths` is an internal extension, and
//!   `0900 8844` is premium like every 0900 number.
//! - **Shared-cost** numbers (none in the Netherlands, some abroad when used
//!   with another default region) count as premium, the conservative choice
//!   for permissions.
//!
//! # Personal data
//! Phone numbers are personal data. The `Display` (and `Debug`) output of
//! [`E164`], [`Classified`] and the input strings contain the number in
//! clear: never put them in a log line directly. Callers wrap them in
//! `crate::pii::Pii` (`Pii<T>`), which redacts in logs.

use std::fmt;
use std::ops::RangeInclusive;
use std::str::FromStr;

use phonenumber::metadata::{DATABASE, Metadata};
use phonenumber::{Mode, PhoneNumber, Type, country};
use serde::{Deserialize, Serialize};

use crate::i18n::{Locale, tr};

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

    /// Id of the Fluent message holding this class's label
    /// (`shared/locales/*/number.ftl`).
    pub fn message_id(self) -> &'static str {
        match self {
            NumberClass::Internal => "number-class-internal",
            NumberClass::Emergency => "number-class-emergency",
            NumberClass::NationalFixed => "number-class-national-fixed",
            NumberClass::Mobile => "number-class-mobile",
            NumberClass::Service => "number-class-service",
            NumberClass::Premium => "number-class-premium",
            NumberClass::International => "number-class-international",
            NumberClass::Invalid => "number-class-invalid",
        }
    }

    /// The label of this class in `locale` (Dutch for anything a user sees).
    pub fn label(self, locale: Locale) -> String {
        tr(locale, self.message_id(), &[])
    }
}

/// The number every emergency call dials.
pub const EMERGENCY_NUMBER: &str = "112";

/// Short numbers dialled as they are that reach [`EMERGENCY_NUMBER`].
const EMERGENCY_SHORT_NUMBERS: [&str; 3] = ["112", "911", "999"];

/// National significant number that, with the own country code or national
/// prefix, is also taken as emergency (`+31 112`, `0112`).
const EMERGENCY_NATIONAL: u64 = 112;

/// Longer input is invalid without looking further (no real number or
/// feature code comes close, and it bounds the work done on outside input).
const MAX_INPUT_CHARS: usize = 64;

/// Longest feature code accepted (`*21*0612345678#` and the like).
const MAX_FEATURE_CODE_LEN: usize = 32;

/// What [`classify`] needs to know about the site it classifies for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialPlanContext {
    /// Numbering plan of numbers dialled without `+` or international prefix.
    pub default_region: country::Id,
    /// Lengths (in digits) of internal extensions.
    pub internal_lengths: RangeInclusive<usize>,
}

impl Default for DialPlanContext {
    /// The Netherlands, extensions of 2 to 6 digits.
    fn default() -> Self {
        Self {
            default_region: country::Id::NL,
            internal_lengths: 2..=6,
        }
    }
}

/// A number in E.164 form: `+` followed by 7 to 15 digits, the first not 0.
///
/// Serialised as that string. Its `Display` shows the number in clear: wrap
/// it in `crate::pii::Pii` before logging.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct E164(String);

/// Why a string is not an [`E164`] number. Carries no part of the number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum E164Error {
    /// The string does not start with `+`.
    #[error("an E.164 number starts with '+'")]
    MissingPlus,
    /// A character other than an ASCII digit follows the `+`.
    #[error("non-digit at byte {index} of an E.164 number")]
    NonDigit {
        /// Byte offset of the offending character.
        index: usize,
    },
    /// The country code starts with 0.
    #[error("an E.164 number cannot start with +0")]
    LeadingZero,
    /// Too few or too many digits.
    #[error("an E.164 number has {min}..={max} digits, not {digits}", min = E164::MIN_DIGITS, max = E164::MAX_DIGITS)]
    Length {
        /// Number of digits found.
        digits: usize,
    },
}

impl E164 {
    /// Fewest digits of a valid number (e.g. Niue, `+683 4002`).
    pub const MIN_DIGITS: usize = 7;
    /// Most digits E.164 allows.
    pub const MAX_DIGITS: usize = 15;

    /// Validates `value` as `+` and 7 to 15 digits, the first not 0.
    pub fn new(value: impl Into<String>) -> Result<Self, E164Error> {
        let value = value.into();
        let Some(digits) = value.strip_prefix('+') else {
            return Err(E164Error::MissingPlus);
        };
        if let Some(pos) = digits.bytes().position(|b| !b.is_ascii_digit()) {
            return Err(E164Error::NonDigit { index: pos + 1 });
        }
        if !(Self::MIN_DIGITS..=Self::MAX_DIGITS).contains(&digits.len()) {
            return Err(E164Error::Length {
                digits: digits.len(),
            });
        }
        if digits.starts_with('0') {
            return Err(E164Error::LeadingZero);
        }
        Ok(Self(value))
    }

    /// The number with its leading `+`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The digits without the leading `+`.
    pub fn digits(&self) -> &str {
        &self.0[1..]
    }
}

impl FromStr for E164 {
    type Err = E164Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<String> for E164 {
    type Error = E164Error;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<E164> for String {
    fn from(value: E164) -> Self {
        value.0
    }
}

impl AsRef<str> for E164 {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for E164 {
    /// The number in clear. Not for logs: wrap it in `crate::pii::Pii`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The outcome of [`classify`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Classified {
    /// The class permissions are checked against.
    pub class: NumberClass,
    /// The E.164 form, for numbers that have one: external numbers except
    /// national-only ones (municipal `14…`). `None` for internal, emergency
    /// and invalid numbers.
    pub e164: Option<E164>,
    /// What to actually dial: the E.164 form for external numbers, the
    /// digits as typed for national-only numbers, the extension or feature
    /// code for internal numbers, always `112` for emergency, and empty for
    /// invalid input (which must not be dialled).
    pub dial: String,
}

impl Classified {
    /// Whether this number may be dialled at all (whether the caller's
    /// permissions allow it is a separate question).
    pub fn is_dialable(&self) -> bool {
        self.class != NumberClass::Invalid
    }

    fn invalid() -> Self {
        Self {
            class: NumberClass::Invalid,
            e164: None,
            dial: String::new(),
        }
    }

    fn emergency() -> Self {
        Self {
            class: NumberClass::Emergency,
            e164: None,
            dial: EMERGENCY_NUMBER.to_owned(),
        }
    }

    fn internal(dial: String) -> Self {
        Self {
            class: NumberClass::Internal,
            e164: None,
            dial,
        }
    }
}

/// Input after removing visual separators.
enum Cleaned {
    /// `*` or `#` followed by digits, `*` and `#`.
    FeatureCode(String),
    /// Digits typed after a `+`.
    Plus(String),
    /// Digits only, no `+`.
    Digits(String),
}

/// Characters people put in numbers for readability.
fn is_separator(c: char) -> bool {
    c.is_whitespace() || matches!(c, '-' | '.' | '(' | ')' | '/' | '\u{2010}'..='\u{2013}')
}

fn clean(input: &str) -> Option<Cleaned> {
    if input.chars().nth(MAX_INPUT_CHARS).is_some() {
        return None;
    }
    let mut out = String::with_capacity(input.len());
    let mut plus = false;
    for c in input.chars() {
        match c {
            '0'..='9' | '*' | '#' => out.push(c),
            '+' if out.is_empty() && !plus => plus = true,
            c if is_separator(c) => {}
            _ => return None,
        }
    }
    if out.starts_with(['*', '#']) {
        let valid =
            !plus && out.len() <= MAX_FEATURE_CODE_LEN && out.bytes().any(|b| b.is_ascii_digit());
        return valid.then_some(Cleaned::FeatureCode(out));
    }
    if out.is_empty() || out.contains(['*', '#']) {
        return None;
    }
    Some(if plus {
        Cleaned::Plus(out)
    } else {
        Cleaned::Digits(out)
    })
}

/// Classifies dialled input and normalises it to E.164 where it has an
/// E.164 form.
///
/// Accepts digits with spaces, dashes, dots, slashes and parentheses
/// between them, a leading `+` or international prefix (`00` in the
/// Netherlands), `+31 (0)20…`, and feature codes starting with `*` or `#`.
/// Anything else (letters, empty input, numbers the numbering plan does not
/// know) is [`NumberClass::Invalid`]. See the module documentation for the
/// decisions on emergency, municipal and other special numbers.
pub fn classify(input: &str, ctx: &DialPlanContext) -> Classified {
    let Some(cleaned) = clean(input) else {
        return Classified::invalid();
    };
    match cleaned {
        Cleaned::FeatureCode(code) => Classified::internal(code),
        Cleaned::Digits(digits) if EMERGENCY_SHORT_NUMBERS.contains(&digits.as_str()) => {
            Classified::emergency()
        }
        Cleaned::Digits(digits) => classify_digits(digits, ctx),
        Cleaned::Plus(digits) => classify_international_form(&digits, ctx),
    }
}

fn region_metadata(ctx: &DialPlanContext) -> Option<&'static Metadata> {
    DATABASE.by_id(ctx.default_region.as_ref())
}

/// Whether the region's plan marks `national` (a national significant
/// number) as diallable only from inside the country.
fn is_national_only(meta: Option<&Metadata>, national: &str) -> bool {
    meta.and_then(|m| m.descriptors().no_international())
        .is_some_and(|d| d.is_match(national))
}

/// Digits typed without `+`.
fn classify_digits(digits: String, ctx: &DialPlanContext) -> Classified {
    let meta = region_metadata(ctx);
    if let Some(rest) = strip_international_prefix(meta, &digits) {
        return classify_international_form(rest, ctx);
    }
    let national_prefix = meta.and_then(Metadata::national_prefix);
    if national_prefix.is_some_and(|p| digits.starts_with(p)) {
        return classify_parsed(phonenumber::parse(Some(ctx.default_region), &digits), ctx);
    }
    if is_national_only(meta, &digits) {
        return classify_national_only(digits, ctx);
    }
    if !digits.starts_with('0') && ctx.internal_lengths.contains(&digits.len()) {
        return Classified::internal(digits);
    }
    if national_prefix.is_none() {
        // A plan without trunk prefix: national numbers are typed bare.
        return classify_parsed(phonenumber::parse(Some(ctx.default_region), &digits), ctx);
    }
    Classified::invalid()
}

/// A number the plan allows only from inside the country, typed as is.
fn classify_national_only(digits: String, ctx: &DialPlanContext) -> Classified {
    let Ok(number) = phonenumber::parse(Some(ctx.default_region), &digits) else {
        return Classified::invalid();
    };
    match domestic_class(number.number_type(&DATABASE)) {
        NumberClass::Invalid => Classified::invalid(),
        class => Classified {
            class,
            e164: None,
            dial: digits,
        },
    }
}

/// The rest of `digits` after the region's international prefix (`00` in
/// the Netherlands), if it starts with one.
fn strip_international_prefix<'a>(meta: Option<&Metadata>, digits: &'a str) -> Option<&'a str> {
    let found = meta?.international_prefix()?.find(digits)?;
    (found.start() == 0).then(|| &digits[found.end()..])
}

/// Digits after `+` or the international prefix.
///
/// Parsed without a default region: `phonenumber` 0.3.10 strips the default
/// region's national prefix from the national number of any country, which
/// breaks numbers whose national number starts with 0 (Italy: `+39 06…`).
fn classify_international_form(digits: &str, ctx: &DialPlanContext) -> Classified {
    classify_parsed(phonenumber::parse(None, format!("+{digits}")), ctx)
}

/// A number with `+`, international prefix or national prefix.
fn classify_parsed(
    parsed: Result<PhoneNumber, phonenumber::ParseError>,
    ctx: &DialPlanContext,
) -> Classified {
    let Ok(number) = parsed else {
        return Classified::invalid();
    };
    if number.extension().is_some() {
        return Classified::invalid();
    }
    let meta = region_metadata(ctx);
    let domestic = meta.is_some_and(|m| m.country_code() == number.code().value());
    if domestic && number.national().value() == EMERGENCY_NATIONAL && number.national().zeros() == 0
    {
        return Classified::emergency();
    }
    let class = if domestic {
        if is_national_only(meta, &number.national().to_string()) {
            // Municipal numbers must be dialled as they are, without prefix.
            return Classified::invalid();
        }
        domestic_class(number.number_type(&DATABASE))
    } else if number.is_valid() {
        // Not `number_type`: in 0.3.10 it drops the leading zeros of the
        // national number and answers `Unknown` for valid Italian numbers.
        NumberClass::International
    } else {
        NumberClass::Invalid
    };
    if class == NumberClass::Invalid {
        return Classified::invalid();
    }
    match E164::new(e164_string(&number)) {
        Ok(e164) => Classified {
            class,
            dial: e164.as_str().to_owned(),
            e164: Some(e164),
        },
        Err(_) => Classified::invalid(),
    }
}

fn e164_string(number: &PhoneNumber) -> String {
    number.format().mode(Mode::E164).to_string()
}

/// Maps the crate's number type of a number in the own country to a class.
fn domestic_class(number_type: Type) -> NumberClass {
    match number_type {
        Type::FixedLine
        | Type::FixedLineOrMobile
        | Type::Voip
        | Type::Uan
        | Type::PersonalNumber
        | Type::StandardRate => NumberClass::NationalFixed,
        Type::Mobile | Type::Pager => NumberClass::Mobile,
        Type::TollFree => NumberClass::Service,
        Type::PremiumRate | Type::SharedCost => NumberClass::Premium,
        Type::Emergency
        | Type::Voicemail
        | Type::ShortCode
        | Type::Carrier
        | Type::NoInternational
        | Type::Unknown => NumberClass::Invalid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::catalogue;

    use NumberClass::{
        Emergency, Internal, International, Invalid, Mobile, NationalFixed, Premium, Service,
    };

    /// (input, class, e164, dial). `dial` is the e164 when `None` and e164 is
    /// `Some`.
    const CASES: &[(&str, NumberClass, Option<&str>, Option<&str>)] = &[
        // Dutch geographic.
        ("0201234567", NationalFixed, Some("+31201234567"), None),
        ("020-1234567", NationalFixed, Some("+31201234567"), None),
        ("020 123 45 67", NationalFixed, Some("+31201234567"), None),
        ("(020) 123 4567", NationalFixed, Some("+31201234567"), None),
        ("020/1234567", NationalFixed, Some("+31201234567"), None),
        ("010.123.45.67", NationalFixed, Some("+31101234567"), None),
        ("0701234567", NationalFixed, Some("+31701234567"), None),
        ("+31201234567", NationalFixed, Some("+31201234567"), None),
        (
            "+31 (0)20 123 4567",
            NationalFixed,
            Some("+31201234567"),
            None,
        ),
        ("0031201234567", NationalFixed, Some("+31201234567"), None),
        ("  0201234567\t", NationalFixed, Some("+31201234567"), None),
        (
            "020\u{a0}1234567",
            NationalFixed,
            Some("+31201234567"),
            None,
        ),
        // Nationwide non-geographic.
        ("088 1234567", NationalFixed, Some("+31881234567"), None),
        ("085 1234567", NationalFixed, Some("+31851234567"), None),
        ("091 1234567", NationalFixed, Some("+31911234567"), None),
        ("084 1234567", NationalFixed, Some("+31841234567"), None),
        ("087 1234567", NationalFixed, Some("+31871234567"), None),
        // Municipal: national only, dialled as typed.
        ("14020", NationalFixed, None, Some("14020")),
        ("14 020", NationalFixed, None, Some("14020")),
        ("140118", NationalFixed, None, Some("140118")),
        ("014020", Invalid, None, Some("")),
        ("+31 14020", Invalid, None, Some("")),
        // Mobile.
        ("0612345678", Mobile, Some("+31612345678"), None),
        ("06-12345678", Mobile, Some("+31612345678"), None),
        ("+31 6 1234 5678", Mobile, Some("+31612345678"), None),
        ("0031612345678", Mobile, Some("+31612345678"), None),
        ("00 31 6 12 34 56 78", Mobile, Some("+31612345678"), None),
        ("0682345678", Mobile, Some("+31682345678"), None),
        ("0662345678", Mobile, Some("+31662345678"), None),
        ("0970 1234 5678", Mobile, Some("+3197012345678"), None),
        // Service (0800) with 4 and 7 digits; wrong lengths are invalid.
        ("0800-1234", Service, Some("+318001234"), None),
        ("0800 1234567", Service, Some("+318001234567"), None),
        ("+31 800 1234", Service, Some("+318001234"), None),
        ("0800 123", Invalid, None, Some("")),
        ("0800 12345678", Invalid, None, Some("")),
        // Premium.
        ("0900 1234567", Premium, Some("+319001234567"), None),
        ("0900-8844", Premium, Some("+319008844"), None),
        ("0906 1234", Premium, Some("+319061234"), None),
        ("0906-1234567", Premium, Some("+319061234567"), None),
        ("0909 1234567", Premium, Some("+319091234567"), None),
        ("+31 909 1234567", Premium, Some("+319091234567"), None),
        // International.
        ("+32 2 555 12 12", International, Some("+3225551212"), None),
        ("0032 2 555 12 12", International, Some("+3225551212"), None),
        ("+1 212 555 0100", International, Some("+12125550100"), None),
        (
            "+1 (650) 253-0000",
            International,
            Some("+16502530000"),
            None,
        ),
        (
            "+44 20 7946 0000",
            International,
            Some("+442079460000"),
            None,
        ),
        (
            "0044 20 7946 0000",
            International,
            Some("+442079460000"),
            None,
        ),
        (
            "+49 151 23456789",
            International,
            Some("+4915123456789"),
            None,
        ),
        ("+683 4002", International, Some("+6834002"), None),
        (
            "+39 06 1234 5678",
            International,
            Some("+390612345678"),
            None,
        ),
        (
            "0039 06 1234 5678",
            International,
            Some("+390612345678"),
            None,
        ),
        (
            "+39 02 3661 8300",
            International,
            Some("+390236618300"),
            None,
        ),
        ("+32 2", Invalid, None, Some("")),
        ("+999 123456", Invalid, None, Some("")),
        ("+0 123456789", Invalid, None, Some("")),
        // Emergency: always dials 112.
        ("112", Emergency, None, Some("112")),
        ("1 1 2", Emergency, None, Some("112")),
        ("911", Emergency, None, Some("112")),
        ("999", Emergency, None, Some("112")),
        ("+31 112", Emergency, None, Some("112")),
        ("0031112", Emergency, None, Some("112")),
        ("0112", Emergency, None, Some("112")),
        // Internal extensions and feature codes.
        ("201", Internal, None, Some("201")),
        ("20", Internal, None, Some("20")),
        ("123456", Internal, None, Some("123456")),
        ("2 01", Internal, None, Some("201")),
        ("1888", Internal, None, Some("1888")),
        ("*43", Internal, None, Some("*43")),
        ("#21#", Internal, None, Some("#21#")),
        ("*21*201#", Internal, None, Some("*21*201#")),
        ("*", Invalid, None, Some("")),
        ("*#", Invalid, None, Some("")),
        ("+*43", Invalid, None, Some("")),
        ("2", Invalid, None, Some("")),
        ("1234567", Invalid, None, Some("")),
        // Missing trunk prefix, wrong lengths, junk.
        ("612345678", Invalid, None, Some("")),
        ("06123", Invalid, None, Some("")),
        ("061234567", Invalid, None, Some("")),
        ("06123456789", Invalid, None, Some("")),
        ("020123456", Invalid, None, Some("")),
        ("0", Invalid, None, Some("")),
        ("00", Invalid, None, Some("")),
        ("abc", Invalid, None, Some("")),
        ("06-CALLME", Invalid, None, Some("")),
        ("tel:+31201234567", Invalid, None, Some("")),
        ("020 1234567 ext 12", Invalid, None, Some("")),
        ("020*1234567", Invalid, None, Some("")),
        ("+31+201234567", Invalid, None, Some("")),
        ("", Invalid, None, Some("")),
        ("   ", Invalid, None, Some("")),
        ("+", Invalid, None, Some("")),
        ("-", Invalid, None, Some("")),
    ];

    #[test]
    fn classify_table() {
        let ctx = DialPlanContext::default();
        let mut failures = Vec::new();
        for &(input, class, e164, dial) in CASES {
            let expected = Classified {
                class,
                e164: e164.map(|e| E164::new(e).unwrap()),
                dial: dial.or(e164).unwrap().to_owned(),
            };
            let got = classify(input, &ctx);
            if got != expected {
                failures.push(format!("{input:?}: expected {expected:?}, got {got:?}"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn overlong_input_is_invalid_without_parsing() {
        let ctx = DialPlanContext::default();
        let long = format!("020{}", " ".repeat(MAX_INPUT_CHARS));
        assert_eq!(classify(&long, &ctx).class, Invalid);
        let code = format!("*{}", "1".repeat(MAX_FEATURE_CODE_LEN));
        assert_eq!(classify(&code, &ctx).class, Invalid);
    }

    #[test]
    fn internal_lengths_come_from_the_context() {
        let ctx = DialPlanContext {
            internal_lengths: 3..=4,
            ..DialPlanContext::default()
        };
        assert_eq!(classify("20", &ctx).class, Invalid);
        assert_eq!(classify("201", &ctx).class, Internal);
        assert_eq!(classify("2010", &ctx).class, Internal);
        assert_eq!(classify("20100", &ctx).class, Invalid);
        // Municipal numbers and emergency win over extensions.
        assert_eq!(
            classify("14020", &DialPlanContext::default()).class,
            NationalFixed
        );
        assert_eq!(classify("999", &ctx).class, Emergency);
    }

    #[test]
    fn default_region_decides_what_is_international() {
        let be = DialPlanContext {
            default_region: country::Id::BE,
            ..DialPlanContext::default()
        };
        let dutch = classify("+31 20 123 4567", &be);
        assert_eq!(dutch.class, International);
        let brussels = classify("02 555 12 12", &be);
        assert_eq!(brussels.class, NationalFixed);
        assert_eq!(brussels.dial, "+3225551212");
        assert_eq!(classify("112", &be).class, Emergency);
    }

    #[test]
    fn every_class_has_dutch_and_english_label() {
        for locale in [Locale::NlNl, Locale::En] {
            for class in NumberClass::ALL {
                assert!(
                    catalogue(locale).has(class.message_id()),
                    "{} lacks {}",
                    locale.tag(),
                    class.message_id()
                );
            }
        }
        assert_eq!(NumberClass::Mobile.label(Locale::NlNl), "Mobiel");
        assert_eq!(NumberClass::Mobile.label(Locale::En), "Mobile");
    }

    #[test]
    fn message_ids_are_distinct() {
        let mut ids: Vec<_> = NumberClass::ALL.iter().map(|c| c.message_id()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), NumberClass::ALL.len());
    }

    #[test]
    fn number_class_serde_names_are_stable() {
        let names: Vec<String> = NumberClass::ALL
            .iter()
            .map(|c| serde_json::to_string(c).unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "\"internal\"",
                "\"emergency\"",
                "\"national_fixed\"",
                "\"mobile\"",
                "\"service\"",
                "\"premium\"",
                "\"international\"",
                "\"invalid\"",
            ]
        );
    }

    #[test]
    fn e164_validation() {
        let cases: &[(&str, Result<(), E164Error>)] = &[
            ("+31201234567", Ok(())),
            ("+6834002", Ok(())),
            ("+123456789012345", Ok(())),
            ("31201234567", Err(E164Error::MissingPlus)),
            ("", Err(E164Error::MissingPlus)),
            ("+", Err(E164Error::Length { digits: 0 })),
            ("+123456", Err(E164Error::Length { digits: 6 })),
            ("+1234567890123456", Err(E164Error::Length { digits: 16 })),
            ("+31 20", Err(E164Error::NonDigit { index: 3 })),
            ("++31201234567", Err(E164Error::NonDigit { index: 1 })),
            ("+0201234567", Err(E164Error::LeadingZero)),
            ("+3120123456٧", Err(E164Error::NonDigit { index: 11 })),
        ];
        for (input, expected) in cases {
            assert_eq!(E164::new(*input).map(|_| ()), *expected, "input {input:?}");
        }
    }

    #[test]
    fn e164_serde_is_a_validated_string() {
        let e = E164::new("+31201234567").unwrap();
        assert_eq!(serde_json::to_string(&e).unwrap(), "\"+31201234567\"");
        assert_eq!(serde_json::from_str::<E164>("\"+31201234567\"").unwrap(), e);
        assert!(serde_json::from_str::<E164>("\"0201234567\"").is_err());
        assert_eq!(e.digits(), "31201234567");
        assert_eq!(e.to_string(), "+31201234567");
    }

    #[test]
    fn classified_serde_round_trip() {
        let c = classify("0612345678", &DialPlanContext::default());
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(
            json,
            r#"{"class":"mobile","e164":"+31612345678","dial":"+31612345678"}"#
        );
        assert_eq!(serde_json::from_str::<Classified>(&json).unwrap(), c);
        assert!(c.is_dialable());
        assert!(!classify("abc", &DialPlanContext::default()).is_dialable());
    }

    #[test]
    fn e164_error_does_not_echo_the_number() {
        let err = E164::new("+3161234567890123").unwrap_err();
        assert!(!err.to_string().contains("3161234"));
    }
}
