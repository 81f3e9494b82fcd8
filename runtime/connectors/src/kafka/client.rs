//! librdkafka clients built from the connector's properties, and its errors as Freshet's.

use super::config::KafkaCommon;
use freshet_core::Error;
use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaError;
use std::time::Duration;

/// How long metadata and offset requests may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A client config with every `properties.*` option, then `fixed` on top.
pub fn client_config(common: &KafkaCommon, fixed: &[(&str, &str)]) -> ClientConfig {
    let mut config = ClientConfig::new();
    for (key, value) in &common.properties {
        config.set(key, value);
    }
    for (key, value) in fixed {
        config.set(*key, *value);
    }
    config
}

/// A librdkafka error as a Freshet error, saying what was being done. Configuration
/// problems are the user's; everything else is external (the broker or the network), so a
/// restart may help.
pub fn kafka_error(doing: impl std::fmt::Display, error: KafkaError) -> Error {
    match error {
        KafkaError::ClientConfig(_, ref description, ref key, ref value) => {
            Error::Config(format!("kafka: {doing}: property '{key}' = '{value}': {description}"))
        }
        other => Error::Io {
            context: format!("kafka: {doing}"),
            source: std::io::Error::other(other.to_string()),
        },
    }
}

/// Sets `key` unless the user's properties already did.
pub fn set_default(config: &mut ClientConfig, key: &str, value: &str) {
    if config.get(key).is_none() {
        config.set(key, value);
    }
}
