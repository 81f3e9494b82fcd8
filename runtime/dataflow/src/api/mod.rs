//! The Rust DataStream API: build a [`JobGraph`](crate::JobGraph) from sources, typed functions,
//! keyed operators and sinks.
//!
//! ```ignore
//! let env = StreamEnv::new("hot-items", 2);
//! let bids = env.add_source("bids", schema, factory, Some(event_time));
//! bids.key_by(["auction"]).window(spec)?.add_sink("out", sink_factory);
//! let graph = env.build()?;
//! ```

mod env;
mod keyed;
mod stream;
mod window;

pub use env::StreamEnv;
pub use keyed::KeyedStream;
pub use stream::DataStream;
