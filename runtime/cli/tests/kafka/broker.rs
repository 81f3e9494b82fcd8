//! A real Kafka-protocol broker on loopback for the tests: tansu (crates.io `tansu` 0.6.0 with
//! its `dynostore` feature, installed by `scripts/test.sh` and named by `FRESHET_TANSU`, or
//! `tansu` on `PATH`), with in-memory storage. A missing broker fails the tests.
//!
//! tansu answers produce (idempotent too), fetch, metadata, list offsets, consumer-group
//! offsets and `read_committed` fetches; it answers EndTxn as unsupported, so transactions
//! are exercised only against a broker named by `FRESHET_KAFKA_TXN_BROKERS` (see
//! `exactly_once_against_a_transactional_broker`).

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Headers, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Message, Offset, TopicPartitionList};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A record read back from a topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Read {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub timestamp: Option<i64>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

impl Read {
    pub fn value_text(&self) -> String {
        String::from_utf8_lossy(self.value.as_deref().unwrap_or_default()).into_owned()
    }
}

/// A tansu broker, stopped when dropped.
pub struct Broker {
    child: Option<Child>,
    bootstrap: String,
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn tansu_binary() -> String {
    std::env::var("FRESHET_TANSU").unwrap_or_else(|_| "tansu".to_string())
}

impl Broker {
    /// Starts a broker on a free loopback port.
    pub fn start() -> Broker {
        let addr = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let url = format!("tcp://{addr}");
        let child = Command::new(tansu_binary())
            .args([
                "broker",
                "--storage-engine",
                "memory://tansu/",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start the tansu broker '{}' ({e}); install it with `cargo install --locked tansu@0.6.0 --features dynostore` and put it on PATH or in FRESHET_TANSU (scripts/test.sh does)",
                    tansu_binary()
                )
            });
        let broker = Broker {
            child: Some(child),
            bootstrap: addr.to_string(),
        };
        super::super::wait_for("tansu to listen", Duration::from_secs(30), || {
            TcpStream::connect(addr).is_ok()
        });
        broker
    }

    /// A broker running elsewhere.
    pub fn external(bootstrap: String) -> Broker {
        Broker { child: None, bootstrap }
    }

    pub fn bootstrap(&self) -> String {
        self.bootstrap.clone()
    }

    fn config(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", self.bootstrap());
        c
    }

    /// Creates a topic with `partitions` partitions.
    pub fn create_topic(&self, name: &str, partitions: i32) {
        let admin: AdminClient<DefaultClientContext> = self.config().create().unwrap();
        let topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
        let results = block_on(admin.create_topics([&topic], &AdminOptions::new())).unwrap();
        for r in results {
            r.unwrap_or_else(|(t, e)| panic!("creating topic {t}: {e}"));
        }
        super::super::wait_for("the topic's metadata", Duration::from_secs(10), || {
            self.partitions(name) == partitions
        });
    }

    /// How many partitions the broker lists for `topic`.
    pub fn partitions(&self, topic: &str) -> i32 {
        let consumer: BaseConsumer = self.config().create().unwrap();
        consumer
            .fetch_metadata(Some(topic), Duration::from_secs(5))
            .ok()
            .and_then(|m| {
                m.topics().first().map(|t| {
                    if t.error().is_some() {
                        0
                    } else {
                        t.partitions().len() as i32
                    }
                })
            })
            .unwrap_or(0)
    }

    /// Produces `(partition, key, value, timestamp, headers)` records and waits for their
    /// acknowledgement.
    #[allow(clippy::type_complexity)]
    pub fn produce(&self, topic: &str, records: &[(i32, Option<&str>, Option<&str>, i64, &[(&str, &str)])]) {
        // One record per batch: tansu 0.6.0 reports the high watermark of a partition as one
        // past the base offset of its last batch, so readers stop after a batch's first record.
        let producer: ThreadedProducer<DefaultProducerContext> = self
            .config()
            .set("enable.idempotence", "true")
            .set("batch.num.messages", "1")
            .create()
            .unwrap();
        for (partition, key, value, ts, headers) in records {
            let mut h = OwnedHeaders::new();
            for (k, v) in headers.iter() {
                h = h.insert(Header {
                    key: k,
                    value: Some(v.as_bytes()),
                });
            }
            let mut record: BaseRecord<'_, str, str> =
                BaseRecord::to(topic).partition(*partition).timestamp(*ts).headers(h);
            if let Some(k) = key {
                record = record.key(k);
            }
            if let Some(v) = value {
                record = record.payload(v);
            }
            producer.send(record).map_err(|(e, _)| e).unwrap();
        }
        producer.flush(Duration::from_secs(30)).unwrap();
    }

    /// Every record of `topic` up to its current end, by partition and offset.
    pub fn read_all(&self, topic: &str, read_committed: bool) -> Vec<Read> {
        let consumer: BaseConsumer = self
            .config()
            .set(
                "isolation.level",
                if read_committed {
                    "read_committed"
                } else {
                    "read_uncommitted"
                },
            )
            .set("enable.partition.eof", "false")
            .set("group.id", "freshet-tests")
            .create()
            .unwrap();
        let partitions = self.partitions(topic);
        let mut list = TopicPartitionList::new();
        let mut ends = Vec::new();
        for p in 0..partitions {
            let (_, high) = consumer.fetch_watermarks(topic, p, Duration::from_secs(5)).unwrap();
            ends.push(high);
            list.add_partition_offset(topic, p, Offset::Beginning).unwrap();
        }
        consumer.assign(&list).unwrap();
        let mut out = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        let done = |out: &Vec<Read>| {
            (0..partitions).all(|p| {
                let end = ends[p as usize];
                end == 0 || out.iter().any(|r| r.partition == p && r.offset + 1 >= end)
            })
        };
        while !done(&out) && Instant::now() < deadline {
            match consumer.poll(Duration::from_millis(100)) {
                Some(Ok(m)) => out.push(Read {
                    partition: m.partition(),
                    offset: m.offset(),
                    key: m.key().map(<[u8]>::to_vec),
                    value: m.payload().map(<[u8]>::to_vec),
                    timestamp: m.timestamp().to_millis(),
                    headers: m
                        .headers()
                        .map(|h| {
                            h.iter()
                                .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
                                .collect()
                        })
                        .unwrap_or_default(),
                }),
                Some(Err(e)) => panic!("reading {topic}: {e}"),
                None => {}
            }
        }
        out.sort_by_key(|r| (r.partition, r.offset));
        out
    }
}

/// Runs a future to completion on a small runtime of its own (the admin API is async).
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}
