//! [`TransactionBackend`] on librdkafka: one transactional producer per transactional id, and
//! the raw-protocol commit of [`super::super::txn`] for transactions of producers that are gone.

use super::transactions::{TransactionBackend, TransactionalProducer};
use crate::kafka::client::{client_config, kafka_error};
use crate::kafka::config::KafkaCommon;
use crate::kafka::producer::{OutgoingRecord, TrackedProducer};
use crate::kafka::txn::{end_prepared_transaction, PreparedTransaction, ResumeOutcome, TxnClientConfig};
use freshet_core::Result;
use rdkafka::producer::Producer;
use std::time::Duration;

/// How long transactional requests may take.
const TXN_TIMEOUT: Duration = Duration::from_secs(60);

/// librdkafka transactional producers for one sink subtask.
pub struct LibrdkafkaTransactions {
    common: KafkaCommon,
    transaction_timeout_ms: u64,
}

impl LibrdkafkaTransactions {
    /// Producers on the sink's cluster, whose transactions time out after
    /// `transaction_timeout_ms`.
    pub fn new(common: KafkaCommon, transaction_timeout_ms: u64) -> Self {
        Self {
            common,
            transaction_timeout_ms,
        }
    }

    fn producer(&self, transactional_id: &str) -> Result<TrackedProducer> {
        let timeout = self.transaction_timeout_ms.to_string();
        let config = client_config(
            &self.common,
            &[
                ("transactional.id", transactional_id),
                ("transaction.timeout.ms", &timeout),
                ("enable.idempotence", "true"),
                // The producer id and epoch arrive with the statistics.
                ("statistics.interval.ms", "500"),
            ],
        );
        let producer = TrackedProducer::create(&config, "transactional")?;
        producer
            .inner()
            .init_transactions(TXN_TIMEOUT)
            .map_err(|e| kafka_error(format!("initialising transactions of '{transactional_id}'"), e))?;
        Ok(producer)
    }
}

struct LibrdkafkaTransaction {
    id: String,
    producer: TrackedProducer,
}

impl TransactionalProducer for LibrdkafkaTransaction {
    fn send(&mut self, record: OutgoingRecord<'_>) -> Result<()> {
        self.producer.send(record)
    }

    fn prepare(&mut self) -> Result<PreparedTransaction> {
        self.producer.flush(TXN_TIMEOUT)?;
        let (producer_id, producer_epoch) = self.producer.identity(Duration::from_secs(10))?;
        Ok(PreparedTransaction {
            transactional_id: self.id.clone(),
            producer_id,
            producer_epoch,
        })
    }

    fn commit(&mut self) -> Result<()> {
        self.producer
            .inner()
            .commit_transaction(TXN_TIMEOUT)
            .map_err(|e| kafka_error(format!("committing transaction '{}'", self.id), e))
    }
}

impl TransactionBackend for LibrdkafkaTransactions {
    fn open(&mut self, transactional_id: &str) -> Result<Box<dyn TransactionalProducer>> {
        let producer = self.producer(transactional_id)?;
        producer
            .inner()
            .begin_transaction()
            .map_err(|e| kafka_error(format!("beginning a transaction of '{transactional_id}'"), e))?;
        Ok(Box::new(LibrdkafkaTransaction {
            id: transactional_id.to_string(),
            producer,
        }))
    }

    fn fence(&mut self, transactional_id: &str) -> Result<()> {
        self.producer(transactional_id).map(drop)
    }

    fn resume_commit(&mut self, txn: &PreparedTransaction) -> Result<ResumeOutcome> {
        let config = TxnClientConfig {
            bootstrap_servers: self
                .common
                .bootstrap_servers()
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            client_id: "freshet-txn-recovery".into(),
            timeout: TXN_TIMEOUT,
        };
        end_prepared_transaction(&config, txn, true)
    }
}
