//! Data-plane throughput over loopback: producers send Arrow batches through one multiplexed
//! connection to a receiver in the same process; prints batches/s and MB/s (of Arrow IPC
//! payload) for a few channel counts.
//!
//! Run: `cargo run -p freshet-rpc --example data_plane_bench [batches_per_channel] [rows_per_batch]`

use arrow::array::{Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::ipc::writer::StreamWriter;
use arrow::record_batch::RecordBatch;
use freshet_core::StreamElement;
use freshet_rpc::{ChannelId, DataPlaneConfig, NetworkReceiver, NetworkSender};
use std::sync::Arc;
use std::time::Instant;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn batch(rows: usize) -> Result<RecordBatch, BoxError> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("auction", DataType::Int64, false),
        Field::new("price", DataType::Int64, false),
        Field::new("channel", DataType::Utf8, false),
    ]));
    let ids: Vec<i64> = (0..rows as i64).collect();
    let prices: Vec<i64> = ids.iter().map(|i| i * 7 % 10_000).collect();
    let channels: StringArray = ids.iter().map(|i| Some(format!("channel-{}", i % 100))).collect();
    Ok(RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from(ids)),
            Arc::new(Int64Array::from(prices)),
            Arc::new(channels),
        ],
    )?)
}

fn ipc_size(batch: &RecordBatch) -> Result<usize, BoxError> {
    let mut writer = StreamWriter::try_new(Vec::new(), batch.schema().as_ref())?;
    let schema_len = writer.get_ref().len();
    writer.write(batch)?;
    Ok(writer.get_ref().len() - schema_len)
}

async fn run(channels: u32, batches: usize, batch: &RecordBatch) -> Result<f64, BoxError> {
    let config = DataPlaneConfig::default();
    let receiver = NetworkReceiver::new(config.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = format!("http://{}", listener.local_addr()?);
    tokio::spawn(
        config
            .server()
            .add_service(receiver.service())
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    let sender = Arc::new(NetworkSender::new(config));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..channels {
        let id = ChannelId::new("bench", 1, 0, c, 0);
        let mut inbound = receiver.register(id.clone())?;
        tasks.push(tokio::spawn(async move {
            let mut n = 0usize;
            while let Some(e) = inbound.recv().await? {
                n += usize::from(matches!(e, StreamElement::Batch(_)));
            }
            Ok::<_, freshet_rpc::Error>(n)
        }));
        let sender = sender.clone();
        let address = address.clone();
        let batch = batch.clone();
        tasks.push(tokio::spawn(async move {
            let mut outbound = sender.open(&address, id, batch.schema()).await?;
            for _ in 0..batches {
                outbound.send(StreamElement::Batch(batch.clone())).await?;
            }
            outbound.send(StreamElement::EndOfInput).await?;
            Ok(0)
        }));
    }
    let mut received = 0;
    for t in tasks {
        received += t.await??;
    }
    if received != channels as usize * batches {
        return Err(format!("received {received} batches, expected {}", channels as usize * batches).into());
    }
    Ok(started.elapsed().as_secs_f64())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let mut args = std::env::args().skip(1);
    let batches: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(2_000);
    let rows: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1_024);
    let batch = batch(rows)?;
    let bytes = ipc_size(&batch)?;
    println!("rows/batch {rows}, IPC bytes/batch {bytes}, batches/channel {batches}, credits/channel 8");
    println!("{:>8} {:>12} {:>12} {:>12}", "channels", "batches/s", "MB/s", "rows/s");
    for channels in [1, 4, 16] {
        let secs = run(channels, batches, &batch).await?;
        let total = channels as f64 * batches as f64;
        println!(
            "{:>8} {:>12.0} {:>12.1} {:>12.0}",
            channels,
            total / secs,
            total * bytes as f64 / secs / 1e6,
            total * rows as f64 / secs
        );
    }
    Ok(())
}
