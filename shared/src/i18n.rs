//! Message catalogue (Fluent). Dutch (nl-NL) is the user-facing language;
//! English (`en`) exists for logs, CLI output and developers.
//!
//! Each area of the crate keeps its messages in its own `.ftl` file under
//! `shared/locales/<locale>/`; all of them are compiled into the binary.

use std::sync::OnceLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use unic_langid::{LanguageIdentifier, langid};

/// A locale the catalogue has messages for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Locale {
    /// Dutch (Netherlands): every user-facing text.
    NlNl,
    /// English: logs, CLI, developer-facing text.
    En,
}

impl Locale {
    /// BCP 47 tag of the locale.
    pub fn tag(self) -> &'static str {
        match self {
            Locale::NlNl => "nl-NL",
            Locale::En => "en",
        }
    }

    fn langid(self) -> LanguageIdentifier {
        match self {
            Locale::NlNl => langid!("nl-NL"),
            Locale::En => langid!("en"),
        }
    }

    fn sources(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Locale::NlNl => NL_NL_SOURCES,
            Locale::En => EN_SOURCES,
        }
    }
}

macro_rules! ftl_sources {
    ($locale:literal: $($file:literal),* $(,)?) => {
        &[$(($file, include_str!(concat!("../locales/", $locale, "/", $file)))),*]
    };
}

/// Every resource file of the catalogue, per locale. Add a file here when an
/// area gets its own messages.
const NL_NL_SOURCES: &[(&str, &str)] = ftl_sources!("nl-NL": "errors.ftl", "config.ftl", "call.ftl", "number.ftl", "ui.ftl", "quality.ftl");
const EN_SOURCES: &[(&str, &str)] = ftl_sources!("en": "errors.ftl", "config.ftl", "call.ftl", "number.ftl", "ui.ftl", "quality.ftl");

/// A loaded catalogue for one locale.
pub struct Catalogue {
    locale: Locale,
    bundle: FluentBundle<FluentResource>,
}

impl std::fmt::Debug for Catalogue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalogue")
            .field("locale", &self.locale)
            .finish_non_exhaustive()
    }
}

/// A problem found while loading the compiled-in catalogue. Only a broken
/// build can produce one; the catalogue test catches it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogueError {
    #[error("{locale}/{file}: Fluent syntax error: {detail}")]
    Syntax {
        locale: &'static str,
        file: &'static str,
        detail: String,
    },
    #[error("{locale}/{file}: message `{id}` defined twice")]
    Duplicate {
        locale: &'static str,
        file: &'static str,
        id: String,
    },
}

impl Catalogue {
    /// Parses every resource of `locale`, reporting all problems at once.
    pub fn load(locale: Locale) -> Result<Self, Vec<CatalogueError>> {
        let mut bundle = FluentBundle::new_concurrent(vec![locale.langid()]);
        // Unicode isolation marks confuse terminals, logs and test assertions.
        bundle.set_use_isolating(false);
        let mut errors = Vec::new();
        for (file, source) in locale.sources() {
            let resource = match FluentResource::try_new((*source).to_owned()) {
                Ok(r) => r,
                Err((r, errs)) => {
                    errors.extend(errs.into_iter().map(|e| CatalogueError::Syntax {
                        locale: locale.tag(),
                        file,
                        detail: e.to_string(),
                    }));
                    r
                }
            };
            if let Err(errs) = bundle.add_resource(resource) {
                errors.extend(errs.into_iter().map(|e| CatalogueError::Duplicate {
                    locale: locale.tag(),
                    file,
                    id: format!("{e:?}"),
                }));
            }
        }
        if errors.is_empty() {
            Ok(Self { locale, bundle })
        } else {
            Err(errors)
        }
    }

    /// The locale of this catalogue.
    pub fn locale(&self) -> Locale {
        self.locale
    }

    /// Whether a message with this id (and a value) exists.
    pub fn has(&self, id: &str) -> bool {
        self.bundle
            .get_message(id)
            .is_some_and(|m| m.value().is_some())
    }

    /// Formats message `id` with `args`. A missing message yields the id
    /// itself in brackets, so a gap is visible instead of an empty string.
    pub fn format(&self, id: &str, args: &[(&str, FluentValue<'_>)]) -> String {
        let Some(pattern) = self.bundle.get_message(id).and_then(|m| m.value()) else {
            return format!("[{id}]");
        };
        let mut fargs = FluentArgs::new();
        for (k, v) in args {
            fargs.set(*k, v.clone());
        }
        let mut errs = Vec::new();
        self.bundle
            .format_pattern(pattern, Some(&fargs), &mut errs)
            .into_owned()
    }
}

/// The process-wide catalogue of `locale`, loaded on first use.
///
/// # Panics
/// Never at run time for a tested build: the compiled-in resources are
/// checked by `every_resource_parses` below.
pub fn catalogue(locale: Locale) -> &'static Catalogue {
    static NL: OnceLock<Catalogue> = OnceLock::new();
    static EN: OnceLock<Catalogue> = OnceLock::new();
    let cell = match locale {
        Locale::NlNl => &NL,
        Locale::En => &EN,
    };
    cell.get_or_init(|| match Catalogue::load(locale) {
        Ok(c) => c,
        Err(errors) => {
            // Unreachable in a tested build; fall back to an empty bundle so
            // lookups show `[id]` rather than taking the process down.
            let _ = errors;
            Catalogue {
                locale,
                bundle: FluentBundle::new_concurrent(vec![locale.langid()]),
            }
        }
    })
}

/// Shorthand: formats `id` in `locale`.
pub fn tr(locale: Locale, id: &str, args: &[(&str, FluentValue<'_>)]) -> String {
    catalogue(locale).format(id, args)
}

pub use fluent_bundle::FluentValue as Value;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_resource_parses() {
        for locale in [Locale::NlNl, Locale::En] {
            if let Err(errors) = Catalogue::load(locale) {
                panic!("catalogue {} is broken: {errors:#?}", locale.tag());
            }
        }
    }

    #[test]
    fn missing_message_is_visible() {
        assert_eq!(
            tr(Locale::NlNl, "no-such-message-id", &[]),
            "[no-such-message-id]"
        );
    }

    #[test]
    fn arguments_are_substituted_without_isolation_marks() {
        let c = catalogue(Locale::NlNl);
        assert!(c.has("ui-app-name"));
        assert_eq!(
            tr(Locale::NlNl, "ui-greeting", &[("name", "Anna".into())]),
            "Welkom, Anna"
        );
    }
}
