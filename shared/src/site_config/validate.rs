//! Raw → typed: every semantic check, every problem recorded with its path.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use serde_json::Value;

use super::document::{ListItems, check_version, deserialize_collecting, take_list, toml_to_value};
use super::model::{
    BanPolicy, Codec, Did, DigestAlgorithm, Extension, MediaSettings, OpusConfig,
    PermissionProfile, RecordingFormat, RecordingPolicy, SiteConfig, SrtpMode, Transport, Trunk,
};
use super::net::{Cidr, is_dial_string, is_e164, is_valid_host, is_valid_name};
use super::pattern::{Destination, DialPattern, DialPlan, DialRule};
use super::problem::{InvalidConfig, ProblemCode, Problems};
use super::raw::{
    RawDestination, RawDialRule, RawExtension, RawMedia, RawPermissionProfile, RawRecordingPolicy,
    RawSiteConfig, RawTrunk, RawTrunkSelection,
};
use super::{DEFAULT_ECHO_TEST_NUMBER, SCHEMA_VERSION};
use crate::number::NumberClass;

/// Numbers that always reach the emergency services; no extension may use
/// them.
const EMERGENCY_NUMBERS: [&str; 3] = ["112", "911", "999"];
/// Fewest RTP ports a range may have.
const MIN_RTP_PORTS: i64 = 100;
/// Longest free-text value (site name, display name).
const MAX_TEXT_LEN: usize = 100;

const DEFAULT_TRUNK_CODECS: [Codec; 3] = [Codec::Pcma, Codec::Pcmu, Codec::TelephoneEvent];
const DEFAULT_EXTENSION_CODECS: [Codec; 5] = [
    Codec::Opus,
    Codec::G722,
    Codec::Pcma,
    Codec::Pcmu,
    Codec::TelephoneEvent,
];

/// The pieces of a document after shape checks: the top level (with its
/// lists emptied) and each list with the document index of each element.
struct Parts {
    root: Option<RawSiteConfig>,
    trunks: ListItems<RawTrunk>,
    extensions: ListItems<RawExtension>,
    rules: ListItems<RawDialRule>,
    profiles: ListItems<RawPermissionProfile>,
    policies: ListItems<RawRecordingPolicy>,
}

fn indexed<T>(items: Vec<T>) -> ListItems<T> {
    ListItems {
        items: items.into_iter().enumerate().collect(),
        broken: Vec::new(),
    }
}

impl RawSiteConfig {
    /// Validates this raw configuration into a [`SiteConfig`], reporting
    /// every problem at once.
    pub fn validate(mut self) -> Result<SiteConfig, InvalidConfig> {
        let mut problems = Problems::new();
        if u64::from(self.version) != SCHEMA_VERSION {
            problems.push(
                "version",
                ProblemCode::VersionUnsupported,
                &[
                    ("version", &self.version.to_string()),
                    ("supported", &SCHEMA_VERSION.to_string()),
                ],
            );
            return Err(InvalidConfig {
                problems: problems.into_vec(),
            });
        }
        let parts = Parts {
            trunks: indexed(std::mem::take(&mut self.trunks)),
            extensions: indexed(std::mem::take(&mut self.extensions)),
            rules: indexed(std::mem::take(&mut self.dial_plan)),
            profiles: indexed(std::mem::take(&mut self.permission_profiles)),
            policies: indexed(std::mem::take(&mut self.recording_policies)),
            root: Some(self),
        };
        validate_parts(parts, problems)
    }
}

impl SiteConfig {
    /// Parses and validates a site configuration file (TOML).
    pub fn from_toml_str(text: &str) -> Result<SiteConfig, InvalidConfig> {
        match toml_to_value(text) {
            Ok(value) => Self::from_json(value),
            Err(problem) => Err(InvalidConfig {
                problems: vec![problem],
            }),
        }
    }

    /// Validates a site configuration received as JSON (the MQTT `config`
    /// message body).
    pub fn from_json(value: Value) -> Result<SiteConfig, InvalidConfig> {
        let mut problems = Problems::new();
        let Value::Object(mut doc) = value else {
            problems.push("", ProblemCode::NotATable, &[]);
            return Err(InvalidConfig {
                problems: problems.into_vec(),
            });
        };
        if !check_version(&doc, SCHEMA_VERSION, &mut problems) {
            return Err(InvalidConfig {
                problems: problems.into_vec(),
            });
        }
        let trunks = take_list(&mut doc, "trunks", &mut problems);
        let extensions = take_list(&mut doc, "extensions", &mut problems);
        let rules = take_list(&mut doc, "dial_plan", &mut problems);
        let profiles = take_list(&mut doc, "permission_profiles", &mut problems);
        let policies = take_list(&mut doc, "recording_policies", &mut problems);
        let root = deserialize_collecting::<RawSiteConfig>(Value::Object(doc), "", &mut problems);
        let parts = Parts {
            root,
            trunks,
            extensions,
            rules,
            profiles,
            policies,
        };
        validate_parts(parts, problems)
    }
}

/// Checks `value` (default `default`) lies in `min..=max`; records
/// `OutOfRange` at `path` otherwise and returns the default.
fn ranged(
    value: Option<i64>,
    default: i64,
    (min, max): (i64, i64),
    path: &str,
    problems: &mut Problems,
) -> i64 {
    let v = value.unwrap_or(default);
    if (min..=max).contains(&v) {
        v
    } else {
        problems.push(
            path,
            ProblemCode::OutOfRange,
            &[
                ("value", &v.to_string()),
                ("min", &min.to_string()),
                ("max", &max.to_string()),
            ],
        );
        default
    }
}

/// Checks a port (default `default`) is in 1..=65535; `None` (with the
/// problem recorded) otherwise.
fn checked_port(
    value: Option<i64>,
    default: u16,
    path: &str,
    problems: &mut Problems,
) -> Option<u16> {
    let v = value.unwrap_or(i64::from(default));
    match u16::try_from(v) {
        Ok(p) if p != 0 => Some(p),
        _ => {
            problems.push(
                path,
                ProblemCode::PortOutOfRange,
                &[("value", &v.to_string())],
            );
            None
        }
    }
}

fn seconds(v: i64) -> Duration {
    Duration::from_secs(v.unsigned_abs())
}

fn text(value: &str, path: &str, problems: &mut Problems) {
    if value.trim().is_empty() {
        problems.push(path, ProblemCode::Empty, &[]);
    } else if value.chars().count() > MAX_TEXT_LEN {
        problems.push(
            path,
            ProblemCode::TooLong,
            &[("max", &MAX_TEXT_LEN.to_string())],
        );
    }
}

fn name(value: &str, path: &str, problems: &mut Problems) {
    if !is_valid_name(value) {
        problems.push(path, ProblemCode::InvalidName, &[("value", value)]);
    }
}

fn codecs(
    value: Option<&Vec<Codec>>,
    default: &[Codec],
    path: &str,
    problems: &mut Problems,
) -> Vec<Codec> {
    let list = value.cloned().unwrap_or_else(|| default.to_vec());
    if list.is_empty() {
        problems.push(path, ProblemCode::EmptyCodecList, &[]);
        return list;
    }
    let mut seen = HashSet::new();
    for (i, codec) in list.iter().enumerate() {
        if !seen.insert(*codec) {
            let id = serde_json::to_value(codec)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            problems.push(
                format!("{path}[{i}]"),
                ProblemCode::DuplicateCodec,
                &[("codec", &id)],
            );
        }
    }
    if !list.iter().any(|c| c.is_audio()) {
        problems.push(path, ProblemCode::NoAudioCodec, &[]);
    }
    list
}

/// Records `DuplicateName`-style problems: the first occurrence of each key
/// wins; later ones are reported with the path of the first.
fn first_seen<'a>(
    seen: &mut HashMap<&'a str, String>,
    key: &'a str,
    path: String,
    code: ProblemCode,
    arg: &str,
    problems: &mut Problems,
) {
    if let Some(other) = seen.get(key) {
        problems.push(path, code, &[(arg, key), ("other", other)]);
    } else {
        seen.insert(key, path);
    }
}

fn is_extension_number(n: &str) -> bool {
    (2..=6).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit()) && !n.starts_with('0')
}

fn is_prefix(p: &str) -> bool {
    let rest = p.strip_prefix('+').unwrap_or(p);
    p.len() <= 16 && (rest.is_empty() || is_dial_string(rest, 16))
}

#[allow(clippy::needless_pass_by_value)]
fn validate_parts(parts: Parts, mut problems: Problems) -> Result<SiteConfig, InvalidConfig> {
    let root_ok = parts.root.is_some();
    let root = parts.root.unwrap_or_else(|| RawSiteConfig {
        version: 1,
        revision: 0,
        site_name: String::new(),
        tenant: String::new(),
        trunks: Vec::new(),
        extensions: Vec::new(),
        dial_plan: Vec::new(),
        permission_profiles: Vec::new(),
        recording_policies: Vec::new(),
        echo_test_number: None,
        media: super::raw::RawMedia::default(),
        registrar_ban: super::raw::RawBanPolicy::default(),
        digest_algorithms: None,
    });
    let p = &mut problems;

    // Top level.
    if root_ok {
        text(&root.site_name, "site_name", p);
        name(&root.tenant, "tenant", p);
    }
    let echo_test_number = root
        .echo_test_number
        .clone()
        .unwrap_or_else(|| DEFAULT_ECHO_TEST_NUMBER.to_owned());
    if !is_dial_string(&echo_test_number, 8) || echo_test_number.len() < 2 {
        p.push(
            "echo_test_number",
            ProblemCode::DialStringInvalid,
            &[("value", &echo_test_number)],
        );
    }
    let media = media(&root, p);
    let ban = &root.registrar_ban;
    let registrar_ban = BanPolicy {
        max_failures: ranged(
            ban.max_failures,
            5,
            (1, 1000),
            "registrar_ban.max_failures",
            p,
        ) as u32,
        window: seconds(ranged(
            ban.window_s,
            60,
            (1, 86_400),
            "registrar_ban.window_s",
            p,
        )),
        ban: seconds(ranged(
            ban.ban_s,
            600,
            (1, 604_800),
            "registrar_ban.ban_s",
            p,
        )),
    };
    let digest_algorithms = digest_algorithms(root.digest_algorithms.as_deref(), p);

    // Permission profiles.
    let mut profile_names: HashMap<&str, String> = HashMap::new();
    let mut permission_profiles = Vec::new();
    for (i, raw) in &parts.profiles.items {
        let base = format!("permission_profiles[{i}]");
        name(&raw.name, &format!("{base}.name"), p);
        first_seen(
            &mut profile_names,
            &raw.name,
            format!("{base}.name"),
            ProblemCode::DuplicateName,
            "name",
            p,
        );
        for (j, class) in raw.allowed_classes.iter().enumerate() {
            if *class == NumberClass::Invalid {
                p.push(
                    format!("{base}.allowed_classes[{j}]"),
                    ProblemCode::ClassNotPermittable,
                    &[],
                );
            }
        }
        permission_profiles.push(PermissionProfile::new(
            raw.name.clone(),
            raw.allowed_classes.iter().copied(),
            ranged(
                raw.max_concurrent_calls,
                2,
                (1, 1000),
                &format!("{base}.max_concurrent_calls"),
                p,
            ) as u32,
            seconds(ranged(
                raw.max_call_duration_s,
                14_400,
                (60, 86_400),
                &format!("{base}.max_call_duration_s"),
                p,
            )),
            raw.daily_minutes.map(|m| {
                ranged(
                    Some(m),
                    1,
                    (1, 100_000),
                    &format!("{base}.daily_minutes"),
                    p,
                ) as u32
            }),
        ));
    }
    let broken_profiles = parts.profiles.broken_names("name");

    // Recording policies.
    let mut policy_names: HashMap<&str, String> = HashMap::new();
    let mut recording_policies = Vec::new();
    for (i, raw) in &parts.policies.items {
        let base = format!("recording_policies[{i}]");
        name(&raw.name, &format!("{base}.name"), p);
        first_seen(
            &mut policy_names,
            &raw.name,
            format!("{base}.name"),
            ProblemCode::DuplicateName,
            "name",
            p,
        );
        let dtmf = raw
            .on_demand_dtmf
            .clone()
            .unwrap_or_else(|| "*1".to_owned());
        if !is_dial_string(&dtmf, 4) {
            p.push(
                format!("{base}.on_demand_dtmf"),
                ProblemCode::DialStringInvalid,
                &[("value", &dtmf)],
            );
        }
        recording_policies.push(RecordingPolicy {
            name: raw.name.clone(),
            mode: raw.mode,
            consent_announcement: raw.consent_announcement.unwrap_or(true),
            format: raw.format.unwrap_or(RecordingFormat::OggOpus),
            retention_days: ranged(
                raw.retention_days,
                30,
                (1, 3650),
                &format!("{base}.retention_days"),
                p,
            ) as u32,
            on_demand_dtmf: dtmf,
        });
    }
    let broken_policies = parts.policies.broken_names("name");

    // Extensions.
    let mut extension_numbers: HashMap<&str, String> = HashMap::new();
    let mut extensions = Vec::new();
    for (i, raw) in &parts.extensions.items {
        let base = format!("extensions[{i}]");
        let number_path = format!("{base}.number");
        if !is_extension_number(&raw.number) {
            p.push(
                number_path.clone(),
                ProblemCode::ExtensionNumberInvalid,
                &[],
            );
        } else if EMERGENCY_NUMBERS.contains(&raw.number.as_str()) {
            p.push(
                number_path.clone(),
                ProblemCode::ExtensionEmergencyNumber,
                &[],
            );
        }
        if raw.number == echo_test_number {
            p.push(
                number_path.clone(),
                ProblemCode::ExtensionCollidesEchoTest,
                &[("echo", &echo_test_number)],
            );
        }
        if let Some(other) = extension_numbers.get(raw.number.as_str()) {
            p.push(
                number_path,
                ProblemCode::DuplicateExtension,
                &[("other", other)],
            );
        } else {
            extension_numbers.insert(&raw.number, number_path);
        }
        text(&raw.display_name, &format!("{base}.display_name"), p);
        if let Some(user) = &raw.user_id {
            text(user, &format!("{base}.user_id"), p);
        }
        name(&raw.credentials, &format!("{base}.credentials"), p);
        let codecs = codecs(
            raw.codecs.as_ref(),
            &DEFAULT_EXTENSION_CODECS,
            &format!("{base}.codecs"),
            p,
        );
        if !profile_names.contains_key(raw.permission_profile.as_str())
            && !broken_profiles.contains(&raw.permission_profile)
        {
            p.push(
                format!("{base}.permission_profile"),
                ProblemCode::UnknownPermissionProfile,
                &[("name", &raw.permission_profile)],
            );
        }
        if let Some(policy) = &raw.recording_policy
            && !policy_names.contains_key(policy.as_str())
            && !broken_policies.contains(policy)
        {
            p.push(
                format!("{base}.recording_policy"),
                ProblemCode::UnknownRecordingPolicy,
                &[("name", policy)],
            );
        }
        extensions.push(Extension {
            number: raw.number.clone(),
            display_name: raw.display_name.clone(),
            user_id: raw.user_id.clone(),
            credentials: raw.credentials.clone(),
            codecs,
            permission_profile: raw.permission_profile.clone(),
            recording_policy: raw.recording_policy.clone(),
            max_contacts: ranged(
                raw.max_contacts,
                5,
                (1, 20),
                &format!("{base}.max_contacts"),
                p,
            ) as u32,
        });
    }
    let broken_extensions = parts.extensions.broken_names("number");
    let extension_known =
        |n: &str| extension_numbers.contains_key(n) || broken_extensions.contains(n);

    // Trunks.
    let mut trunk_ids: HashMap<&str, String> = HashMap::new();
    let mut priorities: HashMap<i64, String> = HashMap::new();
    let mut trunks = Vec::new();
    for (i, raw) in &parts.trunks.items {
        let base = format!("trunks[{i}]");
        name(&raw.id, &format!("{base}.id"), p);
        first_seen(
            &mut trunk_ids,
            &raw.id,
            format!("{base}.id"),
            ProblemCode::DuplicateTrunkId,
            "id",
            p,
        );
        if !is_valid_host(&raw.host) {
            p.push(
                format!("{base}.host"),
                ProblemCode::HostInvalid,
                &[("value", &raw.host)],
            );
        }
        let transport = raw.transport.unwrap_or(Transport::Udp);
        // Absent stays absent (DNS SRV decides); a given port must be valid.
        let port = raw.port.and_then(|value| {
            checked_port(
                Some(value),
                transport.default_port(),
                &format!("{base}.port"),
                p,
            )
        });
        name(&raw.credentials, &format!("{base}.credentials"), p);
        text(&raw.username, &format!("{base}.username"), p);
        if let Some(realm) = &raw.realm {
            text(realm, &format!("{base}.realm"), p);
        }
        let priority = ranged(
            Some(raw.priority),
            0,
            (0, i64::from(u32::MAX)),
            &format!("{base}.priority"),
            p,
        );
        if let Some(other) = priorities.get(&raw.priority) {
            p.push(
                format!("{base}.priority"),
                ProblemCode::DuplicateTrunkPriority,
                &[("priority", &raw.priority.to_string()), ("other", other)],
            );
        } else {
            priorities.insert(raw.priority, format!("{base}.priority"));
        }
        let codecs = codecs(
            raw.codecs.as_ref(),
            &DEFAULT_TRUNK_CODECS,
            &format!("{base}.codecs"),
            p,
        );
        let mut dids = Vec::new();
        let mut did_seen: HashMap<&str, String> = HashMap::new();
        for (j, did) in raw.dids.iter().enumerate() {
            let did_base = format!("{base}.dids[{j}]");
            if !is_e164(&did.number) {
                p.push(format!("{did_base}.number"), ProblemCode::DidNotE164, &[]);
            }
            if let Some(other) = did_seen.get(did.number.as_str()) {
                p.push(
                    format!("{did_base}.number"),
                    ProblemCode::DuplicateDid,
                    &[("other", other)],
                );
            } else {
                did_seen.insert(&did.number, format!("{did_base}.number"));
            }
            if !extension_known(&did.extension) {
                p.push(
                    format!("{did_base}.extension"),
                    ProblemCode::UnknownExtension,
                    &[],
                );
            }
            dids.push(Did {
                number: did.number.clone(),
                extension: did.extension.clone(),
            });
        }
        let allowed_sources = raw.allowed_sources.as_ref().map(|list| {
            if list.is_empty() {
                p.push(
                    format!("{base}.allowed_sources"),
                    ProblemCode::EmptyList,
                    &[],
                );
            }
            list.iter()
                .enumerate()
                .filter_map(|(k, s)| {
                    let parsed = s.parse::<Cidr>().ok();
                    if parsed.is_none() {
                        p.push(
                            format!("{base}.allowed_sources[{k}]"),
                            ProblemCode::CidrInvalid,
                            &[("value", s)],
                        );
                    }
                    parsed
                })
                .collect()
        });
        let interval_path = format!("{base}.options_interval_s");
        let options_interval = match raw.options_interval_s {
            Some(0) => None,
            v => Some(seconds(ranged(v, 30, (5, 3600), &interval_path, p))),
        };
        if let Some(policy) = &raw.recording_policy
            && !policy_names.contains_key(policy.as_str())
            && !broken_policies.contains(policy)
        {
            p.push(
                format!("{base}.recording_policy"),
                ProblemCode::UnknownRecordingPolicy,
                &[("name", policy)],
            );
        }
        trunks.push(Trunk {
            id: raw.id.clone(),
            host: raw.host.clone(),
            port,
            transport,
            credentials: raw.credentials.clone(),
            username: raw.username.clone(),
            realm: raw.realm.clone(),
            register: raw.register.unwrap_or(true),
            register_expiry: seconds(ranged(
                raw.register_expiry_s,
                600,
                (60, 86_400),
                &format!("{base}.register_expiry_s"),
                p,
            )),
            priority: priority as u32,
            codecs,
            dids,
            allowed_sources,
            srtp: raw.srtp.unwrap_or(SrtpMode::Off),
            options_interval,
            recording_policy: raw.recording_policy.clone(),
        });
    }
    let broken_trunks = parts.trunks.broken_names("id");

    // Dial plan.
    let mut rule_names: HashMap<&str, String> = HashMap::new();
    let mut rules = Vec::new();
    for (i, raw) in &parts.rules.items {
        let base = format!("dial_plan[{i}]");
        text(&raw.name, &format!("{base}.name"), p);
        first_seen(
            &mut rule_names,
            &raw.name,
            format!("{base}.name"),
            ProblemCode::DuplicateName,
            "name",
            p,
        );
        let pattern = match DialPattern::parse(&raw.pattern) {
            Ok(pattern) => Some(pattern),
            Err(e) => {
                p.push(
                    format!("{base}.pattern"),
                    ProblemCode::PatternInvalid,
                    &[
                        ("pattern", &raw.pattern),
                        ("position", &e.position.to_string()),
                    ],
                );
                None
            }
        };
        let strip = ranged(raw.strip, 0, (0, 32), &format!("{base}.strip"), p) as usize;
        if let Some(pattern) = &pattern
            && strip > pattern.min_len()
        {
            p.push(
                format!("{base}.strip"),
                ProblemCode::StripTooLong,
                &[
                    ("strip", &strip.to_string()),
                    ("min", &pattern.min_len().to_string()),
                ],
            );
        }
        let prefix = raw.prefix.clone().unwrap_or_default();
        if !is_prefix(&prefix) {
            p.push(
                format!("{base}.prefix"),
                ProblemCode::DialStringInvalid,
                &[("value", &prefix)],
            );
        }
        let dest_path = format!("{base}.destination");
        let destination = match &raw.destination {
            RawDestination::Extension => Destination::Extension,
            RawDestination::EchoTest => Destination::EchoTest,
            RawDestination::TrunkGroup(selection) => {
                let group_path = format!("{dest_path}.trunk_group");
                let mut ids: Vec<(u32, String)> = match selection {
                    RawTrunkSelection::Word(w) if w == "all" => {
                        trunks.iter().map(|t| (t.priority, t.id.clone())).collect()
                    }
                    RawTrunkSelection::Word(w) => {
                        p.push(
                            group_path,
                            ProblemCode::InvalidChoice,
                            &[("value", w), ("allowed", "all, [trunk ids]")],
                        );
                        Vec::new()
                    }
                    RawTrunkSelection::List(list) => {
                        if list.is_empty() {
                            p.push(group_path.clone(), ProblemCode::EmptyList, &[]);
                        }
                        let mut out = Vec::new();
                        for (k, id) in list.iter().enumerate() {
                            match trunks.iter().find(|t| &t.id == id) {
                                Some(t) => out.push((t.priority, t.id.clone())),
                                None if broken_trunks.contains(id) => {}
                                None => p.push(
                                    format!("{group_path}[{k}]"),
                                    ProblemCode::UnknownTrunk,
                                    &[("id", id)],
                                ),
                            }
                        }
                        out
                    }
                };
                ids.sort();
                ids.dedup();
                Destination::TrunkGroup(ids.into_iter().map(|(_, id)| id).collect())
            }
        };
        let Some(pattern) = pattern else { continue };
        let rule = DialRule {
            name: raw.name.clone(),
            pattern,
            strip,
            prefix,
            destination,
        };
        if rule.destination == Destination::Extension
            && let Some(literal) = rule.pattern.literal()
            && strip <= literal.len()
            && !extension_known(&rule.rewrite(&literal))
        {
            p.push(dest_path, ProblemCode::UnknownExtension, &[]);
        }
        rules.push(rule);
    }

    let config = SiteConfig {
        revision: root.revision,
        site_name: root.site_name,
        tenant: root.tenant,
        trunks,
        extensions,
        dial_plan: DialPlan { rules },
        permission_profiles,
        recording_policies,
        echo_test_number,
        media,
        registrar_ban,
        digest_algorithms,
    };
    problems.finish(config)
}

/// `digest_algorithms`: not empty, no duplicates; sorted into RFC 8760
/// order (SHA-256 before MD5) whatever the document's order.
fn digest_algorithms(raw: Option<&[DigestAlgorithm]>, p: &mut Problems) -> Vec<DigestAlgorithm> {
    let Some(list) = raw else {
        return vec![DigestAlgorithm::Md5];
    };
    if list.is_empty() {
        p.push("digest_algorithms", ProblemCode::EmptyList, &[]);
        return vec![DigestAlgorithm::Md5];
    }
    let mut seen: HashMap<&str, String> = HashMap::new();
    for (i, a) in list.iter().enumerate() {
        first_seen(
            &mut seen,
            a.as_str(),
            format!("digest_algorithms[{i}]"),
            ProblemCode::DuplicateName,
            "name",
            p,
        );
    }
    let mut sorted = list.to_vec();
    sorted.sort();
    sorted.dedup();
    sorted
}

fn media(root: &RawSiteConfig, p: &mut Problems) -> MediaSettings {
    let m = &root.media;
    let min = checked_port(m.rtp_port_min, 10_000, "media.rtp_port_min", p);
    let max = checked_port(m.rtp_port_max, 20_000, "media.rtp_port_max", p);
    if let Some(min) = min.filter(|m| m % 2 == 1) {
        p.push(
            "media.rtp_port_min",
            ProblemCode::RtpStartOdd,
            &[("value", &min.to_string())],
        );
    }
    if let (Some(min), Some(max)) = (min, max) {
        let count = i64::from(max) - i64::from(min) + 1;
        if count < MIN_RTP_PORTS {
            p.push(
                "media.rtp_port_max",
                ProblemCode::RtpRangeTooSmall,
                &[
                    ("count", &count.max(0).to_string()),
                    ("min", &MIN_RTP_PORTS.to_string()),
                ],
            );
        }
    }
    MediaSettings {
        rtp_port_min: min.unwrap_or(10_000),
        rtp_port_max: max.unwrap_or(20_000),
        timeout: seconds(ranged(m.timeout_s, 30, (5, 3600), "media.timeout_s", p)),
        opus: opus(m, p),
    }
}

fn opus(m: &RawMedia, p: &mut Problems) -> OpusConfig {
    let d = OpusConfig::default();
    let complexity = ranged(
        m.opus_complexity,
        i64::from(d.complexity),
        (0, 10),
        "media.opus_complexity",
        p,
    );
    let bitrate = ranged(
        m.opus_bitrate,
        i64::from(d.bitrate_bps),
        (6_000, 510_000),
        "media.opus_bitrate",
        p,
    );
    let loss = ranged(
        m.opus_expected_loss_pct,
        i64::from(d.expected_loss_pct),
        (0, 100),
        "media.opus_expected_loss_pct",
        p,
    );
    OpusConfig {
        complexity: u8::try_from(complexity).unwrap_or(d.complexity),
        bitrate_bps: u32::try_from(bitrate).unwrap_or(d.bitrate_bps),
        fec: m.opus_fec.unwrap_or(d.fec),
        dtx: m.opus_dtx.unwrap_or(d.dtx),
        expected_loss_pct: u8::try_from(loss).unwrap_or(d.expected_loss_pct),
    }
}
