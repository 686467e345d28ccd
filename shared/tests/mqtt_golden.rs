//! The MQTT v1 contract against its golden files and `docs/mqtt.md`.

// Helpers outside `#[test]` fns panic on broken fixtures on purpose.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use time::macros::datetime;
use voip_shared::mqtt::{
    ApplianceId, CommandKind, DecodeError, EncodeError, EventKind, IdError, IngestMode, Message,
    Qos, SchemaVersion, Subscription, TenantId, Topic, TopicError, TopicKind,
    appliance_subscriptions, cloud_subscriptions, decode, decode_topic, encode, record_seq,
};

/// Every message golden file with the topic kind it belongs to.
const GOLDEN: &[(&str, TopicKind)] = &[
    ("status.json", TopicKind::Status),
    ("status_offline.json", TopicKind::Status),
    ("telemetry.json", TopicKind::Telemetry),
    ("event_call_record.json", TopicKind::Events),
    ("event_registration.json", TopicKind::Events),
    ("event_trunk_state.json", TopicKind::Events),
    ("event_alarm.json", TopicKind::Events),
    ("event_recording_deleted.json", TopicKind::Events),
    ("ack.json", TopicKind::Ack),
    ("config.json", TopicKind::Config),
    ("config_result.json", TopicKind::ConfigResult),
    ("cmd_originate.json", TopicKind::Cmd),
    ("cmd_hangup.json", TopicKind::Cmd),
    ("cmd_reload_config.json", TopicKind::Cmd),
    ("cmd_update.json", TopicKind::Cmd),
    ("cmd_start_recording.json", TopicKind::Cmd),
    ("cmd_stop_recording.json", TopicKind::Cmd),
    ("cmd_result.json", TopicKind::CmdResult),
    ("cmd_result_error.json", TopicKind::CmdResult),
];

/// Compatibility fixtures: not re-encoded byte-for-byte, checked one by one.
const COMPAT: &[&str] = &[
    "compat_events_minor_1_7.json",
    "compat_events_unknown_type_1_3.json",
    "compat_events_major_2_0.json",
];

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn golden(name: &str) -> Vec<u8> {
    std::fs::read(golden_dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes).unwrap()
}

fn topic(kind: TopicKind) -> Topic {
    Topic::new(
        TenantId::new("acme").unwrap(),
        ApplianceId::new("pi-amsterdam-01").unwrap(),
        kind,
    )
}

/// `value` with its top-level `schema` replaced.
fn with_schema(bytes: &[u8], schema: &str) -> Vec<u8> {
    let mut v = json(bytes);
    v["schema"] = schema.into();
    serde_json::to_vec(&v).unwrap()
}

#[test]
fn every_golden_file_is_listed() {
    let on_disk: BTreeSet<String> = std::fs::read_dir(golden_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let listed: BTreeSet<String> = GOLDEN
        .iter()
        .map(|(f, _)| (*f).to_owned())
        .chain(COMPAT.iter().map(|f| (*f).to_owned()))
        .collect();
    assert_eq!(on_disk, listed);
}

#[test]
fn every_kind_and_event_and_command_type_has_a_golden() {
    let kinds: BTreeSet<TopicKind> = GOLDEN.iter().map(|(_, k)| *k).collect();
    assert_eq!(kinds, TopicKind::ALL.into_iter().collect());
    let mut events = BTreeSet::new();
    let mut commands = BTreeSet::new();
    for (file, kind) in GOLDEN {
        match decode(*kind, &golden(file)).unwrap() {
            Message::Event(e) => {
                events.insert(format!("{:?}", std::mem::discriminant(&e.event)));
            }
            Message::Command(c) => {
                commands.insert(format!("{:?}", std::mem::discriminant(&c.command)));
            }
            _ => {}
        }
    }
    // All EventKind / CommandKind variants except `Unknown`.
    assert_eq!(events.len(), 5);
    assert_eq!(commands.len(), 6);
}

#[test]
fn golden_files_decode_and_reencode_to_the_same_json() {
    for (file, kind) in GOLDEN {
        let bytes = golden(file);
        let message = decode(*kind, &bytes).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(message.kind(), *kind, "{file}");
        assert_eq!(message.schema(), SchemaVersion::CURRENT, "{file}");
        let encoded = encode(&message).unwrap();
        assert_eq!(json(&encoded), json(&bytes), "{file}");
        // And the encoding decodes to the same value.
        assert_eq!(decode(*kind, &encoded).unwrap(), message, "{file}");
    }
}

#[test]
fn golden_files_decode_on_their_own_appliance_topic() {
    for (file, kind) in GOLDEN {
        decode_topic(&topic(*kind), &golden(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    }
}

#[test]
fn payload_naming_another_appliance_is_rejected() {
    let other = Topic::new(
        TenantId::new("acme").unwrap(),
        ApplianceId::new("pi-utrecht-02").unwrap(),
        TopicKind::Events,
    );
    assert_eq!(
        decode_topic(&other, &golden("event_alarm.json")),
        Err(DecodeError::ApplianceMismatch {
            topic: ApplianceId::new("pi-utrecht-02").unwrap(),
            payload: ApplianceId::new("pi-amsterdam-01").unwrap(),
        })
    );
}

#[test]
fn golden_on_another_kinds_topic_is_wrong_kind() {
    for (file, kind) in GOLDEN {
        let bytes = golden(file);
        for other in TopicKind::ALL.into_iter().filter(|k| k != kind) {
            assert_eq!(
                decode(other, &bytes),
                Err(DecodeError::WrongKind {
                    topic: other,
                    payload: *kind
                }),
                "{file} on {other}"
            );
        }
    }
}

#[test]
fn newer_minor_with_unknown_fields_decodes() {
    let Message::Event(event) =
        decode(TopicKind::Events, &golden("compat_events_minor_1_7.json")).unwrap()
    else {
        panic!("not an event")
    };
    assert_eq!(event.schema, SchemaVersion::new(1, 7));
    assert_eq!(event.seq, 2001);
    let EventKind::Registration(r) = event.event else {
        panic!("not a registration: {:?}", event.event)
    };
    assert_eq!(
        (r.extension.as_str(), r.contacts, r.registered),
        ("202", 1, true)
    );
}

#[test]
fn every_golden_at_a_newer_minor_with_an_extra_field_decodes() {
    for (file, kind) in GOLDEN {
        let mut v = json(&golden(file));
        v["schema"] = "1.9".into();
        v["added_in_1_9"] = serde_json::json!({ "nested": [1, 2, 3] });
        let message = decode(*kind, &serde_json::to_vec(&v).unwrap())
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(message.schema(), SchemaVersion::new(1, 9), "{file}");
    }
}

#[test]
fn unknown_event_type_of_a_newer_minor_decodes_as_unknown_with_its_seq() {
    let bytes = golden("compat_events_unknown_type_1_3.json");
    let Message::Event(event) = decode(TopicKind::Events, &bytes).unwrap() else {
        panic!("not an event")
    };
    assert_eq!(event.event, EventKind::Unknown);
    assert_eq!(event.seq, 2002);
    assert_eq!(record_seq(&bytes), Some(2002));
}

#[test]
fn unknown_command_type_decodes_as_unknown() {
    let mut v = json(&golden("cmd_hangup.json"));
    v["schema"] = "1.4".into();
    v["command"] = serde_json::json!({ "type": "reboot", "delay_s": 5 });
    let Message::Command(c) = decode(TopicKind::Cmd, &serde_json::to_vec(&v).unwrap()).unwrap()
    else {
        panic!("not a command")
    };
    assert_eq!(c.command, CommandKind::Unknown);
}

#[test]
fn newer_major_is_rejected_with_unsupported_major() {
    assert_eq!(
        decode(TopicKind::Events, &golden("compat_events_major_2_0.json")),
        Err(DecodeError::UnsupportedMajor {
            found: SchemaVersion::new(2, 0),
            supported: 1
        })
    );
    for (file, kind) in GOLDEN {
        for schema in ["2.0", "2.5", "0.9"] {
            let err = decode(*kind, &with_schema(&golden(file), schema)).unwrap_err();
            assert_eq!(
                err,
                DecodeError::UnsupportedMajor {
                    found: schema.parse().unwrap(),
                    supported: 1
                },
                "{file} {schema}"
            );
        }
    }
}

#[test]
fn unsupported_major_is_reported_before_body_errors() {
    // A 2.0 body that does not match the 1.x structure still yields the
    // version error, not a field error.
    let err = decode(TopicKind::Ack, br#"{"schema":"2.0","acked":"all"}"#).unwrap_err();
    assert!(matches!(err, DecodeError::UnsupportedMajor { .. }), "{err}");
    assert!(err.to_string().contains("2.0"), "{err}");
}

#[test]
fn malformed_payloads_give_clear_errors() {
    type Case = (&'static [u8], fn(&DecodeError) -> bool);
    let cases: &[Case] = &[
        (b"", |e| *e == DecodeError::EmptyPayload),
        (b"   \n", |e| matches!(e, DecodeError::Truncated { .. })),
        (b"{", |e| matches!(e, DecodeError::Truncated { .. })),
        (b"{\"schema\":\"1.0\",", |e| {
            matches!(e, DecodeError::Truncated { .. })
        }),
        (b"[\"1.0\", 5]", |e| *e == DecodeError::NotAnObject),
        (b"42", |e| *e == DecodeError::NotAnObject),
        (b"null", |e| *e == DecodeError::NotAnObject),
        (b"nul", |e| {
            matches!(e, DecodeError::Json { .. } | DecodeError::Truncated { .. })
        }),
        (b"<xml/>", |e| matches!(e, DecodeError::Json { .. })),
        (b"{schema: \"1.0\"}", |e| {
            matches!(e, DecodeError::Json { .. })
        }),
        (b"{\"schema\":\"1.0\",\"up_to_seq\":1} trailing", |e| {
            matches!(e, DecodeError::Json { .. })
        }),
        (b"\xff\xfe{", |e| matches!(e, DecodeError::Json { .. })),
        (b"{}", |e| *e == DecodeError::MissingSchema),
        (b"{\"up_to_seq\":5}", |e| *e == DecodeError::MissingSchema),
        (b"{\"schema\":1.0,\"up_to_seq\":5}", |e| {
            *e == DecodeError::InvalidSchema {
                found: "1.0".into(),
            }
        }),
        (b"{\"schema\":\"v1\",\"up_to_seq\":5}", |e| {
            *e == DecodeError::InvalidSchema {
                found: "\"v1\"".into(),
            }
        }),
        (
            b"{\"schema\":\"1.0\",\"up_to_seq\":-1}",
            |e| matches!(e, DecodeError::Json { message } if message.contains("up_to_seq") || message.contains("-1")),
        ),
        (
            b"{\"schema\":\"1.0\",\"up_to_seq\":5,\"up_to_seq\":6}",
            |e| matches!(e, DecodeError::Json { message } if message.contains("duplicate")),
        ),
    ];
    for (payload, expected) in cases {
        let err = decode(TopicKind::Ack, payload).unwrap_err();
        assert!(
            expected(&err),
            "{:?}: unexpected {err:?}",
            String::from_utf8_lossy(payload)
        );
        assert!(!err.to_string().is_empty());
    }
}

#[test]
fn json_errors_carry_serde_message_with_position() {
    let mut v = json(&golden("status.json"));
    v["uptime_s"] = "long".into();
    let err = decode(TopicKind::Status, &serde_json::to_vec(&v).unwrap()).unwrap_err();
    let DecodeError::Json { message } = &err else {
        panic!("{err:?}")
    };
    assert!(message.contains("invalid type"), "{message}");
    assert!(message.contains("line 1 column"), "{message}");
}

#[test]
fn missing_required_field_is_named() {
    let mut v = json(&golden("telemetry.json"));
    v["samples"][0]
        .as_object_mut()
        .unwrap()
        .remove("packets_received");
    let err = decode(TopicKind::Telemetry, &serde_json::to_vec(&v).unwrap()).unwrap_err();
    assert!(
        matches!(&err, DecodeError::Json { message } if message.contains("packets_received")),
        "{err:?}"
    );
}

#[test]
fn every_truncation_of_every_golden_is_truncated_never_ok() {
    for (file, kind) in GOLDEN {
        let bytes = golden(file);
        let trimmed = String::from_utf8(bytes).unwrap();
        let trimmed = trimmed.trim_end().as_bytes();
        for len in 1..trimmed.len() {
            let err = decode(*kind, &trimmed[..len]).unwrap_err();
            assert!(
                matches!(err, DecodeError::Truncated { .. }),
                "{file}[..{len}]: {err:?}"
            );
        }
    }
}

#[test]
fn unknown_optional_metrics_stay_null() {
    let Message::Telemetry(t) = decode(TopicKind::Telemetry, &golden("telemetry.json")).unwrap()
    else {
        panic!("not telemetry")
    };
    let b = &t.samples[1];
    assert_eq!(
        (
            b.rtt_ms,
            b.r_factor,
            b.mos,
            b.remote_loss_fraction,
            b.peer_xr.clone()
        ),
        (None, None, None, None, None)
    );
    let encoded = json(&encode(&Message::Telemetry(t.clone())).unwrap());
    assert!(encoded["samples"][1]["rtt_ms"].is_null());
    // Absent optional fields read as unknown too, never as 0.
    let mut v = json(&golden("telemetry.json"));
    v["samples"][0].as_object_mut().unwrap().remove("rtt_ms");
    let Message::Telemetry(t) =
        decode(TopicKind::Telemetry, &serde_json::to_vec(&v).unwrap()).unwrap()
    else {
        panic!("not telemetry")
    };
    assert_eq!(t.samples[0].rtt_ms, None);
}

#[test]
fn non_finite_numbers_and_out_of_range_times_are_not_encoded() {
    let Message::Telemetry(mut t) =
        decode(TopicKind::Telemetry, &golden("telemetry.json")).unwrap()
    else {
        panic!("not telemetry")
    };
    t.samples[0].jitter_ms = Some(f64::NAN);
    assert!(matches!(
        encode(&Message::Telemetry(t.clone())),
        Err(EncodeError::Unrepresentable { .. })
    ));
    t.samples[0].jitter_ms = Some(1.0);
    t.samples[0].mos = Some(f64::INFINITY);
    assert!(encode(&Message::Telemetry(t.clone())).is_err());
    t.samples[0].mos = None;
    t.ts = datetime!(-0001-01-01 0:00 UTC);
    assert!(encode(&Message::Telemetry(t)).is_err());
}

#[test]
fn record_seq_reads_records_only() {
    assert_eq!(record_seq(&golden("telemetry.json")), Some(1041));
    assert_eq!(record_seq(&golden("event_call_record.json")), Some(1042));
    assert_eq!(record_seq(&golden("ack.json")), None);
    assert_eq!(record_seq(b"{\"seq\":"), None);
    assert_eq!(record_seq(b"{\"seq\":\"7\"}"), None);
    let seqs: Vec<_> = GOLDEN
        .iter()
        .filter_map(|(f, k)| decode(*k, &golden(f)).unwrap().seq())
        .collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "one increasing sequence space: {seqs:?}"
    );
}

// ---- topics ----

#[test]
fn topics_round_trip_for_every_kind() {
    for kind in TopicKind::ALL {
        let t = topic(kind);
        let s = t.to_string();
        assert_eq!(s, format!("voip/v1/acme/pi-amsterdam-01/{}", kind.as_str()));
        assert_eq!(Topic::parse(&s), Ok(t.clone()));
        assert_eq!(s.parse::<Topic>(), Ok(t));
        assert_eq!(kind.as_str().parse::<TopicKind>(), Ok(kind));
    }
}

#[test]
fn bad_topics_are_rejected_with_the_reason() {
    let long = "a".repeat(65);
    let too_long = format!("voip/v1/{long}/a/status");
    let cases: Vec<(&str, TopicError)> = vec![
        ("", TopicError::WrongPrefix),
        ("voip", TopicError::WrongPrefix),
        ("voipx/v1/t/a/status", TopicError::WrongPrefix),
        ("VOIP/v1/t/a/status", TopicError::WrongPrefix),
        ("/voip/v1/t/a/status", TopicError::WrongPrefix),
        ("sip/v1/t/a/status", TopicError::WrongPrefix),
        ("$share/ingest/voip/v1/t/a/events", TopicError::WrongPrefix),
        (
            "voip/v2/t/a/status",
            TopicError::UnsupportedVersion { found: "v2".into() },
        ),
        (
            "voip/V1/t/a/status",
            TopicError::UnsupportedVersion { found: "V1".into() },
        ),
        (
            "voip/1/t/a/status",
            TopicError::UnsupportedVersion { found: "1".into() },
        ),
        (
            "voip/+/t/a/status",
            TopicError::UnsupportedVersion { found: "+".into() },
        ),
        ("voip/", TopicError::TooShort),
        ("voip/v1", TopicError::TooShort),
        ("voip/v1/", TopicError::TooShort),
        ("voip/v1/t", TopicError::TooShort),
        ("voip/v1/t/a", TopicError::TooShort),
        ("voip/v1/t/#", TopicError::TooShort),
        (
            "voip/v1//a/status",
            TopicError::InvalidTenant(IdError::Empty),
        ),
        (
            "voip/v1/t//status",
            TopicError::InvalidAppliance(IdError::Empty),
        ),
        (
            "voip/v1/+/a/status",
            TopicError::InvalidTenant(IdError::InvalidChar { ch: '+', index: 0 }),
        ),
        (
            "voip/v1/t/#/status",
            TopicError::InvalidAppliance(IdError::InvalidChar { ch: '#', index: 0 }),
        ),
        (
            "voip/v1/Acme/a/status",
            TopicError::InvalidTenant(IdError::InvalidChar { ch: 'A', index: 0 }),
        ),
        (
            "voip/v1/t/pi_01/status",
            TopicError::InvalidAppliance(IdError::InvalidChar { ch: '_', index: 2 }),
        ),
        (
            "voip/v1/t/pi 01/status",
            TopicError::InvalidAppliance(IdError::InvalidChar { ch: ' ', index: 2 }),
        ),
        (
            "voip/v1/të/a/status",
            TopicError::InvalidTenant(IdError::InvalidChar { ch: 'ë', index: 1 }),
        ),
        (
            &too_long,
            TopicError::InvalidTenant(IdError::TooLong { len: 65 }),
        ),
        (
            "voip/v1/t/a/",
            TopicError::UnknownKind {
                found: String::new(),
            },
        ),
        (
            "voip/v1/t/a/reboot",
            TopicError::UnknownKind {
                found: "reboot".into(),
            },
        ),
        (
            "voip/v1/t/a/Status",
            TopicError::UnknownKind {
                found: "Status".into(),
            },
        ),
        (
            "voip/v1/t/a/+",
            TopicError::UnknownKind { found: "+".into() },
        ),
        (
            "voip/v1/t/a/#",
            TopicError::UnknownKind { found: "#".into() },
        ),
        (
            "voip/v1/t/a/config/",
            TopicError::UnknownKind {
                found: "config/".into(),
            },
        ),
        (
            "voip/v1/t/a/config/result/x",
            TopicError::UnknownKind {
                found: "config/result/x".into(),
            },
        ),
        (
            "voip/v1/t/a/result",
            TopicError::UnknownKind {
                found: "result".into(),
            },
        ),
        (
            "voip/v1/t/a/status/",
            TopicError::UnknownKind {
                found: "status/".into(),
            },
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(Topic::parse(input), Err(expected), "{input:?}");
    }
}

#[test]
fn unsupported_version_error_says_what_is_supported() {
    let err = Topic::parse("voip/v2/acme/pi-1/status").unwrap_err();
    let text = err.to_string();
    assert!(text.contains("v2") && text.contains("v1"), "{text}");
}

#[test]
fn direction_qos_and_retain_per_kind() {
    use voip_shared::mqtt::Direction::{ApplianceToCloud as Up, CloudToAppliance as Down};
    let table = [
        (TopicKind::Status, Up, true),
        (TopicKind::Telemetry, Up, false),
        (TopicKind::Events, Up, false),
        (TopicKind::Ack, Down, false),
        (TopicKind::Config, Down, true),
        (TopicKind::ConfigResult, Up, false),
        (TopicKind::Cmd, Down, false),
        (TopicKind::CmdResult, Up, false),
    ];
    for (kind, direction, retained) in table {
        assert_eq!(kind.direction(), direction, "{kind}");
        assert_eq!(kind.retained(), retained, "{kind}");
        assert_eq!(kind.qos(), Qos::AtLeastOnce, "{kind}");
    }
}

fn filters(subs: &[Subscription]) -> Vec<&str> {
    subs.iter().map(|s| s.filter.as_str()).collect()
}

#[test]
fn cloud_subscribes_to_every_upstream_kind_of_every_appliance() {
    assert_eq!(
        filters(&cloud_subscriptions(IngestMode::Single)),
        [
            "voip/v1/+/+/status",
            "voip/v1/+/+/telemetry",
            "voip/v1/+/+/events",
            "voip/v1/+/+/config/result",
            "voip/v1/+/+/cmd/result",
        ]
    );
}

#[test]
fn shared_ingest_keeps_status_unshared_for_retained_delivery() {
    assert_eq!(
        filters(&cloud_subscriptions(IngestMode::Shared)),
        [
            "voip/v1/+/+/status",
            "$share/ingest/voip/v1/+/+/telemetry",
            "$share/ingest/voip/v1/+/+/events",
            "$share/ingest/voip/v1/+/+/config/result",
            "$share/ingest/voip/v1/+/+/cmd/result",
        ]
    );
}

#[test]
fn appliance_subscribes_to_its_own_downstream_topics() {
    let subs = appliance_subscriptions(
        &TenantId::new("acme").unwrap(),
        &ApplianceId::new("pi-1").unwrap(),
    );
    assert_eq!(
        filters(&subs),
        [
            "voip/v1/acme/pi-1/ack",
            "voip/v1/acme/pi-1/config",
            "voip/v1/acme/pi-1/cmd",
        ]
    );
    assert!(subs.iter().all(|s| s.qos == Qos::AtLeastOnce));
    // Each is a concrete topic, not a wildcard filter.
    for s in &subs {
        assert!(Topic::parse(&s.filter).is_ok());
    }
}

// ---- docs ----

#[test]
fn every_json_example_in_the_docs_is_a_golden_file_and_every_golden_is_shown() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/mqtt.md"))
            .unwrap();
    let goldens: Vec<(&str, TopicKind, serde_json::Value)> = GOLDEN
        .iter()
        .map(|(f, k)| (*f, *k, json(&golden(f))))
        .collect();
    let mut shown = BTreeSet::new();
    let mut blocks = 0;
    let mut rest = doc.as_str();
    while let Some(start) = rest.find("```json\n") {
        let body = &rest[start + 8..];
        let end = body.find("```").expect("unterminated json block");
        let block = &body[..end];
        rest = &body[end + 3..];
        blocks += 1;
        let value: serde_json::Value = serde_json::from_str(block)
            .unwrap_or_else(|e| panic!("docs block {blocks}: {e}\n{block}"));
        let Some((file, kind, _)) = goldens.iter().find(|(_, _, g)| *g == value) else {
            panic!("docs block {blocks} matches no golden file:\n{block}")
        };
        decode(*kind, block.as_bytes()).unwrap_or_else(|e| panic!("{file}: {e}"));
        shown.insert(*file);
    }
    let missing: Vec<_> = GOLDEN
        .iter()
        .map(|(f, _)| *f)
        .filter(|f| !shown.contains(f))
        .collect();
    assert!(
        missing.is_empty(),
        "golden files without a docs example: {missing:?}"
    );
}
