use super::*;

fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn err_source(pairs: &[(&str, &str)]) -> String {
    KafkaSourceConfig::from_options(&opts(pairs))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_else(|| "no error".into())
}

const BASE: &[(&str, &str)] = &[
    ("topic", "orders"),
    ("properties.bootstrap.servers", "127.0.0.1:9092"),
    ("format", "json"),
];

fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut v = BASE.to_vec();
    v.extend_from_slice(extra);
    v
}

#[test]
fn a_minimal_source_reads_from_the_earliest_offset_unbounded() {
    let c = KafkaSourceConfig::from_options(&opts(BASE)).expect("valid");
    assert_eq!(c.topics, TopicSelection::Names(vec!["orders".into()]));
    assert_eq!(c.startup, StartupMode::EarliestOffset);
    assert_eq!(c.bounded, BoundedMode::Unbounded);
    assert_eq!(c.malformed, MalformedPolicy::Fail);
    assert_eq!(c.discovery_interval_ms, Some(30_000));
    assert_eq!(c.common.bootstrap_servers(), "127.0.0.1:9092");
    assert_eq!(c.common.format.value, RecordFormat::Json);
}

#[test]
fn a_group_id_makes_group_offsets_the_default() {
    let c = KafkaSourceConfig::from_options(&opts(&with(&[("properties.group.id", "g")]))).expect("valid");
    assert_eq!(c.startup, StartupMode::GroupOffsets);
    assert_eq!(c.common.properties.get("group.id").map(String::as_str), Some("g"));
}

#[test]
fn startup_modes_parse_with_their_options() {
    let c = KafkaSourceConfig::from_options(&opts(&with(&[
        ("scan.startup.mode", "timestamp"),
        ("scan.startup.timestamp-millis", "1700000000000"),
    ])))
    .expect("valid");
    assert_eq!(c.startup, StartupMode::Timestamp(1_700_000_000_000));
    let c = KafkaSourceConfig::from_options(&opts(&with(&[
        ("scan.startup.mode", "specific-offsets"),
        (
            "scan.startup.specific-offsets",
            "partition:0,offset:42;partition:1,offset:300",
        ),
    ])))
    .expect("valid");
    assert_eq!(
        c.startup,
        StartupMode::SpecificOffsets([(0, 42), (1, 300)].into_iter().collect())
    );
    assert!(err_source(&with(&[("scan.startup.mode", "timestamp")])).contains("scan.startup.timestamp-millis"));
    assert!(err_source(&with(&[("scan.startup.mode", "group-offsets")])).contains("properties.group.id"));
    assert!(err_source(&with(&[
        ("scan.startup.mode", "specific-offsets"),
        ("scan.startup.specific-offsets", "0:42")
    ]))
    .contains("partition:P,offset:O"));
    assert!(err_source(&with(&[("scan.startup.mode", "newest")])).contains("earliest-offset, latest-offset"));
}

#[test]
fn bad_options_are_named() {
    assert!(err_source(&[("topic", "t"), ("format", "json")]).contains("'properties.bootstrap.servers' is required"));
    assert!(err_source(&with(&[("topic-pattern", "o.*")])).contains("either 'topic' or 'topic-pattern'"));
    assert!(err_source(&with(&[("scan.malformed.policy", "dead-letter")])).contains("scan.malformed.dead-letter-topic"));
    assert!(err_source(&with(&[("key.format", "json")])).contains("'key.format' and 'key.fields' go together"));
    assert!(err_source(&with(&[("properties.enable.auto.commit", "true")])).contains("set by the connector"));
    assert!(err_source(&with(&[("scan.bounded.mode", "forever")])).contains("'scan.bounded.mode'"));
    assert!(err_source(&with(&[("speed", "1")])).contains("unknown option 'speed'"));
    let pattern = KafkaSourceConfig::from_options(&opts(&[
        ("topic-pattern", "orders-[0-9]+"),
        ("properties.bootstrap.servers", "b:1"),
        ("format", "raw"),
    ]))
    .expect("valid");
    assert_eq!(pattern.topics, TopicSelection::Pattern("orders-[0-9]+".into()));
    assert!(err_source(&[
        ("topic-pattern", "orders-[0-9"),
        ("properties.bootstrap.servers", "b:1"),
        ("format", "raw")
    ])
    .contains("'topic-pattern'"));
}

#[test]
fn malformed_policies_and_discovery() {
    let c = KafkaSourceConfig::from_options(&opts(&with(&[
        ("scan.malformed.policy", "dead-letter"),
        ("scan.malformed.dead-letter-topic", "orders-dlq"),
        ("scan.topic-partition-discovery.interval", "0"),
    ])))
    .expect("valid");
    assert_eq!(c.malformed, MalformedPolicy::DeadLetter("orders-dlq".into()));
    assert_eq!(c.discovery_interval_ms, None);
    let c = KafkaSourceConfig::from_options(&opts(&with(&[("scan.malformed.policy", "skip")]))).expect("valid");
    assert_eq!(c.malformed, MalformedPolicy::Skip);
}

#[test]
fn sink_delivery_guarantees() {
    let sink = |extra: &[(&'static str, &'static str)]| KafkaSinkConfig::from_options(&opts(&with(extra)));
    let c = sink(&[]).expect("valid");
    assert_eq!(c.delivery, DeliveryGuarantee::AtLeastOnce);
    assert_eq!(c.partitioner, SinkPartitioner::Default);
    let c = sink(&[
        ("sink.delivery-guarantee", "exactly-once"),
        ("sink.transactional-id-prefix", "job-a"),
    ])
    .expect("valid");
    assert_eq!(c.delivery, DeliveryGuarantee::ExactlyOnce);
    assert_eq!(c.transactional_id_prefix.as_deref(), Some("job-a"));
    let e = sink(&[("sink.delivery-guarantee", "exactly-once")])
        .err()
        .map(|e| e.to_string());
    assert!(e.is_some_and(|e| e.contains("sink.transactional-id-prefix")));
    let e = sink(&[("sink.transactional-id-prefix", "x")])
        .err()
        .map(|e| e.to_string());
    assert!(e.is_some_and(|e| e.contains("needs 'sink.delivery-guarantee' = 'exactly-once'")));
    let e = sink(&[("scan.startup.mode", "latest-offset")])
        .err()
        .map(|e| e.to_string());
    assert!(e.is_some_and(|e| e.contains("unknown option 'scan.startup.mode'")));
    let e = KafkaSinkConfig::from_options(&opts(&[
        ("topic", "a;b"),
        ("properties.bootstrap.servers", "b:1"),
        ("format", "json"),
    ]))
    .err()
    .map(|e| e.to_string());
    assert!(e.is_some_and(|e| e.contains("one topic")));
}
