//! The data plane over real tonic servers on loopback: order and integrity of every kind of
//! element on several multiplexed channels, credit-based backpressure, and prompt failure when a
//! peer dies.

use arrow::array::{Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use freshet_core::{Barrier, CheckpointId, CheckpointKind, StreamElement};
use freshet_rpc::{ChannelId, DataPlaneConfig, InboundChannel, NetworkReceiver, NetworkSender};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;

/// Guards against hangs only; no assertion depends on it.
const GUARD: Duration = Duration::from_secs(20);

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
    ]))
}

fn batch(start: i64, rows: i64) -> RecordBatch {
    let ids: Vec<i64> = (start..start + rows).collect();
    let names: StringArray = ids.iter().map(|i| Some(format!("n{i}"))).collect();
    RecordBatch::try_new(schema(), vec![Arc::new(Int64Array::from(ids)), Arc::new(names)]).expect("valid batch")
}

fn barrier(id: u64) -> Barrier {
    Barrier {
        id: CheckpointId(id),
        triggered_at_ms: 1_000 + id as i64,
        kind: CheckpointKind::Checkpoint,
    }
}

fn channel(producer: u32, consumer: u32) -> ChannelId {
    ChannelId::new("job-1", 1, 0, producer, consumer)
}

/// Serves `receiver` on a fresh loopback port on the current runtime; returns its address.
async fn serve(receiver: &NetworkReceiver, config: &DataPlaneConfig) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    let server = config
        .server()
        .add_service(receiver.service())
        .serve_with_incoming(TcpListenerStream::new(listener));
    tokio::spawn(server);
    format!("http://{addr}")
}

/// A description of an element that can be compared (record batches by value).
#[derive(Debug, PartialEq)]
enum Seen {
    Batch(RecordBatch),
    Watermark(i64),
    Idle(bool),
    Barrier(Barrier),
    End,
}

impl From<StreamElement> for Seen {
    fn from(e: StreamElement) -> Self {
        match e {
            StreamElement::Batch(b) => Seen::Batch(b),
            StreamElement::Watermark(w) => Seen::Watermark(w),
            StreamElement::Idle(i) => Seen::Idle(i),
            StreamElement::Barrier(b) => Seen::Barrier(b),
            StreamElement::EndOfInput => Seen::End,
        }
    }
}

/// The elements producer `p` sends: batches, watermarks, an idleness flip, barriers, the end.
fn script(p: i64) -> Vec<StreamElement> {
    let mut out = Vec::new();
    for i in 0..30 {
        out.push(StreamElement::Batch(batch(p * 10_000 + i * 100, 1 + (i % 7) * 50)));
        if i % 5 == 4 {
            out.push(StreamElement::Watermark(p * 1000 + i));
        }
        if i == 10 {
            out.push(StreamElement::Idle(true));
            out.push(StreamElement::Idle(false));
        }
        if i % 10 == 9 {
            out.push(StreamElement::Barrier(barrier(1 + i as u64 / 10)));
        }
    }
    out.push(StreamElement::EndOfInput);
    out
}

async fn drain(mut inbound: InboundChannel) -> Vec<Seen> {
    let mut seen = Vec::new();
    loop {
        match inbound.recv().await {
            Ok(Some(e)) => seen.push(Seen::from(e)),
            Ok(None) => return seen,
            Err(e) => panic!("channel {} failed: {e}", inbound.id()),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elements_arrive_in_order_and_intact_on_multiplexed_channels() {
    let config = DataPlaneConfig {
        credits_per_channel: 3,
        credit_batch: 2,
        ..DataPlaneConfig::default()
    };
    let receiver = NetworkReceiver::new(config.clone());
    let address = serve(&receiver, &config).await;
    let sender = Arc::new(NetworkSender::new(config));

    // Channels 0 and 1 are registered before their producer opens them, channel 2 after.
    let early: Vec<InboundChannel> = (0..2)
        .map(|p| receiver.register(channel(p, 0)).expect("register"))
        .collect();
    let mut producers = Vec::new();
    for p in 0..3u32 {
        let sender = sender.clone();
        let address = address.clone();
        producers.push(tokio::spawn(async move {
            let mut out = sender.open(&address, channel(p, 0), schema()).await?;
            for e in script(i64::from(p)) {
                out.send(e).await?;
            }
            Ok::<_, freshet_rpc::Error>(())
        }));
    }
    let mut consumers: Vec<_> = early.into_iter().map(|c| tokio::spawn(drain(c))).collect();
    consumers.push(tokio::spawn(drain(
        receiver.register(channel(2, 0)).expect("register late"),
    )));

    let run = async {
        for p in producers {
            p.await.expect("producer task").expect("producer sends");
        }
        let mut all = Vec::new();
        for c in consumers {
            all.push(c.await.expect("consumer task"));
        }
        all
    };
    let received = tokio::time::timeout(GUARD, run).await.expect("no hang");
    for (p, seen) in received.into_iter().enumerate() {
        let expected: Vec<Seen> = script(p as i64).into_iter().map(Seen::from).collect();
        assert_eq!(seen.len(), expected.len(), "channel {p}");
        assert!(
            seen == expected,
            "channel {p} delivered elements out of order or altered"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_consumer_backpressures_producer_within_credit_budget() {
    const BUDGET: usize = 4;
    const BATCHES: usize = 40;
    let config = DataPlaneConfig {
        credits_per_channel: BUDGET as u32,
        credit_batch: 2,
        ..DataPlaneConfig::default()
    };
    let receiver = NetworkReceiver::new(config.clone());
    let address = serve(&receiver, &config).await;
    let sender = NetworkSender::new(config);
    let mut inbound = receiver.register(channel(0, 0)).expect("register");
    let mut outbound = sender.open(&address, channel(0, 0), schema()).await.expect("open");

    let sent = Arc::new(AtomicUsize::new(0));
    let sent_by_producer = sent.clone();
    let producer = tokio::spawn(async move {
        for i in 0..BATCHES {
            outbound.send(StreamElement::Batch(batch(i as i64, 10))).await?;
            sent_by_producer.fetch_add(1, Ordering::SeqCst);
        }
        outbound.send(StreamElement::EndOfInput).await
    });

    // The first recv attaches the channel (granting the budget) and takes one element.
    let first = tokio::time::timeout(GUARD, inbound.recv()).await.expect("no hang");
    assert!(matches!(first, Ok(Some(StreamElement::Batch(_)))));
    let mut received = 1;
    // Credit comes back in grants of 2, so the one element taken has not earned any yet: the
    // producer sends exactly its budget (1 taken + 3 buffered) and then stalls.
    tokio::time::timeout(GUARD, async {
        while sent.load(Ordering::SeqCst) < BUDGET || inbound.buffered() < BUDGET - 1 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("producer uses its budget");
    // Give a runaway producer every chance to overrun the budget; it must not.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sent.load(Ordering::SeqCst), BUDGET, "producer stalled on credit");
    assert_eq!(inbound.buffered(), BUDGET - 1, "consumer buffers no more than sent");

    // Read slowly: the producer moves forward only as credit comes back.
    let mut max_in_flight = 0;
    while let Some(element) = tokio::time::timeout(GUARD, inbound.recv())
        .await
        .expect("no hang")
        .expect("recv")
    {
        if matches!(element, StreamElement::Batch(_)) {
            received += 1;
        }
        let in_flight = sent.load(Ordering::SeqCst).saturating_sub(received);
        max_in_flight = max_in_flight.max(in_flight);
        assert!(
            in_flight <= BUDGET,
            "{in_flight} batches in flight with a budget of {BUDGET}"
        );
        assert!(inbound.buffered() <= BUDGET);
        if received % 5 == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    assert_eq!(received, BATCHES);
    producer.await.expect("producer task").expect("producer sends");
    assert!(max_in_flight <= BUDGET);
}

/// A worker on its own runtime, so the test can kill it: shutting the runtime down drops its
/// tasks and closes its sockets, like a crashed process.
fn worker_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("worker runtime")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_consumer_fails_a_blocked_producer_promptly() {
    let config = DataPlaneConfig {
        credits_per_channel: 2,
        credit_batch: 1,
        ..DataPlaneConfig::default()
    };
    let consumer_rt = worker_runtime();
    let receiver = NetworkReceiver::new(config.clone());
    let (address_tx, address_rx) = tokio::sync::oneshot::channel();
    {
        let receiver = receiver.clone();
        let config = config.clone();
        consumer_rt.spawn(async move {
            let address = serve(&receiver, &config).await;
            let _ = address_tx.send(address);
            // The consumer task attaches (granting credit) and then never reads again.
            let mut inbound = receiver.register(channel(0, 0)).expect("register");
            let _ = inbound.recv().await;
            std::future::pending::<()>().await;
        });
    }
    let address = address_rx.await.expect("consumer address");
    let sender = NetworkSender::new(config);
    let mut outbound = sender.open(&address, channel(0, 0), schema()).await.expect("open");
    let result = tokio::time::timeout(GUARD, async {
        // 1 taken by the consumer + 2 buffered; the 4th send waits for credit.
        for i in 0..3 {
            outbound
                .send(StreamElement::Batch(batch(i, 5)))
                .await
                .expect("send within credit");
        }
        let blocked = outbound.send(StreamElement::Batch(batch(99, 5)));
        tokio::pin!(blocked);
        let waited = tokio::time::timeout(Duration::from_millis(300), &mut blocked).await;
        assert!(waited.is_err(), "a producer without credit waits");
        consumer_rt.shutdown_background();
        blocked.await
    })
    .await
    .expect("the producer must not hang when its consumer dies");
    let err = result.expect_err("send to a dead consumer fails");
    assert_eq!(err.class(), freshet_core::ErrorClass::External, "{err}");
    // The channel stays failed.
    assert!(outbound.send(StreamElement::Watermark(1)).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_producer_fails_the_consumer_promptly() {
    let config = DataPlaneConfig::default();
    let receiver = NetworkReceiver::new(config.clone());
    let address = serve(&receiver, &config).await;
    let mut inbound = receiver.register(channel(0, 0)).expect("register");

    let producer_rt = worker_runtime();
    let producer_config = config.clone();
    producer_rt.spawn(async move {
        let sender = NetworkSender::new(producer_config);
        let Ok(mut outbound) = sender.open(&address, channel(0, 0), schema()).await else {
            return;
        };
        let _ = outbound.send(StreamElement::Batch(batch(0, 5))).await;
        // A crash runs no destructors: the consumer learns only from the broken connection.
        std::mem::forget(outbound);
        std::mem::forget(sender);
        std::future::pending::<()>().await;
    });

    let first = tokio::time::timeout(GUARD, inbound.recv()).await.expect("no hang");
    assert!(matches!(first, Ok(Some(StreamElement::Batch(b))) if b.num_rows() == 5));
    producer_rt.shutdown_background();
    let next = tokio::time::timeout(GUARD, inbound.recv())
        .await
        .expect("the consumer must not hang when its producer dies");
    let err = next.expect_err("a channel without end of input whose producer died fails");
    assert!(err.to_string().contains("lost"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopped_consumer_task_fails_its_producer_and_spares_other_channels() {
    let config = DataPlaneConfig {
        credits_per_channel: 2,
        credit_batch: 1,
        ..DataPlaneConfig::default()
    };
    let receiver = NetworkReceiver::new(config.clone());
    let address = serve(&receiver, &config).await;
    let sender = NetworkSender::new(config);
    let mut kept_in = receiver.register(channel(0, 0)).expect("register");
    let mut dropped_in = receiver.register(channel(0, 1)).expect("register");
    let mut kept_out = sender.open(&address, channel(0, 0), schema()).await.expect("open");
    let mut dropped_out = sender.open(&address, channel(0, 1), schema()).await.expect("open");

    // The surviving channel's consumer reads concurrently (its credit comes with its first recv).
    let kept = tokio::spawn(async move {
        let first = kept_in.recv().await.ok().flatten();
        let second = kept_in.recv().await.ok().flatten();
        (first, second)
    });
    let outcome = tokio::time::timeout(GUARD, async {
        let (sent, got) = tokio::join!(dropped_out.send(StreamElement::Watermark(5)), dropped_in.recv());
        sent.expect("send");
        assert!(matches!(got, Ok(Some(StreamElement::Watermark(5)))));
        drop(dropped_in);
        let mut failure = None;
        for i in 0..10 {
            if let Err(e) = dropped_out.send(StreamElement::Watermark(6 + i)).await {
                failure = Some(e);
                break;
            }
        }
        kept_out
            .send(StreamElement::Watermark(7))
            .await
            .expect("other channel unaffected");
        kept_out
            .send(StreamElement::EndOfInput)
            .await
            .expect("other channel ends");
        (failure, kept.await.expect("kept consumer task"))
    })
    .await
    .expect("no hang");
    let (failure, kept) = outcome;
    let failure = failure.expect("the producer of a stopped consumer fails");
    assert!(failure.to_string().contains("consuming task stopped"), "{failure}");
    assert!(matches!(
        kept,
        (Some(StreamElement::Watermark(7)), Some(StreamElement::EndOfInput))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aborted_producer_fails_its_consumer_with_the_reason() {
    let config = DataPlaneConfig::default();
    let receiver = NetworkReceiver::new(config.clone());
    let address = serve(&receiver, &config).await;
    let sender = NetworkSender::new(config);
    let mut inbound = receiver.register(channel(3, 0)).expect("register");
    let mut outbound = sender.open(&address, channel(3, 0), schema()).await.expect("open");
    let outcome = tokio::time::timeout(GUARD, async {
        let (sent, got) = tokio::join!(outbound.send(StreamElement::Batch(batch(0, 3))), inbound.recv());
        sent.expect("send");
        assert!(matches!(got, Ok(Some(StreamElement::Batch(_)))));
        outbound.abort("operator 'map' failed").await.expect("abort");
        inbound.recv().await
    })
    .await
    .expect("no hang");
    let err = outcome.expect_err("an aborted channel fails its consumer");
    assert!(err.to_string().contains("operator 'map' failed"), "{err}");
}
