//! Wrappers for personal data and credentials.
//!
//! Phone numbers, SIP URIs, display names and credentials are personal data
//! under the AVG/GDPR. Wrapping them in [`Pii`] or [`Secret`] keeps them out of
//! logs: `Debug` and `Display` redact, while serde is transparent so the wire
//! (MQTT, the HTTP API, configuration files) still carries the real value.
//!
//! # Redaction rule of [`Pii`]
//! The output is always `***`, followed by the last two characters of the
//! value **only when** the value is a phone number: it consists of ASCII
//! digits and the separators `+ - . ( ) /` and space only, holds at least six
//! digits, and ends in two digits. `+31201234567` shows as `Pii(***67)`.
//! Everything else (short extensions such as `201`, SIP URIs, names,
//! addresses) shows no character at all: `Pii(***)`. The length of the value
//! is never revealed. Two digits are enough to tell calls apart in a log while
//! identifying nobody.
//!
//! [`Secret`] is for credentials and never shows any character: `Secret(***)`.
//!
//! Reading the value takes an explicit call to `expose()` or `into_inner()`,
//! so every place that handles the clear value can be found with `grep`.

use std::borrow::Cow;
use std::fmt;
use std::net::{IpAddr, SocketAddr};

use serde::{Deserialize, Serialize};

/// The placeholder written instead of a hidden value.
const MASK: &str = "***";

/// Minimum number of digits a phone number needs before its tail may be shown.
const MIN_DIGITS_FOR_TAIL: usize = 6;

/// Number of trailing characters shown when the rule allows it.
const TAIL_LEN: usize = 2;

/// How a type wrapped in [`Pii`] is redacted.
///
/// The only decision a type makes is which short tail, if any, may be
/// shown after `***`. The default shows nothing, so `impl Redact for T {}`
/// is the safe choice for any new type.
pub trait Redact {
    /// The characters that may appear after `***`, or `None` for none.
    fn visible_tail(&self) -> Option<&str> {
        None
    }
}

/// Applies the module's rule to a string: the last two digits of a phone
/// number with at least six digits, nothing for anything else.
fn digit_tail(s: &str) -> Option<&str> {
    let bytes = s.as_bytes();
    let phone_like = bytes
        .iter()
        .all(|b| b.is_ascii_digit() || b"+-.()/ ".contains(b));
    let digits = bytes.iter().filter(|b| b.is_ascii_digit()).count();
    if !phone_like || digits < MIN_DIGITS_FOR_TAIL {
        return None;
    }
    // The string is pure ASCII, so every index is a char boundary.
    let start = bytes.len() - TAIL_LEN;
    bytes[start..]
        .iter()
        .all(u8::is_ascii_digit)
        .then(|| &s[start..])
}

impl Redact for str {
    fn visible_tail(&self) -> Option<&str> {
        digit_tail(self)
    }
}

impl Redact for String {
    fn visible_tail(&self) -> Option<&str> {
        digit_tail(self)
    }
}

impl Redact for Box<str> {
    fn visible_tail(&self) -> Option<&str> {
        digit_tail(self)
    }
}

impl Redact for Cow<'_, str> {
    fn visible_tail(&self) -> Option<&str> {
        digit_tail(self)
    }
}

impl Redact for IpAddr {}
impl Redact for SocketAddr {}

impl<T: Redact + ?Sized> Redact for &T {
    fn visible_tail(&self) -> Option<&str> {
        (**self).visible_tail()
    }
}

/// Personal data (phone number, SIP URI, display name, address) that must
/// never appear in clear in a log. See the [module docs](self) for the rule.
///
/// ```
/// use voip_shared::pii::Pii;
/// let to = Pii::new("+31201234567".to_owned());
/// assert_eq!(format!("{to:?}"), "Pii(***67)");
/// assert_eq!(to.to_string(), "***67");
/// assert_eq!(to.expose(), "+31201234567");
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Pii<T>(T);

impl<T> Pii<T> {
    /// Wraps a value.
    pub const fn new(value: T) -> Self {
        Self(value)
    }

    /// The clear value. Never pass it to a log macro.
    pub const fn expose(&self) -> &T {
        &self.0
    }

    /// Unwraps the clear value.
    pub fn into_inner(self) -> T {
        self.0
    }

    /// Applies `f` to the value, keeping the result wrapped.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Pii<U> {
        Pii(f(self.0))
    }
}

impl<T> From<T> for Pii<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

impl<T: Redact> fmt::Display for Pii<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)?;
        if let Some(tail) = self.0.visible_tail() {
            f.write_str(tail)?;
        }
        Ok(())
    }
}

impl<T: Redact> fmt::Debug for Pii<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pii({self})")
    }
}

/// A credential (password, token, API key) that never shows any of its
/// characters in `Debug` or `Display`.
///
/// Serde is transparent: site configuration sent to an appliance has to carry
/// trunk passwords. Equality compares in constant time for equal lengths
/// (best effort: the compiler gives no hard guarantee).
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret<T = String>(T);

impl<T> Secret<T> {
    /// Wraps a credential.
    pub const fn new(value: T) -> Self {
        Self(value)
    }

    /// The clear credential. Never pass it to a log macro.
    pub const fn expose(&self) -> &T {
        &self.0
    }

    /// Unwraps the clear credential.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({MASK})")
    }
}

impl<T: AsRef<[u8]>> PartialEq for Secret<T> {
    fn eq(&self, other: &Self) -> bool {
        constant_time_eq(self.0.as_ref(), other.0.as_ref())
    }
}

impl<T: AsRef<[u8]>> Eq for Secret<T> {}

/// Compares without an early exit on the first differing byte.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a
        .iter()
        .zip(b)
        .fold(0u8, |acc, (x, y)| std::hint::black_box(acc | (x ^ y)));
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values that look like personal data, with what `Display` must show.
    const CASES: &[(&str, &str)] = &[
        ("+31201234567", "***67"),
        ("0612345678", "***78"),
        ("123456", "***56"),
        ("12345", "***"),
        ("201", "***"),
        ("", "***"),
        ("sip:anna@example.nl", "***"),
        ("sip:+31201234567@trunk.example.nl", "***"),
        ("Anna de Vries", "***"),
        ("020-123 45 67", "***67"),
        ("(020) 1234567", "***67"),
        ("+31 6 1234567-", "***"),
        ("kamer 12", "***"),
        ("Dorpsstraat 123456", "***"),
        ("ÅÅÅÅ123456", "***"),
        ("tel:+31201234567", "***"),
    ];

    #[test]
    fn display_and_debug_follow_the_tail_rule() {
        for (value, shown) in CASES {
            let pii = Pii::new((*value).to_owned());
            assert_eq!(pii.to_string(), *shown, "Display of {value:?}");
            assert_eq!(
                format!("{pii:?}"),
                format!("Pii({shown})"),
                "Debug of {value:?}"
            );
            assert_eq!(
                format!("{pii:#?}"),
                format!("Pii({shown})"),
                "alt Debug of {value:?}"
            );
        }
    }

    #[test]
    fn debug_and_display_never_contain_the_value() {
        for (value, _) in CASES {
            if value.len() <= TAIL_LEN {
                continue; // "" and two-character strings are substrings of anything.
            }
            let pii = Pii::new(*value);
            for out in [pii.to_string(), format!("{pii:?}"), format!("{pii:#?}")] {
                assert!(!out.contains(value), "{out:?} leaks {value:?}");
            }
        }
    }

    #[test]
    fn pii_inside_a_derived_debug_is_redacted() {
        #[derive(Debug)]
        #[allow(dead_code)] // Fields are read by Debug only.
        struct Leg {
            to: Pii<String>,
            from: Pii<&'static str>,
        }
        let leg = Leg {
            to: Pii::new("+31201234567".to_owned()),
            from: Pii::new("sip:anna@example.nl"),
        };
        let out = format!("{leg:?}");
        assert_eq!(out, "Leg { to: Pii(***67), from: Pii(***) }");
    }

    #[test]
    fn addresses_show_no_character() {
        let addr: SocketAddr = "192.0.2.10:5060".parse().unwrap();
        assert_eq!(format!("{:?}", Pii::new(addr)), "Pii(***)");
    }

    #[test]
    fn serde_is_transparent() {
        let pii = Pii::new("+31201234567".to_owned());
        let json = serde_json::to_string(&pii).unwrap();
        assert_eq!(json, r#""+31201234567""#);
        let back: Pii<String> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, pii);

        let secret = Secret::new("hunter2-long-password".to_owned());
        let json = serde_json::to_string(&secret).unwrap();
        assert_eq!(json, r#""hunter2-long-password""#);
        let back: Secret = serde_json::from_str(&json).unwrap();
        assert_eq!(back, secret);
    }

    #[test]
    fn expose_and_into_inner_give_the_clear_value() {
        let pii = Pii::from("0612345678".to_owned());
        assert_eq!(pii.expose(), "0612345678");
        assert_eq!(pii.clone().map(|s| s.len()).into_inner(), 10);
        assert_eq!(pii.into_inner(), "0612345678");
        let secret = Secret::from("pw");
        assert_eq!(*secret.expose(), "pw");
        assert_eq!(secret.into_inner(), "pw");
    }

    #[test]
    fn secret_never_shows_any_character() {
        for value in [
            "x",
            "12345678",
            "+31201234567",
            "correct horse battery staple",
        ] {
            let secret = Secret::new(value.to_owned());
            assert_eq!(secret.to_string(), "***");
            assert_eq!(format!("{secret:?}"), "Secret(***)");
            assert_eq!(format!("{secret:#?}"), "Secret(***)");
        }
    }

    #[test]
    fn secret_equality_compares_content() {
        let a = Secret::new("abc".to_owned());
        assert_eq!(a, Secret::new("abc".to_owned()));
        assert_ne!(a, Secret::new("abd".to_owned()));
        assert_ne!(a, Secret::new("abcd".to_owned()));
        assert_ne!(a, Secret::new(String::new()));
    }
}
