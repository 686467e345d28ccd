//! Configuration problems: one per finding, each with the key path, a stable
//! code (a Fluent message id) and the rendered Dutch and English texts.

use std::fmt;

use serde::Serialize;

use crate::i18n::{Locale, Value, tr};

macro_rules! problem_codes {
    ($( $(#[$doc:meta])* $variant:ident => $id:literal, )*) => {
        /// Every kind of configuration problem. The id of a code is its
        /// Fluent message id in `config.ftl` (both locales).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ProblemCode {
            $( $(#[$doc])* $variant, )*
        }

        impl ProblemCode {
            /// Every code, in declaration order (the catalogue test walks it).
            pub const ALL: &'static [ProblemCode] = &[$(ProblemCode::$variant,)*];

            /// The stable id: the Fluent message id of the code.
            pub fn id(self) -> &'static str {
                match self {
                    $(ProblemCode::$variant => $id,)*
                }
            }
        }
    };
}

problem_codes! {
    /// The file is not valid TOML (or the JSON is not valid JSON).
    Syntax => "config-syntax",
    /// The document (or a section that must be a table) is not a table/object.
    NotATable => "config-not-a-table",
    /// `version` is missing.
    VersionMissing => "config-version-missing",
    /// `version` is not a schema version this build understands.
    VersionUnsupported => "config-version-unsupported",
    /// A key the schema does not know (usually a typo).
    UnknownKey => "config-unknown-key",
    /// A password written inline instead of referring to the secrets file.
    InlinePassword => "config-inline-password",
    /// A required key is absent.
    MissingKey => "config-missing-key",
    /// A value outside a closed set of choices (transport, codec, ...).
    InvalidChoice => "config-invalid-choice",
    /// A value of the wrong type (string where a number is expected, ...).
    InvalidType => "config-invalid-type",
    /// A text value that must not be empty is empty.
    Empty => "config-empty",
    /// A text value is longer than allowed.
    TooLong => "config-too-long",
    /// A number outside its allowed range.
    OutOfRange => "config-value-out-of-range",
    /// An identifier (trunk id, credentials name, tenant, ...) with characters
    /// outside `a-z`, `0-9`, `-`, `_`.
    InvalidName => "config-invalid-name",
    /// A name (profile, policy, rule) used twice.
    DuplicateName => "config-duplicate-name",
    /// A list that must have at least one element is empty.
    EmptyList => "config-empty-list",
    /// A port of 0 or above 65535.
    PortOutOfRange => "config-port-out-of-range",
    /// A host that is neither an IP address nor a DNS name.
    HostInvalid => "config-host-invalid",
    /// Two trunks with the same id.
    DuplicateTrunkId => "config-duplicate-trunk-id",
    /// Two trunks with the same priority.
    DuplicateTrunkPriority => "config-duplicate-trunk-priority",
    /// A reference to a trunk id that does not exist.
    UnknownTrunk => "config-unknown-trunk",
    /// A network that is not valid CIDR notation.
    CidrInvalid => "config-cidr-invalid",
    /// A value that is not an IP address (IPv4 or IPv6, no port).
    IpInvalid => "config-ip-invalid",
    /// An inbound number that is not E.164 (`+` and 8 to 15 digits).
    DidNotE164 => "config-did-not-e164",
    /// The same inbound number twice on one trunk.
    DuplicateDid => "config-duplicate-did",
    /// An empty codec list.
    EmptyCodecList => "config-empty-codec-list",
    /// The same codec twice in one list.
    DuplicateCodec => "config-duplicate-codec",
    /// A codec list with only `telephone-event`.
    NoAudioCodec => "config-no-audio-codec",
    /// An extension number that is not 2 to 6 digits (or starts with 0).
    ExtensionNumberInvalid => "config-extension-number-invalid",
    /// Two extensions with the same number.
    DuplicateExtension => "config-duplicate-extension",
    /// An extension number equal to the echo test number.
    ExtensionCollidesEchoTest => "config-extension-collides-echo-test",
    /// An extension number equal to an emergency number (112, 911, 999).
    ExtensionEmergencyNumber => "config-extension-emergency-number",
    /// A reference to an extension that does not exist.
    UnknownExtension => "config-unknown-extension",
    /// A reference to a permission profile that does not exist.
    UnknownPermissionProfile => "config-unknown-permission-profile",
    /// A reference to a recording policy that does not exist.
    UnknownRecordingPolicy => "config-unknown-recording-policy",
    /// A dial plan pattern that does not compile.
    PatternInvalid => "config-pattern-invalid",
    /// A dial plan rule that strips more digits than its pattern guarantees.
    StripTooLong => "config-strip-too-long",
    /// A dial string (prefix, DTMF code, echo test number) with characters
    /// other than digits, `*`, `#` (and a leading `+` for prefixes).
    DialStringInvalid => "config-dial-string-invalid",
    /// The number class `invalid` in a permission profile.
    ClassNotPermittable => "config-class-not-permittable",
    /// An RTP port range with fewer ports than the minimum.
    RtpRangeTooSmall => "config-rtp-range-too-small",
    /// An RTP port range starting on an odd port.
    RtpStartOdd => "config-rtp-start-odd",
    /// A URL that does not parse.
    UrlInvalid => "config-url-invalid",
    /// A URL with the wrong scheme.
    UrlScheme => "config-url-scheme",
    /// A file or directory path that is not absolute.
    PathNotAbsolute => "config-path-not-absolute",
    /// A listen address that is not `ip:port`.
    SocketAddrInvalid => "config-socket-addr-invalid",
    /// A TLS listener without certificate and key.
    TlsListenNeedsCertificate => "config-tls-listen-needs-cert",
    /// An `advertise` address that is not a unicast IP address.
    AdvertiseInvalid => "config-advertise-invalid",
}

impl fmt::Display for ProblemCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl Serialize for ProblemCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.id())
    }
}

/// One problem found in a configuration document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigProblem {
    /// Key path of the offending value, e.g. `trunks[1].port`; empty for
    /// the document as a whole.
    pub path: String,
    /// What is wrong.
    pub code: ProblemCode,
    /// Dutch text for installers and the dashboard.
    pub message_nl: String,
    /// English text for logs and the CLI.
    pub message_en: String,
}

impl ConfigProblem {
    /// Builds a problem, rendering its text in both locales from the
    /// catalogue with `args` as Fluent arguments.
    pub fn new(path: impl Into<String>, code: ProblemCode, args: &[(&str, &str)]) -> Self {
        let fargs: Vec<(&str, Value<'_>)> =
            args.iter().map(|(k, v)| (*k, Value::from(*v))).collect();
        Self {
            path: path.into(),
            code,
            message_nl: tr(Locale::NlNl, code.id(), &fargs),
            message_en: tr(Locale::En, code.id(), &fargs),
        }
    }

    /// The message in `locale`.
    pub fn message(&self, locale: Locale) -> &str {
        match locale {
            Locale::NlNl => &self.message_nl,
            Locale::En => &self.message_en,
        }
    }
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{} ({})", self.message_en, self.code)
        } else {
            write!(f, "{}: {} ({})", self.path, self.message_en, self.code)
        }
    }
}

/// A configuration that was rejected, with every problem found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration rejected: {} problem(s), first: {}", .problems.len(), first(.problems))]
pub struct InvalidConfig {
    /// Every problem, in document order as far as it is known.
    pub problems: Vec<ConfigProblem>,
}

fn first(problems: &[ConfigProblem]) -> String {
    problems
        .first()
        .map(ToString::to_string)
        .unwrap_or_default()
}

/// Collects problems while a document is checked.
#[derive(Debug, Default)]
pub struct Problems {
    list: Vec<ConfigProblem>,
}

impl Problems {
    /// An empty collection.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a problem at `path`.
    pub fn push(&mut self, path: impl Into<String>, code: ProblemCode, args: &[(&str, &str)]) {
        self.list.push(ConfigProblem::new(path, code, args));
    }

    /// Records an already built problem.
    pub fn push_problem(&mut self, problem: ConfigProblem) {
        self.list.push(problem);
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Number of problems recorded.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// `Ok(value)` when nothing was recorded, otherwise every problem.
    pub fn finish<T>(self, value: T) -> Result<T, InvalidConfig> {
        if self.list.is_empty() {
            Ok(value)
        } else {
            Err(InvalidConfig {
                problems: self.list,
            })
        }
    }

    /// The problems recorded so far.
    pub fn into_vec(self) -> Vec<ConfigProblem> {
        self.list
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::catalogue;

    #[test]
    fn every_problem_code_has_dutch_and_english_text() {
        for locale in [Locale::NlNl, Locale::En] {
            let c = catalogue(locale);
            for code in ProblemCode::ALL {
                assert!(c.has(code.id()), "{} lacks {}", locale.tag(), code.id());
            }
        }
    }

    #[test]
    fn problem_codes_are_unique_fluent_ids() {
        let mut seen = std::collections::HashSet::new();
        for code in ProblemCode::ALL {
            let id = code.id();
            assert!(seen.insert(id), "duplicate id {id}");
            assert!(id.starts_with("config-"));
            assert!(
                id.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            );
        }
    }

    #[test]
    fn arguments_are_rendered_in_both_languages() {
        let p = ConfigProblem::new(
            "trunks[1].port",
            ProblemCode::PortOutOfRange,
            &[("value", "70000")],
        );
        assert!(p.message_nl.contains("70000"), "{}", p.message_nl);
        assert!(p.message_en.contains("70000"), "{}", p.message_en);
        assert_ne!(p.message_nl, p.message_en);
        assert_eq!(
            p.to_string(),
            format!(
                "trunks[1].port: {} (config-port-out-of-range)",
                p.message_en
            )
        );
    }
}
