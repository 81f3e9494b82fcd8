//! Creates Kafka topics, for the benchmark scripts (`scripts/kafka-bench.sh`):
//! `kafka_topics BOOTSTRAP NAME:PARTITIONS...`. Existing topics are left as they are.

use anyhow::{bail, Context};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::types::RDKafkaErrorCode;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let Some(bootstrap) = args.next() else {
        bail!("usage: kafka_topics BOOTSTRAP NAME:PARTITIONS...");
    };
    let specs: Vec<String> = args.collect();
    let mut topics = Vec::new();
    for spec in &specs {
        let (name, partitions) = spec
            .split_once(':')
            .with_context(|| format!("'{spec}': expected NAME:PARTITIONS"))?;
        let partitions: i32 = partitions
            .parse()
            .with_context(|| format!("'{spec}': the partition count is not a number"))?;
        topics.push(NewTopic::new(name, partitions, TopicReplication::Fixed(1)));
    }
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .create()
        .context("creating the admin client")?;
    let results = admin
        .create_topics(topics.iter(), &AdminOptions::new())
        .await
        .context("creating topics")?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => bail!("creating topic {topic}: {code}"),
        }
    }
    Ok(())
}
