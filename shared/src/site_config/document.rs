//! From text or a JSON tree to raw structs, collecting every shape problem
//! (unknown key, wrong type, missing key) with its key path instead of
//! stopping at the first one as plain serde would.
//!
//! TOML documents are first converted to a [`serde_json::Value`] tree, so a
//! file and an MQTT message go through exactly the same code.
//!
//! How every problem is found: the raw structs use `deny_unknown_fields`;
//! deserialisation is retried after each error with the offending key removed
//! from the tree (the error's key path comes from `serde_path_to_error`).
//! Lists at the top of a document are deserialised element by element, so a
//! broken trunk does not hide the problems of the next one.

use std::collections::HashSet;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use serde_path_to_error::Segment;

use super::problem::{ConfigProblem, ProblemCode, Problems};

/// Keys that hold a password; they are reported with
/// [`ProblemCode::InlinePassword`] instead of [`ProblemCode::UnknownKey`].
const PASSWORD_KEYS: [&str; 3] = ["password", "passwd", "secret"];

/// The file passwords belong in, named in the inline-password message.
pub const DEFAULT_SECRETS_FILE: &str = "/etc/voip-appliance/secrets.toml";

/// Upper bound on retries for one value: a document with more shape
/// problems than this is reported partially.
const MAX_ATTEMPTS: usize = 200;

/// Parses TOML text into a JSON tree.
pub fn toml_to_value(text: &str) -> Result<Value, ConfigProblem> {
    let table: toml::Table = toml::from_str(text).map_err(|e| {
        let (line, column) = e
            .span()
            .map_or((0, 0), |span| line_and_column(text, span.start));
        ConfigProblem::new(
            "",
            ProblemCode::Syntax,
            &[
                ("line", &line.to_string()),
                ("column", &column.to_string()),
                ("detail", e.message()),
            ],
        )
    })?;
    serde_json::to_value(table).map_err(|e| {
        ConfigProblem::new(
            "",
            ProblemCode::Syntax,
            &[("line", "0"), ("column", "0"), ("detail", &e.to_string())],
        )
    })
}

/// 1-based line and column of byte `offset` in `text`.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Checks the `version` key of a document: present and equal to `supported`.
/// Returns `false` (with the problem recorded) when the rest of the document
/// must not be interpreted.
pub fn check_version(doc: &Map<String, Value>, supported: u64, problems: &mut Problems) -> bool {
    let supported_text = supported.to_string();
    match doc.get("version") {
        None => {
            problems.push(
                "version",
                ProblemCode::VersionMissing,
                &[("supported", &supported_text)],
            );
            false
        }
        Some(v) if v.as_u64() == Some(supported) => true,
        Some(v) => {
            problems.push(
                "version",
                ProblemCode::VersionUnsupported,
                &[("version", &v.to_string()), ("supported", &supported_text)],
            );
            false
        }
    }
}

/// The elements of one top-level list, deserialised one by one.
#[derive(Debug)]
pub struct ListItems<T> {
    /// Elements that deserialised, with their index in the document.
    pub items: Vec<(usize, T)>,
    /// Raw trees of the elements that did not (their problems are recorded).
    pub broken: Vec<Value>,
}

impl<T> Default for ListItems<T> {
    fn default() -> Self {
        Self {
            items: Vec::new(),
            broken: Vec::new(),
        }
    }
}

impl<T> ListItems<T> {
    /// The string values of `key` in the broken elements, so references to
    /// a broken element are not reported a second time as unknown.
    pub fn broken_names(&self, key: &str) -> HashSet<String> {
        self.broken
            .iter()
            .filter_map(|v| v.get(key)?.as_str().map(str::to_owned))
            .collect()
    }
}

/// Takes the array at `key` out of `doc` (leaving an empty array, so the
/// enclosing struct still deserialises) and deserialises each element on its
/// own. A value that is not an array is left in place for the enclosing
/// struct to report.
pub fn take_list<T: DeserializeOwned>(
    doc: &mut Map<String, Value>,
    key: &str,
    problems: &mut Problems,
) -> ListItems<T> {
    let mut out = ListItems::default();
    let Some(Value::Array(elements)) = doc.get_mut(key) else {
        return out;
    };
    let elements = std::mem::take(elements);
    for (index, element) in elements.into_iter().enumerate() {
        let path = format!("{key}[{index}]");
        match deserialize_collecting::<T>(element.clone(), &path, problems) {
            Some(item) => out.items.push((index, item)),
            None => out.broken.push(element),
        }
    }
    out
}

/// Deserialises `value` into `T`, recording every shape problem under the
/// key path prefix `base`. Returns `None` when `T` could not be built.
pub fn deserialize_collecting<T: DeserializeOwned>(
    mut value: Value,
    base: &str,
    problems: &mut Problems,
) -> Option<T> {
    let mut removed: HashSet<String> = HashSet::new();
    for _ in 0..MAX_ATTEMPTS {
        // After a removal the value may deserialise: the caller still gets
        // it (for cross-reference checks); the recorded problems reject the
        // document as a whole.
        let err = match serde_path_to_error::deserialize::<_, T>(&value) {
            Ok(v) => return Some(v),
            Err(err) => err,
        };
        let segments: Vec<Segment> = err.path().iter().cloned().collect();
        let message = err.inner().to_string();
        let mut remove_at = segments.clone();
        if let Some(field) = quoted_after(&message, "missing field `") {
            let mut full = segments.clone();
            full.push(Segment::Map {
                key: field.to_owned(),
            });
            let full_path = render_path(base, &full);
            if !removed.contains(&full_path) {
                problems.push(
                    full_path.clone(),
                    ProblemCode::MissingKey,
                    &[("key", field)],
                );
                removed.insert(full_path);
            }
        } else {
            let path = render_path(base, &segments);
            problems.push_problem(classify(&path, &segments, &message));
            removed.insert(path);
        }
        // Remove up to the last map key: removing an array element would
        // shift the indices of later errors, so the whole array goes.
        while !matches!(remove_at.last(), Some(Segment::Map { .. })) {
            remove_at.pop()?;
        }
        removed.insert(render_path(base, &remove_at));
        if !remove_value(&mut value, &remove_at) {
            return None;
        }
    }
    None
}

fn classify(path: &str, segments: &[Segment], message: &str) -> ConfigProblem {
    if let Some(key) = quoted_after(message, "unknown field `") {
        if PASSWORD_KEYS.contains(&key) {
            return ConfigProblem::new(
                path,
                ProblemCode::InlinePassword,
                &[("key", key), ("file", DEFAULT_SECRETS_FILE)],
            );
        }
        return ConfigProblem::new(path, ProblemCode::UnknownKey, &[("key", key)]);
    }
    if let Some(value) = quoted_after(message, "unknown variant `") {
        let allowed = message
            .split_once("expected ")
            .map_or(String::new(), |(_, rest)| {
                rest.trim_start_matches("one of ").replace('`', "")
            });
        return ConfigProblem::new(
            path,
            ProblemCode::InvalidChoice,
            &[("value", value), ("allowed", &allowed)],
        );
    }
    let key = segments.iter().rev().find_map(|s| match s {
        Segment::Map { key } => Some(key.as_str()),
        _ => None,
    });
    ConfigProblem::new(
        path,
        ProblemCode::InvalidType,
        &[
            ("key", key.unwrap_or("")),
            ("detail", &redact_string(message)),
        ],
    )
}

/// Drops the quoted string from serde's `invalid type: string "…", expected
/// …` so a misplaced phone number or credential is not echoed in messages.
fn redact_string(message: &str) -> String {
    const MARK: &str = "string \"";
    if let Some(start) = message.find(MARK) {
        let rest = &message[start + MARK.len()..];
        if let Some(end) = rest.rfind("\", expected") {
            return format!("{}string{}", &message[..start], &rest[end + 1..]);
        }
    }
    message.to_owned()
}

/// The text between `prefix` and the next backtick in `message`.
fn quoted_after<'m>(message: &'m str, prefix: &str) -> Option<&'m str> {
    let rest = message.strip_prefix(prefix)?;
    rest.split_once('`').map(|(quoted, _)| quoted)
}

/// Renders a key path: `base` followed by `.key` and `[index]` segments.
fn render_path(base: &str, segments: &[Segment]) -> String {
    let mut out = base.to_owned();
    for segment in segments {
        match segment {
            Segment::Seq { index } => {
                out.push('[');
                out.push_str(&index.to_string());
                out.push(']');
            }
            Segment::Map { key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Enum { .. } | Segment::Unknown => {}
        }
    }
    out
}

/// Removes the value at `path` (which ends in a map key). Returns whether
/// something was removed.
fn remove_value(value: &mut Value, path: &[Segment]) -> bool {
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let mut current = value;
    for segment in parents {
        let next = match (segment, current) {
            (Segment::Map { key }, Value::Object(map)) => map.get_mut(key),
            (Segment::Seq { index }, Value::Array(items)) => items.get_mut(*index),
            _ => None,
        };
        match next {
            Some(v) => current = v,
            None => return false,
        }
    }
    match (last, current) {
        (Segment::Map { key }, Value::Object(map)) => map.remove(key).is_some(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        port: u16,
        #[serde(default)]
        tags: Vec<String>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        name: String,
        inner: Inner,
    }

    fn paths_and_codes(problems: Problems) -> Vec<(String, &'static str)> {
        problems
            .into_vec()
            .into_iter()
            .map(|p| (p.path, p.code.id()))
            .collect()
    }

    #[test]
    fn every_unknown_key_is_reported_with_its_path() {
        let value = serde_json::json!({
            "name": "x", "nmae": "y",
            "inner": { "port": 5060, "prot": 1, "password": "hunter2" }
        });
        let mut problems = Problems::new();
        let parsed = deserialize_collecting::<Outer>(value, "site", &mut problems);
        assert!(parsed.is_some());
        let mut got = paths_and_codes(problems);
        got.sort();
        assert_eq!(
            got,
            vec![
                ("site.inner.password".to_owned(), "config-inline-password"),
                ("site.inner.prot".to_owned(), "config-unknown-key"),
                ("site.nmae".to_owned(), "config-unknown-key"),
            ]
        );
    }

    #[test]
    fn every_wrong_type_is_reported_and_not_also_as_missing() {
        let value = serde_json::json!({ "name": 3, "inner": { "port": "x", "tags": [1] } });
        let mut problems = Problems::new();
        let parsed = deserialize_collecting::<Outer>(value, "", &mut problems);
        assert!(parsed.is_none());
        let mut got = paths_and_codes(problems);
        got.sort();
        assert_eq!(
            got,
            vec![
                ("inner.port".to_owned(), "config-invalid-type"),
                ("inner.tags[0]".to_owned(), "config-invalid-type"),
                ("name".to_owned(), "config-invalid-type"),
            ]
        );
    }

    #[test]
    fn missing_key_is_reported_at_the_key_path() {
        let value = serde_json::json!({ "inner": { "port": 1 } });
        let mut problems = Problems::new();
        assert!(deserialize_collecting::<Outer>(value, "", &mut problems).is_none());
        assert_eq!(
            paths_and_codes(problems),
            vec![("name".to_owned(), "config-missing-key")]
        );
    }

    #[test]
    fn list_elements_are_checked_independently() {
        let mut doc = serde_json::json!({
            "items": [ { "port": 1 }, { "port": "a" }, { "port": 2, "x": 1 } ]
        });
        let map = doc.as_object_mut().unwrap();
        let mut problems = Problems::new();
        let list = take_list::<Inner>(map, "items", &mut problems);
        assert_eq!(
            list.items.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
            vec![0, 2]
        );
        assert_eq!(list.broken.len(), 1);
        assert_eq!(
            paths_and_codes(problems),
            vec![
                ("items[1].port".to_owned(), "config-invalid-type"),
                ("items[2].x".to_owned(), "config-unknown-key"),
            ]
        );
    }

    #[test]
    fn wrong_type_messages_do_not_echo_string_values() {
        let value = serde_json::json!({ "name": "x", "inner": { "port": "+31201234567" } });
        let mut problems = Problems::new();
        assert!(deserialize_collecting::<Outer>(value, "", &mut problems).is_none());
        let problem = &problems.into_vec()[0];
        assert!(
            !problem.message_en.contains("+3120"),
            "{}",
            problem.message_en
        );
        assert!(
            problem.message_en.contains("expected u16"),
            "{}",
            problem.message_en
        );
    }

    #[test]
    fn toml_syntax_error_reports_line_and_column() {
        let err = toml_to_value("a = 1\nb = = 2\n").unwrap_err();
        assert_eq!(err.code, ProblemCode::Syntax);
        assert!(err.message_en.contains("line 2"), "{}", err.message_en);
    }
}
