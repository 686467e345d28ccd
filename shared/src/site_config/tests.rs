//! Whole-document tests: a full valid example, a broken one with every
//! problem at once, JSON parity.

use std::time::Duration;

use super::*;
use crate::number::NumberClass;

const EXAMPLE: &str = include_str!("../../../docs/examples/site.toml");

fn problems_of(result: Result<SiteConfig, InvalidConfig>) -> Vec<(String, &'static str)> {
    match result {
        Ok(_) => panic!("expected problems"),
        Err(e) => e
            .problems
            .into_iter()
            .map(|p| (p.path, p.code.id()))
            .collect(),
    }
}

#[test]
fn full_example_is_valid_and_typed() {
    let c = SiteConfig::from_toml_str(EXAMPLE).unwrap();
    assert_eq!(c.revision, 0);
    assert_eq!(c.tenant, "korenaar");
    assert_eq!(c.trunks.len(), 2);
    assert_eq!(c.extensions.len(), 5);
    let kpn = c.trunk("kpn").unwrap();
    assert_eq!(kpn.port, None, "no port configured: left to DNS SRV");
    assert_eq!(kpn.port_or_default(), 5061, "tls default port");
    assert_eq!(kpn.transport, Transport::Tls);
    assert_eq!(kpn.register_expiry, Duration::from_mins(10));
    assert_eq!(kpn.srtp, SrtpMode::Optional);
    assert_eq!(kpn.allowed_sources.as_ref().unwrap().len(), 2);
    let backup = c.trunk("backup").unwrap();
    assert_eq!(backup.port, Some(5060), "explicit port kept");
    assert_eq!(backup.port_or_default(), 5060);
    assert_eq!(backup.options_interval, Some(Duration::from_secs(30)));
    assert!(backup.allowed_sources.is_none());
    assert_eq!(
        c.trunks_by_priority()
            .iter()
            .map(|t| t.id.as_str())
            .collect::<Vec<_>>(),
        ["kpn", "backup"]
    );
    let e = c.extension("202").unwrap();
    assert_eq!(e.max_contacts, 5, "default");
    assert_eq!(e.codecs[0], Codec::Opus, "default extension codecs");
    let p = c.permission_profile("standaard").unwrap();
    assert!(p.allows(NumberClass::Mobile));
    assert!(!p.allows(NumberClass::International));
    assert!(p.allows(NumberClass::Emergency));
    assert_eq!(
        c.recording_policy("klantenservice").unwrap().on_demand_dtmf,
        "*1"
    );
    assert_eq!(c.echo_test_number, "*43");
    assert_eq!(c.media.rtp_port_min, 10_000);
    assert_eq!(c.media.opus, OpusConfig::default());
    assert_eq!(c.registrar_ban.ban, Duration::from_mins(10));
}

type Expected<'a> = Option<(&'a str, &'a str, Destination)>;

#[test]
fn example_dial_plan_dry_run() {
    let c = SiteConfig::from_toml_str(EXAMPLE).unwrap();
    let both = Destination::TrunkGroup(vec!["kpn".into(), "backup".into()]);
    let table: &[(&str, Expected<'_>)] = &[
        ("112", Some(("alarmnummer", "112", both.clone()))),
        ("*43", Some(("echotest", "*43", Destination::EchoTest))),
        ("203", Some(("intern", "203", Destination::Extension))),
        ("9", Some(("receptie", "200", Destination::Extension))),
        ("0612345678", Some(("mobiel", "+31612345678", both.clone()))),
        (
            "0301234567",
            Some(("nationaal", "+31301234567", both.clone())),
        ),
        (
            "00442079460000",
            Some((
                "internationaal",
                "+442079460000",
                Destination::TrunkGroup(vec!["kpn".into()]),
            )),
        ),
        (
            "08001234",
            Some(("servicenummers", "+318001234", both.clone())),
        ),
        ("003", None),
        ("5", None),
    ];
    for (number, expected) in table {
        let got = c.dial_plan.dry_run(number);
        match (got, expected) {
            (None, None) => {}
            (Some(m), Some((name, rewritten, destination))) => {
                assert_eq!(
                    (m.rule_name, m.rewritten.as_str()),
                    (*name, *rewritten),
                    "{number}"
                );
                assert_eq!(m.destination, destination, "{number}");
            }
            (got, expected) => panic!("{number}: got {got:?}, expected {expected:?}"),
        }
    }
}

#[test]
fn json_and_toml_give_the_same_config() {
    let from_toml = SiteConfig::from_toml_str(EXAMPLE).unwrap();
    let value = toml_to_value(EXAMPLE).unwrap();
    let json_text = serde_json::to_string(&value).unwrap();
    let from_json = SiteConfig::from_json(serde_json::from_str(&json_text).unwrap()).unwrap();
    assert_eq!(from_toml, from_json);
}

#[test]
fn raw_structs_round_trip_through_json_and_validate() {
    // The cloud builds raw structs and sends them as JSON.
    let value = toml_to_value(EXAMPLE).unwrap();
    let raw: RawSiteConfig = serde_json::from_value(value).unwrap();
    let sent = serde_json::to_value(&raw).unwrap();
    let received = SiteConfig::from_json(sent).unwrap();
    assert_eq!(raw.validate().unwrap(), received);
}

/// A minimal site with one trunk; `port_line` is inserted in the trunk.
fn one_trunk_site(port_line: &str) -> String {
    format!(
        "version = 1\nsite_name = \"K\"\ntenant = \"t\"\n[[trunks]]\nid = \"a\"\n\
         host = \"sip.provider.example\"\ntransport = \"tcp\"\ncredentials = \"c\"\n\
         username = \"u\"\npriority = 1\n{port_line}\n"
    )
}

#[test]
fn trunk_port_is_kept_as_configured() {
    let table: &[(&str, Option<u16>, u16)] = &[
        ("", None, 5060),
        ("port = 5060", Some(5060), 5060),
        ("port = 1", Some(1), 1),
        ("port = 65535", Some(65_535), 65_535),
    ];
    for (line, port, effective) in table {
        let c = SiteConfig::from_toml_str(&one_trunk_site(line)).unwrap();
        let trunk = c.trunk("a").unwrap();
        assert_eq!(trunk.port, *port, "{line:?}");
        assert_eq!(trunk.port_or_default(), *effective, "{line:?}");
    }
    for line in ["port = 0", "port = 65536", "port = -1"] {
        assert_eq!(
            problems_of(SiteConfig::from_toml_str(&one_trunk_site(line))),
            vec![("trunks[0].port".to_owned(), "config-port-out-of-range")],
            "{line}"
        );
    }
}

#[test]
fn trunk_without_port_round_trips_as_absent() {
    let doc = one_trunk_site("");
    let from_toml = SiteConfig::from_toml_str(&doc).unwrap();
    assert_eq!(from_toml.trunk("a").unwrap().port, None);
    // TOML → JSON value → typed: same.
    let value = toml_to_value(&doc).unwrap();
    let from_json = SiteConfig::from_json(value.clone()).unwrap();
    assert_eq!(from_json, from_toml);
    // Raw structs → JSON (what the cloud sends): no `port` key, still `None`.
    let raw: RawSiteConfig = serde_json::from_value(value).unwrap();
    let sent = serde_json::to_value(&raw).unwrap();
    assert!(sent["trunks"][0].get("port").is_none(), "{sent}");
    let received = SiteConfig::from_json(sent).unwrap();
    assert_eq!(received.trunk("a").unwrap().port, None);
    assert_eq!(received, from_toml);
}

const BROKEN: &str = r#"
version = 1
revision = 7
site_name = "Kantoor"
tenant = "acme"
echo_test_number = "*43"

[media]
rtp_port_min = 10001
rtp_port_max = 10050
timeout_s = 30
jitter = 3

[[trunks]]
id = "kpn"
host = "sip.example.nl"
port = 0
credentials = "kpn"
username = "u"
priority = 1
codecs = []
allowed_sources = ["192.0.2.0/33"]
dids = [{ number = "0301234567", extension = "299" }]

[[trunks]]
id = "kpn"
host = "sip.example.nl:5060"
port = 70000
credentials = "kpn2"
username = "u"
password = "geheim"
priority = 1
transport = "sctp"

[[permission_profiles]]
name = "std"
allowed_classes = ["internal", "invalid"]

[[extensions]]
number = "201"
display_name = "A"
credentials = "e201"
permission_profile = "std"

[[extensions]]
number = "201"
display_name = "B"
credentials = "e201b"
permission_profile = "bestaat-niet"
recording_policy = "ook-niet"

[[extensions]]
number = "12"
display_name = "C"
credentials = "e12"
permision_profile = "std"

[[dial_plan]]
name = "kapot"
pattern = "0[5-1]X"
destination = { trunk_group = ["kpn", "onbekend"] }

[[dial_plan]]
name = "strip"
pattern = "9"
strip = 3
destination = "extension"
"#;

#[test]
fn broken_document_reports_every_problem_with_its_path() {
    let mut got = problems_of(SiteConfig::from_toml_str(BROKEN));
    got.sort();
    let mut expected: Vec<(String, &str)> = [
        ("media.jitter", "config-unknown-key"),
        ("media.rtp_port_min", "config-rtp-start-odd"),
        ("media.rtp_port_max", "config-rtp-range-too-small"),
        ("trunks[0].port", "config-port-out-of-range"),
        ("trunks[0].codecs", "config-empty-codec-list"),
        ("trunks[0].allowed_sources[0]", "config-cidr-invalid"),
        ("trunks[0].dids[0].number", "config-did-not-e164"),
        ("trunks[0].dids[0].extension", "config-unknown-extension"),
        ("trunks[1].password", "config-inline-password"),
        ("trunks[1].transport", "config-invalid-choice"),
        // The element still deserialises without the bad keys, so its
        // semantic problems are reported in the same pass.
        ("trunks[1].id", "config-duplicate-trunk-id"),
        ("trunks[1].host", "config-host-invalid"),
        ("trunks[1].port", "config-port-out-of-range"),
        ("trunks[1].priority", "config-duplicate-trunk-priority"),
        (
            "permission_profiles[0].allowed_classes[1]",
            "config-class-not-permittable",
        ),
        ("extensions[1].number", "config-duplicate-extension"),
        (
            "extensions[1].permission_profile",
            "config-unknown-permission-profile",
        ),
        (
            "extensions[1].recording_policy",
            "config-unknown-recording-policy",
        ),
        ("extensions[2].permision_profile", "config-unknown-key"),
        ("extensions[2].permission_profile", "config-missing-key"),
        ("dial_plan[0].pattern", "config-pattern-invalid"),
        (
            "dial_plan[0].destination.trunk_group[1]",
            "config-unknown-trunk",
        ),
        ("dial_plan[1].strip", "config-strip-too-long"),
    ]
    .into_iter()
    .map(|(p, c)| (p.to_owned(), c))
    .collect();
    expected.sort();
    assert_eq!(got, expected);
}

#[test]
fn semantic_problems_of_a_shape_valid_trunk_list() {
    // Once the shape is right, the second trunk's semantic problems appear.
    let doc = r#"
version = 1
site_name = "Kantoor"
tenant = "acme"

[[trunks]]
id = "kpn"
host = "sip.example.nl"
credentials = "kpn"
username = "u"
priority = 1

[[trunks]]
id = "kpn"
host = "sip.example.nl:5060"
port = 70000
credentials = "Kpn 2"
username = ""
priority = 1
register_expiry_s = 30
"#;
    let got = problems_of(SiteConfig::from_toml_str(doc));
    assert_eq!(
        got,
        [
            ("trunks[1].id", "config-duplicate-trunk-id"),
            ("trunks[1].host", "config-host-invalid"),
            ("trunks[1].port", "config-port-out-of-range"),
            ("trunks[1].credentials", "config-invalid-name"),
            ("trunks[1].username", "config-empty"),
            ("trunks[1].priority", "config-duplicate-trunk-priority"),
            ("trunks[1].register_expiry_s", "config-value-out-of-range"),
        ]
        .map(|(p, c)| (p.to_owned(), c))
    );
}

#[test]
fn extension_numbers_are_checked() {
    let doc = |number: &str, echo: &str| {
        format!(
            r#"
version = 1
site_name = "K"
tenant = "t"
echo_test_number = "{echo}"
[[permission_profiles]]
name = "p"
allowed_classes = []
[[extensions]]
number = "{number}"
display_name = "X"
credentials = "c"
permission_profile = "p"
"#
        )
    };
    let table: &[(&str, &str, Option<&str>)] = &[
        ("201", "*43", None),
        ("123456", "*43", None),
        ("1", "*43", Some("config-extension-number-invalid")),
        ("1234567", "*43", Some("config-extension-number-invalid")),
        ("020", "*43", Some("config-extension-number-invalid")),
        ("2a1", "*43", Some("config-extension-number-invalid")),
        ("112", "*43", Some("config-extension-emergency-number")),
        ("43", "43", Some("config-extension-collides-echo-test")),
    ];
    for (number, echo, expected) in table {
        let result = SiteConfig::from_toml_str(&doc(number, echo));
        match expected {
            None => assert!(result.is_ok(), "{number}: {result:?}"),
            Some(code) => assert_eq!(
                problems_of(result),
                vec![("extensions[0].number".to_owned(), *code)],
                "{number}"
            ),
        }
    }
}

#[test]
fn emergency_is_allowed_even_when_a_profile_omits_it() {
    let doc = r#"
version = 1
site_name = "K"
tenant = "t"
[[permission_profiles]]
name = "niets"
allowed_classes = []
"#;
    let c = SiteConfig::from_toml_str(doc).unwrap();
    let p = c.permission_profile("niets").unwrap();
    assert!(p.allows(NumberClass::Emergency));
    assert!(!p.allows(NumberClass::Internal));
}

#[test]
fn version_is_required_and_checked_first() {
    assert_eq!(
        problems_of(SiteConfig::from_toml_str("site_name = \"x\"\nbogus = 1\n")),
        vec![("version".to_owned(), "config-version-missing")]
    );
    assert_eq!(
        problems_of(SiteConfig::from_toml_str("version = 2\n")),
        vec![("version".to_owned(), "config-version-unsupported")]
    );
}

#[test]
fn missing_top_level_keys_do_not_hide_list_problems() {
    let doc = r#"
version = 1
[[trunks]]
id = "a"
host = "h.example"
credentials = "c"
username = "u"
priority = 1
port = 0
"#;
    assert_eq!(
        problems_of(SiteConfig::from_toml_str(doc)),
        vec![
            ("site_name".to_owned(), "config-missing-key"),
            ("trunks[0].port".to_owned(), "config-port-out-of-range"),
        ]
    );
}

#[test]
fn json_problems_have_the_same_paths() {
    let value = serde_json::json!({
        "version": 1, "site_name": "K", "tenant": "t",
        "trunks": [{ "id": "a", "host": "h.example", "credentials": "c",
                     "username": "u", "priority": "hoog" }]
    });
    assert_eq!(
        problems_of(SiteConfig::from_json(value)),
        vec![("trunks[0].priority".to_owned(), "config-invalid-type")]
    );
    assert_eq!(
        problems_of(SiteConfig::from_json(serde_json::json!([1]))),
        vec![(String::new(), "config-not-a-table")]
    );
}

#[test]
fn rtp_and_ban_limits() {
    let doc =
        |media: &str| format!("version = 1\nsite_name = \"K\"\ntenant = \"t\"\n[media]\n{media}\n");
    let table: &[(&str, Vec<(&str, &str)>)] = &[
        ("rtp_port_min = 10000\nrtp_port_max = 10099", vec![]),
        (
            "rtp_port_min = 10000\nrtp_port_max = 10098",
            vec![("media.rtp_port_max", "config-rtp-range-too-small")],
        ),
        (
            "rtp_port_min = 20000\nrtp_port_max = 10000",
            vec![("media.rtp_port_max", "config-rtp-range-too-small")],
        ),
        (
            "rtp_port_min = 0",
            vec![("media.rtp_port_min", "config-port-out-of-range")],
        ),
        (
            "rtp_port_max = 65536",
            vec![("media.rtp_port_max", "config-port-out-of-range")],
        ),
        (
            "timeout_s = 1",
            vec![("media.timeout_s", "config-value-out-of-range")],
        ),
        (
            "opus_complexity = 0\nopus_bitrate = 510000\nopus_expected_loss_pct = 100",
            vec![],
        ),
        (
            "opus_complexity = 11\nopus_bitrate = 5999\nopus_expected_loss_pct = 101",
            vec![
                ("media.opus_complexity", "config-value-out-of-range"),
                ("media.opus_bitrate", "config-value-out-of-range"),
                ("media.opus_expected_loss_pct", "config-value-out-of-range"),
            ],
        ),
        (
            "opus_complexity = -1\nopus_bitrate = 510001",
            vec![
                ("media.opus_complexity", "config-value-out-of-range"),
                ("media.opus_bitrate", "config-value-out-of-range"),
            ],
        ),
        (
            "opus_fec = \"ja\"",
            vec![("media.opus_fec", "config-invalid-type")],
        ),
    ];
    for (media, expected) in table {
        let got = match SiteConfig::from_toml_str(&doc(media)) {
            Ok(_) => Vec::new(),
            Err(e) => e
                .problems
                .into_iter()
                .map(|p| (p.path, p.code.id()))
                .collect(),
        };
        let expected: Vec<(String, &str)> = expected
            .iter()
            .map(|(p, c)| ((*p).to_owned(), *c))
            .collect();
        assert_eq!(got, expected, "{media}");
    }
}

#[test]
fn opus_settings_are_read_with_their_defaults() {
    let doc =
        |media: &str| format!("version = 1\nsite_name = \"K\"\ntenant = \"t\"\n[media]\n{media}\n");
    let defaults = SiteConfig::from_toml_str(&doc("")).unwrap().media.opus;
    assert_eq!(
        (
            defaults.complexity,
            defaults.bitrate_bps,
            defaults.fec,
            defaults.dtx,
            defaults.expected_loss_pct
        ),
        (5, 32_000, true, false, 5)
    );
    let set = SiteConfig::from_toml_str(&doc(
        "opus_complexity = 9\nopus_bitrate = 24000\nopus_fec = false\nopus_dtx = true\n\
         opus_expected_loss_pct = 20",
    ))
    .unwrap()
    .media
    .opus;
    assert_eq!(
        (
            set.complexity,
            set.bitrate_bps,
            set.fec,
            set.dtx,
            set.expected_loss_pct
        ),
        (9, 24_000, false, true, 20)
    );
}

#[test]
fn every_problem_message_is_rendered_in_both_languages() {
    let err = SiteConfig::from_toml_str(BROKEN).unwrap_err();
    for p in &err.problems {
        assert!(!p.message_nl.starts_with('['), "{p:?}");
        assert!(!p.message_en.starts_with('['), "{p:?}");
        assert!(!p.message_nl.contains("{$"), "{p:?}");
    }
}

#[test]
fn inline_password_message_points_to_the_secrets_file() {
    let err = SiteConfig::from_toml_str(BROKEN).unwrap_err();
    let p = err
        .problems
        .iter()
        .find(|p| p.code == ProblemCode::InlinePassword)
        .unwrap();
    assert!(p.message_nl.contains(DEFAULT_SECRETS_FILE));
    assert!(p.message_en.contains(DEFAULT_SECRETS_FILE));
    assert!(
        !p.message_en.contains("geheim"),
        "the password itself is never echoed"
    );
}

#[test]
fn digest_algorithms_default_to_md5_and_sort_into_rfc_8760_order() {
    let base = "version = 1\nsite_name = \"K\"\ntenant = \"t\"\n";
    let c = SiteConfig::from_toml_str(base).unwrap();
    assert_eq!(c.digest_algorithms, vec![DigestAlgorithm::Md5]);
    for line in [
        "digest_algorithms = [\"SHA-256\", \"MD5\"]",
        "digest_algorithms = [\"MD5\", \"SHA-256\"]",
    ] {
        let c = SiteConfig::from_toml_str(&format!("{base}{line}\n")).unwrap();
        assert_eq!(
            c.digest_algorithms,
            vec![DigestAlgorithm::Sha256, DigestAlgorithm::Md5],
            "{line}"
        );
    }
    let c =
        SiteConfig::from_toml_str(&format!("{base}digest_algorithms = [\"SHA-256\"]\n")).unwrap();
    assert_eq!(c.digest_algorithms, vec![DigestAlgorithm::Sha256]);
}

#[test]
fn digest_algorithms_reject_empty_unknown_and_duplicate_entries() {
    let base = "version = 1\nsite_name = \"K\"\ntenant = \"t\"\n";
    let table: &[(&str, (&str, &str))] = &[
        ("[]", ("digest_algorithms", "config-empty-list")),
        (
            "[\"MD5\", \"SHA-512\"]",
            ("digest_algorithms[1]", "config-invalid-choice"),
        ),
        (
            "[\"md5\"]",
            ("digest_algorithms[0]", "config-invalid-choice"),
        ),
        (
            "[\"MD5\", \"MD5\"]",
            ("digest_algorithms[1]", "config-duplicate-name"),
        ),
    ];
    for (list, (path, code)) in table {
        let problems = problems_of(SiteConfig::from_toml_str(&format!(
            "{base}digest_algorithms = {list}\n"
        )));
        assert_eq!(problems, vec![((*path).to_owned(), *code)], "{list}");
    }
}

#[test]
fn trunks_may_name_an_existing_recording_policy() {
    let with = |name: &str| {
        EXAMPLE.replacen(
            "options_interval_s = 30\n",
            &format!("options_interval_s = 30\nrecording_policy = \"{name}\"\n"),
            1,
        )
    };
    let c = SiteConfig::from_toml_str(&with("klantenservice")).unwrap();
    let trunk = c
        .trunks
        .iter()
        .find(|t| t.recording_policy.is_some())
        .unwrap();
    assert_eq!(trunk.recording_policy.as_deref(), Some("klantenservice"));
    let problems = problems_of(SiteConfig::from_toml_str(&with("bestaat-niet")));
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].0.ends_with(".recording_policy"), "{problems:?}");
    assert_eq!(problems[0].1, "config-unknown-recording-policy");
}
